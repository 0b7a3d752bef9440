//! The only file that touches YAML: reads `config.yaml` in one pass, each mistake placed by serde_yaml at its node.

use std::cell::RefCell;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_yaml::{Mapping, Value};

use super::Config;
use super::keys::{self, Key, Kind, SECTION};
use super::values::{self, Found, Plain, Why, why};
use crate::Error;

/// Reads the `hot_reload` section of YAML text, its paths as written.
pub(super) fn read(text: &str, file: &Path) -> Result<Config, Error> {
    let mut documents = serde_yaml::Deserializer::from_str(text);
    let (true, Some(first)) = (has_content(text), documents.next()) else {
        let problem = "the file is empty (nothing but blank lines or comments)";
        let fix =
            "add a `hot_reload:` section, or run `hotreload init` to write a commented config.yaml";
        return Err(config_error(file, None, None, why(problem, fix)));
    };
    let slips = Slips::default();
    let config = Node(Document, &slips).deserialize(first);
    let config = config.map_err(|e| slips.error(&e, text, file))?;
    // Asked once more only: after a failure the iterator repeats it forever.
    let read_second = |d| Node(second_document, &slips).deserialize(d);
    match documents.next().map(read_second) {
        Some(Err(e)) => Err(slips.error(&e, text, file)),
        _ => Ok(config),
    }
}

/// Checks a config made in code, or changed by flags, by reading it back as
/// the section of a file: one set of checks for both.
pub(super) fn check(config: &Config, file: &Path) -> Result<(), Error> {
    let slips = Slips::default();
    let value = serde_yaml::to_value(config).map_err(|e| slips.error(&e, "", file))?;
    let read = Node(Section, &slips).deserialize(value);
    read.map(drop).map_err(|e| slips.error(&e, "", file))
}

/// True when the text holds more than blank lines, comments and `---`/`...`.
fn has_content(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start_matches('\u{feff}').trim();
        !(line.is_empty() || line.starts_with('#') || line == "---" || line == "...")
    })
}

/// A mistake our checks found: its key and its problem and fix.
struct Slip {
    key: Option<String>,
    why: Why,
    /// False when the position serde_yaml gives would mislead.
    placed: bool,
}

impl Slip {
    /// A mistake about `key`: the section, a key of it, or "" for the file.
    fn new(key: &str, why: Why) -> Slip {
        let (key, placed) = ((!key.is_empty()).then(|| key.to_string()), true);
        Slip { key, why, placed }
    }

    /// A mistake about a key under the section.
    fn at(key: &str, why: Why) -> Slip {
        Slip::new(&format!("{SECTION}.{key}"), why)
    }
}

/// Where a [`Slip`] waits while serde_yaml unwinds and adds its position:
/// a serde error carries text only, and we want the slip's parts.
#[derive(Default)]
struct Slips(RefCell<Option<Slip>>);

impl Slips {
    /// Keeps a slip and returns the error that carries it out of serde.
    fn raise<E: de::Error>(&self, slip: Slip) -> E {
        let message = slip.why.0.clone();
        *self.0.borrow_mut() = Some(slip);
        E::custom(message)
    }

    /// The config error for what stopped the read of `text`: YAML that does
    /// not parse, or else our slip.
    fn error(&self, e: &serde_yaml::Error, text: &str, file: &Path) -> Error {
        let mut slip = self.0.take();
        // serde_yaml hands over a document's nodes up to its first syntax
        // error, so a check of ours can fail first: the syntax error is the cause.
        let reread = |_: &Slip| serde_yaml::Deserializer::from_str(text).next();
        let document = slip.as_ref().and_then(reread);
        let syntax_error = document.and_then(|d| IgnoredAny::deserialize(d).err());
        if syntax_error.is_some() {
            slip = None;
        }
        let e = syntax_error.as_ref().unwrap_or(e);
        let at = e.location().map(|l| (l.line(), l.column()));
        match slip {
            Some(Slip { key, why, placed }) => config_error(file, at.filter(|_| placed), key, why),
            None => config_error(file, at, None, syntax(e, at, text)),
        }
    }
}

fn config_error(file: &Path, at: Option<(usize, usize)>, key: Option<String>, why: Why) -> Error {
    Error::Config {
        file: file.to_path_buf(),
        line: at.map(|a| a.0),
        column: at.map(|a| a.1),
        key,
        problem: why.0,
        fix: why.1,
    }
}

/// Problem and fix for YAML that does not parse: libyaml's message as it is
/// (less the position printed before it), and a fix from the text there.
fn syntax(e: &serde_yaml::Error, at: Option<(usize, usize)>, text: &str) -> Why {
    let (line, column) = at.unwrap_or((0, 0));
    let message = e
        .to_string()
        .replacen(&format!(" at line {line} column {column}"), "", 1);
    let lines: Vec<&str> = text.lines().collect();
    let this = line.checked_sub(1).and_then(|i| lines.get(i)).copied();
    let here: Vec<char> = this.unwrap_or_default().chars().collect();
    // `char_at(1)` is the character at the position, `char_at(2)` the one before.
    let char_at = |back: usize| column.checked_sub(back).and_then(|i| here.get(i)).copied();
    let indent_tab = here
        .iter()
        .take_while(|c| c.is_whitespace())
        .any(|&c| c == '\t');
    if indent_tab || char_at(1) == Some('\t') {
        let why = "a tab character: YAML indents with spaces only";
        return (why.into(), "replace the tab with spaces".into());
    }
    let fix = if char_at(1) == Some('*') || char_at(2) == Some('*') {
        "quote a value that starts with `*` (YAML reads `*name` as an alias), like \"*.css\""
    } else if char_at(1) == Some(':') {
        "line this key up with the keys above it, and quote a value that contains `: `"
    } else {
        // Something opened on this line, or the last one before it, and never closed.
        let before = lines[..line.saturating_sub(1).min(lines.len())]
            .iter()
            .rev();
        let before = before.copied().find(|l| !l.trim().is_empty());
        let open = [this, before].into_iter().flatten().find_map(|l| {
            let count = |c| l.matches(c).count();
            let (quote, list, map) = (
                count('"') % 2 == 1,
                count('[') > count(']'),
                count('{') > count('}'),
            );
            (quote.then_some("close the quote"))
                .or(list.then_some("close the list with `]` and separate its items with `,`"))
                .or(map.then_some("close the mapping with `}` and separate its entries with `,`"))
        });
        open.unwrap_or("check the indentation: keys of one section line up, each as `key: value`")
    };
    (format!("invalid YAML: {message}"), fix.into())
}

/// How one kind of node is read. `found` takes what the node holds; `list`
/// and `map` may look into a list or a mapping instead of just naming it.
trait Read<'de>: Sized {
    type Out;

    fn found(self, found: Found) -> Result<Self::Out, Slip>;

    fn list<A: SeqAccess<'de>>(self, mut seq: A, slips: &Slips) -> Result<Self::Out, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.found(Found::List).map_err(|slip| slips.raise(slip))
    }

    fn map<A: MapAccess<'de>>(self, mut map: A, slips: &Slips) -> Result<Self::Out, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.found(Found::Map).map_err(|slip| slips.raise(slip))
    }
}

/// A node that is only looked at, never into, is read by a function.
impl<'de, T, F: FnOnce(Found) -> Result<T, Slip>> Read<'de> for F {
    type Out = T;

    fn found(self, found: Found) -> Result<T, Slip> {
        self(found)
    }
}

/// A [`Read`] as serde's seed and visitor. Its checks run inside serde_yaml's
/// read of the node, which gives their errors the node's position (an error
/// raised after the read, as `#[serde(try_from)]` does, gets its parent's).
struct Node<'s, R>(R, &'s Slips);

impl<'de, R: Read<'de>> Node<'_, R> {
    fn found<E: de::Error>(self, found: Found) -> Result<R::Out, E> {
        self.0.found(found).map_err(|slip| self.1.raise(slip))
    }
}

impl<'de, R: Read<'de>> DeserializeSeed<'de> for Node<'_, R> {
    type Value = R::Out;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<R::Out, D::Error> {
        d.deserialize_any(self)
    }
}

/// Visitor methods that hand what a scalar holds to [`Read::found`].
macro_rules! scalars {
    ($($visit:ident($v:ident: $t:ty) => $found:expr,)*) => {$(
        fn $visit<E: de::Error>(self, $v: $t) -> Result<R::Out, E> {
            self.found($found)
        }
    )*};
}

impl<'de, R: Read<'de>> Visitor<'de> for Node<'_, R> {
    type Value = R::Out;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    scalars! {
        visit_bool(v: bool) => Found::Bool(v),
        visit_i64(v: i64) => Found::Int(v.into()),
        visit_u64(v: u64) => Found::Int(v.into()),
        visit_i128(v: i128) => Found::Int(v),
        visit_u128(v: u128) => Found::Int(v.try_into().unwrap_or(i128::MAX)),
        visit_f64(v: f64) => Found::Float(v),
        visit_str(v: &str) => Found::Text(v.into()),
    }
    fn visit_unit<E: de::Error>(self) -> Result<R::Out, E> {
        self.found(Found::Nothing)
    }
    fn visit_none<E: de::Error>(self) -> Result<R::Out, E> {
        self.found(Found::Nothing)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<R::Out, A::Error> {
        self.0.list(seq, self.1)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<R::Out, A::Error> {
        self.0.map(map, self.1)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<R::Out, A::Error> {
        // serde_yaml hands a `!tagged` node over as an enum: read past it.
        IgnoredAny.visit_enum(data)?;
        self.found(Found::Tagged)
    }
}

/// The whole document: a mapping of sections, one of them ours.
struct Document;

impl<'de> Read<'de> for Document {
    type Out = Config;

    fn found(self, found: Found) -> Result<Config, Slip> {
        let found = match found {
            Found::Nothing => "`null`".into(),
            other => other.describe(),
        };
        let problem = format!("the top level of the file is {found}, not a mapping of sections");
        let fix = "start a line with `hot_reload:` and indent its keys under it by two spaces (`hotreload init` writes an example)";
        Err(Slip::new("", why(problem, fix)))
    }

    fn map<A: MapAccess<'de>>(self, mut map: A, slips: &Slips) -> Result<Config, A::Error> {
        let (mut section, mut names, mut after_empty) = (None, Vec::new(), false);
        let key = |seen, after| Node(move |f| top_key(f, seen, after), slips);
        while let Some(name) = map.next_key_seed(key(section.is_some(), after_empty))? {
            after_empty = false;
            if name.as_deref() == Some(SECTION) {
                let read = map.next_value_seed(Node(Section, slips))?;
                after_empty = read.is_none();
                section = Some(read);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
            names.extend(name);
        }
        let Some(section) = section else {
            // Known only at the end, where no node holds the mistake.
            let mut missing = Slip::new(SECTION, keys::missing_section(&names));
            missing.placed = false;
            return Err(slips.raise(missing));
        };
        Ok(section.unwrap_or_default())
    }
}

/// A top-level key: its name when it is text. Read after the section, it
/// must not be the section again; right after an empty one, not a key of
/// ours that lost its indentation.
fn top_key(found: Found, seen_section: bool, after_empty: bool) -> Result<Option<String>, Slip> {
    let Found::Text(name) = found else {
        return Ok(None);
    };
    if name == SECTION && seen_section {
        let fix = "merge the two sections into one";
        return Err(Slip::new(
            SECTION,
            why("the `hot_reload` section appears twice", fix),
        ));
    }
    if after_empty && keys::ours_alone(&name) {
        return Err(Slip::new(SECTION, keys::misindented(&name)));
    }
    Ok(Some(name))
}

/// A second document, which the file must not have.
fn second_document(_: Found) -> Result<(), Slip> {
    let problem = "the file holds more than one YAML document";
    let fix = "keep one document: remove the `---` line that starts the second";
    Err(Slip::new("", why(problem, fix)))
}

/// The value of `hot_reload`: its settings, or none for an empty section.
struct Section;

impl<'de> Read<'de> for Section {
    type Out = Option<Config>;

    fn found(self, found: Found) -> Result<Option<Config>, Slip> {
        let fix = match found {
            Found::Nothing => return Ok(None),
            Found::Bool(on) => format!("write `hot_reload:` alone on its line and `  enabled: {on}` under it"),
            _ => "put the settings on their own lines under `hot_reload:`, indented by two spaces, like `  enabled: true`".into(),
        };
        let problem = format!("expected a mapping of settings, found {}", found.describe());
        Err(Slip::new(SECTION, why(problem, fix)))
    }

    /// Checks each key and value at its node, then hands the checked
    /// mapping to the derived `Deserialize` of [`Config`] for its defaults.
    fn map<A: MapAccess<'de>>(self, mut map: A, slips: &Slips) -> Result<Option<Config>, A::Error> {
        let mut checked = Mapping::new();
        while let Some(key) = map.next_key_seed(Node(|f| setting_key(f, &checked), slips))? {
            let debounce = checked.get("debounce_ms").and_then(Value::as_u64);
            let value = map.next_value_seed(Node(Setting(key, debounce), slips))?;
            checked.insert(key.name.into(), value);
        }
        let max_wait_in_file = checked.contains_key("max_wait_ms");
        let config: Config =
            serde_yaml::from_value(Value::Mapping(checked)).map_err(de::Error::custom)?;
        // The rule between keys when its values came in the other order, or
        // one is a default: placed at the section, as no node holds it.
        let key = if max_wait_in_file {
            "max_wait_ms"
        } else {
            "debounce_ms"
        };
        let rule = values::wait_covers(config.debounce_ms, config.max_wait_ms);
        rule.map_err(|why| slips.raise(Slip::at(key, why)))?;
        Ok(Some(config))
    }
}

/// A key under `hot_reload`: one of ours, and not one of those `read` already.
fn setting_key(found: Found, read: &Mapping) -> Result<&'static Key, Slip> {
    let name = match found {
        Found::Text(name) => name,
        other => {
            let problem = format!("keys must be names, found {}", other.describe());
            let fix = format!("write each setting as `name: value`. {}", keys::key_list());
            return Err(Slip::new(SECTION, why(problem, fix)));
        }
    };
    let why = match keys::find(&name) {
        Some(key) if !read.contains_key(key.name) => return Ok(key),
        Some(_) => why(
            format!("`{name}` is set twice"),
            "keep one of the two lines",
        ),
        None => keys::unknown(&name),
    };
    Err(Slip::at(&name, why))
}

/// The value of a key (`.0`), checked by its row as plain data, with the
/// section's `debounce_ms` when read before it (`.1`).
struct Setting(&'static Key, Option<u64>);

impl<'de> Read<'de> for Setting {
    type Out = Value;

    fn found(self, found: Found) -> Result<Value, Slip> {
        let Setting(key, debounce) = self;
        match values::value(key, found, debounce) {
            Ok(Plain::Bool(b)) => Ok(Value::Bool(b)),
            Ok(Plain::Whole(n)) => Ok(Value::from(n)),
            Ok(Plain::Text(s)) => Ok(Value::String(s)),
            Err(why) => Err(Slip::at(key.name, why)),
        }
    }

    /// A list key's items are read one by one, so that each item's mistake
    /// points at that item.
    fn list<A: SeqAccess<'de>>(self, mut seq: A, slips: &Slips) -> Result<Value, A::Error> {
        let key = self.0;
        let Kind::List(text) = &key.kind else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Node(self, slips).found(Found::List);
        };
        let mut items = Vec::new();
        loop {
            let index = Some(items.len());
            let item = |f| values::item(key, text, index, f).map_err(|why| Slip::at(key.name, why));
            match seq.next_element_seed(Node(item, slips))? {
                Some(item) => items.push(Value::String(item)),
                None => return Ok(Value::Sequence(items)),
            }
        }
    }
}
