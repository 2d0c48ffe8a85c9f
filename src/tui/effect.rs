//! Side effects as data: `update` returns them, the runtime performs them.

use crate::model::fleet::{AppKey, InstanceId};

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Quit,
    /// List and watch an instance's fleet for as long as the app runs.
    WatchInstance(InstanceId),
    FetchApp {
        req: u64,
        key: AppKey,
    },
    FetchTree {
        req: u64,
        key: AppKey,
    },
    FetchEvents {
        req: u64,
        key: AppKey,
    },
    /// Abandon a request whose result is no longer wanted.
    Cancel(u64),
}
