//! In-page updates (SPEC.md section 12) in Chromium against the real
//! binary: JavaScript modules taken in place, reloads only of the tab that
//! shows a changed page, morphing a page into the open tab, and preflight.

use super::{OVERLAY, WAIT, record_change_and_notice, same_page, site, wait_reloaded};

/// The page's client as a page asks for it, with `attrs` on the tag.
fn client_tag(attrs: &str) -> String {
    format!("<script src=\"/static/js/hotreload.js\" {attrs}></script>")
}

const MAIN_JS: &str = "import { render } from './widget.js';
window.state = { renders: 0 };
const root = document.getElementById('widget');
render(root, window.state);
window.hotReload.accept('/js/widget.js', (module) => module.render(root, window.state));
";

fn widget(version: &str) -> String {
    format!(
        "export function render(root, state) {{ state.renders += 1; root.textContent = '{version} ' + state.renders; }}\n"
    )
}

#[test]
fn an_accepted_module_is_swapped_keeping_state_and_others_reload() {
    let Some(site) = site() else { return };
    site.write(
        "modules.html",
        "<!doctype html><html><head><title>modules</title></head><body>\
         <div id=widget></div><script type=module src=/js/main.js></script></body></html>",
    );
    site.write("js/main.js", MAIN_JS);
    site.write("js/widget.js", &widget("v1"));
    let mut browser = site.open("/modules.html");
    let text = "document.getElementById('widget').textContent";
    browser.wait_for(&format!("{text} === 'v1 1'"), WAIT, "the first render");
    // The accepted module: imported anew and handed over, in the same page.
    site.write("js/widget.js", &widget("v2"));
    browser.wait_for(
        &format!("{text} === 'v2 2'"),
        WAIT,
        "the new module, rendering with the old state",
    );
    assert!(
        same_page(&mut browser),
        "an accepted module reloaded the page"
    );
    // A new version that throws while importing: said, then reloaded.
    record_change_and_notice(&mut browser);
    site.write(
        "js/widget.js",
        "throw new Error('widget broke');\nexport function render() {}\n",
    );
    wait_reloaded(&mut browser, "the reload after a module that throws");
    assert!(
        browser
            .eval("sessionStorage.getItem('notice')")
            .as_str()
            .is_some_and(|n| n.contains("widget broke")),
        "{}",
        browser.eval("sessionStorage.getItem('notice')")
    );
    // A module nobody accepts: reloaded as any script.
    site.write("js/widget.js", &widget("v3"));
    browser.wait_for(&format!("{text} === 'v3 1'"), WAIT, "the fixed module");
    browser.eval("window.__mark = 'same page'; true");
    site.write("js/main.js", &format!("{MAIN_JS}\n// edited\n"));
    wait_reloaded(
        &mut browser,
        "the reload after main.js, which nobody accepts",
    );
}

#[test]
fn a_page_edit_reloads_only_the_tab_showing_it() {
    let Some(site) = site() else { return };
    let page = |name: &str| {
        format!(
            "<!doctype html><html><head><title>{name}</title></head><body><h1 id=title>{name}</h1></body></html>"
        )
    };
    site.write("a.html", &page("a"));
    site.write("docs/index.html", &page("docs"));
    let mut a = site.open("/a.html");
    let mut docs = site.open("/docs/");
    site.write("docs/index.html", &page("docs, edited"));
    wait_reloaded(&mut docs, "the tab showing docs/index.html");
    docs.wait_for(
        "document.getElementById('title').textContent === 'docs, edited'",
        WAIT,
        "the edited page",
    );
    docs.eval("window.__mark = 'same page'; true");
    // The other tab heard the change (it is connected) and stayed.
    site.write("a.html", &page("a, edited"));
    wait_reloaded(&mut a, "the tab showing a.html");
    assert!(same_page(&mut docs), "docs reloaded for a.html");
    // A change no tab can map to itself reloads them all.
    a.eval("window.__mark = 'same page'; true");
    site.write("personas/PERSONA.md", "# A new persona\n");
    wait_reloaded(&mut a, "a.html after a persona edit");
    wait_reloaded(&mut docs, "docs after a persona edit");
}

/// The morphing page: a form, a paragraph that changes, room to scroll.
fn morph_page(paragraph: &str, title: &str, head: &str) -> String {
    format!(
        "<!doctype html><html><head><title>{title}</title>{head}</head><body>\
         <h1 id=title>morph</h1><p id=para>{paragraph}</p>\
         <input id=field><textarea id=notes>default</textarea>\
         <div style='height:3000px'>tall</div><ul><li>one</li><li>two</li></ul>{}</body></html>",
        client_tag("data-morph")
    )
}

#[test]
fn morph_patches_the_page_keeping_typed_text_focus_scroll_and_state() {
    let Some(site) = site() else { return };
    site.write("morph.html", &morph_page("before", "morph", ""));
    let mut browser = site.open("/morph.html");
    browser.eval(
        "const f = document.getElementById('field'); f.focus(); f.value = 'typed';
         f.dispatchEvent(new Event('input', {bubbles: true}));
         window.scrollTo(0, 400); window.state = 42; true",
    );
    site.write(
        "morph.html",
        &morph_page("after <b>bold</b>", "morph", "")
            .replace("<li>two</li>", "<li>two</li><li>three</li>"),
    );
    browser.wait_for(
        "document.getElementById('para').innerHTML === 'after <b>bold</b>'",
        WAIT,
        "the edited paragraph patched in",
    );
    assert!(same_page(&mut browser), "morphing reloaded the page");
    assert_eq!(browser.eval("document.querySelectorAll('li').length"), 3);
    assert_eq!(
        browser.eval("document.getElementById('field').value"),
        "typed"
    );
    assert_eq!(browser.eval("document.activeElement.id"), "field");
    assert_eq!(browser.eval("window.scrollY"), 400);
    assert_eq!(browser.eval("window.state"), 42);
    // The title alone: patched too. Malformed HTML: patched as the
    // browser reads it.
    site.write("morph.html", &morph_page("after <b>bold", "renamed", ""));
    browser.wait_for("document.title === 'renamed'", WAIT, "the new title");
    assert!(same_page(&mut browser));
    assert_eq!(
        browser.eval("document.getElementById('field').value"),
        "typed"
    );
    // A script in <head>: it would not run if patched in, so a reload.
    site.write(
        "morph.html",
        &morph_page("after", "renamed", "<script>window.fromHead = 1;</script>"),
    );
    wait_reloaded(&mut browser, "the reload for a new <head> script");
    assert_eq!(browser.eval("window.fromHead"), 1);
}

/// The preflight page, with `body` before the client.
fn preflight_page(body: &str) -> String {
    format!(
        "<!doctype html><html><head><title>preflight</title></head><body>\
         <h1 id=title>preflight</h1>{body}{}</body></html>",
        client_tag("data-preflight")
    )
}

#[test]
fn preflight_keeps_the_tab_when_the_new_page_throws_and_a_fix_reloads_it() {
    let Some(site) = site() else { return };
    // The page loads a script that works, until it does not.
    site.write("js/broken.js", "window.fixed = 'not yet';\n");
    site.write(
        "pre.html",
        &preflight_page("<script src=/js/broken.js></script>"),
    );
    let mut browser = site.open("/pre.html");
    site.write(
        "js/broken.js",
        "\n\nthrow new Error('broken on purpose');\n",
    );
    browser.wait_for(&format!("{OVERLAY} !== null"), WAIT, "the overlay");
    let shown = browser.eval(OVERLAY);
    let output = shown["output"].as_str().unwrap_or_default();
    assert!(
        output.contains("broken on purpose") && output.contains("/js/broken.js:3"),
        "{shown}"
    );
    assert!(same_page(&mut browser), "the tab left for the broken page");
    assert_eq!(
        browser.eval("document.getElementById('hotreload-preflight')"),
        serde_json::Value::Null
    );
    // The fix: tried again, and this time the tab reloads into it.
    site.write("js/broken.js", "window.fixed = true;\n");
    wait_reloaded(&mut browser, "the reload once the page works");
    assert_eq!(browser.eval("window.fixed"), true);
    assert_eq!(browser.eval(&format!("{OVERLAY} === null")), true);
    // A page that throws an unhandled rejection is held back too.
    browser.eval("window.__mark = 'same page'; true");
    site.write(
        "js/broken.js",
        "Promise.reject(new Error('rejected on purpose'));\n",
    );
    browser.wait_for(
        &format!("{OVERLAY} !== null && {OVERLAY}.output.includes('rejected on purpose')"),
        WAIT,
        "the rejection in the overlay",
    );
    assert!(same_page(&mut browser));
}

#[test]
fn the_demo_swaps_its_counter_module_and_persona_without_reloading() {
    let Some(_turn) = super::browser_turn() else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    super::copy_tree(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("demo"),
        dir.path(),
    );
    let (server, line) = super::common::start_ready(
        super::common::bin()
            .args(["serve", ".", "--port", "0", "-q"])
            .current_dir(dir.path())
            .stderr(std::process::Stdio::inherit()),
    );
    let _server = super::common::Proc(server);
    let addr = super::common::ready_line_addr(&line);
    let mut browser = super::open_marked(&format!("http://{addr}/"));
    let button = "document.getElementById('counter')";
    browser.wait_for(
        &format!("{button}.textContent === 'Clicked 0 times'"),
        WAIT,
        "the counter",
    );
    browser.eval(&format!("for (let i = 0; i < 3; i++) {button}.click(); document.getElementById('note').value = 'typed'; true"));
    assert_eq!(
        browser.eval(&format!("{button}.textContent")),
        "Clicked 3 times"
    );
    // The README's example: a new label, drawn by the new module, same count.
    let counter = dir.path().join("js/counter.js");
    let code = std::fs::read_to_string(&counter).expect("counter.js");
    super::common::write(&counter, &code.replace("`Clicked ${", "`Pressed ${"));
    browser.wait_for(
        &format!("{button}.textContent === 'Pressed 3 times'"),
        WAIT,
        "the new label with the old count",
    );
    browser.eval(&format!("{button}.click(); true"));
    assert_eq!(
        browser.eval(&format!("{button}.textContent")),
        "Pressed 4 times"
    );
    // The persona: fetched again by the page itself.
    super::common::write(
        &dir.path().join("personas/PERSONA.md"),
        "# Grace, who ships on Fridays\n",
    );
    browser.wait_for(
        "document.getElementById('persona').textContent.startsWith('# Grace')",
        WAIT,
        "the new persona",
    );
    assert!(same_page(&mut browser), "the demo reloaded");
    assert_eq!(
        browser.eval("document.getElementById('note').value"),
        "typed"
    );
    super::assert_no_console_errors_but(&mut browser, &["favicon.ico"]);
}

#[test]
fn a_preflight_page_that_never_loads_is_given_up_on_and_reloaded() {
    let Some(site) = site() else { return };
    // A server that takes connections and never answers: an image from it
    // holds the page's `load` for good.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let hang = format!(
        "<img src='http://{}/never.png'>",
        silent.local_addr().expect("addr")
    );
    site.write("pre.html", &preflight_page(""));
    let mut browser = site.open("/pre.html");
    let asked = std::time::Instant::now();
    site.write("pre.html", &preflight_page(&hang));
    browser.wait_for(
        "window.__mark === undefined && !!document.querySelector('img')",
        WAIT,
        "the reload once the preflight gave up",
    );
    let took = asked.elapsed();
    assert!(
        took >= std::time::Duration::from_secs(5),
        "{took:?}: reloaded before the preflight gave up"
    );
    assert_eq!(browser.eval(&format!("{OVERLAY} === null")), true);
    drop(silent);
}
