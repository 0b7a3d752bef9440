//! A host application that embeds hot reload in its own process, as an app
//! does, with two habits of real apps the binary does not have: it routes
//! no `HEAD` (405), and the second load of `/css/slow.css` (the first
//! after the page's own) takes 1.5 s.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use hotreload::http::{Http, Timeouts, Workers};
use hotreload::serve::files::StaticFiles;
use hotreload::{Config, Manager, WatchDir};
use tiny_http::{Method, Response};

pub struct HostApp {
    pub port: u16,
    /// Set once the slow load has been answered.
    pub slow_served: Arc<AtomicBool>,
    // Dropped in this order: no more requests, then threads, then watching.
    _http: Http,
    _workers: Workers,
    _manager: Manager,
}

impl HostApp {
    /// Serves `root` (with the client injected into pages), watching it.
    pub fn start(root: &Path) -> HostApp {
        let manager = Manager::new(Config {
            watch_dirs: vec![WatchDir::new(".", root)],
            ..Config::default()
        })
        .expect("manager starts");
        let http = Http::bind("127.0.0.1:0", &Timeouts::default()).expect("binds");
        let port = http.local_addr().port();
        let files = StaticFiles::new(root, true).expect("root");
        let server = manager.server().clone();
        let slow_loads = Arc::new(AtomicUsize::new(0));
        let slow_served = Arc::new(AtomicBool::new(false));
        let served = Arc::clone(&slow_served);
        let workers = Workers::start("app-request", http.requests().clone(), move |request| {
            let Some(request) = server.handle(request) else {
                return;
            };
            if *request.method() == Method::Head {
                let _ = request.respond(Response::empty(405));
                return;
            }
            let slow = request.url().starts_with("/css/slow.css")
                && slow_loads.fetch_add(1, Ordering::SeqCst) == 1;
            if slow {
                std::thread::sleep(Duration::from_millis(1500));
            }
            files.respond(request);
            if slow {
                served.store(true, Ordering::SeqCst);
            }
        })
        .expect("workers start");
        HostApp {
            port,
            slow_served,
            _http: http,
            _workers: workers,
            _manager: manager,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}
