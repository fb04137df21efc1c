//! Just enough of the Dockerfile syntax to know what an image is built `FROM`.
//!
//! The planner needs two facts from a Dockerfile: which global `ARG`s it declares (so it
//! knows whether a child takes its parent through `BASE_TAG` or `BASE_IMAGE`) and what each
//! `FROM` resolves to once build args are applied (the exact key BuildKit looks a named
//! context up by). No maintained Rust crate parses Dockerfiles with BuildKit's variable
//! expansion, so this small reader does; it follows BuildKit's rules for parser
//! directives, line continuations, comments, heredocs and `${VAR:-word}` forms, and ignores
//! every other instruction.

use std::borrow::Cow;
use std::collections::BTreeMap;

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

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Dockerfile {
    pub global_args: Vec<ArgDecl>,
    pub stages: Vec<Stage>,
    /// What instructions other than `FROM` read from outside the context.
    pub sources: Vec<Source>,
}

/// Something an instruction reads from outside the build context besides `FROM`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// `COPY --from=IMAGE` or `RUN --mount=from=IMAGE` (an image, a stage name or a stage
    /// index, as written).
    Image { text: String, line: usize },
    /// `ADD https://…` or `ADD git@…` without `--checksum`: content nothing pins.
    Remote { text: String, line: usize },
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

impl Dockerfile {
    pub fn parse(text: &str) -> Result<Dockerfile, ParseError> {
        let mut escape = '\\';
        let mut lines = text.lines().enumerate().peekable();
        // Parser directives: `# key=value` lines at the very top.
        while let Some((_, line)) = lines.peek() {
            let Some(directive) = line.trim().strip_prefix('#') else {
                break;
            };
            let Some((key, value)) = directive.split_once('=') else {
                break;
            };
            if key.trim().eq_ignore_ascii_case("escape") {
                escape = match value.trim() {
                    "`" => '`',
                    _ => '\\',
                };
            } else if !key.trim().eq_ignore_ascii_case("syntax")
                && !key.trim().eq_ignore_ascii_case("check")
            {
                break;
            }
            lines.next();
        }

        let mut out = Dockerfile::default();
        while let Some((index, first)) = lines.next() {
            let trimmed = first.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            // Join continuation lines; comment lines inside an instruction are dropped.
            let mut logical = String::new();
            let mut current = first.to_string();
            loop {
                let t = current.trim_end();
                if let Some(stripped) = t.strip_suffix(escape) {
                    logical.push_str(stripped);
                    let mut next_line = None;
                    for (_, l) in lines.by_ref() {
                        let lt = l.trim_start();
                        if lt.starts_with('#') || lt.is_empty() {
                            continue;
                        }
                        next_line = Some(l.to_string());
                        break;
                    }
                    match next_line {
                        Some(l) => current = l,
                        None => break,
                    }
                } else {
                    logical.push_str(&current);
                    break;
                }
            }
            let line = index + 1;
            let logical = logical.trim();
            let (keyword, rest) = match logical.split_once(char::is_whitespace) {
                Some((k, r)) => (k, r.trim()),
                None => (logical, ""),
            };
            // Skip heredoc bodies so their lines are not read as instructions.
            for terminator in heredoc_terminators(rest) {
                for (_, l) in lines.by_ref() {
                    if l.trim() == terminator {
                        break;
                    }
                }
            }
            match keyword.to_ascii_uppercase().as_str() {
                "ARG" if out.stages.is_empty() => {
                    for (name, default) in parse_arg_words(rest) {
                        if name.is_empty() {
                            return Err(ParseError {
                                line,
                                message: "ARG without a name".into(),
                            });
                        }
                        out.global_args.push(ArgDecl {
                            name,
                            default,
                            line,
                        });
                    }
                }
                "FROM" => out.stages.push(parse_from(rest, line)?),
                "COPY" | "RUN" | "ADD" if !out.stages.is_empty() => {
                    out.sources.extend(parse_sources(keyword, rest, line));
                }
                _ => {}
            }
        }
        if out.stages.is_empty() {
            return Err(ParseError {
                line: 1,
                message: "no FROM instruction".into(),
            });
        }
        Ok(out)
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

    /// The images `COPY --from` and `RUN --mount=from=` read (stage names and indexes left
    /// out), expanded with the global build args as `FROM` lines are, and the remote
    /// sources nothing pins.
    pub fn resolve_sources(
        &self,
        build_args: &BTreeMap<String, String>,
    ) -> (Vec<String>, Vec<String>) {
        let scope = self.global_scope(|name| build_args.get(name).map(String::as_str));
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
                    let (value, _) = expand_in(text, &scope);
                    let is_stage = value.chars().all(|c| c.is_ascii_digit())
                        || stage_names.iter().any(|n| n.eq_ignore_ascii_case(&value));
                    if !is_stage && !value.is_empty() {
                        images.push(value);
                    }
                }
                Source::Remote { text, .. } => remotes.push(text.clone()),
            }
        }
        (images, remotes)
    }
}

/// The outside sources of a `COPY`, `RUN` or `ADD` line: its `--from` image, its
/// `--mount=…,from=…` images, and the URLs it `ADD`s without `--checksum`.
fn parse_sources(keyword: &str, rest: &str, line: usize) -> Vec<Source> {
    let mut out = Vec::new();
    let mut words = rest.split_whitespace().peekable();
    let mut has_checksum = false;
    while let Some(flag) = words.peek().and_then(|w| w.strip_prefix("--")) {
        let lower = flag.to_ascii_lowercase();
        if let Some(from) = lower.strip_prefix("from=").map(|_| &flag[5..]) {
            out.push(Source::Image {
                text: from.to_string(),
                line,
            });
        } else if lower.starts_with("mount=") {
            for option in flag[6..].split(',') {
                if let Some((key, value)) = option.split_once('=')
                    && key.eq_ignore_ascii_case("from")
                {
                    out.push(Source::Image {
                        text: value.to_string(),
                        line,
                    });
                }
            }
        } else if lower.starts_with("checksum=") {
            has_checksum = true;
        }
        words.next();
    }
    if keyword.eq_ignore_ascii_case("ADD") && !has_checksum {
        let rest: Vec<&str> = words.collect();
        let joined = rest.join(" ");
        let operands: Vec<String> = if joined.starts_with('[') {
            serde_json::from_str(&joined).unwrap_or_default()
        } else {
            rest.iter().map(|w| w.to_string()).collect()
        };
        if let Some((_, sources)) = operands.split_last() {
            for source in sources {
                let remote = ["http://", "https://", "git@", "git://", "ssh://"]
                    .iter()
                    .any(|p| source.starts_with(p));
                if remote {
                    out.push(Source::Remote {
                        text: source.clone(),
                        line,
                    });
                }
            }
        }
    }
    out
}

fn parse_from(rest: &str, line: usize) -> Result<Stage, ParseError> {
    let words: Vec<&str> = rest.split_whitespace().collect();
    let mut platform = None;
    let mut positional = Vec::new();
    for word in words {
        if let Some(flag) = word.strip_prefix("--") {
            if let Some(value) = flag.strip_prefix("platform=") {
                platform = Some(value.to_string());
            }
            continue;
        }
        positional.push(word);
    }
    match positional.as_slice() {
        [base] => Ok(Stage {
            base: base.to_string(),
            name: None,
            platform,
            line,
        }),
        [base, as_kw, name] if as_kw.eq_ignore_ascii_case("as") => Ok(Stage {
            base: base.to_string(),
            name: Some(name.to_string()),
            platform,
            line,
        }),
        _ => Err(ParseError {
            line,
            message: format!(
                "cannot read `FROM {rest}`: expected `FROM [--platform=...] IMAGE [AS NAME]`"
            ),
        }),
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

/// Heredoc terminators opened on an instruction line: `<<EOF`, `<<-EOF`, `<<"EOF"`.
fn heredoc_terminators(rest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut search = rest;
    while let Some(i) = search.find("<<") {
        let after = search[i + 2..].trim_start_matches('-');
        let word: String = after
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !word.is_empty() && word.chars().next().is_some_and(|c| !c.is_ascii_digit()) {
            out.push(word);
        }
        search = &search[i + 2..];
    }
    out
}

/// Variables and their values, borrowed where they can be: a Dockerfile's few global
/// `ARG`s, looked up by name (a map per `FROM` resolved cost every target three copies of
/// every name and value).
#[derive(Default)]
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
        let text = "# syntax=docker/dockerfile:1\n# escape=`\nARG A=1 \\\n  B=\"two\"\nFROM --platform=$BUILDPLATFORM golang:1 `\n  AS build\nRUN <<EOF\nFROM not-an-instruction\nEOF\n# comment\nfrom build\n";
        let df = Dockerfile::parse(text).unwrap();
        assert_eq!(
            df.global_args[0].name, "A",
            "with ` as escape the backslash is literal"
        );
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
        assert_eq!(
            Dockerfile::parse("RUN x\n").unwrap_err().message,
            "no FROM instruction"
        );
        assert_eq!(Dockerfile::parse("FROM a b c d\n").unwrap_err().line, 1);
    }
}
