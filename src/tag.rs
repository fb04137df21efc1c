//! Tags: the branch made into a valid Docker tag, and the tags of a target.
//!
//! A *tag* is the part after `:`; a *ref* is `name:tag`. Every target is tagged
//! `<prefix>-<branch>`; promotion later gives it `<prefix>-stable` and `stable`.

use crate::error::{Error, Result};

/// Characters the old pipeline mapped to `-` in branch names.
const MAPPED: &str = "~!@#$%^&*()+`=[]{}|\\;:'\",<>/?";

/// Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    tag.len() <= 128
        && (first.is_ascii_alphanumeric() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// Turns a branch name into the branch part of a tag (`feature/x` → `feature-x`).
pub fn branch_tag(branch: &str) -> Result<String> {
    let mapped: String = branch
        .trim()
        .chars()
        .map(|c| if MAPPED.contains(c) { '-' } else { c })
        .collect();
    if mapped.is_empty() {
        return Err(Error::usage_with_help(
            "the branch name is empty",
            "pass --branch NAME",
        ));
    }
    if mapped == "stable" {
        return Err(Error::usage_with_help(
            format!(
                "branch `{branch}` would make tags that collide with the promoted `stable` tags"
            ),
            "build from another branch name, or pass --branch NAME",
        ));
    }
    if !is_valid_tag(&mapped) {
        return Err(Error::usage_with_help(
            format!("branch `{branch}` does not make a valid Docker tag (`{mapped}`)"),
            "a tag is at most 128 characters of letters, digits, `_`, `.` and `-`, not starting with `.` or `-`; pass --branch NAME to choose one",
        ));
    }
    Ok(mapped)
}

/// `<prefix>-<branch>`.
pub fn branch_tag_for(prefix: &str, branch: &str) -> String {
    format!("{prefix}-{branch}")
}

/// `<prefix>-stable`.
pub fn prefix_stable(prefix: &str) -> String {
    format!("{prefix}-stable")
}

pub const STABLE: &str = "stable";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_become_tags() {
        assert_eq!(branch_tag("feature/x").unwrap(), "feature-x");
        assert_eq!(
            branch_tag("dependabot/pip/a@b:c").unwrap(),
            "dependabot-pip-a-b-c"
        );
        assert_eq!(branch_tag("Fix_1.2").unwrap(), "Fix_1.2");
        assert!(branch_tag("stable").is_err());
        assert!(branch_tag("-x").is_err());
        assert!(branch_tag("has space").is_err());
        assert!(branch_tag("é").is_err());
        assert!(branch_tag(&"a".repeat(129)).is_err());
        assert!(branch_tag(&"a".repeat(128)).is_ok());
        assert!(branch_tag("").is_err());
    }

    #[test]
    fn tag_grammar() {
        assert!(is_valid_tag("2026.3-main"));
        assert!(!is_valid_tag(".x"));
        assert!(!is_valid_tag(""));
    }
}
