//! One file per kind with server-side rules of its own, each a [`Strategy`]
//! (see `crate::strategy`), and [`Strategies`]: the table, keyed by resource,
//! the registry looks a request's strategy up in. Every other kind gets the
//! [`generic::GenericStrategy`], whose rules are the trait's defaults.
//!
//! `ARCHITECTURE.md` at the top of the repository lists where each kind's
//! rules live and what adding a kind takes.

pub mod binding;
pub mod event;
pub mod generic;
pub mod namespace;
pub mod node;
pub mod pod;
pub mod secret;
pub mod service;
pub mod storage;

use crate::alloc::ServiceAllocator;
use crate::strategy::Strategy;
use api::ResourceInfo;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Every served resource's strategy, keyed by (group, plural).
pub struct Strategies {
    table: HashMap<(&'static str, &'static str), Arc<dyn Strategy>>,
}

impl Strategies {
    /// The strategies of every resource in `api::registry::RESOURCES`: the
    /// kinds below with their own files, the generic one for the rest.
    /// `services` allocates Services' IPs and ports; `event_ttl` is how long
    /// Events are kept after their last write (zero keeps them).
    pub fn new(services: Arc<ServiceAllocator>, event_ttl: Duration) -> Self {
        let mut table: HashMap<_, Arc<dyn Strategy>> = api::registry::RESOURCES
            .iter()
            .map(|info| ((info.group, info.plural), Arc::new(generic::GenericStrategy::new(info)) as Arc<dyn Strategy>))
            .collect();
        let own: [Arc<dyn Strategy>; 9] = [
            Arc::new(binding::BindingStrategy),
            Arc::new(event::EventStrategy::new(event_ttl)),
            Arc::new(namespace::NamespaceStrategy),
            Arc::new(node::NodeStrategy),
            Arc::new(pod::PodStrategy),
            Arc::new(secret::SecretStrategy),
            Arc::new(service::ServiceStrategy::new(services)),
            Arc::new(storage::PersistentVolumeStrategy),
            Arc::new(storage::PersistentVolumeClaimStrategy),
        ];
        for strategy in own {
            let info = strategy.info();
            table.insert((info.group, info.plural), strategy);
        }
        Self { table }
    }

    /// The strategy of a served resource.
    pub fn get(&self, info: &ResourceInfo) -> &dyn Strategy {
        match self.table.get(&(info.group, info.plural)) {
            Some(strategy) => strategy.as_ref(),
            // Only a ResourceInfo made outside the registry's list gets here.
            None => panic!("no strategy for {}: every resource in api::registry::RESOURCES has one", info.plural),
        }
    }
}

/// Looks a resource up in `api::registry`, for the kind files' `info()`.
fn lookup(resource: &str) -> &'static ResourceInfo {
    api::registry::lookup(resource).unwrap_or_else(|| panic!("{resource} are registered"))
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;
    use crate::store::mem::MemStore;

    /// The strategy of `resource` (any name kubectl accepts), as the registry has it.
    pub fn strategy(resource: &str) -> Arc<dyn Strategy> {
        let services = Arc::new(ServiceAllocator::new(Arc::new(MemStore::new()), Default::default()));
        let info = lookup(resource);
        Strategies::new(services, crate::registry::DEFAULT_EVENT_TTL).table[&(info.group, info.plural)].clone()
    }
}
