//! Per-client threads and their bounded channels, and the fan-out that feeds them.
//!
//! Each WebSocket client gets one bounded crossbeam channel and one blocking
//! thread (`hotreload-client-N`) that writes what the channel delivers, plus a
//! ping every heartbeat. The watcher hands each batch to [`Hub::broadcast`],
//! which serialises it once and `try_send`s it to every channel: it never
//! blocks on a client. A client whose channel is full is dropped; on
//! reconnecting it sees a higher `seq` and reloads, so no reload is lost.
//!
//! A client thread sleeps on the hub's [`Doorbell`], which the hub rings once
//! after queueing a batch for everyone, rather than in the channel's blocking
//! `recv`: that `recv` spins and calls `sched_yield` four times before it
//! sleeps, and with a thousand client threads on two cores every yield is a
//! context switch (6.3 per client per batch, against 2.4). One ring is one
//! `futex` call that wakes every thread; unparking each thread in turn cost
//! the watcher a system call per client and was preempted by the threads it
//! woke (see the README's Performance).
//!
//! tiny_http's upgraded stream is one boxed `Read + Write` that cannot be split
//! or given a timeout, so client threads only write. A vanished peer is found
//! by the write after the one that drew its reset: within two heartbeats.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TryRecvError, TrySendError, bounded, unbounded};
use tiny_http::ReadWrite;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tungstenite::{Bytes, Message, Utf8Bytes, WebSocket};

use crate::protocol::{self, Change, ChangeBatch};

/// The socket type of an upgraded tiny_http request.
pub(crate) type Socket = WebSocket<Box<dyn ReadWrite + Send>>;

/// How long `close()` waits for client threads to send their close frames.
pub(crate) const SHUTDOWN_WAIT: Duration = Duration::from_millis(800);

// Client threads write small frames and hold little: a small stack is plenty.
const CLIENT_STACK: usize = 128 * 1024;

/// Buffers for a push-only connection. tungstenite's defaults (128 KiB read
/// buffer, 64 MiB messages) are sized for large inbound traffic; browsers
/// send us only pongs and close frames.
pub(crate) fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(1 << 20)
        .max_message_size(Some(64 * 1024))
        .max_frame_size(Some(64 * 1024))
}

/// Open files each WebSocket client costs the process: tiny_http keeps a
/// reading and a writing handle of every connection.
pub(crate) const FILES_PER_CLIENT: u64 = 2;

/// Open files kept for everything else: the listener, the watcher, files
/// being served and browsers' page connections.
pub(crate) const FILES_RESERVED: u64 = 64;

/// The most files this process may have open (the soft `RLIMIT_NOFILE`),
/// from `/proc/self/limits`; `None` where that cannot be read, or unlimited.
pub(crate) fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Open files `clients` WebSocket clients need, with the reserve.
pub(crate) fn files_needed(clients: usize) -> u64 {
    clients as u64 * FILES_PER_CLIENT + FILES_RESERVED
}

/// How many clients fit under the open-file limit `limit`.
///
/// tiny_http stops accepting for good after one failed `accept`, so running
/// out of files must not happen: clients past this count get 503 instead.
pub(crate) fn clients_within(limit: u64) -> usize {
    (limit.saturating_sub(FILES_RESERVED) / FILES_PER_CLIENT) as usize
}

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
    pub heartbeat: Duration,
    pub max_clients: usize,
}

/// The last batch, as the status route shows it.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub clients: usize,
    pub seq: u64,
    pub last: Option<ChangeBatch>,
}

/// Where client threads wait for the hub: a counter of rings and the
/// condition variable that announces them.
///
/// A thread remembers the count it last heard and sleeps while the count is
/// unchanged, so a ring between its last look at its channel and its wait is
/// never missed.
#[derive(Default)]
struct Doorbell {
    rings: Mutex<u64>,
    rung: Condvar,
}

impl Doorbell {
    fn rings(&self) -> MutexGuard<'_, u64> {
        // The lock guards a counter only; a panic cannot leave it inconsistent.
        self.rings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The rings so far; a thread reads it before it first looks at its channel.
    fn heard(&self) -> u64 {
        *self.rings()
    }

    /// Wakes every waiting client thread.
    fn ring(&self) {
        *self.rings() += 1;
        self.rung.notify_all();
    }

    /// Sleeps until a ring after `heard`, or `timeout`; returns the rings now.
    fn wait(&self, heard: u64, timeout: Duration) -> u64 {
        let (rings, _) = self
            .rung
            .wait_timeout_while(self.rings(), timeout, |rings| *rings == heard)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *rings
    }
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
    last: Option<ChangeBatch>,
    next_id: u64,
    /// Each connected client's channel.
    clients: HashMap<u64, Sender<Message>>,
    /// Every client thread not yet joined, connected or not.
    threads: HashMap<u64, JoinHandle<()>>,
    subscribers: Vec<Sender<ChangeBatch>>,
    /// Cloned into each client thread; `None` once closed.
    alive: Option<Sender<()>>,
}

impl Hub {
    pub(crate) fn new(settings: Settings, server_id: String) -> Hub {
        let (alive, all_ended) = bounded(0);
        Hub {
            settings,
            server_id,
            state: Mutex::new(State {
                seq: 0,
                last: None,
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

    /// Takes an upgraded socket: queues `connected` and starts its thread.
    pub(crate) fn connect(self: &Arc<Self>, socket: Socket) -> Result<u64, (Refused, Socket)> {
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
        let (tx, rx) = bounded(self.settings.buffer.max(1));
        // The channel is new and has room for one, so this cannot fail. Under
        // the lock, so `connected.seq` and the first batch the client gets agree.
        let hello = protocol::connected_message(&self.server_id, state.seq);
        let _ = tx.try_send(Message::Text(Utf8Bytes::from(hello)));
        let hub = Arc::clone(self);
        let heartbeat = self.settings.heartbeat;
        // The socket goes to the thread only once it runs, so that a failed
        // spawn leaves it here and the caller can still answer the browser.
        let (start, started) = bounded::<Socket>(1);
        let spawned = thread::Builder::new()
            .name(format!("hotreload-client-{id}"))
            .stack_size(CLIENT_STACK)
            .spawn(move || {
                let Ok(socket) = started.recv() else { return };
                run_client(id, socket, rx, heartbeat, &hub, alive);
            });
        match spawned {
            Ok(thread) => {
                // The thread waits on `started`, so the send cannot fail.
                let _ = start.send(socket);
                state.clients.insert(id, tx);
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
        let text = Message::Text(Utf8Bytes::from(protocol::file_changed_message(&batch)));
        let mut stalled = Vec::new();
        state
            .clients
            .retain(|id, queue| match queue.try_send(text.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    stalled.push(*id);
                    false
                }
                Err(TrySendError::Disconnected(_)) => false,
            });
        state.subscribers.retain(|s| s.send(batch.clone()).is_ok());
        state.last = Some(batch.clone());
        let clients = state.clients.len();
        drop(state);
        // Outside the lock: woken threads take the CPU from this one, and the
        // status route and disconnecting clients need the lock meanwhile.
        self.doorbell.ring();
        for id in stalled {
            log::warn!(
                "[HotReload] client {id} stopped reading ({} messages queued); dropped it, it reloads when it reconnects",
                self.settings.buffer
            );
        }
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
            seq: state.seq,
            last: state.last.clone(),
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

/// The client thread: writes queued messages and heartbeat pings until a write
/// fails or the hub lets go of its channel, then says goodbye with 1001.
fn run_client(
    id: u64,
    mut socket: Socket,
    messages: Receiver<Message>,
    heartbeat: Duration,
    hub: &Hub,
    _alive: Sender<()>,
) {
    let mut next_ping = Instant::now() + heartbeat;
    let mut heard = hub.doorbell.heard();
    let reason = loop {
        match messages.try_recv() {
            Ok(message) => {
                if let Err(e) = socket.send(message) {
                    break format!("write failed: {e}");
                }
            }
            Err(TryRecvError::Empty) => {
                let now = Instant::now();
                if now < next_ping {
                    // Woken by the hub after it queues, or by the heartbeat;
                    // either way the loop looks at the channel again.
                    heard = hub.doorbell.wait(heard, next_ping - now);
                    continue;
                }
                next_ping += heartbeat;
                if let Err(e) = socket.send(Message::Ping(Bytes::new())) {
                    break format!("ping failed: {e}");
                }
            }
            Err(TryRecvError::Disconnected) => {
                let frame = CloseFrame {
                    code: CloseCode::Away,
                    reason: "hotreload closed the connection".into(),
                };
                let _ = socket.close(Some(frame));
                let _ = socket.flush();
                break "closed by the server".to_string();
            }
        }
    };
    log::debug!("[HotReload] client {id}: {reason}");
    hub.forget(id);
}
