//! SIGTERM with a thousand clients connected, in the middle of an event
//! storm: every client gets a close frame (1001), the process exits 0.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{PATIENCE, write};
use tungstenite::Message;

/// Kills the server if the test fails before it exits.
#[test]
fn sigterm_with_1000_clients_during_a_storm_closes_all_and_exits_0() {
    let dir = tempfile::tempdir().expect("temp dir");
    // No pings: these clients read nothing until the server has exited, and
    // a pong their reading sends then meets a closed socket, whose reset
    // makes Linux drop what the client had not read yet, close frame
    // included (a browser reads as frames come, so it never loses it).
    write(
        &dir.path().join("config.yaml"),
        "hot_reload:\n  heartbeat_ms: 3600000\n",
    );
    for i in 0..2000 {
        write(
            &dir.path().join(format!("s{:02}/f{i:04}.css", i % 20)),
            "a{}",
        );
    }
    let mut child = common::Proc(
        Command::new(env!("CARGO_BIN_EXE_hotreload"))
            .args(["serve", ".", "--port", "0", "-q"])
            .current_dir(dir.path())
            .env_remove("HOT_RELOAD_ENABLED")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("hotreload starts"),
    );
    let child = &mut child.0;
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("ready line");
    let addr = common::ready_line_addr(&line);
    let connecting = Instant::now();
    let mut clients: Vec<_> = (0..1000)
        .map(|i| {
            let mut ws = common::connect(addr, None).unwrap_or_else(|e| panic!("client {i}: {e}"));
            assert!(common::next_message(&mut ws, PATIENCE).is_some());
            ws
        })
        .collect();
    eprintln!("1000 clients connected in {:?}", connecting.elapsed());

    // The storm: a writer thread rewrites every file, and SIGTERM lands mid-way.
    let root = dir.path().to_path_buf();
    let storm = std::thread::spawn(move || {
        for i in 0..2000 {
            write(&root.join(format!("s{:02}/f{i:04}.css", i % 20)), "b{}");
        }
    });
    std::thread::sleep(Duration::from_millis(50));
    let asked = Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + PATIENCE;
    let exit = loop {
        if let Some(exit) = child.try_wait().expect("wait") {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "still running {PATIENCE:?} after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = asked.elapsed();
    storm.join().expect("storm thread");
    assert_eq!(exit.code(), Some(0));
    eprintln!("exited 0 {took:?} after SIGTERM with 1000 clients during a storm");

    let mut without_close = 0;
    for ws in &mut clients {
        let frame = loop {
            match ws.read() {
                Ok(Message::Close(frame)) => break frame,
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e)) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    continue;
                }
                Err(_) => break None,
            }
        };
        if frame.map(|f| u16::from(f.code)) != Some(1001) {
            without_close += 1;
        }
    }
    assert_eq!(without_close, 0, "clients that got no 1001 close frame");
}
