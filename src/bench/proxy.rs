//! The proxy rows of `hotreload bench`: what `hotreload proxy` adds to a
//! request, against the same backend asked directly, in the same run.
//!
//! The backend is a small HTTP/1.1 server in this process (a thread per
//! connection, bodies from memory), so that the direct numbers are the
//! floor; the proxy is the real binary in its own process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{Failed, ServerProcess, bench_error, ms, percentile};

/// One body, asked directly and through the proxy.
#[derive(Debug, Clone)]
pub struct ProxyRow {
    /// What was asked for: `10 KiB page` or `1 MiB file`.
    pub what: &'static str,
    /// Straight to the backend.
    pub direct: Measure,
    /// Through `hotreload proxy`.
    pub proxied: Measure,
}

/// Latency of one request after another on one connection, and the
/// throughput of several connections at once.
#[derive(Debug, Clone, Copy)]
pub struct Measure {
    /// Milliseconds from sending a request to its last byte: p50 and p99.
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Requests per second, from `CONNECTIONS` connections at once.
    pub per_second: f64,
}

/// Connections at once for the throughput measure: more than the cores, as
/// a browser opens six.
pub(super) const CONNECTIONS: usize = 4;

/// The bodies: an HTML page (which the proxy reads whole to add the
/// script) and a file (which it streams).
fn bodies() -> [(&'static str, &'static str, Vec<u8>); 2] {
    let mut page = b"<!doctype html><html><head><title>bench</title></head><body>".to_vec();
    while page.len() < 10 * 1024 - 20 {
        page.extend_from_slice(b"<p>Lorem ipsum dolor sit amet, consectetur.</p>\n");
    }
    page.extend_from_slice(b"</body></html>");
    let file: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    [
        ("10 KiB page", "/page", page),
        ("1 MiB file", "/file", file),
    ]
}

/// Measures each body `requests` times one after another, and for
/// `window` with several connections, directly and through the proxy.
pub fn measure(
    exe: &Path,
    dir: &Path,
    requests: usize,
    window: Duration,
) -> Result<Vec<ProxyRow>, Failed> {
    let backend = Backend::start()?;
    let url = format!("http://{}", backend.addr);
    let proxy = ServerProcess::run(exe, dir, &["proxy", &url, "--port", "0", "-q"])?;
    let mut rows = Vec::new();
    for (what, path, body) in bodies() {
        // A page grows by the script tag on the way through.
        let at_least = body.len();
        let direct = Measure::take(backend.addr, path, at_least, requests, window)?;
        let proxied = Measure::take(proxy.addr, path, at_least, requests, window)?;
        rows.push(ProxyRow {
            what,
            direct,
            proxied,
        });
    }
    drop(proxy);
    backend.stop();
    Ok(rows)
}

impl Measure {
    fn take(
        addr: SocketAddr,
        path: &str,
        at_least: usize,
        requests: usize,
        window: Duration,
    ) -> Result<Measure, Failed> {
        let mut client = Client::connect(addr)?;
        // Warm up: the first requests pay for connecting and first touches.
        for _ in 0..requests.min(20) {
            client.get(path, at_least)?;
        }
        let mut took = Vec::with_capacity(requests);
        for _ in 0..requests {
            let started = Instant::now();
            client.get(path, at_least)?;
            took.push(ms(started.elapsed()));
        }
        took.sort_by(f64::total_cmp);
        let done = Arc::new(AtomicU64::new(0));
        let until = Instant::now() + window;
        let workers: Vec<JoinHandle<Result<(), Failed>>> = (0..CONNECTIONS)
            .map(|_| {
                let done = Arc::clone(&done);
                let path = path.to_string();
                thread::spawn(move || {
                    let mut client = Client::connect(addr)?;
                    while Instant::now() < until {
                        client.get(&path, at_least)?;
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(())
                })
            })
            .collect();
        for worker in workers {
            worker
                .join()
                .map_err(|_| bench_error("a client thread panicked", "run it again"))??;
        }
        Ok(Measure {
            p50_ms: percentile(&took, 50.0),
            p99_ms: percentile(&took, 99.0),
            per_second: done.load(Ordering::Relaxed) as f64 / window.as_secs_f64(),
        })
    }
}

/// One keep-alive connection, asking for one body after another.
struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(addr: SocketAddr) -> Result<Client, Failed> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| {
            bench_error(
                format!("cannot connect to {addr}: {e}"),
                super::FEWER_CLIENTS,
            )
        })?;
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let reader = stream
            .try_clone()
            .map_err(|e| bench_error(format!("cannot use a socket: {e}"), super::FEWER_CLIENTS))?;
        Ok(Client {
            reader: BufReader::with_capacity(64 * 1024, reader),
            writer: stream,
        })
    }

    /// Asks for `path` and reads the whole answer (at least `at_least` bytes of body).
    fn get(&mut self, path: &str, at_least: usize) -> Result<(), Failed> {
        let failed = |e: std::io::Error| {
            bench_error(
                format!("a request for {path} failed: {e}"),
                "run `hotreload proxy` by hand against your app to see why",
            )
        };
        write!(
            self.writer,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        )
        .map_err(failed)?;
        let mut length = None;
        let mut line = String::new();
        loop {
            line.clear();
            if self.reader.read_line(&mut line).map_err(failed)? == 0 {
                return Err(failed(std::io::ErrorKind::UnexpectedEof.into()));
            }
            let trimmed = line.trim();
            if trimmed.is_empty() {
                break;
            }
            if let Some((name, value)) = trimmed.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse::<usize>().ok();
            }
        }
        let length = length.ok_or_else(|| {
            bench_error(
                format!("the answer for {path} has no Content-Length"),
                "report this: the proxy should send one for a whole body",
            )
        })?;
        if length < at_least {
            return Err(bench_error(
                format!("the answer for {path} has {length} bytes, not {at_least}"),
                "report this",
            ));
        }
        std::io::copy(
            &mut (&mut self.reader).take(length as u64),
            &mut std::io::sink(),
        )
        .map_err(failed)?;
        Ok(())
    }
}

/// The backend: a thread per connection, answering from memory.
struct Backend {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: JoinHandle<()>,
}

impl Backend {
    fn start() -> Result<Backend, Failed> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| {
            bench_error(format!("cannot start the test backend: {e}"), "free a port")
        })?;
        let addr = listener.local_addr().map_err(|e| {
            bench_error(format!("cannot start the test backend: {e}"), "free a port")
        })?;
        let stop = Arc::new(AtomicBool::new(false));
        let bodies = Arc::new(bodies());
        let accept = {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut connections = Vec::new();
                for stream in listener.incoming() {
                    if stop.load(Ordering::Acquire) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let bodies = Arc::clone(&bodies);
                    connections.push(thread::spawn(move || answer(stream, &bodies)));
                }
                for c in connections {
                    let _ = c.join();
                }
            })
        };
        Ok(Backend { addr, stop, accept })
    }

    /// Stops accepting; connection threads end as their clients hang up.
    fn stop(self) {
        self.stop.store(true, Ordering::Release);
        let _ = TcpStream::connect(self.addr);
        let _ = self.accept.join();
    }
}

/// Answers one connection's requests until it closes.
fn answer(stream: TcpStream, bodies: &[(&'static str, &'static str, Vec<u8>); 2]) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    loop {
        let mut path = None;
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line.trim().is_empty() {
                break;
            }
            if path.is_none() {
                path = line.split_whitespace().nth(1).map(str::to_string);
            }
        }
        let body = bodies.iter().find(|(_, p, _)| Some(*p) == path.as_deref());
        let (kind, body): (&str, &[u8]) = match body {
            Some((_, "/page", b)) => ("text/html; charset=utf-8", b),
            Some((_, _, b)) => ("application/octet-stream", b),
            None => ("text/plain", b"not found"),
        };
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if writer
            .write_all(head.as_bytes())
            .and_then(|()| writer.write_all(body))
            .is_err()
        {
            return;
        }
    }
}
