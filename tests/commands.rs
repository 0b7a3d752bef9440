//! Build, run and test on change (SPEC.md section 10), with real commands
//! and a real app process under the real binary.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant, SystemTime};

use common::{
    PATIENCE, Ws, bin, changes, connect, next_message, ready_line_addr, sigterm_and_wait,
    start_ready, write,
};
use serde_json::Value;

/// The binary in `dir` with `args`, its stderr in `dir/../stderr.log`.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(dir: &Path, args: &[&str]) -> Server {
        let log = std::fs::File::create(dir.join("../stderr.log")).expect("log file");
        let (child, line) = start_ready(
            bin()
                .args(["serve", "site", "--port", "0", "--debounce", "50"])
                .args(args)
                .current_dir(dir)
                .stderr(log),
        );
        Server {
            addr: ready_line_addr(&line),
            child,
        }
    }

    /// A client that has read its `connected` message.
    fn client(&self) -> Ws {
        let mut ws = connect(self.addr, None).expect("connect");
        let hello = next_message(&mut ws, PATIENCE).expect("connected");
        assert_eq!(hello["type"], "connected");
        ws
    }
}

impl Drop for Server {
    /// SIGTERM, so that hotreload stops the commands it started, even
    /// when a test failed midway; SIGKILL if that does not end it.
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        common::sigterm(&self.child);
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A project: `site/index.html` served and watched, the rest beside it.
fn project() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("temp dir");
    std::fs::create_dir(root.path().join("work")).expect("mkdir");
    write(&root.path().join("work/site/index.html"), "<body>hi</body>");
    root
}

/// Messages until one satisfies `want`, failing with all of them.
fn until(ws: &mut Ws, what: &str, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE * 3;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let Some(msg) = next_message(ws, deadline - Instant::now()) else {
            break;
        };
        if want(&msg) {
            return msg;
        }
        seen.push(msg);
    }
    panic!("no {what}; got {seen:#?}");
}

fn is(kind: &str, state: &str) -> impl Fn(&Value) -> bool {
    let (kind, state) = (kind.to_string(), state.to_string());
    move |m: &Value| m["type"] == kind.as_str() && m["state"] == state.as_str()
}

fn file_changed(m: &Value) -> bool {
    m["type"] == "file_changed"
}

#[test]
fn a_failed_build_holds_the_batch_back_shows_its_output_and_a_success_sends_it() {
    let root = project();
    let work = root.path().join("work");
    // Fails, coloured and with markup in its output, until site/ok exists.
    let build = "echo compiling; test -e site/ok || { printf '\\033[31merror\\033[0m: <b>broken</b> \\377\\n' >&2; exit 2; }";
    let server = Server::start(&work, &["--build", build]);
    let mut ws = server.client();
    write(&work.join("site/index.html"), "<body>edited</body>");
    until(&mut ws, "a running build", is("build", "running"));
    let failed = until(&mut ws, "a failed build", is("build", "failed"));
    assert_eq!(failed["exit_code"], 2);
    assert_eq!(failed["command"], build);
    let output = failed["output"].as_str().expect("output");
    assert!(output.contains("compiling"), "{output}");
    assert!(
        output.contains("error: <b>broken</b> \u{fffd}"),
        "colours stay behind, bytes that are not UTF-8 show as such, markup is text: {output:?}"
    );
    // The batch was held back, and a page opened now sees the failure at once.
    let mut late = connect(server.addr, None).expect("connect");
    assert_eq!(
        next_message(&mut late, PATIENCE).expect("connected")["type"],
        "connected"
    );
    let pinned = next_message(&mut late, PATIENCE).expect("the failure");
    assert!(is("build", "failed")(&pinned), "{pinned}");
    // The fix: the next build succeeds, pages hear it, then the batch.
    write(&work.join("site/ok"), "");
    until(&mut ws, "a build that is ok again", is("build", "ok"));
    let batch = until(&mut ws, "the batch", file_changed);
    let paths: Vec<String> = changes(&batch).into_iter().map(|(p, _)| p).collect();
    assert!(paths.contains(&"site/ok".to_string()), "{batch}");
    let status = common::http(server.addr, &common::get("/api/v1/hotreload/status", &[]));
    let status: Value = serde_json::from_str(&status.2).expect("JSON");
    assert_eq!(status["commands"]["build"]["state"], "ok", "{status}");
    // And for people: the command as they wrote it, quotes and all.
    let shown = bin()
        .args(["status", "--url", &format!("http://{}/", server.addr)])
        .output()
        .expect("hotreload status runs");
    let shown = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.contains(&format!("build:     ok ({build}, exit code 0, at ")),
        "{shown}"
    );
}

#[test]
fn changes_during_a_build_make_exactly_one_more_run() {
    let root = project();
    let work = root.path().join("work");
    // Each run is logged outside the watched folder, and takes a while.
    let server = Server::start(&work, &["--build", "echo run >> ../runs.log; sleep 1"]);
    let mut ws = server.client();
    write(&work.join("site/a.css"), "a{}");
    until(&mut ws, "the build starting", is("build", "running"));
    // A burst while it builds.
    for i in 0..5 {
        write(&work.join(format!("site/b{i}.css")), "b{}");
        std::thread::sleep(Duration::from_millis(60));
    }
    let batch = until(&mut ws, "the batch", file_changed);
    let mut paths: Vec<String> = changes(&batch).into_iter().map(|(p, _)| p).collect();
    paths.sort();
    assert_eq!(
        paths,
        [
            "site/a.css",
            "site/b0.css",
            "site/b1.css",
            "site/b2.css",
            "site/b3.css",
            "site/b4.css"
        ],
        "one batch with every change"
    );
    let runs = std::fs::read_to_string(root.path().join("runs.log")).expect("runs");
    assert_eq!(runs.lines().count(), 2, "runs: {runs:?}");
    common::assert_quiet(&mut ws, Duration::from_millis(1500));
    let runs = std::fs::read_to_string(root.path().join("runs.log")).expect("runs");
    assert_eq!(runs.lines().count(), 2, "a third run: {runs:?}");
}

/// A loopback address no other test binds: 127.x.y.z, from the time and pid.
fn private_addr() -> SocketAddr {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let n = nanos ^ std::process::id().rotate_left(11);
    let ip = std::net::Ipv4Addr::new(
        127,
        1 + (n % 250) as u8,
        ((n >> 8) % 256) as u8,
        2 + ((n >> 16) % 250) as u8,
    );
    SocketAddr::new(ip.into(), 8000)
}

/// An app that takes `slow` seconds to start, then answers every GET
/// with the contents of `version.txt` as it was when it started.
const APP: &str = r#"
import http.server, os, sys, time
time.sleep(float(os.environ.get("SLOW", "1")))
version = open("version.txt").read().strip().encode()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(version)))
        self.end_headers()
        self.wfile.write(version)
    def log_message(self, *a):
        pass
print("app up", flush=True)
http.server.HTTPServer((sys.argv[1], int(sys.argv[2])), H).serve_forever()
"#;

fn get(addr: SocketAddr) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET / HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    out.split_once("\r\n\r\n").map(|(_, body)| body.to_string())
}

#[test]
fn the_app_restarts_on_change_and_pages_reload_only_once_it_answers() {
    let root = project();
    let work = root.path().join("work");
    let app = private_addr();
    write(&work.join("site/app.py"), APP);
    write(&work.join("version.txt"), "one");
    let run = format!(
        "SLOW=1 exec python3 site/app.py {} {}",
        app.ip(),
        app.port()
    );
    let ready = format!("http://{app}/");
    let server = Server::start(
        &work,
        &["--run", &run, "--restart-on", "*.py", "--ready-url", &ready],
    );
    let mut ws = server.client();
    assert!(
        common::wait_until(|| get(app).as_deref() == Some("one")),
        "the app never answered"
    );
    // A new version of the app: pages must not hear of it before it answers.
    write(&work.join("version.txt"), "two");
    let saved = Instant::now();
    write(&work.join("site/app.py"), &format!("{APP}\n# edited\n"));
    let batch = until(&mut ws, "the batch", file_changed);
    let took = saved.elapsed();
    assert_eq!(
        get(app).as_deref(),
        Some("two"),
        "the reload came before the new app answered"
    );
    eprintln!("save to reload with an app that takes 1 s to start: {took:?}");
    assert!(
        took >= Duration::from_secs(1),
        "{took:?}: before the app could be up"
    );
    assert_eq!(
        changes(&batch),
        vec![("site/app.py".into(), "modified".into())]
    );
    // A change that does not match restart_on leaves the app alone.
    write(&work.join("site/index.html"), "<body>again</body>");
    until(&mut ws, "the page batch", file_changed);
    assert_eq!(get(app).as_deref(), Some("two"));
}

#[test]
fn an_app_that_dies_shows_its_output_and_sigterm_leaves_no_process_behind() {
    let root = project();
    let work = root.path().join("work");
    // The app forks a child into its group (as servers do) and ignores
    // SIGTERM; it dies on its own when told to by a file.
    let run = "trap '' TERM; sleep 300 & while test ! -e site/die; do sleep 0.05; done; echo 'app: fatal: <out of cheese>' >&2; exit 7";
    write(
        &work.join("config.yaml"),
        "hot_reload:\n  stop_timeout_ms: 500\n",
    );
    let server = Server::start(
        &work,
        &[
            "--config",
            "config.yaml",
            "--run",
            run,
            "--restart-on",
            "*.sh",
        ],
    );
    let mut ws = server.client();
    write(&work.join("site/die"), "");
    let failed = until(&mut ws, "the app's failure", is("build", "failed"));
    assert_eq!(failed["source"], "run");
    assert_eq!(failed["exit_code"], 7);
    assert!(
        failed["output"]
            .as_str()
            .unwrap_or("")
            .contains("app: fatal: <out of cheese>"),
        "{failed}"
    );
    // Back: the next matching change starts it again.
    std::fs::remove_file(work.join("site/die")).expect("rm");
    write(&work.join("site/go.sh"), "");
    until(&mut ws, "it is ok again", is("build", "ok"));
    // The app's process group is the child of hotreload whose name is sh.
    let group = app_group(server.child.id()).expect("the app runs");
    let mut server = server;
    let (status, took) = sigterm_and_wait(&mut server.child);
    assert_eq!(status.code(), Some(0));
    eprintln!("SIGTERM with an app that ignores it: {took:?}");
    assert!(
        took < Duration::from_secs(3),
        "{took:?} with stop_timeout_ms 500"
    );
    let left = running_in_group(group);
    assert!(
        left.is_empty(),
        "left running after hotreload exited: {left:?}"
    );
}

/// The process group of hotreload's child process (the app's `sh`).
fn app_group(parent: u32) -> Option<i32> {
    std::fs::read_dir("/proc")
        .ok()?
        .flatten()
        .find_map(|entry| {
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let (_, after) = stat.rsplit_once(") ")?;
            let fields: Vec<&str> = after.split_whitespace().collect();
            (fields.get(1)? == &parent.to_string() && fields[0] != "Z")
                .then(|| fields.get(2)?.parse().ok())?
        })
}

/// The processes of `group` that still run (not zombies).
fn running_in_group(group: i32) -> Vec<String> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let (_, after) = stat.rsplit_once(") ")?;
            let fields: Vec<&str> = after.split_whitespace().collect();
            (fields.get(2)? == &group.to_string() && fields[0] != "Z").then(|| stat.clone())
        })
        .collect()
}

#[test]
fn tests_run_after_the_batch_and_say_how_they_went() {
    let root = project();
    let work = root.path().join("work");
    let test =
        "echo checking; test ! -e site/bad || { echo 'assertion failed: 1 == 2' >&2; exit 1; }";
    let server = Server::start(&work, &["--test", test]);
    let mut ws = server.client();
    write(&work.join("site/bad"), "");
    // The batch first: tests never hold it back.
    until(&mut ws, "the batch", file_changed);
    let failed = until(&mut ws, "failed tests", is("test", "failed"));
    assert_eq!(failed["exit_code"], 1);
    assert!(
        failed["output"]
            .as_str()
            .unwrap_or("")
            .contains("assertion failed"),
        "{failed}"
    );
    std::fs::remove_file(work.join("site/bad")).expect("rm");
    until(&mut ws, "the next batch", file_changed);
    let passed = until(&mut ws, "passing tests", is("test", "passed"));
    assert_eq!(passed["exit_code"], 0);
}

/// A server whose build does what `site/mode` says, with `timeout_ms`.
fn moody(work: &Path, timeout_ms: u64) -> Server {
    std::fs::write(work.join("site/mode"), "fine").expect("write");
    let build = "case $(cat site/mode) in \
        missing) no-such-command-here ;; \
        hang) sleep 60 ;; \
        flood) yes 'a line of output that goes on' | head -c 100000000; exit 1 ;; \
        *) true ;; esac";
    let config = format!(
        "hot_reload:\n  build_timeout_ms: {timeout_ms}\n  build: \"{}\"\n",
        build.replace('"', "\\\"")
    );
    write(&work.join("config.yaml"), &config);
    Server::start(work, &["--config", "config.yaml"])
}

#[test]
fn a_missing_or_hanging_build_gets_a_clear_failure_and_the_server_goes_on() {
    let root = project();
    let work = root.path().join("work");
    let server = moody(&work, 1500);
    let mut ws = server.client();
    let mode = |m: &str| write(&work.join("site/mode"), m);
    // Not there: the shell says so.
    mode("missing");
    let failed = until(&mut ws, "a missing command", is("build", "failed"));
    assert_eq!(failed["exit_code"], 127);
    assert!(
        failed["output"]
            .as_str()
            .unwrap_or("")
            .contains("not found"),
        "{failed}"
    );
    // Hangs: stopped after the timeout, and said so.
    mode("hang");
    let failed = until(&mut ws, "a build that hangs", is("build", "failed"));
    assert!(
        failed["output"]
            .as_str()
            .unwrap_or("")
            .contains("build_timeout_ms"),
        "{failed}"
    );
    // And all is well again.
    mode("fine");
    until(&mut ws, "ok", is("build", "ok"));
    until(&mut ws, "the batch", file_changed);
    let (code, _, _) = common::http(server.addr, &common::get("/", &[]));
    assert_eq!(code, 200);
}

#[test]
fn a_flood_of_output_keeps_its_last_200_lines_for_the_page() {
    let root = project();
    let work = root.path().join("work");
    let server = moody(&work, 600_000);
    let mut ws = server.client();
    let started = Instant::now();
    write(&work.join("site/mode"), "flood");
    let failed = until(&mut ws, "a flood", is("build", "failed"));
    eprintln!(
        "100 MB of build output passed on in {:?}",
        started.elapsed()
    );
    assert_eq!(failed["exit_code"], 1);
    let output = failed["output"].as_str().unwrap_or("");
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(
        lines.len(),
        200,
        "first {:?}, last {:?}",
        lines.first(),
        lines.last()
    );
    assert!(
        lines[..199]
            .iter()
            .all(|l| *l == "a line of output that goes on")
    );
    let (code, _, _) = common::http(server.addr, &common::get("/", &[]));
    assert_eq!(code, 200);
}
