//! In a git work tree, what git ignores is never reported and its folders
//! take no inotify watch; a `.gitignore` edit applies without a restart;
//! `gitignore: false` turns it off. Against the real binary, in a real
//! repository (`git init`).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{
    PATIENCE, Running, assert_quiet, changes, connect, next_change, next_message, serve,
    wait_for_watches, write,
};

/// A temp folder made a git work tree by `git init`, or `None` (with the
/// reason printed) where git is missing outside CI.
fn repo() -> Option<tempfile::TempDir> {
    let dir = tempfile::tempdir().expect("temp dir");
    match Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path())
        .status()
    {
        Ok(status) if status.success() => Some(dir),
        other => {
            assert!(
                std::env::var_os("CI").is_none(),
                "git init failed, and CI needs git: {other:?}"
            );
            eprintln!("skipped: git is not installed ({other:?})");
            None
        }
    }
}

/// A small site whose `.gitignore` ignores the `dist` folder and logs.
fn site(dir: &Path) {
    write(&dir.join("index.html"), "<body>hi</body>");
    write(&dir.join("css/app.css"), "a{}");
    write(&dir.join("dist/out.js"), "1");
    write(&dir.join("dist/sub/deep.js"), "1");
    write(&dir.join("debug.log"), "x");
    write(&dir.join(".gitignore"), "dist/\n*.log\n");
}

/// The binary serving `dir`, with a client that has its `connected` message.
fn start(dir: &Path) -> (Running, common::Ws) {
    let server = serve(&["serve", ".", "--port", "0"], dir, &[]);
    let mut ws = connect(server.addr, None).expect("WebSocket connects");
    let hello = next_message(&mut ws, PATIENCE).expect("a connected message");
    assert_eq!(hello["type"], "connected", "{hello}");
    (server, ws)
}

fn quiet() -> Duration {
    Duration::from_millis(800)
}

#[test]
fn a_gitignored_folder_gives_nothing_and_takes_no_watch() {
    let Some(dir) = repo() else { return };
    site(dir.path());
    let (server, mut ws) = start(dir.path());
    // `.git` is a default ignore (its `info` is watched for edits to
    // `info/exclude`); `dist` is git's.
    wait_for_watches(server.child.id(), dir.path(), &["", "css", ".git/info"]);

    write(&dir.path().join("dist/out.js"), "2");
    write(&dir.path().join("dist/sub/deep.js"), "2");
    write(&dir.path().join("debug.log"), "y");
    // Folders made under an ignored one, or matching a rule, take no watch either.
    std::fs::create_dir_all(dir.path().join("dist/new/er")).expect("mkdir");
    write(&dir.path().join("js/dist/x.js"), "1");
    // Written last: had any of the above been reported, it would come first
    // or in the same batch.
    write(&dir.path().join("css/app.css"), "b{}");
    assert_eq!(
        changes(&next_change(&mut ws)),
        vec![("css/app.css".into(), "modified".into())]
    );
    assert_quiet(&mut ws, quiet());
    wait_for_watches(
        server.child.id(),
        dir.path(),
        &["", "css", "js", ".git/info"],
    );
}

#[test]
fn editing_the_gitignore_applies_without_a_restart() {
    let Some(dir) = repo() else { return };
    site(dir.path());
    let (server, mut ws) = start(dir.path());
    let pid = server.child.id();
    wait_for_watches(pid, dir.path(), &["", "css", ".git/info"]);

    // Un-ignore `dist` (logs stay ignored).
    write(&dir.path().join(".gitignore"), "*.log\n");
    assert_eq!(
        changes(&next_change(&mut ws)),
        vec![(".gitignore".into(), "modified".into())]
    );
    wait_for_watches(
        pid,
        dir.path(),
        &["", "css", "dist", "dist/sub", ".git/info"],
    );
    write(&dir.path().join("dist/sub/deep.js"), "3");
    write(&dir.path().join("debug.log"), "z");
    // The file was there all along: its change is a modification.
    assert_eq!(
        changes(&next_change(&mut ws)),
        vec![("dist/sub/deep.js".into(), "modified".into())]
    );

    // Ignore it again: its watches go, and its changes say nothing.
    write(&dir.path().join(".gitignore"), "dist/\n*.log\n");
    assert_eq!(
        changes(&next_change(&mut ws)),
        vec![(".gitignore".into(), "modified".into())]
    );
    wait_for_watches(pid, dir.path(), &["", "css", ".git/info"]);
    write(&dir.path().join("dist/out.js"), "4");
    write(&dir.path().join("css/app.css"), "c{}");
    assert_eq!(
        changes(&next_change(&mut ws)),
        vec![("css/app.css".into(), "modified".into())]
    );

    // A nested .gitignore: a `!` line in it brings one file back, the
    // rest of the folder's logs stay out.
    write(&dir.path().join("css/.gitignore"), "!keep.log\n");
    write(&dir.path().join("css/keep.log"), "1");
    write(&dir.path().join("css/other.log"), "1");
    // One batch, or two when the machine stalls between the writes.
    let mut got = changes(&next_change(&mut ws));
    if got.len() < 2 {
        got.extend(changes(&next_change(&mut ws)));
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            ("css/.gitignore".into(), "created".into()),
            ("css/keep.log".into(), "created".into()),
        ]
    );
    assert_quiet(&mut ws, quiet());
}

#[test]
fn gitignore_false_reports_what_git_ignores() {
    let Some(dir) = repo() else { return };
    site(dir.path());
    write(
        &dir.path().join("config.yaml"),
        "hot_reload:\n  gitignore: false\n",
    );
    let (server, mut ws) = start(dir.path());
    wait_for_watches(
        server.child.id(),
        dir.path(),
        &["", "css", "dist", "dist/sub"],
    );
    write(&dir.path().join("dist/out.js"), "2");
    assert_eq!(
        changes(&next_change(&mut ws)),
        vec![("dist/out.js".into(), "modified".into())]
    );
}

/// Lines the process prints on stderr, as they come.
fn stderr_lines(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stderr = child.stderr.take().expect("piped stderr");
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing every one of `words`; fails with what came.
fn wait_for_line(lines: &mpsc::Receiver<String>, words: &[&str]) -> String {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if words.iter().all(|w| line.contains(w)) => return line,
            Ok(line) => seen.push(line),
            Err(_) => break,
        }
    }
    panic!("no line with {words:?} within {PATIENCE:?}; stderr said:\n{seen:#?}");
}

#[test]
fn a_watch_dir_git_ignores_and_a_broken_line_are_warned_about() {
    let Some(dir) = repo() else { return };
    write(&dir.path().join("site/a.css"), "a{}");
    write(&dir.path().join("site/sub/b.css"), "a{}");
    write(&dir.path().join("web/c.css"), "a{}");
    write(
        &dir.path().join(".gitignore"),
        "# output\nsite/\nweb/bad[\n",
    );
    let (child, line) = common::start_ready(
        common::bin()
            .args(["watch", "--watch", "site", "--watch", "web", "--port", "0"])
            .current_dir(dir.path())
            .stderr(Stdio::piped()),
    );
    let mut server = Running {
        addr: common::ready_line_addr(&line),
        url: String::new(),
        child,
    };
    let lines = stderr_lines(&mut server.child);
    let broken = wait_for_line(&lines, &[".gitignore:3", "web/bad["]);
    assert!(broken.contains("never closed"), "{broken}");
    let ignored = wait_for_line(&lines, &["watch dir", "site", "is ignored by git"]);
    assert!(ignored.contains(".gitignore:2"), "{ignored}");
    wait_for_line(&lines, &["fix:", "`gitignore: false`"]);
    // The ignored watch dir keeps its own watch (to see the rules change),
    // no more; the work tree's top is watched for its `.gitignore`.
    wait_for_watches(
        server.child.id(),
        dir.path(),
        &["", ".git/info", "site", "web"],
    );

    let mut ws = connect(server.addr, None).expect("WebSocket connects");
    assert!(
        next_message(&mut ws, PATIENCE).is_some(),
        "a connected message"
    );
    write(&dir.path().join("site/a.css"), "b{}");
    write(&dir.path().join("site/new.css"), "b{}");
    write(&dir.path().join("web/c.css"), "b{}");
    assert_eq!(
        changes(&next_change(&mut ws)),
        vec![("web/c.css".into(), "modified".into())]
    );
}

#[test]
fn no_gitignore_serves_an_output_folder_that_git_ignores() {
    let Some(dir) = repo() else { return };
    write(&dir.path().join(".gitignore"), "public/\n");
    write(&dir.path().join("public/index.html"), "<body>hi</body>");
    let server = serve(
        &["serve", "public", "--no-gitignore", "--port", "0"],
        dir.path(),
        &[],
    );
    let mut ws = connect(server.addr, None).expect("WebSocket connects");
    assert!(
        next_message(&mut ws, PATIENCE).is_some(),
        "a connected message"
    );
    write(&dir.path().join("public/index.html"), "<body>new</body>");
    assert_eq!(
        changes(&next_change(&mut ws)),
        vec![("public/index.html".into(), "modified".into())]
    );
}

#[test]
fn edits_above_the_watch_dir_and_to_info_exclude_apply_too() {
    let Some(dir) = repo() else { return };
    write(&dir.path().join("web/a.css"), "a{}");
    write(&dir.path().join("web/app.log"), "x");
    write(&dir.path().join(".gitignore"), "*.log\n");
    let server = serve(&["serve", "web", "--port", "0"], dir.path(), &[]);
    let mut ws = connect(server.addr, None).expect("WebSocket connects");
    assert!(
        next_message(&mut ws, PATIENCE).is_some(),
        "a connected message"
    );
    wait_for_watches(server.child.id(), dir.path(), &["", ".git/info", "web"]);

    // The top's .gitignore, outside the watch dir, stops ignoring logs.
    write(&dir.path().join(".gitignore"), "# nothing\n");
    // Nothing tells when the watcher has read it: save until it shows.
    let deadline = Instant::now() + PATIENCE;
    let got = loop {
        write(&dir.path().join("web/app.log"), "y");
        if let Some(m) = next_message(&mut ws, quiet()) {
            break m;
        }
        assert!(Instant::now() < deadline, "web/app.log never reported");
    };
    assert_eq!(
        changes(&got),
        vec![("web/app.log".into(), "modified".into())]
    );

    // info/exclude ignores it again.
    write(&dir.path().join(".git/info/exclude"), "*.log\n");
    let deadline = Instant::now() + PATIENCE;
    loop {
        write(&dir.path().join("web/app.log"), "z");
        write(&dir.path().join("web/a.css"), "b{}");
        let got = changes(&next_change(&mut ws));
        if got == vec![("web/a.css".into(), "modified".into())] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "web/app.log still reported: {got:?}"
        );
    }
}
