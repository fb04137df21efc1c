//! Target and group names: what buildx accepts (`[a-zA-Z0-9_-]+`), unique in one bake file.

use std::collections::BTreeSet;

/// The bake group name of a plan: buildx names are `[a-zA-Z0-9_-]+`.
pub fn group_name(plan: &str) -> String {
    sanitize_name(plan)
}

fn sanitize_name(wanted: &str) -> String {
    wanted
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Hands out target names that buildx accepts and that are unique, never one of the
/// bake file's group names.
pub struct NameAllocator {
    used: BTreeSet<String>,
}

impl NameAllocator {
    pub fn reserving(groups: impl Iterator<Item = String>) -> Self {
        let mut used: BTreeSet<String> = groups.collect();
        used.extend(["default".to_string(), "all".to_string()]);
        NameAllocator { used }
    }

    pub fn allocate(&mut self, wanted: String) -> String {
        let base = sanitize_name(&wanted);
        let mut name = base.clone();
        let mut n = 2;
        while self.used.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        self.used.insert(name.clone());
        name
    }
}
