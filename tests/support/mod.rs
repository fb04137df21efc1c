//! What the CLI tests (`tests/cli`) and the end-to-end tests (`tests/e2e`) share: fixture
//! repositories made with real git ([`repo`]), one way to run the binary ([`run`]), small
//! stacks written in the test ([`stacks`]) and the checks made on runs and plans
//! ([`checks`]). Each test binary includes it with `#[path = "../support/mod.rs"] mod
//! support;` and uses what it needs of it.

#![allow(dead_code)]

pub mod checks;
pub mod repo;
pub mod run;
pub mod stacks;

// Each test binary uses some of these.
#[allow(unused_imports)]
pub use checks::{buildx_accepts, ok, ok_as, rebuilds, succeeded, target, text};
#[allow(unused_imports)]
pub use repo::{Repo, copy_dir, example_images};
#[allow(unused_imports)]
pub use run::{Run, clean_env, console_commands, docs, shell_line, stackplan_command};
#[allow(unused_imports)]
pub use stacks::{Stack, on_base_image, small_stack};
