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
}
