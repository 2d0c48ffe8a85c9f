//! The non-interactive commands' work: snapshots and benchmarks.
pub mod bench;
pub mod diffout;
pub mod files;
pub mod snapshot;
