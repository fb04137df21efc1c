//! `stackplan init`: a first `spec.yml` inferred from an existing images folder.
//!
//! This module owns the inference, and nothing touches files here (the command in
//! `cli/init.rs` reads the folders and writes the result). Each image folder's Dockerfile
//! is resolved with its own `ARG` defaults ([`crate::dockerfile`]); a `FROM` whose
//! repository ends with a sibling folder's name (`$REGISTRY/$OWNER/base-notebook`) makes
//! that sibling the parent, and the repository children use names the parent
//! (`image_name`). A `FROM` that resolves to a placeholder `<sibling>` (kubeflow's
//! example-notebook-servers write `ARG BASE_IMG=<jupyter>` and `FROM $BASE_IMG`, their
//! Makefiles passing the real reference) makes that sibling the parent too; it names no
//! repository, so the name comes from `--image-prefix` or the other images. What cannot be read from the Dockerfiles comes from flags
//! (`--image-prefix`, `--tag-prefix`); every guess is said in a comment beside it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::diagnostic::{Diagnostic, Position};
use crate::dockerfile::Dockerfile;
use crate::error::{Error, Result};
use crate::parent_from;
use crate::reference;
use crate::stack::join;

/// One folder directly under the images folder.
#[derive(Clone, Debug, Default)]
pub struct Folder {
    /// The folder name: the image key.
    pub key: String,
    /// The text of `<key>/Dockerfile`, when there is one.
    pub dockerfile: Option<String>,
    /// Subfolders holding a Dockerfile (variants of the image): name → its text.
    pub variants: BTreeMap<String, String>,
}

/// What `init` cannot read from the Dockerfiles.
#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    /// `REGISTRY/OWNER`: every image is named `<prefix>/<key>`.
    pub image_prefix: Option<String>,
    /// `tag.prefix`.
    pub tag_prefix: Option<String>,
}

/// What was inferred for one image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inferred {
    pub key: String,
    pub image_name: String,
    /// Why that name: `--image-prefix`, how a child names it, or a guess.
    pub image_name_why: String,
    pub depend_on: Option<String>,
    /// The `FROM` the image builds on, resolved with the `ARG` defaults, and its line.
    pub from: String,
    pub from_line: usize,
    /// Variant subfolders: name → the sibling image its `FROM` names, if any.
    pub variants: BTreeMap<String, Option<String>>,
}

/// A Dockerfile read for inference: the `FROM` the final stage builds on.
struct Base {
    reference: String,
    line: usize,
}

/// The image the last stage builds on, following stage names back to an image.
fn final_base(df: &Dockerfile) -> Option<Base> {
    let bases = df.resolve_bases(&BTreeMap::new());
    let mut i = bases.len().checked_sub(1)?;
    loop {
        let b = &bases[i];
        if !b.is_stage {
            return Some(Base {
                reference: b.reference.clone(),
                line: b.line,
            });
        }
        i = (0..i).rev().find(|&j| {
            df.stages[j]
                .name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(&b.reference))
        })?;
    }
}

/// The sibling a resolved `FROM` names: its repository's last part is the sibling's key,
/// or the repository is the sibling's `--image-prefix` name.
fn sibling<'a>(reference: &str, keys: &'a [String], own: &str) -> Option<&'a String> {
    let last = match placeholder(reference) {
        Some(name) => name,
        None => {
            reference::normalize(reference)?;
            let repository = reference::familiar_repository(reference);
            repository.rsplit('/').next().unwrap_or_default()
        }
    };
    keys.iter()
        .find(|k| k.as_str() == last && k.as_str() != own)
}

/// `<name>` → `name`: a placeholder a build arg replaces, never an image reference.
fn placeholder(reference: &str) -> Option<&str> {
    reference.strip_prefix('<')?.strip_suffix('>')
}

/// The repository a child's `FROM` names its parent by, for the parent's `image_name`;
/// none for a placeholder.
fn naming(reference: &str) -> Option<String> {
    placeholder(reference)
        .is_none()
        .then(|| reference::familiar_repository(reference).to_string())
}

fn parse(text: &str, path: &str) -> Result<Dockerfile> {
    Dockerfile::parse(text).map_err(|e| Error::Invalid {
        diagnostics: vec![
            Diagnostic::error(format!("cannot read Dockerfile: {}", e.message))
                .in_file(path)
                .at(Some(Position {
                    line: e.line,
                    column: 1,
                }))
                .help("fix the Dockerfile (stackplan init reads its ARG and FROM lines)"),
        ],
        sources: vec![(path.into(), text.to_string())],
    })
}

/// Infers every image of `folders` (those with a Dockerfile of their own).
pub fn infer(folders: &[Folder], images_dir: &str, opts: &InitOptions) -> Result<Vec<Inferred>> {
    let images: Vec<&Folder> = folders.iter().filter(|f| f.dockerfile.is_some()).collect();
    let keys: Vec<String> = images.iter().map(|f| f.key.clone()).collect();
    // image key → the repositories its children's FROM lines name it by, with the child.
    let mut named_by: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    // parent key → the Dockerfiles (image or variant) that build on it.
    let mut children: BTreeMap<String, Vec<Dockerfile>> = BTreeMap::new();
    let mut out = Vec::new();
    for folder in &images {
        let path = join(&join(images_dir, &folder.key), "Dockerfile");
        let df = parse(folder.dockerfile.as_deref().unwrap_or_default(), &path)?;
        let base = final_base(&df).ok_or_else(|| {
            Error::usage(format!(
                "{path}: the last stage builds on no image that init can follow"
            ))
        })?;
        let depend_on = sibling(&base.reference, &keys, &folder.key).cloned();
        if let Some(parent) = &depend_on {
            if let Some(repository) = naming(&base.reference) {
                let by = (repository, folder.key.clone());
                named_by.entry(parent.clone()).or_default().push(by);
            }
            children.entry(parent.clone()).or_default().push(df.clone());
        }
        let mut variants = BTreeMap::new();
        for (name, text) in &folder.variants {
            let vpath = join(&join(&join(images_dir, &folder.key), name), "Dockerfile");
            let vdf = parse(text, &vpath)?;
            let parent = final_base(&vdf).and_then(|b| {
                let s = sibling(&b.reference, &keys, &folder.key).cloned();
                if let (Some(p), Some(repository)) = (&s, naming(&b.reference)) {
                    let by = (repository, format!("{}/{name}", folder.key));
                    named_by.entry(p.clone()).or_default().push(by);
                }
                s
            });
            variants.insert(name.clone(), parent);
        }
        out.push(Inferred {
            key: folder.key.clone(),
            image_name: String::new(),
            image_name_why: String::new(),
            depend_on,
            from: reference::familiar(&base.reference),
            from_line: base.line,
            variants,
        });
    }

    // Names: the flag, unless a child could not build on the image under it; else how
    // children name the image; else the prefix the others share.
    for image in &mut out {
        let named = named_by.get(&image.key).and_then(|n| {
            n.iter()
                .find(|(repo, _)| reference::check_repository(repo).is_ok())
        });
        let prefixed = opts
            .image_prefix
            .as_ref()
            .map(|p| format!("{}/{}", p.trim_end_matches('/'), image.key));
        let chains = |name: &str| {
            children
                .get(&image.key)
                .into_iter()
                .flatten()
                .all(|df| follows(df, name))
        };
        (image.image_name, image.image_name_why) = match (prefixed, named) {
            (Some(name), _) if chains(&name) => (name, "--image-prefix".to_string()),
            (Some(name), Some((repo, child))) => (
                repo.clone(),
                format!(
                    "as the FROM of {child} names it (under --image-prefix, {name}, it would not build on this image)"
                ),
            ),
            (Some(name), None) => (name, "--image-prefix".to_string()),
            (None, Some((repo, child))) => {
                (repo.clone(), format!("as the FROM of {child} names it"))
            }
            (None, None) => (String::new(), String::new()),
        };
    }
    let mut prefixes: BTreeMap<String, usize> = BTreeMap::new();
    for image in out.iter().filter(|i| !i.image_name.is_empty()) {
        if let Some((prefix, _)) = image.image_name.rsplit_once('/') {
            *prefixes.entry(prefix.to_string()).or_default() += 1;
        }
    }
    let common = prefixes
        .into_iter()
        .max_by_key(|(p, n)| (*n, std::cmp::Reverse(p.clone())))
        .map(|(p, _)| p);
    for image in out.iter_mut().filter(|i| i.image_name.is_empty()) {
        let Some(prefix) = &common else {
            return Err(Error::usage_with_help(
                format!(
                    "cannot tell the image_name of `{}`: no FROM of the stack names it",
                    image.key
                ),
                "give the registry and owner every image is pushed under: --image-prefix REGISTRY/OWNER (like ghcr.io/my-org)",
            ));
        };
        image.image_name = format!("{prefix}/{}", image.key);
        image.image_name_why = "guessed: the prefix the other images share".to_string();
    }
    for image in &out {
        if let Err(problem) = reference::check_repository(&image.image_name) {
            return Err(Error::usage_with_help(
                format!(
                    "image `{}`: `{}` is not a valid image_name: {problem}",
                    image.key, image.image_name
                ),
                "give --image-prefix REGISTRY/OWNER (lowercase), and lowercase folder names",
            ));
        }
    }
    Ok(out)
}

/// Whether a child's Dockerfile can be made to build on a parent named `image_name`: a
/// build arg stackplan sets makes a `FROM` name it ([`crate::parent_from`]).
fn follows(df: &Dockerfile, image_name: &str) -> bool {
    let reference = format!("{image_name}:x");
    let repositories = [reference::familiar_repository(&reference)];
    parent_from::find(
        df,
        &BTreeMap::new(),
        &parent_from::Parent {
            reference: &reference,
            tag: "x",
            repositories: &repositories,
            arg: None,
        },
    )
    .named
    .is_some_and(|n| n.arg.is_some())
}

/// Parents before children, then by key.
fn order(images: &[Inferred]) -> Vec<&Inferred> {
    let depth = |start: &Inferred| {
        let mut i = start;
        let mut d = 0;
        while let Some(p) = i
            .depend_on
            .as_ref()
            .and_then(|p| images.iter().find(|x| &x.key == p))
        {
            d += 1;
            i = p;
            if d > images.len() {
                break; // a cycle: `stackplan check` reports it
            }
        }
        d
    };
    let mut out: Vec<&Inferred> = images.iter().collect();
    out.sort_by_key(|i| (depth(i), i.key.clone()));
    out
}

/// The spec text: every image inferred, with what was guessed in comments.
pub fn render(folders: &[Folder], images: &[Inferred], opts: &InitOptions) -> String {
    let mut s = String::new();
    s.push_str("# Written by `stackplan init` from the Dockerfiles of this folder.\n");
    s.push_str("# The comments say where each value comes from: check the guesses, then run\n");
    s.push_str("# `stackplan check`. Reference: docs/spec.md.\n");
    for folder in folders.iter().filter(|f| f.dockerfile.is_none()) {
        let _ = writeln!(
            s,
            "# {}/ is not an image: it has no Dockerfile of its own",
            folder.key
        );
    }
    s.push_str("tag:\n");
    match &opts.tag_prefix {
        Some(prefix) => {
            let _ = writeln!(s, "  prefix: \"{prefix}\"");
        }
        None => s.push_str(
            "  prefix: \"dev\"  # guessed: every tag is dev-<branch>; set it with --tag-prefix\n",
        ),
    }
    s.push_str("images:\n");
    for image in order(images) {
        let _ = writeln!(s, "  {}:", image.key);
        let _ = writeln!(
            s,
            "    image_name: {}  # {}",
            image.image_name, image.image_name_why
        );
        match &image.depend_on {
            Some(parent) => {
                let _ = writeln!(
                    s,
                    "    depend_on: {parent}  # its FROM resolves to {} (Dockerfile:{})",
                    image.from, image.from_line
                );
            }
            None => {
                let _ = writeln!(
                    s,
                    "    # builds FROM {} (Dockerfile:{}), not an image of this folder",
                    image.from, image.from_line
                );
            }
        }
        let (same, other): (Vec<_>, Vec<_>) = image
            .variants
            .iter()
            .partition(|(_, parent)| **parent == image.depend_on);
        if !same.is_empty() {
            s.push_str("    variants:  # subfolders with a Dockerfile: built on the same parent, tagged <variant>-<prefix>-<branch>\n");
            for (name, _) in same {
                let _ = writeln!(s, "      {name}: {{}}");
            }
        }
        for (name, parent) in other {
            let on = match parent {
                Some(p) => format!("on {p}"),
                None => "on no image of this folder".to_string(),
            };
            let _ = writeln!(
                s,
                "    # {name}/ has a Dockerfile built {on}, not on this image's parent: not a variant, left out"
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(key: &str, df: &str) -> Folder {
        Folder {
            key: key.into(),
            dockerfile: Some(df.into()),
            variants: BTreeMap::new(),
        }
    }

    const CHILD: &str = "ARG REGISTRY=quay.io\nARG OWNER=jupyter\nARG BASE_IMAGE=$REGISTRY/$OWNER/PARENT\nFROM $BASE_IMAGE\n";

    fn jupyter() -> Vec<Folder> {
        let mut scipy = folder("scipy-notebook", &CHILD.replace("PARENT", "base-notebook"));
        scipy
            .variants
            .insert("cuda".into(), CHILD.replace("PARENT", "base-notebook"));
        vec![
            folder(
                "foundation",
                "ARG ROOT_IMAGE=ubuntu:24.04\nFROM $ROOT_IMAGE\n",
            ),
            folder("base-notebook", &CHILD.replace("PARENT", "foundation")),
            scipy,
            folder("r-notebook", &CHILD.replace("PARENT", "scipy-notebook")),
            Folder {
                key: "docs".into(),
                ..Default::default()
            },
        ]
    }

    #[test]
    fn parents_and_names_come_from_the_children() {
        let images = infer(&jupyter(), "images", &InitOptions::default()).unwrap();
        let by_key: BTreeMap<&str, &Inferred> =
            images.iter().map(|i| (i.key.as_str(), i)).collect();
        assert_eq!(by_key["foundation"].depend_on, None);
        assert_eq!(by_key["foundation"].from, "ubuntu:24.04");
        assert_eq!(
            by_key["base-notebook"].depend_on.as_deref(),
            Some("foundation")
        );
        assert_eq!(
            by_key["r-notebook"].depend_on.as_deref(),
            Some("scipy-notebook")
        );
        assert_eq!(
            by_key["foundation"].image_name,
            "quay.io/jupyter/foundation"
        );
        assert!(
            by_key["foundation"]
                .image_name_why
                .contains("base-notebook")
        );
        // No child names r-notebook: the prefix the others share.
        assert_eq!(
            by_key["r-notebook"].image_name,
            "quay.io/jupyter/r-notebook"
        );
        assert!(by_key["r-notebook"].image_name_why.starts_with("guessed"));
        assert_eq!(
            by_key["scipy-notebook"].variants["cuda"].as_deref(),
            Some("base-notebook")
        );
        let text = render(&jupyter(), &images, &InitOptions::default());
        assert!(text.contains("# docs/ is not an image"), "{text}");
        let first = text.find("  foundation:").unwrap();
        assert!(first < text.find("  base-notebook:").unwrap(), "{text}");
        crate::spec::Spec::parse(&text, std::path::Path::new("spec.yml")).unwrap();
    }

    #[test]
    fn flags_win_and_are_needed_when_nothing_names_an_image() {
        let opts = InitOptions {
            image_prefix: Some("ghcr.io/me/".into()),
            tag_prefix: Some("2026.11".into()),
        };
        let images = infer(&jupyter(), "images", &opts).unwrap();
        assert!(
            images
                .iter()
                .all(|i| i.image_name == format!("ghcr.io/me/{}", i.key))
        );
        assert!(render(&jupyter(), &images, &opts).contains("prefix: \"2026.11\"\n"));
        let alone = [folder("solo", "FROM busybox\n")];
        let err = infer(&alone, "images", &InitOptions::default()).unwrap_err();
        assert!(err.to_string().contains("image_name of `solo`"), "{err}");
        assert!(err.help().unwrap().contains("--image-prefix"));
    }

    #[test]
    fn a_prefix_the_children_cannot_follow_gives_way_to_their_name() {
        let folders = [
            folder("base", "FROM busybox\n"),
            folder(
                "child",
                "ARG BASE_TAG=latest\nFROM ghcr.io/org/base:${BASE_TAG}\n",
            ),
        ];
        let opts = InitOptions {
            image_prefix: Some("ghcr.io/me".into()),
            ..Default::default()
        };
        let images = infer(&folders, "images", &opts).unwrap();
        assert_eq!(images[0].image_name, "ghcr.io/org/base");
        assert!(images[0].image_name_why.contains("would not build"));
        assert_eq!(images[1].image_name, "ghcr.io/me/child");
    }

    #[test]
    fn a_placeholder_default_names_the_parent_folder() {
        // kubeflow's example-notebook-servers: `ARG BASE_IMG=<jupyter>`, the Makefile
        // passes the real reference.
        let child = |parent: &str| format!("ARG BASE_IMG=<{parent}>\nFROM $BASE_IMG\n");
        let folders = [
            folder("base", "FROM ubuntu:22.04\n"),
            folder("jupyter", &child("base")),
            folder("jupyter-pytorch", &child("jupyter")),
            folder("codeserver", &child("base")),
        ];
        let opts = InitOptions {
            image_prefix: Some("ghcr.io/kubeflow".into()),
            ..Default::default()
        };
        let images = infer(&folders, "images", &opts).unwrap();
        let by_key: BTreeMap<&str, &Inferred> =
            images.iter().map(|i| (i.key.as_str(), i)).collect();
        assert_eq!(by_key["base"].depend_on, None);
        assert_eq!(by_key["jupyter"].depend_on.as_deref(), Some("base"));
        assert_eq!(by_key["codeserver"].depend_on.as_deref(), Some("base"));
        assert_eq!(
            by_key["jupyter-pytorch"].depend_on.as_deref(),
            Some("jupyter")
        );
        // The placeholder names no repository: the prefix names every image, and the
        // children follow it through BASE_IMG.
        assert_eq!(by_key["jupyter"].image_name, "ghcr.io/kubeflow/jupyter");
        assert_eq!(by_key["jupyter"].image_name_why, "--image-prefix");
        // A placeholder that names no folder is no parent, and `<own>` is not its own.
        let odd = [
            folder("a", "FROM busybox\n"),
            folder("b", &child("nowhere")),
            folder("c", &child("c")),
        ];
        let images = infer(&odd, "images", &opts).unwrap();
        assert!(images.iter().all(|i| i.depend_on.is_none()), "{images:?}");
    }

    #[test]
    fn stages_are_followed_back_to_an_image() {
        let df = Dockerfile::parse(
            "ARG B=quay.io/o/base\nFROM $B AS build\nFROM build AS final\nFROM final\n",
        )
        .unwrap();
        assert_eq!(final_base(&df).unwrap().reference, "quay.io/o/base");
        let bad = [folder("x", "FROM a b c d\n")];
        let err = infer(&bad, "images", &InitOptions::default()).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }
}
