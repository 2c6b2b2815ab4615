//! Top-level command-line interface: the subcommands and their dispatch.

use clap::{Parser, Subcommand};

/// Train language models with negative examples using the CRINGE loss.
#[derive(Debug, Parser)]
#[command(name = "cringe", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a generator on examples labelled pos/neg/none with the CRINGE loss.
    Train(crate::train::TrainArgs),
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => crate::train::run(args).map(|_| ()),
    }
}
