//! Cache refs: where a target's build imports its cache from (`cache-from`: the branch tag
//! if it exists, else `<prefix>-stable`, else `stable`, or `<variant prefix>-stable` for a
//! variant) and where it exports it, and the
//! registry state of every ref the target cares about.
//!
//! With `--cache-to registry` the branch's cache image `buildcache-<prefix>-<branch>` comes
//! first. There is no stable cache image (promotion copies image manifests, and no branch
//! is named `stable`): a branch's first build imports from the stable *images*, so the
//! emitters export inline cache into every pushed image as well as the cache image.

use super::{CacheTo, reference_of, stable_references};
use crate::ref_facts::{RefFacts, RefStates};

/// A target's cache refs. Its cache sources are made from them on demand
/// ([`super::Target::cache_from`]): the branch ref and the two stable refs, less the
/// missing ones, after the cache image's.
pub struct CacheRefs {
    /// The registry cache ref, with `--cache-to registry`.
    pub cache_to_ref: Option<String>,
    /// The state of every ref above and of the branch ref (the inputs ref's is decided
    /// later).
    pub states: RefStates,
}

pub fn refs(
    image_name: &str,
    tag_prefix: &str,
    stable_tag: &str,
    reference: &str,
    branch_tag: &str,
    cache_to: CacheTo,
    ref_facts: &RefFacts,
) -> CacheRefs {
    let stable_refs = stable_references(image_name, tag_prefix, stable_tag);
    let cache_to_ref = (cache_to == CacheTo::Registry)
        .then(|| reference_of(image_name, &format!("buildcache-{branch_tag}")));
    let states = RefStates {
        cache_to: cache_to_ref.as_deref().map(|r| ref_facts.state(r)),
        branch: ref_facts.state(reference),
        prefix_stable: ref_facts.state(&stable_refs[0]),
        stable: ref_facts.state(&stable_refs[1]),
        inputs: None,
    };
    CacheRefs {
        cache_to_ref,
        states,
    }
}
