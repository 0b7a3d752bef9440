//! Ten thousand WebSocket connect/disconnect cycles leave no thread and no
//! file descriptor behind. One test per file: it counts the process's.

mod common;

use std::time::{Duration, Instant};

use common::{PATIENCE, TestServer};

fn count(dir: &str) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

fn thread_names() -> Vec<String> {
    std::fs::read_dir("/proc/self/task")
        .map(|d| {
            d.flatten()
                .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                .map(|n| n.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

fn client_threads() -> usize {
    thread_names()
        .iter()
        .filter(|n| n.starts_with("hotreload-clien"))
        .count()
}

/// Polls `done` (reading /proc only: no HTTP that would wake the server)
/// until it holds or `within` passes.
fn wait_until(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while !done() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

#[test]
fn connect_disconnect_cycles_leave_nothing_behind() {
    // A short heartbeat: a client that left without a close frame is found
    // by the second ping after it went.
    let server = TestServer::start(&[("a.css", "a{}")], |c| c.heartbeat_ms = 100);
    // One client stays the whole time and must still get batches after.
    let (mut stays, _) = server.client();
    std::thread::sleep(Duration::from_millis(300));
    let (threads_before, fds_before) = (count("/proc/self/task"), count("/proc/self/fd"));
    let cycles = 10_000;
    let started = Instant::now();
    for i in 0..cycles {
        let mut ws =
            common::connect(server.addr(), None).unwrap_or_else(|e| panic!("cycle {i}: {e}"));
        if i % 2 == 0 {
            // Half say goodbye properly, half just vanish.
            let _ = ws.close(None);
            let _ = ws.flush();
        }
        drop(ws);
    }
    eprintln!("{cycles} cycles in {:?}", started.elapsed());

    // Every client thread ends within two heartbeats of its socket going,
    // and takes its socket with it.
    let ours_gone = wait_until(PATIENCE, || {
        client_threads() == 1 && count("/proc/self/fd") <= fds_before
    });
    assert!(
        ours_gone,
        "after {cycles} cycles: {} client threads (1 expected), {} fds (were {fds_before})",
        client_threads(),
        count("/proc/self/fd")
    );
    // tiny_http's pool keeps a thread per connection a second for five
    // seconds after; with no traffic it shrinks back.
    let pool_settled = wait_until(PATIENCE * 2, || count("/proc/self/task") <= threads_before);
    assert!(
        pool_settled,
        "threads {} (were {threads_before}): {:?}",
        count("/proc/self/task"),
        thread_names()
    );
    assert_eq!(server.status()["connected_clients"], 1);
    common::write(&server.path("a.css"), "b{}");
    assert_eq!(common::next_change(&mut stays)["seq"], 1);
}
