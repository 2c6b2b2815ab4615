//! The `cringe` command: train and use CRINGE models from the command line.

use clap::Parser;
use cringe_trainer::cli::{Cli, normalize_parlai_flags, run};

fn main() {
    let cli = Cli::parse_from(normalize_parlai_flags(std::env::args()));
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
