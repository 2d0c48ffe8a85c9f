//! The non-interactive commands' work: snapshots, decisions, benchmarks.
pub mod act;
/// The measurements of docs/performance.md (`--features bench`).
#[cfg(feature = "bench")]
pub mod bench;
/// `bench serve` (`--features bench`).
#[cfg(feature = "bench")]
pub mod bench_serve;
pub mod decide;
pub mod diffout;
pub mod files;
pub mod snapshot;
pub mod svg;
