//! The library API of SPEC.md section 7: Manager, subscribe, trigger, disabled.

mod common;

use std::time::{Duration, Instant};

use common::{PATIENCE, TestServer, write};
use hotreload::{Action, Config, Manager, Operation, WatchDir};

#[test]
fn subscribers_get_the_same_batches_as_browsers() {
    let server = TestServer::start(&[("a.css", "a{}")], |_| {});
    let batches = server.server.manager().subscribe();
    let (mut ws, _) = server.client();
    write(&server.path("a.css"), "b{}");
    let batch = batches.recv_timeout(PATIENCE).expect("a batch");
    assert_eq!(batch.seq, 1);
    assert_eq!(batch.action(), Action::Css);
    assert_eq!(batch.changes[0].path, "a.css");
    assert_eq!(batch.changes[0].operation, Operation::Modified);
    assert_eq!(common::next_change(&mut ws)["seq"], 1);
}

#[test]
fn trigger_reloads_by_hand() {
    let server = TestServer::start(&[("a.css", "a{}")], |_| {});
    let (mut ws, _) = server.client();
    let batch = server
        .server
        .manager()
        .trigger(["personas/bob.md"])
        .expect("enabled");
    let msg = common::next_change(&mut ws);
    assert_eq!(msg["seq"], batch.seq);
    assert_eq!(msg["action"], "reload");
    assert_eq!(msg["path"], "personas/bob.md");
    let empty: [&str; 0] = [];
    server.server.manager().trigger(empty);
    let msg = common::next_change(&mut ws);
    assert_eq!(
        (msg["action"].as_str(), msg["path"].as_str()),
        (Some("reload"), Some(""))
    );
}

#[test]
fn disabled_manager_starts_nothing_and_routes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        enabled: false,
        watch_dirs: vec![WatchDir::new(".", dir.path())],
        ..Config::default()
    };
    let manager = Manager::new(config).expect("starts");
    assert!(!manager.is_enabled());
    assert!(!manager.server().is_enabled());
    assert!(manager.trigger(["a.css"]).is_none());
    let batches = manager.subscribe();
    assert!(batches.recv_timeout(Duration::from_millis(10)).is_err());
    // Every route is absent: requests come back to the host.
    let http = tiny_http::Server::http("127.0.0.1:0").expect("bind");
    let addr = http.server_addr().to_ip().expect("tcp");
    let asker = std::thread::spawn(move || {
        common::http(addr, &common::get("/api/v1/hotreload/status", &[]))
    });
    let request = http.recv().expect("a request");
    let handed_back = manager
        .server()
        .handle(request)
        .expect("handed back when disabled");
    handed_back
        .respond(tiny_http::Response::from_string("host app").with_status_code(404))
        .expect("respond");
    let (code, _, body) = asker.join().expect("client thread");
    assert_eq!((code, body.as_str()), (404, "host app"));
}

#[test]
fn watch_dir_labels_are_cleaned_as_the_spec_says() {
    let base = std::path::Path::new("/srv/app");
    for (written, label) in [
        ("./web/static", "web/static"),
        ("web/static/", "web/static"),
        (".", ""),
        ("./", ""),
        ("personas", "personas"),
    ] {
        assert_eq!(WatchDir::new(written, base).label, label, "{written}");
    }
    assert_eq!(WatchDir::new("./web", base).path, base.join("./web"));
}

#[test]
fn an_app_on_the_http_helper_is_not_held_by_stuck_downloads() {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use hotreload::http::{Http, Timeouts, Workers};

    // An app's own routes, one of them a large download.
    let timeouts = Timeouts {
        write: Duration::from_secs(30),
        ..Timeouts::default()
    };
    let mut http = Http::bind("127.0.0.1:0", &timeouts).expect("binds");
    let addr = http.local_addr();
    let mut workers = Workers::start("app-request", http.requests().clone(), |request| {
        let response = if request.url() == "/big" {
            let body = std::io::repeat(b'x').take(100 << 20);
            tiny_http::Response::new(200.into(), vec![], body, Some(100 << 20), None)
        } else {
            let body = std::io::repeat(b'k').take(2);
            tiny_http::Response::new(200.into(), vec![], body, Some(2), None)
        };
        let _ = request.respond(response);
    })
    .expect("workers start");
    let stuck: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.write_all(b"GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                .expect("request");
            s
        })
        .collect();
    assert!(
        common::wait_until(|| workers.threads() >= 9),
        "{} request threads",
        workers.threads()
    );
    let started = Instant::now();
    let (code, _, body) = common::http(addr, &common::get("/", &[]));
    let took = started.elapsed();
    assert_eq!((code, body.as_str()), (200, "kk"));
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let closing = Instant::now();
    http.close();
    let busy = workers.close(Duration::from_millis(200));
    assert_eq!(busy, 8, "the stuck downloads are left to their timeout");
    assert!(closing.elapsed() < Duration::from_secs(1));
    drop(stuck);
}

#[test]
fn an_idle_app_on_the_http_helper_keeps_accepting_past_its_read_timeout() {
    use hotreload::http::{Http, Timeouts, Workers};

    // The listener's read timeout also ends an accept that waits as long;
    // the helper must keep tiny_http's accept loop from ever seeing that.
    let timeouts = Timeouts {
        read: Duration::from_millis(300),
        ..Timeouts::default()
    };
    let _ = log::set_logger(&Lines);
    log::set_max_level(log::LevelFilter::Debug);
    let mut http = Http::bind("127.0.0.1:0", &timeouts).expect("binds");
    let addr = http.local_addr();
    let mut workers = Workers::start("idle-request", http.requests().clone(), |request| {
        let _ = request.respond(tiny_http::Response::from_string("ok"));
    })
    .expect("workers start");
    std::thread::sleep(Duration::from_millis(1500));
    let (code, _, body) = common::http(addr, &common::get("/", &[]));
    assert_eq!((code, body.as_str()), (200, "ok"));
    // Its first accept loop is the one that answered: none was restarted.
    let said = LINES.lock().map(|l| l.join("\n")).unwrap_or_default();
    assert!(
        !said.contains("accepting connections again") && !said.contains("tiny_http:"),
        "tiny_http's accept loop ended while idle: {said}"
    );
    http.close();
    workers.close(Duration::from_secs(1));
}

/// Every log line of this test binary, for what a user would read.
static LINES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

struct Lines;

impl log::Log for Lines {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        if let Ok(mut lines) = LINES.lock() {
            lines.push(record.args().to_string());
        }
    }
    fn flush(&self) {}
}
