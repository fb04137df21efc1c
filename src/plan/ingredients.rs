//! What goes into a target's inputs digest: the external images its Dockerfile reads,
//! resolved to digests from the [`RefFacts`], and everything else
//! [`crate::inputs_digest`] hashes.

use std::collections::BTreeMap;

use super::{PlanOptions, build_args};
use crate::dockerfile::Dockerfile;
use crate::inputs_digest::{self, BaseImage, Ingredients, Inputs};
use crate::ref_facts::{RefFacts, RefState};
use crate::reference;
use crate::spec::{Image, Variant};
use crate::stack::Stack;

/// What a Dockerfile reads from outside with these build args: the external images, as
/// resolved (not normalized) — every non-stage `FROM` but the one that builds on the parent,
/// and every `COPY --from`/`RUN --mount=from=` image; `scratch` is no image — and the
/// remote `ADD` sources nothing pins.
pub fn external_inputs(
    dockerfile: &Dockerfile,
    build_args: &BTreeMap<String, String>,
    parent_from: Option<&str>,
) -> (Vec<String>, Vec<String>) {
    let mut out: Vec<String> = dockerfile
        .resolve_bases(build_args)
        .into_iter()
        .filter(|b| !b.is_stage && !b.reference.eq_ignore_ascii_case("scratch"))
        .map(|b| b.reference)
        .filter(|r| Some(reference::familiar(r).as_str()) != parent_from)
        .collect();
    let (images, remotes) = dockerfile.resolve_sources(build_args);
    out.extend(images);
    out.sort();
    out.dedup();
    (out, remotes)
}

/// What the registry said of one external image.
pub fn resolve_base(written: &str, ref_facts: &RefFacts) -> BaseImage {
    let Some(normalized) = reference::normalize(written) else {
        return BaseImage {
            reference: written.to_string(),
            digest: None,
            unresolved: Some("not a valid image reference".into()),
        };
    };
    if let Some(digest) = reference::pinned_digest(written) {
        return BaseImage {
            reference: normalized,
            digest: Some(digest.to_string()),
            unresolved: None,
        };
    }
    let digest = ref_facts.digest(&normalized).map(str::to_string);
    let unresolved = match (&digest, ref_facts.state(&normalized)) {
        (Some(_), _) => None,
        (None, RefState::Missing) => Some("it is not in its registry".to_string()),
        (None, _) => Some(match ref_facts.failures.get(&normalized) {
            Some(why) => why.clone(),
            None if ref_facts.probed => "its registry was not asked".to_string(),
            None => "--offline: the registry was not asked".to_string(),
        }),
    };
    BaseImage {
        reference: normalized,
        digest,
        unresolved,
    }
}

/// Named contexts that pin the target's external images to the digests hashed into its
/// inputs: `FROM` as BuildKit looks it up → `ref@digest`. Refs given by digest already
/// need none.
pub fn pinned_contexts(written: &[String], bases: &[BaseImage]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for w in written {
        if reference::pinned_digest(w).is_some() {
            continue;
        }
        let Some(normalized) = reference::normalize(w) else {
            continue;
        };
        if let Some(digest) = bases
            .iter()
            .find(|b| b.reference == normalized)
            .and_then(|b| b.digest.as_deref())
        {
            out.insert(reference::familiar(w), format!("{normalized}@{digest}"));
        }
    }
    out
}

/// Everything [`inputs_digest::compute`] needs for one target.
pub struct TargetInputs<'a> {
    /// The context's digest and the Dockerfile's blob id.
    pub context: Option<(&'a str, &'a str)>,
    pub dockerfile: Option<&'a Dockerfile>,
    /// Every build arg, the chain args included (they decide what `FROM`s resolve to).
    pub build_args: &'a BTreeMap<String, String>,
    /// The chain args, left out of the digest.
    pub chain_args: &'a BTreeMap<String, String>,
    pub parent_from: Option<&'a str>,
    pub parent: Option<(&'a str, &'a Inputs)>,
    pub platforms: &'a [String],
}

/// What [`compute`] found besides the inputs.
pub struct Computed {
    /// The external images as written (for pinning contexts).
    pub written: Vec<String>,
    /// `ref@digest` of the syntax frontend, when the Dockerfile names one by tag and the
    /// registry resolved it: the value of the build arg `BUILDKIT_SYNTAX` that makes
    /// BuildKit run the frontend hashed into the inputs.
    pub syntax_pin: Option<String>,
}

/// The inputs of a target, the external images as written and the frontend's pin.
pub fn compute(t: &TargetInputs<'_>, ref_facts: &RefFacts) -> (Inputs, Computed) {
    let (written, remotes) = match t.dockerfile {
        Some(df) => external_inputs(df, t.build_args, t.parent_from),
        None => (Vec::new(), Vec::new()),
    };
    // The frontend (`# syntax=`, or the build arg `BUILDKIT_SYNTAX`) is an external image
    // like a base: what BuildKit builds moves with it. It is pinned by a build arg, not a
    // named context, so it is kept out of `written`.
    let frontend = t.dockerfile.and_then(|df| df.frontend(t.build_args));
    let mut bases: Vec<BaseImage> = written.iter().map(|w| resolve_base(w, ref_facts)).collect();
    let syntax_pin = frontend.and_then(|f| {
        let base = resolve_base(f, ref_facts);
        let pin = match (&base.digest, reference::pinned_digest(f)) {
            (Some(digest), None) => Some(format!("{}@{digest}", base.reference)),
            _ => None,
        };
        bases.push(base);
        pin
    });
    // Encoded only with a context: without one there is no digest.
    let hashed_args: BTreeMap<String, String> = match t.context {
        Some(_) => t
            .build_args
            .iter()
            .filter(|(k, _)| !t.chain_args.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        None => BTreeMap::new(),
    };
    let inputs = inputs_digest::compute(&Ingredients {
        context: t.context,
        build_args: &hashed_args,
        platforms: t.platforms,
        stage: None,
        parent: t.parent,
        bases,
        remote_sources: &remotes,
    });
    (
        inputs,
        Computed {
            written,
            syntax_pin,
        },
    )
}

/// Whether a context's digest can show in the plan: in an inputs tag, a label, a reuse.
/// Only pinned inputs show, and a child of unpinned inputs is unpinned, so only the roots'
/// targets are asked whether their context is all that is left to pin (the spec puts no
/// child in a plan its parent skips: every child's target has a parent target). When none
/// is, a plan made without the contexts differs only in the unpinned digests, left empty.
pub fn contexts_matter(stack: &Stack, opts: &PlanOptions, ref_facts: &RefFacts) -> bool {
    let spec = &stack.spec;
    let no_chain_args = BTreeMap::new();
    let pins_without_context = |image: &Image, variant: Option<&Variant>, plan| {
        let key = variant.map_or_else(|| image.key.clone(), |v| v.key(&image.key));
        let build_args = build_args::resolve(image, variant, plan, &opts.build_args);
        let target = TargetInputs {
            context: None,
            dockerfile: stack.dockerfiles.get(&key),
            build_args: &build_args,
            chain_args: &no_chain_args,
            parent_from: None,
            parent: None,
            platforms: &image.platforms,
        };
        compute(&target, ref_facts).0.pinned_but_for_context()
    };
    let mut roots = spec.images.values().filter(|i| i.depend_on.is_none());
    roots.any(|image| {
        spec.plans_of(image)
            .into_iter()
            .filter(|plan| match (&opts.only_plan, plan) {
                (Some(only), Some(p)) => &p.name == only,
                _ => true,
            })
            .any(|plan| {
                pins_without_context(image, None, plan)
                    || image
                        .variants
                        .values()
                        .any(|v| pins_without_context(image, Some(v), plan))
            })
    })
}
