//! The kubelab object model, shared by every component. No I/O lives here.
//!
//! Objects are Kubernetes' own schema (the `k8s-openapi` types). Components
//! read them typed, with the shared questions answered here ([`pod`], [`node`],
//! [`workload`]); defaulting and validation work on the JSON the user wrote, so
//! an error can name the field as written and a create decodes nothing twice.
//!
//! - [`registry`]: which kinds exist, their names, groups and etcd keys.
//! - [`error`]: the API error (`Status`) every component returns and prints.
//! - [`meta`]: metadata accessors on JSON objects.
//! - [`pod`], [`node`], [`workload`]: what every component asks of typed pods,
//!   nodes, Deployments and ReplicaSets (readiness, controller, QoS class, revision).
//! - [`time`]: timestamps as Kubernetes writes them.
//! - [`selector`]: label and field selectors.
//! - [`quantity`]: resource quantities (`500m`, `1Gi`).
//! - [`cron`]: CronJob schedules, parsed and run as robfig/cron does.
//! - [`duration`]: Go durations (`300ms`, `1h30m`), parsed and printed as Go does.
//! - [`validation`]: per-kind defaulting and validation, in Kubernetes' words.
//! - [`schema`]: unknown-field detection and `kubectl explain`.
//! - [`codec`]: reading YAML/JSON manifests and writing YAML as kubectl does.
//! - [`printers`]: the columns `kubectl get` shows per kind, and the server-side `Table`.

pub mod codec;
pub mod cron;
pub mod duration;
pub mod error;
pub mod meta;
pub mod node;
pub mod pod;
pub mod printers;
pub mod quantity;
pub mod registry;
pub mod schema;
pub mod selector;
pub mod time;
pub mod validation;
pub mod workload;

pub use error::{ApiError, FieldError, Reason, Result};
pub use k8s_openapi;
pub use registry::ResourceInfo;
