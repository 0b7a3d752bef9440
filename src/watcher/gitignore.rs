//! Which paths git ignores (`.gitignore`, `.git/info/exclude`), for the
//! watcher thread: a matcher of git's own rules, read lazily and cached.
//!
//! The rules are git's (`gitignore(5)`, and `dir.c` and `wildmatch.c` where
//! the page is silent): the last matching rule wins, rules of a deeper
//! `.gitignore` win over those above it and over `info/exclude`, and a
//! path inside an ignored folder is ignored whatever a `!` rule says. The
//! pattern matcher is a port of git's `wildmatch`, so `*`, `?`, `[...]`
//! and `**` behave exactly as git's do; a table test holds it to
//! `git check-ignore`.

use std::collections::HashMap;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One pattern line of an ignore file.
#[derive(Debug)]
struct Rule {
    /// The pattern, without its `!`, its leading `/` and its trailing `/`.
    pattern: Vec<u8>,
    /// A `!` rule: a match re-includes the path.
    negated: bool,
    /// A trailing `/`: matches folders only.
    dir_only: bool,
    /// No `/` (but a trailing one) in the pattern: matched against the
    /// name at any depth; else against the path inside the file's folder.
    by_name: bool,
    /// 1-based, for messages.
    line: usize,
}

/// The rules of one ignore file, with the folder they are relative to.
#[derive(Debug)]
struct List {
    /// The folder, relative to the work tree's top, `/`-separated; empty at the top.
    base: Vec<u8>,
    /// The file, for messages.
    source: PathBuf,
    rules: Vec<Rule>,
}

/// Why a path is ignored: the rule that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hit {
    /// The ignore file.
    pub(crate) source: PathBuf,
    /// Its 1-based line.
    pub(crate) line: usize,
}

impl std::fmt::Display for Hit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.source.display(), self.line)
    }
}

/// Parses an ignore file's text as git does: a UTF-8 byte order mark
/// skipped, `\r\n` line ends, blank lines and `#` comments, trailing
/// spaces trimmed unless escaped. A line whose pattern could never match
/// (an unclosed `[`, a lone trailing `\`, an unknown `[:class:]`) is
/// skipped with a warning naming the file and line: git keeps it, but it
/// matches nothing there either.
fn parse(text: &[u8], base: Vec<u8>, source: &Path) -> List {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let mut rules = Vec::new();
    for (i, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let mut pattern = trim_trailing_spaces(line);
        let negated = pattern.first() == Some(&b'!');
        if negated {
            pattern = &pattern[1..];
        }
        if let Err(problem) = check(pattern) {
            log::warn!(
                "[HotReload] {}:{}: `{}` is skipped: {problem}",
                source.display(),
                i + 1,
                String::from_utf8_lossy(line)
            );
            continue;
        }
        let dir_only = pattern.last() == Some(&b'/');
        if dir_only {
            pattern = &pattern[..pattern.len() - 1];
        }
        let by_name = !pattern.contains(&b'/');
        if !by_name && pattern.first() == Some(&b'/') {
            pattern = &pattern[1..];
        }
        rules.push(Rule {
            pattern: pattern.to_vec(),
            negated,
            dir_only,
            by_name,
            line: i + 1,
        });
    }
    List {
        base,
        source: source.to_path_buf(),
        rules,
    }
}

/// git's `trim_trailing_spaces`: spaces at the end go, unless the first of
/// them is escaped by a backslash.
fn trim_trailing_spaces(line: &[u8]) -> &[u8] {
    let mut last_space = None;
    let mut i = 0;
    while i < line.len() {
        match line[i] {
            b' ' => {
                last_space.get_or_insert(i);
            }
            b'\\' => {
                i += 1;
                if i == line.len() {
                    return line;
                }
                last_space = None;
            }
            _ => last_space = None,
        }
        i += 1;
    }
    &line[..last_space.unwrap_or(line.len())]
}

/// Why a pattern can never match, if it cannot: what `wildmatch` would
/// give up on whatever the path.
fn check(pattern: &[u8]) -> Result<(), &'static str> {
    let at = |i: usize| pattern.get(i).copied().unwrap_or(0);
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'\\' if i + 1 == pattern.len() => {
                return Err("it ends in a lone `\\` (write `\\\\` for a backslash)");
            }
            b'\\' => i += 1,
            b'[' => {
                // The class's first character (after `!` or `^`) may be `]`.
                i += 1;
                if matches!(at(i), b'!' | b'^') {
                    i += 1;
                }
                let mut first = true;
                loop {
                    match at(i) {
                        0 => return Err("a `[` is never closed (write `\\[` for a bracket)"),
                        b']' if !first => break,
                        b'\\' => i += 1,
                        b'[' if at(i + 1) == b':' => {
                            let start = i + 2;
                            let mut end = start;
                            while !matches!(at(end), 0 | b']') {
                                end += 1;
                            }
                            if at(end) == 0 {
                                return Err("a `[` is never closed (write `\\[` for a bracket)");
                            }
                            if end > start && pattern[end - 1] == b':' {
                                if class(&pattern[start..end - 1], b'a').is_none() {
                                    return Err(
                                        "unknown character class (use [:alpha:], [:digit:] and the like)",
                                    );
                                }
                                i = end;
                            }
                        }
                        _ => {}
                    }
                    first = false;
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

impl List {
    /// The index of the last rule of this file that matches `path`
    /// (relative to the work tree's top; `name` is its last part).
    fn last_match(&self, path: &[u8], name: &[u8], is_dir: bool) -> Option<usize> {
        self.rules.iter().rposition(|rule| {
            if rule.dir_only && !is_dir {
                return false;
            }
            if rule.by_name {
                return wildmatch(&rule.pattern, name, false);
            }
            // Only paths below this file's folder.
            let inside = if self.base.is_empty() {
                Some(path)
            } else {
                path.strip_prefix(&self.base[..])
                    .and_then(|rest| rest.strip_prefix(b"/"))
            };
            inside.is_some_and(|inside| wildmatch(&rule.pattern, inside, true))
        })
    }
}

/// The ignore rules of one git work tree, read as they are needed.
struct Repo {
    /// The work tree's top (the folder holding `.git`).
    top: PathBuf,
    /// Where `info/exclude` is (in the shared folder of a linked worktree).
    exclude_path: Option<PathBuf>,
    /// Its rules.
    exclude: Arc<List>,
    /// Each folder's `.gitignore` (absent: no rules), by absolute folder.
    cache: HashMap<PathBuf, Arc<List>>,
    /// The files that apply in the folder asked about last, deepest first
    /// and `info/exclude` last: a walk asks about one folder's entries in a row.
    chain: Option<(PathBuf, Arc<[Arc<List>]>)>,
}

impl Repo {
    /// The work tree `dir` is in (its deepest folder holding `.git`), if any.
    fn find(dir: &Path) -> Option<Repo> {
        let top = dir.ancestors().find(|a| a.join(".git").exists())?;
        let exclude_path = git_dir(top).map(|git| common_dir(&git).join("info").join("exclude"));
        Some(Repo {
            top: top.to_path_buf(),
            exclude: Arc::new(read_exclude(exclude_path.as_deref())),
            exclude_path,
            cache: HashMap::new(),
            chain: None,
        })
    }

    /// The `.gitignore` of `dir` (inside the work tree), read once.
    fn list(&mut self, dir: &Path) -> Arc<List> {
        if let Some(list) = self.cache.get(dir) {
            return list.clone();
        }
        let file = dir.join(".gitignore");
        // git does not follow a symbolic link named .gitignore.
        let text = match file.symlink_metadata() {
            Ok(meta) if meta.is_file() => std::fs::read(&file).unwrap_or_else(|e| {
                log::warn!("[HotReload] cannot read {}: {e}", file.display());
                Vec::new()
            }),
            _ => Vec::new(),
        };
        let base = dir
            .strip_prefix(&self.top)
            .map(|rel| rel.as_os_str().as_bytes().to_vec())
            .unwrap_or_default();
        let list = Arc::new(parse(&text, base, &file));
        self.cache.insert(dir.to_path_buf(), list.clone());
        list
    }

    /// The rule that decides `path` itself, its parents aside: the last
    /// match of `info/exclude` and the `.gitignore` of every folder from
    /// the top down to its parent, deeper files winning.
    fn decide(&mut self, path: &Path, is_dir: bool) -> Option<(Arc<List>, usize)> {
        let rel = path.strip_prefix(&self.top).ok()?.as_os_str().as_bytes();
        if rel.is_empty() {
            return None;
        }
        let name = path.file_name()?.as_bytes();
        let lists = self.chain(path.parent()?);
        // Deepest first: the first file with a match decides.
        lists.iter().find_map(|list| {
            let i = list.last_match(rel, name, is_dir)?;
            Some((list.clone(), i))
        })
    }

    /// The files whose rules apply to the entries of `dir`.
    fn chain(&mut self, dir: &Path) -> Arc<[Arc<List>]> {
        if let Some((last, lists)) = &self.chain
            && last == dir
        {
            return lists.clone();
        }
        let dirs: Vec<PathBuf> = (dir.ancestors())
            .take_while(|a| a.starts_with(&self.top))
            .map(Path::to_path_buf)
            .collect();
        let mut lists: Vec<Arc<List>> = dirs.iter().map(|d| self.list(d)).collect();
        lists.push(self.exclude.clone());
        let lists: Arc<[Arc<List>]> = lists.into();
        self.chain = Some((dir.to_path_buf(), lists.clone()));
        lists
    }
}

/// Which paths the git work trees of the watch dirs ignore.
pub(crate) struct GitIgnore {
    repos: Vec<Repo>,
}

impl GitIgnore {
    /// The rules for `roots`; `None` when none of them is in a git work tree.
    pub(crate) fn new(roots: &[PathBuf]) -> Option<GitIgnore> {
        let mut repos: Vec<Repo> = Vec::new();
        for root in roots {
            if repos.iter().any(|r| root.starts_with(&r.top)) {
                continue;
            }
            if let Some(repo) = Repo::find(root) {
                repos.retain(|r| !r.top.starts_with(&repo.top));
                repos.push(repo);
            }
        }
        (!repos.is_empty()).then_some(GitIgnore { repos })
    }

    fn repo(&mut self, path: &Path) -> Option<&mut Repo> {
        self.repos
            .iter_mut()
            .filter(|r| path.starts_with(&r.top))
            .max_by_key(|r| r.top.components().count())
    }

    /// Is `path` itself ignored, its parent folders aside? For walks that
    /// never enter an ignored folder.
    pub(crate) fn is_ignored_here(&mut self, path: &Path, is_dir: bool) -> bool {
        let Some(repo) = self.repo(path) else {
            return false;
        };
        (repo.decide(path, is_dir)).is_some_and(|(list, i)| !list.rules[i].negated)
    }

    /// The rule that ignores `path`, itself or through a parent folder.
    pub(crate) fn ignored_by(&mut self, path: &Path, is_dir: bool) -> Option<Hit> {
        let repo = self.repo(path)?;
        let top = repo.top.clone();
        let mut folders: Vec<&Path> = path
            .ancestors()
            .skip(1)
            .take_while(|a| a.starts_with(&top) && *a != top)
            .collect();
        folders.reverse();
        let checks = folders
            .into_iter()
            .map(|f| (f, true))
            .chain([(path, is_dir)]);
        for (p, dir) in checks {
            if let Some((list, i)) = repo.decide(p, dir)
                && !list.rules[i].negated
            {
                return Some(Hit {
                    source: list.source.clone(),
                    line: list.rules[i].line,
                });
            }
        }
        None
    }

    /// Is `path` ignored, itself or through a parent folder?
    pub(crate) fn is_ignored(&mut self, path: &Path, is_dir: bool) -> bool {
        self.ignored_by(path, is_dir).is_some()
    }

    /// Forgets the rules read in `dir` and below (a `.gitignore` there
    /// changed, or the folder was replaced), so the next question reads them again.
    pub(crate) fn forget(&mut self, dir: &Path) {
        for repo in &mut self.repos {
            repo.cache.retain(|d, _| !d.starts_with(dir));
            repo.chain = None;
        }
    }

    /// `path` changed (written, made, moved, deleted): if it is a file of
    /// rules (a `.gitignore` in a work tree, or `info/exclude`), its rules
    /// are read again at the next question, and the answer is true.
    pub(crate) fn changed(&mut self, path: &Path) -> bool {
        for repo in &mut self.repos {
            if repo.exclude_path.as_deref() == Some(path) {
                repo.exclude = Arc::new(read_exclude(Some(path)));
                repo.chain = None;
                return true;
            }
        }
        if path.file_name().is_some_and(|n| n == ".gitignore")
            && let Some(dir) = path.parent()
            && self.repos.iter().any(|r| dir.starts_with(&r.top))
        {
            self.forget(dir);
            return true;
        }
        false
    }

    /// The folders whose files of rules no watch dir's walk covers: each
    /// folder from a work tree's top down to a watch dir (the watch dir and
    /// other watch dirs aside), and the one holding `info/exclude`. Watched,
    /// they tell of edits to those files too.
    pub(crate) fn outer_folders(&self, roots: &[PathBuf]) -> Vec<PathBuf> {
        let inside_a_root = |dir: &Path| roots.iter().any(|r| dir.starts_with(r));
        let mut out: Vec<PathBuf> = Vec::new();
        for repo in &self.repos {
            for root in roots.iter().filter(|r| r.starts_with(&repo.top)) {
                let above = root.ancestors().skip(1);
                for dir in above.take_while(|a| a.starts_with(&repo.top)) {
                    if !inside_a_root(dir) {
                        out.push(dir.to_path_buf());
                    }
                }
            }
            if let Some(info) = repo.exclude_path.as_deref().and_then(Path::parent) {
                out.push(info.to_path_buf());
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// The rules of `info/exclude`, none when it is missing.
fn read_exclude(path: Option<&Path>) -> List {
    match path.and_then(|p| std::fs::read(p).ok().map(|text| (p, text))) {
        Some((path, text)) => parse(&text, Vec::new(), path),
        None => parse(b"", Vec::new(), Path::new("info/exclude")),
    }
}

/// The repository folder of the work tree at `top`: `.git` itself, or
/// where a `.git` file (a linked worktree, a submodule) points.
fn git_dir(top: &Path) -> Option<PathBuf> {
    let dot_git = top.join(".git");
    if dot_git.is_dir() {
        return Some(dot_git);
    }
    let text = std::fs::read_to_string(&dot_git).ok()?;
    let to = text.trim().strip_prefix("gitdir:")?.trim();
    Some(top.join(to))
}

/// The folder shared by all worktrees, which holds `info/exclude`.
fn common_dir(git_dir: &Path) -> PathBuf {
    match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(common) => git_dir.join(common.trim()),
        Err(_) => git_dir.to_path_buf(),
    }
}

/// The outcome of one step of [`dowild`], as in git's `wildmatch.c`: the
/// two aborts cut the backtracking short where no longer match can exist.
#[derive(PartialEq, Eq, Clone, Copy)]
enum Wild {
    Match,
    NoMatch,
    AbortAll,
    AbortToStarStar,
}

/// git's `wildmatch`: does `pattern` match all of `text`? With `pathname`
/// (`WM_PATHNAME`), `*`, `?` and classes never match `/`, and `**` between
/// slashes (or at either end) matches any number of folders.
fn wildmatch(pattern: &[u8], text: &[u8], pathname: bool) -> bool {
    dowild(pattern, text, pathname) == Wild::Match
}

/// `*`, `?`, `[` and `\`: the characters git's `is_glob_special` names.
fn is_glob_special(c: u8) -> bool {
    matches!(c, b'*' | b'?' | b'[' | b'\\')
}

/// A port of git's `dowild` (wildmatch.c), byte by byte; 0 stands for the
/// end of either string, as the C string's NUL does there.
fn dowild(p: &[u8], t: &[u8], pathname: bool) -> Wild {
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let mut pi = 0;
    let mut ti = 0;
    while pi < p.len() {
        let mut p_ch = p[pi];
        let mut t_ch = at(t, ti);
        if t_ch == 0 && p_ch != b'*' {
            return Wild::AbortAll;
        }
        match p_ch {
            b'\\' => {
                // Literal match with the following character.
                pi += 1;
                p_ch = at(p, pi);
                if t_ch != p_ch {
                    return Wild::NoMatch;
                }
            }
            b'?' => {
                if pathname && t_ch == b'/' {
                    return Wild::NoMatch;
                }
            }
            b'*' => {
                let star = pi;
                pi += 1;
                let match_slash;
                if at(p, pi) == b'*' {
                    while at(p, pi) == b'*' {
                        pi += 1;
                    }
                    let after_slash = star == 0 || p[star - 1] == b'/';
                    let next = at(p, pi);
                    if after_slash
                        && (next == 0 || next == b'/' || (next == b'\\' && at(p, pi + 1) == b'/'))
                    {
                        // `**/` may match no folder at all.
                        if next == b'/' && dowild(&p[pi + 1..], &t[ti..], pathname) == Wild::Match {
                            return Wild::Match;
                        }
                        match_slash = true;
                    } else {
                        match_slash = false;
                    }
                } else {
                    match_slash = !pathname;
                }
                if pi == p.len() {
                    // A trailing `**` matches everything, a trailing `*` no `/`.
                    if !match_slash && t[ti..].contains(&b'/') {
                        return Wild::NoMatch;
                    }
                    return Wild::Match;
                } else if !match_slash && p[pi] == b'/' {
                    // One `*` then `/`: the rest of this folder name.
                    match t[ti..].iter().position(|&c| c == b'/') {
                        None => return Wild::NoMatch,
                        Some(k) => ti += k,
                    }
                    // The slash is matched by the loop's step.
                    pi += 1;
                    ti += 1;
                    continue;
                }
                loop {
                    if t_ch == 0 {
                        break;
                    }
                    // After a `*`, skip ahead to the next place the literal
                    // that follows it appears.
                    if !is_glob_special(p[pi]) {
                        let want = p[pi];
                        loop {
                            t_ch = at(t, ti);
                            if t_ch == 0 || (!match_slash && t_ch == b'/') || t_ch == want {
                                break;
                            }
                            ti += 1;
                        }
                        if t_ch != want {
                            return Wild::NoMatch;
                        }
                    }
                    let matched = dowild(&p[pi..], &t[ti..], pathname);
                    if matched != Wild::NoMatch {
                        if !match_slash || matched != Wild::AbortToStarStar {
                            return matched;
                        }
                    } else if !match_slash && t_ch == b'/' {
                        return Wild::AbortToStarStar;
                    }
                    ti += 1;
                    t_ch = at(t, ti);
                }
                return Wild::AbortAll;
            }
            b'[' => {
                pi += 1;
                p_ch = at(p, pi);
                if p_ch == b'^' {
                    p_ch = b'!';
                }
                let negated = p_ch == b'!';
                if negated {
                    pi += 1;
                    p_ch = at(p, pi);
                }
                let mut prev_ch = 0u8;
                let mut matched = false;
                loop {
                    if p_ch == 0 {
                        return Wild::AbortAll;
                    }
                    if p_ch == b'\\' {
                        pi += 1;
                        p_ch = at(p, pi);
                        if p_ch == 0 {
                            return Wild::AbortAll;
                        }
                        if t_ch == p_ch {
                            matched = true;
                        }
                    } else if p_ch == b'-'
                        && prev_ch != 0
                        && at(p, pi + 1) != 0
                        && at(p, pi + 1) != b']'
                    {
                        pi += 1;
                        p_ch = at(p, pi);
                        if p_ch == b'\\' {
                            pi += 1;
                            p_ch = at(p, pi);
                            if p_ch == 0 {
                                return Wild::AbortAll;
                            }
                        }
                        if t_ch <= p_ch && t_ch >= prev_ch {
                            matched = true;
                        }
                        // A range leaves no character for the next `-`.
                        p_ch = 0;
                    } else if p_ch == b'[' && at(p, pi + 1) == b':' {
                        let start = pi + 2;
                        pi = start;
                        while !matches!(at(p, pi), 0 | b']') {
                            pi += 1;
                        }
                        if at(p, pi) == 0 {
                            return Wild::AbortAll;
                        }
                        if pi == start || p[pi - 1] != b':' {
                            // No `:]`: an ordinary `[` in the set.
                            pi = start - 2;
                            p_ch = b'[';
                            if t_ch == p_ch {
                                matched = true;
                            }
                        } else {
                            match class(&p[start..pi - 1], t_ch) {
                                Some(true) => matched = true,
                                Some(false) => {}
                                None => return Wild::AbortAll,
                            }
                            p_ch = 0;
                        }
                    } else if t_ch == p_ch {
                        matched = true;
                    }
                    prev_ch = p_ch;
                    pi += 1;
                    p_ch = at(p, pi);
                    if p_ch == b']' {
                        break;
                    }
                }
                if matched == negated || (pathname && t_ch == b'/') {
                    return Wild::NoMatch;
                }
            }
            _ => {
                if t_ch != p_ch {
                    return Wild::NoMatch;
                }
            }
        }
        pi += 1;
        ti += 1;
    }
    if ti < t.len() {
        Wild::NoMatch
    } else {
        Wild::Match
    }
}

/// Is `c` in the POSIX class `name` (`alpha`, `digit`, ...)? `None` for
/// a name that is no class.
fn class(name: &[u8], c: u8) -> Option<bool> {
    Some(match name {
        b"alnum" => c.is_ascii_alphanumeric(),
        b"alpha" => c.is_ascii_alphabetic(),
        b"blank" => c == b' ' || c == b'\t',
        b"cntrl" => c.is_ascii_control(),
        b"digit" => c.is_ascii_digit(),
        b"graph" => c.is_ascii_graphic(),
        b"lower" => c.is_ascii_lowercase(),
        b"print" => c.is_ascii_graphic() || c == b' ',
        b"punct" => c.is_ascii_punctuation(),
        b"space" => c.is_ascii_whitespace() || c == 0x0b,
        b"upper" => c.is_ascii_uppercase(),
        b"xdigit" => c.is_ascii_hexdigit(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    //! The matcher against `git check-ignore` on the same files: every
    //! rule of gitignore(5), in a root, nested and excluded file.

    use std::io::Write;
    use std::process::{Command, Stdio};

    use super::*;

    /// Root `.gitignore`: one or more rows per rule of gitignore(5).
    const ROOT: &[u8] = b"\
# a comment, then a blank line

*.log
!keep.log
/anchored.txt
build/
docs/*.html
**/cache
logs/**
a/**/z.txt
\\#hash
\\!bang
trail   
esc\\ 
file[0-9].txt
file[!a-c].md
file[^x].rst
x?y
unclosed[
out/
!out/keep.txt
dironly/
sub/nested-anchored
*.tmp2
!important.tmp2
[[:digit:]]*.num
mid/*/leaf
[]]bracket
range[a-]
star*/inner
**/deep/**/end
/**/rooted
crlf\r
lone\\
";

    /// `sub/.gitignore`: rules relative to `sub`, overriding the root's.
    const SUB: &[u8] = b"\
*.css
!keep.css
/local.txt
deep/
!*.log
x/y
";

    /// `sub/inner/.gitignore`: deeper still.
    const INNER: &[u8] = b"!*.css\n!cache\n";

    /// `.git/info/exclude`: below every `.gitignore`.
    const EXCLUDE: &[u8] = b"*.exc\n!sub/re.exc\n";

    /// Paths to create; a trailing `/` makes a folder.
    const PATHS: &[&str] = &[
        "a.log",
        "keep.log",
        "x/keep.log",
        "x/a.log",
        "anchored.txt",
        "x/anchored.txt",
        "build/",
        "build/app.js",
        "x/build/",
        "x/build/app.js",
        "docs/a.html",
        "docs/x/a.html",
        "x/docs/a.html",
        "cache/",
        "cache/f",
        "x/y/cache/",
        "x/y/cache/f",
        "cache.txt",
        "logs/",
        "logs/a",
        "logs/x/b",
        "a/z.txt",
        "a/b/z.txt",
        "a/b/c/z.txt",
        "b/a/z.txt",
        "#hash",
        "x/#hash",
        "!bang",
        "bang",
        "trail",
        "trail ",
        "esc ",
        "esc",
        "file1.txt",
        "filex.txt",
        "filed.md",
        "fileb.md",
        "filey.rst",
        "filex.rst",
        "xay",
        "xy",
        "x/xzy",
        "unclosed[",
        "unclosed",
        "out/",
        "out/keep.txt",
        "out/other.txt",
        "dironly/",
        "dironly/f",
        "x/dironly",
        "sub/nested-anchored",
        "x/sub/nested-anchored",
        "a.tmp2",
        "important.tmp2",
        "x/important.tmp2",
        "7days.num",
        "days.num",
        "mid/a/leaf",
        "mid/leaf",
        "mid/a/b/leaf",
        "]bracket",
        "xbracket",
        "rangea",
        "range-",
        "rangeb",
        "starry/inner",
        "star/inner",
        "x/star/inner",
        "deep/end",
        "p/deep/q/r/end",
        "p/deep/end/",
        "p/deep/end/f",
        "rooted",
        "x/rooted",
        "crlf",
        "lone\\",
        "lone",
        "sub/",
        "sub/a.css",
        "sub/keep.css",
        "sub/x/a.css",
        "sub/local.txt",
        "sub/x/local.txt",
        "sub/deep/",
        "sub/deep/f",
        "sub/x/deep/",
        "sub/x/deep/f",
        "sub/a.log",
        "sub/x/y",
        "sub/x/x/y",
        "sub/inner/",
        "sub/inner/a.css",
        "sub/inner/cache/",
        "sub/inner/cache/f",
        "sub/inner/b/a.css",
        "a.exc",
        "sub/re.exc",
        "sub/x/a.exc",
        "plain.txt",
        "x/y/z/plain.txt",
    ];

    fn git(dir: &Path) -> Command {
        let mut cmd = Command::new("git");
        // The machine's own excludes and settings stay out of it.
        cmd.current_dir(dir)
            .env("HOME", dir)
            .env("XDG_CONFIG_HOME", dir)
            .env("GIT_CONFIG_NOSYSTEM", "1");
        cmd
    }

    /// `git check-ignore` on each path: is it ignored?
    fn git_says(dir: &Path, paths: &[&str]) -> Vec<bool> {
        let mut child = git(dir)
            .args(["check-ignore", "--no-index", "--stdin", "-z", "-v", "-n"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("git runs");
        {
            let mut stdin = child.stdin.take().expect("piped stdin");
            for path in paths {
                stdin
                    .write_all(path.trim_end_matches('/').as_bytes())
                    .expect("write");
                stdin.write_all(b"\0").expect("write");
            }
        }
        let out = child.wait_with_output().expect("git answers");
        // Records of four fields: source, line, pattern, path.
        let fields: Vec<&[u8]> = out.stdout.split(|&b| b == 0).collect();
        let answers: Vec<bool> = fields
            .chunks(4)
            .filter(|r| r.len() == 4)
            .map(|r| !r[0].is_empty() && !r[2].starts_with(b"!"))
            .collect();
        assert_eq!(
            answers.len(),
            paths.len(),
            "git's answer: {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
        answers
    }

    fn have_git() -> bool {
        let found = Command::new("git").arg("--version").output().is_ok();
        if !found {
            assert!(
                std::env::var_os("CI").is_none(),
                "git is missing, and CI needs it"
            );
            eprintln!("skipped: git is not installed");
        }
        found
    }

    #[test]
    fn every_rule_agrees_with_git_check_ignore() {
        if !have_git() {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let top = std::path::absolute(dir.path()).expect("absolute");
        let status = git(&top).args(["init", "-q"]).status().expect("git init");
        assert!(status.success());
        std::fs::write(top.join(".gitignore"), ROOT).expect("write");
        std::fs::create_dir_all(top.join("sub/inner")).expect("mkdir");
        std::fs::write(top.join("sub/.gitignore"), SUB).expect("write");
        std::fs::write(top.join("sub/inner/.gitignore"), INNER).expect("write");
        std::fs::create_dir_all(top.join(".git/info")).expect("mkdir");
        std::fs::write(top.join(".git/info/exclude"), EXCLUDE).expect("write");
        for path in PATHS {
            let full = top.join(path);
            if path.ends_with('/') {
                std::fs::create_dir_all(&full).expect("mkdir");
            } else {
                std::fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
                std::fs::write(&full, "x").expect("write");
            }
        }
        let want = git_says(&top, PATHS);
        let mut ours = GitIgnore::new(std::slice::from_ref(&top)).expect("a git work tree");
        let mut wrong = Vec::new();
        for (path, git_ignores) in PATHS.iter().zip(&want) {
            let full = top.join(path.trim_end_matches('/'));
            let is_dir = full.is_dir();
            let we_ignore = ours.ignored_by(&full, is_dir);
            if we_ignore.is_some() != *git_ignores {
                wrong.push(format!("{path}: git {git_ignores}, ours {we_ignore:?}"));
            }
        }
        let ignored = want.iter().filter(|&&w| w).count();
        if std::env::var_os("SHOW_GIT").is_some() {
            for (path, w) in PATHS.iter().zip(&want) {
                eprintln!("{w:5} {path}");
            }
        }
        assert!(wrong.is_empty(), "disagreements:\n{}", wrong.join("\n"));
        // The table is worth something only with both answers in it.
        assert!(
            ignored > 20 && PATHS.len() - ignored > 20,
            "{ignored} of {} ignored",
            PATHS.len()
        );
    }

    #[test]
    fn a_linked_worktree_reads_the_shared_info_exclude() {
        if !have_git() {
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let base = std::path::absolute(dir.path()).expect("absolute");
        let main = base.join("main");
        std::fs::create_dir_all(&main).expect("mkdir");
        let run = |cwd: &Path, args: &[&str]| {
            let status = git(cwd).args(args).status().expect("git runs");
            assert!(status.success(), "git {args:?}");
        };
        run(&main, &["init", "-q"]);
        run(
            &main,
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "commit",
                "-q",
                "--allow-empty",
                "-m",
                "x",
            ],
        );
        run(&main, &["worktree", "add", "-q", "../linked"]);
        let linked = base.join("linked");
        std::fs::write(main.join(".git/info/exclude"), "*.exc\n").expect("write");
        let paths = ["a.exc", "a.txt"];
        for path in paths {
            std::fs::write(linked.join(path), "x").expect("write");
        }
        let want = git_says(&linked, &paths);
        assert_eq!(want, [true, false], "git's own answer");
        let mut ours = GitIgnore::new(std::slice::from_ref(&linked)).expect("a work tree");
        let got: Vec<bool> = paths
            .iter()
            .map(|p| ours.is_ignored(&linked.join(p), false))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_line_that_can_never_match_is_skipped_and_the_rest_kept() {
        let list = parse(
            b"a[b\n*.css\nend\\\n[[:nope:]]\n!x\n",
            Vec::new(),
            Path::new(".gitignore"),
        );
        let kept: Vec<(&[u8], usize, bool)> = (list.rules.iter())
            .map(|r| (&r.pattern[..], r.line, r.negated))
            .collect();
        assert_eq!(kept, [(&b"*.css"[..], 2, false), (&b"x"[..], 5, true)]);
    }

    #[test]
    fn wildmatch_rows() {
        // (pattern, text, WM_PATHNAME, match?), from git's t3070-wildmatch.sh.
        let rows: &[(&str, &str, bool, bool)] = &[
            ("foo", "foo", true, true),
            ("foo", "fo", true, false),
            ("foo/*", "foo/bar", true, true),
            ("foo/*", "foo/bar/baz", true, false),
            ("foo/**", "foo/bar/baz", true, true),
            ("**/foo", "foo", true, true),
            ("**/foo", "a/b/foo", true, true),
            ("a/**/b", "a/b", true, true),
            ("a/**/b", "a/x/y/b", true, true),
            ("a**b", "a/b", true, false),
            ("*/*/*", "foo/bba/arr", true, true),
            ("*/*/*", "foo/bb/aa/rr", true, false),
            ("*X*i", "abcXdefXghi", true, true),
            ("*/*X*/*/*i", "ab/cXd/efXg/hi", true, true),
            ("*Xg*i", "ab/cXd/efXg/hi", true, false),
            ("[a-c]x", "bx", true, true),
            ("[!a-c]x", "bx", true, false),
            ("[^a-c]x", "dx", true, true),
            ("[]]", "]", true, true),
            ("[a-]", "-", true, true),
            ("[\\]]", "]", true, true),
            ("[[:digit:]]", "5", true, true),
            ("[[:digit:]]", "a", true, false),
            ("[[:alpha:]x]", "x", true, true),
            ("?", "/", true, false),
            ("?", "/", false, true),
            ("[/]", "/", true, false),
            ("\\*", "*", true, true),
            ("\\*", "a", true, false),
            ("*", "a/b", false, true),
        ];
        for (pattern, text, pathname, want) in rows {
            assert_eq!(
                wildmatch(pattern.as_bytes(), text.as_bytes(), *pathname),
                *want,
                "{pattern} {text} pathname={pathname}"
            );
        }
    }
}
