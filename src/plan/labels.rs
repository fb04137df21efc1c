//! The OCI labels a target's image carries: its version (the tag), the commit and source
//! it is built from, and its inputs digest when pinned.

use super::PlanOptions;
use crate::inputs_digest::{self, Inputs};

/// Label names are fixed: they are not copied into each of thousands of targets.
pub type Labels = litemap::LiteMap<&'static str, String>;

pub fn labels(tag: &str, opts: &PlanOptions, inputs: &Inputs) -> Labels {
    let labels = [
        Some(("org.opencontainers.image.version", tag)),
        opts.revision
            .as_deref()
            .map(|rev| ("org.opencontainers.image.revision", rev)),
        opts.source_url
            .as_deref()
            .map(|src| ("org.opencontainers.image.source", src)),
        inputs
            .pinned
            .then_some((inputs_digest::LABEL, inputs.digest.as_str())),
    ];
    let mut map = Labels::with_capacity(labels.iter().flatten().count());
    for (name, value) in labels.into_iter().flatten() {
        map.insert(name, value.to_string());
    }
    map
}
