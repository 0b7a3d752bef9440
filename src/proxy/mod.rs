//! Proxy mode (SPEC.md section 9): hot reload in front of any backend.
//! Every request that is not a hot-reload route goes to the backend and
//! its answer comes back, streamed both ways, with the client script in
//! its HTML pages; WebSocket upgrades are tunneled.
//!
//! The proxy owns its sockets instead of serving through tiny_http: a
//! tunnel must read one side while it writes the other, and tiny_http hands
//! an upgraded connection over as one boxed `Read + Write` that one thread
//! cannot both block-read and write (and no second handle on the socket
//! can be had in safe code). The hot-reload routes are the same
//! [`Server`]'s, asked through [`Server::route`].
//!
//! Threads: the accept loop (`hotreload-proxy`), one per browser connection
//! (`hotreload-proxy-N`, plus one more while it tunnels a WebSocket), and
//! the [`Manager`]'s. [`ProxyServer::close`] shuts every socket down and
//! joins them all.

mod exchange;
mod pages;
mod rewrite;
mod wire;

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::http::Timeouts;
use crate::server::Server;
use crate::{Config, Error, Manager, WatchDir};

/// How long `close()` waits for connection threads once their sockets are shut.
const CLOSE_WAIT: Duration = Duration::from_millis(500);

/// Where proxy mode sends requests: `http://host[:port][/base]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// The host name or address, as written (an IPv6 address without brackets).
    pub host: String,
    /// The port; 80 when the URL gives none.
    pub port: u16,
    /// A path every request is sent under (`/base`), or empty.
    pub base: String,
    /// `host:port` (`[v6]:port`): what is connected to, and the `Host` sent.
    pub authority: String,
}

impl Backend {
    /// Reads `http://host[:port][/base]`. The error says what is wrong
    /// with it, for a message that adds where it came from and the fix.
    pub fn parse(url: &str) -> Result<Backend, String> {
        let url = url.trim();
        let Some(rest) = url.strip_prefix("http://") else {
            return Err(if url.starts_with("https://") {
                "is an https URL; hotreload proxies plain http (give the app's http address)".into()
            } else {
                format!("{url:?} is not an http:// URL")
            });
        };
        if rest.contains(['?', '#', '@']) {
            return Err(format!(
                "{url:?} has a query, a fragment or a user name; only http://host[:port][/base] is read"
            ));
        }
        let (authority, base) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (host, after) = v6.split_once(']').ok_or_else(|| {
                format!("{url:?} opens [ for an IPv6 address but never closes it")
            })?;
            (host, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err(format!("{url:?} names no host"));
        }
        let port = match port {
            None => 80,
            Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                format!("{url:?} has the port {p:?}, which is not a number from 1 to 65535")
            })?,
        };
        let host_in_url = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_string()
        };
        Ok(Backend {
            host: host.to_ascii_lowercase(),
            port,
            base: base.to_string(),
            authority: format!("{host_in_url}:{port}"),
        })
    }

    /// `http://host:port`.
    pub fn origin(&self) -> String {
        format!("http://{}", self.authority)
    }

    /// The host as a URL writes it (IPv6 in brackets).
    fn host_in_url(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

/// What proxy mode serves, and where.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// Where requests go.
    pub backend: Backend,
    /// Address to listen on, such as `127.0.0.1`.
    pub host: String,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    /// Add the client script to the backend's HTML pages (ignored when
    /// hot reload is off).
    pub inject: bool,
    /// How long the backend may take to start its answer; then 504.
    pub timeout: Duration,
    /// Hot-reload settings. With no `watch_dirs`, `.` is watched.
    pub config: Config,
}

impl ProxyOptions {
    /// Proxy to `backend` from 127.0.0.1:8080, with the default config.
    pub fn new(backend: Backend) -> ProxyOptions {
        ProxyOptions {
            backend,
            host: "127.0.0.1".into(),
            port: 8080,
            inject: true,
            timeout: Duration::from_millis(30_000),
            config: Config::default(),
        }
    }
}

/// What every connection thread needs.
pub(crate) struct Shared {
    pub backend: Backend,
    pub server: Server,
    pub inject: bool,
    pub timeout: Duration,
    closing: AtomicBool,
    next_id: AtomicU64,
    connections: Mutex<HashMap<u64, Connection>>,
}

/// A live connection: the sockets to shut down on close, and its thread.
#[derive(Default)]
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

    /// Forgets connection `id`'s sockets (they close when their last
    /// owner drops them, or live on in the hub).
    pub(crate) fn release(&self, id: u64) {
        if let Some(c) = self.connections().get_mut(&id) {
            c.sockets.clear();
        }
    }
}

/// A running proxy. Stops on [`close`](Self::close) or drop.
pub struct ProxyServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
    manager: Manager,
}

impl ProxyServer {
    /// Binds, starts watching, and returns once requests are answered.
    pub fn start(options: ProxyOptions) -> Result<ProxyServer, Error> {
        let ProxyOptions {
            backend,
            host,
            port,
            inject,
            timeout,
            mut config,
        } = options;
        if config.watch_dirs.is_empty() {
            config
                .watch_dirs
                .push(WatchDir::new(".", std::path::Path::new(".")));
        }
        // The name it listens on passes the Host check (SPEC.md section 4).
        config.host = Some(host.clone());
        let manager = Manager::new(config)?;
        let shown = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let heartbeat = Duration::from_millis(manager.config().heartbeat_ms);
        let listener = crate::http::bind(shown.as_str(), &Timeouts::for_heartbeat(heartbeat))
            .map_err(|source| Error::Bind {
                addr: shown.clone(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: shown,
            source,
        })?;
        let shared = Arc::new(Shared {
            backend,
            server: manager.server().clone(),
            inject: inject && manager.is_enabled(),
            timeout,
            closing: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            connections: Mutex::new(HashMap::new()),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("hotreload-proxy".into())
                .spawn(move || accept_loop(&listener, &shared))
                .map_err(|e| Error::Thread {
                    name: "hotreload-proxy".into(),
                    problem: format!("cannot start: {e}"),
                })?
        };
        if !addr.ip().is_loopback() {
            log::warn!(
                "[HotReload] listening on {addr}: other machines on your network can reach the backend through it; use --host 127.0.0.1 to keep it private"
            );
        }
        Ok(ProxyServer {
            shared,
            addr,
            accept: Some(accept),
            manager,
        })
    }

    /// The address it listens on (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT/`, the page to open (an unspecified address is
    /// shown as `127.0.0.1`).
    pub fn url(&self) -> String {
        crate::serve::url_of(self.addr)
    }

    /// The hot-reload manager (subscribe to batches, trigger reloads).
    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// Stops accepting, closes every WebSocket with 1001, shuts every
    /// connection's sockets down and joins every thread, in about a second.
    pub fn close(&mut self) -> Result<(), Error> {
        let result = self.manager.close();
        self.shared.closing.store(true, Ordering::Release);
        if let Some(accept) = self.accept.take() {
            // The accept loop sees `closing` once a connection wakes it.
            let _ = TcpStream::connect_timeout(&wake_address(self.addr), Duration::from_secs(1));
            if accept.join().is_err() {
                log::error!("[HotReload] the hotreload-proxy thread panicked");
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
        result
    }
}

impl Drop for ProxyServer {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            log::error!("[HotReload] {e}");
        }
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
            .name(format!("hotreload-proxy-{id}"))
            .spawn(move || {
                exchange::serve(id, socket, peer, &shared);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_urls() {
        let ok = |url: &str| Backend::parse(url).expect(url);
        let b = ok("http://localhost:3000");
        assert_eq!(
            (b.host.as_str(), b.port, b.base.as_str()),
            ("localhost", 3000, "")
        );
        assert_eq!(b.origin(), "http://localhost:3000");
        let b = ok("http://App.test/base/");
        assert_eq!(
            (b.host.as_str(), b.port, b.base.as_str()),
            ("app.test", 80, "/base")
        );
        assert_eq!(b.authority, "App.test:80");
        let b = ok("http://[::1]:8000");
        assert_eq!(
            (b.host.as_str(), b.authority.as_str()),
            ("::1", "[::1]:8000")
        );
        for bad in [
            "localhost:3000",
            "https://localhost:3000",
            "http://",
            "http://:3000",
            "http://host:0",
            "http://host:99999",
            "http://host:port",
            "http://host/a?b",
            "http://user@host",
            "http://[::1:3000",
        ] {
            assert!(Backend::parse(bad).is_err(), "{bad} was accepted");
        }
    }
}
