//! Adapter: BuildKit's own API (gRPC), for `stackplan build`.
//!
//! [`address`] parses `--addr`; [`connect`] opens a channel per kind of daemon (tcp, unix,
//! the Docker engine's `/grpc`); [`session`] serves what BuildKit calls back (health,
//! registry credentials, and the target's folders through [`filesync`]); [`solve`] turns a
//! plan target into a solve request; [`gateway`] solves it through BuildKit's gateway,
//! children chained to their parent's result in one graph; [`progress`] renders the status
//! stream; [`schedule`] runs targets as their parents allow.

pub mod address;
pub mod connect;
pub mod filesync;
pub mod gateway;
pub mod progress;
pub mod schedule;
pub mod session;
pub mod solve;
