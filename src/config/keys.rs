//! The one table of keys under `hot_reload`: what each holds, and how a key is named.

use super::values::{self, Why, why};

/// The one top-level key this crate reads.
pub(super) const SECTION: &str = "hot_reload";

/// A key under `hot_reload`: one row of the table that the reader follows
/// and that tests hold the struct, the README and `init`'s template to.
pub(super) struct Key {
    pub(super) name: &'static str,
    pub(super) kind: Kind,
    /// What the value must be, after "expected".
    pub(super) expected: &'static str,
    /// A correct line, for fixes.
    pub(super) example: &'static str,
    /// Words people write for it, for "did you mean".
    pub(super) also: &'static [&'static str],
}

/// What a key holds.
pub(super) enum Kind {
    /// `true` or `false`.
    Flag,
    /// A whole number within bounds.
    Whole(Bounds),
    /// One piece of text.
    Text(Text),
    /// A list of texts.
    List(Text),
    /// `auto`, `true`, `false`, or a whole number within bounds (`poll`).
    Poll(Bounds),
    /// `auto`, or a whole number within bounds (`debounce_ms`).
    AutoOrWhole(Bounds),
}

/// The range of a whole number, and what to say outside it.
pub(super) struct Bounds {
    pub(super) min: u64,
    pub(super) max: u64,
    /// Why a number under `min` cannot work, after the number.
    pub(super) below: &'static str,
    /// Why a number over `max` cannot work; empty when `max` is the most
    /// the field can hold, which is then a wrong type.
    pub(super) above: &'static str,
    /// What is usual, after "use at least/most N; ".
    pub(super) hint: &'static str,
}

/// A piece of text (or each item of a list of them).
pub(super) struct Text {
    /// What one is called: "folder name", "glob".
    pub(super) noun: &'static str,
    /// The fix for an empty one.
    pub(super) if_empty: &'static str,
    /// What else it must be.
    pub(super) check: Check,
    /// Whether a bare YAML `null` is the text `null` (an origin) rather than nothing.
    pub(super) bare_null: bool,
}

/// What a text must be beyond not empty: a problem and its fix, or fine.
pub(super) type Check = fn(&str) -> Result<(), Why>;

/// A text called `noun` that `check` must pass, with the fix for an empty one.
const fn text(noun: &'static str, if_empty: &'static str, check: Check) -> Text {
    let bare_null = false;
    Text {
        noun,
        if_empty,
        check,
        bare_null,
    }
}

/// Any text at all, for [`text`].
const ANY: Check = |_| Ok(());

/// Every key under `hot_reload`, in the order of the template and the README.
#[rustfmt::skip]
pub(super) const KEYS: &[Key] = &[
    Key { name: "enabled", expected: "`true` or `false`", example: "enabled: true",
        kind: Kind::Flag, also: &["enable", "on"] },
    Key { name: "watch_dirs", expected: "a list of folders", example: r#"watch_dirs: ["./web/static"]"#,
        kind: Kind::List(text("folder name", "remove it, or write a folder such as \".\" or \"./web/static\"", ANY)),
        also: &["watch", "dirs", "directories", "watch_directories", "paths", "watch_paths"] },
    Key { name: "patterns", expected: "a list of globs", example: r#"patterns: ["*.html", "*.css"]"#,
        kind: Kind::List(text("glob", "remove it; to match every file, leave the list empty: `patterns: []`", values::glob)),
        also: &["include", "globs", "files"] },
    Key { name: "ignore", expected: "a list of globs", example: r#"ignore: ["*.log", "dist"]"#,
        kind: Kind::List(text("glob", "remove it", values::glob)), also: &["exclude", "excludes", "ignored"] },
    Key { name: "gitignore", expected: "`true` or `false`", example: "gitignore: false",
        kind: Kind::Flag, also: &["git_ignore", "use_gitignore", "respect_gitignore", "vcs_ignore"] },
    Key { name: "poll", expected: "`auto`, `true`, `false` or a whole number of milliseconds", example: "poll: 1000",
        kind: Kind::Poll(Bounds { min: 10, max: 60_000, below: "ms is under 10 ms, too often to read every folder",
            above: "ms is over one minute (60000): changes would seem lost", hint: "500 suits most shares" }),
        also: &["polling", "use_polling", "poll_ms", "poll_interval", "poll_interval_ms", "force_polling"] },
    Key { name: "debounce_ms", expected: "`auto` or a whole number of milliseconds", example: "debounce_ms: 100",
        kind: Kind::AutoOrWhole(Bounds { min: 0, max: 60_000, below: "",
            above: "is over one minute (60000): changes would seem lost", hint: "50 to 300 suits most projects" }),
        also: &["delay", "wait"] },
    Key { name: "max_wait_ms", expected: "a whole number of milliseconds", example: "max_wait_ms: 1000",
        kind: Kind::Whole(Bounds { min: 0, max: 3_600_000, below: "",
            above: "is over one hour (3600000)", hint: "1000 suits most projects" }),
        also: &[] },
    Key { name: "client_buffer", expected: "a whole number of messages", example: "client_buffer: 10",
        kind: Kind::Whole(Bounds { min: 1, max: 100_000,
            below: "leaves no room for a single message, so every browser would be dropped",
            above: "is over 100000; each browser's queue is allocated up front", hint: "the default is 10" }),
        also: &["buffer"] },
    Key { name: "heartbeat_ms", expected: "a whole number of milliseconds", example: "heartbeat_ms: 5000",
        kind: Kind::Whole(Bounds { min: 100, max: 3_600_000, below: "is under 100 ms, too often to ping every browser",
            above: "is over one hour (3600000)", hint: "the default is 5000" }),
        also: &["interval", "ping", "ping_ms"] },
    Key { name: "max_clients", expected: "a whole number of clients", example: "max_clients: 1024",
        kind: Kind::Whole(Bounds { min: 1, max: u64::MAX, below: "turns every browser away", above: "",
            hint: "the default is 1024 (to turn hot reload off, set `enabled: false`)" }),
        also: &["clients"] },
    Key { name: "allowed_origins", expected: "a list of origins",
        example: r#"allowed_origins: ["http://localhost:3000"]"#,
        kind: Kind::List(Text { noun: "origin", if_empty: "remove it", check: values::origin, bare_null: true }),
        also: &["origins", "cors"] },
    Key { name: "allowed_hosts", expected: "a list of host names", example: r#"allowed_hosts: ["myapp.test"]"#,
        kind: Kind::List(text("host name", "remove it", ANY)), also: &["hosts"] },
    Key { name: "morph", expected: "`true` or `false`", example: "morph: true",
        kind: Kind::Flag, also: &["patch", "morph_html", "in_place"] },
    Key { name: "preflight", expected: "`true` or `false`", example: "preflight: true",
        kind: Kind::Flag, also: &["pre_flight", "check_before_reload", "conditional_reload"] },
    Key { name: "sync", expected: "`true` or `false`", example: "sync: true",
        kind: Kind::Flag, also: &["ghost_mode", "ghost", "mirror", "browser_sync"] },
    Key { name: "host", expected: "an address", example: "host: 127.0.0.1",
        kind: Kind::Text(text("address",
            "write an address to listen on, like `host: 127.0.0.1` (or 0.0.0.0 for every interface)", ANY)),
        also: &["address", "addr", "bind", "listen"] },
    Key { name: "port", expected: "a port number from 0 to 65535", example: "port: 8080",
        kind: Kind::Whole(Bounds { min: 0, max: 65_535, below: "", above: "",
            hint: "a port from 1 to 65535 (0 picks a free one)" }),
        also: &[] },
    Key { name: "root", expected: "a folder path", example: "root: ./public",
        kind: Kind::Text(text("folder name",
            "write \".\" to serve the config file's folder, or delete the line to serve the DIR argument", ANY)),
        also: &["dir", "serve", "static_dir"] },
    Key { name: "inject", expected: "`true` or `false`", example: "inject: true",
        kind: Kind::Flag, also: &["inject_script"] },
    Key { name: "livereload_port", expected: "a port number from 0 to 65535", example: "livereload_port: 35729",
        kind: Kind::Whole(Bounds { min: 0, max: 65_535, below: "", above: "",
            hint: "35729 is the LiveReload extensions' port (0 picks a free one)" }),
        also: &["livereload", "lr_port", "live_reload_port"] },
    Key { name: "proxy", expected: "a backend URL", example: "proxy: http://localhost:3000",
        kind: Kind::Text(text("URL", "write the backend's address, like `proxy: http://localhost:3000`, or delete the line", values::backend)),
        also: &["backend", "upstream", "proxy_url", "target"] },
    Key { name: "proxy_timeout_ms", expected: "a whole number of milliseconds", example: "proxy_timeout_ms: 30000",
        kind: Kind::Whole(Bounds { min: 100, max: 3_600_000, below: "is under 100 ms, too short for any backend to answer",
            above: "is over one hour (3600000)", hint: "the default is 30000" }),
        also: &["timeout", "timeout_ms", "backend_timeout_ms"] },
    Key { name: "build", expected: "a command", example: "build: make css",
        kind: Kind::Text(text("command", "write the command to run after each change, like `build: make css`, or delete the line", ANY)),
        also: &["build_command", "compile", "cmd"] },
    Key { name: "build_timeout_ms", expected: "a whole number of milliseconds", example: "build_timeout_ms: 600000",
        kind: Kind::Whole(Bounds { min: 100, max: 86_400_000, below: "is under 100 ms, too short for any build",
            above: "is over one day (86400000)", hint: "the default is 600000 (ten minutes)" }),
        also: &[] },
    Key { name: "run", expected: "a command", example: "run: go run ./cmd/server",
        kind: Kind::Text(text("command", "write the command that starts your app, like `run: go run .`, or delete the line", ANY)),
        also: &["run_command", "start", "server", "exec"] },
    Key { name: "restart_on", expected: "a list of globs", example: r#"restart_on: ["*.go"]"#,
        kind: Kind::List(text("glob", "remove it", values::glob)), also: &["restart", "reload_on"] },
    Key { name: "ready_url", expected: "a URL", example: "ready_url: http://localhost:3000/",
        kind: Kind::Text(text("URL", "write the address that answers once your app is up, or delete the line", values::backend)),
        also: &["health_url", "ready", "wait_for"] },
    Key { name: "stop_timeout_ms", expected: "a whole number of milliseconds", example: "stop_timeout_ms: 5000",
        kind: Kind::Whole(Bounds { min: 0, max: 600_000, below: "",
            above: "is over ten minutes (600000)", hint: "the default is 5000" }),
        also: &["kill_timeout_ms", "grace_ms"] },
    Key { name: "start_timeout_ms", expected: "a whole number of milliseconds", example: "start_timeout_ms: 30000",
        kind: Kind::Whole(Bounds { min: 100, max: 3_600_000, below: "is under 100 ms, too short for any app to start",
            above: "is over one hour (3600000)", hint: "the default is 30000" }),
        also: &["ready_timeout_ms", "startup_timeout_ms"] },
    Key { name: "test", expected: "a command", example: "test: cargo test",
        kind: Kind::Text(text("command", "write the command that runs your tests, like `test: npm test`, or delete the line", ANY)),
        also: &["tests", "test_command", "check"] },
];

/// The row of a key.
pub(super) fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|k| k.name == name)
}

/// "Keys under hot_reload: enabled, watch_dirs, ...".
pub(super) fn key_list() -> String {
    let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    format!("Keys under hot_reload: {}", names.join(", "))
}

/// Problem and fix for a key under `hot_reload` that is not one of ours.
pub(super) fn unknown(name: &str) -> Why {
    let list = key_list();
    if name == "<<" {
        let fix = format!("write the settings out under hot_reload. {list}");
        return why("YAML merge keys (`<<`) are not supported here", fix);
    }
    let fix = match suggest(name) {
        Some(known) => format!("did you mean `{known}`? {list}"),
        None => format!("remove it, or use a known key. {list}"),
    };
    why(format!("unknown key `{name}`"), fix)
}

/// True for keys of ours that a host application is unlikely to have at its
/// top level (`host`, `port` and `root` it may well have).
pub(super) fn ours_alone(key: &str) -> bool {
    find(key).is_some() && !matches!(key, "host" | "port" | "root")
}

/// Problem and fix for a file without the section, from its top-level keys:
/// a near miss of the name, or our keys left at the top level.
pub(super) fn missing_section(top_keys: &[String]) -> Why {
    let squash = |s: &str| s.to_ascii_lowercase().replace(['_', '-', ' '], "");
    let near = |k: &&String| squash(k) == "hotreload" || edit_distance(k, SECTION) <= 2;
    if let Some(near) = top_keys.iter().find(near) {
        let problem = format!("no `hot_reload` section, but a section named `{near}`");
        return why(problem, format!("rename `{near}` to `hot_reload`"));
    }
    let stray: Vec<String> = (top_keys.iter().filter(|k| ours_alone(k)))
        .map(|k| format!("`{k}`"))
        .collect();
    let Some(first) = stray.first() else {
        let fix = "add a top-level `hot_reload:` section (`hotreload init` writes a commented one)";
        return why("this file has no `hot_reload` section", fix);
    };
    let problem = format!("no `hot_reload` section; {first} is at the top level");
    let listed = stray.join(", ");
    let fix =
        format!("add a `hot_reload:` line above it and indent {listed} under it by two spaces");
    why(problem, fix)
}

/// Problem and fix for one of our keys right after an empty `hot_reload:`:
/// the section's keys lost their indentation.
pub(super) fn misindented(key: &str) -> Why {
    let problem = format!(
        "the section is empty: `{key}` below it is not indented, so it is outside the section"
    );
    why(
        problem,
        format!("indent `{key}` and the keys after it under `hot_reload:` by two spaces"),
    )
}

/// A known key close to an unknown one: same letters once case, `-` and `_`
/// are set aside, a missing `_ms`, a common synonym, or a typo or two.
fn suggest(unknown: &str) -> Option<&'static str> {
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
    if let Some(k) = KEYS.iter().find(|k| k.also.contains(&word.as_str())) {
        return Some(k.name);
    }
    KEYS.iter()
        .map(|k| (edit_distance(&word, k.name), k.name))
        .filter(|(d, k)| *d <= 2 || *d * 3 <= k.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
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
            ("hosts", Some("allowed_hosts")),
            ("allowed_host", Some("allowed_hosts")),
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
