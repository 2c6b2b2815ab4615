//! Persistence in IndexedDB (database `cringe-rs`, object store `kv`): string values by key.
//!
//! Writes go through one [`Saver`] per key that always stores the newest value, one write at
//! a time, so a burst of changes ends with the last one on disk and `pending` tells the page
//! (and tests) when everything is saved.

use leptos::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(inline_js = r#"
function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open("cringe-rs", 1);
    req.onupgradeneeded = () => req.result.createObjectStore("kv");
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}
export async function idb_get(key) {
  const db = await openDb();
  return await new Promise((resolve, reject) => {
    const req = db.transaction("kv").objectStore("kv").get(key);
    req.onsuccess = () => resolve(req.result === undefined ? null : req.result);
    req.onerror = () => reject(req.error);
  });
}
export async function idb_put(key, value) {
  const db = await openDb();
  await new Promise((resolve, reject) => {
    const tx = db.transaction("kv", "readwrite");
    tx.objectStore("kv").put(value, key);
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
  });
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn idb_get(key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch)]
    async fn idb_put(key: &str, value: &str) -> Result<JsValue, JsValue>;
}

/// Reads the value stored under `key`, if any.
pub async fn load(key: &str) -> Result<Option<String>, String> {
    let v = idb_get(key).await.map_err(|e| format!("IndexedDB read of {key:?} failed: {e:?}"))?;
    Ok(v.as_string())
}

/// Keeps the newest value of one key written to IndexedDB.
#[derive(Clone)]
pub struct Saver {
    key: &'static str,
    latest: Rc<RefCell<Option<String>>>,
    running: Rc<RefCell<bool>>,
    /// True while a value is waiting to be written.
    pub pending: RwSignal<bool>,
    /// The last write error, if any.
    pub error: RwSignal<Option<String>>,
}

impl Saver {
    /// A saver for `key`.
    pub fn new(key: &'static str) -> Self {
        Self {
            key,
            latest: Rc::default(),
            running: Rc::default(),
            pending: RwSignal::new(false),
            error: RwSignal::new(None),
        }
    }

    /// Stores `value` (replacing any value still waiting).
    pub fn save(&self, value: String) {
        *self.latest.borrow_mut() = Some(value);
        self.pending.set(true);
        if *self.running.borrow() {
            return;
        }
        *self.running.borrow_mut() = true;
        let this = self.clone();
        leptos::task::spawn_local(async move {
            loop {
                let next = this.latest.borrow_mut().take();
                let Some(value) = next else { break };
                if let Err(e) = idb_put(this.key, &value).await {
                    this.error.set(Some(format!("could not save to IndexedDB: {e:?}")));
                }
            }
            *this.running.borrow_mut() = false;
            this.pending.set(false);
        });
    }
}
