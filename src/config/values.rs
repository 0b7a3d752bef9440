//! What each value under `hot_reload` must be: a value as read becomes plain data, or a problem and its fix.

use super::keys::{Bounds, Key, Kind, Text};
use super::{Config, Debounce};

/// A problem and its fix, before the reader adds the key and the position.
pub(super) type Why = (String, String);

/// A problem and its fix.
pub(super) fn why(problem: impl Into<String>, fix: impl Into<String>) -> Why {
    (problem.into(), fix.into())
}

/// A node of the file as read, before it is checked against its key.
pub(super) enum Found {
    Nothing,
    Bool(bool),
    Int(i128),
    Float(f64),
    Text(String),
    List,
    Map,
    Tagged,
}

impl Found {
    /// How a message names it: "the text \"fast\"", "a list".
    pub(super) fn describe(&self) -> String {
        match self {
            Found::Nothing => "nothing".into(),
            Found::Bool(b) => format!("`{b}`"),
            Found::Int(n) if *n < 0 => format!("the negative number {n}"),
            Found::Int(n) => format!("the number {n}"),
            Found::Float(f) => format!("the number {f}"),
            Found::Text(s) => format!("the text {s:?}"),
            Found::List => "a list".into(),
            Found::Map => "a mapping".into(),
            Found::Tagged => "a tagged value".into(),
        }
    }
}

/// The checked value of a key that is not a list.
pub(super) enum Plain {
    Bool(bool),
    Whole(u64),
    Text(String),
}

/// Checks the value of `key`; `debounce` is the section's `debounce_ms` when read before it.
pub(super) fn value(key: &Key, found: Found, debounce: Option<u64>) -> Result<Plain, Why> {
    let like = key.example;
    match (&key.kind, found) {
        (_, Found::Nothing) => {
            let fix =
                format!("give it a value, like `{like}`, or delete the line to use the default");
            Err(why("has no value", fix))
        }
        (Kind::Flag, Found::Bool(b)) => Ok(Plain::Bool(b)),
        (Kind::Whole(bounds), found) => {
            let n = whole(key, bounds, found)?;
            // Checked here when it can be, so the message points at this value.
            if let ("max_wait_ms", Some(debounce)) = (key.name, debounce) {
                wait_covers(Debounce::Ms(debounce), n)?;
            }
            Ok(Plain::Whole(n))
        }
        (Kind::Text(text), found) => item(key, text, None, found).map(Plain::Text),
        (Kind::Poll(_), Found::Bool(b)) => Ok(Plain::Bool(b)),
        (Kind::Poll(_), Found::Text(s)) if s == "auto" => Ok(Plain::Text(s)),
        (Kind::Poll(bounds), found @ (Found::Int(_) | Found::Float(_))) => {
            whole(key, bounds, found).map(Plain::Whole)
        }
        (Kind::AutoOrWhole(_), Found::Text(s)) if s == "auto" => Ok(Plain::Text(s)),
        (Kind::AutoOrWhole(bounds), found @ (Found::Int(_) | Found::Float(_))) => {
            whole(key, bounds, found).map(Plain::Whole)
        }
        (_, found) => Err(wrong_type(key, &found)),
    }
}

/// Checks a text: the value of a text key (`at` none) or item `at` of a list.
pub(super) fn item(key: &Key, text: &Text, at: Option<usize>, found: Found) -> Result<String, Why> {
    let (noun, subject) = (text.noun, at.map(|i| format!("item {}", i + 1)));
    // YAML reads `2024` or `true` as a number or a flag; as a folder or a
    // glob they mean their text, as they did before this reader.
    let s = match found {
        Found::Nothing if text.bare_null => "null".into(),
        Found::Text(s) => s,
        Found::Bool(b) => b.to_string(),
        Found::Int(n) => n.to_string(),
        Found::Float(f) => f.to_string(),
        other => {
            let Some(subject) = subject else {
                return Err(wrong_type(key, &other));
            };
            let fix = format!("write every item as text, like `{}`", key.example);
            let problem = format!("{subject} must be text, found {}", other.describe());
            return Err(why(problem, fix));
        }
    };
    if s.trim().is_empty() {
        let problem = match subject {
            Some(subject) => format!("{subject} is an empty {noun}"),
            None => format!("the {noun} is empty"),
        };
        return Err(why(problem, text.if_empty));
    }
    // No path holds a NUL, so such a folder would never be found.
    if s.contains('\0') {
        let subject = subject.unwrap_or_else(|| format!("the {noun}"));
        let problem = format!("{subject} holds a NUL character (`\\0`), which no {noun} can");
        return Err(why(problem, "remove the `\\0` from it"));
    }
    (text.check)(&s)?;
    Ok(s)
}

/// A whole number within `bounds`, or what to write instead.
fn whole(key: &Key, bounds: &Bounds, found: Found) -> Result<u64, Why> {
    let (name, like, hint) = (key.name, key.example, bounds.hint);
    let fix = match found {
        Found::Int(n) if n < 0 => format!("use 0 or more, like `{like}`"),
        Found::Int(n) => match u64::try_from(n) {
            Ok(n) if n <= bounds.max || !bounds.above.is_empty() => return within(key, bounds, n),
            // Over the most the field can hold: the wrong kind of number.
            Ok(_) => format!("use {hint}, like `{like}`"),
            Err(_) => {
                let fix = format!("write a smaller number, like `{like}`");
                return Err(why("the number is too large", fix));
            }
        },
        Found::Float(f) if (0.0..=bounds.max as f64).contains(&f.round()) => {
            format!("use a whole number, like `{name}: {}`", f.round())
        }
        _ => return Err(wrong_type(key, &found)),
    };
    Err(wrong(key, &found, fix))
}

/// A whole number checked against its bounds.
fn within(key: &Key, bounds: &Bounds, n: u64) -> Result<u64, Why> {
    let unit = if key.name.ends_with("_ms") { " ms" } else { "" };
    if n > bounds.max {
        let fix = format!("use at most {}; {}", bounds.max, bounds.hint);
        return Err(why(format!("{n}{unit} {}", bounds.above), fix));
    }
    if n < bounds.min {
        let fix = format!("use at least {}; {}", bounds.min, bounds.hint);
        return Err(why(format!("{n}{unit} {}", bounds.below), fix));
    }
    Ok(n)
}

/// "expected ..., found ..." with `fix`.
fn wrong(key: &Key, found: &Found, fix: String) -> Why {
    let problem = format!("expected {}, found {}", key.expected, found.describe());
    why(problem, fix)
}

/// A value of the wrong type, with the likeliest fix for what was written.
fn wrong_type(key: &Key, found: &Found) -> Why {
    let name = key.name;
    let like = || format!("write it like `{}`", key.example);
    let fix = match (&key.kind, found) {
        (Kind::Flag, Found::Text(_)) => {
            format!(
                "write `{name}: true` or `{name}: false` (yes, no, on and off are text in YAML)"
            )
        }
        (Kind::List(_), Found::Text(s)) => {
            format!("write a list, even for one item: `{name}: [{s:?}]`")
        }
        (Kind::Whole(_), Found::Text(s)) => number_in_text(name, s).unwrap_or_else(like),
        (Kind::AutoOrWhole(_), Found::Text(s)) => number_in_text(name, s).unwrap_or_else(|| {
            format!("write `{name}: auto` (the default) or a number of milliseconds like `{name}: 100`")
        }),
        (Kind::Poll(_), Found::Text(s)) => number_in_text(name, s).unwrap_or_else(|| {
            format!("write `{name}: auto` (the default), `{name}: true`, `{name}: false` or a number of milliseconds like `{name}: 1000`")
        }),
        _ => like(),
    };
    wrong(key, found, fix)
}

/// The fix for a number written as text: quoted, or with a unit.
fn number_in_text(name: &str, text: &str) -> Option<String> {
    let text = text.trim();
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    let n = digits.parse::<u64>().ok()?;
    let unit = text[digits.len()..].trim().to_ascii_lowercase();
    let seconds = ["s", "sec", "secs", "second", "seconds"].contains(&unit.as_str());
    match unit.as_str() {
        "" => Some(format!("remove the quotes: `{name}: {n}`")),
        "ms" => Some(format!("drop the unit: `{name}: {n}`")),
        _ if seconds && name.ends_with("_ms") => {
            let ms = n.saturating_mul(1000);
            Some(format!("write milliseconds without a unit: `{name}: {ms}`"))
        }
        _ => None,
    }
}

/// The one rule between keys: `max_wait_ms` must cover `debounce_ms`
/// (under `auto`, the quiet time of a burst).
pub(super) fn wait_covers(debounce: Debounce, max_wait: u64) -> Result<(), Why> {
    let default = Config::default().max_wait_ms;
    let quiet = debounce.quiet_ms();
    if max_wait >= quiet {
        return Ok(());
    }
    let (named, or) = match debounce {
        Debounce::Auto => (
            format!("the {quiet} ms of quiet that `debounce_ms: auto` gives a burst"),
            format!("or set debounce_ms to a number up to {max_wait}"),
        ),
        Debounce::Ms(ms) => (format!("debounce_ms ({ms})"), "or lower debounce_ms".into()),
    };
    Err(why(
        format!(
            "max_wait_ms ({max_wait}) is smaller than {named}, so batches would be cut before the quiet time ends"
        ),
        format!("set max_wait_ms to at least {quiet} (its default is {default}), {or}"),
    ))
}

/// A glob the `glob` crate accepts.
pub(super) fn glob(glob: &str) -> Result<(), Why> {
    let Err(e) = glob::Pattern::new(glob) else {
        return Ok(());
    };
    let fix = if e.msg.contains("range") {
        "close the `[` with `]`, or write `[[]` to match a literal [ character"
    } else if e.msg.contains("single path") {
        "`**` must be a whole path segment, as in `**/*.js`; use `*` inside a name"
    } else if e.msg.contains("either regular") {
        "use `*` (within a name) or `**` (any folders), never three or more"
    } else {
        "globs use `*`, `?`, `[abc]` and `**/`"
    };
    Err((format!("invalid glob `{glob}`: {}", e.msg), fix.into()))
}

/// `null`, or `http(s)://host[:port]` with nothing after it.
/// A backend URL for proxy mode: `http://host[:port][/base]`.
pub(super) fn backend(url: &str) -> Result<(), Why> {
    crate::proxy::Backend::parse(url)
        .map(|_| ())
        .map_err(|problem| why(problem, "write it like `proxy: http://localhost:3000`"))
}

pub(super) fn origin(origin: &str) -> Result<(), Why> {
    let bad = |why: &str, fix: String| Err((format!("`{origin}` {why}"), fix));
    let like = "write it like \"http://localhost:3000\"";
    if origin == "null" {
        return Ok(());
    }
    if origin == "*" {
        let fix = "list each page origin, like \"http://localhost:3000\"";
        return bad("is a wildcard, which is not supported", fix.into());
    }
    let Some((scheme, rest)) = origin.split_once("://") else {
        let fix = format!("write the origin with its scheme, like \"http://{origin}\"");
        return bad("has no scheme", fix);
    };
    if scheme != "http" && scheme != "https" {
        let lower = scheme.to_ascii_lowercase();
        let fix = match lower.as_str() {
            "http" | "https" => {
                format!("write the scheme in lowercase, as browsers send it: \"{lower}://{rest}\"")
            }
            _ => format!("{like}, or \"null\" for pages opened from files"),
        };
        return bad("is not an http or https origin", fix);
    }
    if let Some(cut) = rest.find(['/', '?', '#']) {
        let fix = format!("write \"{scheme}://{}\"", &rest[..cut]);
        return bad("has a path; an origin is only scheme, host and port", fix);
    }
    // A `:` after any `]` starts the port; `host` keeps an IPv6 address's brackets.
    let (host, port) = match rest.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (rest, None),
    };
    if let Some(inside) = host.strip_prefix('[') {
        let ip = inside.strip_suffix(']').unwrap_or("");
        if ip.is_empty()
            || !ip
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            let fix = "write an IPv6 origin like \"http://[::1]:3000\"";
            return bad("has an invalid bracketed address", fix.into());
        }
    } else if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c))
    {
        return bad("has no valid host name", like.into());
    }
    let port_ok =
        |p: &str| p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u16>().is_ok_and(|p| p > 0);
    if port.is_some_and(|p| !port_ok(p)) {
        let fix = format!("use a port from 1 to 65535, like \"{scheme}://{host}:3000\"");
        return bad("has an invalid port", fix);
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
            assert!(origin(o).is_ok(), "{o} should pass");
        }
        for o in bad {
            assert!(origin(o).is_err(), "{o} should fail");
        }
    }
}
