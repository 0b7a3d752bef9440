//! The manager: wires config, watcher, client hub and server together, and owns shutdown.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossbeam_channel::Receiver;

use crate::Error;
use crate::commands::{Commands, Pipeline};
use crate::config::{Config, WatchDir};
use crate::hub::{Hub, Settings};
use crate::protocol::{Change, ChangeBatch, Operation};
use crate::server::{Server, WS_PATH};
use crate::watcher::Watcher;

/// Hot reload for one application: the watcher thread, the WebSocket
/// clients' threads, and the [`Server`] that answers the routes.
///
/// `close()` (or dropping it) stops and joins every thread it started; it
/// blocks for at most about a second, the time given to clients to take
/// their close frame.
pub struct Manager {
    config: Config,
    server: Server,
    hub: Option<Arc<Hub>>,
    watcher: Option<Watcher>,
    /// Hands the watcher's batches to the hub, after the commands.
    pipeline: Option<Pipeline>,
}

impl Manager {
    /// Starts hot reload as `config` says: scans and watches the watch dirs
    /// (the working directory when none are given) and starts the watcher
    /// thread. When disabled (in the config, or by `HOT_RELOAD_ENABLED=false`)
    /// it starts nothing and every route is absent.
    ///
    /// Errors: an invalid config, or a watcher that cannot start at all. A
    /// watch dir that is missing or unreadable is only logged: it is picked
    /// up when it appears.
    pub fn new(mut config: Config) -> Result<Manager, Error> {
        config.apply_env();
        config.validate()?;
        if !config.enabled {
            log::info!("[HotReload] disabled; no file watching, no WebSocket endpoint");
            let server = Server::new(&config, None);
            return Ok(Manager {
                config,
                server,
                hub: None,
                watcher: None,
                pipeline: None,
            });
        }
        if config.watch_dirs.is_empty() {
            config.watch_dirs.push(WatchDir::new(".", Path::new(".")));
        }
        if let Some(limit) = crate::http::open_file_limit() {
            let fit = clients_within(limit).max(1);
            if fit < config.max_clients {
                log::warn!(
                    "[HotReload] this process may open only {limit} files, enough for {fit} WebSocket clients; max_clients is lowered from {} to {fit}. To allow {} clients, raise the limit before starting, e.g. `ulimit -n {}`",
                    config.max_clients,
                    config.max_clients,
                    Manager::files_needed(config.max_clients),
                );
                config.max_clients = fit;
            }
        }
        let hub = Arc::new(Hub::new(
            Settings {
                buffer: config.client_buffer,
                morph: config.morph,
                preflight: config.preflight,
                heartbeat: Duration::from_millis(config.heartbeat_ms),
                max_clients: config.max_clients,
                sync: config.sync,
            },
            new_server_id(),
        ));
        let commands = Commands::new(&config)?;
        let (batches, changes) = crossbeam_channel::unbounded();
        let watcher = Watcher::start(&config, batches)?;
        let pipeline = Pipeline::start(commands, changes, Arc::clone(&hub))?;
        let server = Server::new(&config, Some(Arc::clone(&hub)));
        log::info!("[HotReload] WebSocket endpoint registered at {WS_PATH}");
        Ok(Manager {
            config,
            server,
            hub: Some(hub),
            watcher: Some(watcher),
            pipeline: Some(pipeline),
        })
    }

    /// Tells pages where the served files come from (see
    /// [`crate::protocol::Welcome::pages`]); before any page connects.
    pub(crate) fn set_pages(&self, pages: Vec<(String, String)>) {
        if let Some(hub) = &self.hub {
            hub.set_pages(pages);
        }
    }

    /// Open files a process needs to hold `clients` WebSocket clients and
    /// everything else: what `ulimit -n` must allow before starting. A
    /// manager lowers `max_clients` to what the limit holds.
    pub fn files_needed(clients: usize) -> u64 {
        clients as u64 * FILES_PER_CLIENT + FILES_RESERVED
    }

    /// Is hot reload running?
    pub fn is_enabled(&self) -> bool {
        self.hub.is_some()
    }

    /// The routes: hand it each `tiny_http::Request`.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// The config in effect (after `HOT_RELOAD_ENABLED` and defaults).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A channel that receives every batch sent to browsers from now on, for
    /// Rust code that reacts to changes (reloading personas, say). It is
    /// unbounded: keep reading it, or drop it. Disabled or closed: a channel
    /// that is already disconnected.
    pub fn subscribe(&self) -> Receiver<ChangeBatch> {
        match &self.hub {
            Some(hub) => hub.subscribe(),
            None => crossbeam_channel::unbounded().1,
        }
    }

    /// Tells every client that `paths` changed (as `modified`) right now,
    /// as if the watcher had seen it; no paths means a plain reload. Returns
    /// the batch sent, or `None` when disabled or closed.
    pub fn trigger<I, S>(&self, paths: I) -> Option<ChangeBatch>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let changes = paths
            .into_iter()
            .map(|p| Change {
                path: p.into(),
                operation: Operation::Modified,
            })
            .collect();
        self.hub.as_ref()?.broadcast(changes)
    }

    /// Stops the watcher, sends every client a close frame (1001) and joins
    /// every thread. Blocks for at most about a second; a client whose socket
    /// would not take the close frame by then is left to the OS (logged).
    /// Calling it again does nothing.
    pub fn close(&mut self) -> Result<(), Error> {
        let mut result = Ok(());
        if let Some(mut watcher) = self.watcher.take() {
            result = watcher.close();
        }
        if let Some(mut pipeline) = self.pipeline.take() {
            result = result.and(pipeline.close());
        }
        if let Some(hub) = self.hub.take() {
            let stuck = hub.close();
            if stuck > 0 {
                log::warn!("[HotReload] {stuck} client thread(s) did not stop in time");
            }
        }
        result
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        if let Err(e) = self.close() {
            log::error!("[HotReload] {e}");
        }
    }
}

/// Open files each WebSocket client costs the process: tiny_http keeps a
/// reading and a writing handle of every connection. The binary's own
/// front needs one, but shares this count: the spare half of its budget
/// is what its proxied connections to the backend take.
const FILES_PER_CLIENT: u64 = 2;

/// Open files kept for everything else: the listener, the watcher, files
/// being served and browsers' page connections.
const FILES_RESERVED: u64 = 64;

/// How many clients fit under the open-file limit `limit`. The listener
/// survives running out (see [`crate::http`]), but a browser is better
/// told 503 than left waiting in the kernel's queue.
fn clients_within(limit: u64) -> usize {
    (limit.saturating_sub(FILES_RESERVED) / FILES_PER_CLIENT) as usize
}

/// Eight hex digits, new at every start, so a browser can tell a restart.
fn new_server_id() -> String {
    // std's RandomState is seeded from the OS; mixing in the time keeps two
    // managers in one process apart too.
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    format!("{:08x}", hasher.finish() as u32)
}
