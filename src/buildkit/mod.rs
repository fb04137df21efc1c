//! Adapter: BuildKit's own API (gRPC), for `stackplan build` (the flow that drives it is
//! [`crate::flow::build`]) and `stackplan doctor`.
//!
//! [`address`] parses `--addr`; [`connect`] opens a channel per kind of daemon (tcp, unix,
//! the Docker engine's `/grpc`) and checks that a daemon has workers; [`session`] serves
//! what BuildKit calls back (health, registry credentials, and the target's folders through
//! [`filesync`]); [`solve`] turns a plan target into a
//! solve request; [`gateway`] solves it through BuildKit's gateway, children chained to
//! their parent's result in one graph;
//! [`event`] is what a build reports and the sink it reports to; [`progress`] renders those
//! events; [`schedule`] runs targets as their parents allow.

pub mod address;
pub mod connect;
pub mod event;
pub mod filesync;
pub mod gateway;
pub mod progress;
pub mod schedule;
pub mod session;
pub mod solve;
