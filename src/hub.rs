//! The hub: who is connected, the batch numbering, the fan-out to every
//! client's bounded channel and to Rust subscribers, and the status snapshot.
//!
//! [`Hub::broadcast`] serialises a batch once and `try_send`s it to every
//! client's channel: it never blocks on a client. A client whose channel is
//! full is dropped; on reconnecting it sees a higher `seq` and reloads, so
//! no reload is lost. Each client's thread ([`crate::client`]) is started
//! here and joined by [`Hub::close`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded, unbounded};
use tungstenite::{Message, Utf8Bytes};

use crate::client::{self, Doorbell, Frames, Socket};
use crate::livereload::{self, Dialect};
use crate::protocol::{self, Change, ChangeBatch};

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
}

/// A connected client: what it speaks, and its queue.
struct Peer {
    dialect: Dialect,
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
        let (tx, rx) = bounded(self.settings.buffer.max(1) + 1 + state.pinned.len());
        // The channel is new and has room, so these cannot fail. Under the
        // lock, so `connected.seq` and the first batch the client gets agree.
        if dialect == Dialect::HotReload {
            let hello = protocol::connected_message(&self.server_id, state.seq, &state.welcome);
            let _ = tx.try_send(frames([hello]));
            for (_, pinned) in &state.pinned {
                let _ = tx.try_send(frames([pinned.clone()]));
            }
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
                state.clients.insert(id, Peer { dialect, queue: tx });
                state.threads.insert(id, thread);
                log::debug!(
                    "[HotReload] client {id} connected ({} now)",
                    state.clients.len()
                );
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
        let stalled = fan_out(&mut state, &ours, theirs.as_ref());
        state.subscribers.retain(|s| s.send(batch.clone()).is_ok());
        state.last = Some(batch.clone());
        let clients = state.clients.len();
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
        let stalled = fan_out(&mut state, &frames([message]), None);
        drop(state);
        self.rang(stalled);
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
        state.commands.retain(|r| r.kind != report.kind);
        state.commands.push(report);
        state.commands.sort_by_key(|r| r.kind);
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
            clients: state.clients.len(),
            livereload: state
                .clients
                .values()
                .filter(|p| p.dialect == Dialect::LiveReload)
                .count(),
            seq: state.seq,
            last: state.last.clone(),
            commands: state.commands.clone(),
        }
    }

    /// A client thread ended: it no longer counts as connected.
    fn forget(&self, id: u64) {
        let mut state = self.lock();
        if state.clients.remove(&id).is_some() {
            log::debug!(
                "[HotReload] client {id} disconnected ({} left)",
                state.clients.len()
            );
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
/// dropped (it reloads when it reconnects). Returns those dropped.
fn fan_out(state: &mut State, ours: &Frames, theirs: Option<&Frames>) -> Vec<u64> {
    let mut stalled = Vec::new();
    state.clients.retain(|id, peer| {
        let frames = match (peer.dialect, theirs) {
            (Dialect::HotReload, _) => ours,
            (Dialect::LiveReload, Some(theirs)) => theirs,
            (Dialect::LiveReload, None) => return true,
        };
        match peer.queue.try_send(Arc::clone(frames)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                stalled.push(*id);
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    });
    stalled
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
