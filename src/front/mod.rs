//! The binary's HTTP front (SPEC.md sections 4, 8 and 9): its own accept
//! loop and a thread per connection, so every socket is its own: its
//! timeouts set when it is taken, its request heads read within limits,
//! and both ways of a WebSocket at once. A request gets a hot-reload
//! route, or else what stands behind the front: files, a backend, or
//! nothing (`hotreload watch`).
//!
//! Why not tiny_http, as an embedding app uses: it reads a request head
//! whole before anyone can refuse it, gives an upgraded connection as one
//! boxed `Read + Write` that one thread cannot both block-read and write,
//! ends its accept loop at the first failed `accept`, and takes every
//! connection's timeouts from the listening socket, where a read timeout
//! also ends `accept` itself after the same time without a connection.
//!
//! Threads: the accept loop (`hotreload-front`) and one per connection
//! (`hotreload-conn-N`, plus one while it tunnels a WebSocket). `close()`
//! shuts every socket down and joins them all.

pub(crate) mod browser;
pub(crate) mod wire;

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::Error;
use crate::http::Timeouts;
use crate::proxy::Proxied;
use crate::serve::files::StaticFiles;
use crate::server::Server;

/// How long `close()` waits for connection threads once their sockets are shut.
const CLOSE_WAIT: Duration = Duration::from_millis(500);

/// What answers the requests that are not hot-reload routes.
pub(crate) enum Behind {
    /// `serve`: the files of a folder.
    Files(StaticFiles),
    /// `proxy`: a backend.
    Backend(Proxied),
    /// `watch`: nothing; the app serves its own pages.
    Nothing,
    /// The LiveReload port: `/livereload` and `/livereload.js` only.
    LiveReloadPort,
}

/// What every connection thread shares.
pub(crate) struct Shared {
    pub server: Server,
    pub behind: Behind,
    /// Pages of the front's own (errors of the proxy) carry the client.
    pub inject: bool,
    timeouts: Timeouts,
    closing: AtomicBool,
    next_id: AtomicU64,
    connections: Mutex<HashMap<u64, Connection>>,
}

/// A live connection: the sockets to shut down on close, and its thread.
struct Connection {
    sockets: Vec<Arc<TcpStream>>,
    thread: Option<JoinHandle<()>>,
}

impl Shared {
    fn connections(&self) -> MutexGuard<'_, HashMap<u64, Connection>> {
        // Plain handles: a panic elsewhere cannot leave them inconsistent.
        self.connections
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remembers `socket` as one of connection `id`'s, to shut down on close.
    pub(crate) fn hold(&self, id: u64, socket: &Arc<TcpStream>) {
        if let Some(c) = self.connections().get_mut(&id) {
            c.sockets.push(Arc::clone(socket));
        }
        if self.closing.load(Ordering::Acquire) {
            let _ = socket.shutdown(std::net::Shutdown::Both);
        }
    }

    /// Forgets connection `id`'s sockets (they close when their last owner
    /// drops them, or live on in the hub).
    pub(crate) fn release(&self, id: u64) {
        if let Some(c) = self.connections().get_mut(&id) {
            c.sockets.clear();
        }
    }
}

/// The running front. Stops on [`close`](Self::close) or drop.
pub(crate) struct Front {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

impl Front {
    /// Binds `host:port` and serves it.
    pub(crate) fn start(
        host: &str,
        port: u16,
        timeouts: Timeouts,
        server: Server,
        behind: Behind,
        inject: bool,
    ) -> Result<Front, Error> {
        let shown = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let bind_error = |source| Error::Bind {
            addr: shown.clone(),
            source,
        };
        let listener = crate::http::listen(shown.as_str()).map_err(bind_error)?;
        let addr = listener.local_addr().map_err(bind_error)?;
        let shared = Arc::new(Shared {
            server,
            behind,
            inject,
            timeouts,
            closing: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            connections: Mutex::new(HashMap::new()),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("hotreload-front".into())
                .spawn(move || accept_loop(&listener, &shared))
                .map_err(|e| Error::Thread {
                    name: "hotreload-front".into(),
                    problem: format!("cannot start: {e}"),
                })?
        };
        Ok(Front {
            shared,
            addr,
            accept: Some(accept),
        })
    }

    /// The address it listens on (with the real port when 0 was asked).
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, shuts every connection's sockets down, and joins
    /// every thread (those still running after [`CLOSE_WAIT`] are left).
    pub(crate) fn close(&mut self) {
        self.shared.closing.store(true, Ordering::Release);
        if let Some(accept) = self.accept.take() {
            // The accept loop sees `closing` once a connection wakes it.
            let _ = TcpStream::connect_timeout(&wake_address(self.addr), Duration::from_secs(1));
            if accept.join().is_err() {
                log::error!("[HotReload] the hotreload-front thread panicked");
            }
        }
        let connections: Vec<Connection> = {
            let mut all = self.shared.connections();
            all.drain().map(|(_, c)| c).collect()
        };
        for c in &connections {
            for socket in &c.sockets {
                let _ = socket.shutdown(std::net::Shutdown::Both);
            }
        }
        let deadline = Instant::now() + CLOSE_WAIT;
        for c in connections {
            let Some(thread) = c.thread else { continue };
            while !thread.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.close();
    }
}

/// Where to connect to reach a listener bound to `addr`.
fn wake_address(addr: SocketAddr) -> SocketAddr {
    let mut target = addr;
    if addr.ip().is_unspecified() {
        target.set_ip(if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    target
}

/// Accepts until closing. Running out of descriptors only pauses it: the
/// connection waits in the kernel's queue, and is taken once one is free.
fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let mut starving = false;
    loop {
        let accepted = listener.accept();
        if shared.closing.load(Ordering::Acquire) {
            return;
        }
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) if is_out_of_descriptors(&e) => {
                if !starving {
                    log::warn!(
                        "[HotReload] out of file descriptors: new connections wait in the kernel's queue until some close. Raise the limit before starting (`ulimit -n`)"
                    );
                    starving = true;
                }
                thread::sleep(Duration::from_millis(50));
                continue;
            }
            // A connection reset before it was taken, and the like.
            Err(e) => {
                log::debug!("[HotReload] accept: {e}");
                continue;
            }
        };
        if starving {
            log::warn!("[HotReload] accepting connections again");
            starving = false;
        }
        if let Err(e) = crate::http::bound(&stream, &shared.timeouts) {
            log::debug!("[HotReload] cannot set a connection's timeouts ({e}); closed it");
            continue;
        }
        spawn_connection(stream, peer, shared);
    }
}

fn is_out_of_descriptors(e: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM.
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}

fn spawn_connection(stream: TcpStream, peer: SocketAddr, shared: &Arc<Shared>) {
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let socket = Arc::new(stream);
    {
        let mut all = shared.connections();
        // Join what has ended, so the table holds live connections only.
        let ended: Vec<u64> = all
            .iter()
            .filter(|(_, c)| c.thread.as_ref().is_some_and(JoinHandle::is_finished))
            .map(|(id, _)| *id)
            .collect();
        for id in ended {
            if let Some(thread) = all.remove(&id).and_then(|c| c.thread) {
                let _ = thread.join();
            }
        }
        all.insert(
            id,
            Connection {
                sockets: vec![Arc::clone(&socket)],
                thread: None,
            },
        );
    }
    let spawned = {
        let shared = Arc::clone(shared);
        thread::Builder::new()
            .name(format!("hotreload-conn-{id}"))
            .spawn(move || {
                browser::serve(id, socket, peer, &shared);
                shared.release(id);
            })
    };
    match spawned {
        Ok(thread) => {
            if let Some(c) = shared.connections().get_mut(&id) {
                c.thread = Some(thread);
            }
        }
        Err(e) => {
            log::warn!("[HotReload] cannot start a thread for a connection ({e}); closed it");
            shared.connections().remove(&id);
        }
    }
}
