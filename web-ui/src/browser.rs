//! Small browser helpers: reading a picked or dropped file, downloading text, the clock.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The name and text of a file the user picked or dropped.
pub async fn read_file(file: web_sys::File) -> Result<(String, String), String> {
    let name = file.name();
    let text = JsFuture::from(file.text())
        .await
        .map_err(|e| format!("{name}: cannot read the file: {e:?}"))?;
    let text = text.as_string().ok_or_else(|| format!("{name}: the file is not text"))?;
    Ok((name, text))
}

/// Offers `text` as a download named `name`.
pub fn download(name: &str, text: &str) -> Result<(), String> {
    let fail = |e: wasm_bindgen::JsValue| format!("download failed: {e:?}");
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type("application/jsonl");
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts).map_err(fail)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(fail)?;
    let document = web_sys::window().and_then(|w| w.document()).ok_or("no document")?;
    let a: web_sys::HtmlAnchorElement =
        document.create_element("a").map_err(fail)?.unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.click();
    web_sys::Url::revoke_object_url(&url).map_err(fail)?;
    Ok(())
}

/// The current time as ISO 8601 (UTC).
pub fn now_iso() -> String {
    String::from(js_sys::Date::new_0().to_iso_string())
}

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
export async function fetch_bytes(url, onProgress) {
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`${url}: HTTP ${resp.status}`);
  const total = Number(resp.headers.get("Content-Length")) || 0;
  const reader = resp.body.getReader();
  const chunks = [];
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    got += value.length;
    onProgress(got, total);
  }
  const out = new Uint8Array(got);
  let off = 0;
  for (const c of chunks) { out.set(c, off); off += c.length; }
  return out;
}
export async function fetch_text(url) {
  const resp = await fetch(url);
  if (!resp.ok) throw new Error(`${url}: HTTP ${resp.status}`);
  return await resp.text();
}
export function next_frame() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}
"#)]
extern "C" {
    #[wasm_bindgen(catch)]
    async fn fetch_bytes(
        url: &str,
        on_progress: &js_sys::Function,
    ) -> Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue>;
    #[wasm_bindgen(catch)]
    async fn fetch_text(url: &str) -> Result<wasm_bindgen::JsValue, wasm_bindgen::JsValue>;
    async fn next_frame();
}

/// Downloads `url`, calling `progress(bytes_so_far, total_or_0)` as chunks arrive.
pub async fn download_bytes(
    url: &str,
    progress: impl FnMut(f64, f64) + 'static,
) -> Result<Vec<u8>, String> {
    let cb = wasm_bindgen::closure::Closure::<dyn FnMut(f64, f64)>::new(progress);
    let v =
        fetch_bytes(url, cb.as_ref().unchecked_ref()).await.map_err(|e| format!("{url}: {e:?}"))?;
    Ok(js_sys::Uint8Array::new(&v).to_vec())
}

/// Downloads `url` as text.
pub async fn download_text(url: &str) -> Result<String, String> {
    let v = fetch_text(url).await.map_err(|e| format!("{url}: {e:?}"))?;
    v.as_string().ok_or_else(|| format!("{url}: not text"))
}

/// Lets the browser run (render, handle clicks) before continuing.
pub async fn yield_now() {
    next_frame().await;
}

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}
