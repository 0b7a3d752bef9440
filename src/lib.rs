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
//! # Serving it yourself, bounded
//!
//! A browser tab, a phone on Wi-Fi or a stuck download can hold a plain
//! tiny_http server: it sets no timeouts, and its accept loop ends for good
//! when the process runs out of file descriptors. [`http::Http`] serves
//! tiny_http on a listener whose connections time out, keeps it accepting,
//! and [`http::Workers`] answers each request on a thread of its own:
//!
//! ```no_run
//! use hotreload::http::{Http, Timeouts, Workers};
//! use hotreload::{Config, Manager};
//!
//! let manager = Manager::new(Config::default())?;
//! let http = Http::bind("127.0.0.1:8080", &Timeouts::default())?;
//! let server = manager.server().clone();
//! let workers = Workers::start("app-request", http.requests().clone(), move |request| {
//!     if let Some(request) = server.handle(request) {
//!         let _ = request.respond(tiny_http::Response::from_string("hello"));
//!     }
//! })?;
//! # Ok::<(), hotreload::Error>(())
//! ```
//!
//! # How it works
//!
//! Data flows one way, each stage in its own module:
//!
//! 1. [`config`]: the `hot_reload` section, checked once.
//! 2. `watcher`: one thread (`hotreload-watcher`) takes notify's events,
//!    filters them by pattern, and debounces them into batches: under
//!    [`Debounce::Auto`] (the default) a save goes out the moment its file
//!    is complete (inotify's close-after-write, or a rename over it), and
//!    a burst waits for a quiet period on a crossbeam timer (at most
//!    `max_wait_ms` after its first event); each batch goes down a channel.
//! 3. `hub`: the `hotreload-pipeline` thread (after any build, see
//!    `commands`) numbers each batch, serialises
//!    it once into a [`protocol`] message and `try_send`s it into every
//!    WebSocket client's bounded channel: it never waits on a client. A
//!    client that falls behind is dropped and reloads when it reconnects
//!    (its `seq` tells it what it missed).
//! 4. `client`: each client's thread (`hotreload-client-N`) writes what its
//!    channel delivers, and a ping every heartbeat.
//! 5. [`server`]: the routes, on whatever thread answers the request.
//! 6. [`Manager`]: wires them and owns shutdown: `close()` joins every thread.
//!
//! [`http`] is the connection layer under the routes for apps that embed
//! tiny_http. The binary has its own front instead (`front`: an accept
//! loop and a thread per connection, each socket bounded), which asks the
//! same routes; behind it, [`serve`] gives the files of a folder and
//! [`proxy`] a backend's answers. `commands` sits between the watcher and
//! the hub when a build, an app or tests are configured. [`livereload`]
//! lets LiveReload clients (the `livereload-js` script, the browser
//! extensions) follow the same batches: they are hub clients that speak
//! another dialect.
//!
//! # Known problems
//!
//! - **inotify limits.** Linux allows each user a fixed number of watches
//!   (often 8192 or 65536); every watched directory takes one. When the
//!   limit is reached the watcher logs which folders it could not watch and
//!   the fix: `sudo sysctl fs.inotify.max_user_watches=524288` (put
//!   `fs.inotify.max_user_watches=524288` in `/etc/sysctl.conf` to keep it),
//!   or add big folders to `ignore`. Ignored folders take no watch.
//! - **A watch dir that `.gitignore` lists** (a build's output folder) is
//!   silent: in a git work tree what git ignores is left out
//!   ([`Config::gitignore`]), the watch dir too, with a warning saying so.
//!   Set `gitignore: false` to watch it.
//! - **Editors that save by rename** (vim, JetBrains "safe write", `sed -i`)
//!   replace the file with a new one. Each batch compares a path before and
//!   after, so these saves are reported as one `modified` of the real file,
//!   and the temporary never appears.
//! - **Network filesystems** (NFS, SMB, some container mounts, WSL's
//!   `/mnt/c`) do not deliver inotify events for changes made elsewhere.
//!   With [`Poll::Auto`] (the default) watch dirs on them are found in
//!   `/proc/self/mountinfo` and polled every 500 ms (modification time and
//!   size; about 4% of a core for 10,000 files); set `poll` to force it.
//! - **tiny_http reads a whole request head before anyone sees it.** The
//!   read timeout ends one that trickles, and [`Server::guard`] answers
//!   431 to one over 100 headers or 64 KiB, but a large head sent fast is
//!   held in memory until then.
//! - **A client whose socket stops taking data** (a frozen tab) holds its
//!   thread until the write timeout (the heartbeat) passes; `close()` does
//!   not wait for it, and leaves it to end by that timeout.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod commands;
pub mod config;
pub mod dashboard;
mod error;
mod front;
mod history;
pub mod http;
mod hub;
pub mod livereload;
mod manager;
pub mod protocol;
pub mod proxy;
pub mod serve;
pub mod server;
mod stoppable;
mod sync;
mod watcher;

pub use config::{Config, Debounce, Poll, WatchDir};
pub use error::Error;
pub use manager::Manager;
pub use protocol::{Action, Change, ChangeBatch, Operation};
pub use server::{CLIENT_JS, Server};

// The README's Rust snippets are compiled and run as doc tests, so they
// cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
