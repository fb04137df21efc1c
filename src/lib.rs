//! stackplan: plan builds of a stack of Docker images and hand them to BuildKit.
//!
//! The crate is a pure core with adapters at its edges:
//!
//! - core (no I/O): [`spec`] (parse + validate `spec.yml`), [`change_rules`]
//!   (`change_ignore.json`), [`dockerfile`] (what a Dockerfile is built `FROM`),
//!   [`dockerignore`] (what BuildKit leaves out of a context), [`context`] (a build
//!   context as data, and its digest), [`graph`] (the DAG), [`stack`] (the parts checked
//!   together), [`change_set`], [`rebuild`] (what rebuilds and why), [`tag`],
//!   [`reference`], [`plan`] (the one value every output reads) and [`emit`] (bake JSON,
//!   plan text/JSON, graph);
//! - adapters: [`fs`] (reading a checkout, writing files whole), [`context_reader`] (each
//!   image's build context from a checkout), [`git`], [`registry`] (which tags exist),
//!   [`doctor`] (what this machine has for stackplan's flows);
//! - [`cli`]: the command line, on top of both; [`parallel`] spreads file work over the
//!   cores for the adapters.

pub mod buildkit;
pub mod change_rules;
pub mod change_set;
pub mod cli;
pub mod context;
pub mod context_reader;
pub mod diagnostic;
pub mod dockerfile;
pub mod dockerignore;
pub mod doctor;
pub mod emit;
pub mod error;
pub mod flow;
pub mod fs;
pub mod git;
pub mod graph;
pub mod init;
pub mod inputs_digest;
pub mod manifests;
pub mod parallel;
pub mod parent_from;
pub mod plan;
pub mod promote;
pub mod rebuild;
pub mod ref_facts;
pub mod reference;
pub mod registry;
pub mod session;
pub mod spec;
pub mod stack;
pub mod tag;
pub mod test_inputs;
pub mod test_record;

pub use error::{Error, Result};
