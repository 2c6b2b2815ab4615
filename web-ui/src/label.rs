//! The Label page: import a world log, judge one generation at a time by keyboard or buttons,
//! filter by status, export the labels. Everything is kept in IndexedDB after each change.

use crate::browser::{download, now_iso, read_file};
use crate::store::{Saver, load};
use cringe_core::data::labeling::{Filter, LabelSession, Status};
use leptos::ev;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

const SESSION_KEY: &str = "label-session";
const ANNOTATOR_KEY: &str = "annotator";

/// Everything the page works on.
#[derive(Clone, Copy)]
struct LabelState {
    session: RwSignal<Option<LabelSession>>,
    annotator: RwSignal<String>,
    error: RwSignal<Option<String>>,
    loaded: RwSignal<bool>,
}

impl LabelState {
    /// Applies `f` to the session and saves it if it changed anything.
    fn update(&self, saver: &Saver, f: impl FnOnce(&mut LabelSession) -> bool) {
        let mut changed = false;
        self.session.update(|s| {
            if let Some(s) = s {
                changed = f(s);
            }
        });
        if changed && let Some(s) = self.session.get_untracked() {
            saver.save(s.to_json());
        }
    }

    fn mark(&self, saver: &Saver, status: Status) {
        let name = self.annotator.get_untracked();
        let name =
            if name.trim().is_empty() { "anonymous".to_string() } else { name.trim().to_string() };
        let now = now_iso();
        self.update(saver, |s| s.mark(status, &name, &now));
    }

    fn undo(&self, saver: &Saver) {
        self.update(saver, LabelSession::undo);
    }

    async fn import(&self, saver: Saver, file: web_sys::File) {
        let result = read_file(file).await.and_then(|(name, text)| {
            LabelSession::import(&name, text.as_bytes()).map_err(|e| e.to_string())
        });
        match result {
            Ok(session) => {
                saver.save(session.to_json());
                self.session.set(Some(session));
                self.error.set(None);
            }
            Err(e) => self.error.set(Some(e)),
        }
    }
}

fn filter_name(f: Filter) -> &'static str {
    match f {
        Filter::All => "all",
        Filter::Only(Status::Unlabeled) => "unlabeled",
        Filter::Only(Status::Safe) => "safe",
        Filter::Only(Status::Unsafe) => "unsafe",
        Filter::Only(Status::Skipped) => "skipped",
    }
}

fn parse_filter(s: &str) -> Filter {
    match s {
        "unlabeled" => Filter::Only(Status::Unlabeled),
        "safe" => Filter::Only(Status::Safe),
        "unsafe" => Filter::Only(Status::Unsafe),
        "skipped" => Filter::Only(Status::Skipped),
        _ => Filter::All,
    }
}

fn status_text(s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Unlabeled => ("unlabeled", ""),
        Status::Safe => ("safe", "status-safe"),
        Status::Unsafe => ("unsafe", "status-unsafe"),
        Status::Skipped => ("skipped", "status-skipped"),
    }
}

/// The Label page; its keys only act while `active` (the page is shown).
#[component]
pub fn LabelPage(active: Signal<bool>) -> impl IntoView {
    let state = LabelState {
        session: RwSignal::new(None),
        annotator: RwSignal::new(String::new()),
        error: RwSignal::new(None),
        loaded: RwSignal::new(false),
    };
    let saver = Saver::new(SESSION_KEY);
    restore(state);
    install_keys(state, saver.clone(), active);
    let save_error = saver.error;
    view! {
        <section class="label" data-loaded=move || state.loaded.get().to_string()>
            <h2>"Label generations"</h2>
            <Toolbar state=state saver=saver.clone()/>
            <DropZone state=state saver=saver.clone()/>
            {move || state.error.get().or_else(|| save_error.get()).map(|e| view! { <p class="error" id="error">{e}</p> })}
            <Progress state=state/>
            <ItemCard state=state/>
            <JudgeButtons state=state saver=saver/>
        </section>
    }
}

/// Restores the stored session and annotator name (then marks the page loaded).
fn restore(state: LabelState) {
    leptos::task::spawn_local(async move {
        match load(SESSION_KEY).await {
            Ok(Some(text)) => match LabelSession::from_json(&text) {
                Ok(s) => state.session.set(Some(s)),
                Err(e) => state.error.set(Some(e.to_string())),
            },
            Ok(None) => {}
            Err(e) => state.error.set(Some(e)),
        }
        if let Ok(Some(name)) = load(ANNOTATOR_KEY).await {
            state.annotator.set(name);
        }
        state.loaded.set(true);
    });
}

/// Keyboard: a safe, x unsafe, space skip, u undo, while `active` (not while typing in a text
/// field or choosing in a list; the file button keeps the keys, as focus stays there after a
/// pick).
fn install_keys(state: LabelState, saver: Saver, active: Signal<bool>) {
    let handle = window_event_listener(ev::keydown, move |e: web_sys::KeyboardEvent| {
        let typing = e.target().and_then(|t| t.dyn_into::<web_sys::Element>().ok()).is_some_and(
            |el| match el.tag_name().as_str() {
                "TEXTAREA" | "SELECT" => true,
                "INPUT" => el.get_attribute("type").is_none_or(|t| t != "file"),
                _ => false,
            },
        );
        if !active.get_untracked() || typing || e.ctrl_key() || e.meta_key() || e.alt_key() {
            return;
        }
        match e.key().as_str() {
            "a" => state.mark(&saver, Status::Safe),
            "x" => state.mark(&saver, Status::Unsafe),
            " " => {
                e.prevent_default();
                state.mark(&saver, Status::Skipped);
            }
            "u" => state.undo(&saver),
            _ => {}
        }
    });
    on_cleanup(move || handle.remove());
}

/// The annotator's name, the status filter, the export button and whether all is saved.
#[component]
fn Toolbar(state: LabelState, saver: Saver) -> impl IntoView {
    let name_saver = Saver::new(ANNOTATOR_KEY);
    let on_name = move |e: ev::Event| {
        let name = event_target_value(&e);
        name_saver.save(name.clone());
        state.annotator.set(name);
    };
    let filter_saver = saver.clone();
    let on_filter = move |e: ev::Event| {
        // Hand the keys back to labeling once a filter is chosen.
        let _ = event_target::<web_sys::HtmlElement>(&e).blur();
        let f = parse_filter(&event_target_value(&e));
        state.update(&filter_saver, |s| {
            s.set_filter(f);
            true
        });
    };
    let on_export = move |_| {
        if let Some(s) = state.session.get_untracked() {
            let stem = s.source.trim_end_matches(".jsonl");
            if let Err(e) = download(&format!("{stem}.labels.jsonl"), &s.export_jsonl()) {
                state.error.set(Some(e));
            }
        }
    };
    let pending = saver.pending;
    view! {
        <div class="toolbar">
            <label>"Annotator " <input id="annotator" type="text" placeholder="your name"
                prop:value=move || state.annotator.get() on:change=on_name/></label>
            <label>"Show " <select id="filter" on:change=on_filter
                prop:value=move || state.session.with(|s| s.as_ref().map(|s| filter_name(s.filter())).unwrap_or("all"))>
                <option value="all">"all"</option>
                <option value="unlabeled">"unlabeled"</option>
                <option value="safe">"safe"</option>
                <option value="unsafe">"unsafe"</option>
                <option value="skipped">"skipped"</option>
            </select></label>
            <button id="export" on:click=on_export disabled=move || state.session.with(|s| s.is_none())>"Export labels"</button>
            <span id="saved" data-saved=move || (!pending.get()).to_string()>
                {move || if pending.get() { "saving…" } else { "saved" }}
            </span>
        </div>
    }
}

/// Where a world log is dropped or picked.
#[component]
fn DropZone(state: LabelState, saver: Saver) -> impl IntoView {
    let import_saver = saver.clone();
    let on_pick = move |e: ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&e);
        if let Some(file) = input.files().and_then(|f| f.get(0)) {
            let saver = import_saver.clone();
            leptos::task::spawn_local(async move { state.import(saver, file).await });
        }
    };
    let dragging = RwSignal::new(false);
    let on_drop = move |e: ev::DragEvent| {
        e.prevent_default();
        dragging.set(false);
        if let Some(file) = e.data_transfer().and_then(|d| d.files()).and_then(|f| f.get(0)) {
            let saver = saver.clone();
            leptos::task::spawn_local(async move { state.import(saver, file).await });
        }
    };
    view! {
        <div class=move || if dragging.get() { "drop over" } else { "drop" }
            on:dragover=move |e: ev::DragEvent| { e.prevent_default(); dragging.set(true); }
            on:dragleave=move |_| dragging.set(false)
            on:drop=on_drop>
            "Drop a world-log .jsonl here, or "
            <input id="import" type="file" accept=".jsonl,.json,.txt" on:change=on_pick/>
        </div>
    }
}

/// How many are judged, of what kind.
#[component]
fn Progress(state: LabelState) -> impl IntoView {
    move || {
        state.session.with(|s| {
            s.as_ref().map(|s| {
                let c = s.counts();
                let done = c.safe + c.unsafe_ + c.skipped;
                view! {
                    <p id="progress" data-done=done data-total=c.total>
                        {format!("{done} of {} judged — {} safe, {} unsafe, {} skipped ({})", c.total, c.safe, c.unsafe_, c.skipped, s.source)}
                    </p>
                }
            })
        })
    }
}

/// The current generation with its context, status and the classifier's verdict.
#[component]
fn ItemCard(state: LabelState) -> impl IntoView {
    move || {
        state.session.with(|s| s.as_ref().map(|s| match s.current() {
        Some(item) => {
            let (status, class) = status_text(item.status);
            let verdict = match item.classifier_safe {
                Some(true) => "classifier: safe",
                Some(false) => "classifier: unsafe",
                None => "classifier: —",
            };
            view! {
                <div class="card" id="item" data-index=s.cursor()>
                    <div class="context">{item.context.clone()}</div>
                    <div class="response" id="response">{item.response.clone()}</div>
                    <p><small>{format!("item {} of {} · ", s.cursor() + 1, s.items().len())}
                        <span class=class id="status">{status}</span>{format!(" · {verdict}")}</small></p>
                </div>
            }.into_any()
        }
        None => view! { <div class="card" id="item" data-index="done">"Nothing left to judge under this filter."</div> }.into_any(),
    }))
    }
}

/// The judging buttons, each with its key.
#[component]
fn JudgeButtons(state: LabelState, saver: Saver) -> impl IntoView {
    let (s1, s2, s3, s4) = (saver.clone(), saver.clone(), saver.clone(), saver);
    view! {
        <div class="toolbar keys">
            <button id="safe" on:click=move |_| state.mark(&s1, Status::Safe)><kbd>"a"</kbd>" safe"</button>
            <button id="unsafe" on:click=move |_| state.mark(&s2, Status::Unsafe)><kbd>"x"</kbd>" unsafe"</button>
            <button id="skip" on:click=move |_| state.mark(&s3, Status::Skipped)><kbd>"space"</kbd>" skip"</button>
            <button id="undo" on:click=move |_| state.undo(&s4)><kbd>"u"</kbd>" undo"</button>
        </div>
    }
}
