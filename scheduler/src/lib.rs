//! The kubelab scheduler: watches pods that wait for a node, picks one for
//! each through filter and score plugins, and binds it through the
//! `pods/binding` subresource, as kube-scheduler does.
//!
//! - [`quantity`], [`resources`]: Kubernetes quantities and pod requests.
//! - [`pod_info`], [`node_info`]: pods and nodes as the plugins see them.
//! - [`framework`], [`plugins`]: the plugin traits, the plugins, the failure message.
//! - [`algorithm`]: one decision (filter, sample, score, pick).
//! - [`cache`]: node totals, with assumed pods counted before the watch confirms them.
//! - [`queue`]: active, backoff and unschedulable pods.
//! - [`scheduling`]: the state machine tying them together, without I/O.
//! - [`testing`]: pod and node builders for tests and benchmarks.

pub mod algorithm;
pub mod cache;
pub mod framework;
pub mod node_info;
pub mod plugins;
pub mod pod_info;
pub mod quantity;
pub mod queue;
pub mod resources;
pub mod scheduling;
pub mod testing;
