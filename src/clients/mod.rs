//! Clients of outside systems, each with typed errors and no knowledge of the screen.
pub mod alertmanager;
pub mod argocd;
pub mod describe;
pub mod http;
pub mod kube;
pub mod pagerduty;
pub mod prometheus;
pub mod team;
