//! One browser connection: its requests one after another, each answered
//! by a hot-reload route or by what stands behind the front, until it
//! closes or its socket goes elsewhere (the hub, a tunnel).

use std::io::{self, BufReader, BufWriter, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;

use super::wire::{self, Body, Framed, HeadError, Header, RequestHead};
use super::{Behind, Shared};
use crate::proxy::pages;
use crate::serve::files::{FileBody, StaticFiles, inject_script};
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

pub(crate) type Reader = BufReader<Stream>;
pub(crate) type Writer = BufWriter<Stream>;

/// A chunk of body plus its framing fits the write buffer whole, so each
/// piece leaves in one write.
pub(crate) const WRITE_BUFFER: usize = 64 * 1024 + 64;

/// What the connection does after an exchange.
pub(crate) enum Next {
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
pub(crate) struct Browser<'s> {
    pub id: u64,
    pub peer: SocketAddr,
    pub shared: &'s Shared,
    pub reader: Reader,
    pub writer: Writer,
    /// The backend connection kept between requests, in proxy mode.
    pub upstream: Option<crate::proxy::Upstream>,
}

/// Serves the browser connection `socket` until it ends.
pub(crate) fn serve(id: u64, socket: Arc<TcpStream>, peer: SocketAddr, shared: &Shared) {
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
        let mut body = Vec::new();
        let limit = self.shared.server.body_limit(head);
        if let Some(limit) = limit {
            let framing = wire::request_framing(&head.headers);
            // One byte more than the limit tells a body that is too long.
            let mut within = Body::new(&mut self.reader, framing).take(limit as u64 + 1);
            if within.read_to_end(&mut body).is_err() {
                return Next::Close;
            }
        }
        let routed = match &self.shared.behind {
            Behind::LiveReloadPort => Some(self.shared.server.route_livereload_port(head)),
            _ => self.shared.server.route(head, &body),
        };
        match routed {
            Some(Answer::Upgrade {
                accept,
                dialect,
                visitor,
            }) => {
                let switched = format!(
                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
                );
                if self.send_now(switched.as_bytes()).is_err() {
                    return Next::Close;
                }
                // The hub's client thread only writes; its socket's limits
                // (the write timeout, TCP_USER_TIMEOUT) find a dead peer.
                let socket = Arc::clone(&self.writer.get_ref().0);
                // Released once the hub has it: a LiveReload client's
                // hello is awaited here, still shut down by `close()`.
                self.shared
                    .server
                    .take_socket(Box::new(Stream(socket)), dialect, visitor);
                self.shared.release(self.id);
                Next::Gone
            }
            // A body read whole is done with; one cut at the limit is not,
            // and the connection cannot go on after it.
            Some(answer) if limit.is_some() => {
                let whole = limit.is_some_and(|limit| body.len() <= limit);
                match self.reply(&head.method, answer, keep && whole) {
                    Ok(()) if keep && whole => Next::Again,
                    _ => Next::Close,
                }
            }
            Some(answer) => self.finish(head, answer, keep),
            None => match &self.shared.behind {
                Behind::Backend(proxied) if crate::proxy::is_upgrade(head) => {
                    self.tunnel(head, proxied)
                }
                Behind::Backend(proxied) => self.forward(head, proxied),
                Behind::Files(files) => self.files(head, files, keep),
                Behind::Nothing | Behind::LiveReloadPort => {
                    let answer = Answer::text(
                        404,
                        "hotreload watch serves only /static/js/hotreload.js and its socket; your app serves its pages",
                    );
                    self.finish(head, answer, keep)
                }
            },
        }
    }

    /// Drops what is left of the request's body, then sends `answer`.
    fn finish(&mut self, head: &RequestHead, answer: Answer, keep: bool) -> Next {
        if !skip_body(&mut self.reader, head) {
            return Next::Close;
        }
        match self.reply(&head.method, answer, keep) {
            Ok(()) if keep => Next::Again,
            _ => Next::Close,
        }
    }

    /// A request for the files of the served folder.
    fn files(&mut self, head: &RequestHead, files: &StaticFiles, keep: bool) -> Next {
        if !skip_body(&mut self.reader, head) {
            return Next::Close;
        }
        let reply = files.reply(&head.method, &head.target);
        let mut headers: Vec<Header> = reply
            .headers
            .iter()
            .map(|(name, value)| Header::new(name, value.as_str()))
            .collect();
        if reply.status != 204 {
            headers.push(Header::new("Content-Length", reply.body.len().to_string()));
        }
        if !keep {
            headers.push(Header::new("Connection", "close"));
        }
        let start = format!("HTTP/1.1 {} {}", reply.status, reason(reply.status));
        if wire::write_head(&mut self.writer, &start, &headers).is_err() {
            return Next::Close;
        }
        let sent = if head.method.eq_ignore_ascii_case("HEAD") {
            self.writer.flush()
        } else {
            match reply.body {
                FileBody::Bytes(bytes) => self.send_now(&bytes),
                FileBody::File(file, length) => {
                    let mut out = Framed::new(&mut self.writer, false);
                    // A file that shrinks meanwhile ends the connection early.
                    match wire::pump(&mut file.take(length), &mut out) {
                        Ok(sent) if sent == length => out.finish(),
                        Ok(_) => Err(io::ErrorKind::UnexpectedEof.into()),
                        Err(e) => Err(e),
                    }
                }
            }
        };
        match sent {
            Ok(()) if keep => Next::Again,
            _ => Next::Close,
        }
    }

    /// Writes `bytes` and sends them at once.
    pub(crate) fn send_now(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)?;
        self.writer.flush()
    }

    /// Writes an answer of the hot-reload routes, or of the proxy itself.
    pub(crate) fn reply(&mut self, method: &str, answer: Answer, keep: bool) -> io::Result<()> {
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
    pub(crate) fn page(&mut self, method: &str, page: pages::Page, keep: bool) -> Next {
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
}

/// Does the browser keep the connection after this request?
pub(crate) fn keeps_alive(head: &RequestHead) -> bool {
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
        204 => "No Content",
        302 => "Found",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_for_our_own_answers() {
        for status in [
            200, 204, 302, 400, 403, 404, 405, 426, 431, 500, 502, 503, 504,
        ] {
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
