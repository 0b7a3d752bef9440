//! The history (SPEC.md section 13): the last batches, and the builds and
//! tests between them, kept in memory for the history route and the
//! dashboard's timeline.
//!
//! Each entry is written as JSON once, when it happens: the route and the
//! dashboard's live messages then only copy strings.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::protocol::{
    ChangeBatch, CommandReport, CommandState, Kind, push_changes, push_json_str,
};

/// At most this many entries are kept; the oldest go first.
pub const MAX_ENTRIES: usize = 1000;

/// A batch's entry lists at most this many changes (and its `count`):
/// a thousand entries of a 100,000-file checkout would otherwise hold
/// gigabytes.
const CHANGES_PER_ENTRY: usize = 100;

/// A failed command's entry keeps at most this much of its output's end.
const OUTPUT_PER_ENTRY: usize = 16 * 1024;

/// The last [`MAX_ENTRIES`] things that happened, oldest first.
#[derive(Debug, Default)]
pub(crate) struct History {
    /// `(id, JSON)`; ids grow by one from 1 and are never reused.
    entries: VecDeque<(u64, String)>,
    last_id: u64,
}

impl History {
    /// Remembers a batch that went to `clients` clients; returns its JSON.
    pub(crate) fn batch(&mut self, batch: &ChangeBatch, clients: usize) -> &str {
        let mut out = String::with_capacity(160);
        let _ = write!(
            out,
            r#","type":"batch","seq":{},"action":"{}","changes":["#,
            batch.seq,
            batch.action().as_str()
        );
        push_changes(&mut out, &batch.changes, CHANGES_PER_ENTRY);
        let _ = write!(out, r#","clients":{clients}}}"#);
        self.push(out)
    }

    /// Remembers a command that finished (or an app that came up or
    /// died); returns its JSON. Starts are not history: `None`.
    pub(crate) fn command(&mut self, report: &CommandReport) -> Option<&str> {
        let state = match (report.kind, report.state) {
            (_, CommandState::Running) => return None,
            (Kind::Test, CommandState::Ok) => "passed",
            (_, CommandState::Ok) => "ok",
            (_, CommandState::Failed) => "failed",
        };
        let mut out = String::with_capacity(128);
        let _ = write!(
            out,
            r#","type":"{}","state":"{state}","command":"#,
            report.kind.as_str()
        );
        push_json_str(&mut out, &report.command);
        match report.exit_code {
            Some(code) => {
                let _ = write!(out, r#","exit_code":{code}"#);
            }
            None => out.push_str(r#","exit_code":null"#),
        }
        if report.state == CommandState::Failed {
            out.push_str(r#","output":"#);
            push_json_str(&mut out, tail(&report.output, OUTPUT_PER_ENTRY));
        }
        out.push('}');
        Some(self.push(out))
    }

    /// Prepends the id and the time to an entry's fields (`rest` starts
    /// with a comma and ends the object) and keeps it.
    fn push(&mut self, rest: String) -> &str {
        self.last_id += 1;
        let mut json = String::with_capacity(rest.len() + 48);
        let _ = write!(
            json,
            r#"{{"id":{},"timestamp_ms":{}"#,
            self.last_id,
            unix_millis()
        );
        json.push_str(&rest);
        if self.entries.len() == MAX_ENTRIES {
            self.entries.pop_front();
        }
        self.entries.push_back((self.last_id, json));
        // Just pushed: there is a last entry.
        &self.entries.back().expect("an entry was just pushed").1
    }

    /// The route's answer: the newest `limit` entries, newest first, and
    /// the id of the server whose numbering they follow.
    pub(crate) fn json(&self, limit: usize, server_id: &str) -> String {
        let mut out = String::from(r#"{"entries":["#);
        for (i, (_, entry)) in self.entries.iter().rev().take(limit).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(entry);
        }
        let _ = write!(
            out,
            r#"],"kept":{},"max":{MAX_ENTRIES},"server_id":"#,
            self.entries.len()
        );
        push_json_str(&mut out, server_id);
        out.push('}');
        out
    }
}

/// The last `max` bytes of `text`, cut at a character boundary.
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Milliseconds since the Unix epoch, 0 if the clock is before it.
pub(crate) fn unix_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Change, Operation};

    fn batch(seq: u64, paths: usize) -> ChangeBatch {
        ChangeBatch {
            seq,
            timestamp: 0,
            changes: (0..paths)
                .map(|i| Change {
                    path: format!("f{i}.css"),
                    operation: Operation::Modified,
                })
                .collect(),
        }
    }

    #[test]
    fn keeps_the_newest_thousand_newest_first() {
        let mut history = History::default();
        for seq in 1..=1005 {
            history.batch(&batch(seq, 1), 2);
        }
        let all: serde_json::Value = serde_json::from_str(&history.json(5000, "ab")).unwrap();
        let entries = all["entries"].as_array().unwrap();
        assert_eq!(entries.len(), MAX_ENTRIES);
        assert_eq!(all["kept"], 1000);
        assert_eq!(entries[0]["seq"], 1005);
        assert_eq!(entries[999]["seq"], 6);
        assert_eq!(entries[0]["id"], 1005);
        assert_eq!(entries[0]["clients"], 2);
        assert_eq!(all["server_id"], "ab");
        let few: serde_json::Value = serde_json::from_str(&history.json(3, "ab")).unwrap();
        assert_eq!(few["entries"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn a_huge_batch_is_kept_short_and_counted() {
        let mut history = History::default();
        let entry: serde_json::Value =
            serde_json::from_str(history.batch(&batch(1, 5000), 0)).unwrap();
        assert_eq!(
            entry["changes"].as_array().unwrap().len(),
            CHANGES_PER_ENTRY
        );
        assert_eq!(entry["count"], 5000);
        assert_eq!(entry["truncated"], true);
        assert_eq!(entry["action"], "css");
    }

    #[test]
    fn commands_are_kept_when_they_end_with_the_end_of_a_failure() {
        let mut history = History::default();
        let mut report = CommandReport {
            kind: Kind::Build,
            command: "make \"all\"".into(),
            state: CommandState::Running,
            exit_code: None,
            output: String::new(),
            at: 0,
        };
        assert!(history.command(&report).is_none());
        report.state = CommandState::Failed;
        report.exit_code = Some(2);
        report.output = format!("{}é<b>end", "x".repeat(OUTPUT_PER_ENTRY));
        let entry: serde_json::Value =
            serde_json::from_str(history.command(&report).unwrap()).unwrap();
        assert_eq!(entry["type"], "build");
        assert_eq!(entry["state"], "failed");
        assert_eq!(entry["command"], "make \"all\"");
        assert_eq!(entry["exit_code"], 2);
        let output = entry["output"].as_str().unwrap();
        assert!(output.ends_with("é<b>end") && output.len() <= OUTPUT_PER_ENTRY);
        report.kind = Kind::Test;
        report.state = CommandState::Ok;
        report.exit_code = Some(0);
        let entry: serde_json::Value =
            serde_json::from_str(history.command(&report).unwrap()).unwrap();
        assert_eq!(entry["state"], "passed");
        assert!(entry.get("output").is_none());
    }
}
