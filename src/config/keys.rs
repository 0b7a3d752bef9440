//! Step 2 of reading a config: the keys under `hot_reload` and their types,
//! from serde's typed read, and the slips that read lets through.

use std::path::Path;

use serde::Deserialize;
use serde_yaml::Value;

use super::position::{Seg, locate};
use super::shape::{message_of, position_of};
use super::{SECTION, config_error};
use crate::Error;

/// The `hot_reload` section as written: every key optional, none unknown.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Raw {
    pub(super) enabled: Option<bool>,
    pub(super) watch_dirs: Option<Vec<String>>,
    pub(super) patterns: Option<Vec<String>>,
    pub(super) ignore: Option<Vec<String>>,
    pub(super) debounce_ms: Option<u64>,
    pub(super) max_wait_ms: Option<u64>,
    pub(super) client_buffer: Option<usize>,
    pub(super) heartbeat_ms: Option<u64>,
    pub(super) max_clients: Option<usize>,
    pub(super) allowed_origins: Option<Vec<Option<String>>>,
    pub(super) host: Option<String>,
    pub(super) port: Option<u16>,
    pub(super) root: Option<String>,
    pub(super) inject: Option<bool>,
}

/// The whole document; other top-level keys belong to the host application.
#[derive(Debug, Deserialize)]
pub(super) struct RawTop {
    pub(super) hot_reload: Option<Raw>,
}

/// What a key under `hot_reload` holds, for messages.
pub(super) struct KeyInfo {
    pub(super) name: &'static str,
    kind: Kind,
    /// What the value must be, after "expected".
    expected: &'static str,
    /// A correct line.
    pub(super) example: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Number,
    Port,
    Text,
    List,
}

/// Every key under `hot_reload`, in the order of [`super::TEMPLATE`].
pub(super) const KEYS: &[KeyInfo] = &[
    KeyInfo {
        name: "enabled",
        kind: Kind::Bool,
        expected: "`true` or `false`",
        example: "enabled: true",
    },
    KeyInfo {
        name: "watch_dirs",
        kind: Kind::List,
        expected: "a list of folders",
        example: r#"watch_dirs: ["./web/static"]"#,
    },
    KeyInfo {
        name: "patterns",
        kind: Kind::List,
        expected: "a list of globs",
        example: r#"patterns: ["*.html", "*.css"]"#,
    },
    KeyInfo {
        name: "ignore",
        kind: Kind::List,
        expected: "a list of globs",
        example: r#"ignore: ["*.log", "dist"]"#,
    },
    KeyInfo {
        name: "debounce_ms",
        kind: Kind::Number,
        expected: "a whole number of milliseconds",
        example: "debounce_ms: 100",
    },
    KeyInfo {
        name: "max_wait_ms",
        kind: Kind::Number,
        expected: "a whole number of milliseconds",
        example: "max_wait_ms: 1000",
    },
    KeyInfo {
        name: "client_buffer",
        kind: Kind::Number,
        expected: "a whole number of messages",
        example: "client_buffer: 10",
    },
    KeyInfo {
        name: "heartbeat_ms",
        kind: Kind::Number,
        expected: "a whole number of milliseconds",
        example: "heartbeat_ms: 5000",
    },
    KeyInfo {
        name: "max_clients",
        kind: Kind::Number,
        expected: "a whole number of clients",
        example: "max_clients: 1024",
    },
    KeyInfo {
        name: "allowed_origins",
        kind: Kind::List,
        expected: "a list of origins",
        example: r#"allowed_origins: ["http://localhost:3000"]"#,
    },
    KeyInfo {
        name: "host",
        kind: Kind::Text,
        expected: "an address",
        example: "host: 127.0.0.1",
    },
    KeyInfo {
        name: "port",
        kind: Kind::Port,
        expected: "a port number from 0 to 65535",
        example: "port: 8080",
    },
    KeyInfo {
        name: "root",
        kind: Kind::Text,
        expected: "a folder path",
        example: "root: ./public",
    },
    KeyInfo {
        name: "inject",
        kind: Kind::Bool,
        expected: "`true` or `false`",
        example: "inject: true",
    },
];

pub(super) fn key_info(name: &str) -> Option<&'static KeyInfo> {
    KEYS.iter().find(|k| k.name == name)
}

/// "Keys under hot_reload: enabled, watch_dirs, ...".
fn key_list() -> String {
    let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    format!("Keys under hot_reload: {}", names.join(", "))
}

/// An error of the typed read of the section: an unknown key or a wrong type.
pub(super) fn raw_error(e: &serde_yaml::Error, entries: &[(Value, Value)], file: &Path) -> Error {
    let message = message_of(e);
    let pos = position_of(e);
    let at = |key: String, problem: String, fix: String| {
        config_error(file, pos, Some(key), problem, fix)
    };
    let value_of = |name: &str| {
        entries
            .iter()
            .find(|(k, _)| k.as_str() == Some(name))
            .map(|(_, v)| v)
    };
    for info in KEYS {
        let Some(rest) = message
            .strip_prefix(SECTION)
            .and_then(|m| m.strip_prefix('.'))
            .and_then(|m| m.strip_prefix(info.name))
        else {
            continue;
        };
        let key = format!("{SECTION}.{}", info.name);
        if rest.starts_with(": ") {
            let Some(found) = value_of(info.name) else {
                break;
            };
            let (problem, fix) = wrong_type(info, found);
            return at(key, problem, fix);
        }
        if let Some(index) = rest
            .strip_prefix('[')
            .and_then(|r| r.split_once(']'))
            .and_then(|(i, _)| i.parse::<usize>().ok())
        {
            let found = value_of(info.name)
                .and_then(Value::as_sequence)
                .and_then(|s| s.get(index));
            let what = found.map_or_else(|| "something else".into(), describe);
            return at(
                key,
                format!("item {} must be text, found {what}", index + 1),
                format!("write every item as text, like `{}`", info.example),
            );
        }
    }
    if message.starts_with("hot_reload: ") {
        // A key-level error: the first key that is not one of ours.
        let stranger = entries
            .iter()
            .map(|(k, _)| k)
            .find(|k| k.as_str().is_none_or(|name| key_info(name).is_none()));
        match stranger {
            Some(Value::String(name)) if name == "<<" => {
                return at(
                    format!("{SECTION}.<<"),
                    "YAML merge keys (`<<`) are not supported here".into(),
                    format!("write the settings out under hot_reload. {}", key_list()),
                );
            }
            Some(Value::String(name)) => {
                let fix = match suggest(name) {
                    Some(known) => format!("did you mean `{known}`? {}", key_list()),
                    None => format!("remove it, or use a known key. {}", key_list()),
                };
                return at(
                    format!("{SECTION}.{name}"),
                    format!("unknown key `{name}`"),
                    fix,
                );
            }
            Some(other) => {
                return at(
                    SECTION.into(),
                    format!("keys must be names, found {}", describe(other)),
                    format!("write each setting as `name: value`. {}", key_list()),
                );
            }
            None => {}
        }
    }
    config_error(
        file,
        pos,
        None,
        message,
        "check this line against the template that `hotreload init` writes",
    )
}

/// Problem and fix for a value of the wrong type.
fn wrong_type(info: &KeyInfo, found: &Value) -> (String, String) {
    let name = info.name;
    let problem = format!("expected {}, found {}", info.expected, describe(found));
    let like = |line: String| format!("write it like `{line}`");
    let fix = match (info.kind, found) {
        (Kind::Bool, Value::String(_)) => format!(
            "write `{name}: true` or `{name}: false` (yes, no, on and off are text in YAML)"
        ),
        (Kind::List, Value::String(s)) => {
            format!("write a list, even for one item: `{name}: [{s:?}]`")
        }
        (Kind::Number | Kind::Port, Value::String(s)) => {
            let digits: String = s.trim().chars().take_while(char::is_ascii_digit).collect();
            let unit = s.trim()[digits.len()..].trim().to_ascii_lowercase();
            match digits.parse::<u64>() {
                Ok(n) if unit.is_empty() => format!("remove the quotes: `{name}: {n}`"),
                Ok(n) if unit == "ms" => format!("drop the unit: `{name}: {n}`"),
                Ok(n)
                    if info.name.ends_with("_ms")
                        && matches!(unit.as_str(), "s" | "sec" | "secs" | "second" | "seconds") =>
                {
                    format!(
                        "write milliseconds without a unit: `{name}: {}`",
                        n.saturating_mul(1000)
                    )
                }
                _ => like(info.example.into()),
            }
        }
        (Kind::Number | Kind::Port, Value::Number(n)) if n.as_i64().is_some_and(|i| i < 0) => {
            format!("use 0 or more, like `{}`", info.example)
        }
        (Kind::Port, Value::Number(n)) if n.as_u64().is_some() => {
            "use a port from 1 to 65535 (0 picks a free one), like `port: 8080`".into()
        }
        (Kind::Number | Kind::Port, Value::Number(n)) if n.is_f64() => {
            let round = n.as_f64().map_or(0.0, |f| f.round().max(0.0));
            format!("use a whole number, like `{name}: {round}`")
        }
        _ => like(info.example.into()),
    };
    (problem, fix)
}

/// A value as a message names it: "the text \"fast\"", "a list".
pub(super) fn describe(value: &Value) -> String {
    match value {
        Value::Null => "nothing".into(),
        Value::Bool(b) => format!("`{b}`"),
        Value::Number(n) if n.as_i64().is_some_and(|i| i < 0) => {
            format!("the negative number {n}")
        }
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the text {s:?}"),
        Value::Sequence(_) => "a list".into(),
        Value::Mapping(_) => "a mapping".into(),
        Value::Tagged(t) => format!("a value tagged `{}`", t.tag),
    }
}

/// A known key close to an unknown one: same letters once case, `-` and `_`
/// are set aside, a missing `_ms`, a common synonym, or a typo or two.
fn suggest(unknown: &str) -> Option<&'static str> {
    const SYNONYMS: &[(&str, &str)] = &[
        ("watch", "watch_dirs"),
        ("dirs", "watch_dirs"),
        ("directories", "watch_dirs"),
        ("watch_directories", "watch_dirs"),
        ("paths", "watch_dirs"),
        ("watch_paths", "watch_dirs"),
        ("include", "patterns"),
        ("globs", "patterns"),
        ("files", "patterns"),
        ("exclude", "ignore"),
        ("excludes", "ignore"),
        ("ignored", "ignore"),
        ("delay", "debounce_ms"),
        ("wait", "debounce_ms"),
        ("origins", "allowed_origins"),
        ("cors", "allowed_origins"),
        ("buffer", "client_buffer"),
        ("clients", "max_clients"),
        ("interval", "heartbeat_ms"),
        ("ping", "heartbeat_ms"),
        ("ping_ms", "heartbeat_ms"),
        ("address", "host"),
        ("addr", "host"),
        ("bind", "host"),
        ("listen", "host"),
        ("dir", "root"),
        ("serve", "root"),
        ("static_dir", "root"),
        ("enable", "enabled"),
        ("on", "enabled"),
        ("inject_script", "inject"),
    ];
    let word = unknown
        .trim()
        .to_ascii_lowercase()
        .replace(['-', ' ', '.'], "_");
    let squash = |s: &str| s.replace('_', "");
    for k in KEYS {
        if word == k.name || format!("{word}_ms") == k.name || squash(&word) == squash(k.name) {
            return Some(k.name);
        }
    }
    if let Some((_, k)) = SYNONYMS.iter().find(|(w, _)| *w == word) {
        return Some(k);
    }
    KEYS.iter()
        .map(|k| (edit_distance(&word, k.name), k.name))
        .filter(|(d, k)| *d <= 2 || *d * 3 <= k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance, by characters.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// What the typed read lets through but the text shows to be a slip: a key
/// with no value (serde reads it as absent), an empty folder name (which
/// would resolve to the config file's folder), a NUL in one (no path holds
/// one, so the folder would never be found).
pub(super) fn check_written(
    raw: &Raw,
    entries: &[(Value, Value)],
    text: &str,
    file: &Path,
) -> Result<(), Error> {
    for (key, value) in entries {
        if let (Value::String(name), Value::Null) = (key, value)
            && let Some(info) = key_info(name)
        {
            return Err(config_error(
                file,
                locate(text, &[Seg::Key(SECTION), Seg::Key(name)], true, 0),
                Some(format!("{SECTION}.{name}")),
                "has no value",
                format!(
                    "give it a value, like `{}`, or delete the line to use the default",
                    info.example
                ),
            ));
        }
    }
    let dir_slip = raw
        .watch_dirs
        .iter()
        .flatten()
        .enumerate()
        .find_map(|(i, d)| {
            let slip = folder_slip(
                d,
                "remove it, or write a folder such as \".\" or \"./web/static\"",
            )?;
            Some((i, slip))
        });
    if let Some((i, (problem, fix))) = dir_slip {
        return Err(config_error(
            file,
            locate(
                text,
                &[Seg::Key(SECTION), Seg::Key("watch_dirs"), Seg::Index(i)],
                false,
                0,
            ),
            Some(format!("{SECTION}.watch_dirs")),
            format!("item {} {problem}", i + 1),
            fix,
        ));
    }
    let root_slip = raw.root.as_deref().and_then(|root| {
        folder_slip(
            root,
            "write \".\" to serve the config file's folder, or delete the line to serve the DIR argument",
        )
    });
    if let Some((problem, fix)) = root_slip {
        return Err(config_error(
            file,
            locate(text, &[Seg::Key(SECTION), Seg::Key("root")], false, 0),
            Some(format!("{SECTION}.root")),
            problem,
            fix,
        ));
    }
    Ok(())
}

/// A folder name no path can match, as (problem, fix); `empty_fix` says
/// what to write instead of nothing.
fn folder_slip(name: &str, empty_fix: &'static str) -> Option<(&'static str, &'static str)> {
    if name.trim().is_empty() {
        Some(("is an empty folder name", empty_fix))
    } else if name.contains('\0') {
        Some((
            "holds a NUL character (`\\0`), which no folder name can",
            "remove the `\\0` from it",
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        let rows: &[(&str, Option<&str>)] = &[
            ("debounce", Some("debounce_ms")),
            ("debounce_msec", Some("debounce_ms")),
            ("debunce_ms", Some("debounce_ms")),
            ("DEBOUNCE_MS", Some("debounce_ms")),
            ("maxWaitMs", Some("max_wait_ms")),
            ("max_wait", Some("max_wait_ms")),
            ("watch_dir", Some("watch_dirs")),
            ("watch-dirs", Some("watch_dirs")),
            ("directories", Some("watch_dirs")),
            ("pattern", Some("patterns")),
            ("ignores", Some("ignore")),
            ("exclude", Some("ignore")),
            ("enable", Some("enabled")),
            ("origins", Some("allowed_origins")),
            ("allowed_origin", Some("allowed_origins")),
            ("buffer", Some("client_buffer")),
            ("max_client", Some("max_clients")),
            ("heartbeat", Some("heartbeat_ms")),
            ("prot", Some("port")),
            ("hots", Some("host")),
            ("injct", Some("inject")),
            ("colour", None),
            ("zzzzzzzz", None),
            ("", None),
        ];
        for (word, want) in rows {
            assert_eq!(suggest(word), *want, "{word:?}");
        }
    }

    #[test]
    fn edit_distances() {
        for (a, b, d) in [
            ("", "", 0),
            ("a", "", 1),
            ("kitten", "sitting", 3),
            ("port", "prot", 2),
            ("ü", "u", 1),
        ] {
            assert_eq!(edit_distance(a, b), d, "{a} {b}");
        }
    }
}
