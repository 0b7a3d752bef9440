//! The polling backend (thread `hotreload-poll`) for watch dirs whose
//! filesystem sends no events, and [`Split`], which routes each folder's
//! watch to polling or to the native backend.
//!
//! Why not notify's `PollWatcher`: it compares modification times in whole
//! seconds and never sizes, so a save in the same second as the last one
//! is lost, and its thread is never joined. This one keeps, per watched
//! folder (each watched on its own, as with inotify), every entry's
//! modification time, size, inode and type, and every interval reads each
//! folder again and sends notify events for what differs: the watcher's
//! own code turns them into batches, exactly as it does native events.
//! A move is one rename, as inotify reports it, even when it falls while
//! a round reads its folders (see [`round_with`]). Contents are never read.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use crossbeam_channel::{Receiver, after, select};
use notify::event::{CreateKind, DataChange, EventKind, ModifyKind, RemoveKind, RenameMode};
use notify::{Event, EventHandler, RecursiveMode, WatcherKind};

use super::Backend;
use crate::stoppable::Stoppable;

/// What is compared of one entry: a change to any part is a change.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Stamp {
    mtime: Option<SystemTime>,
    size: u64,
    /// A save by rename gives the name another inode, maybe with the same
    /// time and size; and it pairs the two ends of a rename.
    ino: (u64, u64),
    /// Birth time, where the filesystem keeps one: an inode freed by a
    /// delete and reused by a new file is not the old file moved.
    born: Option<SystemTime>,
    is_dir: bool,
}

impl Stamp {
    /// Could `self` (a name gone) be `now` (a name new) moved? A move keeps
    /// the inode and its birth, and a file's time and size (a folder's
    /// time changes when it moves to another parent).
    fn moved_to(&self, now: &Stamp) -> bool {
        match self.is_dir {
            true => now.is_dir && self.ino == now.ino && self.born == now.born,
            false => self == now,
        }
    }

    fn of(meta: &std::fs::Metadata) -> Stamp {
        Stamp {
            mtime: meta.modified().ok(),
            size: meta.len(),
            ino: (meta.dev(), meta.ino()),
            born: meta.created().ok(),
            is_dir: meta.is_dir(),
        }
    }
}

/// One watched folder's entries, by name.
type Listing = HashMap<OsString, Stamp>;

/// Reads `dir`'s entries without following symbolic links (as the walk).
fn list(dir: &Path) -> std::io::Result<Listing> {
    Ok(stamps(std::fs::read_dir(dir)?.flatten()))
}

/// The stamps of entries already listed. A name moved or deleted between
/// its listing and its metadata is left out, as if gone: the round looks
/// again before it reports a name gone with no new name to pair it with.
fn stamps(entries: impl IntoIterator<Item = std::fs::DirEntry>) -> Listing {
    let mut listing = Listing::new();
    for entry in entries {
        if let Ok(meta) = entry.metadata() {
            listing.insert(entry.file_name(), Stamp::of(&meta));
        }
    }
    listing
}

/// How a round reads one folder: [`list`], or in tests a reader that
/// moves things at a chosen point of the round.
type Read<'a> = &'a mut dyn FnMut(&Path) -> std::io::Result<Listing>;

type Folders = Arc<Mutex<BTreeMap<PathBuf, Listing>>>;

fn lock(folders: &Folders) -> MutexGuard<'_, BTreeMap<PathBuf, Listing>> {
    // A panic on the poll thread leaves the map as it was: still usable.
    folders.lock().unwrap_or_else(|e| e.into_inner())
}

/// Polls the folders it is asked to watch, each on its own (never
/// recursively), every `interval`; its thread stops and is joined on drop,
/// once the round under way ends (tens of milliseconds for 10,000 files).
pub(crate) struct Poller {
    folders: Folders,
    _thread: Stoppable,
}

impl Poller {
    /// Starts the thread; events go to `handler`, as a notify backend's do.
    pub(crate) fn start(
        mut handler: impl EventHandler,
        interval: Duration,
    ) -> Result<Poller, crate::Error> {
        let folders = Folders::default();
        let shared = Arc::clone(&folders);
        let thread = Stoppable::spawn("hotreload-poll", move |stop: Receiver<()>| {
            loop {
                select! {
                    recv(stop) -> _ => break,
                    recv(after(interval)) -> _ => {}
                }
                for event in round(&shared) {
                    handler.handle_event(Ok(event));
                }
            }
        })?;
        Ok(Poller {
            folders,
            _thread: thread,
        })
    }
}

/// What a round found so far: events to send, and names gone and new
/// (paired into renames once every folder is read).
#[derive(Default)]
struct Seen {
    events: Vec<Event>,
    /// Each with the place, in the round's order, of the folder whose
    /// read found it gone: the folders read before it may have been read
    /// before the move that took it there.
    gone: Vec<(PathBuf, Stamp, usize)>,
    new: Vec<(PathBuf, Stamp)>,
    /// The place of the folder being read.
    at: usize,
}

/// Reads watched folder `dir` again and compares, under the lock.
fn read_again(folders: &Folders, dir: &Path, seen: &mut Seen, read: Read) {
    let mut folders = lock(folders);
    let now = read(dir);
    if !folders.contains_key(dir) {
        return; // unwatched meanwhile
    }
    match now {
        Ok(now) => {
            if let Some(old) = folders.get_mut(dir) {
                compare(dir, old, now, seen);
            }
        }
        Err(_) => {
            folders.remove(dir);
            gone_under_its_parent(&mut folders, dir, seen, read);
        }
    }
}

/// `dir` cannot be read any more, though its parent's listing (read
/// before it, this round) may still have it: it was moved, deleted, or
/// deleted and made again since. The parent is read again now, so that
/// this round pairs a move into one rename (inotify's view) instead of a
/// deletion now and a creation a round later; if the parent still lists
/// it as it was (an unreadable folder), it is reported gone and dropped
/// from that listing, so the next round reports it made if it is there.
/// Left unsaid, the watcher would take a folder nobody polls for watched.
fn gone_under_its_parent(
    folders: &mut BTreeMap<PathBuf, Listing>,
    dir: &Path,
    seen: &mut Seen,
    read: Read,
) {
    let remove = |seen: &mut Seen| {
        let kind = EventKind::Remove(RemoveKind::Folder);
        seen.events
            .push(Event::new(kind).add_path(dir.to_path_buf()));
    };
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return remove(seen);
    };
    let Some(old) = folders.get_mut(parent) else {
        return remove(seen);
    };
    let Some(was) = old.get(name).copied() else {
        return; // the parent's read this round said it already
    };
    match read(parent) {
        Ok(now) => {
            let same = now.get(name).is_some_and(|stamp| was.moved_to(stamp));
            compare(parent, old, now, seen);
            if same {
                old.remove(name);
                remove(seen);
            }
        }
        Err(_) => {
            // The parent goes too; its own parent's turn says so.
            old.remove(name);
            remove(seen);
        }
    }
}

/// Compares `dir`'s listing `now` with the one kept, notes what differs
/// in `seen`, and keeps `now`.
fn compare(dir: &Path, old: &mut Listing, now: Listing, seen: &mut Seen) {
    for (name, stamp) in &now {
        match old.get(name) {
            None => seen.new.push((dir.join(name), *stamp)),
            // Another folder under the same name (deleted and made
            // again): the old one went, a new one came.
            Some(was) if was.is_dir && stamp.is_dir && !was.moved_to(stamp) => {
                seen.gone.push((dir.join(name), *was, seen.at));
                seen.new.push((dir.join(name), *stamp));
            }
            // A folder's own time changes with its entries: its own
            // watch reports those.
            Some(was) if *was != *stamp && !(was.is_dir && stamp.is_dir) => {
                let kind = EventKind::Modify(ModifyKind::Data(DataChange::Any));
                seen.events.push(Event::new(kind).add_path(dir.join(name)));
            }
            Some(_) => {}
        }
    }
    for (name, stamp) in old.iter() {
        if !now.contains_key(name) {
            seen.gone.push((dir.join(name), *stamp, seen.at));
        }
    }
    *old = now;
}

/// One round: every folder read again and compared, each under the lock
/// on its own (so a watch waits for one folder's read, not the round's).
/// A name gone and a name new with the same inode in the same round are
/// a rename, reported as one, as inotify pairs them.
fn round(folders: &Folders) -> Vec<Event> {
    round_with(folders, &mut list)
}

/// A round, reading with `read`. Folders are not read at one instant: a
/// move can fall between the reads of its two ends, or inside one read
/// (between a folder's names and their metadata, so that neither name is
/// in its listing). Then one end shows alone. Reported so, it would be a
/// deletion, and the other end a creation a round later: two batches
/// where inotify gives one rename. So before the events go out, the
/// folders that may hold the other end are read again ([`second_look`]);
/// they are read after the move, so they show it.
fn round_with(folders: &Folders, read: Read) -> Vec<Event> {
    let dirs: Vec<PathBuf> = lock(folders).keys().cloned().collect();
    let mut seen = Seen::default();
    for (at, dir) in dirs.iter().enumerate() {
        seen.at = at;
        read_again(folders, dir, &mut seen, read);
    }
    let again = second_look(&seen, &dirs, &lock(folders));
    for (at, dir) in dirs.iter().enumerate() {
        if again.contains(dir) {
            seen.at = at;
            read_again(folders, dir, &mut seen, read);
        }
    }
    paired(seen)
}

/// The folders to read again this round, given what its reads found:
/// - for a name gone with no new name to pair: the folders read up to
///   and including the one that found it gone (the move may have come
///   after theirs, or, inside that folder's own read, the new name may be
///   missing from it). Those read after it were read after the move.
/// - for a name new with no name gone: the folders whose listings still
///   hold its inode under another name (read before the move).
///
/// A deletion (most names gone alone) thus costs a second read of part of
/// the tree in its round, and a creation a look through the listings;
/// a move needs one more read to be told from them.
fn second_look(
    seen: &Seen,
    dirs: &[PathBuf],
    folders: &BTreeMap<PathBuf, Listing>,
) -> HashSet<PathBuf> {
    let partners = pairs(&seen.gone, &seen.new);
    let mut again: HashSet<PathBuf> = HashSet::new();
    let last_alone = (seen.gone.iter().zip(&partners))
        .filter(|(_, partner)| partner.is_none())
        .map(|((_, _, at), _)| *at)
        .max();
    if let Some(at) = last_alone {
        again.extend(dirs.iter().take(at + 1).cloned());
    }
    let taken: HashSet<usize> = partners.iter().flatten().copied().collect();
    let alone: Vec<&(PathBuf, Stamp)> = (seen.new.iter().enumerate())
        .filter(|(i, _)| !taken.contains(i))
        .map(|(_, new)| new)
        .collect();
    if alone.is_empty() {
        return again;
    }
    let inodes: HashSet<(u64, u64)> = alone.iter().map(|(_, stamp)| stamp.ino).collect();
    for (dir, listing) in folders {
        for (name, was) in listing {
            if inodes.contains(&was.ino)
                && (alone.iter()).any(|(to, now)| was.moved_to(now) && *to != dir.join(name))
            {
                again.insert(dir.clone());
            }
        }
    }
    again
}

/// For each name gone, the place in `new` of the name it was moved to,
/// if any: the first one free that its stamp allows, and never its own
/// name (gone and back within a round is no move).
fn pairs(gone: &[(PathBuf, Stamp, usize)], new: &[(PathBuf, Stamp)]) -> Vec<Option<usize>> {
    let mut taken = vec![false; new.len()];
    (gone.iter())
        .map(|(from, was, _)| {
            let at = (new.iter().enumerate())
                .position(|(i, (to, now))| !taken[i] && to != from && was.moved_to(now));
            if let Some(at) = at {
                taken[at] = true;
            }
            at
        })
        .collect()
}

/// The events of a round once every folder is read: a name gone and a
/// name new that are one thing moved become one rename.
fn paired(seen: Seen) -> Vec<Event> {
    let partners = pairs(&seen.gone, &seen.new);
    let Seen {
        mut events,
        gone,
        new,
        at: _,
    } = seen;
    let mut new: Vec<Option<(PathBuf, Stamp)>> = new.into_iter().map(Some).collect();
    for ((from, stamp, _), partner) in gone.into_iter().zip(partners) {
        match partner.and_then(|at| new[at].take()) {
            Some((to, _)) => {
                let kind = EventKind::Modify(ModifyKind::Name(RenameMode::Both));
                events.push(Event::new(kind).add_path(from).add_path(to));
            }
            None => {
                let kind = match stamp.is_dir {
                    true => RemoveKind::Folder,
                    false => RemoveKind::File,
                };
                events.push(Event::new(EventKind::Remove(kind)).add_path(from));
            }
        }
    }
    for (path, stamp) in new.into_iter().flatten() {
        let kind = match stamp.is_dir {
            true => CreateKind::Folder,
            false => CreateKind::File,
        };
        events.push(Event::new(EventKind::Create(kind)).add_path(path));
    }
    events
}

impl notify::Watcher for Poller {
    fn new<F: EventHandler>(handler: F, config: notify::Config) -> notify::Result<Poller> {
        let interval = config.poll_interval().unwrap_or(Duration::from_millis(500));
        Poller::start(handler, interval).map_err(|e| notify::Error::generic(&e.to_string()))
    }

    /// Reads the folder now, so that what changes after this call is
    /// reported (as an inotify watch does); a missing folder is an error,
    /// as with inotify.
    fn watch(&mut self, path: &Path, _mode: RecursiveMode) -> notify::Result<()> {
        let listing = list(path).map_err(|e| notify::Error::io(e).add_path(path.to_path_buf()))?;
        lock(&self.folders).insert(path.to_path_buf(), listing);
        Ok(())
    }

    fn unwatch(&mut self, path: &Path) -> notify::Result<()> {
        match lock(&self.folders).remove(path) {
            Some(_) => Ok(()),
            None => Err(notify::Error::watch_not_found()),
        }
    }

    fn kind() -> WatcherKind {
        WatcherKind::PollWatcher
    }
}

/// Two backends behind one: folders at or under a polled watch dir (and
/// the folders above one, watched while it is missing or for git's rules)
/// go to the poller, the rest to the native backend. The route is a
/// function of the path alone, so `unwatch` finds the backend `watch` used.
pub(crate) struct Split {
    pub(crate) native: Option<Backend>,
    pub(crate) poll: Option<Poller>,
    /// The watch dirs to poll, absolute as the watcher names them.
    pub(crate) polled: Vec<PathBuf>,
    /// The watch dirs left native, so a native root inside a polled one
    /// stays native.
    pub(crate) native_roots: Vec<PathBuf>,
}

impl Split {
    /// Whether `path` is polled: the innermost watch dir holding it
    /// decides; a folder above watch dirs is polled when any of them is
    /// (polling sees every change, so it can stand for both).
    fn polls(&self, path: &Path) -> bool {
        let depth = |roots: &[PathBuf]| {
            (roots.iter())
                .filter(|r| path.starts_with(r))
                .map(|r| r.components().count())
                .max()
        };
        match (depth(&self.polled), depth(&self.native_roots)) {
            (Some(p), Some(n)) => p >= n,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => {
                self.polled.iter().any(|r| r.starts_with(path)) || self.native.is_none()
            }
        }
    }

    fn route(&mut self, path: &Path) -> notify::Result<&mut dyn notify::Watcher> {
        let polls = self.polls(path);
        match (polls, &mut self.poll, &mut self.native) {
            (true, Some(poll), _) => Ok(poll),
            (_, _, Some(native)) => Ok(native.as_mut()),
            (_, Some(poll), None) => Ok(poll),
            (_, None, None) => Err(notify::Error::generic("no backend")),
        }
    }
}

impl notify::Watcher for Split {
    fn new<F: EventHandler>(_: F, _: notify::Config) -> notify::Result<Split> {
        Err(notify::Error::generic(
            "built by Watcher::start from its parts",
        ))
    }

    fn watch(&mut self, path: &Path, mode: RecursiveMode) -> notify::Result<()> {
        self.route(path)?.watch(path, mode)
    }

    fn unwatch(&mut self, path: &Path) -> notify::Result<()> {
        self.route(path)?.unwatch(path)
    }

    fn kind() -> WatcherKind {
        WatcherKind::PollWatcher
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The watcher's walk asks the poller for the folders to poll: ignored
    /// ones (the `ignore` key's, the default ignores) are never among them,
    /// so no round ever reads them.
    #[test]
    fn ignored_folders_are_never_polled() {
        let dir = tempfile::tempdir().expect("temp dir");
        for file in [
            "css/app.css",
            "node_modules/lib/x.js",
            "dist/out/app.js",
            "web/partials/a.html",
        ] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&path, "x").expect("write");
        }
        let root = std::path::absolute(dir.path()).expect("absolute");
        let config = crate::Config {
            watch_dirs: vec![crate::WatchDir::new(".", &root)],
            ignore: vec!["dist".into()],
            ..crate::Config::default()
        };
        let (events_tx, events) = crossbeam_channel::unbounded();
        let poller = Poller::start(
            move |e: notify::Result<Event>| {
                let _ = events_tx.send(e);
            },
            Duration::from_secs(3600),
        )
        .expect("the poll thread starts");
        let folders = Arc::clone(&poller.folders);
        let (batches, _rx) = crossbeam_channel::unbounded();
        let mut watcher =
            super::super::Watcher::start_with(&config, batches, Box::new(poller), events)
                .expect("the watcher starts");
        let polled: Vec<String> = lock(&folders)
            .keys()
            .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string())
            .collect();
        watcher.close().expect("the watcher stops");
        assert_eq!(polled, ["", "css", "web", "web/partials"], "{polled:?}");
    }

    fn kinds(events: &[Event], root: &Path) -> Vec<String> {
        let mut out: Vec<String> = (events.iter())
            .map(|e| {
                let paths: Vec<String> = (e.paths.iter())
                    .map(|p| p.strip_prefix(root).unwrap_or(p).display().to_string())
                    .collect();
                format!("{:?} {}", e.kind, paths.join(" -> "))
            })
            .collect();
        out.sort();
        out
    }

    /// The round as data: what changed on disk between two rounds, and the
    /// events it gives (no thread, no clock).
    #[test]
    fn a_round_reports_what_differs() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical");
        std::fs::write(root.join("a.css"), "a{}").expect("write");
        std::fs::write(root.join("b.css"), "b{}").expect("write");
        // Not the size of `sub/new.css`, which may get its inode.
        std::fs::write(root.join("gone.css"), "gone").expect("write");
        std::fs::create_dir(root.join("sub")).expect("mkdir");
        let folders = watching([root.clone(), root.join("sub")]);
        assert!(round(&folders).is_empty(), "nothing changed");

        // Same second, one byte more: the size says so.
        std::fs::write(root.join("a.css"), "a{ }").expect("write");
        std::fs::rename(root.join("b.css"), root.join("c.css")).expect("rename");
        std::fs::remove_file(root.join("gone.css")).expect("rm");
        std::fs::write(root.join("sub/new.css"), "").expect("write");
        std::fs::create_dir(root.join("dir")).expect("mkdir");
        assert_eq!(
            kinds(&round(&folders), &root),
            [
                "Create(File) sub/new.css",
                "Create(Folder) dir",
                "Modify(Data(Any)) a.css",
                "Modify(Name(Both)) b.css -> c.css",
                "Remove(File) gone.css",
            ]
        );
        assert!(round(&folders).is_empty(), "reported once");

        // A save by rename: same size, maybe the same time, a new inode.
        std::fs::write(root.join("tmp"), "a{ }").expect("write");
        std::fs::rename(root.join("tmp"), root.join("a.css")).expect("rename");
        assert_eq!(kinds(&round(&folders), &root), ["Modify(Data(Any)) a.css"]);

        // A watched folder removed: its parent's listing says so, once.
        std::fs::remove_dir_all(root.join("sub")).expect("rm");
        assert_eq!(kinds(&round(&folders), &root), ["Remove(Folder) sub"]);
        // A watched folder whose parent is not watched says so itself.
        std::fs::remove_dir_all(&root).expect("rm");
        assert_eq!(kinds(&round(&folders), &root), ["Remove(Folder) "]);
        assert!(lock(&folders).is_empty());
    }

    /// Polled folders as a watch leaves them: each read once.
    fn watching(dirs: impl IntoIterator<Item = PathBuf>) -> Folders {
        let folders = Folders::default();
        for d in dirs {
            let listing = list(&d).expect("list");
            lock(&folders).insert(d, listing);
        }
        folders
    }

    /// A folder deleted and made again between its parent's read and its
    /// own: reported gone, then made, so the watcher walks it again
    /// instead of taking it for watched while nobody polls it.
    #[test]
    fn a_folder_replaced_during_a_round_is_gone_then_made() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical");
        std::fs::create_dir(root.join("build")).expect("mkdir");
        std::fs::write(root.join("build/a.js"), "1").expect("write");
        let folders = watching([root.clone(), root.join("build")]);
        let mut seen = Seen::default();
        read_again(&folders, &root, &mut seen, &mut list);
        // rm -rf build, between the parent's read and its own.
        std::fs::remove_dir_all(root.join("build")).expect("rm");
        read_again(&folders, &root.join("build"), &mut seen, &mut list);
        assert_eq!(kinds(&paired(seen), &root), ["Remove(Folder) build"]);
        // Made again: the parent's next read says so.
        std::fs::create_dir(root.join("build")).expect("mkdir");
        assert_eq!(kinds(&round(&folders), &root), ["Create(Folder) build"]);
        // Deleted and made again between the two reads: another folder.
        lock(&folders).insert(root.join("build"), Listing::new());
        let mut seen = Seen::default();
        read_again(&folders, &root, &mut seen, &mut list);
        std::fs::remove_dir(root.join("build")).expect("rmdir");
        std::fs::create_dir(root.join("build")).expect("mkdir");
        read_again(&folders, &root.join("build"), &mut seen, &mut list);
        // The new folder reads fine (empty, as the old one was); the
        // parent's next read sees another inode under the name.
        let mut events = paired(seen);
        events.extend(round(&folders));
        assert_eq!(
            kinds(&events, &root),
            ["Create(Folder) build", "Remove(Folder) build"]
        );
    }

    /// A folder moved between its parent's read and its own: one rename
    /// in that round (not a deletion now and a creation a round later).
    #[test]
    fn a_folder_moved_during_a_round_is_one_rename() {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path().canonicalize().expect("canonical");
        std::fs::create_dir(root.join("personas")).expect("mkdir");
        std::fs::write(root.join("personas/PERSONA.md"), "hi").expect("write");
        let folders = watching([root.clone(), root.join("personas")]);
        let mut seen = Seen::default();
        read_again(&folders, &root, &mut seen, &mut list);
        std::fs::rename(root.join("personas"), root.join("people")).expect("mv");
        read_again(&folders, &root.join("personas"), &mut seen, &mut list);
        assert_eq!(
            kinds(&paired(seen), &root),
            ["Modify(Name(Both)) personas -> people"]
        );
    }

    /// Where in a round a test's move happens.
    #[derive(Clone, Debug)]
    enum At {
        /// Just before the round reads this folder.
        Before(PathBuf),
        /// While it reads this folder: names listed, their metadata not yet
        /// (where a busy machine can stop the poll thread for a while).
        Inside(PathBuf),
    }

    /// A reader for [`round_with`] that reads as [`list`] does, and runs
    /// `act` once, at `at`.
    fn reading_with(at: At, act: impl FnOnce()) -> impl FnMut(&Path) -> std::io::Result<Listing> {
        let mut act = Some(act);
        move |dir: &Path| {
            if let At::Before(d) = &at
                && d == dir
                && let Some(act) = act.take()
            {
                act();
            }
            let entries: Vec<std::fs::DirEntry> = std::fs::read_dir(dir)?.flatten().collect();
            if let At::Inside(d) = &at
                && d == dir
                && let Some(act) = act.take()
            {
                act();
            }
            Ok(stamps(entries))
        }
    }

    /// Makes `files` under a new root, watches every folder there, moves
    /// `from` to `to` at every point of a round in turn, and returns, for
    /// each point where the move is not reported as one rename in that
    /// round or the next (and nothing else), what the two rounds gave.
    fn split_moves(files: &[&str], from: &str, to: &str) -> Vec<String> {
        let mut wrong = Vec::new();
        let dirs = |root: &Path| -> Vec<PathBuf> {
            let mut dirs = vec![root.to_path_buf()];
            for file in files {
                let mut parent = Path::new(file).parent();
                while let Some(p) = parent.filter(|p| !p.as_os_str().is_empty()) {
                    dirs.push(root.join(p));
                    parent = p.parent();
                }
            }
            dirs.sort();
            dirs.dedup();
            dirs
        };
        let layout = tempfile::tempdir().expect("temp dir");
        let mut moments = Vec::new();
        for d in dirs(layout.path()) {
            let rel = d.strip_prefix(layout.path()).expect("under the root");
            moments.push(At::Before(rel.to_path_buf()));
            moments.push(At::Inside(rel.to_path_buf()));
        }
        for moment in moments {
            let dir = tempfile::tempdir().expect("temp dir");
            let root = dir.path().canonicalize().expect("canonical");
            for file in files {
                let path = root.join(file);
                std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
                std::fs::write(&path, *file).expect("write");
            }
            let folders = watching(dirs(&root));
            let at = match &moment {
                At::Before(rel) => At::Before(root.join(rel)),
                At::Inside(rel) => At::Inside(root.join(rel)),
            };
            let (src, dst) = (root.join(from), root.join(to));
            let mut read = reading_with(at, || std::fs::rename(&src, &dst).expect("mv"));
            let first = kinds(&round_with(&folders, &mut read), &root);
            let second = kinds(&round(&folders), &root);
            let rename = [format!("Modify(Name(Both)) {from} -> {to}")];
            // A move after the round read the folders that show it is
            // the next round's, as inotify's would be the next event.
            let none: [String; 0] = [];
            if !((first == rename && second == none) || (first == none && second == rename)) {
                wrong.push(format!("{moment:?}: {first:?} then {second:?}"));
            }
        }
        wrong
    }

    /// A folder renamed in its parent (the watch root), at any point of a
    /// round: one rename, as inotify says. (In CI a move during the
    /// root's own read, between its names and their metadata, gave a
    /// deletion in one batch and a creation in the next.)
    #[test]
    fn a_folder_renamed_at_any_point_of_a_round_is_one_rename() {
        let wrong = split_moves(&["personas/PERSONA.md", "index.html"], "personas", "people");
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    /// A file renamed in its folder, at any point of a round.
    #[test]
    fn a_file_renamed_at_any_point_of_a_round_is_one_rename() {
        let wrong = split_moves(&["a/x.md", "a/y.md"], "a/x.md", "a/z.md");
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    /// A file moved to another polled folder, read before or after its
    /// own (in the round's order), at any point of a round: the folder
    /// read first may be read before the move and the other after it.
    #[test]
    fn a_file_moved_between_folders_at_any_point_of_a_round_is_one_rename() {
        let files = ["a/x.md", "b/y.md"];
        let mut wrong = split_moves(&files, "a/x.md", "b/x.md");
        wrong.extend(split_moves(&files, "b/y.md", "a/y.md"));
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    /// The same for a folder, itself watched, moved to another folder.
    #[test]
    fn a_folder_moved_between_folders_at_any_point_of_a_round_is_one_rename() {
        let files = ["a/sub/x.md", "b/y.md"];
        let mut wrong = split_moves(&files, "a/sub", "b/sub");
        let files = ["a/y.md", "b/sub/x.md"];
        wrong.extend(split_moves(&files, "b/sub", "a/sub"));
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn routes_by_the_innermost_watch_dir() {
        let split = Split {
            native: None,
            poll: None,
            polled: vec!["/mnt/c/site".into(), "/home/me/site/nfs".into()],
            native_roots: vec!["/home/me/site".into(), "/tmp/x".into()],
        };
        for (path, polled) in [
            ("/mnt/c/site/css", true),
            ("/mnt/c", true),
            ("/", true),
            ("/home/me/site/css", false),
            ("/home/me/site/nfs/css", true),
            ("/tmp/x/y", false),
        ] {
            assert_eq!(split.polls(Path::new(path)), polled, "{path}");
        }
    }
}
