//! Fan-out: a client that stops reading never holds up the others, and is
//! dropped rather than allowed to lose a reload silently.

mod common;

use std::time::{Duration, Instant};

use common::{PATIENCE, TestServer, next_message};

#[test]
fn a_stalled_client_is_dropped_and_never_delays_the_others() {
    let server = TestServer::start(&[("a.css", "a{}")], |c| c.client_buffer = 4);
    let manager = server.server.manager();
    // Connected, then never reads again: its socket buffers fill up.
    let (_stalled, _) = server.client();
    let (mut reader, _) = server.client();
    // Big batches fill the kernel's socket buffers quickly (about 60 KB each).
    let paths: Vec<String> = (0..500)
        .map(|i| format!("assets/some/long/folder/name/file-{i:04}-with-a-long-name.css"))
        .collect();
    let batches = 400;
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    for n in 1..=batches {
        let t = Instant::now();
        let batch = manager.trigger(paths.iter().cloned()).expect("enabled");
        slowest = slowest.max(t.elapsed());
        assert_eq!(batch.seq, n);
        let msg = next_message(&mut reader, PATIENCE).expect("the reading client gets every batch");
        assert_eq!(msg["seq"], n, "batch {n} out of order or missing");
        assert_eq!(msg["truncated"], false);
    }
    let total = started.elapsed();
    eprintln!("{batches} batches in {total:?}; slowest broadcast {slowest:?}");
    // The stalled client was dropped: only the reader remains.
    assert_eq!(
        server.status()["connected_clients"],
        1,
        "the stalled client is still counted"
    );
    // Broadcast never waits on a socket: even the slowest call is quick.
    assert!(
        slowest < Duration::from_secs(1),
        "a broadcast blocked for {slowest:?}"
    );
}

#[test]
fn the_status_route_answers_while_batches_fan_out() {
    let server = TestServer::start(&[("a.css", "a{}")], |_| {});
    let clients: Vec<_> = (0..50).map(|_| server.client().0).collect();
    let manager = server.server.manager();
    for i in 0..20 {
        manager.trigger([format!("a{i}.css")]);
        assert_eq!(server.status()["connected_clients"], 50);
    }
    drop(clients);
}

#[test]
fn client_buffer_1_keeps_a_client_that_gets_a_batch_as_it_connects() {
    // The buffer counts batches: the `connected` message queued at the
    // upgrade must not take the only place, whenever the batch comes.
    let server = TestServer::start(&[("a.css", "a{}")], |c| c.client_buffer = 1);
    let manager = server.server.manager();
    for round in 0..200 {
        let mut ws = common::connect(server.addr(), None).expect("connect");
        // At once: often before the client's thread has sent `connected`.
        let sent = manager.trigger(["a.css"]).expect("enabled").seq;
        let hello = next_message(&mut ws, PATIENCE).expect("connected");
        assert_eq!(hello["type"], "connected", "{hello}");
        if hello["seq"].as_u64() < Some(sent) {
            match next_message(&mut ws, PATIENCE) {
                Some(m) => assert_eq!(m["seq"], sent, "round {round}: {m}"),
                None => panic!("round {round}: dropped instead of getting batch {sent}"),
            }
        }
    }
}
