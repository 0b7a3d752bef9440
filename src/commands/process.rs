//! One command as a child process (`sh -c`) in a process group of its own:
//! its output passed on to the log line by line as it comes, the last
//! lines kept for the page, and stopped as a whole group, SIGTERM first.
//!
//! Threads: one that waits for the child to exit, and one per output pipe
//! (`hotreload-build-out`, ...). [`Job::stop`] ends the group and joins them.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, bounded};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use crate::protocol::Kind;

/// Lines of output kept for the page.
pub(crate) const TAIL_LINES: usize = 200;

/// Bytes of one line kept (and logged); a longer one is cut there.
const LINE_BYTES: usize = 4096;

/// How long stopping waits for output pipes to close, once the group is
/// gone: a process that left the group (`setsid`) may keep one open.
const PIPES_WAIT: Duration = Duration::from_millis(500);

/// How long stopping waits for a group sent SIGKILL to be gone.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// A running (or finished) command.
pub(crate) struct Job {
    kind: Kind,
    /// The process group, which is the child's pid.
    group: Pid,
    /// Sends the exit status once, when the child has exited.
    exited: Receiver<io::Result<ExitStatus>>,
    status: Option<ExitStatus>,
    tail: Arc<Mutex<VecDeque<String>>>,
    threads: Vec<JoinHandle<()>>,
}

/// How a wait ended.
pub(crate) enum Waited {
    /// The command exited with this code (`None`: killed by a signal).
    Exited(Option<i32>),
    /// The deadline passed first.
    TimedOut,
    /// Asked to stop first.
    Stopping,
}

impl Job {
    /// Starts `command` through `sh -c` in the working folder, in a process
    /// group of its own, its stdin empty and its output piped to us.
    pub(crate) fn start(kind: Kind, command: &str) -> io::Result<Job> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()?;
        // Linux pids fit an i32 (pid_max is at most 2^22).
        let Ok(pid) = i32::try_from(child.id()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("a process id out of range"));
        };
        let group = Pid::from_raw(pid);
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let mut threads = Vec::new();
        let pipes: [(Option<Box<dyn Read + Send>>, &str); 2] = [
            (child.stdout.take().map(|p| Box::new(p) as _), "out"),
            (child.stderr.take().map(|p| Box::new(p) as _), "err"),
        ];
        for (pipe, which) in pipes {
            let Some(pipe) = pipe else { continue };
            let tail = Arc::clone(&tail);
            threads.push(
                thread::Builder::new()
                    .name(format!("hotreload-{}-{which}", kind.as_str()))
                    .spawn(move || pass_on(kind, pipe, &tail))?,
            );
        }
        let (done, exited) = bounded(1);
        threads.push(
            thread::Builder::new()
                .name(format!("hotreload-{}", kind.as_str()))
                .spawn(move || {
                    let _ = done.send(child.wait());
                })?,
        );
        Ok(Job {
            kind,
            group,
            exited,
            status: None,
            tail,
            threads,
        })
    }

    /// The channel that says the child exited (for `select!`).
    pub(crate) fn exits(&self) -> &Receiver<io::Result<ExitStatus>> {
        &self.exited
    }

    /// Notes an exit taken from [`exits`](Self::exits); returns its code.
    pub(crate) fn exited(&mut self, status: io::Result<ExitStatus>) -> Option<i32> {
        let status = status.ok();
        self.status = status;
        status.and_then(|s| s.code())
    }

    /// Has it exited (as far as has been seen)?
    pub(crate) fn is_done(&self) -> bool {
        self.status.is_some()
    }

    /// Waits for the command to exit, at most until `deadline`, and no
    /// longer than `stop` stays quiet (a message or a disconnect ends it).
    pub(crate) fn wait(&mut self, deadline: Option<Instant>, stop: &Receiver<()>) -> Waited {
        if let Some(status) = self.status {
            return Waited::Exited(status.code());
        }
        let timer = match deadline {
            Some(at) => crossbeam_channel::at(at),
            None => crossbeam_channel::never(),
        };
        crossbeam_channel::select! {
            recv(self.exited) -> status => match status {
                Ok(status) => Waited::Exited(self.exited(status)),
                // The waiter thread is gone without a word: treat as exited.
                Err(_) => Waited::Exited(None),
            },
            recv(timer) -> _ => Waited::TimedOut,
            recv(stop) -> _ => Waited::Stopping,
        }
    }

    /// Ends the whole process group: SIGTERM, and SIGKILL for what is left
    /// after `grace`. Reaps the child and joins the output threads.
    pub(crate) fn stop(&mut self, grace: Duration) {
        // The group may outlive its leader (a server it forked), so it is
        // signalled even when the leader has exited.
        if killpg(self.group, Signal::SIGTERM).is_ok() {
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline && self.group_alive() {
                if self.status.is_none()
                    && let Ok(status) = self.exited.recv_timeout(Duration::from_millis(10))
                {
                    self.exited(status);
                } else {
                    thread::sleep(Duration::from_millis(10));
                }
            }
            if self.group_alive() {
                log::warn!(
                    "[HotReload] {} did not stop within {} ms of SIGTERM; killing it",
                    self.kind.as_str(),
                    grace.as_millis()
                );
                let _ = killpg(self.group, Signal::SIGKILL);
                // A killed process dies when it next runs; on a busy
                // machine that is not at once. Whoever stopped the group
                // counts on it being gone (a port freed, say).
                let deadline = Instant::now() + KILL_WAIT;
                while self.group_alive() && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(5));
                }
            }
        }
        if self.status.is_none() {
            match self.exited.recv_timeout(Duration::from_secs(5)) {
                Ok(status) => {
                    self.exited(status);
                }
                Err(RecvTimeoutError::Timeout) => log::error!(
                    "[HotReload] {} survived SIGKILL; leaving it",
                    self.kind.as_str()
                ),
                Err(RecvTimeoutError::Disconnected) => {}
            }
        }
        let deadline = Instant::now() + PIPES_WAIT;
        for thread in std::mem::take(&mut self.threads) {
            while !thread.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }

    /// Is any process of the group still running?
    fn group_alive(&self) -> bool {
        group_alive(self.group)
    }

    /// The last lines of output, for the page; waits briefly for the pipes
    /// to be read to their end when the command has exited.
    pub(crate) fn output(&mut self) -> String {
        if self.status.is_some() {
            let deadline = Instant::now() + PIPES_WAIT;
            for thread in &self.threads {
                while !thread.is_finished() && Instant::now() < deadline {
                    thread::sleep(Duration::from_millis(2));
                }
            }
        }
        let tail = self
            .tail
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = String::new();
        for line in tail.iter() {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.stop(Duration::from_secs(1));
        }
    }
}

/// Is any process of `group` still running? A killed one whose parent has
/// not reaped it yet (a zombie) no longer runs, though signals still reach
/// it; `/proc` tells them apart where there is one.
fn group_alive(group: Pid) -> bool {
    if killpg(group, None).is_err() {
        return false;
    }
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return true;
    };
    procs.flatten().any(|entry| {
        // `/proc/PID/stat`: pid (comm) state ppid pgrp ...; comm may hold spaces.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            return false;
        };
        let Some((_, after)) = stat.rsplit_once(") ") else {
            return false;
        };
        let mut fields = after.split_whitespace();
        let state = fields.next();
        let pgrp = fields.nth(1).and_then(|p| p.parse::<i32>().ok());
        pgrp == Some(group.as_raw()) && state != Some("Z") && state != Some("X")
    })
}

/// Passes one pipe's lines on to the log as they come, and keeps the last
/// [`TAIL_LINES`] of them, colours removed, for the page. Whatever one read
/// brings is logged as one record, so a flood of output costs a write per
/// read, not per line.
fn pass_on(kind: Kind, mut pipe: Box<dyn Read + Send>, tail: &Mutex<VecDeque<String>>) {
    let mut buf = vec![0u8; 64 * 1024];
    // The start of a line whose end has not come yet.
    let mut partial: Vec<u8> = Vec::new();
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        partial.extend_from_slice(&buf[..n]);
        let Some(last_break) = partial.iter().rposition(|&b| b == b'\n') else {
            // A line longer than LINE_BYTES is cut into pieces.
            if partial.len() >= LINE_BYTES {
                let piece = std::mem::take(&mut partial);
                take_lines(kind, &piece, tail);
            }
            continue;
        };
        let rest = partial.split_off(last_break + 1);
        take_lines(kind, &partial, tail);
        partial = rest;
    }
    if !partial.is_empty() {
        take_lines(kind, &partial, tail);
    }
}

/// Logs `bytes` (whole lines) as one record and keeps the last of them.
fn take_lines(kind: Kind, bytes: &[u8], tail: &Mutex<VecDeque<String>>) {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text
        .split_terminator('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let prefix = format!("[{}] ", kind.as_str());
    let mut record = String::with_capacity(text.len() + lines.len() * prefix.len());
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            record.push('\n');
        }
        record.push_str(&prefix);
        record.push_str(line);
    }
    log::info!("{record}");
    let mut kept = tail.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for line in &lines[lines.len().saturating_sub(TAIL_LINES)..] {
        if kept.len() == TAIL_LINES {
            kept.pop_front();
        }
        let line: String = line.chars().take(LINE_BYTES).collect();
        kept.push_back(without_ansi(&line));
    }
}

/// `text` without ANSI escape sequences (colours, cursor moves, titles)
/// and other control characters but tabs.
pub(crate) fn without_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                // CSI: parameters and intermediates, then a final byte @..~.
                Some('[') => {
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                // OSC: up to BEL or ESC \.
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                            break;
                        }
                    }
                }
                _ => {}
            },
            '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_and_controls_are_removed() {
        let rows = [
            ("\u{1b}[31merror\u{1b}[0m: bad", "error: bad"),
            ("\u{1b}[1;33mwarn\u{1b}[m", "warn"),
            ("\u{1b}]0;title\u{7}text", "text"),
            ("\u{1b}]8;;http://x\u{1b}\\link\u{1b}]8;;\u{1b}\\", "link"),
            ("a\tb\u{8}c", "a\tbc"),
            ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ];
        for (raw, want) in rows {
            assert_eq!(without_ansi(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn output_is_kept_and_the_group_is_stopped() {
        let (_never, stop) = bounded::<()>(0);
        let mut job = Job::start(Kind::Build, "echo one; echo two >&2; exit 3").expect("sh runs");
        match job.wait(Some(Instant::now() + Duration::from_secs(10)), &stop) {
            Waited::Exited(code) => assert_eq!(code, Some(3)),
            _ => panic!("did not exit"),
        }
        let out = job.output();
        assert!(out.contains("one") && out.contains("two"), "{out:?}");
        // A group that ignores SIGTERM, with a child of its own, is killed whole.
        let mut job = Job::start(Kind::Run, "trap '' TERM; sleep 30 & sleep 30").expect("sh runs");
        let group = job.group;
        // The shell has set its trap once its background sleep runs.
        let members = || {
            std::fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| {
                    std::fs::read_to_string(e.path().join("stat")).is_ok_and(|stat| {
                        stat.rsplit_once(") ")
                            .and_then(|(_, after)| after.split_whitespace().nth(2))
                            == Some(&group.as_raw().to_string())
                    })
                })
                .count()
        };
        let started = Instant::now();
        while members() < 2 && started.elapsed() < Duration::from_secs(10) {
            thread::sleep(Duration::from_millis(10));
        }
        let stopping = Instant::now();
        job.stop(Duration::from_millis(200));
        assert!(
            stopping.elapsed() >= Duration::from_millis(200),
            "stopped in {:?}: SIGTERM was not ignored?",
            stopping.elapsed()
        );
        assert!(!group_alive(group), "the group is still there");
        assert!(job.is_done());
    }
}
