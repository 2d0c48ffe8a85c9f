//! A plain HTTP client for the context sources and the LLM endpoint: rustls, a time limit, no
//! proxy for loopback addresses.

use std::time::Duration;

/// A client with a total time limit per request.
pub fn client(url: &str, timeout: Duration) -> Result<reqwest::Client, String> {
    super::argocd::init_crypto();
    let host = url
        .split_once("://")
        .map(|(_, r)| r)
        .unwrap_or(url)
        .split(['/', ':'])
        .next()
        .unwrap_or("");
    let loopback =
        host == "localhost" || host.starts_with("127.") || host == "[" || host == "[::1]";
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .user_agent(concat!("driftdeck/", env!("CARGO_PKG_VERSION")))
        .tcp_nodelay(true);
    if loopback {
        b = b.no_proxy();
    }
    b.build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

/// `base` + `/` + `path`, without doubled slashes.
pub fn join(base: &str, path: &str) -> String {
    format!(
        "{}/{}",
        base.trim_end_matches('/'),
        path.trim_start_matches('/')
    )
}
