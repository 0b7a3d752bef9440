//! Step 3 of reading a config: values that parse but cannot work.

use super::Config;

/// Upper bound of `debounce_ms`: a longer quiet time looks like a dead server.
const MAX_DEBOUNCE_MS: u64 = 60_000;
/// Upper bound of `max_wait_ms` and `heartbeat_ms`, far below where adding
/// them to an `Instant` could overflow.
const MAX_INTERVAL_MS: u64 = 3_600_000;
/// Lower bound of `heartbeat_ms`.
const MIN_HEARTBEAT_MS: u64 = 100;
/// Upper bound of `client_buffer`: bounded channels allocate their capacity.
const MAX_CLIENT_BUFFER: usize = 100_000;

impl Config {
    /// The checks of [`Config::validate`], naming the field at fault so
    /// [`Config::from_yaml`] can point at its line.
    pub(super) fn check(&self) -> Result<(), Problem> {
        for (i, dir) in self.watch_dirs.iter().enumerate() {
            if dir.path.as_os_str().is_empty() {
                return Err(Problem::new(
                    "watch_dirs",
                    format!("item {} is an empty folder name", i + 1),
                    "remove it, or name a folder such as \".\"",
                )
                .item(i));
            }
        }
        check_globs("patterns", &self.patterns)?;
        check_globs("ignore", &self.ignore)?;
        if self.debounce_ms > MAX_DEBOUNCE_MS {
            return Err(Problem::new(
                "debounce_ms",
                format!(
                    "{} ms is over one minute ({MAX_DEBOUNCE_MS}): changes would seem lost",
                    self.debounce_ms
                ),
                "use at most 60000; 50 to 300 suits most projects",
            ));
        }
        if self.max_wait_ms < self.debounce_ms {
            let mut p = Problem::new(
                "max_wait_ms",
                format!(
                    "max_wait_ms ({}) is smaller than debounce_ms ({}), so batches would be cut before the quiet time ends",
                    self.max_wait_ms, self.debounce_ms
                ),
                format!(
                    "set max_wait_ms to at least {} (its default is 1000), or lower debounce_ms",
                    self.debounce_ms
                ),
            );
            p.alt = Some("debounce_ms");
            return Err(p);
        }
        if self.max_wait_ms > MAX_INTERVAL_MS {
            return Err(Problem::new(
                "max_wait_ms",
                format!(
                    "{} ms is over one hour ({MAX_INTERVAL_MS})",
                    self.max_wait_ms
                ),
                "use at most 3600000; 1000 suits most projects",
            ));
        }
        if self.client_buffer == 0 {
            return Err(Problem::new(
                "client_buffer",
                "0 leaves no room for a single message, so every browser would be dropped",
                "use at least 1; the default is 10",
            ));
        }
        if self.client_buffer > MAX_CLIENT_BUFFER {
            return Err(Problem::new(
                "client_buffer",
                format!(
                    "{} is over {MAX_CLIENT_BUFFER}; each browser's queue is allocated up front",
                    self.client_buffer
                ),
                "use at most 100000; the default is 10",
            ));
        }
        if self.heartbeat_ms < MIN_HEARTBEAT_MS {
            return Err(Problem::new(
                "heartbeat_ms",
                format!(
                    "{} ms is under {MIN_HEARTBEAT_MS} ms, too often to ping every browser",
                    self.heartbeat_ms
                ),
                "use at least 100; the default is 5000",
            ));
        }
        if self.heartbeat_ms > MAX_INTERVAL_MS {
            return Err(Problem::new(
                "heartbeat_ms",
                format!(
                    "{} ms is over one hour ({MAX_INTERVAL_MS})",
                    self.heartbeat_ms
                ),
                "use at most 3600000; the default is 5000",
            ));
        }
        if self.max_clients == 0 {
            return Err(Problem::new(
                "max_clients",
                "0 turns every browser away",
                "use at least 1; the default is 1024 (to turn hot reload off, set `enabled: false`)",
            ));
        }
        for (i, origin) in self.allowed_origins.iter().enumerate() {
            if let Err((problem, fix)) = check_origin(origin) {
                return Err(Problem::new("allowed_origins", problem, fix).item(i));
            }
        }
        if self.host.as_deref().is_some_and(|h| h.trim().is_empty()) {
            return Err(Problem::new(
                "host",
                "the address is empty",
                "write an address to listen on, like `host: 127.0.0.1` (or 0.0.0.0 for every interface)",
            ));
        }
        Ok(())
    }
}

/// A value that parsed but cannot work, before it has a file and a line.
pub(super) struct Problem {
    /// The field under `hot_reload`.
    pub(super) key: &'static str,
    /// The list item at fault, 0-based.
    pub(super) index: Option<usize>,
    /// A field to point at instead when `key` is not in the file.
    pub(super) alt: Option<&'static str>,
    pub(super) problem: String,
    pub(super) fix: String,
}

impl Problem {
    fn new(key: &'static str, problem: impl Into<String>, fix: impl Into<String>) -> Problem {
        Problem {
            key,
            index: None,
            alt: None,
            problem: problem.into(),
            fix: fix.into(),
        }
    }

    fn item(mut self, index: usize) -> Problem {
        self.index = Some(index);
        self
    }
}

fn check_globs(key: &'static str, globs: &[String]) -> Result<(), Problem> {
    for (i, glob) in globs.iter().enumerate() {
        if glob.is_empty() {
            let fix = if key == "patterns" {
                "remove it; to match every file, leave the list empty: `patterns: []`"
            } else {
                "remove it"
            };
            return Err(Problem::new(key, format!("item {} is an empty glob", i + 1), fix).item(i));
        }
        if let Err(e) = glob::Pattern::new(glob) {
            let fix = if e.msg.contains("range") {
                "close the `[` with `]`, or write `[[]` to match a literal [ character"
            } else if e.msg.contains("single path") {
                "`**` must be a whole path segment, as in `**/*.js`; use `*` inside a name"
            } else if e.msg.contains("either regular") {
                "use `*` (within a name) or `**` (any folders), never three or more"
            } else {
                "globs use `*`, `?`, `[abc]` and `**/`"
            };
            return Err(
                Problem::new(key, format!("invalid glob `{glob}`: {}", e.msg), fix).item(i),
            );
        }
    }
    Ok(())
}

/// `null`, or `http(s)://host[:port]` with nothing after it.
fn check_origin(origin: &str) -> Result<(), (String, String)> {
    let bad = |why: &str, fix: String| Err((format!("`{origin}` {why}"), fix));
    if origin == "null" {
        return Ok(());
    }
    if origin == "*" {
        return bad(
            "is a wildcard, which is not supported",
            "list each page origin, like \"http://localhost:3000\"".into(),
        );
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        return bad(
            "has no scheme",
            format!("write the origin with its scheme, like \"http://{origin}\""),
        );
    };
    if scheme != "http" && scheme != "https" {
        let fix = if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
            format!(
                "write the scheme in lowercase, as browsers send it: \"{}://{rest}\"",
                scheme.to_ascii_lowercase()
            )
        } else {
            "write it like \"http://localhost:3000\", or \"null\" for pages opened from files"
                .into()
        };
        return bad("is not an http or https origin", fix);
    }
    if let Some(cut) = rest.find(['/', '?', '#']) {
        return bad(
            "has a path; an origin is only scheme, host and port",
            format!("write \"{scheme}://{}\"", &rest[..cut]),
        );
    }
    // `host` keeps an IPv6 address's brackets; `port` is what follows `:`.
    let (host, port) = match rest.strip_prefix('[') {
        Some(after) => {
            let parts = after.split_once(']').and_then(|(ip, tail)| {
                let ip_ok = !ip.is_empty()
                    && ip
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
                let port = match tail {
                    "" => None,
                    _ => Some(tail.strip_prefix(':')?),
                };
                ip_ok.then_some((&rest[..ip.len() + 2], port))
            });
            match parts {
                Some(parts) => parts,
                None => {
                    return bad(
                        "has an invalid bracketed address",
                        "write an IPv6 origin like \"http://[::1]:3000\"".into(),
                    );
                }
            }
        }
        None => match rest.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        },
    };
    let name_ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_';
    if host.is_empty() || !(host.starts_with('[') || host.chars().all(name_ok)) {
        return bad(
            "has no valid host name",
            "write it like \"http://localhost:3000\"".into(),
        );
    }
    if let Some(port) = port {
        let digits = !port.is_empty() && port.chars().all(|c| c.is_ascii_digit());
        if !digits || !port.parse::<u16>().is_ok_and(|p| p > 0) {
            return bad(
                "has an invalid port",
                format!("use a port from 1 to 65535, like \"{scheme}://{host}:3000\""),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let good = [
            "null",
            "http://localhost",
            "http://localhost:3000",
            "https://a.b-c.test:443",
            "http://127.0.0.1:1",
            "http://[::1]",
            "http://[::1]:8080",
        ];
        let bad = [
            "",
            "*",
            "localhost",
            "ftp://a",
            "http://",
            "http://:80",
            "http://a:",
            "http://a:0",
            "http://a:+80",
            "http://a:65536",
            "http://a/",
            "http://a?x",
            "http://[::1",
            "http://[::1]x",
            "http://a b",
            "Null",
        ];
        for o in good {
            assert!(check_origin(o).is_ok(), "{o} should pass");
        }
        for o in bad {
            assert!(check_origin(o).is_err(), "{o} should fail");
        }
    }
}
