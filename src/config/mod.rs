//! The `hot_reload` section of `config.yaml` as plain data: its fields, their defaults, and `init`'s template.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

mod keys;
mod values;
mod yaml;

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

/// A watch dir is written as its folder, which [`Config::from_yaml`] then
/// resolves against the config file's folder.
impl<'de> Deserialize<'de> for WatchDir {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<WatchDir, D::Error> {
        String::deserialize(d).map(|written| WatchDir::new(&written, Path::new("")))
    }
}

/// A watch dir is written as its path (lossily, if it is not UTF-8).
impl Serialize for WatchDir {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.path.to_string_lossy())
    }
}

/// Settings of hot reload: the `hot_reload` section of `config.yaml`.
///
/// Plain data: every field is optional in the file, where a missing one
/// takes its value from [`Config::default`]. Each is documented with its
/// default here, in the README's key table and in [`TEMPLATE`]; tests keep
/// the three in step with one table of keys. It serializes too, which is
/// how [`Config::validate`] puts values set in code through the checks
/// that reading a file runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// Leave out what git ignores (`.gitignore` files from the work tree's
    /// top down, nested ones, `.git/info/exclude`) when a watch dir is in a
    /// git work tree; ignored folders take no watch. Default `true`.
    pub gitignore: bool,
    /// Whether watch dirs are polled instead of watched by system events:
    /// [`Poll::Auto`] (the default) polls those on filesystems that send no
    /// events for changes made elsewhere (NFS, SMB, 9p, virtiofs, FUSE,
    /// WSL's drvfs), every [`Poll::DEFAULT_MS`].
    pub poll: Poll,
    /// How a batch ends: [`Debounce::Auto`] (the default) sends a change
    /// whose file is complete at once and gives a burst of changes
    /// [`Debounce::DEFAULT_MS`] of quiet; [`Debounce::Ms`] waits for that
    /// many milliseconds of quiet after every change.
    pub debounce_ms: Debounce,
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
    /// Extra host names allowed in the `Host` header (the DNS-rebinding
    /// check); `all` turns the check off. Default none.
    pub allowed_hosts: Vec<String>,
    /// Patch a changed page into the open tab instead of reloading it
    /// (typed input, focus, scroll and JavaScript state survive); a page
    /// can also ask with `data-morph` on the script tag. Default `false`.
    pub morph: bool,
    /// Before a reload, load the new page in a hidden frame and stay on
    /// the old one, showing the errors, if it throws; a page can also ask
    /// with `data-preflight`. Default `false`.
    pub preflight: bool,
    /// Replay scrolling, clicks, typing, form submits and navigation of one
    /// tab on every other tab showing the same page (SPEC.md section 13).
    /// The dashboard switches it at runtime. Default `false`.
    pub sync: bool,
    /// Binary only: address to listen on. Default `127.0.0.1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Binary only: port to listen on (0 picks a free one). Default 8080.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// Binary only: folder to serve. Default: the folder given on the command line, or `.`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    /// Binary only: inject the client script into HTML pages. Default `true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inject: Option<bool>,
    /// Binary only: a second port that serves LiveReload clients only
    /// (`/livereload`, `/livereload.js`); 35729 is the one the LiveReload
    /// browser extensions use. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub livereload_port: Option<u16>,
    /// Binary only: the backend `hotreload proxy` sends requests to,
    /// `http://host[:port][/base]`; plain `hotreload` then runs as a proxy
    /// too. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// Proxy mode: how long the backend may take to start an answer before
    /// the browser gets 504, in milliseconds. Default 30000.
    pub proxy_timeout_ms: u64,
    /// A command run (`sh -c`) after each batch, before it is sent; a
    /// failure is shown in every page instead. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// How long a build may run before it is stopped and counts as failed,
    /// in milliseconds. Default 600000 (ten minutes).
    pub build_timeout_ms: u64,
    /// The app's command, started at launch and restarted on changes that
    /// match `restart_on`; pages reload once it answers. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Globs of the changes that restart `run`. Default: none.
    pub restart_on: Vec<String>,
    /// Where the restarted app answers once it is up; default: the proxy's
    /// backend, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_url: Option<String>,
    /// How long a stopped command has after SIGTERM before SIGKILL, in
    /// milliseconds. Default 5000.
    pub stop_timeout_ms: u64,
    /// How long a restarted app has to answer, in milliseconds. Default 30000.
    pub start_timeout_ms: u64,
    /// A command run after each batch that went out; its result is shown
    /// in every page. Default: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<String>,
    /// The file this came from, for error messages; `None` for defaults.
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            enabled: true,
            watch_dirs: Vec::new(),
            patterns: Vec::new(),
            ignore: Vec::new(),
            gitignore: true,
            poll: Poll::Auto,
            debounce_ms: Debounce::Auto,
            max_wait_ms: 1000,
            client_buffer: 10,
            heartbeat_ms: 5000,
            max_clients: 1024,
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            morph: false,
            preflight: false,
            sync: false,
            host: None,
            port: None,
            root: None,
            inject: None,
            livereload_port: None,
            proxy: None,
            proxy_timeout_ms: 30_000,
            build: None,
            build_timeout_ms: 600_000,
            run: None,
            restart_on: Vec::new(),
            ready_url: None,
            stop_timeout_ms: 5_000,
            start_timeout_ms: 30_000,
            test: None,
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
    /// (used in messages, and its directory resolves relative `watch_dirs`
    /// and `root`). The first mistake stops it, with its line and its fix.
    pub fn from_yaml(text: &str, file: &Path) -> Result<Config, Error> {
        let mut config = yaml::read(text, file)?;
        let base = match file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        for dir in &mut config.watch_dirs {
            dir.path = base.join(&dir.path);
        }
        config.root = config.root.map(|root| base.join(root));
        config.source = Some(file.to_path_buf());
        Ok(config)
    }

    /// Runs the checks of [`Config::from_yaml`] on values set in code or by
    /// command-line flags (bad globs, zero buffers); a `source` of `None`
    /// names the command line in the message.
    pub fn validate(&self) -> Result<(), Error> {
        let file = self.source.clone();
        yaml::check(self, &file.unwrap_or_else(|| "<command line>".into()))
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

/// When to poll watch dirs (the `poll` key): written `auto`, `true`,
/// `false` or a number of milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Poll {
    /// Poll the watch dirs on filesystems without events from the other
    /// side (read from `/proc/self/mountinfo` at start), every
    /// [`Poll::DEFAULT_MS`]; watch the rest by system events.
    #[default]
    Auto,
    /// Never poll (`false`).
    Never,
    /// Poll every watch dir at this interval in milliseconds (`true` is
    /// [`Poll::DEFAULT_MS`]).
    Every(u64),
}

impl Poll {
    /// The interval of `auto` and `true`, in milliseconds.
    pub const DEFAULT_MS: u64 = 500;
}

/// Written as the user writes it: `auto`, `false`, or the interval.
impl Serialize for Poll {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Poll::Auto => s.serialize_str("auto"),
            Poll::Never => s.serialize_bool(false),
            Poll::Every(ms) => s.serialize_u64(*ms),
        }
    }
}

/// Read from a value the key table has checked already: `auto`, a flag,
/// or a number of milliseconds.
impl<'de> Deserialize<'de> for Poll {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Poll, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Flag(bool),
            Ms(u64),
            Word(String),
        }
        match Written::deserialize(d)? {
            Written::Flag(true) => Ok(Poll::Every(Poll::DEFAULT_MS)),
            Written::Flag(false) => Ok(Poll::Never),
            Written::Ms(ms) => Ok(Poll::Every(ms)),
            Written::Word(w) if w == "auto" => Ok(Poll::Auto),
            Written::Word(w) => Err(serde::de::Error::custom(format!(
                "expected `auto`, `true`, `false` or milliseconds, found {w:?}"
            ))),
        }
    }
}

/// How a batch waits for quiet (the `debounce_ms` key): written `auto` or
/// a number of milliseconds (SPEC.md sections 3 and 14).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Debounce {
    /// A change whose file is complete (closed after writing, or renamed
    /// over the file it replaces) goes out at once when nothing else is
    /// pending; anything else, and every change that follows a batch
    /// within [`Debounce::DEFAULT_MS`], waits for that much quiet.
    #[default]
    Auto,
    /// Every batch waits for this many milliseconds with no new change.
    Ms(u64),
}

impl Debounce {
    /// The quiet time of `auto` in a burst, in milliseconds.
    pub const DEFAULT_MS: u64 = 100;

    /// The quiet time that ends a batch still open: the fixed one, or
    /// `auto`'s for a burst.
    pub fn quiet_ms(self) -> u64 {
        match self {
            Debounce::Auto => Debounce::DEFAULT_MS,
            Debounce::Ms(ms) => ms,
        }
    }
}

/// As the user writes it: `auto` or the milliseconds.
impl std::fmt::Display for Debounce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Debounce::Auto => f.write_str("auto"),
            Debounce::Ms(ms) => write!(f, "{ms}"),
        }
    }
}

/// Written as the user writes it: `auto` or the milliseconds.
impl Serialize for Debounce {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Debounce::Auto => s.serialize_str("auto"),
            Debounce::Ms(ms) => s.serialize_u64(*ms),
        }
    }
}

/// Read from a value the key table has checked already.
impl<'de> Deserialize<'de> for Debounce {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Debounce, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Ms(u64),
            Word(String),
        }
        match Written::deserialize(d)? {
            Written::Ms(ms) => Ok(Debounce::Ms(ms)),
            Written::Word(w) if w == "auto" => Ok(Debounce::Auto),
            Written::Word(w) => Err(serde::de::Error::custom(format!(
                "expected `auto` or milliseconds, found {w:?}"
            ))),
        }
    }
}

/// The commented `config.yaml` that `hotreload init` writes.
///
/// Every key of the `hot_reload` section with its default and a one-line
/// comment. `watch_dirs` (whose default is the served folder, which no
/// value can say) and the binary-only keys (`host`, `port`, `root`,
/// `inject`) are commented out, so parsing it gives [`Config::default`].
pub const TEMPLATE: &str = include_str!("template.yaml");

#[cfg(test)]
mod tests {
    use super::keys::{self, KEYS};
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
            "`hot_reload.enabled`: `enabled` is set twice",
            Some(3),
        ),
        ("hot_reload:\n  debounce_ms:\n", "has no value", Some(2)),
        ("hot_reload:\n  patterns: ~\n", "has no value", Some(2)),
        // Types.
        (
            "hot_reload:\n  debounce_ms: fast\n",
            "expected `auto` or a whole number of milliseconds, found the text \"fast\"",
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
            "`hot_reload.root`: the folder name is empty",
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
            "hot_reload:\n  max_wait_ms: 50\n",
            "max_wait_ms (50) is smaller than the 100 ms of quiet that `debounce_ms: auto` gives a burst",
            Some(2),
        ),
        (
            "hot_reload:\n  debounce_ms: soon\n",
            "write `debounce_ms: auto` (the default) or a number of milliseconds",
            Some(2),
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
            None,
        ),
        ("HotReload:\n  enabled: true\n", "rename `HotReload`", None),
        (
            "app: 1\nwatch_dirs: [a]\npatterns: []\n",
            "indent `watch_dirs`, `patterns` under it",
            None,
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
            "hot_reload:\n  enabled: true\napp: 2\nhot_reload:\n  enabled: false\n",
            "`hot_reload`: the `hot_reload` section appears twice",
            Some(4),
        ),
        // Syntax.
        ("hot_reload:\n\tenabled: true\n", "a tab character", Some(2)),
        (
            "hot_reload:\n  enabled: \"true\n",
            "a quoted scalar at line 2 column 12\n  fix: close the quote",
            Some(3),
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
            Some(4),
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
        // A syntax error wins over what the nodes before it seemed to say.
        (
            "hot_reload:\n  enabled: true\n   debounce_ms: 100\n",
            "invalid YAML: mapping values are not allowed",
            Some(3),
        ),
        (
            "hot_reload:\n  debounce_ms: fast\n  patterns: [a\n",
            "close the list with `]`",
            Some(4),
        ),
        // No node holds these: the section is pointed at.
        (
            "hot_reload:\n  max_wait_ms: 200\n  debounce_ms: 300\n",
            "`hot_reload.max_wait_ms`: max_wait_ms (200) is smaller than debounce_ms (300)",
            Some(2),
        ),
        (
            "hot_reload:\n  enabled: true\n  debounce_ms: 2000\n",
            "`hot_reload.debounce_ms`: max_wait_ms (1000) is smaller",
            Some(2),
        ),
        (
            "hot_reload:\n  allowed_hosts: all\n",
            "write a list, even for one item: `allowed_hosts: [\"all\"]`",
            Some(2),
        ),
        (
            "hot_reload:\n  allowed_hosts:\n    - \"\"\n",
            "item 1 is an empty host name",
            Some(3),
        ),
        (
            "hot_reload:\n  patterns: [~]\n",
            "item 1 must be text, found nothing",
            Some(2),
        ),
        (
            "hot_reload:\n  enabled: !yes true\n",
            "found a tagged value",
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
            "app/config.yaml:2:16: `hot_reload.debounce_ms`: expected `auto` or a whole number of milliseconds, found the text \"fast\"\n  fix: write `debounce_ms: auto` (the default) or a number of milliseconds like `debounce_ms: 100`"
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
            ("hot_reload: {}\n", |c| c.debounce_ms == Debounce::Auto),
            ("hot_reload:\n  enabled: false\n", |c| !c.enabled),
            ("\u{feff}hot_reload:\n  enabled: false\n", |c| !c.enabled),
            ("hot_reload:\r\n  enabled: false\r\n  port: 0\r\n", |c| {
                !c.enabled && c.port == Some(0)
            }),
            (
                "# comment\nhot_reload: # trailing\n  debounce_ms: 50 # ms\n",
                |c| c.debounce_ms == Debounce::Ms(50),
            ),
            ("hot_reload:\n  debounce_ms: auto\n", |c| {
                c.debounce_ms == Debounce::Auto
            }),
            ("hot_reload: {debounce_ms: 0, max_wait_ms: 0}\n", |c| {
                c.debounce_ms == Debounce::Ms(0) && c.max_wait_ms == 0
            }),
            // The rule between the two holds whichever comes first.
            (
                "hot_reload:\n  debounce_ms: 2000\n  max_wait_ms: 5000\n",
                |c| c.debounce_ms == Debounce::Ms(2000) && c.max_wait_ms == 5000,
            ),
            (
                "hot_reload:\n  max_wait_ms: 5000\n  debounce_ms: 2000\n",
                |c| c.debounce_ms == Debounce::Ms(2000) && c.max_wait_ms == 5000,
            ),
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
                c.debounce_ms == Debounce::Ms(16)
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
    fn template_parses_to_the_defaults() {
        let file = Path::new("site/config.yaml");
        let parsed = Config::from_yaml(TEMPLATE, file).unwrap_or_else(|e| panic!("{e}"));
        let want = Config {
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
    fn the_table_has_a_row_for_every_field_in_order() {
        let every = Config {
            host: Some("h".into()),
            port: Some(1),
            root: Some("r".into()),
            inject: Some(true),
            livereload_port: Some(35729),
            proxy: Some("http://localhost:3000".into()),
            build: Some("make".into()),
            run: Some("./app".into()),
            ready_url: Some("http://localhost:3000".into()),
            test: Some("make test".into()),
            ..Config::default()
        };
        let value = serde_yaml::to_value(every).unwrap_or_else(|e| panic!("{e}"));
        let fields: Vec<&str> = (value.as_mapping().into_iter().flatten())
            .filter_map(|(k, _)| k.as_str())
            .collect();
        let rows: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        assert_eq!(fields, rows);
    }

    /// The README's key table: a row per key in the table's order, with
    /// the default the template writes (the meaning is the README's own).
    #[test]
    fn the_readme_table_has_every_key_and_its_default() {
        let readme = include_str!("../../README.md");
        let rows: Vec<(&str, &str)> = (readme.lines())
            .skip_while(|l| *l != "## Configuration")
            .take_while(|l| !l.starts_with("## What"))
            .filter_map(|l| l.strip_prefix("| `")?.split_once("` | "))
            .collect();
        let names: Vec<&str> = rows.iter().map(|(name, _)| *name).collect();
        let keys: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
        assert_eq!(names, keys, "the README's key table");
        for (name, rest) in rows {
            let value = template_value(name);
            // A default no value can say (the served folder) is told in words.
            assert!(
                rest.starts_with(&format!("`{value}`")) || !rest.starts_with('`'),
                "{name}: README says {rest}, the template {value}"
            );
        }
    }

    /// What the template writes for a key, commented out or not.
    fn template_value(name: &str) -> &'static str {
        let prefix = format!("{name}: ");
        (TEMPLATE.lines())
            .find_map(|l| {
                l.trim_start()
                    .trim_start_matches("# ")
                    .strip_prefix(&prefix)
            })
            .unwrap_or_else(|| panic!("TEMPLATE lacks {name}"))
            .split(" #")
            .next()
            .unwrap_or_default()
            .trim()
    }

    /// A range's hint that names the default names the template's.
    #[test]
    fn hints_name_the_template_defaults() {
        for key in KEYS {
            if let keys::Kind::Whole(bounds) = &key.kind
                && let Some(said) = bounds.hint.strip_prefix("the default is ")
            {
                let value = template_value(key.name);
                assert!(said.starts_with(value), "{}: hint {said}", key.name);
            }
        }
    }

    /// The README's example of a mistake is what the reader says.
    #[test]
    fn the_readme_error_example_is_real() {
        let yaml = "app:\n  name: x\nhot_reload:\n  debounce: 50\n";
        let shown = Config::from_yaml(yaml, Path::new("config.yaml"))
            .unwrap_err()
            .to_string();
        let first = shown.lines().next().unwrap_or_default();
        let readme = include_str!("../../README.md");
        assert!(readme.contains(&format!("error: {first}\n")), "{first}");
        assert!(
            shown.contains("fix: did you mean `debounce_ms`?"),
            "{shown}"
        );
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
            debounce_ms: Debounce::Ms(70_000),
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
