//! The Generate page: load a model that `cringe serve-ui --model` serves (with download
//! progress), then stream a reply token by token with tokens/s and a stop button.
//!
//! Generation runs on the CPU backend (Burn's flex, compiled to WebAssembly) on the page's
//! thread; it hands control back to the browser after every token, so the page stays live
//! and Stop works.

use crate::browser::{download_bytes, download_text, now_ms, yield_now};
use cringe_core::data::{Batcher, TruncationConfig};
use cringe_core::decode::{Inference, SearchConfig, TokenStream};
use cringe_core::model::ModelDir;
use leptos::prelude::*;
use std::path::Path;
use std::rc::Rc;

/// The device generation runs on, as shown on the page.
pub const DEVICE_LABEL: &str = "CPU (WebAssembly)";

/// A loaded model (kept out of the reactive graph: it is not `Send`).
#[derive(Clone)]
struct Loaded {
    model: Rc<ModelDir>,
}

/// Fetches the three files of model `name` and builds it.
async fn load_model(name: &str, progress: RwSignal<String>) -> Result<ModelDir, String> {
    let base = format!("models/{name}");
    let config = download_text(&format!("{base}/config.json")).await?;
    let tokenizer = download_text(&format!("{base}/tokenizer.json")).await?;
    let weights = download_bytes(&format!("{base}/model.bpk"), move |got, total| {
        let mb = |b: f64| b / 1e6;
        progress.set(if total > 0.0 {
            format!("weights {:.1} / {:.1} MB ({:.0}%)", mb(got), mb(total), 100.0 * got / total)
        } else {
            format!("weights {:.1} MB", mb(got))
        });
    })
    .await?;
    progress.set("building the model…".into());
    yield_now().await;
    let device = burn::tensor::Device::flex();
    ModelDir::from_bytes(Path::new(&base), config.as_bytes(), weights, tokenizer.as_bytes(), &device)
        .map_err(|e| e.to_string())
}

/// The Generate page.
#[component]
pub fn GeneratePage() -> impl IntoView {
    let names = RwSignal::new(Vec::<String>::new());
    let selected = RwSignal::new(String::new());
    let status = RwSignal::new(String::from("looking for models…"));
    let error = RwSignal::new(None::<String>);
    let prompt = RwSignal::new(String::from("hi! what do you like to do on weekends?"));
    let reply = RwSignal::new(String::new());
    let speed = RwSignal::new(None::<f64>);
    let count = RwSignal::new(0usize);
    let running = RwSignal::new(false);
    let stop = RwSignal::new(false);
    let loaded: StoredValue<Option<Loaded>, LocalStorage> = StoredValue::new_local(None);
    let ready = RwSignal::new(false);

    let load = move |name: String| {
        ready.set(false);
        error.set(None);
        status.set(format!("loading {name}…"));
        leptos::task::spawn_local(async move {
            match load_model(&name, status).await {
                Ok(md) => {
                    let params = md.model.config().num_params();
                    loaded.set_value(Some(Loaded { model: Rc::new(md) }));
                    status.set(format!("{name}: {:.1}M parameters, ready", params as f64 / 1e6));
                    ready.set(true);
                }
                Err(e) => {
                    status.set(format!("{name}: not loaded"));
                    error.set(Some(e));
                }
            }
        });
    };

    leptos::task::spawn_local(async move {
        match download_text("models/index.json").await.and_then(|t| {
            let v: serde_json::Value = serde_json::from_str(&t).map_err(|e| e.to_string())?;
            Ok(v["models"].as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect::<Vec<_>>()).unwrap_or_default())
        }) {
            Ok(list) if !list.is_empty() => {
                selected.set(list[0].clone());
                names.set(list.clone());
                load(list[0].clone());
            }
            Ok(_) | Err(_) => status.set("no model is served: start `cringe serve-ui --model DIR`".into()),
        }
    });

    let generate = move |_| {
        let Some(Loaded { model, .. }) = loaded.get_value() else { return };
        running.set(true);
        stop.set(false);
        error.set(None);
        reply.set(String::new());
        speed.set(None);
        let text = prompt.get_untracked();
        leptos::task::spawn_local(async move {
            let result = stream_reply(&model, &text, reply, speed, count, stop).await;
            if let Err(e) = result {
                error.set(Some(e));
            }
            running.set(false);
        });
    };

    view! {
        <section class="generate">
            <h2>"Generate"</h2>
            <div class="toolbar">
                <label>"Model " <select id="model" prop:value=move || selected.get()
                    on:change=move |e| { let n = event_target_value(&e); selected.set(n.clone()); load(n); }>
                    {move || names.get().into_iter().map(|n| view! { <option value=n.clone()>{n.clone()}</option> }).collect_view()}
                </select></label>
                <span id="device">{format!("device: {DEVICE_LABEL}")}</span>
                <span id="load-status" data-ready=move || ready.get().to_string()>{move || status.get()}</span>
            </div>
            <textarea id="prompt" rows="3" cols="70" prop:value=move || prompt.get()
                on:input=move |e| prompt.set(event_target_value(&e))></textarea>
            <div class="toolbar">
                <button id="generate" on:click=generate disabled=move || !ready.get() || running.get()>"Generate"</button>
                <button id="stop" on:click=move |_| stop.set(true) disabled=move || !running.get()>"Stop"</button>
                <span id="speed" data-running=move || running.get().to_string() data-tokens=move || count.get()>
                    {move || speed.get().map(|s| format!("{s:.1} tokens/s")).unwrap_or_default()}
                </span>
            </div>
            {move || error.get().map(|e| view! { <p class="error" id="error">{e}</p> })}
            <div class="card response" id="reply">{move || reply.get()}</div>
        </section>
    }
}

/// Generates a reply to `text`, showing it as it grows, until the end token, the length limit
/// or `stop`.
async fn stream_reply(
    md: &ModelDir,
    text: &str,
    reply: RwSignal<String>,
    speed: RwSignal<Option<f64>>,
    count: RwSignal<usize>,
    stop: RwSignal<bool>,
) -> Result<(), String> {
    count.set(0);
    let n_pos = md.model.config().n_positions;
    let max_reply = n_pos.min(64);
    let trunc = TruncationConfig { text_truncate: n_pos.min(128), label_truncate: max_reply };
    let batcher = Batcher::new(md.tokenizer.clone(), trunc, n_pos);
    let input = batcher.encode_context(text).map_err(|e| e.to_string())?;
    let cfg = SearchConfig {
        inference: Inference::Topk { k: 10 },
        min_length: 1,
        max_length: max_reply,
        block_ngram: 3,
        context_block_ngram: 3,
        seed: now_ms() as u64,
        ..SearchConfig::default()
    };
    let device = burn::tensor::Device::flex();
    let mut stream = TokenStream::new(&md.model, &input, &input, &cfg, &device).map_err(|e| e.to_string())?;
    let start = now_ms();
    while !stop.get_untracked() {
        match stream.next_token().map_err(|e| e.to_string())? {
            Some(_) => {
                reply.set(md.tokenizer.decode_response(stream.tokens()).map_err(|e| e.to_string())?);
                let secs = ((now_ms() - start) / 1000.0).max(1e-3);
                speed.set(Some(stream.tokens().len() as f64 / secs));
                count.set(stream.tokens().len());
                yield_now().await;
            }
            None => break,
        }
    }
    Ok(())
}
