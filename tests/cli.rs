//! The `hotreload` binary as a user runs it: serve, status, init, flags, signals.

mod common;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{
    PATIENCE, bin, changes, connect, next_change, next_message, serve, sigterm,
    with_open_file_limit, write,
};

fn run(args: &[&str], dir: &Path) -> Output {
    bin()
        .args(args)
        .current_dir(dir)
        .output()
        .expect("binary runs")
}

/// Like [`run`] for a command that should refuse to start: a server that
/// starts after all is stopped and the test fails, instead of hanging.
fn run_refused(args: &[&str], dir: &Path) -> Output {
    let mut child = bin()
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let start = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            let out = child.wait_with_output().expect("killed");
            panic!(
                "{args:?} still running after {PATIENCE:?}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("exited")
}

/// Starts `cmd` with stdout and stderr piped; returns it and the first line
/// it prints (the ready line). Its stderr is read once it has exited.
fn start_piped(cmd: &mut Command) -> (Child, String) {
    common::start_ready(cmd.stderr(Stdio::piped()))
}

/// Stops a server started by [`start_piped`] with SIGTERM, checks that it
/// exits 0 as SIGTERM asks, and returns what it wrote to stderr.
fn stop_for_stderr(child: Child) -> String {
    sigterm(&child);
    let out = child.wait_with_output().expect("exits");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(0),
        "exit status after SIGTERM: {err}"
    );
    err
}

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        &dir.path().join("index.html"),
        "<html><body><h1>hi</h1></body></html>",
    );
    write(&dir.path().join("css/app.css"), "h1 { color: red }");
    dir
}

#[test]
fn help_and_version() {
    let dir = site();
    let help = run(&["--help"], dir.path());
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for word in [
        "serve",
        "proxy URL",
        "watch [DIR]",
        "status",
        "init",
        "--port",
        "--allow-host",
        "--watch",
        "--pattern",
        "--ignore",
        "--debounce",
        "--poll",
        "--no-inject",
        "--no-gitignore",
        "HOT_RELOAD_ENABLED",
    ] {
        assert!(
            text.contains(word),
            "--help does not mention {word}:\n{text}"
        );
    }
    let version = run(&["--version"], dir.path());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("hotreload {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bad_usage_exits_2_with_a_pointer_to_help() {
    let dir = site();
    for args in [
        &["--bogus"][..],
        &["--port", "http"],
        &["--port"],
        &["a", "b"],
        &["status", "--nope"],
        &["--no-inject=yes"],
        // A value given to a flag that takes none is refused, not handed
        // to the next flag (this once served on port 1).
        &["--quiet=1", "--port", "0"],
        &["--watch", "--pattern", "*.css"],
    ] {
        let out = run(args, dir.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("error:") && err.contains("--help"),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn serve_reloads_and_stops_cleanly_on_sigterm() {
    let dir = site();
    let mut server = serve(&["serve", ".", "--port", "0"], dir.path(), &[]);
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );
    let (code, _, body) = common::http(server.addr, &common::get("/", &[]));
    assert_eq!(code, 200);
    assert!(
        body.contains("<script src=\"/static/js/hotreload.js\"></script></body>"),
        "{body}"
    );

    let mut ws = connect(server.addr, None).expect("connect");
    assert_eq!(
        next_message(&mut ws, PATIENCE).expect("hello")["type"],
        "connected"
    );
    write(&dir.path().join("css/app.css"), "h1 { color: blue }");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("css/app.css".into(), "modified".into())],
        "`serve .` reports paths inside it"
    );
    assert_eq!(msg["action"], "css");

    let asked = Instant::now();
    sigterm(&server.child);
    let frame = loop {
        match ws.read() {
            Ok(tungstenite::Message::Close(frame)) => break frame,
            Ok(_) => continue,
            Err(tungstenite::Error::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock && asked.elapsed() < PATIENCE =>
            {
                continue;
            }
            Err(e) => panic!("expected a close frame, got {e}"),
        }
    };
    assert_eq!(frame.map(|f| u16::from(f.code)), Some(1001));
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running {PATIENCE:?} after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0));
    eprintln!("exited {:?} after SIGTERM", asked.elapsed());
}

#[test]
fn serve_dir_reports_paths_under_the_dir_name_and_ctrl_c_exits_0() {
    let dir = site();
    write(&dir.path().join("web/app.css"), "a{}");
    let mut server = serve(&["web", "--port=0", "--pattern", "*.css"], dir.path(), &[]);
    let mut ws = connect(server.addr, None).expect("connect");
    assert!(next_message(&mut ws, PATIENCE).is_some());
    write(&dir.path().join("web/app.css"), "b{}");
    assert_eq!(
        changes(&next_change(&mut ws)),
        vec![("web/app.css".into(), "modified".into())]
    );
    let status = Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            assert_eq!(status.code(), Some(0));
            break;
        }
        assert!(Instant::now() < deadline, "still running after SIGINT");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_ready_lines_name_the_dashboard_which_answers() {
    use std::io::BufRead;

    let dir = site();
    let mut child = common::Proc(
        bin()
            .args(["serve", ".", "--port", "0", "-q"])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("binary starts"),
    );
    let mut lines = std::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let ready = lines.next().expect("a ready line").expect("text");
    let dashboard = lines.next().expect("a second line").expect("text");
    let addr = common::ready_line_addr(&ready);
    assert_eq!(dashboard, format!("  dashboard: http://{addr}/hotreload/"));
    let (code, _, body) = common::http(addr, &common::get("/hotreload/", &[]));
    assert_eq!(code, 200);
    assert!(
        body.contains("<title>hotreload dashboard</title>"),
        "{body}"
    );
    let (code, headers, _) = common::http(addr, &common::get("/hotreload", &[]));
    assert_eq!(code, 301);
    assert!(
        headers.contains(&"location: /hotreload/".to_string()),
        "{headers:?}"
    );
}

#[test]
fn hot_reload_enabled_false_serves_files_only() {
    let dir = site();
    let server = serve(
        &["--port", "0"],
        dir.path(),
        &[("HOT_RELOAD_ENABLED", "false")],
    );
    let (code, _, body) = common::http(server.addr, &common::get("/", &[]));
    assert_eq!(code, 200);
    assert!(
        !body.contains("hotreload.js"),
        "script injected while disabled: {body}"
    );
    for path in [
        "/ws/hotreload",
        "/api/v1/hotreload/status",
        "/static/js/hotreload.js",
        "/hotreload/",
        "/api/v1/hotreload/history",
    ] {
        let (code, _, _) = common::http(server.addr, &common::get(path, &[]));
        assert_eq!(code, 404, "{path} exists while disabled");
    }
    let status = run(&["status", "--url", &server.url], dir.path());
    assert_eq!(status.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&status.stderr).contains("not enabled"));
}

#[test]
fn no_inject_leaves_pages_alone() {
    let dir = site();
    let server = serve(&["--port", "0", "--no-inject"], dir.path(), &[]);
    let (_, _, body) = common::http(server.addr, &common::get("/", &[]));
    assert_eq!(body, "<html><body><h1>hi</h1></body></html>");
}

#[test]
fn status_for_people_and_as_json() {
    let dir = site();
    let server = serve(&["--port", "0"], dir.path(), &[]);
    let _ws = connect(server.addr, None).expect("connect");
    let out = run(&["status", "--url", &server.url], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("clients:   1 connected"), "{text}");
    let out = run(&["status", "--json", "--url", &server.url], dir.path());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert_eq!(json["connected_clients"], 1);
}

#[test]
fn status_json_stays_json_when_the_status_is_large() {
    let dir = site();
    // A long quiet time, so the 300 saves below are one batch even on a
    // busy machine.
    let server = serve(&["--port", "0", "--debounce", "500"], dir.path(), &[]);
    let mut ws = connect(server.addr, None).expect("connect");
    next_message(&mut ws, PATIENCE).expect("hello");
    // 300 long names make a status document of about 60 KiB, past the
    // 32 KiB where tiny_http would switch to chunks.
    for i in 0..300 {
        write(
            &dir.path()
                .join(format!("many/{}{i:03}.txt", "x".repeat(200))),
            "x",
        );
    }
    let mut seen = 0;
    while seen < 300 {
        seen += next_change(&mut ws)["count"].as_u64().unwrap_or(0);
    }
    let out = run(&["status", "--json", "--url", &server.url], dir.path());
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.len() > 32 * 1024, "{} bytes", out.stdout.len());
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("status --json prints JSON");
    assert!(json["last_change"]["count"].as_u64() > Some(0));
}

#[test]
fn status_with_nothing_listening_exits_1() {
    let dir = site();
    // A loopback address no test listens on (all of 127/8 is loopback);
    // a port found by binding and dropping could be taken meanwhile.
    let out = run(&["status", "--url", "http://127.254.0.1:9/"], dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no hotreload server answers"));
}

#[test]
fn port_in_use_exits_1_with_the_fix() {
    let dir = site();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let out = run(&["--port", &port], dir.path());
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot listen on 127.0.0.1:") && err.contains("--port 0"),
        "{err}"
    );
}

#[test]
fn init_writes_a_config_that_serve_reads_and_refuses_to_overwrite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = run(&["init"], dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written =
        std::fs::read_to_string(dir.path().join("config.yaml")).expect("config.yaml written");
    assert_eq!(written, hotreload::config::TEMPLATE);
    let again = run(&["init"], dir.path());
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("--force"));
    assert!(run(&["init", "--force"], dir.path()).status.success());
    hotreload::Config::from_file(dir.path().join("config.yaml")).expect("the template parses");

    // Serving a folder of the project then watches that folder, not the
    // whole project the config file sits in.
    write(&dir.path().join("web/index.html"), "<body>hi</body>");
    let server = serve(&["web", "--port", "0"], dir.path(), &[]);
    let mut ws = connect(server.addr, None).expect("connect");
    assert!(next_message(&mut ws, PATIENCE).is_some());
    write(&dir.path().join("notes.txt"), "not served");
    write(&dir.path().join("web/app.css"), "h1 {}");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("web/app.css".into(), "created".into())]
    );
}

#[test]
fn bad_config_exits_2_naming_file_line_and_key() {
    let dir = site();
    write(
        &dir.path().join("bad.yaml"),
        "hot_reload:\n  enabled: true\n  debounce: 50\n",
    );
    let out = run(&["--config", "bad.yaml", "--port", "0"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:3") && err.contains("debounce") && err.contains("debounce_ms"),
        "{err}"
    );

    let out = run(&["--config", "missing.yaml"], dir.path());
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("missing.yaml") && err.contains("hotreload init"),
        "{err}"
    );

    let out = run(&["--pattern", "[*.css", "--port", "0"], dir.path());
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bad_flag_is_blamed_on_the_flag_not_on_the_config_file() {
    let dir = site();
    write(
        &dir.path().join("config.yaml"),
        "hot_reload:\n  debounce_ms: 100\n",
    );
    for (args, names) in [
        (&["--pattern", "[*.css"][..], &["--pattern", "[*.css"][..]),
        (&["--ignore", "a[b"], &["--ignore", "a[b"]),
        (&["--debounce", "70000"], &["--debounce", "60000"]),
        (&["--watch", ""], &["--watch", "empty"]),
        (&[""], &["empty", "use ."]),
    ] {
        let out = run_refused(&[args, &["--port", "0"]].concat(), dir.path());
        let all = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {all}");
        // What comes before is the log line saying config.yaml was read.
        let err = &all[all.find("error:").expect("an error line")..];
        assert!(names.iter().all(|n| err.contains(n)), "{args:?}: {err}");
        assert!(
            !err.contains("config.yaml"),
            "{args:?} blamed the file: {err}"
        );
    }
}

#[test]
fn a_broken_config_yaml_in_the_folder_is_reported_not_skipped() {
    let dir = site();
    let config = dir.path().join("config.yaml");
    // A byte-order mark, as some Windows editors write, and a byte that is
    // not UTF-8: each is still our file, so its mistake must be reported.
    for (bytes, says) in [
        (
            &b"\xEF\xBB\xBFhot_reload:\n  bogus_key: 1\n"[..],
            "bogus_key",
        ),
        (b"hot_reload:\n  debounce_ms: 100 # caf\xe9\n", "UTF-8"),
    ] {
        std::fs::write(&config, bytes).expect("write config.yaml");
        let out = run_refused(&["--port", "0"], dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("config.yaml") && err.contains(says), "{err}");
    }
    // One that cannot be read at all may not be ours: serve, but say so.
    std::fs::remove_file(&config).expect("remove config.yaml");
    std::fs::create_dir(&config).expect("a folder named config.yaml");
    let (child, line) = start_piped(bin().args(["--port", "0"]).current_dir(dir.path()));
    assert!(line.contains("http://127.0.0.1:"), "{line}");
    let err = stop_for_stderr(child);
    assert!(
        err.contains("cannot read config.yaml") && err.contains("--config"),
        "{err}"
    );
}

#[test]
fn deleting_a_watched_folder_is_a_change_not_a_warning() {
    let dir = site();
    write(&dir.path().join("dist/deep/app.js"), "1");
    let (child, line) = start_piped(bin().args(["--port", "0"]).current_dir(dir.path()));
    let mut ws = connect(common::ready_line_addr(&line), None).expect("connect");
    assert!(next_message(&mut ws, PATIENCE).is_some());
    std::fs::remove_dir_all(dir.path().join("dist")).expect("rm -rf dist");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("dist/deep/app.js".into(), "deleted".into())]
    );
    let err = stop_for_stderr(child);
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn a_missing_watch_dir_is_reported_with_the_fix_and_watched_once_made() {
    let dir = site();
    let (child, line) = start_piped(
        bin()
            .args(["--watch", "asets", "--port", "0"])
            .current_dir(dir.path()),
    );
    let server = common::ready_line_addr(&line);
    let mut ws = connect(server, None).expect("connect");
    assert!(next_message(&mut ws, PATIENCE).is_some());
    write(&dir.path().join("asets/app.css"), "h1 {}");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("asets/app.css".into(), "created".into())]
    );
    let err = stop_for_stderr(child);
    assert!(
        err.contains("asets does not exist") && err.contains("fix watch_dirs or --watch"),
        "{err}"
    );
}

#[test]
fn a_log_file_inside_the_served_folder_does_not_reload_forever() {
    let dir = site();
    // `hotreload serve . 2> server.log`: every batch logs a line into a
    // watched file, which would be the next batch.
    let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
    let (mut child, line) = common::start_ready(
        bin()
            .args([".", "--port", "0"])
            .current_dir(dir.path())
            .stderr(log),
    );
    let result = std::panic::catch_unwind(|| {
        let mut ws = connect(common::ready_line_addr(&line), None).expect("connect");
        assert!(next_message(&mut ws, PATIENCE).is_some());
        write(&dir.path().join("css/app.css"), "h1 { color: blue }");
        let msg = next_change(&mut ws);
        assert_eq!(
            changes(&msg),
            vec![("css/app.css".into(), "modified".into())]
        );
        common::assert_quiet(&mut ws, Duration::from_millis(1500));
    });
    let _ = child.kill();
    let _ = child.wait();
    let logged = std::fs::read_to_string(dir.path().join("server.log")).expect("read log");
    assert!(result.is_ok(), "log:\n{logged}");
    assert!(logged.contains("not watching"), "{logged}");
}

#[test]
fn the_seed_config_example_serves_its_watch_dirs() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        &dir.path().join("config.yaml"),
        "server:\n  port: 9999\nhot_reload:\n  enabled: true\n  watch_dirs: [\"./web/static\", \"./personas\"]\n  patterns: [\"*.html\", \"*.css\", \"*.js\", \"*.md\", \"PERSONA.md\"]\n",
    );
    write(&dir.path().join("web/static/index.html"), "<body>x</body>");
    write(&dir.path().join("personas/bob/PERSONA.md"), "# Bob");
    let server = serve(&["web/static", "--port", "0"], dir.path(), &[]);
    let mut ws = connect(server.addr, None).expect("connect");
    assert!(next_message(&mut ws, PATIENCE).is_some());
    write(&dir.path().join("personas/bob/PERSONA.md"), "# Robert");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("personas/bob/PERSONA.md".into(), "modified".into())]
    );
    assert_eq!(msg["action"], "reload");
    write(&dir.path().join("web/static/notes.txt"), "not matched");
    common::assert_quiet(&mut ws, Duration::from_millis(800));
}

#[test]
fn embed_example_mounts_hot_reload_beside_its_routes() {
    // Built by `cargo test` beside this test's binary: target/<profile>/examples/embed.
    let exe = std::env::current_exe().expect("test exe");
    let example = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .join("examples/embed");
    assert!(
        example.exists(),
        "build the examples first: {}",
        example.display()
    );
    let root = env!("CARGO_MANIFEST_DIR");
    let (mut child, line) = common::start_ready(
        Command::new(&example)
            .current_dir(root)
            .env_remove("HOT_RELOAD_ENABLED")
            .stderr(Stdio::null()),
    );
    let addr: std::net::SocketAddr = line
        .trim()
        .trim_start_matches("embed example at http://")
        .trim_end_matches('/')
        .parse()
        .expect("addr");
    let (code, _, body) = common::http(addr, &common::get("/", &[]));
    assert_eq!(code, 200);
    assert!(
        body.contains("/static/js/hotreload.js") && body.contains("Hot reload is on"),
        "{body}"
    );
    let (code, _, _) = common::http(addr, &common::get("/static/js/hotreload.js", &[]));
    assert_eq!(code, 200);
    let (code, _, body) = common::http(addr, &common::get("/api/v1/hotreload/status", &[]));
    assert_eq!(code, 200, "{body}");
    let mut ws = connect(addr, None).expect("connect");
    assert_eq!(
        next_message(&mut ws, PATIENCE).expect("hello")["type"],
        "connected"
    );
    let (code, _, _) = common::http(addr, &common::get("/nope", &[]));
    assert_eq!(code, 404);
    let _ = common::http(addr, &common::get("/quit", &[]));
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success());
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("example did not stop after /quit");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn bench_reports_every_measurement_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir_arg = dir.path().to_string_lossy().into_owned();
    let bench = bin()
        .args([
            "bench",
            // More clients than the bench keeps handshaking at once (64).
            "--clients",
            "1,100",
            "--trials",
            "3",
            "--dir",
            &dir_arg,
            "--json",
            // Save to screen in Chromium: 5 saves per row with --quick.
            "--browser",
            // After the flags it presets, which still win.
            "--quick",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
    // Chromium's profile is named for the bench's process.
    let profile = format!(".hotreload-bench-chromium-{}-", bench.id());
    let out = bench.wait_with_output().expect("bench ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    let rows = report["latency"].as_array().expect("latency rows");
    assert_eq!(
        rows.len(),
        4,
        "two client counts by two save styles: {report}"
    );
    let counts: Vec<u64> = rows.iter().filter_map(|r| r["clients"].as_u64()).collect();
    assert_eq!(
        counts,
        [1, 1, 100, 100],
        "the client counts asked for: {report}"
    );
    for row in rows {
        assert_eq!(
            (row["missed"].as_u64(), row["duplicated"].as_u64()),
            (Some(0), Some(0)),
            "{row}"
        );
        assert!(row["overhead_ms"]["p50"].is_number(), "{row}");
    }
    assert!(
        report["memory"]["idle_kib"].as_u64().unwrap_or(0) > 0,
        "{report}"
    );
    assert!(report["idle"]["cpu_secs"].is_number(), "{report}");
    assert_eq!(report["tree"]["files"], 10_000);
    assert!(report["tree"]["ready_secs"].is_number(), "{report}");
    assert_eq!(report["storm"]["files"], 1_000);
    assert!(
        report["storm"]["batches"].as_u64().unwrap_or(0) >= 1,
        "{report}"
    );
    // Every file of the storm is in some batch.
    assert!(
        report["storm"]["changes"].as_u64().unwrap_or(0) >= 1_000,
        "{report}"
    );
    // The proxy rows: both bodies, both ways, with numbers.
    let proxy = report["proxy"].as_array().expect("proxy rows");
    let bodies: Vec<&str> = proxy.iter().filter_map(|r| r["body"].as_str()).collect();
    assert_eq!(bodies, ["10 KiB page", "1 MiB file"], "{report}");
    for row in proxy {
        for side in ["direct", "proxied"] {
            assert!(
                row[side]["p50_ms"].as_f64().unwrap_or(0.0) > 0.0
                    && row[side]["per_second"].as_f64().unwrap_or(0.0) > 0.0,
                "{row}"
            );
        }
    }
    assert_browser_rows(&report);
    // It cleans up after itself: temp trees, Chromium's profile (in the
    // system's temp folder), and Chromium itself, whose command line names
    // the profile.
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("list").count(),
        0,
        "temp trees left behind"
    );
    let names = |dir: &Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .collect()
            })
            .unwrap_or_default()
    };
    let profiles: Vec<String> = names(&std::env::temp_dir())
        .into_iter()
        .filter(|n| n.starts_with(&profile))
        .collect();
    assert!(profiles.is_empty(), "Chromium's profile left: {profiles:?}");
    let left: Vec<String> = names(Path::new("/proc"))
        .into_iter()
        .filter_map(|pid| std::fs::read(Path::new("/proc").join(pid).join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&profile))
        .collect();
    assert!(left.is_empty(), "Chromium outlived the bench: {left:#?}");
}

/// The browser rows of `bench --browser --quick`: CSS and HTML edits at the
/// fixed debounce and at the default, 5 saves each, every number between 0
/// and a generous 5 s. Skipped (and said so) only where there is no
/// Chromium; under `CI` never.
fn assert_browser_rows(report: &serde_json::Value) {
    let browser = &report["browser"];
    if let Some(why) = browser["skipped"].as_str() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but the bench skipped the browser rows: {why}"
        );
        assert!(why.contains("apt-get install chromium"), "{why}");
        eprintln!("browser rows {why}");
        return;
    }
    assert!(
        browser["chromium"]
            .as_str()
            .is_some_and(|c| c.starts_with("Chromium ")),
        "names the Chromium: {browser}"
    );
    let rows = browser["rows"].as_array().expect("browser rows");
    let kinds: Vec<(&str, Option<u64>)> = rows
        .iter()
        .map(|r| (r["edit"].as_str().unwrap_or("?"), r["debounce_ms"].as_u64()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("css", Some(100)),
            ("css", None),
            ("html", Some(100)),
            ("html", None)
        ],
        "{browser}"
    );
    for row in rows {
        assert_eq!(row["saves"], 5, "{row}");
        for stat in ["min", "p50", "p95", "max"] {
            let ms = row["ms"][stat].as_f64().unwrap_or(f64::NAN);
            assert!((0.0..5000.0).contains(&ms), "{stat} of {row}");
        }
    }
}

#[test]
fn binding_beyond_loopback_warns_that_the_network_can_read_the_files() {
    let dir = site();
    let (child, line) = start_piped(
        bin()
            .args(["--host", "0.0.0.0", "--port", "0"])
            .current_dir(dir.path()),
    );
    assert!(
        line.contains("http://127.0.0.1:"),
        "a browser can open the printed URL: {line}"
    );
    let err = stop_for_stderr(child);
    assert!(
        err.contains("other machines on your network can read these files"),
        "{err}"
    );
}

#[test]
fn an_unreadable_folder_is_reported_with_the_fix_and_the_rest_keeps_working() {
    use std::os::unix::fs::PermissionsExt;
    // Root reads everything: run the server as `nobody` when we are root.
    let as_nobody = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let dir = site();
    write(&dir.path().join("locked/secret.css"), "a{}");
    let everyone = |p: &Path, mode| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod")
    };
    everyone(dir.path(), 0o777);
    for sub in ["css", "locked"] {
        everyone(&dir.path().join(sub), 0o777);
    }
    everyone(&dir.path().join("css/app.css"), 0o666);
    everyone(&dir.path().join("index.html"), 0o644);
    everyone(&dir.path().join("locked"), 0o000);
    let mut cmd = if as_nobody {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            env!("CARGO_BIN_EXE_hotreload"),
        ]);
        c
    } else {
        bin()
    };
    let (child, line) = start_piped(
        cmd.args(["serve", ".", "--port", "0"])
            .current_dir(dir.path())
            .env_remove("HOT_RELOAD_ENABLED"),
    );
    let addr = common::ready_line_addr(&line);
    let mut ws = connect(addr, None).expect("connect");
    assert!(next_message(&mut ws, PATIENCE).is_some());
    write(&dir.path().join("css/app.css"), "h1 { color: green }");
    assert_eq!(
        changes(&next_change(&mut ws)),
        vec![("css/app.css".into(), "modified".into())]
    );
    let err = stop_for_stderr(child);
    everyone(&dir.path().join("locked"), 0o755);
    assert!(
        err.contains("locked") && err.contains("Permission denied"),
        "no word of the unreadable folder: {err}"
    );
}

/// `sh -c 'ulimit -n LIMIT && exec hotreload ARGS...'` in `dir`.
#[test]
fn a_low_open_file_limit_turns_extra_clients_away_and_the_server_stays_up() {
    // tiny_http closes its listener for good after one failed accept, so
    // running out of files would leave a server nobody can reach.
    let dir = site();
    let (child, line) = start_piped(&mut with_open_file_limit(100, &["--port", "0"], dir.path()));
    let addr = common::ready_line_addr(&line);
    let status = |addr| common::http(addr, &common::get("/api/v1/hotreload/status", &[]));
    let (code, _, body) = status(addr);
    assert_eq!(code, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("status is JSON");
    // (100 files - 64 kept for the rest) / 2 per client.
    assert_eq!(json["max_clients"], 18, "{json}");

    let kept: Vec<_> = (0..18)
        .map(|n| connect(addr, None).unwrap_or_else(|e| panic!("client {n}: {e}")))
        .collect();
    for n in 0..40 {
        match connect(addr, None) {
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 503, "extra client {n}");
            }
            Err(e) => panic!("extra client {n}: {e}"),
            Ok(_) => panic!("extra client {n} was taken past max_clients"),
        }
    }
    drop(kept);
    let (code, _, body) = status(addr);
    assert_eq!(code, 200, "still answering: {body}");
    let (code, _, page) = common::http(addr, &common::get("/", &[]));
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("<h1>hi</h1>"), "{page}");

    let err = stop_for_stderr(child);
    assert!(
        err.contains("max_clients is lowered from 1024 to 18") && err.contains("ulimit -n 2112"),
        "the warning says what was done and how to allow more: {err}"
    );
}

#[test]
fn bench_says_how_to_raise_an_open_file_limit_too_low_for_its_clients() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = with_open_file_limit(256, &["bench", "--clients", "1,200"], dir.path())
        .output()
        .expect("binary runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "200 clients need about 464 open files in the server, but this shell allows 256"
        ) && err.contains("ulimit -n 464"),
        "{err}"
    );
}

#[test]
fn hot_reload_enabled_0_serves_files_only_whatever_the_config_says() {
    for config in [None, Some("hot_reload:\n  enabled: true\n")] {
        let dir = site();
        if let Some(text) = config {
            write(&dir.path().join("config.yaml"), text);
        }
        let server = serve(&["--port", "0"], dir.path(), &[("HOT_RELOAD_ENABLED", "0")]);
        let (code, _, body) = common::http(server.addr, &common::get("/", &[]));
        assert_eq!(
            (code, body.as_str()),
            (200, "<html><body><h1>hi</h1></body></html>"),
            "config {config:?}"
        );
        let (code, _, _) = common::http(server.addr, &common::get("/api/v1/hotreload/status", &[]));
        assert_eq!(code, 404, "status route exists with config {config:?}");
    }
}

#[test]
fn hot_reload_enabled_true_turns_on_what_the_config_turns_off() {
    let dir = site();
    write(
        &dir.path().join("config.yaml"),
        "hot_reload:\n  enabled: false\n",
    );
    // The file alone turns it off, so the second run shows the variable winning.
    let off = serve(&["--port", "0"], dir.path(), &[]);
    let (code, _, _) = common::http(off.addr, &common::get("/api/v1/hotreload/status", &[]));
    assert_eq!(code, 404, "enabled: false in config.yaml is not read");
    drop(off);

    let on = serve(
        &["--port", "0"],
        dir.path(),
        &[("HOT_RELOAD_ENABLED", "true")],
    );
    let (code, _, body) = common::http(on.addr, &common::get("/api/v1/hotreload/status", &[]));
    assert_eq!(code, 200, "{body}");
    let status: serde_json::Value = serde_json::from_str(&body).expect("status is JSON");
    assert_eq!(status["enabled"], true, "{status}");
    let (_, _, page) = common::http(on.addr, &common::get("/", &[]));
    assert!(
        page.contains("<script src=\"/static/js/hotreload.js\"></script></body>"),
        "{page}"
    );
    let mut ws = connect(on.addr, None).expect("connect");
    assert_eq!(
        next_message(&mut ws, PATIENCE).expect("hello")["type"],
        "connected"
    );
}

#[test]
fn watch_ignore_and_debounce_flags_decide_what_is_reported_and_when() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(&dir.path().join("pub/index.html"), "<body>pub</body>");
    write(&dir.path().join("pub/dist/bundle.css"), "a{}");
    write(&dir.path().join("other/keep.txt"), "x");
    let server = serve(
        &[
            "serve",
            "pub",
            "--watch",
            "other",
            "--watch",
            "pub",
            "--ignore",
            "dist",
            "--debounce",
            "700",
            "--port",
            "0",
        ],
        dir.path(),
        &[],
    );
    let mut ws = connect(server.addr, None).expect("connect");
    assert!(next_message(&mut ws, PATIENCE).is_some());

    let wrote = Instant::now();
    write(&dir.path().join("other/o.css"), "b{}");
    let msg = next_change(&mut ws);
    let took = wrote.elapsed();
    assert_eq!(
        changes(&msg),
        vec![("other/o.css".into(), "created".into())]
    );
    assert!(
        took >= Duration::from_millis(700),
        "the batch came {took:?} after the write, before the 700 ms debounce"
    );

    write(&dir.path().join("pub/dist/x.css"), "c{}");
    common::assert_quiet(&mut ws, Duration::from_millis(1500));
    // The second --watch is watched too.
    write(&dir.path().join("pub/app.css"), "d{}");
    assert_eq!(
        changes(&next_change(&mut ws)),
        vec![("pub/app.css".into(), "created".into())]
    );
}

/// A temp folder with `pub/` and `other/` pages and a `config.yaml` of `config`.
fn two_sites(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    write(
        &dir.path().join("pub/index.html"),
        "<html><body>pub</body></html>",
    );
    write(
        &dir.path().join("other/index.html"),
        "<html><body>other</body></html>",
    );
    write(&dir.path().join("config.yaml"), config);
    dir
}

#[test]
fn config_file_sets_host_port_root_and_inject() {
    let dir =
        two_sites("hot_reload:\n  host: 127.0.0.2\n  port: 0\n  root: pub\n  inject: false\n");
    let server = serve(&[], dir.path(), &[]);
    assert!(
        server.url.starts_with("http://127.0.0.2:"),
        "{}",
        server.url
    );
    assert_ne!(server.addr.port(), 8080, "port: 0 picks a free port");
    let (code, _, body) = common::http(server.addr, &common::get("/", &[]));
    assert_eq!(
        (code, body.as_str()),
        (200, "<html><body>pub</body></html>")
    );
    // Only the injection is off, not hot reload.
    let (code, _, _) = common::http(server.addr, &common::get("/api/v1/hotreload/status", &[]));
    assert_eq!(code, 200);
}

#[test]
fn command_line_flags_win_over_the_config_file() {
    let dir = two_sites("hot_reload:\n  host: 127.0.0.2\n  port: 1\n  root: pub\n  inject: true\n");
    let server = serve(
        &["other", "--host", "127.0.0.1", "--port", "0", "--no-inject"],
        dir.path(),
        &[],
    );
    assert!(
        server.url.starts_with("http://127.0.0.1:"),
        "{}",
        server.url
    );
    assert_ne!(server.addr.port(), 1);
    let (code, _, body) = common::http(server.addr, &common::get("/", &[]));
    assert_eq!(
        (code, body.as_str()),
        (200, "<html><body>other</body></html>")
    );
}

#[test]
fn poll_takes_an_optional_interval_and_never_eats_the_folder() {
    let dir = site();
    write(&dir.path().join("web/app.css"), "a{}");
    // `--poll web` polls and serves web; digits after it are the interval.
    for (args, every) in [
        (&["--poll", "web"][..], "every 500 ms"),
        (&["--poll", "250", "web"], "every 250 ms"),
        (&["web", "--poll=300"], "every 300 ms"),
    ] {
        let (child, line) = start_piped(
            bin()
                .args(args)
                .args(["--port", "0"])
                .current_dir(dir.path()),
        );
        let err = stop_for_stderr(child);
        assert!(
            line.contains("serving") && line.contains("web"),
            "{args:?}: {line}"
        );
        assert!(
            err.contains("[HotReload] polling") && err.contains("web") && err.contains(every),
            "{args:?}: {err}"
        );
    }
    for (args, said) in [
        (&["--poll=5"][..], "--poll"),
        (&["--poll=fast"], "--poll takes milliseconds"),
    ] {
        let out = run_refused(&[args, &["--port", "0"]].concat(), dir.path());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(said), "{args:?}: {err}");
    }
}
