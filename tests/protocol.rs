//! The messages are valid JSON whatever the file names, and the browser
//! client speaks the same names as the server (a "tidy" check).

mod common;

use common::{TestServer, changes, next_change, write};

#[test]
fn odd_file_names_survive_the_hand_written_json() {
    let server = TestServer::start(&[], |_| {});
    let (mut ws, _) = server.client();
    let names = [
        "we\"ird \\ näme.css",
        "tab\tand\u{1}control.css",
        "emoji 🎉.css",
        "line\u{2028}sep.css",
    ];
    for name in names {
        write(&server.path(name), "a{}");
        // next_change parses the frame with serde_json: it fails on bad JSON.
        let msg = next_change(&mut ws);
        assert_eq!(
            changes(&msg),
            vec![(name.to_string(), "created".to_string())]
        );
    }
    let status = server.status();
    assert_eq!(status["last_change"]["paths"][0], names[names.len() - 1]);
}

#[test]
fn batches_over_500_changes_are_truncated_but_counted() {
    let server = TestServer::start(&[], |_| {});
    let (mut ws, _) = server.client();
    let paths: Vec<String> = (0..750).map(|i| format!("f{i}.css")).collect();
    server.server.manager().trigger(paths.clone());
    let msg = next_change(&mut ws);
    assert_eq!(msg["truncated"], true);
    assert_eq!(msg["count"], 750);
    assert_eq!(
        changes(&msg).len(),
        hotreload::protocol::MAX_CHANGES_PER_MESSAGE
    );
    assert_eq!(msg["path"], "f0.css");
}

#[test]
fn the_client_script_speaks_the_protocol() {
    let js = hotreload::CLIENT_JS;
    for name in [
        "\"connected\"",
        "\"file_changed\"",
        "server_id",
        ".seq",
        ".action",
        ".changes",
        "\"css\"",
        "\"image\"",
        "/ws/hotreload",
        "hotreload:change",
        "hotreload-notification",
        "data-max-attempts",
        "data-morph",
        "data-preflight",
        "msg.morph",
        "msg.preflight",
        "msg.pages",
    ] {
        assert!(
            js.contains(name),
            "client/hotreload.js does not mention {name}"
        );
    }
    for action in [hotreload::Action::Css, hotreload::Action::Image] {
        assert!(
            js.contains(&format!("\"{}\"", action.as_str())),
            "{action:?}"
        );
    }
    assert!(js.contains(hotreload::server::WS_PATH));
}

#[test]
fn connected_tells_pages_how_to_update_and_where_pages_come_from() {
    let plain = TestServer::start(&[], |_| {});
    let (_, hello) = plain.client();
    assert_eq!(hello.get("morph"), None, "{hello}");
    assert_eq!(hello.get("preflight"), None, "{hello}");
    // The served folder, watched as `.`: its files are its pages.
    assert_eq!(hello["pages"], serde_json::json!([["", "/"]]), "{hello}");
    let asked = TestServer::start(&[], |config| {
        config.morph = true;
        config.preflight = true;
    });
    let (_, hello) = asked.client();
    assert_eq!(
        (&hello["morph"], &hello["preflight"]),
        (&true.into(), &true.into()),
        "{hello}"
    );
}

#[test]
fn the_readme_gives_the_client_size() {
    let js = hotreload::CLIENT_JS.as_bytes();
    let raw = js.len() as f64 / 1000.0;
    // gzip -9 of the file: deflate plus gzip's 18 bytes of framing.
    let gzipped = (miniz_oxide::deflate::compress_to_vec(js, 9).len() + 18) as f64 / 1000.0;
    let readme = include_str!("../README.md");
    let said = readme
        .split_once("no build\nstep: ")
        .and_then(|(_, rest)| rest.split_once(" gzipped"))
        .map(|(sizes, _)| sizes)
        .expect("the README's client section gives the size");
    let (said_raw, said_gzipped) = said
        .split_once(" KB, ")
        .map(|(r, g)| (r, g.trim_end_matches(" KB")))
        .expect("`N KB, M KB gzipped`");
    let close = |said: &str, real: f64| said.parse::<f64>().is_ok_and(|s| (s - real).abs() <= 0.2);
    assert!(
        close(said_raw, raw) && close(said_gzipped, gzipped),
        "the README says {said:?}; the client is {raw:.1} KB, {gzipped:.1} KB gzipped"
    );
}

#[test]
fn the_readme_gives_the_dashboard_size() {
    let size = hotreload::dashboard::DASHBOARD_HTML.len();
    let readme = include_str!("../README.md");
    let said = readme
        .split_once("one page built into the binary (")
        .and_then(|(_, rest)| rest.split_once(" bytes"))
        .map(|(size, _)| size.replace(',', ""))
        .expect("the README's dashboard section gives the page's size");
    assert_eq!(
        said,
        size.to_string(),
        "the README says {said} bytes; the dashboard is {size}"
    );
}
