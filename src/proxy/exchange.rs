//! One browser connection in proxy mode: its requests one after another,
//! each answered by a hot-reload route or by the backend, until it closes;
//! or a WebSocket tunneled to the backend.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::Shared;
use super::pages;
use super::rewrite;
use super::wire::{self, Body, Framed, Framing, HeadError, Header, RequestHead, ResponseHead};
use crate::serve::files::inject_script;
use crate::server::{Answer, Asked};

/// A socket read and written through `&TcpStream`, shared with the table
/// of connections that `close()` shuts down.
#[derive(Clone)]
pub(crate) struct Stream(pub Arc<TcpStream>);

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        (&*self.0).flush()
    }
}

type Reader = BufReader<Stream>;
type Writer = BufWriter<Stream>;

/// A chunk of body plus its framing fits the write buffer whole, so each
/// piece leaves in one write.
const WRITE_BUFFER: usize = 64 * 1024 + 64;

/// What the connection does after an exchange.
enum Next {
    /// Read the next request.
    Again,
    /// Close it.
    Close,
    /// The socket went elsewhere (the hub, a finished tunnel).
    Gone,
}

/// A request as the hot-reload routes see it.
impl Asked for RequestHead {
    fn method(&self) -> &str {
        &self.method
    }
    fn url(&self) -> &str {
        &self.target
    }
    fn header(&self, name: &str) -> Option<String> {
        wire::get(&self.headers, name).map(str::to_string)
    }
    fn head_size(&self) -> (usize, usize) {
        (self.headers.len(), self.size)
    }
}

/// One browser connection: its socket's two sides, the backend connection
/// it keeps between requests, and what every connection shares.
struct Browser<'s> {
    id: u64,
    peer: SocketAddr,
    shared: &'s Shared,
    reader: Reader,
    writer: Writer,
    upstream: Option<Upstream>,
}

/// Serves the browser connection `socket` until it ends.
pub(super) fn serve(id: u64, socket: Arc<TcpStream>, peer: SocketAddr, shared: &Shared) {
    let mut browser = Browser {
        id,
        peer,
        shared,
        reader: BufReader::with_capacity(16 * 1024, Stream(Arc::clone(&socket))),
        writer: BufWriter::with_capacity(WRITE_BUFFER, Stream(Arc::clone(&socket))),
        upstream: None,
    };
    loop {
        let head = match wire::read_request(&mut browser.reader) {
            Ok(Some(head)) => head,
            // Closed between requests, or idle past the read timeout.
            Ok(None) | Err(HeadError::Io(_)) => break,
            Err(HeadError::TooLarge) => {
                let answer = Answer::text(
                    431,
                    "request header fields too large: at most 100 headers and 64 KiB are read",
                );
                let _ = browser.reply("GET", answer, false);
                break;
            }
            Err(HeadError::Malformed(why)) => {
                let answer = Answer::text(400, format!("bad request: {why}"));
                let _ = browser.reply("GET", answer, false);
                break;
            }
        };
        match browser.exchange(&head) {
            Next::Again => continue,
            Next::Close => break,
            Next::Gone => return,
        }
    }
    let _ = browser.writer.flush();
    let _ = socket.shutdown(Shutdown::Both);
}

impl Browser<'_> {
    /// Answers one request: a refusal, a hot-reload route, a tunnel, or
    /// the backend's answer.
    fn exchange(&mut self, head: &RequestHead) -> Next {
        let keep = keeps_alive(head);
        if let Some(refused) = self.shared.server.screen(head) {
            let _ = self.reply(&head.method, refused, false);
            return Next::Close;
        }
        match self.shared.server.route(head) {
            Some(Answer::Upgrade { accept }) => {
                let switched = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                );
                if self.send_now(switched.as_bytes()).is_err() {
                    return Next::Close;
                }
                // The hub's client thread only writes; its socket's limits
                // (the write timeout, TCP_USER_TIMEOUT) find a dead peer.
                let socket = Arc::clone(&self.writer.get_ref().0);
                self.shared.release(self.id);
                self.shared.server.take_socket(Box::new(Stream(socket)));
                Next::Gone
            }
            Some(answer) => {
                if !skip_body(&mut self.reader, head) {
                    return Next::Close;
                }
                match self.reply(&head.method, answer, keep) {
                    Ok(()) if keep => Next::Again,
                    _ => Next::Close,
                }
            }
            None if rewrite::is_upgrade(head) => self.tunnel(head),
            None => self.forward(head),
        }
    }

    /// Writes `bytes` and sends them at once.
    fn send_now(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)?;
        self.writer.flush()
    }

    /// Writes an answer of the hot-reload routes, or of the proxy itself.
    fn reply(&mut self, method: &str, answer: Answer, keep: bool) -> io::Result<()> {
        let Answer::Reply {
            status,
            headers,
            body,
        } = answer
        else {
            return Ok(());
        };
        let mut out: Vec<Header> = headers
            .iter()
            .map(|(name, value)| Header::new(name, value.as_str()))
            .collect();
        out.push(Header::new("Content-Length", body.len().to_string()));
        if !keep {
            out.push(Header::new("Connection", "close"));
        }
        let start = format!("HTTP/1.1 {status} {}", reason(status));
        wire::write_head(&mut self.writer, &start, &out)?;
        if !method.eq_ignore_ascii_case("HEAD") {
            self.writer.write_all(&body)?;
        }
        self.writer.flush()
    }

    /// Sends a page of the proxy's own, with the client script when pages
    /// get it.
    fn page(&mut self, method: &str, page: pages::Page, keep: bool) -> Next {
        let html = if self.shared.inject {
            inject_script(page.html.as_bytes()).into_owned()
        } else {
            page.html.into_bytes()
        };
        let answer = Answer::Reply {
            status: page.status,
            headers: vec![
                ("Content-Type", "text/html; charset=utf-8".into()),
                ("Cache-Control", "no-cache".into()),
                (pages::MARK, "1".into()),
            ],
            body: html,
        };
        match self.reply(method, answer, keep) {
            Ok(()) if keep => Next::Again,
            _ => Next::Close,
        }
    }

    /// The page for a backend that gave no usable answer to `head`.
    fn failed(&mut self, head: &RequestHead, failed: Failed, keep: bool) -> Next {
        let origin = self.shared.backend.origin();
        let page = match failed {
            Failed::Browser => return Next::Close,
            Failed::Backend(what) => {
                log::warn!(
                    "[HotReload] {} {}: backend: {what}",
                    head.method,
                    head.target
                );
                let fix = if what.contains("refused") {
                    "Start your app, or check the URL given to `hotreload proxy` (or `proxy:` in the config)."
                } else {
                    "Look at your app's log: it may have crashed, or failed to answer this request."
                };
                pages::bad_gateway(&origin, &what, fix)
            }
            Failed::Slow => {
                let ms = self.shared.timeout.as_millis() as u64;
                log::warn!(
                    "[HotReload] {} {}: the backend sent nothing within {ms} ms",
                    head.method,
                    head.target
                );
                pages::gateway_timeout(&origin, &format!("{} {}", head.method, head.target), ms)
            }
        };
        self.page(&head.method, page, keep)
    }

    /// Asks the backend, on the kept connection or a new one, and sends its
    /// answer on.
    fn forward(&mut self, head: &RequestHead) -> Next {
        let keep = keeps_alive(head);
        if let Some(why) = wire::bad_length(&head.headers) {
            let _ = self.reply(
                &head.method,
                Answer::text(400, format!("bad request: {why}")),
                false,
            );
            return Next::Close;
        }
        let framing = wire::request_framing(&head.headers);
        let expects_continue = wire::get(&head.headers, "Expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"));
        if expects_continue && self.send_now(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
            return Next::Close;
        }
        let (start, headers) = backend_head(head, self.shared, self.peer);
        let mut tries = 0;
        let (mut up, response) = loop {
            tries += 1;
            // A kept connection the backend has closed meanwhile fails at
            // once; a request without a body can then go on a new one.
            let retry_allowed = self.upstream.is_some() && framing == Framing::Empty && tries == 1;
            let kept = self.upstream.take();
            match self.send(kept, &start, &headers, framing) {
                Ok(answered) => break answered,
                Err(Failed::Backend(_)) if retry_allowed => continue,
                Err(failed) => return self.failed(head, failed, keep),
            }
        };
        let (next, reusable) = self.answer(head, &mut up, &response, keep);
        if reusable {
            self.upstream = Some(up);
        }
        next
    }

    /// Sends the request (its head, then its body as it arrives) and reads
    /// the answer's head.
    fn send(
        &mut self,
        kept: Option<Upstream>,
        start: &str,
        headers: &[Header],
        framing: Framing,
    ) -> Result<(Upstream, ResponseHead), Failed> {
        let backend_error = |e: io::Error| Failed::Backend(describe(&e));
        let mut up = match kept {
            Some(up) => up,
            None => Upstream::connect(self.id, self.shared).map_err(backend_error)?,
        };
        wire::write_head(&mut up.writer, start, headers).map_err(backend_error)?;
        if framing != Framing::Empty {
            let mut body = Body::new(&mut self.reader, framing);
            let mut to = Framed::new(&mut up.writer, framing == Framing::Chunked);
            let mut buf = vec![0u8; wire::PIECE];
            loop {
                let n = body.read(&mut buf).map_err(|_| Failed::Browser)?;
                if n == 0 {
                    break;
                }
                to.send(&buf[..n]).map_err(backend_error)?;
            }
            to.finish().map_err(backend_error)?;
        } else {
            up.writer.flush().map_err(backend_error)?;
        }
        up.waits(Some(self.shared.timeout));
        match wire::read_response(&mut up.reader) {
            Ok(response) => Ok((up, response)),
            Err(HeadError::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(Failed::Slow)
            }
            Err(HeadError::Io(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Err(
                Failed::Backend("it closed the connection without answering".into()),
            ),
            Err(HeadError::Io(e)) => Err(backend_error(e)),
            Err(HeadError::TooLarge) => Err(Failed::Backend(
                "its answer has a head of more than 100 headers or 64 KiB".into(),
            )),
            Err(HeadError::Malformed(why)) => {
                Err(Failed::Backend(format!("its answer is not HTTP ({why})")))
            }
        }
    }

    /// Sends the backend's answer on to the browser. Returns what the
    /// browser connection does next, and whether the backend connection can
    /// be used again.
    fn answer(
        &mut self,
        head: &RequestHead,
        up: &mut Upstream,
        response: &ResponseHead,
        keep: bool,
    ) -> (Next, bool) {
        let shared = self.shared;
        if let Some(why) = wire::bad_length(&response.headers) {
            let failed = Failed::Backend(format!("its answer has {why}"));
            return (self.failed(head, failed, keep), false);
        }
        let framing = wire::response_framing(&head.method, response);
        let asked_host = wire::get(&head.headers, "Host")
            .map(str::to_string)
            .unwrap_or_else(|| shared.backend.authority.clone());
        let mut headers = rewrite::to_browser(response, &shared.backend, &asked_host);
        let event_stream = wire::get(&response.headers, "Content-Type")
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/event-stream"));
        // An event stream may be quiet for minutes between events.
        up.waits(if event_stream {
            None
        } else {
            Some(shared.timeout)
        });
        let backend_keeps =
            response.minor >= 1 && !wire::lists(&response.headers, "Connection", "close");
        let start = format!("HTTP/1.1 {} {}", response.status, response.reason);
        let mut body = Body::new(&mut up.reader, framing);

        let mut read_ahead = Vec::new();
        if shared.inject && framing != Framing::Empty && rewrite::is_page(&head.method, response) {
            match collect(&mut body, framing) {
                Ok(Page::Whole(page)) => {
                    let sent = match rewrite::decoded(&page, &response.headers) {
                        Some(plain) => {
                            headers.retain(|h| !h.is("Content-Encoding"));
                            inject_script(&plain).into_owned()
                        }
                        None => {
                            log::warn!(
                                "[HotReload] {}: the page's content coding ({}) cannot be undone, so it has no reload script",
                                head.target,
                                wire::get(&response.headers, "Content-Encoding").unwrap_or("?")
                            );
                            page
                        }
                    };
                    headers.push(Header::new("Content-Length", sent.len().to_string()));
                    if !keep {
                        headers.push(Header::new("Connection", "close"));
                    }
                    let ok = wire::write_head(&mut self.writer, &start, &headers)
                        .and_then(|()| self.send_now(&sent))
                        .is_ok();
                    let next = if ok && keep { Next::Again } else { Next::Close };
                    return (next, ok && backend_keeps && framing != Framing::UntilClose);
                }
                // Too big to hold: it goes on as it came, without the script.
                Ok(Page::TooBig(start)) => read_ahead = start,
                Err(_) => return (Next::Close, false),
            }
        }

        // Everything else streams, piece by piece as it arrives.
        let chunked = match framing {
            Framing::Empty => {
                if head.method.eq_ignore_ascii_case("HEAD")
                    && let Some(length) = wire::get(&response.headers, "Content-Length")
                {
                    headers.push(Header::new("Content-Length", length));
                } else if response.status != 204 && response.status != 304 {
                    headers.push(Header::new("Content-Length", "0"));
                }
                false
            }
            Framing::Length(n) => {
                headers.push(Header::new("Content-Length", n.to_string()));
                false
            }
            Framing::Chunked | Framing::UntilClose if head.minor >= 1 => {
                headers.push(Header::new("Transfer-Encoding", "chunked"));
                true
            }
            // An HTTP/1.0 browser: the end of the body is the end of the connection.
            Framing::Chunked | Framing::UntilClose => false,
        };
        let browser_keeps =
            keep && (chunked || !matches!(framing, Framing::Chunked | Framing::UntilClose));
        if !browser_keeps {
            headers.push(Header::new("Connection", "close"));
        }
        if wire::write_head(&mut self.writer, &start, &headers).is_err() {
            return (Next::Close, false);
        }
        let mut out = Framed::new(&mut self.writer, chunked);
        let copied = out
            .send(&read_ahead)
            .and_then(|()| wire::pump(&mut body, &mut out))
            .and_then(|_| out.finish());
        let complete = body.is_done();
        match copied {
            // A body cut short by the backend cannot be told apart from a
            // whole one unless the browser sees the connection end early.
            Ok(()) if complete && browser_keeps => {
                (Next::Again, backend_keeps && framing != Framing::UntilClose)
            }
            _ => (Next::Close, false),
        }
    }

    /// A WebSocket (or other) upgrade: asked of the backend on a connection
    /// of its own; on `101` both sockets are joined, byte for byte, both
    /// ways, until either side closes.
    fn tunnel(&mut self, head: &RequestHead) -> Next {
        let keep = keeps_alive(head);
        let (start, mut headers) = backend_head(head, self.shared, self.peer);
        headers.push(Header::new("Connection", "Upgrade"));
        if let Some(upgrade) = wire::get(&head.headers, "Upgrade") {
            headers.push(Header::new("Upgrade", upgrade));
        }
        let (mut up, response) = match self.send(None, &start, &headers, Framing::Empty) {
            Ok(answered) => answered,
            Err(failed) => return self.failed(head, failed, keep),
        };
        if response.status != 101 {
            // Refused: its answer goes to the browser like any other.
            return self.answer(head, &mut up, &response, false).0;
        }
        let asked_host = wire::get(&head.headers, "Host")
            .unwrap_or_default()
            .to_string();
        let mut switched = rewrite::to_browser(&response, &self.shared.backend, &asked_host);
        switched.push(Header::new("Connection", "Upgrade"));
        if let Some(upgrade) = wire::get(&response.headers, "Upgrade") {
            switched.push(Header::new("Upgrade", upgrade));
        }
        let start = format!("HTTP/1.1 101 {}", response.reason);
        if wire::write_head(&mut self.writer, &start, &switched)
            .and_then(|()| self.writer.flush())
            .is_err()
        {
            return Next::Close;
        }
        // Frames may come seldom: no read timeout on either side from here on.
        let browser = Arc::clone(&self.writer.get_ref().0);
        let _ = browser.set_read_timeout(None);
        up.waits(None);
        let backend = Arc::clone(&up.socket);
        // Bytes each side sent right after its head are in the readers'
        // buffers: reading through them passes those on first.
        let fresh = || BufReader::new(Stream(Arc::clone(&browser)));
        let from_browser = std::mem::replace(&mut self.reader, fresh());
        let upward = {
            let backend = Arc::clone(&backend);
            thread::Builder::new()
                .name(format!("hotreload-proxy-{}-up", self.id))
                .spawn(move || copy_then_close(from_browser, &backend))
        };
        let Ok(upward) = upward else {
            return Next::Close;
        };
        copy_then_close(up.reader, &browser);
        let _ = upward.join();
        Next::Gone
    }
}

/// Does the browser keep the connection after this request?
fn keeps_alive(head: &RequestHead) -> bool {
    head.minor >= 1 && !wire::lists(&head.headers, "Connection", "close")
}

/// Reads and drops a request's body, so the next request can be read.
fn skip_body(reader: &mut Reader, head: &RequestHead) -> bool {
    let mut body = Body::new(reader, wire::request_framing(&head.headers));
    io::copy(&mut body, &mut io::sink()).is_ok()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// A connection to the backend.
struct Upstream {
    socket: Arc<TcpStream>,
    reader: BufReader<Stream>,
    writer: BufWriter<Stream>,
    /// The read timeout set now, so that setting it again costs nothing.
    waiting: Option<Option<Duration>>,
}

impl Upstream {
    fn connect(id: u64, shared: &Shared) -> io::Result<Upstream> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name resolves to nothing");
        // `localhost` may be ::1 and 127.0.0.1, with the app on one of them.
        for addr in shared.backend.authority.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, shared.timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_write_timeout(Some(shared.timeout))?;
                    let socket = Arc::new(stream);
                    shared.hold(id, &socket);
                    return Ok(Upstream {
                        reader: BufReader::with_capacity(64 * 1024, Stream(Arc::clone(&socket))),
                        writer: BufWriter::with_capacity(WRITE_BUFFER, Stream(Arc::clone(&socket))),
                        socket,
                        waiting: None,
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    fn waits(&mut self, limit: Option<Duration>) {
        if self.waiting != Some(limit) {
            let _ = self.socket.set_read_timeout(limit);
            self.waiting = Some(limit);
        }
    }
}

/// The request line and headers the backend gets.
fn backend_head(head: &RequestHead, shared: &Shared, peer: SocketAddr) -> (String, Vec<Header>) {
    // A client that speaks to us as a proxy sends an absolute URL.
    let target = match head.target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => head.target.as_str(),
    };
    let start = format!("{} {}{target} HTTP/1.1", head.method, shared.backend.base);
    let mut headers = rewrite::to_backend(head, &shared.backend, peer);
    match wire::request_framing(&head.headers) {
        Framing::Length(n) => headers.push(Header::new("Content-Length", n.to_string())),
        Framing::Chunked => headers.push(Header::new("Transfer-Encoding", "chunked")),
        Framing::Empty if wire::get(&head.headers, "Content-Length").is_some() => {
            headers.push(Header::new("Content-Length", "0"));
        }
        _ => {}
    }
    (start, headers)
}

/// Why the backend gave no usable answer.
enum Failed {
    /// Reading the browser's request body failed: it went away.
    Browser,
    /// No connection, or it broke before an answer: 502 with this.
    Backend(String),
    /// Nothing within the proxy timeout: 504.
    Slow,
}

fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused (nothing listens there)".into(),
        io::ErrorKind::ConnectionReset => "the connection was reset".into(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => "no connection in time".into(),
        _ => e.to_string(),
    }
}

/// A page read for the script, or the start of one too big to hold.
enum Page {
    Whole(Vec<u8>),
    /// More than [`rewrite::MAX_PAGE`]: what was read of it so far.
    TooBig(Vec<u8>),
}

/// Reads a page whole, unless it is larger than [`rewrite::MAX_PAGE`].
fn collect(body: &mut Body<'_, Reader>, framing: Framing) -> io::Result<Page> {
    if let Framing::Length(n) = framing
        && n > rewrite::MAX_PAGE as u64
    {
        return Ok(Page::TooBig(Vec::new()));
    }
    let mut page = Vec::new();
    let limit = rewrite::MAX_PAGE as u64 + 1;
    body.take(limit).read_to_end(&mut page)?;
    if page.len() as u64 == limit && !body.is_done() {
        Ok(Page::TooBig(page))
    } else {
        Ok(Page::Whole(page))
    }
}

/// Copies until `from` ends, then tells `to` no more is coming.
fn copy_then_close(mut from: impl Read, to: &TcpStream) {
    let _ = io::copy(&mut from, &mut &*to);
    let _ = to.shutdown(Shutdown::Write);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_for_our_own_answers() {
        for status in [200, 400, 403, 404, 405, 426, 431, 502, 503, 504] {
            assert!(!reason(status).is_empty(), "{status}");
        }
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection_header() {
        let head = |minor, connection: Option<&str>| RequestHead {
            method: "GET".into(),
            target: "/".into(),
            minor,
            headers: connection
                .map(|c| vec![Header::new("Connection", c)])
                .unwrap_or_default(),
            size: 0,
        };
        assert!(keeps_alive(&head(1, None)));
        assert!(!keeps_alive(&head(1, Some("close"))));
        assert!(!keeps_alive(&head(0, None)));
        assert!(keeps_alive(&head(1, Some("keep-alive"))));
    }
}
