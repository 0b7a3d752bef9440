//! Every broken `config.yaml` in `tests/fixtures/config/bad_*.yaml` must fail
//! with exactly the message in its sibling `.expected` file; every
//! `good_*.yaml` must parse; no input at all may panic.
//!
//! After a deliberate wording change, `HOTRELOAD_BLESS=1 cargo test --test
//! config_errors` rewrites the `.expected` files; review the diff.

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

use hotreload::{Config, Error, Poll, WatchDir};

const FIXTURES: &str = "tests/fixtures/config";

/// The fixtures whose file name starts with `prefix`, as relative paths
/// (cargo runs integration tests from the crate root), sorted.
fn fixtures(prefix: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(FIXTURES)
        .unwrap_or_else(|e| panic!("cannot list {FIXTURES}: {e}"))
        .map(|entry| entry.expect("a directory entry").file_name())
        .filter_map(|name| name.to_str().map(str::to_owned))
        .filter(|name| name.starts_with(prefix) && name.ends_with(".yaml"))
        .map(|name| Path::new(FIXTURES).join(name))
        .collect();
    found.sort();
    found
}

#[test]
fn every_broken_config_gives_its_expected_message() {
    let bless = std::env::var_os("HOTRELOAD_BLESS").is_some();
    let bad = fixtures("bad_");
    assert!(bad.len() >= 30, "only {} bad fixtures", bad.len());
    let mut mismatches = Vec::new();
    for yaml in &bad {
        let expected_file = yaml.with_extension("expected");
        let got = match Config::from_file(yaml) {
            Ok(config) => format!("parsed without error: {config:?}"),
            Err(e) => {
                if !e.is_config() {
                    mismatches.push(format!("{}: not a config error: {e}", yaml.display()));
                }
                e.to_string()
            }
        };
        if bless {
            fs::write(&expected_file, format!("{got}\n")).expect("write .expected");
            continue;
        }
        match fs::read_to_string(&expected_file) {
            Ok(want) if want.strip_suffix('\n').unwrap_or(&want) == got => {}
            Ok(want) => mismatches.push(format!(
                "{}:\n--- expected\n{}\n--- got\n{got}",
                yaml.display(),
                want.trim_end_matches('\n')
            )),
            Err(e) => mismatches.push(format!(
                "{}: cannot read {}: {e}\n--- got\n{got}",
                yaml.display(),
                expected_file.display()
            )),
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} of {} broken configs gave another message:\n\n{}",
        mismatches.len(),
        bad.len(),
        mismatches.join("\n\n")
    );
}

#[test]
fn every_expected_file_has_its_fixture() {
    let orphans: Vec<String> = fs::read_dir(FIXTURES)
        .expect("list fixtures")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "expected"))
        .filter(|p| !p.with_extension("yaml").exists())
        .map(|p| p.display().to_string())
        .collect();
    assert!(orphans.is_empty(), "no .yaml for {orphans:?}");
}

#[test]
fn every_message_names_file_line_key_and_fix() {
    for yaml in fixtures("bad_") {
        let Err(e) = Config::from_file(&yaml) else {
            continue; // reported by the test above
        };
        let text = e.to_string();
        assert!(
            text.starts_with(&yaml.display().to_string()),
            "{}: message does not start with the file:\n{text}",
            yaml.display()
        );
        assert!(
            text.contains("\n  fix: ") && text.lines().count() <= 3,
            "{}: not `problem` then `fix:` in at most three lines:\n{text}",
            yaml.display()
        );
    }
}

fn parse(name: &str) -> Config {
    let path = Path::new(FIXTURES).join(name);
    Config::from_file(&path).unwrap_or_else(|e| panic!("{} should parse:\n{e}", path.display()))
}

#[test]
fn every_good_config_parses() {
    let good = fixtures("good_");
    assert!(good.len() >= 3, "only {} good fixtures", good.len());
    let failures: Vec<String> = good
        .iter()
        .filter_map(|p| Config::from_file(p).err().map(|e| e.to_string()))
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn the_seed_example_parses_unchanged() {
    let config = parse("good_seed.yaml");
    let base = Path::new(FIXTURES);
    assert_eq!(
        config,
        Config {
            enabled: true,
            watch_dirs: vec![
                WatchDir::new("./web/static", base),
                WatchDir::new("./personas", base)
            ],
            patterns: ["*.html", "*.css", "*.js", "*.md", "PERSONA.md"]
                .map(String::from)
                .to_vec(),
            source: Some(base.join("good_seed.yaml")),
            ..Config::default()
        }
    );
    assert_eq!(config.watch_dirs[0].label, "web/static");
    assert_eq!(config.watch_dirs[0].path, base.join("./web/static"));
}

#[test]
fn every_key_is_read() {
    let base = Path::new(FIXTURES);
    let config = parse("good_every_key.yaml");
    assert_eq!(
        config,
        Config {
            enabled: false,
            watch_dirs: vec![
                WatchDir::new("./web/static", base),
                WatchDir::new("/srv/shared/assets", base),
                WatchDir::new(".", base),
            ],
            patterns: ["*.html", "*.css", "js/**/*.js", "[!_]*.md"]
                .map(String::from)
                .to_vec(),
            ignore: ["*.log", "dist", "**/cache/*"].map(String::from).to_vec(),
            gitignore: false,
            poll: Poll::Every(250),
            debounce_ms: hotreload::Debounce::Ms(50),
            max_wait_ms: 500,
            client_buffer: 32,
            heartbeat_ms: 2000,
            max_clients: 64,
            allowed_origins: [
                "http://localhost:3000",
                "https://dev.example.test:8443",
                "null"
            ]
            .map(String::from)
            .to_vec(),
            allowed_hosts: ["myapp.test", "192.168.1.5"].map(String::from).to_vec(),
            morph: true,
            preflight: true,
            sync: true,
            host: Some("0.0.0.0".into()),
            port: Some(9000),
            root: Some(base.join("./public")),
            inject: Some(false),
            livereload_port: Some(35730),
            proxy: Some("http://localhost:3000/app".into()),
            proxy_timeout_ms: 5000,
            build: Some("make css".into()),
            build_timeout_ms: 60000,
            run: Some("go run ./cmd/server".into()),
            restart_on: vec!["*.go".into(), "templates/**".into()],
            ready_url: Some("http://localhost:3000/health".into()),
            stop_timeout_ms: 2000,
            start_timeout_ms: 10000,
            test: Some("go test ./...".into()),
            source: Some(base.join("good_every_key.yaml")),
        }
    );
}

#[test]
fn other_sections_of_a_host_app_are_ignored() {
    let config = parse("good_host_app.yaml");
    assert_eq!(config.patterns, ["*.css"]);
    assert_eq!(config.debounce_ms, hotreload::Debounce::Auto);
    assert!(config.enabled);
}

#[test]
fn an_empty_section_means_the_defaults() {
    let config = parse("good_empty_section.yaml");
    assert_eq!(
        config,
        Config {
            source: Some(Path::new(FIXTURES).join("good_empty_section.yaml")),
            ..Config::default()
        }
    );
}

#[test]
fn the_init_template_parses() {
    let file = Path::new("project/config.yaml");
    let config = Config::from_yaml(hotreload::config::TEMPLATE, file)
        .unwrap_or_else(|e| panic!("TEMPLATE does not parse:\n{e}"));
    assert_eq!(
        config,
        Config {
            source: Some(file.to_path_buf()),
            ..Config::default()
        }
    );
}

#[test]
fn a_missing_file_is_an_io_error_naming_it() {
    let e = Config::from_file("tests/fixtures/config/does_not_exist.yaml").unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("does_not_exist.yaml"), "{e}");
}

#[test]
fn no_input_panics() {
    let deep_list = "[".repeat(5000);
    let deep_map = "a: {".repeat(500);
    let long_line = format!("hot_reload:\n  patterns: [{}]\n", "\"*.x\", ".repeat(5000));
    let laughs = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n\
                  hot_reload:\n  patterns: *f\n";
    let mut inputs: Vec<String> = [
        "",
        " ",
        "\n\n\n",
        "\u{feff}",
        "\0",
        "#",
        "---",
        "...",
        "--- |\n  text\n",
        "%YAML 1.2\n---\n",
        "%TAG ! tag:x,2000:\n--- !a\nb: 1\n",
        "~",
        "null",
        "[]",
        "{}",
        "-",
        ":",
        "? ",
        "hot_reload",
        "hot_reload:",
        "hot_reload: ",
        "hot_reload: ~",
        "hot_reload: []",
        "hot_reload: [[[]]]",
        "hot_reload: {{}}",
        "hot_reload: !!binary aGVsbG8=",
        "hot_reload: !custom {a: 1}",
        "hot_reload:\n  !tag enabled: true",
        "hot_reload:\n  enabled: !!null",
        "hot_reload:\n  patterns: !!str x",
        "hot_reload:\n  ? {a: 1}\n  : 2",
        "hot_reload:\n  ? [a, b]\n  : 2",
        "hot_reload:\n  null: 1",
        "hot_reload:\n  ~: 1",
        "hot_reload:\n  true: 1",
        "hot_reload:\n  1.5: 1",
        "hot_reload:\n  99999999999999999999999: 1",
        "99999999999999999999999: 1",
        "hot_reload:\n  port: 99999999999999999999999",
        "hot_reload:\n  port: -99999999999999999999999",
        "hot_reload:\n  debounce_ms: .inf",
        "hot_reload:\n  debounce_ms: .nan",
        "hot_reload:\n  debounce_ms: 18446744073709551615\n  max_wait_ms: 18446744073709551615",
        "hot_reload:\n  heartbeat_ms: 18446744073709551615",
        "hot_reload:\n  client_buffer: 18446744073709551615",
        "hot_reload:\n  patterns: [\"\\u0000\", \"\\uFFFF\", \"💥*\"]",
        "hot_reload:\n  allowed_origins: [\"http://💥\", \"http://[\", \"http://]:\", \"https://:\"]",
        "hot_reload:\n  watch_dirs: [\"\\u0000\"]",
        "hot_reload:\n  root: \"\"",
        "hot_reload: &a\n  enabled: *a",
        "a: &a [*a]\nhot_reload: {}",
        "hot_reload: *undefined",
        "hot_reload:\n  enabled: true\n---\n---\n",
        "hot_reload:\n  enabled: true\n...\ngarbage: [",
        "\thot_reload:",
        "hot_reload:\r\n\tenabled: true",
        "hot_reload:\r  enabled: true",
        "hot_reload: \"unterminated",
        "hot_reload: 'single \n  quoted",
        "hot_reload:\n  enabled: |\n    true\n",
        "hot_reload:\n  enabled: >\n    true\n",
        "{hot_reload: {enabled: true}, hot_reload: {enabled: false}}",
        "hot_reload:\n  enabled: true\n  enabled: true\n  enabled: true",
        "💥: 1\nhot_reload: {}",
        "hot_reload:\n  💥: 1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    inputs.extend([deep_list, deep_map, long_line, laughs.to_string()]);

    let mut failures = Vec::new();
    for input in &inputs {
        // Some(message) for an error that is not a config error.
        let result =
            panic::catch_unwind(
                || match Config::from_yaml(input, Path::new("x/config.yaml")) {
                    Err(e) if !e.is_config() => Some(e.to_string()),
                    _ => None,
                },
            );
        match result {
            Err(_) => failures.push(format!("panicked on {:?}", shorten(input))),
            Ok(Some(e)) => failures.push(format!("{:?}: not a config error: {e}", shorten(input))),
            Ok(None) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn shorten(s: &str) -> String {
    s.chars().take(80).collect()
}
