//! End-to-end tests of the `stackplan` binary over fixture repositories made with real git.

mod action;
mod bake;
mod changes;
mod dockerfile;
mod doctor;
mod errors;
mod golden;
mod init;
mod inputs;
mod matrix;
mod parent_arg;
mod promote;
mod real_stack;
mod recipes;
#[path = "../support/mod.rs"]
mod support;
mod test_result;
mod variants;
mod workflows;
