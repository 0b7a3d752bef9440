//! Static files under one root.
//!
//! [`StaticFiles`] answers `GET` and `HEAD` requests with the files below one
//! folder, and never with anything outside it: `..` in any spelling,
//! backslashes and symlinks that lead out are refused. HTML pages get the
//! hot-reload client injected (see [`inject_script`]) when that is turned on.
//!
//! The mapping from URL to file is [`StaticFiles::resolve`], a pure function
//! of the URL and the file system, so it can be tested without a socket.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Component, Path, PathBuf};

use tiny_http::{Header, Request, Response};

use crate::server::CLIENT_PATH;

/// The tag [`inject_script`] inserts.
const SCRIPT_TAG: &str = "<script src=\"/static/js/hotreload.js\"></script>";

/// Adds the hot-reload client to an HTML page.
///
/// Inserts `<script src="/static/js/hotreload.js"></script>` right before the
/// last `</body>` (in any letter case), or at the end of the page when it has
/// none. A page that already loads the client (a `<script>` whose `src` ends
/// in `/static/js/hotreload.js`, quoted or not, with or without a query
/// string) comes back unchanged and borrowed.
///
/// Works on bytes, so a page in any ASCII-compatible encoding survives
/// untouched apart from the inserted tag.
#[must_use]
pub fn inject_script(html: &[u8]) -> Cow<'_, [u8]> {
    if loads_client(html) {
        return Cow::Borrowed(html);
    }
    let tag = SCRIPT_TAG.as_bytes();
    let at = last_body_close(html).unwrap_or(html.len());
    let mut page = Vec::with_capacity(html.len() + tag.len());
    page.extend_from_slice(&html[..at]);
    page.extend_from_slice(tag);
    page.extend_from_slice(&html[at..]);
    Cow::Owned(page)
}

/// Start of the last `</body>` (any case; `</body >` counts too).
fn last_body_close(html: &[u8]) -> Option<usize> {
    const CLOSE: &[u8] = b"</body";
    if html.len() < CLOSE.len() {
        return None;
    }
    (0..=html.len() - CLOSE.len()).rev().find(|&i| {
        html[i..i + CLOSE.len()].eq_ignore_ascii_case(CLOSE)
            && html
                .get(i + CLOSE.len())
                .is_some_and(|&b| b == b'>' || b.is_ascii_whitespace())
    })
}

/// True when some `<script>` tag in the page has a `src` naming the client.
fn loads_client(html: &[u8]) -> bool {
    const OPEN: &[u8] = b"<script";
    let mut from = 0;
    while let Some(found) = find_ignore_case(&html[from..], OPEN) {
        let attrs = from + found + OPEN.len();
        let tag_name_ends = html
            .get(attrs)
            .is_none_or(|&b| b == b'>' || b == b'/' || b.is_ascii_whitespace());
        if tag_name_ends && script_src_is_client(&html[attrs..]) {
            return true;
        }
        from = attrs;
    }
    false
}

/// Parses the attributes of one tag, starting right after its name, up to
/// the `>` that ends it; true when a `src` attribute names the client.
fn script_src_is_client(tag: &[u8]) -> bool {
    let n = tag.len();
    let mut i = 0;
    loop {
        while i < n && (tag[i].is_ascii_whitespace() || tag[i] == b'/') {
            i += 1;
        }
        if i >= n || tag[i] == b'>' {
            return false;
        }
        let name_start = i;
        while i < n && !tag[i].is_ascii_whitespace() && !matches!(tag[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        if i == name_start {
            // A stray `=`: skip it rather than loop on it.
            i += 1;
            continue;
        }
        let name = &tag[name_start..i];
        while i < n && tag[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n || tag[i] != b'=' {
            continue;
        }
        i += 1;
        while i < n && tag[i].is_ascii_whitespace() {
            i += 1;
        }
        let value = match tag.get(i) {
            Some(&quote @ (b'"' | b'\'')) => {
                let start = i + 1;
                let end = tag[start..]
                    .iter()
                    .position(|&b| b == quote)
                    .map_or(n, |p| start + p);
                i = (end + 1).min(n);
                &tag[start..end]
            }
            _ => {
                let start = i;
                while i < n && !tag[i].is_ascii_whitespace() && tag[i] != b'>' {
                    i += 1;
                }
                &tag[start..i]
            }
        };
        if name.eq_ignore_ascii_case(b"src") && is_client_url(value) {
            return true;
        }
    }
}

/// True for a URL whose path ends in [`CLIENT_PATH`].
fn is_client_url(value: &[u8]) -> bool {
    let value = value.trim_ascii();
    let path_end = value
        .iter()
        .position(|&b| b == b'?' || b == b'#')
        .unwrap_or(value.len());
    value[..path_end].ends_with(CLIENT_PATH.as_bytes())
}

/// Position of `needle` in `haystack`, ASCII case-insensitive.
fn find_ignore_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

/// The `Content-Type` for a file, from its extension (any letter case).
/// Text types say `charset=utf-8`; anything unknown is
/// `application/octet-stream`.
#[must_use]
pub fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "md" => "text/markdown; charset=utf-8",
        "xml" => "text/xml; charset=utf-8",
        "yaml" | "yml" => "application/yaml; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "pdf" => "application/pdf",
        _ => "application/octet-stream",
    }
}

/// True for the files that get the client injected.
fn is_html(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"))
}

/// What a URL maps to under the root; see [`StaticFiles::resolve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A regular file inside the root, by its canonical path.
    File(PathBuf),
    /// A folder asked for without its trailing slash: send the browser to
    /// this URL (path plus `/`, query string kept) so relative links work.
    Redirect(String),
    /// Nothing there (or a folder without `index.html`): 404.
    NotFound,
    /// A path that would leave the root (`..`, backslashes, a symlink that
    /// points outside), or something that is not a regular file: 403.
    Forbidden,
    /// Invalid percent-encoding, or an encoded NUL byte: 400.
    BadRequest,
}

/// Serves the files under one folder.
#[derive(Debug, Clone)]
pub struct StaticFiles {
    root: PathBuf,
    inject: bool,
}

impl StaticFiles {
    /// Serves `root`; with `inject`, HTML pages get the hot-reload client
    /// (see [`inject_script`]).
    ///
    /// The root is canonicalized once here.
    ///
    /// # Errors
    ///
    /// A root that is missing, unreadable or not a folder is an
    /// [`Error::Io`](crate::Error::Io) whose action is "serve the folder".
    pub fn new(root: &Path, inject: bool) -> Result<StaticFiles, crate::Error> {
        let io_error = |source| crate::Error::Io {
            action: "serve the folder".into(),
            path: root.to_path_buf(),
            source,
        };
        let canonical = fs::canonicalize(root).map_err(io_error)?;
        if !canonical.is_dir() {
            return Err(io_error(io::Error::new(
                io::ErrorKind::NotADirectory,
                "not a directory",
            )));
        }
        Ok(StaticFiles {
            root: canonical,
            inject,
        })
    }

    /// The served folder, canonicalized.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Maps a request URL (as `tiny_http::Request::url` gives it, or an
    /// absolute `http://host/path` URL) to what should be sent.
    ///
    /// The query string and fragment are dropped, the path is
    /// percent-decoded, and every segment must be a plain name: `..` (in any
    /// encoding) and backslashes are [`Resolved::Forbidden`]. The joined path
    /// is canonicalized and must still lie inside the root, so a symlink that
    /// leads out is refused too. A folder gives its `index.html`.
    #[must_use]
    pub fn resolve(&self, url: &str) -> Resolved {
        let Some(url) = origin_form(url) else {
            return Resolved::BadRequest;
        };
        let path_end = url.find(['?', '#']).unwrap_or(url.len());
        let (raw_path, rest) = url.split_at(path_end);
        let query = match rest.find('#') {
            Some(hash) => &rest[..hash],
            None => rest,
        };
        if raw_path.contains('\\') {
            return Resolved::Forbidden;
        }
        let Some(decoded) = percent_decode(raw_path.as_bytes()) else {
            return Resolved::BadRequest;
        };
        if decoded.contains(&0) {
            return Resolved::BadRequest;
        }

        let mut joined = self.root.clone();
        for segment in decoded.split(|&b| b == b'/') {
            match segment {
                b"" | b"." => continue,
                b".." => return Resolved::Forbidden,
                _ if segment.contains(&b'\\') => return Resolved::Forbidden,
                _ => {}
            }
            let Some(name) = segment_to_path(segment) else {
                return Resolved::BadRequest;
            };
            // On Windows a segment such as `C:` is a prefix, not a name.
            let mut components = name.components();
            if !matches!(
                (components.next(), components.next()),
                (Some(Component::Normal(_)), None)
            ) {
                return Resolved::Forbidden;
            }
            joined.push(name);
        }
        let wants_folder = decoded.last().is_none_or(|&b| b == b'/');

        let target = match self.inside_root(&joined) {
            Ok(target) => target,
            Err(refusal) => return refusal,
        };
        let Ok(meta) = fs::metadata(&target) else {
            return Resolved::NotFound;
        };
        if meta.is_dir() {
            if !wants_folder {
                return Resolved::Redirect(folder_location(raw_path, query));
            }
            let index = match self.inside_root(&target.join("index.html")) {
                Ok(index) => index,
                Err(refusal) => return refusal,
            };
            return match fs::metadata(&index) {
                Ok(meta) if meta.is_file() => Resolved::File(index),
                Ok(meta) if meta.is_dir() => Resolved::NotFound,
                Ok(_) => Resolved::Forbidden,
                Err(_) => Resolved::NotFound,
            };
        }
        if wants_folder {
            // `/style.css/` names a folder that is not there.
            return Resolved::NotFound;
        }
        if meta.is_file() {
            Resolved::File(target)
        } else {
            // FIFOs, sockets and devices would block or leak.
            Resolved::Forbidden
        }
    }

    /// Canonicalizes `path` and checks that it is still under the root.
    fn inside_root(&self, path: &Path) -> Result<PathBuf, Resolved> {
        match fs::canonicalize(path) {
            Ok(canonical) if canonical.starts_with(&self.root) => Ok(canonical),
            Ok(_) => Err(Resolved::Forbidden),
            Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Err(Resolved::Forbidden),
            Err(_) => Err(Resolved::NotFound),
        }
    }

    /// What a request for `url` with `method` gets: the file, a redirect,
    /// or an error status with a one-line plain-text body. Every answer
    /// carries `Cache-Control: no-cache` and a `Content-Type`; the body is
    /// the GET's (a HEAD's writer leaves it out).
    pub fn reply(&self, method: &str, url: &str) -> FileReply {
        if !matches!(method, "GET" | "HEAD") {
            return text(405, "405 Method Not Allowed: only GET and HEAD are served")
                .with("Allow", "GET, HEAD");
        }
        let shown = url.split(['?', '#']).next().unwrap_or_default();
        match self.resolve(url) {
            Resolved::File(path) => self.file(&path, shown),
            Resolved::Redirect(location) => {
                text(302, &format!("302 Found: {location}")).with("Location", &location)
            }
            // Browsers ask every site for an icon; a folder without one should
            // not fill the console with 404s on every reload.
            Resolved::NotFound if shown == "/favicon.ico" => FileReply {
                status: 204,
                headers: vec![("Cache-Control", "no-cache".into())],
                body: FileBody::Bytes(Vec::new()),
            },
            Resolved::NotFound => text(404, &format!("404 Not Found: {shown}")),
            Resolved::Forbidden => text(
                403,
                &format!("403 Forbidden: {shown} is outside the served folder or not a file"),
            ),
            Resolved::BadRequest => text(
                400,
                &format!("400 Bad Request: {shown} is not a valid path (bad %-escape or NUL byte)"),
            ),
        }
    }

    /// Answers a tiny_http `request` with [`reply`](Self::reply). Errors
    /// while sending (the browser went away) are logged at debug level.
    pub fn respond(&self, request: Request) {
        let reply = self.reply(request.method().as_str(), request.url());
        let FileReply {
            status,
            headers,
            body,
        } = reply;
        let what = format!("{} {}", request.method(), request.url());
        let sent = match body {
            FileBody::Bytes(bytes) => {
                let mut response = Response::from_data(bytes).with_status_code(status);
                add_headers(&mut response, &headers);
                request.respond(response.with_chunked_threshold(usize::MAX))
            }
            FileBody::File(file, _) => {
                let mut response = Response::from_file(file).with_status_code(status);
                add_headers(&mut response, &headers);
                request.respond(response.with_chunked_threshold(usize::MAX))
            }
        };
        if let Err(e) = sent {
            log::debug!("could not answer {what}: {e}");
        }
    }

    /// One resolved file, with the client injected into HTML.
    fn file(&self, path: &Path, shown: &str) -> FileReply {
        let kind = content_type(path);
        let body = if self.inject && is_html(path) {
            fs::read(path).map(|html| {
                let page = match inject_script(&html) {
                    Cow::Owned(page) => page,
                    Cow::Borrowed(_) => html,
                };
                FileBody::Bytes(page)
            })
        } else {
            File::open(path).and_then(|file| {
                let length = file.metadata()?.len();
                Ok(FileBody::File(file, length))
            })
        };
        match body {
            Ok(body) => FileReply {
                status: 200,
                headers: vec![
                    ("Content-Type", kind.into()),
                    ("Cache-Control", "no-cache".into()),
                ],
                body,
            },
            Err(e) => unreadable(path, shown, &e),
        }
    }
}

/// What [`StaticFiles::reply`] comes to.
#[derive(Debug)]
pub struct FileReply {
    /// The HTTP status.
    pub status: u16,
    /// Headers besides the length, which the body gives.
    pub headers: Vec<(&'static str, String)>,
    /// The body of a GET.
    pub body: FileBody,
}

impl FileReply {
    fn with(mut self, name: &'static str, value: &str) -> FileReply {
        self.headers.push((name, value.to_string()));
        self
    }
}

/// A body: bytes in memory (pages, messages) or a file read as it is sent.
#[derive(Debug)]
pub enum FileBody {
    /// Bytes in memory.
    Bytes(Vec<u8>),
    /// A file and its length.
    File(File, u64),
}

impl FileBody {
    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            FileBody::Bytes(bytes) => bytes.len() as u64,
            FileBody::File(_, length) => *length,
        }
    }

    /// Is the body empty?
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The answer for a file that resolved but could not be opened or read.
fn unreadable(path: &Path, shown: &str, error: &io::Error) -> FileReply {
    match error.kind() {
        io::ErrorKind::PermissionDenied => text(
            403,
            &format!("403 Forbidden: {shown} cannot be read (permission denied)"),
        ),
        // Deleted between resolving and opening.
        io::ErrorKind::NotFound => text(404, &format!("404 Not Found: {shown}")),
        _ => {
            log::warn!("cannot read {}: {error}", path.display());
            text(
                500,
                &format!("500 Internal Server Error: cannot read {shown}"),
            )
        }
    }
}

/// Turns an absolute-form request target into origin form (`/path?query`).
fn origin_form(url: &str) -> Option<&str> {
    if url.starts_with('/') {
        return Some(url);
    }
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    let after_scheme = if lower.starts_with("http://") {
        &url[7..]
    } else if lower.starts_with("https://") {
        &url[8..]
    } else {
        return None;
    };
    match after_scheme.find(['/', '?', '#']) {
        Some(i) if after_scheme[i..].starts_with('/') => Some(&after_scheme[i..]),
        Some(_) => None,
        None => Some("/"),
    }
}

/// Decodes `%XX` escapes; `None` when one is malformed.
fn percent_decode(input: &[u8]) -> Option<Vec<u8>> {
    fn hex(b: u8) -> Option<u8> {
        match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            b'A'..=b'F' => Some(b - b'A' + 10),
            _ => None,
        }
    }
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%' {
            let hi = hex(*input.get(i + 1)?)?;
            let lo = hex(*input.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(input[i]);
            i += 1;
        }
    }
    Some(out)
}

/// One decoded path segment as a file name.
#[cfg(unix)]
fn segment_to_path(segment: &[u8]) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(segment)))
}

/// One decoded path segment as a file name (must be UTF-8 off Unix).
#[cfg(not(unix))]
fn segment_to_path(segment: &[u8]) -> Option<PathBuf> {
    std::str::from_utf8(segment).ok().map(PathBuf::from)
}

/// The URL a folder asked for without its slash redirects to. Leading
/// slashes collapse to one (`//host` would be another site), and anything
/// outside printable ASCII is percent-encoded so it fits a header.
fn folder_location(raw_path: &str, query: &str) -> String {
    let path = format!("/{}/", raw_path.trim_start_matches('/'));
    let mut location = String::with_capacity(path.len() + query.len());
    for &b in path.as_bytes().iter().chain(query.as_bytes()) {
        if (0x21..=0x7e).contains(&b) {
            location.push(char::from(b));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(location, "%{b:02X}");
        }
    }
    location
}

/// Adds headers; names and values here are ASCII, and one that is not is
/// skipped (with a debug line) rather than sent broken.
fn add_headers<R: Read>(response: &mut Response<R>, headers: &[(&'static str, String)]) {
    for (name, value) in headers {
        match Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            Ok(header) => response.add_header(header),
            Err(()) => log::debug!("header {name} skipped: its value is not plain ASCII"),
        }
    }
}

/// A short plain-text answer with `status`.
fn text(status: u16, line: &str) -> FileReply {
    FileReply {
        status,
        headers: vec![
            ("Content-Type", "text/plain; charset=utf-8".into()),
            ("Cache-Control", "no-cache".into()),
            ("X-Content-Type-Options", "nosniff".into()),
        ],
        body: FileBody::Bytes(format!("{line}\n").into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpStream;

    const TAG: &str = "<script src=\"/static/js/hotreload.js\"></script>";

    #[test]
    fn inject_script_cases() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "before the last </body>",
                "<html><body><p>hi</p></body></html>",
                "<html><body><p>hi</p>{TAG}</body></html>",
            ),
            (
                "uppercase </BODY>",
                "<HTML><BODY>x</BODY></HTML>",
                "<HTML><BODY>x{TAG}</BODY></HTML>",
            ),
            (
                "mixed case, space before >",
                "<body>x</Body >",
                "<body>x{TAG}</Body >",
            ),
            (
                "only the last of two",
                "<body><pre></body></pre></body>",
                "<body><pre></body></pre>{TAG}</body>",
            ),
            (
                "no </body>: appended",
                "<p>fragment</p>",
                "<p>fragment</p>{TAG}",
            ),
            ("empty page", "", "{TAG}"),
            (
                "</bodyx> is not </body>",
                "<bodyx>a</bodyx>",
                "<bodyx>a</bodyx>{TAG}",
            ),
            (
                "another script stays",
                "<script src=\"/js/app.js\"></script></body>",
                "<script src=\"/js/app.js\"></script>{TAG}</body>",
            ),
            (
                "data-src does not count",
                "<script data-src=/static/js/hotreload.js></script></body>",
                "<script data-src=/static/js/hotreload.js></script>{TAG}</body>",
            ),
            (
                "a link to it does not count",
                "<a href=\"/static/js/hotreload.js\">x</a></body>",
                "<a href=\"/static/js/hotreload.js\">x</a>{TAG}</body>",
            ),
        ];
        for (name, input, want) in cases {
            let want = want.replace("{TAG}", TAG);
            let got = inject_script(input.as_bytes());
            assert!(matches!(got, Cow::Owned(_)), "{name}: should be owned");
            assert_eq!(String::from_utf8_lossy(&got), want, "{name}");
        }
    }

    #[test]
    fn inject_script_leaves_pages_that_load_it() {
        let pages = [
            "<script src=\"/static/js/hotreload.js\"></script></body>",
            "<SCRIPT SRC='/static/js/hotreload.js'></SCRIPT></body>",
            "<script src=/static/js/hotreload.js></script></body>",
            "<script defer src = \"/static/js/hotreload.js?v=3\"></script></body>",
            "<script src=\"http://localhost:8080/static/js/hotreload.js\" data-max-attempts=9></script>",
            "<script type=module src=\"/static/js/hotreload.js#x\"></script>",
            "<script\nsrc=\"/static/js/hotreload.js\"/></body>",
        ];
        for page in pages {
            let got = inject_script(page.as_bytes());
            assert!(
                matches!(got, Cow::Borrowed(_)),
                "should be borrowed: {page}"
            );
            assert_eq!(&*got, page.as_bytes());
        }
    }

    #[test]
    fn inject_script_keeps_non_utf8_bytes() {
        let page: &[u8] = b"<body>caf\xe9 \xff\xfe</body>";
        let got = inject_script(page);
        let mut want = b"<body>caf\xe9 \xff\xfe".to_vec();
        want.extend_from_slice(TAG.as_bytes());
        want.extend_from_slice(b"</body>");
        assert_eq!(&*got, &want[..]);
    }

    #[test]
    fn inject_script_survives_broken_tags() {
        for page in [
            "<script",
            "<script src",
            "<script src=",
            "<script src='",
            "<script =>",
            "<script ==x",
        ] {
            let got = inject_script(page.as_bytes());
            assert!(got.ends_with(TAG.as_bytes()), "{page}");
        }
    }

    /// `outside/secret.txt`, and the served root `outside/site` with
    /// `index.html`, `css/style.css`, `sub/index.html`, `docs/` (no index),
    /// `etc/` and `café.txt`.
    fn site() -> (tempfile::TempDir, StaticFiles) {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().join("site");
        fs::create_dir_all(root.join("css")).expect("mkdir");
        fs::create_dir_all(root.join("sub")).expect("mkdir");
        fs::create_dir_all(root.join("docs")).expect("mkdir");
        fs::create_dir_all(root.join("etc")).expect("mkdir");
        fs::write(dir.path().join("secret.txt"), "secret").expect("write");
        fs::write(root.join("index.html"), "<body>home</body>").expect("write");
        fs::write(root.join("css/style.css"), "body{}").expect("write");
        fs::write(root.join("sub/index.html"), "<p>sub</p>").expect("write");
        fs::write(root.join("café.txt"), "coffee").expect("write");
        let files = StaticFiles::new(&root, true).expect("serve");
        (dir, files)
    }

    #[test]
    fn resolve_cases() {
        let (_dir, files) = site();
        let root = files.root().to_path_buf();
        let file = |p: &str| Resolved::File(root.join(p));
        let redirect = |u: &str| Resolved::Redirect(u.to_string());
        let cases = [
            ("/", file("index.html")),
            ("/index.html", file("index.html")),
            ("/css/style.css", file("css/style.css")),
            ("/css/style.css?v=2#top", file("css/style.css")),
            ("/css//style.css", file("css/style.css")),
            ("/./css/./style.css", file("css/style.css")),
            ("/%63ss/style%2Ecss", file("css/style.css")),
            ("/caf%C3%A9.txt", file("café.txt")),
            ("http://localhost:8080/css/style.css", file("css/style.css")),
            ("HTTP://localhost", file("index.html")),
            ("/sub/", file("sub/index.html")),
            ("/sub/?x=1", file("sub/index.html")),
            ("/sub", redirect("/sub/")),
            ("/sub?x=1&y=2#frag", redirect("/sub/?x=1&y=2")),
            ("/docs/", Resolved::NotFound),
            ("/docs", redirect("/docs/")),
            ("/missing.html", Resolved::NotFound),
            ("/css/missing.css", Resolved::NotFound),
            ("/css/style.css/", Resolved::NotFound),
            ("/css/style.css/x", Resolved::NotFound),
            ("/../secret.txt", Resolved::Forbidden),
            ("/css/../../secret.txt", Resolved::Forbidden),
            ("/css/../index.html", Resolved::Forbidden),
            ("/..", Resolved::Forbidden),
            ("/%2e%2e/secret.txt", Resolved::Forbidden),
            ("/%2E%2E/secret.txt", Resolved::Forbidden),
            ("/.%2e/secret.txt", Resolved::Forbidden),
            ("/..%2fsecret.txt", Resolved::Forbidden),
            ("/..%2Fsecret.txt", Resolved::Forbidden),
            ("/css%2F..%2F..%2Fsecret.txt", Resolved::Forbidden),
            ("/..\\secret.txt", Resolved::Forbidden),
            ("/..%5csecret.txt", Resolved::Forbidden),
            ("/css%5Cstyle.css", Resolved::Forbidden),
            ("/index.html%00.css", Resolved::BadRequest),
            ("/%00", Resolved::BadRequest),
            ("/%zz", Resolved::BadRequest),
            ("/%4", Resolved::BadRequest),
            ("/100%", Resolved::BadRequest),
            ("index.html", Resolved::BadRequest),
            ("*", Resolved::BadRequest),
            ("//etc/passwd", Resolved::NotFound),
            ("///etc/passwd", Resolved::NotFound),
            // Not `//etc/`, which a browser reads as the host `etc`.
            ("//etc", redirect("/etc/")),
        ];
        for (url, want) in cases {
            assert_eq!(files.resolve(url), want, "{url}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn resolve_symlinks() {
        use std::os::unix::fs::symlink;
        let (dir, files) = site();
        let root = files.root().to_path_buf();
        symlink(dir.path().join("secret.txt"), root.join("leak.txt")).expect("symlink");
        symlink(dir.path(), root.join("up")).expect("symlink");
        symlink("css/style.css", root.join("alias.css")).expect("symlink");
        symlink("sub", root.join("subalias")).expect("symlink");
        symlink("nowhere", root.join("dangling")).expect("symlink");
        let cases = [
            ("/leak.txt", Resolved::Forbidden),
            ("/up/secret.txt", Resolved::Forbidden),
            ("/up/", Resolved::Forbidden),
            ("/up", Resolved::Forbidden),
            ("/alias.css", Resolved::File(root.join("css/style.css"))),
            ("/subalias/", Resolved::File(root.join("sub/index.html"))),
            ("/dangling", Resolved::NotFound),
        ];
        for (url, want) in cases {
            assert_eq!(files.resolve(url), want, "{url}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn resolve_index_symlinked_outside_is_forbidden() {
        use std::os::unix::fs::symlink;
        let (dir, files) = site();
        symlink(
            dir.path().join("secret.txt"),
            files.root().join("docs/index.html"),
        )
        .expect("symlink");
        assert_eq!(files.resolve("/docs/"), Resolved::Forbidden);
    }

    #[test]
    fn new_refuses_missing_and_non_folders() {
        let dir = tempfile::tempdir().expect("temp dir");
        let missing = dir.path().join("missing");
        let err = StaticFiles::new(&missing, true).expect_err("missing root");
        assert!(matches!(&err, crate::Error::Io { action, path, .. }
            if action == "serve the folder" && path == &missing));
        let file = dir.path().join("file.txt");
        fs::write(&file, "x").expect("write");
        let err = StaticFiles::new(&file, true).expect_err("file root");
        assert!(matches!(&err, crate::Error::Io { source, .. }
            if source.kind() == io::ErrorKind::NotADirectory));
        assert!(err.to_string().contains("serve the folder"), "{err}");
    }

    #[test]
    fn content_types() {
        let cases = [
            ("a.html", "text/html; charset=utf-8"),
            ("a.HTM", "text/html; charset=utf-8"),
            ("a.css", "text/css; charset=utf-8"),
            ("a.mjs", "text/javascript; charset=utf-8"),
            ("PERSONA.md", "text/markdown; charset=utf-8"),
            ("a.js.map", "application/json; charset=utf-8"),
            ("a.yml", "application/yaml; charset=utf-8"),
            ("a.svg", "image/svg+xml"),
            ("a.JPG", "image/jpeg"),
            ("a.woff2", "font/woff2"),
            ("a.wasm", "application/wasm"),
            ("Makefile", "application/octet-stream"),
            ("a.bin", "application/octet-stream"),
        ];
        for (name, want) in cases {
            assert_eq!(content_type(Path::new(name)), want, "{name}");
        }
    }

    /// Sends `raw` to a one-request server over `files` and returns the
    /// status line, the lower-cased headers and the body.
    fn exchange(files: StaticFiles, raw: &str) -> (String, Vec<(String, String)>, Vec<u8>) {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind");
        let addr = server.server_addr().to_ip().expect("ip address");
        let handle = std::thread::spawn(move || {
            let request = server.recv().expect("request");
            files.respond(request);
        });
        let mut stream = TcpStream::connect(addr).expect("connect");
        stream.write_all(raw.as_bytes()).expect("send");
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).expect("read");
        handle.join().expect("server thread");
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of headers");
        let head = String::from_utf8(answer[..split].to_vec()).expect("ascii head");
        let body = answer[split + 4..].to_vec();
        let mut lines = head.split("\r\n");
        let status = lines.next().expect("status line").to_string();
        let headers = lines
            .filter_map(|l| l.split_once(": "))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        (status, headers, body)
    }

    fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn get(path: &str) -> String {
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    }

    #[test]
    fn respond_injects_into_html() {
        let (_dir, files) = site();
        let (status, headers, body) = exchange(files, &get("/"));
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        assert_eq!(
            header(&headers, "content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(header(&headers, "cache-control"), Some("no-cache"));
        let want = format!("<body>home{TAG}</body>");
        assert_eq!(String::from_utf8_lossy(&body), want);
        assert_eq!(
            header(&headers, "content-length"),
            Some(&*want.len().to_string())
        );
    }

    #[test]
    fn respond_without_injection_sends_html_as_is() {
        let (_dir, files) = site();
        let files = StaticFiles::new(files.root(), false).expect("serve");
        let (_, _, body) = exchange(files, &get("/index.html"));
        assert_eq!(body, b"<body>home</body>");
    }

    #[test]
    fn respond_streams_large_files_with_length() {
        let (_dir, files) = site();
        let big = vec![b'x'; 100_000];
        fs::write(files.root().join("big.bin"), &big).expect("write");
        let (status, headers, body) = exchange(files, &get("/big.bin"));
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        assert_eq!(header(&headers, "content-length"), Some("100000"));
        assert_eq!(header(&headers, "transfer-encoding"), None);
        assert_eq!(
            header(&headers, "content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(body, big);
    }

    #[test]
    fn respond_head_has_no_body() {
        let (_dir, files) = site();
        let raw = "HEAD /css/style.css HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        let (status, headers, body) = exchange(files, raw);
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        assert_eq!(
            header(&headers, "content-type"),
            Some("text/css; charset=utf-8")
        );
        assert_eq!(header(&headers, "content-length"), Some("6"));
        assert!(body.is_empty());
    }

    #[test]
    fn respond_errors() {
        let post =
            "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        let cases = [
            (post.to_string(), "405", "Method Not Allowed"),
            (get("/nope.css?x=1"), "404", "404 Not Found: /nope.css\n"),
            (
                get("/%2e%2e/secret.txt"),
                "403",
                "403 Forbidden: /%2e%2e/secret.txt",
            ),
            (get("/a%00"), "400", "400 Bad Request"),
            (get("/sub?q=1"), "302", "302 Found: /sub/?q=1\n"),
        ];
        for (raw, code, text) in cases {
            let (_dir, files) = site();
            let (status, headers, body) = exchange(files, &raw);
            assert!(
                status.starts_with(&format!("HTTP/1.1 {code}")),
                "{raw}: {status}"
            );
            let body = String::from_utf8(body).expect("utf-8 body");
            assert!(body.contains(text), "{raw}: {body}");
            assert_eq!(body.lines().count(), 1, "{raw}: {body}");
            assert_eq!(header(&headers, "cache-control"), Some("no-cache"), "{raw}");
            assert_eq!(
                header(&headers, "content-type"),
                Some("text/plain; charset=utf-8"),
                "{raw}"
            );
            match code {
                "405" => assert_eq!(header(&headers, "allow"), Some("GET, HEAD")),
                "302" => assert_eq!(header(&headers, "location"), Some("/sub/?q=1")),
                _ => {}
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn respond_unreadable_file_is_forbidden() {
        use std::os::unix::fs::PermissionsExt;
        let (_dir, files) = site();
        let path = files.root().join("locked.txt");
        fs::write(&path, "x").expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).expect("chmod");
        if File::open(&path).is_ok() {
            // Running as root: permissions do not stop us; nothing to test.
            return;
        }
        let (status, _, body) = exchange(files, &get("/locked.txt"));
        assert!(status.starts_with("HTTP/1.1 403"), "{status}");
        let body = String::from_utf8(body).expect("utf-8 body");
        assert!(body.contains("cannot be read"), "{body}");
    }
}
