//! `cringe-trainer`: the subcommands of the `cringe` CLI, one module each.

pub mod cli;
pub mod device;
pub mod display_data;
pub mod train;
