//! End-to-end tests of the `stackplan` binary over fixture repositories made with real git.

mod action;
mod bake;
mod changes;
mod doctor;
mod errors;
mod golden;
mod inputs;
mod matrix;
mod promote;
mod real_stack;
mod recipes;
mod support;
mod workflows;
