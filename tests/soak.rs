//! The ten-minute soak: run it by name when changing the watcher or the
//! fan-out. `cargo test --release --test soak -- --ignored --nocapture`
//! (`SOAK_SECS` shortens or lengthens it).

mod common;

use std::time::{Duration, Instant};

use common::{PATIENCE, TestServer, next_message};

#[test]
#[ignore = "ten minutes; run by name"]
fn ten_minutes_of_saves_reconnects_and_status_lose_nothing() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(600);
    let server = TestServer::start(&[("a.css", "a{}"), ("app.js", "1")], |c| {
        c.debounce_ms = hotreload::Debounce::Ms(50)
    });
    let mut steady: Vec<_> = (0..20).map(|_| server.client().0).collect();
    let fds_at_start = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    let end = Instant::now() + Duration::from_secs(secs);
    let (mut saves, mut reconnects) = (0u64, 0u64);
    while Instant::now() < end {
        saves += 1;
        let file = if saves % 3 == 0 { "app.js" } else { "a.css" };
        common::write(&server.path(file), &format!("/* {saves} */"));
        for (i, ws) in steady.iter_mut().enumerate() {
            let msg = next_message(ws, PATIENCE)
                .unwrap_or_else(|| panic!("client {i} missed save {saves}"));
            assert_eq!(msg["seq"], saves, "client {i}: a lost or repeated batch");
        }
        // A browser tab reloading: connect, hello, gone.
        let mut tab = common::connect(server.addr(), None).expect("connect");
        assert!(next_message(&mut tab, PATIENCE).is_some());
        drop(tab);
        reconnects += 1;
        assert_eq!(server.status()["changes"], saves);
    }
    let fds_now = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0);
    eprintln!(
        "soak: {saves} saves, {reconnects} reconnects in {secs} s; fds {fds_at_start} -> {fds_now}"
    );
    assert!(
        fds_now < fds_at_start + 50,
        "file descriptors grew: {fds_at_start} -> {fds_now}"
    );
}
