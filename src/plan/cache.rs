//! Cache refs: where a target's build imports its cache from (`cache-from`: the branch tag
//! if it exists, else `<prefix>-stable`, else `stable`, or `<variant prefix>-stable` for a
//! variant) and where it exports it, and the
//! registry state of every ref the target cares about.
//!
//! With `--cache-to registry` the branch's cache image `buildcache-<prefix>-<branch>` comes
//! first. There is no stable cache image (promotion copies image manifests, and no branch
//! is named `stable`): a branch's first build imports from the stable *images*, so the
//! emitters export inline cache into every pushed image as well as the cache image.

use super::{CacheTo, RefState, RegistryView, SmallMap, reference_of, small_map};
use crate::tag;

pub struct CacheRefs {
    pub cache_from: Vec<String>,
    /// The registry cache ref, with `--cache-to registry`.
    pub cache_to_ref: Option<String>,
    /// The state of every ref above and of the branch ref.
    pub registry: SmallMap<RefState>,
}

pub fn refs(
    image_name: &str,
    tag_prefix: &str,
    stable_tag: &str,
    reference: &str,
    branch_tag: &str,
    cache_to: CacheTo,
    registry: &RegistryView,
) -> CacheRefs {
    let stable_refs = [
        reference_of(image_name, &tag::prefix_stable(tag_prefix)),
        reference_of(image_name, stable_tag),
    ];
    let cache_to_ref = (cache_to == CacheTo::Registry)
        .then(|| reference_of(image_name, &format!("buildcache-{branch_tag}")));
    // In the order the build imports them (the states' map sorts its own).
    let watched: Vec<&str> = cache_to_ref
        .as_deref()
        .into_iter()
        .chain(std::iter::once(reference))
        .chain(stable_refs.iter().map(String::as_str))
        .collect();
    let states = small_map(watched.iter().map(|r| (r.to_string(), registry.state(r))));
    let cache_from: Vec<String> = watched
        .iter()
        .filter(|r| registry.state(r) != RefState::Missing)
        .map(|r| r.to_string())
        .collect();
    CacheRefs {
        cache_from,
        cache_to_ref,
        registry: states,
    }
}
