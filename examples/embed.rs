//! A small tiny_http application that mounts hot reload beside its own
//! routes, as the seed's "Integration" steps describe for the Go server.
//!
//! Run it from the repository root and open the URL it prints:
//!
//! ```text
//! cargo run --example embed
//! ```
//!
//! Edit `demo/css/style.css`: the page swaps its stylesheet in place.
//! `HOT_RELOAD_ENABLED=false cargo run --example embed` serves the same app
//! with hot reload off: no watcher thread, no routes, no script.
//!
//! It serves through `hotreload::http`, so no browser can hold it: idle
//! and stuck connections time out, each request gets a thread of its own,
//! and running out of file descriptors does not stop it for good.

use std::io::Write;

use hotreload::http::{Http, Timeouts, Workers};
use hotreload::{Config, Manager};
use tiny_http::{Header, Request, Response};

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Step 1: load the config and start the manager (nothing starts when disabled).
    let config = match std::env::args().nth(1) {
        Some(file) => Config::from_file(file)?,
        None => Config {
            watch_dirs: vec![hotreload::WatchDir::new("demo", std::path::Path::new("."))],
            patterns: vec![
                "*.html".into(),
                "*.css".into(),
                "*.js".into(),
                "*.md".into(),
            ],
            ..Config::default()
        },
    };
    let mut manager = Manager::new(config)?;
    let heartbeat = std::time::Duration::from_millis(manager.config().heartbeat_ms);
    let mut http = Http::bind("127.0.0.1:0", &Timeouts::for_heartbeat(heartbeat))?;
    println!("embed example at http://{}/", http.local_addr());
    std::io::stdout().flush()?;

    // Step 2: every request goes to hot reload first; what it hands back is the app's.
    let server = manager.server().clone();
    let (quit, quitting) = crossbeam_channel::bounded::<()>(1);
    let mut workers = Workers::start("embed-request", http.requests().clone(), move |request| {
        if let Some(request) = server.handle(request) {
            app(request, server.is_enabled(), &quit);
        }
    })?;
    let _ = quitting.recv();

    // Drop would do all of this too; close() reports failures.
    http.close();
    workers.close(std::time::Duration::from_secs(1));
    manager.close()?;
    Ok(())
}

/// The application's own routes. Step 3: its page includes the client
/// script when hot reload is on.
fn app(request: Request, hot_reload: bool, quit: &crossbeam_channel::Sender<()>) {
    let script = if hot_reload {
        r#"<script src="/static/js/hotreload.js"></script>"#
    } else {
        ""
    };
    let response = match request.url() {
        "/" => html(&format!(
            "<!doctype html><title>embed</title><link rel=stylesheet href=/css/style.css>\
             <h1>My app</h1><p>Hot reload is {}.</p>{script}",
            if hot_reload { "on" } else { "off" }
        )),
        "/css/style.css" => {
            let css = std::fs::read_to_string("demo/css/style.css").unwrap_or_default();
            Response::from_string(css).with_header(header("Content-Type", "text/css"))
        }
        "/quit" => {
            let _ = quit.try_send(());
            Response::from_string("bye")
        }
        _ => Response::from_string("not found").with_status_code(404),
    };
    let _ = request.respond(response);
}

fn html(body: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string(body).with_header(header("Content-Type", "text/html; charset=utf-8"))
}

fn header(name: &str, value: &str) -> Header {
    // Constant ASCII names and values: from_bytes only rejects non-ASCII.
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("ASCII header")
}
