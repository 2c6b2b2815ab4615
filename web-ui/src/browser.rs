//! Small browser helpers: reading a picked or dropped file, downloading text, the clock.

use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The name and text of a file the user picked or dropped.
pub async fn read_file(file: web_sys::File) -> Result<(String, String), String> {
    let name = file.name();
    let text = JsFuture::from(file.text()).await.map_err(|e| format!("{name}: cannot read the file: {e:?}"))?;
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
    let a: web_sys::HtmlAnchorElement = document.create_element("a").map_err(fail)?.unchecked_into();
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
