//! The `cringe` command: train and use CRINGE models from the command line.

use clap::Parser;
use cringe_trainer::cli::{Cli, run};

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
