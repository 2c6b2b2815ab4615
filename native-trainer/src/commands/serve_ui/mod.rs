//! `cringe serve-ui`: a static file server for the browser UI (`web-ui/dist`, built by
//! `scripts/build-web.sh`). WebAssembly needs a real HTTP server (browsers refuse to
//! instantiate `.wasm` from `file://`), and this one needs nothing but the binary. The server
//! itself ([`http`]) is hyper with bounded connections, request heads and timeouts.
//!
//! `--model [NAME=]DIR` (repeatable) also serves model directories to the Generate and Compare
//! pages: `/models/index.json` lists their names (and whether a classifier is served),
//! `/models/NAME/{config.json,model.bpk,tokenizer.json}` are their files; `--classifier DIR`
//! serves a safety classifier as `/models/classifier/{classifier.json,model.bpk,tokenizer.json}`.

mod http;

use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// Serve the browser UI.
#[derive(Debug, Clone, Args)]
pub struct ServeUiArgs {
    /// The built UI (index.html, pkg/); default: web-ui/dist of this repository.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on (0 picks a free one; the address is printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,

    /// A model directory for the Generate and Compare pages, as DIR or NAME=DIR (repeatable;
    /// the first is Generate's default). Without any: the main command's models
    /// (runs/iterate: baseline = round 0, cringe = the last round, and its classifier).
    #[arg(long = "model", value_name = "[NAME=]DIR")]
    pub models: Vec<String>,

    /// A safety classifier (from `cringe train-classifier`) for the Compare page's verdicts.
    #[arg(long, value_name = "DIR")]
    pub classifier: Option<PathBuf>,
}

/// With no `--model` and no `--classifier`: the models of the main command's run
/// (`./scripts/demo.sh` writes `runs/iterate`, or `$CRINGE_DEMO_DIR`), if there is one —
/// `baseline` = round 0, `cringe` = the last round, and its classifier.
fn demo_models(run: &Path) -> Served {
    let round = |n: usize| run.join(format!("round{n}/model"));
    let last = (1..).take_while(|&n| round(n).join("config.json").is_file()).last();
    let (Some(last), true) = (last, round(0).join("config.json").is_file()) else {
        return Served::default();
    };
    let classifier = run.join("classifier");
    Served {
        models: vec![("baseline".into(), round(0)), ("cringe".into(), round(last))],
        classifier: classifier.join("classifier.json").is_file().then_some(classifier),
    }
}

/// Why a causal LM is not served.
const BROWSER_RUNS_BB1: &str = "a causal LM (Llama family): the browser UI runs BB1 generators and \
     their classifiers only; chat with it in the terminal with `cringe chat --mf DIR`";

/// What is served under `/models/`.
#[derive(Debug, Default)]
struct Served {
    models: Vec<(String, PathBuf)>,
    classifier: Option<PathBuf>,
}

/// The served models: (name, directory), in the order given.
fn parse_models(specs: &[String]) -> anyhow::Result<Vec<(String, PathBuf)>> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for spec in specs {
        let (name, dir) = match spec.split_once('=') {
            Some((n, d)) => (n.to_string(), PathBuf::from(d)),
            None => {
                let dir = PathBuf::from(spec);
                let name = dir
                    .file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_else(|| "model".into());
                (name, dir)
            }
        };
        if cringe_core::pretrained::is_causal(&dir) {
            anyhow::bail!("--model {spec}: {BROWSER_RUNS_BB1}");
        }
        cringe_core::model::ModelDir::load_config(&dir)
            .with_context(|| format!("--model {spec}"))?;
        if name == "classifier" {
            anyhow::bail!("--model {spec}: the name \"classifier\" is reserved for --classifier");
        }
        if name.is_empty()
            || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
            || name.starts_with('.')
        {
            anyhow::bail!(
                "--model {spec}: the name {name:?} must be letters, digits, '-', '_' or '.'"
            );
        }
        if out.iter().any(|(n, _)| *n == name) {
            anyhow::bail!(
                "--model {spec}: a model named {name:?} is already served; name it with NAME=DIR"
            );
        }
        out.push((name, dir));
    }
    Ok(out)
}

/// The default UI folder: `web-ui/dist` under the current directory or the repository.
fn default_dir() -> PathBuf {
    let here = PathBuf::from("web-ui/dist");
    if here.is_dir() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../web-ui/dist")
}

/// Runs the server until the process is stopped.
pub fn run(args: &ServeUiArgs) -> anyhow::Result<()> {
    let dir = args.dir.clone().unwrap_or_else(default_dir);
    if !dir.join("index.html").is_file() {
        anyhow::bail!(
            "{}: no index.html; build the UI first with ./scripts/build-web.sh",
            dir.display()
        );
    }
    if let Some(c) = &args.classifier {
        if cringe_core::judge::is_causal_classifier_dir(c) {
            anyhow::bail!("--classifier {}: {BROWSER_RUNS_BB1}", c.display());
        }
        cringe_core::model::ClassifierDir::load(c, &burn::tensor::Device::flex())
            .with_context(|| format!("--classifier {}", c.display()))?;
    }
    let mut served =
        Served { models: parse_models(&args.models)?, classifier: args.classifier.clone() };
    if served.models.is_empty() && served.classifier.is_none() {
        let run = std::env::var_os("CRINGE_DEMO_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("runs/iterate"));
        served = demo_models(&run);
        if served.models.iter().any(|(_, dir)| cringe_core::pretrained::is_causal(dir)) {
            println!(
                "{} holds causal LMs, which the browser UI does not run: serving it without models",
                run.display()
            );
            served = Served::default();
        } else if !served.models.is_empty() {
            println!("no --model given: serving the main command's models from {}", run.display());
        }
    }
    let root = dir.canonicalize().with_context(|| format!("{}", dir.display()))?;
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    println!("serving {} at http://{addr}/", dir.display());
    std::io::stdout().flush()?;
    if !addr.ip().is_loopback() {
        eprintln!(
            "warning: listening on {}, beyond this machine: anyone who can reach it can read the UI and the served models",
            addr.ip()
        );
    }
    for (name, dir) in served.models.iter() {
        // Whoever started the server may have stopped reading its output: not an error.
        let _ = writeln!(std::io::stdout(), "  model {name}: {}", dir.display());
    }
    let _ = std::io::stdout().flush();
    http::serve(listener, http::Site { root, served })
}

/// A request under `/models/`.
enum ModelRoute {
    /// `/models/index.json`: the served names, and whether a classifier is served.
    Index(Vec<u8>),
    /// One of a served model's (or the classifier's) three files.
    File(PathBuf),
}

/// `None` when `path` is not under `/models/`; else what it names, if anything.
fn model_route(served: &Served, path: &str) -> Option<Option<ModelRoute>> {
    let rest = path.strip_prefix("/models/")?;
    if rest == "index.json" {
        let names: Vec<&str> = served.models.iter().map(|(n, _)| n.as_str()).collect();
        let index =
            serde_json::json!({ "models": names, "classifier": served.classifier.is_some() });
        return Some(Some(ModelRoute::Index(index.to_string().into_bytes())));
    }
    let file = || {
        let (name, file) = rest.split_once('/')?;
        let (dir, files) = match name {
            "classifier" => {
                (served.classifier.as_ref()?, ["classifier.json", "model.bpk", "tokenizer.json"])
            }
            _ => (
                &served.models.iter().find(|(n, _)| n == name)?.1,
                ["config.json", "model.bpk", "tokenizer.json"],
            ),
        };
        let file = files.into_iter().find(|f| *f == file)?;
        Some(ModelRoute::File(dir.join(file)))
    };
    Some(file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_commands_run_is_served_by_default() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(demo_models(tmp.path()).models.is_empty());
        for dir in ["round0/model", "round1/model", "round2/model", "classifier"] {
            std::fs::create_dir_all(tmp.path().join(dir)).unwrap();
        }
        for round in 0..3 {
            std::fs::write(tmp.path().join(format!("round{round}/model/config.json")), "{}")
                .unwrap();
        }
        std::fs::write(tmp.path().join("classifier/classifier.json"), "{}").unwrap();
        let served = demo_models(tmp.path());
        assert_eq!(
            served.models,
            vec![
                ("baseline".to_string(), tmp.path().join("round0/model")),
                ("cringe".to_string(), tmp.path().join("round2/model"))
            ]
        );
        assert_eq!(served.classifier, Some(tmp.path().join("classifier")));
    }

    #[test]
    fn models_are_listed_and_only_their_three_files_served() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("m");
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = cringe_core::model::GeneratorConfig::tiny(300);
        std::fs::write(dir.join("config.json"), serde_json::to_string(&cfg).unwrap()).unwrap();
        std::fs::write(dir.join("model.bpk"), b"weights").unwrap();
        std::fs::write(dir.join("secret.txt"), b"no").unwrap();
        let served = Served {
            models: parse_models(&[format!("base={}", dir.display())]).unwrap(),
            classifier: None,
        };
        let Some(Some(ModelRoute::Index(index))) = model_route(&served, "/models/index.json")
        else {
            panic!("no index")
        };
        assert_eq!(String::from_utf8(index).unwrap(), r#"{"classifier":false,"models":["base"]}"#);
        let Some(Some(ModelRoute::File(path))) = model_route(&served, "/models/base/model.bpk")
        else {
            panic!("no weights")
        };
        assert_eq!(std::fs::read(path).unwrap(), b"weights");
        assert!(matches!(model_route(&served, "/models/base/secret.txt"), Some(None)));
        assert!(matches!(model_route(&served, "/models/other/model.bpk"), Some(None)));
        assert!(matches!(model_route(&served, "/models/classifier/model.bpk"), Some(None)));
        assert!(model_route(&served, "/index.html").is_none());
        let err = parse_models(&[tmp.path().join("nope").display().to_string()]).unwrap_err();
        assert!(format!("{err:#}").contains("nope"), "{err:#}");
        let err = parse_models(&[format!("a b={}", dir.display())]).unwrap_err();
        assert!(err.to_string().contains("must be letters"), "{err}");
    }

    #[test]
    fn a_causal_lm_is_refused_with_where_to_chat_with_it() {
        let llama =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/hf_causal/llama");
        let err = parse_models(&[format!("base={}", llama.display())]).unwrap_err().to_string();
        assert!(err.contains("causal LM") && err.contains("cringe chat"), "{err}");
    }
}
