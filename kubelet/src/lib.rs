//! The kubelab kubelet: the node agent.
//!
//! - [`pods`]: a worker per pod bound to the node, the relist loop, status and backoff rules.
//! - [`runtime`]: the container runtime trait, Docker and the fake.
//! - [`probe`]: liveness, readiness and startup probes.
//! - [`api`]: what the kubelet writes to the API (status, deletions, events).
//! - [`clock`]: wall time that tests can pause, and Kubernetes' time formats.

pub mod api;
pub mod clock;
pub mod pods;
pub mod probe;
pub mod runtime;
