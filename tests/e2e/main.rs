//! End-to-end tests against the real engine and registry that `scripts/env-up.sh` starts:
//! Docker engine with its embedded BuildKit, buildx, registries on 127.0.0.1:5000 (anonymous)
//! and 127.0.0.1:5001 (htpasswd). They fail, saying how to start the environment, when it
//! is not up — unless `STACKPLAN_E2E=skip` is set explicitly.

#[path = "../support/mod.rs"]
mod support;

mod bake_build;
mod build_flow;
mod build_gateway;
mod build_grpc;
mod build_push;
mod env;
mod image;
mod jupyter_layout;
mod no_gateway;
mod oracle;
mod parent_args;
mod pinned_parent;
mod platforms;
mod promote_publish;
mod real_registries;
mod registry_probe;
mod registry_writes;
mod reuse;
mod scale_out;
mod secrets;
mod syntax_frontend;
mod test_records;
