//! The HTTP routes of SPEC.md section 4: status, client script, upgrade answers.

mod common;

use std::time::{Duration, Instant};

use common::{PATIENCE, TestServer, connect, get, http, next_message};

const SITE: &[(&str, &str)] = &[
    ("index.html", "<html><body>hi</body></html>"),
    ("app.css", "a{}"),
];

const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==";

fn upgrade_with(extra: &[&str]) -> String {
    let mut headers: Vec<&str> = UPGRADE.split("\r\n").collect();
    headers.extend_from_slice(extra);
    get("/ws/hotreload", &headers)
}

/// Polls the status route until `connected_clients` is `want`.
fn wait_for_clients(server: &TestServer, want: u64) -> serde_json::Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let status = server.status();
        if status["connected_clients"] == want || Instant::now() > deadline {
            return status;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn status_json_has_the_seed_keys_and_counts_clients() {
    let server = TestServer::start(SITE, |c| c.patterns = vec!["*.css".into()]);
    let status = server.status();
    assert_eq!(status["enabled"], true);
    assert_eq!(status["connected_clients"], 0);
    assert_eq!(status["watch_dirs"], serde_json::json!(["."]));
    assert_eq!(status["patterns"], serde_json::json!(["*.css"]));
    assert_eq!(status["debounce_ms"], "auto");
    assert_eq!(status["changes"], 0);
    assert!(status["last_change"].is_null());
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert!(status["uptime_secs"].is_u64());

    let (a, _) = server.client();
    let (b, _) = server.client();
    assert_eq!(wait_for_clients(&server, 2)["connected_clients"], 2);
    drop((a, b));

    common::write(&server.path("app.css"), "b{}");
    let deadline = Instant::now() + PATIENCE;
    let mut status = server.status();
    while status["changes"] != 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        status = server.status();
    }
    assert_eq!(status["changes"], 1, "{status}");
    assert_eq!(status["last_change"]["seq"], 1);
    assert_eq!(
        status["last_change"]["paths"],
        serde_json::json!(["app.css"])
    );
}

#[test]
fn client_script_is_served_as_javascript() {
    let server = TestServer::start(SITE, |_| {});
    let (code, headers, body) = http(server.addr(), &get("/static/js/hotreload.js", &[]));
    assert_eq!(code, 200);
    assert!(
        headers
            .iter()
            .any(|h| h.starts_with("content-type: application/javascript")),
        "{headers:?}"
    );
    assert!(
        headers.iter().any(|h| h == "cache-control: no-cache"),
        "{headers:?}"
    );
    assert_eq!(body, hotreload::CLIENT_JS);
}

#[test]
fn pages_get_the_script_injected() {
    let server = TestServer::start(SITE, |_| {});
    let (code, _, body) = http(server.addr(), &get("/", &[]));
    assert_eq!(code, 200);
    assert_eq!(
        body,
        "<html><body>hi<script src=\"/static/js/hotreload.js\"></script></body></html>"
    );
}

#[test]
fn plain_get_on_the_websocket_path_is_426() {
    let server = TestServer::start(SITE, |_| {});
    let (code, headers, body) = http(server.addr(), &get("/ws/hotreload", &[]));
    assert_eq!(code, 426, "{body}");
    // RFC 7231 wants an `Upgrade` header here, but tiny_http drops that
    // header from every response it writes; the body says what to do.
    let _ = headers;
    assert!(body.contains("WebSocket"), "{body}");
}

#[test]
fn wrong_version_is_426_and_bad_key_is_400() {
    let server = TestServer::start(SITE, |_| {});
    let wrong_version = get(
        "/ws/hotreload",
        &[
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Version: 8",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        ],
    );
    let (code, headers, _) = http(server.addr(), &wrong_version);
    assert_eq!(code, 426);
    assert!(
        headers.iter().any(|h| h == "sec-websocket-version: 13"),
        "{headers:?}"
    );
    for key in [
        "",
        "Sec-WebSocket-Key: short",
        "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==",
    ] {
        let mut h = vec![
            "Upgrade: websocket",
            "Connection: Upgrade",
            "Sec-WebSocket-Version: 13",
        ];
        if !key.is_empty() {
            h.push(key);
        }
        let (code, _, body) = http(server.addr(), &get("/ws/hotreload", &h));
        assert_eq!(code, 400, "key {key:?}: {body}");
    }
}

#[test]
fn cross_origin_upgrade_is_403_same_host_is_allowed() {
    let server = TestServer::start(SITE, |c| {
        c.allowed_origins = vec!["http://tools.example:9000".into()]
    });
    let (code, _, body) = http(
        server.addr(),
        &upgrade_with(&["Origin: http://evil.example"]),
    );
    assert_eq!(code, 403, "{body}");
    assert!(body.contains("allowed_origins"), "{body}");
    let (code, _, _) = http(server.addr(), &upgrade_with(&["Origin: null"]));
    assert_eq!(code, 403, "Origin: null is refused unless listed");

    let port = server.addr().port();
    for origin in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
        "http://localhost:5173".to_string(),
        "http://tools.example:9000".to_string(),
    ] {
        let mut ws = connect(server.addr(), Some(&origin))
            .unwrap_or_else(|e| panic!("{origin} refused: {e}"));
        let hello = next_message(&mut ws, PATIENCE).expect("connected");
        assert_eq!(hello["type"], "connected", "{origin}");
    }
    // No Origin at all: a tool, not a browser page.
    assert!(connect(server.addr(), None).is_ok());
}

#[test]
fn over_max_clients_is_503() {
    let server = TestServer::start(SITE, |c| c.max_clients = 2);
    let (_a, _) = server.client();
    let (_b, _) = server.client();
    let (code, headers, body) = http(server.addr(), &upgrade_with(&[]));
    assert_eq!(code, 503, "{body}");
    assert!(body.contains("max_clients"), "{body}");
    assert!(
        headers.iter().any(|h| h.starts_with("retry-after:")),
        "{headers:?}"
    );
    match connect(server.addr(), None) {
        Err(tungstenite::Error::Http(response)) => assert_eq!(response.status(), 503),
        other => panic!("expected 503, got {:?}", other.map(|_| "a connection")),
    }
}

#[test]
fn a_vanished_client_is_dropped_within_two_heartbeats() {
    let heartbeat = Duration::from_millis(500);
    let server = TestServer::start(SITE, |c| c.heartbeat_ms = 500);
    let (ws, _) = server.client();
    let (_stays, _) = server.client();
    assert_eq!(wait_for_clients(&server, 2)["connected_clients"], 2);
    // Vanish without a close frame, as a killed tab or a dropped laptop lid does.
    let stream = ws.into_inner();
    stream.shutdown(std::net::Shutdown::Both).expect("shutdown");
    drop(stream);
    let gone_at = Instant::now();
    let status = wait_for_clients(&server, 1);
    let took = gone_at.elapsed();
    assert_eq!(status["connected_clients"], 1, "{status}");
    // Two heartbeats, plus slack for a busy machine; the bound that matters
    // is that it happens by itself, without a write from us.
    assert!(
        took < 2 * heartbeat + Duration::from_secs(2),
        "took {took:?}"
    );
    eprintln!("vanished client dropped after {took:?} (heartbeat {heartbeat:?})");
}

#[test]
fn other_paths_are_static_files() {
    let server = TestServer::start(SITE, |_| {});
    let (code, headers, body) = http(server.addr(), &get("/app.css", &[]));
    assert_eq!((code, body.as_str()), (200, "a{}"));
    assert!(
        headers.iter().any(|h| h == "cache-control: no-cache"),
        "{headers:?}"
    );
    assert!(
        headers
            .iter()
            .any(|h| h.starts_with("content-type: text/css")),
        "{headers:?}"
    );
    let (code, _, _) = http(server.addr(), &get("/../../etc/passwd", &[]));
    assert!(code == 403 || code == 404, "{code}");
    let (code, _, _) = http(server.addr(), &get("/%2e%2e/%2e%2e/etc/passwd", &[]));
    assert!(code == 403 || code == 404 || code == 400, "{code}");
}

#[test]
fn a_missing_favicon_is_204_not_a_console_error() {
    let server = TestServer::start(SITE, |_| {});
    let (code, _, _) = http(server.addr(), &get("/favicon.ico", &[]));
    assert_eq!(code, 204);
    common::write(&server.path("favicon.ico"), "icon");
    let (code, _, body) = http(server.addr(), &get("/favicon.ico", &[]));
    assert_eq!((code, body.as_str()), (200, "icon"));
}

#[test]
fn pings_arrive_every_heartbeat_and_the_client_stays_connected() {
    let server = TestServer::start(SITE, |c| c.heartbeat_ms = 200);
    let (mut ws, _) = server.client();
    // Frames read directly: `next_message` skips pings. tungstenite answers
    // each ping with a pong on the next read.
    let listening = Instant::now();
    let mut pings = 0;
    while listening.elapsed() < Duration::from_secs(2) {
        match ws.read() {
            Ok(tungstenite::Message::Ping(_)) => pings += 1,
            Ok(other) => panic!("only pings expected from an idle server, got {other:?}"),
            Err(e) if common::timed_out(&e) => {}
            Err(e) => panic!("connection lost after {pings} pings: {e}"),
        }
    }
    // About 10 at 200 ms; a busy machine may delay some.
    assert!(pings >= 4, "{pings} pings in 2 s with a 200 ms heartbeat");
    assert_eq!(server.status()["connected_clients"], 1);
    common::write(&server.path("app.css"), "b{}");
    assert_eq!(common::next_change(&mut ws)["path"], "app.css");
    eprintln!("{pings} pings in 2 s with a 200 ms heartbeat");
}
