//! driftdeck: a terminal cockpit for GitOps operations.
//!
//! Module map (each line: what the module owns; imports point down this list's layers: the
//! front ends `tui`, `headless`, `commands` and `demo` over the domain, the domain over
//! `model`, `config` and the small shared modules):
//! - `cli`        clap definitions of the command line (the contract in docs/cli.md)
//! - `commands`   what each command does, returning its exit code
//! - `tui`        the terminal UI: model, pure update, rendering, keymaps, themes, runtime
//! - `headless`   the non-interactive commands' output: snapshot, actions, decisions, diffs
//! - `demo`       the embedded demo fleet: generator, Argo CD and Kubernetes APIs, live drift
//! - `actions`    sync, refresh, terminate, rollback, defer, annotate, adopt, resource actions:
//!   plans and execution
//! - `decide`     decisions: facts, policy, advisors, guardrails, context, journal, replay
//! - `diff`       live-vs-Git diffs: normalization, computation, highlighting
//! - `health`     resource health, Argo CD's semantics
//! - `windows`    sync windows: whether a sync is allowed now, and when next
//! - `clients`    Argo CD REST client and watch, Kubernetes (logs followed, objects described),
//!   Prometheus, Alertmanager, PagerDuty
//! - `model`      Argo CD types as the server writes them, status enums, the fleet, the filter,
//!   Rollouts, ApplicationSets, versions per environment, an operation's phases
//! - `config`     config.toml and its sections, the argocd CLI's config, where files live
//! - `file_error` a problem in a user's file, located (the one error type of file readers)
//! - `limits`     bounds on sizes, replies and YAML depth (hostile input stays cheap)
//! - `logging`    the log file
//! - `private`    private directories and files (0700/0600, no links followed, random temp dirs)
//! - `term`       text safe for a terminal (one sanitizer for every headless output)
//! - `util`       secrets, deterministic PRNG, durations, command splitting
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
pub mod file_error;
pub mod headless;
pub mod health;
pub mod limits;
pub mod logging;
pub mod mcp;
pub mod model;
pub mod private;
pub mod serve;
pub mod tui;
pub mod util;
pub mod windows;
