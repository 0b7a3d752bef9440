//! The browser client (SPEC.md section 5) in a real headless Chromium,
//! against the real `hotreload` binary serving a temp copy of
//! `tests/fixtures/site`. Each test names the behaviour it proves.

mod app;
mod cdp;
#[path = "../common/mod.rs"]
mod common;
mod inplace;
mod livereload;
mod loom;
mod sync;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cdp::Browser;

/// Long enough for anything on a busy machine; tests finish far sooner.
const WAIT: Duration = Duration::from_secs(15);

/// One Chromium at a time: two cores do not run several well.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

/// The fixture site served by the real binary, plus one browser page on it.
struct Site {
    dir: tempfile::TempDir,
    /// A loopback address of this site's own (see [`common::private_ip`]).
    ip: std::net::Ipv4Addr,
    port: u16,
    /// More arguments for the binary, such as `--build CMD`.
    args: Vec<String>,
    server: Option<Child>,
    _turn: MutexGuard<'static, ()>,
}

/// `None` when there is no browser to run (see [`browser_turn`]).
fn site() -> Option<Site> {
    site_with(&[])
}

/// [`site`], served with `args` too.
fn site_with(args: &[&str]) -> Option<Site> {
    let turn = browser_turn()?;
    let dir = fixture_copy();
    // Port 0 the first time; a restart takes the port it had, on an
    // address no other test binds, so that nothing can take it meanwhile.
    let mut site = Site {
        dir,
        ip: common::private_ip(),
        port: 0,
        args: args.iter().map(|a| a.to_string()).collect(),
        server: None,
        _turn: turn,
    };
    site.start_server();
    Some(site)
}

/// This test's turn at the one browser; `None` when Chromium is missing
/// and this is not CI (the test says so and passes); under `CI` a missing
/// Chromium fails the test.
fn browser_turn() -> Option<MutexGuard<'static, ()>> {
    if cdp::chromium_path().is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI is set but Chromium is missing: .ci/run installs it (apt-get install chromium)"
        );
        eprintln!("skipped: no Chromium here (apt-get install chromium); CI never skips");
        return None;
    }
    Some(
        ONE_BROWSER
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    )
}

/// A temp copy of `tests/fixtures/site`.
fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/site"),
        dir.path(),
    );
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).expect("fixture dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

impl Site {
    fn start_server(&mut self) {
        let (child, line) = common::start_ready(
            common::bin()
                .args(["serve", ".", "--port", &self.port.to_string(), "-q"])
                .args(["--host", &self.ip.to_string()])
                .args(&self.args)
                .current_dir(self.dir.path())
                .stderr(Stdio::inherit()),
        );
        let port = common::ready_line_addr(&line).port();
        assert!(self.port == 0 || self.port == port, "ready line {line:?}");
        self.port = port;
        self.server = Some(child);
    }

    fn stop_server(&mut self) {
        if let Some(mut child) = self.server.take() {
            let pid = child.id().to_string();
            let _ = Command::new("kill").args(["-TERM", &pid]).status();
            let status = child.wait().expect("wait for hotreload");
            assert_eq!(
                status.code(),
                Some(0),
                "hotreload exit status after SIGTERM"
            );
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}:{}{path}", self.ip, self.port)
    }

    fn write(&self, rel: &str, content: &str) {
        common::write(&self.dir.path().join(rel), content);
    }

    /// Opens `path` and waits until its client is connected, with a marker
    /// in `window` that only survives as long as the page is not reloaded.
    fn open(&self, path: &str) -> Browser {
        let mut browser = Browser::open(&self.url(path));
        browser.wait_connected(WAIT);
        browser.eval("window.__mark = 'same page'; true");
        browser
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn same_page(browser: &mut Browser) -> bool {
    browser.eval("window.__mark === 'same page'") == true
}

fn wait_reloaded(browser: &mut Browser, what: &str) {
    browser.wait_for(
        "window.__mark === undefined && document.readyState === 'complete'",
        WAIT,
        what,
    );
}

fn assert_no_console_errors(browser: &mut Browser) {
    assert_no_console_errors_but(browser, &[]);
}

/// Fails on any console error that contains none of `expected`.
fn assert_no_console_errors_but(browser: &mut Browser, expected: &[&str]) {
    browser.drain();
    let unexpected: Vec<_> = browser
        .errors
        .iter()
        .filter(|e| !expected.iter().any(|fragment| e.contains(fragment)))
        .collect();
    assert!(unexpected.is_empty(), "console errors: {unexpected:#?}");
}

/// While the server was down Chromium logged failed WebSocket connections,
/// and, when the server stopped before Chromium's lazy `/favicon.ico`
/// request, a refused load; nothing else may have gone wrong.
fn assert_only_server_down_errors(browser: &mut Browser) {
    assert_no_console_errors_but(browser, &["WebSocket connection", "ERR_CONNECTION_REFUSED"]);
}

/// Records, across the coming reload, when the change arrived and what the
/// notification said, in sessionStorage.
fn record_change_and_notice(browser: &mut Browser) {
    browser.eval(
        "addEventListener('hotreload:change', () => sessionStorage.setItem('changeAt', String(Date.now())));
         new MutationObserver(() => {
           const host = document.getElementById('hotreload-notification');
           if (host) sessionStorage.setItem('notice', host.shadowRoot.textContent);
         }).observe(document.body, {childList: true});
         true",
    );
}

#[test]
fn css_edit_restyles_and_keeps_input_scroll_and_js_state() {
    let Some(site) = site() else { return };
    let mut browser = site.open("/");
    browser.eval("document.getElementById('field').value = 'typed by a user'; window.scrollTo(0, 400); window.appState = {count: 7}; window.links = document.querySelectorAll('link[rel=stylesheet]').length; true");
    assert_eq!(
        browser.eval("getComputedStyle(document.getElementById('title')).color"),
        "rgb(255, 0, 0)"
    );
    site.write("css/a.css", "#title { color: rgb(0, 0, 255); }\n");
    browser.wait_for(
        "getComputedStyle(document.getElementById('title')).color === 'rgb(0, 0, 255)'",
        WAIT,
        "the new colour",
    );
    assert!(same_page(&mut browser), "the page reloaded for a CSS edit");
    assert_eq!(
        browser.eval("document.getElementById('field').value"),
        "typed by a user"
    );
    assert_eq!(browser.eval("window.scrollY"), 400);
    assert_eq!(browser.eval("window.appState.count"), 7);
    assert_eq!(browser.eval("sessionStorage.getItem('loads')"), "1");
    // Exactly one stylesheet element per sheet once the swap is done.
    browser.wait_for(
        "document.querySelectorAll('link[rel=stylesheet]').length === window.links",
        WAIT,
        "the old link removed",
    );
    assert_no_console_errors(&mut browser);
}

#[test]
fn only_the_matching_stylesheet_is_refetched() {
    let Some(site) = site() else { return };
    let mut browser = site.open("/");
    let hrefs = "JSON.stringify(['a','b','v','other'].map(id => document.getElementById(id).getAttribute('href')))";
    let before = browser.eval(hrefs);
    site.write("css/b.css", "#field { width: 300px; }\n");
    browser.wait_for(
        "getComputedStyle(document.getElementById('field')).width === '300px'",
        WAIT,
        "b.css applied",
    );
    let after: Vec<String> =
        serde_json::from_str(browser.eval(hrefs).as_str().expect("string")).expect("list");
    let before: Vec<String> = serde_json::from_str(before.as_str().expect("string")).expect("list");
    assert_eq!(after[0], before[0], "a.css was re-fetched");
    assert!(
        after[1].starts_with("http://") && after[1].contains("/css/b.css?hotreload="),
        "{}",
        after[1]
    );
    assert_eq!(after[2], before[2], "versioned.css was re-fetched");
    assert_eq!(
        after[3], before[3],
        "another origin's stylesheet was touched"
    );
    assert!(same_page(&mut browser));
    assert_no_console_errors(&mut browser);
}

#[test]
fn one_batch_of_two_stylesheets_refetches_both() {
    // A fixed quiet time makes the two saves one batch, the case under
    // test; under `auto` the first, complete at once, would go alone.
    let Some(site) = site_with(&["--debounce", "300"]) else {
        return;
    };
    let mut browser = site.open("/");
    // The two sheets sit at different depths, so /css/b.css matches its
    // changed path by more segments than /theme.css matches its own.
    browser.eval("window.batches = []; addEventListener('hotreload:change', e => window.batches.push(e.detail.changes.length)); true");
    let hrefs = "JSON.stringify(['a','b','v','t'].map(id => document.getElementById(id).getAttribute('href')))";
    let before: Vec<String> =
        serde_json::from_str(browser.eval(hrefs).as_str().expect("string")).expect("list");
    site.write("css/b.css", "#field { width: 310px; }\n");
    site.write("theme.css", "h1 { letter-spacing: 4px; }\n");
    browser.wait_for(
        "getComputedStyle(document.getElementById('field')).width === '310px' \
         && getComputedStyle(document.getElementById('title')).letterSpacing === '4px'",
        WAIT,
        "b.css and theme.css applied",
    );
    assert_eq!(
        browser.eval("JSON.stringify(window.batches)").as_str(),
        Some("[2]"),
        "both saves should arrive as one batch"
    );
    let after: Vec<String> =
        serde_json::from_str(browser.eval(hrefs).as_str().expect("string")).expect("list");
    assert_eq!(after[0], before[0], "a.css was re-fetched");
    assert_eq!(after[2], before[2], "versioned.css was re-fetched");
    for i in [1, 3] {
        assert!(after[i].contains("hotreload="), "{}", after[i]);
    }
    assert!(same_page(&mut browser));
    assert_no_console_errors(&mut browser);
}

/// Issue 17's client: a CSS change is swapped in by the task that gets the
/// message, with no timer on the way (the new `<link>` is in the document
/// when the message handler returns), so the browser starts fetching the
/// new sheet at once.
#[test]
fn a_css_swap_starts_in_the_task_of_its_message() {
    let Some(site) = site() else { return };
    let mut browser = site.open("/");
    // Before the client runs: wrap the socket's message handler the client
    // sets, to look at the document as the handler returns, and count the
    // timers set meanwhile.
    browser.call(
        "Page.addScriptToEvaluateOnNewDocument",
        serde_json::json!({ "source": r#"
            window.__handled = [];
            const setTimer = window.setTimeout;
            let inHandler = false, timers = 0;
            window.setTimeout = function () { if (inHandler) timers++; return setTimer.apply(this, arguments); };
            window.WebSocket = class extends window.WebSocket {
                set onmessage(f) {
                    super.onmessage = f && (event => {
                        inHandler = true; timers = 0;
                        try { f(event); } finally { inHandler = false; }
                        window.__handled.push({
                            type: JSON.parse(event.data).type,
                            links: document.querySelectorAll('link[rel~="stylesheet"]').length,
                            timers,
                        });
                    });
                }
                get onmessage() { return super.onmessage; }
            };
        "# }),
    );
    browser.call("Page.reload", serde_json::json!({}));
    browser.wait_for(
        "(window.__handled || []).some(h => h.type === 'connected')",
        WAIT,
        "the wrapped client connected",
    );
    let links = browser.eval("document.querySelectorAll('link[rel~=\"stylesheet\"]').length");
    site.write("css/a.css", "body { word-spacing: 7px; }\n");
    browser.wait_for(
        "getComputedStyle(document.body).wordSpacing === '7px'",
        WAIT,
        "a.css applied",
    );
    let handled =
        browser.eval("JSON.stringify(window.__handled.filter(h => h.type === 'file_changed'))");
    let handled: serde_json::Value =
        serde_json::from_str(handled.as_str().expect("string")).expect("JSON");
    let links = links.as_u64().expect("a count");
    assert_eq!(
        handled,
        serde_json::json!([{ "type": "file_changed", "links": links + 1, "timers": 0 }]),
        "the new stylesheet should be in the page when the handler returns, with no timer set"
    );
    assert_no_console_errors(&mut browser);
}

#[test]
fn a_versioned_stylesheet_keeps_its_version() {
    let Some(site) = site() else { return };
    let mut browser = site.open("/");
    site.write("css/versioned.css", "h1 { margin-top: 9px; }\n");
    browser.wait_for(
        "getComputedStyle(document.getElementById('title')).marginTop === '9px'",
        WAIT,
        "versioned.css applied",
    );
    let href = browser.eval("document.getElementById('v').href");
    let href = href.as_str().expect("href");
    assert!(
        href.contains("v=3") && href.contains("hotreload="),
        "{href}"
    );
    assert_no_console_errors(&mut browser);
}

#[test]
fn a_stylesheet_no_page_links_refreshes_every_same_origin_sheet() {
    let Some(site) = site() else { return };
    let mut browser = site.open("/");
    site.write("css/unlinked.css", "p { margin: 1px; }\n");
    browser.wait_for(
        "['a','b','v'].every(id => document.getElementById(id).href.includes('hotreload='))",
        WAIT,
        "every same-origin stylesheet re-fetched",
    );
    assert!(
        !browser
            .eval("document.getElementById('other').href")
            .as_str()
            .unwrap_or("")
            .contains("hotreload=")
    );
    assert!(same_page(&mut browser));
    assert_no_console_errors(&mut browser);
}

#[test]
fn js_edit_shows_a_notice_then_reloads_after_about_500_ms() {
    let Some(site) = site() else { return };
    let mut browser = site.open("/");
    record_change_and_notice(&mut browser);
    site.write("js/app.js", "sessionStorage.setItem('loads', String(Number(sessionStorage.getItem('loads') || 0) + 1)); window.edited = true;\n");
    wait_reloaded(&mut browser, "the reload after a JS edit");
    browser.wait_for("window.edited === true", WAIT, "the new script");
    assert_eq!(
        browser.eval("sessionStorage.getItem('notice')"),
        "Reloading: JavaScript file changed"
    );
    let delay = browser.eval("performance.timeOrigin - Number(sessionStorage.getItem('changeAt'))");
    let delay = delay.as_f64().expect("a number");
    assert!(
        delay >= 400.0,
        "reloaded {delay} ms after the change: the notice had no time"
    );
    assert!(delay < 10_000.0, "reloaded {delay} ms after the change");
    eprintln!("JS edit: reload {delay:.0} ms after the message");
    assert_no_console_errors(&mut browser);
}

#[test]
fn html_edit_reloads_at_once() {
    let Some(site) = site() else { return };
    let mut browser = site.open("/");
    record_change_and_notice(&mut browser);
    let html = std::fs::read_to_string(site.dir.path().join("index.html")).expect("read");
    site.write("index.html", &html.replace("fixture page", "edited page"));
    wait_reloaded(&mut browser, "the reload after an HTML edit");
    browser.wait_for(
        "document.getElementById('title').textContent === 'edited page'",
        WAIT,
        "the new HTML",
    );
    let delay = browser.eval("performance.timeOrigin - Number(sessionStorage.getItem('changeAt'))");
    eprintln!("HTML edit: reload {delay} ms after the message");
    assert_eq!(
        browser.eval("sessionStorage.getItem('notice')"),
        serde_json::Value::Null,
        "no notice for HTML"
    );
    assert_no_console_errors(&mut browser);
}

#[test]
fn persona_markdown_edit_reloads() {
    let Some(site) = site() else { return };
    let mut browser = site.open("/");
    site.write("personas/PERSONA.md", "# Robert\n");
    wait_reloaded(&mut browser, "the reload after a persona edit");
    assert_eq!(browser.eval("sessionStorage.getItem('loads')"), "2");
    assert_no_console_errors(&mut browser);
}

#[test]
fn image_edit_swaps_img_srcset_and_background_without_reload() {
    let Some(site) = site() else { return };
    let mut browser = site.open("/");
    site.write("img/logo.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"><rect width=\"10\" height=\"10\" fill=\"blue\"/></svg>\n");
    browser.wait_for(
        "document.getElementById('logo').getAttribute('src').includes('hotreload=')",
        WAIT,
        "the img src swapped",
    );
    let srcset = browser.eval("document.getElementById('logo').getAttribute('srcset')");
    let srcset = srcset.as_str().expect("srcset");
    assert!(
        srcset.contains("logo.svg?hotreload=")
            && srcset.contains("/img/other.svg 2x")
            && !srcset.contains("other.svg?"),
        "{srcset}"
    );
    assert!(same_page(&mut browser), "the page reloaded for an image");
    site.write(
        "img/bg.svg",
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\"/>\n",
    );
    browser.wait_for(
        "getComputedStyle(document.getElementById('bg')).backgroundImage.includes('hotreload=')",
        WAIT,
        "the CSS background image swapped",
    );
    assert!(same_page(&mut browser));
    assert_no_console_errors(&mut browser);
}

#[test]
fn a_cancelled_change_keeps_the_page() {
    let Some(site) = site() else { return };
    let mut browser = site.open("/");
    browser.eval("window.seen = []; addEventListener('hotreload:change', e => { window.seen.push(e.detail.path); e.preventDefault(); }); true");
    site.write("js/app.js", "// edited\n");
    browser.wait_for(
        "window.seen.length === 1",
        WAIT,
        "the hotreload:change event",
    );
    assert_eq!(browser.eval("window.seen[0]"), "js/app.js");
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        same_page(&mut browser),
        "reloaded although the event was cancelled"
    );
    assert_eq!(browser.eval("window.hotReload.status().seq"), 1);
    assert_no_console_errors(&mut browser);
}

#[test]
fn the_page_toast_is_used_when_it_has_one() {
    let Some(site) = site() else { return };
    let mut browser = site.open("/");
    browser.eval("window.showToast = (m, t) => sessionStorage.setItem('toast', m + '|' + t); true");
    site.write("js/app.js", "// edited\n");
    wait_reloaded(&mut browser, "the reload");
    assert_eq!(
        browser.eval("sessionStorage.getItem('toast')"),
        "Reloading: JavaScript file changed|info"
    );
    assert_no_console_errors(&mut browser);
}

#[test]
fn status_test_and_reconnect() {
    let Some(site) = site() else { return };
    let mut browser = site.open("/");
    let status = browser.eval("window.hotReload.status()");
    assert_eq!(status["connected"], true);
    assert_eq!(status["attempts"], 0);
    assert_eq!(status["seq"], 0);
    assert_eq!(
        status["url"],
        format!("ws://{}:{}/ws/hotreload?page=%2F", site.ip, site.port)
    );
    assert!(status["id"].as_u64().is_some(), "{status}");
    assert_eq!(status["sync"], false);
    let server_id = status["serverId"].as_str().expect("serverId").to_string();
    assert_eq!(server_id.len(), 8);

    browser.eval("window.hotReload.reconnect(); true");
    browser.wait_for("window.hotReload.status().connected", WAIT, "reconnected");
    assert_eq!(
        browser.eval("window.hotReload.status().serverId"),
        server_id.as_str()
    );
    assert!(
        same_page(&mut browser),
        "reconnecting to the same server reloaded the page"
    );

    record_change_and_notice(&mut browser);
    browser.eval("window.hotReload.test(); true");
    wait_reloaded(&mut browser, "the test reload");
    assert_eq!(
        browser.eval("sessionStorage.getItem('notice')"),
        "Reloading: hot reload test"
    );
    assert_no_console_errors(&mut browser);
}

#[test]
fn a_change_while_the_server_is_down_reloads_once_it_is_back() {
    let Some(mut site) = site() else { return };
    let mut browser = site.open("/");
    site.stop_server();
    browser.wait_for(
        "!window.hotReload.status().connected",
        WAIT,
        "the client to notice",
    );
    site.write("css/a.css", "#title { color: rgb(0, 128, 0); }\n");
    site.start_server();
    wait_reloaded(&mut browser, "the reload after the server came back");
    browser.wait_connected(WAIT);
    assert_eq!(
        browser.eval("getComputedStyle(document.getElementById('title')).color"),
        "rgb(0, 128, 0)"
    );
    assert_only_server_down_errors(&mut browser);
}

#[test]
fn the_client_gives_up_after_its_attempts_with_a_notice() {
    let Some(mut site) = site() else { return };
    let mut browser = site.open("/giveup.html");
    site.stop_server();
    let started = Instant::now();
    browser.wait_for(
        "!!document.getElementById('hotreload-notification') && document.getElementById('hotreload-notification').shadowRoot.textContent.includes('lost the server')",
        WAIT,
        "the give-up notice",
    );
    eprintln!("gave up after {:?}", started.elapsed());
    let status = browser.eval("window.hotReload.status()");
    assert_eq!(
        (status["connected"].clone(), status["attempts"].clone()),
        (false.into(), 2.into()),
        "{status}"
    );
    assert!(same_page(&mut browser));
    // The notice lives in a shadow root: page CSS cannot reach its text.
    assert_eq!(
        browser.eval("document.getElementById('hotreload-notification').shadowRoot.mode"),
        "open"
    );
    assert_only_server_down_errors(&mut browser);
}

#[test]
fn without_websocket_support_one_console_line_and_no_exception() {
    let Some(site) = site() else { return };
    let mut browser = Browser::open(&site.url("/nows.html"));
    browser.wait_for(
        "document.readyState === 'complete' && !!window.hotReload",
        WAIT,
        "the page",
    );
    assert_eq!(browser.eval("window.hotReload.status().connected"), false);
    assert_no_console_errors(&mut browser);
}

#[test]
fn no_reload_into_an_error_page_while_files_are_missing() {
    let Some(site) = site() else { return };
    let mut browser = site.open("/");
    let html = std::fs::read_to_string(site.dir.path().join("index.html")).expect("read");
    std::fs::remove_file(site.dir.path().join("index.html")).expect("delete the page");
    browser.wait_for(
        "window.hotReload.status().seq === 1",
        WAIT,
        "the deletion message",
    );
    std::thread::sleep(Duration::from_millis(1200));
    assert!(
        same_page(&mut browser),
        "reloaded into a 404 while the page was missing"
    );
    site.write("index.html", &html);
    wait_reloaded(&mut browser, "the reload once the page is back");
    browser.wait_for(
        "document.getElementById('title') !== null",
        WAIT,
        "the page content",
    );
    // The client's probe saw 404s while the page was missing; Chromium logs those.
    assert_no_console_errors_but(&mut browser, &["404"]);
}

#[test]
fn a_stylesheet_that_fails_to_load_keeps_the_old_one() {
    let Some(site) = site() else { return };
    let mut browser = site.open("/");
    browser.eval("window.links = document.querySelectorAll('link[rel=stylesheet]').length; true");
    // A FIFO where the file was: the batch says `css`, the server refuses it (403).
    let path = site.dir.path().join("css/a.css");
    std::fs::remove_file(&path).expect("remove");
    let status = Command::new("mkfifo")
        .arg(&path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    browser.wait_for("window.hotReload.status().seq === 1", WAIT, "the css batch");
    browser.wait_for(
        "document.querySelectorAll('link[rel=stylesheet]').length === window.links && !document.getElementById('a').hotreloadNext",
        WAIT,
        "the failed load to be given up",
    );
    assert_eq!(
        browser.eval("getComputedStyle(document.getElementById('title')).color"),
        "rgb(255, 0, 0)"
    );
    assert_eq!(
        browser.eval("document.getElementById('a').getAttribute('href')"),
        "/css/a.css"
    );
    assert!(same_page(&mut browser));
    // Chromium reports the refused load twice: the 403, and its text/plain body.
    assert_no_console_errors_but(&mut browser, &["403", "MIME type"]);
}

#[test]
fn a_batch_of_several_kinds_takes_the_strongest_action() {
    let Some(site) = site() else { return };
    let mut browser = site.open("/");
    record_change_and_notice(&mut browser);
    // One batch: a stylesheet and a script. The script wins: notice, then reload.
    site.write("css/a.css", "#title { color: rgb(1, 2, 3); }\n");
    site.write("js/app.js", "sessionStorage.setItem('loads', String(Number(sessionStorage.getItem('loads') || 0) + 1));\n");
    wait_reloaded(&mut browser, "the reload for a CSS+JS batch");
    assert_eq!(
        browser.eval("sessionStorage.getItem('notice')"),
        "Reloading: JavaScript file changed"
    );
    assert_eq!(
        browser.eval("getComputedStyle(document.getElementById('title')).color"),
        "rgb(1, 2, 3)"
    );
    assert_no_console_errors(&mut browser);
}

#[test]
fn page_css_cannot_hide_or_restyle_the_notice_and_it_goes_away() {
    let Some(mut site) = site() else { return };
    let mut browser = site.open("/giveup.html");
    browser.eval(
        "const s = document.createElement('style');
         s.textContent = 'div { display: none !important; font-size: 40px !important; color: lime !important; position: static !important }';
         document.head.appendChild(s); true",
    );
    site.stop_server();
    browser.wait_for(
        "!!document.getElementById('hotreload-notification')",
        WAIT,
        "the give-up notice",
    );
    let shown = browser.eval(
        "(() => { const host = document.getElementById('hotreload-notification');
                  const box = host.shadowRoot.firstChild; const r = host.getBoundingClientRect();
                  const style = getComputedStyle(host);
                  return {w: r.width, h: r.height, position: style.position, display: style.display,
                          font: getComputedStyle(box).fontSize, color: getComputedStyle(box).color}; })()",
    );
    assert!(
        shown["w"].as_f64().unwrap_or(0.0) > 50.0 && shown["h"].as_f64().unwrap_or(0.0) > 10.0,
        "{shown}"
    );
    assert_eq!(
        (shown["position"].as_str(), shown["display"].as_str()),
        (Some("fixed"), Some("block")),
        "{shown}"
    );
    assert_eq!(
        (shown["font"].as_str(), shown["color"].as_str()),
        (Some("14px"), Some("rgb(255, 255, 255)")),
        "{shown}"
    );
    // It removes itself (the error notice after 8 s).
    browser.wait_for(
        "!document.getElementById('hotreload-notification')",
        WAIT,
        "the notice to go away",
    );
    assert!(same_page(&mut browser));
}

/// Opens `url` and waits until its client is connected, with the marker
/// that a reload removes.
fn open_marked(url: &str) -> Browser {
    let mut browser = Browser::open(url);
    browser.wait_connected(WAIT);
    browser.eval("window.__mark = 'same page'; true");
    browser
}

#[test]
fn a_page_of_an_app_that_routes_no_head_reloads_at_once() {
    let Some(_turn) = browser_turn() else { return };
    let dir = fixture_copy();
    let app = app::HostApp::start(dir.path());
    let mut browser = open_marked(&app.url("/"));
    record_change_and_notice(&mut browser);
    common::write(
        &dir.path().join("index.html"),
        &std::fs::read_to_string(dir.path().join("index.html"))
            .expect("page")
            .replace("fixture page", "edited page"),
    );
    wait_reloaded(&mut browser, "the reload after an HTML edit");
    let delay = browser.eval("performance.timeOrigin - Number(sessionStorage.getItem('changeAt'))");
    let delay = delay.as_f64().expect("a number");
    // The probe asked with HEAD once, and waited out its 5 s on the 405s.
    assert!(delay < 2500.0, "reloaded {delay} ms after the change");
    assert_eq!(
        browser.eval("document.getElementById('title').textContent"),
        "edited page"
    );
}

#[test]
fn a_second_css_batch_during_a_slow_load_leaves_no_stale_sheet() {
    let Some(_turn) = browser_turn() else { return };
    let dir = fixture_copy();
    common::write(
        &dir.path().join("slow.html"),
        "<!doctype html><link id=s rel=stylesheet href=/css/slow.css><h1 id=title>slow</h1>",
    );
    common::write(
        &dir.path().join("css/slow.css"),
        "#title { color: rgb(255, 0, 0); border-left: 5px solid black; }\n",
    );
    let app = app::HostApp::start(dir.path());
    let mut browser = open_marked(&app.url("/slow.html"));
    // The first swap loads for 1.5 s; the second batch comes meanwhile.
    common::write(
        &dir.path().join("css/slow.css"),
        "#title { color: rgb(0, 128, 0); }\n",
    );
    browser.wait_for(
        "window.hotReload.status().seq === 1",
        WAIT,
        "the first batch",
    );
    common::write(
        &dir.path().join("css/slow.css"),
        "#title { color: rgb(0, 0, 255); }\n",
    );
    let settled = "(() => { const t = getComputedStyle(document.getElementById('title'));
        return t.color === 'rgb(0, 0, 255)' && t.borderLeftStyle === 'none'
          && document.querySelectorAll('link[href*=\"slow.css\"]').length === 1; })()";
    browser.wait_for(settled, WAIT, "only the newest sheet, once");
    // And still so once the slow load has come back.
    assert!(common::wait_until(|| app
        .slow_served
        .load(std::sync::atomic::Ordering::SeqCst)));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(browser.eval(settled), true);
    assert!(same_page(&mut browser));
}

#[test]
fn a_stylesheet_whose_name_has_a_space_is_matched_alone() {
    let Some(site) = site() else { return };
    site.write(
        "spaces.html",
        "<!doctype html><link id=s rel=stylesheet href=\"/css/my%20sheet.css\">\
         <link id=a rel=stylesheet href=/css/a.css><h1 id=title>spaces</h1>",
    );
    site.write("css/my sheet.css", "#title { margin-top: 1px; }\n");
    let mut browser = site.open("/spaces.html");
    let a_before = browser.eval("document.getElementById('a').href");
    site.write("css/my sheet.css", "#title { margin-top: 7px; }\n");
    browser.wait_for(
        "getComputedStyle(document.getElementById('title')).marginTop === '7px'",
        WAIT,
        "the sheet with a space swapped",
    );
    // Matched by its own name, not by the fallback that swaps every sheet.
    assert_eq!(browser.eval("document.getElementById('a').href"), a_before);
    assert!(same_page(&mut browser));
    assert_no_console_errors(&mut browser);
}

#[test]
fn through_the_proxy_css_swaps_in_place_and_a_restarted_backend_reloads_the_page() {
    let Some(_turn) = browser_turn() else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    common::write(
        &dir.path().join("static/app.css"),
        "h1 { color: rgb(255, 0, 0); }\n",
    );
    let ip = common::private_ip();
    let mut backend = common::Backend::start_on(&dir.path().join("static"), ip, 0);
    let (proxy, line) = common::start_ready(
        common::bin()
            .args([
                "proxy",
                &backend.url(),
                "--port",
                "0",
                "--watch",
                "static",
                "-q",
            ])
            .current_dir(dir.path())
            .stderr(Stdio::inherit()),
    );
    let mut proxy = common::Proc(proxy);
    let addr = common::ready_line_addr(&line);
    let mut browser = open_marked(&format!("http://{addr}/"));
    let color = "getComputedStyle(document.getElementById('title')).color";
    assert_eq!(browser.eval(color), "rgb(255, 0, 0)");
    common::write(
        &dir.path().join("static/app.css"),
        "h1 { color: rgb(0, 0, 255); }\n",
    );
    browser.wait_for(
        &format!("{color} === 'rgb(0, 0, 255)'"),
        WAIT,
        "the new colour, through the proxy",
    );
    assert!(same_page(&mut browser), "a CSS edit reloaded the page");
    // The app goes down: a reload shows the proxy's page, which comes back
    // by itself once the app answers again on its port.
    let port = backend.addr.port();
    drop(backend);
    browser.eval("location.reload(); true");
    browser.wait_for(
        "document.title === 'The backend is not answering'",
        WAIT,
        "the 502 page",
    );
    backend = common::Backend::start_on(&dir.path().join("static"), ip, port);
    browser.wait_for(
        &format!("document.title === 'backend' && !!document.getElementById('title') && {color} === 'rgb(0, 0, 255)'"),
        WAIT,
        "the page back, styled, once the app answers",
    );
    let (status, _) = common::sigterm_and_wait(&mut proxy);
    assert_eq!(status.code(), Some(0));
    drop(backend);
    // The 502 page's own load, its checks while the app was down, and the
    // app's missing icon.
    assert_no_console_errors_but(
        &mut browser,
        &["502", "Bad Gateway", "WebSocket connection", "favicon.ico"],
    );
}

/// What the overlay shows: its title and its output, or `null` when none.
const OVERLAY: &str = "(() => { const host = document.getElementById('hotreload-overlay');
    if (!host) return null;
    const root = host.shadowRoot;
    return {title: root.querySelector('[role=alertdialog] div div').textContent,
            output: root.querySelector('pre').textContent,
            markup: root.querySelectorAll('b, img').length,
            covers: host.getBoundingClientRect().height >= innerHeight - 1}; })()";

#[test]
fn a_failed_build_covers_the_page_with_its_output_until_the_fix_reloads_it() {
    let build = "test -e ok || { printf '\\033[31merror\\033[0m in <b>app.css</b>: <img src=x onerror=window.ran=1>\\n' >&2; exit 2; }";
    let Some(site) = site_with(&["--build", build]) else {
        return;
    };
    let mut browser = site.open("/");
    // Every notice shown, however briefly: the build's own is short.
    browser.eval(
        "window.__notices = [];
         new MutationObserver(() => {
           const host = document.getElementById('hotreload-notification');
           if (host) window.__notices.push(host.shadowRoot.textContent);
         }).observe(document.body, {childList: true});
         true",
    );
    site.write("css/a.css", "#title { color: rgb(0, 128, 0); }\n");
    browser.wait_for(&format!("{OVERLAY} !== null"), WAIT, "the overlay");
    assert_eq!(
        browser.eval("window.__notices.some(n => n.startsWith('Building: test -e ok'))"),
        true,
        "no notice while it built: {}",
        browser.eval("window.__notices")
    );
    let shown = browser.eval(OVERLAY);
    assert!(
        shown["title"]
            .as_str()
            .unwrap_or("")
            .starts_with("Build failed: test -e ok")
            && shown["title"]
                .as_str()
                .unwrap_or("")
                .contains("exit code 2"),
        "{shown}"
    );
    assert_eq!(
        shown["output"].as_str(),
        Some("error in <b>app.css</b>: <img src=x onerror=window.ran=1>\n"),
        "{shown}"
    );
    assert_eq!(shown["markup"], 0, "output became markup: {shown}");
    assert_eq!(shown["covers"], true, "{shown}");
    assert!(
        browser.eval("window.ran === undefined") == true,
        "output ran as code"
    );
    // The stylesheet waited for the build: not swapped.
    assert_eq!(
        browser.eval("getComputedStyle(document.getElementById('title')).color"),
        "rgb(255, 0, 0)"
    );
    // Esc closes it; a page opened while the build is broken shows it at once.
    browser.eval("document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true})); true");
    browser.wait_for(
        &format!("{OVERLAY} === null"),
        WAIT,
        "Esc to close the overlay",
    );
    let mut second = Browser::open(&site.url("/"));
    second.wait_for(
        &format!("{OVERLAY} !== null"),
        WAIT,
        "the overlay on a page opened now",
    );
    drop(second);
    // The fix: the overlay goes and the page reloads, with the new style.
    site.write("ok", "");
    wait_reloaded(&mut browser, "the reload after the build is fixed");
    browser.wait_for(
        "getComputedStyle(document.getElementById('title')).color === 'rgb(0, 128, 0)'",
        WAIT,
        "the new style",
    );
    assert_eq!(browser.eval(&format!("{OVERLAY} === null")), true);
    assert_no_console_errors(&mut browser);
}

#[test]
fn failed_tests_show_their_output_and_passing_ones_a_notice() {
    let test = "! grep -q broken bad.css 2>/dev/null || { echo 'assertion failed: left == right' >&2; exit 1; }";
    let Some(site) = site_with(&["--test", test]) else {
        return;
    };
    let mut browser = site.open("/");
    let tests = "(() => { const host = document.getElementById('hotreload-tests');
        return host ? host.shadowRoot.querySelector('pre').textContent : null; })()";
    // A stylesheet: swapped in place, so the page stays while tests run.
    site.write("bad.css", "/* broken */ p {}");
    browser.wait_for(&format!("{tests} !== null"), WAIT, "the failed tests");
    assert!(
        browser
            .eval(tests)
            .as_str()
            .unwrap_or("")
            .contains("assertion failed: left == right")
    );
    // They never hold the page: it is still usable underneath.
    assert!(same_page(&mut browser));
    assert_eq!(
        browser.eval("document.getElementById('hotreload-tests').getBoundingClientRect().top > 0"),
        true
    );
    site.write("bad.css", "/* fixed */ p {}");
    browser.wait_for(
        &format!("{tests} === null"),
        WAIT,
        "the panel gone once tests pass",
    );
    browser.wait_for(
        "(() => { const n = document.getElementById('hotreload-notification');
            return !!n && n.shadowRoot.textContent.startsWith('Tests passed'); })()",
        WAIT,
        "the passing notice",
    );
}
