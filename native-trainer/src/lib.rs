//! `cringe-trainer`: the subcommands of the `cringe` CLI, one module each.

pub mod chat;
pub mod cli;
pub mod compare;
pub mod decode_args;
pub mod device;
pub mod display_data;
pub mod eval;
pub mod export;
pub mod filter_world_logs;
pub mod flag_file;
pub mod fuzz_targets;
pub mod iterate;
pub mod make_pairs;
pub mod malloc_tuning;
pub mod memory;
pub mod plot;
pub mod precision_args;
pub mod serve_ui;
pub mod stage;
pub mod train;
pub mod train_classifier;
