//! Deletion, as kube-apiserver's generic registry does it: preconditions,
//! graceful deletion (an object is marked with `deletionTimestamp` and a grace
//! period when its strategy says so, and goes once its finalizers and its
//! strategy are done, see `Registry::update`), and the Orphan and Foreground
//! propagation policies, which summon the garbage collector with a finalizer.

use super::{check_name, encode, storage_error, Registry, Result, MAX_RETRIES};
use crate::store::StoreError;
use api::{meta, ApiError, FieldError, Reason, ResourceInfo};
use serde_json::{json, Value};

/// Options of a delete, as Kubernetes' `DeleteOptions`.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    pub grace_period_seconds: Option<i64>,
    pub precondition_uid: String,
    pub precondition_resource_version: String,
    pub propagation_policy: String,
}

impl Registry {
    /// Deletes an object as Kubernetes does: the kind's strategy says whether
    /// the object is only marked (`deletionTimestamp` and a grace period: pods
    /// on a node, namespaces, objects with finalizers) or goes at once.
    pub async fn delete(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Value> {
        check_name(info, name)?;
        let strategy = self.strategy(info);
        strategy.check_delete(name)?;
        let gc_finalizer = propagation_finalizer(&opts.propagation_policy)?;
        for _ in 0..MAX_RETRIES {
            let (mut obj, kv) = self.read(info, namespace, name).await?;
            check_preconditions(info, &obj, opts)?;
            // Orphan and Foreground deletion are carried out by the garbage
            // collector, which a finalizer summons; the object waits for it.
            if let Some(f) = gc_finalizer {
                if !meta::finalizers(&obj).contains(&f) && meta::deletion_timestamp(&obj).is_none() {
                    let mut list: Vec<Value> = obj["metadata"]["finalizers"].as_array().cloned().unwrap_or_default();
                    list.push(f.into());
                    meta::set_meta(&mut obj, "finalizers", list);
                }
            }
            let mark = strategy.delete_grace(&obj, opts);
            let result = match mark {
                Some(grace) => {
                    if meta::deletion_timestamp(&obj).is_some()
                        && obj["metadata"]["deletionGracePeriodSeconds"].as_i64().is_some_and(|g| g <= grace)
                    {
                        return Ok(obj);
                    }
                    let deadline = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
                    meta::set_meta(&mut obj, "deletionTimestamp", api::time::format(deadline));
                    meta::set_meta(&mut obj, "deletionGracePeriodSeconds", grace);
                    strategy.prepare_for_delete(&mut obj);
                    self.store.update(&kv.key, encode(&obj)?, kv.mod_revision).await.map(|rev| {
                        meta::set_resource_version(&mut obj, rev);
                        obj
                    })
                }
                None => self.store.delete(&kv.key, Some(kv.mod_revision)).await.map(|d| {
                    meta::set_resource_version(&mut obj, d.mod_revision);
                    obj
                }),
            };
            match result {
                Ok(o) => {
                    if mark.is_none() {
                        strategy.after_delete(&o).await;
                    }
                    return Ok(o);
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound) => return Err(ApiError::not_found(&info.group_resource(), name)),
                Err(e) => return Err(storage_error(e)),
            }
        }
        Err(ApiError::conflict(&info.group_resource(), name))
    }

    /// Deletes every object of a collection that matches the selectors; returns them as a list.
    pub async fn delete_collection(
        &self,
        info: &ResourceInfo,
        namespace: &str,
        label_selector: &str,
        field_selector: &str,
        opts: &DeleteOptions,
    ) -> Result<Value> {
        let list = self.list(info, namespace, label_selector, field_selector, 0, "").await?;
        let mut deleted = Vec::new();
        for item in list["items"].as_array().into_iter().flatten() {
            match self.delete(info, meta::namespace(item), meta::name(item), opts).await {
                Ok(obj) => deleted.push(obj),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json!({"apiVersion": info.api_version(), "kind": info.list_kind(), "metadata": {}, "items": deleted}))
    }
}

/// The finalizer that asks the garbage collector for a propagation policy, if any.
fn propagation_finalizer(policy: &str) -> Result<Option<&'static str>> {
    match policy {
        "" | "Background" => Ok(None),
        "Orphan" => Ok(Some("orphan")),
        "Foreground" => Ok(Some("foregroundDeletion")),
        other => Err(ApiError::invalid(
            "DeleteOptions",
            "",
            vec![FieldError::not_supported(
                "propagationPolicy",
                format!("{other:?}"),
                &["Foreground", "Background", "Orphan"],
            )],
        )),
    }
}

fn check_preconditions(info: &ResourceInfo, obj: &Value, opts: &DeleteOptions) -> Result<()> {
    let failed = |what: &str, wanted: &str, actual: &str| {
        Err(ApiError::new(
            Reason::Conflict,
            format!(
                "Operation cannot be fulfilled on {} \"{}\": Precondition failed: {what} in precondition: {wanted}, {what} in object meta: {actual}",
                info.group_resource(),
                meta::name(obj)
            ),
        ))
    };
    if !opts.precondition_uid.is_empty() && opts.precondition_uid != meta::uid(obj) {
        return failed("UID", &opts.precondition_uid, meta::uid(obj));
    }
    if !opts.precondition_resource_version.is_empty()
        && opts.precondition_resource_version != meta::resource_version(obj)
    {
        return failed("ResourceVersion", &opts.precondition_resource_version, meta::resource_version(obj));
    }
    Ok(())
}
