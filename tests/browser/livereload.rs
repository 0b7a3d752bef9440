//! LiveReload clients in Chromium (SPEC.md section 11), each on a page of
//! another server (Python's), following `hotreload watch` on its LiveReload
//! port: the real livereload-js from the npm registry, unchanged, and
//! hotreload's own script loaded as `/livereload.js`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::cdp::Browser;
use super::{WAIT, browser_turn, common, same_page, wait_reloaded};

/// Where `.ci/run` unpacks the livereload-js package from the npm registry.
const LIVERELOAD_JS: &str = "target/livereload-js/package/dist/livereload.js";

/// The installed livereload-js, or `None` (the test says so and passes)
/// outside CI.
fn livereload_js() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(LIVERELOAD_JS);
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI is set but {LIVERELOAD_JS} is missing: .ci/run installs it from the npm registry"
    );
    eprintln!("skipped: no {LIVERELOAD_JS} (bash .ci/run installs it); CI never skips");
    None
}

/// A folder served by Python on one port and watched by `hotreload watch`
/// on others, and the LiveReload port's address.
struct Sites {
    // Dropped in this order: the servers stop before their folder goes.
    _page_server: common::Proc,
    _hotreload: common::Proc,
    dir: tempfile::TempDir,
    page: SocketAddr,
    main: SocketAddr,
    livereload: SocketAddr,
}

const RED: &str = "rgb(255, 0, 0)";
const BLUE: &str = "rgb(0, 0, 255)";

fn sites() -> Sites {
    let dir = tempfile::tempdir().expect("temp dir");
    common::write(
        &dir.path().join("css/a.css"),
        &format!("h1 {{ color: {RED}; }}\n"),
    );
    common::write(&dir.path().join("img/logo.svg"), &svg("red"));
    let mut hotreload = common::bin()
        .args(["watch", ".", "--port", "0", "--livereload-port", "0"])
        .args(["--debounce", "50", "-q"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("hotreload starts");
    let mut out = BufReader::new(hotreload.stdout.take().expect("piped"));
    let mut lines = Vec::new();
    for _ in 0..3 {
        let mut line = String::new();
        out.read_line(&mut line).expect("hotreload's ready lines");
        lines.push(line);
    }
    let hotreload = common::Proc(hotreload);
    let main = common::ready_line_addr(&lines[0]);
    assert!(
        lines[2].contains("LiveReload clients: http://127.0.0.1:"),
        "{lines:?}"
    );
    let livereload = common::ready_line_addr(&lines[2]);
    let mut python = Command::new("python3")
        .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 starts");
    let mut line = String::new();
    BufReader::new(python.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("python's ready line");
    // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
    let port: u16 = line
        .split("port ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    Sites {
        _page_server: common::Proc(python),
        _hotreload: hotreload,
        dir,
        page: SocketAddr::from(([127, 0, 0, 1], port)),
        main,
        livereload,
    }
}

fn svg(fill: &str) -> String {
    format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'><rect width='10' height='10' fill='{fill}'/></svg>\n"
    )
}

fn page(script: &str, heading: &str) -> String {
    format!(
        "<!doctype html><html><head><title>lr</title><link rel=stylesheet href=/css/a.css></head>\
         <body><h1 id=title>{heading}</h1><input id=field><img id=logo src=/img/logo.svg>{script}</body></html>\n"
    )
}

impl Sites {
    fn write(&self, rel: &str, content: &str) {
        common::write(&self.dir.path().join(rel), content);
    }

    /// The first version of the page, dated a minute back. Python's server
    /// gives Last-Modified in whole seconds, so an edit in the same second
    /// would be revalidated as unchanged (304) by livereload-js's plain
    /// reload, which is that server's limit, not the client's.
    fn write_first_page(&self, content: &str) {
        let path = self.dir.path().join("index.html");
        common::write(&path, content);
        let minute_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(minute_ago))
            .expect("date the page back");
    }

    /// LiveReload clients hotreload counts now.
    fn livereload_clients(&self) -> u64 {
        let (_, _, body) = common::http(self.main, &common::get("/api/v1/hotreload/status", &[]));
        let status: serde_json::Value = serde_json::from_str(&body).expect("status JSON");
        status["livereload_clients"].as_u64().unwrap_or(0)
    }

    /// Opens the page and waits until its client has said hello.
    fn open(&self) -> Browser {
        let mut browser = Browser::open(&format!("http://{}/", self.page));
        browser.wait_for("document.readyState === 'complete'", WAIT, "the page");
        assert!(
            common::wait_until(|| self.livereload_clients() == 1),
            "the page's LiveReload client never said hello"
        );
        browser.eval(
            "window.__mark = 'same page'; document.getElementById('field').value = 'typed'; true",
        );
        browser
    }

    /// A stylesheet edit swaps it in place; a page edit reloads.
    fn css_swaps_and_html_reloads(&self, browser: &mut Browser, script: &str) {
        let colour = "getComputedStyle(document.getElementById('title')).color";
        assert_eq!(browser.eval(colour), RED);
        self.write("css/a.css", &format!("h1 {{ color: {BLUE}; }}\n"));
        browser.wait_for(&format!("{colour} === '{BLUE}'"), WAIT, "the new colour");
        assert!(same_page(browser), "a CSS edit reloaded the page");
        assert_eq!(
            browser.eval("document.getElementById('field').value"),
            "typed"
        );
        self.write("index.html", &page(script, "edited"));
        wait_reloaded(browser, "the reload after an HTML edit");
        browser.wait_for(
            "document.getElementById('title').textContent === 'edited'",
            WAIT,
            "the edited page",
        );
    }
}

#[test]
fn the_real_livereload_js_swaps_css_and_images_and_reloads_pages() {
    let Some(client) = livereload_js() else {
        return;
    };
    let Some(_turn) = browser_turn() else { return };
    let sites = sites();
    std::fs::copy(&client, sites.dir.path().join("livereload.js")).expect("copy livereload.js");
    // As its README says to load it, pointed at the LiveReload port.
    let script = format!(
        "<script src=\"/livereload.js?host=127.0.0.1&port={}\"></script>",
        sites.livereload.port()
    );
    sites.write_first_page(&page(&script, "fixture"));
    let mut browser = sites.open();
    assert_eq!(browser.eval("typeof window.LiveReload"), "object");
    // An image: swapped in place, with livereload-js's cache buster.
    sites.write("img/logo.svg", &svg("blue"));
    browser.wait_for(
        "document.getElementById('logo').src.includes('livereload=')",
        WAIT,
        "the image swapped",
    );
    assert!(same_page(&mut browser), "an image edit reloaded the page");
    sites.css_swaps_and_html_reloads(&mut browser, &script);
    super::assert_no_console_errors_but(&mut browser, &["favicon.ico"]);
}

#[test]
fn our_script_as_livereload_js_speaks_livereload_on_a_page_of_another_server() {
    let Some(_turn) = browser_turn() else { return };
    let sites = sites();
    // Where an extension or a framework's snippet puts it: the LiveReload
    // port's /livereload.js, in a page from elsewhere.
    let script = format!(
        "<script src=\"http://127.0.0.1:{}/livereload.js\"></script>",
        sites.livereload.port()
    );
    // Written now, and edited within the same second: hotreload's client
    // refreshes the cached page before it reloads, so the 304 that
    // Python's whole-second Last-Modified gives cannot bring the old one back.
    sites.write("index.html", &page(&script, "fixture"));
    let mut browser = sites.open();
    assert_eq!(
        browser.eval("window.hotReload.status().protocol"),
        "livereload"
    );
    sites.css_swaps_and_html_reloads(&mut browser, &script);
    super::assert_no_console_errors_but(&mut browser, &["favicon.ico"]);
}
