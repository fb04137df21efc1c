//! Docker's reference grammar, read without a regular expression.
//!
//! `oci-spec`'s `Reference` matches one large regular expression (distribution's, ported):
//! building it costs milliseconds per process and each match microseconds, which a plan of
//! thousands of images pays thousands of times over (`bench/plan-large-stack.sh`). The
//! references stacks use are plain — lowercase names, an optional `host[:port]`, an ASCII
//! tag, a `sha256` digest — and this reads exactly those, with the same result as
//! `oci-spec`. Anything else (an error, an uppercase registry, a `sha512` digest, a Unicode
//! tag) is left to `oci-spec`, whose answer stands; a property test holds the two to the
//! same answers.

/// A reference split as distribution's normalizer splits it (`busybox` →
/// `docker.io`, `library/busybox`, tag `latest`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Parsed {
    /// `registry/repository[:tag][@digest]`.
    pub fn whole(&self) -> String {
        whole_of(
            &self.registry,
            ["", &self.repository],
            self.tag.as_deref(),
            self.digest.as_deref(),
        )
    }
}

/// `registry/repository[:tag][@digest]` in one string of its size; the repository may come
/// in two pieces (`library/`, `busybox`).
fn whole_of(
    registry: &str,
    repository: [&str; 2],
    tag: Option<&str>,
    digest: Option<&str>,
) -> String {
    [
        registry,
        "/",
        repository[0],
        repository[1],
        if tag.is_some() { ":" } else { "" },
        tag.unwrap_or(""),
        if digest.is_some() { "@" } else { "" },
        digest.unwrap_or(""),
    ]
    .concat()
}

/// Parses `reference`; the error is `oci-spec`'s message.
pub fn parse(reference: &str) -> Result<Parsed, String> {
    if let Some(parsed) = plain(reference) {
        return Ok(parsed);
    }
    oci_spec::distribution::Reference::try_from(reference)
        .map(|r| from_oci(&r))
        .map_err(|e| e.to_string())
}

/// `oci-spec`'s reading of a reference, in this module's terms.
fn from_oci(r: &oci_spec::distribution::Reference) -> Parsed {
    Parsed {
        registry: r.registry().to_string(),
        repository: r.repository().to_string(),
        tag: r.tag().map(str::to_string),
        digest: r.digest().map(str::to_string),
    }
}

const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A plain reference's parts, as written.
struct Plain<'a> {
    /// The registry host, `None` for Docker Hub.
    registry: Option<&'a str>,
    path: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

impl Plain<'_> {
    /// `library/` goes before a Docker Hub name of one component.
    fn official(&self) -> bool {
        self.registry.is_none() && !self.path.contains('/')
    }

    /// The tag, `latest` when neither a tag nor a digest is given.
    fn tag(&self) -> Option<&str> {
        match (self.tag, self.digest) {
            (None, None) => Some("latest"),
            (t, _) => t,
        }
    }

    /// `registry/repository[:tag][@digest]`, in one string.
    fn whole(&self) -> String {
        whole_of(
            self.registry.unwrap_or("docker.io"),
            [if self.official() { "library/" } else { "" }, self.path],
            self.tag(),
            self.digest,
        )
    }
}

/// The reference when it is plain (see the module's doc); `None` leaves it to `oci-spec`.
fn plain_parts(reference: &str) -> Option<Plain<'_>> {
    let (name_tag, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (reference, None),
    };
    if let Some(d) = digest {
        let hex = d.strip_prefix("sha256:")?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
    }
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => (
            &name_tag[..last_slash + i],
            Some(&name_tag[last_slash + i + 1..]),
        ),
        None => (name_tag, None),
    };
    if let Some(t) = tag
        && !is_tag(t)
    {
        return None;
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (Some(first), rest)
        }
        _ => (None, name),
    };
    if let Some(d) = domain
        && !is_domain(d)
    {
        return None;
    }
    if !path.split('/').all(is_path_component) {
        return None;
    }
    let plain = Plain {
        registry: domain.filter(|d| *d != "docker.io" && *d != "index.docker.io"),
        path,
        tag,
        digest,
    };
    let repository_len = path.len()
        + if plain.official() {
            "library/".len()
        } else {
            0
        };
    (repository_len <= NAME_TOTAL_LENGTH_MAX).then_some(plain)
}

/// The reference when it is plain, split; `None` leaves it to `oci-spec`.
pub(super) fn plain(reference: &str) -> Option<Parsed> {
    let plain = plain_parts(reference)?;
    Some(Parsed {
        registry: plain.registry.unwrap_or("docker.io").to_string(),
        repository: if plain.official() {
            format!("library/{}", plain.path)
        } else {
            plain.path.to_string()
        },
        tag: plain.tag().map(str::to_string),
        digest: plain.digest.map(str::to_string),
    })
}

/// Whether `reference` parses ([`parse`] without making its parts).
pub fn is_valid(reference: &str) -> bool {
    plain_parts(reference).is_some() || parse(reference).is_ok()
}

/// `registry/repository[:tag][@digest]` ([`Parsed::whole`] of [`parse`], in one string
/// when the reference is plain).
pub fn whole(reference: &str) -> Result<String, String> {
    match plain_parts(reference) {
        Some(plain) => Ok(plain.whole()),
        None => parse(reference).map(|p| p.whole()),
    }
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}` (ASCII only: a Unicode tag goes to `oci-spec`).
fn is_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes[1..]
            .iter()
            .all(|&b| word(b) || b == b'.' || b == b'-')
}

/// `host[.host…][:port]`, each host part `[a-z0-9]` with inner `-`.
fn is_domain(domain: &str) -> bool {
    let (host, port) = match domain.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (domain, None),
    };
    if let Some(p) = port
        && (p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    host.split('.').all(|part| {
        let b = part.as_bytes();
        let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
        !b.is_empty()
            && edge(b[0])
            && edge(b[b.len() - 1])
            && b.iter().all(|&c| edge(c) || c == b'-')
    })
}

/// `[a-z0-9]+` runs joined by `.`, `_`, `__` or any number of `-`.
fn is_path_component(component: &str) -> bool {
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let b = component.as_bytes();
    if b.is_empty() || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let separator = &b[start..i];
        let ok = matches!(separator, b"." | b"_" | b"__") || separator.iter().all(|&c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn oci(reference: &str) -> Option<Parsed> {
        oci_spec::distribution::Reference::try_from(reference)
            .ok()
            .map(|r| from_oci(&r))
    }

    #[test]
    fn plain_references_read_as_oci_spec_reads_them() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        for r in [
            "busybox".to_string(),
            "busybox:1.36".into(),
            "library/busybox".into(),
            "docker.io/busybox".into(),
            "index.docker.io/jupyter/base:x".into(),
            "docker.io/library/a/b:1".into(),
            "ghcr.io/ucsd-ets/datascience-notebook:2026.3-main".into(),
            "localhost:5000/x".into(),
            "localhost/x:y".into(),
            "test.com:5000".into(),
            "foo_bar.com:8080".into(),
            "a__b/c---d/e.f:Tag_1".into(),
            format!("ghcr.io/org/img@{digest}"),
            format!("ghcr.io/org/img:1@{digest}"),
            "127.0.0.1:5000/a/b:c".into(),
        ] {
            let fast = plain(&r);
            assert!(fast.is_some(), "{r} should take the plain path");
            assert_eq!(fast, oci(&r), "{r}");
        }
    }

    #[test]
    fn the_rest_is_left_to_oci_spec() {
        for r in [
            "",
            "a//b",
            "ghcr.io/X",
            "Ghcr.io/x",
            "x@sha256:abc",
            "x@sha512:00",
            "-a",
            "a-",
            "a:",
            "a:-b",
            "[::1]:5000/x",
            "a/b:é",
            ":x",
        ] {
            assert_eq!(plain(r), None, "{r}");
        }
        assert!(
            parse("Ghcr.io/x").is_ok(),
            "oci-spec accepts an uppercase registry"
        );
        assert!(parse("a//b").is_err());
    }

    fn reference_like() -> impl Strategy<Value = String> {
        let part = "[a-z0-9]{1,4}([._-]{1,2}[a-z0-9A]{1,3}){0,2}";
        let host = "(localhost|[a-z0-9-]{1,5}\\.[a-z]{1,3}|[a-z0-9.]{1,6}:[0-9]{1,5}|index\\.docker\\.io|docker\\.io)";
        (
            proptest::option::of(proptest::string::string_regex(host).unwrap()),
            proptest::collection::vec(proptest::string::string_regex(part).unwrap(), 1..4),
            proptest::option::of(proptest::string::string_regex("[A-Za-z0-9_.:-]{0,6}").unwrap()),
            proptest::option::of(
                proptest::string::string_regex("sha256:[0-9a-fA-F]{62,65}").unwrap(),
            ),
        )
            .prop_map(|(host, path, tag, digest)| {
                let mut r = host.map(|h| format!("{h}/")).unwrap_or_default();
                r.push_str(&path.join("/"));
                if let Some(t) = tag {
                    r.push(':');
                    r.push_str(&t);
                }
                if let Some(d) = digest {
                    r.push('@');
                    r.push_str(&d);
                }
                r
            })
    }

    /// References of the plain shape only: every one must take the plain path.
    fn plain_reference() -> impl Strategy<Value = String> {
        (
            "(|localhost/|ghcr\\.io/|[a-z0-9]{1,3}\\.[a-z]{2}:[0-9]{2,4}/)",
            proptest::collection::vec("[a-z0-9]{1,4}((\\.|_|__|-{1,3})[a-z0-9]{1,3})?", 1..4),
            "(|:[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,8})",
            "(|@sha256:[0-9a-f]{64})",
        )
            .prop_map(|(host, path, tag, digest)| format!("{host}{}{tag}{digest}", path.join("/")))
    }

    proptest! {
        #[test]
        fn plain_references_take_the_plain_path(r in plain_reference()) {
            let fast = plain(&r);
            prop_assert!(fast.is_some(), "{}", r);
            prop_assert_eq!(fast, oci(&r), "{}", r);
        }

        #[test]
        fn plain_agrees_with_oci_spec(r in reference_like()) {
            if let Some(fast) = plain(&r) {
                prop_assert_eq!(Some(fast), oci(&r), "{}", r);
            }
        }

        #[test]
        fn plain_agrees_with_oci_spec_on_any_text(r in "[a-zA-Z0-9._:/@-]{0,24}") {
            if let Some(fast) = plain(&r) {
                prop_assert_eq!(Some(fast), oci(&r), "{}", r);
            }
        }

        #[test]
        fn whole_and_validity_agree_with_oci_spec(r in reference_like()) {
            let by_oci = oci(&r);
            prop_assert_eq!(whole(&r).ok(), by_oci.as_ref().map(Parsed::whole), "{}", r);
            prop_assert_eq!(is_valid(&r), by_oci.is_some(), "{}", r);
        }
    }
}
