//! `cringe-trainer`: the `cringe` CLI. The layers, top to bottom, each using only those below:
//!
//! - `cli`: the subcommands and their dispatch;
//! - `loops`: `iterate` and `compare`, which run other subcommands as stages;
//! - `stage`: running a subcommand in-process as a typed stage of a loop, and `flag_file`
//!   (TOML flag files, read against `train`'s flags);
//! - `commands/*`: one module per subcommand that does one job (train, eval, chat, …);
//! - what they share: flag groups (`args`), devices, memory checks, plots, allocator tuning.

pub mod args;
pub mod cli;
pub mod commands;
pub mod device;
pub mod flag_file;
pub mod fuzz_targets;
pub mod loops;
pub mod malloc_tuning;
pub mod memory;
pub mod plot;
pub mod stage;
