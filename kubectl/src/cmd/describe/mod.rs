//! `kubectl describe`: fetch the objects (a name that is not found is tried as
//! a prefix, as kubectl does), the related objects a kind's description needs
//! (events, pods, endpoints, ReplicaSets, a node's lease), and print each
//! description. One module per kind's layout, each reading the object as its
//! kind's `k8s-openapi` struct (decoded in [`describe`]); [`generic`] walks the
//! JSON of every other kind; [`writer`] holds what they share.

pub mod config;
pub mod deployment;
pub mod generic;
pub mod namespace;
pub mod node;
pub mod pod;
pub mod service;
pub mod storage;
pub mod workloads;
pub mod writer;

use super::shared::{fetch_manifest_objects, owned_replica_sets};
use super::{Ctx, Found};
use crate::cli::DescribeArgs;
use crate::error::{Error, Result};
use crate::printers::columns::{format_map, label_selector_string};
use crate::resource::{self, Selection};
use crate::typed::{decode, decode_all};
use api::k8s_openapi::api::apps::v1::{DaemonSet, ReplicaSet, StatefulSet};
use api::k8s_openapi::api::batch::v1::Job;
use api::k8s_openapi::api::coordination::v1::Lease;
use api::k8s_openapi::api::core::v1::{Endpoints, Event, Pod, ReplicationController};
use api::ResourceInfo;
use client::{Client, ListParams};
use jiff::Timestamp;
use serde_json::Value;
use writer::Writer;

/// What a description needs besides the object.
#[derive(Debug, Default)]
pub struct Related {
    /// `None`: events were not asked for (`--show-events=false`).
    pub events: Option<Vec<Event>>,
    /// Pods of a controller (matching its selector), or on a node.
    pub pods: Vec<Pod>,
    pub endpoints: Option<Endpoints>,
    /// The ReplicaSets a Deployment controls.
    pub replica_sets: Vec<ReplicaSet>,
    /// A node's lease in `kube-node-lease`, or why it could not be read.
    pub lease: Option<std::result::Result<Lease, String>>,
}

/// The description of one object: the kinds with a layout of their own read
/// it as their typed struct; any other kind, or an object that does not read
/// as its kind, gets the generic layout.
pub fn describe(info: &ResourceInfo, obj: &Value, rel: &Related, now: Timestamp) -> String {
    let mut w = Writer::default();
    let described = match info.kind {
        "Pod" => decode(obj).ok().map(|p| pod::pod(&mut w, &p)),
        "Node" => decode(obj).ok().map(|n| node::node(&mut w, &n, &rel.pods, rel.lease.as_ref(), now)),
        "ReplicationController" => decode(obj).ok().map(|rc| workloads::replication_controller(&mut w, &rc, &rel.pods)),
        "ReplicaSet" => decode(obj).ok().map(|rs| workloads::replica_set(&mut w, &rs, &rel.pods)),
        "Deployment" => decode(obj).ok().map(|d| deployment::deployment(&mut w, &d, &rel.replica_sets)),
        "DaemonSet" => decode(obj).ok().map(|ds| workloads::daemonset(&mut w, &ds, &rel.pods)),
        "StatefulSet" => decode(obj).ok().map(|sts| workloads::statefulset(&mut w, &sts, &rel.pods)),
        "Job" => decode(obj).ok().map(|j| workloads::job(&mut w, &j)),
        "CronJob" => decode(obj).ok().map(|cj| workloads::cronjob(&mut w, &cj)),
        "Service" => decode(obj).ok().map(|svc| service::service(&mut w, &svc, rel.endpoints.as_ref())),
        "ConfigMap" => decode(obj).ok().map(|cm| config::config_map(&mut w, &cm)),
        "PersistentVolume" => decode(obj).ok().map(|pv| storage::persistent_volume(&mut w, &pv)),
        "PersistentVolumeClaim" => {
            decode(obj).ok().map(|pvc| storage::persistent_volume_claim(&mut w, &pvc, &rel.pods))
        }
        "StorageClass" => decode(obj).ok().map(|sc| storage::storage_class(&mut w, &sc)),
        // kubectl shows a Secret's events never.
        "Secret" => {
            if let Ok(s) = decode(obj) {
                config::secret(&mut w, &s);
                return w.finish();
            }
            None
        }
        "Namespace" => {
            if let Ok(ns) = decode(obj) {
                namespace::namespace(&mut w, &ns);
                return w.finish();
            }
            None
        }
        _ => None,
    };
    if described.is_none() {
        w = Writer::default();
        generic::generic(&mut w, obj);
    }
    w.events(rel.events.as_deref(), now);
    w.finish()
}

/// Events about `obj`: matched by uid, or by kind, name and namespace. A node's
/// events may also carry its name as the uid (the kubelet's), as kubectl allows for.
pub fn events_for(obj: &Value, events: Vec<Event>) -> Vec<Event> {
    let uid = api::meta::uid(obj);
    let (kind, name, ns) = (api::meta::kind(obj), api::meta::name(obj), api::meta::namespace(obj));
    events
        .into_iter()
        .filter(|e| {
            let o = &e.involved_object;
            let field = |v: &Option<String>| v.clone().unwrap_or_default();
            let (o_kind, o_name, o_uid) = (field(&o.kind), field(&o.name), field(&o.uid));
            if kind == "Node" && o_kind == "Node" && o_name == name && o_uid == name {
                return true;
            }
            if !uid.is_empty() && !o_uid.is_empty() {
                return o_uid == uid;
            }
            o_kind == kind && o_name == name && field(&o.namespace) == ns
        })
        .collect()
}

pub async fn run(ctx: &mut Ctx, a: DescribeArgs) -> Result<()> {
    let found: Vec<Found> = if !a.filename.is_empty() {
        fetch_manifest_objects(ctx, &a.filename, a.recursive).await?
    } else {
        if a.args.is_empty() {
            return Err(Error::msg(
                "You must specify the type of resource to describe. Use \"kubectl api-resources\" for a complete \
                 list of supported resources.",
            ));
        }
        let selections = resource::parse_args(&a.args)?;
        crate::cmd::check_selection(&selections, a.selector.as_deref(), false)?;
        fetch_with_prefixes(ctx, &selections, &a).await?
    };
    if found.iter().all(|f| f.objects.is_empty()) {
        if !ctx.failed {
            let namespaced = found.iter().any(|f| f.info.namespaced);
            ctx.no_resources(namespaced, a.all_namespaces);
        }
        return Ok(());
    }
    let client = ctx.client().await?;
    let now = Timestamp::now();
    let mut first = true;
    for f in &found {
        for obj in &f.objects {
            let related = related(&client, f.info, obj, a.show_events).await?;
            let text = describe(f.info, obj, &related, now);
            if !first {
                ctx.print("\n\n");
            }
            first = false;
            ctx.print(&text);
        }
    }
    Ok(())
}

/// Named objects, falling back to name prefixes; unnamed selections are listed.
async fn fetch_with_prefixes(ctx: &mut Ctx, selections: &[Selection], a: &DescribeArgs) -> Result<Vec<Found>> {
    let client = ctx.client().await?;
    let mut found = Vec::new();
    for sel in selections {
        let ns = if a.all_namespaces { String::new() } else { ctx.ns(sel.info) };
        let mut objects = Vec::new();
        if sel.names.is_empty() {
            let params = ListParams { label_selector: a.selector.clone().unwrap_or_default(), ..Default::default() };
            objects = crate::cmd::items(sel.info, client.list(sel.info, &ns, &params).await?);
        }
        for name in &sel.names {
            match client.get(sel.info, &ns, name).await {
                Ok(obj) => objects.push(crate::printers::with_type_meta(sel.info, obj)),
                Err(e) if e.is_not_found() => {
                    let all = crate::cmd::items(sel.info, client.list(sel.info, &ns, &ListParams::default()).await?);
                    let matching: Vec<Value> =
                        all.into_iter().filter(|o| api::meta::name(o).starts_with(name.as_str())).collect();
                    if matching.is_empty() {
                        ctx.report_api(&e, None);
                    }
                    objects.extend(matching);
                }
                Err(e) => return Err(e.into()),
            }
        }
        found.push(Found { info: sel.info, objects });
    }
    Ok(found)
}

/// Fetches what a kind's description shows besides the object itself.
async fn related(client: &Client, info: &ResourceInfo, obj: &Value, show_events: bool) -> Result<Related> {
    let mut rel = Related::default();
    let ns = api::meta::namespace(obj).to_string();
    if show_events {
        let events_info = api::registry::lookup("events").expect("events are registered");
        let events = crate::cmd::items(events_info, client.list(events_info, &ns, &ListParams::default()).await?);
        rel.events = Some(events_for(obj, decode_all(&events)));
    }
    let pods = api::registry::lookup("pods").expect("pods are registered");
    if let Some(sel) = pod_selector(info, obj).filter(|s| s != "<none>") {
        let params = ListParams { label_selector: sel, ..Default::default() };
        rel.pods = decode_all(&crate::cmd::items(pods, client.list(pods, &ns, &params).await?));
    }
    if info.kind == "Node" {
        let name = api::meta::name(obj);
        // The pods kubectl counts against a node: bound to it and not finished.
        let params = ListParams {
            field_selector: format!("spec.nodeName={name},status.phase!=Failed,status.phase!=Succeeded"),
            ..Default::default()
        };
        rel.pods = decode_all(&crate::cmd::items(pods, client.list(pods, "", &params).await?));
        let leases = api::registry::lookup("leases").expect("leases are registered");
        let lease = client.get(leases, "kube-node-lease", name).await.map_err(|e| e.message);
        rel.lease = Some(lease.and_then(|l| decode(&l).map_err(|e| e.to_string())));
    }
    if info.kind == "PersistentVolumeClaim" {
        // "Used By": the namespace's pods, filtered by the description.
        rel.pods = decode_all(&crate::cmd::items(pods, client.list(pods, &ns, &ListParams::default()).await?));
    }
    if info.kind == "Deployment" {
        rel.replica_sets = owned_replica_sets(client, api::meta::namespace(obj), api::meta::uid(obj)).await?;
    }
    if info.kind == "Service" {
        let ep = api::registry::lookup("endpoints").expect("endpoints are registered");
        rel.endpoints = client.get(ep, &ns, api::meta::name(obj)).await.ok().and_then(|ep| decode(&ep).ok());
    }
    Ok(rel)
}

/// The label selector of a controller's pods, as a list request takes it.
fn pod_selector(info: &ResourceInfo, obj: &Value) -> Option<String> {
    match info.kind {
        "ReplicationController" => decode::<ReplicationController>(obj)
            .ok()
            .map(|rc| format_map(rc.spec.as_ref().and_then(|s| s.selector.as_ref()))),
        "ReplicaSet" => {
            decode::<ReplicaSet>(obj).ok().map(|rs| label_selector_string(rs.spec.as_ref().map(|s| &s.selector)))
        }
        "DaemonSet" => {
            decode::<DaemonSet>(obj).ok().map(|ds| label_selector_string(ds.spec.as_ref().map(|s| &s.selector)))
        }
        "StatefulSet" => {
            decode::<StatefulSet>(obj).ok().map(|s| label_selector_string(s.spec.as_ref().map(|s| &s.selector)))
        }
        "Job" => {
            decode::<Job>(obj).ok().map(|j| label_selector_string(j.spec.as_ref().and_then(|s| s.selector.as_ref())))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_statefulset_is_described_as_kubectl_does() {
        let info = api::registry::lookup("sts").unwrap();
        let sts = json!({"kind": "StatefulSet", "metadata": {"name": "kubia", "namespace": "default", "uid": "s1",
                "creationTimestamp": "2021-10-27T09:59:25Z"},
            "spec": {"replicas": 2, "serviceName": "kubia", "selector": {"matchLabels": {"app": "kubia"}},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                "template": {"metadata": {"labels": {"app": "kubia"}},
                    "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia-pet"}]}},
                "volumeClaimTemplates": [{"metadata": {"name": "data"},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}}}]},
            "status": {"replicas": 2}});
        let pod = json!({"metadata": {"name": "kubia-0", "ownerReferences": [{"apiVersion": "apps/v1",
            "kind": "StatefulSet", "name": "kubia", "uid": "s1", "controller": true}]}, "status": {"phase": "Running"}});
        let rel = Related { pods: decode_all(&[pod]), events: Some(vec![]), ..Related::default() };
        let text = describe(info, &sts, &rel, "2021-10-27T10:00:00Z".parse().unwrap());
        for line in [
            "Selector:           app=kubia\n",
            "Replicas:           2 desired | 2 total\n",
            "Update Strategy:    RollingUpdate\n  Partition:        0\n",
            "Pods Status:        1 Running / 0 Waiting / 0 Succeeded / 0 Failed\n",
            "Volume Claims:\n  Name:          data\n",
            "  Capacity:      1Mi\n  Access Modes:  [ReadWriteOnce]\n",
        ] {
            assert!(text.contains(line), "{line:?} not in\n{text}");
        }
        assert_eq!(pod_selector(info, &sts).as_deref(), Some("app=kubia"));
    }

    #[test]
    fn events_match_their_object() {
        let pod = json!({"kind": "Pod", "metadata": {"name": "kubia", "namespace": "default", "uid": "u1"}});
        let events = vec![
            json!({"involvedObject": {"kind": "Pod", "name": "kubia", "namespace": "default", "uid": "u1"}, "reason": "a"}),
            json!({"involvedObject": {"kind": "Pod", "name": "kubia", "namespace": "default", "uid": "old"}, "reason": "b"}),
            json!({"involvedObject": {"kind": "Pod", "name": "kubia", "namespace": "default"}, "reason": "c"}),
            json!({"involvedObject": {"kind": "Pod", "name": "other", "namespace": "default"}, "reason": "d"}),
        ];
        let reasons: Vec<String> =
            events_for(&pod, decode_all(&events)).into_iter().map(|e| e.reason.unwrap()).collect();
        assert_eq!(reasons, ["a", "c"]);
        let node = json!({"kind": "Node", "metadata": {"name": "n1", "uid": "n-uid"}});
        let events = vec![
            json!({"involvedObject": {"kind": "Node", "name": "n1", "uid": "n-uid"}, "reason": "RegisteredNode"}),
            json!({"involvedObject": {"kind": "Node", "name": "n1", "uid": "n1"}, "reason": "NodeReady"}),
            json!({"involvedObject": {"kind": "Node", "name": "n2", "uid": "n2"}, "reason": "Other"}),
        ];
        let reasons: Vec<String> =
            events_for(&node, decode_all(&events)).into_iter().map(|e| e.reason.unwrap()).collect();
        assert_eq!(reasons, ["RegisteredNode", "NodeReady"]);
    }
}
