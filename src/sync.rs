//! Sync (SPEC.md section 13): the events one tab sends with `POST
//! /api/v1/hotreload/sync`, checked before the hub replays them on the
//! other tabs showing the same page, and the rate each tab may send them.
//!
//! Echoes are prevented at both ends: the hub never sends an event back to
//! the tab it came from, and a tab never sends what it replays (replayed
//! events are synthetic or marked; see `client/hotreload.js`).

use std::fmt::Write as _;
use std::time::Instant;

use serde::Deserialize;

use crate::protocol::push_json_str;

/// The largest event body read; a bigger one gets 413.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// Events a tab may send per second, on average...
const RATE_PER_SEC: f64 = 30.0;
/// ...and at once after a quiet spell. A scroll sends at most 20 a second
/// (the client throttles it); more is a page or a script gone wrong.
const BURST: f64 = 60.0;

/// How a tab names an element: from the nearest ancestor with an `id`
/// (`#main`), then the tag and the index among siblings of that tag
/// (`div:2`). At most this many steps, each at most `MAX_STEP` bytes.
const MAX_STEPS: usize = 64;
const MAX_STEP: usize = 256;
/// A page path or a navigation's URL.
const MAX_URL: usize = 4096;
/// Typed text.
const MAX_VALUE: usize = 32 * 1024;

/// What happened in a tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    /// The page (no target) or an element scrolled; `x` and `y` are
    /// fractions of how far it can scroll, so tabs of any size agree.
    Scroll,
    /// A click on an element.
    Click,
    /// Text typed into a field: `value`.
    Input,
    /// A checkbox or radio (`checked`) or a select (`value`) changed.
    Change,
    /// A form was submitted.
    Submit,
    /// The tab went from `page` to `url`.
    Nav,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Scroll => "scroll",
            Kind::Click => "click",
            Kind::Input => "input",
            Kind::Change => "change",
            Kind::Submit => "submit",
            Kind::Nav => "nav",
        }
    }
}

/// One event, as a tab sends it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Event {
    /// The sending tab: the `id` of its `connected` message.
    pub from: u64,
    /// The path of the page it happened on (`/docs/a.html`); only tabs
    /// showing that path replay it.
    pub page: String,
    pub kind: Kind,
    #[serde(default)]
    pub target: Option<Vec<String>>,
    #[serde(default)]
    pub x: Option<f64>,
    #[serde(default)]
    pub y: Option<f64>,
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub checked: Option<bool>,
    #[serde(default)]
    pub url: Option<String>,
}

impl Event {
    /// Reads and checks a body; the error is the 400's text.
    pub(crate) fn parse(body: &[u8]) -> Result<Event, String> {
        let text = std::str::from_utf8(body).map_err(|_| "the event is not UTF-8 text")?;
        // JSON is YAML, and serde_yaml is already here for the config.
        let event: Event = serde_yaml::from_str(text).map_err(|e| {
            format!(
                "the event is not a sync event ({}); send JSON like {{\"from\":1,\"page\":\"/\",\"kind\":\"click\",\"target\":[\"#go\"]}}",
                first_line(&e.to_string())
            )
        })?;
        event.check()?;
        Ok(event)
    }

    fn check(&self) -> Result<(), String> {
        if !is_path(&self.page) {
            return Err("`page` must be a path starting with /".into());
        }
        if let Some(target) = &self.target {
            if target.is_empty() || target.len() > MAX_STEPS {
                return Err(format!("`target` must have 1 to {MAX_STEPS} steps"));
            }
            if let Some(bad) = target.iter().find(|s| !is_step(s)) {
                return Err(format!(
                    "`target` step {bad:?} is neither `#id` nor `tag:index`"
                ));
            }
        }
        let needs_target = !matches!(self.kind, Kind::Scroll | Kind::Nav);
        if needs_target && self.target.is_none() {
            return Err(format!("a {} event needs a `target`", self.kind.as_str()));
        }
        let fraction = |v: Option<f64>| v.is_some_and(|v| (0.0..=1.0).contains(&v));
        match self.kind {
            Kind::Scroll if !(fraction(self.x) && fraction(self.y)) => {
                Err("a scroll event needs `x` and `y` from 0 to 1".into())
            }
            Kind::Input if self.value.is_none() => Err("an input event needs a `value`".into()),
            Kind::Change if self.value.is_none() == self.checked.is_none() => {
                Err("a change event needs `checked` or `value`".into())
            }
            Kind::Nav if !self.url.as_deref().is_some_and(is_path) => {
                Err("a nav event needs a `url` on this server, starting with /".into())
            }
            _ if self.value.as_ref().is_some_and(|v| v.len() > MAX_VALUE) => {
                Err(format!("`value` is over {} KiB", MAX_VALUE / 1024))
            }
            _ => Ok(()),
        }
    }

    /// `{"type":"sync","event":{...}}`, what the other tabs get.
    pub(crate) fn message(&self) -> String {
        let mut out = String::with_capacity(128);
        let _ = write!(
            out,
            r#"{{"type":"sync","event":{{"kind":"{}","page":"#,
            self.kind.as_str()
        );
        push_json_str(&mut out, &self.page);
        if let Some(target) = &self.target {
            out.push_str(r#","target":["#);
            for (i, step) in target.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                push_json_str(&mut out, step);
            }
            out.push(']');
        }
        if let (Some(x), Some(y)) = (self.x, self.y) {
            let _ = write!(out, r#","x":{x},"y":{y}"#);
        }
        if let Some(value) = &self.value {
            out.push_str(r#","value":"#);
            push_json_str(&mut out, value);
        }
        if let Some(checked) = self.checked {
            let _ = write!(out, r#","checked":{checked}"#);
        }
        if let Some(url) = &self.url {
            out.push_str(r#","url":"#);
            push_json_str(&mut out, url);
        }
        out.push_str("}}");
        out
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

/// A path on this server: `/`, then no second `/` (another host), no
/// backslash, no control characters.
fn is_path(text: &str) -> bool {
    text.starts_with('/')
        && !text.starts_with("//")
        && text.len() <= MAX_URL
        && !text.chars().any(|c| c == '\\' || c.is_control())
}

/// `#id` (any characters but controls) or `tag:index`.
fn is_step(step: &str) -> bool {
    if step.len() > MAX_STEP || step.chars().any(char::is_control) {
        return false;
    }
    if let Some(id) = step.strip_prefix('#') {
        return !id.is_empty();
    }
    match step.split_once(':') {
        Some((tag, index)) => {
            !tag.is_empty()
                && tag.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !index.is_empty()
                && index.len() <= 6
                && index.chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// How many events a tab may still send: a token bucket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Allowance {
    tokens: f64,
    at: Instant,
}

impl Allowance {
    pub(crate) fn new(now: Instant) -> Allowance {
        Allowance {
            tokens: BURST,
            at: now,
        }
    }

    /// Takes one event's worth; `false` when the tab is over its rate.
    pub(crate) fn take(&mut self, now: Instant) -> bool {
        let earned = now.saturating_duration_since(self.at).as_secs_f64() * RATE_PER_SEC;
        self.tokens = (self.tokens + earned).min(BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn good_events_pass_and_are_replayed_as_sent() {
        let rows = [
            (
                r#"{"from":3,"page":"/","kind":"scroll","x":0,"y":0.5}"#,
                r#"{"type":"sync","event":{"kind":"scroll","page":"/","x":0,"y":0.5}}"#,
            ),
            (
                r##"{"from":3,"page":"/a.html","kind":"scroll","target":["#list"],"x":1,"y":0.25}"##,
                r##"{"type":"sync","event":{"kind":"scroll","page":"/a.html","target":["#list"],"x":1,"y":0.25}}"##,
            ),
            (
                r##"{"from":3,"page":"/","kind":"click","target":["#main","div:2","button:0"]}"##,
                r##"{"type":"sync","event":{"kind":"click","page":"/","target":["#main","div:2","button:0"]}}"##,
            ),
            (
                r##"{"from":3,"page":"/","kind":"input","target":["#name"],"value":"a \"b\" é\n"}"##,
                r##"{"type":"sync","event":{"kind":"input","page":"/","target":["#name"],"value":"a \"b\" é\n"}}"##,
            ),
            (
                r##"{"from":3,"page":"/","kind":"change","target":["#ok"],"checked":true}"##,
                r##"{"type":"sync","event":{"kind":"change","page":"/","target":["#ok"],"checked":true}}"##,
            ),
            (
                r#"{"from":3,"page":"/","kind":"nav","url":"/b.html?q=1#top"}"#,
                r#"{"type":"sync","event":{"kind":"nav","page":"/","url":"/b.html?q=1#top"}}"#,
            ),
        ];
        for (body, want) in rows {
            let event = Event::parse(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"));
            assert_eq!(event.message(), want);
            let replayed: serde_json::Value = serde_json::from_str(&event.message()).unwrap();
            assert_eq!(replayed["type"], "sync");
        }
    }

    #[test]
    fn bad_events_are_refused_with_what_to_fix() {
        let rows = [
            ("not json at all {", "not a sync event"),
            (
                r#"{"from":1,"page":"/","kind":"dance"}"#,
                "not a sync event",
            ),
            (
                r##"{"from":1,"page":"/","kind":"click","target":["#a"],"extra":1}"##,
                "not a sync event",
            ),
            (
                r#"{"from":1,"page":"x","kind":"scroll","x":0,"y":0}"#,
                "`page`",
            ),
            (
                r#"{"from":1,"page":"/","kind":"scroll","x":2,"y":0}"#,
                "from 0 to 1",
            ),
            (
                r#"{"from":1,"page":"/","kind":"scroll","x":0}"#,
                "from 0 to 1",
            ),
            (
                r#"{"from":1,"page":"/","kind":"click"}"#,
                "needs a `target`",
            ),
            (
                r#"{"from":1,"page":"/","kind":"click","target":[]}"#,
                "1 to 64 steps",
            ),
            (
                r#"{"from":1,"page":"/","kind":"click","target":["div"]}"#,
                "neither",
            ),
            (
                r#"{"from":1,"page":"/","kind":"click","target":["di v:1"]}"#,
                "neither",
            ),
            (
                r##"{"from":1,"page":"/","kind":"input","target":["#a"]}"##,
                "needs a `value`",
            ),
            (
                r##"{"from":1,"page":"/","kind":"change","target":["#a"]}"##,
                "`checked` or `value`",
            ),
            (
                r#"{"from":1,"page":"/","kind":"nav","url":"//evil.example/"}"#,
                "`url`",
            ),
            (
                r#"{"from":1,"page":"/","kind":"nav","url":"javascript:alert(1)"}"#,
                "`url`",
            ),
        ];
        for (body, want) in rows {
            let err = Event::parse(body.as_bytes()).expect_err(body);
            assert!(err.contains(want), "{body}: {err}");
        }
        let long = format!(
            r##"{{"from":1,"page":"/","kind":"input","target":["#a"],"value":"{}"}}"##,
            "x".repeat(MAX_VALUE + 1)
        );
        assert!(Event::parse(long.as_bytes()).unwrap_err().contains("KiB"));
        assert!(Event::parse(&[0xff, 0xfe]).unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn a_flood_is_cut_to_the_burst_then_the_rate() {
        let start = Instant::now();
        let mut allowance = Allowance::new(start);
        let taken = (0..1000).filter(|_| allowance.take(start)).count();
        assert_eq!(taken, BURST as usize);
        // One second later, a second's worth more.
        let later = start + Duration::from_secs(1);
        let taken = (0..1000).filter(|_| allowance.take(later)).count();
        assert_eq!(taken, RATE_PER_SEC as usize);
    }
}
