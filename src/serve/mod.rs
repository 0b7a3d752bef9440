//! The standalone dev server the `hotreload` binary runs: static files with
//! the client injected, plus hot reload, on one tiny_http port.
//!
//! Threads: those of its [`Http`] front and request [`Workers`], and the
//! [`Manager`]'s. [`DevServer::close`] joins all of them but request
//! threads still writing to a peer that takes nothing (their write timeout
//! ends them).

pub mod files;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::http::{Http, Timeouts, Workers};
use crate::{Config, Error, Manager, WatchDir};
use files::StaticFiles;

/// How long `close()` waits for request threads: long enough for one that
/// is answering, not for one stuck on a peer that reads nothing.
const REQUESTS_WAIT: Duration = Duration::from_millis(150);

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
    /// Serve the files under `root`. Without them (`hotreload watch`), only
    /// the hot-reload routes answer, for an app that loads the script from
    /// here; other paths get 404 saying so. Default `true`.
    pub files: bool,
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
            files: true,
            config: Config::default(),
        }
    }
}

/// A running dev server. Stops on [`close`](Self::close) or drop.
pub struct DevServer {
    http: Http,
    workers: Workers,
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
            files,
            mut config,
        } = options;
        if config.watch_dirs.is_empty() {
            let written = root.to_string_lossy().into_owned();
            config
                .watch_dirs
                .push(WatchDir::new(&written, std::path::Path::new(".")));
        }
        // The name it listens on passes the Host check (SPEC.md section 4).
        config.host = Some(host.clone());
        let manager = Manager::new(config)?;
        let files = if files {
            Some(Arc::new(StaticFiles::new(
                &root,
                inject && manager.is_enabled(),
            )?))
        } else {
            None
        };
        let shown = if host.contains(':') {
            format!("[{host}]:{port}")
        } else {
            format!("{host}:{port}")
        };
        let heartbeat = Duration::from_millis(manager.config().heartbeat_ms);
        let http = Http::bind(&shown, &Timeouts::for_heartbeat(heartbeat))?;
        let addr = http.local_addr();
        let server = manager.server().clone();
        let root = match &files {
            Some(files) => files.root().to_path_buf(),
            None => root,
        };
        let workers = Workers::start(
            "hotreload-request",
            http.requests().clone(),
            move |request| {
                log::debug!("[HotReload] {} {}", request.method(), request.url());
                let Some(request) = server.guard(request) else {
                    return;
                };
                let Some(request) = server.handle(request) else {
                    return;
                };
                match &files {
                    Some(files) => files.respond(request),
                    None => {
                        let _ = request.respond(
                            tiny_http::Response::from_string(format!(
                                "404 Not Found: hotreload watch serves only {} and its socket; your app serves its pages\n",
                                crate::server::CLIENT_PATH
                            ))
                            .with_status_code(404),
                        );
                    }
                }
            },
        )?;
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
            root,
        })
    }

    /// The address it listens on (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://HOST:PORT/`, the page to open. An unspecified address
    /// (`0.0.0.0`) is shown as `127.0.0.1`, which a browser can open.
    pub fn url(&self) -> String {
        url_of(self.addr)
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
    /// every thread this server started, in about a second at most. A
    /// request thread still writing to a peer that takes nothing is left to
    /// its write timeout.
    pub fn close(&mut self) -> Result<(), Error> {
        self.http.close();
        let busy = self.workers.close(REQUESTS_WAIT);
        if busy > 0 {
            log::debug!(
                "[HotReload] {busy} request thread(s) still writing to a peer that reads nothing; left to their write timeout"
            );
        }
        self.manager.close()
    }
}

/// `http://HOST:PORT/` for a listening address; an unspecified one
/// (`0.0.0.0`) is shown as `127.0.0.1`, which a browser can open.
pub(crate) fn url_of(addr: SocketAddr) -> String {
    let ip = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    format!("http://{ip}:{}/", addr.port())
}

impl Drop for DevServer {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            log::error!("[HotReload] {e}");
        }
    }
}
