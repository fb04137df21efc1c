//! The manifests flow (`stackplan manifests render`): the outputs the manifest targets
//! exported (`<DIR>/<image>/<tag>/<NAME>.out` and `.status`) read back and written as one
//! markdown page per image and tag, with `Home.md`'s table kept in place. The pages' text
//! is [`crate::manifests`]'s (pure); this flow reads and writes the files.

use std::path::{Path, PathBuf};

use super::Reporter;
use crate::error::{Error, Result};
use crate::manifests::{self, CommandResult, Manifest};
use crate::stack::Stack;

/// Where the outputs are and where the pages go.
#[derive(Clone, Debug)]
pub struct RenderRequest {
    /// What the manifest targets exported.
    pub from: PathBuf,
    /// Where the pages and `Home.md` go (a wiki checkout, for example).
    pub out: PathBuf,
}

/// The pages written, as (image, tag).
#[derive(Clone, Debug, Default)]
pub struct Rendered {
    pub pages: Vec<(String, String)>,
}

/// Writes a page per image and tag found under `request.from`, then `Home.md`. An image
/// the spec does not know is rendered with its commands' names only, and said.
pub fn render(
    stack: &Stack,
    request: &RenderRequest,
    reporter: &mut dyn Reporter,
) -> Result<Rendered> {
    let images = subdirs(&request.from)?;
    if images.is_empty() {
        return Err(Error::usage_with_help(
            format!("{} holds no manifests", request.from.display()),
            "build them first: `stackplan bake --manifests > bake.json && docker buildx bake -f bake.json`",
        ));
    }
    let out = &request.out;
    std::fs::create_dir_all(out).map_err(|e| Error::io("cannot create", out, e))?;
    let mut rendered = Rendered::default();
    for image in images {
        let spec_image = stack.spec.images.get(&image);
        if spec_image.is_none() {
            reporter.status(&format!(
                "warning: {image} is not an image of the spec; rendered with command names only"
            ));
        }
        for tag in subdirs(&request.from.join(&image))? {
            let dir = request.from.join(&image).join(&tag);
            let names: Vec<String> = match spec_image {
                Some(i) => i.info_cmds.clone(),
                None => outputs_in(&dir)?,
            };
            let manifest = Manifest {
                image: image.clone(),
                tag: tag.clone(),
                commands: names
                    .into_iter()
                    .map(|name| command_result(stack, &dir, name))
                    .collect(),
            };
            crate::fs::write_atomic(
                &out.join(format!("{}.md", manifest.page_name())),
                &manifests::page(&manifest),
            )?;
            rendered.pages.push((image.clone(), tag));
        }
    }
    let home_path = out.join("Home.md");
    let existing = std::fs::read_to_string(&home_path).ok();
    crate::fs::write_atomic(
        &home_path,
        &manifests::home(existing.as_deref(), &rendered.pages),
    )?;
    Ok(rendered)
}

/// One command's output and exit status as the target exported them, described as the
/// spec's `info_cmds` describe it (by its name where the spec does not).
fn command_result(stack: &Stack, dir: &Path, name: String) -> CommandResult {
    let info = stack.spec.all_info_cmds.get(&name);
    let output = std::fs::read_to_string(dir.join(format!("{name}.out"))).ok();
    let status = std::fs::read_to_string(dir.join(format!("{name}.status")))
        .ok()
        .and_then(|s| s.trim().parse().ok());
    CommandResult {
        description: info
            .map(|i| i.description.clone())
            .unwrap_or_else(|| name.clone()),
        command: info.map(|i| i.command.clone()).unwrap_or_default(),
        name,
        output,
        status,
    }
}

fn subdirs(dir: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("cannot read", dir, e))?;
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    out.sort();
    Ok(out)
}

/// Command names from the `<NAME>.out` files of a folder.
fn outputs_in(dir: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("cannot read", dir, e))?;
    let mut out: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".out").map(str::to_string))
        .collect();
    out.sort();
    Ok(out)
}
