//! The HTTP front (SPEC.md section 8): a listening socket whose every
//! connection is bounded in time, tiny_http on it, kept accepting when the
//! process runs out of file descriptors, and request threads that grow with
//! demand, so no client can hold the server.
//!
//! Threads: the keeper (`hotreload-http`), one `hotreload-accept-N` per
//! tiny_http server it started (one, unless descriptors ran out), and
//! [`Workers`] (`hotreload-request-N`). tiny_http adds its own: an accept
//! thread and one thread per open connection, which end with their
//! connections (at most [`Timeouts::read`] after the peer goes quiet).
//!
//! Why each part exists, all from tiny_http 0.12's source:
//! - tiny_http sets no timeout on the connections it accepts, but Linux
//!   gives every accepted socket the options of its listening socket. So
//!   [`bind`] sets them once: idle and trickling connections end after
//!   [`Timeouts::read`], a write nobody takes fails after
//!   [`Timeouts::write`], and a peer that vanished (no FIN, no RST) is cut
//!   after [`Timeouts::unacknowledged`] (`TCP_USER_TIMEOUT`).
//! - tiny_http's accept loop ends for good at the first failed `accept`
//!   (`EMFILE` when every descriptor is taken), and panics when it cannot
//!   clone an accepted socket. [`Http`] keeps its own handle on the socket,
//!   so connections wait in the kernel's queue, and starts a new tiny_http
//!   server on it once descriptors are free.
//! - tiny_http's connection pool can queue a new connection behind idle
//!   ones: a thread that was woken for one connection still counts as
//!   idle, so the next connection waits for some connection to end. The
//!   keeper closes a connection of its own every [`GUARD_EVERY`] while
//!   requests come in, which frees a thread to take what waits.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
#[cfg(unix)]
use std::os::fd::AsRawFd;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, at, bounded, select, unbounded};
use socket2::{Domain, Protocol, Socket, Type};
use tiny_http::Request;

use crate::Error;
use crate::stoppable::Stoppable;

/// How long an HTTP connection may stay silent before it is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);

/// How often the keeper frees a tiny_http pool thread while requests come in.
pub const GUARD_EVERY: Duration = Duration::from_millis(200);

/// How long after the last request the keeper goes on freeing threads.
const BUSY_FOR: Duration = Duration::from_secs(2);

/// How often a quiet keeper checks that tiny_http still accepts.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Descriptors that must be free before a new accept loop starts: each
/// connection takes two, and the first ones in should get an answer.
const HEADROOM: u64 = 32;

/// Time limits every accepted connection inherits from its listening socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// A read that gets nothing for this long fails, which closes the
    /// connection: an idle keep-alive connection, a request head or body
    /// that stalls. Default [`IDLE_TIMEOUT`].
    pub read: Duration,
    /// A write the peer takes nothing of for this long fails, and the
    /// connection ends: a download nobody reads, a browser tab whose socket
    /// is full. Default: the heartbeat.
    pub write: Duration,
    /// Sent data the peer has not acknowledged for this long ends the
    /// connection (`TCP_USER_TIMEOUT`, Linux only): how a peer that vanished
    /// without a FIN or RST (Wi-Fi gone, lid shut) is found. Shorter than
    /// the heartbeat, so the ping after the one that was never acknowledged
    /// fails: a vanished WebSocket client is dropped within two heartbeats.
    /// Default: three quarters of the heartbeat.
    pub unacknowledged: Duration,
}

impl Timeouts {
    /// The timeouts that fit a WebSocket heartbeat of `heartbeat`.
    pub fn for_heartbeat(heartbeat: Duration) -> Timeouts {
        Timeouts {
            read: IDLE_TIMEOUT,
            write: heartbeat,
            unacknowledged: heartbeat * 3 / 4,
        }
    }
}

impl Default for Timeouts {
    /// For the default heartbeat of 5 s.
    fn default() -> Timeouts {
        Timeouts::for_heartbeat(Duration::from_secs(5))
    }
}

/// A listening socket whose accepted connections inherit `timeouts` (and
/// `TCP_NODELAY`, so small WebSocket frames leave at once).
///
/// Give it to `tiny_http::Server::from_listener`, or better to [`Http::start`],
/// which also survives running out of descriptors. The first address that
/// `addr` resolves to and that binds is used.
pub fn bind(addr: impl ToSocketAddrs, timeouts: &Timeouts) -> io::Result<TcpListener> {
    first_that_binds(addr, Some(timeouts))
}

fn bind_one(addr: SocketAddr, timeouts: Option<&Timeouts>) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As std does: a restarted server binds while old connections linger.
    socket.set_reuse_address(true)?;
    if let Some(timeouts) = timeouts {
        set_timeouts(&socket, timeouts)?;
    }
    socket.bind(&addr.into())?;
    // The kernel caps it at net.core.somaxconn; a page, or a benchmark,
    // opens many connections at once.
    socket.listen(1024)?;
    Ok(socket.into())
}

fn set_timeouts(socket: &Socket, timeouts: &Timeouts) -> io::Result<()> {
    socket.set_read_timeout(Some(timeouts.read))?;
    socket.set_write_timeout(Some(timeouts.write))?;
    #[cfg(target_os = "linux")]
    socket.set_tcp_user_timeout(Some(timeouts.unacknowledged))?;
    socket.set_tcp_nodelay(true)
}

/// A listening socket without timeouts of its own, for a front that sets
/// them on each connection it takes ([`bound`]).
pub(crate) fn listen(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
    first_that_binds(addr, None)
}

/// Gives an accepted connection `timeouts` (and `TCP_NODELAY`).
pub(crate) fn bound(stream: &TcpStream, timeouts: &Timeouts) -> io::Result<()> {
    set_timeouts(&socket2::SockRef::from(stream), timeouts)
}

fn first_that_binds(
    addr: impl ToSocketAddrs,
    timeouts: Option<&Timeouts>,
) -> io::Result<TcpListener> {
    let mut last = None;
    for addr in addr.to_socket_addrs()? {
        match bind_one(addr, timeouts) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

/// tiny_http on a [`bind`] listener, kept accepting whatever happens to its
/// accept loop; requests arrive on [`requests`](Self::requests).
///
/// `close()` (or drop) stops accepting and joins its threads at once (they
/// only wait on channels). Connections already open end by their timeouts.
pub struct Http {
    addr: SocketAddr,
    requests: Receiver<Request>,
    keeper: Stoppable,
}

impl Http {
    /// Binds `addr` (`host:port`, `[v6]:port`) with `timeouts` and serves it.
    pub fn bind(addr: &str, timeouts: &Timeouts) -> Result<Http, Error> {
        let listener = bind(addr, timeouts).map_err(|source| Error::Bind {
            addr: addr.to_string(),
            source,
        })?;
        Http::start(listener)
    }

    /// Serves `listener` (made by [`bind`], so that connections are bounded).
    pub fn start(listener: TcpListener) -> Result<Http, Error> {
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: "the listening socket".into(),
            source,
        })?;
        let accept_wake = socket2::SockRef::from(&listener)
            .read_timeout()
            .ok()
            .flatten()
            .map(|t| (t / 2).max(Duration::from_millis(50)));
        let (requests_tx, requests) = unbounded();
        let (activity_tx, activity) = bounded(1);
        let mut keeper = Keeper {
            listener,
            addr,
            requests: requests_tx,
            activity_tx,
            generations: Vec::new(),
            next_generation: 1,
            held: None,
            starving: false,
            accept_wake,
            woken: Instant::now(),
        };
        keeper.start_generation()?;
        let keeper = Stoppable::spawn("hotreload-http", move |stopped| {
            keeper.run(&stopped, &activity)
        })?;
        Ok(Http {
            addr,
            requests,
            keeper,
        })
    }

    /// The address it listens on (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request, from every connection; disconnected once closed.
    /// Answer each on a thread that may block ([`Workers`] does), never on
    /// a fixed few: a download nobody reads holds its thread until
    /// [`Timeouts::write`] passes.
    pub fn requests(&self) -> &Receiver<Request> {
        &self.requests
    }

    /// Stops accepting and joins the keeper and accept threads.
    pub fn close(&mut self) {
        if let Err(e) = self.keeper.close() {
            log::error!("[HotReload] {e}");
        }
    }
}

/// One tiny_http server on the shared listening socket, and its pump.
struct Generation {
    server: Arc<tiny_http::Server>,
    /// The descriptor tiny_http's accept loop listens on; it closes when
    /// that loop ends, which is how the keeper sees it end.
    #[cfg(unix)]
    fd: i32,
    closing: Arc<AtomicBool>,
    retired: Arc<AtomicBool>,
    pump: Option<JoinHandle<()>>,
}

impl Generation {
    /// Stops its pump (which hands over what was queued) and joins it.
    fn close(&mut self) {
        self.closing.store(true, Ordering::Release);
        self.server.unblock();
        if let Some(pump) = self.pump.take()
            && pump.join().is_err()
        {
            log::error!("[HotReload] a hotreload-accept thread panicked");
        }
    }
}

/// The keeper thread's state: the listening socket and what serves it.
struct Keeper {
    listener: TcpListener,
    addr: SocketAddr,
    requests: Sender<Request>,
    activity_tx: Sender<()>,
    /// The newest last; older ones still drain their open connections.
    generations: Vec<Generation>,
    next_generation: u64,
    /// The pool guard's own idle connection.
    held: Option<TcpStream>,
    /// Waiting for descriptors before accepting again.
    starving: bool,
    /// How often to connect to ourselves so that `accept` never waits as
    /// long as the listener's read timeout (half of it); `None` without one.
    accept_wake: Option<Duration>,
    /// When that last happened.
    woken: Instant,
}

impl Keeper {
    fn run(mut self, stopped: &Receiver<()>, activity: &Receiver<()>) {
        let mut last_request: Option<Instant> = None;
        let mut next_tick = Instant::now() + CHECK_EVERY;
        if let Some(wake) = self.accept_wake {
            next_tick = next_tick.min(self.woken + wake);
        }
        loop {
            select! {
                recv(stopped) -> _ => break,
                recv(activity) -> _ => {
                    let now = Instant::now();
                    if last_request.is_none() {
                        // Awake again: the guard's connection has likely
                        // timed out, so open one to close at the next tick.
                        next_tick = next_tick.min(now + GUARD_EVERY);
                        self.held = self.connect();
                    }
                    last_request = Some(now);
                    continue;
                }
                recv(at(next_tick)) -> _ => {}
            }
            if last_request.is_some_and(|t| t.elapsed() < BUSY_FOR) {
                // Close first: the freed pool thread takes what waits.
                drop(self.held.take());
                self.held = self.connect();
            } else {
                last_request = None;
            }
            // The listener's read timeout also ends an `accept` that waits
            // that long for a connection, and tiny_http's accept loop with
            // it: a connection of our own, well before, keeps it waiting.
            if let Some(wake) = self.accept_wake
                && self.woken.elapsed() >= wake
            {
                self.held = self.connect();
                self.woken = Instant::now();
            }
            self.check_accepting();
            self.drop_drained();
            let busy = last_request.is_some() || self.starving;
            next_tick = Instant::now() + if busy { GUARD_EVERY } else { CHECK_EVERY };
            if let Some(wake) = self.accept_wake {
                next_tick = next_tick.min(self.woken + wake);
            }
        }
        for generation in &mut self.generations {
            generation.close();
        }
    }

    /// A connection to our own port, for the pool guard.
    fn connect(&self) -> Option<TcpStream> {
        // A server bound to every address is reached on loopback.
        let target = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => {
                SocketAddr::new(Ipv4Addr::LOCALHOST.into(), self.addr.port())
            }
            IpAddr::V6(ip) if ip.is_unspecified() => {
                SocketAddr::new(Ipv6Addr::LOCALHOST.into(), self.addr.port())
            }
            _ => self.addr,
        };
        TcpStream::connect_timeout(&target, Duration::from_secs(1)).ok()
    }

    /// Starts a tiny_http server on a new handle of the listening socket.
    fn start_generation(&mut self) -> Result<(), Error> {
        let fail = |problem: String| Error::Thread {
            name: "hotreload-accept".into(),
            problem,
        };
        let listener = self
            .listener
            .try_clone()
            .map_err(|e| fail(format!("cannot share the listening socket: {e}")))?;
        #[cfg(unix)]
        let fd = listener.as_raw_fd();
        let server = tiny_http::Server::from_listener(listener, None)
            .map_err(|e| fail(format!("cannot start tiny_http: {e}")))?;
        let server = Arc::new(server);
        let closing = Arc::new(AtomicBool::new(false));
        let retired = Arc::new(AtomicBool::new(false));
        let n = self.next_generation;
        self.next_generation += 1;
        let pump = {
            let server = Arc::clone(&server);
            let requests = self.requests.clone();
            let activity = self.activity_tx.clone();
            let closing = Arc::clone(&closing);
            let retired = Arc::clone(&retired);
            thread::Builder::new()
                .name(format!("hotreload-accept-{n}"))
                .spawn(move || pump(&server, &requests, &activity, &closing, &retired))
                .map_err(|e| fail(format!("cannot start: {e}")))?
        };
        self.generations.push(Generation {
            server,
            #[cfg(unix)]
            fd,
            closing,
            retired,
            pump: Some(pump),
        });
        Ok(())
    }

    /// Starts a new accept loop if the newest one has ended and there are
    /// descriptors for it.
    fn check_accepting(&mut self) {
        let Some(newest) = self.generations.last() else {
            return;
        };
        if self.is_listening(newest) {
            return;
        }
        if let Some((open, limit)) = descriptors()
            && open + HEADROOM > limit
        {
            if !self.starving {
                log::warn!(
                    "[HotReload] out of file descriptors ({open} open, the limit is {limit}): new connections wait in the kernel's queue until some close. Raise the limit before starting (`ulimit -n`)"
                );
                self.starving = true;
            }
            return;
        }
        if let Some(old) = self.generations.last() {
            old.retired.store(true, Ordering::Release);
            // Wakes its pump to drain what is left with a deadline.
            old.server.unblock();
        }
        match self.start_generation() {
            Ok(()) => {
                log::warn!("[HotReload] accepting connections again");
                self.starving = false;
            }
            Err(e) => {
                log::warn!("[HotReload] {e}; trying again shortly");
                self.starving = true;
            }
        }
    }

    /// Is this generation's accept loop still listening?
    #[cfg(unix)]
    fn is_listening(&self, generation: &Generation) -> bool {
        // Both descriptors name the same socket while tiny_http holds its
        // own; a closed one reads as missing, or as another file.
        let link = |fd: i32| std::fs::read_link(format!("/proc/self/fd/{fd}")).ok();
        match (link(self.listener.as_raw_fd()), link(generation.fd)) {
            (Some(ours), theirs) => theirs.as_ref() == Some(&ours),
            // No /proc: nothing can be told, so trust it.
            (None, _) => true,
        }
    }

    #[cfg(not(unix))]
    fn is_listening(&self, _: &Generation) -> bool {
        true
    }

    /// Joins the pumps of retired servers that have nothing left to hand over.
    fn drop_drained(&mut self) {
        let newest = self.generations.len().saturating_sub(1);
        let mut i = 0;
        self.generations.retain_mut(|g| {
            let keep = i == newest || !g.pump.as_ref().is_none_or(JoinHandle::is_finished);
            i += 1;
            if !keep {
                g.close();
            }
            keep
        });
    }
}

/// One server's pump: hands its requests over until closed. A retired
/// server (its accept loop ended) still has open connections; its pump
/// hands over their requests until none comes for twice the idle timeout,
/// by which time every one of them has timed out.
fn pump(
    server: &tiny_http::Server,
    requests: &Sender<Request>,
    activity: &Sender<()>,
    closing: &AtomicBool,
    retired: &AtomicBool,
) {
    loop {
        let next = if retired.load(Ordering::Acquire) {
            let asked = Instant::now();
            match server.recv_timeout(IDLE_TIMEOUT * 2) {
                Ok(Some(request)) => Ok(request),
                // Nothing for that long: every connection has timed out.
                Ok(None) if asked.elapsed() >= IDLE_TIMEOUT => return,
                // An `unblock`: closing, or the one that retired it.
                Ok(None) if closing.load(Ordering::Acquire) => return,
                Ok(None) => continue,
                Err(e) => Err(e),
            }
        } else {
            server.recv()
        };
        match next {
            Ok(request) => {
                let _ = activity.try_send(());
                if requests.send(request).is_err() {
                    return;
                }
            }
            Err(_) if closing.load(Ordering::Acquire) => return,
            // Woken to retire, or tiny_http's accept loop failed (the
            // keeper sees that it ended): keep draining either way.
            Err(e) => {
                if !retired.load(Ordering::Acquire) {
                    log::debug!("[HotReload] tiny_http: {e}");
                    let _ = activity.try_send(());
                }
            }
        }
    }
}

/// Open descriptors and the soft limit, where `/proc` tells; `(limit,
/// limit)` when even listing them fails for want of a descriptor.
fn descriptors() -> Option<(u64, u64)> {
    let limit = open_file_limit()?;
    match std::fs::read_dir("/proc/self/fd") {
        Ok(entries) => Some((entries.count() as u64, limit)),
        Err(e) if e.raw_os_error() == Some(24) => Some((limit, limit)),
        Err(_) => None,
    }
}

/// The most files this process may have open (the soft `RLIMIT_NOFILE`),
/// from `/proc/self/limits`; `None` where that cannot be read, or unlimited.
pub fn open_file_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Threads that answer requests, more of them whenever every one is busy,
/// so that a download nobody reads holds one thread, not the server.
///
/// One thread always waits: the one that takes a request while it is the
/// last idle one starts another before it answers. Threads idle for
/// [`IDLE_TIMEOUT`] end, down to one. A panic while answering is caught
/// and logged; the thread goes on.
pub struct Workers {
    shared: Arc<Shared>,
    /// Each thread holds a clone; disconnected when all have ended.
    all_ended: Receiver<()>,
    alive: Option<Sender<()>>,
}

struct Shared {
    name: String,
    requests: Receiver<Request>,
    handler: Box<dyn Fn(Request) + Send + Sync>,
    /// Threads waiting for a request.
    idle: AtomicUsize,
    next_id: AtomicU64,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

impl Workers {
    /// Starts answering `requests` with `handler`, on threads named
    /// `NAME-N`. They end when the channel disconnects (the [`Http`] it
    /// came from is closed).
    pub fn start(
        name: &str,
        requests: Receiver<Request>,
        handler: impl Fn(Request) + Send + Sync + 'static,
    ) -> Result<Workers, Error> {
        let shared = Arc::new(Shared {
            name: name.to_string(),
            requests,
            handler: Box::new(handler),
            idle: AtomicUsize::new(0),
            next_id: AtomicU64::new(1),
            threads: Mutex::new(Vec::new()),
        });
        let (alive, all_ended) = bounded(0);
        spawn_worker(&shared, &alive).map_err(|e| Error::Thread {
            name: format!("{name}-1"),
            problem: format!("cannot start: {e}"),
        })?;
        Ok(Workers {
            shared,
            all_ended,
            alive: Some(alive),
        })
    }

    /// Threads answering or waiting now.
    pub fn threads(&self) -> usize {
        let mut threads = self.shared.lock();
        threads.retain(|t| !t.is_finished());
        threads.len()
    }

    /// Waits up to `within` for every thread to end (close the [`Http`]
    /// first), joins them, and returns how many were still busy, answering
    /// a peer that takes nothing (each ends by [`Timeouts::write`]).
    pub fn close(&mut self, within: Duration) -> usize {
        if self.alive.take().is_none() {
            return 0;
        }
        let all_done = matches!(
            self.all_ended.recv_timeout(within),
            Err(RecvTimeoutError::Disconnected)
        );
        let threads = std::mem::take(&mut *self.shared.lock());
        let mut busy = 0;
        for thread in threads {
            if all_done || thread.is_finished() {
                let _ = thread.join();
            } else {
                busy += 1;
            }
        }
        busy
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        let busy = self.close(Duration::from_millis(200));
        if busy > 0 {
            log::debug!(
                "[HotReload] {busy} request thread(s) still writing; left to end by their timeout"
            );
        }
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        // Plain handles: a panic elsewhere cannot leave them inconsistent.
        self.threads
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn spawn_worker(shared: &Arc<Shared>, alive: &Sender<()>) -> io::Result<()> {
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    shared.idle.fetch_add(1, Ordering::AcqRel);
    let worker = {
        let shared = Arc::clone(shared);
        let alive = alive.clone();
        thread::Builder::new()
            .name(format!("{}-{id}", shared.name))
            .spawn(move || work(&shared, &alive))
    };
    match worker {
        Ok(thread) => {
            let mut threads = shared.lock();
            threads.retain(|t| !t.is_finished());
            threads.push(thread);
            Ok(())
        }
        Err(e) => {
            shared.idle.fetch_sub(1, Ordering::AcqRel);
            Err(e)
        }
    }
}

fn work(shared: &Arc<Shared>, alive: &Sender<()>) {
    loop {
        match shared.requests.recv_timeout(IDLE_TIMEOUT) {
            Ok(request) => {
                if shared.idle.fetch_sub(1, Ordering::AcqRel) == 1
                    && let Err(e) = spawn_worker(shared, alive)
                {
                    log::warn!("[HotReload] cannot start another request thread: {e}");
                }
                let url = request.url().to_string();
                if catch_unwind(AssertUnwindSafe(|| (shared.handler)(request))).is_err() {
                    log::error!("[HotReload] answering {url} panicked; see the message above");
                }
                shared.idle.fetch_add(1, Ordering::AcqRel);
            }
            Err(RecvTimeoutError::Timeout) => {
                let leave = shared
                    .idle
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                        (n > 1).then(|| n - 1)
                    })
                    .is_ok();
                if leave {
                    return;
                }
            }
            Err(RecvTimeoutError::Disconnected) => {
                shared.idle.fetch_sub(1, Ordering::AcqRel);
                return;
            }
        }
    }
}
