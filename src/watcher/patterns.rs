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
}
