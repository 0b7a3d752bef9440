//! Saving a file tells every connected client, once, with the right action.

mod common;

use std::time::Duration;

use common::{TestServer, Watch, assert_quiet, changes, next_change, wait_for_watches, write};

const SITE: &[(&str, &str)] = &[
    ("index.html", "<html><body>hi</body></html>"),
    ("css/app.css", "body { color: red }"),
    ("js/app.js", "console.log(1)"),
    ("personas/PERSONA.md", "# Bob"),
];

fn quiet() -> Duration {
    Duration::from_millis(800)
}

#[test]
fn connect_gets_connected_with_server_id_and_seq() {
    let server = TestServer::start(SITE, |_| {});
    let (_ws, hello) = server.client();
    assert_eq!(hello["message"], "Hot-reload enabled");
    assert_eq!(hello["seq"], 0);
    let id = hello["server_id"].as_str().expect("server_id is a string");
    assert_eq!(id.len(), 8, "server_id {id}");
}

#[test]
fn css_write_gives_exactly_one_css_batch() {
    let server = TestServer::start(SITE, |_| {});
    let (mut ws, _) = server.client();
    write(&server.path("css/app.css"), "body { color: blue }");
    let msg = next_change(&mut ws);
    assert_eq!(msg["action"], "css", "{msg}");
    assert_eq!(msg["path"], "css/app.css");
    assert_eq!(msg["operation"], "modified");
    assert_eq!(msg["seq"], 1);
    assert_eq!(msg["truncated"], false);
    assert!(
        msg["timestamp"].as_u64().unwrap_or(0) > 1_700_000_000,
        "{msg}"
    );
    assert_eq!(
        changes(&msg),
        vec![("css/app.css".into(), "modified".into())]
    );
    assert_quiet(&mut ws, quiet());
}

#[test]
fn js_write_gives_reload() {
    let server = TestServer::start(SITE, |_| {});
    let (mut ws, _) = server.client();
    write(&server.path("js/app.js"), "console.log(2)");
    let msg = next_change(&mut ws);
    assert_eq!(msg["action"], "reload", "{msg}");
    assert_eq!(msg["path"], "js/app.js");
}

#[test]
fn persona_and_html_writes_reload() {
    let server = TestServer::start(SITE, |_| {});
    let (mut ws, _) = server.client();
    write(&server.path("personas/PERSONA.md"), "# Alice");
    let msg = next_change(&mut ws);
    assert_eq!(
        (msg["action"].as_str(), msg["path"].as_str()),
        (Some("reload"), Some("personas/PERSONA.md"))
    );
    write(&server.path("index.html"), "<html><body>bye</body></html>");
    let msg = next_change(&mut ws);
    assert_eq!(
        (msg["action"].as_str(), msg["seq"].as_u64()),
        (Some("reload"), Some(2))
    );
}

#[test]
fn ten_writes_within_the_window_give_one_batch() {
    // A long window, so a slow machine still writes all ten inside it.
    let server = TestServer::start(SITE, |c| c.debounce_ms = hotreload::Debounce::Ms(600));
    let (mut ws, _) = server.client();
    for i in 0..10 {
        write(
            &server.path("css/app.css"),
            &format!("body {{ margin: {i}px }}"),
        );
    }
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("css/app.css".into(), "modified".into())]
    );
    assert_quiet(&mut ws, Duration::from_millis(1500));
}

#[test]
fn several_files_in_one_batch_name_each_once() {
    let server = TestServer::start(SITE, |c| c.debounce_ms = hotreload::Debounce::Ms(400));
    let (mut ws, _) = server.client();
    write(&server.path("css/app.css"), "a{}");
    write(&server.path("js/app.js"), "b()");
    write(&server.path("css/app.css"), "c{}");
    let msg = next_change(&mut ws);
    assert_eq!(msg["action"], "reload");
    assert_eq!(
        changes(&msg),
        vec![
            ("css/app.css".into(), "modified".into()),
            ("js/app.js".into(), "modified".into())
        ]
    );
}

#[test]
fn rename_over_save_names_the_real_file() {
    rename_over_save(Watch::Native);
}

#[test]
fn rename_over_save_names_the_real_file_when_polled() {
    rename_over_save(Watch::Poll);
}

fn rename_over_save(watch: Watch) {
    let server = TestServer::start(SITE, |c| c.poll = watch.poll());
    let (mut ws, _) = server.client();
    // What vim (backupcopy=no) and many editors do: write a temp, rename it over.
    let tmp = server.path("css/.app.css.swp");
    std::fs::write(&tmp, "body { color: green }").expect("write temp");
    std::fs::rename(&tmp, server.path("css/app.css")).expect("rename over");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("css/app.css".into(), "modified".into())],
        "{msg}"
    );
    assert_eq!(msg["action"], "css");
    assert_quiet(&mut ws, quiet());
}

#[test]
fn unignored_temp_renamed_over_never_appears() {
    // With no patterns every file counts, so the temp name itself is
    // reported only if it outlives the batch; here it does not.
    let server = TestServer::start(SITE, |_| {});
    let (mut ws, _) = server.client();
    let tmp = server.path("css/sedX4k2p9");
    std::fs::write(&tmp, "body { color: teal }").expect("write temp");
    std::fs::rename(&tmp, server.path("css/app.css")).expect("rename over");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("css/app.css".into(), "modified".into())],
        "{msg}"
    );
}

#[test]
fn sed_in_place_gives_one_batch() {
    let server = TestServer::start(SITE, |_| {});
    let (mut ws, _) = server.client();
    let status = std::process::Command::new("sed")
        .args(["-i", "s/red/purple/"])
        .arg(server.path("css/app.css"))
        .status()
        .expect("sed runs");
    assert!(status.success());
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("css/app.css".into(), "modified".into())],
        "{msg}"
    );
    assert_quiet(&mut ws, quiet());
}

#[test]
fn file_in_a_directory_made_after_start_is_seen() {
    file_in_a_new_directory(Watch::Native);
}

#[test]
fn file_in_a_directory_made_after_start_is_seen_when_polled() {
    file_in_a_new_directory(Watch::Poll);
}

fn file_in_a_new_directory(watch: Watch) {
    let server = TestServer::start(SITE, |c| c.poll = watch.poll());
    let (mut ws, _) = server.client();
    std::fs::create_dir_all(server.path("new/deeper")).expect("mkdir");
    write(&server.path("new/deeper/late.css"), "p{}");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("new/deeper/late.css".into(), "created".into())],
        "{msg}"
    );
    // And the new directory stays watched.
    write(&server.path("new/deeper/late.css"), "p{color:red}");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("new/deeper/late.css".into(), "modified".into())],
        "{msg}"
    );
}

#[test]
fn delete_says_deleted_and_move_says_renamed_and_created() {
    delete_and_move(Watch::Native);
}

#[test]
fn delete_says_deleted_and_move_says_renamed_and_created_when_polled() {
    delete_and_move(Watch::Poll);
}

fn delete_and_move(watch: Watch) {
    let server = TestServer::start(SITE, |c| c.poll = watch.poll());
    let (mut ws, _) = server.client();
    std::fs::remove_file(server.path("js/app.js")).expect("delete");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("js/app.js".into(), "deleted".into())],
        "{msg}"
    );
    assert_eq!(msg["action"], "reload");
    std::fs::rename(server.path("css/app.css"), server.path("css/main.css")).expect("move");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![
            ("css/app.css".into(), "renamed".into()),
            ("css/main.css".into(), "created".into())
        ],
        "{msg}"
    );
}

#[test]
fn a_move_out_of_the_tree_is_deleted_and_a_folder_moved_inside_is_renamed() {
    moves_out_and_folder_moves(Watch::Native);
}

#[test]
fn a_move_out_of_the_tree_is_deleted_and_a_folder_moved_inside_is_renamed_when_polled() {
    moves_out_and_folder_moves(Watch::Poll);
}

fn moves_out_and_folder_moves(watch: Watch) {
    let server = TestServer::start(SITE, |c| c.poll = watch.poll());
    let (mut ws, _) = server.client();
    // Same filesystem, so it is a real rename(2), as a desktop trash does.
    let outside = server.dir.path().parent().expect("temp dir has a parent");
    let gone = outside.join(format!("hotreload-trash-{}", std::process::id()));
    std::fs::rename(server.path("js/app.js"), &gone).expect("move out");
    let msg = next_change(&mut ws);
    let _ = std::fs::remove_file(&gone);
    assert_eq!(
        changes(&msg),
        vec![("js/app.js".into(), "deleted".into())],
        "{msg}"
    );
    // A folder moved inside the tree: its files are renamed, and the new
    // folder is watched.
    std::fs::rename(server.path("personas"), server.path("people")).expect("move folder");
    let msg = next_change(&mut ws);
    let mut got = changes(&msg);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("people/PERSONA.md".into(), "created".into()),
            ("personas/PERSONA.md".into(), "renamed".into()),
        ],
        "{msg}"
    );
    write(&server.path("people/PERSONA.md"), "# Alice");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("people/PERSONA.md".into(), "modified".into())],
        "{msg}"
    );
}

#[test]
fn a_file_moved_to_another_folder_is_renamed_and_created() {
    moves_between_folders(Watch::Native);
}

#[test]
fn a_file_moved_to_another_folder_is_renamed_and_created_when_polled() {
    moves_between_folders(Watch::Poll);
}

/// Both ways between two folders: polled, one is read before the other in
/// each round, and a move may fall between their reads.
fn moves_between_folders(watch: Watch) {
    let server = TestServer::start(SITE, |c| c.poll = watch.poll());
    let (mut ws, _) = server.client();
    for (from, to) in [("css/app.css", "js/app.css"), ("js/app.js", "css/app.js")] {
        std::fs::rename(server.path(from), server.path(to)).expect("move");
        let msg = next_change(&mut ws);
        assert_eq!(
            changes(&msg),
            vec![
                (from.into(), "renamed".into()),
                (to.into(), "created".into())
            ],
            "{msg}"
        );
    }
}

#[test]
fn create_then_delete_within_a_batch_is_nothing() {
    let server = TestServer::start(SITE, |c| c.debounce_ms = hotreload::Debounce::Ms(300));
    let (mut ws, _) = server.client();
    write(&server.path("css/flash.css"), "x{}");
    std::fs::remove_file(server.path("css/flash.css")).expect("delete");
    write(&server.path("css/app.css"), "y{}");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("css/app.css".into(), "modified".into())],
        "{msg}"
    );
}

#[test]
fn ignored_and_unmatched_files_give_nothing() {
    let server = TestServer::start(SITE, |c| {
        c.patterns = vec!["*.css".into(), "*.js".into()];
        c.ignore = vec!["vendor".into()];
    });
    let (mut ws, _) = server.client();
    write(&server.path("notes.txt"), "unmatched");
    write(&server.path("vendor/lib.css"), "ignored dir");
    write(&server.path("node_modules/pkg/index.js"), "default ignore");
    write(&server.path("css/app.css~"), "backup file");
    write(&server.path(".git/HEAD"), "ref");
    assert_quiet(&mut ws, Duration::from_millis(1200));
    // The watcher is alive: a matching file still comes through.
    write(&server.path("css/app.css"), "z{}");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("css/app.css".into(), "modified".into())],
        "{msg}"
    );
}

#[test]
fn every_client_gets_every_batch_with_growing_seq() {
    let server = TestServer::start(SITE, |_| {});
    let mut clients: Vec<_> = (0..5).map(|_| server.client().0).collect();
    for round in 1..=3u64 {
        write(
            &server.path("css/app.css"),
            &format!("a{{z-index:{round}}}"),
        );
        for ws in &mut clients {
            assert_eq!(next_change(ws)["seq"], round);
        }
    }
    // A client that connects now is told where the count stands.
    let (_late, hello) = server.client();
    assert_eq!(hello["seq"], 3);
}

#[test]
fn deleted_and_recreated_watch_dir_keeps_working() {
    deleted_and_recreated_watch_dir(Watch::Native);
}

#[test]
fn deleted_and_recreated_watch_dir_keeps_working_when_polled() {
    deleted_and_recreated_watch_dir(Watch::Poll);
}

fn deleted_and_recreated_watch_dir(watch: Watch) {
    // Watch a sub folder, delete it whole, make it again (a build output).
    let root = tempfile::tempdir().expect("temp dir");
    write(&root.path().join("web/app.css"), "a{}");
    let mut options = hotreload::serve::Options::new(root.path());
    options.port = 0;
    options.config.poll = watch.poll();
    options.config.watch_dirs = vec![hotreload::WatchDir::new("web", root.path())];
    let server = hotreload::serve::DevServer::start(options).expect("starts");
    let mut ws = common::connect(server.local_addr(), None).expect("connect");
    assert!(common::next_message(&mut ws, common::PATIENCE).is_some());
    std::fs::remove_dir_all(root.path().join("web")).expect("rm -rf");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("web/app.css".into(), "deleted".into())],
        "{msg}"
    );
    write(&root.path().join("web/app.css"), "b{}");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("web/app.css".into(), "created".into())],
        "{msg}"
    );
    write(&root.path().join("web/app.css"), "c{}");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("web/app.css".into(), "modified".into())],
        "{msg}"
    );
}

#[test]
fn watch_dir_missing_at_start_is_picked_up_when_it_appears() {
    watch_dir_missing_at_start(Watch::Native);
}

#[test]
fn watch_dir_missing_at_start_is_picked_up_when_it_appears_when_polled() {
    watch_dir_missing_at_start(Watch::Poll);
}

fn watch_dir_missing_at_start(watch: Watch) {
    let root = tempfile::tempdir().expect("temp dir");
    let mut options = hotreload::serve::Options::new(root.path());
    options.port = 0;
    options.config.poll = watch.poll();
    options.config.watch_dirs = vec![hotreload::WatchDir::new("later/web", root.path())];
    let server = hotreload::serve::DevServer::start(options).expect("starts without the dir");
    let mut ws = common::connect(server.local_addr(), None).expect("connect");
    assert!(common::next_message(&mut ws, common::PATIENCE).is_some());
    write(&root.path().join("later/web/app.css"), "a{}");
    let msg = next_change(&mut ws);
    assert_eq!(
        changes(&msg),
        vec![("later/web/app.css".into(), "created".into())],
        "{msg}"
    );
}

#[test]
fn a_file_name_that_is_not_utf8_is_reported_readably() {
    use std::os::unix::ffi::OsStrExt;
    let server = TestServer::start(SITE, |_| {});
    let (mut ws, _) = server.client();
    let name = std::ffi::OsStr::from_bytes(b"caf\xe9.css");
    std::fs::write(server.path("css").join(name), "a{}").expect("write");
    let msg = next_change(&mut ws);
    // Shown with U+FFFD where the bytes are not UTF-8; the message stays valid JSON.
    assert_eq!(
        changes(&msg),
        vec![("css/caf\u{fffd}.css".into(), "created".into())],
        "{msg}"
    );
    assert_eq!(msg["action"], "css");
}

#[test]
fn a_symlink_loop_neither_hangs_the_scan_nor_stops_the_watcher() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(&dir.path().join("site/a.css"), "a{}");
    std::os::unix::fs::symlink(dir.path().join("site"), dir.path().join("site/loop"))
        .expect("symlink");
    std::os::unix::fs::symlink("self", dir.path().join("site/self")).expect("symlink");
    let mut options = hotreload::serve::Options::new(dir.path().join("site"));
    options.port = 0;
    options.config.watch_dirs = vec![hotreload::WatchDir::new(".", &dir.path().join("site"))];
    let server = hotreload::serve::DevServer::start(options).expect("starts despite the loops");
    let mut ws = common::connect(server.local_addr(), None).expect("connect");
    assert!(common::next_message(&mut ws, common::PATIENCE).is_some());
    write(&dir.path().join("site/a.css"), "b{}");
    assert_eq!(
        changes(&next_change(&mut ws)),
        vec![("a.css".into(), "modified".into())]
    );
}

#[test]
fn ignored_folders_are_never_watched_even_when_made_later() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(&dir.path().join("index.html"), "<body>hi</body>");
    write(&dir.path().join("css/app.css"), "a{}");
    write(&dir.path().join("js/app.js"), "1");
    for n in 0..30 {
        // node_modules is a default ignore; vendor is ignored by the flag.
        std::fs::create_dir_all(dir.path().join(format!("node_modules/pkg{n}/lib")))
            .expect("mkdir");
        std::fs::create_dir_all(dir.path().join(format!("vendor/lib{n}"))).expect("mkdir");
    }
    let server = common::serve(
        &["serve", ".", "--ignore", "vendor", "--port", "0"],
        dir.path(),
        &[],
    );
    let pid = server.child.id();
    wait_for_watches(pid, dir.path(), &["", "css", "js"]);

    std::fs::create_dir(dir.path().join("img")).expect("mkdir");
    wait_for_watches(pid, dir.path(), &["", "css", "js", "img"]);

    for ignored in [
        "vendor/new",
        "node_modules/new",
        "js/node_modules/pkg/lib",
        "js/vendor/lib",
    ] {
        std::fs::create_dir_all(dir.path().join(ignored)).expect("mkdir");
    }
    // Made last: once it is watched, the events before it have been handled.
    std::fs::create_dir(dir.path().join("fonts")).expect("mkdir");
    wait_for_watches(pid, dir.path(), &["", "css", "js", "img", "fonts"]);
}
