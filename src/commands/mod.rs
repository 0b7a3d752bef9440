//! Build, run and test on change (SPEC.md section 10): the pipeline thread
//! (`hotreload-pipeline`) between the watcher and the hub.
//!
//! Each batch waits for the build; changes that come while it runs make
//! one more run. Then, when the batch touches `restart_on`, the app is
//! stopped, started again and waited for until it answers; only then does
//! the batch go to the browsers, so no page reloads into an app that is not
//! up. A failure goes to the browsers instead, shown over the page, and to
//! every page opened until the next success. Tests run after, on their own
//! thread (`hotreload-tests`), and never hold a batch back.
//!
//! The build runs before the app is stopped, so the old app goes on
//! serving while it builds, and keeps serving when the build fails.

mod process;

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError, bounded, never, select};

use crate::Error;
use crate::config::Config;
use crate::hub::Hub;
use crate::protocol::{self, Change, CommandReport, CommandState, Kind};
use crate::proxy::Backend;
use crate::stoppable::Stoppable;
use crate::watcher::patterns::Globs;
use process::{Job, Waited};

/// The commands of a config, checked.
pub(crate) struct Commands {
    build: Option<String>,
    build_timeout: Duration,
    run: Option<String>,
    restart_on: Globs,
    /// Where the app answers once it is up.
    ready: Option<Ready>,
    stop_timeout: Duration,
    start_timeout: Duration,
    test: Option<String>,
    /// How long after a build its own writes may still arrive as a batch.
    settle: Duration,
}

/// The address and path asked to see whether the app is up.
struct Ready {
    authority: String,
    path: String,
}

impl Commands {
    pub(crate) fn new(config: &Config) -> Result<Commands, Error> {
        let ready = config
            .ready_url
            .as_deref()
            .or(config.proxy.as_deref())
            .and_then(|url| Backend::parse(url).ok())
            .map(|b| Ready {
                path: if b.base.is_empty() {
                    "/".into()
                } else {
                    b.base.clone()
                },
                authority: b.authority,
            });
        Ok(Commands {
            build: config.build.clone(),
            build_timeout: Duration::from_millis(config.build_timeout_ms),
            run: config.run.clone(),
            restart_on: Globs::new(&config.restart_on, "hot_reload.restart_on")?,
            ready,
            stop_timeout: Duration::from_millis(config.stop_timeout_ms),
            start_timeout: Duration::from_millis(config.start_timeout_ms),
            test: config.test.clone(),
            settle: Duration::from_millis(config.debounce_ms.quiet_ms() + 50),
        })
    }
}

/// The pipeline thread; `close()` (or drop) stops it, and the app and
/// tests with it (SIGTERM, then SIGKILL after `stop_timeout_ms`).
pub(crate) struct Pipeline {
    thread: Stoppable,
}

impl Pipeline {
    /// Starts the pipeline: batches from `batches` go to `hub` once the
    /// commands allow. Starts the app, if there is one.
    pub(crate) fn start(
        commands: Commands,
        batches: Receiver<Vec<Change>>,
        hub: Arc<Hub>,
    ) -> Result<Pipeline, Error> {
        let thread = Stoppable::spawn("hotreload-pipeline", move |stopped| {
            let tests = commands
                .test
                .clone()
                .and_then(|command| Tests::start(command, Arc::clone(&hub)));
            let mut line = Line {
                commands,
                hub,
                app: None,
                broken: None,
                tests,
            };
            line.run(&batches, &stopped);
        })?;
        Ok(Pipeline { thread })
    }

    /// Stops the app and the tests, and joins the thread.
    pub(crate) fn close(&mut self) -> Result<(), Error> {
        self.thread.close()
    }
}

/// What a step of the pipeline came to.
enum Outcome {
    Done,
    Failed(CommandReport),
    /// Asked to stop meanwhile.
    Stopping,
}

/// The pipeline thread's state.
struct Line {
    commands: Commands,
    hub: Arc<Hub>,
    /// The app, running or exited.
    app: Option<Job>,
    /// What failed last (the build, or the app): shown over every page
    /// until that command succeeds again.
    broken: Option<Kind>,
    tests: Option<Tests>,
}

impl Line {
    fn run(&mut self, batches: &Receiver<Vec<Change>>, stop: &Receiver<()>) {
        if self.commands.run.is_some() {
            match self.start_app(stop) {
                Outcome::Done => {}
                Outcome::Failed(report) => self.fail(report),
                Outcome::Stopping => return self.shut_down(),
            }
        }
        loop {
            let app_exits = match &self.app {
                Some(app) if !app.is_done() => app.exits().clone(),
                _ => never(),
            };
            select! {
                recv(batches) -> batch => match batch {
                    Ok(changes) => {
                        if let Outcome::Stopping = self.on_batch(changes, batches, stop) {
                            break;
                        }
                    }
                    Err(_) => break,
                },
                recv(app_exits) -> status => {
                    let code = match (&mut self.app, status) {
                        (Some(app), Ok(status)) => app.exited(status),
                        _ => None,
                    };
                    let report = self.app_report(CommandState::Failed, code);
                    log::warn!(
                        "[HotReload] your app exited on its own ({}); it starts again on the next change that matches restart_on",
                        exit_text(code)
                    );
                    self.fail(report);
                },
                recv(stop) -> _ => break,
            }
        }
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if let Some(mut app) = self.app.take() {
            app.stop(self.commands.stop_timeout);
        }
        if let Some(mut tests) = self.tests.take() {
            tests.close(self.commands.stop_timeout);
        }
    }

    /// One batch: build (again, while changes keep coming), restart the app
    /// if the batch asks for it, and send it; or show what failed.
    fn on_batch(
        &mut self,
        mut changes: Vec<Change>,
        batches: &Receiver<Vec<Change>>,
        stop: &Receiver<()>,
    ) -> Outcome {
        if let Some(command) = self.commands.build.clone() {
            loop {
                let outcome = self.build(&command, stop);
                let came = batches.try_iter().flatten().collect::<Vec<_>>();
                if matches!(outcome, Outcome::Stopping) {
                    return outcome;
                }
                if !came.is_empty() {
                    log::info!(
                        "[HotReload] {} more change(s) during the build: building again",
                        came.len()
                    );
                    merge(&mut changes, came);
                    continue;
                }
                if let Outcome::Failed(report) = outcome {
                    self.fail(report);
                    return Outcome::Done;
                }
                self.recovered(Kind::Build);
                break;
            }
            // What the build wrote arrives a debounce later, as a batch of
            // its own: it goes out with this one, and builds nothing.
            let until = Instant::now() + self.commands.settle;
            while let Ok(written) = batches.recv_deadline(until) {
                merge(&mut changes, written);
            }
        }
        let restart = self.commands.run.is_some()
            && changes
                .iter()
                .any(|c| self.commands.restart_on.matches(&c.path));
        if restart {
            match self.start_app(stop) {
                Outcome::Done => self.recovered(Kind::Run),
                Outcome::Failed(report) => {
                    self.fail(report);
                    return Outcome::Done;
                }
                Outcome::Stopping => return Outcome::Stopping,
            }
        }
        // With the app still down (this change did not restart it), pages
        // still get the batch; the failure stays over them.
        self.hub.broadcast(changes);
        if let Some(tests) = &self.tests {
            tests.trigger();
        }
        Outcome::Done
    }

    /// Runs the build to its end, or its timeout.
    fn build(&mut self, command: &str, stop: &Receiver<()>) -> Outcome {
        let started = Instant::now();
        self.tell(report(
            Kind::Build,
            command,
            CommandState::Running,
            None,
            String::new(),
        ));
        let mut job = match Job::start(Kind::Build, command) {
            Ok(job) => job,
            Err(e) => {
                let output = format!("hotreload could not start `sh -c`: {e}");
                return failed(Kind::Build, command, None, output);
            }
        };
        let deadline = Instant::now() + self.commands.build_timeout;
        match job.wait(Some(deadline), stop) {
            Waited::Exited(Some(0)) => {
                log::info!(
                    "[HotReload] build done in {:.1} s",
                    started.elapsed().as_secs_f64()
                );
                self.hub.record(report(
                    Kind::Build,
                    command,
                    CommandState::Ok,
                    Some(0),
                    String::new(),
                ));
                Outcome::Done
            }
            Waited::Exited(code) => {
                log::warn!("[HotReload] build failed ({})", exit_text(code));
                let output = job.output();
                failed(Kind::Build, command, code, output)
            }
            Waited::TimedOut => {
                job.stop(self.commands.stop_timeout);
                let mut output = job.output();
                output.push_str(&format!(
                    "hotreload stopped the build after {} ms (build_timeout_ms)\n",
                    self.commands.build_timeout.as_millis()
                ));
                log::warn!(
                    "[HotReload] build still running after {} ms: stopped it (raise build_timeout_ms if it needs longer)",
                    self.commands.build_timeout.as_millis()
                );
                failed(Kind::Build, command, None, output)
            }
            Waited::Stopping => {
                job.stop(self.commands.stop_timeout);
                Outcome::Stopping
            }
        }
    }

    /// Records that the app is up (for the status).
    fn app_up(&self, command: &str) -> Outcome {
        let up = report(Kind::Run, command, CommandState::Ok, None, String::new());
        self.hub.record(up);
        Outcome::Done
    }

    /// Stops the app (if it runs), starts it, and waits until it answers.
    fn start_app(&mut self, stop: &Receiver<()>) -> Outcome {
        let Some(command) = self.commands.run.clone() else {
            return Outcome::Done;
        };
        if let Some(mut old) = self.app.take() {
            log::info!("[HotReload] restarting your app");
            old.stop(self.commands.stop_timeout);
        }
        let app = match Job::start(Kind::Run, &command) {
            Ok(job) => self.app.insert(job),
            Err(e) => {
                let output = format!("hotreload could not start `sh -c`: {e}");
                return failed(Kind::Run, &command, None, output);
            }
        };
        let Some(ready) = &self.commands.ready else {
            return self.app_up(&command);
        };
        let started = Instant::now();
        let deadline = started + self.commands.start_timeout;
        loop {
            if answers(ready) {
                log::info!(
                    "[HotReload] your app answers, {} ms after it started",
                    started.elapsed().as_millis()
                );
                return self.app_up(&command);
            }
            // A refused connection costs microseconds: asking often keeps
            // the reload within a few milliseconds of the app answering.
            let next = (Instant::now() + Duration::from_millis(5)).min(deadline);
            match app.wait(Some(next), stop) {
                Waited::TimedOut if Instant::now() < deadline => continue,
                Waited::TimedOut => {
                    let mut output = app.output();
                    output.push_str(&format!(
                        "hotreload waited {} ms (start_timeout_ms) for http://{}{} to answer\n",
                        self.commands.start_timeout.as_millis(),
                        ready.authority,
                        ready.path
                    ));
                    return failed(Kind::Run, &command, None, output);
                }
                Waited::Exited(code) => {
                    log::warn!(
                        "[HotReload] your app exited while starting ({})",
                        exit_text(code)
                    );
                    return Outcome::Failed(self.app_report(CommandState::Failed, code));
                }
                Waited::Stopping => return Outcome::Stopping,
            }
        }
    }

    /// The app's report, with its output.
    fn app_report(&mut self, state: CommandState, code: Option<i32>) -> CommandReport {
        let command = self.commands.run.clone().unwrap_or_default();
        let output = self.app.as_mut().map(Job::output).unwrap_or_default();
        report(Kind::Run, &command, state, code, output)
    }

    /// Tells every page, records it, and keeps it for pages opened later.
    fn fail(&mut self, report: CommandReport) {
        self.broken = Some(report.kind);
        let message = report.message();
        self.hub.record(report);
        // Pinned first: a page that connects in between hears it twice,
        // never not at all.
        // Build and app failures share one place: one overlay.
        self.hub.pin(Kind::Build, Some(message.clone()));
        self.hub.tell(message);
    }

    /// `kind` succeeded: if it was what failed, every page hears that all
    /// is well again (and reloads).
    fn recovered(&mut self, kind: Kind) {
        if self.broken != Some(kind) {
            return;
        }
        self.broken = None;
        let command = match kind {
            Kind::Run => self.commands.run.as_deref(),
            _ => self.commands.build.as_deref(),
        };
        let ok = report(
            kind,
            command.unwrap_or_default(),
            CommandState::Ok,
            Some(0),
            String::new(),
        );
        self.hub.pin(Kind::Build, None);
        self.hub.tell(ok.message());
    }

    fn tell(&self, report: CommandReport) {
        self.hub.tell(report.message());
        self.hub.record(report);
    }
}

/// Adds `more` to `changes`, the later operation winning for a path.
fn merge(changes: &mut Vec<Change>, more: Vec<Change>) {
    for change in more {
        match changes.iter_mut().find(|c| c.path == change.path) {
            Some(known) => known.operation = change.operation,
            None => changes.push(change),
        }
    }
}

/// A step that failed, with what the pages are to show.
fn failed(kind: Kind, command: &str, exit_code: Option<i32>, output: String) -> Outcome {
    Outcome::Failed(report(
        kind,
        command,
        CommandState::Failed,
        exit_code,
        output,
    ))
}

fn report(
    kind: Kind,
    command: &str,
    state: CommandState,
    exit_code: Option<i32>,
    output: String,
) -> CommandReport {
    CommandReport {
        kind,
        command: command.to_string(),
        state,
        exit_code,
        output,
        at: protocol::unix_now(),
    }
}

fn exit_text(code: Option<i32>) -> String {
    match code {
        Some(code) => format!("exit code {code}"),
        None => "killed by a signal".into(),
    }
}

/// Does the app answer at `ready`? Any HTTP answer counts: the app is up.
fn answers(ready: &Ready) -> bool {
    let Ok(addrs) = ready.authority.to_socket_addrs() else {
        return false;
    };
    for addr in addrs {
        let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
            continue;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let asked = write!(
            stream,
            "GET {} HTTP/1.0\r\nHost: {}\r\n\r\n",
            ready.path, ready.authority
        );
        let mut start = [0u8; 5];
        if asked.is_ok() && stream.read_exact(&mut start).is_ok() && &start == b"HTTP/" {
            return true;
        }
    }
    false
}

/// The test command on its own thread: a run after each batch that went
/// out, one more when batches came while it ran.
struct Tests {
    trigger: Sender<()>,
    thread: Stoppable,
}

impl Tests {
    fn start(command: String, hub: Arc<Hub>) -> Option<Tests> {
        // One place: a batch while tests run asks for one more run, however many come.
        let (trigger, triggered) = bounded::<()>(1);
        let thread = Stoppable::spawn("hotreload-tests", move |stopped| {
            while select! {
                recv(triggered) -> t => t.is_ok(),
                recv(stopped) -> _ => false,
            } {
                let running = report(
                    Kind::Test,
                    &command,
                    CommandState::Running,
                    None,
                    String::new(),
                );
                hub.record(running);
                let mut job = match Job::start(Kind::Test, &command) {
                    Ok(job) => job,
                    Err(e) => {
                        log::error!("[HotReload] cannot start the tests: {e}");
                        continue;
                    }
                };
                let code = match job.wait(None, &stopped) {
                    Waited::Exited(code) => code,
                    _ => {
                        job.stop(Duration::from_secs(1));
                        return;
                    }
                };
                let state = if code == Some(0) {
                    CommandState::Ok
                } else {
                    CommandState::Failed
                };
                log::info!(
                    "[HotReload] tests {} ({})",
                    if code == Some(0) { "passed" } else { "failed" },
                    exit_text(code)
                );
                let done = report(Kind::Test, &command, state, code, job.output());
                // A page that reloads for the batch gets the result anyway.
                let pinned = (state == CommandState::Failed).then(|| done.message());
                hub.pin(Kind::Test, pinned);
                hub.tell(done.message());
                hub.record(done);
            }
        });
        match thread {
            Ok(thread) => Some(Tests { trigger, thread }),
            Err(e) => {
                log::error!("[HotReload] {e}");
                None
            }
        }
    }

    fn trigger(&self) {
        match self.trigger.try_send(()) {
            Ok(()) | Err(TrySendError::Full(())) => {}
            Err(TrySendError::Disconnected(())) => {}
        }
    }

    fn close(&mut self, _grace: Duration) {
        let _ = self.thread.close();
    }
}
