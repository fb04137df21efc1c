//! The inputs digest of a target: sha256 over a canonical, versioned encoding of
//! everything that determines the image, so an image with the same inputs is never built
//! twice.
//!
//! What goes in: the build context as BuildKit receives it ([`crate::context`]), the
//! Dockerfile's bytes, the build args after every precedence rule (but not the ones
//! stackplan sets to chain a child to its parent: the parent's own inputs digest stands for
//! them), the platforms, the target stage, the parent's inputs digest, and the manifest
//! digest of every external image the Dockerfile builds from (`FROM`, `COPY --from`,
//! `RUN --mount=from=`). What stays out: labels, tags, the branch, the tag prefix, cache
//! settings, anything outside the context.
//!
//! A digest is *pinned* when every one of those is known exactly. It is *unpinned* when an
//! external image was not resolved to a digest (offline, or its registry did not answer),
//! when the Dockerfile `ADD`s a URL without `--checksum`, when the context was not read,
//! or when the parent is unpinned: the digest then contains the references as text, and
//! no decision to reuse an image is ever made from it. This module is pure; the registry
//! adapter resolves digests beforehand.

use std::collections::BTreeMap;

use crate::context::{ENCODING_VERSION, field, sha256};

/// The OCI label every image stackplan builds carries: its inputs digest.
pub const LABEL: &str = "dev.stackplan.inputs.digest";

/// Why inputs are unpinned when their context was not read and nothing else unpins them.
const CONTEXT_NOT_READ: &str = "the build context was not read";

/// The tag an image is pushed under besides its own: `inputs-<64 hex digits>`, so a later
/// plan finds an image with the same inputs with one HEAD request.
pub fn inputs_tag(digest: &str) -> String {
    format!("inputs-{}", digest.trim_start_matches("sha256:"))
}

/// An external image a target builds from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct BaseImage {
    /// The reference, normalized (`docker.io/library/busybox:1.36`).
    pub reference: String,
    /// The manifest (or index) digest its registry reports now; `None` when unresolved.
    pub digest: Option<String>,
    /// Why it is unresolved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unresolved: Option<String>,
}

/// The inputs of one target.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inputs {
    /// `sha256:<hex>`; empty when the context was not read at all.
    pub digest: String,
    pub pinned: bool,
    /// Why the digest is not pinned, for people; empty when pinned.
    pub unpinned: Vec<String>,
    pub bases: Vec<BaseImage>,
}

impl Inputs {
    /// The inputs tag, when the digest is pinned (an unpinned digest never names an image).
    pub fn tag(&self) -> Option<String> {
        self.pinned.then(|| inputs_tag(&self.digest))
    }

    /// Whether only the unread context keeps these inputs from being pinned: reading it
    /// pins them.
    pub fn pinned_but_for_context(&self) -> bool {
        !self.pinned && self.unpinned.len() == 1 && self.unpinned[0] == CONTEXT_NOT_READ
    }
}

/// `sha256:ab12cd34ef56…`: enough to tell digests apart in a message.
pub fn short(digest: &str) -> String {
    match digest.get(..19) {
        Some(head) if digest.len() > 19 => format!("{head}…"),
        _ => digest.to_string(),
    }
}

/// Everything one target is built from, gathered by the planner.
pub struct Ingredients<'a> {
    /// The context's digest ([`crate::context::ContextFiles::digest`]) and the Dockerfile's
    /// blob id; `None` when the context was not read.
    pub context: Option<(&'a str, &'a str)>,
    /// The build args, without the ones that chain the target to its parent.
    pub build_args: &'a BTreeMap<String, String>,
    pub platforms: &'a [String],
    pub stage: Option<&'a str>,
    /// The parent target's name and inputs.
    pub parent: Option<(&'a str, &'a Inputs)>,
    pub bases: Vec<BaseImage>,
    /// `ADD` sources fetched from the network without a checksum, as written.
    pub remote_sources: &'a [String],
}

/// Computes a target's inputs digest.
pub fn compute(ing: &Ingredients<'_>) -> Inputs {
    let mut unpinned = Vec::new();
    // Without the context there is no digest to encode: only the reasons are gathered.
    let mut encoding = ing.context.map(|_| Vec::with_capacity(512));
    let mut put = |value: &[u8]| {
        if let Some(out) = encoding.as_mut() {
            field(out, value);
        }
    };
    put(ENCODING_VERSION.as_bytes());
    put(b"target");
    if let Some((context, dockerfile)) = ing.context {
        put(b"context");
        put(context.as_bytes());
        put(b"dockerfile");
        put(dockerfile.as_bytes());
    }
    for (k, v) in ing.build_args {
        put(b"arg");
        put(k.as_bytes());
        put(v.as_bytes());
    }
    let mut platforms: Vec<&String> = ing.platforms.iter().collect();
    platforms.sort();
    platforms.dedup();
    for p in platforms {
        put(b"platform");
        put(p.as_bytes());
    }
    put(b"stage");
    put(ing.stage.unwrap_or_default().as_bytes());
    if let Some((name, parent)) = ing.parent {
        put(b"parent");
        put(parent.digest.as_bytes());
        if !parent.pinned {
            unpinned.push(format!("the parent {name} is unpinned"));
        }
    }
    let mut bases = ing.bases.clone();
    bases.sort_by(|a, b| a.reference.cmp(&b.reference));
    bases.dedup_by(|a, b| a.reference == b.reference);
    for base in &bases {
        put(b"base");
        match &base.digest {
            // Content-addressed: the same image under another name is the same input.
            Some(digest) => put(digest.as_bytes()),
            None => {
                put(b"unpinned");
                put(base.reference.as_bytes());
                unpinned.push(format!(
                    "{} is not resolved to a digest ({})",
                    base.reference,
                    base.unresolved.as_deref().unwrap_or("not asked")
                ));
            }
        }
    }
    for source in ing.remote_sources {
        put(b"remote");
        put(source.as_bytes());
        unpinned.push(format!("ADD {source} has no --checksum"));
    }
    let Some(encoding) = encoding else {
        // The context is named only when nothing else unpins: a reader that leaves out the
        // contexts of targets unpinned anyway changes no reason.
        if unpinned.is_empty() {
            unpinned.push(CONTEXT_NOT_READ.to_string());
        }
        return Inputs {
            digest: String::new(),
            pinned: false,
            unpinned,
            bases,
        };
    };
    Inputs {
        digest: sha256(&encoding),
        pinned: unpinned.is_empty(),
        unpinned,
        bases,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(reference: &str, digest: Option<&str>) -> BaseImage {
        BaseImage {
            reference: reference.into(),
            digest: digest.map(str::to_string),
            unresolved: digest.is_none().then(|| "offline".to_string()),
        }
    }

    struct Case {
        context: &'static str,
        dockerfile: &'static str,
        args: BTreeMap<String, String>,
        platforms: Vec<String>,
        parent: Option<Inputs>,
        bases: Vec<BaseImage>,
    }

    impl Case {
        fn new() -> Case {
            Case {
                context: "sha256:c0",
                dockerfile: "d0",
                args: BTreeMap::from([("A".to_string(), "1".to_string())]),
                platforms: vec![],
                parent: None,
                bases: vec![base("docker.io/library/busybox:1.36", Some("sha256:b0"))],
            }
        }

        fn inputs(&self) -> Inputs {
            compute(&Ingredients {
                context: Some((self.context, self.dockerfile)),
                build_args: &self.args,
                platforms: &self.platforms,
                stage: None,
                parent: self.parent.as_ref().map(|p| ("parent", p)),
                bases: self.bases.clone(),
                remote_sources: &[],
            })
        }
    }

    #[test]
    fn every_ingredient_changes_the_digest() {
        let reference = Case::new().inputs();
        assert!(reference.pinned);
        let mut changed = Vec::new();
        let mut c = Case::new();
        c.context = "sha256:c1";
        changed.push(c.inputs());
        let mut c = Case::new();
        c.dockerfile = "d1";
        changed.push(c.inputs());
        let mut c = Case::new();
        c.args.insert("A".into(), "2".into());
        changed.push(c.inputs());
        let mut c = Case::new();
        c.platforms = vec!["linux/arm64".into()];
        changed.push(c.inputs());
        let mut c = Case::new();
        c.bases[0].digest = Some("sha256:b1".into());
        changed.push(c.inputs());
        let mut c = Case::new();
        c.parent = Some(Case::new().inputs());
        changed.push(c.inputs());
        for (i, inputs) in changed.iter().enumerate() {
            assert_ne!(inputs.digest, reference.digest, "change {i} went unseen");
        }
    }

    #[test]
    fn a_base_counts_by_digest_not_by_name() {
        let a = Case::new().inputs();
        let mut c = Case::new();
        c.bases[0].reference = "mirror.example/library/busybox:1.36".into();
        assert_eq!(a.digest, c.inputs().digest);
    }

    #[test]
    fn unresolved_bases_and_unpinned_parents_unpin() {
        let mut c = Case::new();
        c.bases = vec![base("docker.io/library/busybox:1.36", None)];
        let unpinned = c.inputs();
        assert!(!unpinned.pinned);
        assert_eq!(unpinned.tag(), None);
        assert!(unpinned.unpinned[0].contains("busybox:1.36"));
        let mut child = Case::new();
        child.parent = Some(unpinned);
        let child = child.inputs();
        assert!(!child.pinned);
        assert_eq!(child.unpinned, ["the parent parent is unpinned"]);
    }

    #[test]
    fn the_tag_is_a_valid_docker_tag() {
        let inputs = Case::new().inputs();
        let tag = inputs.tag().unwrap();
        assert!(crate::tag::is_valid_tag(&tag), "{tag}");
        assert_eq!(tag.len(), "inputs-".len() + 64);
        assert!(short(&inputs.digest).ends_with('…'));
    }
}
