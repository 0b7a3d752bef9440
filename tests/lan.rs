//! Testing on a phone (SPEC.md section 13), against the real binary on a
//! second machine made of network namespaces: with `--host 0.0.0.0` (or
//! `::`) the ready line lists the machine's network addresses, and a
//! browser elsewhere on the network that opens one gets the page with the
//! script and its WebSocket, while a foreign page's socket is refused.

mod common;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::mpsc;

use common::{Link, PATIENCE, Proc, ready_line_addr, sigterm_and_wait, write};

/// The binary in `mode` (`serve` or `watch`) over a one-page site in the
/// server's namespace, on `host`, and the lines it prints, as they come.
struct Served {
    child: Proc,
    lines: mpsc::Receiver<String>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Served {
    fn start(link: &Link, mode: &str, host: &str) -> Served {
        let dir = tempfile::tempdir().expect("temp dir");
        let site = dir.path().join("site");
        write(
            &site.join("index.html"),
            "<html><body><h1>hi</h1></body></html>",
        );
        let log = File::create(dir.path().join("stderr.log")).expect("log file");
        let mut child = Proc(
            Link::enter(&link.server_ns)
                .arg(env!("CARGO_BIN_EXE_hotreload"))
                .arg(mode)
                .arg(&site)
                .args(["--host", host, "--port", "0"])
                .env_remove("HOT_RELOAD_ENABLED")
                .stdout(Stdio::piped())
                .stderr(log)
                .spawn()
                .expect("the binary starts"),
        );
        // Read on a thread of its own, so that a line that never comes
        // fails the test after PATIENCE instead of hanging it. It ends when
        // the binary does.
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut served = Served {
            child,
            lines,
            port: 0,
            dir,
        };
        let first = served.line();
        // The first line stays as it was: tests and scripts parse it.
        assert!(
            first.starts_with("hotreload: ") && first.contains(" at http://127.0.0.1:"),
            "ready line {first:?}"
        );
        served.port = ready_line_addr(&first).port();
        served
    }

    /// The next line it prints, within PATIENCE.
    fn line(&self) -> String {
        self.lines.recv_timeout(PATIENCE).unwrap_or_else(|_| {
            panic!(
                "no line from the binary within {PATIENCE:?}; its log:\n{}",
                self.log()
            )
        })
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// SIGTERM; it exits 0, and whatever else it printed comes back.
    fn stop(mut self) -> Vec<String> {
        let (status, _) = sigterm_and_wait(&mut self.child);
        assert_eq!(status.code(), Some(0), "exit after SIGTERM");
        // The reader thread sees the end of its output and hangs up.
        self.lines.iter().collect()
    }
}

/// What a browser on the client's machine gets for `request` sent to
/// `ip:port`: everything until the server closes, `until` arrives, or
/// PATIENCE passes. python3 talks for it (curl may be missing).
fn from_client(link: &Link, ip: &str, port: u16, request: &str, until: &str) -> String {
    const CLIENT: &str = r#"
import socket, sys, time
ip, port, request, until = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].encode()
deadline = time.monotonic() + float(sys.argv[5])
s = socket.create_connection((ip, port), timeout=float(sys.argv[5]))
s.sendall(request.encode())
got = b""
while until not in got:
    left = deadline - time.monotonic()
    if left <= 0:
        break
    s.settimeout(left)
    try:
        chunk = s.recv(65536)
    except socket.timeout:
        break
    if not chunk:
        break
    got += chunk
sys.stdout.buffer.write(got)
"#;
    let out = Link::enter(&link.client_ns)
        .args(["python3", "-c", CLIENT, ip])
        .arg(port.to_string())
        .args([request, until])
        .arg(PATIENCE.as_secs().to_string())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

/// A phone's visit to `http://AUTHORITY/`: the page carries the script,
/// its socket (Origin: the page's own) is taken and says hello, and a
/// foreign page's socket is refused.
fn visit(link: &Link, ip: &str, port: u16) {
    let authority = if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    };
    let page = from_client(
        link,
        ip,
        port,
        &format!("GET / HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"),
        "</html>",
    );
    assert!(
        page.starts_with("HTTP/1.1 200"),
        "GET / at {authority}: {page}"
    );
    assert!(
        page.contains(r#"<script src="/static/js/hotreload.js""#),
        "no script in the page at {authority}: {page}"
    );
    let socket = |origin: &str, until: &str| {
        from_client(
            link,
            ip,
            port,
            &format!(
                "GET /ws/hotreload HTTP/1.1\r\nHost: {authority}\r\nOrigin: {origin}\r\n{UPGRADE}\r\n"
            ),
            until,
        )
    };
    let own = socket(&format!("http://{authority}"), r#""type":"connected""#);
    assert!(
        own.starts_with("HTTP/1.1 101"),
        "upgrade with the page's own origin at {authority}: {own}"
    );
    let (_, frames) = own.split_once("\r\n\r\n").expect("a head");
    assert!(
        frames.contains(r#""type":"connected""#),
        "first frame at {authority}: {frames:?}"
    );
    let foreign = socket("http://evil.example", "\r\n\r\n");
    assert!(
        foreign.starts_with("HTTP/1.1 403"),
        "upgrade from http://evil.example at {authority}: {foreign}"
    );
}

/// The network lines under the ready line must be exactly `urls`, in
/// order, each with its interface, and then no other address at all.
fn assert_lists(served: Served, urls: &[String], interface: &str) {
    for (i, url) in urls.iter().enumerate() {
        let line = served.line();
        let lead = if i == 0 {
            "  on your network: "
        } else {
            "                   "
        };
        assert_eq!(line, format!("{lead}{url} ({interface})"));
    }
    let rest = served.stop();
    // The dashboard's line is for this machine's browser: loopback is right.
    assert!(
        rest.iter()
            .all(|l| !l.contains("http://") || l.starts_with("  dashboard: http://127.0.0.1:")),
        "more addresses listed than this machine's network ones (loopback? link-local?): {rest:?}"
    );
}

#[test]
fn bound_to_every_interface_a_phone_gets_the_page_and_its_socket() {
    let Some(link) = Link::new() else { return };
    let served = Served::start(&link, "serve", "0.0.0.0");
    let port = served.port;
    visit(&link, "10.77.0.1", port);
    assert_lists(
        served,
        &[format!("http://10.77.0.1:{port}/")],
        &link.server_if,
    );
}

#[test]
fn bound_to_ipv6_any_both_families_are_listed_and_link_local_is_not() {
    let Some(link) = Link::new() else { return };
    if !Path::new("/proc/net/if_inet6").exists() {
        // A kernel without IPv6 (ipv6.disable=1): nothing to install.
        eprintln!("skipped: this kernel has no IPv6");
        return;
    }
    // nodad: usable at once, without duplicate address detection's wait.
    // Each end also has an fe80:: address of its own, which must not show.
    link.run_in(
        &link.server_ns,
        &format!("ip addr add fd77::1/64 dev {} nodad", link.server_if),
    );
    link.run_in(
        &link.client_ns,
        &format!("ip addr add fd77::2/64 dev {} nodad", link.client_if),
    );
    let served = Served::start(&link, "serve", "::");
    let port = served.port;
    visit(&link, "fd77::1", port);
    // `::` takes IPv4 too (dual stack, Linux's default).
    visit(&link, "10.77.0.1", port);
    assert_lists(
        served,
        &[
            format!("http://10.77.0.1:{port}/"),
            format!("http://[fd77::1]:{port}/"),
        ],
        &link.server_if,
    );
}

#[test]
fn in_watch_mode_the_tag_for_a_phone_names_the_network_address() {
    let Some(link) = Link::new() else { return };
    let served = Served::start(&link, "watch", "0.0.0.0");
    let port = served.port;
    assert_eq!(
        served.line(),
        format!(
            r#"  add this to your pages: <script src="http://127.0.0.1:{port}/static/js/hotreload.js"></script>"#
        )
    );
    assert_eq!(
        served.line(),
        format!(
            "  on your network: http://10.77.0.1:{port}/ ({})",
            link.server_if
        )
    );
    assert_eq!(
        served.line(),
        format!(
            r#"  for pages opened at a network address, add this instead: <script src="http://10.77.0.1:{port}/static/js/hotreload.js"></script>"#
        )
    );
    // The phone's page comes from the app, on another port of the same
    // address; the script and its socket from hotreload.
    let script = from_client(
        &link,
        "10.77.0.1",
        port,
        &format!(
            "GET /static/js/hotreload.js HTTP/1.1\r\nHost: 10.77.0.1:{port}\r\nConnection: close\r\n\r\n"
        ),
        "})();",
    );
    assert!(
        script.starts_with("HTTP/1.1 200"),
        "the script: {script:.300}"
    );
    let socket = from_client(
        &link,
        "10.77.0.1",
        port,
        &format!(
            "GET /ws/hotreload HTTP/1.1\r\nHost: 10.77.0.1:{port}\r\nOrigin: http://10.77.0.1:5000\r\n{UPGRADE}\r\n"
        ),
        r#""type":"connected""#,
    );
    assert!(
        socket.starts_with("HTTP/1.1 101") && socket.contains(r#""type":"connected""#),
        "the socket of the app's page: {socket}"
    );
    let rest = served.stop();
    assert!(
        rest.iter()
            .all(|l| !l.contains("http://") || l.starts_with("  dashboard: http://127.0.0.1:")),
        "{rest:?}"
    );
}
