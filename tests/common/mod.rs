//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use driftdeck::clients::argocd::{ArgoClient, ClientOptions};
use driftdeck::config::InstanceConfig;
use driftdeck::demo::{DemoFleet, DemoOptions, FleetSpec};

/// The fixed clock of reproducible fleets: 2026-11-18T11:06:40Z.
pub const NOW: i64 = 1_795_000_000;

pub async fn demo(apps: usize, clusters: usize, instances: usize) -> DemoFleet {
    demo_with(apps, clusters, instances, |_| {}).await
}

pub async fn demo_with(
    apps: usize,
    clusters: usize,
    instances: usize,
    tweak: impl FnOnce(&mut DemoOptions),
) -> DemoFleet {
    driftdeck::clients::argocd::init_crypto();
    let mut o = DemoOptions {
        spec: FleetSpec {
            apps,
            clusters,
            instances,
            seed: 7,
        },
        now: Some(NOW),
        ..Default::default()
    };
    tweak(&mut o);
    DemoFleet::start(o).await.expect("demo servers start")
}

/// Client options for tests: short timeouts, quick retries.
pub fn fast() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
        retries: 1,
        retry_base: Duration::from_millis(20),
    }
}

pub fn client(cfg: &InstanceConfig) -> ArgoClient {
    ArgoClient::with_options(cfg, fast()).expect("client")
}

/// A file of the shared fixtures, or `None` (with a notice) when `../shared` is not here. Under
/// `CI=true` a missing fixture fails the test instead.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared")
        .join(rel);
    if p.exists() {
        return Some(p);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI=true but the shared fixture {} is missing", p.display());
    }
    eprintln!(
        "skipped: {} is not here (a clone without ../shared)",
        p.display()
    );
    None
}
