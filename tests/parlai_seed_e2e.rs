//! The seed's ParlAI commands, run as written: every block of
//! tests/fixtures/parlai-seed-commands.md (a verbatim copy of the ParlAI CRINGE README's
//! commands) with only its task names and paths replaced — the 3B training command as a
//! `--dry-run` against a weightless 3B stand-in and the DIRECTOR classifier command against a
//! weightless stand-in of its pretrained ranker, then the whole pipeline (train, the
//! classifier and its resume, evaluate, generate, filter, display, iterative fine-tune) end to
//! end with the shapes replaced by tiny ones — so a change that drops or renames one of the
//! seed's flags fails here.

use std::path::Path;
use std::process::{Command, Output};

/// The fixture's command blocks: (the heading above the block, its words), comment lines
/// dropped.
fn seed_blocks() -> Vec<(String, Vec<String>)> {
    let text = include_str!("fixtures/parlai-seed-commands.md");
    let (mut blocks, mut heading, mut body, mut inside) =
        (Vec::new(), String::new(), Vec::new(), false);
    for line in text.lines() {
        if line.starts_with("```") {
            if inside {
                blocks.push((heading.clone(), std::mem::take(&mut body)));
            }
            inside = !inside;
        } else if inside {
            if !line.trim_start().starts_with('#') {
                body.extend(line.split_whitespace().map(String::from));
            }
        } else if line.starts_with('#') {
            heading = line.trim_start_matches('#').trim().to_string();
        }
    }
    blocks
}

/// The cringe subcommand a seed command runs as, and its flags.
fn as_cringe(words: &[String]) -> (String, Vec<String>) {
    let sub = match (words[0].as_str(), words[1].as_str()) {
        ("parlai", "train") if words.iter().any(|w| w == "transformer/classifier") => {
            "train-classifier"
        }
        ("parlai", "train") => "train",
        ("parlai", "em") => "eval",
        ("parlai", "dd") => "dd",
        ("python", "projects/cringe/safety_filter_world_logs.py") => "filter-world-logs",
        other => panic!("a seed command this test does not know: {other:?}"),
    };
    (sub.to_string(), words[2..].to_vec())
}

/// The seed's teachers and what stands for each here (safety-mini holds small samples of the
/// same sources: chit-chat for blended_skill_talk, the toxic utterances for the safety sets).
const TEACHERS: &[(&str, &str)] = &[
    ("blended_skill_talk", "safety-mini:chitchat"),
    ("projects.director.tasks.safety:SafeWikiToxicEvalTeacher", "safety-mini:toxic-eval"),
    ("projects.director.tasks.safety:SafeBADTeacher", "safety-mini:toxic"),
    ("projects.director.tasks.safety:SafeAdvTeacher", "safety-mini:toxic"),
    ("projects.director.tasks.safety:SafeStdTeacher", "safety-mini:toxic"),
    ("projects.director.tasks.safety:SafeMultiTeacher", "safety-mini:toxic"),
    ("projects.director.tasks.safety:SafeWikiToxicTeacher", "safety-mini:toxic"),
];

/// `word` with the seed's teachers replaced by ours and its paths moved under `root`: `zoo:X`
/// → `root/zoo/X`; `./models/`, `.models/` (the seed's typo) and `models/` → `root/models/`,
/// also after a task option's `=`.
fn substitute(word: &str, root: &Path) -> String {
    let mut w = word.to_string();
    for (theirs, ours) in TEACHERS {
        w = w.replace(theirs, ours);
    }
    let root = root.display();
    if let Some(rest) = w.strip_prefix("zoo:") {
        return format!("{root}/zoo/{rest}");
    }
    for prefix in ["./models/", ".models/", "models/"] {
        if let Some(rest) = w.strip_prefix(prefix) {
            return format!("{root}/models/{rest}");
        }
        w = w.replace(&format!("={prefix}"), &format!("={root}/models/"));
    }
    w
}

/// Replaces the value of `flag` in `args` (each seed flag appears once), or appends it.
fn set_flag(args: &mut Vec<String>, flag: &str, value: &str) {
    match args.iter().position(|a| a == flag) {
        Some(i) => args[i + 1] = value.to_string(),
        None => args.extend([flag.to_string(), value.to_string()]),
    }
}

/// The tiny shape that replaces the 3B one for the end-to-end run (the `tiny` preset's).
const TINY_SHAPE: &[(&str, &str)] = &[
    ("--embedding-size", "32"),
    ("--ffn-size", "64"),
    ("--n-decoder-layers", "2"),
    ("--n-encoder-layers", "1"),
    ("--n-heads", "4"),
    ("--n-positions", "64"),
];

fn cringe(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cringe")).args(args).output().unwrap()
}

fn ok(what: &str, out: Output) -> String {
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{what} failed:\n{stdout}\n{stderr}");
    format!("{stdout}{stderr}")
}

/// Runs seed block `name` as `cringe`, with `adjust` applied to its substituted flags.
fn run_seed(
    blocks: &[(String, Vec<String>)],
    name: &str,
    root: &Path,
    adjust: impl FnOnce(&mut Vec<String>),
) -> String {
    let (_, words) =
        blocks.iter().find(|(h, _)| h == name).unwrap_or_else(|| panic!("no block {name:?}"));
    let (sub, flags) = as_cringe(words);
    let mut args: Vec<String> = flags.iter().map(|w| substitute(w, root)).collect();
    adjust(&mut args);
    let mut argv = vec![sub];
    argv.extend(args);
    ok(name, cringe(&argv))
}

/// `cringe` with plain arguments (set-up steps that are not the seed's).
fn setup(args: &[&str]) -> String {
    ok(&args.join(" "), cringe(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()))
}

/// A tiny BB1 of the 3B model's layout (pre-layer-norm, learned positions) at `dir`: the
/// stand-in for `zoo:blender/blender_3B/model`.
fn zoo_stand_in(dir: &Path) {
    let d = dir.to_str().unwrap();
    setup(&[
        "train",
        "-t",
        "safety-mini:chitchat:mutators=flatten",
        "--preset",
        "tiny",
        "--vocab-size",
        "300",
        "--max-train-steps",
        "1",
        "-bs",
        "4",
        "--mf",
        d,
        "-q",
    ]);
}

/// The DIRECTOR classifier command's heading in the fixture.
const CLASSIFIER_BLOCK: &str = "Train the evaluation classifier";

/// The tiny encoder that replaces the classifier command's 12-layer 768-wide one.
const TINY_CLASSIFIER_SHAPE: &[(&str, &str)] = &[
    ("--embedding-size", "32"),
    ("--ffn-size", "64"),
    ("--n-layers", "1"),
    ("--n-heads", "4"),
    ("--n-positions", "64"),
];

/// A tiny BB1 of the pretrained ranker's layout (xlm, GELU, learned positions, unscaled
/// embeddings) at `dir`: the stand-in for `zoo:pretrained_transformers/bi_model_huge_reddit`,
/// whose encoder the classifier command starts from.
fn ranker_stand_in(dir: &Path) {
    let d = dir.to_str().unwrap();
    setup(&[
        "train",
        "-t",
        "safety-mini:toxic:mutators=flatten+relabel+ltr_empty",
        "--preset",
        "tiny",
        "--variant",
        "xlm",
        "--activation",
        "gelu",
        "--embeddings-scale",
        "false",
        "--vocab-size",
        "300",
        "--max-train-steps",
        "1",
        "-bs",
        "4",
        "--mf",
        d,
        "-q",
    ]);
}

/// Rewrites fields of the model config at `dir/config.json`.
fn edit_config(dir: &Path, fields: &[(&str, serde_json::Value)]) {
    let path = dir.join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (k, v) in fields {
        cfg[*k] = v.clone();
    }
    std::fs::write(&path, cfg.to_string()).unwrap();
}

#[test]
fn every_seed_block_maps_to_a_cringe_subcommand() {
    let subs: Vec<String> = seed_blocks().iter().map(|(_, w)| as_cringe(w).0).collect();
    assert_eq!(
        subs,
        ["train", "train-classifier", "eval", "eval", "filter-world-logs", "dd", "train"]
    );
}

#[test]
fn the_director_classifier_command_passes_a_dry_run_at_its_own_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let zoo = root.join("zoo/pretrained_transformers/bi_model_huge_reddit/model");
    ranker_stand_in(&zoo);
    // a weightless stand-in for the pretrained ranker: its config at the command's shape
    edit_config(
        &zoo,
        &[
            ("embedding_size", 768.into()),
            ("ffn_size", 3072.into()),
            ("n_encoder_layers", 12.into()),
            ("n_heads", 12.into()),
            ("n_positions", 1024.into()),
        ],
    );
    let out = run_seed(&seed_blocks(), CLASSIFIER_BLOCK, root, |a| a.push("--dry-run".into()));
    for want in [
        "dry run",
        "the token embeddings and encoder of",
        "12 layers, width 768, ffn 3072, 12 heads, 1024 positions, Xlm",
        "dropout 0.1, attention dropout 0.1, relu dropout 0",
        "classes pos, neg over the Mean of the encoder's states × 0.06, 2 segment embeddings",
        "batch 20 at lr 5e-5 (Adamax, warmup 1000, scheduler Fixed)",
        "texts ≤ 360 tokens, lowercased, last 20 context lines",
        "validation every 120 s on ≤ 3000 examples, micro averaged; the best by f1 (Max)",
        // `-vp 30` then `--validation-patience 200`: the last one wins, as in ParlAI
        "stop after 200 without improvement",
        "train time limit: 34200 s",
        "memory: one update of batch 20 × 360 tokens needs ~",
        "written, resumed from when present",
        "precision: f16",
        "note: --model transformer/classifier",
        "note: --dict-tokenizer bpe",
        "note: --dict-endtoken __start__",
        "note: --label-truncate 72",
        "note: --share-encoders false",
        "note: --share-word-embeddings false",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(!root.join("models").exists(), "a dry run writes nothing");
    // the command's shape against the ranker's own is an error naming both values
    let mut args: Vec<String> = Vec::new();
    let (_, words) = seed_blocks().into_iter().find(|(h, _)| h == CLASSIFIER_BLOCK).unwrap();
    args.extend(as_cringe(&words).1.iter().map(|w| substitute(w, root)));
    set_flag(&mut args, "--n-heads", "16");
    args.insert(0, "train-classifier".into());
    args.push("--dry-run".into());
    let out = cringe(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("--n-heads 16, but --init-model")
            && err.contains("n_heads = 12"),
        "{err}"
    );
}

#[test]
fn the_seeds_3b_training_command_passes_a_dry_run() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let zoo = root.join("zoo/blender/blender_3B/model");
    let z = zoo.to_str().unwrap();
    zoo_stand_in(&zoo);
    // a weightless stand-in for zoo:blender/blender_3B: its config at the 3B shape
    edit_config(
        &zoo,
        &[
            ("embedding_size", 2560.into()),
            ("ffn_size", 10240.into()),
            ("n_encoder_layers", 2.into()),
            ("n_decoder_layers", 24.into()),
            ("n_heads", 32.into()),
            ("n_positions", 128.into()),
        ],
    );
    let blocks = seed_blocks();
    let out = run_seed(
        &blocks,
        "Train a CRINGE (single iter.) model on the safe generation task",
        root,
        |a| a.push("--dry-run".into()),
    );
    for want in [
        "dry run",
        "embedding_size 2560, ffn_size 10240, 2 encoder / 24 decoder layers, 32 heads, 128 positions",
        "dropout 0.1, attention dropout 0.1, relu dropout 0",
        "weight   5  safety-mini:chitchat",
        "batch 8 × update-freq 2",
        "contexts ≤ 128 and responses ≤ 512 tokens",
        "precision: f16",
        "note: --fp16-impl mem_efficient",
        "note: --model-parallel true",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(!root.join("models").exists(), "a dry run writes nothing");
    // a shape flag against the loaded model's own is an error naming both values
    let out = cringe(&[
        "train".into(),
        "-t".into(),
        "safety-mini:chitchat".into(),
        "--init-model".into(),
        z.into(),
        "--embedding-size".into(),
        "1024".into(),
        "--mf".into(),
        root.join("m").to_str().unwrap().into(),
        "--dry-run".into(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && err.contains("--embedding-size 1024, but --init-model")
            && err.contains("embedding_size = 2560"),
        "{err}"
    );
}

#[test]
fn the_seeds_pipeline_runs_end_to_end_at_a_tiny_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let p = |rel: &str| root.join(rel).to_str().unwrap().to_string();
    let blocks = seed_blocks();
    // stand-ins for what the seed downloads or trains with other flags: zoo:blender/blender_3B
    // (a tiny BB1 of the 3B layout) and the safety classifier models/safety/eval_model
    zoo_stand_in(&root.join("zoo/blender/blender_3B/model"));
    ranker_stand_in(&root.join("zoo/pretrained_transformers/bi_model_huge_reddit/model"));
    let tiny_classifier = |steps: &'static str| {
        move |a: &mut Vec<String>| {
            TINY_CLASSIFIER_SHAPE.iter().for_each(|(f, v)| set_flag(a, f, v));
            set_flag(a, "--max-train-steps", steps);
        }
    };
    let out = run_seed(&blocks, CLASSIFIER_BLOCK, root, tiny_classifier("2"));
    assert!(out.contains("(best, saved)"), "{out}");
    let clf = root.join("models/safety/eval_model");
    let cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(clf.join("classifier.json")).unwrap())
            .unwrap();
    assert_eq!(
        (&cfg["output_scaling"], &cfg["n_segments"], &cfg["lowercase"], &cfg["reduction"]),
        (&0.06.into(), &2.into(), &true.into(), &"mean".into()),
        "the command's classifier options are kept with it: {cfg}"
    );
    assert!(clf.join("valid_scores.json").is_file());
    let state = |dir: &str| -> serde_json::Value {
        let path = root.join(dir).join("trainer_state.json");
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    assert_eq!(state("models/safety/eval_model.checkpoint")["step"], 2, "--save-after-valid");
    assert!(root.join("models/safety/eval_model.tensorboard").is_dir(), "--tensorboard-log");
    // --load-from-checkpoint true: the same command with a longer budget continues the run
    let out = run_seed(&blocks, CLASSIFIER_BLOCK, root, tiny_classifier("3"));
    assert!(out.contains("at step 2"), "{out}");
    assert_eq!(state("models/safety/eval_model.checkpoint")["step"], 3);
    let tiny = |a: &mut Vec<String>| {
        TINY_SHAPE.iter().for_each(|(f, v)| set_flag(a, f, v));
        set_flag(a, "--max-train-steps", "2");
    };
    let out = run_seed(
        &blocks,
        "Train a CRINGE (single iter.) model on the safe generation task",
        root,
        tiny,
    );
    assert!(
        out.contains("saved")
            && Path::new(&p("models/cringe/safe_bb1/model/config.json")).is_file(),
        "{out}"
    );
    let out = run_seed(&blocks, "Evaluate the model checkpoint", root, |a| {
        set_flag(a, "--num-examples", "8")
    });
    let report: serde_json::Value =
        serde_json::from_str(out.lines().find(|l| l.starts_with("{\"exs\"")).unwrap()).unwrap();
    assert_eq!(report["exs"], 8, "{report}");
    assert!(
        report["classifier_accuracy"].is_number(),
        "the task's eval_classifier_model_file judged the replies: {report}"
    );
    // the generating command as a dry run first: everything loaded and shown, nothing written
    let out =
        run_seed(&blocks, "Generate unsafe generations on the training examples", root, |a| {
            a.push("--dry-run".into())
        });
    for want in [
        "dry run",
        "model: BB1",
        "safety-mini:toxic-eval",
        ": 10 examples",
        "\"beam_size\":10",
        "eval_model (loaded)",
        "world logs: would be written",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(!Path::new(&p("models/cringe/safe_bb1/WikiToxic_world_logs.jsonl")).exists());
    run_seed(&blocks, "Generate unsafe generations on the training examples", root, |_| {});
    // the tiny model's ten replies are all alike, so its judge cannot split them: an annotator
    // labels half unsafe (the filter prefers a person's label to the classifier's verdict)
    let logs = p("models/cringe/safe_bb1/WikiToxic_world_logs.jsonl");
    let labelled: Vec<String> = std::fs::read_to_string(&logs)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["dialog"][0][1]["metrics"]["human_label"] =
                if i % 2 == 0 { "neg" } else { "pos" }.into();
            v.to_string()
        })
        .collect();
    assert_eq!(labelled.len(), 10);
    std::fs::write(&logs, labelled.join("\n") + "\n").unwrap();
    run_seed(&blocks, "Filter the world logs", root, |_| {});
    let out = run_seed(&blocks, "Display the filtered iterative training data", root, |_| {});
    assert!(out.contains("[neg]") && out.contains("[pos]"), "{out}");
    let out = run_seed(&blocks, "Iterative model finetuning", root, tiny);
    assert!(out.contains("saved"), "{out}");
    assert!(Path::new(&p("models/cringe/safe_bb1_iterative/model")).is_dir());
}

#[test]
fn a_train_time_limit_stops_early_and_macro_averaging_weighs_each_task_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mf = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let train = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "train",
            "-t",
            "safety-mini:chitchat:mutators=flatten,safety-mini:toxic:mutators=flatten+relabel+ltr_empty",
            "--preset",
            "tiny",
            "--vocab-size",
            "300",
            "-bs",
            "4",
            "--validation-every-n-steps",
            "1",
            "--validation-max-exs",
            "40",
            "--seed",
            "7",
        ];
        let model = mf(name);
        args.extend(["--mf", model.as_str()]);
        args.extend(extra);
        setup(&args)
    };
    // -ttim: the first update already takes longer than a millisecond
    let out =
        train("timed", &["--max-train-steps", "50", "-ttim", "0.001", "--tensorboard-log", "true"]);
    assert!(out.contains("stopping: --max-train-time 0.001 s reached after update 1/50"), "{out}");
    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.path().join("timed.checkpoint/trainer_state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(state["step"], 1, "the checkpoint is the last update's");
    // --tensorboard-log: one event file beside the model (the records' format is unit-tested;
    // core/tests/reference/check_tensorboard_events.py reads such a file with TensorBoard)
    let events: Vec<_> = std::fs::read_dir(tmp.path().join("timed.tensorboard")).unwrap().collect();
    assert_eq!(events.len(), 1);
    let size = events[0].as_ref().unwrap().metadata().unwrap().len();
    assert!(size > 100, "the version event, a train and a valid summary: {size} bytes");
    // the same update, validated pooled (micro) and per task (macro): different losses
    let valid_loss = |name: &str| -> f64 {
        let log = std::fs::read_to_string(tmp.path().join(format!("{name}.train.jsonl"))).unwrap();
        let line = log.lines().find(|l| l.contains("\"split\":\"valid\"")).unwrap();
        serde_json::from_str::<serde_json::Value>(line).unwrap()["loss"].as_f64().unwrap()
    };
    train("micro", &["--max-train-steps", "1", "--aggregate-micro", "true"]);
    train("macro", &["--max-train-steps", "1", "--aggregate-micro", "false"]);
    let (micro, macro_) = (valid_loss("micro"), valid_loss("macro"));
    assert!(
        micro.is_finite() && macro_.is_finite() && (micro - macro_).abs() > 1e-6,
        "micro {micro} macro {macro_}"
    );
}

#[test]
fn train_classifier_dry_runs_with_parlais_encoder_shape_flags() {
    let tmp = tempfile::tempdir().unwrap();
    let mf = tmp.path().join("clf");
    let out = setup(&[
        "train-classifier",
        "-t",
        "safety-mini:toxic:mutators=flatten+relabel+pos_only,safety-mini:toxic:mutators=flatten+relabel+neg_only",
        "--preset",
        "tiny",
        "--n-layers",
        "3",
        "--embedding-size",
        "48",
        "--n-heads",
        "6",
        "--mf",
        mf.to_str().unwrap(),
        "--dry-run",
    ]);
    for want in [
        "dry run",
        "the shape flags: 3 layers, width 48",
        "6 heads",
        "pos, 0 neg)",
        "validation every 100 updates",
    ] {
        assert!(out.contains(want), "missing {want:?} in:\n{out}");
    }
    assert!(!mf.exists(), "a dry run writes nothing");
}

#[test]
fn a_resumed_classifier_run_ends_with_the_uninterrupted_runs_weights() {
    let tmp = tempfile::tempdir().unwrap();
    let argv = |name: &str, steps: &str, extra: &[&str]| -> Vec<String> {
        let mf = tmp.path().join(name);
        let mut args = vec![
            "train-classifier",
            "-t",
            "safety-mini:toxic:mutators=flatten+relabel+pos_only,safety-mini:toxic:mutators=flatten+relabel+neg_only",
            "--preset",
            "tiny",
            "--vocab-size",
            "300",
            "--dropout",
            "0.1",
            "--optimizer",
            "adamax",
            "--lr-scheduler",
            "fixed",
            "--lr-scheduler-patience",
            "1",
            "-vme",
            "40",
            "--validation-every-n-steps",
            "1",
            "--save-after-valid",
            "true",
            "--max-train-steps",
            steps,
            "--mf",
            mf.to_str().unwrap(),
        ];
        args.extend(extra);
        args.into_iter().map(String::from).collect()
    };
    let run = |name: &str, steps: &str, extra: &[&str]| ok(name, cringe(&argv(name, steps, extra)));
    // the weights' values (each run gives its parameters new ids, which the files also hold)
    let weights = |name: &str| -> Vec<Vec<f32>> {
        use burn::module::{Module, ModuleVisitor, Param};
        struct Values(Vec<Vec<f32>>);
        impl ModuleVisitor for Values {
            fn visit_float<const D: usize>(&mut self, p: &Param<burn::tensor::Tensor<D>>) {
                self.0.push(p.val().try_to_vec_as::<f32>().unwrap());
            }
        }
        let dir = tmp.path().join(name);
        let loaded =
            cringe_core::model::ClassifierDir::load(&dir, &burn::tensor::Device::flex()).unwrap();
        let mut values = Values(Vec::new());
        loaded.model.visit(&mut values);
        values.0
    };
    run("straight", "3", &[]);
    run("resumed", "2", &[]);
    let out = run("resumed", "3", &["--load-from-checkpoint", "true"]);
    assert!(out.contains("resuming from") && out.contains("at step 2"), "{out}");
    let (straight, resumed) = (weights("straight.checkpoint"), weights("resumed.checkpoint"));
    assert!(straight == resumed, "3 updates straight and 2 + 1 resumed end with other weights");
    // a resume with another batch size is refused, naming the flag
    let out = cringe(&argv("resumed", "4", &["-bs", "8", "--load-from-checkpoint", "true"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("--batchsize 32"), "{err}");
}
