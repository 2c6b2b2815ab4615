//! One module per `cringe` subcommand: its flags (a clap `Args` struct) and its `run`.

pub mod chat;
pub mod compare;
pub mod display_data;
pub mod eval;
pub mod export;
pub mod filter_world_logs;
pub mod iterate;
pub mod make_pairs;
pub mod serve_ui;
pub mod train;
pub mod train_classifier;
