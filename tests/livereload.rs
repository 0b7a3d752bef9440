//! LiveReload protocol 7 (SPEC.md section 11) over raw WebSockets against
//! the real server: the handshake, the `reload` commands, the extensions'
//! connection check, the LiveReload port, and protocol faults.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{PATIENCE, TestServer, Ws, connect_to, http, next_message, write};
use serde_json::{Value, json};
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;

/// What livereload-js 4 sends on connecting.
const JS_HELLO: &str = r#"{"command":"hello","protocols":["http://livereload.com/protocols/official-6","http://livereload.com/protocols/official-7"],"ver":"4.0.2"}"#;

/// The server's answer, as SPEC.md section 11 gives it.
fn server_hello() -> Value {
    json!({"command": "hello", "protocols": ["http://livereload.com/protocols/official-7"], "serverName": "hotreload"})
}

/// A site with a LiveReload port.
fn site(tweak: impl FnOnce(&mut hotreload::Config)) -> TestServer {
    TestServer::start(
        &[
            ("index.html", "<h1>hi</h1>"),
            ("css/a.css", "h1 {}"),
            ("css/b.css", "p {}"),
        ],
        |config| {
            config.livereload_port = Some(0);
            config.debounce_ms = hotreload::Debounce::Ms(50);
            tweak(config);
        },
    )
}

fn lr_addr(server: &TestServer) -> SocketAddr {
    server
        .server
        .livereload_addr()
        .expect("a LiveReload port, as configured")
}

/// A LiveReload client that has said hello and heard the answer.
fn greeted(addr: SocketAddr) -> Ws {
    let mut ws = connect_to(addr, "/livereload", None).expect("connects");
    ws.send(Message::text(JS_HELLO)).expect("hello");
    let answer = next_message(&mut ws, PATIENCE).expect("the server's hello");
    assert_eq!(answer, server_hello());
    ws
}

/// Text frames until `quiet` passes without one.
fn frames_until_quiet(ws: &mut Ws, quiet: Duration) -> Vec<Value> {
    let mut got = Vec::new();
    while let Some(m) = next_message(ws, quiet) {
        got.push(m);
    }
    got
}

/// How the server ended the connection: its close code, or `None` when it
/// just went (reset, EOF). Fails if it stays open past `within`.
fn closed(ws: &mut Ws, within: Duration) -> Option<CloseCode> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match ws.read() {
            Ok(Message::Close(frame)) => return frame.map(|f| f.code),
            Ok(Message::Ping(_) | Message::Pong(_)) => {}
            Ok(other) => panic!("expected the connection to close, got {other:?}"),
            Err(e) if common::timed_out(&e) => {}
            Err(_) => return None,
        }
    }
    panic!("still open after {within:?}");
}

#[test]
fn nothing_before_hello_then_one_reload_per_stylesheet_or_one_for_the_page() {
    let server = site(|_| {});
    let addr = lr_addr(&server);
    let mut ws = connect_to(addr, "/livereload", None).expect("connects");
    // livereload-js closes the socket on any first frame but hello: the
    // server waits for the client's, even while batches go out.
    write(&server.path("css/a.css"), "h1 { color: red }");
    assert_eq!(
        frames_until_quiet(&mut ws, Duration::from_millis(600)),
        Vec::<Value>::new()
    );
    ws.send(Message::text(JS_HELLO)).expect("hello");
    assert_eq!(
        next_message(&mut ws, PATIENCE).expect("the server's hello"),
        server_hello()
    );
    // `info` is ignored, as are later messages the client sends.
    ws.send(Message::text(
        r#"{"command":"info","plugins":{"less":{"disable":false,"version":"1.0"}},"url":"http://127.0.0.1:9/"}"#,
    ))
    .expect("info");
    // Two stylesheets: one reload each, swapped live.
    write(&server.path("css/a.css"), "h1 { color: blue }");
    write(&server.path("css/b.css"), "p { color: blue }");
    let mut paths = Vec::new();
    while paths.len() < 2 {
        let m = next_message(&mut ws, PATIENCE).expect("a reload per stylesheet");
        assert_eq!(m["command"], "reload", "{m}");
        assert_eq!((&m["liveCSS"], &m["liveImg"]), (&json!(true), &json!(true)));
        paths.push(m["path"].as_str().unwrap_or_default().to_string());
    }
    paths.sort();
    assert_eq!(paths, ["css/a.css", "css/b.css"]);
    // A page: one reload, not live.
    write(&server.path("index.html"), "<h1>again</h1>");
    assert_eq!(
        next_message(&mut ws, PATIENCE).expect("the page's reload"),
        json!({"command": "reload", "path": "index.html", "liveCSS": false, "liveImg": false})
    );
    // Counted, and apart.
    let (_ours, _) = server.client();
    let status = server.status();
    assert_eq!(status["connected_clients"], 2, "{status}");
    assert_eq!(status["livereload_clients"], 1, "{status}");
}

#[test]
fn build_results_stay_off_the_livereload_socket() {
    // Commands run where the test runs: the flag file is elsewhere.
    let flag = tempfile::tempdir().expect("temp dir");
    let ok = flag.path().join("ok");
    let build = format!("test -e '{}'", ok.display());
    let server = site(|config| config.build = Some(build));
    let mut lr = greeted(lr_addr(&server));
    let (mut ours, _) = server.client();
    write(&server.path("css/a.css"), "h1 { color: red }");
    let mut told = Vec::new();
    while !told.iter().any(|m: &Value| m["state"] == "failed") {
        told.push(next_message(&mut ours, PATIENCE * 3).expect("the build's failure"));
    }
    assert_eq!(
        frames_until_quiet(&mut lr, Duration::from_millis(300)),
        Vec::<Value>::new()
    );
    // The fix: LiveReload hears of the batch, and only of it.
    write(&ok, "");
    write(&server.path("css/b.css"), "p { color: green }");
    let reloads = frames_until_quiet(&mut lr, Duration::from_secs(3));
    assert!(!reloads.is_empty(), "no reload after the fix");
    assert!(
        reloads.iter().all(|m| m["command"] == "reload"),
        "{reloads:#?}"
    );
}

#[test]
fn the_extensions_connection_check_is_answered_at_once_and_the_port_serves_only_livereload() {
    let server = site(|_| {});
    let addr = lr_addr(&server);
    let mut probe = connect_to(addr, "/livereload", None).expect("connects");
    let asked = Instant::now();
    probe
        .send(Message::text(
            r#"{"command":"hello","protocols":"http://livereload.com/protocols/connection-check-1"}"#,
        ))
        .expect("probe");
    let answer = next_message(&mut probe, PATIENCE).expect("an answer");
    let took = asked.elapsed();
    assert_eq!(answer, server_hello());
    assert!(took < Duration::from_secs(1), "{took:?}");
    // The probe is done: it is closed, not counted.
    assert_eq!(closed(&mut probe, PATIENCE), Some(CloseCode::Normal));
    assert_eq!(server.status()["livereload_clients"], 0);
    // Then the extension fetches the script.
    let get = |addr, path: &str| http(addr, &common::get(path, &[]));
    let (code, headers, body) = get(addr, "/livereload.js?ext=Chrome&extver=2.1.0");
    assert_eq!(code, 200);
    assert!(
        headers
            .iter()
            .any(|h| h.starts_with("content-type: application/javascript")),
        "{headers:?}"
    );
    assert!(body.contains("livereload") && body.contains("WebSocket"));
    // The main port has the LiveReload routes too; the LiveReload port
    // nothing else.
    assert_eq!(get(server.addr(), "/livereload.js").0, 200);
    for path in [
        "/",
        "/index.html",
        "/ws/hotreload",
        "/api/v1/hotreload/status",
        "/static/js/hotreload.js",
    ] {
        assert_eq!(get(addr, path).0, 404, "{path} on the LiveReload port");
    }
    // A page of another site may not connect.
    let refused = connect_to(addr, "/livereload", Some("http://evil.example"));
    assert!(
        matches!(&refused, Err(tungstenite::Error::Http(r)) if r.status() == 403),
        "{refused:?}"
    );
}

#[test]
fn clients_that_break_the_protocol_are_closed_and_others_go_on() {
    let server = site(|_| {});
    let addr = lr_addr(&server);
    let mut good = greeted(addr);
    let (mut ours, _) = server.client();
    let faults: [(&str, Message); 4] = [
        ("junk", Message::text("hello?")),
        (
            "protocol 6 only",
            Message::text(
                r#"{"command":"hello","protocols":["http://livereload.com/protocols/official-6"]}"#,
            ),
        ),
        ("a binary frame", Message::binary(vec![1u8, 2, 3])),
        (
            "a reload from the client",
            Message::text(r#"{"command":"reload","path":"x.css"}"#),
        ),
    ];
    for (what, frame) in faults {
        let mut bad = connect_to(addr, "/livereload", None).expect("connects");
        bad.send(frame).expect("sent");
        assert_eq!(
            closed(&mut bad, PATIENCE),
            Some(CloseCode::Protocol),
            "{what}"
        );
    }
    // Megabytes: over the message limit, cut off.
    let mut flood = connect_to(addr, "/livereload", None).expect("connects");
    let _ = flood.send(Message::text("x".repeat(4 << 20)));
    let code = closed(&mut flood, PATIENCE);
    assert!(
        matches!(code, None | Some(CloseCode::Protocol | CloseCode::Size)),
        "{code:?}"
    );
    // Silence: closed once the handshake time is up (10 s).
    let mut silent = connect_to(addr, "/livereload", None).expect("connects");
    let waited = Instant::now();
    let code = closed(&mut silent, Duration::from_secs(10) + PATIENCE);
    assert_eq!(code, Some(CloseCode::Policy));
    assert!(
        waited.elapsed() >= Duration::from_secs(9),
        "{:?}",
        waited.elapsed()
    );
    // None of it reached anyone else, and they still hear of changes.
    write(&server.path("index.html"), "<h1>still here</h1>");
    assert_eq!(
        next_message(&mut good, PATIENCE).expect("a reload")["path"],
        "index.html"
    );
    assert_eq!(
        next_message(&mut ours, PATIENCE).expect("a batch")["type"],
        "file_changed"
    );
    let status = server.status();
    assert_eq!(status["livereload_clients"], 1, "{status}");
    assert_eq!(status["connected_clients"], 2, "{status}");
}

#[test]
fn closing_the_server_says_goodbye_to_livereload_clients() {
    let mut server = site(|_| {});
    let mut ws = greeted(lr_addr(&server));
    server.server.close().expect("closes");
    assert_eq!(closed(&mut ws, PATIENCE), Some(CloseCode::Away));
}
