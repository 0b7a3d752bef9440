//! Proxy mode's part of a browser connection: a request asked of the
//! backend and its answer sent on, or a WebSocket tunneled to it.

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use super::{Proxied, pages, rewrite};
use crate::front::browser::{Browser, Next, Reader, Stream, WRITE_BUFFER, keeps_alive};
use crate::front::wire::{
    self, Body, Framed, Framing, HeadError, Header, RequestHead, ResponseHead,
};
use crate::serve::files::inject_script;
use crate::server::Answer;

impl Browser<'_> {
    /// The page for a backend that gave no usable answer to `head`.
    fn failed(&mut self, head: &RequestHead, p: &Proxied, failed: Failed, keep: bool) -> Next {
        let origin = p.backend.origin();
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
                let ms = p.timeout.as_millis() as u64;
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
    pub(crate) fn forward(&mut self, head: &RequestHead, p: &Proxied) -> Next {
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
        let (start, headers) = backend_head(head, p, self.peer);
        let mut tries = 0;
        let (mut up, response) = loop {
            tries += 1;
            // A kept connection the backend has closed meanwhile fails at
            // once; a request without a body can then go on a new one.
            let retry_allowed = self.upstream.is_some() && framing == Framing::Empty && tries == 1;
            let kept = self.upstream.take();
            match self.send(p, kept, &start, &headers, framing) {
                Ok(answered) => break answered,
                Err(Failed::Backend(_)) if retry_allowed => continue,
                Err(failed) => return self.failed(head, p, failed, keep),
            }
        };
        let (next, reusable) = self.answer(head, p, &mut up, &response, keep);
        if reusable {
            self.upstream = Some(up);
        }
        next
    }

    /// Sends the request (its head, then its body as it arrives) and reads
    /// the answer's head.
    fn send(
        &mut self,
        p: &Proxied,
        kept: Option<Upstream>,
        start: &str,
        headers: &[Header],
        framing: Framing,
    ) -> Result<(Upstream, ResponseHead), Failed> {
        let backend_error = |e: io::Error| Failed::Backend(describe(&e));
        let mut up = match kept {
            Some(up) => up,
            None => Upstream::connect(self, p).map_err(backend_error)?,
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
        up.waits(Some(p.timeout));
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
        p: &Proxied,
        up: &mut Upstream,
        response: &ResponseHead,
        keep: bool,
    ) -> (Next, bool) {
        let shared = self.shared;
        if let Some(why) = wire::bad_length(&response.headers) {
            let failed = Failed::Backend(format!("its answer has {why}"));
            return (self.failed(head, p, failed, keep), false);
        }
        let framing = wire::response_framing(&head.method, response);
        let asked_host = wire::get(&head.headers, "Host")
            .map(str::to_string)
            .unwrap_or_else(|| p.backend.authority.clone());
        let mut headers = rewrite::to_browser(response, &p.backend, &asked_host);
        let event_stream = wire::get(&response.headers, "Content-Type")
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("text/event-stream"));
        // An event stream may be quiet for minutes between events.
        up.waits(if event_stream { None } else { Some(p.timeout) });
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
    pub(crate) fn tunnel(&mut self, head: &RequestHead, p: &Proxied) -> Next {
        let keep = keeps_alive(head);
        let (start, mut headers) = backend_head(head, p, self.peer);
        headers.push(Header::new("Connection", "Upgrade"));
        if let Some(upgrade) = wire::get(&head.headers, "Upgrade") {
            headers.push(Header::new("Upgrade", upgrade));
        }
        let (mut up, response) = match self.send(p, None, &start, &headers, Framing::Empty) {
            Ok(answered) => answered,
            Err(failed) => return self.failed(head, p, failed, keep),
        };
        if response.status != 101 {
            // Refused: its answer goes to the browser like any other.
            return self.answer(head, p, &mut up, &response, false).0;
        }
        let asked_host = wire::get(&head.headers, "Host")
            .unwrap_or_default()
            .to_string();
        let mut switched = rewrite::to_browser(&response, &p.backend, &asked_host);
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
                .name(format!("hotreload-conn-{}-up", self.id))
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

/// A connection to the backend.
pub(crate) struct Upstream {
    socket: Arc<TcpStream>,
    reader: BufReader<Stream>,
    writer: BufWriter<Stream>,
    /// The read timeout set now, so that setting it again costs nothing.
    waiting: Option<Option<Duration>>,
}

impl Upstream {
    /// Connects to the backend, for `browser`'s connection.
    fn connect(browser: &Browser<'_>, p: &Proxied) -> io::Result<Upstream> {
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the host name resolves to nothing");
        // `localhost` may be ::1 and 127.0.0.1, with the app on one of them.
        for addr in p.backend.authority.to_socket_addrs()? {
            match TcpStream::connect_timeout(&addr, p.timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    stream.set_write_timeout(Some(p.timeout))?;
                    let socket = Arc::new(stream);
                    browser.shared.hold(browser.id, &socket);
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
fn backend_head(head: &RequestHead, p: &Proxied, peer: SocketAddr) -> (String, Vec<Header>) {
    // A client that speaks to us as a proxy sends an absolute URL.
    let target = match head.target.strip_prefix("http://") {
        Some(rest) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => head.target.as_str(),
    };
    let start = format!("{} {}{target} HTTP/1.1", head.method, p.backend.base);
    let mut headers = rewrite::to_backend(head, &p.backend, peer);
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
