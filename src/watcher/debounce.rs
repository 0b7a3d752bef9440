//! The debounce state machine: events in, one batch out when the quiet time ends.
//!
//! Time is passed in, so tests are tables of `(event, at) => batch` with no
//! sleeping; the watcher thread waits on `deadline()` with a crossbeam timer.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

use crate::protocol::Operation;

/// What a batch knows of one path: was it there before, and how did it leave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// The path existed when its first event of this batch arrived.
    pub existed_before: bool,
    /// Its latest event moved it away (a rename source), rather than deleting it.
    pub moved_away: bool,
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
}

/// Collects events per path until `quiet` passes with none, or `max_wait`
/// after the first, whichever comes first.
pub struct Debouncer<K> {
    quiet: Duration,
    max_wait: Duration,
    first: Option<Instant>,
    last: Option<Instant>,
    order: Vec<K>,
    pending: HashMap<K, Pending>,
}

impl<K: Hash + Eq + Clone> Debouncer<K> {
    /// A debouncer with the given quiet time and cap.
    pub fn new(quiet: Duration, max_wait: Duration) -> Debouncer<K> {
        Debouncer {
            quiet,
            max_wait: max_wait.max(quiet),
            first: None,
            last: None,
            order: Vec::new(),
            pending: HashMap::new(),
        }
    }

    /// Records an event for `key` at `now`. The first event of a batch fixes
    /// `existed_before`; the latest fixes `moved_away`.
    pub fn push(&mut self, key: K, existed_before: bool, moved_away: bool, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
        match self.pending.get_mut(&key) {
            Some(p) => p.moved_away = moved_away,
            None => {
                self.order.push(key.clone());
                self.pending.insert(
                    key,
                    Pending {
                        existed_before,
                        moved_away,
                    },
                );
            }
        }
    }

    /// When the current batch is due, if one is open.
    pub fn deadline(&self) -> Option<Instant> {
        let (first, last) = (self.first?, self.last?);
        Some((last + self.quiet).min(first + self.max_wait))
    }

    /// The batch, in first-event order, if it is due at `now`.
    pub fn take_ready(&mut self, now: Instant) -> Option<Vec<(K, Pending)>> {
        if self.deadline()? > now {
            return None;
        }
        Some(self.take_all())
    }

    /// The open batch, due or not (empty when none is open).
    pub fn take_all(&mut self) -> Vec<(K, Pending)> {
        self.first = None;
        self.last = None;
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
                d.push(path, before, moved, ms(at));
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
            };
            assert_eq!(p.operation(now), want, "{p:?} exists_now={now}");
        }
    }

    #[test]
    fn first_event_fixes_existed_before_latest_fixes_moved() {
        let t = Instant::now();
        let mut d = Debouncer::new(Duration::from_millis(100), Duration::from_secs(1));
        d.push("x", false, false, t); // created
        d.push("x", true, true, t); // then renamed away
        let batch = d.take_all();
        assert_eq!(
            batch,
            vec![(
                "x",
                Pending {
                    existed_before: false,
                    moved_away: true
                }
            )]
        );
        assert_eq!(
            batch[0].1.operation(false),
            None,
            "create+move away = nothing"
        );
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
                    let moved = match op {
                        FsOp::Create | FsOp::Write | FsOp::RenameInto => {
                            disk.insert(path);
                            false
                        }
                        FsOp::Delete | FsOp::RenameAway if exists => {
                            disk.remove(&path);
                            op == FsOp::RenameAway
                        }
                        // Nothing there: no event.
                        FsOp::Delete | FsOp::RenameAway => continue,
                    };
                    let existed_before = if later_from_disk && last.contains_key(&path) {
                        exists
                    } else {
                        before.contains(&path)
                    };
                    last.insert(path, op);
                    d.push(path, existed_before, moved, t0 + ms(i as u64));
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
                    d.push(path, true, false, at(now));
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
                    d.push("a", true, false, t0 + ms(now));
                }
                let cap = max_ms.max(quiet_ms);
                let want = t0 + ms((now + quiet_ms).min(first + cap));
                prop_assert_eq!(d.deadline(), Some(want));
            }
        }
    }
}
