//! One module per `cringe` subcommand that does one job: its flags (a clap `Args` struct) and
//! its `run`. (`iterate` and `compare`, which run these as stages, are in `crate::loops`.)

pub mod chat;
pub mod chat_causal;
pub mod display_data;
pub mod eval;
pub mod export;
pub mod filter_world_logs;
pub mod judge;
pub mod make_pairs;
pub mod serve_ui;
pub mod train;
pub mod train_classifier;
