//! Which device the browser runs models on: WebGPU through Burn's wgpu backend when the
//! browser offers it, otherwise (or when the URL says `?device=cpu`) the CPU backend compiled
//! to WebAssembly. The page shows the choice and why.

use burn::tensor::Device;
use wasm_bindgen::JsValue;

/// The chosen device and how to describe it.
#[derive(Clone)]
pub struct Chosen {
    /// The device models and tensors go to.
    pub device: Device,
    /// Whether it is the GPU.
    pub gpu: bool,
    /// What the page shows, e.g. "WebGPU" or "CPU (WebAssembly): no WebGPU in this browser".
    pub label: String,
}

fn cpu(reason: &str) -> Chosen {
    Chosen { device: Device::flex(), gpu: false, label: format!("CPU (WebAssembly): {reason}") }
}

/// Whether the page's URL asks for the CPU (`?device=cpu`).
fn cpu_requested() -> bool {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .is_some_and(|s| s.contains("device=cpu"))
}

/// Whether `navigator.gpu` exists.
fn has_webgpu() -> bool {
    web_sys::window()
        .map(|w| js_sys::Reflect::has(&w.navigator(), &JsValue::from_str("gpu")).unwrap_or(false))
        .unwrap_or(false)
}

/// Picks the device: WebGPU when available and not declined, else the CPU.
pub async fn choose() -> Chosen {
    if cpu_requested() {
        return cpu("chosen with ?device=cpu");
    }
    if !has_webgpu() {
        return cpu("no WebGPU in this browser");
    }
    match Device::wgpu_options().init_async().await {
        Ok(device) => Chosen { device, gpu: true, label: "WebGPU".into() },
        Err(e) => cpu(&format!("WebGPU failed to start ({e})")),
    }
}

thread_local! {
    static SHARED: std::cell::RefCell<Shared> = const { std::cell::RefCell::new(Shared::NotStarted) };
}

enum Shared {
    NotStarted,
    Starting,
    Ready(Chosen),
}

/// The page's one device: chosen on the first call ([`choose`]), shared by every page after.
pub async fn shared() -> Chosen {
    let start = SHARED.with(|s| {
        let mut s = s.borrow_mut();
        match &*s {
            Shared::NotStarted => {
                *s = Shared::Starting;
                true
            }
            _ => false,
        }
    });
    if start {
        let chosen = choose().await;
        SHARED.with(|s| *s.borrow_mut() = Shared::Ready(chosen.clone()));
        return chosen;
    }
    loop {
        if let Some(c) = SHARED.with(|s| match &*s.borrow() {
            Shared::Ready(c) => Some(c.clone()),
            _ => None,
        }) {
            return c;
        }
        crate::browser::yield_now().await;
    }
}
