//! Image manifests: what `info_cmds` printed inside each built image, rendered as one
//! markdown page per image and tag plus a `Home.md` table of images × tags.
//!
//! The outputs come from the `<target>-manifest` bake targets (`stackplan bake
//! --manifests`), which write `<NAME>.out` and `<NAME>.status` per command into
//! `<dir>/<image>/<tag>/`. Rendering is pure; reading and writing the folders is the CLI's.

use std::collections::BTreeSet;
use std::fmt::Write;

/// One command's result inside one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandResult {
    pub name: String,
    pub description: String,
    pub command: String,
    /// `None` when the command left no output file (it did not run).
    pub output: Option<String>,
    /// The exit status; `None` when unknown.
    pub status: Option<i32>,
}

/// The manifest of one image at one tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub image: String,
    pub tag: String,
    pub commands: Vec<CommandResult>,
}

impl Manifest {
    /// The page's name, without extension: `<image>-<tag>`.
    pub fn page_name(&self) -> String {
        page_name(&self.image, &self.tag)
    }
}

pub fn page_name(image: &str, tag: &str) -> String {
    format!("{image}-{tag}")
}

/// The markdown page of one manifest.
pub fn page(m: &Manifest) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {}:{}\n", m.image, m.tag);
    for c in &m.commands {
        let _ = writeln!(s, "## {}\n", c.description);
        let _ = writeln!(s, "`{}`\n", c.command.replace('`', "'"));
        match (c.status, &c.output) {
            (_, None) => {
                let _ = writeln!(s, "**Not run**: no output was recorded for `{}`.\n", c.name);
                continue;
            }
            (Some(0), _) => {}
            (Some(code), _) => {
                let _ = writeln!(s, "**Failed** with exit status {code}; its output:\n");
            }
            (None, _) => {
                let _ = writeln!(s, "Exit status unknown; its output:\n");
            }
        }
        let output = c.output.as_deref().unwrap_or_default();
        let fence = fence_for(output);
        let _ = writeln!(s, "{fence}text\n{}\n{fence}\n", output.trim_end());
    }
    s
}

/// A code fence longer than any run of backticks in `text`.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

const BEGIN: &str = "<!-- stackplan:manifests:begin -->";
const END: &str = "<!-- stackplan:manifests:end -->";

/// `Home.md`: the table of every image × tag with a page, keeping the rows of `existing`
/// (earlier builds and promotions) and any text around the table.
pub fn home(existing: Option<&str>, new: &[(String, String)]) -> String {
    let mut rows: BTreeSet<(String, String)> = new.iter().cloned().collect();
    let (before, after) = match existing {
        Some(text) => match (text.find(BEGIN), text.find(END)) {
            (Some(b), Some(e)) if b < e => {
                for line in text[b + BEGIN.len()..e].lines() {
                    let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                    if let [_, image, tag, _, _] = cells.as_slice()
                        && !image.is_empty()
                        && *image != "Image"
                        && !image.starts_with("---")
                    {
                        rows.insert((image.to_string(), tag.to_string()));
                    }
                }
                (text[..b].to_string(), text[e + END.len()..].to_string())
            }
            _ => (format!("{}\n\n", text.trim_end()), "\n".to_string()),
        },
        None => (
            "# Image manifests\n\nWhat each image of the stack has installed, per tag.\n\n"
                .to_string(),
            "\n".to_string(),
        ),
    };
    let mut s = before;
    s.push_str(BEGIN);
    s.push_str("\n| Image | Tag | Manifest |\n| --- | --- | --- |\n");
    for (image, tag) in &rows {
        let name = page_name(image, tag);
        let _ = writeln!(s, "| {image} | {tag} | [{name}]({name}) |");
    }
    s.push_str(END);
    s.push_str(&after);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            image: "base".into(),
            tag: "2026.3-main".into(),
            commands: vec![
                CommandResult {
                    name: "PY_VER".into(),
                    description: "Python Version".into(),
                    command: "python --version".into(),
                    output: Some("Python 3.11.8\n".into()),
                    status: Some(0),
                },
                CommandResult {
                    name: "PIP".into(),
                    description: "pip Packages".into(),
                    command: "pip list".into(),
                    output: Some("sh: pip: not found\n".into()),
                    status: Some(127),
                },
                CommandResult {
                    name: "X".into(),
                    description: "X".into(),
                    command: "x".into(),
                    output: None,
                    status: None,
                },
            ],
        }
    }

    #[test]
    fn a_page_has_a_section_per_command_and_shows_failures() {
        let p = page(&manifest());
        assert!(p.starts_with("# base:2026.3-main\n"));
        assert!(
            p.contains("## Python Version\n\n`python --version`\n\n```text\nPython 3.11.8\n```\n")
        );
        assert!(p.contains(
            "**Failed** with exit status 127; its output:\n\n```text\nsh: pip: not found\n```"
        ));
        assert!(p.contains("**Not run**"));
    }

    #[test]
    fn fences_outgrow_backticks_in_the_output() {
        assert_eq!(fence_for("a ```` b"), "`````");
        assert_eq!(fence_for("plain"), "```");
    }

    #[test]
    fn home_keeps_earlier_rows_and_surrounding_text() {
        let first = home(None, &[("base".into(), "2026.3-main".into())]);
        assert!(first.contains("| base | 2026.3-main | [base-2026.3-main](base-2026.3-main) |"));
        let edited = first.replace("# Image manifests", "# Our images\n\nHand-written intro.");
        let second = home(
            Some(&edited),
            &[
                ("base".into(), "2026.3-stable".into()),
                ("child".into(), "2026.3-stable".into()),
            ],
        );
        assert!(second.contains("Hand-written intro."));
        assert!(second.contains("| base | 2026.3-main |"));
        assert!(second.contains("| base | 2026.3-stable |"));
        assert!(second.contains("| child | 2026.3-stable |"));
        assert_eq!(second.matches("| base | 2026.3-main |").count(), 1);
        // Rendering again with nothing new changes nothing.
        assert_eq!(home(Some(&second), &[]), second);
    }
}
