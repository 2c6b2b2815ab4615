//! The cringe-rs browser UI: a Leptos client-side app compiled to wasm32.
//!
//! - [`generate`]: load a served model and stream a reply token by token, on WebGPU or the
//!   CPU backend ([`device`]);
//! - [`compare`]: one prompt to a baseline and a CRINGE model side by side, with the
//!   classifier's verdict on each reply;
//! - [`label`]: annotators import a world log, judge each generation with the keyboard
//!   (`a` safe, `x` unsafe, `space` skip, `u` undo), and export labels `cringe train` reads;
//!   the session lives in IndexedDB, so a reload loses nothing.
//!
//! Model code comes unchanged from `cringe-core` (its labeling session is
//! `cringe_core::data::labeling`).

pub mod app;
pub mod browser;
pub mod compare;
pub mod device;
pub mod generate;
pub mod label;
pub mod store;

use wasm_bindgen::prelude::*;

/// Entry point: mounts the app on the page's body.
#[wasm_bindgen(start)]
pub fn start() {
    leptos::mount::mount_to_body(app::App);
}
