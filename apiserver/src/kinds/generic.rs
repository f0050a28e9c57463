//! The strategy of every kind without rules of its own (ReplicationController,
//! ReplicaSet, Deployment, DaemonSet, Job, CronJob, Endpoints, Lease,
//! ConfigMap, StorageClass): the
//! `Strategy` trait's defaults. Their defaults and validation are in
//! `api::validation`, chosen there by kind; those with a status subresource
//! count spec changes in `metadata.generation`; a delete removes them at once
//! unless finalizers (or an Orphan/Foreground propagation policy, which adds
//! one) make it wait.

use crate::strategy::Strategy;
use api::ResourceInfo;

pub struct GenericStrategy {
    info: &'static ResourceInfo,
}

impl GenericStrategy {
    pub fn new(info: &'static ResourceInfo) -> Self {
        Self { info }
    }
}

impl Strategy for GenericStrategy {
    fn info(&self) -> &'static ResourceInfo {
        self.info
    }
}
