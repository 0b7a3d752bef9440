//! The bench's own DevTools-protocol client: a headless Chromium in a
//! process group of its own, one page, and `Runtime.evaluate` over a
//! WebSocket (tungstenite), answers read as JSON through serde_yaml (JSON
//! is YAML). Threads: one that drains Chromium's stderr.
//!
//! Every read has a deadline, and dropping a [`Chromium`] kills its whole
//! process group, on error paths too.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, unbounded};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde_yaml::Value;
use tungstenite::{Message, WebSocket};

use hotreload::protocol::push_json_str;

use super::{Failed, TempTree, bench_error};

/// How long one DevTools call may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// How long Chromium may take to print its DevTools address.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long drop waits for the stderr thread once the group is killed; a
/// helper that left the group could keep the pipe open.
const STDERR_WAIT: Duration = Duration::from_secs(2);

/// What to do when there is no Chromium.
pub const INSTALL: &str =
    "install it (`apt-get install chromium`) or name it in the CHROMIUM environment variable";

/// The Chromium to run: `CHROMIUM` when set, else Debian's.
pub fn chromium_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A headless Chromium with one page, its process group killed on drop.
pub struct Chromium {
    child: Child,
    ws: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    stderr: Option<StderrThread>,
    /// The version, like `Chromium 156.0.8078.108`.
    pub version: String,
    // Dropped after the child is killed (fields drop in order, after `drop`).
    _profile: TempTree,
}

impl Chromium {
    /// Starts `exe` with a fresh profile in the system's temp folder (not
    /// the measured `--dir`) and opens one blank page.
    pub fn start(exe: &Path) -> Result<Chromium, Failed> {
        let profile = TempTree::new(&std::env::temp_dir(), "chromium")?;
        // Chromium keeps its singleton socket in TMPDIR and removes it only
        // on a clean exit; in the profile, it goes with the profile. Not
        // deeper: a socket's path holds at most 107 bytes, and Chromium
        // stops at once on a longer one.
        let mut child = Command::new(exe)
            .env("TMPDIR", &profile.0)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-breakpad",
                "--disable-sync",
                "--no-first-run",
                "--no-default-browser-check",
                // Keep timers and frames exact in a page nobody looks at.
                "--disable-background-timer-throttling",
                "--disable-renderer-backgrounding",
                "--disable-backgrounding-occluded-windows",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
            ])
            .arg(format!("--user-data-dir={}", profile.0.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so drop ends the renderers and helpers too.
            .process_group(0)
            .spawn()
            .map_err(|e| {
                bench_error(
                    format!("cannot start Chromium ({}): {e}", exe.display()),
                    INSTALL,
                )
            })?;
        let group = Pid::from_raw(child.id() as i32);
        // From here on, an error kills the group before returning.
        let kill = |child: &mut Child| {
            let _ = killpg(group, Signal::SIGKILL);
            let _ = child.wait();
        };
        let (lines, stderr) = match drain_stderr(&mut child) {
            Ok(x) => x,
            Err(e) => {
                kill(&mut child);
                return Err(e);
            }
        };
        let ws = match devtools_endpoint(&lines).and_then(|url| connect(&url)) {
            Ok(ws) => ws,
            Err(e) => {
                kill(&mut child);
                let _ = stderr.thread.join();
                return Err(e);
            }
        };
        let mut chromium = Chromium {
            child,
            ws,
            session: String::new(),
            next_id: 1,
            stderr: Some(stderr),
            version: String::new(),
            _profile: profile,
        };
        let version = chromium.call_on(None, "Browser.getVersion", "{}")?;
        // Headless Chromium calls itself `Chrome/156.0.8078.108`.
        let product = version["product"].as_str().unwrap_or_default();
        chromium.version = format!("Chromium {}", product.rsplit('/').next().unwrap_or("?"));
        let target = chromium.call_on(None, "Target.createTarget", r#"{"url":"about:blank"}"#)?;
        let target = target["targetId"].as_str().unwrap_or_default().to_string();
        let mut params = String::from(r#"{"flatten":true,"targetId":"#);
        push_json_str(&mut params, &target);
        params.push('}');
        let attached = chromium.call_on(None, "Target.attachToTarget", &params)?;
        chromium.session = attached["sessionId"].as_str().unwrap_or_default().into();
        Ok(chromium)
    }

    /// Sends the page to `url` (and returns once Chromium has started it).
    pub fn navigate(&mut self, url: &str) -> Result<(), Failed> {
        let mut params = String::from(r#"{"url":"#);
        push_json_str(&mut params, url);
        params.push('}');
        let session = self.session.clone();
        self.call_on(Some(&session), "Page.navigate", &params)?;
        Ok(())
    }

    /// Evaluates `expression` in the page, awaiting a promise, and returns
    /// its value; `Ok(None)` when the page threw or was navigating away.
    pub fn eval(&mut self, expression: &str) -> Result<Option<Value>, Failed> {
        let mut params = String::from(r#"{"returnByValue":true,"awaitPromise":true,"expression":"#);
        push_json_str(&mut params, expression);
        params.push('}');
        let session = self.session.clone();
        match self.send(Some(&session), "Runtime.evaluate", &params)? {
            Ok(result) if result.get("exceptionDetails").is_none() => {
                Ok(Some(result["result"]["value"].clone()))
            }
            // A page mid-navigation answers "context destroyed", and a
            // script that threw has exceptionDetails: both "not now".
            _ => Ok(None),
        }
    }

    /// One call, to the page of `session` or (`None`) the browser; an error
    /// answer is a failure.
    fn call_on(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: &str,
    ) -> Result<Value, Failed> {
        self.send(session, method, params)?.map_err(|error| {
            bench_error(
                format!("Chromium refused {method}: {}", compact(&error)),
                "run the Chromium named in the report by hand; CHROMIUM names another",
            )
        })
    }

    /// Sends one call and reads until its answer: `Err` inside is the
    /// protocol's error answer, `Err` outside a dead or silent browser.
    fn send(
        &mut self,
        session: Option<&str>,
        method: &str,
        params: &str,
    ) -> Result<Result<Value, Value>, Failed> {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = format!(r#"{{"id":{id},"method":"{method}","params":{params}"#);
        if let Some(session) = session {
            message.push_str(r#","sessionId":"#);
            push_json_str(&mut message, session);
        }
        message.push('}');
        let gone = |what: String| {
            bench_error(
                format!("Chromium {what} (during {method})"),
                "run the bench again; if it repeats, run Chromium by hand to see whether it starts",
            )
        };
        self.ws
            .send(Message::text(message))
            .map_err(|e| gone(format!("closed its DevTools connection: {e}")))?;
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            if Instant::now() > deadline {
                return Err(gone(format!("did not answer within {CALL_TIMEOUT:?}")));
            }
            let text = match self.ws.read() {
                Ok(Message::Text(text)) => text,
                Ok(_) => continue,
                Err(tungstenite::Error::Io(e))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue;
                }
                Err(e) => return Err(gone(format!("closed its DevTools connection: {e}"))),
            };
            // Events (none are enabled, but some come anyway) have no id.
            let Ok(value) = serde_yaml::from_str::<Value>(text.as_str()) else {
                continue;
            };
            if value["id"].as_u64() != Some(id) {
                continue;
            }
            return Ok(match value.get("error") {
                Some(error) => Err(error.clone()),
                None => Ok(value["result"].clone()),
            });
        }
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // The profile is thrown away, so nothing is lost by not asking
        // first: the whole group (browser, renderers, helpers) goes at once.
        let _ = killpg(Pid::from_raw(self.child.id() as i32), Signal::SIGKILL);
        let _ = self.child.wait();
        if let Some(stderr) = self.stderr.take()
            && stderr.done.recv_timeout(STDERR_WAIT).is_ok()
        {
            let _ = stderr.thread.join();
        }
    }
}

/// The thread that drains Chromium's stderr; `done` hears once it ends.
struct StderrThread {
    thread: JoinHandle<()>,
    done: Receiver<()>,
}

/// Chromium's stderr, line by line, from a thread that drains it to the
/// end, so Chromium never blocks on a full pipe.
fn drain_stderr(child: &mut Child) -> Result<(Receiver<String>, StderrThread), Failed> {
    let stderr = child
        .stderr
        .take()
        .ok_or_else(|| bench_error("Chromium's stderr could not be read", INSTALL))?;
    let (tx, lines) = unbounded();
    let (done_tx, done) = unbounded();
    let thread = thread::Builder::new()
        .name("bench-chromium-stderr".into())
        .spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // Nobody listens once the endpoint is known; keep draining.
                let _ = tx.send(line);
            }
            let _ = done_tx.send(());
        })
        .map_err(|e| bench_error(format!("cannot start a thread: {e}"), INSTALL))?;
    Ok((lines, StderrThread { thread, done }))
}

/// Reads Chromium's stderr until it names its DevTools WebSocket.
fn devtools_endpoint(lines: &Receiver<String>) -> Result<String, Failed> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut seen = Vec::new();
    let ended = loop {
        match lines.recv_deadline(deadline) {
            Ok(line) => {
                if let Some(at) = line.find("ws://") {
                    return Ok(line[at..].trim().to_string());
                }
                seen.push(line);
            }
            Err(RecvTimeoutError::Timeout) => {
                break format!("did not print its DevTools address within {START_TIMEOUT:?}");
            }
            Err(RecvTimeoutError::Disconnected) => {
                break "stopped before it printed its DevTools address".to_string();
            }
        }
    };
    Err(bench_error(
        format!("Chromium {ended}; it said: {}", seen.join(" | ")),
        INSTALL,
    ))
}

/// A plain WebSocket to DevTools, every read and write bounded.
fn connect(url: &str) -> Result<WebSocket<TcpStream>, Failed> {
    let failed = |e: String| {
        bench_error(
            format!("cannot connect to Chromium's DevTools at {url}: {e}"),
            "run the bench again",
        )
    };
    let host = url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .ok_or_else(|| failed("not a ws:// address".into()))?;
    let stream = TcpStream::connect(host).map_err(|e| failed(e.to_string()))?;
    // Reads wake every second to look at the call's deadline; the
    // handshake, local, takes far less.
    stream
        .set_write_timeout(Some(CALL_TIMEOUT))
        .and_then(|()| stream.set_read_timeout(Some(Duration::from_secs(1))))
        .map_err(|e| failed(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let (ws, _) = tungstenite::client::client(url, stream).map_err(|e| failed(e.to_string()))?;
    Ok(ws)
}

/// A protocol error answer, on one line.
fn compact(value: &Value) -> String {
    match value["message"].as_str() {
        Some(message) => message.to_string(),
        None => format!("{value:?}"),
    }
}
