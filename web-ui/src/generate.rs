//! The Generate page: load a model that `cringe serve-ui --model` serves (with download
//! progress and, on the GPU, a shader warm-up), then stream a reply token by token with
//! tokens/s and a stop button.
//!
//! The model runs on the device [`crate::device::choose`] picks: WebGPU, or the CPU backend
//! compiled to WebAssembly. Logits are read back asynchronously after every token, which also
//! hands control back to the browser, so the page stays live and Stop works.

use crate::browser::{download_bytes, download_text, now_ms, yield_now};
use crate::device::{Chosen, shared};
use cringe_core::data::{Batcher, TruncationConfig};
use cringe_core::decode::{Inference, SearchConfig, TokenStream};
use cringe_core::model::ModelDir;
use leptos::prelude::*;
use std::path::Path;
use std::rc::Rc;

/// A loaded model (kept out of the reactive graph: it is not `Send`).
#[derive(Clone)]
struct Loaded {
    model: Rc<ModelDir>,
}

/// Fetches the three files of model `name` and builds it on `device`; on the GPU, runs a few
/// decoding steps so the shaders are compiled before the first real reply.
pub async fn load_model(
    name: &str,
    chosen: &Chosen,
    progress: RwSignal<String>,
) -> Result<ModelDir, String> {
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
    let md = ModelDir::from_bytes(
        Path::new(&base),
        config.as_bytes(),
        weights,
        tokenizer.as_bytes(),
        &chosen.device,
    )
    .map_err(|e| e.to_string())?;
    if chosen.gpu {
        progress.set("warming up shaders…".into());
        let cfg = SearchConfig {
            inference: Inference::Greedy,
            min_length: 0,
            max_length: 2,
            ..SearchConfig::default()
        };
        let input = [md.tokenizer.special().end];
        let mut stream = TokenStream::new(&md.model, &input, &input, &cfg, &chosen.device)
            .map_err(|e| e.to_string())?;
        while next_token(&mut stream).await?.is_some() {}
    }
    Ok(md)
}

/// One token, reading the logits back asynchronously (required on WebGPU).
pub async fn next_token(stream: &mut TokenStream<'_>) -> Result<Option<u32>, String> {
    let Some(logits) = stream.step_logits() else { return Ok(None) };
    let data = logits.into_data_async().await.map_err(|e| format!("reading logits back: {e:?}"))?;
    let values = data
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| format!("reading logits back: {e:?}"))?;
    stream.choose(&values).map(Some).map_err(|e| e.to_string())
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
    let max_tokens = RwSignal::new(64usize);
    let running = RwSignal::new(false);
    let stop = RwSignal::new(false);
    let loaded: StoredValue<Option<Loaded>, LocalStorage> = StoredValue::new_local(None);
    let chosen: StoredValue<Option<Chosen>, LocalStorage> = StoredValue::new_local(None);
    let device_label = RwSignal::new(String::from("choosing…"));
    let ready = RwSignal::new(false);

    let load = move |name: String| {
        ready.set(false);
        error.set(None);
        status.set(format!("loading {name}…"));
        leptos::task::spawn_local(async move {
            let device = shared().await;
            device_label.set(device.label.clone());
            chosen.set_value(Some(device.clone()));
            match load_model(&name, &device, status).await {
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
            Ok(v["models"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect::<Vec<_>>())
                .unwrap_or_default())
        }) {
            Ok(list) if !list.is_empty() => {
                selected.set(list[0].clone());
                names.set(list.clone());
                load(list[0].clone());
            }
            Ok(_) | Err(_) => {
                status.set("no model is served: start `cringe serve-ui --model DIR`".into())
            }
        }
    });

    let generate = move |_| {
        let Some(Loaded { model, .. }) = loaded.get_value() else { return };
        let Some(device) = chosen.get_value() else { return };
        running.set(true);
        stop.set(false);
        error.set(None);
        reply.set(String::new());
        speed.set(None);
        let text = prompt.get_untracked();
        let max = max_tokens.get_untracked();
        leptos::task::spawn_local(async move {
            let result = stream_reply(&model, &device, &text, max, reply, speed, count, stop).await;
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
                <span id="device">{move || format!("device: {}", device_label.get())}</span>
                <span id="load-status" data-ready=move || ready.get().to_string()>{move || status.get()}</span>
            </div>
            <textarea id="prompt" rows="3" cols="70" prop:value=move || prompt.get()
                on:input=move |e| prompt.set(event_target_value(&e))></textarea>
            <div class="toolbar">
                <label>"at most " <input id="max-tokens" type="number" min="1" max="128" size="4"
                    prop:value=move || max_tokens.get().to_string()
                    on:change=move |e| max_tokens.set(event_target_value(&e).parse().unwrap_or(64).clamp(1, 128))/>" tokens"</label>
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

/// Generates a reply to `text`, showing it as it grows, until the end token, `max_tokens` or
/// `stop`.
#[allow(clippy::too_many_arguments)]
pub async fn stream_reply(
    md: &ModelDir,
    chosen: &Chosen,
    text: &str,
    max_tokens: usize,
    reply: RwSignal<String>,
    speed: RwSignal<Option<f64>>,
    count: RwSignal<usize>,
    stop: RwSignal<bool>,
) -> Result<(), String> {
    count.set(0);
    let n_pos = md.model.config().n_positions;
    let max_reply = n_pos.min(max_tokens);
    let trunc = TruncationConfig { text_truncate: n_pos.min(128), label_truncate: max_reply };
    let batcher = Batcher::new(md.tokenizer.clone(), trunc, n_pos);
    let input = batcher.encode_context(text).map_err(|e| e.to_string())?;
    let cfg = SearchConfig {
        // One sample per reply (no best-of-beam as `cringe chat --inference topk` does), so a
        // lower temperature keeps small models from derailing on an unlikely first token.
        inference: Inference::Topk { k: 10 },
        temperature: 0.5,
        min_length: 1,
        max_length: max_reply,
        block_ngram: 3,
        context_block_ngram: 3,
        seed: now_ms() as u64,
        ..SearchConfig::default()
    };
    let mut stream = TokenStream::new(&md.model, &input, &input, &cfg, &chosen.device)
        .map_err(|e| e.to_string())?;
    let start = now_ms();
    while !stop.get_untracked() {
        match next_token(&mut stream).await? {
            Some(_) => {
                reply
                    .set(md.tokenizer.decode_response(stream.tokens()).map_err(|e| e.to_string())?);
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
