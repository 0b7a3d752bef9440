//! The standalone dev server the `hotreload` binary runs: static files with
//! the client injected, plus hot reload, on one tiny_http port.
//!
//! Threads: tiny_http's own, a few `hotreload-http-N` workers that answer
//! requests, and the [`Manager`]'s. [`DevServer::close`] joins all of ours.

pub mod files;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

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
    workers: Vec<JoinHandle<()>>,
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
        let mut workers = Vec::with_capacity(WORKERS);
        for n in 0..WORKERS {
            let http = Arc::clone(&http);
            let files = Arc::clone(&files);
            let server = manager.server().clone();
            let worker = thread::Builder::new()
                .name(format!("hotreload-http-{n}"))
                .spawn(move || {
                    // `recv` fails only when `close` unblocks this worker.
                    while let Ok(request) = http.recv() {
                        if let Some(request) = server.handle(request) {
                            files.respond(request);
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
            workers,
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
