//! Node: cluster-scoped, written by its kubelet. Its status is a subresource,
//! but its spec changes are not counted in `metadata.generation` (as in
//! Kubernetes' node strategy). Defaulting (`status.allocatable` defaults to
//! `status.capacity`) and validation are in `api::validation`.

use crate::strategy::Strategy;
use api::ResourceInfo;

pub struct NodeStrategy;

impl Strategy for NodeStrategy {
    fn info(&self) -> &'static ResourceInfo {
        super::lookup("nodes")
    }

    fn counts_generation(&self) -> bool {
        false
    }
}
