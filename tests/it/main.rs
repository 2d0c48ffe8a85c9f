//! The integration tests, as one binary (one link for all of them): each module is a file of
//! tests, `common` their shared helpers. They drive the library and the `driftdeck` binary
//! against the demo servers and real third-party tools. `tests/login.rs` and `tests/llm.rs`
//! are binaries of their own: they set environment variables before any thread runs, which a
//! shared binary cannot promise.
#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

mod actions;
mod actions_tui;
mod argocd_live;
mod argocd_mcp;
mod autonomy;
mod cli;
mod client;
mod common;
mod context;
mod crash;
mod decide;
mod decisions_tui;
mod deploy;
mod diff;
mod drift_age;
mod faults;
mod fuzz;
mod guardrails;
mod health;
mod hooks;
mod hostile;
mod kube_demo;
mod kubectl;
mod mcp;
mod opa;
mod python_client;
mod resource_actions;
mod screens;
mod secrets;
mod serve;
mod swagger;
mod themes_keymaps;
mod tmux;
