//! Proxy mode (SPEC.md section 9) against a real backend: the Python
//! server in `tests/fixtures/backend.py`, started as its own process, with
//! the real binary in front of it.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{
    Backend, PATIENCE, bin, changes, next_change, next_message, ready_line_addr, sigterm_and_wait,
    start_ready, write,
};

/// A backend and the proxy in front of it, in a temp folder the proxy watches.
struct Setup {
    dir: tempfile::TempDir,
    backend: Backend,
    proxy: Child,
    addr: SocketAddr,
}

impl Setup {
    fn start(config: &str) -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        write(&dir.path().join("static/app.css"), "h1 { color: red }");
        write(&dir.path().join("config.yaml"), config);
        // Its own loopback address: it comes back on the same port below,
        // which another test's socket could take on 127.0.0.1.
        let backend = Backend::start_on(&dir.path().join("static"), common::private_ip(), 0);
        let (proxy, addr) = Setup::proxy(dir.path(), &backend.url());
        Setup {
            dir,
            backend,
            proxy,
            addr,
        }
    }

    fn proxy(dir: &Path, url: &str) -> (Child, SocketAddr) {
        let (child, line) = start_ready(
            bin()
                .args(["proxy", url, "--port", "0", "--watch", "static"])
                .current_dir(dir)
                .stderr(Stdio::null()),
        );
        assert!(line.contains("proxying"), "ready line {line:?}");
        (child, ready_line_addr(&line))
    }

    /// A request through the proxy: status, lowercased head lines, body bytes.
    fn ask(&self, request: &str) -> (u16, Vec<String>, Vec<u8>) {
        exchange(self.addr, request.as_bytes())
    }

    fn get(&self, path: &str) -> (u16, Vec<String>, Vec<u8>) {
        self.ask(&format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        ))
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = self.proxy.kill();
        let _ = self.proxy.wait();
    }
}

/// Sends `request` and reads the whole answer, which ends with the
/// connection (every request here says `Connection: close`).
fn exchange(addr: SocketAddr, request: &[u8]) -> (u16, Vec<String>, Vec<u8>) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    stream.write_all(request).expect("send");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    split(&raw)
}

/// Status, lowercased head lines and the body (chunks joined) of an answer.
fn split(raw: &[u8]) -> (u16, Vec<String>, Vec<u8>) {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not HTTP: {head:?}"));
    let lines: Vec<String> = lines.map(|l| l.to_ascii_lowercase()).collect();
    let mut body = raw[end + 4..].to_vec();
    if lines.iter().any(|l| l == "transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    (status, lines, body)
}

fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = raw
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a chunk size line");
        let size = usize::from_str_radix(String::from_utf8_lossy(&raw[..line_end]).trim(), 16)
            .expect("a hex chunk size");
        raw = &raw[line_end + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}

fn header<'a>(lines: &'a [String], name: &str) -> Option<&'a str> {
    let prefix = format!("{}: ", name.to_ascii_lowercase());
    lines.iter().find_map(|l| l.strip_prefix(&prefix))
}

const SCRIPT: &str = "<script src=\"/static/js/hotreload.js\"></script></body>";

#[test]
fn pages_get_the_script_and_everything_else_passes_as_it_came() {
    let s = Setup::start("hot_reload: {}\n");
    let (code, lines, body) = s.get("/");
    let page = String::from_utf8_lossy(&body);
    assert_eq!(code, 200);
    assert!(page.contains(SCRIPT), "{page}");
    assert_eq!(
        header(&lines, "content-length"),
        Some(body.len().to_string().as_str())
    );
    // Compressed pages are decoded to take the script; the coding goes.
    for (path, marker) in [("/gzip", "gzipped page"), ("/deflate", "deflated page")] {
        let (code, lines, body) = s.get(path);
        let page = String::from_utf8_lossy(&body);
        assert_eq!(code, 200, "{path}");
        assert!(
            page.contains(marker) && page.contains(SCRIPT),
            "{path}: {page}"
        );
        assert_eq!(header(&lines, "content-encoding"), None, "{path}");
    }
    // A page sent in chunks is whole, with the script.
    let (_, _, body) = s.get("/chunked");
    let page = String::from_utf8_lossy(&body);
    assert!(
        page.contains("<p>three</p>") && page.contains(SCRIPT),
        "{page}"
    );
    // Not HTML: byte for byte, 20 MB of it.
    let (code, lines, body) = s.get("/big?mb=20");
    assert_eq!(code, 200);
    assert_eq!(body.len(), 20 << 20);
    assert!(
        body.iter()
            .enumerate()
            .all(|(i, &b)| b as usize == (i * 7 + 3) % 251),
        "bytes differ"
    );
    assert_eq!(header(&lines, "content-length"), Some("20971520"));
    // A stylesheet is not touched.
    let (_, _, body) = s.get("/static/app.css");
    assert_eq!(body, b"h1 { color: red }");
    // HEAD: the headers of a GET, no body.
    let (code, lines, body) = s.ask(&format!(
        "HEAD /big?mb=3 HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        s.addr
    ));
    assert_eq!((code, body.len()), (200, 0));
    assert_eq!(header(&lines, "content-length"), Some("3145728"));
    // The backend's own 404.
    let (code, _, body) = s.get("/nope");
    assert_eq!(code, 404);
    assert_eq!(body, b"not found: /nope");
}

#[test]
fn requests_reach_the_backend_with_their_body_and_forwarded_headers() {
    let s = Setup::start("hot_reload: {}\n");
    let body: Vec<u8> = (0..1 << 20).map(|i| (i % 253) as u8).collect();
    let mut request = format!(
        "POST /echo HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        s.addr,
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(&body);
    let (code, lines, echoed) = exchange(s.addr, &request);
    assert_eq!(code, 200);
    assert_eq!(echoed, body, "the 1 MiB body came back changed");
    assert_eq!(
        header(&lines, "x-seen-host"),
        Some(s.backend.addr.to_string().as_str())
    );
    assert_eq!(
        header(&lines, "x-seen-forwarded"),
        Some(format!("127.0.0.1|{}|http", s.addr).as_str())
    );
    // A chunked upload arrives whole too.
    let request = format!(
        "POST /echo HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        s.addr
    );
    let (_, _, echoed) = s.ask(&request);
    assert_eq!(echoed, b"hello world");
}

#[test]
fn redirects_and_cookies_point_at_the_proxy_and_are_never_followed() {
    let s = Setup::start("hot_reload: {}\n");
    let proxy = format!("http://{}", s.addr);
    let (code, lines, _) = s.get("/redirect");
    assert_eq!(code, 302);
    assert_eq!(
        header(&lines, "location"),
        Some(format!("{proxy}/").as_str())
    );
    assert_eq!(
        header(&lines, "content-location"),
        Some(format!("{proxy}/moved").as_str())
    );
    assert_eq!(
        header(&lines, "refresh"),
        Some(format!("0; url={proxy}/").as_str())
    );
    // A redirect loop is the browser's to notice, not the proxy's to follow.
    let (code, lines, _) = s.get("/loop");
    assert_eq!((code, header(&lines, "location")), (302, Some("/loop")));
    let (_, lines, _) = s.get("/cookie");
    let cookies: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("set-cookie:"))
        .collect();
    assert_eq!(
        cookies,
        [
            "set-cookie: session=abc; path=/; httponly",
            "set-cookie: theme=dark; path=/"
        ]
    );
}

#[test]
fn an_event_stream_arrives_event_by_event() {
    let s = Setup::start("hot_reload: {}\n");
    let mut stream = TcpStream::connect(s.addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let started = Instant::now();
    stream
        .write_all(format!("GET /events?hold=5 HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).as_bytes())
        .expect("request");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("data: first") {
        let n = stream.read(&mut buf).expect("the first event");
        assert!(n > 0, "the stream ended before its first event");
        seen.extend_from_slice(&buf[..n]);
    }
    let first = started.elapsed();
    assert!(
        !String::from_utf8_lossy(&seen).contains("data: second"),
        "both events came together"
    );
    // The backend holds the second event for 5 s; the first came long before.
    assert!(
        first < Duration::from_secs(4),
        "the first event took {first:?}"
    );
    assert!(
        String::from_utf8_lossy(&seen)
            .to_ascii_lowercase()
            .contains("text/event-stream")
    );
}

#[test]
fn the_backends_websockets_are_tunneled_both_ways() {
    let s = Setup::start("hot_reload: {}\n");
    let url = format!("ws://{}/ws", s.addr);
    let (mut ws, response) = tungstenite::connect(url.as_str()).expect("the upgrade goes through");
    assert_eq!(response.status(), 101);
    for text in ["hello", "twice", &"long ".repeat(20_000)] {
        ws.send(tungstenite::Message::text(text)).expect("send");
        match ws.read().expect("the echo") {
            tungstenite::Message::Text(echo) => assert_eq!(echo.as_str(), text),
            other => panic!("expected text, got {other:?}"),
        }
    }
    ws.send(tungstenite::Message::binary(vec![0u8, 1, 2, 255]))
        .expect("send");
    assert_eq!(
        ws.read().expect("the echo"),
        tungstenite::Message::binary(vec![0u8, 1, 2, 255])
    );
    ws.close(None).expect("close");
    loop {
        match ws.read() {
            Ok(tungstenite::Message::Close(_)) => continue,
            Ok(_) => continue,
            Err(_) => break,
        }
    }
}

#[test]
fn file_changes_reach_a_client_through_the_proxy_port() {
    let s = Setup::start("hot_reload:\n  debounce_ms: 20\n");
    let mut ws = common::connect(s.addr, None).expect("the hot-reload socket");
    let hello = next_message(&mut ws, PATIENCE).expect("connected");
    assert_eq!(hello["type"], "connected");
    write(&s.dir.path().join("static/app.css"), "h1 { color: blue }");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("static/app.css".into(), "modified".into())]
    );
    assert_eq!(msg["action"], "css");
    // The status route is the proxy's own, not the backend's.
    let (code, _, body) = s.get("/api/v1/hotreload/status");
    assert_eq!(code, 200);
    let status: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(status["connected_clients"], 1);
}

#[test]
fn a_backend_that_is_down_slow_or_broken_gets_a_clear_page_and_the_proxy_goes_on() {
    let mut s = Setup::start("hot_reload:\n  proxy_timeout_ms: 1000\n");
    // Too slow: 504 after the timeout, with no bytes from the backend.
    let started = Instant::now();
    let (code, lines, body) = s.get("/slow?ms=4000");
    assert_eq!(code, 504);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(String::from_utf8_lossy(&body).contains("proxy_timeout_ms"));
    assert_eq!(header(&lines, "x-hotreload-proxy"), Some("1"));
    // Not HTTP: 502 saying so.
    let (code, _, body) = s.get("/malformed");
    assert_eq!(code, 502);
    assert!(String::from_utf8_lossy(&body).contains("not HTTP"));
    // Cut short after its head: the browser sees the body end early.
    for path in ["/reset", "/close-early"] {
        let (code, lines, body) = s.get(path);
        assert_eq!(code, 200, "{path}");
        let promised: usize = header(&lines, "content-length")
            .and_then(|l| l.parse().ok())
            .expect("a length");
        assert!(
            body.len() < promised,
            "{path}: {} of {promised}",
            body.len()
        );
    }
    // Down: 502 with the fix, the client script, and a way back.
    let _ = s.backend.child.kill();
    let _ = s.backend.child.wait();
    let (code, lines, body) = s.get("/");
    let page = String::from_utf8_lossy(&body);
    assert_eq!(code, 502);
    assert!(
        page.contains("connection refused") && page.contains("Start your app"),
        "{page}"
    );
    assert!(page.contains(SCRIPT), "{page}");
    assert_eq!(header(&lines, "x-hotreload-proxy"), Some("1"));
    // Back on the same port: answered again.
    let (ip, port) = match s.backend.addr {
        SocketAddr::V4(v4) => (*v4.ip(), v4.port()),
        SocketAddr::V6(_) => unreachable!("the backend listens on IPv4"),
    };
    s.backend = Backend::start_on(&s.dir.path().join("static"), ip, port);
    let (code, _, body) = s.get("/");
    assert_eq!(code, 200);
    assert!(String::from_utf8_lossy(&body).contains("backend page"));
}

#[test]
fn a_5_gb_body_streams_through_in_flat_memory() {
    let s = Setup::start("hot_reload: {}\n");
    let mut stream = TcpStream::connect(s.addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    stream
        .write_all(
            format!(
                "GET /big?mb=5000 HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                s.addr
            )
            .as_bytes(),
        )
        .expect("request");
    let rss = |pid: u32| -> u64 {
        std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    };
    let before = rss(s.proxy.id());
    // Read 1 GiB of it, watching the proxy's memory, then hang up.
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let mut most = before;
    while total < 1 << 30 {
        let n = stream.read(&mut buf).expect("the body");
        assert!(n > 0, "the body ended after {total} bytes");
        total += n as u64;
        if total % (64 << 20) < n as u64 {
            most = most.max(rss(s.proxy.id()));
        }
    }
    drop(stream);
    eprintln!("proxy memory: {before} KiB before, at most {most} KiB while 1 GiB passed");
    assert!(
        most < before + 32 * 1024,
        "memory grew from {before} to {most} KiB"
    );
    // And it goes on serving.
    let (code, _, _) = s.get("/");
    assert_eq!(code, 200);
}

#[test]
fn sigterm_exits_at_once_with_a_tunnel_and_a_stream_open() {
    let mut s = Setup::start("hot_reload: {}\n");
    let (_ws, _) = tungstenite::connect(format!("ws://{}/ws", s.addr).as_str()).expect("tunnel");
    let mut events = TcpStream::connect(s.addr).expect("connect");
    events
        .write_all(format!("GET /events?hold=60 HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).as_bytes())
        .expect("request");
    let mut first = [0u8; 12];
    events.read_exact(&mut first).expect("the stream's head");
    let (status, took) = sigterm_and_wait(&mut s.proxy);
    assert_eq!(status.code(), Some(0));
    assert!(took < Duration::from_millis(1500), "SIGTERM took {took:?}");
}

#[test]
fn a_proxy_url_that_is_not_http_exits_2_with_the_fix() {
    let dir = tempfile::tempdir().expect("temp dir");
    for url in [
        "localhost:3000",
        "https://localhost:3000",
        "http://:3000",
        "http://host:99999",
    ] {
        let out = bin()
            .args(["proxy", url, "--port", "0"])
            .current_dir(dir.path())
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{url}: {err}");
        assert!(err.contains("http://localhost:3000"), "{url}: {err}");
    }
    let out = bin()
        .args(["proxy", "--port", "0"])
        .current_dir(dir.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("backend's URL"));
}

#[test]
fn watch_mode_serves_the_script_for_an_app_on_another_port() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(&dir.path().join("app.css"), "a{}");
    let mut child = common::Proc(
        bin()
            .args(["watch", ".", "--port", "0", "--debounce", "20"])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts"),
    );
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let (mut line, mut tag) = (String::new(), String::new());
    out.read_line(&mut line).expect("the ready line");
    out.read_line(&mut tag).expect("the tag line");
    let addr = ready_line_addr(&line);
    assert!(
        tag.contains(&format!(
            "<script src=\"http://{addr}/static/js/hotreload.js\"></script>"
        )),
        "{tag}"
    );
    let (code, _, body) = exchange(
        addr,
        format!(
            "GET /static/js/hotreload.js HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    assert_eq!(code, 200);
    assert!(String::from_utf8_lossy(&body).contains("hotReload"));
    let (code, _, body) = exchange(
        addr,
        format!("GET /index.html HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(code, 404);
    assert!(String::from_utf8_lossy(&body).contains("your app serves its pages"));
    // A page of the app on another local port connects.
    let mut ws =
        common::connect(addr, Some("http://localhost:3000")).expect("a local origin may connect");
    next_message(&mut ws, PATIENCE).expect("connected");
    write(&dir.path().join("app.css"), "b{}");
    assert_eq!(
        changes(&next_change(&mut ws)),
        vec![("app.css".into(), "modified".into())]
    );
    let (status, _) = sigterm_and_wait(&mut child);
    assert_eq!(status.code(), Some(0));
}
