//! Which paths are reported and which directories are never watched (SPEC "Patterns").

use std::path::Path;

use glob::{MatchOptions, Pattern};

use crate::Error;

/// Ignored on top of the user's `ignore`: version control, dependency and
/// build folders, and the temporaries editors write while saving.
pub const DEFAULT_IGNORES: &[&str] = &[
    ".git",
    "node_modules",
    "target",
    "*.swp",
    "*.swx",
    "*~",
    ".#*",
    "#*#",
    "4913",
    "*.tmp",
    "*___jb_tmp___",
    "*___jb_old___",
];

// `*` must not cross `/` in a path pattern; dot files are ordinary files.
const OPTIONS: MatchOptions = MatchOptions {
    case_sensitive: true,
    require_literal_separator: true,
    require_literal_leading_dot: false,
};

struct Glob {
    pattern: Pattern,
    /// No `/` in it: matched against the file (or directory) name at any depth.
    by_name: bool,
}

impl Glob {
    fn new(text: &str, key: &str) -> Result<Glob, Error> {
        let pattern = Pattern::new(text).map_err(|e| {
            Error::config(
                "<patterns>",
                key,
                format!(
                    "`{text}` is not a valid glob: {} at character {}",
                    e.msg,
                    e.pos + 1
                ),
                "use *, ?, [abc] and ** (as a whole path segment) only",
            )
        })?;
        Ok(Glob {
            pattern,
            by_name: !text.contains('/'),
        })
    }

    fn matches(&self, rel: &str) -> bool {
        if self.by_name {
            let name = rel.rsplit('/').next().unwrap_or(rel);
            self.pattern.matches_with(name, OPTIONS)
        } else {
            self.pattern.matches_with(rel, OPTIONS)
        }
    }
}

/// A list of globs matched against changed paths, as `restart_on` gives
/// them (same syntax as `patterns`).
pub(crate) struct Globs(Vec<Glob>);

impl Globs {
    /// Compiles the globs of `key`; an invalid one is a config error.
    pub(crate) fn new(globs: &[String], key: &str) -> Result<Globs, Error> {
        globs
            .iter()
            .map(|g| Glob::new(g, key))
            .collect::<Result<_, _>>()
            .map(Globs)
    }

    /// Does any glob match `path`?
    pub(crate) fn matches(&self, path: &str) -> bool {
        self.0.iter().any(|g| g.matches(path))
    }
}

/// The compiled `patterns` and `ignore` of a config, defaults included.
pub struct Patterns {
    include: Vec<Glob>,
    ignore: Vec<Glob>,
}

impl Patterns {
    /// Compiles the globs; an invalid one is a config error.
    pub fn new(patterns: &[String], ignore: &[String]) -> Result<Patterns, Error> {
        let include = patterns
            .iter()
            .map(|p| Glob::new(p, "hot_reload.patterns"))
            .collect::<Result<_, _>>()?;
        let ignore = ignore
            .iter()
            .map(String::as_str)
            .chain(DEFAULT_IGNORES.iter().copied())
            .map(|p| Glob::new(p, "hot_reload.ignore"))
            .collect::<Result<_, _>>()?;
        Ok(Patterns { include, ignore })
    }

    /// Is a file at `rel` (relative to its watch dir, `/`-separated) reported?
    pub fn is_reported(&self, rel: &str) -> bool {
        !self.is_ignored(rel) && self.is_included(rel)
    }

    /// Does `rel` match `patterns` (ignores aside)?
    pub fn is_included(&self, rel: &str) -> bool {
        self.include.is_empty() || self.include.iter().any(|g| g.matches(rel))
    }

    /// Is `rel` itself ignored, its parents aside? For walks that never
    /// enter an ignored directory.
    pub fn is_ignored_here(&self, rel: &str) -> bool {
        self.ignore.iter().any(|g| g.matches(rel))
    }

    /// Is `rel` ignored, itself or through one of its parent directories?
    pub fn is_ignored(&self, rel: &str) -> bool {
        let mut end = 0;
        // Check every ancestor prefix (`a`, `a/b`, ...) and then `rel` itself.
        loop {
            let next = rel[end..].find('/').map(|i| end + i);
            let prefix = &rel[..next.unwrap_or(rel.len())];
            if !prefix.is_empty() && self.ignore.iter().any(|g| g.matches(prefix)) {
                return true;
            }
            match next {
                Some(i) => end = i + 1,
                None => return false,
            }
        }
    }
}

/// `rel` as a `/`-separated string (lossy for names that are not UTF-8).
pub fn rel_string(rel: &Path) -> String {
    let mut out = String::new();
    for part in rel.components() {
        if !out.is_empty() {
            out.push('/');
        }
        out.push_str(&part.as_os_str().to_string_lossy());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(patterns: &[&str], ignore: &[&str]) -> Patterns {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        Patterns::new(&s(patterns), &s(ignore)).expect("test globs are valid")
    }

    #[test]
    fn reported_paths() {
        // (patterns, ignore, path, reported?)
        let rows: &[(&[&str], &[&str], &str, bool)] = &[
            (&["*.css"], &[], "app.css", true),
            (&["*.css"], &[], "css/app.css", true),
            (&["*.css"], &[], "css/app.js", false),
            (&["*.css"], &[], "app.css.map", false),
            (&[], &[], "anything/at/all.bin", true),
            (&["PERSONA.md"], &[], "personas/bob/PERSONA.md", true),
            (&["PERSONA.md"], &[], "personas/bob/persona.md", false),
            (&["js/*.js"], &[], "js/app.js", true),
            (&["js/*.js"], &[], "js/lib/app.js", false),
            (&["js/*.js"], &[], "app.js", false),
            (&["**/*.js"], &[], "app.js", true),
            (&["**/*.js"], &[], "a/b/c/app.js", true),
            (&["a/**/x.css"], &[], "a/x.css", true),
            (&["a/**/x.css"], &[], "a/b/c/x.css", true),
            (&["?.css"], &[], "a.css", true),
            (&["[ab].css"], &[], "c.css", false),
            (&["*.css"], &["vendor"], "vendor/lib.css", false),
            (&["*.css"], &["*.min.css"], "app.min.css", false),
            (&["*.css"], &["dist/*.css"], "dist/app.css", false),
            (&["*.css"], &["dist/*.css"], "src/dist/app.css", true),
            (&["*.css"], &["build/**"], "build/x/app.css", false),
            // default ignores
            (&[], &[], ".git/index", false),
            (&[], &[], "web/node_modules/x/y.js", false),
            (&[], &[], "target/debug/app", false),
            (&[], &[], ".app.css.swp", false),
            (&[], &[], "app.css~", false),
            (&[], &[], ".#app.css", false),
            (&[], &[], "#app.css#", false),
            (&[], &[], "css/4913", false),
            (&[], &[], "app.css.tmp", false),
            (&[], &[], "app.css___jb_tmp___", false),
            (&[], &[], "app.css___jb_old___", false),
            (&[], &[], ".gitignore", true),
            (&[], &[], "targets.txt", true),
        ];
        for (patterns, ignore, path, want) in rows {
            assert_eq!(
                p(patterns, ignore).is_reported(path),
                *want,
                "patterns {patterns:?} ignore {ignore:?} path {path}"
            );
        }
    }

    #[test]
    fn ignored_directories_by_name_or_path() {
        let pats = p(&[], &["dist", "docs/api"]);
        assert!(pats.is_ignored("dist"));
        assert!(pats.is_ignored("web/dist"));
        assert!(pats.is_ignored("docs/api"));
        assert!(!pats.is_ignored("web/docs/api"));
        assert!(!pats.is_ignored("docs"));
        assert!(pats.is_ignored("node_modules"));
    }

    #[test]
    fn invalid_glob_names_the_pattern() {
        let err = Patterns::new(&["[*.css".into()], &[])
            .err()
            .expect("invalid");
        assert!(
            err.to_string().contains("`[*.css` is not a valid glob"),
            "{err}"
        );
    }

    /// Property tests against a reference matcher written from SPEC "Patterns".
    mod props {
        use super::*;
        use proptest::prelude::*;

        /// One token of a glob segment (a segment never holds `/`).
        enum Tok {
            Lit(char),
            Any,
            Star,
            Class {
                negated: bool,
                ranges: Vec<(char, char)>,
            },
        }

        fn tokens(segment: &str) -> Vec<Tok> {
            let chars: Vec<char> = segment.chars().collect();
            let mut out = Vec::new();
            let mut i = 0;
            while i < chars.len() {
                match chars[i] {
                    '*' => out.push(Tok::Star),
                    '?' => out.push(Tok::Any),
                    '[' => {
                        let close = i
                            + 1
                            + chars[i + 1..]
                                .iter()
                                .position(|&c| c == ']')
                                .expect("generated classes are closed");
                        let mut body = &chars[i + 1..close];
                        let negated = body.first() == Some(&'!');
                        if negated {
                            body = &body[1..];
                        }
                        let mut ranges = Vec::new();
                        let mut k = 0;
                        while k < body.len() {
                            if k + 2 < body.len() && body[k + 1] == '-' {
                                ranges.push((body[k], body[k + 2]));
                                k += 3;
                            } else {
                                ranges.push((body[k], body[k]));
                                k += 1;
                            }
                        }
                        out.push(Tok::Class { negated, ranges });
                        i = close;
                    }
                    c => out.push(Tok::Lit(c)),
                }
                i += 1;
            }
            out
        }

        /// Backtracking match of one segment's tokens against one name.
        fn segment_matches(toks: &[Tok], name: &[char]) -> bool {
            match toks.split_first() {
                None => name.is_empty(),
                Some((Tok::Star, rest)) => {
                    (0..=name.len()).any(|k| segment_matches(rest, &name[k..]))
                }
                Some((tok, rest)) => match name.split_first() {
                    None => false,
                    Some((&c, more)) => {
                        let ok = match tok {
                            Tok::Lit(l) => *l == c,
                            Tok::Any => true,
                            Tok::Class { negated, ranges } => {
                                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
                            }
                            Tok::Star => unreachable!(),
                        };
                        ok && segment_matches(rest, more)
                    }
                },
            }
        }

        /// `**` as a whole segment: zero or more segments, except at the end
        /// of a pattern, where (as in gitignore and the glob crate) `dir/**`
        /// means everything inside `dir`, so one or more.
        fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
            match pattern.split_first() {
                None => path.is_empty(),
                Some((&"**", [])) => !path.is_empty(),
                Some((&"**", rest)) => (0..=path.len()).any(|k| segments_match(rest, &path[k..])),
                Some((seg, rest)) => match path.split_first() {
                    None => false,
                    Some((name, more)) => {
                        let name: Vec<char> = name.chars().collect();
                        segment_matches(&tokens(seg), &name) && segments_match(rest, more)
                    }
                },
            }
        }

        /// SPEC: without `/` a glob matches the file name at any depth; with
        /// `/` the path relative to the watch dir.
        fn model_matches(glob: &str, rel: &str) -> bool {
            let path: Vec<&str> = rel.split('/').collect();
            if glob.contains('/') {
                let pattern: Vec<&str> = glob.split('/').collect();
                segments_match(&pattern, &path)
            } else {
                segments_match(&[glob], &path[path.len() - 1..])
            }
        }

        /// Ignored through the path itself or any of its parent directories.
        fn model_ignored(ignore: &[String], rel: &str) -> bool {
            let path: Vec<&str> = rel.split('/').collect();
            let all = ignore
                .iter()
                .map(String::as_str)
                .chain(DEFAULT_IGNORES.iter().copied());
            all.clone()
                .any(|g| (1..=path.len()).any(|k| model_matches(g, &path[..k].join("/"))))
        }

        fn model_reported(patterns: &[String], ignore: &[String], rel: &str) -> bool {
            !model_ignored(ignore, rel)
                && (patterns.is_empty() || patterns.iter().any(|g| model_matches(g, rel)))
        }

        fn compile(patterns: &[String], ignore: &[String]) -> Result<Patterns, TestCaseError> {
            Patterns::new(patterns, ignore).map_err(|e| {
                TestCaseError::fail(format!("{patterns:?} / {ignore:?} should compile: {e}"))
            })
        }

        /// Names over a small alphabet, so globs match often; now and then a
        /// name a default ignore catches (the model knows the defaults).
        fn name() -> impl Strategy<Value = String> {
            let plain = prop::collection::vec(prop::sample::select(vec!['a', 'b', '.', 'x']), 1..4)
                .prop_map(|v| v.into_iter().collect::<String>())
                // A relative path from the watcher never has `.` or `..` in it.
                .prop_filter("no . or ..", |s| s != "." && s != "..");
            let special = prop::sample::select(vec![
                "target",
                ".git",
                "node_modules",
                "a.tmp",
                "x~",
                "4913",
                ".#a",
                "#a#",
                "b.swp",
                "a___jb_tmp___",
                ".gitx",
            ])
            .prop_map(String::from);
            prop_oneof![15 => plain, 1 => special]
        }

        fn rel_path() -> impl Strategy<Value = Vec<String>> {
            prop::collection::vec(name(), 1..5)
        }

        fn glob_segment() -> impl Strategy<Value = String> {
            let token = prop::sample::select(vec![
                "a", "b", ".", "x", "a", "x", "*", "*", "?", "[ab]", "[a-x]", "[!a]", "[.x]",
            ]);
            let segment = prop::collection::vec(token, 1..4).prop_map(|toks| {
                let mut s = String::new();
                for t in toks {
                    // `**` inside a segment is invalid; one `*` is the same.
                    if !(t == "*" && s.ends_with('*')) {
                        s.push_str(t);
                    }
                }
                s
            });
            prop_oneof![6 => segment, 1 => Just("**".to_string())]
        }

        fn glob() -> impl Strategy<Value = String> {
            prop::collection::vec(glob_segment(), 1..4).prop_map(|v| v.join("/"))
        }

        /// A glob that matches `name` (each character kept, or made `?`, `*`
        /// or a class holding it), or with `near_miss` now and then not.
        fn generalize(name: &str, picks: &[u8], near_miss: bool) -> String {
            let mut out = String::new();
            for (c, pick) in name.chars().zip(picks.iter().cycle()) {
                match pick % 8 {
                    3 => out.push('?'),
                    4 if out.ends_with('*') => {}
                    4 => out.push('*'),
                    5 => out.push_str(&format!("[{c}b]")),
                    6 => out.push_str("[!q]"),
                    7 if near_miss => out.push(if c == 'a' { 'b' } else { 'a' }),
                    _ => out.push(c),
                }
            }
            out
        }

        /// A glob built from a path: its name alone, or its segments (some
        /// as `**`), loosened by `generalize`; mostly matching, not always.
        fn glob_from(path: &[String], by_name: bool, picks: &[u8]) -> String {
            if by_name {
                return generalize(&path[path.len() - 1], picks, true);
            }
            let mut segs = Vec::new();
            for (i, seg) in path.iter().enumerate() {
                let pick = picks.get(i).copied().unwrap_or(0);
                match pick % 7 {
                    0 => segs.push("**".to_string()),
                    // `**` standing for zero folders.
                    1 => {
                        segs.push("**".to_string());
                        segs.push(generalize(seg, &picks[i..], true));
                    }
                    _ => segs.push(generalize(seg, &picks[i..], true)),
                }
            }
            if segs.len() == 1 && segs[0] != "**" {
                // Keep a `/` in it: `**/x` is the path form of a name glob.
                segs.insert(0, "**".to_string());
            }
            segs.join("/")
        }

        fn path_and_derived_glob() -> impl Strategy<Value = (String, String)> {
            (
                rel_path(),
                any::<bool>(),
                prop::collection::vec(any::<u8>(), 1..16),
            )
                .prop_map(|(path, by_name, picks)| {
                    let glob = glob_from(&path, by_name, &picks);
                    (path.join("/"), glob)
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// Random globs and paths: `is_reported` agrees with the reference.
            #[test]
            fn random_globs_agree_with_the_reference(
                patterns in prop::collection::vec(glob(), 0..3),
                path in rel_path(),
            ) {
                let rel = path.join("/");
                let pats = compile(&patterns, &[])?;
                prop_assert_eq!(
                    pats.is_reported(&rel),
                    model_reported(&patterns, &[], &rel),
                    "patterns {:?} path {}", patterns, rel
                );
            }

            /// Globs derived from the path (so mostly matching): same agreement.
            #[test]
            fn derived_globs_agree_with_the_reference((rel, glob) in path_and_derived_glob()) {
                let patterns = vec![glob];
                let pats = compile(&patterns, &[])?;
                prop_assert_eq!(
                    pats.is_reported(&rel),
                    model_reported(&patterns, &[], &rel),
                    "pattern {:?} path {}", patterns[0], rel
                );
            }

            /// Ignore wins over patterns, and agrees with the reference
            /// (every parent directory checked, default ignores included).
            #[test]
            fn ignore_wins_over_patterns(
                (rel, derived) in path_and_derived_glob(),
                patterns in prop::collection::vec(glob(), 0..3),
                mut ignore in prop::collection::vec(glob(), 0..3),
                include_derived in any::<bool>(),
            ) {
                if include_derived {
                    ignore.push(derived);
                }
                let pats = compile(&patterns, &ignore)?;
                let reported = pats.is_reported(&rel);
                if ignore.iter().any(|g| model_matches(g, &rel)) {
                    prop_assert!(!reported, "ignore {:?} matches {}", ignore, rel);
                }
                prop_assert_eq!(
                    reported,
                    model_reported(&patterns, &ignore, &rel),
                    "patterns {:?} ignore {:?} path {}", patterns, ignore, rel
                );
            }

            /// An ignore glob without `/` matching a directory's name hides
            /// everything below that directory, whatever `patterns` says.
            #[test]
            fn ignored_directory_name_hides_its_subtree(
                path in prop::collection::vec(name(), 2..6),
                dir_pick in any::<prop::sample::Index>(),
                picks in prop::collection::vec(any::<u8>(), 1..8),
                by_path_pattern in any::<bool>(),
            ) {
                let dir = dir_pick.index(path.len() - 1);
                let glob = generalize(&path[dir], &picks, false);
                prop_assert!(model_matches(&glob, &path[dir]), "{} vs {}", glob, path[dir]);
                let rel = path.join("/");
                // A pattern that would report the file if it were not ignored.
                let patterns = if by_path_pattern {
                    vec!["**/*".to_string()]
                } else {
                    vec![path[path.len() - 1].clone()]
                };
                let pats = compile(&patterns, std::slice::from_ref(&glob))?;
                prop_assert!(pats.is_ignored_here(&path[..=dir].join("/")), "{} {}", glob, rel);
                prop_assert!(pats.is_ignored(&rel), "ignore {} path {}", glob, rel);
                prop_assert!(!pats.is_reported(&rel), "ignore {} path {}", glob, rel);
            }
        }
    }
}
