//! The standalone dev server the `hotreload` binary runs: static files with
//! the client injected, plus hot reload, on one tiny_http port.
//!
//! Threads: tiny_http's own, a few `hotreload-http-N` workers that answer
//! requests, and the [`Manager`]'s. [`DevServer::close`] joins all of ours.

pub mod files;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded, select, tick};

use crate::{Config, Error, Manager, WatchDir};
use files::StaticFiles;

/// Worker threads answering HTTP. Requests are short (a file, a status, an
/// upgrade that hands its socket to a client thread), so a few suffice.
const WORKERS: usize = 4;

/// What to serve, and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// The folder served as static files.
    pub root: PathBuf,
    /// Address to listen on, such as `127.0.0.1`.
    pub host: String,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    /// Inject the client script into HTML pages (ignored when hot reload is off).
    pub inject: bool,
    /// Hot-reload settings. With no `watch_dirs`, `root` is watched.
    pub config: Config,
}

impl Options {
    /// Serve `root` on 127.0.0.1:8080 with the default config.
    pub fn new(root: impl Into<PathBuf>) -> Options {
        Options {
            root: root.into(),
            host: "127.0.0.1".into(),
            port: 8080,
            inject: true,
            config: Config::default(),
        }
    }
}

/// A running dev server. Stops on [`close`](Self::close) or drop.
pub struct DevServer {
    http: Arc<tiny_http::Server>,
    /// Set before `close` unblocks the workers, so they tell that apart
    /// from tiny_http reporting a failed accept.
    closing: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    pool_guard: Option<Arc<PoolGuard>>,
    manager: Manager,
    addr: SocketAddr,
    root: PathBuf,
}

impl DevServer {
    /// Binds, starts watching and serving, and returns once requests are answered.
    pub fn start(options: Options) -> Result<DevServer, Error> {
        let Options {
            root,
            host,
            port,
            inject,
            mut config,
        } = options;
        if config.watch_dirs.is_empty() {
            let written = root.to_string_lossy().into_owned();
            config
                .watch_dirs
                .push(WatchDir::new(&written, std::path::Path::new(".")));
        }
        let manager = Manager::new(config)?;
        let files = StaticFiles::new(&root, inject && manager.is_enabled())?;
        let shown = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let listener = TcpListener::bind((host.as_str(), port)).map_err(|source| Error::Bind {
            addr: shown.clone(),
            source,
        })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: shown,
            source,
        })?;
        let http = tiny_http::Server::from_listener(listener, None).map_err(|e| Error::Bind {
            addr: addr.to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let http = Arc::new(http);
        let files = Arc::new(files);
        let pool_guard = Arc::new(PoolGuard::start(addr)?);
        let closing = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::with_capacity(WORKERS);
        for n in 0..WORKERS {
            let http = Arc::clone(&http);
            let files = Arc::clone(&files);
            let server = manager.server().clone();
            let guard = Arc::clone(&pool_guard);
            let closing = Arc::clone(&closing);
            let worker = thread::Builder::new()
                .name(format!("hotreload-http-{n}"))
                .spawn(move || {
                    loop {
                        match http.recv() {
                            Ok(request) => {
                                guard.request_seen();
                                log::debug!("[HotReload] {} {}", request.method(), request.url());
                                if let Some(request) = server.handle(request) {
                                    files.respond(request);
                                }
                            }
                            Err(_) if closing.load(Ordering::Acquire) => break,
                            // Connections already open are still served.
                            Err(e) => log::error!(
                                "[HotReload] the server can no longer take new connections: accepting one failed ({e}), and tiny_http then closes its listening socket. Restart hotreload; if the error says too many open files, raise the limit first (`ulimit -n`)"
                            ),
                        }
                    }
                })
                .map_err(|e| Error::Thread {
                    name: format!("hotreload-http-{n}"),
                    problem: format!("cannot start: {e}"),
                })?;
            workers.push(worker);
        }
        if !addr.ip().is_loopback() {
            log::warn!(
                "[HotReload] listening on {addr}: other machines on your network can read these files; use --host 127.0.0.1 to keep them private"
            );
        }
        Ok(DevServer {
            http,
            closing,
            workers,
            pool_guard: Some(pool_guard),
            manager,
            addr,
            root: files.root().to_path_buf(),
        })
    }

    /// The address it listens on (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT/`, the page to open. An unspecified address
    /// (`0.0.0.0`) is shown as `127.0.0.1`, which a browser can open.
    pub fn url(&self) -> String {
        let ip = if self.addr.ip().is_unspecified() {
            "127.0.0.1".to_string()
        } else if self.addr.is_ipv6() {
            format!("[{}]", self.addr.ip())
        } else {
            self.addr.ip().to_string()
        };
        format!("http://{ip}:{}/", self.addr.port())
    }

    /// The folder served (canonical).
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The hot-reload manager (subscribe to batches, trigger reloads).
    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// Stops answering requests, closes every WebSocket with 1001 and joins
    /// every thread this server started; at most about a second.
    pub fn close(&mut self) -> Result<(), Error> {
        self.closing.store(true, Ordering::Release);
        for _ in 0..self.workers.len() {
            self.http.unblock();
        }
        let mut result = Ok(());
        for worker in self.workers.drain(..) {
            if worker.join().is_err() {
                result = Err(Error::Thread {
                    name: "hotreload-http".into(),
                    problem: "panicked; see the message above".into(),
                });
            }
        }
        // The workers held the other references and are joined, so this
        // drop is the last one, which stops and joins the guard's thread.
        self.pool_guard.take();
        self.manager.close().and(result)
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            log::error!("[HotReload] {e}");
        }
    }
}

/// How often [`PoolGuard`] frees a tiny_http pool thread while requests come in.
pub const POOL_GUARD_EVERY: Duration = Duration::from_millis(200);

/// How long after the last request [`PoolGuard`] keeps freeing threads.
const POOL_GUARD_BUSY: Duration = Duration::from_secs(2);

/// Keeps tiny_http 0.12's connection pool from leaving a browser waiting.
///
/// tiny_http gives every open connection a pool thread until the client
/// closes it, and its pool queues a new connection when it sees an idle
/// thread, before that thread has woken to take the previous one. When a
/// browser opens several connections at once (six, for a page with many
/// files), one can end up queued while every thread sits on an idle
/// keep-alive connection, and the page hangs until the browser closes one,
/// minutes later. tiny_http offers no timeout that would free them.
///
/// The guard holds one idle connection of its own to the server. While
/// requests come in (tell it with [`PoolGuard::request_seen`]) it closes
/// that connection and opens another every [`POOL_GUARD_EVERY`]: closing
/// frees the pool thread that served it, which takes any connection left
/// queued, so a stall lasts one tick at most. A stall needs several new
/// connections at once, and the ones that are served bring requests, so two
/// quiet seconds after the last request it sleeps and costs nothing. An
/// application that embeds hot reload in its own tiny_http server can run
/// one for its address too.
pub struct PoolGuard {
    activity: Sender<()>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl PoolGuard {
    /// Starts the guard's thread (`hotreload-pool`) for a server listening on `addr`.
    pub fn start(addr: SocketAddr) -> Result<PoolGuard, Error> {
        // A server bound to every address is reached on loopback.
        let target = match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => {
                SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
            }
            IpAddr::V6(ip) if ip.is_unspecified() => {
                SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
            }
            _ => addr,
        };
        let (stop, stopped) = bounded::<()>(0);
        // One slot: a worker never waits, and many requests wake it once.
        let (activity, requests) = bounded::<()>(1);
        let thread = thread::Builder::new()
            .name("hotreload-pool".into())
            .spawn(move || guard_pool(target, &requests, &stopped))
            .map_err(|e| Error::Thread {
                name: "hotreload-pool".into(),
                problem: format!("cannot start: {e}"),
            })?;
        Ok(PoolGuard {
            activity,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Tells the guard a request came in; cheap, never blocks.
    pub fn request_seen(&self) {
        let _ = self.activity.try_send(());
    }
}

impl Drop for PoolGuard {
    /// Stops and joins the guard's thread (at once: it only waits on channels).
    fn drop(&mut self) {
        self.stop.take();
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            log::error!("[HotReload] the hotreload-pool thread panicked");
        }
    }
}

/// The guard's thread: asleep until a request, then a tick every
/// [`POOL_GUARD_EVERY`] until [`POOL_GUARD_BUSY`] passes without one.
fn guard_pool(target: SocketAddr, requests: &Receiver<()>, stopped: &Receiver<()>) {
    let connect = || TcpStream::connect_timeout(&target, Duration::from_secs(1)).ok();
    let mut held = connect();
    loop {
        select! {
            recv(stopped) -> _ => return,
            recv(requests) -> _ => {}
        }
        let mut last_request = Instant::now();
        let ticks = tick(POOL_GUARD_EVERY);
        while last_request.elapsed() < POOL_GUARD_BUSY {
            select! {
                recv(stopped) -> _ => return,
                recv(requests) -> _ => last_request = Instant::now(),
                recv(ticks) -> _ => {
                    // Close first: the freed thread takes what waits.
                    drop(held.take());
                    held = connect();
                }
            }
        }
    }
}
