//! The hub: who is connected, the batch numbering, the fan-out to every
//! client's bounded channel and to Rust subscribers, and the status snapshot.
//!
//! [`Hub::broadcast`] serialises a batch once and `try_send`s it to every
//! client's channel: it never blocks on a client. A client whose channel is
//! full is dropped; on reconnecting it sees a higher `seq` and reloads, so
//! no reload is lost. Each client's thread ([`crate::client`]) is started
//! here and joined by [`Hub::close`].
//!
//! The hub also keeps what the dashboard shows (SPEC.md section 13): the
//! tabs, the [`History`], and whether sync is on; it replays sync events
//! on the tabs of the sender's page.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded, unbounded};
use tungstenite::{Message, Utf8Bytes};

use crate::client::{self, Doorbell, Frames, Socket};
use crate::history::{self, History};
use crate::livereload;
use crate::protocol::{self, Change, ChangeBatch, push_json_str};
use crate::sync::{self, Allowance};

/// What a WebSocket client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// Ours: `/ws/hotreload`, SPEC.md section 4.
    HotReload,
    /// LiveReload protocol 7: `/livereload`.
    LiveReload,
    /// The dashboard's own socket (`/ws/hotreload?dashboard=1`): the
    /// tabs, the timeline and the sync switch, never a batch. Not a tab,
    /// so not counted in `connected_clients`.
    Dashboard,
}

/// Who a client is, as its upgrade said: shown on the dashboard, and the
/// page its sync events are replayed on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Visitor {
    /// The path of the page it shows (`/docs/`), from `?page=`.
    pub page: String,
    /// A short name of its browser (`Chrome 156 (Android)`).
    pub browser: String,
}

/// A dashboard's queue: entries of a burst of batches and commands, and
/// the tab list as it changes, without it counting as stalled.
const DASHBOARD_BUFFER: usize = 256;

/// Why a sync event was not replayed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NotRelayed {
    /// Sync is off.
    Off,
    /// No tab of ours with the sender's id is connected.
    UnknownSender,
    /// The sender is over its rate.
    TooMany,
}

/// How long `close()` waits for client threads to send their close frames.
pub(crate) const SHUTDOWN_WAIT: Duration = Duration::from_millis(700);

/// Why a client was not taken.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// `max_clients` are connected already.
    Full,
    /// The hub is closed (the manager is shutting down).
    Closed,
    /// The operating system would not start a thread.
    NoThread,
}

/// Per-client settings taken from the config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    pub buffer: usize,
    /// `morph` and `preflight` of the config, for `connected`.
    pub morph: bool,
    pub preflight: bool,
    pub heartbeat: Duration,
    pub max_clients: usize,
    /// Sync at start (`sync` of the config); the dashboard switches it.
    pub sync: bool,
}

/// The last batch, as the status route shows it.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub clients: usize,
    /// Of `clients`, those speaking LiveReload.
    pub livereload: usize,
    pub seq: u64,
    pub last: Option<ChangeBatch>,
    pub commands: Vec<protocol::CommandReport>,
    pub sync: bool,
}

/// Every connected client and Rust subscriber, and the batch counter.
pub(crate) struct Hub {
    settings: Settings,
    server_id: String,
    state: Mutex<State>,
    /// Disconnects when every client thread has ended (each holds a sender).
    all_ended: Receiver<()>,
    /// Rung after a batch is queued and when closing.
    doorbell: Doorbell,
}

struct State {
    seq: u64,
    /// Told to every page as it connects.
    welcome: protocol::Welcome,
    last: Option<ChangeBatch>,
    /// Sent to each new client after `connected` (see [`Hub::pin`]).
    pinned: Vec<(protocol::Kind, String)>,
    /// The latest result of each command, by kind.
    commands: Vec<protocol::CommandReport>,
    next_id: u64,
    /// Each connected client's channel.
    clients: HashMap<u64, Peer>,
    /// Every client thread not yet joined, connected or not.
    threads: HashMap<u64, JoinHandle<()>>,
    subscribers: Vec<Sender<ChangeBatch>>,
    /// Cloned into each client thread; `None` once closed.
    alive: Option<Sender<()>>,
    history: History,
    sync: bool,
}

/// A connected client: what it speaks, who it is, and its queue.
struct Peer {
    dialect: Dialect,
    visitor: Visitor,
    /// When it connected, in Unix milliseconds.
    since_ms: u64,
    /// How many sync events it may still send.
    allowance: Allowance,
    queue: Sender<Frames>,
}

impl Hub {
    pub(crate) fn new(settings: Settings, server_id: String) -> Hub {
        let (alive, all_ended) = bounded(0);
        Hub {
            settings,
            server_id,
            state: Mutex::new(State {
                seq: 0,
                welcome: protocol::Welcome {
                    morph: settings.morph,
                    preflight: settings.preflight,
                    pages: Vec::new(),
                },
                last: None,
                pinned: Vec::new(),
                commands: Vec::new(),
                next_id: 1,
                clients: HashMap::new(),
                threads: HashMap::new(),
                subscribers: Vec::new(),
                alive: Some(alive),
                history: History::default(),
                sync: settings.sync,
            }),
            all_ended,
            doorbell: Doorbell::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; keep serving.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn server_id(&self) -> &str {
        &self.server_id
    }

    /// Would a new client be taken now?
    pub(crate) fn has_room(&self) -> Result<(), Refused> {
        let state = self.lock();
        if state.alive.is_none() {
            Err(Refused::Closed)
        } else if state.clients.len() >= self.settings.max_clients {
            Err(Refused::Full)
        } else {
            Ok(())
        }
    }

    /// Takes an upgraded socket: queues `connected` (in our dialect) and
    /// starts its thread. A LiveReload client has said hello already.
    pub(crate) fn connect(
        self: &Arc<Self>,
        socket: Socket,
        dialect: Dialect,
        visitor: Visitor,
    ) -> Result<u64, (Refused, Socket)> {
        let mut state = self.lock();
        let Some(alive) = state.alive.clone() else {
            return Err((Refused::Closed, socket));
        };
        if state.clients.len() >= self.settings.max_clients {
            return Err((Refused::Full, socket));
        }
        state.threads.retain(|_, t| !t.is_finished());
        let id = state.next_id;
        state.next_id += 1;
        // Places beyond the buffer for `connected` and the pinned messages:
        // the buffer counts batches, so `client_buffer: 1` takes one before
        // the client is stalled.
        let (tx, rx) = match dialect {
            Dialect::Dashboard => bounded(DASHBOARD_BUFFER),
            _ => bounded(self.settings.buffer.max(1) + 1 + state.pinned.len()),
        };
        // The channel is new and has room, so these cannot fail. Under the
        // lock, so `connected.seq` and the first batch the client gets agree.
        // Not for LiveReload, which has no words for it.
        let hello = || {
            protocol::connected_message(&self.server_id, state.seq, id, state.sync, &state.welcome)
        };
        match dialect {
            Dialect::HotReload => {
                let _ = tx.try_send(frames([hello()]));
                for (_, pinned) in &state.pinned {
                    let _ = tx.try_send(frames([pinned.clone()]));
                }
            }
            Dialect::Dashboard => {
                let _ = tx.try_send(frames([
                    hello(),
                    clients_message(&state),
                    sync_state_message(state.sync),
                ]));
            }
            Dialect::LiveReload => {}
        }
        let hub = Arc::clone(self);
        let heartbeat = self.settings.heartbeat;
        // The socket goes to the thread only once it runs, so that a failed
        // spawn leaves it here and the caller can still answer the browser.
        let (start, started) = bounded::<Socket>(1);
        let spawned = thread::Builder::new()
            .name(format!("hotreload-client-{id}"))
            .stack_size(client::STACK)
            .spawn(move || {
                // Dropped as the thread ends: `close` counts on that.
                let _alive = alive;
                let Ok(socket) = started.recv() else { return };
                let why = client::run(socket, &rx, heartbeat, &hub.doorbell);
                log::debug!("[HotReload] client {id}: {why}");
                hub.forget(id);
            });
        match spawned {
            Ok(thread) => {
                // The thread waits on `started`, so the send cannot fail.
                let _ = start.send(socket);
                let peer = Peer {
                    dialect,
                    visitor,
                    since_ms: history::unix_millis(),
                    allowance: Allowance::new(Instant::now()),
                    queue: tx,
                };
                state.clients.insert(id, peer);
                state.threads.insert(id, thread);
                log::debug!(
                    "[HotReload] client {id} connected ({} now)",
                    state.clients.len()
                );
                let told = if dialect == Dialect::Dashboard {
                    None
                } else {
                    tell_dashboards_the_tabs(&mut state)
                };
                drop(state);
                // Only when something was queued: a thousand tabs
                // connecting must not wake every thread a thousand times.
                if let Some(stalled) = told {
                    self.rang(stalled);
                }
                Ok(id)
            }
            Err(e) => {
                log::error!("[HotReload] cannot start a thread for a client: {e}");
                Err((Refused::NoThread, socket))
            }
        }
    }

    /// Numbers the batch, sends it to every client and subscriber without
    /// waiting on any, and remembers it for the status route.
    pub(crate) fn broadcast(&self, changes: Vec<Change>) -> Option<ChangeBatch> {
        let started = Instant::now();
        let mut state = self.lock();
        state.alive.as_ref()?;
        state.seq += 1;
        let batch = ChangeBatch {
            seq: state.seq,
            timestamp: protocol::unix_now(),
            changes,
        };
        let ours = frames([protocol::file_changed_message(&batch)]);
        let theirs = state
            .clients
            .values()
            .any(|p| p.dialect == Dialect::LiveReload)
            .then(|| frames(livereload::reload_commands(&batch)));
        let (clients, mut stalled) = fan_out(&mut state, &ours, theirs.as_ref());
        state.subscribers.retain(|s| s.send(batch.clone()).is_ok());
        state.last = Some(batch.clone());
        let entry = history_message(state.history.batch(&batch, clients));
        stalled.extend(to_dashboards(&mut state, &frames([entry])));
        drop(state);
        self.rang(stalled);
        log::info!(
            "[HotReload] #{} {}: {} -> {} client{} ({:.1} ms)",
            batch.seq,
            batch.action().as_str(),
            describe(&batch.changes),
            clients,
            if clients == 1 { "" } else { "s" },
            started.elapsed().as_secs_f64() * 1000.0
        );
        Some(batch)
    }

    /// Sends a message that is not a batch (a build's or a test's result)
    /// to every client of ours, as a batch goes: without waiting on any.
    /// LiveReload has no words for it.
    pub(crate) fn tell(&self, message: String) {
        let mut state = self.lock();
        if state.alive.is_none() {
            return;
        }
        let (_, stalled) = fan_out(&mut state, &frames([message]), None);
        drop(state);
        self.rang(stalled);
    }

    /// Switches sync on or off, and tells every page and dashboard.
    pub(crate) fn set_sync(&self, on: bool) {
        let mut state = self.lock();
        if state.alive.is_none() || state.sync == on {
            return;
        }
        state.sync = on;
        let message = frames([sync_state_message(on)]);
        let (_, mut stalled) = fan_out(&mut state, &message, None);
        stalled.extend(to_dashboards(&mut state, &message));
        drop(state);
        log::info!("[HotReload] sync {}", if on { "on" } else { "off" });
        self.rang(stalled);
    }

    /// Replays a tab's event on every other tab of ours showing the same
    /// page; returns how many got it. Never sent back to the sender, and
    /// never at the cost of a batch: a tab whose queue is half full skips
    /// the event rather than being dropped for it.
    pub(crate) fn relay(&self, event: &sync::Event) -> Result<usize, NotRelayed> {
        let mut state = self.lock();
        if state.alive.is_none() || !state.sync {
            return Err(NotRelayed::Off);
        }
        let sender = state
            .clients
            .get_mut(&event.from)
            .filter(|p| p.dialect == Dialect::HotReload)
            .ok_or(NotRelayed::UnknownSender)?;
        if !sender.allowance.take(Instant::now()) {
            return Err(NotRelayed::TooMany);
        }
        let message = frames([event.message()]);
        let mut sent = 0;
        for (id, peer) in &state.clients {
            let roomy = peer.queue.len() * 2 < peer.queue.capacity().unwrap_or(usize::MAX);
            if *id != event.from
                && peer.dialect == Dialect::HotReload
                && peer.visitor.page == event.page
                && roomy
                && peer.queue.try_send(Arc::clone(&message)).is_ok()
            {
                sent += 1;
            }
        }
        drop(state);
        if sent > 0 {
            self.doorbell.ring();
        }
        Ok(sent)
    }

    /// The newest `limit` entries of the history, as the route answers.
    pub(crate) fn history_json(&self, limit: usize) -> String {
        self.lock().history.json(limit, &self.server_id)
    }

    /// A message every client gets right after `connected` from now on (a
    /// build or tests that failed, so a page opened or reloaded meanwhile
    /// shows it), one per `kind`; `None` stops that.
    pub(crate) fn pin(&self, kind: protocol::Kind, message: Option<String>) {
        let mut state = self.lock();
        state.pinned.retain(|(k, _)| *k != kind);
        if let Some(message) = message {
            state.pinned.push((kind, message));
        }
    }

    /// Where the server's pages come from, for pages to tell whether a
    /// change is theirs (see [`protocol::Welcome::pages`]).
    pub(crate) fn set_pages(&self, pages: Vec<(String, String)>) {
        self.lock().welcome.pages = pages;
    }

    /// Remembers the latest result of a command, for the status route.
    pub(crate) fn record(&self, report: protocol::CommandReport) {
        let mut state = self.lock();
        let entry = state.history.command(&report).map(history_message);
        state.commands.retain(|r| r.kind != report.kind);
        state.commands.push(report);
        state.commands.sort_by_key(|r| r.kind);
        if let Some(entry) = entry {
            let stalled = to_dashboards(&mut state, &frames([entry]));
            drop(state);
            self.rang(stalled);
        }
    }

    /// Wakes the client threads after queueing, and says who was dropped.
    fn rang(&self, stalled: Vec<u64>) {
        // Outside the lock: woken threads take the CPU from this one, and the
        // status route and disconnecting clients need the lock meanwhile.
        self.doorbell.ring();
        for id in stalled {
            log::warn!(
                "[HotReload] client {id} stopped reading ({} messages queued); dropped it, it reloads when it reconnects",
                self.settings.buffer
            );
        }
    }

    /// A channel that gets every batch from now on (none once closed).
    pub(crate) fn subscribe(&self) -> Receiver<ChangeBatch> {
        let (tx, rx) = unbounded();
        let mut state = self.lock();
        if state.alive.is_some() {
            state.subscribers.push(tx);
        }
        rx
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        let state = self.lock();
        Snapshot {
            clients: state
                .clients
                .values()
                .filter(|p| p.dialect != Dialect::Dashboard)
                .count(),
            livereload: state
                .clients
                .values()
                .filter(|p| p.dialect == Dialect::LiveReload)
                .count(),
            seq: state.seq,
            last: state.last.clone(),
            commands: state.commands.clone(),
            sync: state.sync,
        }
    }

    /// The tabs as a JSON list, for the status route (see [`tabs_json`]).
    pub(crate) fn tabs_json(&self) -> String {
        tabs_json(&self.lock())
    }

    /// A client thread ended: it no longer counts as connected.
    fn forget(&self, id: u64) {
        let mut state = self.lock();
        let Some(gone) = state.clients.remove(&id) else {
            return;
        };
        log::debug!(
            "[HotReload] client {id} disconnected ({} left)",
            state.clients.len()
        );
        if gone.dialect != Dialect::Dashboard
            && let Some(stalled) = tell_dashboards_the_tabs(&mut state)
        {
            drop(state);
            self.rang(stalled);
        }
    }

    /// Sends every client a close frame (1001), ends subscriptions, and joins
    /// the client threads, waiting at most [`SHUTDOWN_WAIT`]. Returns how
    /// many threads were left running (their sockets would not take a write).
    pub(crate) fn close(&self) -> usize {
        let threads = {
            let mut state = self.lock();
            state.alive = None;
            state.clients.clear();
            state.subscribers.clear();
            std::mem::take(&mut state.threads)
        };
        // Their channels are gone; wake them to see it and say goodbye.
        self.doorbell.ring();
        // Every thread holds an `alive` sender and drops it as it returns:
        // disconnected means every thread is done with its socket, and
        // joining them cannot block.
        let all_done = matches!(
            self.all_ended.recv_deadline(Instant::now() + SHUTDOWN_WAIT),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected)
        );
        let mut stuck = 0;
        for (id, thread) in threads {
            if all_done || thread.is_finished() {
                if thread.join().is_err() {
                    log::error!("[HotReload] client thread {id} panicked");
                }
            } else {
                log::warn!(
                    "[HotReload] client {id} did not take its close frame in time; leaving its thread"
                );
                stuck += 1;
            }
        }
        stuck
    }
}

/// Text messages as one queue entry.
fn frames(texts: impl IntoIterator<Item = String>) -> Frames {
    texts
        .into_iter()
        .map(|text| Message::Text(Utf8Bytes::from(text)))
        .collect()
}

/// Queues `ours` for every client of ours and `theirs` (if any) for every
/// LiveReload client, without waiting; a client whose queue is full is
/// dropped (it reloads when it reconnects). Returns how many got it, and
/// those dropped.
fn fan_out(state: &mut State, ours: &Frames, theirs: Option<&Frames>) -> (usize, Vec<u64>) {
    let pick = |dialect| match dialect {
        Dialect::HotReload => Some(ours),
        Dialect::LiveReload => theirs,
        Dialect::Dashboard => None,
    };
    queue_where(state, pick)
}

/// Queues the list of tabs for every dashboard (after a tab came or
/// went); returns those dropped, or `None` when no dashboard listens:
/// then nothing is written (a thousand tabs connecting would otherwise
/// write a million entries) and no thread needs waking.
fn tell_dashboards_the_tabs(state: &mut State) -> Option<Vec<u64>> {
    if !state
        .clients
        .values()
        .any(|p| p.dialect == Dialect::Dashboard)
    {
        return None;
    }
    let tabs = clients_message(state);
    Some(to_dashboards(state, &frames([tabs])))
}

/// Queues `message` for every dashboard; returns those dropped.
fn to_dashboards(state: &mut State, message: &Frames) -> Vec<u64> {
    queue_where(state, |dialect| {
        (dialect == Dialect::Dashboard).then_some(message)
    })
    .1
}

/// Queues for each client what `pick` gives its dialect; a client whose
/// queue is full is dropped. Returns how many took it, and those dropped.
fn queue_where<'f>(
    state: &mut State,
    pick: impl Fn(Dialect) -> Option<&'f Frames>,
) -> (usize, Vec<u64>) {
    let mut sent = 0;
    let mut stalled = Vec::new();
    state.clients.retain(|id, peer| {
        let Some(frames) = pick(peer.dialect) else {
            return true;
        };
        match peer.queue.try_send(Arc::clone(frames)) {
            Ok(()) => {
                sent += 1;
                true
            }
            Err(TrySendError::Full(_)) => {
                stalled.push(*id);
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    });
    (sent, stalled)
}

/// The tabs (every client but dashboards) as a JSON list, oldest first:
/// `[{"id":3,"page":"/","browser":"Chrome 156","since_ms":...,"protocol":"hotreload"}]`.
fn tabs_json(state: &State) -> String {
    let mut tabs: Vec<(&u64, &Peer)> = state
        .clients
        .iter()
        .filter(|(_, p)| p.dialect != Dialect::Dashboard)
        .collect();
    tabs.sort_by_key(|(id, _)| **id);
    let mut out = String::from("[");
    for (i, (id, peer)) in tabs.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(r#"{{"id":{id},"page":"#));
        push_json_str(&mut out, &peer.visitor.page);
        out.push_str(r#","browser":"#);
        push_json_str(&mut out, &peer.visitor.browser);
        let protocol = match peer.dialect {
            Dialect::LiveReload => "livereload",
            _ => "hotreload",
        };
        out.push_str(&format!(
            r#","since_ms":{},"protocol":"{protocol}"}}"#,
            peer.since_ms
        ));
    }
    out.push(']');
    out
}

/// `{"type":"clients","clients":[...],"now_ms":...}` for dashboards: the
/// server's clock comes along, so that a phone whose clock is off still
/// says how long ago a tab connected.
fn clients_message(state: &State) -> String {
    format!(
        r#"{{"type":"clients","clients":{},"now_ms":{}}}"#,
        tabs_json(state),
        history::unix_millis()
    )
}

/// `{"type":"sync_state","enabled":...}` for pages and dashboards.
fn sync_state_message(on: bool) -> String {
    format!(r#"{{"type":"sync_state","enabled":{on}}}"#)
}

/// `{"type":"history","entry":{...}}` for dashboards.
fn history_message(entry: &str) -> String {
    format!(r#"{{"type":"history","entry":{entry}}}"#)
}

/// `a.css modified` or `a.css modified and 3 more`.
fn describe(changes: &[Change]) -> String {
    match changes {
        [] => "manual reload".to_string(),
        [one] => format!("{} {}", one.path, one.operation.as_str()),
        [first, rest @ ..] => format!(
            "{} {} and {} more",
            first.path,
            first.operation.as_str(),
            rest.len()
        ),
    }
}
