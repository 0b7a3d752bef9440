//! The `hot_reload` section of `config.yaml`: plain data, parsed and checked once.
//!
//! Only this module touches YAML, so replacing `serde_yaml` touches one file.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_yaml::Value;

use crate::Error;

/// One directory to watch: where it is, and the name changes are reported under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchDir {
    /// The directory as configured, without a leading `./` or a trailing `/`;
    /// empty for `.`. Change paths are this joined with the path inside it.
    pub label: String,
    /// Where it is on disk (relative entries resolved against the config
    /// file's directory, or the working directory for flags).
    pub path: PathBuf,
}

impl WatchDir {
    /// A watch dir as written by a user, resolved against `base`.
    pub fn new(written: &str, base: &Path) -> WatchDir {
        let mut label = written.replace('\\', "/");
        while let Some(rest) = label.strip_prefix("./") {
            label = rest.to_string();
        }
        while label.len() > 1 && label.ends_with('/') {
            label.pop();
        }
        if label == "." {
            label.clear();
        }
        let path = if Path::new(written).is_absolute() {
            PathBuf::from(written)
        } else {
            base.join(written)
        };
        WatchDir { label, path }
    }
}

/// Settings of hot reload, with the defaults of SPEC.md section 2.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Master switch; `HOT_RELOAD_ENABLED` overrides it. Default `true`.
    pub enabled: bool,
    /// Directories to watch, recursively. Default: none, which the binary
    /// reads as "the served folder" and [`Manager`](crate::Manager) as `.`.
    pub watch_dirs: Vec<WatchDir>,
    /// Globs a file must match to be reported. Default: none, every file.
    pub patterns: Vec<String>,
    /// Globs never reported (and directories never watched), on top of the
    /// default ignores. Default: none.
    pub ignore: Vec<String>,
    /// Quiet time that ends a batch, in milliseconds. Default 100.
    pub debounce_ms: u64,
    /// A batch goes out at the latest this long after its first event. Default 1000.
    pub max_wait_ms: u64,
    /// Messages queued per client before it counts as stalled. Default 10.
    pub client_buffer: usize,
    /// Ping interval in milliseconds; a vanished client is dropped within two. Default 5000.
    pub heartbeat_ms: u64,
    /// WebSocket clients at once; more get 503. Default 1024. The manager
    /// lowers it, with a warning, to what the process's open-file limit
    /// holds (two files per client).
    pub max_clients: usize,
    /// Extra page origins (`http://host:port` or `null`) allowed to connect. Default none.
    pub allowed_origins: Vec<String>,
    /// Binary only: address to listen on. Default `127.0.0.1`.
    pub host: Option<String>,
    /// Binary only: port to listen on (0 picks a free one). Default 8080.
    pub port: Option<u16>,
    /// Binary only: folder to serve. Default: the folder given on the command line, or `.`.
    pub root: Option<PathBuf>,
    /// Binary only: inject the client script into HTML pages. Default `true`.
    pub inject: Option<bool>,
    /// The file this came from, for error messages; `None` for defaults.
    pub source: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            enabled: true,
            watch_dirs: Vec::new(),
            patterns: Vec::new(),
            ignore: Vec::new(),
            debounce_ms: 100,
            max_wait_ms: 1000,
            client_buffer: 10,
            heartbeat_ms: 5000,
            max_clients: 1024,
            allowed_origins: Vec::new(),
            host: None,
            port: None,
            root: None,
            inject: None,
            source: None,
        }
    }
}

impl Config {
    /// Reads and checks the `hot_reload` section of a YAML file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Config, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            action: "read the config file".into(),
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_yaml(&text, path)
    }

    /// Parses the `hot_reload` section of YAML text that came from `file`
    /// (used in messages, and its directory resolves relative `watch_dirs`).
    pub fn from_yaml(text: &str, file: &Path) -> Result<Config, Error> {
        // 1. The shape of the document: syntax, top level, the section itself.
        let entries = section_entries(text, file)?;
        // 2. Keys and types, read straight from the text so errors have a position.
        let raw = match serde_yaml::from_str::<RawTop>(text) {
            Ok(top) => top.hot_reload.unwrap_or_default(),
            Err(e) => return Err(raw_error(&e, &entries, file)),
        };
        check_written(&raw, &entries, text, file)?;
        // 3. Build, then check what parsed but cannot work.
        let base = match file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let defaults = Config::default();
        let config = Config {
            enabled: raw.enabled.unwrap_or(defaults.enabled),
            watch_dirs: raw
                .watch_dirs
                .unwrap_or_default()
                .iter()
                .map(|d| WatchDir::new(d, base))
                .collect(),
            patterns: raw.patterns.unwrap_or_default(),
            ignore: raw.ignore.unwrap_or_default(),
            debounce_ms: raw.debounce_ms.unwrap_or(defaults.debounce_ms),
            max_wait_ms: raw.max_wait_ms.unwrap_or(defaults.max_wait_ms),
            client_buffer: raw.client_buffer.unwrap_or(defaults.client_buffer),
            heartbeat_ms: raw.heartbeat_ms.unwrap_or(defaults.heartbeat_ms),
            max_clients: raw.max_clients.unwrap_or(defaults.max_clients),
            // An unquoted YAML `null` item means the origin `null`.
            allowed_origins: raw
                .allowed_origins
                .unwrap_or_default()
                .into_iter()
                .map(|o| o.unwrap_or_else(|| "null".into()))
                .collect(),
            host: raw.host,
            port: raw.port,
            root: raw.root.map(|r| {
                let r = PathBuf::from(r);
                if r.is_absolute() { r } else { base.join(r) }
            }),
            inject: raw.inject,
            source: Some(file.to_path_buf()),
        };
        if let Err(p) = config.check() {
            let mut path = vec![Seg::Key(SECTION), Seg::Key(p.key)];
            path.extend(p.index.map(Seg::Index));
            let mut key = p.key;
            let mut pos = locate(text, &path, false, 0);
            if pos.is_none()
                && let Some(alt) = p.alt
            {
                pos = locate(text, &[Seg::Key(SECTION), Seg::Key(alt)], false, 0);
                key = alt;
            }
            let key = Some(format!("{SECTION}.{key}"));
            return Err(config_error(file, pos, key, p.problem, p.fix));
        }
        Ok(config)
    }

    /// Checks values that parse but cannot work (bad globs, zero buffers).
    pub fn validate(&self) -> Result<(), Error> {
        // `from_yaml` runs these checks itself (pointing at the line); the
        // binary runs them again after merging its flags, and a `source` of
        // `None` then means the values came from the command line.
        self.check().map_err(|p| {
            let file = match &self.source {
                Some(file) => file.clone(),
                None => PathBuf::from("<command line>"),
            };
            Error::config(file, format!("{SECTION}.{}", p.key), p.problem, p.fix)
        })
    }

    /// The checks of [`Config::validate`], naming the field at fault so
    /// [`Config::from_yaml`] can point at its line.
    fn check(&self) -> Result<(), Problem> {
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

    /// Applies `HOT_RELOAD_ENABLED` (`false`/`0`/`no`/`off` turn hot reload
    /// off, `true`/`1`/`yes`/`on` on), whatever the file said.
    pub fn apply_env(&mut self) {
        if let Ok(v) = std::env::var("HOT_RELOAD_ENABLED") {
            match v.trim().to_ascii_lowercase().as_str() {
                "false" | "0" | "no" | "off" => self.enabled = false,
                "true" | "1" | "yes" | "on" => self.enabled = true,
                other => log::warn!(
                    "[HotReload] ignoring HOT_RELOAD_ENABLED={other:?}: use false or true"
                ),
            }
        }
    }
}

/// The commented `config.yaml` that `hotreload init` writes.
///
/// Every key of the `hot_reload` section with its default and a one-line
/// comment; the binary-only keys (`host`, `port`, `root`, `inject`) are
/// commented out, so parsing it gives [`Config::default`] watching `.`.
pub const TEMPLATE: &str = r#"# hotreload settings, written by `hotreload init`; edit freely.
# Only the `hot_reload` section is read: other top-level sections belong to
# your application. Every key is optional; delete a line to get its default.
hot_reload:
  # Master switch; HOT_RELOAD_ENABLED=false in the environment turns it off.
  enabled: true
  # Folders watched recursively; relative ones start at this file's folder.
  watch_dirs: ["."]
  # Globs a changed file must match, like "*.css" or "js/**/*.js"; [] means every file.
  patterns: []
  # Globs never reported (matching folders are not watched), on top of the default ignores:
  # .git, node_modules, target, *.swp, *.swx, *~, .#*, #*#, 4913, *.tmp, *___jb_tmp___, *___jb_old___
  ignore: []
  # Quiet time in milliseconds that ends a batch of changes (at most 60000).
  debounce_ms: 100
  # A batch goes out at the latest this many milliseconds after its first change.
  max_wait_ms: 1000
  # Messages queued per browser before it counts as stalled and is dropped.
  client_buffer: 10
  # Ping interval in milliseconds; a vanished browser is dropped within two.
  heartbeat_ms: 5000
  # Browsers connected at once; more get 503.
  max_clients: 1024
  # Extra page origins allowed to connect, like "http://localhost:3000" or "null".
  allowed_origins: []
  # For `hotreload serve` only (its command-line flags win); uncomment to set.
  # host: 127.0.0.1   # address to listen on
  # port: 8080        # port to listen on; 0 picks a free one
  # root: .           # folder to serve; default: the DIR argument, or .
  # inject: true      # add the reload script to every HTML page
"#;

/// The one top-level key this crate reads.
const SECTION: &str = "hot_reload";

/// Upper bound of `debounce_ms`: a longer quiet time looks like a dead server.
const MAX_DEBOUNCE_MS: u64 = 60_000;
/// Upper bound of `max_wait_ms` and `heartbeat_ms`, far below where adding
/// them to an `Instant` could overflow.
const MAX_INTERVAL_MS: u64 = 3_600_000;
/// Lower bound of `heartbeat_ms`.
const MIN_HEARTBEAT_MS: u64 = 100;
/// Upper bound of `client_buffer`: bounded channels allocate their capacity.
const MAX_CLIENT_BUFFER: usize = 100_000;

/// The `hot_reload` section as written: every key optional, none unknown.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    enabled: Option<bool>,
    watch_dirs: Option<Vec<String>>,
    patterns: Option<Vec<String>>,
    ignore: Option<Vec<String>>,
    debounce_ms: Option<u64>,
    max_wait_ms: Option<u64>,
    client_buffer: Option<usize>,
    heartbeat_ms: Option<u64>,
    max_clients: Option<usize>,
    allowed_origins: Option<Vec<Option<String>>>,
    host: Option<String>,
    port: Option<u16>,
    root: Option<String>,
    inject: Option<bool>,
}

/// The whole document; other top-level keys belong to the host application.
#[derive(Debug, Deserialize)]
struct RawTop {
    hot_reload: Option<Raw>,
}

/// What a key under `hot_reload` holds, for messages.
struct KeyInfo {
    name: &'static str,
    kind: Kind,
    /// What the value must be, after "expected".
    expected: &'static str,
    /// A correct line.
    example: &'static str,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bool,
    Number,
    Port,
    Text,
    List,
}

/// Every key under `hot_reload`, in the order of [`TEMPLATE`].
const KEYS: &[KeyInfo] = &[
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

fn key_info(name: &str) -> Option<&'static KeyInfo> {
    KEYS.iter().find(|k| k.name == name)
}

/// "Keys under hot_reload: enabled, watch_dirs, ...".
fn key_list() -> String {
    let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    format!("Keys under hot_reload: {}", names.join(", "))
}

// Step 1: the shape of the document, read loosely so any file gets a clear message.

/// A config error at a position (line, column), when known.
fn config_error(
    file: &Path,
    pos: Option<(usize, usize)>,
    key: Option<String>,
    problem: impl Into<String>,
    fix: impl Into<String>,
) -> Error {
    Error::Config {
        file: file.to_path_buf(),
        line: pos.map(|p| p.0),
        column: pos.map(|p| p.1),
        key,
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// True when the text holds more than blank lines, comments and `---`/`...`.
fn has_content(text: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim_start_matches('\u{feff}').trim();
        !(line.is_empty() || line.starts_with('#') || line == "---" || line == "...")
    })
}

/// Reads the document's shape and returns the entries of its one
/// `hot_reload` mapping, in order, duplicates checked.
fn section_entries(text: &str, file: &Path) -> Result<Vec<(Value, Value)>, Error> {
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
fn message_of(e: &serde_yaml::Error) -> String {
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

fn position_of(e: &serde_yaml::Error) -> Option<(usize, usize)> {
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

// Step 2: keys and types, from serde's typed read of the section.

/// An error of the typed read of the section: an unknown key or a wrong type.
fn raw_error(e: &serde_yaml::Error, entries: &[(Value, Value)], file: &Path) -> Error {
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
fn describe(value: &Value) -> String {
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

/// What the typed read lets through but the text shows to be a slip: a key
/// with no value (serde reads it as absent), an empty folder name (which
/// would resolve to the config file's folder), a NUL in one (no path holds
/// one, so the folder would never be found).
fn check_written(
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

// Step 3: values that parse but cannot work.

/// A value that parsed but cannot work, before it has a file and a line.
struct Problem {
    /// The field under `hot_reload`.
    key: &'static str,
    /// The list item at fault, 0-based.
    index: Option<usize>,
    /// A field to point at instead when `key` is not in the file.
    alt: Option<&'static str>,
    problem: String,
    fix: String,
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

// Positions: serde_yaml tells only where an error happened, so to find a node
// we raise an error there.

/// One step of a path into the document.
#[derive(Clone, Copy)]
enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The message of the error [`locate`] raises on purpose.
const LOCATED: &str = "@hotreload: located@";

/// Line and column (1-based) of the value at `path`, or with `key_itself` of
/// the `nth` occurrence (0-based) of the last key. serde_yaml attaches a
/// position to errors raised while reading a node, so we raise one there.
fn locate(text: &str, path: &[Seg<'_>], key_itself: bool, nth: usize) -> Option<(usize, usize)> {
    let seek = Seek {
        path,
        key_itself,
        nth,
    };
    match seek.deserialize(serde_yaml::Deserializer::from_str(text)) {
        Err(e) if e.to_string().contains(LOCATED) => position_of(&e),
        _ => None,
    }
}

struct Seek<'p> {
    path: &'p [Seg<'p>],
    key_itself: bool,
    nth: usize,
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.path.split_first() {
            None => d.deserialize_any(Here),
            Some((Seg::Key(key), rest)) => d.deserialize_any(SeekMap {
                key,
                rest,
                key_itself: self.key_itself,
                nth: self.nth,
            }),
            Some((Seg::Index(index), rest)) => d.deserialize_any(SeekSeq {
                index: *index,
                rest: Seek {
                    path: rest,
                    key_itself: self.key_itself,
                    nth: self.nth,
                },
            }),
        }
    }
}

/// Fails on whatever node it meets, so the error carries that node's position.
struct Here;

impl Visitor<'_> for Here {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(LOCATED)
    }
}

struct SeekMap<'p> {
    key: &'p str,
    rest: &'p [Seg<'p>],
    key_itself: bool,
    nth: usize,
}

impl<'de> Visitor<'de> for SeekMap<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = 0;
        let raise = self.key_itself && self.rest.is_empty();
        loop {
            let found = map.next_key_seed(KeySeed {
                want: self.key,
                raise: raise.then_some(self.nth),
                seen: &mut seen,
            })?;
            match found {
                None => return Ok(()),
                Some(true) => map.next_value_seed(Seek {
                    path: self.rest,
                    key_itself: self.key_itself,
                    nth: self.nth,
                })?,
                Some(false) => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
    }
}

struct SeekSeq<'p> {
    index: usize,
    rest: Seek<'p>,
}

impl<'de> Visitor<'de> for SeekSeq<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        for _ in 0..self.index {
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
        }
        seq.next_element_seed(self.rest)?;
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

/// Reads a key; true when it is the one wanted (the first occurrence), or
/// fails on the `raise`-th occurrence so the error carries its position.
struct KeySeed<'s> {
    want: &'s str,
    raise: Option<usize>,
    seen: &'s mut usize,
}

impl<'de> DeserializeSeed<'de> for KeySeed<'_> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeySeed<'_> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<bool, E> {
        if key != self.want {
            return Ok(false);
        }
        let this = *self.seen;
        *self.seen += 1;
        match self.raise {
            Some(nth) if nth == this => Err(E::custom(LOCATED)),
            Some(_) => Ok(false),
            None => Ok(this == 0),
        }
    }
    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_none<E>(self) -> Result<bool, E> {
        Ok(false)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(yaml: &str) -> Result<Config, Error> {
        Config::from_yaml(yaml, Path::new("app/config.yaml"))
    }

    /// (yaml, a fragment of the message, the line it must name).
    const BROKEN: &[(&str, &str, Option<usize>)] = &[
        // Keys.
        (
            "hot_reload:\n  debounce: 5\n",
            "did you mean `debounce_ms`?",
            Some(2),
        ),
        (
            "hot_reload:\n  enabled: true\n  patern: [a]\n",
            "did you mean `patterns`?",
            Some(3),
        ),
        (
            "hot_reload:\n  watchDirs: [a]\n",
            "did you mean `watch_dirs`?",
            Some(2),
        ),
        (
            "hot_reload:\n  max-wait-ms: 5\n",
            "did you mean `max_wait_ms`?",
            Some(2),
        ),
        (
            "hot_reload:\n  heartbeat: 5\n",
            "did you mean `heartbeat_ms`?",
            Some(2),
        ),
        (
            "hot_reload:\n  exclude: [a]\n",
            "did you mean `ignore`?",
            Some(2),
        ),
        (
            "hot_reload:\n  origins: [a]\n",
            "did you mean `allowed_origins`?",
            Some(2),
        ),
        (
            "hot_reload:\n  colour: blue\n",
            "unknown key `colour`",
            Some(2),
        ),
        (
            "hot_reload:\n  colour: blue\n",
            "Keys under hot_reload: enabled, watch_dirs",
            Some(2),
        ),
        ("hot_reload:\n  1: true\n", "keys must be names", Some(2)),
        (
            "hot_reload:\n  <<: {enabled: true}\n",
            "merge keys",
            Some(2),
        ),
        (
            "hot_reload:\n  enabled: true\n  enabled: false\n",
            "set twice (also on line 2)",
            Some(3),
        ),
        ("hot_reload:\n  debounce_ms:\n", "has no value", Some(2)),
        ("hot_reload:\n  patterns: ~\n", "has no value", Some(2)),
        // Types.
        (
            "hot_reload:\n  debounce_ms: fast\n",
            "expected a whole number of milliseconds, found the text \"fast\"",
            Some(2),
        ),
        (
            "hot_reload:\n  debounce_ms: 250ms\n",
            "drop the unit: `debounce_ms: 250`",
            Some(2),
        ),
        (
            "hot_reload:\n  debounce_ms: 2s\n",
            "`debounce_ms: 2000`",
            Some(2),
        ),
        (
            "hot_reload:\n  debounce_ms: \"100\"\n",
            "remove the quotes",
            Some(2),
        ),
        (
            "hot_reload:\n  debounce_ms: -5\n",
            "found the negative number -5",
            Some(2),
        ),
        (
            "hot_reload:\n  debounce_ms: 1.5\n",
            "use a whole number",
            Some(2),
        ),
        (
            "hot_reload:\n  debounce_ms: 99999999999999999999999\n",
            "too large",
            Some(2),
        ),
        ("hot_reload:\n  debounce_ms: [1]\n", "found a list", Some(2)),
        (
            "hot_reload:\n  enabled: maybe\n",
            "expected `true` or `false`, found the text \"maybe\"",
            Some(2),
        ),
        (
            "hot_reload:\n  enabled: yes\n",
            "`enabled: true` or `enabled: false`",
            Some(2),
        ),
        (
            "hot_reload:\n  inject: \"true\"\n",
            "found the text \"true\"",
            Some(2),
        ),
        (
            "hot_reload:\n  patterns: \"*.css\"\n",
            "write a list, even for one item: `patterns: [\"*.css\"]`",
            Some(2),
        ),
        (
            "hot_reload:\n  patterns: [[a]]\n",
            "item 1 must be text, found a list",
            Some(2),
        ),
        (
            "hot_reload:\n  watch_dirs: ./web\n",
            "expected a list of folders",
            Some(2),
        ),
        (
            "hot_reload:\n  port: 70000\n",
            "expected a port number from 0 to 65535, found the number 70000",
            Some(2),
        ),
        ("hot_reload:\n  port: -1\n", "negative", Some(2)),
        (
            "hot_reload:\n  client_buffer: -1\n",
            "found the negative number -1",
            Some(2),
        ),
        (
            "hot_reload:\n  host: [a]\n",
            "expected an address, found a list",
            Some(2),
        ),
        (
            "hot_reload:\n  root: {a: 1}\n",
            "expected a folder path, found a mapping",
            Some(2),
        ),
        ("{hot_reload: {enabled: 1}}", "found the number 1", Some(1)),
        // Globs.
        (
            "hot_reload:\n  patterns: [\"[a\"]\n",
            "invalid glob `[a`: invalid range pattern",
            Some(2),
        ),
        (
            "hot_reload:\n  patterns:\n    - \"*.css\"\n    - \"a**b\"\n",
            "invalid glob `a**b`",
            Some(4),
        ),
        (
            "hot_reload:\n  patterns: [\"***\"]\n",
            "wildcards are either regular",
            Some(2),
        ),
        (
            "hot_reload:\n  ignore:\n    - dist\n    - \"[!\"\n",
            "invalid glob `[!`",
            Some(4),
        ),
        (
            "hot_reload:\n  patterns: [\"*.css\", \"\"]\n",
            "item 2 is an empty glob",
            Some(2),
        ),
        (
            "hot_reload:\n  ignore: [\"\"]\n",
            "item 1 is an empty glob",
            Some(2),
        ),
        (
            "hot_reload:\n  watch_dirs: [web, \"a\\0b\"]\n",
            "item 2 holds a NUL character",
            Some(2),
        ),
        (
            "hot_reload:\n  port: 0\n  root: \"\"\n",
            "`hot_reload.root`: is an empty folder name",
            Some(3),
        ),
        (
            "hot_reload:\n  root: \"pub\\0\"\n",
            "holds a NUL character",
            Some(2),
        ),
        (
            "hot_reload:\n  patterns: [*.css]\n",
            "quote a value that starts with `*`",
            Some(2),
        ),
        (
            "hot_reload:\n  patterns:\n    - *.css\n",
            "quote a value that starts with `*`",
            Some(3),
        ),
        // Values that parse but cannot work.
        (
            "hot_reload:\n  watch_dirs: [\".\", \"\"]\n",
            "item 2 is an empty folder name",
            Some(2),
        ),
        (
            "hot_reload:\n  client_buffer: 0\n",
            "0 leaves no room",
            Some(2),
        ),
        (
            "hot_reload:\n  client_buffer: 1000000\n",
            "over 100000",
            Some(2),
        ),
        (
            "hot_reload:\n  max_clients: 0\n",
            "turns every browser away",
            Some(2),
        ),
        ("hot_reload:\n  heartbeat_ms: 99\n", "under 100 ms", Some(2)),
        (
            "hot_reload:\n  heartbeat_ms: 99999999\n",
            "over one hour",
            Some(2),
        ),
        (
            "hot_reload:\n  debounce_ms: 60001\n  max_wait_ms: 70000\n",
            "over one minute",
            Some(2),
        ),
        (
            "hot_reload:\n  debounce_ms: 300\n  max_wait_ms: 200\n",
            "max_wait_ms (200) is smaller than debounce_ms (300)",
            Some(3),
        ),
        (
            "hot_reload:\n  debounce_ms: 2000\n",
            "at least 2000",
            Some(2),
        ),
        (
            "hot_reload:\n  max_wait_ms: 4000000\n",
            "over one hour",
            Some(2),
        ),
        (
            "hot_reload:\n  allowed_origins: [\"localhost:3000\"]\n",
            "has no scheme",
            Some(2),
        ),
        (
            "hot_reload:\n  allowed_origins:\n    - http://a.test\n    - ftp://a.test\n",
            "not an http or https origin",
            Some(4),
        ),
        (
            "hot_reload:\n  allowed_origins: [\"http://a.test/\"]\n",
            "write \"http://a.test\"",
            Some(2),
        ),
        (
            "hot_reload:\n  allowed_origins: [\"*\"]\n",
            "wildcard",
            Some(2),
        ),
        (
            "hot_reload:\n  allowed_origins: [\"http://a.test:99999\"]\n",
            "invalid port",
            Some(2),
        ),
        (
            "hot_reload:\n  allowed_origins: [\"http://\"]\n",
            "no valid host name",
            Some(2),
        ),
        (
            "hot_reload:\n  allowed_origins: [\"http://[zz]:80\"]\n",
            "bracketed",
            Some(2),
        ),
        (
            "hot_reload:\n  allowed_origins: [\"HTTP://a.test\"]\n",
            "lowercase",
            Some(2),
        ),
        (
            "hot_reload:\n  host: \"\"\n",
            "the address is empty",
            Some(2),
        ),
        // Shape of the document.
        ("", "the file is empty", None),
        ("# only\n\n   # comments\n", "the file is empty", None),
        ("---\n", "the file is empty", None),
        ("~\n", "the top level of the file is `null`", Some(1)),
        (
            "- hot_reload\n",
            "the top level of the file is a list",
            Some(1),
        ),
        (
            "hot_reload\n",
            "the top level of the file is the text \"hot_reload\"",
            Some(1),
        ),
        ("app:\n  name: x\n", "no `hot_reload` section", None),
        ("app:\n  name: x\n", "hotreload init", None),
        (
            "app: 1\nhot-reload:\n  enabled: true\n",
            "rename `hot-reload` to `hot_reload`",
            Some(2),
        ),
        (
            "HotReload:\n  enabled: true\n",
            "rename `HotReload`",
            Some(1),
        ),
        (
            "app: 1\nwatch_dirs: [a]\npatterns: []\n",
            "indent `watch_dirs`, `patterns` under it",
            Some(2),
        ),
        (
            "hot_reload: true\n",
            "expected a mapping of settings, found `true`",
            Some(1),
        ),
        ("hot_reload: true\n", "`  enabled: true` under it", Some(1)),
        (
            "hot_reload:\n  - a\n",
            "expected a mapping of settings, found a list",
            Some(2),
        ),
        ("hot_reload: 5\n", "found the number 5", Some(1)),
        (
            "hot_reload:\nenabled: false\n",
            "`enabled` below it is not indented",
            Some(2),
        ),
        (
            "hot_reload:\n  a: 1\napp: 2\nhot_reload:\n  b: 2\n",
            "appears twice (also on line 1)",
            Some(4),
        ),
        // Syntax.
        ("hot_reload:\n\tenabled: true\n", "a tab character", Some(2)),
        (
            "hot_reload:\n  enabled: \"true\n",
            "close the quote",
            Some(2),
        ),
        (
            "hot_reload:\n  patterns: [\"a\", \"b\"\n",
            "invalid YAML",
            Some(3),
        ),
        (
            "hot_reload:\n  enabled: true\n bad: 1\n",
            "check the indentation",
            Some(3),
        ),
        (
            "hot_reload:\n  enabled: true\n  - x\n",
            "invalid YAML",
            Some(3),
        ),
        (
            "hot_reload:\n  enabled: true\n---\napp: 1\n",
            "more than one YAML document",
            Some(3),
        ),
        ("hot_reload:\n  enabled: *nothing\n", "alias", Some(2)),
        (
            "hot_reload: {enabled: true\n",
            "close the mapping with `}`",
            Some(2),
        ),
        (
            "hot_reload:\n  host: a: b\n",
            "mapping values are not allowed",
            Some(2),
        ),
    ];

    #[test]
    fn broken_configs_say_what_and_where() {
        let mut failures = Vec::new();
        for (yaml, fragment, want_line) in BROKEN {
            match parse(yaml) {
                Ok(c) => failures.push(format!("{yaml:?}: parsed to {c:?}")),
                Err(e) => {
                    let text = e.to_string();
                    let line = match &e {
                        Error::Config { line, .. } => *line,
                        _ => {
                            failures.push(format!("{yaml:?}: not a config error: {text}"));
                            continue;
                        }
                    };
                    if !text.contains(fragment) {
                        failures.push(format!("{yaml:?}: no {fragment:?} in:\n{text}"));
                    }
                    if line != *want_line {
                        failures.push(format!(
                            "{yaml:?}: line {line:?}, want {want_line:?}:\n{text}"
                        ));
                    }
                    if !text.starts_with("app/config.yaml") || !text.contains("\n  fix: ") {
                        failures.push(format!("{yaml:?}: badly shaped:\n{text}"));
                    }
                    if text.lines().count() > 3 {
                        failures.push(format!("{yaml:?}: too long:\n{text}"));
                    }
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} rows failed:\n\n{}",
            failures.len(),
            BROKEN.len(),
            failures.join("\n\n")
        );
    }

    #[test]
    fn errors_name_the_dotted_key_and_column() {
        let e = parse("hot_reload:\n  debounce_ms: fast\n").unwrap_err();
        let Error::Config {
            file,
            line,
            column,
            key,
            ..
        } = &e
        else {
            panic!("{e}")
        };
        assert_eq!(file, Path::new("app/config.yaml"));
        assert_eq!((*line, *column), (Some(2), Some(16)));
        assert_eq!(key.as_deref(), Some("hot_reload.debounce_ms"));
        assert_eq!(
            e.to_string(),
            "app/config.yaml:2:16: `hot_reload.debounce_ms`: expected a whole number of milliseconds, found the text \"fast\"\n  fix: write it like `debounce_ms: 100`"
        );
    }

    /// Inputs that must parse: (yaml, what the config must then say).
    #[test]
    fn good_configs_parse() {
        type Row = (&'static str, fn(&Config) -> bool);
        let rows: &[Row] = &[
            (
                "hot_reload:\n  enabled: true\n  watch_dirs: [\"./web/static\", \"./personas\"]\n  patterns: [\"*.html\", \"*.css\", \"*.js\", \"*.md\", \"PERSONA.md\"]\n",
                |c| {
                    c.enabled
                        && c.watch_dirs
                            == vec![
                                WatchDir::new("./web/static", Path::new("app")),
                                WatchDir::new("./personas", Path::new("app")),
                            ]
                        && c.patterns.len() == 5
                },
            ),
            ("hot_reload:\n", |c| {
                *c == Config {
                    source: c.source.clone(),
                    ..Config::default()
                }
            }),
            ("hot_reload: {}\n", |c| c.debounce_ms == 100),
            ("hot_reload:\n  enabled: false\n", |c| !c.enabled),
            ("\u{feff}hot_reload:\n  enabled: false\n", |c| !c.enabled),
            ("hot_reload:\r\n  enabled: false\r\n  port: 0\r\n", |c| {
                !c.enabled && c.port == Some(0)
            }),
            (
                "# comment\nhot_reload: # trailing\n  debounce_ms: 50 # ms\n",
                |c| c.debounce_ms == 50,
            ),
            ("hot_reload: {debounce_ms: 0, max_wait_ms: 0}\n", |c| {
                c.debounce_ms == 0 && c.max_wait_ms == 0
            }),
            (
                "hot_reload:\n  allowed_origins: [null, \"null\", \"http://a.test:3000\", \"https://[::1]:8443\", \"http://localhost\"]\n",
                |c| {
                    c.allowed_origins
                        == [
                            "null",
                            "null",
                            "http://a.test:3000",
                            "https://[::1]:8443",
                            "http://localhost",
                        ]
                },
            ),
            (
                "hot_reload:\n  root: public\n  host: 0.0.0.0\n  port: 65535\n  inject: false\n",
                |c| {
                    c.root == Some(PathBuf::from("app/public"))
                        && c.host.as_deref() == Some("0.0.0.0")
                        && c.port == Some(65535)
                        && c.inject == Some(false)
                },
            ),
            ("hot_reload:\n  watch_dirs: [/srv/www, .]\n", |c| {
                c.watch_dirs[0].path == Path::new("/srv/www") && c.watch_dirs[1].label.is_empty()
            }),
            (
                "server:\n  port: 99999999999999999999999\n  port: 2\ndb: [1, 2]\nhot_reload:\n  enabled: true\nhot-reload-notes: x\n",
                |c| c.enabled,
            ),
            (
                "defaults: &d\n  - \"*.css\"\nhot_reload:\n  patterns: *d\n",
                |c| c.patterns == ["*.css"],
            ),
            (
                "hot_reload:\n  patterns: [\"**/*.js\", \"js/*.js\", \"[!.]*\", \"a?c\"]\n",
                |c| c.patterns.len() == 4,
            ),
            ("hot_reload:\n  debounce_ms: 0x10\n", |c| {
                c.debounce_ms == 16
            }),
        ];
        let mut failures = Vec::new();
        for (yaml, ok) in rows {
            match parse(yaml) {
                Ok(c) if ok(&c) && c.source.as_deref() == Some(Path::new("app/config.yaml")) => {}
                Ok(c) => failures.push(format!("{yaml:?}: unexpected {c:?}")),
                Err(e) => failures.push(format!("{yaml:?}: {e}")),
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    }

    #[test]
    fn template_parses_to_the_defaults_watching_dot() {
        let file = Path::new("site/config.yaml");
        let parsed = Config::from_yaml(TEMPLATE, file).unwrap_or_else(|e| panic!("{e}"));
        let want = Config {
            watch_dirs: vec![WatchDir::new(".", Path::new("site"))],
            source: Some(file.to_path_buf()),
            ..Config::default()
        };
        assert_eq!(parsed, want);
    }

    #[test]
    fn template_lists_every_key_and_the_default_ignores() {
        for key in KEYS {
            assert!(
                TEMPLATE.contains(&format!("  {}: ", key.name))
                    || TEMPLATE.contains(&format!("# {}: ", key.name)),
                "TEMPLATE lacks {}",
                key.name
            );
        }
        for ignore in crate::watcher::patterns::DEFAULT_IGNORES {
            assert!(TEMPLATE.contains(ignore), "TEMPLATE lacks {ignore}");
        }
    }

    #[test]
    fn every_example_line_parses() {
        for key in KEYS {
            let yaml = format!("hot_reload:\n  {}\n", key.example);
            if let Err(e) = parse(&yaml) {
                panic!("example of {} does not parse:\n{e}", key.name);
            }
        }
    }

    #[test]
    fn a_file_without_a_folder_resolves_against_dot() {
        let c = Config::from_yaml(
            "hot_reload:\n  watch_dirs: [web]\n  root: pub\n",
            Path::new("config.yaml"),
        )
        .unwrap();
        assert_eq!(c.watch_dirs, vec![WatchDir::new("web", Path::new("."))]);
        assert_eq!(c.root, Some(Path::new(".").join("pub")));
    }

    #[test]
    fn validate_names_the_command_line_without_a_source() {
        let config = Config {
            debounce_ms: 70_000,
            max_wait_ms: 80_000,
            ..Config::default()
        };
        let e = config.validate().unwrap_err();
        assert_eq!(
            e.to_string(),
            "<command line>: `hot_reload.debounce_ms`: 70000 ms is over one minute (60000): changes would seem lost\n  fix: use at most 60000; 50 to 300 suits most projects"
        );
        let config = Config {
            source: Some("x.yaml".into()),
            patterns: vec!["[".into()],
            ..Config::default()
        };
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with("x.yaml: `hot_reload.patterns`: invalid glob `[`")
        );
        assert!(Config::default().validate().is_ok());
    }

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

    #[test]
    fn locate_points_at_values_and_keys() {
        let text = "app: 1\nhot_reload:\n  patterns:\n    - a\n    - b\n  port: 80\n  port: 81\n";
        /// (path, the key itself rather than its value, occurrence, position).
        type Row<'a> = (&'a [Seg<'a>], bool, usize, Option<(usize, usize)>);
        let rows: &[Row<'_>] = &[
            (&[], false, 0, Some((1, 1))),
            (&[Seg::Key("hot_reload")], true, 0, Some((2, 1))),
            (
                &[Seg::Key("hot_reload"), Seg::Key("patterns"), Seg::Index(1)],
                false,
                0,
                Some((5, 7)),
            ),
            (
                &[Seg::Key("hot_reload"), Seg::Key("patterns"), Seg::Index(2)],
                false,
                0,
                None,
            ),
            (
                &[Seg::Key("hot_reload"), Seg::Key("port")],
                false,
                0,
                Some((6, 9)),
            ),
            (
                &[Seg::Key("hot_reload"), Seg::Key("port")],
                true,
                1,
                Some((7, 3)),
            ),
            (&[Seg::Key("hot_reload"), Seg::Key("port")], true, 2, None),
            (&[Seg::Key("nothing")], false, 0, None),
            (&[Seg::Key("app"), Seg::Key("x")], false, 0, None),
        ];
        for (path, key_itself, nth, want) in rows {
            assert_eq!(
                locate(text, path, *key_itself, *nth),
                *want,
                "{:?}",
                path.len()
            );
        }
    }

    /// Property tests: `from_yaml` never panics, and every error it returns
    /// is a config error naming the file with a fix.
    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Ok, or an `Error::Config` that says where and how to fix it.
        fn check(text: &str) -> Result<(), TestCaseError> {
            match Config::from_yaml(text, Path::new("config.yaml")) {
                Ok(_) => {}
                Err(e @ Error::Config { .. }) => {
                    let shown = e.to_string();
                    prop_assert!(!shown.is_empty());
                    prop_assert!(shown.contains("config.yaml"), "no file name in {:?}", shown);
                    prop_assert!(shown.contains("fix:"), "no fix in {:?}", shown);
                }
                Err(e) => prop_assert!(false, "not a config error: {}", e),
            }
            Ok(())
        }

        /// YAML's punctuation and words, so random soup is often almost YAML.
        fn yaml_soup() -> impl Strategy<Value = String> {
            let piece = prop::sample::select(vec![
                "hot_reload",
                "hot_reload:",
                ":",
                ": ",
                " ",
                "  ",
                "\n",
                "\n  ",
                "- ",
                "[",
                "]",
                "{",
                "}",
                ", ",
                "\"",
                "'",
                "#",
                "&a ",
                "*a",
                "!!str ",
                "!x ",
                "|",
                ">",
                "~",
                "null",
                "true",
                "no",
                "1",
                "-1",
                "1.5",
                "0x10",
                "1e400",
                "99999999999999999999999",
                "enabled",
                "patterns",
                "debounce_ms",
                "port",
                "watch_dirs",
                "allowed_origins",
                "\"*.css\"",
                "*.css",
                "[a",
                "\t",
                "---",
                "...",
                "%YAML 1.2\n",
                "? ",
                "<<: ",
                "\u{feff}",
                "\r\n",
                "é",
                "\\",
                "\0",
                "@",
                "`",
                "%",
            ]);
            prop::collection::vec(piece, 0..60).prop_map(|v| v.concat())
        }

        /// A key under `hot_reload`: a known one, a misspelt one, or an odd one.
        fn key() -> impl Strategy<Value = String> {
            let known = prop::sample::select(KEYS.iter().map(|k| k.name).collect::<Vec<_>>())
                .prop_map(String::from);
            let misspelt = (
                prop::sample::select(KEYS.iter().map(|k| k.name).collect::<Vec<_>>()),
                any::<prop::sample::Index>(),
                0..6u8,
            )
                .prop_map(|(name, at, how)| {
                    let mut chars: Vec<char> = name.chars().collect();
                    let i = at.index(chars.len());
                    match how {
                        0 => {
                            chars.remove(i);
                        }
                        1 => chars.insert(i, 'x'),
                        2 if i + 1 < chars.len() => chars.swap(i, i + 1),
                        3 => chars.iter_mut().for_each(|c| *c = c.to_ascii_uppercase()),
                        4 => chars.iter_mut().for_each(|c| {
                            if *c == '_' {
                                *c = '-'
                            }
                        }),
                        _ => chars.truncate(i),
                    }
                    chars.into_iter().collect::<String>()
                });
            let odd = prop::sample::select(vec![
                "",
                "<<",
                "1",
                "~",
                "true",
                "\"quoted key\"",
                "? complex",
                "[a]",
                "{a: 1}",
                "hot_reload",
                "colour",
                "é",
            ])
            .prop_map(String::from);
            prop_oneof![4 => known, 3 => misspelt, 1 => odd]
        }

        /// A scalar as written in YAML: mostly valid YAML (of the right type
        /// or not), sometimes broken.
        fn scalar() -> impl Strategy<Value = String> {
            let good = prop::sample::select(vec![
                "true",
                "false",
                "0",
                "1",
                "100",
                "1000",
                "8080",
                "\"*.css\"",
                "\"**/*.js\"",
                "\"js/*.js\"",
                "\"[ab].css\"",
                "./web",
                ".",
                "dist",
                "\"null\"",
                "null",
                "http://localhost:3000",
                "\"http://[::1]:8080\"",
                "127.0.0.1",
            ]);
            let wrong = prop::sample::select(vec![
                "yes",
                "off",
                "~",
                "0x10",
                "0o7",
                ".inf",
                "-.inf",
                ".nan",
                "1e400",
                "99999999999999999999999",
                "100ms",
                "2s",
                "\"100\"",
                "fast",
                "\"[a\"",
                "\"a**b\"",
                "\"***\"",
                "\"\"",
                "''",
                "\"HTTP://a\"",
                "\"http://a:0\"",
                "\"*\"",
                "!!str 5",
                "\"é\"",
                "\"\\u0000\"",
                "'*.css'",
                "-5",
                "1.5",
                "65536",
            ]);
            let broken = prop::sample::select(vec![
                "*.css",
                "*",
                "&a 1",
                "*a",
                "!!int x",
                "!tag 1",
                "|\n    a\n",
                ">-\n    b\n",
                "\"unclosed",
                "'unclosed",
                "a: b",
                "- a",
                "[",
                "{",
                "#c",
                "\"\\xff\"",
                "",
                "\"\\q\"",
                "@x",
                "`x",
            ]);
            prop_oneof![
                4 => good.prop_map(String::from),
                3 => wrong.prop_map(String::from),
                1 => broken.prop_map(String::from),
                2 => (0u64..70_000).prop_map(|n| n.to_string()),
                1 => any::<u64>().prop_map(|n| n.to_string()),
                1 => any::<i64>().prop_map(|n| n.to_string()),
                1 => any::<f64>().prop_map(|n| n.to_string()),
                2 => "\"[a-zA-Z0-9 ./:*?!_\\[\\]-]{0,12}\"",
                1 => "[ -~]{0,12}",
            ]
        }

        /// A value: a scalar, a flow or block list, or a mapping.
        fn value() -> impl Strategy<Value = String> {
            let list = || prop::collection::vec(scalar(), 0..4);
            prop_oneof![
                4 => scalar().prop_map(|s| format!(" {s}")),
                2 => list().prop_map(|v| format!(" [{}]", v.join(", "))),
                2 => list().prop_map(|v| {
                    v.iter().map(|s| format!("\n    - {s}")).collect::<String>()
                }),
                1 => (key(), scalar()).prop_map(|(k, v)| format!(" {{{k}: {v}}}")),
                1 => (key(), scalar()).prop_map(|(k, v)| format!("\n    {k}: {v}")),
                1 => Just(String::new()),
            ]
        }

        /// Indentation of the section's keys: mostly two spaces.
        fn indent() -> impl Strategy<Value = &'static str> {
            prop::sample::select(vec!["  ", "  ", "  ", "  ", "  ", "  ", " ", "    ", "\t"])
        }

        /// A `hot_reload:` section of random keys and values, one line of it
        /// now and then indented wrong, maybe with other sections around it,
        /// a second `hot_reload` section or a second document.
        fn near_valid() -> impl Strategy<Value = String> {
            let other = prop::sample::select(vec![
                "",
                "",
                "",
                "",
                "",
                "",
                "app:\n  name: x\n",
                "server:\n  port: 8080\n",
                "defaults: &d\n  - \"*.css\"\n",
                "hot-reload:\n  enabled: true\n",
                "hot_reload:\n  enabled: false\n",
                "---\napp: 1\n",
                "# comment\n",
                "watch_dirs: [a]\n",
            ]);
            let head = prop::sample::select(vec![
                "hot_reload:",
                "hot_reload:",
                "hot_reload:",
                "hot_reload:",
                "hot_reload: ",
                "hot_reload: # c",
                "hot_reload: {}",
                "hot_reload: true",
                "hotreload:",
            ]);
            (
                other.clone(),
                head,
                indent(),
                prop::collection::vec((key(), value()), 0..6),
                prop::option::weighted(0.1, (any::<prop::sample::Index>(), indent())),
                other,
                any::<bool>(),
            )
                .prop_map(|(before, head, indent, entries, odd, after, crlf)| {
                    let mut body = String::new();
                    for (i, (key, value)) in entries.iter().enumerate() {
                        let indent = match odd {
                            Some((at, other)) if at.index(entries.len()) == i => other,
                            _ => indent,
                        };
                        body.push_str(&format!("{indent}{key}:{value}\n"));
                    }
                    let text = format!("{before}{head}\n{body}{after}");
                    if crlf {
                        text.replace('\n', "\r\n")
                    } else {
                        text
                    }
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            #[test]
            fn arbitrary_text_never_panics(text in any::<String>()) {
                check(&text)?;
            }

            #[test]
            fn yaml_soup_never_panics(text in yaml_soup()) {
                check(&text)?;
            }

            #[test]
            fn near_valid_sections_never_panic(text in near_valid()) {
                check(&text)?;
            }

            /// Arbitrary text under a valid key, where the value checks run.
            #[test]
            fn arbitrary_values_never_panic(key in key(), value in "[^\n]{0,40}") {
                check(&format!("hot_reload:\n  {key}: {value}\n"))?;
            }
        }
    }
}
