//! What a Dockerfile reads: its global `ARG`s, what every `FROM` resolves to with build
//! args, and what its instructions read from outside the build context.
//!
//! The planner needs these facts: which global `ARG`s a Dockerfile declares (so it knows
//! whether a child takes its parent through `BASE_TAG` or `BASE_IMAGE`), the exact key
//! BuildKit looks each `FROM` up by once build args are applied, the images `COPY --from`
//! and `RUN --mount=from=` read, the `ADD` sources BuildKit fetches from the network (each
//! expanded with its stage's `ARG`/`ENV` values, and classified by BuildKit's own rules:
//! dockerfile2llb's `isHTTPSource`/`isGitSource`, dfgitutil's `ParseGitRef`), the sources of
//! `ONBUILD` triggers, and the `# syntax=` frontend.
//!
//! The syntax itself (parser directives, a UTF-8 BOM, line continuations with the escape
//! directive, comments, JSON forms, heredocs, `ONBUILD`) is read by the maintained
//! `parse-dockerfile` crate. What its test suite runs against: the Dockerfiles of BuildKit's
//! and buildah's repositories (`tests/external.rs`, which checks they parse and snapshots
//! the crate's own dump of them: a regression test, not a comparison with BuildKit's
//! parse), fixtures of its own (every instruction, heredocs, escapes), error messages per
//! instruction, and fuzzing regressions. Two corners it does not handle as BuildKit does, and
//! this module does (see [`missed_heredocs`]): a `RUN` heredoc that is not the first word
//! of the command (`RUN cat <<EOF > /x`, `RUN 3<<EOF`) and a second heredoc on one line.
//! BuildKit's variable expansion (`${VAR:-word}` and friends) is stackplan's own
//! ([`expand_in`]): the crate does not expand.

use std::borrow::Cow;
use std::collections::BTreeMap;

use parse_dockerfile::{Command, Instruction};

/// A global `ARG` (declared before the first `FROM`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgDecl {
    pub name: String,
    pub default: Option<String>,
    pub line: usize,
}

/// One `FROM` instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stage {
    /// The image as written, before expansion: `ghcr.io/org/base:${BASE_TAG}`.
    pub base: String,
    pub name: Option<String>,
    pub platform: Option<String>,
    pub line: usize,
}

/// The `# syntax=` parser directive: the frontend image BuildKit runs the Dockerfile with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Syntax {
    /// The image reference, as written (the directive's first word).
    pub reference: String,
    pub line: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dockerfile {
    pub global_args: Vec<ArgDecl>,
    pub stages: Vec<Stage>,
    /// What instructions other than `FROM` read from outside the context.
    pub sources: Vec<Source>,
    /// The frontend the Dockerfile asks for, if it names one.
    pub syntax: Option<Syntax>,
    /// Per stage, in order, what decides an `ADD` source: the stage's `ARG`s and `ENV`s,
    /// and its `ADD`s.
    steps: Vec<Vec<Step>>,
}

/// Something an instruction reads from outside the build context besides `FROM`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `COPY --from=IMAGE` or `RUN --mount=from=IMAGE` (an image, a stage name or a stage
    /// index, as written).
    Image { text: String, line: usize },
    /// An image an `ONBUILD COPY --from=`/`RUN --mount=from=` trigger names: read by every
    /// child built on this image, with the child's variables and stages.
    OnbuildImage { text: String, line: usize },
    /// A source nothing pins, whatever the build args: an `ONBUILD ADD` of a URL or of a
    /// word with variables (expanded in a child this Dockerfile does not know).
    Remote { text: String, line: usize },
}

/// A stage's instruction that decides or reads an `ADD` source.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    /// `ARG NAME[=default] …`.
    Arg(Vec<(String, Option<String>)>),
    /// `ENV NAME=value …` (values as written).
    Env(Vec<(String, String)>),
    /// `ADD` without `--checksum`: its sources as written (heredocs left out).
    Add { sources: Vec<String> },
}

/// A `FROM` after build args are applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedBase {
    pub stage: usize,
    /// The expanded image reference (or the name of an earlier stage).
    pub reference: String,
    /// `true` when the `FROM` names an earlier stage rather than an image.
    pub is_stage: bool,
    /// The variables the `FROM` line uses.
    pub uses: Vec<String>,
    pub line: usize,
}

/// Why a Dockerfile could not be read, with its 1-based line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// 1-based line numbers of byte offsets in one text.
struct Lines {
    /// Offsets of the `\n`s.
    newlines: Vec<usize>,
    /// The text's last line (a final `\n` opens none).
    last: usize,
}

impl Lines {
    fn of(text: &str) -> Lines {
        Lines {
            newlines: text
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
            last: text.lines().count().max(1),
        }
    }

    /// The line of `offset`; the end of the text is on the last line.
    fn line(&self, offset: usize) -> usize {
        self.clamp(self.newlines.partition_point(|&n| n < offset) + 1)
    }

    /// A line number within the text (an error at its end is on its last line).
    fn clamp(&self, line: usize) -> usize {
        line.clamp(1, self.last)
    }
}

/// A `RUN`'s offset, and the byte range of the heredoc bodies the crate left unread.
type Blank = (usize, std::ops::Range<usize>);

/// Why one pass over the text stopped.
enum Stop {
    Error(ParseError),
    /// `RUN`s the crate read without (some of) their heredocs: each `RUN`'s offset and the
    /// byte range of those heredocs' bodies and terminators, to be blanked before the next
    /// pass.
    Heredocs(Vec<Blank>),
}

impl Dockerfile {
    pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
        // BuildKit strips a UTF-8 byte-order mark; so does the crate, and offsets are
        // counted in the text it reads.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let lines = Lines::of(text);
        let mut blanked: Option<String> = None;
        // The `RUN`s (by offset) whose heredocs were blanked.
        let mut handled: Vec<usize> = Vec::new();
        loop {
            let current = blanked.as_deref().unwrap_or(text);
            match read(current, &lines, &handled) {
                Ok(df) => return Ok(df),
                Err(Stop::Error(e)) => {
                    // An instruction BuildKit does not know (a stray line of a broken
                    // continuation, as a merge can leave) is passed over, as stackplan
                    // always did: the plan of such a history stays what it was, and
                    // BuildKit reports the line when it builds. Blanked, it reads as a
                    // blank line, so line numbers stay those of the text as written.
                    let Some(range) = unknown_instruction(current, &e) else {
                        return Err(e);
                    };
                    let mut bytes = current.to_string().into_bytes();
                    for b in &mut bytes[range] {
                        if *b != b'\n' {
                            *b = b' ';
                        }
                    }
                    blanked = Some(String::from_utf8(bytes).map_err(|_| e.clone())?);
                }
                Err(Stop::Heredocs(ranges)) => {
                    // Heredoc bodies become blank lines: the offsets, and so every line
                    // number, stay those of the text as written.
                    let mut bytes = blanked
                        .take()
                        .unwrap_or_else(|| text.to_string())
                        .into_bytes();
                    for (run, range) in ranges {
                        handled.push(run);
                        for b in &mut bytes[range] {
                            if *b != b'\n' {
                                *b = b' ';
                            }
                        }
                    }
                    // Only ASCII bytes were replaced by ASCII: a multi-byte character is
                    // blanked whole or not at all (the ranges are whole lines).
                    blanked = Some(String::from_utf8(bytes).map_err(|_| ParseError {
                        line: 1,
                        message: "heredoc bodies split a character".into(),
                    })?);
                }
            }
        }
    }

    /// The global `ARG`s' values: a build arg's value (looked up by `build_arg`), else the
    /// default.
    fn global_scope<'s, 'v: 's>(
        &'s self,
        build_arg: impl Fn(&str) -> Option<&'v str>,
    ) -> Scope<'s> {
        let mut scope = Scope::default();
        for arg in &self.global_args {
            let value = match build_arg(&arg.name) {
                Some(v) => Some(Cow::Borrowed(v)),
                None => arg
                    .default
                    .as_ref()
                    .map(|d| Cow::Owned(expand_in(d, &scope).0)),
            };
            scope.set(&arg.name, value);
        }
        scope
    }

    pub fn declares_global_arg(&self, name: &str) -> bool {
        self.global_args.iter().any(|a| a.name == name)
    }

    /// Applies build args to every `FROM`: a declared global `ARG` takes the build arg's
    /// value, else its default; undeclared variables expand to nothing, as in BuildKit.
    pub fn resolve_bases(&self, build_args: &BTreeMap<String, String>) -> Vec<ResolvedBase> {
        self.resolve_bases_with(|name| build_args.get(name).map(String::as_str))
    }

    /// [`Self::resolve_bases`] with the build args looked up by `build_arg`: layered args
    /// need no merged map per call.
    pub fn resolve_bases_with<'v>(
        &self,
        build_arg: impl Fn(&str) -> Option<&'v str>,
    ) -> Vec<ResolvedBase> {
        let scope = self.global_scope(build_arg);
        let mut stage_names: Vec<String> = Vec::new();
        let mut out = Vec::new();
        for (i, stage) in self.stages.iter().enumerate() {
            let (reference, uses) = expand_in(&stage.base, &scope);
            let is_stage = stage_names
                .iter()
                .any(|n| n.eq_ignore_ascii_case(&reference));
            out.push(ResolvedBase {
                stage: i,
                reference,
                is_stage,
                uses,
                line: stage.line,
            });
            if let Some(name) = &stage.name {
                stage_names.push(name.clone());
            }
        }
        out
    }

    /// The frontend image BuildKit runs this Dockerfile with, as written: the build arg
    /// `BUILDKIT_SYNTAX` (which BuildKit's dockerfile frontend takes over the directive),
    /// else the `# syntax=` directive. `None`: the builder's own frontend.
    pub fn frontend<'s>(&'s self, build_args: &'s BTreeMap<String, String>) -> Option<&'s str> {
        match build_args.get(SYNTAX_ARG) {
            Some(value) => value.split_whitespace().next(),
            None => self.syntax.as_ref().map(|s| s.reference.as_str()),
        }
    }

    /// The images `COPY --from` and `RUN --mount=from=` read (stage names and indexes left
    /// out), expanded with the global build args as `FROM` lines are, the images `ONBUILD`
    /// triggers name, and the sources nothing pins: every `ADD` source without
    /// `--checksum` that BuildKit fetches (see [`is_remote`]), expanded with its stage's
    /// variables, or that cannot be expanded for sure here.
    pub fn resolve_sources(
        &self,
        build_args: &BTreeMap<String, String>,
    ) -> (Vec<String>, Vec<String>) {
        let build_arg = |name: &str| build_args.get(name).map(String::as_str);
        let global = self.global_scope(build_arg);
        let stage_names: Vec<&str> = self
            .stages
            .iter()
            .filter_map(|s| s.name.as_deref())
            .collect();
        let mut images = Vec::new();
        let mut remotes = Vec::new();
        for source in &self.sources {
            match source {
                Source::Image { text, .. } => {
                    let (value, _) = expand_in(text, &global);
                    let is_stage = value.chars().all(|c| c.is_ascii_digit())
                        || stage_names.iter().any(|n| n.eq_ignore_ascii_case(&value));
                    if !is_stage && !value.is_empty() {
                        images.push(value);
                    }
                }
                Source::OnbuildImage { text, .. } => {
                    if !text.chars().all(|c| c.is_ascii_digit()) {
                        images.push(text.clone());
                    }
                }
                Source::Remote { text, .. } => remotes.push(text.clone()),
            }
        }
        self.resolve_adds(&global, build_arg, &mut remotes);
        (images, remotes)
    }

    /// Expands every stage's `ADD` sources as BuildKit does: with the stage's variables in
    /// order — a declared `ARG` takes the build arg, else its default, else (a global
    /// `ARG` redeclared) the global value; an `ENV` sets a value an `ARG` does not
    /// override; a stage built on an earlier stage starts with that stage's `ENV`s. A
    /// stage built on an image starts with the image's `ENV`s, which are not known here:
    /// a source using a variable the Dockerfile does not set is not expanded for sure and
    /// counts as remote.
    fn resolve_adds<'s, 'v: 's>(
        &'s self,
        global: &Scope<'s>,
        build_arg: impl Fn(&str) -> Option<&'v str>,
        remotes: &mut Vec<String>,
    ) {
        let bases = self.resolve_bases_with(&build_arg);
        // Per stage, its `ENV`s (what a stage built on it starts with).
        let mut envs: Vec<Scope<'s>> = Vec::with_capacity(self.steps.len());
        for (i, steps) in self.steps.iter().enumerate() {
            let parent = bases.get(i).filter(|b| b.is_stage).and_then(|b| {
                (0..i).rev().find(|&j| {
                    self.stages[j]
                        .name
                        .as_deref()
                        .is_some_and(|n| n.eq_ignore_ascii_case(&b.reference))
                })
            });
            let mut env = parent.map(|j| envs[j].clone()).unwrap_or_default();
            let mut scope = env.clone();
            for step in steps {
                match step {
                    Step::Arg(words) => {
                        for (name, default) in words {
                            if env.get(name).is_some() {
                                continue;
                            }
                            let value = match (build_arg(name), default) {
                                (Some(v), _) => Some(Cow::Borrowed(v)),
                                (None, Some(d)) => expand_known(d, &scope).map(Cow::Owned),
                                (None, None) => global.get(name).map(|v| Cow::Owned(v.to_string())),
                            };
                            scope.set(name, value);
                        }
                    }
                    Step::Env(pairs) => {
                        for (name, value) in pairs {
                            let value = expand_known(value, &scope).map(Cow::Owned);
                            scope.set(name, value.clone());
                            env.set(name, value);
                        }
                    }
                    Step::Add { sources } => {
                        for source in sources {
                            match expand_known(source, &scope) {
                                Some(value) if is_remote(&value) => remotes.push(value),
                                Some(_) => {}
                                None => remotes
                                    .push(format!("{source} (uses a variable not known for sure)")),
                            }
                        }
                    }
                }
            }
            envs.push(env);
        }
    }
}

/// The build arg BuildKit's dockerfile frontend takes over the `# syntax=` directive
/// (frontend/dockerfile/builder: `build-arg:BUILDKIT_SYNTAX`, read unless the build was
/// already forwarded).
pub const SYNTAX_ARG: &str = "BUILDKIT_SYNTAX";

/// `text` expanded in `scope`, or `None` when it uses a variable `scope` does not set.
fn expand_known(text: &str, scope: &Scope<'_>) -> Option<String> {
    if !text.contains('$') {
        return Some(text.to_string());
    }
    let (value, uses) = expand_in(text, scope);
    uses.iter()
        .all(|name| scope.get(name).is_some())
        .then_some(value)
}

/// Whether BuildKit fetches an `ADD` source from the network rather than the context:
/// dockerfile2llb's `isGitSource` || `isHTTPSource`.
pub fn is_remote(source: &str) -> bool {
    is_git_source(source) || is_http_source(source)
}

/// dockerfile2llb's `isHTTPSource`: a lower-case `http://` or `https://` prefix (BuildKit
/// compares it as written: `HTTPS://host/x.tgz` is a path in the context), and not git.
fn is_http_source(source: &str) -> bool {
    (source.starts_with("http://") || source.starts_with("https://")) && !is_git_source(source)
}

/// dfgitutil's `ParseGitRef` succeeding on a ref that is not `IndistinguishableFromLocal`:
/// a URL whose scheme (any case) is `ssh` or `git`, or `http`/`https` with a path ending
/// in `.git`; or an scp-style `user@host:path` (sshutil's `^[a-zA-Z0-9-_]+@[a-zA-Z0-9-.]+:`).
/// `./`, `../` and `github.com/…` are paths.
fn is_git_source(source: &str) -> bool {
    if source.starts_with("./") || source.starts_with("../") || source.starts_with("github.com/") {
        return false;
    }
    let scheme_len = source.bytes().take_while(u8::is_ascii_alphanumeric).count();
    if scheme_len > 0 && source[scheme_len..].starts_with("://") {
        let scheme = source[..scheme_len].to_ascii_lowercase();
        return match scheme.as_str() {
            "ssh" | "git" => true,
            "http" | "https" => {
                let rest = &source[scheme_len + 3..];
                let path = rest.find('/').map_or("", |i| &rest[i..]);
                let path = path.split(['?', '#']).next().unwrap_or_default();
                path.ends_with(".git")
            }
            _ => false,
        };
    }
    let user_len = source
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
        .count();
    let Some(after_user) = source[user_len..].strip_prefix('@') else {
        return false;
    };
    let host_len = after_user
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'.')
        .count();
    user_len > 0 && host_len > 0 && after_user[host_len..].starts_with(':')
}

/// The heredoc bodies BuildKit reads after a `RUN` (or `ONBUILD RUN`) that the crate did
/// not: it opens a heredoc only when `<<` starts the command, and only one
/// (parse-dockerfile 0.1: "here-doc is not always start from first", "multiple
/// here-docs"). BuildKit opens one for every word of a shell-form `RUN` that matches
/// `^(\d*)<<(-?)([^<]*)$` with a non-empty name, quotes kept in the word (so `"<<EOF"`
/// and `$((a<<b))` open none). The ranges run from the first body line through the last
/// terminator; `Some(Err)` is a heredoc never terminated.
fn missed_heredocs(
    text: &str,
    instruction: &Instruction<'_>,
    lines: &Lines,
    handled: &[usize],
) -> Option<Result<Vec<Blank>, Stop>> {
    let run = match instruction {
        Instruction::Run(run) => run,
        Instruction::Onbuild(onbuild) => match onbuild.instruction.as_ref() {
            Instruction::Run(run) => run,
            _ => return None,
        },
        _ => return None,
    };
    let Command::Shell(shell) = &run.arguments else {
        return None;
    };
    if !shell.value.contains("<<") || handled.contains(&shell.span.start) {
        return None;
    }
    let names = heredoc_names(shell.value);
    if names.is_empty() {
        return None;
    }
    // The crate's heredoc (its body, then its terminator line) comes first.
    let mut pos = match run.here_docs.last() {
        Some(doc) => next_line(text, next_line(text, doc.span.end.saturating_sub(1))),
        None => next_line(text, shell.span.end),
    };
    let start = pos;
    for (name, chomp) in names {
        loop {
            if pos >= text.len() {
                return Some(Err(Stop::Error(ParseError {
                    line: lines.line(start),
                    message: format!("unterminated heredoc `{name}`: no line `{name}` ends it"),
                })));
            }
            let end = next_line(text, pos);
            let line = text[pos..end].trim_end_matches(['\r', '\n']);
            let line = if chomp {
                line.trim_start_matches('\t')
            } else {
                line
            };
            pos = end;
            if line == name {
                break;
            }
        }
    }
    Some(Ok(vec![(shell.span.start, start..pos)]))
}

/// The offset just past the `\n` ending the line `offset` is on (or the text's end).
fn next_line(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text[offset..]
        .find('\n')
        .map_or(text.len(), |i| offset + i + 1)
}

/// The heredocs a shell-form command opens, as BuildKit's `heredocsFromLine` finds them:
/// its words split on blanks outside quotes, quotes and escapes kept; a word
/// `[digits]<<[-]NAME` opens one (`-`: the terminator may be indented with tabs), the name
/// being `NAME` without its quotes.
fn heredoc_names(command: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for word in raw_words(command) {
        let rest = word.trim_start_matches(|c: char| c.is_ascii_digit());
        let Some(rest) = rest.strip_prefix("<<") else {
            continue;
        };
        let (chomp, rest) = match rest.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, rest),
        };
        if rest.is_empty() || rest.contains('<') {
            continue;
        }
        let name = unquote(rest);
        if !name.is_empty() {
            out.push((name, chomp));
        }
    }
    out
}

/// Words split on blanks outside quotes; quotes and escapes stay in the words, and a line
/// continuation (an escape character before a newline) joins its lines.
fn raw_words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\' | '`') if matches!(chars.peek(), Some('\n' | '\r')) => {
                while matches!(chars.peek(), Some('\n' | '\r')) {
                    chars.next();
                }
            }
            (None, '\\') | (Some('"'), '\\') => {
                word.push(c);
                if let Some(next) = chars.next() {
                    word.push(next);
                }
            }
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                word.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                word.push(c);
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// A word without its quotes and escapes.
fn unquote(word: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '\\') | (Some('"'), '\\') => out.extend(chars.next()),
            _ => out.push(c),
        }
    }
    out
}

/// `ENV A=1 B="two words"` or the legacy `ENV A one value`.
fn parse_env_words(rest: &str) -> Vec<(String, String)> {
    let first = rest.split_whitespace().next().unwrap_or_default();
    if first.contains('=') {
        parse_arg_words(rest)
            .into_iter()
            .map(|(name, value)| (name, value.unwrap_or_default()))
            .collect()
    } else {
        let value = rest[first.len()..].trim();
        vec![(first.to_string(), value.to_string())]
    }
}

/// One pass of the crate over `text`.
fn read(text: &str, lines: &Lines, handled: &[usize]) -> Result<Dockerfile, Stop> {
    let parsed = match parse_dockerfile::parse(text) {
        Ok(parsed) => parsed,
        Err(e) => {
            // A `RUN` the crate read without its heredoc makes the heredoc's body look
            // like instructions: the first such `RUN` before the error is the cause.
            if let Ok(iter) = parse_dockerfile::parse_iter(text) {
                for instruction in iter.map_while(Result::ok) {
                    if let Some(ranges) = missed_heredocs(text, &instruction, lines, handled) {
                        return Err(Stop::Heredocs(ranges?));
                    }
                }
            }
            return Err(Stop::Error(crate_error(&e, lines)));
        }
    };
    let ranges: Vec<_> = parsed
        .instructions
        .iter()
        .filter_map(|i| missed_heredocs(text, i, lines, handled))
        .collect::<Result<Vec<_>, _>>()?;
    if !ranges.is_empty() {
        return Err(Stop::Heredocs(ranges.into_iter().flatten().collect()));
    }
    let line_of = |offset: usize| lines.line(offset);
    let mut out = Dockerfile {
        syntax: parsed.parser_directives.syntax.as_ref().and_then(|d| {
            let reference = d.value.value.split_whitespace().next()?;
            Some(Syntax {
                reference: reference.to_string(),
                line: line_of(d.value.span.start),
            })
        }),
        ..Dockerfile::default()
    };
    for instruction in &parsed.instructions {
        match instruction {
            Instruction::Arg(arg) => {
                let line = line_of(arg.arg.span.start);
                let words = parse_arg_words(&arg.arguments.value);
                if words.iter().any(|(name, _)| name.is_empty()) {
                    return Err(Stop::Error(ParseError {
                        line,
                        message: "ARG without a name".into(),
                    }));
                }
                match out.steps.last_mut() {
                    None => out
                        .global_args
                        .extend(words.into_iter().map(|(name, default)| ArgDecl {
                            name,
                            default,
                            line,
                        })),
                    Some(steps) => steps.push(Step::Arg(words)),
                }
            }
            Instruction::From(from) => {
                let platform = from
                    .options
                    .iter()
                    .find(|f| f.name.value.eq_ignore_ascii_case("platform"))
                    .and_then(|f| f.value.as_ref())
                    .map(|v| v.value.to_string());
                out.stages.push(Stage {
                    base: from.image.value.to_string(),
                    name: from.as_.as_ref().map(|(_, name)| name.value.to_string()),
                    platform,
                    line: line_of(from.from.span.start),
                });
                out.steps.push(Vec::new());
            }
            Instruction::Env(env) => {
                if let Some(steps) = out.steps.last_mut() {
                    steps.push(Step::Env(parse_env_words(&env.arguments.value)));
                }
            }
            Instruction::Copy(copy) => {
                let line = line_of(copy.copy.span.start);
                out.sources
                    .extend(copy_from(&copy.options).map(|text| Source::Image { text, line }));
            }
            Instruction::Run(run) => {
                let line = line_of(run.run.span.start);
                out.sources
                    .extend(mount_images(&run.options).map(|text| Source::Image { text, line }));
            }
            Instruction::Add(add) => {
                if !add.options.iter().any(is_checksum)
                    && let Some(steps) = out.steps.last_mut()
                {
                    steps.push(Step::Add {
                        sources: path_sources(&add.src).collect(),
                    });
                }
            }
            Instruction::Onbuild(onbuild) => {
                let line = line_of(onbuild.onbuild.span.start);
                onbuild_sources(&onbuild.instruction, line, &mut out.sources);
            }
            _ => {}
        }
    }
    Ok(out)
}

/// The byte range of the instruction an "unknown instruction" error is about: its line and
/// the lines it continues onto (a line ending in the escape character): whole lines, so
/// blanking every byte of it keeps the text UTF-8. `None` where it is blank already
/// (nothing would change on the next pass).
fn unknown_instruction(text: &str, e: &ParseError) -> Option<std::ops::Range<usize>> {
    if !e.message.starts_with("unknown instruction") {
        return None;
    }
    let escape = if text
        .lines()
        .take_while(|l| l.trim_start().starts_with('#'))
        .any(|l| l.replace(' ', "").eq_ignore_ascii_case("#escape=`"))
    {
        '`'
    } else {
        '\\'
    };
    let mut start = 0;
    for _ in 1..e.line {
        start += text[start..].find('\n')? + 1;
    }
    let mut end = start;
    loop {
        let line_end = text[end..].find('\n').map_or(text.len(), |i| end + i);
        let continues = text[end..line_end].trim_end().ends_with(escape);
        end = line_end;
        if !continues || end == text.len() {
            break;
        }
        end += 1;
    }
    let range = start..end;
    let bytes = &text.as_bytes()[range.clone()];
    bytes
        .iter()
        .any(|b| !b.is_ascii_whitespace())
        .then_some(range)
}

/// The crate's error as stackplan says it: the message (its own words for a Dockerfile
/// without `FROM`), at a line of the text.
fn crate_error(e: &parse_dockerfile::Error, lines: &Lines) -> ParseError {
    let message = format!("{e:#}");
    ParseError {
        line: lines.clamp(e.line()),
        message: match message.as_str() {
            "expected at least one FROM instruction" => "no FROM instruction".into(),
            "expected FROM" => {
                "no FROM instruction before this one (only ARG may come before FROM)".into()
            }
            _ => message,
        },
    }
}

type Flags<'a> = [parse_dockerfile::Flag<'a>];

fn flag_values<'f>(flags: &'f Flags<'_>, name: &'f str) -> impl Iterator<Item = &'f str> + 'f {
    flags
        .iter()
        .filter(move |f| f.name.value.eq_ignore_ascii_case(name))
        .filter_map(|f| f.value.as_ref().map(|v| v.value.as_ref()))
}

/// `COPY --from=…` values.
fn copy_from(flags: &Flags<'_>) -> impl Iterator<Item = String> {
    flag_values(flags, "from")
        .map(str::to_string)
        .collect::<Vec<_>>()
        .into_iter()
}

/// The `from=` of every `RUN --mount=…`.
fn mount_images(flags: &Flags<'_>) -> impl Iterator<Item = String> {
    flag_values(flags, "mount")
        .flat_map(|mount| mount.split(','))
        .filter_map(|option| {
            let (key, value) = option.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case("from")
                .then(|| value.trim().to_string())
        })
        .collect::<Vec<_>>()
        .into_iter()
}

fn is_checksum(flag: &parse_dockerfile::Flag<'_>) -> bool {
    flag.name.value.eq_ignore_ascii_case("checksum")
}

/// An `ADD`'s sources that are words (not heredocs).
fn path_sources<'s>(
    sources: &'s [parse_dockerfile::Source<'_>],
) -> impl Iterator<Item = String> + 's {
    sources.iter().filter_map(|s| match s {
        parse_dockerfile::Source::Path(p) => Some(p.value.to_string()),
        _ => None,
    })
}

/// What an `ONBUILD` trigger reads from outside: BuildKit runs it in every child built on
/// this image, expanded with the child's variables and stage names. This Dockerfile's
/// target takes them as its own inputs (its digest is in every child's), which
/// over-approximates: a trigger whose words have variables counts as a source nothing
/// pins, and a `--from=` name counts as an image even where a child has a stage of that
/// name.
fn onbuild_sources(trigger: &Instruction<'_>, line: usize, out: &mut Vec<Source>) {
    let image = |text: String| {
        if text.contains('$') {
            Source::Remote {
                text: format!("{text} (an ONBUILD image with variables)"),
                line,
            }
        } else {
            Source::OnbuildImage { text, line }
        }
    };
    match trigger {
        Instruction::Copy(copy) => out.extend(copy_from(&copy.options).map(image)),
        Instruction::Run(run) => out.extend(mount_images(&run.options).map(image)),
        Instruction::Add(add) if !add.options.iter().any(is_checksum) => {
            for source in path_sources(&add.src) {
                if source.contains('$') {
                    out.push(Source::Remote {
                        text: format!("{source} (an ONBUILD source with variables)"),
                        line,
                    });
                } else if is_remote(&source) {
                    out.push(Source::Remote {
                        text: format!("{source} (ONBUILD)"),
                        line,
                    });
                }
            }
        }
        _ => {}
    }
}

/// `ARG A=1 B="two words" C` → [(A, Some(1)), (B, Some(two words)), (C, None)].
fn parse_arg_words(rest: &str) -> Vec<(String, Option<String>)> {
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        let mut has_eq = false;
        let mut name = String::new();
        while let Some(&c) = chars.peek() {
            match quote {
                Some(q) if c == q => {
                    quote = None;
                    chars.next();
                    continue;
                }
                Some(_) => {}
                None if c.is_whitespace() => break,
                None if c == '"' || c == '\'' => {
                    quote = Some(c);
                    chars.next();
                    continue;
                }
                None if c == '=' && !has_eq => {
                    has_eq = true;
                    name = std::mem::take(&mut word);
                    chars.next();
                    continue;
                }
                None => {}
            }
            word.push(c);
            chars.next();
        }
        if has_eq {
            out.push((name, Some(word)));
        } else {
            out.push((word, None));
        }
    }
    out
}

/// Variables and their values, borrowed where they can be: a Dockerfile's few global
/// `ARG`s, looked up by name (a map per `FROM` resolved cost every target three copies of
/// every name and value).
#[derive(Clone, Default)]
struct Scope<'a> {
    vars: Vec<(&'a str, Cow<'a, str>)>,
}

impl<'a> Scope<'a> {
    fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_ref())
    }

    /// Sets `name` to `value`, or unsets it.
    fn set(&mut self, name: &'a str, value: Option<Cow<'a, str>>) {
        self.vars.retain(|(n, _)| *n != name);
        if let Some(value) = value {
            self.vars.push((name, value));
        }
    }
}

/// Expands `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`, `${VAR:+word}`, `${VAR+word}`
/// in `scope`; returns the result and the names used.
fn expand_in(text: &str, scope: &Scope<'_>) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut uses = Vec::new();
    expand_into(text, scope, &mut out, &mut uses);
    uses.dedup();
    (out, uses)
}

/// [`expand_in`], appending to `out` and `uses`. Scans bytes: every character it looks for is
/// ASCII, so the text between them is copied as it is.
fn expand_into(text: &str, scope: &Scope<'_>, out: &mut String, uses: &mut Vec<String>) {
    let bytes = text.as_bytes();
    let is_name = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        let next = bytes[i..]
            .iter()
            .position(|b| matches!(b, b'\\' | b'$'))
            .map_or(bytes.len(), |n| i + n);
        out.push_str(&text[i..next]);
        i = next;
        match (bytes.get(i), bytes.get(i + 1)) {
            (None, _) => break,
            (Some(b'\\'), Some(b'$')) => {
                out.push('$');
                i += 2;
            }
            (Some(b'\\'), _) => {
                out.push('\\');
                i += 1;
            }
            (Some(_), Some(b'{')) => {
                // Find the matching brace, allowing nesting in the word.
                let mut depth = 0;
                let mut j = i + 1;
                while j < bytes.len() {
                    match bytes[j] {
                        b'{' => depth += 1,
                        b'}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                let inner = &text[i + 2..j];
                let (name, op) = inner.split_at(inner.bytes().take_while(is_name).count());
                uses.push(name.to_string());
                let value = scope.get(name);
                // `:-` and `:+` take an empty value for an unset one; `-` and `+` do not.
                let (op, present) = match op.strip_prefix(':') {
                    Some(rest) if rest.starts_with(['-', '+']) => {
                        (rest, value.filter(|v| !v.is_empty()))
                    }
                    _ => (op, value),
                };
                if let Some(word) = op.strip_prefix('-') {
                    match present {
                        Some(v) => out.push_str(v),
                        None => expand_into(word, scope, out, uses),
                    }
                } else if let Some(word) = op.strip_prefix('+') {
                    if present.is_some() {
                        expand_into(word, scope, out, uses);
                    }
                } else if let Some(v) = value {
                    out.push_str(v);
                }
                i = j + 1;
            }
            (Some(_), _) => {
                let len = bytes[i + 1..].iter().take_while(|b| is_name(b)).count();
                if len == 0 {
                    out.push('$');
                    i += 1;
                    continue;
                }
                let name = &text[i + 1..i + 1 + len];
                out.push_str(scope.get(name).unwrap_or(""));
                uses.push(name.to_string());
                i += 1 + len;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    /// [`expand_in`] over a map, as the tests write their scopes.
    fn expand(text: &str, scope: &BTreeMap<String, String>) -> (String, Vec<String>) {
        let scope = Scope {
            vars: scope
                .iter()
                .map(|(k, v)| (k.as_str(), Cow::Borrowed(v.as_str())))
                .collect(),
        };
        expand_in(text, &scope)
    }

    /// The char-by-char expansion `expand_in` replaced, kept as its oracle.
    fn char_by_char(text: &str, scope: &BTreeMap<String, String>) -> (String, Vec<String>) {
        let mut out = String::new();
        let mut uses = Vec::new();
        let chars: Vec<char> = text.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\\' && chars.get(i + 1) == Some(&'$') {
                out.push('$');
                i += 2;
                continue;
            }
            if c != '$' {
                out.push(c);
                i += 1;
                continue;
            }
            if chars.get(i + 1) == Some(&'{') {
                // Find the matching brace, allowing nesting in the word.
                let mut depth = 0;
                let mut j = i + 1;
                while j < chars.len() {
                    match chars[j] {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                let inner: String = chars[i + 2..j.min(chars.len())].iter().collect();
                let name: String = inner
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let op = &inner[name.len()..];
                uses.push(name.clone());
                let value = scope.get(&name);
                let (result, more) = if let Some(word) = op.strip_prefix(":-") {
                    match value.filter(|v| !v.is_empty()) {
                        Some(v) => (v.clone(), vec![]),
                        None => char_by_char(word, scope),
                    }
                } else if let Some(word) = op.strip_prefix(":+") {
                    match value.filter(|v| !v.is_empty()) {
                        Some(_) => char_by_char(word, scope),
                        None => (String::new(), vec![]),
                    }
                } else if let Some(word) = op.strip_prefix('-') {
                    match value {
                        Some(v) => (v.clone(), vec![]),
                        None => char_by_char(word, scope),
                    }
                } else if let Some(word) = op.strip_prefix('+') {
                    match value {
                        Some(_) => char_by_char(word, scope),
                        None => (String::new(), vec![]),
                    }
                } else {
                    (value.cloned().unwrap_or_default(), vec![])
                };
                out.push_str(&result);
                uses.extend(more);
                i = j + 1;
            } else {
                let name: String = chars[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                    .collect();
                if name.is_empty() {
                    out.push('$');
                    i += 1;
                    continue;
                }
                out.push_str(scope.get(&name).map(String::as_str).unwrap_or(""));
                i += 1 + name.chars().count();
                uses.push(name);
            }
        }
        uses.dedup();
        (out, uses)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// Texts made of the pieces that matter (`$`, braces, operators, escapes, names,
        /// multi-byte characters) expand as the char-by-char version did.
        #[test]
        fn expands_as_char_by_char_did(
            pieces in prop::collection::vec(prop::sample::select(vec![
                "$", "{", "}", "\\", ":-", ":+", "-", "+", "A", "B", "EMPTY", "_x", "1", "é", "/", ":", " ", "${", "$A", "\\$",
            ]), 0..24),
        ) {
            let text: String = pieces.concat();
            let scope = args(&[("A", "a"), ("B", "$A"), ("EMPTY", ""), ("_x", "ü")]);
            prop_assert_eq!(expand(&text, &scope), char_by_char(&text, &scope));
        }
    }

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn resolves_base_tag_children() {
        let df = Dockerfile::parse(
            "ARG BASE_TAG=latest\nFROM ghcr.io/ucsd-ets/datascience-notebook:${BASE_TAG}\nUSER root\n",
        )
        .unwrap();
        let bases = df.resolve_bases(&args(&[("BASE_TAG", "2026.3-dev")]));
        assert_eq!(
            bases[0].reference,
            "ghcr.io/ucsd-ets/datascience-notebook:2026.3-dev"
        );
        assert_eq!(bases[0].uses, ["BASE_TAG"]);
        assert_eq!(
            df.resolve_bases(&args(&[]))[0].reference,
            "ghcr.io/ucsd-ets/datascience-notebook:latest"
        );
    }

    #[test]
    fn resolves_base_image_and_defaults() {
        let df = Dockerfile::parse(
            "ARG BASE_IMAGE=docker.io/library/busybox:1.36\nFROM ${BASE_IMAGE}\n",
        )
        .unwrap();
        assert!(df.declares_global_arg("BASE_IMAGE"));
        assert_eq!(
            df.resolve_bases(&args(&[]))[0].reference,
            "docker.io/library/busybox:1.36"
        );
        assert_eq!(
            df.resolve_bases(&args(&[("BASE_IMAGE", "localhost:5000/b:1")]))[0].reference,
            "localhost:5000/b:1"
        );
    }

    #[test]
    fn args_declared_after_from_do_not_apply_to_from() {
        let df = Dockerfile::parse("FROM busybox\nARG X=1\nFROM img:${X}\n").unwrap();
        assert!(df.global_args.is_empty());
        assert_eq!(df.resolve_bases(&args(&[("X", "2")]))[1].reference, "img:");
    }

    #[test]
    fn expansion_forms() {
        let scope = args(&[("A", "a"), ("E", "")]);
        assert_eq!(expand("${A:-x}", &scope).0, "a");
        assert_eq!(expand("${E:-x}", &scope).0, "x");
        assert_eq!(expand("${E-x}", &scope).0, "");
        assert_eq!(expand("${U-x}", &scope).0, "x");
        assert_eq!(expand("${A:+y}", &scope).0, "y");
        assert_eq!(expand("${U:+y}", &scope).0, "");
        assert_eq!(expand("$A/b:${U:-${A}}", &scope).0, "a/b:a");
        assert_eq!(expand("x\\$A", &scope).0, "x$A");
    }

    #[test]
    fn multi_stage_platform_continuations_heredocs_and_directives() {
        let text = "# syntax=docker/dockerfile:1\n# escape=`\nARG A=1 B=\"two\"\nFROM --platform=$BUILDPLATFORM golang:1 `\n  AS build\nRUN <<EOF\nFROM not-an-instruction\nEOF\n# comment\nfrom build\n";
        let df = Dockerfile::parse(text).unwrap();
        assert_eq!(df.global_args[0].name, "A");
        assert_eq!(df.global_args[1].default.as_deref(), Some("two"));
        // With ` as the escape, a backslash at a line's end continues nothing: BuildKit
        // reads the next line as an instruction, and `B=2` is none (passed over, as an
        // unknown instruction is; `FROM b` after it is read).
        let other = Dockerfile::parse("# escape=`\nFROM a\nRUN x \\\nB=2\nFROM b\n").unwrap();
        let bases: Vec<_> = other
            .stages
            .iter()
            .map(|s| (s.base.as_str(), s.line))
            .collect();
        assert_eq!(bases, [("a", 2), ("b", 5)]);
        assert_eq!(df.stages.len(), 2);
        assert_eq!(df.stages[0].name.as_deref(), Some("build"));
        assert_eq!(df.stages[0].platform.as_deref(), Some("$BUILDPLATFORM"));
        let bases = df.resolve_bases(&BTreeMap::new());
        assert!(bases[1].is_stage);
    }

    #[test]
    fn continuation_with_backslash() {
        let df = Dockerfile::parse("ARG A=1 \\\n  B=\"two words\"\nFROM x:$B\n").unwrap();
        assert_eq!(df.global_args.len(), 2);
        assert_eq!(
            df.resolve_bases(&BTreeMap::new())[0].reference,
            "x:two words"
        );
    }

    #[test]
    fn sources_outside_the_context() {
        let text = "ARG PY=python:3.11\nFROM busybox AS build\nFROM busybox\nCOPY --from=build /a /a\nCOPY --from=${PY} /b /b\nCOPY --from=0 /c /c\nRUN --mount=type=bind,from=ghcr.io/o/tools:1,target=/t true\nADD https://example.com/x.tgz /x\nADD --checksum=sha256:00 https://example.com/y.tgz /y\nADD [\"git@github.com:o/r.git\", \"/r\"]\nADD local /l\n";
        let df = Dockerfile::parse(text).unwrap();
        let (images, remotes) = df.resolve_sources(&BTreeMap::new());
        assert_eq!(images, ["python:3.11", "ghcr.io/o/tools:1"]);
        assert_eq!(
            remotes,
            ["https://example.com/x.tgz", "git@github.com:o/r.git"]
        );
    }

    #[test]
    fn errors() {
        let err = Dockerfile::parse("RUN x\n").unwrap_err();
        assert!(err.message.starts_with("no FROM instruction"), "{err:?}");
        assert_eq!(
            Dockerfile::parse("# nothing\n").unwrap_err().message,
            "no FROM instruction"
        );
        assert_eq!(Dockerfile::parse("FROM a b c d\n").unwrap_err().line, 1);
    }

    fn remotes(text: &str, build_args: &[(&str, &str)]) -> Vec<String> {
        Dockerfile::parse(text)
            .unwrap()
            .resolve_sources(&args(build_args))
            .1
    }

    /// Case 2: `ADD` sources are expanded with the stage's `ARG`s (build args, defaults,
    /// redeclared globals) and `ENV`s, in order, before BuildKit's remote rules apply.
    #[test]
    fn add_sources_are_expanded_with_the_stage_variables() {
        let text = "ARG G=https://example.com/g.tgz\nFROM busybox\nARG URL=https://example.com/x.tgz\nADD ${URL} /x\nENV U=https://example.com/u.tgz\nADD $U /u\nARG G\nADD $G /g\nARG LOCAL=files\nADD ${LOCAL}/a /a\n";
        assert_eq!(
            remotes(text, &[]),
            [
                "https://example.com/x.tgz",
                "https://example.com/u.tgz",
                "https://example.com/g.tgz"
            ]
        );
        // A build arg wins over the default, and can make a local source remote.
        assert_eq!(
            remotes(
                text,
                &[
                    ("URL", "https://example.com/y.tgz"),
                    ("LOCAL", "https://h/d")
                ]
            ),
            [
                "https://example.com/y.tgz",
                "https://example.com/u.tgz",
                "https://example.com/g.tgz",
                "https://h/d/a"
            ]
        );
        // ENV set in a stage carries into a stage built on it.
        assert_eq!(
            remotes(
                "FROM busybox AS a\nENV U=https://e/u\nFROM a\nADD $U /u\n",
                &[]
            ),
            ["https://e/u"]
        );
    }

    /// Case 2: a variable the Dockerfile does not set (a global `ARG` not redeclared, an
    /// `ENV` of the base image) cannot be expanded for sure: remote, never local.
    #[test]
    fn add_sources_not_known_for_sure_are_remote() {
        let r = remotes(
            "ARG G=files\nFROM busybox\nADD $G/a /a\nADD ${FROM_IMAGE} /b\n",
            &[],
        );
        assert_eq!(
            r,
            [
                "$G/a (uses a variable not known for sure)",
                "${FROM_IMAGE} (uses a variable not known for sure)"
            ]
        );
    }

    /// Case 2: BuildKit's rules for git and HTTP sources.
    #[test]
    fn remote_sources_follow_buildkit() {
        for remote in [
            "https://example.com/x.tgz",
            "http://example.com/x",
            "git@github.com:o/r.git",
            "deploy@host.example:o/r.git",
            "deploy@host:o/r",
            "HTTPS://github.com/o/r.git",
            "Ssh://host/r",
            "git://host/r",
            "https://github.com/o/r.git#main:dir",
        ] {
            let text = format!("FROM busybox\nADD {remote} /x\n");
            assert_eq!(
                remotes(&text, &[]),
                [remote],
                "{remote} is fetched by BuildKit"
            );
        }
        for local in [
            "files/a",
            "./git@host:x",
            "github.com/o/r",
            // BuildKit's isHTTPSource compares the prefix as written.
            "HTTPS://example.com/x.tgz",
            "ftp://example.com/x",
            "@host:x",
            "C:/x",
        ] {
            let text = format!("FROM busybox\nADD {local} /x\n");
            assert!(
                remotes(&text, &[]).is_empty(),
                "{local} is a path in the context"
            );
        }
    }

    /// Case 3: `<<` opens a heredoc only as a whole word of a shell-form `ADD`/`COPY`/
    /// `RUN`; what follows is read.
    #[test]
    fn heredocs_open_only_where_buildkit_opens_them() {
        let text = "FROM busybox\nRUN echo \"<<EOF\"\nRUN echo $((1<<2))\nLABEL a=\"<<EOF\"\nENV B=<<EOF\nRUN [\"sh\", \"-c\", \"cat <<EOF\"]\nRUN <<'EOT-1' sh\nEOT\nEOT-1\nFROM img:after\nADD https://example.com/after.tgz /x\n";
        let df = Dockerfile::parse(text).unwrap();
        assert_eq!(df.stages.len(), 2);
        assert_eq!(df.stages[1].base, "img:after");
        assert_eq!(df.stages[1].line, 10);
        assert_eq!(remotes(text, &[]), ["https://example.com/after.tgz"]);
    }

    /// Case 3: a heredoc that is not the command's first word, one after a file
    /// descriptor, and two on one line are read as BuildKit reads them (the crate opens
    /// only a first one).
    #[test]
    fn heredocs_later_in_the_command_and_several_on_a_line() {
        let text = "FROM busybox\nRUN cat <<EOF > /x\nFROM not-a-stage\nEOF\nRUN 3<<A\nFROM nor-this\nA\nRUN <<A cat - <<-B\nFROM nope\nA\n\tFROM nope2\n\tB\nONBUILD RUN python3 <<PY\nFROM nope3\nPY\nFROM img:last\n";
        let df = Dockerfile::parse(text).unwrap();
        let bases: Vec<&str> = df.stages.iter().map(|s| s.base.as_str()).collect();
        assert_eq!(bases, ["busybox", "img:last"]);
        assert_eq!(df.stages[1].line, 16);
        let unterminated = Dockerfile::parse("FROM a\nRUN cat <<EOF\nx\n").unwrap_err();
        assert_eq!(unterminated.line, 3);
        assert!(
            unterminated.message.contains("EOF"),
            "{}",
            unterminated.message
        );
    }

    /// Case 4: a UTF-8 BOM is stripped, as BuildKit does.
    #[test]
    fn a_byte_order_mark_is_stripped() {
        let df = Dockerfile::parse("\u{feff}FROM scratch\n").unwrap();
        assert_eq!(df.stages[0].base, "scratch");
        let df = Dockerfile::parse("\u{feff}ARG T=1\nFROM img:$T\n").unwrap();
        assert_eq!(df.resolve_bases(&args(&[]))[0].reference, "img:1");
        assert_eq!(df.stages[0].line, 2);
    }

    /// A stray line a merge left after a finished `RUN` (seen in a real stack's history)
    /// is an instruction BuildKit does not know: passed over with the lines it continues
    /// onto, as stackplan always did, so the history plans as it did; what follows is read.
    #[test]
    fn an_unknown_instruction_is_passed_over_with_its_continuation() {
        let text = "FROM base:1\nRUN mamba install \\\n\tnccl \\\n\t-y\n\tcudatoolkit=11.8 \\\n\tnccl \\\n\t-y\n\nFROM other:2 AS b\nADD https://example.com/x /x\n";
        let df = Dockerfile::parse(text).unwrap();
        let bases: Vec<_> = df
            .stages
            .iter()
            .map(|s| (s.base.as_str(), s.line))
            .collect();
        assert_eq!(bases, [("base:1", 1), ("other:2", 9)]);
        assert_eq!(df.resolve_sources(&args(&[])).1, ["https://example.com/x"]);
        // With the escape directive, a backtick continues the stray line.
        let text = "# escape=`\nFROM base:1\nbogus a `\n  b\nFROM other:2\n";
        let df = Dockerfile::parse(text).unwrap();
        assert_eq!(df.stages.len(), 2);
        assert_eq!(df.stages[1].line, 5);
        // Any text is passed over; other errors stand.
        let df = Dockerfile::parse("FROM a\n\u{e9}t\u{e9} x\nFROM b\n").unwrap();
        assert_eq!(df.stages[1].line, 3);
        assert!(Dockerfile::parse("bogus x\n").is_err());
    }

    /// Case 5: `ONBUILD` triggers' sources are this Dockerfile's: images by name, URLs and
    /// words with variables unpinned.
    #[test]
    fn onbuild_sources_count() {
        let text = "FROM busybox\nONBUILD ADD https://example.com/t.tgz /t\nONBUILD ADD local /l\nONBUILD COPY --from=ghcr.io/o/tools:1 /a /a\nONBUILD RUN --mount=from=ghcr.io/o/m:2,target=/m true\nONBUILD ADD $X /x\n";
        let (images, remotes) = Dockerfile::parse(text).unwrap().resolve_sources(&args(&[]));
        assert_eq!(images, ["ghcr.io/o/tools:1", "ghcr.io/o/m:2"]);
        assert_eq!(
            remotes,
            [
                "https://example.com/t.tgz (ONBUILD)",
                "$X (an ONBUILD source with variables)"
            ]
        );
    }

    /// Case 6: the `# syntax=` frontend is read, and `BUILDKIT_SYNTAX` takes precedence
    /// over it as in BuildKit.
    #[test]
    fn the_syntax_frontend() {
        let df =
            Dockerfile::parse("# syntax=docker/dockerfile:1.7 \n# escape=`\nFROM a\n").unwrap();
        let syntax = df.syntax.as_ref().unwrap();
        assert_eq!(
            (syntax.reference.as_str(), syntax.line),
            ("docker/dockerfile:1.7", 1)
        );
        assert_eq!(df.frontend(&args(&[])), Some("docker/dockerfile:1.7"));
        assert_eq!(
            df.frontend(&args(&[(SYNTAX_ARG, "x/fe:2 opt")])),
            Some("x/fe:2")
        );
        assert_eq!(
            Dockerfile::parse("FROM a\n").unwrap().frontend(&args(&[])),
            None
        );
    }
}
