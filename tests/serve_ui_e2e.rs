//! `cringe serve-ui` under bounded local load, as a server on a network would get it: clients
//! that read a large file slowly, a thousand requests fifty at a time, connections that never
//! finish their request, an over-long request line, and links out of the served folder. The
//! server keeps serving, and its memory and thread count stay bounded (figures printed; see
//! docs/reliability.md). Loopback only.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A field of `/proc/PID/status` in KiB (VmRSS, VmHWM) or as a count (Threads).
fn status_field(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("no {field}"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// One `GET path` on a fresh connection; returns the status code and the body.
fn get(addr: &str, path: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let code = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (code, raw[split + 4..].to_vec())
}

#[test]
fn serves_under_load_with_bounded_memory_and_refuses_what_it_must() {
    let tmp = tempfile::tempdir().unwrap();
    let site = tmp.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "<html>ok</html>").unwrap();
    let big: Vec<u8> = (0..16u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(site.join("big.bin"), &big).unwrap();
    std::fs::write(tmp.path().join("passwd"), "secret").unwrap();
    std::os::unix::fs::symlink(tmp.path().join("passwd"), site.join("link")).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_cringe"))
        .args(["serve-ui", "--port", "0", "--dir", site.to_str().unwrap()])
        .current_dir(tmp.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let pid = child.id();
    let _server = Server(child);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let addr = line
        .split("http://")
        .nth(1)
        .expect("serve-ui prints its address")
        .trim()
        .trim_end_matches('/')
        .to_string();
    let rss_start = status_field(pid, "VmRSS");

    // a whole large file, streamed
    let (code, body) = get(&addr, "/big.bin");
    assert_eq!((code, body.len()), (200, big.len()));
    assert!(body == big, "the file arrives intact");
    // links out of the folder and traversal are not followed
    assert_eq!(get(&addr, "/link").0, 404);
    assert_eq!(get(&addr, "/%2e%2e/passwd").0, 404);

    // 50 clients that ask for the 16 MiB file and then stop reading, and 300 that never finish
    // their request line
    let slow_readers: Vec<TcpStream> = (0..50)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            write!(s, "GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            let mut first = [0u8; 4096];
            s.read_exact(&mut first).unwrap();
            s
        })
        .collect();
    let half_open: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.write_all(b"GET /index.ht").unwrap();
            s
        })
        .collect();
    // an over-long request line (4 MiB, no end): refused without buffering it
    let mut long = TcpStream::connect(&addr).unwrap();
    long.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let _ = long.write_all(b"GET /");
    for _ in 0..64 {
        if long.write_all(&chunk).is_err() {
            break; // the server closed it
        }
    }
    // meanwhile 1,000 requests, 50 at a time, all answered
    let served = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for t in 0..50 {
            let (addr, served) = (&addr, &served);
            scope.spawn(move || {
                for i in 0..20 {
                    let path = if (t + i) % 2 == 0 { "/index.html" } else { "/models/index.json" };
                    let (code, body) = get(addr, path);
                    assert_eq!(code, 200, "{path}");
                    assert!(!body.is_empty());
                    served.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            });
        }
    });
    assert_eq!(served.into_inner(), 1000);
    let (rss, peak, threads) =
        (status_field(pid, "VmRSS"), status_field(pid, "VmHWM"), status_field(pid, "Threads"));
    println!(
        "serve-ui: RSS {} MiB at start, {} MiB under load (peak {} MiB), {threads} threads, with 50 stalled 16 MiB downloads and 300 half-open connections",
        rss_start / 1024,
        rss / 1024,
        peak / 1024
    );
    // reading the file whole for each stalled download would be 800 MiB
    assert!(peak < 160 * 1024, "peak RSS {} MiB", peak / 1024);
    assert!(threads <= 24, "{threads} threads");
    drop((slow_readers, half_open, long));
    assert_eq!(get(&addr, "/").0, 200, "still serving after all of that");
    // only GET and HEAD
    let mut s = TcpStream::connect(&addr).unwrap();
    write!(s, "POST / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 405"), "{text}");
}
