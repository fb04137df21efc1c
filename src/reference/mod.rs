//! Image references (`name:tag`): their parts, checking, the familiar form BuildKit matches
//! named contexts by, and the `--registry` rewrite.
//!
//! Parsing follows Docker's grammar ([`grammar`]: plain references read directly, the
//! rest through `oci-spec`'s port of distribution's normalizer); this module adds only the
//! bits stackplan needs on top.

mod grammar;

pub use grammar::Parsed;

/// A reference's parts (`busybox` → `docker.io`, `library/busybox`, tag `latest`), as
/// distribution's normalizer splits it; the error says why it is no reference.
pub fn parse(reference: &str) -> Result<Parsed, String> {
    grammar::parse(reference)
}

/// Checks that `name` is a repository without tag or digest (`ghcr.io/org/image`).
pub fn check_repository(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("it is empty".into());
    }
    if name.contains('@') {
        return Err("it has a digest; give the repository only".into());
    }
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') {
        return Err("it has a tag; stackplan computes tags, give the repository only".into());
    }
    if name.chars().any(|c| c.is_ascii_uppercase()) && name.split('/').count() > 1 {
        let path = name.split_once('/').map(|(_, p)| p).unwrap_or(name);
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err("repository names must be lowercase".into());
        }
    }
    parse(&format!("{name}:latest")).map(|_| ())
}

/// The form BuildKit's Dockerfile frontend looks named contexts up by: the reference as a
/// user would write it (`docker.io/` and `library/` stripped) without a `:latest` tag.
///
/// This runs for every target on every plan, so it is plain string work on a reference
/// that is already known to parse (distribution's `FamiliarString`), not a second parse.
pub fn familiar(reference: &str) -> String {
    familiar_parts(reference).concat()
}

/// Whether `text` is [`familiar`]`(reference)`, without making it.
pub fn is_familiar_of(text: &str, reference: &str) -> bool {
    let mut rest = text;
    for part in familiar_parts(reference) {
        match rest.strip_prefix(part) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    rest.is_empty()
}

/// [`familiar`] in pieces: the name, then `:` and the tag, then `@` and the digest (empty
/// pieces for what is left out).
fn familiar_parts(reference: &str) -> [&str; 5] {
    let (name, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    let (repository, tag) = split_tag(name);
    let tag = tag.filter(|t| !(*t == "latest" && digest.is_none()));
    [
        familiar_name(repository),
        if tag.is_some() { ":" } else { "" },
        tag.unwrap_or(""),
        if digest.is_some() { "@" } else { "" },
        digest.unwrap_or(""),
    ]
}

/// The repository part of a reference in familiar form (no tag, no digest).
pub fn familiar_repository(reference: &str) -> &str {
    let name = reference.split_once('@').map_or(reference, |(n, _)| n);
    familiar_name(split_tag(name).0)
}

/// `name:tag` → (`name`, `tag`); a `:` before the last `/` is a registry port.
fn split_tag(name: &str) -> (&str, Option<&str>) {
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    }
}

/// Strips Docker Hub's implicit parts from a repository name (what is left is a suffix of it).
fn familiar_name(repository: &str) -> &str {
    let (domain, rest) = match repository.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (Some(first), rest)
        }
        _ => (None, repository),
    };
    match domain {
        Some("docker.io" | "index.docker.io") | None => match rest.strip_prefix("library/") {
            Some(official) if !official.contains('/') => official,
            _ => rest,
        },
        Some(_) => repository,
    }
}

/// Rewrites where `image_name` lives: `HOST` replaces its registry, `HOST/NAMESPACE`
/// replaces its registry and every path part but the last.
/// `ghcr.io/org/img` with `localhost:5000/test` gives `localhost:5000/test/img`.
pub fn rewrite_registry(image_name: &str, registry: &str) -> String {
    let registry = registry.trim_end_matches('/');
    let (host, namespace) = match registry.split_once('/') {
        Some((host, ns)) => (host, Some(ns)),
        None => (registry, None),
    };
    let Ok(parsed) = parse(&format!("{image_name}:latest")) else {
        return image_name.to_string();
    };
    let repository = parsed.repository.as_str();
    match namespace {
        Some(ns) => {
            let last = repository.rsplit('/').next().unwrap_or(repository);
            format!("{host}/{ns}/{last}")
        }
        None => format!("{host}/{repository}"),
    }
}

/// The reference in full (`busybox:1.36` → `docker.io/library/busybox:1.36`); `None` when
/// it does not parse.
pub fn normalize(reference: &str) -> Option<String> {
    grammar::whole(reference).ok()
}

/// Whether `reference` is a valid image reference ([`normalize`] without the result).
pub fn is_valid(reference: &str) -> bool {
    grammar::is_valid(reference)
}

/// Whether a reference names a digest already (`name@sha256:…`): it needs no resolving.
pub fn pinned_digest(reference: &str) -> Option<&str> {
    reference
        .split_once('@')
        .map(|(_, d)| d)
        .filter(|d| d.starts_with("sha256:"))
}

/// The registry host of an image name or ref (`docker.io` for Docker Hub names).
pub fn registry_of(reference: &str) -> String {
    parse(reference).map(|r| r.registry).unwrap_or_default()
}

/// Checks a `--registry HOST[/NAMESPACE]` value.
pub fn check_registry_override(value: &str) -> Result<(), String> {
    let probe = format!("{}/x:latest", value.trim_end_matches('/'));
    let parsed = parse(&probe)?;
    let host = value.split('/').next().unwrap_or_default();
    if parsed.registry != host {
        return Err(format!(
            "`{host}` is not a registry host (a host has a `.` or a `:port`, or is `localhost`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn familiar_form_matches_buildkit() {
        assert_eq!(familiar("docker.io/library/busybox:1.36"), "busybox:1.36");
        assert_eq!(familiar("docker.io/library/busybox:latest"), "busybox");
        assert_eq!(familiar("busybox"), "busybox");
        assert_eq!(familiar("docker.io/jupyter/base:x"), "jupyter/base:x");
        assert_eq!(familiar("index.docker.io/jupyter/base:x"), "jupyter/base:x");
        assert_eq!(
            familiar("ghcr.io/ucsd-ets/nb:2026.3-main"),
            "ghcr.io/ucsd-ets/nb:2026.3-main"
        );
        assert_eq!(
            familiar("localhost:5000/library/busybox:1.36"),
            "localhost:5000/library/busybox:1.36"
        );
        assert_eq!(familiar("docker.io/library/a/b:1"), "library/a/b:1");
    }

    #[test]
    fn a_text_is_the_familiar_form_exactly_when_familiar_says_so() {
        let references = [
            "docker.io/library/busybox:1.36",
            "docker.io/library/busybox:latest",
            "busybox",
            "ghcr.io/ucsd-ets/nb:2026.3-main",
            "localhost:5000/b:latest@sha256:00",
            "docker.io/library/a/b:1",
        ];
        let texts = [
            "busybox:1.36",
            "busybox",
            "busybox:",
            "busybox:1.3",
            "busybox:1.36x",
            "ghcr.io/ucsd-ets/nb:2026.3-main",
            "localhost:5000/b:latest@sha256:00",
            "localhost:5000/b@sha256:00",
            "library/a/b:1",
            "",
        ];
        for reference in references {
            for text in texts {
                assert_eq!(
                    is_familiar_of(text, reference),
                    familiar(reference) == text,
                    "{text} / {reference}"
                );
            }
        }
    }

    #[test]
    fn repository_checks() {
        assert!(check_repository("ghcr.io/ucsd-ets/datascience-notebook").is_ok());
        assert!(check_repository("localhost:5000/x").is_ok());
        assert!(check_repository("busybox").is_ok());
        assert!(check_repository("ghcr.io/x:tag").is_err());
        assert!(check_repository("ghcr.io/X").is_err());
        assert!(check_repository("x@sha256:abc").is_err());
        assert!(check_repository("a//b").is_err());
        assert!(check_repository("").is_err());
    }

    #[test]
    fn registry_rewrite() {
        assert_eq!(
            rewrite_registry("ghcr.io/org/img", "localhost:5000"),
            "localhost:5000/org/img"
        );
        assert_eq!(
            rewrite_registry("ghcr.io/org/img", "localhost:5000/test"),
            "localhost:5000/test/img"
        );
        assert_eq!(
            rewrite_registry("busybox", "localhost:5000/"),
            "localhost:5000/library/busybox"
        );
        assert!(check_registry_override("localhost:5000/ns").is_ok());
        assert!(check_registry_override("ghcr.io").is_ok());
        assert!(check_registry_override("notahost/ns").is_err());
        assert_eq!(registry_of("localhost:5000/a/b:1"), "localhost:5000");
        assert_eq!(registry_of("busybox"), "docker.io");
    }

    #[test]
    fn repository_of_reference() {
        assert_eq!(
            familiar_repository("docker.io/library/busybox:1"),
            "busybox"
        );
        assert_eq!(familiar_repository("ghcr.io/a/b:1"), "ghcr.io/a/b");
        assert_eq!(
            familiar_repository("localhost:5000/b@sha256:00"),
            "localhost:5000/b"
        );
        assert_eq!(
            familiar("localhost:5000/b:latest@sha256:00"),
            "localhost:5000/b:latest@sha256:00"
        );
        assert_eq!(familiar("localhost:5000/b"), "localhost:5000/b");
    }
}
