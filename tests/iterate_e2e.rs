//! `cringe iterate` end to end on a seconds-long config: every stage runs, the filtered
//! generations join the next round's training mix, and the report is written.

use std::path::Path;
use std::process::Command;

#[test]
fn iterate_runs_every_stage_and_writes_the_report() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/iterate-tiny.toml");
    let out_dir = tmp.path().join("it");
    let out = Command::new(env!("CARGO_BIN_EXE_cringe"))
        .args([
            "iterate",
            "--config",
            cfg.to_str().unwrap(),
            "--out-dir",
            out_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("report.json")).unwrap())
            .unwrap();
    let rows = report.as_array().unwrap();
    assert_eq!(rows.len(), 2, "baseline + 1 round");
    for r in rows {
        let safe = r["safe_pct"].as_f64().unwrap();
        assert!((0.0..=100.0).contains(&safe));
        assert!(r["ppl"].as_f64().unwrap() > 1.0);
    }
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains("| baseline |") && md.contains("| CRINGE round 1 |"));
    assert!(md.contains("cringe train-classifier") && md.contains("cringe filter-world-logs"));
    let png = std::fs::read(out_dir.join("plot.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 2000, "plot.png is a PNG image");
    for f in [
        "round0/generated_world_logs.jsonl",
        "round0/eval_world_logs.jsonl",
        "round1/model/model.bpk",
        "classifier/classifier.json",
    ] {
        assert!(out_dir.join(f).exists(), "{f} missing");
    }
    let filtered = out_dir.join("round0/filtered_world_logs.jsonl");
    if rows[1]["new_examples"].as_u64().unwrap() > 0 {
        assert!(
            md.contains(&format!(",{}", filtered.display())),
            "the filtered logs join round 1's tasks"
        );
    }
}
