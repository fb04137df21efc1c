//! A stack: the spec, its graph, the change rules and every image's Dockerfile, checked
//! together.
//!
//! Assembly is pure: the file system is reached only through the lookup the caller passes
//! (see [`crate::fs`] for the one that reads a checkout), so tests and benchmarks can build
//! stacks in memory.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::change_rules::ChangeRules;
use crate::context::blob_id;
use crate::diagnostic::{Diagnostic, Position};
use crate::dockerfile::{Dockerfile, ParseError};
use crate::error::{Error, Result};
use crate::graph::StackGraph;
use crate::parent_from;
use crate::reference;
use crate::spec::{Image, Spec, Variant};

/// What the lookup found for one image's Dockerfile.
#[derive(Clone)]
pub enum DockerfileSource {
    /// The image folder `images/<key>/` does not exist.
    NoFolder,
    /// The folder exists but the Dockerfile does not.
    Missing,
    Text(String),
    /// Read and parsed by the caller (readers do it on the thread that read the file), with
    /// the git blob id of the bytes ([`DockerfileSource::parsed`]).
    Parsed {
        dockerfile: Dockerfile,
        id: String,
    },
}

impl DockerfileSource {
    /// A Dockerfile's text parsed, its blob id taken. A text that does not parse stays
    /// `Text`: assembly reports it, with its snippet.
    pub fn parsed(text: String) -> DockerfileSource {
        match parse_with_id(&text) {
            Ok((dockerfile, id)) => DockerfileSource::Parsed { dockerfile, id },
            Err(_) => DockerfileSource::Text(text),
        }
    }

    /// The parsed Dockerfile and its blob id. A syntax error becomes a located diagnostic
    /// at `path()`, and the text is kept so the error can show the offending line.
    fn into_parsed(
        self,
        path: impl FnOnce() -> String,
        errors: &mut Vec<Diagnostic>,
        sources: &mut Vec<(PathBuf, String)>,
    ) -> Option<(Dockerfile, String)> {
        let text = match self {
            DockerfileSource::Parsed { dockerfile, id } => return Some((dockerfile, id)),
            DockerfileSource::Text(text) => text,
            DockerfileSource::NoFolder | DockerfileSource::Missing => return None,
        };
        match parse_with_id(&text) {
            Ok(parsed) => Some(parsed),
            Err(e) => {
                let path = path();
                errors.push(
                    Diagnostic::error(format!("cannot read Dockerfile: {}", e.message))
                        .in_file(&path)
                        .at(Some(Position {
                            line: e.line,
                            column: 1,
                        })),
                );
                sources.push((PathBuf::from(path), text));
                None
            }
        }
    }
}

/// A Dockerfile parsed, with the git blob id of the bytes it was parsed from.
fn parse_with_id(text: &str) -> std::result::Result<(Dockerfile, String), ParseError> {
    Dockerfile::parse(text).map(|dockerfile| (dockerfile, blob_id(text.as_bytes())))
}

#[derive(Clone, Debug)]
pub struct Stack {
    pub spec: Spec,
    pub graph: StackGraph,
    pub rules: ChangeRules,
    /// Every parsed Dockerfile, by image key (`<image>/<variant>` for a variant's own),
    /// looked up per image and target, never walked in order.
    pub dockerfiles: HashMap<String, Dockerfile>,
    /// The git blob id of each Dockerfile's bytes, keyed as `dockerfiles`: the context
    /// reader takes it instead of reading the file again.
    pub dockerfile_ids: HashMap<String, String>,
    /// The images folder relative to the repository root, `/`-separated (`images`).
    pub images_dir: String,
    /// Findings that do not stop planning (unknown keys, suspicious `FROM` lines).
    pub warnings: Vec<Diagnostic>,
}

impl Stack {
    /// Checks the parts against each other. `lookup(folder, dockerfile)` gives the
    /// Dockerfile at `dockerfile` inside `folder` (relative to the images folder: `<key>`,
    /// or `<key>/<context>` for a variant). All errors found are returned together.
    pub fn assemble(
        spec: Spec,
        mut warnings: Vec<Diagnostic>,
        rules: ChangeRules,
        images_dir: &str,
        mut lookup: impl FnMut(&str, &str) -> DockerfileSource,
    ) -> Result<Stack> {
        let mut errors = Vec::new();
        let mut sources: Vec<(PathBuf, String)> = Vec::new();
        let graph = match StackGraph::new(&spec) {
            Ok(g) => Some(g),
            Err(d) => {
                errors.push(d);
                None
            }
        };
        let mut dockerfiles = HashMap::new();
        let mut dockerfile_ids = HashMap::new();
        // Paths are joined only for the messages that name them.
        for image in spec.images.values() {
            let path = || dockerfile_path(images_dir, image);
            match lookup(&image.key, &image.dockerfile) {
                DockerfileSource::NoFolder => {
                    let folder = join(images_dir, &image.key);
                    errors.push(
                        Diagnostic::error(format!("image `{}` has no folder {folder}/", image.key))
                            .in_file(&spec.file)
                            .at(image.position)
                            .help(format!(
                                "create {folder}/ with a Dockerfile, or remove `{}` from the spec",
                                image.key
                            )),
                    )
                }
                DockerfileSource::Missing => errors.push(
                    Diagnostic::error(format!("image `{}` has no Dockerfile at {}", image.key, path()))
                        .in_file(&spec.file)
                        .at(image.position)
                        .help("add the Dockerfile, or set `dockerfile:` to its path inside the image folder"),
                ),
                source @ (DockerfileSource::Text(_) | DockerfileSource::Parsed { .. }) => {
                    if let Some((df, id)) = source.into_parsed(path, &mut errors, &mut sources) {
                        dockerfiles.insert(image.key.clone(), df);
                        dockerfile_ids.insert(image.key.clone(), id);
                    }
                }
            }
        }
        for image in spec.images.values() {
            for variant in image.variants.values() {
                let folder = join(&image.key, &variant.context);
                let path = || variant_dockerfile_path(images_dir, image, variant);
                match lookup(&folder, &variant.dockerfile) {
                    source @ (DockerfileSource::Text(_) | DockerfileSource::Parsed { .. }) => {
                        if let Some((df, id)) = source.into_parsed(path, &mut errors, &mut sources)
                        {
                            dockerfiles.insert(variant.key(&image.key), df);
                            dockerfile_ids.insert(variant.key(&image.key), id);
                        }
                    }
                    // A missing image folder is reported once, above.
                    DockerfileSource::NoFolder if !dockerfiles.contains_key(&image.key) => {}
                    _ => {
                        let path = path();
                        errors.push(
                            Diagnostic::error(format!(
                                "variant `{}` of image `{}` has no Dockerfile at {path}",
                                variant.name, image.key
                            ))
                            .in_file(&spec.file)
                            .at(image.position)
                            .help(format!(
                                "add {path}, or set the variant's `context:` (a folder inside images/{}/) and `dockerfile:`",
                                image.key
                            )),
                        )
                    }
                }
            }
        }
        if let Some(graph) = &graph {
            for key in graph.order() {
                warnings.extend(child_warnings(&spec, &dockerfiles, images_dir, key));
            }
        }
        if !errors.is_empty() {
            errors.extend(warnings);
            return Err(Error::Invalid {
                diagnostics: errors,
                sources,
            });
        }
        Ok(Stack {
            spec,
            graph: graph.expect("no graph error was recorded"),
            rules,
            dockerfiles,
            dockerfile_ids,
            images_dir: images_dir.to_string(),
            warnings,
        })
    }
}

/// [`check_child_from`] of an image and of its variants, each finding in its Dockerfile.
fn child_warnings(
    spec: &Spec,
    dockerfiles: &HashMap<String, Dockerfile>,
    images_dir: &str,
    key: &str,
) -> Vec<Diagnostic> {
    let image = &spec.images[key];
    let Some(parent) = &image.depend_on else {
        return Vec::new();
    };
    let parent = &spec.images[parent];
    // The path is joined only when there is a finding to put in it.
    let in_file = |found: Vec<Diagnostic>, path: &dyn Fn() -> String| {
        if found.is_empty() {
            return found;
        }
        let path = path();
        found.into_iter().map(|d| d.in_file(&path)).collect()
    };
    let mut out = Vec::new();
    if let Some(df) = dockerfiles.get(key) {
        out.extend(in_file(check_child_from(image, parent, df), &|| {
            dockerfile_path(images_dir, image)
        }));
    }
    for variant in image.variants.values() {
        if let Some(df) = dockerfiles.get(&variant.key(key)) {
            out.extend(in_file(check_child_from(image, parent, df), &|| {
                variant_dockerfile_path(images_dir, image, variant)
            }));
        }
    }
    out
}

/// An image's Dockerfile, relative to the repository root.
fn dockerfile_path(images_dir: &str, image: &Image) -> String {
    join(&join(images_dir, &image.key), &image.dockerfile)
}

/// A variant's Dockerfile, relative to the repository root.
fn variant_dockerfile_path(images_dir: &str, image: &Image, variant: &Variant) -> String {
    join(
        &join(&join(images_dir, &image.key), &variant.context),
        &variant.dockerfile,
    )
}

/// Warns when a child's `FROM` cannot follow its parent: no build arg stackplan can set
/// makes it name the parent's image_name ([`crate::parent_from`]). The findings are not
/// yet in a file.
fn check_child_from(image: &Image, parent: &Image, df: &Dockerfile) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let first_line = df.stages.first().map(|s| Position {
        line: s.line,
        column: 1,
    });
    if let Some(arg) = &image.parent_arg
        && !df.declares_global_arg(arg)
    {
        out.push(
            Diagnostic::warning(format!(
                "image `{}`: parent_arg `{arg}` is not a global ARG of its Dockerfile",
                image.key
            ))
            .at(first_line)
            .help(format!(
                "declare `ARG {arg}` before the first FROM and use it in the FROM that builds on `{}`, or fix `parent_arg`",
                parent.key
            )),
        );
        return out;
    }
    let parent_ref = format!("{}:x", parent.image_name);
    let repositories = [reference::familiar_repository(&parent_ref)];
    let outcome = parent_from::find(
        df,
        &image.build_args,
        &parent_from::Parent {
            reference: &parent_ref,
            tag: "x",
            repositories: &repositories,
            arg: image.parent_arg.as_deref(),
        },
    );
    match outcome.named {
        None if !outcome.ambiguous.is_empty() => out.push(
            Diagnostic::warning(format!(
                "image `{}` depends on `{}`, but several build args could name it in its FROM lines: {}",
                image.key,
                parent.key,
                outcome.ambiguous.join(", ")
            ))
            .at(first_line)
            .help(format!(
                "say which one in the spec: `parent_arg: {}` under image `{}`",
                outcome.ambiguous.last().map(String::as_str).unwrap_or_default(),
                image.key
            )),
        ),
        None => out.push(
            Diagnostic::warning(format!(
                "image `{}` depends on `{}`, but no FROM in its Dockerfile names {}",
                image.key, parent.key, parent.image_name
            ))
            .at(first_line)
            .help(format!(
                "write `ARG BASE_TAG` then `FROM {}:${{BASE_TAG}}` (or `ARG BASE_IMAGE` then `FROM ${{BASE_IMAGE}}`) so the child builds on the parent of the same run",
                parent.image_name
            )),
        ),
        Some(named) if named.arg.is_none() => out.push(
            Diagnostic::warning(format!(
                "image `{}` builds FROM {} with a fixed tag, not ${{BASE_TAG}}",
                image.key, parent.image_name
            ))
            .at(Some(Position {
                line: named.line,
                column: 1,
            }))
            .help(format!(
                "use `ARG BASE_TAG` and `FROM {}:${{BASE_TAG}}` so the child builds on the parent's tag of this branch",
                parent.image_name
            )),
        ),
        Some(_) => {}
    }
    out
}

/// Joins `/`-separated relative paths, treating `.` and `` as the root.
pub fn join(dir: &str, name: &str) -> String {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() || dir == "." {
        crate::change_set::normalize(name)
    } else {
        let mut path = String::with_capacity(dir.len() + 1 + name.len());
        path.push_str(dir);
        path.push('/');
        path.push_str(name);
        crate::change_set::normalize_owned(path)
    }
}
