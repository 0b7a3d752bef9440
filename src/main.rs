//! The `hotreload` command: serve a folder with live reload, ask a running
//! server for its status, or write a starter `config.yaml`.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

mod bench;

use hotreload::proxy::Backend;
use hotreload::serve::{self, DevServer, Options};
use hotreload::{Config, Error, WatchDir};

const HELP: &str = "\
hotreload: reload every open browser when your files change

Usage:
  hotreload [serve] [DIR] [options]   serve DIR (default .) with live reload
  hotreload proxy URL [options]       put live reload in front of the app at
                                      URL (http://host[:port][/base]); watches .
  hotreload watch [DIR] [options]     only the reload script and its socket,
                                      for an app that adds the script tag
                                      itself; watches DIR (default .)
  hotreload status [--url URL] [--json]
                                      ask a running server how it is doing
  hotreload init [--force] [--config FILE]
                                      write a commented config.yaml
  hotreload bench [--clients N,N,...] [--trials N] [--debounce MS|auto]
                  [--dir DIR] [--browser] [--quick] [--json]
                                      measure save-to-browser latency, idle
                                      CPU and memory on this machine;
                                      --browser adds save to screen in a
                                      headless Chromium
  hotreload --help | --version

Examples:
  hotreload serve site                     a static folder
  python3 -m flask run --port 5000 &       any backend, started by you...
  hotreload proxy http://localhost:5000 --watch templates --watch static
                                           ...and open http://127.0.0.1:8080/
  hotreload watch static --port 8081       then paste the printed <script> tag
                                           into your app's layout
  hotreload proxy http://localhost:8090 --run 'go run .' --restart-on '*.go'
                                           start the app, restart it on
                                           Go edits, reload once it answers

Options of serve, proxy and watch:
  --config FILE     read the hot_reload section of FILE (default: ./config.yaml
                    when it has one)
  --host ADDR       address to listen on (default 127.0.0.1; anything else
                    lets other machines read your files). 0.0.0.0 (or ::)
                    for a phone on your Wi-Fi: the ready line lists this
                    machine's network URLs to open there. IP addresses pass
                    the Host check; a name like mybox.local needs
                    --allow-host mybox.local
  --port N          port to listen on (default 8080; 0 picks a free one)
  --livereload-port N
                    also serve LiveReload clients (the browser extensions,
                    livereload.js snippets) on port N, usually 35729
  --watch DIR       watch DIR instead of the served folder, or of . for proxy
                    (repeatable)
  --pattern GLOB    report only files matching GLOB, e.g. '*.css' (repeatable)
  --ignore GLOB     never report GLOB, e.g. 'dist' (repeatable)
  --no-gitignore    report what .gitignore files ignore too (for a watch dir
                    that is itself ignored, like a build's output folder)
  --debounce MS|auto
                    how a batch of changes ends: `auto` (the default) sends a
                    save at once when its file is complete and waits 100 ms
                    of quiet in a burst (a checkout, a build); MS waits that
                    many milliseconds of quiet after every change
  --poll [MS]       poll every watch dir for changes each MS milliseconds
                    (default 500) instead of waiting for system events.
                    Without it, folders on NFS, SMB, WSL's /mnt/c, 9p,
                    virtiofs and FUSE (Docker Desktop) mounts are polled
                    anyway (`poll: false` in the config turns that off).
                    Write --poll=MS, or --poll MS with MS all digits, so
                    that `--poll site` still serves the folder site
  --allow-host NAME also answer requests for this host name (repeatable;
                    loopback names and IP addresses always pass; a leading
                    . allows subdomains; `all` turns the check off)
  --build CMD       run CMD (sh -c) after each change, before browsers hear of
                    it; a failure shows over every page until the next success
  --run CMD         your app: started now, restarted on --restart-on changes,
                    pages reload once it answers; stopped when hotreload stops
  --restart-on GLOB changes that restart --run, e.g. '*.go' (repeatable)
  --ready-url URL   where the app answers once it is up (default: the proxy's
                    backend)
  --test CMD        run CMD after each change that went out; its result shows
                    in the page (commands run in this folder, through sh -c)
  --sync            mirror scrolling, clicks, typing and navigation between
                    tabs on the same page, phones included (switch it at
                    /hotreload/, the dashboard)
  --no-inject       do not add the reload script to HTML pages (serve, proxy)
  -q, --quiet       print warnings and errors only
  -v, --verbose     print every client and event decision

Bench options:
  --clients LIST    client counts, e.g. 1,100,1000 (the default)
  --trials N        saves per client count and save style (default 20)
  --debounce MS|auto
                    the server's debounce (default auto; the browser rows
                    run at 100 and at the default)
  --dir DIR         where to make the temp trees (default: the system's temp
                    folder); use a folder on the disk you work on
  --quick           a short run (seconds): fewer clients, trials and files
  --json            print JSON instead of a table

Environment:
  HOT_RELOAD_ENABLED=false   serve files only: no watching, no reload script

Exit status: 0 fine, 1 runtime failure (port taken, server not answering),
2 bad usage or config.
";

/// A command-line problem: printed with a pointer to --help, exit status 2.
struct Usage(String);

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let first = args.first().and_then(|a| a.to_str());
    let (command, rest) = match first {
        Some(c @ ("serve" | "proxy" | "watch" | "status" | "init" | "bench" | "help")) => {
            (c, &args[1..])
        }
        _ => ("serve", &args[..]),
    };
    let asks = |flags: &[&str]| rest.iter().any(|a| flags.iter().any(|f| a == *f));
    if command == "help" || asks(&["-h", "--help"]) {
        print!("{HELP}");
        return ExitCode::SUCCESS;
    }
    if asks(&["-V", "--version"]) {
        println!("hotreload {}", env!("CARGO_PKG_VERSION"));
        return ExitCode::SUCCESS;
    }
    let parser = lexopt::Parser::from_args(rest.iter().cloned());
    let result = match command {
        "status" => status(parser),
        "init" => init(parser),
        "bench" => bench(parser),
        "proxy" => run(parser, Mode::Proxy),
        "watch" => run(parser, Mode::Watch),
        _ => run(parser, Mode::Serve),
    };
    match result {
        Ok(code) => code,
        Err(Failure::Usage(u)) => usage(u),
        Err(Failure::Run(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(if e.is_config() { 2 } else { 1 })
        }
        Err(Failure::Bench(e)) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

enum Failure {
    Usage(Usage),
    Run(Error),
    Bench(bench::Failed),
}

impl From<Usage> for Failure {
    fn from(u: Usage) -> Failure {
        Failure::Usage(u)
    }
}

impl From<bench::Failed> for Failure {
    fn from(e: bench::Failed) -> Failure {
        Failure::Bench(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        Failure::Run(e)
    }
}

fn usage(Usage(message): Usage) -> ExitCode {
    eprintln!("error: {message}\n  run `hotreload --help` for usage");
    ExitCode::from(2)
}

impl From<lexopt::Error> for Failure {
    fn from(e: lexopt::Error) -> Failure {
        Failure::Usage(Usage(e.to_string()))
    }
}

/// The value of the option just read, as text: present, not empty, not
/// another option, and UTF-8.
fn text(args: &mut lexopt::Parser, flag: &str) -> Result<String, Usage> {
    let value = args
        .value()
        .map_err(|_| Usage(format!("{flag} needs a value")))?;
    match value.into_string() {
        Ok(v) if v.is_empty() => Err(Usage(format!("{flag} got an empty value"))),
        // `--watch --pattern x` forgot the folder; never watch `--pattern`.
        Ok(v) if v.starts_with("--") => Err(Usage(format!("{flag} needs a value"))),
        Ok(v) => Ok(v),
        Err(v) => Err(Usage(format!("{flag} {v:?} is not valid UTF-8"))),
    }
}

/// The value of the option just read, as a number.
fn number<T: std::str::FromStr>(
    args: &mut lexopt::Parser,
    flag: &str,
    what: &str,
) -> Result<T, Usage> {
    let v = text(args, flag)?;
    v.parse()
        .map_err(|_| Usage(format!("{flag} takes {what}, not {v:?}")))
}

/// The value of `--debounce`: `auto` or milliseconds.
fn debounce(args: &mut lexopt::Parser) -> Result<hotreload::Debounce, Usage> {
    match text(args, "--debounce")?.as_str() {
        "auto" => Ok(hotreload::Debounce::Auto),
        v => v.parse().map(hotreload::Debounce::Ms).map_err(|_| {
            Usage(format!(
                "--debounce takes `auto` or milliseconds, like --debounce 100, not {v:?}"
            ))
        }),
    }
}

/// The optional value of `--poll`: `--poll=MS`, or `--poll MS` when the
/// next argument is all digits (so `--poll site` leaves the folder `site`
/// alone), else the default interval.
fn poll_interval(args: &mut lexopt::Parser) -> Result<u64, Usage> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let v = match args.optional_value() {
        Some(v) => Some(v.to_string_lossy().into_owned()),
        None => (args.try_raw_args())
            .and_then(|mut raw| raw.next_if(|a| a.to_str().is_some_and(digits)))
            .map(|v| v.to_string_lossy().into_owned()),
    };
    match v {
        None => Ok(hotreload::Poll::DEFAULT_MS),
        Some(v) if digits(&v) => v.parse().map_err(|_| {
            Usage(format!(
                "--poll takes milliseconds, like --poll=500, not {v:?}"
            ))
        }),
        Some(v) => Err(Usage(format!(
            "--poll takes milliseconds, like --poll=500, not {v:?}"
        ))),
    }
}

/// Which server a serving command runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `serve [DIR]`: static files with the script.
    Serve,
    /// `proxy URL`: a backend with the script.
    Proxy,
    /// `watch [DIR]`: the hot-reload routes only.
    Watch,
}

/// What `serve`, `proxy` and `watch` read from the command line.
#[derive(Default)]
struct Flags {
    /// DIR for serve and watch, URL for proxy.
    positional: Option<String>,
    config_file: Option<PathBuf>,
    host: Option<String>,
    port: Option<u16>,
    livereload_port: Option<u16>,
    watch: Vec<String>,
    patterns: Vec<String>,
    ignore: Vec<String>,
    allow_hosts: Vec<String>,
    debounce: Option<hotreload::Debounce>,
    /// `--poll [MS]`: the interval to poll every watch dir at.
    poll: Option<u64>,
    build: Option<String>,
    run: Option<String>,
    restart_on: Vec<String>,
    ready_url: Option<String>,
    test: Option<String>,
    no_inject: bool,
    no_gitignore: bool,
    sync: bool,
    quiet: bool,
    verbose: bool,
}

fn flags(mut args: lexopt::Parser, mode: Mode) -> Result<Flags, Failure> {
    use lexopt::Arg::{Long, Short, Value};
    let what = match mode {
        Mode::Proxy => "backend URL",
        Mode::Serve | Mode::Watch => "folder",
    };
    let mut f = Flags::default();
    while let Some(arg) = args.next()? {
        match arg {
            Long("config") => f.config_file = Some(text(&mut args, "--config")?.into()),
            Long("host") => f.host = Some(text(&mut args, "--host")?),
            Long("port") => {
                f.port = Some(number(
                    &mut args,
                    "--port",
                    "a port number from 0 to 65535",
                )?)
            }
            Long("livereload-port") => {
                f.livereload_port = Some(number(
                    &mut args,
                    "--livereload-port",
                    "a port number from 0 to 65535, like 35729",
                )?)
            }
            Long("watch") => f.watch.push(text(&mut args, "--watch")?),
            Long("pattern") => f.patterns.push(text(&mut args, "--pattern")?),
            Long("ignore") => f.ignore.push(text(&mut args, "--ignore")?),
            Long("allow-host") => f.allow_hosts.push(text(&mut args, "--allow-host")?),
            Long("debounce") => f.debounce = Some(debounce(&mut args)?),
            Long("poll") => f.poll = Some(poll_interval(&mut args)?),
            Long("build") => f.build = Some(text(&mut args, "--build")?),
            Long("run") => f.run = Some(text(&mut args, "--run")?),
            Long("restart-on") => f.restart_on.push(text(&mut args, "--restart-on")?),
            Long("ready-url") => f.ready_url = Some(text(&mut args, "--ready-url")?),
            Long("test") => f.test = Some(text(&mut args, "--test")?),
            Long("no-inject") => f.no_inject = true,
            Long("no-gitignore") => f.no_gitignore = true,
            Long("sync") => f.sync = true,
            Short('q') | Long("quiet") => f.quiet = true,
            Short('v') | Long("verbose") => f.verbose = true,
            Value(v) => {
                let v = v
                    .into_string()
                    .map_err(|v| Usage(format!("the {what} {v:?} is not valid UTF-8")))?;
                if v.is_empty() {
                    let hint = match mode {
                        Mode::Proxy => "give the backend's address, like http://localhost:3000",
                        Mode::Serve | Mode::Watch => "use . for this folder",
                    };
                    return Err(Usage(format!("the {what} is an empty name; {hint}")).into());
                }
                if let Some(first) = &f.positional {
                    return Err(Usage(format!(
                        "only one {what} can be given; got {first} and {v}"
                    ))
                    .into());
                }
                f.positional = Some(v);
            }
            other => return Err(other.unexpected().into()),
        }
    }
    Ok(f)
}

/// `serve`, `proxy` and `watch`: reads the flags and the config, starts the
/// server, prints the ready line, and runs until Ctrl-C or SIGTERM.
fn run(args: lexopt::Parser, mut mode: Mode) -> Result<ExitCode, Failure> {
    let f = flags(args, mode)?;
    Logger::install(if f.verbose {
        log::LevelFilter::Debug
    } else if f.quiet {
        log::LevelFilter::Warn
    } else {
        log::LevelFilter::Info
    });
    let mut config = match &f.config_file {
        Some(file) => load_config(file)?,
        None if has_hot_reload_section(Path::new("config.yaml")) => {
            log::info!("[HotReload] using ./config.yaml");
            load_config(Path::new("config.yaml"))?
        }
        None => Config::default(),
    };
    let cwd = Path::new(".");
    // The file's values are checked already; a value that fails from here
    // on came from a flag, which the message must name instead of the file.
    let mut flagged = Vec::new();
    if !f.watch.is_empty() {
        config.watch_dirs = f.watch.iter().map(|w| WatchDir::new(w, cwd)).collect();
        flagged.push(("watch_dirs", "--watch"));
    }
    if !f.patterns.is_empty() {
        config.patterns = f.patterns;
        flagged.push(("patterns", "--pattern"));
    }
    if !f.ignore.is_empty() {
        config.ignore.extend(f.ignore);
        flagged.push(("ignore", "--ignore"));
    }
    if !f.allow_hosts.is_empty() {
        config.allowed_hosts.extend(f.allow_hosts);
        flagged.push(("allowed_hosts", "--allow-host"));
    }
    for (value, slot, key, flag) in [
        (f.build, &mut config.build, "build", "--build"),
        (f.run, &mut config.run, "run", "--run"),
        (
            f.ready_url,
            &mut config.ready_url,
            "ready_url",
            "--ready-url",
        ),
        (f.test, &mut config.test, "test", "--test"),
    ] {
        if value.is_some() {
            *slot = value;
            flagged.push((key, flag));
        }
    }
    if !f.restart_on.is_empty() {
        config.restart_on = f.restart_on;
        flagged.push(("restart_on", "--restart-on"));
    }
    if let Some(ms) = f.poll {
        config.poll = hotreload::Poll::Every(ms);
        flagged.push(("poll", "--poll"));
    }
    if let Some(debounce) = f.debounce {
        config.debounce_ms = debounce;
        config.max_wait_ms = config.max_wait_ms.max(debounce.quiet_ms());
        flagged.push(("debounce_ms", "--debounce"));
    }
    // A config that names a backend makes plain `hotreload` a proxy.
    if mode == Mode::Serve && f.positional.is_none() && config.proxy.is_some() {
        mode = Mode::Proxy;
    }
    if mode == Mode::Proxy
        && let Some(url) = &f.positional
    {
        Backend::parse(url).map_err(|problem| {
            Usage(format!(
                "the backend URL {problem}; give it like `hotreload proxy http://localhost:3000`"
            ))
        })?;
        config.proxy = Some(url.clone());
    }
    config.validate().map_err(|e| blame_flag(e, &flagged))?;
    let host = f
        .host
        .or(config.host.clone())
        .unwrap_or_else(|| "127.0.0.1".into());
    let port = f.port.or(config.port).unwrap_or(8080);
    if f.livereload_port.is_some() {
        config.livereload_port = f.livereload_port;
    }
    config.sync |= f.sync;
    config.gitignore &= !f.no_gitignore;
    let inject = !f.no_inject && config.inject.unwrap_or(true);
    let (stop_tx, stop) = crossbeam_channel::bounded::<()>(1);
    ctrlc::set_handler(move || {
        let _ = stop_tx.try_send(());
    })
    .map_err(|e| Error::Thread {
        name: "signal handler".into(),
        problem: e.to_string(),
    })?;
    let serving = match mode {
        Mode::Proxy => {
            let Some(url) = config.proxy.clone() else {
                return Err(Usage(
                    "proxy needs the backend's URL, like `hotreload proxy http://localhost:3000` (or `proxy:` in the config)".into(),
                )
                .into());
            };
            // Checked already, as the argument or by `validate`.
            let backend = Backend::parse(&url).map_err(Usage)?;
            let timeout = Duration::from_millis(config.proxy_timeout_ms);
            serve::Mode::Proxy { backend, timeout }
        }
        Mode::Serve => serve::Mode::Files,
        Mode::Watch => serve::Mode::Watch,
    };
    let root = match (&f.positional, &config.root) {
        (Some(dir), _) if mode != Mode::Proxy => PathBuf::from(dir),
        (None, Some(root)) if mode == Mode::Serve => root.clone(),
        _ => PathBuf::from("."),
    };
    if config.watch_dirs.is_empty() {
        // Report paths the way the user named the folder: `serve web` gives `web/app.css`.
        config
            .watch_dirs
            .push(WatchDir::new(&root.to_string_lossy(), cwd));
    }
    for log_file in own_log_files(&config.watch_dirs) {
        config.ignore.push(log_file);
    }
    let backend_url = config.proxy.clone().unwrap_or_default();
    let mut server = DevServer::start(Options {
        root,
        host,
        port,
        inject,
        mode: serving,
        config,
    })?;
    let url = server.url();
    let mut ready = match mode {
        Mode::Serve => format!("hotreload: serving {} at {url}\n", server.root().display()),
        Mode::Proxy => format!("hotreload: proxying at {url} to {backend_url}\n"),
        Mode::Watch => format!(
            "hotreload: watching at {url}\n  add this to your pages: {}\n",
            script_tag(&url)
        ),
    };
    if server.local_addr().ip().is_unspecified() {
        let port = server.local_addr().port();
        ready.push_str(&network_lines(server.lan_addresses(), port, mode));
    }
    if let Some(script) = server.livereload_url() {
        ready.push_str(&format!("  LiveReload clients: {script}\n"));
    }
    if server.manager().is_enabled() {
        let dashboard = hotreload::dashboard::DASHBOARD_PATH;
        ready.push_str(&format!(
            "  dashboard: {}{dashboard}\n",
            url.trim_end_matches('/')
        ));
    }
    // In one write (a few hundred bytes, atomic on a pipe): whoever reads
    // the first line and closes the pipe (a test, `| head -1`) has had it
    // all, so no later line meets a closed pipe. Nor is a closed stdout a
    // reason to stop serving, as a panicking print! would.
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(ready.as_bytes())
        .and_then(|()| stdout.flush());
    drop(stdout);
    let _ = stop.recv();
    log::info!("[HotReload] shutting down");
    server.close()?;
    Ok(ExitCode::SUCCESS)
}

/// The ready line's list of where other devices open a server bound to
/// every interface, one address a line. In watch mode, also the tag for
/// pages opened at such an address: the page's host and the script's must
/// be the same for the Origin check, and a phone cannot load the script
/// from 127.0.0.1, its own loopback.
fn network_lines(
    addresses: std::io::Result<Vec<serve::lan::LanAddress>>,
    port: u16,
    mode: Mode,
) -> String {
    const HEAD: &str = "  on your network: ";
    let addresses = match addresses {
        Ok(addresses) if addresses.is_empty() => {
            return format!("{HEAD}no address found (no interface but loopback is up)\n");
        }
        Ok(addresses) => addresses,
        Err(e) => return format!("{HEAD}cannot list this machine's addresses: {e}\n"),
    };
    let mut out = String::new();
    for (i, address) in addresses.iter().enumerate() {
        let lead = if i == 0 {
            HEAD.to_string()
        } else {
            " ".repeat(HEAD.len())
        };
        out.push_str(&format!(
            "{lead}{} ({})\n",
            address.url(port),
            address.interface
        ));
    }
    if mode == Mode::Watch {
        out.push_str(&format!(
            "  for pages opened at a network address, add this instead: {}\n",
            script_tag(&addresses[0].url(port))
        ));
    }
    out
}

/// The tag an app adds to its pages to load the client from `url`.
fn script_tag(url: &str) -> String {
    format!(
        "<script src=\"{}{}\"></script>",
        url.trim_end_matches('/'),
        hotreload::server::CLIENT_PATH
    )
}

fn load_config(file: &Path) -> Result<Config, Error> {
    Config::from_file(file).map_err(|e| match e {
        // A config file the user named but we cannot read is their input to fix.
        Error::Io { path, source, .. } => Error::Config {
            file: path,
            line: None,
            column: None,
            key: None,
            problem: format!("cannot read the config file: {source}"),
            fix: "check the path given to --config, or create one with `hotreload init`".into(),
        },
        other => other,
    })
}

/// Ignore patterns for the files this process logs into (`serve . 2> log`)
/// that lie in a watched folder: each batch logs a line, which changes a
/// watched file, which starts the next batch, forever.
fn own_log_files(watch_dirs: &[WatchDir]) -> Vec<String> {
    let mut ignore = Vec::new();
    for fd in [1, 2] {
        // Linux names an open file's path here; elsewhere this finds nothing.
        let Ok(target) = std::fs::read_link(format!("/proc/self/fd/{fd}")) else {
            continue;
        };
        if !target.is_file() {
            continue;
        }
        for dir in watch_dirs {
            let Ok(dir) = dir.path.canonicalize() else {
                continue;
            };
            let Some(rel) = target.strip_prefix(&dir).ok().and_then(Path::to_str) else {
                continue;
            };
            let pattern = glob::Pattern::escape(rel);
            if !ignore.contains(&pattern) {
                log::info!(
                    "[HotReload] not watching {}: this server logs into it",
                    target.display()
                );
                ignore.push(pattern);
            }
        }
    }
    ignore
}

/// A config error about a key that a flag set, reworded to name the flag.
fn blame_flag(error: Error, flagged: &[(&str, &'static str)]) -> Error {
    let Error::Config {
        key: Some(key),
        problem,
        fix,
        ..
    } = &error
    else {
        return error;
    };
    match flagged
        .iter()
        .find(|(name, _)| key.strip_prefix("hot_reload.") == Some(name))
    {
        Some((_, flag)) => Error::Config {
            file: PathBuf::from("<command line>"),
            line: None,
            column: None,
            key: Some((*flag).into()),
            problem: problem.clone(),
            fix: fix.clone(),
        },
        None => error,
    }
}

/// Whether `./config.yaml` is ours to read: it has a `hot_reload:` line.
/// Read as bytes, so a file that is ours but broken (not UTF-8, say) is
/// read and its error reported, not skipped.
fn has_hot_reload_section(file: &Path) -> bool {
    match std::fs::read(file) {
        Ok(bytes) => {
            let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
            text.split(|&b| b == b'\n')
                .any(|line| line.starts_with(b"hot_reload:"))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => {
            log::warn!(
                "[HotReload] cannot read {} ({e}), so hot reload runs with its defaults; make it readable, or pass --config FILE",
                file.display()
            );
            false
        }
    }
}

fn init(mut args: lexopt::Parser) -> Result<ExitCode, Failure> {
    use lexopt::Arg::Long;
    let mut force = false;
    let mut file = PathBuf::from("config.yaml");
    while let Some(arg) = args.next()? {
        match arg {
            Long("force") => force = true,
            Long("config") => file = text(&mut args, "--config")?.into(),
            other => {
                return Err(Usage(format!(
                    "init takes --force and --config FILE; {}",
                    other.unexpected()
                ))
                .into());
            }
        }
    }
    if file.exists() && !force {
        return Err(Error::Config {
            file,
            line: None,
            column: None,
            key: None,
            problem: "the file exists already; nothing was written".into(),
            fix: "pass --force to overwrite it, or --config FILE to write elsewhere".into(),
        }
        .into());
    }
    std::fs::write(&file, hotreload::config::TEMPLATE).map_err(|source| Error::Io {
        action: "write".into(),
        path: file.clone(),
        source,
    })?;
    println!("wrote {}; edit it, then run `hotreload`", file.display());
    Ok(ExitCode::SUCCESS)
}

fn bench(mut args: lexopt::Parser) -> Result<ExitCode, Failure> {
    use lexopt::Arg::Long;
    let exe = std::env::current_exe().map_err(|source| Error::Io {
        action: "find the hotreload executable".into(),
        path: PathBuf::from("hotreload"),
        source,
    })?;
    let (mut clients, mut trials, mut debounce, mut dir) = (None, None, None, None);
    let (mut quick, mut json, mut browser) = (false, false, false);
    while let Some(arg) = args.next()? {
        match arg {
            Long("clients") => {
                let list = text(&mut args, "--clients")?;
                clients = Some(list
                    .split(',')
                    .map(|n| n.trim().parse::<usize>().ok().filter(|n| (1..=1024).contains(n)))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| Usage(format!("--clients takes numbers from 1 to 1024 separated by commas, like 1,100,1000; got {list:?}")))?);
            }
            Long("trials") => {
                trials = Some(number(&mut args, "--trials", "a number of saves, like 20")?)
            }
            Long("debounce") => debounce = Some(self::debounce(&mut args)?),
            Long("dir") => dir = Some(text(&mut args, "--dir")?),
            Long("json") => json = true,
            Long("quick") => quick = true,
            Long("browser") => browser = true,
            other => {
                return Err(Usage(format!(
                    "bench takes --clients, --trials, --debounce, --dir, --browser, --quick and --json; {}",
                    other.unexpected()
                ))
                .into());
            }
        }
    }
    // The preset first, so that flags adjust it wherever they stand.
    let mut options = bench::Options::new(exe);
    if quick {
        options = options.quick();
    }
    options.clients = clients.unwrap_or(options.clients);
    options.trials = trials.unwrap_or(options.trials);
    options.debounce_ms = debounce.unwrap_or(options.debounce_ms);
    options.dir = dir.map_or(options.dir, PathBuf::from);
    options.browser = browser;
    if options.trials == 0 {
        return Err(Usage("--trials must be at least 1".into()).into());
    }
    let report = bench::run(&options, |step| eprintln!("bench: {step}"))?;
    let _ = bench::print(&report, json, std::io::stdout());
    if !report.lost_nothing() {
        eprintln!("error: some batches were missed or duplicated (see the table)");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn status(mut args: lexopt::Parser) -> Result<ExitCode, Failure> {
    use lexopt::Arg::Long;
    let mut url = "http://127.0.0.1:8080/".to_string();
    let mut json = false;
    while let Some(arg) = args.next()? {
        match arg {
            Long("url") => url = text(&mut args, "--url")?,
            Long("json") => json = true,
            other => {
                return Err(Usage(format!(
                    "status takes --url URL and --json; {}",
                    other.unexpected()
                ))
                .into());
            }
        }
    }
    let Some(rest) = url.strip_prefix("http://") else {
        return Err(Usage(format!("--url must start with http://, got {url}")).into());
    };
    let (authority, prefix) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let authority = if authority.contains(':') {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let path = format!("{prefix}{}", hotreload::server::STATUS_PATH);
    match http_get(&authority, &path) {
        Ok((200, body)) => {
            if json {
                println!("{body}");
            } else {
                print!("{}", describe_status(&url, &body));
            }
            Ok(ExitCode::SUCCESS)
        }
        Ok((404, _)) => {
            eprintln!("{url} answers, but hot reload is not enabled there (no {path})");
            Ok(ExitCode::from(1))
        }
        Ok((code, _)) => {
            eprintln!("{url} answered {path} with HTTP {code}");
            Ok(ExitCode::from(1))
        }
        Err(e) => {
            eprintln!(
                "no hotreload server answers at {url}: {e}\n  start one with `hotreload`, or pass --url"
            );
            Ok(ExitCode::from(1))
        }
    }
}

fn http_get(authority: &str, path: &str) -> std::io::Result<(u16, String)> {
    let timeout = Duration::from_secs(3);
    let addr = authority
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("the address resolves to nothing"))?;
    let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(
        stream,
        // HTTP/1.0: the answer comes whole, never in chunks, however long.
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n"
    )?;
    let mut response = Vec::new();
    stream.take(1 << 20).read_to_end(&mut response)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other("the answer is not HTTP"))?;
    Ok((code, body.to_string()))
}

/// The status JSON as lines for people. Reads just the keys it shows.
fn describe_status(url: &str, body: &str) -> String {
    let field = |key: &str| json_field(body, key).unwrap_or_else(|| "?".into());
    let last = match json_field(body, "last_change").as_deref() {
        None | Some("null") => "none yet".to_string(),
        Some(last) => {
            let paths = json_field(last, "paths").unwrap_or_default();
            format!("#{} {}", json_field(last, "seq").unwrap_or_default(), paths)
        }
    };
    let livereload = match json_field(body, "livereload_clients").as_deref() {
        None | Some("0") => String::new(),
        Some(n) => format!(" ({n} of them LiveReload)"),
    };
    let mut out = format!(
        "hotreload {} at {url}\n  enabled:   {}\n  clients:   {} connected{livereload}\n  watching:  {}\n  patterns:  {}\n  debounce:  {}\n  changes:   {} (last: {last})\n  uptime:    {} s\n",
        unquote(&field("version")),
        field("enabled"),
        field("connected_clients"),
        field("watch_dirs"),
        field("patterns"),
        match field("debounce_ms").as_str() {
            "\"auto\"" => format!(
                "auto ({} ms of quiet in a burst)",
                hotreload::Debounce::DEFAULT_MS
            ),
            ms => format!("{ms} ms"),
        },
        field("changes"),
        field("uptime_secs"),
    );
    // The last build, app start and test, when there are commands.
    let commands = json_field(body, "commands").unwrap_or_default();
    for kind in ["build", "run", "test"] {
        let Some(report) = json_field(&commands, kind) else {
            continue;
        };
        let text = |key: &str| json_field(&report, key).unwrap_or_default();
        let code = match text("exit_code").as_str() {
            "null" | "" => String::new(),
            code => format!(", exit code {code}"),
        };
        out.push_str(&format!(
            "  {:<11}{} ({}{code}, at {})\n",
            format!("{kind}:"),
            unquote(&text("state")),
            unquote(&text("command")),
            text("at"),
        ));
    }
    out
}

/// The raw JSON text of `"key": value` at the top level of an object we
/// wrote ourselves (no whitespace, keys unique). Good enough for display.
fn json_field(json: &str, key: &str) -> Option<String> {
    let start = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let bytes = json.as_bytes();
    let (mut depth, mut in_string, mut escaped) = (0i32, false, false);
    for (i, &b) in bytes.iter().enumerate().skip(start) {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' if depth == 0 => return Some(json[start..i].to_string()),
            b'}' | b']' => depth -= 1,
            b',' if depth == 0 => return Some(json[start..i].to_string()),
            _ => {}
        }
    }
    Some(json[start..].to_string())
}

/// A JSON string's text (`"a \"b\""` gives `a "b"`); anything else as it is.
fn unquote(json: &str) -> String {
    let Some(inner) = json.strip_prefix('"').and_then(|j| j.strip_suffix('"')) else {
        return json.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                // Surrogate halves (emoji) show as the replacement character.
                let c = u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32);
                out.push(c.unwrap_or(char::REPLACEMENT_CHARACTER));
            }
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

/// Prints log lines to stderr: ours from `level` up, other crates' warnings.
struct Logger {
    level: log::LevelFilter,
}

impl Logger {
    fn install(level: log::LevelFilter) {
        let logger = Box::leak(Box::new(Logger { level }));
        if log::set_logger(logger).is_ok() {
            log::set_max_level(level);
        }
    }
}

impl log::Log for Logger {
    fn enabled(&self, meta: &log::Metadata) -> bool {
        if meta.target().starts_with("hotreload") {
            meta.level() <= self.level
        } else {
            meta.level() <= log::Level::Warn.min(self.level.to_level().unwrap_or(log::Level::Error))
        }
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // notify warns when the kernel dropped a deleted folder's watch
        // before notify could: harmless (the folder is gone, and the
        // watcher saw it go), and alarming in the middle of `rm -rf dist`.
        if record.target().starts_with("notify")
            && self.level < log::LevelFilter::Debug
            && record.args().to_string().contains("WatchNotFound")
        {
            return;
        }
        let prefix = match record.level() {
            log::Level::Error => "error: ",
            log::Level::Warn => "warning: ",
            _ => "",
        };
        eprintln!("{prefix}{}", record.args());
    }

    fn flush(&self) {}
}
