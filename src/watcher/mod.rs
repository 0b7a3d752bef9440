//! The watcher thread (`hotreload-watcher`): notify events -> patterns ->
//! debounce -> one batch, handed to a channel.
//!
//! Every directory is watched on its own (not with notify's recursive mode),
//! so ignored trees such as `node_modules` cost no inotify watches. One walk
//! serves the startup scan, a rescan and a folder that appears: it watches
//! each folder before it reads it, so a file or folder made meanwhile is
//! either read or reported by an event, never lost. A watch dir that is
//! missing is waited for through a watch on its deepest existing ancestor,
//! checked again after that watch is in place. A batch compares each path
//! before and after it, so a temporary file an editor creates and renames
//! away never appears. In a git work tree, what git ignores is left out as
//! the `ignore` key's globs are ([`gitignore`]); a changed `.gitignore`
//! applies to the next event at once, and to the watches once the events
//! already queued are handled.

pub mod debounce;
pub(crate) mod gitignore;
mod mounts;
pub mod patterns;
mod poll;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, at, never, select, unbounded};
use notify::RecursiveMode;
use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind, RenameMode};

use crate::Error;
use crate::config::{Config, Debounce, Poll, WatchDir};
use crate::protocol::Change;
use crate::stoppable::Stoppable;
use debounce::{Debouncer, Pending, Seen};
use gitignore::GitIgnore;
use patterns::{Patterns, rel_string};

type Events = Receiver<notify::Result<notify::Event>>;

/// Queued events handled before a batch may close; see [`State::run`].
const MAX_DRAIN: usize = 10_000;

/// Makes the notify backend; a seam so tests and network filesystems can
/// use another (a `PollWatcher`, or one that fails on purpose).
pub(crate) type Backend = Box<dyn notify::Watcher + Send>;

/// The running watcher thread; `close()` (or drop) ends it.
pub(crate) struct Watcher {
    thread: Stoppable,
}

impl Watcher {
    /// Scans and watches every watch dir on the calling thread (so the
    /// "Watching" line is true when this returns), then starts the thread,
    /// which sends each batch's changes to `batches`.
    pub(crate) fn start(config: &Config, batches: Sender<Vec<Change>>) -> Result<Watcher, Error> {
        let (events_tx, events) = unbounded();
        let handler = move |event: notify::Result<notify::Event>| {
            // notify always asks inotify for IN_OPEN, so every folder the
            // walk reads raises one (thousands, for a big tree). Opening is
            // no change: such events stop here, on notify's thread.
            if let Ok(e) = &event
                && matches!(e.kind, EventKind::Access(AccessKind::Open(_)))
            {
                return;
            }
            // The receiver is gone only while shutting down.
            let _ = events_tx.send(event);
        };
        let paths: Vec<PathBuf> = (config.watch_dirs.iter())
            .map(|dir| std::path::absolute(&dir.path).unwrap_or_else(|_| dir.path.clone()))
            .collect();
        // Only Linux has mountinfo (elsewhere `auto` stays native, quietly).
        let mountinfo = match config.poll {
            Poll::Auto if cfg!(target_os = "linux") => {
                Some(std::fs::read_to_string("/proc/self/mountinfo"))
            }
            _ => None,
        };
        let plan = PollPlan::new(config.poll, &paths, mountinfo);
        // Without a polled root, the native backend alone, as always; with
        // only polled ones, no inotify instance at all.
        let native =
            match !plan.native.is_empty() || plan.polled.is_empty() {
                true => Some(notify::recommended_watcher(handler.clone()).map_err(|e| {
                    Error::Watch {
                        problem: format!("cannot start the file watcher: {e}"),
                        fix: inotify_instances_fix(&e),
                    }
                })?),
                false => None,
            };
        let backend: Backend = match (native, plan.polled.is_empty()) {
            (Some(native), true) => Box::new(native),
            (native, _) => Box::new(poll::Split {
                native: native.map(|n| Box::new(n) as Backend),
                poll: Some(poll::Poller::start(handler, plan.interval)?),
                polled: plan.polled,
                native_roots: plan.native,
            }),
        };
        Watcher::start_with(config, batches, backend, events)
    }

    pub(crate) fn start_with(
        config: &Config,
        batches: Sender<Vec<Change>>,
        backend: Backend,
        events: Events,
    ) -> Result<Watcher, Error> {
        let patterns = Patterns::new(&config.patterns, &config.ignore)?;
        let paths: Vec<PathBuf> = (config.watch_dirs.iter())
            .map(|dir| std::path::absolute(&dir.path).unwrap_or_else(|_| dir.path.clone()))
            .collect();
        let git = if config.gitignore {
            GitIgnore::new(&paths)
        } else {
            None
        };
        let mut state = State {
            roots: Vec::new(),
            backend,
            watched: BTreeSet::new(),
            ancestors: BTreeSet::new(),
            known: BTreeMap::new(),
            patterns,
            debouncer: {
                let quiet = std::time::Duration::from_millis(config.debounce_ms.quiet_ms());
                let max_wait = std::time::Duration::from_millis(config.max_wait_ms);
                match config.debounce_ms {
                    Debounce::Auto => Debouncer::auto(quiet, max_wait),
                    Debounce::Ms(_) => Debouncer::new(quiet, max_wait),
                }
            },
            batches,
            limit_warned: false,
            git,
            git_watched: BTreeSet::new(),
            rules_changed: None,
        };
        let mut files = 0;
        for (dir, path) in config.watch_dirs.iter().zip(paths) {
            state.roots.push(Root {
                dir: dir.clone(),
                path,
                present: false,
                git_ignored: false,
            });
        }
        state.watch_git_folders();
        for i in 0..state.roots.len() {
            files += state.attach_root(i, Scan::Startup);
        }
        log::info!(
            "[HotReload] Watching {} director{} ({files} file{})",
            state.roots.len(),
            if state.roots.len() == 1 { "y" } else { "ies" },
            if files == 1 { "" } else { "s" }
        );
        let thread = Stoppable::spawn("hotreload-watcher", move |stopped| {
            state.run(events, stopped)
        })?;
        Ok(Watcher { thread })
    }

    /// Stops the thread and waits for it (it is never blocked for long: it
    /// only waits on channels). Dropping the notify backend stops its thread too.
    pub(crate) fn close(&mut self) -> Result<(), Error> {
        self.thread.close()
    }
}

/// Which watch dirs are polled, and how often: decided once at start.
#[derive(Debug, PartialEq)]
struct PollPlan {
    polled: Vec<PathBuf>,
    native: Vec<PathBuf>,
    interval: std::time::Duration,
}

impl PollPlan {
    /// Splits `paths` by `poll`; under `auto`, by their filesystems as
    /// `mountinfo` (the text of `/proc/self/mountinfo`, or why it could
    /// not be read) says. Logs one line per polled dir with the reason.
    fn new(poll: Poll, paths: &[PathBuf], mountinfo: Option<io::Result<String>>) -> PollPlan {
        let ms = match poll {
            Poll::Every(ms) => ms,
            Poll::Auto | Poll::Never => Poll::DEFAULT_MS,
        };
        let mut plan = PollPlan {
            polled: Vec::new(),
            native: Vec::new(),
            interval: std::time::Duration::from_millis(ms),
        };
        let text = match (poll, mountinfo) {
            (Poll::Never, _) | (Poll::Auto, None) => {
                plan.native = paths.to_vec();
                return plan;
            }
            (Poll::Every(_), _) => {
                for path in paths {
                    log::info!(
                        "[HotReload] polling {} every {ms} ms (poll is on)",
                        path.display()
                    );
                }
                plan.polled = paths.to_vec();
                return plan;
            }
            (Poll::Auto, Some(Ok(text))) => text,
            (Poll::Auto, Some(Err(e))) => {
                log::warn!(
                    "[HotReload] cannot read /proc/self/mountinfo ({e}), so every watch dir is watched by system events.\n  fix: if changes made on another machine (a share, WSL, a container's host) go unnoticed, pass --poll (or set `poll: true`)"
                );
                plan.native = paths.to_vec();
                return plan;
            }
        };
        for path in paths {
            match mounts::decide(&text, &mounts::real_path(path)) {
                Some(remote) => {
                    log::info!(
                        "[HotReload] polling {} every {ms} ms: it is on {} ({} at {}), which sends no events for changes made on the other side",
                        path.display(),
                        remote.what,
                        remote.fstype,
                        remote.mount.display()
                    );
                    plan.polled.push(path.clone());
                }
                None => plan.native.push(path.clone()),
            }
        }
        plan
    }
}

struct Root {
    dir: WatchDir,
    /// Absolute, as notify reports paths under it.
    path: PathBuf,
    present: bool,
    /// git ignores the watch dir itself: nothing in it is reported, and
    /// only its own folder is watched (to see the rules change).
    git_ignored: bool,
}

struct State {
    roots: Vec<Root>,
    backend: Backend,
    /// Directories under a root that have their own watch.
    watched: BTreeSet<PathBuf>,
    /// Ancestors watched while waiting for a missing root, with how many roots wait on each.
    ancestors: BTreeSet<PathBuf>,
    /// Every reported file that exists, with its modification time (for rescans).
    known: BTreeMap<PathBuf, Option<SystemTime>>,
    patterns: Patterns,
    debouncer: Debouncer<PathBuf>,
    /// Where batches go; disconnected when the manager is closing.
    batches: Sender<Vec<Change>>,
    limit_warned: bool,
    /// git's ignore rules, when `gitignore` is on and a root is in a work tree.
    git: Option<GitIgnore>,
    /// Folders outside every root watched for edits to git's rules: those
    /// between a work tree's top and a root, and the one of `info/exclude`.
    git_watched: BTreeSet<PathBuf>,
    /// A `.gitignore` changed, at its modification time (the latest, if
    /// several did): the watches follow once queued events are handled.
    rules_changed: Option<SystemTime>,
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
            // Events already waiting belong to the window before it
            // closes: when this thread was kept off the CPU past the quiet
            // time, the burst it missed is still one burst. (Bounded: a
            // storm ends its batch at max_wait_ms all the same.)
            for _ in 0..MAX_DRAIN {
                match events.try_recv() {
                    Ok(Ok(event)) => self.handle(event, Instant::now()),
                    Ok(Err(e)) => log::warn!("[HotReload] watcher error: {e}"),
                    Err(_) => break,
                }
            }
            if let Some(since) = self.rules_changed.take() {
                self.follow_new_rules(RulesChanged {
                    since,
                    now: Instant::now(),
                });
            }
            if let Some(ready) = self.debouncer.take_ready(Instant::now()) {
                let changes = self.resolve(ready);
                if !changes.is_empty() && self.batches.send(changes).is_err() {
                    break;
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
        // A `.gitignore`'s own event is handled under the rules before it,
        // so its own `created` is not taken for a file older than the rules.
        let rules_files = match self.git {
            Some(_) => event.paths.clone(),
            None => Vec::new(),
        };
        self.handle_change(event, now);
        self.note_gitignore_changes(&rules_files);
    }

    /// A change (not an access) to the paths of `event`.
    fn handle_change(&mut self, event: notify::Event, now: Instant) {
        match event.kind {
            // A move whose other end is outside every watched folder (the
            // trash, another project) is a deletion; a move inside the tree
            // follows as `Both`, which makes it a rename.
            EventKind::Modify(ModifyKind::Name(RenameMode::From)) => {
                // A moved folder's own watch reports the move too, without
                // the cookie that pairs it with its new name, and after the
                // pair: only a watch dir (whose parent is not watched) needs it.
                let own_watch = event.tracker().is_none();
                for path in &event.paths {
                    if !own_watch || self.roots.iter().any(|r| r.present && r.path == *path) {
                        self.gone(path, false, now);
                    }
                }
            }
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)) => {
                if let [from, to] = &event.paths[..] {
                    // Moved over the path, as inotify paired it (by its
                    // cookie); polling has no cookies and no close events,
                    // so a polled batch always waits its quiet time.
                    let seen = finished_if(event.tracker().is_some());
                    self.gone(from, true, now);
                    self.touch(to, seen, now);
                }
            }
            EventKind::Remove(_) => {
                for path in &event.paths {
                    self.gone(path, false, now);
                }
            }
            kind => {
                // Create, write, metadata, rename target, or a kind the
                // backend could not name: the disk says what it is now.
                // A rename target is finished by the `Both` that notify
                // sends after this `To` when inotify paired the two; sent
                // between them, a save by rename would leave its `Both` to
                // start a batch of its own.
                let seen = match kind {
                    EventKind::Access(AccessKind::Close(AccessMode::Write)) => Seen::Finished,
                    EventKind::Modify(ModifyKind::Metadata(_)) => Seen::Attributes,
                    _ => Seen::Written,
                };
                for path in &event.paths {
                    if path.symlink_metadata().is_ok() {
                        self.touch(path, seen, now);
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

    /// Something exists at `path` now (created, written, moved here), as
    /// `seen` says.
    fn touch(&mut self, path: &Path, seen: Seen, now: Instant) {
        let Some(i) = self.root_of(path) else {
            self.check_missing_roots(now);
            return;
        };
        let rel = self.rel(i, path);
        if rel.is_empty() || self.patterns.is_ignored(&rel) {
            return;
        }
        let is_dir = path.symlink_metadata().map(|m| m.is_dir()).unwrap_or(false);
        if self.git_ignores(path, is_dir) {
            return;
        }
        if is_dir {
            if !self.watched.contains(path) {
                // A folder made (or moved here) anew: its rules too.
                if let Some(git) = &mut self.git {
                    git.forget(path);
                }
                self.walk(path, Scan::Appeared(now));
            }
        } else if self.patterns.is_reported(&rel) {
            let before = self.known.contains_key(path) || self.made_before_new_rules(path);
            self.debouncer.push(path.to_path_buf(), before, seen, now);
        }
    }

    /// Between a `.gitignore` edit and [`State::follow_new_rules`] (the
    /// rest of the queued events), a file git no longer ignores is not yet
    /// recorded: was it there before the edit (so its change is `modified`)?
    fn made_before_new_rules(&self, path: &Path) -> bool {
        self.rules_changed.is_some_and(|since| {
            let change = RulesChanged {
                since,
                now: Instant::now(),
            };
            !change.is_new(path.symlink_metadata().ok().as_ref())
        })
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
        // A folder: watched still, or (the second event of a move) already
        // unwatched with the files we knew in it.
        if self.watched.contains(path) || under_keys(&self.known, path).any(|p| p != path) {
            self.forget_tree(path, moved, now);
            return;
        }
        let rel = self.rel(i, path);
        if self.patterns.is_reported(&rel) && !self.git_ignores(path, false) {
            let before = self.known.contains_key(path);
            self.debouncer
                .push(path.to_path_buf(), before, gone_as(moved), now);
        }
    }

    /// A directory left: unwatch it and everything below, and put each file
    /// we knew there into the batch (a move reports no events for them).
    fn forget_tree(&mut self, dir: &Path, moved: bool, now: Instant) {
        if let Some(git) = &mut self.git {
            git.forget(dir);
        }
        let dirs: Vec<PathBuf> = under(&self.watched, dir).cloned().collect();
        for d in dirs {
            self.watched.remove(&d);
            // Already gone from the kernel when the directory was deleted.
            let _ = self.backend.unwatch(&d);
        }
        let files: Vec<PathBuf> = under_keys(&self.known, dir).cloned().collect();
        for f in files {
            self.debouncer.push(f, true, gone_as(moved), now);
        }
    }

    /// Watches `dir` and every directory below that is not ignored, and
    /// records or reports the files found, as `scan` says. Returns files found.
    ///
    /// Each folder is opened, then watched, then read: a file made before
    /// the watch is in the listing, one made after raises an event, and our
    /// own opening raises no IN_OPEN on the folder itself (those on its
    /// parent's watch are dropped in notify's callback).
    fn walk(&mut self, dir: &Path, scan: Scan) -> usize {
        let Some(i) = self.root_of(dir) else { return 0 };
        if dir == self.roots[i].path {
            self.check_root_ignored(i);
        }
        let mut files = 0;
        let mut stack = vec![dir.to_path_buf()];
        let mut failed = Vec::new();
        while let Some(dir) = stack.pop() {
            if self.watched.contains(&dir) {
                continue;
            }
            let entries = read_dir_or_warn(&dir);
            if let Err(e) = self.watch_dir(&dir) {
                failed.push((dir, e));
                continue;
            }
            for entry in entries.into_iter().flatten().flatten() {
                let path = entry.path();
                let rel = self.rel(i, &path);
                let kind = match classify(&self.patterns, &entry, &rel) {
                    // An ignored watch dir: its own watch only.
                    _ if self.roots[i].git_ignored => Entry::Skip,
                    Entry::Dir if self.git_ignores_here(&path, true) => Entry::Skip,
                    Entry::File if self.git_ignores_here(&path, false) => Entry::Skip,
                    kind => kind,
                };
                match kind {
                    Entry::Dir => stack.push(path),
                    Entry::File => {
                        files += 1;
                        match scan {
                            Scan::Appeared(now) => {
                                let before = self.known.contains_key(&path);
                                self.debouncer.push(path, before, Seen::Written, now);
                            }
                            Scan::Unignored(change) => {
                                let meta = entry.metadata().ok();
                                let mtime = meta.as_ref().and_then(|m| m.modified().ok());
                                if change.is_new(meta.as_ref()) {
                                    let before = self.known.contains_key(&path);
                                    self.debouncer.push(path, before, Seen::Written, change.now);
                                } else {
                                    self.known.insert(path.clone(), mtime);
                                    // Saved since, maybe before this folder's watch.
                                    if change.is_changed(meta.as_ref()) {
                                        self.debouncer.push(path, true, Seen::Written, change.now);
                                    }
                                }
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
                _ if is_not_found(&e) => {}
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

    /// Starts watching root `i` if it exists, else waits for it through its
    /// deepest existing ancestor. Returns the files found.
    fn attach_root(&mut self, i: usize, scan: Scan) -> usize {
        if self.roots[i].path.is_dir() {
            self.roots[i].present = true;
            let path = self.roots[i].path.clone();
            return self.walk(&path, scan);
        }
        let path = &self.roots[i].path;
        let problem = if path.exists() {
            "is not a folder"
        } else {
            "does not exist"
        };
        // At startup a missing folder is most often a misspelt name; later
        // it is a build clearing its output, which needs no advice.
        let fix = match scan {
            Scan::Startup => " (if the name is wrong, fix watch_dirs or --watch)",
            Scan::Rescan | Scan::Appeared(_) | Scan::Unignored(_) => "",
        };
        log::warn!(
            "[HotReload] watch dir {} {problem}; it will be watched when it appears{fix}",
            path.display(),
        );
        self.wait_for_root(i, scan)
    }

    /// Watches the deepest existing folder on the way to missing root `i`,
    /// then looks again: a folder made on the way before that watch was in
    /// place raised no event for it, so the walk goes deeper until the next
    /// folder is still missing once its parent is watched (or the root is
    /// there, and watched). Returns the files found.
    fn wait_for_root(&mut self, i: usize, scan: Scan) -> usize {
        let root = self.roots[i].path.clone();
        // Each round goes one folder deeper, or a folder on the way was
        // removed again as fast as it was made; either way, bounded.
        for _ in 0..=root.components().count() + 8 {
            if root.is_dir() {
                self.roots[i].present = true;
                log::info!(
                    "[HotReload] watch dir {} appeared; watching it",
                    root.display()
                );
                return self.walk(&root, scan);
            }
            let Some(ancestor) = root.ancestors().skip(1).find(|a| a.is_dir()) else {
                return 0;
            };
            let ancestor = ancestor.to_path_buf();
            match self.watch_ancestor(ancestor.clone()) {
                Ok(true) => {}
                // Removed since it was found: look again, higher up.
                Ok(false) => continue,
                Err(e) => {
                    log::warn!(
                        "[HotReload] cannot watch {} to wait for watch dir {}: {e}",
                        ancestor.display(),
                        root.display()
                    );
                    return 0;
                }
            }
            let next = root
                .ancestors()
                .take_while(|a| *a != ancestor)
                .last()
                .map(Path::to_path_buf);
            if next.is_none_or(|next| !next.exists()) {
                return 0;
            }
        }
        log::warn!(
            "[HotReload] the folders on the way to watch dir {} keep changing; it is watched once they settle",
            root.display()
        );
        0
    }

    /// Watches `dir` to see a missing root appear below it. `Ok(false)`
    /// when `dir` is gone by now (removed as fast as it was found).
    fn watch_ancestor(&mut self, dir: PathBuf) -> Result<bool, notify::Error> {
        if self.ancestors.contains(&dir)
            || self.watched.contains(&dir)
            || self.git_watched.contains(&dir)
        {
            return Ok(true);
        }
        match self.backend.watch(&dir, RecursiveMode::NonRecursive) {
            Ok(()) => {
                self.ancestors.insert(dir);
                Ok(true)
            }
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn unwatch_ancestors(&mut self) {
        for dir in std::mem::take(&mut self.ancestors) {
            if !self.watched.contains(&dir) && !self.git_watched.contains(&dir) {
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
            self.wait_for_root(i, Scan::Appeared(now));
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
                self.debouncer
                    .push(path.clone(), before, Seen::Written, now);
            }
        }
        let removed: Vec<PathBuf> = self
            .known
            .keys()
            .filter(|p| !new.contains_key(*p))
            .cloned()
            .collect();
        for path in removed {
            self.debouncer.push(path, true, Seen::Deleted, now);
        }
    }

    /// Watches the folders of git's rules files that no walk covers, so
    /// that edits there apply too. A folder that cannot be watched (gone)
    /// is left out: its rules then stay as they were read.
    fn watch_git_folders(&mut self) {
        let Some(git) = &self.git else { return };
        let roots: Vec<PathBuf> = self.roots.iter().map(|r| r.path.clone()).collect();
        for dir in git.outer_folders(&roots) {
            match self.backend.watch(&dir, RecursiveMode::NonRecursive) {
                Ok(()) => {
                    self.git_watched.insert(dir);
                }
                Err(e) => log::debug!(
                    "[HotReload] not watching {} for .gitignore edits: {e}",
                    dir.display()
                ),
            }
        }
    }

    /// Does git ignore `path`, itself or through a parent folder?
    fn git_ignores(&mut self, path: &Path, is_dir: bool) -> bool {
        self.git
            .as_mut()
            .is_some_and(|git| git.is_ignored(path, is_dir))
    }

    /// Does git ignore `path` itself? For walks, which never enter an
    /// ignored folder.
    fn git_ignores_here(&mut self, path: &Path, is_dir: bool) -> bool {
        self.git
            .as_mut()
            .is_some_and(|git| git.is_ignored_here(path, is_dir))
    }

    /// Sees whether git ignores watch dir `i` itself, and says so when that
    /// is new: a user who named the folder surely wants to hear why nothing
    /// in it is reported.
    fn check_root_ignored(&mut self, i: usize) {
        let path = self.roots[i].path.clone();
        let hit = self
            .git
            .as_mut()
            .and_then(|git| git.ignored_by(&path, true));
        if let Some(hit) = &hit
            && !self.roots[i].git_ignored
        {
            log::warn!(
                "[HotReload] watch dir {} is ignored by git ({hit}), so nothing in it is reported.\n  fix: remove that line (or add a `!` line after it), or set `gitignore: false` (`--no-gitignore`)",
                path.display()
            );
        }
        self.roots[i].git_ignored = hit.is_some();
    }

    /// A `.gitignore` (or `info/exclude`) among `paths` was written, made, moved or deleted:
    /// its folder's rules are read again at the next question (so the
    /// next event follows them), and the watches follow after this drain.
    fn note_gitignore_changes(&mut self, paths: &[PathBuf]) {
        for path in paths {
            if let Some(git) = &mut self.git
                && git.changed(path)
            {
                // A deleted one counts from now.
                let at = (path.symlink_metadata().and_then(|m| m.modified()))
                    .unwrap_or_else(|_| SystemTime::now());
                self.rules_changed = Some(self.rules_changed.map_or(at, |t| t.max(at)));
            }
        }
    }

    /// After a `.gitignore` changed: folders git now ignores lose their
    /// watch (their files are forgotten, not reported deleted: they are
    /// still there), folders it no longer ignores are watched, and files
    /// that became reportable are recorded so their next change is
    /// `modified`. Files made since the `.gitignore` changed are left to
    /// their own events (or, in a folder not watched until now, reported
    /// `created`), so a file made just after the edit is not taken for an
    /// old one; in such a folder, one saved since is reported `modified`.
    ///
    /// It reads every watched folder once: a cost for a rare event.
    fn follow_new_rules(&mut self, change: RulesChanged) {
        for i in 0..self.roots.len() {
            if self.roots[i].present {
                self.check_root_ignored(i);
            }
        }
        let watched: Vec<PathBuf> = self.watched.iter().cloned().collect();
        for dir in &watched {
            let Some(i) = self.root_of(dir) else { continue };
            let is_root = *dir == self.roots[i].path;
            if !self.watched.contains(dir) || is_root {
                continue;
            }
            if self.roots[i].git_ignored || self.git_ignores(dir, true) {
                let below: Vec<PathBuf> = under(&self.watched, dir).cloned().collect();
                for d in below {
                    self.watched.remove(&d);
                    let _ = self.backend.unwatch(&d);
                }
            }
        }
        for dir in self.watched.iter().cloned().collect::<Vec<_>>() {
            let Some(i) = self.root_of(&dir) else {
                continue;
            };
            if self.roots[i].git_ignored {
                continue;
            }
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                let rel = self.rel(i, &path);
                match classify(&self.patterns, &entry, &rel) {
                    Entry::Dir => {
                        if !self.watched.contains(&path) && !self.git_ignores_here(&path, true) {
                            self.walk(&path, Scan::Unignored(change));
                        }
                    }
                    Entry::File if self.git_ignores_here(&path, false) => {
                        self.known.remove(&path);
                    }
                    Entry::File => {
                        let meta = entry.metadata().ok();
                        // One made since has its own events, which say `created`.
                        if !self.known.contains_key(&path)
                            && self.patterns.is_reported(&rel)
                            && !change.is_new(meta.as_ref())
                        {
                            let mtime = meta.as_ref().and_then(|m| m.modified().ok());
                            self.known.insert(path, mtime);
                        }
                    }
                    Entry::Skip => {}
                }
            }
        }
        // Files in folders no longer watched, or in an ignored watch dir.
        let stale: Vec<PathBuf> = (self.known.keys())
            .filter(|p| {
                let watched = p.parent().is_some_and(|d| self.watched.contains(d));
                !watched || self.root_of(p).is_none_or(|i| self.roots[i].git_ignored)
            })
            .cloned()
            .collect();
        for path in stale {
            self.known.remove(&path);
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

/// A rename's target is finished when the kernel paired the rename.
fn finished_if(paired: bool) -> Seen {
    if paired {
        Seen::Finished
    } else {
        Seen::Written
    }
}

/// How a path left: moved inside the tree, or gone.
fn gone_as(moved: bool) -> Seen {
    if moved {
        Seen::MovedAway
    } else {
        Seen::Deleted
    }
}

/// Which scan a walk is, which decides what it does with the files it finds.
#[derive(Clone, Copy)]
enum Scan {
    /// The first scan: record the files.
    Startup,
    /// After lost events: record the files for the caller to compare.
    Rescan,
    /// A folder appeared while running: put its files into the batch.
    Appeared(Instant),
    /// git stopped ignoring a folder: record the files that were there
    /// before the rules changed, put the ones made or saved since into the
    /// batch (`created`, or `modified`).
    Unignored(RulesChanged),
}

/// When a `.gitignore` changed: a file made before it was there all
/// along, and one made since is new (its events may still be on the way).
#[derive(Clone, Copy)]
struct RulesChanged {
    since: SystemTime,
    now: Instant,
}

impl RulesChanged {
    /// Made since the rules changed? By its birth time, or where the
    /// filesystem keeps none, its modification time.
    fn is_new(&self, meta: Option<&std::fs::Metadata>) -> bool {
        let born = meta.and_then(|m| m.created().or_else(|_| m.modified()).ok());
        born.is_none_or(|t| t >= self.since)
    }

    /// Modified since the rules changed?
    fn is_changed(&self, meta: Option<&std::fs::Metadata>) -> bool {
        let mtime = meta.and_then(|m| m.modified().ok());
        mtime.is_none_or(|t| t >= self.since)
    }
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

fn is_not_found(e: &notify::Error) -> bool {
    match &e.kind {
        notify::ErrorKind::PathNotFound => true,
        notify::ErrorKind::Io(io) => io.kind() == io::ErrorKind::NotFound,
        _ => false,
    }
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
    use std::sync::Mutex;
    use std::time::Duration;

    use notify::{EventHandler, RecommendedWatcher, RecursiveMode, WatcherKind};

    use super::*;

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
            debounce_ms: Debounce::Ms(50),
            ..Config::default()
        };
        let (batches_tx, batches) = unbounded();
        let (events_tx, events) = unbounded();
        let inner = notify::recommended_watcher(move |e| {
            let _ = events_tx.send(e);
        })
        .expect("inotify");
        let backend = FullTable {
            inner,
            refused: HashSet::from([root.join("full")]),
        };
        let mut watcher = Watcher::start_with(&config, batches_tx, Box::new(backend), events)
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
        assert_eq!(batch[0].path, "ok/a.css");
        watcher.close().expect("close");
    }
}

#[cfg(test)]
mod plan {
    use super::*;

    #[test]
    fn auto_polls_the_dirs_on_shares_and_forced_polls_all() {
        let info = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n80 22 0:50 / /mnt/c rw - 9p drvfs rw\n";
        let paths: Vec<PathBuf> = vec!["/home/me/site".into(), "/mnt/c/site".into()];
        let ms = |n| std::time::Duration::from_millis(n);
        let auto = PollPlan::new(Poll::Auto, &paths, Some(Ok(info.into())));
        assert_eq!(auto.polled, [PathBuf::from("/mnt/c/site")]);
        assert_eq!(auto.native, [PathBuf::from("/home/me/site")]);
        assert_eq!(auto.interval, ms(500));
        let all = PollPlan::new(Poll::Every(100), &paths, None);
        assert_eq!(
            (all.polled.len(), all.native.len(), all.interval),
            (2, 0, ms(100))
        );
        let never = PollPlan::new(Poll::Never, &paths, Some(Ok(info.into())));
        assert_eq!((never.polled.len(), never.native.len()), (0, 2));
        // An unreadable mountinfo: native, with a warning.
        let unread = io::Error::new(io::ErrorKind::PermissionDenied, "denied");
        let blind = PollPlan::new(Poll::Auto, &paths, Some(Err(unread)));
        assert_eq!((blind.polled.len(), blind.native.len()), (0, 2));
    }
}
