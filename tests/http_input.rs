//! Bad input on the wire: every case gets a clear status or a closed
//! connection, and the server goes on answering everyone else.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::{PATIENCE, TestServer, get, http, next_change};

const SITE: &[(&str, &str)] = &[("index.html", "<body>ok</body>"), ("a.css", "a{}")];

/// Sends raw bytes and returns what comes back before the server closes or
/// goes quiet for a second (a status line, or nothing).
fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .expect("timeout");
    // The server may close before reading everything; that is an answer too.
    let _ = stream.write_all(bytes);
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or("")
        .to_string()
}

fn still_serving(addr: SocketAddr) {
    let (code, _, body) = http(addr, &get("/", &[]));
    assert_eq!(code, 200, "the server stopped answering: {body}");
}

#[test]
fn malformed_request_lines_get_400_or_a_closed_connection() {
    let server = TestServer::start(SITE, |_| {});
    let cases: &[&[u8]] = &[
        b"GARBAGE\r\n\r\n",
        b"GET\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nno colon here\r\n\r\n",
        b"\x00\x01\x02\x03\xff\xfe\r\n\r\n",
        b"GET /%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /../../../../etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET //etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        b"GET /..%2f..%2fetc/passwd HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    ];
    for case in cases {
        let status = raw(server.addr(), case);
        let shown = String::from_utf8_lossy(case);
        assert!(
            status.is_empty()
                || status.contains(" 400")
                || status.contains(" 403")
                || status.contains(" 404")
                || status.contains(" 505"),
            "{shown:?} got {status:?}"
        );
        assert!(!status.contains(" 200"), "{shown:?} was served: {status}");
        still_serving(server.addr());
    }
}

#[test]
fn huge_request_heads_get_431_and_the_server_goes_on() {
    let server = TestServer::start(SITE, |_| {});
    let mut request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ".to_vec();
    request.extend(std::iter::repeat_n(b'a', 1 << 20));
    request.extend_from_slice(b"\r\nConnection: close\r\n\r\n");
    let status = raw(server.addr(), &request);
    assert!(status.contains(" 431"), "1 MiB header got {status:?}");
    still_serving(server.addr());
    let many: String = (0..5000).map(|i| format!("X-H{i}: v\r\n")).collect();
    let status = raw(
        server.addr(),
        format!("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n{many}Connection: close\r\n\r\n").as_bytes(),
    );
    assert!(status.contains(" 431"), "5000 headers got {status:?}");
    still_serving(server.addr());
    // At the limits, still answered.
    let hundred: String = (0..98).map(|i| format!("X-H{i}: v\r\n")).collect();
    let status = raw(
        server.addr(),
        format!("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n{hundred}Connection: close\r\n\r\n")
            .as_bytes(),
    );
    assert!(status.contains(" 200"), "100 headers got {status:?}");
}

#[test]
fn a_client_sending_one_byte_at_a_time_does_not_hold_up_others() {
    let server = TestServer::start(SITE, |_| {});
    let addr = server.addr();
    let slow = std::thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).expect("connect");
        for byte in b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n" {
            if stream.write_all(&[*byte]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let mut slowest = Duration::ZERO;
    for _ in 0..30 {
        let started = Instant::now();
        still_serving(addr);
        slowest = slowest.max(started.elapsed());
    }
    slow.join().expect("slow client");
    eprintln!("slowest of 30 requests beside a slow client: {slowest:?}");
    assert!(slowest < PATIENCE);
}

#[test]
fn garbage_from_a_websocket_client_changes_nothing() {
    let server = TestServer::start(SITE, |_| {});
    let (mut noisy, _) = server.client();
    let (mut quiet, _) = server.client();
    // Unmasked, oversized, reserved-opcode and plain junk frames: the server
    // only writes to clients, so none of it is even parsed.
    let stream = noisy.get_mut();
    let mut junk = vec![0x8F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    junk.extend(std::iter::repeat_n(0x42u8, 32 * 1024));
    stream.write_all(&junk).expect("write junk");
    common::write(&server.path("a.css"), "b{}");
    assert_eq!(next_change(&mut quiet)["seq"], 1);
    assert_eq!(next_change(&mut noisy)["seq"], 1);
    still_serving(server.addr());
}

#[test]
fn a_symlink_out_of_the_served_folder_is_refused() {
    let server = TestServer::start(SITE, |_| {});
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        outside.path().join("secret.txt"),
        "CONTENT-OUTSIDE-THE-ROOT",
    )
    .expect("write");
    std::os::unix::fs::symlink(outside.path().join("secret.txt"), server.path("link.txt"))
        .expect("symlink");
    std::os::unix::fs::symlink(outside.path(), server.path("linkdir")).expect("symlink");
    for path in ["/link.txt", "/linkdir/secret.txt"] {
        let (code, _, body) = http(server.addr(), &get(path, &[]));
        assert!(code == 403 || code == 404, "{path}: {code} {body}");
        assert!(
            !body.contains("CONTENT-OUTSIDE-THE-ROOT"),
            "{path} leaked the file"
        );
    }
}
