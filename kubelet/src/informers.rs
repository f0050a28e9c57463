//! The kubelet's shared informers of Services and Endpoints: one list+watch
//! of each for everything on the node that reads them (the DNS server, the
//! node proxy), kept apart from both so neither depends on the other or on
//! the crate root.

use client::informer::SharedInformer;
use k8s_openapi::api::core::v1::{Endpoints, Service};
use std::sync::Arc;

/// The kubelet's shared informers of Services and of Endpoints, which the
/// DNS server and the node proxy read.
#[derive(Clone)]
pub struct ServiceInformers {
    pub services: Arc<SharedInformer<Service>>,
    pub endpoints: Arc<SharedInformer<Endpoints>>,
}
