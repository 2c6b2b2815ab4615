//! Readers on real files: a world log in ParlAI's exact shape (with its `.metadata`), and every
//! built-in safety-mini task with the seed's mutator chains.

use cringe_core::data::{
    Datatype, Label, TaskSpec, read_world_logs, world_log_examples, world_log_metadata,
};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn datapath() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../data")
}

#[test]
fn parlai_world_log_with_metadata_reads() {
    let path = fixtures().join("parlai_world_logs/WikiToxic_world_logs.jsonl");
    let recs = read_world_logs(&path).unwrap();
    assert_eq!(recs.len(), 3);
    let meta = world_log_metadata(&path, &recs[0]).unwrap().unwrap();
    assert_eq!(meta["opt"]["beam_size"], 10);
    let (ex, left_out) = world_log_examples(&path).unwrap();
    assert!(left_out.is_empty());
    let labels: Vec<Label> = ex.iter().map(|e| e.label).collect();
    // classifier_accuracy decides before f1 == 0
    assert_eq!(labels, vec![Label::Pos, Label::Neg, Label::Pos]);
    assert_eq!(ex[1].context, "people like you should all just");
    assert!(ex[1].response.starts_with("go to hell"));
    // the same file works as a task (detected as a world log by its `dialog` field)
    let spec = TaskSpec::parse(&format!("{}:mutators=neg_only", path.display())).unwrap();
    let negs = spec.load(&datapath(), Datatype::Train).unwrap();
    assert_eq!(negs.len(), 1);
}

#[test]
fn safety_mini_tasks_load_with_the_seed_mutators() {
    let dp = datapath();
    for dt in [Datatype::Train, Datatype::Valid, Datatype::Test] {
        let chit = TaskSpec::parse("safety-mini:chitchat:mutators=flatten")
            .unwrap()
            .load(&dp, dt)
            .unwrap();
        assert!(chit.len() > 500, "{dt:?}: {}", chit.len());
        assert!(chit.iter().any(|e| e.context.contains('\n')), "flatten joins the history");
        assert!(chit.iter().all(|e| e.label == Label::None && e.source == "safety-mini:chitchat"));

        let toxic = TaskSpec::parse("safety-mini:toxic:mutators=flatten+relabel+ltr_empty")
            .unwrap()
            .load(&dp, dt)
            .unwrap();
        let neg = toxic.iter().filter(|e| e.label == Label::Neg).count();
        assert_eq!(neg * 2, toxic.len(), "{dt:?}: toxic is balanced");
        assert!(toxic.iter().all(|e| e.context.is_empty()
            && !e.response.is_empty()
            && !e.response.starts_with("__")));

        let pre = TaskSpec::parse("safety-mini:pretrain").unwrap().load(&dp, dt).unwrap();
        assert!(pre.len() > 500 && pre.iter().all(|e| e.label == Label::None));

        let eval = TaskSpec::parse("safety-mini:toxic-eval:mutators=flatten+relabel+neg_only")
            .unwrap()
            .load(&dp, dt)
            .unwrap();
        assert!(
            eval.len() >= 90 && eval.iter().all(|e| e.label == Label::Neg && !e.context.is_empty())
        );
    }
    // held-out eval contexts never appear in training data
    let train_toxic: std::collections::HashSet<String> =
        TaskSpec::parse("safety-mini:toxic:mutators=relabel+ltr_empty")
            .unwrap()
            .load(&dp, Datatype::Train)
            .unwrap()
            .into_iter()
            .map(|e| e.response)
            .collect();
    let heldout =
        TaskSpec::parse("safety-mini:toxic-eval").unwrap().load(&dp, Datatype::Test).unwrap();
    assert!(heldout.iter().all(|e| !train_toxic.contains(&e.context)));
}
