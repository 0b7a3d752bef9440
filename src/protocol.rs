//! The JSON messages the server sends to browsers, and the batch type they describe.
//!
//! The JSON is written by hand: the messages are small and flat, and this
//! keeps `serde_json` out of the dependency graph. `tests/protocol.rs` checks
//! the output against a real JSON parser.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// A message lists at most this many changes; more set `truncated: true`.
pub const MAX_CHANGES_PER_MESSAGE: usize = 500;

/// What happened to a path over one batch, comparing before and after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// It did not exist before the batch and does now.
    Created,
    /// It existed before and still does (also when a save replaced it by rename).
    Modified,
    /// It existed before and is gone.
    Deleted,
    /// It existed before and was moved away (its new name is reported as `Created`).
    Renamed,
}

impl Operation {
    /// The name used in messages: `created`, `modified`, `deleted`, `renamed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Created => "created",
            Operation::Modified => "modified",
            Operation::Deleted => "deleted",
            Operation::Renamed => "renamed",
        }
    }
}

/// What a browser should do about a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Every change is a stylesheet that still exists: swap stylesheets in place.
    Css,
    /// Every change is an image that still exists: swap images in place.
    Image,
    /// Anything else: reload the page.
    Reload,
}

impl Action {
    /// The name used in messages: `css`, `image`, `reload`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Css => "css",
            Action::Image => "image",
            Action::Reload => "reload",
        }
    }

    /// The action for a set of changes. A stylesheet or image that was
    /// deleted or renamed cannot be swapped in place, so it means a reload.
    pub fn for_changes(changes: &[Change]) -> Action {
        let kept = |c: &Change| matches!(c.operation, Operation::Created | Operation::Modified);
        if changes.is_empty() {
            Action::Reload
        } else if changes.iter().all(|c| kept(c) && is_stylesheet(&c.path)) {
            Action::Css
        } else if changes.iter().all(|c| kept(c) && is_image(&c.path)) {
            Action::Image
        } else {
            Action::Reload
        }
    }
}

fn extension(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

fn is_stylesheet(path: &str) -> bool {
    extension(path) == "css"
}

fn is_image(path: &str) -> bool {
    matches!(
        extension(path).as_str(),
        "png" | "jpg" | "jpeg" | "gif" | "svg" | "webp" | "avif"
    )
}

/// One path in a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The watch dir's label joined with the path inside it, `/`-separated
    /// (`web/static/css/app.css`; `css/app.css` when watching `.`).
    pub path: String,
    /// What happened to it.
    pub operation: Operation,
}

/// Everything that changed in one debounce window: what every client is told at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeBatch {
    /// Grows by one per batch, from 1, for the life of a [`Manager`](crate::Manager).
    pub seq: u64,
    /// When the batch went out, in Unix seconds.
    pub timestamp: u64,
    /// Every change, in the order their first events arrived.
    pub changes: Vec<Change>,
}

impl ChangeBatch {
    /// What a browser should do about this batch.
    pub fn action(&self) -> Action {
        Action::for_changes(&self.changes)
    }
}

/// Seconds since the Unix epoch, 0 if the clock is before it.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// What a page is told on connecting besides the numbering (SPEC.md
/// section 12): how it should update itself, and where the server's pages
/// come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Welcome {
    /// Patch a changed page in place instead of reloading it.
    pub morph: bool,
    /// Try a page in a hidden frame before reloading into it.
    pub preflight: bool,
    /// `(path prefix, URL prefix)`: a changed path that starts with the
    /// first is the page at the second plus the rest (`site/a.html` is
    /// `/a.html`). Empty when the server serves no files.
    pub pages: Vec<(String, String)>,
}

/// `{"type":"connected",...}`, the first message on every connection:
/// the server's id and numbering, the client's own `id` (what its sync
/// events say they come from), whether sync is on, and the [`Welcome`].
pub(crate) fn connected_message(
    server_id: &str,
    seq: u64,
    id: u64,
    sync: bool,
    welcome: &Welcome,
) -> String {
    let mut out = String::with_capacity(96);
    out.push_str(r#"{"type":"connected","message":"Hot-reload enabled","server_id":"#);
    push_json_str(&mut out, server_id);
    let _ = write!(out, r#","seq":{seq},"id":{id},"sync":{sync}"#);
    if welcome.morph {
        out.push_str(r#","morph":true"#);
    }
    if welcome.preflight {
        out.push_str(r#","preflight":true"#);
    }
    if !welcome.pages.is_empty() {
        out.push_str(r#","pages":["#);
        for (i, (path, url)) in welcome.pages.iter().enumerate() {
            out.push_str(if i == 0 { "[" } else { ",[" });
            push_json_str(&mut out, path);
            out.push(',');
            push_json_str(&mut out, url);
            out.push(']');
        }
        out.push(']');
    }
    out.push('}');
    out
}

/// `{"type":"file_changed",...}` for one batch.
pub(crate) fn file_changed_message(batch: &ChangeBatch) -> String {
    let shown = batch.changes.len().min(MAX_CHANGES_PER_MESSAGE);
    let mut out = String::with_capacity(160 + shown * 64);
    let _ = write!(
        out,
        r#"{{"type":"file_changed","seq":{},"action":"{}","path":"#,
        batch.seq,
        batch.action().as_str()
    );
    let (path, operation) = match batch.changes.first() {
        Some(c) => (c.path.as_str(), c.operation.as_str()),
        None => ("", Operation::Modified.as_str()),
    };
    push_json_str(&mut out, path);
    let _ = write!(
        out,
        r#","operation":"{operation}","timestamp":{},"changes":["#,
        batch.timestamp
    );
    push_changes(&mut out, &batch.changes, MAX_CHANGES_PER_MESSAGE);
    out.push('}');
    out
}

/// Appends the first `most` of `changes` as `{"path":...,"operation":...}`
/// objects, closes the list, and adds `"count"` and `"truncated"`.
pub(crate) fn push_changes(out: &mut String, changes: &[Change], most: usize) {
    let shown = &changes[..changes.len().min(most)];
    for (i, change) in shown.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"path":"#);
        push_json_str(out, &change.path);
        let _ = write!(out, r#","operation":"{}"}}"#, change.operation.as_str());
    }
    let _ = write!(
        out,
        r#"],"count":{},"truncated":{}"#,
        changes.len(),
        changes.len() > shown.len()
    );
}

/// Which command a [`CommandReport`] is about (SPEC.md section 10).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// `build`: run before a batch goes out.
    Build,
    /// `run`: the app.
    Run,
    /// `test`: run after a batch went out.
    Test,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Build => "build",
            Kind::Run => "run",
            Kind::Test => "test",
        }
    }
}

/// Where a command stands: what browsers are told, and the status route shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CommandState {
    /// Started, not finished (a build), or up (the app).
    Running,
    /// Finished well: a build that exited 0, tests that passed, an app that answers.
    Ok,
    /// Exited non-zero, timed out, or (the app) exited on its own.
    Failed,
}

/// The latest of a command: what it is, where it stands, and its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CommandReport {
    pub kind: Kind,
    pub command: String,
    pub state: CommandState,
    /// The exit code; `None` while running, or when it was killed by a signal.
    pub exit_code: Option<i32>,
    /// The last lines of stdout and stderr, ANSI colours removed.
    pub output: String,
    /// When this state began, in Unix seconds.
    pub at: u64,
}

impl CommandReport {
    /// The message for browsers: `build` messages carry `running`, `failed`
    /// and `ok` (the app's failures are build failures: the page cannot be
    /// trusted either way); `test` messages `passed` and `failed`.
    pub(crate) fn message(&self) -> String {
        let (kind, state) = match (self.kind, self.state) {
            (Kind::Test, CommandState::Ok) => ("test", "passed"),
            (Kind::Test, _) => ("test", "failed"),
            (_, CommandState::Running) => ("build", "running"),
            (_, CommandState::Ok) => ("build", "ok"),
            (_, CommandState::Failed) => ("build", "failed"),
        };
        let mut out = format!(r#"{{"type":"{kind}","state":"{state}","command":"#);
        push_json_str(&mut out, &self.command);
        if self.state != CommandState::Running {
            match self.exit_code {
                Some(code) => {
                    let _ = write!(out, r#","exit_code":{code}"#);
                }
                None => out.push_str(r#","exit_code":null"#),
            }
            out.push_str(r#","output":"#);
            push_json_str(&mut out, &self.output);
        }
        if self.kind == Kind::Run {
            out.push_str(r#","source":"run""#);
        }
        out.push('}');
        out
    }

    /// The entry of the status JSON: `{"command":...,"state":...,...}`.
    pub(crate) fn status_json(&self) -> String {
        let state = match (self.kind, self.state) {
            (Kind::Test, CommandState::Ok) => "passed",
            (_, CommandState::Ok) => "ok",
            (_, CommandState::Running) => "running",
            (_, CommandState::Failed) => "failed",
        };
        let mut out = String::from(r#"{"command":"#);
        push_json_str(&mut out, &self.command);
        let _ = write!(out, r#","state":"{state}","exit_code":"#);
        match self.exit_code {
            Some(code) => {
                let _ = write!(out, "{code}");
            }
            None => out.push_str("null"),
        }
        let _ = write!(out, r#","at":{}}}"#, self.at);
        out
    }
}

/// Appends `s` as a JSON string literal, quotes included (how every
/// message here is written, without a JSON library).
pub fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(list: &[(&str, Operation)]) -> Vec<Change> {
        list.iter()
            .map(|(p, o)| Change {
                path: p.to_string(),
                operation: *o,
            })
            .collect()
    }

    #[test]
    fn action_by_kind_of_every_change() {
        use Operation::*;
        let rows: &[(&[(&str, Operation)], Action)] = &[
            (&[("a/app.css", Modified)], Action::Css),
            (&[("a/APP.CSS", Created)], Action::Css),
            (&[("a.css", Modified), ("b.css", Modified)], Action::Css),
            (&[("a.css", Modified), ("b.js", Modified)], Action::Reload),
            (&[("a.css", Deleted)], Action::Reload),
            (&[("logo.png", Modified), ("x.svg", Created)], Action::Image),
            (
                &[("logo.png", Modified), ("a.css", Modified)],
                Action::Reload,
            ),
            (&[("index.html", Modified)], Action::Reload),
            (&[("PERSONA.md", Modified)], Action::Reload),
            (&[(".css", Modified)], Action::Reload),
            (&[("css", Modified)], Action::Reload),
            (&[], Action::Reload),
        ];
        for (list, want) in rows {
            assert_eq!(Action::for_changes(&changes(list)), *want, "{list:?}");
        }
    }

    #[test]
    fn json_strings_escape_what_json_requires() {
        let mut out = String::new();
        push_json_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn message_names_the_first_change_and_counts_all() {
        let batch = ChangeBatch {
            seq: 7,
            timestamp: 1_764_000_000,
            changes: changes(&[("css/app.css", Operation::Modified)]),
        };
        assert_eq!(
            file_changed_message(&batch),
            r#"{"type":"file_changed","seq":7,"action":"css","path":"css/app.css","operation":"modified","timestamp":1764000000,"changes":[{"path":"css/app.css","operation":"modified"}],"count":1,"truncated":false}"#
        );
    }
}
