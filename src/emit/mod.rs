//! Emitters: each turns a [`crate::plan::Plan`] into one output format. They only read the
//! plan; none of them decides anything.

pub mod bake;
pub mod graph;
pub mod matrix;
pub mod plan_json;
pub mod plan_markdown;
pub mod plan_text;
pub mod pretty_json;
pub mod satisfied;
