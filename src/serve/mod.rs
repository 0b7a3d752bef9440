//! The `hotreload` binary's server: hot reload on the binary's own front
//! (the private `front` module), in front of the files of a folder (`serve`), a
//! backend (`proxy`) or nothing (`watch`).
//!
//! Threads: the front's and the [`Manager`]'s. [`DevServer::close`] joins
//! all of them.

pub mod files;
pub mod lan;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::front::{Behind, Front};
use crate::http::Timeouts;
use crate::proxy::{Backend, Proxied};
use crate::{Config, Error, Manager, WatchDir};
use files::StaticFiles;

/// What stands behind the hot-reload routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// `serve`: the files under `root`, HTML pages with the script.
    Files,
    /// `proxy`: every other request goes to this backend (SPEC.md section
    /// 9); `root` is only where watching starts by default.
    Proxy {
        /// Where requests go.
        backend: Backend,
        /// How long it may take to start an answer; then 504.
        timeout: Duration,
    },
    /// `watch`: nothing; an app that adds the script tag itself serves
    /// its pages. Other paths get 404 saying so.
    Watch,
}

/// What to serve, and where.
#[derive(Debug, Clone)]
pub struct Options {
    /// The folder served (and watched when `config` names none).
    pub root: PathBuf,
    /// Address to listen on, such as `127.0.0.1`.
    pub host: String,
    /// Port to listen on; 0 picks a free one.
    pub port: u16,
    /// Inject the client script into HTML pages (ignored when hot reload is off).
    pub inject: bool,
    /// What stands behind the hot-reload routes. Default [`Mode::Files`].
    pub mode: Mode,
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
            mode: Mode::Files,
            config: Config::default(),
        }
    }
}

/// A running dev server. Stops on [`close`](Self::close) or drop.
pub struct DevServer {
    front: Front,
    /// The LiveReload port's front, when `livereload_port` is set.
    livereload: Option<Front>,
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
            mode,
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
        let livereload_port = config.livereload_port;
        let manager = Manager::new(config)?;
        let inject = inject && manager.is_enabled();
        let behind_kind = match mode {
            Mode::Files => "files",
            Mode::Proxy { .. } => "backend",
            Mode::Watch => "nothing",
        };
        let (behind, root) = match mode {
            Mode::Files => {
                let files = StaticFiles::new(&root, inject)?;
                let root = files.root().to_path_buf();
                manager.set_pages(pages(&root, &manager.config().watch_dirs));
                (Behind::Files(files), root)
            }
            Mode::Proxy { backend, timeout } => {
                (Behind::Backend(Proxied { backend, timeout }), root)
            }
            Mode::Watch => (Behind::Nothing, root),
        };
        let heartbeat = Duration::from_millis(manager.config().heartbeat_ms);
        let timeouts = Timeouts::for_heartbeat(heartbeat);
        let front = Front::start(
            &host,
            port,
            timeouts,
            manager.server().clone(),
            behind,
            inject,
        )?;
        let livereload = match livereload_port {
            Some(port) if manager.is_enabled() => Some(Front::start(
                &host,
                port,
                timeouts,
                manager.server().clone(),
                Behind::LiveReloadPort,
                false,
            )?),
            _ => None,
        };
        let addr = front.local_addr();
        if !addr.ip().is_loopback() {
            let what = match behind_kind {
                "files" => "other machines on your network can read these files",
                "backend" => "other machines on your network can reach your app through it",
                _ => "other machines on your network can connect",
            };
            log::warn!(
                "[HotReload] listening on {addr}: {what}; use --host 127.0.0.1 to keep it private"
            );
        }
        Ok(DevServer {
            front,
            livereload,
            manager,
            addr,
            root,
        })
    }

    /// The address it listens on (with the real port when 0 was asked).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The LiveReload port's address, when `livereload_port` is set (and
    /// hot reload is on).
    pub fn livereload_addr(&self) -> Option<SocketAddr> {
        self.livereload.as_ref().map(Front::local_addr)
    }

    /// `http://HOST:PORT/livereload.js` on the LiveReload port, if any: the
    /// script LiveReload snippets load.
    pub fn livereload_url(&self) -> Option<String> {
        self.livereload_addr()
            .map(|addr| format!("{}livereload.js", url_of(addr)))
    }

    /// `http://HOST:PORT/`, the page to open. An unspecified address
    /// (`0.0.0.0`) is shown as `127.0.0.1`, which a browser can open.
    pub fn url(&self) -> String {
        url_of(self.addr)
    }

    /// Where other devices on the network open this server: when it
    /// listens on every interface (`0.0.0.0`, `::`), each address of this
    /// machine a phone on the same Wi-Fi may reach, else none (see
    /// [`lan::addresses`]). Use [`LanAddress::url`](lan::LanAddress::url)
    /// with [`local_addr`](Self::local_addr)'s port.
    pub fn lan_addresses(&self) -> std::io::Result<Vec<lan::LanAddress>> {
        lan::addresses(self.addr.ip())
    }

    /// The folder served (canonical), or where watching starts.
    pub fn root(&self) -> &std::path::Path {
        &self.root
    }

    /// The hot-reload manager (subscribe to batches, trigger reloads).
    pub fn manager(&self) -> &Manager {
        &self.manager
    }

    /// Closes every WebSocket with 1001, stops the commands, shuts every
    /// connection down and joins every thread this server started, in about
    /// a second (longer only while a command takes its `stop_timeout_ms`).
    pub fn close(&mut self) -> Result<(), Error> {
        let result = self.manager.close();
        self.front.close();
        if let Some(front) = &mut self.livereload {
            front.close();
        }
        result
    }
}

/// For each watch dir inside the served folder `root`, the prefix of its
/// changes' paths and the URL its files are served at, so that a page can
/// tell whether a changed `.html` file is the page it shows.
fn pages(root: &Path, dirs: &[WatchDir]) -> Vec<(String, String)> {
    dirs.iter()
        .filter_map(|dir| {
            let path = dir.path.canonicalize().ok()?;
            let inside = path.strip_prefix(root).ok()?;
            let mut url = String::from("/");
            for part in inside.components() {
                url.push_str(&part.as_os_str().to_string_lossy());
                url.push('/');
            }
            let mut prefix = dir.label.clone();
            if !prefix.is_empty() && !prefix.ends_with('/') {
                prefix.push('/');
            }
            Some((prefix, url))
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_map_watch_dirs_inside_the_root_to_urls() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path().canonicalize().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(root.join("site/docs")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(root.join("templates")).unwrap_or_else(|e| panic!("{e}"));
        let served = root.join("site");
        let dirs = [
            WatchDir::new("site", &root),
            WatchDir::new("./site/docs/", &root),
            WatchDir::new("templates", &root),
            WatchDir::new("missing", &root),
        ];
        assert_eq!(
            pages(&served, &dirs),
            [
                ("site/".to_string(), "/".to_string()),
                ("site/docs/".to_string(), "/docs/".to_string()),
            ]
        );
        assert_eq!(
            pages(&served, &[WatchDir::new(".", &served)]),
            [(String::new(), "/".to_string())]
        );
    }
}
