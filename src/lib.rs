//! driftdeck: a terminal cockpit for GitOps operations.
//!
//! Module map (each line: what the module owns):
//! - `cli`       clap definitions of the command line (the contract in docs/cli.md)
//! - `commands`  what each command does, returning its exit code
//! - `config`    config.toml (instances, kube, theme, keymap) and where files live
//! - `model`     Argo CD types as the server writes them, status enums, the fleet, the filter
//! - `clients`   Argo CD REST client, watch stream and fleet watcher (typed errors, no UI)
//! - `demo`      the embedded demo fleet: generator, Argo CD API server, live drift
//! - `tui`       the terminal UI: model, pure update, rendering, keymaps, themes, runtime
//! - `headless`  snapshot and benchmarks
//! - `limits`    bounds on sizes, replies and YAML depth (hostile input stays cheap)
//! - `logging`   the log file
//! - `private`   private directories and files (0700/0600, no links followed, random temp dirs)
//! - `term`      text safe for a terminal (one sanitizer for every headless output)
//! - `util`      secrets, deterministic PRNG, durations, command splitting
#![forbid(unsafe_code)]

// First: its printing macros are used by the modules below.
#[macro_use]
pub mod term;

pub mod actions;
pub mod cli;
pub mod clients;
pub mod commands;
pub mod config;
pub mod decide;
pub mod demo;
pub mod diff;
pub mod headless;
pub mod health;
pub mod limits;
pub mod logging;
pub mod model;
pub mod private;
pub mod tui;
pub mod util;
pub mod windows;
