//! What the proxy changes on the way through (SPEC.md section 9): headers
//! each way, and HTML pages, which get the client script (decoded first
//! when the backend compressed them).

use std::borrow::Cow;
use std::net::SocketAddr;

use super::Backend;
use crate::front::wire::{Header, RequestHead, ResponseHead, get, lists, tokens};

/// HTML pages larger than this pass through without the script.
pub(crate) const MAX_PAGE: usize = 16 << 20;

/// Headers that describe one connection, not the message (RFC 9110 7.6.1),
/// plus the framing, which the proxy writes itself for each side.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
];

/// `headers` without hop-by-hop ones, nor those `Connection` names.
fn end_to_end(headers: &[Header]) -> Vec<Header> {
    let named = tokens(headers, "Connection");
    headers
        .iter()
        .filter(|h| {
            let name = h.name.to_ascii_lowercase();
            !HOP_BY_HOP.contains(&name.as_str()) && !named.contains(&name)
        })
        .cloned()
        .collect()
}

/// The headers sent to the backend for a browser's request: `Host` is the
/// backend's, `X-Forwarded-*` say who asked and for what, and only the
/// encodings the proxy can decode are offered, so a page can still get
/// its script. The caller adds the framing.
pub(crate) fn to_backend(head: &RequestHead, backend: &Backend, client: SocketAddr) -> Vec<Header> {
    let asked_host = get(&head.headers, "Host").unwrap_or_default().to_string();
    let forwarded_for = match get(&head.headers, "X-Forwarded-For") {
        Some(earlier) => format!("{earlier}, {}", client.ip()),
        None => client.ip().to_string(),
    };
    let mut out: Vec<Header> = end_to_end(&head.headers)
        .into_iter()
        .filter(|h| {
            !h.is("Host")
                && !h.is("Expect")
                && !h.is("Accept-Encoding")
                && !h.is("X-Forwarded-For")
                && !h.is("X-Forwarded-Host")
                && !h.is("X-Forwarded-Proto")
        })
        .collect();
    out.insert(0, Header::new("Host", backend.authority.as_str()));
    if head.headers.iter().any(|h| h.is("Accept-Encoding")) {
        out.push(Header::new("Accept-Encoding", "gzip, deflate"));
    }
    out.push(Header::new("X-Forwarded-For", forwarded_for));
    if !asked_host.is_empty() {
        out.push(Header::new("X-Forwarded-Host", asked_host));
    }
    out.push(Header::new("X-Forwarded-Proto", "http"));
    out
}

/// The headers sent to the browser for a backend's response: URLs that
/// point at the backend point at the proxy (`http://` + the `Host` the
/// browser asked for), and a cookie's `Domain` naming the backend host is
/// dropped, so the browser keeps it for the proxy. The caller adds the
/// framing.
pub(crate) fn to_browser(head: &ResponseHead, backend: &Backend, asked_host: &str) -> Vec<Header> {
    let proxy_origin = format!("http://{asked_host}");
    end_to_end(&head.headers)
        .into_iter()
        .map(|mut h| {
            if h.is("Location") || h.is("Content-Location") || h.is("Refresh") {
                if let Some(text) = h.text()
                    && let Some(rewritten) = point_at_proxy(text, backend, &proxy_origin)
                {
                    h.value = rewritten.into_bytes();
                }
            } else if h.is("Set-Cookie")
                && let Some(text) = h.text()
            {
                h.value = without_domain(text, &backend.host).into_bytes();
            }
            h
        })
        .collect()
}

/// `value` with the backend's origin (and base path) replaced by the
/// proxy's, wherever it appears (a `Refresh` has it after `url=`).
fn point_at_proxy(value: &str, backend: &Backend, proxy_origin: &str) -> Option<String> {
    let mut origins = vec![backend.origin()];
    if backend.port == 80 {
        origins.push(format!("http://{}", backend.host_in_url()));
    }
    for origin in origins {
        let with_base = format!("{origin}{}", backend.base);
        let lower = value.to_ascii_lowercase();
        if let Some(at) = lower.find(&with_base.to_ascii_lowercase()) {
            let rest = &value[at + with_base.len()..];
            // Only a whole origin: `http://a:80` must not match `http://a:8080`.
            if rest.is_empty() || rest.starts_with(['/', '?', '#']) {
                let rest = if rest.is_empty() { "/" } else { rest };
                return Some(format!("{}{proxy_origin}{rest}", &value[..at]));
            }
        }
    }
    None
}

/// A `Set-Cookie` value without a `Domain` attribute naming `host`.
fn without_domain(cookie: &str, host: &str) -> String {
    cookie
        .split(';')
        .enumerate()
        .filter(|(i, part)| {
            *i == 0 || {
                let part = part.trim();
                match part.split_once('=') {
                    Some((name, domain)) if name.trim().eq_ignore_ascii_case("domain") => !domain
                        .trim()
                        .trim_start_matches('.')
                        .eq_ignore_ascii_case(host),
                    _ => true,
                }
            }
        })
        .map(|(_, part)| part)
        .collect::<Vec<_>>()
        .join(";")
}

/// Does this response get the client script? A successful HTML page with
/// a body.
pub(crate) fn is_page(method: &str, head: &ResponseHead) -> bool {
    (200..300).contains(&head.status)
        && !method.eq_ignore_ascii_case("HEAD")
        && head.status != 204
        && get(&head.headers, "Content-Type").is_some_and(|t| {
            t.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/html"))
        })
}

/// The page's bytes without its content coding, or `None` when it uses
/// one the proxy cannot undo (or the bytes are not what it says), in which
/// case it passes as it came.
pub(crate) fn decoded<'a>(body: &'a [u8], headers: &[Header]) -> Option<Cow<'a, [u8]>> {
    let mut codings = tokens(headers, "Content-Encoding");
    codings.retain(|c| c != "identity");
    match codings.as_slice() {
        [] => Some(Cow::Borrowed(body)),
        [one] if one == "gzip" || one == "x-gzip" => gunzip(body).map(Cow::Owned),
        [one] if one == "deflate" => {
            // Meant to be zlib-wrapped; some servers send it raw.
            miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(body, MAX_PAGE)
                .or_else(|_| miniz_oxide::inflate::decompress_to_vec_with_limit(body, MAX_PAGE))
                .ok()
                .map(Cow::Owned)
        }
        _ => None,
    }
}

/// The data of a gzip member (RFC 1952), bounded by [`MAX_PAGE`].
fn gunzip(body: &[u8]) -> Option<Vec<u8>> {
    const FHCRC: u8 = 2;
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    const FCOMMENT: u8 = 16;
    if body.len() < 18 || body[..3] != [0x1f, 0x8b, 8] {
        return None;
    }
    let flags = body[3];
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let len = usize::from(*body.get(at)?) | usize::from(*body.get(at + 1)?) << 8;
        at += 2 + len;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            at += body.get(at..)?.iter().position(|&b| b == 0)? + 1;
        }
    }
    if flags & FHCRC != 0 {
        at += 2;
    }
    miniz_oxide::inflate::decompress_to_vec_with_limit(body.get(at..)?, MAX_PAGE).ok()
}

/// Is this request a WebSocket (or other) upgrade?
pub(crate) fn is_upgrade(head: &RequestHead) -> bool {
    lists(&head.headers, "Connection", "upgrade") && get(&head.headers, "Upgrade").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend() -> Backend {
        Backend::parse("http://127.0.0.1:8000").expect("a URL")
    }

    #[test]
    fn urls_at_the_backend_point_at_the_proxy() {
        let rows: &[(&str, Option<&str>)] = &[
            ("http://127.0.0.1:8000/", Some("http://localhost:9000/")),
            ("http://127.0.0.1:8000", Some("http://localhost:9000/")),
            (
                "http://127.0.0.1:8000/a?b=1",
                Some("http://localhost:9000/a?b=1"),
            ),
            ("HTTP://127.0.0.1:8000/x", Some("http://localhost:9000/x")),
            (
                "0; url=http://127.0.0.1:8000/next",
                Some("0; url=http://localhost:9000/next"),
            ),
            ("http://127.0.0.1:80001/", None),
            ("/relative", None),
            ("https://example.com/", None),
        ];
        for (value, want) in rows {
            assert_eq!(
                point_at_proxy(value, &backend(), "http://localhost:9000").as_deref(),
                *want,
                "{value}"
            );
        }
        let based = Backend::parse("http://app.test/base").expect("a URL");
        assert_eq!(
            point_at_proxy("http://app.test/base/page", &based, "http://localhost:9000").as_deref(),
            Some("http://localhost:9000/page")
        );
    }

    #[test]
    fn a_cookie_domain_naming_the_backend_is_dropped() {
        let rows = [
            (
                "session=abc; Domain=127.0.0.1; Path=/; HttpOnly",
                "session=abc; Path=/; HttpOnly",
            ),
            ("a=b; domain=.127.0.0.1", "a=b"),
            ("a=b; Domain=example.com", "a=b; Domain=example.com"),
            ("theme=dark; Path=/", "theme=dark; Path=/"),
        ];
        for (cookie, want) in rows {
            assert_eq!(without_domain(cookie, "127.0.0.1"), want);
        }
    }

    #[test]
    fn compressed_pages_are_decoded() {
        let page = b"<html><body>hi</body></html>".repeat(20);
        let zlib = miniz_oxide::deflate::compress_to_vec_zlib(&page, 6);
        let raw = miniz_oxide::deflate::compress_to_vec(&page, 6);
        let mut gzip = vec![0x1f, 0x8b, 8, FNAME_FLAG, 0, 0, 0, 0, 0, 3];
        gzip.extend_from_slice(b"page.html\0");
        gzip.extend_from_slice(&raw);
        gzip.extend_from_slice(&[0; 8]);
        let coded = |c: &str| vec![Header::new("Content-Encoding", c)];
        for (body, coding) in [(&zlib, "deflate"), (&raw, "deflate"), (&gzip, "gzip")] {
            assert_eq!(
                decoded(body, &coded(coding)).as_deref(),
                Some(&page[..]),
                "{coding}"
            );
        }
        assert_eq!(decoded(&page, &[]).as_deref(), Some(&page[..]));
        assert_eq!(decoded(&page, &coded("br")), None);
        assert_eq!(decoded(b"not gzip at all", &coded("gzip")), None);
    }

    const FNAME_FLAG: u8 = 8;

    #[test]
    fn hop_by_hop_headers_stay_behind() {
        let head = ResponseHead {
            minor: 1,
            status: 200,
            reason: "OK".into(),
            headers: vec![
                Header::new("Connection", "keep-alive, X-Private"),
                Header::new("X-Private", "1"),
                Header::new("Keep-Alive", "timeout=5"),
                Header::new("Transfer-Encoding", "chunked"),
                Header::new("Content-Type", "text/plain"),
            ],
        };
        let out = to_browser(&head, &backend(), "localhost:9000");
        assert_eq!(out, vec![Header::new("Content-Type", "text/plain")]);
    }
}
