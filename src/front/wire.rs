//! HTTP/1.1 on sockets the proxy owns: request and response heads read
//! with limits, how a body is framed, and chunked transfer coding both ways.

use std::io::{self, BufRead, Read, Write};

use crate::server::{MAX_HEAD_BYTES, MAX_HEADERS};

/// One header as sent: the name, and the value's bytes (which may be
/// Latin-1 or anything else a backend sends; they pass through untouched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub name: String,
    pub value: Vec<u8>,
}

impl Header {
    pub(crate) fn new(name: &str, value: impl Into<Vec<u8>>) -> Header {
        Header {
            name: name.to_string(),
            value: value.into(),
        }
    }

    pub(crate) fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The value as text (`None` if it is not UTF-8), trimmed.
    pub(crate) fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.value).ok().map(str::trim)
    }
}

/// The first header named `name`, as text.
pub(crate) fn get<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers.iter().find(|h| h.is(name)).and_then(Header::text)
}

/// The comma-separated tokens of every header named `name` (`Connection`,
/// `Transfer-Encoding`, `Content-Encoding`), trimmed and lowercased.
pub(crate) fn tokens(headers: &[Header], name: &str) -> Vec<String> {
    headers
        .iter()
        .filter(|h| h.is(name))
        .filter_map(Header::text)
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// Does a comma-separated header list `token`?
pub(crate) fn lists(headers: &[Header], name: &str, token: &str) -> bool {
    tokens(headers, name)
        .iter()
        .any(|t| t.eq_ignore_ascii_case(token))
}

/// A request line and its headers.
#[derive(Debug, Clone)]
pub(crate) struct RequestHead {
    pub method: String,
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    pub headers: Vec<Header>,
    /// Bytes the head took on the wire.
    pub size: usize,
}

/// A status line and its headers.
#[derive(Debug, Clone)]
pub(crate) struct ResponseHead {
    pub minor: u8,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<Header>,
}

/// Why a head could not be read.
#[derive(Debug)]
pub(crate) enum HeadError {
    /// The connection ended, or timed out, before a whole head came.
    Io(io::Error),
    /// More than [`MAX_HEAD_BYTES`] or [`MAX_HEADERS`].
    TooLarge,
    /// Not HTTP/1.x: what the parser said.
    Malformed(String),
}

impl From<io::Error> for HeadError {
    fn from(e: io::Error) -> HeadError {
        HeadError::Io(e)
    }
}

/// Reads bytes up to and including the blank line that ends a head, and
/// no further (the body stays in `from`). `Ok(None)`: the peer closed
/// before sending a byte, which ends a keep-alive connection normally.
fn read_head_bytes(from: &mut impl BufRead) -> Result<Option<Vec<u8>>, HeadError> {
    let mut head = Vec::with_capacity(1024);
    // Line feeds seen in a row, ignoring carriage returns, once the start
    // line has begun: blank lines before it are allowed (RFC 9112 2.2).
    let mut feeds = 0;
    let mut started = false;
    loop {
        let available = from.fill_buf()?;
        if available.is_empty() {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(HeadError::Io(io::ErrorKind::UnexpectedEof.into()))
            };
        }
        let mut used = 0;
        let mut done = false;
        for &b in available {
            used += 1;
            match b {
                b'\n' => feeds += 1,
                b'\r' => {}
                _ => {
                    feeds = 0;
                    started = true;
                }
            }
            if started && feeds == 2 {
                done = true;
                break;
            }
        }
        head.extend_from_slice(&available[..used]);
        from.consume(used);
        if head.len() > MAX_HEAD_BYTES {
            return Err(HeadError::TooLarge);
        }
        if done {
            return Ok(Some(head));
        }
    }
}

fn headers_of(parsed: &[httparse::Header<'_>]) -> Vec<Header> {
    parsed
        .iter()
        .map(|h| Header::new(h.name, h.value))
        .collect()
}

/// Reads a request head. `Ok(None)`: the client closed between requests.
pub(crate) fn read_request(from: &mut impl BufRead) -> Result<Option<RequestHead>, HeadError> {
    let Some(bytes) = read_head_bytes(from)? else {
        return Ok(None);
    };
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut slots);
    match parsed.parse(&bytes[start..]) {
        Ok(httparse::Status::Complete(_)) => Ok(Some(RequestHead {
            // `Complete` means every part below is there.
            method: parsed.method.unwrap_or_default().to_string(),
            target: parsed.path.unwrap_or_default().to_string(),
            minor: parsed.version.unwrap_or(1),
            headers: headers_of(parsed.headers),
            size: bytes.len(),
        })),
        Ok(httparse::Status::Partial) => Err(HeadError::Malformed("an unfinished head".into())),
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooLarge),
        Err(e) => Err(HeadError::Malformed(e.to_string())),
    }
}

/// Reads a response head, skipping `100 Continue` and other interim answers
/// (but not `101`, which ends HTTP on the connection).
pub(crate) fn read_response(from: &mut impl BufRead) -> Result<ResponseHead, HeadError> {
    loop {
        let Some(bytes) = read_head_bytes(from)? else {
            return Err(HeadError::Io(io::ErrorKind::UnexpectedEof.into()));
        };
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut slots);
        let head = match parsed.parse(&bytes) {
            Ok(httparse::Status::Complete(_)) => ResponseHead {
                minor: parsed.version.unwrap_or(1),
                status: parsed.code.unwrap_or(502),
                reason: parsed.reason.unwrap_or_default().to_string(),
                headers: headers_of(parsed.headers),
            },
            Ok(httparse::Status::Partial) => {
                return Err(HeadError::Malformed("an unfinished head".into()));
            }
            Err(httparse::Error::TooManyHeaders) => return Err(HeadError::TooLarge),
            Err(e) => return Err(HeadError::Malformed(e.to_string())),
        };
        if (100..200).contains(&head.status) && head.status != 101 {
            continue;
        }
        return Ok(head);
    }
}

/// How a message's body is delimited (RFC 9112 section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Until the sender closes (responses only).
    UntilClose,
}

/// Why a message's framing cannot be trusted.
pub(crate) fn bad_length(headers: &[Header]) -> Option<&'static str> {
    let lengths: Vec<&str> = headers
        .iter()
        .filter(|h| h.is("Content-Length"))
        .filter_map(Header::text)
        .collect();
    let first = lengths.first()?;
    if first.parse::<u64>().is_err() {
        Some("a Content-Length that is not a number")
    } else if lengths.iter().any(|l| l != first) {
        Some("two different Content-Lengths")
    } else {
        None
    }
}

/// A request's framing: chunked, a length, or none.
pub(crate) fn request_framing(headers: &[Header]) -> Framing {
    if lists(headers, "Transfer-Encoding", "chunked") {
        Framing::Chunked
    } else {
        match get(headers, "Content-Length").and_then(|l| l.parse().ok()) {
            Some(0) | None => Framing::Empty,
            Some(n) => Framing::Length(n),
        }
    }
}

/// A response's framing, given the request's method.
pub(crate) fn response_framing(method: &str, head: &ResponseHead) -> Framing {
    if method.eq_ignore_ascii_case("HEAD")
        || (100..200).contains(&head.status)
        || head.status == 204
        || head.status == 304
    {
        Framing::Empty
    } else if lists(&head.headers, "Transfer-Encoding", "chunked") {
        Framing::Chunked
    } else {
        match get(&head.headers, "Content-Length").and_then(|l| l.parse().ok()) {
            Some(n) => Framing::Length(n),
            None => Framing::UntilClose,
        }
    }
}

/// A body, read through its framing: the bytes of the message and nothing
/// after it, so the connection can carry the next message.
pub(crate) struct Body<'a, R> {
    from: &'a mut R,
    state: State,
}

enum State {
    Left(u64),
    /// In a chunk with this many bytes left; 0 between chunks.
    Chunk(u64),
    UntilClose,
    Done,
}

impl<'a, R: BufRead> Body<'a, R> {
    pub(crate) fn new(from: &'a mut R, framing: Framing) -> Body<'a, R> {
        let state = match framing {
            Framing::Empty | Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Left(n),
            Framing::Chunked => State::Chunk(0),
            Framing::UntilClose => State::UntilClose,
        };
        Body { from, state }
    }

    /// Has the whole body been read?
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Reads at most `left` bytes; returns how many, and how many are left.
    /// The sender closing before then is an error, not the end.
    fn read_within(&mut self, buf: &mut [u8], left: u64) -> io::Result<(usize, u64)> {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.from.read(&mut buf[..want])?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        Ok((n, left - n as u64))
    }

    /// One line of chunk framing, without its line break; bounded.
    fn line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        (&mut *self.from).take(4096).read_until(b'\n', &mut line)?;
        if line.last() != Some(&b'\n') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a chunk line that does not end",
            ));
        }
        Ok(String::from_utf8_lossy(&line).trim().to_string())
    }
}

impl<R: BufRead> Read for Body<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.state {
                State::Done => return Ok(0),
                State::Left(left) => {
                    let (n, left) = self.read_within(buf, left)?;
                    self.state = if left == 0 {
                        State::Done
                    } else {
                        State::Left(left)
                    };
                    return Ok(n);
                }
                State::Chunk(0) => {
                    let line = self.line()?;
                    let size = line.split(';').next().unwrap_or("").trim();
                    let size = u64::from_str_radix(size, 16).map_err(|_| {
                        io::Error::new(
                            io::ErrorKind::InvalidData,
                            format!("a chunk size that is not hex: {line:?}"),
                        )
                    })?;
                    if size == 0 {
                        // Trailers, up to the blank line; they are dropped.
                        for _ in 0..MAX_HEADERS {
                            if self.line()?.is_empty() {
                                self.state = State::Done;
                                return Ok(0);
                            }
                        }
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "too many trailer lines",
                        ));
                    }
                    self.state = State::Chunk(size);
                }
                State::Chunk(left) => {
                    let (n, left) = self.read_within(buf, left)?;
                    if left == 0 {
                        // The line break after the chunk's data.
                        self.line()?;
                    }
                    self.state = State::Chunk(left);
                    return Ok(n);
                }
                State::UntilClose => {
                    let n = self.from.read(buf)?;
                    if n == 0 {
                        self.state = State::Done;
                    }
                    return Ok(n);
                }
            }
        }
    }
}

/// Writes a body in the framing chosen for it, flushing after every piece
/// so that an event stream reaches the browser event by event.
pub(crate) struct Framed<W: Write> {
    to: W,
    chunked: bool,
}

impl<W: Write> Framed<W> {
    pub(crate) fn new(to: W, chunked: bool) -> Framed<W> {
        Framed { to, chunked }
    }

    /// One piece of the body, sent at once.
    pub(crate) fn send(&mut self, piece: &[u8]) -> io::Result<()> {
        if piece.is_empty() {
            return Ok(());
        }
        if self.chunked {
            write!(self.to, "{:x}\r\n", piece.len())?;
            self.to.write_all(piece)?;
            self.to.write_all(b"\r\n")?;
        } else {
            self.to.write_all(piece)?;
        }
        self.to.flush()
    }

    /// The end of the body (the last chunk, when chunked).
    pub(crate) fn finish(mut self) -> io::Result<()> {
        if self.chunked {
            self.to.write_all(b"0\r\n\r\n")?;
        }
        self.to.flush()
    }
}

/// The most a body's piece is read and written at once: past the write
/// buffers, so a large piece goes to the socket without another copy.
pub(crate) const PIECE: usize = 256 * 1024;

/// Copies a whole body, piece by piece as it arrives. Returns the bytes copied.
pub(crate) fn pump(from: &mut impl Read, to: &mut Framed<impl Write>) -> io::Result<u64> {
    let mut buf = vec![0u8; PIECE];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.send(&buf[..n])?;
        total += n as u64;
    }
}

/// Writes a head: the start line, then the headers, then the blank line.
pub(crate) fn write_head(to: &mut impl Write, start: &str, headers: &[Header]) -> io::Result<()> {
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(start.as_bytes());
    out.extend_from_slice(b"\r\n");
    for h in headers {
        out.extend_from_slice(h.name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(&h.value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    to.write_all(&out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn body(raw: &[u8], framing: Framing) -> (Vec<u8>, Vec<u8>) {
        let mut from = BufReader::new(raw);
        let mut out = Vec::new();
        Body::new(&mut from, framing)
            .read_to_end(&mut out)
            .expect("a body");
        let mut rest = Vec::new();
        from.read_to_end(&mut rest).expect("the rest");
        (out, rest)
    }

    /// (raw, framing, body, left on the connection)
    type Row = (&'static [u8], Framing, &'static [u8], &'static [u8]);

    #[test]
    fn bodies_end_where_their_framing_says() {
        let rows: &[Row] = &[
            (b"hello NEXT", Framing::Length(5), b"hello", b" NEXT"),
            (b"NEXT", Framing::Empty, b"", b"NEXT"),
            (
                b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\nNEXT",
                Framing::Chunked,
                b"hello, world",
                b"NEXT",
            ),
            (
                b"3\r\nabc\r\n0\r\nTrailer: x\r\n\r\nNEXT",
                Framing::Chunked,
                b"abc",
                b"NEXT",
            ),
            (
                b"A\r\n0123456789\r\n0\r\n\r\n",
                Framing::Chunked,
                b"0123456789",
                b"",
            ),
            (b"all of it", Framing::UntilClose, b"all of it", b""),
        ];
        for (raw, framing, want, rest) in rows {
            let (got, left) = body(raw, *framing);
            assert_eq!(
                (got.as_slice(), left.as_slice()),
                (*want, *rest),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn broken_bodies_are_errors_not_hangs() {
        for (raw, framing) in [
            (&b"abc"[..], Framing::Length(5)),
            (b"zz\r\nabc\r\n0\r\n\r\n", Framing::Chunked),
            (b"5\r\nab", Framing::Chunked),
        ] {
            let mut from = BufReader::new(raw);
            let mut out = Vec::new();
            assert!(
                Body::new(&mut from, framing).read_to_end(&mut out).is_err(),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn heads_are_read_to_their_blank_line_and_no_further() {
        let raw = b"\r\nGET /a?b=1 HTTP/1.1\r\nHost: x\r\nX-Latin: caf\xe9\r\n\r\nBODY";
        let mut from = BufReader::new(&raw[..]);
        let head = read_request(&mut from).expect("ok").expect("a head");
        assert_eq!(
            (head.method.as_str(), head.target.as_str()),
            ("GET", "/a?b=1")
        );
        assert_eq!(get(&head.headers, "host"), Some("x"));
        assert_eq!(head.headers[1].value, b"caf\xe9");
        let mut rest = String::new();
        from.read_to_string(&mut rest).expect("rest");
        assert_eq!(rest, "BODY");
        let mut empty = BufReader::new(&b""[..]);
        assert!(read_request(&mut empty).expect("ok").is_none());
    }

    #[test]
    fn oversized_and_malformed_heads_are_refused() {
        let mut big = b"GET / HTTP/1.1\r\nX: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', MAX_HEAD_BYTES + 10));
        big.extend_from_slice(b"\r\n\r\n");
        assert!(matches!(
            read_request(&mut BufReader::new(&big[..])),
            Err(HeadError::TooLarge)
        ));
        let many: String = (0..MAX_HEADERS + 1)
            .map(|i| format!("X-{i}: v\r\n"))
            .collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert!(matches!(
            read_request(&mut BufReader::new(many.as_bytes())),
            Err(HeadError::TooLarge)
        ));
        let bad = b"HTTP/1.1 two hundred OK\r\nbad header\r\n\r\n";
        assert!(matches!(
            read_response(&mut BufReader::new(&bad[..])),
            Err(HeadError::Malformed(_))
        ));
    }

    #[test]
    fn interim_responses_are_skipped_but_not_101() {
        let raw = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let head = read_response(&mut BufReader::new(&raw[..])).expect("a head");
        assert_eq!(head.status, 200);
        let raw = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        assert_eq!(
            read_response(&mut BufReader::new(&raw[..]))
                .expect("a head")
                .status,
            101
        );
    }

    #[test]
    fn framed_pieces_are_chunks_when_chunked() {
        let mut out = Vec::new();
        let mut framed = Framed::new(&mut out, true);
        framed.send(b"data: one\n\n").expect("send");
        framed.send(b"").expect("nothing");
        framed.finish().expect("finish");
        assert_eq!(out, b"b\r\ndata: one\n\n\r\n0\r\n\r\n");
    }
}
