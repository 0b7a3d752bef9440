//! The debounce state machine: events in, one batch out when the quiet time
//! ends, or at once when `auto` sees every file of the batch complete.
//!
//! Time is passed in, so tests are tables of `(event, at) => batch` with no
//! sleeping; the watcher thread waits on `deadline()` with a crossbeam timer.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::time::{Duration, Instant};

use crate::protocol::Operation;

/// What one event says about its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Created or written, and perhaps not finished: more may follow.
    Written,
    /// Finished: closed after writing, or moved over the path (the last
    /// step of every editor's save).
    Finished,
    /// Only its permissions, owner, times or extended attributes changed.
    Attributes,
    /// Deleted (or moved out of sight).
    Deleted,
    /// Moved to another path inside the tree.
    MovedAway,
}

/// What a batch knows of one path: was it there before, how did it leave,
/// and is it done changing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// The path existed when its first event of this batch arrived.
    pub existed_before: bool,
    /// Its latest event moved it away (a rename source), rather than deleting it.
    pub moved_away: bool,
    /// Its events say it is complete: a file that was there before, finished
    /// again (its change is `modified`), or a new one that is gone again (a
    /// temporary, which is no change at all).
    settled: bool,
}

impl Pending {
    /// The operation to report, given whether the path exists now; `None`
    /// when it came and went within the batch (a temporary file).
    pub fn operation(self, exists_now: bool) -> Option<Operation> {
        match (self.existed_before, exists_now) {
            (true, true) => Some(Operation::Modified),
            (false, true) => Some(Operation::Created),
            (true, false) if self.moved_away => Some(Operation::Renamed),
            (true, false) => Some(Operation::Deleted),
            (false, false) => None,
        }
    }

    /// A settled path that is a change to send (not a vanished temporary).
    fn finished(self) -> bool {
        self.settled && self.existed_before
    }

    /// A new path that is gone again: a temporary, no change at all.
    fn vanished(self) -> bool {
        self.settled && !self.existed_before
    }

    /// Takes in `seen`; the first event fixed `existed_before`.
    fn see(&mut self, seen: Seen) {
        self.moved_away = seen == Seen::MovedAway;
        self.settled = match seen {
            Seen::Written => false,
            // A file that was there before and is complete again is a
            // modification; a new one may still be renamed or deleted (the
            // temporary of a save), so only its quiet time tells.
            Seen::Finished => self.existed_before,
            Seen::Attributes => self.settled,
            // Gone: a temporary that came and went is done; a file that was
            // there may be written again (a rebuild, a save by rename).
            Seen::Deleted | Seen::MovedAway => !self.existed_before,
        };
    }
}

/// Collects events per path until `quiet` passes with none, or `max_wait`
/// after the first, whichever comes first; with [`Debouncer::auto`], also
/// at once when every path of the batch is settled.
pub struct Debouncer<K> {
    quiet: Duration,
    max_wait: Duration,
    /// `debounce_ms: auto` (SPEC.md section 14).
    auto: bool,
    first: Option<Instant>,
    last: Option<Instant>,
    order: Vec<K>,
    pending: HashMap<K, Pending>,
    /// Paths of the open batch not settled, and settled with a change:
    /// counted as they change, so `deadline` costs nothing in a storm.
    unsettled: usize,
    finished: usize,
    /// The open batch began within `quiet` of the last one sent: a burst
    /// (a checkout, a build), which waits for quiet whatever it holds.
    burst: bool,
    /// When the last batch with a change in it was taken.
    last_sent: Option<Instant>,
    /// The paths of the last batch sent early, for `quiet` after it: the
    /// attribute changes a save makes after closing its file (vim sets
    /// the file's ACL after `close`) belong to that save, not a new one.
    tail: HashSet<K>,
}

/// Early batches larger than this keep no tail: they are the first part of
/// a burst, whose next part waits for quiet anyway.
const TAIL_MAX: usize = 64;

impl<K: Hash + Eq + Clone> Debouncer<K> {
    /// A debouncer with a fixed quiet time and a cap.
    pub fn new(quiet: Duration, max_wait: Duration) -> Debouncer<K> {
        Debouncer {
            quiet,
            max_wait: max_wait.max(quiet),
            auto: false,
            first: None,
            last: None,
            order: Vec::new(),
            pending: HashMap::new(),
            unsettled: 0,
            finished: 0,
            burst: false,
            last_sent: None,
            tail: HashSet::new(),
        }
    }

    /// A debouncer for `debounce_ms: auto`: a batch whose every path is
    /// settled goes out at once, unless it began within `quiet` of the last
    /// batch sent; then, and while anything is unsettled, `quiet` applies.
    pub fn auto(quiet: Duration, max_wait: Duration) -> Debouncer<K> {
        Debouncer {
            auto: true,
            ..Debouncer::new(quiet, max_wait)
        }
    }

    /// Records an event for `key` at `now`. The first event of a batch fixes
    /// `existed_before`; the latest fixes `moved_away` and whether the path
    /// is settled.
    pub fn push(&mut self, key: K, existed_before: bool, seen: Seen, now: Instant) {
        if seen == Seen::Attributes
            && !self.pending.contains_key(&key)
            && self.tail.contains(&key)
            && self.soon_after_a_batch(now)
        {
            return;
        }
        if self.first.is_none() {
            self.first = Some(now);
            self.burst = self.soon_after_a_batch(now);
        }
        self.last = Some(now);
        let before = self.pending.get(&key).copied();
        let after = match before {
            Some(mut p) => {
                p.see(seen);
                p
            }
            None => {
                self.order.push(key.clone());
                let mut p = Pending {
                    existed_before,
                    moved_away: false,
                    settled: false,
                };
                p.see(seen);
                p
            }
        };
        self.count(before, -1);
        self.count(Some(after), 1);
        self.pending.insert(key, after);
    }

    /// Whether `now` is within the quiet time of the last batch sent.
    fn soon_after_a_batch(&self, now: Instant) -> bool {
        self.last_sent.is_some_and(|sent| now < sent + self.quiet)
    }

    /// Adds `p` to (or takes it from) the counters.
    fn count(&mut self, p: Option<Pending>, by: isize) {
        let Some(p) = p else { return };
        if !p.settled {
            self.unsettled = self.unsettled.wrapping_add_signed(by);
        }
        if p.finished() {
            self.finished = self.finished.wrapping_add_signed(by);
        }
    }

    /// Whether the open batch may go out now: `auto`, not a burst, every
    /// path settled and at least one a change.
    fn settled(&self) -> bool {
        self.auto && !self.burst && self.unsettled == 0 && self.finished > 0
    }

    /// When the current batch is due, if one is open.
    pub fn deadline(&self) -> Option<Instant> {
        let (first, last) = (self.first?, self.last?);
        if self.settled() {
            return Some(last);
        }
        Some((last + self.quiet).min(first + self.max_wait))
    }

    /// The batch, in first-event order, if it is due at `now`.
    pub fn take_ready(&mut self, now: Instant) -> Option<Vec<(K, Pending)>> {
        if self.deadline()? > now {
            return None;
        }
        let early = self.settled();
        let batch = self.take_all();
        if batch.iter().any(|(_, p)| !p.vanished()) {
            self.last_sent = Some(now);
            self.tail.clear();
            if early && batch.len() <= TAIL_MAX {
                self.tail.extend(batch.iter().map(|(k, _)| k.clone()));
            }
        }
        Some(batch)
    }

    /// The open batch, due or not (empty when none is open).
    pub fn take_all(&mut self) -> Vec<(K, Pending)> {
        self.first = None;
        self.last = None;
        self.unsettled = 0;
        self.finished = 0;
        self.burst = false;
        let mut pending = std::mem::take(&mut self.pending);
        std::mem::take(&mut self.order)
            .into_iter()
            .filter_map(|k| pending.remove(&k).map(|p| (k, p)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (path, existed_before, moved_away, at ms)
    type Event = (&'static str, bool, bool, u64);

    fn written_or_moved(moved: bool) -> Seen {
        if moved {
            Seen::MovedAway
        } else {
            Seen::Written
        }
    }

    /// Feeds `events`, then asks at each of `asks` ms what is ready.
    fn run(events: &[Event], asks: &[u64]) -> Vec<(u64, Option<Vec<&'static str>>)> {
        let t0 = Instant::now();
        let ms = |m: u64| t0 + Duration::from_millis(m);
        let mut d = Debouncer::new(Duration::from_millis(100), Duration::from_millis(1000));
        let mut out = Vec::new();
        let mut events = events.iter().peekable();
        for &ask in asks {
            while let Some(&&(path, before, moved, at)) = events.peek() {
                if at > ask {
                    break;
                }
                d.push(path, before, written_or_moved(moved), ms(at));
                events.next();
            }
            let ready = d
                .take_ready(ms(ask))
                .map(|b| b.into_iter().map(|(k, _)| k).collect());
            out.push((ask, ready));
        }
        out
    }

    #[test]
    fn trailing_edge_after_quiet_time() {
        let got = run(&[("a.css", true, false, 0)], &[99, 100]);
        assert_eq!(got, vec![(99, None), (100, Some(vec!["a.css"]))]);
    }

    #[test]
    fn each_event_restarts_the_quiet_time() {
        let events: Vec<Event> = (0..10).map(|i| ("a.css", true, false, i * 50)).collect();
        let got = run(&events, &[500, 549, 550]);
        assert_eq!(
            got,
            vec![(500, None), (549, None), (550, Some(vec!["a.css"]))]
        );
    }

    #[test]
    fn the_cap_ends_an_endless_stream() {
        let events: Vec<Event> = (0..30).map(|i| ("a.css", true, false, i * 60)).collect();
        let got = run(&events, &[999, 1000]);
        assert_eq!(got, vec![(999, None), (1000, Some(vec!["a.css"]))]);
    }

    #[test]
    fn paths_in_first_event_order_once_each() {
        let got = run(
            &[
                ("b.js", true, false, 0),
                ("a.css", true, false, 10),
                ("b.js", true, false, 20),
            ],
            &[120],
        );
        assert_eq!(got, vec![(120, Some(vec!["b.js", "a.css"]))]);
    }

    #[test]
    fn nothing_open_means_no_deadline() {
        let d: Debouncer<&str> = Debouncer::new(Duration::from_millis(100), Duration::from_secs(1));
        assert_eq!(d.deadline(), None);
    }

    #[test]
    fn operations_compare_before_and_after() {
        use Operation::*;
        // (existed_before, moved_away, exists_now) => operation
        let rows = [
            (true, false, true, Some(Modified)),
            (false, false, true, Some(Created)),
            (true, false, false, Some(Deleted)),
            (true, true, false, Some(Renamed)),
            (false, false, false, None),
            (false, true, false, None),
            (true, true, true, Some(Modified)),
        ];
        for (before, moved, now, want) in rows {
            let p = Pending {
                existed_before: before,
                moved_away: moved,
                settled: false,
            };
            assert_eq!(p.operation(now), want, "{p:?} exists_now={now}");
        }
    }

    #[test]
    fn first_event_fixes_existed_before_latest_fixes_moved() {
        let t = Instant::now();
        let mut d = Debouncer::new(Duration::from_millis(100), Duration::from_secs(1));
        d.push("x", false, Seen::Written, t); // created
        d.push("x", true, Seen::MovedAway, t); // then renamed away
        let batch = d.take_all();
        assert_eq!(
            batch,
            vec![(
                "x",
                Pending {
                    existed_before: false,
                    moved_away: true,
                    settled: true,
                }
            )]
        );
        assert_eq!(
            batch[0].1.operation(false),
            None,
            "create+move away = nothing"
        );
    }

    /// `debounce_ms: auto`: feeds `(path, existed_before, seen, at ms)` and
    /// says, after each event, when the batch is due (ms, or none open),
    /// taking it when due before the next event, as the watcher does.
    fn auto_run(events: &[(&'static str, bool, Seen, u64)]) -> Vec<Option<u64>> {
        let t0 = Instant::now();
        let mut d = Debouncer::auto(Duration::from_millis(100), Duration::from_millis(1000));
        let mut out = Vec::new();
        for &(path, before, seen, at) in events {
            let now = t0 + Duration::from_millis(at);
            if let Some(due) = d.deadline().filter(|&due| due <= now) {
                d.take_ready(due);
            }
            d.push(path, before, seen, now);
            let due = d
                .deadline()
                .map(|t| t.duration_since(t0).as_millis() as u64);
            out.push(due);
            if let Some(due) = d.deadline().filter(|&t| t <= now) {
                d.take_ready(due);
            }
        }
        out
    }

    #[test]
    fn auto_sends_a_finished_save_at_once() {
        use Seen::*;
        // In place: truncate and write (not yet), close (now).
        let got = auto_run(&[("a.css", true, Written, 0), ("a.css", true, Finished, 2)]);
        assert_eq!(got, vec![Some(100), Some(2)]);
        // VS Code, sed: a temporary written and closed (it may yet be
        // renamed or deleted), moved over the file (now).
        let got = auto_run(&[
            ("a.tmp", false, Written, 0),
            ("a.tmp", false, Finished, 1),
            ("a.tmp", false, Deleted, 2),
            ("a.css", true, Finished, 2),
        ]);
        assert_eq!(got, vec![Some(100), Some(101), Some(102), Some(2)]);
        // vim with backupcopy=no: the file moved away (not yet), made anew
        // and closed (now).
        let got = auto_run(&[
            ("a.css", true, Deleted, 0),
            ("a.css", true, Written, 1),
            ("a.css", true, Finished, 3),
        ]);
        assert_eq!(got, vec![Some(100), Some(101), Some(3)]);
    }

    #[test]
    fn auto_waits_for_quiet_when_anything_is_unsettled() {
        use Seen::*;
        // A new file, a deletion, an attribute change alone, a write
        // never closed: each keeps the batch open for the quiet time.
        for (path, before, seen) in [
            ("new.css", false, Finished),
            ("gone.css", true, Deleted),
            ("moved.css", true, MovedAway),
            ("a.css", true, Attributes),
            ("a.css", true, Written),
        ] {
            let got = auto_run(&[(path, before, seen, 0)]);
            assert_eq!(got, vec![Some(100)], "{path} {seen:?}");
        }
        // One file deleted and another finished: not until quiet.
        let got = auto_run(&[("b.css", true, Deleted, 0), ("a.css", true, Finished, 1)]);
        assert_eq!(got, vec![Some(100), Some(101)]);
    }

    #[test]
    fn auto_coalesces_what_follows_a_batch_within_the_quiet_time() {
        use Seen::*;
        // A checkout: the first file goes at once, the next 50 ms later
        // opens a burst that waits for quiet even when finished.
        let got = auto_run(&[
            ("a.html", true, Finished, 0),
            ("b.html", true, Deleted, 50),
            ("b.html", true, Finished, 51),
            ("c.html", true, Finished, 60),
            // Past the quiet time after the burst went out (at 160): at once.
            ("d.html", true, Finished, 300),
        ]);
        assert_eq!(
            got,
            vec![Some(0), Some(150), Some(151), Some(160), Some(300)]
        );
    }

    #[test]
    fn auto_drops_the_attribute_tail_of_a_save_it_sent() {
        use Seen::*;
        let t0 = Instant::now();
        let ms = |m| t0 + Duration::from_millis(m);
        let mut d = Debouncer::auto(Duration::from_millis(100), Duration::from_millis(1000));
        d.push("a.css", true, Finished, ms(0));
        assert!(d.take_ready(ms(0)).is_some());
        // vim's setxattr after close: part of the save just sent.
        d.push("a.css", true, Attributes, ms(3));
        assert_eq!(d.deadline(), None);
        // Another file's attributes, or a.css's after the quiet time: a change.
        d.push("b.css", true, Attributes, ms(4));
        assert_eq!(d.deadline(), Some(ms(104)));
        d.take_all();
        d.push("a.css", true, Attributes, ms(150));
        assert_eq!(d.deadline(), Some(ms(250)));
    }

    #[test]
    fn auto_keeps_the_cap_and_fixed_never_hurries() {
        use Seen::*;
        let t0 = Instant::now();
        let ms = |m| t0 + Duration::from_millis(m);
        let mut auto = Debouncer::auto(Duration::from_millis(100), Duration::from_millis(300));
        for i in 0..10 {
            auto.push("log.txt", true, Written, ms(i * 50));
        }
        assert_eq!(auto.deadline(), Some(ms(300)));
        let mut fixed = Debouncer::new(Duration::from_millis(100), Duration::from_millis(1000));
        fixed.push("a.css", true, Finished, ms(0));
        assert_eq!(fixed.deadline(), Some(ms(100)));
    }

    /// Property tests: coalescing against a model file system, and timing.
    mod props {
        use super::*;
        use proptest::prelude::*;
        use std::collections::{BTreeMap, BTreeSet};

        /// What happens to one path on disk.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        enum FsOp {
            /// Creates the file, or truncates it if it exists.
            Create,
            /// Writes the file, creating it if it does not exist.
            Write,
            /// Removes it; nothing happens (and no event) if it is not there.
            Delete,
            /// Moves it out of the watched tree; likewise only if it is there.
            RenameAway,
            /// Another file is moved onto this path.
            RenameInto,
        }

        fn fs_op() -> impl Strategy<Value = FsOp> {
            prop::sample::select(vec![
                FsOp::Create,
                FsOp::Write,
                FsOp::Delete,
                FsOp::RenameAway,
                FsOp::RenameInto,
            ])
        }

        const PATHS: usize = 4;

        fn ms(m: u64) -> Duration {
            Duration::from_millis(m)
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// One batch of file operations, pushed as the watcher does, gives
            /// per path exactly what SPEC's before/after rule says.
            #[test]
            fn batch_operations_compare_before_and_after(
                before in prop::collection::btree_set(0..PATHS, 0..=PATHS),
                ops in prop::collection::vec((0..PATHS, fs_op()), 0..20),
                // The watcher passes "known before the batch" with every event;
                // with this set, later events pass the state just before them
                // instead, which the first event's value must win over.
                later_from_disk in any::<bool>(),
            ) {
                let t0 = Instant::now();
                let mut d = Debouncer::new(ms(100), ms(1000));
                let mut disk: BTreeSet<usize> = before.clone();
                // The last operation that did something to each path.
                let mut last: BTreeMap<usize, FsOp> = BTreeMap::new();
                for (i, &(path, op)) in ops.iter().enumerate() {
                    let exists = disk.contains(&path);
                    match op {
                        FsOp::Create | FsOp::Write | FsOp::RenameInto => {
                            disk.insert(path);
                        }
                        FsOp::Delete | FsOp::RenameAway if exists => {
                            disk.remove(&path);
                        }
                        // Nothing there: no event.
                        FsOp::Delete | FsOp::RenameAway => continue,
                    }
                    let existed_before = if later_from_disk && last.contains_key(&path) {
                        exists
                    } else {
                        before.contains(&path)
                    };
                    last.insert(path, op);
                    let seen = match op {
                        FsOp::RenameAway => Seen::MovedAway,
                        FsOp::Delete => Seen::Deleted,
                        FsOp::Create | FsOp::Write => Seen::Written,
                        FsOp::RenameInto => Seen::Finished,
                    };
                    d.push(path, existed_before, seen, t0 + ms(i as u64));
                }
                let got: BTreeMap<usize, Operation> = d
                    .take_all()
                    .into_iter()
                    .filter_map(|(path, p)| p.operation(disk.contains(&path)).map(|o| (path, o)))
                    .collect();
                // SPEC section 3, straight from the model: paths with no event
                // are not in the batch at all.
                let want: BTreeMap<usize, Operation> = last
                    .iter()
                    .filter_map(|(&path, &last_op)| {
                        let op = match (before.contains(&path), disk.contains(&path)) {
                            (true, true) => Operation::Modified,
                            (false, true) => Operation::Created,
                            (true, false) if last_op == FsOp::RenameAway => Operation::Renamed,
                            (true, false) => Operation::Deleted,
                            (false, false) => return None,
                        };
                        Some((path, op))
                    })
                    .collect();
                prop_assert_eq!(got, want, "before {:?} ops {:?}", before, ops);
            }

            /// Events at random, non-decreasing times with the watcher waking at
            /// each deadline: the deadline is the trailing edge capped by
            /// max_wait, `take_ready` is None before it and Some at it, and each
            /// batch holds every path pushed into it once, in first-event order.
            #[test]
            fn batches_go_out_at_the_deadline(
                quiet_ms in 0u64..300,
                extra_ms in 0u64..1500,
                events in prop::collection::vec((0..6usize, 0u64..400), 1..40),
            ) {
                let max_ms = quiet_ms + extra_ms;
                let t0 = Instant::now();
                let at = |m: u64| t0 + ms(m);
                let mut d = Debouncer::new(ms(quiet_ms), ms(max_ms));
                // The open batch of the model: first and last event, paths in order.
                let mut open: Option<(u64, u64, Vec<usize>)> = None;
                let mut now = 0;
                let mut batches = 0;
                let mut pushed = 0;
                let mut sent = 0;
                // Sends every batch due by `until` (all of them for `None`).
                let mut flush = |d: &mut Debouncer<usize>,
                                 open: &mut Option<(u64, u64, Vec<usize>)>,
                                 until: Option<u64>|
                 -> Result<(), TestCaseError> {
                    while let Some(deadline) = d.deadline() {
                        let Some((first, last, order)) = open.take() else {
                            return Err(TestCaseError::fail("a deadline with no batch open"));
                        };
                        prop_assert!(deadline <= at(first + max_ms));
                        prop_assert!(deadline >= at((last + quiet_ms).min(first + max_ms)));
                        if until.is_some_and(|u| deadline > at(u)) {
                            *open = Some((first, last, order));
                            return Ok(());
                        }
                        let just_before = deadline.checked_sub(Duration::from_nanos(1));
                        for early in [just_before, Some(at(last))] {
                            if let Some(t) = early.filter(|&t| t < deadline) {
                                prop_assert!(d.take_ready(t).is_none(), "ready too early");
                            }
                        }
                        let batch = d.take_ready(deadline);
                        prop_assert!(batch.is_some(), "not ready at the deadline");
                        let keys: Vec<usize> =
                            batch.unwrap_or_default().into_iter().map(|(k, _)| k).collect();
                        prop_assert_eq!(&keys, &order);
                        prop_assert_eq!(d.deadline(), None);
                        batches += 1;
                        sent += keys.len();
                    }
                    prop_assert!(open.is_none(), "batch open without a deadline");
                    Ok(())
                };
                for &(path, gap) in &events {
                    now += gap;
                    flush(&mut d, &mut open, Some(now))?;
                    d.push(path, true, Seen::Written, at(now));
                    let (first, last, order) = open.get_or_insert((now, now, Vec::new()));
                    *last = now;
                    if !order.contains(&path) {
                        order.push(path);
                        pushed += 1;
                    }
                    let deadline = d.deadline();
                    prop_assert_eq!(deadline, Some(at((now + quiet_ms).min(*first + max_ms))));
                }
                flush(&mut d, &mut open, None)?;
                prop_assert!(batches >= 1);
                // Each path once per batch: as many entries went out as went in.
                prop_assert_eq!(sent, pushed);
            }

            /// A cap below the quiet time is raised to it (the config refuses
            /// it, an embedder may not): the deadline never beats `quiet`.
            #[test]
            fn max_wait_below_quiet_acts_as_quiet(
                quiet_ms in 1u64..300,
                max_ms in 0u64..300,
                gaps in prop::collection::vec(0u64..100, 1..10),
            ) {
                let t0 = Instant::now();
                let mut d = Debouncer::new(ms(quiet_ms), ms(max_ms));
                let first = gaps[0];
                let mut now = 0;
                for gap in gaps {
                    now += gap;
                    d.push("a", true, Seen::Written, t0 + ms(now));
                }
                let cap = max_ms.max(quiet_ms);
                let want = t0 + ms((now + quiet_ms).min(first + cap));
                prop_assert_eq!(d.deadline(), Some(want));
            }
        }
    }
}
