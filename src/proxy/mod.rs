//! Proxy mode (SPEC.md section 9): hot reload in front of any backend.
//! Every request that is not a hot-reload route goes to the backend and
//! its answer comes back, streamed both ways, with the client script in
//! its HTML pages; WebSocket upgrades are tunneled. It runs on the binary's
//! own front (the private `front` module), which owns each socket, so a tunnel can
//! read one side while it writes the other.

mod forward;
pub(crate) mod pages;
mod rewrite;

use std::time::Duration;

pub(crate) use forward::Upstream;
pub(crate) use rewrite::is_upgrade;

/// Where proxy mode sends requests: `http://host[:port][/base]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// The host name or address, as written (an IPv6 address without brackets).
    pub host: String,
    /// The port; 80 when the URL gives none.
    pub port: u16,
    /// A path every request is sent under (`/base`), or empty.
    pub base: String,
    /// `host:port` (`[v6]:port`): what is connected to, and the `Host` sent.
    pub authority: String,
}

impl Backend {
    /// Reads `http://host[:port][/base]`. The error says what is wrong
    /// with it, for a message that adds where it came from and the fix.
    pub fn parse(url: &str) -> Result<Backend, String> {
        let url = url.trim();
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(if url.starts_with("https://") {
                "is an https URL; hotreload proxies plain http (give the app's http address)".into()
            } else {
                format!("{url:?} is not an http:// URL")
            });
        };
        if rest.contains(['?', '#', '@']) {
            return Err(format!(
                "{url:?} has a query, a fragment or a user name; only http://host[:port][/base] is read"
            ));
        }
        let (authority, base) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| {
                format!("{url:?} opens [ for an IPv6 address but never closes it")
            })?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(format!("{url:?} names no host"));
        }
        let port = match port {
            None => 80,
            Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                format!("{url:?} has the port {p:?}, which is not a number from 1 to 65535")
            })?,
        };
        let host_in_url = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        Ok(Backend {
            host: host.to_ascii_lowercase(),
            port,
            base: base.to_string(),
            authority: format!("{host_in_url}:{port}"),
        })
    }

    /// `http://host:port`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.authority)
    }

    /// The host as a URL writes it (IPv6 in brackets).
    fn host_in_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

/// A backend, and how long it may take to start an answer.
#[derive(Debug, Clone)]
pub struct Proxied {
    /// Where requests go.
    pub backend: Backend,
    /// How long the backend may take to start its answer; then 504.
    pub timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_urls() {
        let ok = |url: &str| Backend::parse(url).expect(url);
        let b = ok("http://localhost:3000");
        assert_eq!(
            (b.host.as_str(), b.port, b.base.as_str()),
            ("localhost", 3000, "")
        );
        assert_eq!(b.origin(), "http://localhost:3000");
        let b = ok("http://App.test/base/");
        assert_eq!(
            (b.host.as_str(), b.port, b.base.as_str()),
            ("app.test", 80, "/base")
        );
        assert_eq!(b.authority, "App.test:80");
        let b = ok("http://[::1]:8000");
        assert_eq!(
            (b.host.as_str(), b.authority.as_str()),
            ("::1", "[::1]:8000")
        );
        for bad in [
            "localhost:3000",
            "https://localhost:3000",
            "http://",
            "http://:3000",
            "http://host:0",
            "http://host:99999",
            "http://host:port",
            "http://host/a?b",
            "http://user@host",
            "http://[::1:3000",
        ] {
            assert!(Backend::parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
