//! The app shell: the header with the pages (chosen by the URL's `#generate` / `#label` /
//! `#compare`), and the pages, hidden ones kept alive so nothing is lost when switching.

use crate::compare::ComparePage;
use crate::generate::GeneratePage;
use crate::label::LabelPage;
use leptos::ev;
use leptos::prelude::*;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Page {
    Generate,
    Label,
    Compare,
}

fn page_from_hash() -> Page {
    let hash = web_sys::window().and_then(|w| w.location().hash().ok()).unwrap_or_default();
    match hash.as_str() {
        "#label" => Page::Label,
        "#compare" => Page::Compare,
        _ => Page::Generate,
    }
}

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    let page = RwSignal::new(page_from_hash());
    let handle = window_event_listener(ev::hashchange, move |_| page.set(page_from_hash()));
    on_cleanup(move || handle.remove());
    let shown =
        move |p: Page| move || if page.get() == p { "display: block" } else { "display: none" };
    let class = move |p: Page| move || if page.get() == p { "active" } else { "" };
    let label_active = Signal::derive(move || page.get() == Page::Label);
    let compare_active = Signal::derive(move || page.get() == Page::Compare);
    view! {
        <header>
            <b>"cringe-rs"</b>
            <a href="#generate" id="nav-generate" class=class(Page::Generate)>"Generate"</a>
            <a href="#label" id="nav-label" class=class(Page::Label)>"Label"</a>
            <a href="#compare" id="nav-compare" class=class(Page::Compare)>"Compare"</a>
        </header>
        <main>
            <div style=shown(Page::Generate)><GeneratePage/></div>
            <div style=shown(Page::Label)><LabelPage active=label_active/></div>
            <div style=shown(Page::Compare)><ComparePage active=compare_active/></div>
        </main>
    }
}
