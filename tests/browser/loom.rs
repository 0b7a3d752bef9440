//! The README's worked example, `examples/loom`, as a user runs it: a Go
//! backend restarted by hotreload when a `.go` file changes, its stylesheet
//! swapped in place and its personas reloading the page, in Chromium.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{WAIT, browser_turn, common, copy_tree, open_marked, same_page, wait_reloaded};

/// The command the README gives for the example, from the repository root.
const README_COMMAND: &str = "cd examples/loom && cargo run --release";

/// The first `go run` compiles the standard library's net/http on a cold
/// cache: allow it far more than anything else.
const FIRST_BUILD: Duration = Duration::from_secs(180);

/// `go` is there; `false` (the test says so and passes) only outside CI.
fn have_go() -> bool {
    let found = Command::new("go")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but Go is missing: .ci/run installs it (apt-get install golang-go)"
        );
        eprintln!("skipped: no Go here (apt-get install golang-go); CI never skips");
    }
    found
}

/// A loopback address of this test's own for the app (all of 127/8 is
/// loopback), so that no other test can take its port meanwhile.
fn private_addr() -> SocketAddr {
    let n = std::process::id();
    SocketAddr::from(([127, 91, (n >> 8) as u8, 2 + (n % 250) as u8], 8090))
}

/// The body of `GET path`, or `None` when nothing (or an error) answers.
fn get(addr: SocketAddr, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let ok = response.starts_with("HTTP/1.1 200");
    ok.then(|| {
        response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_string())
    })?
}

#[test]
fn the_worked_example_restarts_the_go_app_swaps_its_css_and_reloads_on_personas() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repo.join("README.md")).expect("README.md");
    assert!(
        readme.contains(README_COMMAND),
        "the README no longer runs the example with `{README_COMMAND}`: update this test with it"
    );
    if !have_go() {
        return;
    }
    let Some(_turn) = browser_turn() else { return };
    // The example as shipped, but its app on a port of this test's own.
    let dir = tempfile::tempdir().expect("temp dir");
    let loom = dir.path();
    copy_tree(&repo.join("examples/loom"), loom);
    let app = private_addr();
    let config = std::fs::read_to_string(loom.join("config.yaml")).expect("config.yaml");
    assert_eq!(config.matches("127.0.0.1:8090").count(), 2, "{config}");
    common::write(
        &loom.join("config.yaml"),
        &config.replace("127.0.0.1:8090", &app.to_string()),
    );

    // As the README runs it: in the example's folder, which has the config.
    let (server, line) = common::start_ready(
        common::bin()
            .args(["--port", "0"])
            .current_dir(loom)
            .stderr(Stdio::inherit()),
    );
    let mut server = common::Proc(server);
    assert!(
        line.contains(&format!("to http://{app}")),
        "ready line {line:?}"
    );
    let proxy = common::ready_line_addr(&line);
    let deadline = Instant::now() + FIRST_BUILD;
    while get(proxy, "/api/v1/greeting").is_none() {
        assert!(
            Instant::now() < deadline,
            "the Go app did not answer through the proxy within {FIRST_BUILD:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let mut browser = open_marked(&format!("http://{proxy}/"));
    let greeting = "document.getElementById('greeting').textContent";
    browser.wait_for(
        &format!("{greeting} === 'Hello from loom'"),
        WAIT,
        "the greeting from the Go app",
    );
    browser.eval("document.getElementById('notes').value = 'typed before the edit'; true");

    // The stylesheet: swapped in place, the page and what was typed kept.
    let colour = "getComputedStyle(document.querySelector('h1')).color";
    assert_eq!(browser.eval(colour), "rgb(70, 130, 180)");
    let css = loom.join("web/static/css/app.css");
    let style = std::fs::read_to_string(&css).expect("app.css");
    common::write(&css, &style.replace("steelblue", "tomato"));
    browser.wait_for(
        &format!("{colour} === 'rgb(255, 99, 71)'"),
        WAIT,
        "the new colour",
    );
    assert!(same_page(&mut browser), "a CSS edit reloaded the page");
    assert_eq!(
        browser.eval("document.getElementById('notes').value"),
        "typed before the edit"
    );

    // A persona: the page reloads and shows it.
    common::write(
        &loom.join("personas/reviewer/PERSONA.md"),
        "# Reviewer: reads every change three times.\n",
    );
    wait_reloaded(&mut browser, "the reload after a persona edit");
    browser.wait_for(
        "document.getElementById('personas').textContent.includes('three times')",
        WAIT,
        "the edited persona",
    );

    // A Go syntax error: the compiler's message covers the page, which
    // stays as it was underneath.
    browser.eval("window.__mark = 'same page'; true");
    let main = loom.join("main.go");
    let code = std::fs::read_to_string(&main).expect("main.go");
    common::write(
        &main,
        &code.replace("const greeting =", "const greeting :="),
    );
    browser.wait_for(
        &format!("{} !== null", super::OVERLAY),
        FIRST_BUILD,
        "the compiler's message over the page",
    );
    let shown = browser.eval(super::OVERLAY);
    let output = shown["output"].as_str().unwrap_or("");
    assert!(
        output.contains("main.go") && output.contains("syntax error"),
        "{shown}"
    );
    assert!(same_page(&mut browser));

    // Fixed, with a new greeting: the app restarts, and the page reloads
    // into the new one.
    common::write(
        &main,
        &code.replace("\"Hello from loom\"", "\"Hello again from loom\""),
    );
    wait_reloaded(&mut browser, "the reload after the app restarted");
    browser.wait_for(
        &format!("{greeting} === 'Hello again from loom'"),
        FIRST_BUILD,
        "the new app's greeting",
    );
    assert_eq!(browser.eval("document.title"), "loom");
    assert_eq!(browser.eval(&format!("{} === null", super::OVERLAY)), true);
    super::assert_no_console_errors_but(&mut browser, &["favicon.ico"]);

    // SIGTERM: hotreload stops `go run` and the program it started.
    let (status, _) = common::sigterm_and_wait(&mut server.0);
    assert_eq!(status.code(), Some(0));
    assert!(
        common::wait_until(|| TcpStream::connect(app).is_err()),
        "the app still answers on {app} after hotreload exited"
    );
}
