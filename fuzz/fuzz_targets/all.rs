//! One libFuzzer binary for every target of `cringe_trainer::fuzz_targets` (one link of the
//! instrumented build instead of one per target); `CRINGE_FUZZ_TARGET` names the one to run.
#![no_main]

use cringe_trainer::fuzz_targets::TARGETS;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static TARGET: LazyLock<fn(&[u8])> = LazyLock::new(|| {
    let name = std::env::var("CRINGE_FUZZ_TARGET").unwrap_or_default();
    match TARGETS.iter().find(|(n, _)| *n == name) {
        Some((_, f)) => *f,
        None => {
            let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
            eprintln!("set CRINGE_FUZZ_TARGET to one of {names:?}");
            std::process::exit(2);
        }
    }
});

fuzz_target!(|data: &[u8]| (*TARGET)(data));
