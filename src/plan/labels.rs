//! The OCI labels a target's image carries: its version (the tag), the commit and source
//! it is built from, and its inputs digest when pinned.

use super::{PlanOptions, SmallMap};
use crate::inputs::{self, Inputs};

pub fn labels(tag: &str, opts: &PlanOptions, inputs: &Inputs) -> SmallMap<String> {
    let mut labels = SmallMap::new();
    labels.insert(
        "org.opencontainers.image.version".to_string(),
        tag.to_string(),
    );
    if let Some(rev) = &opts.revision {
        labels.insert("org.opencontainers.image.revision".to_string(), rev.clone());
    }
    if let Some(src) = &opts.source_url {
        labels.insert("org.opencontainers.image.source".to_string(), src.clone());
    }
    if inputs.pinned {
        labels.insert(inputs::LABEL.to_string(), inputs.digest.clone());
    }
    labels
}
