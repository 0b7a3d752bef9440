//! The hot-reload routes on the host's tiny_http server: status, client
//! script, upgrade, and the dashboard's (history, sync, reload).
//!
//! Runs on whatever thread calls it (tiny_http's workers); an accepted
//! WebSocket is handed to the client hub, which starts its thread.

use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use tiny_http::{Header, ReadWrite, Request, Response, StatusCode};
use tungstenite::WebSocket;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, Role};

use crate::client;
use crate::config::Config;
use crate::dashboard::{self, DASHBOARD_HTML, DASHBOARD_PATH};
use crate::history::MAX_ENTRIES;
use crate::hub::{Dialect, Hub, NotRelayed, Refused, Visitor};
use crate::livereload::{self, LIVERELOAD_JS_PATH, LIVERELOAD_PATH};
use crate::protocol::push_json_str;
use crate::sync::{self, MAX_EVENT_BYTES};

/// The WebSocket endpoint.
pub const WS_PATH: &str = "/ws/hotreload";
/// The status endpoint (JSON).
pub const STATUS_PATH: &str = "/api/v1/hotreload/status";
/// Where the browser script is served.
pub const CLIENT_PATH: &str = "/static/js/hotreload.js";
/// The browser script, for hosts that serve it themselves.
pub const CLIENT_JS: &str = include_str!("../client/hotreload.js");
/// `GET ?limit=N`: the last batches, builds and tests, newest first (JSON).
pub const HISTORY_PATH: &str = "/api/v1/hotreload/history";
/// `POST`: a tab's sync event, replayed on the other tabs of its page.
pub const SYNC_PATH: &str = "/api/v1/hotreload/sync";
/// `POST`: switch sync on.
pub const SYNC_ON_PATH: &str = "/api/v1/hotreload/sync/on";
/// `POST`: switch sync off.
pub const SYNC_OFF_PATH: &str = "/api/v1/hotreload/sync/off";
/// `POST`: reload every tab.
pub const RELOAD_PATH: &str = "/api/v1/hotreload/reload";

/// The history route's `limit` when none is given.
const DEFAULT_HISTORY: usize = 100;

/// Every path the hot-reload routes answer.
const ROUTES: [&str; 12] = [
    WS_PATH,
    STATUS_PATH,
    CLIENT_PATH,
    LIVERELOAD_PATH,
    LIVERELOAD_JS_PATH,
    DASHBOARD_PATH,
    "/hotreload",
    HISTORY_PATH,
    SYNC_PATH,
    SYNC_ON_PATH,
    SYNC_OFF_PATH,
    RELOAD_PATH,
];

/// The routes that take a body (`POST`).
const POSTED: [&str; 4] = [SYNC_PATH, SYNC_ON_PATH, SYNC_OFF_PATH, RELOAD_PATH];

/// Answers the hot-reload routes. Cheap to clone; every clone serves the
/// same clients. Obtained from [`Manager::server`](crate::Manager::server).
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` when hot reload is disabled: every route is then absent (404).
    hub: Option<Arc<Hub>>,
    watch_dirs: Vec<String>,
    patterns: Vec<String>,
    debounce_ms: crate::config::Debounce,
    max_clients: usize,
    allowed_origins: Vec<String>,
    hosts: Hosts,
    started: Instant,
}

impl Server {
    pub(crate) fn new(config: &Config, hub: Option<Arc<Hub>>) -> Server {
        let watch_dirs = config
            .watch_dirs
            .iter()
            .map(|d| {
                if d.label.is_empty() {
                    ".".to_string()
                } else {
                    d.label.clone()
                }
            })
            .collect();
        Server {
            inner: Arc::new(Inner {
                hub,
                watch_dirs,
                patterns: config.patterns.clone(),
                debounce_ms: config.debounce_ms,
                max_clients: config.max_clients,
                allowed_origins: config
                    .allowed_origins
                    .iter()
                    .map(|o| normalize_origin(o))
                    .collect(),
                hosts: Hosts::new(config.host.as_deref(), &config.allowed_hosts),
                started: Instant::now(),
            }),
        }
    }

    /// Is hot reload on? When off, [`handle`](Self::handle) hands every request back.
    pub fn is_enabled(&self) -> bool {
        self.inner.hub.is_some()
    }

    /// Answers the request if its path is one of the hot-reload routes
    /// (SPEC.md sections 4 and 13) and returns `None`; otherwise hands it back for
    /// the host application to answer. When disabled, hands back everything.
    ///
    /// ```no_run
    /// # fn app(_: tiny_http::Request) {}
    /// # let manager = hotreload::Manager::new(hotreload::Config::default()).unwrap();
    /// let http = tiny_http::Server::http("127.0.0.1:0").unwrap();
    /// for request in http.incoming_requests() {
    ///     if let Some(request) = manager.server().handle(request) {
    ///         app(request);
    ///     }
    /// }
    /// ```
    pub fn handle(&self, mut request: Request) -> Option<Request> {
        let mut body = Vec::new();
        if let Some(limit) = self.body_limit(&request) {
            // One byte more than the limit tells a body that is too long.
            let read = request
                .as_reader()
                .take(limit as u64 + 1)
                .read_to_end(&mut body);
            if let Err(e) = read {
                log::debug!("[HotReload] could not read a request body: {e}");
                return None;
            }
        }
        let answer = self.route(&request, &body);
        self.answered(request, answer)
    }

    /// Answers a request that no route should see, and hands the rest back:
    /// a head of more than [`MAX_HEADERS`] headers or [`MAX_HEAD_BYTES`]
    /// gets 431; a `Host` that is not allowed gets 403 (SPEC.md section 4:
    /// a page on another site whose name was rebound to this machine's
    /// address must not read it). [`handle`](Self::handle) applies it to the
    /// hot-reload routes; the binary applies it to every request, and an
    /// application can to its own.
    ///
    /// Allowed hosts: loopback names (`localhost`, `*.localhost`), any IP
    /// address, the name the binary was bound to (`host`), and
    /// `allowed_hosts` (a leading `.` allows every subdomain; `all` turns
    /// the check off).
    pub fn guard(&self, request: Request) -> Option<Request> {
        let answer = self.screen(&request);
        self.answered(request, answer)
    }

    /// Sends `answer` if there is one; else hands the request back.
    fn answered(&self, request: Request, answer: Option<Answer>) -> Option<Request> {
        match answer {
            Some(answer) => {
                self.send(request, answer);
                None
            }
            None => Some(request),
        }
    }

    /// `GET /ws/hotreload`: checks the upgrade, the origin and the client
    /// limit, answers 101 and hands the socket to its own thread. Without an
    /// upgrade 426; a foreign origin 403; over `max_clients` 503.
    pub fn handle_websocket(&self, request: Request) {
        let answer = self.websocket(&request, Dialect::HotReload);
        self.send(request, answer);
    }

    /// `GET /api/v1/hotreload/status`: the JSON of SPEC.md section 4.
    pub fn handle_status(&self, request: Request) {
        let answer = self.status(&request);
        self.send(request, answer);
    }

    /// `GET /static/js/hotreload.js`: the browser script.
    pub fn handle_client_script(&self, request: Request) {
        let answer = self.client_script();
        self.send(request, answer);
    }

    /// How many bytes of body a route reads from `request`, when it is a
    /// `POST` to one of ours: read at most this many plus one (more is 413).
    pub(crate) fn body_limit(&self, request: &impl Asked) -> Option<usize> {
        let ours = POSTED.contains(&path_of(request));
        (self.is_enabled() && ours && request.method() == "POST").then_some(MAX_EVENT_BYTES)
    }

    /// What the hot-reload routes answer `request`, checked by [`screen`];
    /// `None` when its path is not theirs, or hot reload is disabled.
    /// `body` is what was read as [`body_limit`] says (empty for others).
    ///
    /// [`screen`]: Self::screen
    /// [`body_limit`]: Self::body_limit
    pub(crate) fn route(&self, request: &impl Asked, body: &[u8]) -> Option<Answer> {
        if !self.is_enabled() {
            return None;
        }
        let path = path_of(request);
        if !ROUTES.contains(&path) {
            return None;
        }
        if let Some(refused) = self.screen(request) {
            return Some(refused);
        }
        if POSTED.contains(&path) {
            return Some(self.posted(request, path, body));
        }
        let upgrade = matches!(path, WS_PATH | LIVERELOAD_PATH);
        if !upgrade && !matches!(request.method(), "GET" | "HEAD") {
            return Some(Answer::text(405, "use GET").with("Allow", "GET, HEAD"));
        }
        Some(match path {
            WS_PATH => self.websocket(request, Dialect::HotReload),
            LIVERELOAD_PATH => self.websocket(request, Dialect::LiveReload),
            STATUS_PATH => self.status(request),
            HISTORY_PATH => self.history(request),
            DASHBOARD_PATH => Answer::Reply {
                status: 200,
                headers: vec![
                    ("Content-Type", "text/html; charset=utf-8".into()),
                    ("Cache-Control", "no-cache".into()),
                ],
                body: DASHBOARD_HTML.as_bytes().to_vec(),
            },
            "/hotreload" => Answer::text(301, format!("the dashboard is at {DASHBOARD_PATH}"))
                .with("Location", DASHBOARD_PATH),
            _ => self.client_script(),
        })
    }

    /// The `POST` routes: from a page of this server (or a tool that sends
    /// no `Origin`), never from another site's page.
    fn posted(&self, request: &impl Asked, path: &str, body: &[u8]) -> Answer {
        let Some(hub) = &self.inner.hub else {
            return Answer::text(404, "hot reload is disabled");
        };
        if request.method() != "POST" {
            return Answer::text(405, "use POST").with("Allow", "POST");
        }
        let origin = request.header("Origin");
        if let Some(origin) = origin.as_deref() {
            let host = request.header("Host");
            if !same_origin(origin, host.as_deref(), &self.inner.allowed_origins) {
                log::warn!("[HotReload] refused a POST to {path} from origin {origin}");
                return Answer::text(
                    403,
                    format!(
                        "origin {origin} may not {}; only pages of this server may (add it to hot_reload.allowed_origins to allow it)",
                        if path == SYNC_PATH {
                            "send sync events"
                        } else {
                            "use the dashboard's actions"
                        }
                    ),
                );
            }
        }
        if body.len() > MAX_EVENT_BYTES {
            return Answer::text(
                413,
                format!("the body is over {} KiB", MAX_EVENT_BYTES / 1024),
            );
        }
        match path {
            RELOAD_PATH => {
                let seq = hub.broadcast(Vec::new()).map_or(0, |b| b.seq);
                Answer::json(format!(r#"{{"seq":{seq}}}"#))
            }
            SYNC_ON_PATH | SYNC_OFF_PATH => {
                hub.set_sync(path == SYNC_ON_PATH);
                Answer::json(format!(r#"{{"sync":{}}}"#, hub.snapshot().sync))
            }
            _ => {
                let event = match sync::Event::parse(body) {
                    Ok(event) => event,
                    Err(why) => return Answer::text(400, why),
                };
                match hub.relay(&event) {
                    Ok(sent) => Answer::json(format!(r#"{{"sent":{sent}}}"#)),
                    Err(NotRelayed::Off) => Answer::text(
                        409,
                        "sync is off; switch it on at /hotreload/ or start with --sync",
                    ),
                    Err(NotRelayed::UnknownSender) => Answer::text(
                        404,
                        format!(
                            "no tab with id {} is connected; `from` is the id of the tab's `connected` message",
                            event.from
                        ),
                    ),
                    Err(NotRelayed::TooMany) => {
                        Answer::text(429, "too many sync events from this tab; slow down")
                            .with("Retry-After", "1")
                    }
                }
            }
        }
    }

    /// `GET /api/v1/hotreload/history?limit=N`.
    fn history(&self, request: &impl Asked) -> Answer {
        let Some(hub) = &self.inner.hub else {
            return Answer::text(404, "hot reload is disabled");
        };
        let limit = match query_value(request.url(), "limit") {
            None => DEFAULT_HISTORY,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_ENTRIES).contains(&n) => n,
                _ => {
                    return Answer::text(
                        400,
                        format!(
                            "limit must be a whole number from 1 to {MAX_ENTRIES}, not {text:?} (the default is {DEFAULT_HISTORY})"
                        ),
                    );
                }
            },
        };
        Answer::json(hub.history_json(limit))
    }

    /// What the LiveReload port (`livereload_port`) answers: `/livereload`
    /// and `/livereload.js`, and 404 for everything else.
    pub(crate) fn route_livereload_port(&self, request: &impl Asked) -> Answer {
        let path = request.url().split(['?', '#']).next().unwrap_or("");
        let routed = match path {
            LIVERELOAD_PATH | LIVERELOAD_JS_PATH => self.route(request, &[]),
            _ => self.screen(request),
        };
        routed.unwrap_or_else(|| {
            Answer::text(
                404,
                "this is hotreload's LiveReload port: it serves only /livereload and /livereload.js",
            )
        })
    }

    /// The refusal of [`guard`](Self::guard) for `request`, if it gets one.
    pub(crate) fn screen(&self, request: &impl Asked) -> Option<Answer> {
        if let Some(why) = oversized(request) {
            return Some(Answer::text(431, why));
        }
        let host = request.header("Host");
        if self.inner.hosts.allow(host.as_deref()) {
            return None;
        }
        let shown = host.unwrap_or_default();
        log::warn!(
            "[HotReload] refused a request for host {shown:?} (add it to allowed_hosts, or pass --allow-host, to let it in)"
        );
        Some(Answer::text(
            403,
            format!(
                "host {shown:?} is not allowed here (a guard against DNS rebinding); add it to hot_reload.allowed_hosts or pass --allow-host {}",
                host_name(&shown)
            ),
        ))
    }

    fn websocket(&self, request: &impl Asked, dialect: Dialect) -> Answer {
        let Some(hub) = &self.inner.hub else {
            return Answer::text(404, "hot reload is disabled");
        };
        if request.method() != "GET" {
            return Answer::text(405, "use GET with a WebSocket upgrade").with("Allow", "GET");
        }
        let upgrade = request.header("Upgrade").unwrap_or_default();
        let connection = request.header("Connection").unwrap_or_default();
        if !upgrade.eq_ignore_ascii_case("websocket")
            || !connection.to_ascii_lowercase().contains("upgrade")
        {
            // tiny_http drops `Upgrade` and `Connection` from responses,
            // so the body says what the 426 means.
            return Answer::text(
                426,
                match dialect {
                    Dialect::HotReload | Dialect::Dashboard => {
                        "this is the hot-reload WebSocket endpoint: connect with a WebSocket client (the page script /static/js/hotreload.js does)"
                    }
                    Dialect::LiveReload => {
                        "this is the LiveReload WebSocket endpoint: connect with a LiveReload client (the page script /livereload.js does)"
                    }
                },
            );
        }
        if request.header("Sec-WebSocket-Version").as_deref() != Some("13") {
            return Answer::text(
                426,
                "unsupported WebSocket version: this server speaks version 13",
            )
            .with("Sec-WebSocket-Version", "13");
        }
        let key = request.header("Sec-WebSocket-Key").unwrap_or_default();
        if !is_websocket_key(&key) {
            return Answer::text(400, "missing or malformed Sec-WebSocket-Key header");
        }
        let origin = request.header("Origin");
        let host = request.header("Host");
        if !origin_allowed(
            origin.as_deref(),
            host.as_deref(),
            &self.inner.allowed_origins,
        ) {
            let shown = origin.unwrap_or_default();
            log::warn!(
                "[HotReload] refused a WebSocket from origin {shown} (add it to allowed_origins to let it in)"
            );
            return Answer::text(
                403,
                format!(
                    "origin {shown} may not connect; add it to hot_reload.allowed_origins to allow it"
                ),
            );
        }
        if hub.has_room().is_err() {
            return Answer::text(
                503,
                format!(
                    "too many hot-reload clients (max_clients is {})",
                    self.inner.max_clients
                ),
            )
            .with("Retry-After", "5");
        }
        let url = request.url();
        let dialect = match query_value(url, "dashboard") {
            Some(_) if dialect == Dialect::HotReload => Dialect::Dashboard,
            _ => dialect,
        };
        let visitor = Visitor {
            page: query_value(url, "page")
                .filter(|p| p.starts_with('/') && p.len() <= 4096)
                .unwrap_or_default(),
            browser: dashboard::browser_name(&request.header("User-Agent").unwrap_or_default()),
        };
        Answer::Upgrade {
            accept: tungstenite::handshake::derive_accept_key(key.as_bytes()),
            dialect,
            visitor,
        }
    }

    fn status(&self, _request: &impl Asked) -> Answer {
        if self.inner.hub.is_none() {
            return Answer::text(404, "hot reload is disabled");
        }
        Answer::json(self.status_json())
    }

    fn client_script(&self) -> Answer {
        if self.inner.hub.is_none() {
            return Answer::text(404, "hot reload is disabled");
        }
        Answer::Reply {
            status: 200,
            headers: vec![
                (
                    "Content-Type",
                    "application/javascript; charset=utf-8".into(),
                ),
                ("Cache-Control", "no-cache".into()),
            ],
            body: CLIENT_JS.as_bytes().to_vec(),
        }
    }

    /// Sends `answer` to a tiny_http request.
    fn send(&self, request: Request, answer: Answer) {
        match answer {
            Answer::Reply {
                status,
                headers,
                body,
            } => {
                let mut response = Response::from_data(body).with_status_code(StatusCode(status));
                for (name, value) in &headers {
                    response.add_header(header(name, value));
                }
                respond(request, response);
            }
            Answer::Upgrade {
                accept,
                dialect,
                visitor,
            } => {
                let response =
                    Response::empty(101).with_header(header("Sec-WebSocket-Accept", &accept));
                self.take_socket(request.upgrade("websocket", response), dialect, visitor);
            }
        }
    }

    /// Hands an upgraded connection (its 101 sent) to the hub, which starts
    /// its thread; refused when full or closing, with a close frame saying so.
    /// A LiveReload client first says hello, on the calling thread, so that
    /// until then it is the caller's to shut down and is not counted.
    pub(crate) fn take_socket(
        &self,
        stream: Box<dyn ReadWrite + Send>,
        dialect: Dialect,
        visitor: Visitor,
    ) {
        let Some(hub) = &self.inner.hub else { return };
        let mut socket =
            WebSocket::from_raw_socket(stream, Role::Server, Some(client::socket_config()));
        if dialect == Dialect::LiveReload {
            let deadline = Instant::now() + livereload::HANDSHAKE_TIMEOUT;
            if let Err(why) = livereload::handshake(&mut socket, deadline) {
                log::debug!("[HotReload] LiveReload client: {why}");
                return;
            }
        }
        if let Err((why, mut socket)) = hub.connect(socket, dialect, visitor) {
            // Lost a race for the last place, or shutting down: say so in the protocol.
            let code = match why {
                Refused::Closed => CloseCode::Away,
                Refused::Full | Refused::NoThread => CloseCode::Again,
            };
            let _ = socket.close(Some(CloseFrame {
                code,
                reason: "try again".into(),
            }));
            let _ = socket.flush();
        }
    }

    /// WebSocket clients connected now.
    pub fn connected_clients(&self) -> usize {
        self.inner.hub.as_ref().map_or(0, |h| h.snapshot().clients)
    }

    /// The status document the status route answers with.
    pub fn status_json(&self) -> String {
        let inner = &self.inner;
        let snapshot = inner.hub.as_ref().map(|h| h.snapshot());
        let mut out = String::with_capacity(512);
        out.push_str(&format!(
            "{{\"enabled\":{},\"connected_clients\":{},\"livereload_clients\":{},\"watch_dirs\":",
            inner.hub.is_some(),
            snapshot.as_ref().map_or(0, |s| s.clients),
            snapshot.as_ref().map_or(0, |s| s.livereload)
        ));
        push_json_list(&mut out, &inner.watch_dirs);
        out.push_str(",\"patterns\":");
        push_json_list(&mut out, &inner.patterns);
        out.push_str(&format!(
            ",\"debounce_ms\":{},\"max_clients\":{},\"changes\":{},\"last_change\":",
            // As the config writes it: `"auto"` or the milliseconds.
            match inner.debounce_ms {
                crate::config::Debounce::Auto => "\"auto\"".to_string(),
                crate::config::Debounce::Ms(ms) => ms.to_string(),
            },
            inner.max_clients,
            snapshot.as_ref().map_or(0, |s| s.seq)
        ));
        match snapshot.as_ref().and_then(|s| s.last.as_ref()) {
            Some(last) => {
                out.push_str(&format!(
                    "{{\"seq\":{},\"timestamp\":{},\"paths\":",
                    last.seq, last.timestamp
                ));
                let paths: Vec<String> = last
                    .changes
                    .iter()
                    .take(crate::protocol::MAX_CHANGES_PER_MESSAGE)
                    .map(|c| c.path.clone())
                    .collect();
                push_json_list(&mut out, &paths);
                out.push_str(&format!(",\"count\":{}}}", last.changes.len()));
            }
            None => out.push_str("null"),
        }
        out.push_str(",\"commands\":{");
        for (i, report) in snapshot.iter().flat_map(|s| &s.commands).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&format!(
                "\"{}\":{}",
                report.kind.as_str(),
                report.status_json()
            ));
        }
        out.push_str(&format!(
            "}},\"sync\":{},\"tabs\":{}",
            snapshot.as_ref().is_some_and(|s| s.sync),
            inner.hub.as_ref().map_or("[]".into(), |h| h.tabs_json())
        ));
        out.push_str(",\"server_id\":");
        push_json_str(&mut out, inner.hub.as_ref().map_or("", |h| h.server_id()));
        out.push_str(&format!(
            ",\"uptime_secs\":{},\"version\":\"{}\"}}",
            inner.started.elapsed().as_secs(),
            env!("CARGO_PKG_VERSION")
        ));
        out
    }
}

fn push_json_list(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_json_str(out, item);
    }
    out.push(']');
}

fn respond<R: std::io::Read>(request: Request, response: Response<R>) {
    // Every body here has a known length: send it, rather than the chunks
    // tiny_http switches to past 32 KiB, which simple clients print raw.
    let response = response.with_chunked_threshold(usize::MAX);
    if let Err(e) = request.respond(response) {
        log::debug!("[HotReload] could not answer a request: {e}");
    }
}

/// A header from names and values we write ourselves.
fn header(name: &str, value: &str) -> Header {
    // Our names and values are ASCII without line breaks, which is all
    // `from_bytes` checks for; the accept key is base64.
    Header::from_bytes(name.as_bytes(), value.as_bytes())
        .expect("header names and values here are plain ASCII")
}

/// A `Sec-WebSocket-Key` is 16 bytes in base64: 22 characters and `==`.
fn is_websocket_key(key: &str) -> bool {
    let b = key.as_bytes();
    b.len() == 24
        && b[..22]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        && b[22..] == *b"=="
}

/// A request as the routes see it, whichever HTTP front read it.
pub(crate) trait Asked {
    /// `GET`, `HEAD`, ...
    fn method(&self) -> &str;
    /// The request target as sent: path and query.
    fn url(&self) -> &str;
    /// The first header of that name (any case), trimmed.
    fn header(&self, name: &str) -> Option<String>;
    /// How many headers, and the bytes of the request line and headers.
    fn head_size(&self) -> (usize, usize);
}

impl Asked for Request {
    fn method(&self) -> &str {
        self.method().as_str()
    }
    fn url(&self) -> &str {
        self.url()
    }
    fn header(&self, name: &str) -> Option<String> {
        self.headers()
            .iter()
            .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str().trim().to_string())
    }
    fn head_size(&self) -> (usize, usize) {
        let headers = self.headers();
        let bytes = self.url().len()
            + headers
                .iter()
                .map(|h| h.field.as_str().as_str().len() + h.value.as_str().len() + 4)
                .sum::<usize>();
        (headers.len(), bytes)
    }
}

/// What a route answers.
pub(crate) enum Answer {
    /// A whole response.
    Reply {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
    /// `101 Switching Protocols` with this `Sec-WebSocket-Accept`; the
    /// connection then goes to [`Server::take_socket`].
    Upgrade {
        accept: String,
        dialect: Dialect,
        visitor: Visitor,
    },
}

impl Answer {
    /// A one-line plain-text answer.
    pub(crate) fn text(status: u16, message: impl Into<String>) -> Answer {
        let mut body = message.into();
        body.push('\n');
        Answer::Reply {
            status,
            headers: vec![
                ("Content-Type", "text/plain; charset=utf-8".into()),
                ("Cache-Control", "no-cache".into()),
            ],
            body: body.into_bytes(),
        }
    }

    /// A JSON answer (status, history, the dashboard's actions).
    fn json(body: String) -> Answer {
        Answer::Reply {
            status: 200,
            headers: vec![
                ("Content-Type", "application/json".into()),
                ("Cache-Control", "no-cache".into()),
            ],
            body: body.into_bytes(),
        }
    }

    /// The same answer with one more header.
    fn with(mut self, name: &'static str, value: &str) -> Answer {
        if let Answer::Reply { headers, .. } = &mut self {
            headers.push((name, value.to_string()));
        }
        self
    }
}

/// At most this many request headers; more get 431.
pub const MAX_HEADERS: usize = 100;

/// At most this many bytes of request line and headers; more get 431.
///
/// tiny_http reads a whole request head before handing it over, so this
/// bounds what reaches a route, not what tiny_http buffers: its read
/// timeout ends a head that trickles, but one sent fast is read whole.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Why a request head is over the limits, if it is.
fn oversized(request: &impl Asked) -> Option<String> {
    let (headers, bytes) = request.head_size();
    if headers > MAX_HEADERS {
        Some(format!(
            "request header fields too large: {headers} headers, at most {MAX_HEADERS} are read"
        ))
    } else if bytes > MAX_HEAD_BYTES {
        Some(format!(
            "request header fields too large: {} KiB, at most {} KiB are read",
            bytes / 1024,
            MAX_HEAD_BYTES / 1024
        ))
    } else {
        None
    }
}

/// The host names a request may name in its `Host` header.
struct Hosts {
    /// `all` was listed: no check.
    any: bool,
    /// Lowercased names; a leading `.` matches subdomains too.
    names: Vec<String>,
}

impl Hosts {
    fn new(bound: Option<&str>, allowed: &[String]) -> Hosts {
        let any = allowed.iter().any(|h| h.trim().eq_ignore_ascii_case("all"));
        let names = bound
            .into_iter()
            .chain(allowed.iter().map(String::as_str))
            .map(|h| {
                let h = h.trim();
                match h.strip_prefix('.') {
                    Some(domain) => format!(".{}", host_name(domain)),
                    None => host_name(h),
                }
            })
            .filter(|h| !h.is_empty() && h != ".")
            .collect();
        Hosts { any, names }
    }

    /// SPEC.md section 4. No `Host` at all is not a browser (HTTP/1.0 tools).
    fn allow(&self, host: Option<&str>) -> bool {
        let Some(host) = host.filter(|h| !h.trim().is_empty()) else {
            return true;
        };
        if self.any {
            return true;
        }
        let name = host_name(host);
        name == "localhost"
            || name.ends_with(".localhost")
            || name.parse::<std::net::IpAddr>().is_ok()
            || self
                .names
                .iter()
                .any(|allowed| match allowed.strip_prefix('.') {
                    Some(domain) => name == domain || name.ends_with(allowed.as_str()),
                    None => name == *allowed,
                })
    }
}

/// The path of a request target, without query or fragment.
fn path_of(request: &impl Asked) -> &str {
    request.url().split(['?', '#']).next().unwrap_or("")
}

/// The first value of `name` in a target's query, percent-decoded; an
/// undecodable value counts as absent.
fn query_value(target: &str, name: &str) -> Option<String> {
    let query = target.split('#').next()?.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| percent_decode(value)).flatten()
    })
}

/// `%2F` and `+` decoded; `None` for a broken escape or bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// A `POST`'s origin is this server (its `Host`, port included), or listed
/// in `allowed_origins`.
fn same_origin(origin: &str, host: Option<&str>, allowed: &[String]) -> bool {
    let normalized = normalize_origin(origin);
    if allowed.contains(&normalized) {
        return true;
    }
    let authority = normalized.split_once("://").map_or("", |(_, a)| a);
    match host {
        Some(host) => !authority.is_empty() && authority == host.trim().to_ascii_lowercase(),
        None => false,
    }
}

/// Lowercases and drops a trailing `/`, so `http://Example.com:3000/` and
/// `http://example.com:3000` compare equal.
fn normalize_origin(origin: &str) -> String {
    origin.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// The host name of `host[:port]` or `[v6]:port`, lowercased, without a
/// trailing dot.
fn host_name(authority: &str) -> String {
    let authority = authority.trim().to_ascii_lowercase();
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else if authority.matches(':').count() > 1 {
        // A bare IPv6 address has no port.
        authority.as_str()
    } else {
        authority
            .rsplit_once(':')
            .map_or(authority.as_str(), |(h, _)| h)
    };
    host.trim_end_matches('.').to_string()
}

/// Does `authority` name this machine: `localhost`, `*.localhost`,
/// `127.0.0.0/8` or `::1`?
fn is_loopback(authority: &str) -> bool {
    let host = host_name(authority);
    host == "localhost"
        || host.ends_with(".localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// [`host_name`] with the loopback names folded into one, for comparing origins.
fn same_host(authority: &str) -> String {
    let host = host_name(authority);
    match host.as_str() {
        "localhost" | "127.0.0.1" | "::1" => "localhost".to_string(),
        _ => host,
    }
}

/// SPEC.md sections 4 and 9: no `Origin` (not a browser), the page's host
/// name equal to the `Host` header's, both on this machine (a page served
/// by an app on another local port, which loads the script from
/// `hotreload watch`), or an origin listed in `allowed_origins`.
pub(crate) fn origin_allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin else { return true };
    let normalized = normalize_origin(origin);
    if allowed.contains(&normalized) {
        return true;
    }
    if normalized == "null" {
        return false;
    }
    let Some((_, authority)) = normalized.split_once("://") else {
        return false;
    };
    let authority = authority.split('/').next().unwrap_or("");
    match host {
        Some(host) => {
            !authority.is_empty()
                && (same_host(authority) == same_host(host)
                    || (is_loopback(authority) && is_loopback(host)))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let allowed = vec!["http://dev.example:3000".to_string(), "null".to_string()];
        // (origin, host, allowed?)
        let rows: &[(Option<&str>, Option<&str>, bool)] = &[
            (None, Some("127.0.0.1:8080"), true),
            (Some("http://127.0.0.1:8080"), Some("127.0.0.1:8080"), true),
            (Some("http://localhost:3000"), Some("127.0.0.1:8080"), true),
            (Some("http://[::1]:8080"), Some("localhost:8080"), true),
            (Some("http://LOCALHOST:8080"), Some("localhost"), true),
            (Some("http://evil.example"), Some("127.0.0.1:8080"), false),
            (
                Some("http://127.0.0.1.evil.example"),
                Some("127.0.0.1:8080"),
                false,
            ),
            (
                Some("http://dev.example:3000"),
                Some("127.0.0.1:8080"),
                true,
            ),
            (
                Some("http://dev.example:3000/"),
                Some("127.0.0.1:8080"),
                true,
            ),
            (
                Some("http://dev.example:3001"),
                Some("127.0.0.1:8080"),
                false,
            ),
            (Some("null"), Some("127.0.0.1:8080"), true),
            (Some("garbage"), Some("127.0.0.1:8080"), false),
            (
                Some("http://192.168.1.5:8080"),
                Some("192.168.1.5:8080"),
                true,
            ),
            // A phone on the LAN (SPEC.md section 13): the page's address
            // is the Host it asks; another machine's is not.
            (
                Some("http://[2001:db8::20]:8080"),
                Some("[2001:db8::20]:8080"),
                true,
            ),
            (
                Some("http://192.168.1.6:8080"),
                Some("192.168.1.5:8080"),
                false,
            ),
            (Some("http://127.0.0.1:8080"), None, false),
            // A local app's page, and the script from `hotreload watch`.
            (
                Some("http://app.localhost:3000"),
                Some("127.0.0.1:8080"),
                true,
            ),
            (Some("http://127.0.0.2:3000"), Some("localhost:35729"), true),
            (
                Some("http://app.localhost:3000"),
                Some("192.168.1.5:8080"),
                false,
            ),
        ];
        for (origin, host, want) in rows {
            assert_eq!(
                origin_allowed(*origin, *host, &allowed),
                *want,
                "origin {origin:?} host {host:?}"
            );
        }
        assert!(!origin_allowed(Some("null"), Some("localhost"), &[]));
    }

    #[test]
    fn hosts() {
        let hosts = Hosts::new(
            Some("devbox"),
            &["app.test".to_string(), ".preview.test".to_string()],
        );
        // (Host header, allowed?)
        let rows: &[(Option<&str>, bool)] = &[
            (None, true),
            (Some(""), true),
            (Some("localhost"), true),
            (Some("LOCALHOST:8080"), true),
            (Some("localhost."), true),
            (Some("app.localhost:3000"), true),
            (Some("127.0.0.1:8080"), true),
            (Some("127.8.9.10"), true),
            (Some("[::1]:8080"), true),
            (Some("192.168.1.20:8080"), true),
            (Some("[fe80::1]:8080"), true),
            (Some("[2001:db8::20]:8080"), true),
            (Some("10.77.0.1:40000"), true),
            (Some("devbox:8080"), true),
            (Some("app.test"), true),
            (Some("app.test:9000"), true),
            (Some("preview.test"), true),
            (Some("a.b.preview.test"), true),
            (Some("evil.example"), false),
            (Some("evil.example:8080"), false),
            (Some("localhost.evil.example"), false),
            (Some("127.0.0.1.nip.io"), false),
            (Some("notpreview.test"), false),
            (Some("app.test.evil"), false),
        ];
        for (host, want) in rows {
            assert_eq!(hosts.allow(*host), *want, "Host {host:?}");
        }
        assert!(Hosts::new(None, &["ALL".to_string()]).allow(Some("evil.example")));
        assert!(!Hosts::new(None, &[]).allow(Some("devbox")));
    }

    #[test]
    fn websocket_keys() {
        assert!(is_websocket_key("dGhlIHNhbXBsZSBub25jZQ=="));
        assert!(!is_websocket_key(""));
        assert!(!is_websocket_key("dGhlIHNhbXBsZSBub25jZQ"));
        assert!(!is_websocket_key("dGhlIHNhbXBsZSBub25jZQ!="));
    }
}
