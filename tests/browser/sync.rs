//! Sync and the dashboard (SPEC.md section 13) in Chromium against the
//! real binary: tabs of one page scroll, click, type, pick and submit
//! together with nothing bounced back, navigation is followed, a tab of
//! another page is left alone, and the dashboard shows and drives it all.
//! Every user action here is a trusted input event sent through DevTools,
//! as a person's would be.

use std::time::Instant;

use super::cdp::Browser;
use super::{Site, WAIT, common, same_page, site_with, wait_reloaded};

/// A page with something of every kind to sync; tall, so it scrolls.
const PAGE: &str = r#"<!doctype html><html><head><title>sync</title>
<style>body { margin: 0; } .tall { height: 3000px; } #box { width: 40%; height: 100px; overflow: auto; }
#box div { height: 1000px; }</style></head><body>
<h1>sync</h1>
<button id="inc" type="button" onclick="window.clicks = (window.clicks || 0) + 1">more</button>
<p><input id="name"> <input id="agree" type="checkbox">
<select id="size"><option>small</option><option>medium</option><option>large</option></select></p>
<form id="order" onsubmit="event.preventDefault(); window.submitted = (window.submitted || 0) + 1">
<input id="qty"><button>order</button></form>
<p><a id="next" href="/other.html">next</a></p>
<div id="box"><div>inner</div></div>
<div class="tall"></div>
<script src="/static/js/hotreload.js"></script></body></html>"#;

/// Counts the sync events a page sends, in `window.sent`.
const COUNT_SENT: &str = "window.sent = []; const real = window.fetch; \
    window.fetch = (url, init) => { if (String(url).endsWith('/api/v1/hotreload/sync')) window.sent.push(JSON.parse(init.body).kind); \
    return real(url, init); }; true";

/// The site with `sync.html` and `other.html`, once their batch went out
/// (so it cannot reload a tab opened after).
fn sync_site(args: &[&str]) -> Option<Site> {
    let site = site_with(args)?;
    site.write("sync.html", PAGE);
    site.write("other.html", &PAGE.replace("<title>sync", "<title>other"));
    let deadline = Instant::now() + WAIT;
    loop {
        let status = status(&site);
        let paths = status["last_change"]["paths"].to_string();
        if paths.contains("sync.html") && paths.contains("other.html") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no batch for the pages: {status}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Some(site)
}

fn status(site: &Site) -> serde_json::Value {
    let addr = format!("{}:{}", site.ip, site.port)
        .parse()
        .expect("address");
    let (_, _, body) = common::http(addr, &common::get("/api/v1/hotreload/status", &[]));
    serde_json::from_str(&body).expect("status JSON")
}

/// Opens `path` in a new tab of `browser`, connected and counting what it sends.
fn tab(browser: &mut Browser, site: &Site, path: &str) -> String {
    let session = browser.open_page(&site.url(path));
    browser.use_page(&session);
    browser.wait_connected(WAIT);
    browser.eval("window.__mark = 'same page'; true");
    browser.eval(COUNT_SENT);
    session
}

/// How far `selector` (or the page, for `null`) is scrolled, from 0 to 1.
fn scrolled(browser: &mut Browser, selector: &str) -> f64 {
    browser
        .eval(&format!(
            "(() => {{ const b = {selector} || document.scrollingElement; return b.scrollTop / (b.scrollHeight - b.clientHeight); }})()"
        ))
        .as_f64()
        .expect("a number")
}

/// Scrolls `selector` by `dy` and waits until `scroller` rests; returns
/// how far it is scrolled, from 0 to 1.
fn scroll_and_rest(browser: &mut Browser, selector: &str, scroller: &str, dy: f64) -> f64 {
    let before = scrolled(browser, scroller);
    browser.scroll(selector, dy);
    let mut last = scrolled(browser, scroller);
    assert_ne!(last, before, "the gesture did not scroll {selector}");
    loop {
        std::thread::sleep(std::time::Duration::from_millis(150));
        let now = scrolled(browser, scroller);
        if now == last {
            return now;
        }
        last = now;
    }
}

#[test]
fn tabs_of_one_page_scroll_click_type_pick_and_submit_together_and_nothing_bounces() {
    let Some(site) = sync_site(&["--sync"]) else {
        return;
    };
    let mut browser = Browser::open("about:blank");
    let a = tab(&mut browser, &site, "/sync.html");
    let b = tab(&mut browser, &site, "/sync.html");
    // The second tab is a phone: another size, so only proportions agree.
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        serde_json::json!({"width": 390, "height": 500, "deviceScaleFactor": 1, "mobile": false}),
    );
    let c = tab(&mut browser, &site, "/other.html");

    browser.use_page(&a);
    let want = scroll_and_rest(&mut browser, "body", "null", 900.0);
    browser.use_page(&b);
    browser.wait_for(
        &format!("(() => {{ const b = document.scrollingElement; return Math.abs(b.scrollTop / (b.scrollHeight - b.clientHeight) - {want}) < 0.01; }})()"),
        WAIT,
        "the other tab scrolled to the same proportion",
    );

    browser.use_page(&a);
    browser.eval("document.getElementById('box').scrollIntoView({block: 'center', behavior: 'instant'}); true");
    let box_at = scroll_and_rest(
        &mut browser,
        "#box",
        "document.getElementById('box')",
        300.0,
    );
    browser.use_page(&b);
    browser.wait_for(
        &format!("(() => {{ const b = document.getElementById('box'); return Math.abs(b.scrollTop / (b.scrollHeight - b.clientHeight) - {box_at}) < 0.01; }})()"),
        WAIT,
        "the other tab's box scrolled to the same proportion",
    );

    browser.use_page(&a);
    browser.click("#inc");
    browser.eval("document.getElementById('name').focus(); true");
    browser.type_text("hello <b>");
    browser.click("#agree");
    browser.eval("document.getElementById('size').focus(); true");
    browser.press("ArrowDown", 40);
    browser.eval("document.getElementById('qty').focus(); true");
    browser.type_text("3");
    browser.press("Enter", 13);
    browser.wait_for("window.submitted === 1", WAIT, "the form to be submitted");

    browser.use_page(&b);
    browser.wait_for("window.clicks === 1", WAIT, "the click to run the handler");
    browser.wait_for(
        "document.getElementById('name').value === 'hello <b>'",
        WAIT,
        "the typed text",
    );
    browser.wait_for(
        "document.getElementById('agree').checked",
        WAIT,
        "the checkbox",
    );
    browser.wait_for(
        "document.getElementById('size').value === 'medium'",
        WAIT,
        "the select",
    );
    browser.wait_for(
        "document.getElementById('qty').value === '3'",
        WAIT,
        "the form field",
    );
    browser.wait_for("window.submitted === 1", WAIT, "the form submitted");
    // Nothing came back: the sender ran its handlers once, and the tab
    // that replayed everything sent nothing.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let sent_by_b = browser.eval("JSON.stringify(window.sent)");
    assert_eq!(sent_by_b, "[]", "the replaying tab sent events back");
    assert_eq!(browser.eval("window.clicks"), 1);
    assert_eq!(browser.eval("window.submitted"), 1);
    browser.use_page(&a);
    assert_eq!(browser.eval("window.clicks"), 1, "the click bounced back");
    assert_eq!(
        browser.eval("window.submitted"),
        1,
        "the submit bounced back"
    );
    assert_eq!(
        browser.eval("document.getElementById('name').value"),
        "hello <b>"
    );
    let sent_by_a = browser.eval("window.sent").to_string();
    for kind in ["scroll", "click", "input", "change", "submit"] {
        assert!(sent_by_a.contains(kind), "tab A sent {sent_by_a}");
    }
    assert!(same_page(&mut browser));

    // The tab of another page saw none of it.
    browser.use_page(&c);
    assert_eq!(browser.eval("scrollY"), 0);
    assert_eq!(
        browser.eval("window.clicks === undefined && window.submitted === undefined"),
        true
    );
    assert_eq!(browser.eval("document.getElementById('name').value"), "");
    assert_eq!(browser.eval("JSON.stringify(window.sent)"), "[]");
    browser.use_page(&b);
    assert!(same_page(&mut browser));
}

#[test]
fn navigation_is_followed_by_link_and_by_script_and_never_loops() {
    let Some(site) = sync_site(&["--sync"]) else {
        return;
    };
    let mut browser = Browser::open("about:blank");
    let a = tab(&mut browser, &site, "/sync.html");
    let b = tab(&mut browser, &site, "/sync.html");

    browser.use_page(&a);
    browser.click("#next");
    for page in [&a, &b] {
        browser.use_page(page);
        browser.wait_for(
            "location.pathname === '/other.html' && document.readyState === 'complete' && window.hotReload && window.hotReload.status().connected",
            WAIT,
            "both tabs on the linked page",
        );
        browser.eval("window.__mark = 'same page'; true");
    }
    // A script's navigation (no click to replay) is announced by the page
    // it leads to, and followed by the tabs still on the page it left.
    browser.use_page(&a);
    browser.eval("location.href = '/sync.html?from=script'; true");
    browser.use_page(&b);
    wait_reloaded(
        &mut browser,
        "the other tab to follow the script's navigation",
    );
    browser.wait_for(
        "location.pathname + location.search === '/sync.html?from=script' && window.hotReload && window.hotReload.status().connected",
        WAIT,
        "the other tab on the new page",
    );
    browser.eval("window.__mark = 'same page'; true");
    browser.use_page(&a);
    browser.wait_for(
        "document.readyState === 'complete' && window.hotReload && window.hotReload.status().connected",
        WAIT,
        "the first tab on its new page",
    );
    browser.eval("window.__mark = 'same page'; true");
    // No loop: both stay where they are.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    for page in [&a, &b] {
        browser.use_page(page);
        assert!(same_page(&mut browser), "a tab navigated again");
        assert_eq!(browser.eval("location.search"), "?from=script");
    }
}

#[test]
fn the_dashboard_lists_tabs_shows_changes_live_and_reloads_and_switches_sync() {
    let Some(site) = sync_site(&[]) else {
        return;
    };
    let mut browser = Browser::open("about:blank");
    let page = tab(&mut browser, &site, "/sync.html");
    let dashboard = browser.open_page(&site.url("/hotreload/"));
    browser.use_page(&dashboard);
    browser.wait_for(
        "document.querySelector('#connection') && document.querySelector('#connection').dataset.state === 'live'",
        WAIT,
        "the dashboard to go live",
    );
    browser.wait_for(
        "[...document.querySelectorAll('#tabs [data-client-id]')].some(r => r.textContent.includes('/sync.html'))",
        WAIT,
        "the tab in the dashboard's list",
    );
    // A change appears in the timeline as it happens.
    let written = Instant::now();
    site.write("css/live.css", "body { color: teal }");
    browser.wait_for(
        "[...document.querySelectorAll('#timeline [data-entry-id]')].some(e => e.textContent.includes('css/live.css'))",
        WAIT,
        "the change in the timeline",
    );
    eprintln!(
        "dashboard: the change was in the timeline {:.0} ms after the write",
        written.elapsed().as_secs_f64() * 1000.0
    );
    browser.use_page(&page);
    assert!(same_page(&mut browser), "a css change reloaded the tab");
    browser.drain();

    // The screenshot CI keeps, with a tab and an entry in it.
    browser.use_page(&dashboard);
    let png = browser.screenshot();
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("ci-artifacts");
    std::fs::create_dir_all(&out).expect("artifact dir");
    std::fs::write(out.join("dashboard.png"), &png).expect("write the screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");

    // Reload all.
    browser.click("#reload-all");
    browser.use_page(&page);
    wait_reloaded(&mut browser, "the tab to reload from the dashboard");
    browser.wait_connected(WAIT);

    // Sync: off at start, switched on, then off again, without a restart.
    browser.use_page(&dashboard);
    assert_eq!(
        browser.eval("document.getElementById('sync-toggle').getAttribute('aria-checked')"),
        "false"
    );
    browser.click("#sync-toggle");
    browser.wait_for(
        "document.getElementById('sync-toggle').getAttribute('aria-checked') === 'true'",
        WAIT,
        "the switch on",
    );
    assert_eq!(status(&site)["sync"], true);
    browser.use_page(&page);
    browser.wait_for(
        "window.hotReload.status().sync === true",
        WAIT,
        "the tab told sync is on",
    );
    browser.use_page(&dashboard);
    browser.click("#sync-toggle");
    browser.wait_for(
        "document.getElementById('sync-toggle').getAttribute('aria-checked') === 'false'",
        WAIT,
        "the switch off",
    );
    browser.use_page(&page);
    browser.wait_for(
        "window.hotReload.status().sync === false",
        WAIT,
        "the tab told sync is off",
    );
    browser.use_page(&dashboard);
    let errors: Vec<&String> = browser.errors.iter().collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}
