//! Leader election through a `coordination.k8s.io/v1` Lease, as client-go's leaderelection
//! does it, on kube-rs:
//! - a Lease that does not exist is created with us as its holder (409: someone was faster);
//! - a Lease held by another is left alone until its record has not changed for its lease
//!   duration, measured on our own clock from when we saw it change (clocks of two hosts are
//!   never compared);
//! - taking or renewing it is a replace from the version we read: a 409 means another replica
//!   won, and we follow;
//! - a leader that could not renew within the renew deadline stops acting before anyone else
//!   may take the Lease (`renew_deadline < lease_duration`);
//! - on a clean stop the leader releases the Lease (no holder), so the next takes over at once.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::PostParams;
use serde_json::{Value, json};
use tokio::time::Instant;

/// What one round of the election concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Leader,
    /// Another replica holds it (its identity; empty when released and not yet taken).
    Follower(String),
}

pub struct Elector {
    api: Api<Lease>,
    pub name: String,
    pub identity: String,
    pub duration: Duration,
    pub renew_deadline: Duration,
    /// The record last seen (holder, renew time, transitions), and when it was seen to change.
    observed: Option<(String, Instant)>,
    /// The last successful take or renewal, while leading.
    renewed: Option<Instant>,
    /// Leadership changes counted by this elector (for logs).
    pub transitions: u64,
}

fn micro_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

fn record_of(spec: &Value) -> String {
    format!(
        "{}|{}|{}|{}",
        spec["holderIdentity"].as_str().unwrap_or(""),
        spec["renewTime"].as_str().unwrap_or(""),
        spec["leaseTransitions"].as_i64().unwrap_or(0),
        spec["leaseDurationSeconds"].as_i64().unwrap_or(0)
    )
}

fn kube_error(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    }
}

fn conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

impl Elector {
    pub fn new(
        client: kube::Client,
        namespace: &str,
        name: &str,
        identity: &str,
        duration: Duration,
        renew_deadline: Duration,
    ) -> Elector {
        Elector {
            api: Api::namespaced(client, namespace),
            name: name.to_string(),
            identity: identity.to_string(),
            duration,
            renew_deadline,
            observed: None,
            renewed: None,
            transitions: 0,
        }
    }

    /// Whether we lead now: a renewal within the renew deadline.
    pub fn leading(&self) -> bool {
        self.renewed
            .is_some_and(|t| t.elapsed() < self.renew_deadline)
    }

    /// Until when acting is safe: no other replica can take the Lease before our last renewal
    /// plus its duration.
    pub fn valid_until(&self) -> Option<Instant> {
        self.renewed.map(|t| t + self.duration)
    }

    /// How long the Lease's record has stayed unchanged (None before it was read).
    pub fn unchanged_for(&self) -> Option<Duration> {
        self.observed.as_ref().map(|(_, t)| t.elapsed())
    }

    fn spec(&self, now: chrono::DateTime<chrono::Utc>, acquired: &str, transitions: i64) -> Value {
        json!({
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.duration.as_secs().max(1),
            "acquireTime": acquired,
            "renewTime": micro_time(now),
            "leaseTransitions": transitions,
        })
    }

    /// One round: create, renew or take the Lease. Another's Lease counts as expired when its
    /// record has stayed unchanged for `expiry` (the lease duration, or longer for a replica
    /// that already leads its share of shards).
    pub async fn try_acquire_or_renew(&mut self, expiry: Duration) -> Result<Role, String> {
        let now = chrono::Utc::now();
        let current = match self.api.get_opt(&self.name).await {
            Ok(c) => c,
            Err(e) => return Err(kube_error(&e)),
        };
        // A replica that already leads its share waits longer than the lease duration before it
        // takes a shard nobody holds (`expiry` beyond it): the other replicas get there first.
        let patient = expiry > self.duration;
        let Some(lease) = current else {
            let record = "<absent>".to_string();
            if self.observed.as_ref().is_none_or(|(r, _)| *r != record) {
                self.observed = Some((record, Instant::now()));
            }
            let waited = self.unchanged_for().unwrap_or_default();
            if patient && waited < expiry {
                return Ok(Role::Follower(String::new()));
            }
            let t = micro_time(now);
            let lease: Lease = serde_json::from_value(json!({
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name},
                "spec": self.spec(now, &t, 0),
            }))
            .map_err(|e| e.to_string())?;
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(l) => {
                    self.became_leader(&l);
                    Ok(Role::Leader)
                }
                Err(e) if conflict(&e) => Ok(Role::Follower(String::new())),
                Err(e) => Err(kube_error(&e)),
            };
        };
        let v = serde_json::to_value(&lease).map_err(|e| e.to_string())?;
        let spec = &v["spec"];
        let record = record_of(spec);
        if self.observed.as_ref().is_none_or(|(r, _)| *r != record) {
            self.observed = Some((record, Instant::now()));
        }
        let holder = spec["holderIdentity"].as_str().unwrap_or("").to_string();
        let mine = holder == self.identity;
        let unchanged = self.unchanged_for().unwrap_or_default();
        if !mine {
            self.renewed = None;
            // A released Lease (no holder) is free at once; a held one once it expired.
            let free = (holder.is_empty() && !patient) || unchanged >= expiry;
            if !free {
                return Ok(Role::Follower(holder));
            }
        }
        let transitions = spec["leaseTransitions"].as_i64().unwrap_or(0);
        let (acquired, transitions) = if mine {
            (
                spec["acquireTime"]
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| micro_time(now)),
                transitions,
            )
        } else {
            (micro_time(now), transitions + 1)
        };
        let mut next = v.clone();
        next["spec"] = self.spec(now, &acquired, transitions);
        let next: Lease = serde_json::from_value(next).map_err(|e| e.to_string())?;
        match self
            .api
            .replace(&self.name, &PostParams::default(), &next)
            .await
        {
            Ok(l) => {
                if !mine {
                    tracing::info!(lease = %self.name, previous = %holder, "took over the lease");
                }
                self.became_leader(&l);
                Ok(Role::Leader)
            }
            Err(e) if conflict(&e) => {
                self.renewed = None;
                Ok(Role::Follower(holder))
            }
            Err(e) => Err(kube_error(&e)),
        }
    }

    fn became_leader(&mut self, l: &Lease) {
        if self.renewed.is_none() {
            self.transitions += 1;
        }
        self.renewed = Some(Instant::now());
        let v = serde_json::to_value(l).unwrap_or_default();
        self.observed = Some((record_of(&v["spec"]), Instant::now()));
    }

    /// Gives the Lease up (a clean stop): no holder, so the next replica takes it at once.
    pub async fn release(&mut self) -> Result<(), String> {
        if self.renewed.take().is_none() {
            return Ok(());
        }
        let lease = self.api.get(&self.name).await.map_err(|e| kube_error(&e))?;
        let mut v = serde_json::to_value(&lease).map_err(|e| e.to_string())?;
        if v["spec"]["holderIdentity"].as_str() != Some(self.identity.as_str()) {
            return Ok(());
        }
        let now = micro_time(chrono::Utc::now());
        v["spec"]["holderIdentity"] = Value::Null;
        v["spec"]["leaseDurationSeconds"] = json!(1);
        v["spec"]["renewTime"] = json!(now);
        v["spec"]["acquireTime"] = json!(now);
        let next: Lease = serde_json::from_value(v).map_err(|e| e.to_string())?;
        self.api
            .replace(&self.name, &PostParams::default(), &next)
            .await
            .map(|_| ())
            .map_err(|e| kube_error(&e))
    }
}

/// The Lease of a shard: `driftdeck-` and the instance's name, as a Kubernetes name.
pub fn lease_name(instance: &str) -> String {
    let mut n: String = instance
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    n = n
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    format!("driftdeck-{}", if n.is_empty() { "default" } else { &n })
}
