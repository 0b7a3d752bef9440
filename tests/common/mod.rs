//! Helpers shared by the integration tests: a real server on 127.0.0.1:0
//! over a temp dir, real WebSocket clients, raw HTTP, and two machines on
//! one wire (network namespaces, root only).
#![allow(
    dead_code,
    reason = "each test file uses a different part of this module"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hotreload::Config;
use hotreload::serve::{DevServer, Options};
use serde_json::Value;
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

/// Generous bound for anything that should happen "at once": a busy 2-core
/// machine can stall a thread for a good while.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub type Ws = WebSocket<TcpStream>;

/// How a server sees changes: the system's events, or polling (as on a
/// network share), forced on the temp dir. Tests of saves, renames and
/// folders run both ways: the same change must give the same batch
/// (SPEC.md section 15).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watch {
    Native,
    /// Every [`POLL_MS`].
    Poll,
}

/// The polling interval of [`Watch::Poll`]: short to keep the tests fast,
/// and shorter than their debounce, so a round that catches a save halfway
/// sees the rest before the batch closes.
pub const POLL_MS: u64 = 100;

impl Watch {
    /// The `poll` setting that watches this way.
    pub fn poll(self) -> hotreload::Poll {
        match self {
            Watch::Native => hotreload::Poll::Never,
            Watch::Poll => hotreload::Poll::Every(POLL_MS),
        }
    }
}

/// A dev server over a temp folder, stopped on drop.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub server: DevServer,
}

impl TestServer {
    /// Serves a new temp folder holding `files` (path, content), with
    /// `tweak` applied to the default config.
    pub fn start(files: &[(&str, &str)], tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        for (path, content) in files {
            write(&dir.path().join(path), content);
        }
        let mut config = Config::default();
        tweak(&mut config);
        let mut options = Options::new(dir.path());
        options.port = 0;
        options.config = config;
        // Report paths relative to the served folder, as `hotreload serve .` does.
        options.config.watch_dirs = if options.config.watch_dirs.is_empty() {
            vec![hotreload::WatchDir::new(".", dir.path())]
        } else {
            options.config.watch_dirs.clone()
        };
        let server = DevServer::start(options).expect("server starts");
        TestServer { dir, server }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A WebSocket client that has read its `connected` message.
    pub fn client(&self) -> (Ws, Value) {
        let mut ws = connect(self.addr(), None).expect("WebSocket connects");
        let hello = next_message(&mut ws, PATIENCE).expect("a connected message");
        assert_eq!(hello["type"], "connected", "{hello}");
        (ws, hello)
    }

    pub fn status(&self) -> Value {
        let (code, _, body) = http(
            self.addr(),
            "GET /api/v1/hotreload/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        );
        assert_eq!(code, 200, "{body}");
        serde_json::from_str(&body).expect("status is JSON")
    }
}

pub fn write(path: &Path, content: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent dirs");
    }
    std::fs::write(path, content).expect("write file");
}

/// Opens a WebSocket to the hot-reload endpoint, with an `Origin` if given.
pub fn connect(addr: SocketAddr, origin: Option<&str>) -> Result<Ws, tungstenite::Error> {
    connect_to(addr, "/ws/hotreload", origin)
}

/// Opens a WebSocket to `path` (`/livereload`, say), with an `Origin` if given.
pub fn connect_to(
    addr: SocketAddr,
    path: &str,
    origin: Option<&str>,
) -> Result<Ws, tungstenite::Error> {
    let mut request = format!("ws://{addr}{path}").into_client_request()?;
    if let Some(origin) = origin {
        request.headers_mut().insert(
            "Origin",
            origin.parse().expect("origin is a valid header value"),
        );
    }
    let stream = TcpStream::connect(addr).expect("TCP connect");
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    // The short read timeout can interrupt the handshake of a busy server:
    // resume it until PATIENCE runs out.
    let deadline = Instant::now() + PATIENCE;
    let mut attempt = tungstenite::client(request, stream);
    loop {
        match attempt {
            Ok((ws, _)) => return Ok(ws),
            Err(tungstenite::HandshakeError::Failure(e)) => return Err(e),
            Err(tungstenite::HandshakeError::Interrupted(mid)) => {
                assert!(
                    Instant::now() < deadline,
                    "no handshake answer within {PATIENCE:?}"
                );
                attempt = mid.handshake();
            }
        }
    }
}

/// A read that ended at the socket's read timeout, with nothing lost.
pub fn timed_out(e: &tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Io(e) if matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    ))
}

/// The next JSON text message within `within`, skipping pings; `None` if
/// none came (or the server closed the connection).
pub fn next_message(ws: &mut Ws, within: Duration) -> Option<Value> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        match ws.read() {
            Ok(Message::Text(text)) => {
                return Some(serde_json::from_str(&text).expect("text frames are JSON"));
            }
            Ok(_) => continue,
            Err(e) if timed_out(&e) => {
                continue;
            }
            Err(_) => return None,
        }
    }
    None
}

/// The next `file_changed` message, failing the test with what came instead.
pub fn next_change(ws: &mut Ws) -> Value {
    match next_message(ws, PATIENCE) {
        Some(m) if m["type"] == "file_changed" => m,
        other => panic!("expected a file_changed message within {PATIENCE:?}, got {other:?}"),
    }
}

/// Asserts that no message arrives for `quiet`.
pub fn assert_quiet(ws: &mut Ws, quiet: Duration) {
    if let Some(m) = next_message(ws, quiet) {
        panic!("expected no more messages for {quiet:?}, got {m}");
    }
}

/// `(path, operation)` of every change in a message.
pub fn changes(message: &Value) -> Vec<(String, String)> {
    message["changes"]
        .as_array()
        .expect("changes is a list")
        .iter()
        .map(|c| {
            (
                c["path"].as_str().unwrap_or("").to_string(),
                c["operation"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Sends a raw HTTP request; returns status, lowercased header lines and body.
pub fn http(addr: SocketAddr, request: &str) -> (u16, Vec<String>, String) {
    let mut stream = TcpStream::connect(addr).expect("TCP connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    stream.write_all(request.as_bytes()).expect("send request");
    let mut response = Vec::new();
    // tiny_http keeps upgraded or keep-alive connections open: read what comes.
    let mut buf = [0u8; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                response.extend_from_slice(&buf[..n]);
                if complete(&response) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let text = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let code = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text:?}"));
    (
        code,
        lines.map(|l| l.to_ascii_lowercase()).collect(),
        body.to_string(),
    )
}

/// Has a response with a Content-Length arrived whole?
fn complete(response: &[u8]) -> bool {
    let text = String::from_utf8_lossy(response);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    head.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().ok())
        })
        .flatten()
        .is_some_and(|len| body.len() >= len)
}

/// A GET request for `path` with the given extra header lines.
pub fn get(path: &str, headers: &[&str]) -> String {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if !headers
        .iter()
        .any(|h| h.to_ascii_lowercase().starts_with("connection:"))
    {
        request.push_str("Connection: close\r\n");
    }
    for h in headers {
        request.push_str(h);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request
}

/// A running `hotreload` binary, killed on drop if a test fails midway.
pub struct Running {
    pub child: Child,
    /// `http://HOST:PORT/`, as its ready line prints it.
    pub url: String,
    pub addr: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `hotreload` binary, without the caller's `HOT_RELOAD_ENABLED`.
pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hotreload"));
    cmd.env_remove("HOT_RELOAD_ENABLED");
    cmd
}

/// Starts `cmd` with stdout piped (stderr is the caller's choice) and
/// returns it with the first line it prints, the ready line.
pub fn start_ready(cmd: &mut Command) -> (Child, String) {
    let mut child = cmd.stdout(Stdio::piped()).spawn().expect("binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("a ready line");
    (child, line)
}

/// Starts the binary with `args` and `env` in `dir`, and waits for its
/// ready line.
pub fn serve(args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Running {
    let (child, line) = start_ready(
        bin()
            .args(args)
            .current_dir(dir)
            .envs(env.iter().copied())
            .stderr(Stdio::null()),
    );
    let addr = ready_line_addr(&line);
    Running {
        child,
        url: format!("http://{addr}/"),
        addr,
    }
}

/// The `host:port` in the binary's ready line (`... at http://127.0.0.1:PORT/`).
pub fn ready_line_addr(line: &str) -> SocketAddr {
    let at = line
        .find("http://")
        .unwrap_or_else(|| panic!("no URL in the ready line {line:?}"));
    line[at + 7..]
        .split(|c: char| c == '/' || c.is_whitespace())
        .next()
        .unwrap_or_default()
        .parse()
        .unwrap_or_else(|e| panic!("no host:port in the ready line {line:?}: {e}"))
}

/// A loopback address (all of 127/8 is loopback) that no other test
/// binds, for a server that must come back on the port it had: on
/// 127.0.0.1 another test's socket could take that port meanwhile.
pub fn private_ip() -> std::net::Ipv4Addr {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    std::net::Ipv4Addr::new(
        127,
        100 + (pid % 100) as u8,
        (pid >> 7) as u8,
        2 + (n % 250) as u8,
    )
}

/// Sends SIGTERM, as `kill` and service managers do.
pub fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// Sends SIGTERM and waits for the exit; returns its status and how long
/// it took, failing the test if it takes longer than PATIENCE.
pub fn sigterm_and_wait(child: &mut Child) -> (std::process::ExitStatus, Duration) {
    let asked = Instant::now();
    sigterm(child);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return (status, asked.elapsed());
        }
        assert!(
            asked.elapsed() < PATIENCE,
            "still running {PATIENCE:?} after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The binary with `args` in `dir`, under an open-file limit of `limit`.
pub fn with_open_file_limit(limit: u32, args: &[&str], dir: &Path) -> Command {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(r#"ulimit -n {limit} && exec "$0" "$@""#))
        .arg(env!("CARGO_BIN_EXE_hotreload"))
        .args(args)
        .env_remove("HOT_RELOAD_ENABLED")
        .current_dir(dir);
    cmd
}

/// Threads of process `pid` whose name starts with `prefix` (Linux keeps
/// the first 15 bytes of a name).
pub fn threads_named(pid: u32, prefix: &str) -> usize {
    let prefix = &prefix[..prefix.len().min(15)];
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|name| name.trim_end().starts_with(prefix))
        })
        .count()
}

/// The inodes of the directories a process's one inotify instance watches,
/// sorted: the `ino:` of each `inotify wd:` line in /proc/PID/fdinfo/FD.
pub fn watched_inodes(pid: u32) -> Vec<u64> {
    let mut instances = Vec::new();
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).expect("list fds");
    for fd in fds.flatten() {
        if !std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == "anon_inode:inotify") {
            continue;
        }
        let info = std::fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{}",
            fd.file_name().to_string_lossy()
        ))
        .expect("read fdinfo");
        let mut inodes: Vec<u64> = info
            .lines()
            .filter(|l| l.starts_with("inotify wd:"))
            .map(|l| {
                let hex = l
                    .split_whitespace()
                    .find_map(|f| f.strip_prefix("ino:"))
                    .unwrap_or_else(|| panic!("no ino in {l:?}"));
                u64::from_str_radix(hex, 16).expect("hex inode")
            })
            .collect();
        inodes.sort_unstable();
        instances.push(inodes);
    }
    assert_eq!(instances.len(), 1, "one inotify instance: {instances:?}");
    instances.pop().unwrap_or_default()
}

/// Waits until the process watches exactly the folders `rels` of `root`
/// ("" is `root` itself); fails naming the folders it watches instead.
pub fn wait_for_watches(pid: u32, root: &std::path::Path, rels: &[&str]) {
    use std::os::unix::fs::MetadataExt;
    let ino = |rel: &str| std::fs::metadata(root.join(rel)).expect("folder").ino();
    let mut want: Vec<u64> = rels.iter().map(|r| ino(r)).collect();
    want.sort_unstable();
    let deadline = Instant::now() + PATIENCE;
    let mut got = watched_inodes(pid);
    while got != want && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        got = watched_inodes(pid);
    }
    if got != want {
        // Name what is watched: every folder of the tree, by inode.
        let mut names = std::collections::BTreeMap::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let rel = dir.strip_prefix(root).unwrap_or(&dir).display().to_string();
            names.insert(ino(&rel), rel);
            for entry in std::fs::read_dir(&dir).expect("list").flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(entry.path());
                }
            }
        }
        let named: Vec<&str> = got
            .iter()
            .map(|i| names.get(i).map_or("(not in the tree)", String::as_str))
            .collect();
        panic!(
            "watching {} folders, not the {} of {rels:?}: {named:?}",
            got.len(),
            want.len()
        );
    }
}

/// Waits up to PATIENCE for `done`, checking every 20 ms.
pub fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The test backend (`tests/fixtures/backend.py`, run by python3), killed on drop.
pub struct Backend {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Backend {
    /// Starts `backend.py` on `port` (0: any), serving `static_dir` under `/static/`.
    pub fn start(static_dir: &Path, port: u16) -> Backend {
        Backend::start_on(static_dir, "127.0.0.1".parse().expect("an address"), port)
    }

    /// [`Backend::start`] on the address `ip`.
    pub fn start_on(static_dir: &Path, ip: std::net::Ipv4Addr, port: u16) -> Backend {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/backend.py");
        let (child, line) = start_ready(
            Command::new("python3")
                .arg(script)
                .args([
                    "--host",
                    &ip.to_string(),
                    "--port",
                    &port.to_string(),
                    "--static",
                ])
                .arg(static_dir)
                .stderr(Stdio::inherit()),
        );
        Backend {
            child,
            addr: ready_line_addr(&line),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed (and reaped) on drop, so a test that fails
/// midway leaves none behind.
pub struct Proc(pub Child);

impl std::ops::Deref for Proc {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Proc {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Two machines on one wire: network namespaces joined by a veth pair,
/// held by `sleep` processes. The server's end is 10.77.0.1/30, the
/// client's 10.77.0.2/30; the client's end can be pulled like a Wi-Fi
/// link, and no packet of it ever comes back.
pub struct Link {
    pub server_ns: Child,
    pub client_ns: Child,
    /// The veth end in the server's namespace.
    pub server_if: String,
    /// The veth end in the client's namespace.
    pub client_if: String,
}

impl Link {
    /// `None` (and a line why) where namespaces cannot be made; under CI
    /// that fails the test instead.
    pub fn new() -> Option<Link> {
        let tools = ["unshare", "nsenter", "ip"]
            .iter()
            .all(|t| Command::new(t).arg("--version").output().is_ok());
        let root = std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        });
        if !tools || !root {
            let why =
                "network namespaces need root and unshare, nsenter and ip (util-linux, iproute2)";
            assert!(std::env::var_os("CI").is_none(), "{why}");
            eprintln!("skipped: {why}");
            return None;
        }
        let holder = || {
            Command::new("unshare")
                .args(["-n", "sleep", "300"])
                .spawn()
                .expect("unshare -n")
        };
        // Unique per link, for tests in one process that each make one.
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = format!("{}x{n}", std::process::id() % 100_000);
        let link = Link {
            server_ns: holder(),
            client_ns: holder(),
            server_if: format!("hrs{id}"),
            client_if: format!("hrc{id}"),
        };
        // The namespaces exist once their sleep runs.
        assert!(wait_until(|| {
            let ns = |c: &Child| std::fs::read_link(format!("/proc/{}/ns/net", c.id())).ok();
            let own = std::fs::read_link("/proc/self/ns/net").ok();
            ns(&link.server_ns).is_some_and(|n| Some(&n) != own.as_ref())
                && ns(&link.client_ns).is_some_and(|n| Some(&n) != own.as_ref())
        }));
        run(Command::new("ip").args([
            "link",
            "add",
            &link.server_if,
            "netns",
            &link.server_ns.id().to_string(),
            "type",
            "veth",
            "peer",
            "name",
            &link.client_if,
            "netns",
            &link.client_ns.id().to_string(),
        ]));
        link.run_in(
            &link.server_ns,
            &format!(
                "ip link set lo up && ip addr add 10.77.0.1/30 dev {} && ip link set {} up",
                link.server_if, link.server_if
            ),
        );
        link.run_in(
            &link.client_ns,
            &format!(
                "ip link set lo up && ip addr add 10.77.0.2/30 dev {} && ip link set {} up",
                link.client_if, link.client_if
            ),
        );
        // The kernel marks a link running (carrier, operstate UP) a moment
        // after both ends are set up; until then it is not yet a network.
        for (holder, name) in [
            (&link.server_ns, &link.server_if),
            (&link.client_ns, &link.client_if),
        ] {
            assert!(
                wait_until(|| Link::enter(holder)
                    .args(["ip", "-o", "link", "show", "dev", name])
                    .output()
                    .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(" state UP "))),
                "{name} never came up"
            );
        }
        Some(link)
    }

    /// `nsenter` into the network namespace held by `holder`. It execs
    /// what it runs, so the child's id is the program's own.
    pub fn enter(holder: &Child) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.args(["-t", &holder.id().to_string(), "-n"]);
        cmd
    }

    /// Runs `script` (sh -c) in the namespace held by `holder`; fails the
    /// test if it fails.
    pub fn run_in(&self, holder: &Child, script: &str) {
        run(Link::enter(holder).args(["sh", "-c", script]));
    }

    /// The client's link goes down: from the server's side, the client
    /// vanished without a FIN or RST.
    pub fn pull(&self) {
        self.run_in(
            &self.client_ns,
            &format!("ip link set {} down", self.client_if),
        );
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // The namespaces, and the veth pair in them, go with their holders.
        for holder in [&mut self.server_ns, &mut self.client_ns] {
            let _ = holder.kill();
            let _ = holder.wait();
        }
    }
}

/// Runs `cmd` to its end; fails the test, with its stderr, if it fails.
fn run(cmd: &mut Command) {
    let out = cmd.output().expect("command runs");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
