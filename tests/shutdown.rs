//! `close()` stops and joins every thread the library started, and clients
//! get a close frame with 1001. One test per file: it counts the process's threads.

mod common;

use std::time::{Duration, Instant};

use common::{PATIENCE, TestServer};
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;

/// Names of this process's threads (`/proc/self/task/*/comm`).
fn thread_names() -> Vec<String> {
    let mut names = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").expect("procfs") {
        let comm = task.expect("task entry").path().join("comm");
        if let Ok(name) = std::fs::read_to_string(comm) {
            names.push(name.trim().to_string());
        }
    }
    names
}

fn ours(names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|n| n.starts_with("hotreload") || n.starts_with("notify"))
        .cloned()
        .collect()
}

#[test]
fn close_joins_every_thread_and_sends_1001() {
    assert!(
        ours(&thread_names()).is_empty(),
        "threads before start: {:?}",
        thread_names()
    );
    let mut server = TestServer::start(&[("a.css", "a{}")], |_| {});
    let mut clients: Vec<_> = (0..20).map(|_| server.client().0).collect();
    let running = ours(&thread_names());
    let client_threads = running
        .iter()
        .filter(|n| n.starts_with("hotreload-clien"))
        .count();
    assert_eq!(client_threads, 20, "{running:?}");
    assert!(
        running.iter().any(|n| n == "hotreload-watch"),
        "{running:?}"
    );

    let started = Instant::now();
    server.server.close().expect("close succeeds");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "close took {took:?}");

    for ws in &mut clients {
        let deadline = Instant::now() + PATIENCE;
        let frame = loop {
            match ws.read() {
                Ok(Message::Close(frame)) => break frame,
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline =>
                {
                    continue;
                }
                Err(e) => panic!("expected a close frame, got {e}"),
            }
        };
        assert_eq!(frame.map(|f| f.code), Some(CloseCode::Away));
    }

    // Our threads are joined by close(); notify's inotify thread ends once
    // its watcher is dropped, which close() did, a moment later at most.
    let deadline = Instant::now() + PATIENCE;
    let mut left = ours(&thread_names());
    while !left.is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        left = ours(&thread_names());
    }
    assert!(left.is_empty(), "threads left after close: {left:?}");
    assert!(
        !thread_names().iter().any(|n| n.starts_with("hotreload")),
        "a hotreload thread outlived close()"
    );
}
