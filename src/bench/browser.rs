//! The browser rows of `hotreload bench --browser`: save to screen in a
//! real headless Chromium, driven over DevTools ([`cdp`](super::cdp)),
//! against the real binary in its own process. Runs on the calling thread.
//!
//! A CSS edit counts from the write's return to the page computing the new
//! colour; an HTML edit from the write's return to the new page's
//! `DOMContentLoaded`. The page stamps its side with
//! `performance.timeOrigin + performance.now()`, the bench its side with the
//! system clock, both in Unix milliseconds on the same machine; the report says how far apart
//! the two clocks were seen. Saves are one at a time: the next is written
//! only once the page shows the last and a settle time has passed, so each
//! is a batch of its own.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use super::cdp::{self, Chromium};
use super::{Failed, ServerProcess, TempTree, bench_error, percentile, write_file as write};

/// How long one save may take to reach the page, beyond the debounce.
const SAVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Quiet time after the page shows a save, before the next: twice the
/// 100 ms that ends a batch, so every save starts a batch of its own.
const SETTLE: Duration = Duration::from_millis(200);

/// How long the page waits in one DevTools call before answering "not yet".
const POLL_MS: u64 = 250;

/// What was edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    /// The stylesheet: measured to the new style computed in the page.
    Css,
    /// The page itself: measured to the new page's `DOMContentLoaded`.
    Html,
}

impl Edit {
    /// `css` or `html`.
    pub fn name(self) -> &'static str {
        match self {
            Edit::Css => "css",
            Edit::Html => "html",
        }
    }
}

/// One edit at one debounce setting.
#[derive(Debug, Clone)]
pub struct BrowserRow {
    /// What was edited.
    pub edit: Edit,
    /// `--debounce` given to the server; `None`: its default.
    pub debounce_ms: Option<u64>,
    /// Saves measured.
    pub saves: usize,
    /// From the write's return to the page, ms: min, p50, p95, max.
    pub ms: [f64; 4],
}

/// The browser rows and what they were measured with.
#[derive(Debug, Clone)]
pub struct BrowserRows {
    /// Chromium's product and version, as it names itself.
    pub chromium: String,
    /// The page's clock minus the bench's, ms, the largest seen.
    pub clock_offset_ms: f64,
    /// How exactly that was seen: half the quickest round trip, ms.
    pub clock_error_ms: f64,
    /// CSS then HTML, each at the fixed debounce and at the default.
    pub rows: Vec<BrowserRow>,
}

/// Whether the browser rows ran.
#[derive(Debug, Clone)]
pub enum Browser {
    /// `--browser` was not given.
    NotAsked,
    /// Skipped, as there is no Chromium here: why, and how to get one.
    Skipped(String),
    /// Measured.
    Measured(BrowserRows),
}

/// Measures CSS and HTML saves, `saves` of each, at `--debounce
/// debounce_ms` and at the server's default, or says why it cannot.
pub fn measure(
    exe: &Path,
    dir: &Path,
    debounce_ms: u64,
    saves: usize,
    mut progress: impl FnMut(&str),
) -> Result<Browser, Failed> {
    let Some(chromium_exe) = cdp::chromium_path().filter(|p| p.exists()) else {
        let looked = match std::env::var_os("CHROMIUM") {
            Some(path) => format!(
                "CHROMIUM names {}, which is not there",
                Path::new(&path).display()
            ),
            None => "no Chromium at /usr/bin/chromium or /usr/bin/chromium-browser".into(),
        };
        let why = format!("{looked}; {}", cdp::INSTALL);
        progress(&format!("browser: skipped: {why}"));
        return Ok(Browser::Skipped(why));
    };
    let mut chromium = Chromium::start(&chromium_exe)?;
    let mut measured = BrowserRows {
        chromium: chromium.version.clone(),
        clock_offset_ms: 0.0,
        clock_error_ms: f64::INFINITY,
        rows: Vec::new(),
    };
    let mut rows = Vec::new();
    for debounce in [Some(debounce_ms), None] {
        let label = debounce.map_or("the default debounce".into(), |d| format!("--debounce {d}"));
        progress(&format!(
            "browser: {saves} CSS and {saves} HTML saves in {} at {label}",
            measured.chromium
        ));
        let site = TempTree::new(dir, "browser")?;
        write(&site.0.join("index.html"), &page(0))?;
        write(&site.0.join("css/app.css"), &stylesheet(0))?;
        let debounce_arg = debounce.map(|d| d.to_string());
        let mut args = vec!["serve", ".", "--port", "0", "-q"];
        if let Some(d) = &debounce_arg {
            args.extend(["--debounce", d]);
        }
        let server = ServerProcess::run(exe, &site.0, &args)?;
        chromium.navigate(&format!("http://{}/", server.addr))?;
        wait(
            &mut chromium,
            &html_probe(0),
            Instant::now() + SAVE_TIMEOUT,
            "the page to load and its hot-reload client to connect",
        )?;
        let (offset, error) = clock_offset(&mut chromium)?;
        if offset.abs() > measured.clock_offset_ms.abs() {
            measured.clock_offset_ms = offset;
        }
        measured.clock_error_ms = measured.clock_error_ms.min(error);

        let stylesheet_path = site.0.join("css/app.css");
        let mut css = Vec::with_capacity(saves);
        for n in 1..=saves {
            write(&stylesheet_path, &stylesheet(n))?;
            let written = unix_ms();
            let seen = wait(
                &mut chromium,
                &format!("() => window.benchSeen[{:?}] ?? null", colour(n)),
                Instant::now() + SAVE_TIMEOUT,
                &format!("CSS save {n} to show (body colour {})", colour(n)),
            )?;
            css.push(seen - written);
            thread::sleep(SETTLE);
        }
        rows.push(row(Edit::Css, debounce, css));

        let page_path = site.0.join("index.html");
        let mut html = Vec::with_capacity(saves);
        for n in 1..=saves {
            write(&page_path, &page(n))?;
            let written = unix_ms();
            let loaded = wait(
                &mut chromium,
                &html_probe(n),
                Instant::now() + SAVE_TIMEOUT,
                &format!("HTML save {n} to load and connect"),
            )?;
            html.push(loaded - written);
            thread::sleep(SETTLE);
        }
        rows.push(row(Edit::Html, debounce, html));
        // Off the server before it goes, so the page does not reconnect.
        chromium.navigate("about:blank")?;
        drop(server);
    }
    // CSS rows first, then HTML, each fixed before default.
    rows.sort_by_key(|r| r.edit == Edit::Html);
    measured.rows = rows;
    Ok(Browser::Measured(measured))
}

fn row(edit: Edit, debounce_ms: Option<u64>, mut samples: Vec<f64>) -> BrowserRow {
    samples.sort_by(f64::total_cmp);
    BrowserRow {
        edit,
        debounce_ms,
        saves: samples.len(),
        ms: [
            samples.first().copied().unwrap_or(f64::NAN),
            percentile(&samples, 50.0),
            percentile(&samples, 95.0),
            samples.last().copied().unwrap_or(f64::NAN),
        ],
    }
}

/// The body colour of save `n`, as `getComputedStyle` writes it.
fn colour(n: usize) -> String {
    format!("rgb(10, {}, {})", n % 256, n / 256 % 256)
}

fn stylesheet(n: usize) -> String {
    format!("body {{ color: {} }}\n", colour(n))
}

/// The page of save `n`. Its script notes when each body colour is first
/// computed: on the new stylesheet's `load` (caught on the way down, as
/// `load` does not bubble), on any change to the document, and once a
/// frame as a backstop, whichever is first.
fn page(n: usize) -> String {
    format!(
        r#"<!doctype html>
<html><head><meta charset="utf-8"><meta name="bench-save" content="{n}">
<script>
(function () {{
  var seen = {{}};
  window.benchSeen = seen;
  function check() {{
    if (!document.body) return;
    var colour = getComputedStyle(document.body).color;
    if (!(colour in seen)) seen[colour] = performance.timeOrigin + performance.now();
  }}
  document.addEventListener("load", check, true);
  new MutationObserver(check).observe(document, {{ childList: true, subtree: true, attributes: true, characterData: true }});
  requestAnimationFrame(function frame() {{ check(); requestAnimationFrame(frame); }});
  // Answers probe() once it is not null, or null after ms: the bench asks
  // again. Only the bench waits on it; the times come from check().
  window.benchWait = function (probe, ms) {{
    return new Promise(function (resolve) {{
      var end = performance.now() + ms;
      (function poll() {{
        var value = probe();
        if (value != null) resolve(value);
        else if (performance.now() > end) resolve(null);
        else setTimeout(poll, 10);
      }})();
    }});
  }};
}})();
</script>
<link rel="stylesheet" href="/css/app.css">
</head><body><p>hotreload bench, save {n}</p></body></html>
"#
    )
}

/// When page `n` finished `DOMContentLoaded`, once its client is connected.
fn html_probe(n: usize) -> String {
    format!(
        r#"() => {{
  var save = document.querySelector('meta[name="bench-save"]');
  var nav = performance.getEntriesByType("navigation")[0];
  var ready = save && save.content === "{n}" && nav && nav.domContentLoadedEventEnd > 0 &&
    window.hotReload && window.hotReload.status().connected;
  return ready ? performance.timeOrigin + nav.domContentLoadedEventEnd : null;
}}"#
    )
}

/// Asks the page for `probe` until it gives a number, or fails at `deadline`
/// with what the page showed.
fn wait(
    chromium: &mut Chromium,
    probe: &str,
    deadline: Instant,
    what: &str,
) -> Result<f64, Failed> {
    let expression = format!("window.benchWait({probe}, {POLL_MS})");
    loop {
        // None: the page is between documents (or has no benchWait yet).
        if let Some(value) = chromium.eval(&expression)?
            && let Some(at) = value.as_f64()
        {
            return Ok(at);
        }
        if Instant::now() > deadline {
            let state = chromium
                .eval(
                    r#"JSON.stringify({url: location.href, ready: document.readyState, save: (document.querySelector('meta[name="bench-save"]') || {}).content, colour: document.body && getComputedStyle(document.body).color, client: window.hotReload ? window.hotReload.status() : null})"#,
                )?
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_else(|| "(no answer)".into());
            return Err(bench_error(
                format!("waited {SAVE_TIMEOUT:?} for {what}; the page: {state}"),
                "run the bench again; if it repeats, open the served page in a browser and save by hand",
            ));
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// The page's clock minus the bench's, ms, from the quickest of several
/// round trips, and half that round trip: how exactly it is known.
fn clock_offset(chromium: &mut Chromium) -> Result<(f64, f64), Failed> {
    let mut best = (0.0, f64::INFINITY);
    for _ in 0..20 {
        let before = unix_ms();
        let page = chromium.eval("performance.timeOrigin + performance.now()")?;
        let after = unix_ms();
        if let Some(page) = page.and_then(|v| v.as_f64())
            && after - before < best.1
        {
            best = (page - (before + after) / 2.0, after - before);
        }
    }
    Ok((best.0, best.1 / 2.0))
}

/// Now, in Unix milliseconds, as the page's `performance.timeOrigin` counts.
fn unix_ms() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}
