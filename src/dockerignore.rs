//! `.dockerignore`: which paths of a build context BuildKit leaves out.
//!
//! The rules are BuildKit's own, as buildx sends a context: moby/patternmatcher reads the
//! file (`ignorefile.ReadAll`) and matches (`PatternMatcher`), fsutil's walker applies it.
//! Getting them exactly right is the point: the context stackplan digests must be the one
//! BuildKit receives.
//!
//! - a line starting with `#` is a comment (only in the first column: `  # x` is a
//!   pattern to BuildKit too); lines are trimmed and blank ones skipped;
//! - `!` makes an exception: a later `!` line re-includes what an earlier line excluded;
//! - a pattern is cleaned like Go's `filepath.Clean` and a leading `/` dropped, so `/foo`,
//!   `./foo` and `foo/` all mean `foo`;
//! - a pattern matches a path when it matches the path itself or any parent directory of
//!   it (`node_modules` excludes everything below it), and the last matching line decides;
//! - the glob is Go's `filepath.Match` (`*` and `?` stay within one path segment, `[...]`
//!   classes negated by `^`, `\` escapes) plus `**`, any number of segments including none.
//!
//! The walk hands a directory's results to its children (fsutil's
//! `MatchesUsingParentResults`): a line that matched a directory matches everything below
//! it, and a line BuildKit skipped at a directory (an exception while nothing was excluded
//! yet) is later tried on the child alone, not on its parents. [`Dockerignore::excludes`]
//! answers as that walk does.
//!
//! Matching is patternmatcher's own: a pattern without wildcards, `x**` and `**x` are plain
//! byte comparisons (its exact, prefix and suffix shortcuts); any other pattern is turned
//! into a Go regular expression character by character, exactly as patternmatcher's
//! `compile` does (`*` → `[^/]*`, `?` → `[^/]`, `**` → `(.*/)?` or `.*`, `\x` kept as the
//! regexp escape `\x`, `[`/`]` passed through, `.+()|{}$` escaped), and that expression is
//! run by the `regex` crate, which reads RE2's syntax as Go's `regexp` does. So `\d` is a
//! digit, `\b` a word boundary, `[*]` means what BuildKit makes of it. The few places where
//! Go's dialect and the crate's differ are rewritten ([`rust_regex`]): Go's `\d`, `\w`,
//! `\s`, `\b` are ASCII, and a `[`, `&` or `~` inside a class is a plain member in Go.
//! Paths are matched as bytes (a non-UTF-8 name is compared byte for byte by the
//! shortcuts, and read as Go reads it, one U+FFFD per invalid byte, by an expression).
//!
//! This module is pure: text in, answers out; [`crate::context_reader`] reads the file and
//! walks the folder. It is the one matcher of the crate: the inputs digest reads
//! `.dockerignore` with it, and the FileSync service BuildKit's `exclude-patterns` and
//! `include-patterns`.
//!
//! Why no dedicated crate: the Rust crates that know `.dockerignore` only classify its
//! lines, and gitignore matchers (`ignore`) follow gitignore's rules (a pattern without a
//! slash matches at any depth, a trailing `/` means directories only), which are not
//! BuildKit's; the one faithful way is BuildKit's own translation into a regular
//! expression, run by `regex`. Go's `filepath.Match` syntax check, which BuildKit applies
//! to every line first, is kept ([`tokens`]) so bad lines are errors with their line.

use std::path::Path;

use std::borrow::Cow;

use crate::diagnostic::{Diagnostic, Position};
use crate::error::{Error, Result};

/// The ignore file of a context, at its root.
pub const FILE_NAME: &str = ".dockerignore";

/// The ignore file of one Dockerfile (`<Dockerfile path>.dockerignore`, e.g.
/// `Dockerfile.dockerignore` beside `Dockerfile`): when it exists BuildKit uses it instead
/// of the context's `.dockerignore`, so images sharing a folder can send different contexts.
pub fn dockerfile_specific(dockerfile: &str) -> String {
    format!("{dockerfile}.dockerignore")
}

/// The parsed lines of a `.dockerignore`, in order.
#[derive(Clone, Debug, Default)]
pub struct Dockerignore {
    patterns: Vec<Pattern>,
    /// Every exception is a plain path (fsutil's `onlyPrefixExcludeExceptions`), so an
    /// excluded directory need only be walked when an exception lies below it.
    plain_exceptions: bool,
}

#[derive(Clone, Debug)]
struct Pattern {
    /// The cleaned pattern without its `!`, as BuildKit keeps it.
    text: String,
    exception: bool,
    matcher: Matcher,
}

/// How a pattern matches: patternmatcher's three shortcuts (byte comparisons), or its
/// regular expression.
#[derive(Clone, Debug)]
enum Matcher {
    /// No wildcard: the path itself.
    Exact(String),
    /// `x**` with no wildcard in `x`: every path starting with `x`.
    Prefix(String),
    /// `**x` with no wildcard in `x`: every path ending with `x`, and `x` without its `/`.
    Suffix(String),
    Regex(regex::Regex),
}

/// Which lines matched a directory; its children start from them (fsutil's `MatchInfo`).
/// The default is "no parent": the path's parents are then tried one by one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirMatches(Vec<bool>);

impl Dockerignore {
    /// Parses the text of an ignore file; `file` only names it in errors. Every line that
    /// does not parse is reported, with its line number.
    pub fn parse(text: &str, file: &Path) -> Result<Dockerignore> {
        let mut patterns = Vec::new();
        let mut diagnostics = Vec::new();
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        for (index, line) in text.lines().enumerate() {
            match parse_line(line) {
                Ok(Some(pattern)) => patterns.push(pattern),
                Ok(None) => {}
                Err(problem) => {
                    let column = line.chars().take_while(|c| c.is_whitespace()).count() + 1;
                    diagnostics.push(
                        Diagnostic::error(format!(
                            "invalid pattern `{}`: {}",
                            line.trim(),
                            problem.message
                        ))
                        .in_file(file)
                        .at(Some(Position {
                            line: index + 1,
                            column,
                        }))
                        .help(problem.help),
                    );
                }
            }
        }
        if !diagnostics.is_empty() {
            return Err(Error::Invalid {
                diagnostics,
                sources: vec![(file.to_path_buf(), text.to_string())],
            });
        }
        let plain_exceptions = patterns
            .iter()
            .filter(|p| p.exception)
            .all(|p| !without_trailing_glob(&p.text).contains(['*', '[', ']', '?', '^', '\\']));
        Ok(Dockerignore {
            patterns,
            plain_exceptions,
        })
    }

    /// No line excludes anything.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// Whether BuildKit leaves `path` (relative to the context root, `/`-separated, no `.`
    /// or `..` parts) out of the context.
    pub fn excludes(&self, path: impl AsRef<[u8]>) -> bool {
        let path = path.as_ref();
        let mut parent = DirMatches::default();
        let mut excluded = false;
        let ends = slashes(path).chain(std::iter::once(path.len()));
        for end in ends {
            (excluded, parent) = self.check(&path[..end], &parent);
        }
        excluded
    }

    /// One step of a walk: whether `path` is excluded, given what its directory matched
    /// (`DirMatches::default()` at the context root), and what `path` hands its children.
    pub fn check(&self, path: &[u8], parent: &DirMatches) -> (bool, DirMatches) {
        let mut excluded = false;
        let mut matched = vec![false; self.patterns.len()];
        for (i, pattern) in self.patterns.iter().enumerate() {
            let mut hit = parent.0.get(i).copied().unwrap_or(false);
            if !hit {
                // BuildKit skips a line that cannot change the answer so far (an exclusion
                // when already excluded, an exception when not), and then does not record
                // it as matched for the children either.
                if pattern.exception != excluded {
                    continue;
                }
                hit = pattern.matches(path)
                    || (parent.0.is_empty()
                        && slashes(path).any(|end| pattern.matches(&path[..end])));
            }
            matched[i] = hit;
            if hit {
                excluded = !pattern.exception;
            }
        }
        (excluded, DirMatches(matched))
    }

    /// Whether an exception could re-include something below `dir`, an excluded directory.
    /// When not, a walk need not descend into it (fsutil does not either).
    pub fn may_reinclude_below(&self, dir: &str) -> bool {
        let mut exceptions = self.patterns.iter().filter(|p| p.exception).peekable();
        if exceptions.peek().is_none() {
            return false;
        }
        if !self.plain_exceptions {
            return true;
        }
        let dir_slash = format!("{dir}/");
        exceptions.any(|p| format!("{}/", without_trailing_glob(&p.text)).starts_with(&dir_slash))
    }
}

/// The positions of the `/`s of a path.
fn slashes(path: &[u8]) -> impl Iterator<Item = usize> + '_ {
    path.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'/')
        .map(|(i, _)| i)
}

impl Dockerignore {
    /// Read as include patterns: whether some pattern may match a path below the folder
    /// `dir` (so a walk must enter it).
    pub fn may_match_below(&self, dir: &str) -> bool {
        let dir_slash = format!("{dir}/");
        self.patterns.iter().any(|p| {
            !p.exception
                && (self.excludes(dir)
                    || p.text.contains(['*', '?', '[', '\\'])
                    || p.text.starts_with(&dir_slash))
        })
    }
}

impl Pattern {
    fn matches(&self, path: &[u8]) -> bool {
        match &self.matcher {
            Matcher::Exact(text) => path == text.as_bytes(),
            Matcher::Prefix(prefix) => path.starts_with(prefix.as_bytes()),
            Matcher::Suffix(suffix) => {
                path.ends_with(suffix.as_bytes())
                    || suffix
                        .strip_prefix('/')
                        .is_some_and(|name| path == name.as_bytes())
            }
            Matcher::Regex(regex) => regex.is_match(&go_string(path)),
        }
    }
}

/// A path as Go's `regexp` reads a string: valid UTF-8 as it is, each byte of an invalid
/// sequence as one U+FFFD (so `?` matches one such byte, as in BuildKit).
fn go_string(path: &[u8]) -> Cow<'_, str> {
    if let Ok(s) = std::str::from_utf8(path) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(path.len() + 8);
    for chunk in path.utf8_chunks() {
        out.push_str(chunk.valid());
        for _ in chunk.invalid() {
            out.push(char::REPLACEMENT_CHARACTER);
        }
    }
    Cow::Owned(out)
}

/// Why a line is not a pattern, and how to fix it.
struct Problem {
    message: String,
    help: String,
}

impl Problem {
    fn new(message: impl Into<String>, help: impl Into<String>) -> Self {
        Problem {
            message: message.into(),
            help: help.into(),
        }
    }
}

/// One line, read as `ignorefile.ReadAll` and then `patternmatcher.New` read it;
/// `None` for comments and blank lines.
fn parse_line(line: &str) -> Result<Option<Pattern>, Problem> {
    if line.starts_with('#') {
        return Ok(None);
    }
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    // ReadAll: clean what follows the `!`, drop a leading `/`.
    let (invert, rest) = match line.strip_prefix('!') {
        Some(rest) => (true, rest.trim()),
        None => (false, line),
    };
    let mut read = String::new();
    if invert {
        read.push('!');
    }
    if !rest.is_empty() {
        let cleaned = clean(rest);
        match cleaned.strip_prefix('/') {
            Some(relative) if !relative.is_empty() => read.push_str(relative),
            _ => read.push_str(&cleaned),
        }
    }
    // New: clean again, then split off the `!`.
    let cleaned = clean(&read);
    let (exception, text) = match cleaned.strip_prefix('!') {
        Some("") => {
            return Err(Problem::new(
                "a `!` alone names nothing to re-include",
                "write `!path` to re-include a path, or remove the line",
            ));
        }
        Some(text) => (true, text),
        None => (false, cleaned.as_str()),
    };
    // `filepath.Match`'s syntax check, which patternmatcher runs on every line first.
    tokens(text)?;
    let matcher = compile(text).map_err(|e| {
        Problem::new(
            format!("its regular expression cannot be compiled ({e})"),
            "BuildKit turns the pattern into a Go regular expression and would fail on it too; escape the `\\` or simplify the pattern",
        )
    })?;
    Ok(Some(Pattern {
        text: text.to_string(),
        exception,
        matcher,
    }))
}

/// Go's `filepath.Clean` on Unix: no empty, `.` or inner `..` segments, no trailing `/`.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            part => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// fsutil's `patternWithoutTrailingGlob`.
fn without_trailing_glob(text: &str) -> &str {
    let text = text.strip_suffix("/**").unwrap_or(text);
    text.strip_suffix("/*").unwrap_or(text)
}

/// A glob read as BuildKit reads it: `**` as patternmatcher scans it, the rest as
/// `filepath.Match` does (whose syntax errors BuildKit reports too).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    Literal(char),
    /// `*`: any run of characters but `/`.
    Star,
    /// `?`: one character but `/`.
    Any,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `**` (and the `/` after it) before the end: any number of whole segments, none
    /// included (the regular expression `(.*/)?`).
    Dirs,
    /// `**` at the end: anything at all (`.*`).
    Rest,
}

fn tokens(text: &str) -> Result<Vec<Token>, Problem> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let token = match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                }
                if chars.peek().is_none() {
                    Token::Rest
                } else {
                    Token::Dirs
                }
            }
            '*' => Token::Star,
            '?' => Token::Any,
            '\\' => match chars.next() {
                Some(c) => Token::Literal(c),
                None => {
                    return Err(Problem::new(
                        "it ends with a lone `\\`",
                        "a `\\` escapes the next character; write `\\\\` for a backslash",
                    ));
                }
            },
            '[' => class(&mut chars)?,
            c => Token::Literal(c),
        };
        out.push(token);
    }
    Ok(out)
}

/// A `[...]` class after its `[`, with `filepath.Match`'s syntax: `^` negates, `\`
/// escapes, `-` makes a range, `]` and `-` must be escaped first in a class or a range.
fn class(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<Token, Problem> {
    let negated = chars.next_if_eq(&'^').is_some();
    let mut ranges = Vec::new();
    loop {
        if !ranges.is_empty() && chars.next_if_eq(&']').is_some() {
            return Ok(Token::Class { negated, ranges });
        }
        let lo = class_char(chars)?;
        let hi = if chars.next_if_eq(&'-').is_some() {
            class_char(chars)?
        } else {
            lo
        };
        if hi < lo {
            return Err(Problem::new(
                format!("the range `{lo}-{hi}` runs backwards"),
                format!("write `{hi}-{lo}`"),
            ));
        }
        ranges.push((lo, hi));
    }
}

fn class_char(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<char, Problem> {
    let unclosed = || {
        Problem::new(
            "a `[` class is not closed",
            "close it with `]`, or write `\\[` for a literal `[`",
        )
    };
    match chars.next() {
        None => Err(unclosed()),
        Some(c @ (']' | '-')) => Err(Problem::new(
            format!("a `{c}` cannot start a class or a range"),
            format!("escape it as `\\{c}`"),
        )),
        Some('\\') => chars.next().ok_or_else(unclosed),
        Some(c) => Ok(c),
    }
}

/// patternmatcher's `compile`: the shortcut a pattern takes, or the Go regular expression
/// it becomes (run here as [`rust_regex`] rewrites it).
fn compile(text: &str) -> std::result::Result<Matcher, regex::Error> {
    #[derive(PartialEq)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Regex,
    }
    let mut kind = Kind::Exact;
    let mut re = String::from("^");
    let mut chars = text.chars().peekable();
    let mut first = true;
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                chars.next_if_eq(&'/');
                if chars.peek().is_none() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        re.push_str(".*");
                        kind = Kind::Regex;
                    }
                } else {
                    re.push_str("(.*/)?");
                    kind = Kind::Regex;
                }
                if first {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                re.push_str("[^/]*");
                kind = Kind::Regex;
            }
            '?' => {
                re.push_str("[^/]");
                kind = Kind::Regex;
            }
            '.' | '+' | '(' | ')' | '|' | '{' | '}' | '$' => {
                re.push('\\');
                re.push(c);
            }
            '\\' => match chars.next() {
                Some(next) => {
                    re.push('\\');
                    re.push(next);
                    kind = Kind::Regex;
                }
                None => re.push('\\'),
            },
            '[' | ']' => {
                re.push(c);
                kind = Kind::Regex;
            }
            c => re.push(c),
        }
        first = false;
    }
    Ok(match kind {
        Kind::Exact => Matcher::Exact(text.to_string()),
        Kind::Prefix => Matcher::Prefix(text[..text.len() - 2].to_string()),
        Kind::Suffix => Matcher::Suffix(text[2..].to_string()),
        Kind::Regex => {
            re.push('$');
            Matcher::Regex(regex::Regex::new(&rust_regex(&re))?)
        }
    })
}

/// A Go (RE2) regular expression in the `regex` crate's dialect. The two read the same
/// syntax but for: Go's Perl classes and word boundaries are ASCII (the crate's are
/// Unicode), and inside a class Go reads `[` (but for `[:name:]`), `&` and `~` as members
/// where the crate reads nested classes and set operations.
fn rust_regex(go: &str) -> String {
    let mut out = String::with_capacity(go.len() + 16);
    let mut chars = go.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('d') => out.push_str("[0-9]"),
                Some('D') => out.push_str("[^0-9]"),
                Some('w') => out.push_str("[0-9A-Za-z_]"),
                Some('W') => out.push_str("[^0-9A-Za-z_]"),
                Some('s') => out.push_str("[\\t\\n\\f\\r ]"),
                Some('S') => out.push_str("[^\\t\\n\\f\\r ]"),
                Some(b @ ('b' | 'B')) if !in_class => {
                    out.push_str("(?-u:\\");
                    out.push(b);
                    out.push(')');
                }
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => out.push('\\'),
            },
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.next_if_eq(&'^').is_some() {
                    out.push('^');
                }
                // A `]` first in a class is a member in Go.
                if chars.next_if_eq(&']').is_some() {
                    out.push_str("\\]");
                }
            }
            '[' if chars.peek() == Some(&':') => {
                // `[:alpha:]`, read alike by both.
                out.push('[');
                for c in chars.by_ref() {
                    out.push(c);
                    if c == ']' {
                        break;
                    }
                }
            }
            '[' | '&' | '~' if in_class => {
                out.push('\\');
                out.push(c);
            }
            '-' if in_class && chars.peek() == Some(&'-') => out.push_str("\\-"),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> Dockerignore {
        match Dockerignore::parse(text, Path::new(".dockerignore")) {
            Ok(d) => d,
            Err(e) => panic!("{text:?} does not parse: {e}"),
        }
    }

    fn excluded(text: &str, path: &str) -> bool {
        ignore(text).excludes(path)
    }

    #[test]
    fn comments_blank_lines_and_trimming() {
        let d = ignore("\u{feff}# a comment\n\n   \n  secret  \r\n#x\n");
        assert!(d.excludes("secret"));
        assert!(!d.excludes("#x"));
        assert!(!d.excludes("a comment"));
        assert_eq!(d.patterns.len(), 1);
        // BuildKit reads `#` as a comment only in the first column.
        assert!(excluded("  #x", "#x"));
        assert!(ignore("").is_empty());
    }

    #[test]
    fn patterns_are_cleaned_and_relative() {
        for pattern in [
            "foo",
            "/foo",
            "./foo",
            "foo/",
            "foo//",
            "bar/../foo",
            "/./foo/.",
        ] {
            let d = ignore(pattern);
            assert!(d.excludes("foo"), "{pattern}");
            assert!(d.excludes("foo/x"), "{pattern}");
            assert!(!d.excludes("foox"), "{pattern}");
            assert_eq!(d.patterns[0].text, "foo", "{pattern}");
        }
        assert_eq!(clean("../a/../../b"), "../../b");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(clean(""), ".");
        // `/` alone stays `/` and matches no relative path.
        assert!(!excluded("/", "a"));
        assert!(!excluded(".", "a"));
    }

    #[test]
    fn a_pattern_matches_every_path_below_what_it_names() {
        let d = ignore("node_modules\nbuild/out");
        assert!(d.excludes("node_modules"));
        assert!(d.excludes("node_modules/a/b.js"));
        assert!(d.excludes("build/out/x"));
        assert!(!d.excludes("build"));
        assert!(!d.excludes("build/outer"));
        // Not at any depth, unlike gitignore.
        assert!(!d.excludes("src/node_modules"));
    }

    #[test]
    fn exceptions_and_the_last_matching_line() {
        let d = ignore("*.md\n!README.md");
        assert!(d.excludes("CHANGES.md"));
        assert!(!d.excludes("README.md"));
        let d = ignore("!README.md\n*.md");
        assert!(d.excludes("README.md"));
        let d = ignore("docs\n!docs/keep\ndocs/keep/secret");
        assert!(d.excludes("docs/a"));
        assert!(!d.excludes("docs/keep"));
        assert!(!d.excludes("docs/keep/file"));
        assert!(d.excludes("docs/keep/secret"));
        assert!(d.excludes("docs/keep/secret/x"));
        // An exception re-includes below it too.
        let d = ignore("*\n!src");
        assert!(d.excludes("Makefile"));
        assert!(!d.excludes("src/main.rs"));
        // Whitespace after `!` is trimmed, and the rest cleaned.
        let d = ignore("a\n!  ./a/b/");
        assert!(!d.excludes("a/b"));
    }

    #[test]
    fn children_start_from_their_directory_results_as_in_fsutil() {
        // `!a` is skipped at `a` (nothing excluded yet), so at `a/x` it is tried on `a/x`
        // alone: fsutil's walk excludes `a/x` although `!a` matches its parent.
        let d = ignore("a/*\n!a");
        assert!(!d.excludes("a"));
        assert!(d.excludes("a/x"));
        // A line that matched a directory keeps matching below it.
        let d = ignore("a\n!a/b\na/b/c");
        assert!(d.excludes("a/x"));
        assert!(!d.excludes("a/b/x"));
        assert!(d.excludes("a/b/c/d"));
    }

    #[test]
    fn star_and_question_mark_stay_in_one_segment() {
        let d = ignore("*.md");
        assert!(d.excludes("README.md"));
        assert!(!d.excludes("docs/README.md"));
        let d = ignore("docs/*.md");
        assert!(d.excludes("docs/a.md"));
        assert!(!d.excludes("docs/sub/a.md"));
        let d = ignore("a?c");
        assert!(d.excludes("abc"));
        assert!(!d.excludes("a/c"));
        assert!(!d.excludes("abbc"));
        // A `*` in a directory position excludes what is below the matching directories.
        let d = ignore("*/tmp");
        assert!(d.excludes("x/tmp/y"));
        assert!(!d.excludes("x/y/tmp"));
    }

    #[test]
    fn double_star() {
        let d = ignore("**/x");
        assert!(d.excludes("x"));
        assert!(d.excludes("a/x"));
        assert!(d.excludes("a/b/x/c"));
        assert!(!d.excludes("ax"));

        let d = ignore("x/**");
        assert!(
            !d.excludes("x"),
            "`x/**` keeps the directory, drops what is in it"
        );
        assert!(d.excludes("x/a"));
        assert!(d.excludes("x/a/b"));
        assert!(!d.excludes("y/x/a"));

        let d = ignore("a/**/b");
        assert!(d.excludes("a/b"));
        assert!(d.excludes("a/x/b"));
        assert!(d.excludes("a/x/y/b/z"));
        assert!(!d.excludes("a/xb"));
        assert!(!d.excludes("b"));

        let d = ignore("**/*.pyc");
        assert!(d.excludes("x.pyc"));
        assert!(d.excludes("a/b/x.pyc"));
        assert!(!d.excludes("a/b/x.py"));

        let d = ignore("**");
        assert!(d.excludes("anything/at/all"));

        // patternmatcher's shortcuts: `**x` is "ends with x", `x**` is "starts with x".
        assert!(excluded("**.pyc", "a/b.pyc"));
        assert!(excluded("**foo", "barfoo"));
        assert!(excluded("ab**", "abc/d"));
        // Elsewhere `**` is `(.*/)?` and a final `**` is `.*`.
        assert!(excluded("*.x**", "a.x/b/c"));
        assert!(excluded("a*/**/b", "ab/c/b"));
        assert!(excluded("x**y", "xy"));
        assert!(excluded("x**y", "xa/b/y"));
        assert!(!excluded("x**y", "xay"));
        assert!(excluded("a/**/**/b", "a/b"));
    }

    #[test]
    fn classes_and_escapes() {
        let d = ignore("file[0-9].txt");
        assert!(d.excludes("file1.txt"));
        assert!(!d.excludes("filea.txt"));
        let d = ignore("file[^0-9].txt");
        assert!(d.excludes("filea.txt"));
        assert!(!d.excludes("file1.txt"));
        // `!` is a member, not a negation, as in Go.
        let d = ignore("x[!a]");
        assert!(d.excludes("x!"));
        assert!(d.excludes("xa"));
        assert!(!d.excludes("xb"));
        assert!(excluded("x[!]", "x!"));
        assert!(excluded("x[\\]]", "x]"));
        assert!(excluded("x[\\]a]", "xa"));
        assert!(excluded("x[[]", "x["));
        assert!(excluded("x[a\\-]", "x-"));
        assert!(excluded("x[+-\\-]", "x,"));
        assert!(excluded("x[+-\\-]", "x-"));
        assert!(excluded("x[^!]", "xa"));
        assert!(!excluded("x[^!]", "x!"));
        // As in Go's regexp, a negated class matches `/` too.
        assert!(excluded("x[^a]", "x/"));
        // Escapes make a wildcard literal.
        let d = ignore("a\\*b");
        assert!(d.excludes("a*b"));
        assert!(!d.excludes("axb"));
        assert!(excluded("\\[x\\]", "[x]"));
        assert!(excluded("{a,b}", "{a,b}"));
        assert!(!excluded("{a,b}", "a"));
        assert!(excluded("x{a,b}*", "x{a,b}c"));
        assert!(excluded("*,*", "a,b"));
        assert!(excluded("é?", "éa"));
    }

    /// Issue 22 case 8: a pattern becomes BuildKit's Go regexp, `\x` kept as a regexp
    /// escape, in Go's (ASCII) reading.
    #[test]
    fn regexp_escapes_and_classes_as_in_go() {
        assert!(excluded("log\\d", "log1"));
        assert!(!excluded("log\\d", "logd"));
        assert!(!excluded("log\\d", "log١"), "Go's \\d is ASCII");
        assert!(excluded("a\\D", "ax"));
        assert!(!excluded("a\\D", "a1"));
        assert!(excluded("a\\w*", "a_b9"));
        assert!(excluded("\\bfoo\\b", "foo"));
        assert!(!excluded("x\\bfoo", "xfoo"));
        assert!(
            !excluded("é\\b", "é"),
            "Go's \\b is ASCII: no boundary after é"
        );
        assert!(excluded("x[\\d]", "x5"));
        assert!(excluded("x[a\\D]", "xz"));
        assert!(!excluded("x[a\\D]", "x5"));
        // `[*]` is `[[^/]*]` to Go: a class of `[`, `^`, `/`, repeated, then `]`.
        assert!(excluded("[*]", "]"));
        assert!(excluded("[*]", "[^]"));
        assert!(!excluded("[*]", "*"));
        // A `^` outside a class anchors: nothing matches after the first character.
        assert!(!excluded("a*^b", "a^b"));
        // But a pattern without wildcards is compared as it is.
        assert!(excluded("a^b", "a^b"));
        assert!(excluded("a.b", "a.b"));
        assert!(!excluded("a.b", "axb"));
        assert!(excluded("a.b*", "a.bc"));
        assert!(!excluded("a.b*", "axbc"));
        assert!(excluded("x{1,2}*", "x{1,2}y"));
    }

    /// Issue 22 case 8: paths are bytes; a name that is not UTF-8 is compared byte for byte
    /// by the shortcuts and read as Go reads it by an expression.
    #[test]
    fn names_that_are_not_utf8() {
        let d = ignore("caf?.txt\ncaf\u{fffd}\n**/x\u{fffd}*");
        assert!(d.excludes(b"caf\xe9.txt"));
        // The U+FFFD stackplan once showed is not the byte BuildKit compares.
        assert!(!d.excludes(b"caf\xe9"));
        assert!(d.excludes("caf\u{fffd}"));
        // In an expression Go reads the bad byte as U+FFFD.
        assert!(d.excludes(b"a/x\xff-y"));
    }

    #[test]
    fn bad_patterns_are_errors_with_their_line() {
        for (text, line, message) in [
            ("ok\n!\n", 2, "a `!` alone"),
            ("ok\n\n  [abc\n", 3, "not closed"),
            ("a[]\n", 1, "cannot start"),
            ("a[^]b]\n", 1, "cannot start"),
            ("a[z-a]\n", 1, "runs backwards"),
            ("a\\\n", 1, "lone `\\`"),
            ("a[b-]\n", 1, "cannot start"),
        ] {
            let err =
                Dockerignore::parse(text, Path::new("images/x/.dockerignore")).expect_err(text);
            let Error::Invalid {
                diagnostics,
                sources,
            } = err
            else {
                panic!("{text:?}: not Invalid");
            };
            assert_eq!(diagnostics.len(), 1, "{text:?}");
            let d = &diagnostics[0];
            assert_eq!(d.position.map(|p| p.line), Some(line), "{text:?}");
            assert!(d.message.contains(message), "{text:?}: {}", d.message);
            assert!(d.help.is_some());
            assert_eq!(d.file.as_deref(), Some(Path::new("images/x/.dockerignore")));
            assert_eq!(sources.len(), 1);
        }
        // Every bad line is reported, not only the first.
        let Err(Error::Invalid { diagnostics, .. }) = Dockerignore::parse("[\n!\n", Path::new("f"))
        else {
            panic!("expected errors");
        };
        assert_eq!(diagnostics.len(), 2);
        // `!/` cleans to `!` in patternmatcher.New: BuildKit refuses it too.
        assert!(Dockerignore::parse("!/", Path::new("f")).is_err());
    }

    #[test]
    fn excluded_directories_are_walked_only_when_an_exception_may_reach_below() {
        let d = ignore("a\nb");
        assert!(!d.may_reinclude_below("a"));
        let d = ignore("a\n!a/keep\n!c/**");
        assert!(d.may_reinclude_below("a"));
        assert!(!d.may_reinclude_below("b"));
        assert!(d.may_reinclude_below("c"));
        assert!(!d.may_reinclude_below("ab"));
        let d = ignore("a\n!**/keep");
        assert!(d.may_reinclude_below("a"));
        assert!(d.may_reinclude_below("anything"));
    }

    #[test]
    fn dockerfile_specific_ignore_files() {
        assert_eq!(dockerfile_specific("Dockerfile"), "Dockerfile.dockerignore");
        assert_eq!(
            dockerfile_specific("ci/Dockerfile.dev"),
            "ci/Dockerfile.dev.dockerignore"
        );
    }

    /// patternmatcher's own matching, rebuilt from its source as a reference: the pattern
    /// becomes a regular expression character by character (here a list of atoms and a
    /// backtracking matcher), with its three shortcuts.
    mod reference {
        #[derive(Clone, Debug)]
        enum Atom {
            Char(char),
            NotSlash,
            NotSlashes,
            Class(bool, Vec<(char, char)>),
            /// `(.*/)?`
            Dirs,
            /// `.*`
            All,
        }

        pub fn matches(pattern: &str, path: &str) -> bool {
            let mut atoms = Vec::new();
            let chars: Vec<char> = pattern.chars().collect();
            let mut exact = true;
            let mut kind = "exact";
            let mut i = 0;
            let mut first = true;
            while i < chars.len() {
                let c = chars[i];
                i += 1;
                match c {
                    '*' if chars.get(i) == Some(&'*') => {
                        i += 1;
                        if chars.get(i) == Some(&'/') {
                            i += 1;
                        }
                        if i == chars.len() {
                            if exact {
                                kind = "prefix";
                            } else {
                                atoms.push(Atom::All);
                                kind = "regexp";
                            }
                        } else {
                            atoms.push(Atom::Dirs);
                            kind = "regexp";
                        }
                        exact = false;
                        if first {
                            kind = "suffix";
                        }
                    }
                    '*' => {
                        atoms.push(Atom::NotSlashes);
                        kind = "regexp";
                        exact = false;
                    }
                    '?' => {
                        atoms.push(Atom::NotSlash);
                        kind = "regexp";
                        exact = false;
                    }
                    '\\' => {
                        atoms.push(Atom::Char(chars[i]));
                        i += 1;
                        kind = "regexp";
                        exact = false;
                    }
                    '[' => {
                        let negated = chars.get(i) == Some(&'^');
                        if negated {
                            i += 1;
                        }
                        let mut ranges = Vec::new();
                        while chars[i] != ']' || ranges.is_empty() {
                            let lo = chars[i];
                            i += 1;
                            let hi = if chars[i] == '-' {
                                i += 2;
                                chars[i - 1]
                            } else {
                                lo
                            };
                            ranges.push((lo, hi));
                        }
                        i += 1;
                        atoms.push(Atom::Class(negated, ranges));
                        kind = "regexp";
                        exact = false;
                    }
                    c => atoms.push(Atom::Char(c)),
                }
                first = false;
            }
            match kind {
                "exact" => path == pattern,
                "prefix" => path.starts_with(&pattern[..pattern.len() - 2]),
                "suffix" => {
                    let suffix = &pattern[2..];
                    path.ends_with(suffix) || suffix.strip_prefix('/') == Some(path)
                }
                _ => {
                    let path: Vec<char> = path.chars().collect();
                    regex(&atoms, &path)
                }
            }
        }

        fn regex(atoms: &[Atom], s: &[char]) -> bool {
            let Some((atom, rest)) = atoms.split_first() else {
                return s.is_empty();
            };
            match atom {
                Atom::Char(c) => s.first() == Some(c) && regex(rest, &s[1..]),
                Atom::NotSlash => s.first().is_some_and(|&c| c != '/') && regex(rest, &s[1..]),
                Atom::Class(negated, ranges) => s.first().is_some_and(|&c| {
                    ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
                        && regex(rest, &s[1..])
                }),
                Atom::NotSlashes => (0..=s.len())
                    .take_while(|&n| n == 0 || s[n - 1] != '/')
                    .any(|n| regex(rest, &s[n..])),
                Atom::Dirs => {
                    regex(rest, s) || (1..=s.len()).any(|n| s[n - 1] == '/' && regex(rest, &s[n..]))
                }
                Atom::All => (0..=s.len()).any(|n| regex(rest, &s[n..])),
            }
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn pattern() -> impl Strategy<Value = String> {
            let piece = prop::sample::select(vec![
                "a", "b", "/", "*", "**", "**/", "/**", "/**/", "?", "[ab]", "[^a]", "[a-b]",
                "\\*", ".", "{", ",",
            ]);
            prop::collection::vec(piece, 1..7).prop_map(|pieces| pieces.concat())
        }

        fn path() -> impl Strategy<Value = String> {
            let segment = prop::collection::vec(
                prop::sample::select(vec!["a", "b", "ab", "*", ".", "{", ","]),
                1..4,
            )
            .prop_map(|s| s.concat());
            prop::collection::vec(segment, 1..5).prop_map(|s| s.join("/"))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            #[test]
            fn the_regex_translation_agrees_with_buildkit(pattern in pattern(), path in path()) {
                let Ok(Some(parsed)) = parse_line(&pattern) else {
                    return Ok(());
                };
                prop_assert_eq!(
                    parsed.matches(path.as_bytes()),
                    reference::matches(&parsed.text, &path),
                    "pattern {:?} (cleaned {:?}) on {:?}",
                    pattern,
                    parsed.text,
                    path
                );
            }
        }
    }
}
