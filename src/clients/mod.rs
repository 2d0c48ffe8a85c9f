//! Clients of outside systems, each with typed errors and no knowledge of the screen.
pub mod argocd;
pub mod http;
