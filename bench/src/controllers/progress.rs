//! What a pod watch has shown so far: which pods were created, which run and
//! which are gone, from the events alone, so the scenario can tell when a
//! ReplicationController reached a count and which pod is a replacement.

use serde_json::Value;
use std::collections::BTreeSet;

/// Pods seen by one watch of a namespace.
#[derive(Debug, Default, Clone)]
pub struct Progress {
    /// Every pod ever ADDED (names are never reused: the RC generates them).
    pub created: BTreeSet<String>,
    /// Pods that exist now.
    pub live: BTreeSet<String>,
    /// Existing pods whose phase is Running.
    pub running: BTreeSet<String>,
    /// Existing pods being deleted (with a deletionTimestamp).
    pub terminating: BTreeSet<String>,
}

/// What one event changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A pod not seen before.
    Created(String),
    Deleted(String),
    Other,
}

impl Progress {
    /// Every existing pod is being deleted (also when none exists).
    pub fn all_terminating(&self) -> bool {
        self.live.iter().all(|name| self.terminating.contains(name))
    }

    /// Takes in one watch event (`ADDED`, `MODIFIED`, `DELETED`).
    pub fn observe(&mut self, kind: &str, pod: &Value) -> Change {
        let Some(name) = pod["metadata"]["name"].as_str() else {
            return Change::Other;
        };
        if kind == "DELETED" {
            self.live.remove(name);
            self.running.remove(name);
            self.terminating.remove(name);
            return Change::Deleted(name.to_string());
        }
        let new = self.created.insert(name.to_string());
        self.live.insert(name.to_string());
        // A pod being deleted gracefully no longer counts as running.
        let terminating = !pod["metadata"]["deletionTimestamp"].is_null();
        if terminating {
            self.terminating.insert(name.to_string());
        }
        let running = pod["status"]["phase"] == "Running" && !terminating;
        if running {
            self.running.insert(name.to_string());
        } else {
            self.running.remove(name);
        }
        if kind == "ADDED" && new {
            Change::Created(name.to_string())
        } else {
            Change::Other
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, phase: &str) -> Value {
        json!({"metadata": {"name": name}, "status": {"phase": phase}})
    }

    #[test]
    fn counts_creations_running_pods_and_deletions() {
        let mut p = Progress::default();
        assert_eq!(p.observe("ADDED", &pod("a", "Pending")), Change::Created("a".into()));
        assert_eq!(p.observe("ADDED", &pod("b", "Pending")), Change::Created("b".into()));
        assert_eq!(p.observe("MODIFIED", &pod("a", "Running")), Change::Other);
        assert_eq!((p.created.len(), p.live.len(), p.running.len()), (2, 2, 1));
        assert!(!p.all_terminating());
        assert_eq!(p.observe("DELETED", &pod("a", "Running")), Change::Deleted("a".into()));
        assert_eq!((p.created.len(), p.live.len(), p.running.len()), (2, 1, 0));
        // A terminating pod is not running; a re-ADDED known name is not a creation.
        let mut terminating = pod("b", "Running");
        terminating["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        assert_eq!(p.observe("MODIFIED", &terminating), Change::Other);
        assert!(p.running.is_empty());
        assert!(p.all_terminating());
        assert_eq!(p.observe("ADDED", &pod("b", "Running")), Change::Other);
        assert_eq!(p.observe("ADDED", &json!({"metadata": {}})), Change::Other);
        assert_eq!(p.observe("DELETED", &pod("b", "Running")), Change::Deleted("b".into()));
        assert!(p.terminating.is_empty() && p.live.is_empty());
    }
}
