//! Resource versions as etcd gives them: one counter per cluster, a new version only when an
//! object really changed, a window of history older versions fall out of (compaction), and
//! `metadata.generation` bumped by a change of `spec`.
//!
//! The demo renders objects from its state on every read, so versions are given when an
//! object is seen: the first sighting, and every sighting whose content differs from the last.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::{Value, json};

/// The first resource version a demo cluster gives out.
pub const START: u64 = 200_000;
/// How many versions of history a cluster keeps: a watch or a continue token older than that
/// is 410 Gone, as after an etcd compaction.
pub const WINDOW: u64 = 20_000;

#[derive(Debug)]
pub struct Versions {
    /// The last version given out: a list's `metadata.resourceVersion`.
    pub counter: u64,
    /// The oldest version a watch or a continue token may start from.
    pub floor: u64,
    seen: HashMap<String, Seen>,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    hash: u64,
    spec: u64,
    rv: u64,
    /// The version it was first seen at (a watch from before it sends ADDED).
    created: u64,
    generation: i64,
}

impl Default for Versions {
    fn default() -> Self {
        Versions {
            counter: START,
            floor: START,
            seen: HashMap::new(),
        }
    }
}

fn hash(v: &Value) -> u64 {
    let mut h = DefaultHasher::new();
    serde_json::to_vec(v).unwrap_or_default().hash(&mut h);
    h.finish()
}

/// The key of an object in a cluster.
pub fn key(plural: &str, v: &Value) -> String {
    format!(
        "{plural}/{}/{}",
        v["metadata"]["namespace"].as_str().unwrap_or(""),
        v["metadata"]["name"].as_str().unwrap_or("")
    )
}

impl Versions {
    /// Gives `v` its resource version (and generation): the same as last time when nothing
    /// changed, the next one otherwise. Returns the version it was first seen at.
    pub fn stamp(&mut self, key: &str, v: &mut Value) -> u64 {
        if let Some(m) = v["metadata"].as_object_mut() {
            m.shift_remove("resourceVersion");
        }
        let h = hash(v);
        let spec = hash(&v["spec"]);
        let rendered_gen = v["metadata"]["generation"].as_i64();
        let seen = match self.seen.get(key).copied() {
            Some(s) if s.hash == h => s,
            Some(s) => {
                self.counter += 1;
                let generation = if s.spec != spec {
                    s.generation + 1
                } else {
                    s.generation
                };
                Seen {
                    hash: h,
                    spec,
                    rv: self.counter,
                    created: s.created,
                    generation,
                }
            }
            None => {
                self.counter += 1;
                Seen {
                    hash: h,
                    spec,
                    rv: self.counter,
                    created: self.counter,
                    generation: rendered_gen.unwrap_or(1),
                }
            }
        };
        self.seen.insert(key.to_string(), seen);
        self.floor = self.floor.max(self.counter.saturating_sub(WINDOW));
        if let Some(m) = v["metadata"].as_object_mut() {
            m.insert("resourceVersion".into(), json!(seen.rv.to_string()));
            if rendered_gen.is_some() {
                m.insert("generation".into(), json!(seen.generation));
            }
        }
        if rendered_gen.is_some()
            && let Some(st) = v["status"].as_object_mut()
            && st.contains_key("observedGeneration")
        {
            // The demo's controllers act at once: they have observed what they were given.
            st.insert("observedGeneration".into(), json!(seen.generation));
        }
        seen.created
    }

    /// What a dry run answers: the generation the change would give, the version unchanged
    /// (nothing was stored).
    pub fn peek(&self, key: &str, v: &mut Value) {
        let spec = hash(&v["spec"]);
        let Some(s) = self.seen.get(key) else {
            return;
        };
        let generation = if s.spec != spec {
            s.generation + 1
        } else {
            s.generation
        };
        if let Some(m) = v["metadata"].as_object_mut() {
            m.insert("resourceVersion".into(), json!(s.rv.to_string()));
            if m.contains_key("generation") {
                m.insert("generation".into(), json!(generation));
            }
        }
    }

    /// Whether a watch or continue from version `rv` is still within history.
    pub fn too_old(&self, rv: u64) -> bool {
        rv < self.floor
    }
}

/// The resource version of a served object.
pub fn rv_of(v: &Value) -> u64 {
    v["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_moves_only_with_the_content_and_a_spec_change_bumps_the_generation() {
        let mut vs = Versions::default();
        let mut a = json!({"metadata": {"name": "a", "generation": 3}, "spec": {"replicas": 1}, "status": {"observedGeneration": 3}});
        vs.stamp("d/ns/a", &mut a);
        let first = rv_of(&a);
        let mut again = a.clone();
        vs.stamp("d/ns/a", &mut again);
        assert_eq!(rv_of(&again), first, "nothing changed");
        let mut meta = a.clone();
        meta["metadata"]["labels"] = json!({"x": "y"});
        meta["metadata"]["generation"] = json!(3);
        vs.stamp("d/ns/a", &mut meta);
        assert!(rv_of(&meta) > first);
        assert_eq!(meta["metadata"]["generation"], 3, "labels are not spec");
        let mut spec = meta.clone();
        spec["spec"]["replicas"] = json!(2);
        spec["metadata"]["generation"] = json!(3);
        vs.stamp("d/ns/a", &mut spec);
        assert_eq!(spec["metadata"]["generation"], 4);
        assert_eq!(spec["status"]["observedGeneration"], 4);
        assert!(!vs.too_old(START));
    }
}
