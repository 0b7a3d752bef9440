//! Step 1 of reading a config: the shape of the document, read loosely so
//! any file gets a clear message.

use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_yaml::Value;

use super::keys::{describe, edit_distance, key_info};
use super::position::{Seg, locate};
use super::{SECTION, config_error};
use crate::Error;

/// True when the text holds more than blank lines, comments and `---`/`...`.
fn has_content(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start_matches('\u{feff}').trim();
        !(line.is_empty() || line.starts_with('#') || line == "---" || line == "...")
    })
}

/// Reads the document's shape and returns the entries of its one
/// `hot_reload` mapping, in order, duplicates checked.
pub(super) fn section_entries(text: &str, file: &Path) -> Result<Vec<(Value, Value)>, Error> {
    if !has_content(text) {
        return Err(config_error(
            file,
            None,
            None,
            "the file is empty (nothing but blank lines or comments)",
            "add a `hot_reload:` section, or run `hotreload init` to write a commented config.yaml",
        ));
    }
    let shape = serde_yaml::from_str::<Shape>(text).map_err(|e| yaml_error(&e, text, file))?;
    let (top_keys, sections) = match shape {
        Shape::Map { keys, sections } => (keys, sections),
        Shape::Other(found) => {
            return Err(config_error(
                file,
                locate(text, &[], false, 0),
                None,
                format!("the top level of the file is {found}, not a mapping of sections"),
                "start a line with `hot_reload:` and indent its keys under it by two spaces (`hotreload init` writes an example)",
            ));
        }
    };
    let key = Some(SECTION.to_string());
    let entries = match sections.as_slice() {
        [] => return Err(missing_section(text, file, &top_keys)),
        [_, _, ..] => {
            let first = locate(text, &[Seg::Key(SECTION)], true, 0);
            return Err(config_error(
                file,
                locate(text, &[Seg::Key(SECTION)], true, 1),
                key,
                format!("the `hot_reload` section appears twice{}", also_on(first)),
                "merge the two sections into one",
            ));
        }
        [Section::Null] => {
            misindented_keys(text, file, &top_keys)?;
            Vec::new()
        }
        [Section::Other(found)] => {
            let fix = match found {
                Value::Bool(on) => {
                    format!("write `hot_reload:` alone on its line and `  enabled: {on}` under it")
                }
                _ => "put the settings on their own lines under `hot_reload:`, indented by two spaces, like `  enabled: true`"
                    .into(),
            };
            return Err(config_error(
                file,
                locate(text, &[Seg::Key(SECTION)], false, 0),
                key,
                format!("expected a mapping of settings, found {}", describe(found)),
                fix,
            ));
        }
        [Section::Map(entries)] => entries.clone(),
    };
    for (i, (key, _)) in entries.iter().enumerate() {
        if entries[..i].iter().any(|(k, _)| k == key)
            && let Value::String(name) = key
        {
            let first = locate(text, &[Seg::Key(SECTION), Seg::Key(name)], true, 0);
            return Err(config_error(
                file,
                locate(text, &[Seg::Key(SECTION), Seg::Key(name)], true, 1),
                Some(format!("{SECTION}.{name}")),
                format!("`{name}` is set twice{}", also_on(first)),
                "keep one of the two lines",
            ));
        }
    }
    Ok(entries)
}

/// The top level of the document, read just far enough to check its shape.
enum Shape {
    /// A mapping: its keys in order, and every `hot_reload` value.
    Map {
        keys: Vec<Value>,
        sections: Vec<Section>,
    },
    /// Anything else, described for a message.
    Other(String),
}

/// The value of `hot_reload`.
enum Section {
    /// `hot_reload:` with nothing under it.
    Null,
    /// Its entries in order, duplicates kept.
    Map(Vec<(Value, Value)>),
    /// Anything else (lists as an empty one).
    Other(Value),
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Shape, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Shape;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of sections")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Shape, A::Error> {
                let mut keys = Vec::new();
                let mut sections = Vec::new();
                while let Some(key) = map.next_key::<Value>()? {
                    if key.as_str() == Some(SECTION) {
                        sections.push(map.next_value::<Section>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                    keys.push(key);
                }
                Ok(Shape::Map { keys, sections })
            }
            fn visit_unit<E>(self) -> Result<Shape, E> {
                Ok(Shape::Other("`null`".into()))
            }
            fn visit_none<E>(self) -> Result<Shape, E> {
                Ok(Shape::Other("`null`".into()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Shape, E> {
                Ok(Shape::Other(describe(&Value::Bool(v))))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Shape, E> {
                Ok(Shape::Other(describe(&Value::from(v))))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Shape, E> {
                Ok(Shape::Other(describe(&Value::from(v))))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Shape, E> {
                Ok(Shape::Other(describe(&Value::from(v))))
            }
            fn visit_str<E>(self, v: &str) -> Result<Shape, E> {
                Ok(Shape::Other(describe(&Value::from(v))))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Shape, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Shape::Other("a list".into()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Section {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Section, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Section;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping of settings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Section, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<Value>()? {
                    entries.push((key, map.next_value::<Value>()?));
                }
                Ok(Section::Map(entries))
            }
            fn visit_unit<E>(self) -> Result<Section, E> {
                Ok(Section::Null)
            }
            fn visit_none<E>(self) -> Result<Section, E> {
                Ok(Section::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Section, E> {
                Ok(Section::Other(Value::Bool(v)))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Section, E> {
                Ok(Section::Other(Value::from(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Section, E> {
                Ok(Section::Other(Value::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Section, E> {
                Ok(Section::Other(Value::from(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Section, E> {
                Ok(Section::Other(Value::from(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Section, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Section::Other(Value::Sequence(Vec::new())))
            }
        }
        d.deserialize_any(V)
    }
}

/// No `hot_reload` key at the top level: point at a near miss if there is one.
fn missing_section(text: &str, file: &Path, top_keys: &[Value]) -> Error {
    let names = || top_keys.iter().filter_map(Value::as_str);
    let squash = |s: &str| s.to_ascii_lowercase().replace(['_', '-', ' '], "");
    let near = names().find(|k| squash(k) == "hotreload" || edit_distance(k, SECTION) <= 2);
    let stray: Vec<&str> = names().filter(|k| ours_alone(k)).collect();
    let (at_key, problem, fix) = if let Some(near) = near {
        (
            near,
            format!("no `hot_reload` section, but a section named `{near}`"),
            format!("rename `{near}` to `hot_reload`"),
        )
    } else if let Some(first) = stray.first() {
        let listed: Vec<String> = stray.iter().map(|k| format!("`{k}`")).collect();
        (
            *first,
            format!("no `hot_reload` section; `{first}` is at the top level"),
            format!(
                "add a `hot_reload:` line above it and indent {} under it by two spaces",
                listed.join(", ")
            ),
        )
    } else {
        return Error::config(
            file,
            SECTION,
            "this file has no `hot_reload` section",
            "add a top-level `hot_reload:` section (`hotreload init` writes a commented one)",
        );
    };
    let pos = locate(text, &[Seg::Key(at_key)], true, 0);
    config_error(file, pos, Some(SECTION.into()), problem, fix)
}

/// True for keys of ours that a host application is unlikely to have at its
/// top level (`host`, `port` and `root` it may well have).
fn ours_alone(key: &str) -> bool {
    key_info(key).is_some() && !matches!(key, "host" | "port" | "root")
}

/// `hot_reload:` with nothing under it and one of our keys right after it at
/// the top level: the section's keys lost their indentation.
fn misindented_keys(text: &str, file: &Path, top_keys: &[Value]) -> Result<(), Error> {
    let next = top_keys
        .iter()
        .skip_while(|k| k.as_str() != Some(SECTION))
        .nth(1)
        .and_then(Value::as_str);
    match next {
        Some(key) if ours_alone(key) => Err(config_error(
            file,
            locate(text, &[Seg::Key(key)], true, 0),
            Some(SECTION.into()),
            format!(
                "the section is empty: `{key}` below it is not indented, so it is outside the section"
            ),
            format!("indent `{key}` and the keys after it under `hot_reload:` by two spaces"),
        )),
        _ => Ok(()),
    }
}

/// " (also on line 3)", or nothing when the first place is unknown.
fn also_on(first: Option<(usize, usize)>) -> String {
    match first {
        Some((line, _)) => format!(" (also on line {line})"),
        None => String::new(),
    }
}

/// serde_yaml's message without the " at line L column C" of its position.
pub(super) fn message_of(e: &serde_yaml::Error) -> String {
    let text = e.to_string();
    match e.location() {
        Some(l) => text.replacen(
            &format!(" at line {} column {}", l.line(), l.column()),
            "",
            1,
        ),
        None => text,
    }
}

pub(super) fn position_of(e: &serde_yaml::Error) -> Option<(usize, usize)> {
    e.location().map(|l| (l.line(), l.column()))
}

/// An error of the first, shape-only read: the YAML itself is broken.
fn yaml_error(e: &serde_yaml::Error, text: &str, file: &Path) -> Error {
    let mut message = message_of(e);
    let mut pos = position_of(e);
    // A quote or bracket left open is found at the end of the file; where it
    // was opened (libyaml's context, at the end of its message) helps more.
    if message.contains("end of stream")
        && let Some((head, tail)) = message.rsplit_once(" at line ")
    {
        let opened = tail
            .split_once(" column ")
            .and_then(|(l, c)| Some((l.parse::<usize>().ok()?, c.parse::<usize>().ok()?)));
        if opened.is_some() {
            pos = opened;
            message = head.to_string();
        }
    }
    // The character at the error, if any.
    let here = pos.and_then(|(line, column)| {
        text.lines()
            .nth(line - 1)
            .and_then(|l| l.chars().nth(column - 1))
    });
    let mut key = None;
    let (problem, fix) = if here == Some('\t')
        || (message.contains("cannot start any token") && text.contains('\t'))
    {
        (
            "a tab character: YAML indents with spaces only".to_string(),
            "replace the tab with spaces".to_string(),
        )
    } else if message.contains("more than one document") {
        // libyaml gives no position here: point at the `---` after the content.
        let mut seen = false;
        pos = text.lines().enumerate().find_map(|(i, l)| {
            let t = l.trim();
            if seen && (t == "---" || t.starts_with("--- ")) {
                return Some((i + 1, 1));
            }
            seen |=
                !(t.is_empty() || t.starts_with('#') || t.starts_with("---") || t.starts_with('%'));
            None
        });
        (
            "the file holds more than one YAML document".to_string(),
            "keep one document: remove the `---` line that starts the second".to_string(),
        )
    } else if message.contains("unknown anchor") || message.contains("alias") || here == Some('*') {
        (
            format!("invalid YAML: {message}"),
            "quote a value that starts with `*` (YAML reads `*name` as an alias), like \"*.css\""
                .to_string(),
        )
    } else if let Some((path, rest)) = message
        .split_once(": ")
        .filter(|(p, _)| p.starts_with(SECTION))
    {
        // A value under hot_reload that serde_yaml cannot hold at all.
        key = Some(path.to_string());
        let field = path
            .trim_start_matches(SECTION)
            .trim_start_matches('.')
            .split('[')
            .next()
            .unwrap_or_default();
        let example = key_info(field).map_or("", |k| k.example);
        if rest.contains("128") {
            (
                "the number is too large".to_string(),
                format!("write a smaller number, like `{example}`"),
            )
        } else {
            (rest.to_string(), format!("write it like `{example}`"))
        }
    } else {
        let fix = if message.contains("quoted scalar") {
            "close the quote"
        } else if message.contains("flow sequence") || message.contains("',' or ']'") {
            "close the list with `]` and separate its items with `,`"
        } else if message.contains("flow mapping") || message.contains("',' or '}'") {
            "close the mapping with `}` and separate its entries with `,`"
        } else if message.contains("mapping values are not allowed") {
            "line this key up with the keys above it, and quote a value that contains `: `"
        } else if message.contains("block") || message.contains("expected key") {
            "check the indentation: keys of one section line up, each as `key: value`"
        } else if message.contains("recursion limit") {
            "nest the values less deeply"
        } else {
            "check the indentation, the `key: value` form and the quotes and brackets on this line"
        };
        (format!("invalid YAML: {message}"), fix.to_string())
    };
    config_error(file, pos, key, problem, fix)
}
