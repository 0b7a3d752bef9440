//! SPEC.md section 13 over raw HTTP and WebSocket clients against the real
//! server: the history route, sync events (checked, replayed on the same
//! page only, never echoed, rate-limited without delaying a reload), the
//! dashboard's actions and its own socket. tests/browser/sync.rs drives
//! the same in Chromium.

mod common;

use std::net::SocketAddr;
use std::time::Instant;

use common::{PATIENCE, TestServer, Ws, connect_to, http, next_change, next_message};
use serde_json::Value;

/// A tab of ours on `page`: its socket and its `connected` message.
fn tab(server: &TestServer, page: &str) -> (Ws, Value) {
    let path = format!("/ws/hotreload?page={}", page.replace('/', "%2F"));
    let mut ws = connect_to(server.addr(), &path, None).expect("WebSocket connects");
    let hello = next_message(&mut ws, PATIENCE).expect("a connected message");
    assert_eq!(hello["type"], "connected", "{hello}");
    (ws, hello)
}

/// `POST path` with `body`, from a page of this server unless `origin` says otherwise.
fn post(addr: SocketAddr, path: &str, body: &str, origin: Option<&str>) -> (u16, String) {
    let origin = origin.map_or(format!("http://{addr}"), str::to_string);
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: {origin}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let (code, _, body) = http(addr, &request);
    (code, body)
}

fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let (code, _, body) = http(addr, &common::get(path, &[]));
    (code, body)
}

/// The next message of `type`, skipping others; fails after PATIENCE.
fn next_of(ws: &mut Ws, kind: &str) -> Value {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if let Some(m) = next_message(ws, deadline - Instant::now())
            && m["type"] == kind
        {
            return m;
        }
    }
    panic!("no {kind} message within {PATIENCE:?}");
}

#[test]
fn history_keeps_batches_newest_first_and_limit_is_checked() {
    let server = TestServer::start(&[("a.css", "a{}")], |c| {
        c.debounce_ms = hotreload::Debounce::Ms(30)
    });
    let (mut ws, _) = server.client();
    for n in 1..=30 {
        common::write(&server.path(&format!("f{n}.css")), "b{}");
        let change = next_change(&mut ws);
        assert_eq!(change["seq"], n, "{change}");
    }
    let (code, body) = get(server.addr(), "/api/v1/hotreload/history?limit=10");
    assert_eq!(code, 200, "{body}");
    let history: Value = serde_json::from_str(&body).expect("JSON");
    let entries = history["entries"].as_array().expect("entries");
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (21..=30).rev().collect::<Vec<_>>(), "newest first");
    assert_eq!(history["kept"], 30);
    assert_eq!(history["max"], 1000);
    let newest = &entries[0];
    assert_eq!(newest["type"], "batch");
    assert_eq!(newest["action"], "css");
    assert_eq!(newest["changes"][0]["path"], "f30.css");
    assert_eq!(newest["changes"][0]["operation"], "created");
    assert_eq!(newest["clients"], 1, "the one client it went to");
    let (older, newer) = (
        entries[1]["timestamp_ms"].as_u64(),
        newest["timestamp_ms"].as_u64(),
    );
    assert!(older <= newer, "{older:?} then {newer:?}");
    // Without a limit: the 30 there are (the default is 100).
    let (_, body) = get(server.addr(), "/api/v1/hotreload/history");
    let all: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(all["entries"].as_array().unwrap().len(), 30);
    for bad in ["0", "1001", "ten", "-1", ""] {
        let (code, body) = get(
            server.addr(),
            &format!("/api/v1/hotreload/history?limit={bad}"),
        );
        assert_eq!(code, 400, "limit={bad}: {body}");
        assert!(body.contains("from 1 to 1000"), "limit={bad}: {body}");
    }
}

#[test]
fn a_sync_event_reaches_the_other_tabs_of_its_page_only_and_never_its_sender() {
    let server = TestServer::start(&[("index.html", "<p>hi</p>")], |c| c.sync = true);
    let (mut sender, hello) = tab(&server, "/");
    assert_eq!(hello["sync"], true, "{hello}");
    let from = hello["id"]
        .as_u64()
        .expect("connected carries the tab's id");
    let (mut same, _) = tab(&server, "/");
    let (mut other_page, _) = tab(&server, "/other.html");
    let event = format!(
        r##"{{"from":{from},"page":"/","kind":"input","target":["#name"],"value":"héllo <b>"}}"##
    );
    let (code, body) = post(server.addr(), "/api/v1/hotreload/sync", &event, None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body, r#"{"sent":1}"#);
    let replayed = next_message(&mut same, PATIENCE).expect("the event, replayed");
    assert_eq!(replayed["type"], "sync", "{replayed}");
    assert_eq!(replayed["event"]["kind"], "input");
    assert_eq!(replayed["event"]["value"], "héllo <b>");
    assert_eq!(replayed["event"]["target"][0], "#name");
    // The sender and the tab on another page get nothing: the next thing
    // each hears is the next batch.
    common::write(&server.path("index.html"), "<p>changed</p>");
    for ws in [&mut sender, &mut other_page, &mut same] {
        let next = next_message(ws, PATIENCE).expect("the batch");
        assert_eq!(next["type"], "file_changed", "{next}");
    }
}

#[test]
fn bad_sync_events_get_a_reason_and_reach_nobody() {
    let server = TestServer::start(&[], |c| c.sync = true);
    let (_, hello) = tab(&server, "/");
    let from = hello["id"].as_u64().unwrap();
    let (mut watcher, _) = tab(&server, "/");
    let addr = server.addr();
    let click = format!(r##"{{"from":{from},"page":"/","kind":"click","target":["#go"]}}"##);
    let rows: Vec<(String, Option<&str>, u16, &str)> = vec![
        ("{not json".into(), None, 400, "not a sync event"),
        (
            format!(r#"{{"from":{from},"page":"/","kind":"teleport"}}"#),
            None,
            400,
            "not a sync event",
        ),
        (
            format!(r#"{{"from":{from},"page":"/","kind":"scroll","x":3,"y":0}}"#),
            None,
            400,
            "from 0 to 1",
        ),
        (
            format!(r#"{{"from":{from},"page":"/","kind":"nav","url":"https://evil.example/"}}"#),
            None,
            400,
            "`url`",
        ),
        (
            format!(
                r##"{{"from":{from},"page":"/","kind":"input","target":["#a"],"value":"{}"}}"##,
                "x".repeat(70_000)
            ),
            None,
            413,
            "64 KiB",
        ),
        (
            r##"{"from":999,"page":"/","kind":"click","target":["#go"]}"##.into(),
            None,
            404,
            "no tab with id 999",
        ),
        (
            click.clone(),
            Some("http://evil.example"),
            403,
            "only pages of this server",
        ),
        (
            click.clone(),
            Some("null"),
            403,
            "only pages of this server",
        ),
    ];
    for (body, origin, want, says) in &rows {
        let (code, answer) = post(addr, "/api/v1/hotreload/sync", body, *origin);
        assert_eq!(code, *want, "{answer}");
        assert!(answer.contains(says), "{code}: {answer}");
    }
    let (code, answer) = get(addr, "/api/v1/hotreload/sync");
    assert_eq!(code, 405, "{answer}");
    // Nothing above reached the other tab: its next message is the click.
    assert_eq!(post(addr, "/api/v1/hotreload/sync", &click, None).0, 200);
    assert_eq!(next_of(&mut watcher, "sync")["event"]["kind"], "click");
}

#[test]
fn a_flood_of_sync_events_is_cut_and_the_reload_still_comes_at_once() {
    let server = TestServer::start(&[("a.js", "1")], |c| {
        c.sync = true;
        c.debounce_ms = hotreload::Debounce::Ms(30);
    });
    let (_, hello) = tab(&server, "/");
    let from = hello["id"].as_u64().unwrap();
    let (mut receiver, _) = tab(&server, "/");
    let addr = server.addr();
    let scroll = format!(r#"{{"from":{from},"page":"/","kind":"scroll","x":0,"y":0.5}}"#);
    let mut codes = std::collections::BTreeMap::new();
    let started = Instant::now();
    for _ in 0..300 {
        *codes
            .entry(post(addr, "/api/v1/hotreload/sync", &scroll, None).0)
            .or_insert(0) += 1;
    }
    let took = started.elapsed().as_secs_f64();
    let passed = codes.get(&200).copied().unwrap_or(0);
    // 60 at once, then 30 a second.
    let allowed = 60 + (took * 30.0).ceil() as usize + 1;
    assert!(
        passed <= allowed,
        "{codes:?} in {took:.2} s, at most {allowed} allowed"
    );
    assert!(
        codes.get(&429).copied().unwrap_or(0) > 0,
        "{codes:?}: nothing was refused"
    );
    // The receiver took only what its queue had room for, and the batch
    // still comes: it is not dropped, and nothing it sent made it stall.
    common::write(&server.path("a.js"), "2");
    let mut syncs = 0;
    let change = loop {
        let m = next_message(&mut receiver, PATIENCE).expect("the batch after the flood");
        match m["type"].as_str() {
            Some("sync") => syncs += 1,
            Some("file_changed") => break m,
            _ => panic!("unexpected {m}"),
        }
    };
    assert_eq!(change["changes"][0]["path"], "a.js");
    assert!(syncs <= passed, "{syncs} replayed of {passed} accepted");
    assert_eq!(
        server.status()["connected_clients"],
        2,
        "nobody was dropped"
    );
}

#[test]
fn sync_is_switched_from_the_dashboard_and_every_tab_hears_it() {
    let server = TestServer::start(&[], |_| {});
    let addr = server.addr();
    let (mut page, hello) = tab(&server, "/");
    assert_eq!(hello["sync"], false);
    let from = hello["id"].as_u64().unwrap();
    let click = format!(r##"{{"from":{from},"page":"/","kind":"click","target":["#go"]}}"##);
    let (code, body) = post(addr, "/api/v1/hotreload/sync", &click, None);
    assert_eq!(code, 409, "{body}");
    assert!(body.contains("sync is off"), "{body}");
    // Actions are POSTs from this server's pages only.
    assert_eq!(get(addr, "/api/v1/hotreload/sync/on").0, 405);
    assert_eq!(
        post(
            addr,
            "/api/v1/hotreload/sync/on",
            "",
            Some("http://evil.example")
        )
        .0,
        403
    );
    assert_eq!(server.status()["sync"], false);
    let (code, body) = post(addr, "/api/v1/hotreload/sync/on", "", None);
    assert_eq!((code, body.as_str()), (200, r#"{"sync":true}"#));
    assert_eq!(next_of(&mut page, "sync_state")["enabled"], true);
    assert_eq!(server.status()["sync"], true);
    assert_eq!(post(addr, "/api/v1/hotreload/sync", &click, None).0, 200);
    assert_eq!(post(addr, "/api/v1/hotreload/sync/off", "", None).0, 200);
    assert_eq!(next_of(&mut page, "sync_state")["enabled"], false);
    // A tab that connects now is told sync is off.
    assert_eq!(tab(&server, "/").1["sync"], false);
}

#[test]
fn reload_all_reaches_every_tab_and_is_in_the_history() {
    let server = TestServer::start(&[], |_| {});
    let addr = server.addr();
    let (mut one, _) = tab(&server, "/");
    let (mut two, _) = tab(&server, "/b.html");
    assert_eq!(
        post(
            addr,
            "/api/v1/hotreload/reload",
            "",
            Some("http://evil.example")
        )
        .0,
        403
    );
    assert_eq!(get(addr, "/api/v1/hotreload/reload").0, 405);
    let (code, body) = post(addr, "/api/v1/hotreload/reload", "", None);
    assert_eq!((code, body.as_str()), (200, r#"{"seq":1}"#));
    for ws in [&mut one, &mut two] {
        let change = next_change(ws);
        assert_eq!(change["action"], "reload", "{change}");
        assert_eq!(change["count"], 0, "{change}");
    }
    let (_, body) = get(addr, "/api/v1/hotreload/history?limit=1");
    let history: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(history["entries"][0]["seq"], 1);
    assert_eq!(history["entries"][0]["clients"], 2);
}

#[test]
fn the_dashboard_socket_follows_tabs_and_batches_without_counting_as_a_tab() {
    let server = TestServer::start(&[("a.css", "a{}")], |c| {
        c.debounce_ms = hotreload::Debounce::Ms(30);
        // A tab that leaves is noticed at the next ping.
        c.heartbeat_ms = 200;
    });
    let addr = server.addr();
    let mut dashboard =
        connect_to(addr, "/ws/hotreload?dashboard=1", None).expect("dashboard connects");
    assert_eq!(next_of(&mut dashboard, "connected")["type"], "connected");
    assert_eq!(
        next_of(&mut dashboard, "clients")["clients"],
        serde_json::json!([])
    );
    assert_eq!(next_of(&mut dashboard, "sync_state")["enabled"], false);
    assert_eq!(
        server.status()["connected_clients"],
        0,
        "a dashboard is not a tab"
    );
    let mut request = tungstenite::client::IntoClientRequest::into_client_request(format!(
        "ws://{addr}/ws/hotreload?page=%2Fdocs%2Fa%20b.html"
    ))
    .unwrap();
    request.headers_mut().insert(
        "User-Agent",
        "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 Chrome/131.0.0.0 Mobile Safari/537.36"
            .parse()
            .unwrap(),
    );
    let stream = std::net::TcpStream::connect(addr).unwrap();
    let (phone, _) = tungstenite::client(request, stream).expect("the phone connects");
    let clients = next_of(&mut dashboard, "clients");
    let listed = &clients["clients"][0];
    assert_eq!(listed["page"], "/docs/a b.html", "{clients}");
    assert_eq!(listed["browser"], "Chrome 131 (Android)", "{clients}");
    assert!(
        listed["since_ms"].as_u64().unwrap() > 1_700_000_000_000,
        "{clients}"
    );
    let status = server.status();
    assert_eq!(status["connected_clients"], 1);
    assert_eq!(status["tabs"][0]["page"], "/docs/a b.html");
    common::write(&server.path("a.css"), "b{}");
    // A dashboard hears of batches as history, never as file_changed.
    let entry = next_message(&mut dashboard, PATIENCE).expect("the batch's entry");
    assert_eq!(entry["type"], "history", "{entry}");
    assert_eq!(entry["entry"]["type"], "batch", "{entry}");
    assert_eq!(entry["entry"]["changes"][0]["path"], "a.css");
    assert_eq!(entry["entry"]["clients"], 1, "the phone, not the dashboard");
    drop(phone);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let clients = next_of(&mut dashboard, "clients");
        if clients["clients"] == serde_json::json!([]) {
            break;
        }
        assert!(Instant::now() < deadline, "the phone never left the list");
    }
}

#[test]
fn an_embedding_tiny_http_app_gets_the_same_routes_and_bodies() {
    use hotreload::http::{Http, Timeouts, Workers};

    let dir = tempfile::tempdir().expect("temp dir");
    let config = hotreload::Config {
        watch_dirs: vec![hotreload::WatchDir::new(".", dir.path())],
        sync: true,
        ..hotreload::Config::default()
    };
    let manager = hotreload::Manager::new(config).expect("manager starts");
    let mut http = Http::bind("127.0.0.1:0", &Timeouts::default()).expect("binds");
    let addr = http.local_addr();
    let server = manager.server().clone();
    let mut workers = Workers::start("app-request", http.requests().clone(), move |request| {
        if let Some(request) = server.handle(request) {
            let _ = request.respond(tiny_http::Response::from_string("app"));
        }
    })
    .expect("workers start");
    let path = "/ws/hotreload?page=%2F";
    let mut sender = connect_to(addr, path, None).expect("connects");
    let from = next_message(&mut sender, PATIENCE).expect("connected")["id"].clone();
    let mut other = connect_to(addr, path, None).expect("connects");
    next_message(&mut other, PATIENCE).expect("connected");
    let event = format!(r#"{{"from":{from},"page":"/","kind":"scroll","x":0,"y":1}}"#);
    assert_eq!(post(addr, "/api/v1/hotreload/sync", &event, None).0, 200);
    assert_eq!(next_of(&mut other, "sync")["event"]["y"], 1);
    let big = "x".repeat(70_000);
    assert_eq!(post(addr, "/api/v1/hotreload/sync", &big, None).0, 413);
    let (code, body) = get(addr, "/hotreload/");
    assert_eq!(code, 200);
    assert!(
        body.contains("<title>hotreload dashboard</title>"),
        "{body}"
    );
    assert_eq!(get(addr, "/elsewhere").1, "app");
    drop(manager);
    http.close();
    workers.close(std::time::Duration::from_millis(500));
}
