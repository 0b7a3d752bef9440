//! No folder slips past the watcher: not one made on the way to a missing
//! watch dir while the watcher is busy looking at it, and not one made while
//! a big tree is being scanned.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hotreload::{ChangeBatch, Config, Manager, Operation, WatchDir};

use common::PATIENCE;

/// A manager watching `dirs` (relative to `base`) with a short debounce.
fn manager(base: &Path, dirs: &[&str]) -> Manager {
    Manager::new(Config {
        watch_dirs: dirs.iter().map(|d| WatchDir::new(d, base)).collect(),
        debounce_ms: hotreload::Debounce::Ms(20),
        max_wait_ms: 200,
        ..Config::default()
    })
    .expect("manager starts")
}

/// Waits for a batch that has `path` with `operation`, failing with every
/// batch seen instead.
fn wait_for(batches: &crossbeam_channel::Receiver<ChangeBatch>, path: &str, operation: Operation) {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    while let Ok(batch) = batches.recv_deadline(deadline) {
        if batch
            .changes
            .iter()
            .any(|c| c.path == path && c.operation == operation)
        {
            return;
        }
        seen.push(batch.changes);
    }
    panic!("no batch with {path} {operation:?} within {PATIENCE:?}; saw {seen:?}");
}

#[test]
fn mkdir_p_and_write_under_a_missing_watch_dir_is_seen_200_times_in_a_row() {
    let base = tempfile::tempdir().expect("temp dir");
    let manager = manager(base.path(), &["a/b/c"]);
    let batches = manager.subscribe();
    for n in 0..200 {
        // The shell's own mkdir -p: each level appears a few microseconds
        // after the one above, as the watcher moves its watch down.
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("mkdir -p a/b/c && echo {n} > a/b/c/f{n}.css"))
            .current_dir(base.path())
            .status()
            .expect("sh runs");
        assert!(status.success());
        wait_for(&batches, &format!("a/b/c/f{n}.css"), Operation::Created);
        std::fs::remove_dir_all(base.path().join("a")).expect("rm -rf a");
        wait_for(&batches, &format!("a/b/c/f{n}.css"), Operation::Deleted);
    }
}

#[test]
fn folders_made_while_a_100000_file_tree_is_scanned_are_watched() {
    let base = tempfile::tempdir().expect("temp dir");
    let tree = base.path().join("tree");
    for d in 0..1000 {
        let dir = tree.join(format!("d{:03}/e{}", d / 10, d % 10));
        std::fs::create_dir_all(&dir).expect("mkdir");
        for f in 0..100 {
            std::fs::write(dir.join(format!("f{f}.txt")), "x").expect("write");
        }
    }
    // Folders appear all over the tree for as long as the scan runs, as
    // they do when a build starts beside the server.
    let scanning = Arc::new(AtomicBool::new(true));
    let maker = {
        let tree = tree.clone();
        let scanning = Arc::clone(&scanning);
        std::thread::spawn(move || {
            let mut made = Vec::new();
            let mut n = 0usize;
            while scanning.load(Ordering::Acquire) && made.len() < 2000 {
                // Spread over the tree, early and late in the scan's order.
                let d = (n * 7919) % 1000;
                let dir = format!("d{:03}/e{}/new{n}", d / 10, d % 10);
                std::fs::create_dir(tree.join(&dir)).expect("mkdir during the scan");
                made.push(dir);
                n += 1;
            }
            made
        })
    };
    let started = Instant::now();
    let manager = manager(base.path(), &["tree"]);
    let scan = started.elapsed();
    scanning.store(false, Ordering::Release);
    let made = maker.join().expect("maker thread");
    assert!(!made.is_empty(), "no folder was made during the scan");
    eprintln!("{} folders made during a scan of {scan:?}", made.len());
    let batches = manager.subscribe();
    // Let the events of the scan's own folders go out first.
    std::thread::sleep(Duration::from_millis(300));
    while batches.try_recv().is_ok() {}
    for dir in &made {
        std::fs::write(tree.join(dir).join("later.css"), "a{}").expect("write");
    }
    let mut missing: BTreeSet<String> =
        made.iter().map(|d| format!("tree/{d}/later.css")).collect();
    let deadline = Instant::now() + PATIENCE;
    while !missing.is_empty() {
        let Ok(batch) = batches.recv_deadline(deadline) else {
            break;
        };
        for change in &batch.changes {
            missing.remove(&change.path);
        }
    }
    assert!(
        missing.is_empty(),
        "{} of {} folders made during the scan were never watched, e.g. {:?}",
        missing.len(),
        made.len(),
        missing.iter().take(5).collect::<Vec<_>>()
    );
}
