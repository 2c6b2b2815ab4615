//! The fuzzing targets: every reader of untrusted input, as a function of raw bytes that must
//! return (an error is fine) and never panic, hang or allocate without bound. The coverage-guided
//! campaign (`fuzz/`, libFuzzer; `scripts/fuzz.sh`) runs them; [`replay`] runs the kept corpus
//! and every input that ever crashed one, in the ordinary test build, so each later change gets
//! the same guard. docs/reliability.md has the campaign's figures.

use cringe_core::data::jsonl::parse_examples_jsonl;
use cringe_core::data::labeling::{LabelSession, Status};
use cringe_core::data::pairs::parse_pairs_jsonl;
use cringe_core::data::parlai_text::parse_parlai_text;
use cringe_core::data::trl::parse_trl_jsonl;
use cringe_core::data::worldlog::parse_world_logs;
use std::path::Path;

/// A target: its name (the corpus folder's) and the function it fuzzes.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("examples_jsonl", examples_jsonl),
    ("world_logs", world_logs),
    ("pairs_jsonl", pairs_jsonl),
    ("trl_jsonl", trl_jsonl),
    ("parlai_text", parlai_text),
    ("flag_file", flag_file),
    ("iterate_toml", iterate_toml),
    ("compare_toml", compare_toml),
    ("tokenizer_json", tokenizer_json),
    ("safetensors_header", safetensors_header),
    ("model_config_json", model_config_json),
    ("trainer_state_json", trainer_state_json),
    ("label_import", label_import),
];

fn path() -> &'static Path {
    Path::new("fuzz.input")
}

/// Text inputs: bytes that are not UTF-8 are the readers' own business where they take bytes;
/// the text-only parsers get the valid prefix.
fn text(data: &[u8]) -> &str {
    match std::str::from_utf8(data) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&data[..e.valid_up_to()]).expect("valid prefix"),
    }
}

/// JSONL examples (`{context, response, label}`).
pub fn examples_jsonl(data: &[u8]) {
    let _ = parse_examples_jsonl(data, path());
}

/// TRL's dataset formats (`messages`, `prompt`/`completion`, `chosen`/`rejected`).
pub fn trl_jsonl(data: &[u8]) {
    let _ = parse_trl_jsonl(data, path());
}

/// World logs: parsed, then every exchange judged as the filters and training tasks judge it.
pub fn world_logs(data: &[u8]) {
    let Ok(records) = parse_world_logs(data, path()) else { return };
    let mut left_out = cringe_core::data::LeftOut::default();
    for rec in &records {
        for ex in rec.exchanges(path()).expect("parse_world_logs validated the exchanges") {
            let _ = rec.judge(path(), ex, &mut left_out);
        }
    }
    let _ = left_out.summary(path());
}

/// Preference pairs (`{context, chosen, rejected}`).
pub fn pairs_jsonl(data: &[u8]) {
    let _ = parse_pairs_jsonl(data, path());
}

/// ParlAI text (`text:…<TAB>labels:…<TAB>episode_done:True`).
pub fn parlai_text(data: &[u8]) {
    let _ = parse_parlai_text(data, path());
}

/// `cringe train --config FILE`, then the command line it makes parsed and checked as the CLI does.
pub fn flag_file(data: &[u8]) {
    let argv: Vec<String> =
        ["cringe", "train", "--config", "fuzz.toml"].iter().map(|s| s.to_string()).collect();
    let Ok(expanded) = crate::flag_file::expand_with_text(argv, "fuzz.toml", text(data)) else {
        return;
    };
    use clap::Parser;
    if let Ok(cli) = crate::cli::Cli::try_parse_from(expanded)
        && let crate::cli::Command::Train(args) = cli.command
    {
        let _ = args.validate();
    }
}

/// `cringe iterate --config FILE`.
pub fn iterate_toml(data: &[u8]) {
    let _ = crate::loops::iterate::IterateConfig::parse(text(data), path());
}

/// `cringe compare --config FILE`, and the runs its sweeps expand to.
pub fn compare_toml(data: &[u8]) {
    if let Ok(cfg) = crate::loops::compare::CompareConfig::from_toml(text(data), path())
        && let Ok(sweeps) = cfg.sweeps()
    {
        let _ = cfg.runs(&sweeps);
    }
}

/// A `tokenizer.json` (ours or a Hugging Face one), then an encode with it.
pub fn tokenizer_json(data: &[u8]) {
    if let Ok(tok) = cringe_core::tokenizer::CringeTokenizer::from_json_bytes(data) {
        let _ = tok.encode("hello there, friend");
    }
}

/// A safetensors file's header (names, dtypes, shapes, offsets checked against the file).
pub fn safetensors_header(data: &[u8]) {
    let _ = cringe_core::hf::weights::parse_header(data, path());
}

/// A model directory's `config.json` and a Hugging Face `config.json`.
pub fn model_config_json(data: &[u8]) {
    if let Ok(cfg) = serde_json::from_slice::<cringe_core::model::GeneratorConfig>(data)
        && cfg.validate().is_ok()
    {
        let _ = cfg.num_params();
    }
    if let Ok((cfg, _)) = cringe_core::hf::config::parse_config(text(data)) {
        let _ = cfg.validate();
    }
}

/// A checkpoint's `trainer_state.json`, with the checks a resume makes of it.
pub fn trainer_state_json(data: &[u8]) {
    if let Ok(state) = crate::commands::train::parse_state(text(data), path()) {
        let _ = state.plateau.checked(path());
    }
}

/// The web UI's world-log import (the Label page), then its export read back.
pub fn label_import(data: &[u8]) {
    let Ok(mut session) = LabelSession::import("fuzz.jsonl", data) else { return };
    session.mark(Status::Unsafe, "fuzz", "t0");
    let exported = session.export_jsonl();
    if !exported.is_empty() {
        parse_world_logs(exported.as_bytes(), path()).expect("an export reads back");
    }
    let _ = LabelSession::from_json(&session.to_json()).expect("a session reads back");
}

/// Runs every file under `dir/<target>/` (the corpus, or the inputs that once crashed) through
/// its target; returns how many inputs ran.
pub fn replay(dir: &Path) -> usize {
    let mut n = 0;
    for (name, target) in TARGETS {
        let Ok(entries) = std::fs::read_dir(dir.join(name)) else { continue };
        for entry in entries.flatten() {
            let bytes = std::fs::read(entry.path())
                .unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()));
            target(&bytes);
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuzz_corpus_and_every_past_crash_replay_without_a_panic() {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
        let corpus = replay(&fuzz.join("corpus"));
        let crashes = replay(&fuzz.join("regressions"));
        assert!(corpus >= TARGETS.len(), "only {corpus} corpus inputs under {}", fuzz.display());
        println!("replayed {corpus} corpus inputs and {crashes} past crashes");
        for (name, _) in TARGETS {
            assert!(fuzz.join("corpus").join(name).is_dir(), "target {name} has no corpus folder");
        }
    }
}
