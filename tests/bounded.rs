//! Every connection bounded (SPEC.md section 8), against the real binary:
//! no client can hold the server, running out of descriptors never stops
//! it for good, a client that vanishes or stops reading is dropped, SIGTERM
//! exits at once whatever clients do, and rebound host names are refused.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{
    Link, PATIENCE, Proc, bin, get, http, next_change, ready_line_addr, sigterm_and_wait,
    start_ready, threads_named, wait_until, with_open_file_limit, write,
};
use hotreload::http::IDLE_TIMEOUT;

/// One test at a time: several of them flood the machine on purpose, and
/// the timing bounds of the others are about the server, not the flood.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn turn() -> MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What SPEC.md section 8 allows for Ctrl-C / SIGTERM, with room for the
/// process to start its exit on a busy machine.
const EXIT_WITHIN: Duration = Duration::from_millis(1500);

/// A site with a page, a stylesheet, a 100 MB file and `config`.
fn site(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        &dir.path().join("index.html"),
        "<html><body>hi</body></html>",
    );
    write(&dir.path().join("css/app.css"), "a{}");
    write(&dir.path().join("config.yaml"), config);
    // Sparse: 100 MB of zeros that take no disk.
    File::create(dir.path().join("big.bin"))
        .and_then(|f| f.set_len(100 << 20))
        .expect("big file");
    dir
}

/// The binary serving `dir` on a free port, its stderr in `dir/stderr.log`.
fn serve(cmd: &mut Command, dir: &Path) -> (Proc, SocketAddr) {
    let log = File::create(dir.join("stderr.log")).expect("log file");
    let (child, line) = start_ready(cmd.current_dir(dir).stderr(log));
    (Proc(child), ready_line_addr(&line))
}

fn serve_site(dir: &Path) -> (Proc, SocketAddr) {
    serve(
        bin().args(["serve", ".", "--port", "0", "--ignore", "stderr.log"]),
        dir,
    )
}

/// GET / on a fresh connection: the status and how long it took.
fn page_load(addr: SocketAddr) -> (u16, Duration) {
    let started = Instant::now();
    let (code, _, _) = http(addr, &get("/", &[]));
    (code, started.elapsed())
}

fn assert_exits_at_once(child: &mut Proc, during: &str) {
    let (status, took) = sigterm_and_wait(child);
    assert_eq!(status.code(), Some(0), "exit status after SIGTERM {during}");
    assert!(
        took <= EXIT_WITHIN,
        "SIGTERM {during} took {took:?} to exit (at most {EXIT_WITHIN:?})"
    );
}

#[test]
fn eight_stuck_downloads_do_not_hold_a_page_load() {
    let _turn = turn();
    // A long write timeout, so the downloads stay stuck for the whole test.
    let dir = site("hot_reload:\n  heartbeat_ms: 30000\n");
    let (mut child, addr) = serve_site(dir.path());
    let stuck: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = TcpStream::connect(addr).expect("connect");
            s.write_all(get("/big.bin", &[]).as_bytes())
                .expect("request");
            s
        })
        .collect();
    // Each download holds its connection's thread, blocked in a write.
    assert!(
        wait_until(|| threads_named(child.id(), "hotreload-conn") >= 8),
        "the downloads never started: {} connection threads",
        threads_named(child.id(), "hotreload-conn")
    );
    let (code, took) = page_load(addr);
    assert_eq!(code, 200);
    assert!(
        took < Duration::from_secs(1),
        "a page load beside 8 stuck downloads took {took:?}"
    );
    assert_exits_at_once(&mut child, "during 8 stuck downloads");
    drop(stuck);
}

#[test]
fn running_out_of_descriptors_never_stops_the_listener() {
    let _turn = turn();
    let dir = site("hot_reload: {}\n");
    let (mut child, addr) = serve(
        &mut with_open_file_limit(
            512,
            &["serve", ".", "--port", "0", "--ignore", "stderr.log"],
            dir.path(),
        ),
        dir.path(),
    );
    // 2,000 keep-alive connections, each with a request it never reads
    // the answer of; the server has descriptors for about 240. Connecting
    // stops when the kernel's queue is full too.
    let mut held = Vec::new();
    for _ in 0..2000 {
        let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
            break;
        };
        let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
        held.push(s);
    }
    eprintln!("{} connections open", held.len());
    assert!(held.len() > 600, "only {} connections opened", held.len());
    let log = dir.path().join("stderr.log");
    assert!(
        wait_until(
            || std::fs::read_to_string(&log).is_ok_and(|l| l.contains("out of file descriptors"))
        ),
        "the server never said it ran out: {}",
        std::fs::read_to_string(&log).unwrap_or_default()
    );
    // The browser goes away: descriptors free up, and the next page loads.
    drop(held);
    let (code, took) = page_load(addr);
    assert_eq!(code, 200);
    eprintln!("first page load after the flood: {took:?}");
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(said.contains("accepting connections again"), "{said}");
    assert_exits_at_once(&mut child, "after running out of descriptors");
}

#[test]
fn a_request_trickling_a_byte_a_minute_is_closed_and_holds_nobody() {
    let _turn = turn();
    let dir = site("hot_reload: {}\n");
    let (mut child, addr) = serve_site(dir.path());
    let mut slow = TcpStream::connect(addr).expect("connect");
    slow.write_all(b"G").expect("first byte");
    slow.set_read_timeout(Some(IDLE_TIMEOUT + PATIENCE))
        .expect("timeout");
    let started = Instant::now();
    // Meanwhile everyone else is answered.
    let (code, took) = page_load(addr);
    assert_eq!(code, 200);
    assert!(took < Duration::from_secs(1), "page load took {took:?}");
    // The next byte would come in a minute; the server does not wait.
    let mut buf = [0u8; 64];
    let closed = match slow.read(&mut buf) {
        Ok(n) => n == 0 || String::from_utf8_lossy(&buf[..n]).contains("408"),
        Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
    };
    let waited = started.elapsed();
    assert!(closed, "the trickling connection was not closed");
    assert!(
        waited >= IDLE_TIMEOUT - Duration::from_secs(1) && waited < IDLE_TIMEOUT + PATIENCE,
        "closed after {waited:?}, the idle timeout is {IDLE_TIMEOUT:?}"
    );
    // And SIGTERM while another one trickles.
    let mut again = TcpStream::connect(addr).expect("connect");
    again.write_all(b"GET / HT").expect("a few bytes");
    assert_exits_at_once(&mut child, "while a request trickles");
}

/// A WebSocket client that reads the handshake answer and nothing more,
/// with a receive buffer so small that the server's writes soon block.
fn frozen_client(addr: SocketAddr) -> TcpStream {
    let socket =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    socket.set_recv_buffer_size(2048).expect("SO_RCVBUF");
    socket.connect(&addr.into()).expect("connect");
    let mut stream: TcpStream = socket.into();
    stream
        .write_all(
            format!(
                "GET /ws/hotreload HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            .as_bytes(),
        )
        .expect("upgrade request");
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).expect("an answer");
    assert_eq!(&head, b"HTTP/1.1 101");
    stream
}

fn status_clients(addr: SocketAddr) -> u64 {
    let (_, _, body) = http(addr, &common::get("/api/v1/hotreload/status", &[]));
    let json: serde_json::Value = serde_json::from_str(&body).expect("status JSON");
    json["connected_clients"].as_u64().expect("a count")
}

#[test]
fn a_client_whose_socket_stops_taking_data_is_dropped_and_its_thread_freed() {
    let _turn = turn();
    // A buffer so large that only the socket can find the frozen client.
    let dir =
        site("hot_reload:\n  heartbeat_ms: 1000\n  client_buffer: 100000\n  debounce_ms: 20\n");
    let (mut child, addr) = serve_site(dir.path());
    let frozen = frozen_client(addr);
    let (mut healthy, _) = {
        let mut ws = common::connect(addr, None).expect("connect");
        let hello = common::next_message(&mut ws, PATIENCE).expect("hello");
        (ws, hello)
    };
    assert!(wait_until(|| status_clients(addr) == 2));
    // Long names make big messages, which fill the frozen socket fast.
    let names: Vec<String> = (0..300)
        .map(|i| format!("many/{}{i:03}.txt", "x".repeat(100)))
        .collect();
    let started = Instant::now();
    let mut rounds = 0;
    while status_clients(addr) > 1 && started.elapsed() < PATIENCE * 2 {
        rounds += 1;
        for name in &names {
            write(&dir.path().join(name), &rounds.to_string());
        }
        // One batch, or a few on a busy machine: the healthy client gets all.
        let mut seen = 0;
        while seen < names.len() {
            seen += next_change(&mut healthy)["count"].as_u64().unwrap_or(0) as usize;
        }
    }
    assert_eq!(
        status_clients(addr),
        1,
        "the frozen client is still counted after {rounds} rounds"
    );
    assert!(
        wait_until(|| threads_named(child.id(), "hotreload-client") == 1),
        "{} client threads: the frozen one's thread was not freed",
        threads_named(child.id(), "hotreload-client")
    );
    eprintln!("frozen client dropped after {rounds} big batches");
    // The healthy one goes on.
    write(&dir.path().join("css/app.css"), "b{}");
    assert_eq!(
        common::changes(&next_change(&mut healthy)),
        vec![("css/app.css".into(), "modified".into())]
    );
    let again = frozen_client(addr);
    assert_exits_at_once(&mut child, "with a frozen client connected");
    drop((frozen, again));
}

#[test]
fn host_names_that_are_not_ours_are_refused_and_ours_are_served() {
    let _turn = turn();
    let dir = site("hot_reload: {}\n");
    let (mut child, addr) = serve(
        bin().args([
            "serve",
            ".",
            "--port",
            "0",
            "--ignore",
            "stderr.log",
            "--allow-host",
            "dev.example.test",
        ]),
        dir.path(),
    );
    let port = addr.port();
    let ask = |path: &str, host: &str, extra: &str| {
        http(
            addr,
            &format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n"),
        )
    };
    let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
    for host in [
        format!("attacker.example:{port}"),
        "attacker.example".to_string(),
        format!("localhost.attacker.example:{port}"),
    ] {
        for path in ["/", "/css/app.css", "/api/v1/hotreload/status"] {
            let (code, _, body) = ask(path, &host, "");
            assert_eq!(code, 403, "{path} for Host {host}: {body}");
            assert!(body.contains("allowed_hosts"), "{body}");
        }
        let (code, _, body) = ask("/ws/hotreload", &host, upgrade);
        assert_eq!(code, 403, "upgrade for Host {host}: {body}");
    }
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("app.localhost:{port}"),
        format!("dev.example.test:{port}"),
    ] {
        for path in ["/", "/css/app.css", "/api/v1/hotreload/status"] {
            let (code, _, body) = ask(path, &host, "");
            assert_eq!(code, 200, "{path} for Host {host}: {body}");
        }
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream
            .write_all(
                format!("GET /ws/hotreload HTTP/1.1\r\nHost: {host}\r\n{upgrade}\r\n").as_bytes(),
            )
            .expect("upgrade");
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).expect("an answer");
        assert_eq!(&head, b"HTTP/1.1 101", "upgrade for Host {host}");
    }
    assert_exits_at_once(&mut child, "after refusals");
}

#[test]
fn a_client_that_vanishes_is_dropped_within_two_heartbeats_and_a_second() {
    let _turn = turn();
    let Some(link) = Link::new() else { return };
    let heartbeat = Duration::from_millis(1000);
    let dir = site("hot_reload:\n  heartbeat_ms: 1000\n");
    let mut cmd = Link::enter(&link.server_ns);
    cmd.args([
        env!("CARGO_BIN_EXE_hotreload"),
        "serve",
        ".",
        "--host",
        "10.77.0.1",
        "--port",
        "0",
        "--ignore",
        "stderr.log",
    ])
    .env_remove("HOT_RELOAD_ENABLED");
    let (mut server, addr) = serve(&mut cmd, dir.path());
    let url = format!("http://{addr}/");
    let clients = || -> Option<u64> {
        let out = Link::enter(&link.server_ns)
            .args([
                env!("CARGO_BIN_EXE_hotreload"),
                "status",
                "--json",
                "--url",
                &url,
            ])
            .output()
            .ok()?;
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        json["connected_clients"].as_u64()
    };
    // A browser on the other machine: it connects, and then only its
    // kernel answers (acknowledgements), as a tab does between batches.
    let mut browser = Proc(Link::enter(&link.client_ns)
        .args([
            "bash",
            "-c",
            &format!(
                "exec 3<>/dev/tcp/{}/{} && printf 'GET /ws/hotreload HTTP/1.1\\r\\nHost: {addr}\\r\\nUpgrade: websocket\\r\\nConnection: Upgrade\\r\\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\\r\\nSec-WebSocket-Version: 13\\r\\n\\r\\n' >&3 && head -c 12 <&3 && exec sleep 300",
                addr.ip(),
                addr.port()
            ),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("client starts"));
    let mut head = [0u8; 12];
    browser
        .stdout
        .take()
        .expect("piped")
        .read_exact(&mut head)
        .expect("the client's handshake answer");
    assert_eq!(&head, b"HTTP/1.1 101");
    assert!(
        wait_until(|| clients() == Some(1)),
        "the client never counted"
    );
    // Connected for a while, as tabs are, so pings have gone both ways.
    std::thread::sleep(heartbeat * 2);
    assert_eq!(clients(), Some(1));
    link.pull();
    let pulled = Instant::now();
    let limit = heartbeat * 2 + Duration::from_secs(1);
    while clients() != Some(0) {
        assert!(
            pulled.elapsed() < PATIENCE,
            "a vanished client is still counted {PATIENCE:?} later"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let took = pulled.elapsed();
    eprintln!("vanished client dropped after {took:?}");
    assert!(
        took <= limit + Duration::from_millis(300),
        "dropped after {took:?}; SPEC.md section 8 says within {limit:?}"
    );
    assert_exits_at_once(&mut server, "after a client vanished");
    drop(browser);
}
