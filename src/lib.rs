//! stackplan: plan builds of a stack of Docker images and hand them to BuildKit.
//!
//! The crate is layered; a module uses its own layer and the ones above it in this list,
//! never one below (`scripts/check-layers.py` checks it):
//!
//! - core (no I/O): [`spec`] (parse + validate `spec.yml`), [`change_rules`]
//!   (`change_ignore.json`), [`change_set`] (the changed files, as data), [`dockerfile`]
//!   (what a Dockerfile is built `FROM` and reads), [`parent_from`] (which `FROM` builds on
//!   the parent, through which build arg), [`dockerignore`] (what BuildKit leaves out of a
//!   context), [`context`] (a build context as data, and its digest), [`inputs_digest`] (a
//!   target's inputs digest), [`ref_facts`] (what the registry said about refs), [`graph`]
//!   (the DAG), [`stack`] (the parts checked together), [`rebuild`] (what rebuilds and
//!   why), [`tag`], [`reference`](mod@reference) (image references), [`plan`] (the one value every output
//!   reads, each target's action included), [`emit`] (bake JSON, plan text/JSON/Markdown,
//!   graph, matrix), [`promote`] (which tag moves where), [`manifests`] (`info_cmds`
//!   outputs as pages), [`init`] (a first spec inferred from an images folder),
//!   [`test_record`] (what a test record is), [`diagnostic`] and [`error`] (what goes
//!   wrong, and where), [`parallel`] (work spread over the cores, results in order);
//! - adapters: [`fs`] (reading a checkout, writing files whole), [`context_reader`] (each
//!   image's build context from a checkout), [`git`], [`registry`] (OCI registries: which
//!   refs exist, tag copies, test records), [`buildkit`] (BuildKit's API), [`test_inputs`]
//!   (the files each target's tests read);
//! - flows: [`session`] (one run's runtime and registry client), [`flow`] (what a command
//!   runs, as library functions: planning, building, tag moves, test records, manifests,
//!   init, doctor);
//! - [`cli`]: the command line, on top of all: arguments → flow → print.

// Module docs link the private modules that hold a concept, for whoever reads the code
// (`cargo doc --document-private-items`); the public docs show those names as text.
#![allow(rustdoc::private_intra_doc_links)]

pub mod buildkit;
pub mod change_rules;
pub mod change_set;
pub mod cli;
pub mod context;
pub mod context_reader;
pub mod diagnostic;
pub mod dockerfile;
pub mod dockerignore;
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
