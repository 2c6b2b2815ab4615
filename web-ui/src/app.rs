//! The app shell: header with the pages, and the active page.

use crate::label::LabelPage;
use leptos::prelude::*;

/// The whole app.
#[component]
pub fn App() -> impl IntoView {
    view! {
        <header>
            <b>"cringe-rs"</b>
            <a href="#label" class="active">"Label"</a>
        </header>
        <main>
            <LabelPage/>
        </main>
    }
}
