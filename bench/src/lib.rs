//! kubelab's benchmarks. Each scenario brings up what it measures (etcd, the
//! apiserver, ...) as processes on this machine, or uses a running cluster it
//! is pointed at, drives load from many concurrent clients, and reports its
//! numbers next to a baseline and the target.
//!
//! - [`api`]: the apiserver against raw etcd (creates, gets, lists, watches, memory).
//! - [`controllers`]: a ReplicationController on hollow nodes: replacement
//!   reaction time and scale-up against bare creates, with every process's memory.
//! - [`cluster`]: starting and stopping etcd and the apiserver; reading their memory.
//! - [`load`]: the closed-loop driver with one task and connection per client.
//! - [`watch`]: watch delivery latency across many watchers.
//! - [`stats`]: latency histograms, throughput, ratios and their formatting.
//! - [`report`]: the results table, for the terminal and as Markdown.
//! - [`pod`]: the pod every scenario writes.
//! - [`density`]: pod startup latency and throughput on hollow nodes vs raw etcd puts.
//! - [`scheduling`]: the `scheduler` scenario: pending → bound at several node counts.
//! - [`all`]: every local scenario and `report.md` with SVG plots ([`svg`]).
//! - [`stack`]: the hollow-node stack, raw etcd puts and the stamped pod watch.
//! - [`startup`]: pod startup latency on a running compose cluster against raw
//!   Docker, and the cluster's idle memory.
//! - [`services`]: on a running compose cluster, GETs straight to a pod vs
//!   through its Service's node proxy, and endpoint propagation after readiness.

pub mod all;
pub mod api;
pub mod cluster;
pub mod controllers;
pub mod density;
pub mod load;
pub mod pod;
pub mod report;
pub mod scheduling;
pub mod services;
pub mod stack;
pub mod startup;
pub mod stats;
pub mod svg;
pub mod watch;
