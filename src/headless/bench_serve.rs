//! `driftdeck bench serve`: `driftdeck serve` as it runs for a team, measured from outside.
//! Three processes: the demo servers (a fleet with a share of its apps drifted, more drifting
//! as it runs), the daemon, and this one, which samples the daemon's CPU and resident memory
//! from /proc, reads its /metrics, times scrapes, and finally starts a second replica and
//! kills the first to time the failover.

use std::fmt::Write;
use std::io::BufRead;
use std::time::{Duration, Instant};

/// CPU seconds (user + system) and resident MiB of a process.
fn proc_sample(pid: u32) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some((ticks / 100.0, kb / 1024.0))
}

/// The sum of a metric's samples (all label sets) in an exposition.
fn metric_sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| {
            l.starts_with(name)
                && l[name.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c == '{' || c == ' ')
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() - 1) as f64 * p).round() as usize]
}

struct Daemon {
    child: std::process::Child,
    addr: String,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_daemon(
    config: &std::path::Path,
    name: &str,
    data: &std::path::Path,
) -> Result<Daemon, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = std::process::Command::new(exe)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("DRIFTDECK_CONFIG", config)
        .env("DRIFTDECK_DATA_DIR", data)
        .env("DRIFTDECK_LOG_DIR", data.join("logs"))
        .env("POD_NAME", name)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start driftdeck serve: {e}"))?;
    let err = child.stderr.take().ok_or("no stderr")?;
    let mut first = String::new();
    std::io::BufReader::new(err)
        .read_line(&mut first)
        .map_err(|e| e.to_string())?;
    let addr = first
        .split(" on ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .ok_or_else(|| format!("driftdeck serve did not start: {first}"))?
        .to_string();
    Ok(Daemon { child, addr })
}

async fn get(http: &reqwest::Client, url: &str) -> Option<String> {
    http.get(url).send().await.ok()?.text().await.ok()
}

pub async fn serve(
    apps: usize,
    drifted: f64,
    minutes: u64,
    drift_every: &str,
) -> Result<String, String> {
    let mut out = String::new();
    // The demo servers: 2 instances, 50 clusters.
    let share = drifted.to_string();
    let (demo, _) = super::bench::serve_child_with(
        apps,
        50,
        2,
        0,
        &["--drifted", &share, "--drift-every", drift_every],
    )
    .await?;
    let path = demo.config.clone();
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut cfg = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
    cfg.push_str("\n[serve]\n");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, cfg).map_err(|e| e.to_string())?;
    let _ = writeln!(
        out,
        "driftdeck bench serve: {apps} apps over 2 instances, {:.0}% drifted at the start, something drifting every {drift_every}, {minutes} min",
        drifted * 100.0
    );

    let t0 = Instant::now();
    let a = start_daemon(&config, "bench-a", &dir.path().join("a"))?;
    let pid = a.child.id();
    let http = reqwest::Client::new();
    let metrics_url = format!("http://{}/metrics", a.addr);
    let mut samples: Vec<(f64, f64, f64)> = Vec::new(); // (secs, cpu secs, rss MiB)
    let mut first_pass: Option<(f64, f64)> = None; // (secs, decisions)
    let mut initial: Option<f64> = None;
    let end = t0 + Duration::from_secs(minutes * 60);
    while Instant::now() < end {
        if let Some((cpu, rss)) = proc_sample(pid) {
            samples.push((t0.elapsed().as_secs_f64(), cpu, rss));
        }
        if first_pass.is_none()
            && let Some(text) = get(&http, &metrics_url).await
        {
            let out_of_sync = text
                .lines()
                .filter(|l| {
                    l.starts_with("driftdeck_app_info{") && l.contains("sync=\"OutOfSync\"")
                })
                .count() as f64;
            let listed = metric_sum(&text, "driftdeck_app_info") >= apps as f64 * 0.99;
            if initial.is_none() && listed {
                initial = Some(out_of_sync);
            }
            let decided = metric_sum(&text, "driftdeck_decisions_total")
                + metric_sum(&text, "driftdeck_decision_errors_total");
            if let Some(n) = initial
                && decided >= n
            {
                first_pass = Some((t0.elapsed().as_secs_f64(), decided));
            }
        }
        tokio::time::sleep(if first_pass.is_none() {
            Duration::from_millis(500)
        } else {
            Duration::from_secs(5)
        })
        .await;
    }
    let text = get(&http, &metrics_url).await.unwrap_or_default();
    let decisions = metric_sum(&text, "driftdeck_decisions_total");
    let errors = metric_sum(&text, "driftdeck_decision_errors_total");
    let secs_sum = metric_sum(&text, "driftdeck_decision_seconds_sum");
    let secs_count = metric_sum(&text, "driftdeck_decision_seconds_count").max(1.0);
    let events = metric_sum(&text, "driftdeck_events_total");
    match (initial, first_pass) {
        (Some(n), Some((t, _))) => {
            let _ = writeln!(
                out,
                "first pass: {n:.0} drifted apps decided, journaled and written as Events {t:.1} s after start (listing both instances included)"
            );
        }
        (n, _) => {
            let _ = writeln!(
                out,
                "first pass: not complete in the run ({} drifted at the start)",
                n.map_or("?".into(), |n| format!("{n:.0}"))
            );
        }
    }
    let _ = writeln!(
        out,
        "decisions in {minutes} min: {decisions:.0} ({errors:.0} could not be made), mean {:.0} ms each; {events:.0} Events written",
        secs_sum / secs_count * 1000.0
    );
    if let (Some(first), Some(last)) = (samples.first(), samples.last()) {
        let span = (last.0 - first.0).max(1.0);
        let cpu_all = (last.1 - first.1) / span * 100.0;
        let half = samples
            .iter()
            .find(|s| s.0 >= last.0 / 2.0)
            .unwrap_or(first);
        let cpu_steady = (last.1 - half.1) / (last.0 - half.0).max(1.0) * 100.0;
        let mut rss: Vec<f64> = samples.iter().map(|s| s.2).collect();
        let rss_end = last.2;
        let _ = writeln!(
            out,
            "CPU: {:.1} s in all, {cpu_all:.1}% of one core on average, {cpu_steady:.1}% over the second half (steady state)",
            last.1
        );
        let _ = writeln!(
            out,
            "RSS: p50 {:.0} MiB, max {:.0} MiB, at the end {rss_end:.0} MiB",
            pct(&mut rss.clone(), 0.5),
            pct(&mut rss, 1.0)
        );
    }
    // Scrapes at this fleet size.
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..50 {
        let t = Instant::now();
        let body = get(&http, &metrics_url).await.unwrap_or_default();
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        bytes = body.len();
    }
    let series = text.lines().filter(|l| !l.starts_with('#')).count();
    let _ = writeln!(
        out,
        "/metrics at {apps} apps: {series} series, {:.1} MB; scrape median {:.1} ms, p99 {:.1} ms (50 scrapes)",
        bytes as f64 / 1e6,
        pct(&mut times.clone(), 0.5),
        pct(&mut times, 0.99)
    );
    // Failover with the default Lease (15 s, renew deadline 10 s, retry 2 s).
    let b = start_daemon(&config, "bench-b", &dir.path().join("b"))?;
    let ready = |d: &Daemon| format!("http://{}/readyz", d.addr);
    let t = Instant::now();
    loop {
        let body = get(&http, &ready(&b)).await.unwrap_or_default();
        if body.matches("follower of bench-a").count() == 2 {
            break;
        }
        if t.elapsed() > Duration::from_secs(120) {
            return Err("the second replica never followed the first".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut a = a;
    let killed = Instant::now();
    a.child.kill().map_err(|e| e.to_string())?;
    let _ = a.child.wait();
    loop {
        let body = get(&http, &ready(&b)).await.unwrap_or_default();
        if body.matches("leader, deciding").count() == 2 {
            break;
        }
        if killed.elapsed() > Duration::from_secs(120) {
            return Err("the second replica never took over".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = writeln!(
        out,
        "failover (default Lease: 15 s, renew deadline 10 s, retry 2 s): the follower led both shards and had read the decided drifts {:.1} s after the leader was killed (SIGKILL)",
        killed.elapsed().as_secs_f64()
    );
    drop(b);
    drop(demo);
    Ok(out)
}
