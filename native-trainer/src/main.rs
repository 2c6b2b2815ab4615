//! The `cringe` command: train and use CRINGE models from the command line.

use clap::Parser;
use cringe_trainer::args::parlai::normalize_parlai_flags;
use cringe_trainer::cli::{Cli, run};
use cringe_trainer::flag_file::expand_flag_files;

fn main() {
    cringe_trainer::malloc_tuning::keep_freed_buffers();
    let argv = expand_flag_files(normalize_parlai_flags(std::env::args())).unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        std::process::exit(2);
    });
    let cli = Cli::parse_from(argv);
    if let Err(e) = run(cli) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
