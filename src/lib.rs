//! Hot reload for synchronous Rust web apps: watch files, tell every
//! browser over a WebSocket, swap stylesheets in place or reload the page.
//! Plain threads, no async runtime.
//!
//! ```no_run
//! use hotreload::serve::{DevServer, Options};
//!
//! // Serve ./demo on a free port, with live reload, until Enter is pressed.
//! let mut options = Options::new("demo");
//! options.port = 0;
//! let mut server = DevServer::start(options)?;
//! println!("open {}", server.url());
//! # let mut line = String::new();
//! # std::io::stdin().read_line(&mut line).ok();
//! server.close()?;
//! # Ok::<(), hotreload::Error>(())
//! ```
//!
//! The same, checked by `cargo test` (it starts, answers, and stops):
//!
//! ```
//! use hotreload::serve::{DevServer, Options};
//!
//! let dir = std::env::temp_dir().join(format!("hotreload-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let mut options = Options::new(&dir);
//! options.port = 0;
//! let mut server = DevServer::start(options)?;
//! assert!(server.url().starts_with("http://127.0.0.1:"));
//! assert_eq!(server.manager().server().connected_clients(), 0);
//! server.close()?;
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok::<(), hotreload::Error>(())
//! ```
//!
//! # Embedding in your own tiny_http app
//!
//! Start a [`Manager`] from the `hot_reload` section of your `config.yaml`,
//! hand every request to [`Server::handle`], and answer what it hands back;
//! add `<script src="/static/js/hotreload.js"></script>` to your pages when
//! [`Manager::is_enabled`]. `examples/embed.rs` is a whole app.
//!
//! ```no_run
//! use hotreload::{Config, Manager};
//!
//! let manager = Manager::new(Config::from_file("config.yaml")?)?;
//! let http = tiny_http::Server::http("127.0.0.1:8080").expect("port 8080 is free");
//! for request in http.incoming_requests() {
//!     if let Some(request) = manager.server().handle(request) {
//!         // Your application's routes.
//!         let _ = request.respond(tiny_http::Response::from_string("hello"));
//!     }
//! }
//! # Ok::<(), hotreload::Error>(())
//! ```
//!
//! Rust code can react to the same batches the browsers get, through
//! [`Manager::subscribe`], and send a reload of its own with [`Manager::trigger`].
//!
//! # How it works
//!
//! Data flows one way, each stage in its own module:
//!
//! 1. [`config`]: the `hot_reload` section, checked once.
//! 2. `watcher`: one thread (`hotreload-watcher`) takes notify's events,
//!    filters them by pattern, and debounces them on crossbeam timers into
//!    one batch per quiet period (at most `max_wait_ms` after its first event).
//! 3. [`protocol`]: the batch becomes one JSON message, serialised once.
//! 4. `client`: each WebSocket client has a bounded channel and a thread
//!    (`hotreload-client-N`) that writes it; the watcher `try_send`s and
//!    never waits on a client. A client that falls behind is dropped and
//!    reloads when it reconnects (its `seq` tells it what it missed).
//! 5. [`server`]: the routes, on the host's tiny_http threads.
//! 6. [`Manager`]: wires them and owns shutdown: `close()` joins every thread.
//!
//! # Known problems
//!
//! - **inotify limits.** Linux allows each user a fixed number of watches
//!   (often 8192 or 65536); every watched directory takes one. When the
//!   limit is reached the watcher logs which folders it could not watch and
//!   the fix: `sudo sysctl fs.inotify.max_user_watches=524288` (put
//!   `fs.inotify.max_user_watches=524288` in `/etc/sysctl.conf` to keep it),
//!   or add big folders to `ignore`. Ignored folders take no watch.
//! - **Editors that save by rename** (vim, JetBrains "safe write", `sed -i`)
//!   replace the file with a new one. Each batch compares a path before and
//!   after, so these saves are reported as one `modified` of the real file,
//!   and the temporary never appears.
//! - **Network filesystems** (NFS, SMB, some container mounts, WSL's
//!   `/mnt/c`) do not deliver inotify events for changes made elsewhere.
//!   Edit on the machine that runs hotreload.
//! - **tiny_http's connection pool can stall a page load.** It keeps one
//!   thread per open connection and can queue a browser's new connection
//!   behind idle keep-alive ones until the browser closes one, minutes
//!   later. [`serve::PoolGuard`] frees a thread every 200 ms; the binary
//!   runs one, and an application with its own tiny_http server can too.
//! - **A client whose socket stops taking data** (a frozen tab) blocks its
//!   own thread in a write that tiny_http gives no way to time out. The
//!   others are unaffected; `close()` waits for it at most about a second
//!   and then leaves it to the operating system.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bench;
mod client;
pub mod config;
mod error;
pub mod http;
mod hub;
mod manager;
pub mod protocol;
pub mod serve;
pub mod server;
mod watcher;

pub use config::{Config, WatchDir};
pub use error::Error;
pub use manager::Manager;
pub use protocol::{Action, Change, ChangeBatch, Operation};
pub use server::{CLIENT_JS, Server};

// The README's Rust snippets are compiled and run as doc tests, so they
// cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
