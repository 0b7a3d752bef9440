//! Load: a thousand clients at once, and the status route under fan-out.

mod common;

use std::time::{Duration, Instant};

use common::{PATIENCE, TestServer, get, http, next_message};

#[test]
fn a_thousand_clients_all_get_the_batch() {
    let server = TestServer::start(&[("a.css", "a{}")], |_| {});
    let started = Instant::now();
    let mut clients: Vec<_> = (0..1000)
        .map(|i| {
            let mut ws =
                common::connect(server.addr(), None).unwrap_or_else(|e| panic!("client {i}: {e}"));
            assert!(
                next_message(&mut ws, PATIENCE).is_some(),
                "client {i} got no hello"
            );
            ws
        })
        .collect();
    eprintln!("1000 clients connected in {:?}", started.elapsed());
    assert_eq!(server.status()["connected_clients"], 1000);
    common::write(&server.path("a.css"), "b{}");
    let mut missing = Vec::new();
    for (i, ws) in clients.iter_mut().enumerate() {
        match next_message(ws, PATIENCE) {
            Some(m) if m["type"] == "file_changed" && m["seq"] == 1 => {}
            other => missing.push((i, other)),
        }
    }
    assert!(
        missing.is_empty(),
        "{} of 1000 clients missed the batch: {:?}",
        missing.len(),
        &missing[..missing.len().min(3)]
    );
}

#[test]
fn a_thousand_status_requests_while_batches_fan_out() {
    let server = TestServer::start(&[("a.css", "a{}")], |_| {});
    let _clients: Vec<_> = (0..50).map(|_| server.client().0).collect();
    let addr = server.addr();
    let askers: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                (0..250)
                    .map(|_| http(addr, &get("/api/v1/hotreload/status", &[])).0)
                    .filter(|&code| code != 200)
                    .count()
            })
        })
        .collect();
    let manager = server.server.manager();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut batches = 0;
    while askers.iter().any(|a| !a.is_finished()) && Instant::now() < deadline {
        manager.trigger(["a.css"]);
        batches += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    let failed: usize = askers
        .into_iter()
        .map(|a| a.join().expect("asker thread"))
        .sum();
    assert_eq!(failed, 0, "status requests that did not get 200");
    eprintln!("1000 status requests answered while {batches} batches went out");
    assert!(batches > 0);
}
