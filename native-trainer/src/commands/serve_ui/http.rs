//! The HTTP side of `serve-ui`: hyper's HTTP/1.1 server on a small tokio runtime, with the
//! limits a server on a network needs — a bounded number of connections and threads, a bounded
//! request head (line and headers), a timeout for reading it, and files streamed in chunks by
//! tower-http rather than read whole into memory. Paths are resolved here: no `..`, and no
//! symbolic link that leads out of the served folder.

use super::Served;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tower_http::services::ServeFile;

/// Connections served at once; more wait in the kernel's accept queue.
pub const MAX_CONNECTIONS: usize = 512;
/// Threads of the runtime that serves them.
pub const WORKER_THREADS: usize = 2;
/// Threads that read files for them (tokio's blocking pool, which tower-http's file reads use).
pub const FILE_THREADS: usize = 8;
/// Largest request head (request line and headers) read; a longer one is answered 431 and the
/// connection closed (hyper's read buffer limit).
pub const MAX_HEAD_BYTES: usize = 16 * 1024;
/// A client has this long to send each request's head, or its connection is closed.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// What the server serves: the UI folder (canonical, so links can be checked against it) and
/// the models.
pub struct Site {
    /// The UI folder, canonicalised.
    pub root: PathBuf,
    /// Models and classifier under `/models/`.
    pub served: Served,
}

type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// Serves `listener` until the process stops.
pub fn serve(listener: std::net::TcpListener, site: Site) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .max_blocking_threads(FILE_THREADS)
        .enable_all()
        .build()?;
    runtime.block_on(accept_loop(listener, Arc::new(site)))
}

async fn accept_loop(listener: std::net::TcpListener, site: Arc<Site>) -> anyhow::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = tokio::net::TcpListener::from_std(listener)?;
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let permit = slots.clone().acquire_owned().await?;
        let Ok((stream, _)) = listener.accept().await else { continue };
        let site = site.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req| respond(req, site.clone()));
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEAD_TIMEOUT)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(stream), service);
            // A client that goes away mid-response is not the server's error.
            let _ = connection.await;
        });
    }
}

async fn respond(
    req: Request<Incoming>,
    site: Arc<Site>,
) -> Result<Response<Body>, std::convert::Infallible> {
    let mut response = match route(&req, &site) {
        Route::Bytes(body, ctype) => with_type(Response::new(full(body)), ctype),
        Route::File(path) if req.method() == Method::GET || req.method() == Method::HEAD => {
            let ctype = content_type(&path);
            let (parts, _) = req.into_parts();
            let head = Request::from_parts(parts, ());
            match ServeFile::new(&path).try_call(head).await {
                Ok(r) => with_type(r.map(BodyExt::boxed_unsync), ctype),
                Err(_) => text(StatusCode::NOT_FOUND, "not found\n"),
            }
        }
        Route::File(_) | Route::NotAllowed => {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
            r.headers_mut().insert(hyper::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
            r
        }
        Route::NotFound => text(StatusCode::NOT_FOUND, "not found\n"),
    };
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// Where a request goes.
enum Route {
    /// A generated body (the model index).
    Bytes(Vec<u8>, &'static str),
    /// A file to stream.
    File(PathBuf),
    /// Neither GET nor HEAD.
    NotAllowed,
    NotFound,
}

fn route(req: &Request<Incoming>, site: &Site) -> Route {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return Route::NotAllowed;
    }
    let path = req.uri().path();
    if let Some(r) = super::model_route(&site.served, path) {
        return r.map_or(Route::NotFound, |m| match m {
            super::ModelRoute::Index(body) => Route::Bytes(body, "application/json"),
            super::ModelRoute::File(path) => Route::File(path),
        });
    }
    resolve(&site.root, path).map_or(Route::NotFound, Route::File)
}

fn full(body: Vec<u8>) -> Body {
    Full::new(Bytes::from(body)).map_err(|never| match never {}).boxed_unsync()
}

fn text(status: StatusCode, body: &'static str) -> Response<Body> {
    let mut r =
        with_type(Response::new(full(body.as_bytes().to_vec())), "text/plain; charset=utf-8");
    *r.status_mut() = status;
    r
}

fn with_type(mut r: Response<Body>, ctype: &'static str) -> Response<Body> {
    if r.status().is_success() {
        r.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    }
    r
}

/// The media type of a served file, by its extension.
pub fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" => "application/json",
        "jsonl" | "txt" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "svg" => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// The file a request path names inside `root` (canonical): percent-decoded, no `..` or
/// absolute parts, and — after following any links — still inside `root`. `/` and folders are
/// their index.html.
pub fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8().ok()?;
    if decoded.contains('\0') {
        return None;
    }
    let mut out = root.to_path_buf();
    for part in Path::new(decoded.trim_start_matches('/')).components() {
        match part {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    let mut real = out.canonicalize().ok()?;
    if !real.starts_with(root) {
        return None;
    }
    if real.is_dir() {
        real = real.join("index.html").canonicalize().ok()?;
        if !real.starts_with(root) {
            return None;
        }
    }
    real.is_file().then_some(real)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_root_links_included_and_types_fit() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("ui");
        std::fs::create_dir_all(root.join("pkg")).unwrap();
        std::fs::write(root.join("index.html"), "<html>").unwrap();
        std::fs::write(root.join("pkg/a.wasm"), "\0asm").unwrap();
        std::fs::write(tmp.path().join("secret.txt"), "no").unwrap();
        let root = root.canonicalize().unwrap();
        assert_eq!(resolve(&root, "/"), Some(root.join("index.html")));
        assert_eq!(resolve(&root, "/pkg/a.wasm?v=1"), Some(root.join("pkg/a.wasm")));
        assert_eq!(resolve(&root, "/pkg/%61.wasm"), Some(root.join("pkg/a.wasm")));
        for bad in [
            "/../secret.txt",
            "/%2e%2e/secret.txt",
            "/pkg/..%2f..%2fsecret.txt",
            "/missing.js",
            "/a%00b",
        ] {
            assert_eq!(resolve(&root, bad), None, "{bad}");
        }
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(tmp.path().join("secret.txt"), root.join("link.txt"))
                .unwrap();
            std::os::unix::fs::symlink(tmp.path(), root.join("up")).unwrap();
            std::os::unix::fs::symlink(root.join("pkg/a.wasm"), root.join("inside.wasm")).unwrap();
            assert_eq!(resolve(&root, "/link.txt"), None);
            assert_eq!(resolve(&root, "/up/secret.txt"), None);
            assert_eq!(
                resolve(&root, "/inside.wasm"),
                Some(root.join("pkg/a.wasm")),
                "links within the root are fine"
            );
        }
        assert_eq!(content_type(Path::new("x.wasm")), "application/wasm");
    }
}
