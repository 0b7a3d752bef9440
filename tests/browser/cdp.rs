//! A small synchronous DevTools-protocol client: enough to drive headless
//! Chromium from a test (open a page, evaluate JavaScript, collect console
//! errors). It speaks CDP over tungstenite, which the crate already uses.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

/// How long one DevTools call may take before the test fails.
const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// Debian's Chromium, or the one `CHROMIUM` names.
pub fn chromium_path() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A headless Chromium with one page, killed on drop.
pub struct Browser {
    child: Child,
    ws: WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    events: VecDeque<Value>,
    /// Console errors and uncaught exceptions seen so far, as text.
    pub errors: Vec<String>,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium with a fresh profile and opens `url` in its page.
    pub fn open(url: &str) -> Browser {
        let exe = chromium_path().expect("chromium is installed (apt-get install chromium)");
        let profile = tempfile::tempdir().expect("profile dir");
        // Chromium keeps its singleton socket in a folder of TMPDIR and
        // removes it only on a clean exit; drop kills it, so that folder
        // goes inside the profile and is removed with it.
        let tmp = profile.path().join("tmp");
        std::fs::create_dir(&tmp).expect("tmp dir in the profile");
        let mut child = Command::new(exe)
            .env("TMPDIR", &tmp)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                // Keep timers exact in a page nobody looks at.
                "--disable-background-timer-throttling",
                "--disable-renderer-backgrounding",
                "--disable-backgrounding-occluded-windows",
                "--remote-debugging-port=0",
                "--remote-debugging-address=127.0.0.1",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so drop can end the renderers and
            // helpers too, not only the main process.
            .process_group(0)
            .spawn()
            .expect("chromium starts");
        let endpoint = devtools_endpoint(&mut child);
        let (ws, _) = tungstenite::connect(endpoint.as_str()).expect("connect to DevTools");
        if let tungstenite::stream::MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_millis(50)))
                .expect("timeout");
        }
        // connect() gives a MaybeTlsStream; rebuild over the plain stream.
        let ws = match ws.into_inner() {
            tungstenite::stream::MaybeTlsStream::Plain(stream) => {
                WebSocket::from_raw_socket(stream, tungstenite::protocol::Role::Client, None)
            }
            _ => panic!("DevTools over TLS?"),
        };
        let mut browser = Browser {
            child,
            ws,
            session: String::new(),
            next_id: 1,
            events: VecDeque::new(),
            errors: Vec::new(),
            _profile: profile,
        };
        browser.session = browser.open_page(url);
        browser
    }

    /// Opens `url` in another page (a tab of this browser) and returns its
    /// session; calls go to the page [`use_page`](Self::use_page) names.
    pub fn open_page(&mut self, url: &str) -> String {
        let target = self.call_browser("Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().expect("targetId").to_string();
        let attached = self.call_browser(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        let previous = std::mem::replace(
            &mut self.session,
            attached["sessionId"]
                .as_str()
                .expect("sessionId")
                .to_string(),
        );
        self.call("Runtime.enable", json!({}));
        self.call("Log.enable", json!({}));
        self.call("Page.enable", json!({}));
        self.call("Network.enable", json!({}));
        self.call("Page.navigate", json!({"url": url}));
        std::mem::replace(&mut self.session, previous)
    }

    /// Sends the next calls to the page of `session` (from
    /// [`open_page`](Self::open_page)), brought to the front: a page
    /// behind another takes no mouse or keyboard input.
    pub fn use_page(&mut self, session: &str) {
        self.session = session.to_string();
        self.call("Page.bringToFront", json!({}));
    }

    /// Clicks the middle of the element `selector` finds with the mouse,
    /// as a person does: a trusted event, unlike `element.click()`.
    pub fn click(&mut self, selector: &str) {
        let at = self.eval(&format!(
            "(() => {{ const e = document.querySelector({selector:?}); e.scrollIntoView({{block: 'center', behavior: 'instant'}}); const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; }})()"
        ));
        let (x, y) = (at[0].as_f64().expect("x"), at[1].as_f64().expect("y"));
        for kind in ["mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
            );
        }
    }

    /// Scrolls by `dy` pixels with a finger-like gesture, as a person does
    /// (trusted scroll events), over the visible part of `selector`: its
    /// middle, or for `body` the right of the window (where pages keep
    /// no scrolled box); returns once the gesture is done.
    pub fn scroll(&mut self, selector: &str, dy: f64) {
        let at = self.eval(&format!(
            "(() => {{ if ({selector:?} === 'body') return [innerWidth * 0.9, innerHeight / 2]; const r = document.querySelector({selector:?}).getBoundingClientRect(); const top = Math.max(0, r.top), bottom = Math.min(innerHeight, r.bottom); return [r.left + r.width / 2, (top + bottom) / 2]; }})()"
        ));
        let (x, y) = (at[0].as_f64().expect("x"), at[1].as_f64().expect("y"));
        self.call(
            "Input.synthesizeScrollGesture",
            json!({"x": x, "y": y, "yDistance": -dy, "speed": 3000}),
        );
    }

    /// Types `text` into the focused element, as a keyboard does.
    pub fn type_text(&mut self, text: &str) {
        self.call("Input.insertText", json!({"text": text}));
    }

    /// Presses and releases a key (`Enter`, `ArrowDown`) in the focused element.
    pub fn press(&mut self, key: &str, code: u32) {
        for kind in ["keyDown", "keyUp"] {
            let mut event =
                json!({"type": kind, "key": key, "code": key, "windowsVirtualKeyCode": code});
            if kind == "keyDown" && key == "Enter" {
                event["text"] = json!("\r");
            }
            self.call("Input.dispatchKeyEvent", event);
        }
    }

    /// A PNG of the page as it looks now.
    pub fn screenshot(&mut self) -> Vec<u8> {
        let shot = self.call("Page.captureScreenshot", json!({"format": "png"}));
        let data = shot["data"].as_str().expect("screenshot data");
        base64_decode(data)
    }

    /// Calls a DevTools method on the page; panics on a protocol error.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(Some(&session), method, params)
            .unwrap_or_else(|error| panic!("{method} failed: {error}"))
    }

    fn call_browser(&mut self, method: &str, params: Value) -> Value {
        self.send(None, method, params)
            .unwrap_or_else(|error| panic!("{method} failed: {error}"))
    }

    /// Sends one call and reads until its answer, noting events on the way.
    fn send(&mut self, session: Option<&str>, method: &str, params: Value) -> Result<Value, Value> {
        let id = self.next_id;
        self.next_id += 1;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.ws
            .send(Message::text(message.to_string()))
            .expect("send to DevTools");
        let deadline = Instant::now() + CALL_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(value) = crate::common::next_message(&mut self.ws, left) else {
                panic!(
                    "DevTools did not answer {method} within {CALL_TIMEOUT:?}, or closed its connection"
                );
            };
            if value["id"] == id {
                return match value.get("error") {
                    Some(error) => Err(error.clone()),
                    None => Ok(value["result"].clone()),
                };
            }
            self.note_event(value);
        }
    }

    fn note_event(&mut self, event: Value) {
        let params = &event["params"];
        match event["method"].as_str() {
            Some("Runtime.exceptionThrown") => {
                let details = &params["exceptionDetails"];
                let text = details["exception"]["description"]
                    .as_str()
                    .or(details["text"].as_str())
                    .unwrap_or("exception");
                self.errors.push(format!("exception: {text}"));
            }
            Some("Runtime.consoleAPICalled") if params["type"] == "error" => {
                let args: Vec<String> = params["args"]
                    .as_array()
                    .map(|a| a.iter().map(|v| v["value"].to_string()).collect())
                    .unwrap_or_default();
                self.errors
                    .push(format!("console.error: {}", args.join(" ")));
            }
            Some("Log.entryAdded") if params["entry"]["level"] == "error" => {
                let entry = &params["entry"];
                self.errors.push(format!(
                    "log: {} {}",
                    entry["text"].as_str().unwrap_or(""),
                    entry["url"].as_str().unwrap_or("")
                ));
            }
            _ => {}
        }
        self.events.push_back(event);
        if self.events.len() > 1000 {
            self.events.pop_front();
        }
    }

    /// Evaluates `expression` in the page (awaiting a promise) and returns its value.
    pub fn eval(&mut self, expression: &str) -> Value {
        let result = self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(details) = result.get("exceptionDetails") {
            panic!("{expression} threw: {details}");
        }
        result["result"]["value"].clone()
    }

    /// Like `eval`, but a page that is navigating (mid-reload) answers `None`.
    pub fn try_eval(&mut self, expression: &str) -> Option<Value> {
        let session = self.session.clone();
        let result = self
            .send(
                Some(&session),
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
            )
            .ok()?;
        if result.get("exceptionDetails").is_some() {
            return None;
        }
        Some(result["result"]["value"].clone())
    }

    /// Polls `expression` until it is truthy; panics with `what` after `within`.
    pub fn wait_for(&mut self, expression: &str, within: Duration, what: &str) -> Value {
        let deadline = Instant::now() + within;
        loop {
            if let Some(value) = self.try_eval(expression)
                && truthy(&value)
            {
                return value;
            }
            if Instant::now() > deadline {
                let state = self.try_eval(
                    "JSON.stringify({ready: document.readyState, url: location.href, client: window.hotReload ? window.hotReload.status() : null, resources: performance.getEntriesByType('resource').map(r => r.name), html: document.documentElement.outerHTML.slice(0, 2000), sheets: document.styleSheets.length})",
                );
                let net: Vec<String> = self
                    .events
                    .iter()
                    .filter(|e| {
                        e["method"]
                            .as_str()
                            .is_some_and(|m| m.starts_with("Network."))
                    })
                    .map(|e| {
                        format!(
                            "{} {} {} {}",
                            e["method"],
                            e["params"]["requestId"],
                            e["params"]["request"]["url"]
                                .as_str()
                                .or(e["params"]["response"]["url"].as_str())
                                .unwrap_or(""),
                            e["params"]["errorText"].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                panic!(
                    "waited {within:?} for {what} ({expression}); page: {state:?}; network: {net:#?}; console errors: {:?}",
                    self.errors
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the page has loaded and the hot-reload client is connected.
    pub fn wait_connected(&mut self, within: Duration) {
        self.wait_for(
            "document.readyState === 'complete' && !!window.hotReload && window.hotReload.status().connected",
            within,
            "the page to load and connect",
        );
    }

    /// Reads every event that has arrived, so `errors` is up to date.
    pub fn drain(&mut self) {
        self.eval("0");
    }
}

/// Standard base64, as DevTools sends screenshots (no dependency for it).
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let bytes: Vec<u8> = text.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let v: Vec<u32> = chunk.iter().map(|c| u32::from(value(*c))).collect();
        let n = v
            .iter()
            .enumerate()
            .fold(0, |n, (i, v)| n | v << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        _ => true,
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads Chromium's stderr until it names its DevTools WebSocket.
fn devtools_endpoint(child: &mut Child) -> String {
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                // Nobody listens any more; keep draining so Chromium never blocks on stderr.
                continue;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_deadline(deadline) {
        if let Some(at) = line.find("ws://") {
            return line[at..].trim().to_string();
        }
        seen.push(line);
    }
    panic!("chromium did not print its DevTools endpoint within 30 s; it said: {seen:#?}");
}
