//! Target and group names: what buildx accepts (`[a-zA-Z0-9_-]+`), unique in one bake file.

use std::collections::HashSet;

/// The bake group name of a plan: buildx names are `[a-zA-Z0-9_-]+`.
pub fn group_name(plan: &str) -> String {
    sanitize_name(plan)
}

fn sanitize_name(wanted: &str) -> String {
    wanted
        .chars()
        .map(|c| if is_name_char(c) { c } else { '_' })
        .collect()
}

/// A character buildx accepts in a name.
fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// Hands out target names that buildx accepts and that are unique, never one of the
/// bake file's group names.
pub struct NameAllocator {
    used: HashSet<String>,
}

impl NameAllocator {
    pub fn reserving(groups: impl Iterator<Item = String>) -> Self {
        let mut used: HashSet<String> = groups.collect();
        used.extend(["default".to_string(), "all".to_string()]);
        NameAllocator { used }
    }

    pub fn allocate(&mut self, wanted: String) -> String {
        let base = if is_name(&wanted) {
            wanted
        } else {
            sanitize_name(&wanted)
        };
        if self.used.insert(base.clone()) {
            return base;
        }
        (2..)
            .map(|n| format!("{base}_{n}"))
            .find(|name| self.used.insert(name.clone()))
            .expect("some suffix is free")
    }
}

/// Whether buildx accepts `name` as it is.
fn is_name(name: &str) -> bool {
    name.chars().all(is_name_char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitized_and_unique_and_never_a_groups() {
        let mut names = NameAllocator::reserving(["cuda_12".to_string()].into_iter());
        assert_eq!(names.allocate("base".into()), "base");
        assert_eq!(names.allocate("base".into()), "base_2");
        assert_eq!(names.allocate("base".into()), "base_3");
        assert_eq!(names.allocate("a.b/c".into()), "a_b_c");
        assert_eq!(names.allocate("cuda.12".into()), "cuda_12_2");
        assert_eq!(names.allocate("default".into()), "default_2");
        assert_eq!(names.allocate("all".into()), "all_2");
    }
}
