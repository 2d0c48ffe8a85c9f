//! driftdeck: a terminal cockpit for GitOps operations.
//!
//! Module map (each line: what the module owns):
//! - `config`   config.toml (instances, kube, theme, keymap) and where files live
//! - `model`    Argo CD types as the server writes them, status enums, the aggregated fleet
//! - `clients`  Argo CD REST client, watch stream and fleet watcher (typed errors, no UI)
//! - `demo`     the embedded demo fleet: generator, Argo CD API server, live drift
//! - `util`     secrets, deterministic PRNG, durations, command splitting
#![forbid(unsafe_code)]

pub mod clients;
pub mod config;
pub mod demo;
pub mod model;
pub mod util;
