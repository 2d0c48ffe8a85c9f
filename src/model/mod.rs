//! The domain's data: Argo CD objects as the API writes them, status enums, the fleet.
pub mod app;
pub mod appset;
pub mod dora;
pub mod filter;
pub mod fleet;
pub mod operation;
pub mod rollout;
pub mod status;
pub mod versions;
