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

use std::io::Write;

use hotreload::{Config, Manager};
use tiny_http::{Header, Response, Server};

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
    let manager = Manager::new(config)?;

    let http = Server::http("127.0.0.1:0")?;
    let addr = http.server_addr().to_ip().ok_or("not a TCP address")?;
    println!("embed example at http://{addr}/");
    std::io::stdout().flush()?;

    // Step 2: every request goes to hot reload first; what it hands back is the app's.
    // Step 3: the app's page includes the client script when hot reload is on.
    let script = if manager.is_enabled() {
        r#"<script src="/static/js/hotreload.js"></script>"#
    } else {
        ""
    };
    for request in http.incoming_requests() {
        let Some(request) = manager.server().handle(request) else {
            continue;
        };
        let response = match request.url() {
            "/" => html(&format!(
                "<!doctype html><title>embed</title><link rel=stylesheet href=/css/style.css>\
                 <h1>My app</h1><p>Hot reload is {}.</p>{script}",
                if manager.is_enabled() { "on" } else { "off" }
            )),
            "/css/style.css" => {
                let css = std::fs::read_to_string("demo/css/style.css").unwrap_or_default();
                Response::from_string(css).with_header(header("Content-Type", "text/css"))
            }
            "/quit" => {
                let _ = request.respond(Response::from_string("bye"));
                break;
            }
            _ => Response::from_string("not found").with_status_code(404),
        };
        let _ = request.respond(response);
    }
    // The manager's Drop would do this too; close() reports failures.
    let mut manager = manager;
    manager.close()?;
    Ok(())
}

fn html(body: &str) -> Response<std::io::Cursor<Vec<u8>>> {
    Response::from_string(body).with_header(header("Content-Type", "text/html; charset=utf-8"))
}

fn header(name: &str, value: &str) -> Header {
    // Constant ASCII names and values: from_bytes only rejects non-ASCII.
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("ASCII header")
}
