//! One WebSocket client's thread (`hotreload-client-N`): writes what its
//! channel delivers and a ping every heartbeat, until a write fails or the
//! hub lets go of the channel.
//!
//! A client thread sleeps on the hub's [`Doorbell`], which the hub rings
//! once after queueing a batch for everyone, rather than in the channel's
//! blocking `recv`: that `recv` spins and calls `sched_yield` four times
//! before it sleeps, and with a thousand client threads on two cores every
//! yield is a context switch (6.3 per client per batch, against 2.4). One
//! ring is one `futex` call that wakes every thread; unparking each thread
//! in turn cost the hub a system call per client and was preempted by the
//! threads it woke (see the README's Performance).
//!
//! tiny_http's upgraded stream is one boxed `Read + Write` that cannot be
//! split, so the thread only writes. The socket's own limits find the rest
//! (see [`crate::http::Timeouts`]): a write nobody takes fails after the
//! write timeout (a frozen tab), and a peer that vanished is cut by
//! `TCP_USER_TIMEOUT` before the next ping, which then fails.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TryRecvError};
use tiny_http::ReadWrite;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tungstenite::{Bytes, Message, WebSocket};

/// The socket type of an upgraded tiny_http request.
pub(crate) type Socket = WebSocket<Box<dyn ReadWrite + Send>>;

/// What the hub queues for a client at once: one message, or for a
/// LiveReload client one `reload` per stylesheet of a batch. Shared by
/// every client it goes to.
pub(crate) type Frames = Arc<[Message]>;

/// Client threads write small frames and hold little: a small stack is plenty.
pub(crate) const STACK: usize = 128 * 1024;

/// Buffers for a push-only connection. tungstenite's defaults (128 KiB read
/// buffer, 64 MiB messages) are sized for large inbound traffic; browsers
/// send us only pongs and close frames.
pub(crate) fn socket_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(1 << 20)
        .max_message_size(Some(64 * 1024))
        .max_frame_size(Some(64 * 1024))
}

/// Where client threads wait for the hub: a counter of rings and the
/// condition variable that announces them.
///
/// A thread remembers the count it last heard and sleeps while the count is
/// unchanged, so a ring between its last look at its channel and its wait is
/// never missed.
#[derive(Default)]
pub(crate) struct Doorbell {
    rings: Mutex<u64>,
    rung: Condvar,
}

impl Doorbell {
    fn rings(&self) -> MutexGuard<'_, u64> {
        // The lock guards a counter only; a panic cannot leave it inconsistent.
        self.rings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The rings so far; a thread reads it before it first looks at its channel.
    fn heard(&self) -> u64 {
        *self.rings()
    }

    /// Wakes every waiting client thread.
    pub(crate) fn ring(&self) {
        *self.rings() += 1;
        self.rung.notify_all();
    }

    /// Sleeps until a ring after `heard`, or `timeout`; returns the rings now.
    fn wait(&self, heard: u64, timeout: Duration) -> u64 {
        let (rings, _) = self
            .rung
            .wait_timeout_while(self.rings(), timeout, |rings| *rings == heard)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *rings
    }
}

/// The client thread's loop: writes queued messages and heartbeat pings
/// until a write fails, or says goodbye with 1001 once the hub drops its
/// channel. Returns why it ended, for the log.
pub(crate) fn run(
    mut socket: Socket,
    messages: &Receiver<Frames>,
    heartbeat: Duration,
    doorbell: &Doorbell,
) -> String {
    let mut next_ping = Instant::now() + heartbeat;
    let mut heard = doorbell.heard();
    loop {
        match messages.try_recv() {
            Ok(frames) => {
                for message in frames.iter() {
                    if let Err(e) = socket.send(message.clone()) {
                        return format!("write failed: {e}");
                    }
                }
            }
            Err(TryRecvError::Empty) => {
                let now = Instant::now();
                if now < next_ping {
                    // Woken by the hub after it queues, or by the heartbeat;
                    // either way the loop looks at the channel again.
                    heard = doorbell.wait(heard, next_ping - now);
                    continue;
                }
                next_ping += heartbeat;
                if let Err(e) = socket.send(Message::Ping(Bytes::new())) {
                    return format!("ping failed: {e}");
                }
            }
            Err(TryRecvError::Disconnected) => {
                let frame = CloseFrame {
                    code: CloseCode::Away,
                    reason: "hotreload closed the connection".into(),
                };
                let _ = socket.close(Some(frame));
                let _ = socket.flush();
                return "closed by the server".to_string();
            }
        }
    }
}
