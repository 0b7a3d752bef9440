//! `cargo bench --bench fanout_floor`: how fast can N loopback sockets be
//! told one message, with no file watching and no WebSocket framing?
//!
//! Each of N clients is a TCP connection with a reader thread, as in the
//! main benchmark. The server side is either one thread per socket fed
//! through its own bounded crossbeam channel and woken by one condition
//! variable for all, as `hotreload::client` does (the design of SPEC.md
//! section 1), or one thread that writes every socket in a loop. The
//! difference bounds what the thread-per-client design costs on this
//! machine.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError, bounded, unbounded};

const ROUNDS: usize = 40;

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((p / 100.0) * (v.len() - 1) as f64).round() as usize]
}

/// N connected pairs; the client ends get reader threads that report arrival times.
fn pairs(n: usize) -> (Vec<TcpStream>, Receiver<Instant>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (arrived_tx, arrived) = unbounded();
    let mut servers = Vec::with_capacity(n);
    for _ in 0..n {
        let mut client = TcpStream::connect(addr).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        server.set_nodelay(true).expect("nodelay");
        servers.push(server);
        let arrived_tx = arrived_tx.clone();
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(move || {
                let mut buf = [0u8; 256];
                while let Ok(read) = client.read(&mut buf) {
                    if read == 0 || arrived_tx.send(Instant::now()).is_err() {
                        break;
                    }
                }
            })
            .expect("reader thread");
    }
    (servers, arrived)
}

/// Median and last arrival after `send` starts, over ROUNDS rounds, in ms.
fn measure(n: usize, arrived: &Receiver<Instant>, mut send: impl FnMut()) -> (f64, f64, f64) {
    let (mut medians, mut lasts) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let start = Instant::now();
        send();
        // Collected every few ms, as the main benchmark does, so that this
        // thread is not woken once per socket.
        let give_up = start + Duration::from_secs(10);
        let mut times: Vec<f64> = Vec::with_capacity(n);
        while times.len() < n && Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(2));
            times.extend(
                arrived
                    .try_iter()
                    .map(|at| (at - start).as_secs_f64() * 1000.0),
            );
        }
        assert_eq!(times.len(), n, "every socket hears");
        times.sort_by(f64::total_cmp);
        medians.push(times[n / 2]);
        lasts.push(times[n - 1]);
        std::thread::sleep(Duration::from_millis(30));
    }
    (
        percentile(medians, 50.0),
        percentile(lasts.clone(), 50.0),
        percentile(lasts, 99.0),
    )
}

fn main() {
    let message = [b'x'; 200];
    println!(
        "fan-out floor: one 200-byte message to N loopback sockets, each read by its own thread (ms)"
    );
    println!(
        "{:>6}  {:<26} {:>8} {:>8} {:>8}",
        "N", "server side", "median", "last p50", "last p99"
    );
    for n in [100, 1000] {
        // A thread per socket, fed through its own bounded channel; one
        // counter and condition variable wake them all.
        let (servers, arrived) = pairs(n);
        let bell = Arc::new((Mutex::new(0u64), Condvar::new()));
        let ring = || {
            *bell.0.lock().expect("bell") += 1;
            bell.1.notify_all();
        };
        let mut senders = Vec::with_capacity(n);
        for mut socket in servers {
            let (tx, rx) = bounded::<[u8; 200]>(10);
            let bell = Arc::clone(&bell);
            std::thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    let mut heard = *bell.0.lock().expect("bell");
                    loop {
                        match rx.try_recv() {
                            Ok(m) if socket.write_all(&m).is_ok() => {}
                            Err(TryRecvError::Empty) => {
                                let rings = bell.0.lock().expect("bell");
                                let rings = bell.1.wait_while(rings, |r| *r == heard);
                                heard = *rings.expect("bell");
                            }
                            _ => break,
                        }
                    }
                })
                .expect("writer thread");
            senders.push(tx);
        }
        let (median, last, last99) = measure(n, &arrived, || {
            for tx in &senders {
                let _ = tx.try_send(message);
            }
            ring();
        });
        println!(
            "{n:>6}  {:<26} {median:>8.2} {last:>8.2} {last99:>8.2}",
            "thread per client"
        );
        drop(senders);
        ring();

        // One thread writes every socket.
        let (mut servers, arrived) = pairs(n);
        let (median, last, last99) = measure(n, &arrived, || {
            for socket in &mut servers {
                let _ = socket.write_all(&message);
            }
        });
        println!(
            "{n:>6}  {:<26} {median:>8.2} {last:>8.2} {last99:>8.2}",
            "one writer for all"
        );
    }
}
