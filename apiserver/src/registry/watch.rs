//! Watches, as kube-apiserver serves them from its watch cache: one store
//! watch per resource shared by every watcher (see `crate::store::cache`),
//! each watcher's selectors applied to every event.

use super::filter::Filter;
use super::{parse_resource_version, storage_error, Registry, Result};
use crate::store::{EventKind, StoreEvent};
use api::ResourceInfo;
use bytes::Bytes;
use futures::stream::BoxStream;
use futures::StreamExt;
use serde_json::Value;

/// One event of a watch, ready to send: its type and the object as stored.
/// The JSON is shared with every other watcher of the same change.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchEvent {
    pub kind: &'static str,
    pub json: Bytes,
    pub resource_version: i64,
}

impl WatchEvent {
    /// The object with its resourceVersion stamped in.
    pub fn decode(&self) -> Result<Value> {
        super::from_kv(&self.json, self.resource_version)
    }
}

/// A watch as the registry serves it: ends after its first error.
pub type WatchEvents = BoxStream<'static, Result<WatchEvent>>;

impl Registry {
    /// Watches a collection: with `resource_version` "" or "0", an ADDED event
    /// per matching object first; then every change after it, in order. An
    /// object that stops (or starts) matching the selectors is reported as
    /// DELETED (or ADDED), as Kubernetes does.
    ///
    /// The stream is polled by whoever serves it (no task or channel of its
    /// own per watcher): a client that goes away drops it, and with it the
    /// store watch.
    pub async fn watch(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        label_selector: &str,
        field_selector: &str,
        resource_version: &str,
    ) -> Result<WatchEvents> {
        let filter = Filter::new(info, label_selector, field_selector)?;
        let prefix = info.namespace_prefix(namespace);
        // Every watch of a resource shares one store watch over the whole
        // collection; a namespace is a filter on keys.
        let collection = info.key_prefix();
        let mut initial = Vec::new();
        let from = match resource_version {
            "" | "0" => {
                let list = self.list_raw(info, namespace, label_selector, field_selector, 0, "").await?;
                initial.extend(list.items.into_iter().map(|object| {
                    Ok(WatchEvent {
                        kind: "ADDED",
                        json: object.json.into(),
                        resource_version: object.resource_version,
                    })
                }));
                list.resource_version
            }
            rv => parse_resource_version(rv)?.unwrap_or(0),
        };
        let events = self.store.watch(&collection, from).await.map_err(storage_error)?;
        let live = events.filter_map(move |item| {
            let out = match item {
                Ok(ev) if !ev.key.starts_with(&prefix) => None,
                Ok(ev) => translate(ev, &filter).transpose(),
                Err(e) => Some(Err(storage_error(e))),
            };
            std::future::ready(out)
        });
        // Nothing follows an error: the client must start again.
        let stream = futures::stream::iter(initial).chain(live).scan(false, |failed, item| {
            let next = (!*failed).then(|| {
                *failed = item.is_err();
                item
            });
            std::future::ready(next)
        });
        Ok(stream.boxed())
    }
}

/// Turns a storage event into the watch event a client with `filter` should see, if any.
fn translate(ev: StoreEvent, filter: &Filter) -> Result<Option<WatchEvent>> {
    let now = filter.matches_raw(&ev.value)?;
    let kind = match ev.kind {
        EventKind::Delete => now.then_some("DELETED"),
        EventKind::Put => {
            let before = match &ev.prev_value {
                Some(prev) => Some(filter.matches_raw(prev)?),
                None => None,
            };
            match (before, now) {
                (None, true) | (Some(false), true) => Some("ADDED"),
                (Some(true), true) => Some("MODIFIED"),
                (Some(true), false) => Some("DELETED"),
                _ => None,
            }
        }
    };
    Ok(kind.map(|kind| WatchEvent { kind, json: ev.value, resource_version: ev.revision }))
}
