//! The watcher thread (`hotreload-watcher`): notify events -> patterns -> debounce -> one batch.
//!
//! Every directory is watched on its own (not with notify's recursive mode),
//! so ignored trees such as `node_modules` cost no inotify watches, new
//! directories are scanned as soon as they appear, and a watch dir that is
//! missing or deleted is picked up again through a watch on its nearest
//! existing ancestor. A batch compares each path before and after it, so a
//! temporary file an editor creates and renames away never appears.

pub mod debounce;
pub mod patterns;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, at, never, select, unbounded};
use notify::RecursiveMode;
use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};

use crate::Error;
use crate::config::{Config, WatchDir};
use crate::hub::Hub;
use crate::protocol::Change;
use debounce::{Debouncer, Pending};
use patterns::{Patterns, rel_string};

type Events = Receiver<notify::Result<notify::Event>>;

/// Makes the notify backend; a seam so tests and network filesystems can
/// use another (a `PollWatcher`, or one that fails on purpose).
pub(crate) type Backend = Box<dyn notify::Watcher + Send>;

/// The running watcher thread. Dropping `stop` ends it.
pub(crate) struct Watcher {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Watcher {
    /// Scans and watches every watch dir on the calling thread (so the
    /// "Watching" line is true when this returns), then starts the thread.
    pub(crate) fn start(config: &Config, hub: Arc<Hub>) -> Result<Watcher, Error> {
        let (events_tx, events) = unbounded();
        let backend = notify::recommended_watcher(move |event| {
            // The receiver is gone only while shutting down.
            let _ = events_tx.send(event);
        })
        .map_err(|e| Error::Watch {
            problem: format!("cannot start the file watcher: {e}"),
            fix: inotify_instances_fix(&e),
        })?;
        Watcher::start_with(config, hub, Box::new(backend), events)
    }

    pub(crate) fn start_with(
        config: &Config,
        hub: Arc<Hub>,
        backend: Backend,
        events: Events,
    ) -> Result<Watcher, Error> {
        let patterns = Patterns::new(&config.patterns, &config.ignore)?;
        let mut state = State {
            roots: Vec::new(),
            backend,
            watched: BTreeSet::new(),
            ancestors: BTreeMap::new(),
            known: BTreeMap::new(),
            patterns,
            debouncer: Debouncer::new(
                std::time::Duration::from_millis(config.debounce_ms),
                std::time::Duration::from_millis(config.max_wait_ms),
            ),
            hub,
            limit_warned: false,
        };
        let mut files = 0;
        for dir in &config.watch_dirs {
            let path = std::path::absolute(&dir.path).unwrap_or_else(|_| dir.path.clone());
            state.roots.push(Root {
                dir: dir.clone(),
                path,
                present: false,
            });
        }
        for i in 0..state.roots.len() {
            files += state.attach_root(i, Scan::Startup);
        }
        log::info!(
            "[HotReload] Watching {} director{} ({files} file{})",
            state.roots.len(),
            if state.roots.len() == 1 { "y" } else { "ies" },
            if files == 1 { "" } else { "s" }
        );
        let (stop, stopped) = crossbeam_channel::bounded::<()>(0);
        let thread = thread::Builder::new()
            .name("hotreload-watcher".into())
            .spawn(move || state.run(events, stopped))
            .map_err(|e| Error::Thread {
                name: "hotreload-watcher".into(),
                problem: format!("cannot start: {e}"),
            })?;
        Ok(Watcher {
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Stops the thread and waits for it (it is never blocked for long: it
    /// only waits on channels). Dropping the notify backend stops its thread too.
    pub(crate) fn close(&mut self) -> Result<(), Error> {
        self.stop.take();
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| Error::Thread {
                name: "hotreload-watcher".into(),
                problem: "panicked; see the message above".into(),
            }),
            None => Ok(()),
        }
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.close();
    }
}

struct Root {
    dir: WatchDir,
    /// Absolute, as notify reports paths under it.
    path: PathBuf,
    present: bool,
}

struct State {
    roots: Vec<Root>,
    backend: Backend,
    /// Directories under a root that have their own watch.
    watched: BTreeSet<PathBuf>,
    /// Ancestors watched while waiting for a missing root, with how many roots wait on each.
    ancestors: BTreeMap<PathBuf, usize>,
    /// Every reported file that exists, with its modification time (for rescans).
    known: BTreeMap<PathBuf, Option<SystemTime>>,
    patterns: Patterns,
    debouncer: Debouncer<PathBuf>,
    hub: Arc<Hub>,
    limit_warned: bool,
}

impl State {
    fn run(mut self, events: Events, stop: Receiver<()>) {
        loop {
            let due = match self.debouncer.deadline() {
                Some(deadline) => at(deadline),
                None => never(),
            };
            select! {
                recv(events) -> event => match event {
                    Ok(Ok(event)) => self.handle(event, Instant::now()),
                    Ok(Err(e)) => log::warn!("[HotReload] watcher error: {e}"),
                    Err(_) => break,
                },
                recv(stop) -> _ => break,
                recv(due) -> _ => {}
            }
            if let Some(ready) = self.debouncer.take_ready(Instant::now()) {
                let changes = self.resolve(ready);
                if !changes.is_empty() {
                    self.hub.broadcast(changes);
                }
            }
        }
        log::debug!("[HotReload] watcher stopped");
    }

    fn handle(&mut self, event: notify::Event, now: Instant) {
        if event.need_rescan() {
            log::warn!("[HotReload] the system dropped file events (queue overflow); rescanning");
            self.rescan(now);
            return;
        }
        match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {}
            // Opening or reading a file (our own static server does) is no change.
            EventKind::Access(_) => return,
            _ => {}
        }
        match event.kind {
            EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
                for path in &event.paths {
                    self.gone(path, true, now);
                }
            }
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {
                if let [from, to] = &event.paths[..] {
                    self.gone(from, true, now);
                    self.touch(to, now);
                }
            }
            EventKind::Remove(_) => {
                for path in &event.paths {
                    self.gone(path, false, now);
                }
            }
            _ => {
                // Create, write, metadata, rename target, or a kind the
                // backend could not name: the disk says what it is now.
                for path in &event.paths {
                    if path.symlink_metadata().is_ok() {
                        self.touch(path, now);
                    } else {
                        self.gone(path, false, now);
                    }
                }
            }
        }
    }

    /// The root a path is under (the innermost, when roots nest).
    fn root_of(&self, path: &Path) -> Option<usize> {
        self.roots
            .iter()
            .enumerate()
            .filter(|(_, r)| r.present && path.starts_with(&r.path))
            .max_by_key(|(_, r)| r.path.components().count())
            .map(|(i, _)| i)
    }

    /// `rel` of `path` inside root `i`, `/`-separated.
    fn rel(&self, i: usize, path: &Path) -> String {
        rel_string(path.strip_prefix(&self.roots[i].path).unwrap_or(path))
    }

    /// Something exists at `path` now (created, written, moved here).
    fn touch(&mut self, path: &Path, now: Instant) {
        let Some(i) = self.root_of(path) else {
            self.check_missing_roots(now);
            return;
        };
        let rel = self.rel(i, path);
        if rel.is_empty() || self.patterns.is_ignored(&rel) {
            return;
        }
        let is_dir = path.symlink_metadata().map(|m| m.is_dir()).unwrap_or(false);
        if is_dir {
            if !self.watched.contains(path) {
                self.watch_tree(path, Scan::Appeared(now));
            }
        } else if self.patterns.is_reported(&rel) {
            let before = self.known.contains_key(path);
            self.debouncer.push(path.to_path_buf(), before, false, now);
        }
    }

    /// Nothing is at `path` any more (deleted, or moved away when `moved`).
    fn gone(&mut self, path: &Path, moved: bool, now: Instant) {
        if let Some(i) = self.roots.iter().position(|r| r.present && r.path == path) {
            log::warn!(
                "[HotReload] watch dir {} was removed; it will be watched again when it reappears",
                self.roots[i].path.display()
            );
            self.roots[i].present = false;
            self.forget_tree(path, moved, now);
            self.check_missing_roots(now);
            return;
        }
        let Some(i) = self.root_of(path) else {
            self.check_missing_roots(now);
            return;
        };
        if self.watched.contains(path) {
            self.forget_tree(path, moved, now);
            return;
        }
        let rel = self.rel(i, path);
        if self.patterns.is_reported(&rel) {
            let before = self.known.contains_key(path);
            self.debouncer.push(path.to_path_buf(), before, moved, now);
        }
    }

    /// A directory left: unwatch it and everything below, and put each file
    /// we knew there into the batch (a move reports no events for them).
    fn forget_tree(&mut self, dir: &Path, moved: bool, now: Instant) {
        let dirs: Vec<PathBuf> = under(&self.watched, dir).cloned().collect();
        for d in dirs {
            self.watched.remove(&d);
            // Already gone from the kernel when the directory was deleted.
            let _ = self.backend.unwatch(&d);
        }
        let files: Vec<PathBuf> = under_keys(&self.known, dir).cloned().collect();
        for f in files {
            self.debouncer.push(f, true, moved, now);
        }
    }

    /// Watches `dir` and every directory below that is not ignored, and
    /// records or reports the files found, as `scan` says. Returns files found.
    fn watch_tree(&mut self, dir: &Path, scan: Scan) -> usize {
        if let Scan::Startup = scan {
            return self.startup_scan(dir);
        }
        let Some(i) = self.root_of(dir) else { return 0 };
        let mut files = 0;
        let mut stack = vec![dir.to_path_buf()];
        let mut failed = Vec::new();
        while let Some(dir) = stack.pop() {
            if self.watched.contains(&dir) {
                continue;
            }
            // Watched before it is read, so a file made in between is not missed.
            if let Err(e) = self.watch_dir(&dir) {
                failed.push((dir, e));
                continue;
            }
            let Some(entries) = read_dir_or_warn(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let rel = self.rel(i, &path);
                match classify(&self.patterns, &entry, &rel) {
                    Entry::Dir => stack.push(path),
                    Entry::File => {
                        files += 1;
                        match scan {
                            Scan::Appeared(now) => {
                                let before = self.known.contains_key(&path);
                                self.debouncer.push(path, before, false, now);
                            }
                            Scan::Startup | Scan::Rescan => {
                                let mtime = entry.metadata().ok().and_then(|m| m.modified().ok());
                                self.known.insert(path, mtime);
                            }
                        }
                    }
                    Entry::Skip => {}
                }
            }
        }
        self.report_watch_failures(failed);
        files
    }

    /// The first scan of a watch dir, before anyone can be connected.
    ///
    /// Adding a watch costs a round trip to notify's thread, so a helper
    /// thread adds them while this one reads. notify always asks inotify for
    /// IN_OPEN, so reading a watched directory raises events (thousands, for
    /// a big tree): a directory is handed over only once everything below it
    /// has been read, and nothing read later lies under a watched directory.
    fn startup_scan(&mut self, dir: &Path) -> usize {
        let Some(i) = self.root_of(dir) else { return 0 };
        let root = self.roots[i].path.clone();
        let State {
            backend,
            watched,
            known,
            patterns,
            ..
        } = self;
        enum Step {
            Enter(PathBuf),
            Leave(PathBuf),
        }
        let mut files = 0;
        let (done, mut failed, left_over) = std::thread::scope(|scope| {
            let (hand_over, queue) = unbounded::<PathBuf>();
            let helper = thread::Builder::new()
                .name("hotreload-scan".into())
                .spawn_scoped(scope, || {
                    let mut done = Vec::new();
                    let mut failed = Vec::new();
                    for dir in queue {
                        match backend.watch(&dir, RecursiveMode::NonRecursive) {
                            Ok(()) => done.push(dir),
                            Err(e) => failed.push((dir, e)),
                        }
                    }
                    (done, failed)
                });
            let mut stack = vec![Step::Enter(dir.to_path_buf())];
            let mut left_over = Vec::new();
            while let Some(step) = stack.pop() {
                let dir = match step {
                    Step::Leave(dir) => {
                        // Only fails if the helper could not start: watch below.
                        if let Err(e) = hand_over.send(dir) {
                            left_over.push(e.into_inner());
                        }
                        continue;
                    }
                    Step::Enter(dir) if watched.contains(&dir) => continue,
                    Step::Enter(dir) => dir,
                };
                let entries = read_dir_or_warn(&dir);
                stack.push(Step::Leave(dir));
                for entry in entries.into_iter().flatten().flatten() {
                    let path = entry.path();
                    let rel = rel_string(path.strip_prefix(&root).unwrap_or(&path));
                    match classify(patterns, &entry, &rel) {
                        Entry::Dir => stack.push(Step::Enter(path)),
                        Entry::File => {
                            files += 1;
                            let mtime = entry.metadata().ok().and_then(|m| m.modified().ok());
                            known.insert(path, mtime);
                        }
                        Entry::Skip => {}
                    }
                }
            }
            drop(hand_over);
            let (done, failed) = match helper {
                Ok(helper) => match helper.join() {
                    Ok(result) => result,
                    Err(panic) => std::panic::resume_unwind(panic),
                },
                Err(e) => {
                    log::debug!("[HotReload] no scan helper thread ({e}); watching on this one");
                    (Vec::new(), Vec::new())
                }
            };
            (done, failed, left_over)
        });
        watched.extend(done);
        for dir in left_over {
            if let Err(e) = self.watch_dir(&dir) {
                failed.push((dir, e));
            }
        }
        self.report_watch_failures(failed);
        files
    }

    fn watch_dir(&mut self, dir: &Path) -> Result<(), notify::Error> {
        self.backend.watch(dir, RecursiveMode::NonRecursive)?;
        self.watched.insert(dir.to_path_buf());
        Ok(())
    }

    fn report_watch_failures(&mut self, failed: Vec<(PathBuf, notify::Error)>) {
        let mut limit = 0;
        for (dir, e) in failed {
            match &e.kind {
                notify::ErrorKind::MaxFilesWatch => limit += 1,
                notify::ErrorKind::Io(io) if io.raw_os_error() == Some(28) => limit += 1,
                notify::ErrorKind::PathNotFound => {}
                notify::ErrorKind::Io(io) if io.kind() == io::ErrorKind::NotFound => {}
                notify::ErrorKind::Io(io) if io.kind() == io::ErrorKind::PermissionDenied => {
                    log::warn!(
                        "[HotReload] cannot watch {}: permission denied; fix: make it readable (chmod u+rx) or add it to `ignore`",
                        dir.display()
                    )
                }
                _ => log::warn!("[HotReload] cannot watch {}: {e}", dir.display()),
            }
        }
        if limit > 0 && !self.limit_warned {
            self.limit_warned = true;
            log::error!(
                "[HotReload] cannot watch {limit} director{}: the system's inotify watch limit ({}) is reached; changes there go unnoticed.\n  fix: sudo sysctl fs.inotify.max_user_watches=524288 (add `fs.inotify.max_user_watches=524288` to /etc/sysctl.conf to keep it), or add big folders to `ignore`",
                if limit == 1 { "y" } else { "ies" },
                std::fs::read_to_string("/proc/sys/fs/inotify/max_user_watches")
                    .map(|s| s.trim().to_string())
                    .unwrap_or_else(|_| "unknown".into())
            );
        }
    }

    /// Starts watching root `i` if it exists, else watches its nearest
    /// existing ancestor to see it appear. Returns the files found.
    fn attach_root(&mut self, i: usize, scan: Scan) -> usize {
        let path = self.roots[i].path.clone();
        if path.is_dir() {
            self.roots[i].present = true;
            return self.watch_tree(&path, scan);
        }
        let ancestor = path
            .ancestors()
            .skip(1)
            .find(|a| a.is_dir())
            .map(Path::to_path_buf);
        let problem = if path.exists() {
            "is not a folder"
        } else {
            "does not exist"
        };
        // At startup a missing folder is most often a misspelt name; later
        // it is a build clearing its output, which needs no advice.
        let fix = match scan {
            Scan::Startup => " (if the name is wrong, fix watch_dirs or --watch)",
            Scan::Rescan | Scan::Appeared(_) => "",
        };
        log::warn!(
            "[HotReload] watch dir {} {problem}; it will be watched when it appears{fix}",
            path.display(),
        );
        if let Some(ancestor) = ancestor {
            self.watch_ancestor(ancestor);
        }
        0
    }

    fn watch_ancestor(&mut self, dir: PathBuf) {
        let count = self.ancestors.entry(dir.clone()).or_insert(0);
        *count += 1;
        if *count == 1
            && !self.watched.contains(&dir)
            && let Err(e) = self.backend.watch(&dir, RecursiveMode::NonRecursive)
        {
            log::warn!(
                "[HotReload] cannot watch {} to wait for a watch dir: {e}",
                dir.display()
            );
        }
    }

    fn unwatch_ancestors(&mut self) {
        for dir in std::mem::take(&mut self.ancestors).into_keys() {
            if !self.watched.contains(&dir) {
                let _ = self.backend.unwatch(&dir);
            }
        }
    }

    /// Something happened outside every present root: a missing root (or a
    /// folder on the way to it) may have appeared.
    fn check_missing_roots(&mut self, now: Instant) {
        if self.roots.iter().all(|r| r.present) {
            return;
        }
        // Recompute every ancestor watch from scratch: few roots, rare event.
        self.unwatch_ancestors();
        for i in 0..self.roots.len() {
            if self.roots[i].present {
                continue;
            }
            if self.roots[i].path.is_dir() {
                log::info!(
                    "[HotReload] watch dir {} appeared; watching it",
                    self.roots[i].path.display()
                );
                self.attach_root(i, Scan::Appeared(now));
            } else if let Some(a) = self.roots[i].path.ancestors().skip(1).find(|a| a.is_dir()) {
                let a = a.to_path_buf();
                self.watch_ancestor(a);
            }
        }
    }

    /// After lost events: rewatch everything, and put every file whose
    /// existence or modification time differs from what we knew into the batch.
    fn rescan(&mut self, now: Instant) {
        let old = std::mem::take(&mut self.known);
        for dir in std::mem::take(&mut self.watched) {
            let _ = self.backend.unwatch(&dir);
        }
        for i in 0..self.roots.len() {
            self.roots[i].present = false;
            // Clients are connected: watch before reading, as for a new folder.
            self.attach_root(i, Scan::Rescan);
        }
        let new = std::mem::replace(&mut self.known, old);
        for (path, mtime) in &new {
            if self.known.get(path) != Some(mtime) {
                let before = self.known.contains_key(path);
                self.debouncer.push(path.clone(), before, false, now);
            }
        }
        let removed: Vec<PathBuf> = self
            .known
            .keys()
            .filter(|p| !new.contains_key(*p))
            .cloned()
            .collect();
        for path in removed {
            self.debouncer.push(path, true, false, now);
        }
    }

    /// Turns a due batch into changes, comparing each path with the disk now.
    fn resolve(&mut self, ready: Vec<(PathBuf, Pending)>) -> Vec<Change> {
        let mut changes = Vec::with_capacity(ready.len());
        for (path, pending) in ready {
            let meta = path.symlink_metadata().ok().filter(|m| !m.is_dir());
            let exists = meta.is_some();
            if exists {
                let mtime = meta.and_then(|m| m.modified().ok());
                self.known.insert(path.clone(), mtime);
            } else {
                self.known.remove(&path);
            }
            let Some(operation) = pending.operation(exists) else {
                continue;
            };
            let Some(i) = self
                .root_of(&path)
                .or_else(|| self.roots.iter().position(|r| path.starts_with(&r.path)))
            else {
                continue;
            };
            let rel = self.rel(i, &path);
            let label = &self.roots[i].dir.label;
            let shown = if label.is_empty() {
                rel
            } else {
                format!("{label}/{rel}")
            };
            changes.push(Change {
                path: shown,
                operation,
            });
        }
        changes
    }
}

/// Which scan a walk is, which decides its order and what it does with files.
#[derive(Clone, Copy)]
enum Scan {
    /// The first scan, before anyone can be connected: read before watching
    /// (no IN_OPEN noise), record the files.
    Startup,
    /// After lost events, with clients connected: watch before reading, so
    /// nothing made meanwhile is missed; record the files for the caller to compare.
    Rescan,
    /// A folder appeared while running: watch before reading, and put its
    /// files into the batch.
    Appeared(Instant),
}

/// What a walk does with a directory entry.
enum Entry {
    Dir,
    File,
    Skip,
}

/// The walk only enters directories that are not ignored, so the entry
/// itself is all that is left to check. Symbolic links are not followed: a
/// link to a directory could loop or leave the tree; a link to a file is a file.
fn classify(patterns: &Patterns, entry: &std::fs::DirEntry, rel: &str) -> Entry {
    if patterns.is_ignored_here(rel) {
        return Entry::Skip;
    }
    match entry.file_type() {
        Ok(kind) if kind.is_dir() => Entry::Dir,
        Ok(_) if patterns.is_included(rel) => Entry::File,
        _ => Entry::Skip,
    }
}

fn read_dir_or_warn(dir: &Path) -> Option<std::fs::ReadDir> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Some(entries),
        Err(e) => {
            log::warn!(
                "[HotReload] cannot read {}: {e}; its files are not watched.\n  fix: make it readable (chmod u+rx {}) or add it to `ignore`",
                dir.display(),
                dir.display()
            );
            None
        }
    }
}

/// Paths in `set` at or below `dir` (a contiguous range: paths order by component).
fn under<'a>(set: &'a BTreeSet<PathBuf>, dir: &'a Path) -> impl Iterator<Item = &'a PathBuf> + 'a {
    set.range(dir.to_path_buf()..)
        .take_while(move |p| p.starts_with(dir))
}

fn under_keys<'a, V>(
    map: &'a BTreeMap<PathBuf, V>,
    dir: &'a Path,
) -> impl Iterator<Item = &'a PathBuf> + 'a {
    map.range(dir.to_path_buf()..)
        .map(|(k, _)| k)
        .take_while(move |p| p.starts_with(dir))
}

fn inotify_instances_fix(e: &notify::Error) -> String {
    let too_many = matches!(&e.kind, notify::ErrorKind::Io(io) if io.raw_os_error() == Some(24));
    if too_many {
        "too many inotify instances are open; raise the limit with `sudo sysctl fs.inotify.max_user_instances=1024`, or close other watchers (IDEs, other dev servers)".into()
    } else {
        "check that this system supports inotify (network and some container filesystems do not)"
            .into()
    }
}

#[cfg(test)]
mod faults {
    //! Faults that cannot be made for real in a test: a full inotify watch
    //! table is machine-wide, so a backend refuses some watches on purpose.

    use std::collections::HashSet;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use notify::{EventHandler, RecommendedWatcher, RecursiveMode, WatcherKind};

    use super::*;
    use crate::hub::{Hub, Settings};

    /// The real inotify watcher, except that watches on `refused` fail the
    /// way the kernel fails them when `fs.inotify.max_user_watches` is reached.
    struct FullTable {
        inner: RecommendedWatcher,
        refused: HashSet<PathBuf>,
    }

    impl notify::Watcher for FullTable {
        fn new<F: EventHandler>(_: F, _: notify::Config) -> notify::Result<Self> {
            unreachable!("built directly in the test")
        }
        fn watch(&mut self, path: &Path, mode: RecursiveMode) -> notify::Result<()> {
            if self.refused.contains(path) {
                return Err(notify::Error::new(notify::ErrorKind::MaxFilesWatch)
                    .add_path(path.to_path_buf()));
            }
            self.inner.watch(path, mode)
        }
        fn unwatch(&mut self, path: &Path) -> notify::Result<()> {
            self.inner.unwatch(path)
        }
        fn kind() -> WatcherKind {
            WatcherKind::Inotify
        }
    }

    /// Keeps every log line, so the test can read what a user would see.
    struct Lines(Mutex<Vec<String>>);

    impl log::Log for Lines {
        fn enabled(&self, _: &log::Metadata) -> bool {
            true
        }
        fn log(&self, record: &log::Record) {
            if let Ok(mut lines) = self.0.lock() {
                lines.push(format!("{}", record.args()));
            }
        }
        fn flush(&self) {}
    }

    static LINES: Lines = Lines(Mutex::new(Vec::new()));

    #[test]
    fn a_full_watch_table_says_how_to_fix_it_and_the_rest_keeps_working() {
        // Other tests in this binary may have set no logger; this is the only one.
        let _ = log::set_logger(&LINES);
        log::set_max_level(log::LevelFilter::Warn);
        let dir = tempfile::tempdir().expect("temp dir");
        let root = std::path::absolute(dir.path()).expect("absolute");
        for sub in ["ok", "full"] {
            std::fs::create_dir_all(root.join(sub)).expect("mkdir");
            std::fs::write(root.join(sub).join("a.css"), "a{}").expect("write");
        }
        let config = Config {
            watch_dirs: vec![WatchDir::new(".", &root)],
            debounce_ms: 50,
            ..Config::default()
        };
        let hub = Arc::new(Hub::new(
            Settings {
                buffer: 10,
                heartbeat: Duration::from_secs(5),
                max_clients: 10,
            },
            "test".into(),
        ));
        let batches = hub.subscribe();
        let (events_tx, events) = unbounded();
        let inner = notify::recommended_watcher(move |e| {
            let _ = events_tx.send(e);
        })
        .expect("inotify");
        let backend = FullTable {
            inner,
            refused: HashSet::from([root.join("full")]),
        };
        let mut watcher = Watcher::start_with(&config, Arc::clone(&hub), Box::new(backend), events)
            .expect("starts although one directory could not be watched");

        let said = LINES.0.lock().map(|l| l.join("\n")).unwrap_or_default();
        assert!(
            said.contains("inotify watch limit")
                && said.contains("sudo sysctl fs.inotify.max_user_watches=524288"),
            "the log does not say what to do: {said}"
        );
        // The directory that could be watched still reports changes.
        std::fs::write(root.join("ok/a.css"), "b{}").expect("write");
        let batch = batches
            .recv_timeout(Duration::from_secs(10))
            .expect("a batch");
        assert_eq!(batch.changes[0].path, "ok/a.css");
        watcher.close().expect("close");
        hub.close();
    }
}
