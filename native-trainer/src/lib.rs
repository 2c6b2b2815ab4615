//! `cringe-trainer`: the `cringe` CLI. The layers, top to bottom, each using only those below:
//!
//! - `cli`: the subcommands and their dispatch;
//! - `commands/iterate`, `commands/compare`: loops of stages;
//! - `stage`: running a subcommand in-process as a typed stage of a loop;
//! - `commands/*`: one module per subcommand (train, eval, chat, …);
//! - the helpers they share: flag groups (`args`), devices, flag files, memory checks, plots.

pub mod args;
pub mod cli;
pub mod commands;
pub mod device;
pub mod flag_file;
pub mod fuzz_targets;
pub mod malloc_tuning;
pub mod memory;
pub mod plot;
pub mod stage;
