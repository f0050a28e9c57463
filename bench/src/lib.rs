//! kubelab's benchmarks. Each scenario brings up what it measures (etcd, the
//! apiserver, ...) as processes on this machine, or uses a running cluster it
//! is pointed at, drives load from many concurrent clients, and reports its
//! numbers next to a baseline and the target.
//!
//! - [`stats`]: latency histograms, throughput, ratios and their formatting.
//! - [`report`]: the results table, for the terminal and as Markdown.

pub mod report;
pub mod stats;
