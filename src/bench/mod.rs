//! `hotreload bench`: the save-to-browser benchmark. Part of the binary
//! (declared in `main.rs`), not of the library; `cargo bench` runs it
//! through the binary too.
//!
//! It runs the `hotreload` binary as its own process over a temp tree (so
//! its CPU time and memory are the server's alone), holds real WebSocket
//! clients on one thread each, as browsers hold sockets, and measures from
//! the moment a save completes to the moment each client has the message.
//! Every loop has a count and a time limit.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::{Receiver, Sender, unbounded};
use tungstenite::protocol::WebSocketConfig;

use hotreload::Debounce;
use hotreload::protocol::push_json_str;

mod browser;
mod cdp;
mod proxy;

pub use browser::Browser;
pub use proxy::{Measure, ProxyRow};

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    /// The `hotreload` executable to run as the server.
    pub server: PathBuf,
    /// Where to make the temp trees (on the filesystem to measure).
    pub dir: PathBuf,
    /// Client counts for the latency runs.
    pub clients: Vec<usize>,
    /// Saves per client count and save style.
    pub trials: usize,
    /// The server's debounce: `auto` (its default), or a fixed window.
    pub debounce_ms: Debounce,
    /// Clients held open while measuring idle CPU and per-client memory.
    pub idle_clients: usize,
    /// How long the idle CPU measurement lasts.
    pub idle: Duration,
    /// Files and directories of the big tree (0 files skips it).
    pub tree_files: usize,
    /// Directories the big tree's files are spread over.
    pub tree_dirs: usize,
    /// Files changed at once in the event storm (0 skips it).
    pub storm_files: usize,
    /// Requests one after another per body for the proxy's latency (0 skips the proxy rows).
    pub proxy_requests: usize,
    /// How long several connections at once measure the proxy's throughput.
    pub proxy_window: Duration,
    /// Measure save to screen in a headless Chromium too (`--browser`).
    pub browser: bool,
    /// CSS saves, and HTML saves, per debounce setting in the browser rows.
    pub browser_saves: usize,
}

impl Options {
    /// The default run (about a minute on a 2-core machine): 1, 100 and
    /// 1,000 clients, 20 saves each, in-place and rename-over.
    pub fn new(server: impl Into<PathBuf>) -> Options {
        Options {
            server: server.into(),
            dir: std::env::temp_dir(),
            clients: vec![1, 100, 1000],
            trials: 20,
            debounce_ms: Debounce::Auto,
            idle_clients: 100,
            idle: Duration::from_secs(10),
            tree_files: 100_000,
            tree_dirs: 10_000,
            storm_files: 10_000,
            proxy_requests: 500,
            proxy_window: Duration::from_secs(2),
            browser: false,
            browser_saves: 30,
        }
    }

    /// A short run (seconds): 1 and 100 clients, 5 saves each, 2 s idle, a
    /// 10,000-file tree, a 1,000-file storm and 5 saves of each browser row.
    pub fn quick(self) -> Options {
        Options {
            clients: vec![1, 100],
            trials: 5,
            idle: Duration::from_secs(2),
            tree_files: 10_000,
            tree_dirs: 1_000,
            storm_files: 1_000,
            proxy_requests: 100,
            proxy_window: Duration::from_millis(500),
            browser_saves: 5,
            ..self
        }
    }
}

/// How a save is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Save {
    /// Open, truncate, write, close (most editors, `echo >`).
    InPlace,
    /// Write a temporary file, rename it over the real one (vim, JetBrains).
    RenameOver,
}

impl Save {
    fn name(self) -> &'static str {
        match self {
            Save::InPlace => "in-place",
            Save::RenameOver => "rename-over",
        }
    }
}

/// Latency of one client count and save style: the whole time under
/// `auto`, beyond the window with a fixed debounce.
#[derive(Debug, Clone)]
pub struct Latency {
    /// Clients connected.
    pub clients: usize,
    /// How files were saved.
    pub save: Save,
    /// From the save's return to the message, less a fixed debounce
    /// window, in milliseconds: min, p50, p95, p99, max.
    pub overhead_ms: [f64; 5],
    /// First to last client per save, in milliseconds: p50 and max.
    pub spread_ms: [f64; 2],
    /// Client-saves with no message within the time limit.
    pub missed: usize,
    /// Messages a client got twice, or that no save caused.
    pub duplicated: usize,
}

/// Everything one run measured.
#[derive(Debug, Clone)]
pub struct Report {
    /// The machine and settings, in a line.
    pub machine: String,
    /// The debounce used.
    pub debounce_ms: Debounce,
    /// One row per client count and save style.
    pub latency: Vec<Latency>,
    /// Clients held during the idle measurement.
    pub idle_clients: usize,
    /// Server CPU seconds over the idle period.
    pub idle_cpu_secs: f64,
    /// Length of the idle period in seconds.
    pub idle_secs: f64,
    /// Server resident memory with no client, KiB.
    pub rss_idle_kib: u64,
    /// Server resident memory per added client, KiB.
    pub rss_per_client_kib: f64,
    /// Big tree: files, directories, seconds until watching, resident KiB.
    pub tree: Option<(usize, usize, f64, u64)>,
    /// Event storm, if run.
    pub storm: Option<Storm>,
    /// What `hotreload proxy` adds, per body.
    pub proxy: Vec<ProxyRow>,
    /// Save to screen in Chromium, if asked for and there is one.
    pub browser: Browser,
}

/// The event storm's outcome.
#[derive(Debug, Clone)]
pub struct Storm {
    /// Files written at once.
    pub files: usize,
    /// How long writing them took, ms.
    pub write_ms: f64,
    /// Batches the client got.
    pub batches: usize,
    /// Changes those batches counted, in all.
    pub changes: u64,
    /// Bytes of the largest message.
    pub largest_bytes: usize,
    /// From the last write to the last batch, ms.
    pub out_after_ms: f64,
}

/// A temp tree removed on drop.
struct TempTree(PathBuf);

impl TempTree {
    fn new(parent: &Path, name: &str) -> Result<TempTree, Failed> {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = parent.join(format!(
            ".hotreload-bench-{name}-{}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&path).map_err(|source| io_error("create", &path, source))?;
        Ok(TempTree(path))
    }
}

impl Drop for TempTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Why the benchmark could not run: what failed, and what to do about it.
#[derive(Debug)]
pub struct Failed {
    problem: String,
    fix: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "benchmark: {}\n  fix: {}", self.problem, self.fix)
    }
}

fn io_error(action: &str, path: &Path, source: std::io::Error) -> Failed {
    Failed {
        problem: format!("cannot {action} {}: {source}", path.display()),
        fix: "check that the folder given to --dir (default: the system's temp folder) exists, is writable and has room".into(),
    }
}

fn bench_error(problem: impl Into<String>, fix: impl Into<String>) -> Failed {
    Failed {
        problem: problem.into(),
        fix: fix.into(),
    }
}

/// What to try when clients cannot connect or start.
const FEWER_CLIENTS: &str = "measure fewer clients (--clients 1,100), or raise the limits on open files and threads (`ulimit -n`, `ulimit -u`)";

/// The server under test: the real binary, killed on drop.
struct ServerProcess {
    child: Child,
    addr: SocketAddr,
    ready_after: Duration,
}

impl ServerProcess {
    /// `hotreload serve .` in `dir`, on a free port.
    fn start(exe: &Path, dir: &Path, debounce: Debounce) -> Result<ServerProcess, Failed> {
        let debounce = debounce.to_string();
        ServerProcess::run(
            exe,
            dir,
            &["serve", ".", "--port", "0", "-q", "--debounce", &debounce],
        )
    }

    /// `hotreload ARGS` in `dir`, once it prints its ready line.
    fn run(exe: &Path, dir: &Path, args: &[&str]) -> Result<ServerProcess, Failed> {
        let started = Instant::now();
        let mut child = Command::new(exe)
            .args(args)
            .current_dir(dir)
            .env_remove("HOT_RELOAD_ENABLED")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|source| io_error("run the server", exe, source))?;
        let stdout = child.stdout.take().ok_or_else(|| {
            bench_error(
                "the server's output could not be read",
                "run hotreload by hand to see whether it starts",
            )
        })?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|source| io_error("read the ready line of", exe, source))?;
        let ready_after = started.elapsed();
        let addr = line
            .find("http://")
            .and_then(|at| line[at + 7..].split_whitespace().next())
            .and_then(|url| url.trim_end_matches('/').parse().ok())
            .ok_or_else(|| {
                bench_error(
                    format!("the server did not start: {:?}", line.trim()),
                    format!(
                        "run `hotreload {}` in {} to see its error",
                        args.join(" "),
                        dir.display()
                    ),
                )
            })?;
        Ok(ServerProcess {
            child,
            addr,
            ready_after,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process, KiB (`VmRSS` in `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// CPU seconds a process has used, user and system (`/proc/PID/stat`).
pub fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; fields resume after its `)`.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // /proc reports in USER_HZ, which Linux fixes at 100 for user space.
    Some((utime + stime) / 100.0)
}

/// How often the latency runs collect client receipts.
const RECEIPT_POLL: Duration = Duration::from_millis(2);

/// WebSocket handshakes the bench keeps in flight while connecting clients.
const HANDSHAKES_IN_FLIGHT: usize = 64;

/// What a client thread saw: (client, seq, when, message bytes, changes counted).
type Receipt = (usize, u64, Instant, usize, u64);

/// WebSocket clients, one thread each; they end when the server goes away.
struct Clients {
    threads: Vec<JoinHandle<()>>,
    receipts: Receiver<Receipt>,
}

impl Clients {
    fn connect(addr: SocketAddr, count: usize) -> Result<Clients, Failed> {
        let (tx, receipts) = unbounded();
        let mut threads = Vec::with_capacity(count);
        let (ready_tx, ready) = unbounded::<Result<(), String>>();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut waiting = 0;
        for id in 0..count {
            // The listener's accept queue holds 128 (std's backlog). A
            // thousand connects at once overflow it, and one run in a few
            // then failed with "connection reset by peer". Browsers never
            // arrive all in one instant; keep fewer in flight than it holds.
            if waiting == HANDSHAKES_IN_FLIGHT {
                Self::await_ready(&ready, deadline, count)?;
                waiting -= 1;
            }
            waiting += 1;
            let tx: Sender<Receipt> = tx.clone();
            let ready_tx = ready_tx.clone();
            let thread = thread::Builder::new()
                .name(format!("bench-client-{id}"))
                .stack_size(128 * 1024)
                .spawn(move || client_thread(id, addr, &tx, &ready_tx))
                .map_err(|e| {
                    bench_error(
                        format!("cannot start client thread {id}: {e}"),
                        FEWER_CLIENTS,
                    )
                })?;
            threads.push(thread);
        }
        for _ in 0..waiting {
            Self::await_ready(&ready, deadline, count)?;
        }
        Ok(Clients { threads, receipts })
    }

    /// Waits for one client to say it connected, or why it could not.
    fn await_ready(
        ready: &Receiver<Result<(), String>>,
        deadline: Instant,
        count: usize,
    ) -> Result<(), Failed> {
        match ready.recv_deadline(deadline) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(bench_error(
                format!("a client could not connect: {e}"),
                FEWER_CLIENTS,
            )),
            Err(_) => Err(bench_error(
                format!("{count} clients did not connect within 30 s"),
                FEWER_CLIENTS,
            )),
        }
    }

    fn join(self) {
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

fn client_thread(
    id: usize,
    addr: SocketAddr,
    receipts: &Sender<Receipt>,
    ready: &Sender<Result<(), String>>,
) {
    let connected = TcpStream::connect(addr)
        .map_err(|e| e.to_string())
        .and_then(|stream| {
            let _ = stream.set_nodelay(true);
            // tungstenite zero-fills its whole read buffer on every read,
            // 128 KiB by default: the clients' top cost in a profile. A
            // browser does nothing like it, so it is not ours to measure.
            let config = WebSocketConfig::default().read_buffer_size(4096);
            let url = format!("ws://{addr}/ws/hotreload");
            tungstenite::client::client_with_config(url, stream, Some(config))
                .map_err(|e| e.to_string())
        });
    let mut ws = match connected {
        Ok((ws, _)) => ws,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let mut said_ready = false;
    // Ends when the server closes the socket or goes away.
    while let Ok(message) = ws.read() {
        let now = Instant::now();
        let tungstenite::Message::Text(text) = message else {
            continue;
        };
        if text.contains("\"type\":\"connected\"") {
            if !said_ready {
                said_ready = true;
                let _ = ready.send(Ok(()));
            }
            continue;
        }
        if let Some(seq) = field_u64(&text, "seq") {
            let count = field_u64(&text, "count").unwrap_or(0);
            let _ = receipts.send((id, seq, now, text.len(), count));
        }
    }
}

/// A top-level number in a message we wrote, without a JSON parser.
fn field_u64(json: &str, key: &str) -> Option<u64> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = json[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Runs every measurement; `progress` hears what is being done.
pub fn run(options: &Options, mut progress: impl FnMut(&str)) -> Result<Report, Failed> {
    let mut report = Report {
        machine: machine(&options.dir),
        debounce_ms: options.debounce_ms,
        latency: Vec::new(),
        idle_clients: options.idle_clients,
        idle_cpu_secs: f64::NAN,
        idle_secs: options.idle.as_secs_f64(),
        rss_idle_kib: 0,
        rss_per_client_kib: f64::NAN,
        tree: None,
        storm: None,
        proxy: Vec::new(),
        browser: Browser::NotAsked,
    };
    // The server would refuse clients past its open-file limit; say so now
    // rather than after a minute of measuring.
    let most = options
        .clients
        .iter()
        .copied()
        .chain([options.idle_clients]);
    if let (Some(most), Some(limit)) = (most.max(), hotreload::http::open_file_limit()) {
        let need = hotreload::Manager::files_needed(most);
        if limit < need {
            return Err(bench_error(
                format!(
                    "{most} clients need about {need} open files in the server, but this shell allows {limit}"
                ),
                format!(
                    "raise the limit first (`ulimit -n {need}`), or measure fewer clients (--clients 1,100)"
                ),
            ));
        }
    }
    let site = TempTree::new(&options.dir, "site")?;
    write_file(
        &site.0.join("index.html"),
        "<html><body>bench</body></html>",
    )?;
    write_file(&site.0.join("css/app.css"), "body { color: black }")?;

    for &count in &options.clients {
        progress(&format!("latency: {count} client(s)"));
        let server = ServerProcess::start(&options.server, &site.0, options.debounce_ms)?;
        let clients = Clients::connect(server.addr, count)?;
        let mut seq = 0;
        for save in [Save::InPlace, Save::RenameOver] {
            report.latency.push(measure_latency(
                options, &site.0, &clients, count, save, &mut seq,
            )?);
        }
        drop(server);
        clients.join();
    }

    if options.browser {
        report.browser = browser::measure(
            &options.server,
            &options.dir,
            options.debounce_ms.quiet_ms(),
            options.browser_saves,
            &mut progress,
        )?;
    }

    progress(&format!(
        "idle: {} clients for {:?}",
        options.idle_clients, options.idle
    ));
    {
        let server = ServerProcess::start(&options.server, &site.0, options.debounce_ms)?;
        settle();
        report.rss_idle_kib = rss_kib(server.pid()).unwrap_or(0);
        let clients = Clients::connect(server.addr, options.idle_clients)?;
        settle();
        let with_clients = rss_kib(server.pid()).unwrap_or(0);
        report.rss_per_client_kib =
            (with_clients as f64 - report.rss_idle_kib as f64) / options.idle_clients.max(1) as f64;
        let before = cpu_secs(server.pid()).unwrap_or(f64::NAN);
        thread::sleep(options.idle);
        report.idle_cpu_secs = cpu_secs(server.pid()).unwrap_or(f64::NAN) - before;
        drop(server);
        clients.join();
    }

    if options.storm_files > 0 {
        progress(&format!("storm: {} files at once", options.storm_files));
        report.storm = Some(measure_storm(options)?);
    }

    if options.tree_files > 0 {
        progress(&format!(
            "tree: {} files in {} directories",
            options.tree_files, options.tree_dirs
        ));
        let tree = TempTree::new(&options.dir, "tree")?;
        let dirs = options.tree_dirs.max(1);
        for d in 0..dirs {
            let dir = tree.0.join(format!("d{:03}/d{d:05}", d % 100));
            std::fs::create_dir_all(&dir).map_err(|source| io_error("create", &dir, source))?;
        }
        for f in 0..options.tree_files {
            let d = f % dirs;
            let path = tree.0.join(format!("d{:03}/d{d:05}/f{f:06}.css", d % 100));
            std::fs::write(&path, "a{}").map_err(|source| io_error("write", &path, source))?;
        }
        let server = ServerProcess::start(&options.server, &tree.0, options.debounce_ms)?;
        settle();
        let rss = rss_kib(server.pid()).unwrap_or(0);
        report.tree = Some((
            options.tree_files,
            dirs,
            server.ready_after.as_secs_f64(),
            rss,
        ));
    }

    if options.proxy_requests > 0 {
        progress("proxy: a 10 KiB page and a 1 MiB file, directly and through the proxy");
        report.proxy = proxy::measure(
            &options.server,
            &site.0,
            options.proxy_requests,
            options.proxy_window,
        )?;
    }
    Ok(report)
}

/// Lets a process finish starting threads and touching memory.
fn settle() {
    thread::sleep(Duration::from_millis(500));
}

fn write_file(path: &Path, content: &str) -> Result<(), Failed> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| io_error("create", parent, source))?;
    }
    std::fs::write(path, content).map_err(|source| io_error("write", path, source))
}

fn save_file(save: Save, path: &Path, content: &str) -> Result<(), Failed> {
    match save {
        Save::InPlace => {
            std::fs::write(path, content).map_err(|source| io_error("write", path, source))
        }
        Save::RenameOver => {
            // `*.tmp` is a default ignore: editors' temporaries never show.
            let tmp = path.with_extension("css.tmp");
            std::fs::write(&tmp, content).map_err(|source| io_error("write", &tmp, source))?;
            std::fs::rename(&tmp, path).map_err(|source| io_error("rename over", path, source))
        }
    }
}

fn measure_latency(
    options: &Options,
    site: &Path,
    clients: &Clients,
    count: usize,
    save: Save,
    seq: &mut u64,
) -> Result<Latency, Failed> {
    let quiet = Duration::from_millis(options.debounce_ms.quiet_ms());
    // What a fixed window adds by design; `auto` adds nothing by design.
    let debounce = match options.debounce_ms {
        Debounce::Auto => Duration::ZERO,
        Debounce::Ms(_) => quiet,
    };
    let file = site.join("css/app.css");
    let mut overheads = Vec::with_capacity(count * options.trials);
    let mut spreads = Vec::with_capacity(options.trials);
    let (mut missed, mut duplicated) = (0, 0);
    for trial in 0..options.trials {
        // Saved the way a person saves, after seeing the last one: a save
        // within the quiet time of the last batch is a burst to `auto`.
        thread::sleep(quiet + Duration::from_millis(20));
        save_file(save, &file, &format!("body {{ margin: {trial}px }}"))?;
        let written = Instant::now();
        *seq += 1;
        let mut seen = vec![false; count];
        let (mut got, mut first, mut last) = (0, None::<Instant>, None::<Instant>);
        // A batch is due a quiet time after the save at most; allow far more.
        let deadline = written + quiet + Duration::from_secs(5);
        // Clients stamp their own receipts; this thread only collects them,
        // every few milliseconds. Waiting on each one instead woke it a
        // thousand times per save, taking the CPU from the server measured.
        while got < count && Instant::now() < deadline {
            thread::sleep(RECEIPT_POLL);
            for (client, message_seq, at, _, _) in clients.receipts.try_iter() {
                if message_seq != *seq || seen[client] {
                    duplicated += 1;
                    continue;
                }
                seen[client] = true;
                got += 1;
                overheads.push(ms(at.saturating_duration_since(written)) - ms(debounce));
                first = Some(first.map_or(at, |f: Instant| f.min(at)));
                last = Some(last.map_or(at, |l: Instant| l.max(at)));
            }
        }
        missed += count - got;
        if let (Some(first), Some(last)) = (first, last) {
            spreads.push(ms(last - first));
        }
    }
    // Anything still arriving after the last save is a duplicate.
    let quiet_until = Instant::now() + quiet + Duration::from_millis(300);
    while clients.receipts.recv_deadline(quiet_until).is_ok() {
        duplicated += 1;
    }
    overheads.sort_by(f64::total_cmp);
    spreads.sort_by(f64::total_cmp);
    Ok(Latency {
        clients: count,
        save,
        overhead_ms: [
            overheads.first().copied().unwrap_or(f64::NAN),
            percentile(&overheads, 50.0),
            percentile(&overheads, 95.0),
            percentile(&overheads, 99.0),
            overheads.last().copied().unwrap_or(f64::NAN),
        ],
        spread_ms: [
            percentile(&spreads, 50.0),
            spreads.last().copied().unwrap_or(f64::NAN),
        ],
        missed,
        duplicated,
    })
}

fn measure_storm(options: &Options) -> Result<Storm, Failed> {
    let tree = TempTree::new(&options.dir, "storm")?;
    for f in 0..options.storm_files {
        write_file(&tree.0.join(format!("s{:02}/f{f:05}.css", f % 100)), "a{}")?;
    }
    let server = ServerProcess::start(&options.server, &tree.0, options.debounce_ms)?;
    let clients = Clients::connect(server.addr, 1)?;
    let started = Instant::now();
    for f in 0..options.storm_files {
        let path = tree.0.join(format!("s{:02}/f{f:05}.css", f % 100));
        std::fs::write(&path, "b{}").map_err(|source| io_error("write", &path, source))?;
    }
    let ended = Instant::now();
    let (mut batches, mut changes, mut largest, mut last) = (0, 0, 0, ended);
    // Quiet for longer than the longest a batch can wait means the storm is out.
    let quiet = Duration::from_millis(options.debounce_ms.quiet_ms()) + Duration::from_millis(1500);
    let give_up = ended + Duration::from_secs(30);
    loop {
        let wait = (Instant::now() + quiet).min(give_up);
        let Ok((_, _, at, bytes, count)) = clients.receipts.recv_deadline(wait) else {
            break;
        };
        batches += 1;
        largest = largest.max(bytes);
        last = at;
        changes += count;
    }
    drop(server);
    clients.join();
    Ok(Storm {
        files: options.storm_files,
        write_ms: ms(ended - started),
        batches,
        changes,
        largest_bytes: largest,
        out_after_ms: ms(last.saturating_duration_since(ended)),
    })
}

/// One line about the machine: CPUs, model, kernel, filesystem.
fn machine(dir: &Path) -> String {
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_string())
        .unwrap_or_default();
    let mut fs = String::new();
    if let Ok(mut mounts) = std::fs::File::open("/proc/mounts") {
        let mut text = String::new();
        let _ = mounts.read_to_string(&mut text);
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let best = text
            .lines()
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                let (_, point, kind) = (f.next()?, f.next()?, f.next()?);
                dir.starts_with(point)
                    .then(|| (point.len(), kind.to_string()))
            })
            .max();
        if let Some((_, kind)) = best {
            fs = kind;
        }
    }
    format!("{cpus} CPUs ({model}), Linux {kernel}, {fs} filesystem")
}

impl Report {
    /// The report as a table for people.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "hotreload bench: {}; debounce {}",
            self.machine,
            match self.debounce_ms {
                Debounce::Auto => "auto".to_string(),
                Debounce::Ms(ms) => format!("{ms} ms"),
            }
        );
        let _ = writeln!(
            out,
            "\nlatency from save to client{} (ms)",
            match self.debounce_ms {
                Debounce::Auto => "",
                Debounce::Ms(_) => ", beyond the debounce window",
            }
        );
        let _ = writeln!(
            out,
            "{:>7}  {:<11} {:>7} {:>7} {:>7} {:>7} {:>7}   {:>9} {:>9} {:>6} {:>5}",
            "clients",
            "save",
            "min",
            "p50",
            "p95",
            "p99",
            "max",
            "spread50",
            "spreadmax",
            "missed",
            "dups"
        );
        for l in &self.latency {
            let o = l.overhead_ms;
            let _ = writeln!(
                out,
                "{:>7}  {:<11} {:>7.2} {:>7.2} {:>7.2} {:>7.2} {:>7.2}   {:>9.2} {:>9.2} {:>6} {:>5}",
                l.clients,
                l.save.name(),
                o[0],
                o[1],
                o[2],
                o[3],
                o[4],
                l.spread_ms[0],
                l.spread_ms[1],
                l.missed,
                l.duplicated
            );
        }
        match &self.browser {
            Browser::NotAsked => {}
            Browser::Skipped(why) => {
                let _ = writeln!(out, "\nsave to screen in Chromium: skipped: {why}");
            }
            Browser::Measured(b) => {
                let _ = writeln!(
                    out,
                    "\nsave to screen in {} (ms from the write's return: css to the new style computed, html to the new page's DOMContentLoaded)",
                    b.chromium
                );
                let _ = writeln!(
                    out,
                    "page clock minus bench clock {:+.2} ms (+-{:.2})",
                    b.clock_offset_ms, b.clock_error_ms
                );
                let _ = writeln!(
                    out,
                    "{:<5} {:<9} {:>5} {:>7} {:>7} {:>7} {:>7}",
                    "edit", "debounce", "saves", "min", "p50", "p95", "max"
                );
                for r in &b.rows {
                    let debounce = r
                        .debounce_ms
                        .map_or("default".into(), |d| format!("{d} ms"));
                    let _ = writeln!(
                        out,
                        "{:<5} {:<9} {:>5} {:>7.2} {:>7.2} {:>7.2} {:>7.2}",
                        r.edit.name(),
                        debounce,
                        r.saves,
                        r.ms[0],
                        r.ms[1],
                        r.ms[2],
                        r.ms[3]
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "\nidle with {} clients: {:.3} CPU seconds in {:.0} s",
            self.idle_clients, self.idle_cpu_secs, self.idle_secs
        );
        let _ = writeln!(
            out,
            "memory: {:.1} MiB idle, {:.1} KiB per added client",
            self.rss_idle_kib as f64 / 1024.0,
            self.rss_per_client_kib
        );
        if let Some((files, dirs, secs, rss)) = self.tree {
            let _ = writeln!(
                out,
                "big tree: {files} files in {dirs} directories watched in {secs:.2} s, {:.1} MiB",
                rss as f64 / 1024.0
            );
        }
        if !self.proxy.is_empty() {
            let _ = writeln!(
                out,
                "\nproxy: one request after another (ms), and {} connections at once (requests/s)",
                proxy::CONNECTIONS
            );
            let _ = writeln!(
                out,
                "{:<12} {:>8} {:>8} {:>10}   {:>8} {:>8} {:>10}   {:>9} {:>6}",
                "body",
                "direct50",
                "direct99",
                "direct/s",
                "proxy50",
                "proxy99",
                "proxy/s",
                "added50",
                "share"
            );
            for r in &self.proxy {
                let _ = writeln!(
                    out,
                    "{:<12} {:>8.3} {:>8.3} {:>10.0}   {:>8.3} {:>8.3} {:>10.0}   {:>9.3} {:>5.0}%",
                    r.what,
                    r.direct.p50_ms,
                    r.direct.p99_ms,
                    r.direct.per_second,
                    r.proxied.p50_ms,
                    r.proxied.p99_ms,
                    r.proxied.per_second,
                    r.proxied.p50_ms - r.direct.p50_ms,
                    100.0 * r.proxied.per_second / r.direct.per_second.max(f64::MIN_POSITIVE)
                );
            }
        }
        if let Some(s) = &self.storm {
            let _ = writeln!(
                out,
                "event storm: {} files written in {:.0} ms -> {} batch{} counting {} changes, largest message {:.1} KiB, last one {:.0} ms after the last write",
                s.files,
                s.write_ms,
                s.batches,
                if s.batches == 1 { "" } else { "es" },
                s.changes,
                s.largest_bytes as f64 / 1024.0,
                s.out_after_ms
            );
        }
        out
    }

    /// The report as JSON, for machines.
    pub fn json(&self) -> String {
        let num = |x: f64| {
            if x.is_finite() {
                format!("{x:.3}")
            } else {
                "null".into()
            }
        };
        let mut out = String::from("{\"machine\":");
        push_json_str(&mut out, &self.machine);
        let debounce = match self.debounce_ms {
            Debounce::Auto => "\"auto\"".to_string(),
            Debounce::Ms(ms) => ms.to_string(),
        };
        let _ = write!(out, ",\"debounce_ms\":{debounce},\"latency\":[");
        for (i, l) in self.latency.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let o = l.overhead_ms;
            let _ = write!(
                out,
                "{{\"clients\":{},\"save\":\"{}\",\"overhead_ms\":{{\"min\":{},\"p50\":{},\"p95\":{},\"p99\":{},\"max\":{}}},\"spread_ms\":{{\"p50\":{},\"max\":{}}},\"missed\":{},\"duplicated\":{}}}",
                l.clients,
                l.save.name(),
                num(o[0]),
                num(o[1]),
                num(o[2]),
                num(o[3]),
                num(o[4]),
                num(l.spread_ms[0]),
                num(l.spread_ms[1]),
                l.missed,
                l.duplicated
            );
        }
        let _ = write!(
            out,
            "],\"idle\":{{\"clients\":{},\"secs\":{},\"cpu_secs\":{}}},\"memory\":{{\"idle_kib\":{},\"per_client_kib\":{}}}",
            self.idle_clients,
            num(self.idle_secs),
            num(self.idle_cpu_secs),
            self.rss_idle_kib,
            num(self.rss_per_client_kib)
        );
        match self.tree {
            Some((files, dirs, secs, rss)) => {
                let _ = write!(
                    out,
                    ",\"tree\":{{\"files\":{files},\"dirs\":{dirs},\"ready_secs\":{},\"rss_kib\":{rss}}}",
                    num(secs)
                );
            }
            None => out.push_str(",\"tree\":null"),
        }
        match &self.storm {
            Some(s) => {
                let _ = write!(
                    out,
                    ",\"storm\":{{\"files\":{},\"write_ms\":{},\"batches\":{},\"changes\":{},\"largest_bytes\":{},\"out_after_ms\":{}}}",
                    s.files,
                    num(s.write_ms),
                    s.batches,
                    s.changes,
                    s.largest_bytes,
                    num(s.out_after_ms)
                );
            }
            None => out.push_str(",\"storm\":null"),
        }
        match &self.browser {
            Browser::NotAsked => out.push_str(",\"browser\":null"),
            Browser::Skipped(why) => {
                out.push_str(",\"browser\":{\"skipped\":");
                push_json_str(&mut out, why);
                out.push('}');
            }
            Browser::Measured(b) => {
                out.push_str(",\"browser\":{\"chromium\":");
                push_json_str(&mut out, &b.chromium);
                let _ = write!(
                    out,
                    ",\"clock_offset_ms\":{},\"clock_error_ms\":{},\"rows\":[",
                    num(b.clock_offset_ms),
                    num(b.clock_error_ms)
                );
                for (i, r) in b.rows.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let debounce = r.debounce_ms.map_or("null".into(), |d| d.to_string());
                    let _ = write!(
                        out,
                        "{{\"edit\":\"{}\",\"debounce_ms\":{debounce},\"saves\":{},\"ms\":{{\"min\":{},\"p50\":{},\"p95\":{},\"max\":{}}}}}",
                        r.edit.name(),
                        r.saves,
                        num(r.ms[0]),
                        num(r.ms[1]),
                        num(r.ms[2]),
                        num(r.ms[3])
                    );
                }
                out.push_str("]}");
            }
        }
        out.push_str(",\"proxy\":[");
        for (i, r) in self.proxy.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let m = |m: &Measure| {
                format!(
                    "{{\"p50_ms\":{},\"p99_ms\":{},\"per_second\":{}}}",
                    num(m.p50_ms),
                    num(m.p99_ms),
                    num(m.per_second)
                )
            };
            out.push_str("{\"body\":");
            push_json_str(&mut out, r.what);
            let _ = write!(
                out,
                ",\"direct\":{},\"proxied\":{}}}",
                m(&r.direct),
                m(&r.proxied)
            );
        }
        out.push_str("]}");
        out
    }

    /// Every batch arrived exactly once.
    pub fn lost_nothing(&self) -> bool {
        self.latency
            .iter()
            .all(|l| l.missed == 0 && l.duplicated == 0)
    }
}

/// Writes `report` as a table, or as JSON, to `out`.
pub fn print(report: &Report, json: bool, mut out: impl Write) -> std::io::Result<()> {
    if json {
        writeln!(out, "{}", report.json())
    } else {
        write!(out, "{}", report.table())
    }
}
