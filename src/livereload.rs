//! LiveReload protocol 7 (SPEC.md section 11): the handshake and the
//! `reload` commands that let unmodified LiveReload clients (the
//! `livereload-js` script, the browser extensions) follow hotreload.
//!
//! A LiveReload client is one of the hub's clients that speaks another
//! dialect: its thread first waits for the client's `hello` and answers
//! it, then writes the same batches as everyone's, as `reload` commands,
//! and nothing else. livereload-js closes the socket on any frame it does
//! not know, so neither `connected` nor build and test results go to it.

use std::time::{Duration, Instant};

use serde::Deserialize;
use tungstenite::protocol::CloseFrame;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::{Message, Utf8Bytes};

use crate::client::Socket;
use crate::protocol::{Action, ChangeBatch, MAX_CHANGES_PER_MESSAGE, push_json_str};

/// The LiveReload WebSocket endpoint.
pub const LIVERELOAD_PATH: &str = "/livereload";
/// Where LiveReload snippets and the extensions load the page script from.
pub const LIVERELOAD_JS_PATH: &str = "/livereload.js";
/// The port the LiveReload extensions connect to unless told otherwise.
pub const EXTENSIONS_PORT: u16 = 35729;

/// A client that has not said `hello` by then is closed.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

const PROTOCOL_7: &str = "http://livereload.com/protocols/official-7";
/// The extensions' probe: a `hello` answered means a server is there.
const CONNECTION_CHECK: &str = "http://livereload.com/protocols/connection-check-1";

/// The server's `hello`, the first thing a LiveReload client hears.
const HELLO: &str = r#"{"command":"hello","protocols":["http://livereload.com/protocols/official-7"],"serverName":"hotreload"}"#;

/// A client's first message, as far as it matters here. livereload-js
/// sends a list of protocols; the extensions' probe sends one string.
#[derive(Deserialize)]
struct Hello {
    command: String,
    #[serde(default)]
    protocols: Protocols,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Protocols {
    One(String),
    Many(Vec<String>),
}

impl Default for Protocols {
    fn default() -> Protocols {
        Protocols::Many(Vec::new())
    }
}

impl Protocols {
    fn has(&self, protocol: &str) -> bool {
        match self {
            Protocols::One(one) => one == protocol,
            Protocols::Many(many) => many.iter().any(|p| p == protocol),
        }
    }
}

/// What a client's first message asks for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Greeting {
    /// Protocol 7: a client that stays for reloads.
    Client,
    /// The extensions' connection check: answer, then close.
    Probe,
}

/// Reads a client's first message. The error says what was wrong, for the
/// close frame and the log.
pub(crate) fn greeting(text: &str) -> Result<Greeting, String> {
    // JSON is YAML, and serde_yaml is already here for the config.
    let hello: Hello = serde_yaml::from_str(text)
        .map_err(|_| "the first message must be a LiveReload hello (JSON)".to_string())?;
    if hello.command != "hello" {
        return Err(format!(
            "the first message must be a hello, not {:?}",
            hello.command
        ));
    }
    if hello.protocols.has(PROTOCOL_7) {
        Ok(Greeting::Client)
    } else if hello.protocols.has(CONNECTION_CHECK) {
        Ok(Greeting::Probe)
    } else {
        Err("this server speaks LiveReload protocol 7 only".into())
    }
}

/// Waits until `deadline` for the client's `hello` and answers it. `Ok`
/// means a client that stays; `Err` says why the connection ended (it is
/// closed already, with a close frame saying so where that makes sense).
pub(crate) fn handshake(socket: &mut Socket, deadline: Instant) -> Result<(), String> {
    loop {
        let text = match socket.read() {
            Ok(Message::Text(text)) => text,
            // A ping before hello is allowed; tungstenite answers it.
            Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            Ok(Message::Close(_)) => return Err("closed before hello".into()),
            Ok(_) => {
                close(socket, CloseCode::Protocol, "LiveReload messages are text");
                return Err("sent a binary frame before hello".into());
            }
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if Instant::now() >= deadline {
                    close(socket, CloseCode::Policy, "no hello in time");
                    return Err(format!("no hello within {} s", HANDSHAKE_TIMEOUT.as_secs()));
                }
                continue;
            }
            Err(e) => {
                // Too large a message, or bytes that are no WebSocket.
                close(socket, CloseCode::Protocol, "bad frame");
                return Err(format!("before hello: {e}"));
            }
        };
        return match greeting(&text) {
            Ok(Greeting::Client) => socket
                .send(Message::Text(Utf8Bytes::from_static(HELLO)))
                .map_err(|e| format!("answering hello: {e}")),
            Ok(Greeting::Probe) => {
                let _ = socket.send(Message::Text(Utf8Bytes::from_static(HELLO)));
                close(socket, CloseCode::Normal, "connection check done");
                Err("a connection check, answered".into())
            }
            Err(why) => {
                close(socket, CloseCode::Protocol, &why);
                Err(why)
            }
        };
    }
}

fn close(socket: &mut Socket, code: CloseCode, reason: &str) {
    let _ = socket.close(Some(CloseFrame {
        code,
        reason: reason.to_string().into(),
    }));
    let _ = socket.flush();
}

/// The `reload` commands for a batch: one per stylesheet or image when
/// they can be swapped in place, else one that reloads the page.
pub(crate) fn reload_commands(batch: &ChangeBatch) -> Vec<String> {
    let shown = &batch.changes[..batch.changes.len().min(MAX_CHANGES_PER_MESSAGE)];
    match batch.action() {
        Action::Css | Action::Image => shown.iter().map(|c| reload(&c.path, true)).collect(),
        Action::Reload => {
            // Neither a stylesheet nor an image, so that no client takes it
            // for one to swap; with liveCSS and liveImg false it reloads
            // whatever the path.
            let first = batch
                .changes
                .iter()
                .find(|c| matches!(Action::for_changes(std::slice::from_ref(c)), Action::Reload))
                .or(batch.changes.first())
                .map_or("", |c| c.path.as_str());
            vec![reload(first, false)]
        }
    }
}

fn reload(path: &str, live: bool) -> String {
    let mut out = String::with_capacity(80 + path.len());
    out.push_str(r#"{"command":"reload","path":"#);
    push_json_str(&mut out, path);
    out.push_str(if live {
        r#","liveCSS":true,"liveImg":true}"#
    } else {
        r#","liveCSS":false,"liveImg":false}"#
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Change, Operation};

    fn batch(paths: &[(&str, Operation)]) -> ChangeBatch {
        ChangeBatch {
            seq: 1,
            timestamp: 0,
            changes: paths
                .iter()
                .map(|(p, o)| Change {
                    path: p.to_string(),
                    operation: *o,
                })
                .collect(),
        }
    }

    #[test]
    fn hellos() {
        // livereload-js 4, as it sends it.
        let js = r#"{"command":"hello","protocols":["http://livereload.com/protocols/official-6","http://livereload.com/protocols/official-7"],"ver":"4.0.2"}"#;
        assert_eq!(greeting(js), Ok(Greeting::Client));
        // The extensions' probe: protocols is one string.
        let probe = r#"{"command":"hello","protocols":"http://livereload.com/protocols/connection-check-1"}"#;
        assert_eq!(greeting(probe), Ok(Greeting::Probe));
        let spaced = "{ \"command\" : \"hello\", \"protocols\" : [ \"http://livereload.com/protocols/official-7\" ] }";
        assert_eq!(greeting(spaced), Ok(Greeting::Client));
        for bad in [
            "",
            "junk",
            "{",
            "[1,2]",
            r#"{"command":"info","url":"x"}"#,
            r#"{"command":"hello","protocols":["http://livereload.com/protocols/official-6"]}"#,
            r#"{"command":"hello"}"#,
            "!!ver:1.6",
        ] {
            assert!(greeting(bad).is_err(), "{bad:?} was taken");
        }
    }

    #[test]
    fn reloads_by_batch() {
        use Operation::*;
        assert_eq!(
            reload_commands(&batch(&[("css/a.css", Modified), ("b.css", Created)])),
            [
                r#"{"command":"reload","path":"css/a.css","liveCSS":true,"liveImg":true}"#,
                r#"{"command":"reload","path":"b.css","liveCSS":true,"liveImg":true}"#,
            ]
        );
        assert_eq!(
            reload_commands(&batch(&[("img/a.png", Modified)])),
            [r#"{"command":"reload","path":"img/a.png","liveCSS":true,"liveImg":true}"#]
        );
        // The first change that is neither a stylesheet nor an image.
        assert_eq!(
            reload_commands(&batch(&[("a.css", Modified), ("index.html", Modified)])),
            [r#"{"command":"reload","path":"index.html","liveCSS":false,"liveImg":false}"#]
        );
        // A deleted stylesheet reloads the page.
        assert_eq!(
            reload_commands(&batch(&[("a.css", Deleted)])),
            [r#"{"command":"reload","path":"a.css","liveCSS":false,"liveImg":false}"#]
        );
        assert_eq!(
            reload_commands(&batch(&[("say \"hi\".md", Modified)])),
            [r#"{"command":"reload","path":"say \"hi\".md","liveCSS":false,"liveImg":false}"#]
        );
        assert_eq!(
            reload_commands(&batch(&[])),
            [r#"{"command":"reload","path":"","liveCSS":false,"liveImg":false}"#]
        );
    }
}
