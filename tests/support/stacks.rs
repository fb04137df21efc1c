//! Small stacks written in the test: a spec of flow-mapping entries and one Dockerfile an
//! image, committed on `main`, with a nonce in the images' steps so that each run builds
//! new images.

use super::repo::Repo;

/// A stack being written, image by image.
pub struct Stack {
    spec: String,
    files: Vec<(String, String)>,
}

/// The children of the tree most build tests use, root → {a, b}; a → a1: `(key, parent)`
/// in the order the spec lists them.
pub const TREE: [(&str, &str); 3] = [("a", "root"), ("b", "root"), ("a1", "a")];

/// A Dockerfile `FROM ${BASE_IMAGE}` (the base image for a root, the parent's ref of the
/// run for a child: stackplan sets it) with `steps` after.
pub fn on_base_image(steps: &str) -> String {
    format!("ARG BASE_IMAGE\nFROM ${{BASE_IMAGE}}\n{steps}")
}

impl Stack {
    pub fn new() -> Stack {
        Stack::with_spec_head("tag: {prefix: '1'}\nimages:\n")
    }

    /// A stack whose spec starts with `head` (its top-level keys, ending in `images:`).
    pub fn with_spec_head(head: &str) -> Stack {
        Stack {
            spec: head.to_string(),
            files: Vec::new(),
        }
    }

    /// Image `key`, named `image_name`, on `depend_on` when given, built from `dockerfile`.
    pub fn image(
        mut self,
        key: &str,
        image_name: &str,
        depend_on: Option<&str>,
        dockerfile: &str,
    ) -> Stack {
        match depend_on {
            Some(parent) => self.spec.push_str(&format!(
                "  {key}: {{image_name: {image_name}, depend_on: {parent}}}\n"
            )),
            None => self
                .spec
                .push_str(&format!("  {key}: {{image_name: {image_name}}}\n")),
        }
        self.file(&format!("images/{key}/Dockerfile"), dockerfile)
    }

    /// The [`TREE`]'s children, each named `image_name(key)` and built from
    /// `dockerfile(key, parent)`.
    pub fn tree(
        mut self,
        image_name: impl Fn(&str) -> String,
        dockerfile: impl Fn(&str, &str) -> String,
    ) -> Stack {
        for (key, parent) in TREE {
            self = self.image(
                key,
                &image_name(key),
                Some(parent),
                &dockerfile(key, parent),
            );
        }
        self
    }

    /// Another file of the stack (a context file, an ignore file).
    pub fn file(mut self, path: &str, contents: &str) -> Stack {
        self.files.push((path.to_string(), contents.to_string()));
        self
    }

    /// The repository holding the stack, committed on `main`.
    pub fn repo(mut self) -> Repo {
        self.files.push(("images/spec.yml".into(), self.spec));
        Repo::with_files(&self.files)
    }
}

/// Four tiny images on the base image, the [`TREE`] named `ghcr.io/g/KEY`, tag prefix `1`,
/// each image one `RUN echo` with `nonce` in it (a new nonce, new images); the children
/// name their parent `FROM ghcr.io/g/PARENT:${BASE_TAG}`.
pub fn small_stack(nonce: &str) -> Repo {
    Stack::new()
        .image(
            "root",
            "ghcr.io/g/root",
            None,
            &on_base_image(&format!("RUN echo root {nonce} > /l\n")),
        )
        .tree(
            |key| format!("ghcr.io/g/{key}"),
            |key, parent| {
                format!(
                    "ARG BASE_TAG=latest\nFROM ghcr.io/g/{parent}:${{BASE_TAG}}\nRUN echo {key} {nonce} >> /l\n"
                )
            },
        )
        .repo()
}
