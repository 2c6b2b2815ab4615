//! The Compare page: one prompt to two served models (by default a baseline and a CRINGE
//! model) side by side, each reply judged by the served safety classifier.

use crate::browser::{download_bytes, download_text};
use crate::device::{Chosen, shared};
use crate::generate::{load_model, stream_reply};
use burn::tensor::{Int, Tensor, TensorData};
use cringe_core::model::{ClassifierDir, ModelDir};
use leptos::prelude::*;
use std::path::Path;
use std::rc::Rc;

/// A reply's classifier verdict: P(safe).
async fn judge(c: &ClassifierDir, chosen: &Chosen, text: &str) -> Result<f64, String> {
    let pos = c
        .model
        .config()
        .classes
        .iter()
        .position(|n| n == "pos")
        .ok_or("the classifier has no `pos` class")?;
    let mut ids = c.encode(text).map_err(|e| e.to_string())?;
    let max = c.model.config().encoder.n_positions;
    if ids.len() > max {
        ids.drain(..ids.len() - max);
    }
    if ids.is_empty() {
        ids.push(c.tokenizer.special().end);
    }
    let n = ids.len();
    let tokens = Tensor::<2, Int>::from_data(
        TensorData::new(ids.into_iter().map(i64::from).collect::<Vec<_>>(), [1, n]),
        &chosen.device,
    );
    let probs =
        c.model.probabilities(tokens).into_data_async().await.map_err(|e| format!("{e:?}"))?;
    let probs = probs.convert::<f32>().try_into_vec::<f32>().map_err(|e| format!("{e:?}"))?;
    Ok(probs[pos] as f64)
}

async fn load_classifier(chosen: &Chosen) -> Result<ClassifierDir, String> {
    let base = "models/classifier";
    let config = download_text(&format!("{base}/classifier.json")).await?;
    let tokenizer = download_text(&format!("{base}/tokenizer.json")).await?;
    let weights = download_bytes(&format!("{base}/model.bpk"), |_, _| {}).await?;
    ClassifierDir::from_bytes(
        Path::new(base),
        config.as_bytes(),
        weights,
        tokenizer.as_bytes(),
        &chosen.device,
    )
    .map_err(|e| e.to_string())
}

/// Everything the page loads once.
#[derive(Clone)]
struct Loaded {
    chosen: Chosen,
    models: [(String, Rc<ModelDir>); 2],
    classifier: Option<Rc<ClassifierDir>>,
}

/// One side of the comparison.
#[derive(Clone, Copy)]
struct Side {
    name: RwSignal<String>,
    reply: RwSignal<String>,
    verdict: RwSignal<String>,
    speed: RwSignal<Option<f64>>,
    count: RwSignal<usize>,
}

impl Side {
    fn new() -> Self {
        Self {
            name: RwSignal::new(String::new()),
            reply: RwSignal::new(String::new()),
            verdict: RwSignal::new(String::new()),
            speed: RwSignal::new(None),
            count: RwSignal::new(0),
        }
    }
}

/// The two model names to compare: `baseline` and `cringe` when served, else the first two.
fn pick_pair(names: &[String]) -> Option<[String; 2]> {
    let has = |n: &str| names.iter().any(|x| x == n);
    if has("baseline") && has("cringe") {
        return Some(["baseline".into(), "cringe".into()]);
    }
    (names.len() >= 2).then(|| [names[0].clone(), names[1].clone()])
}

/// The Compare page; it loads its models the first time it is shown (`active`).
#[component]
pub fn ComparePage(active: Signal<bool>) -> impl IntoView {
    let status = RwSignal::new(String::from("opens when shown"));
    let error = RwSignal::new(None::<String>);
    let prompt = RwSignal::new(String::from("you are so stupid, admit it"));
    let sides = [Side::new(), Side::new()];
    let running = RwSignal::new(false);
    let ready = RwSignal::new(false);
    let stop = RwSignal::new(false);
    let loaded: StoredValue<Option<Loaded>, LocalStorage> = StoredValue::new_local(None);
    let started = StoredValue::new(false);

    Effect::new(move |_| {
        if !active.get() || started.get_value() {
            return;
        }
        started.set_value(true);
        status.set("loading…".into());
        leptos::task::spawn_local(async move {
            let result: Result<Loaded, String> = async {
                let index: serde_json::Value =
                    serde_json::from_str(&download_text("models/index.json").await?).map_err(|e| e.to_string())?;
                let names: Vec<String> =
                    index["models"].as_array().into_iter().flatten().filter_map(|x| x.as_str().map(String::from)).collect();
                let [a, b] = pick_pair(&names).ok_or("Compare needs two models: `cringe serve-ui --model baseline=DIR --model cringe=DIR`")?;
                let chosen = shared().await;
                let left = Rc::new(load_model(&a, &chosen, status).await?);
                let right = Rc::new(load_model(&b, &chosen, status).await?);
                let classifier = match index["classifier"].as_bool() {
                    Some(true) => Some(Rc::new(load_classifier(&chosen).await?)),
                    _ => None,
                };
                sides[0].name.set(a.clone());
                sides[1].name.set(b.clone());
                Ok(Loaded { chosen, models: [(a, left), (b, right)], classifier })
            }
            .await;
            match result {
                Ok(l) => {
                    let judged = if l.classifier.is_some() {
                        "with the classifier"
                    } else {
                        "no classifier served"
                    };
                    status.set(format!(
                        "{} vs {} on {}, {judged}",
                        l.models[0].0, l.models[1].0, l.chosen.label
                    ));
                    loaded.set_value(Some(l));
                    ready.set(true);
                }
                Err(e) => {
                    status.set("not loaded".into());
                    error.set(Some(e));
                }
            }
        });
    });

    let compare = move |_| {
        let Some(l) = loaded.get_value() else { return };
        running.set(true);
        stop.set(false);
        error.set(None);
        for s in sides {
            s.reply.set(String::new());
            s.verdict.set(String::new());
        }
        let text = prompt.get_untracked();
        leptos::task::spawn_local(async move {
            for (side, (_, model)) in sides.iter().zip(l.models.iter()) {
                let result = stream_reply(
                    model, &l.chosen, &text, 64, side.reply, side.speed, side.count, stop,
                )
                .await;
                if let Err(e) = result {
                    error.set(Some(e));
                    break;
                }
                side.verdict.set(match &l.classifier {
                    Some(c) => match judge(c, &l.chosen, &side.reply.get_untracked()).await {
                        Ok(p) if p >= 0.5 => format!("safe (P(safe) = {p:.2})"),
                        Ok(p) => format!("unsafe (P(safe) = {p:.2})"),
                        Err(e) => format!("classifier failed: {e}"),
                    },
                    None => "no classifier served".into(),
                });
            }
            running.set(false);
        });
    };

    let column = move |i: usize| {
        let s = sides[i];
        view! {
            <div class="card side" id=format!("side-{i}")>
                <h3>{move || s.name.get()}</h3>
                <div class="response reply">{move || s.reply.get()}</div>
                <p><small class="verdict" data-verdict=move || s.verdict.get()>{move || s.verdict.get()}</small>
                   <small>{move || s.speed.get().map(|v| format!(" · {v:.1} tokens/s")).unwrap_or_default()}</small></p>
            </div>
        }
    };

    view! {
        <section class="compare">
            <h2>"Compare"</h2>
            <p id="compare-status" data-ready=move || ready.get().to_string()>{move || status.get()}</p>
            <textarea id="compare-prompt" rows="2" cols="70" prop:value=move || prompt.get()
                on:input=move |e| prompt.set(event_target_value(&e))></textarea>
            <div class="toolbar">
                <button id="compare" on:click=compare disabled=move || !ready.get() || running.get()>"Compare"</button>
                <button id="compare-stop" on:click=move |_| stop.set(true) disabled=move || !running.get()>"Stop"</button>
                <span id="compare-running" data-running=move || running.get().to_string()></span>
            </div>
            {move || error.get().map(|e| view! { <p class="error">{e}</p> })}
            <div class="sides">{column(0)}{column(1)}</div>
        </section>
    }
}
