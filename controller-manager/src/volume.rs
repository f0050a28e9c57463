//! The persistent volume controller: kube-controller-manager's
//! `persistentvolume-binder` with the `pvc-protection` and `pv-protection`
//! controllers, and a hostPath provisioner (minikube's
//! `k8s.io/minikube-hostpath`, here `kubelab.io/hostpath`) for the default
//! `standard` StorageClass.
//!
//! - A Pending claim is bound to the smallest Available volume that has its
//!   access modes, at least its storage request, its class (`""` means no
//!   class; an unset class becomes the default class's name, retroactively,
//!   when one exists) and matches its selector; a claim naming `volumeName`
//!   is bound to that volume. Binding sets the volume's `claimRef` and phase
//!   Bound, then the claim's `volumeName`, its annotations
//!   (`pv.kubernetes.io/bind-completed`, `bound-by-controller`), phase Bound,
//!   capacity and access modes, in Kubernetes' order.
//! - A claim of a class whose provisioner is `kubelab.io/hostpath` (or
//!   minikube's `k8s.io/minikube-hostpath`, as the book's `fast` class says) gets a new
//!   volume `pvc-<claim uid>` of its size (reclaim policy from the class)
//!   whose hostPath is a directory under `/tmp/hostpath-provisioner/`
//!   (created by the kubelet, `DirectoryOrCreate`); with
//!   `volumeBindingMode: WaitForFirstConsumer` only once a pod using the
//!   claim is scheduled. Every node shares that path (the kubelet's
//!   `--shared-paths`, a network share in effect), so the volume has no node
//!   affinity: a pod using it may run, and move, anywhere.
//! - A volume whose claim is gone is Released (Retain) or deleted (Delete);
//!   deleting one the provisioner made deletes its directory too.
//! - A claim being deleted keeps its finalizer while a pod that is not
//!   finished uses it; a volume being deleted keeps its own while Bound.

use crate::runner::{Action, Controller, Result, Watch};
use crate::Context;
use api::k8s_openapi::api::core::v1::{
    HostPathVolumeSource, ObjectReference, PersistentVolume, PersistentVolumeClaim, PersistentVolumeClaimStatus,
    PersistentVolumeSpec, PersistentVolumeStatus, Pod,
};
use api::k8s_openapi::api::storage::v1::StorageClass;
use api::k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use api::k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use api::selector::LabelSelector;
use client::events::{EventRecorder, EventType};
use client::informer::{Change, SharedInformer};
use client::queue::WorkQueue;
use client::watcher::key_of;
use client::{Api, Client, Object};
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub const PROVISIONER: &str = "kubelab.io/hostpath";
/// minikube's name for the same provisioner, which the book's `fast` class names.
pub const MINIKUBE_PROVISIONER: &str = "k8s.io/minikube-hostpath";
/// Where provisioned volumes live on the node, as minikube's provisioner keeps them.
pub const PROVISIONED_ROOT: &str = "/tmp/hostpath-provisioner";
const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";
const PV_PROTECTION: &str = "kubernetes.io/pv-protection";
const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";
const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
const STORAGE_PROVISIONER: &str = "volume.kubernetes.io/storage-provisioner";
const BETA_STORAGE_PROVISIONER: &str = "volume.beta.kubernetes.io/storage-provisioner";
const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// kube-controller-manager's `--pvclaimbinder-sync-period`.
const SYNC_PERIOD: Duration = Duration::from_secs(15);

pub struct VolumeController {
    client: Client,
    pvs: Arc<SharedInformer<PersistentVolume>>,
    pvcs: Arc<SharedInformer<PersistentVolumeClaim>>,
    classes: Arc<SharedInformer<StorageClass>>,
    pods: Arc<SharedInformer<Pod>>,
    recorder: EventRecorder,
    /// Where the nodes' shared paths, and so the provisioned volumes, live.
    shared_root: PathBuf,
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref().and_then(|a| a.get(key)).map(String::as_str)
}

fn set_annotation(meta: &mut ObjectMeta, key: &str, value: &str) {
    meta.annotations.get_or_insert_with(BTreeMap::new).insert(key.into(), value.into());
}

fn storage(map: Option<&BTreeMap<String, Quantity>>) -> Option<api::quantity::Quantity> {
    map.and_then(|m| m.get("storage")).and_then(|q| api::quantity::parse(&q.0).ok())
}

fn request(pvc: &PersistentVolumeClaim) -> Option<api::quantity::Quantity> {
    storage(pvc.spec.as_ref().and_then(|s| s.resources.as_ref()).and_then(|r| r.requests.as_ref()))
}

fn pvc_class(pvc: &PersistentVolumeClaim) -> Option<&str> {
    pvc.spec.as_ref().and_then(|s| s.storage_class_name.as_deref())
}

fn pv_class(pv: &PersistentVolume) -> &str {
    pv.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()).unwrap_or("")
}

fn volume_name(pvc: &PersistentVolumeClaim) -> &str {
    pvc.spec.as_ref().and_then(|s| s.volume_name.as_deref()).unwrap_or("")
}

fn phase_of_pv(pv: &PersistentVolume) -> &str {
    pv.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

fn phase_of_pvc(pvc: &PersistentVolumeClaim) -> &str {
    pvc.status.as_ref().and_then(|s| s.phase.as_deref()).unwrap_or("")
}

fn claim_ref(pv: &PersistentVolume) -> Option<&ObjectReference> {
    pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref())
}

fn claim_key(r: &ObjectReference) -> String {
    format!("{}/{}", r.namespace.as_deref().unwrap_or(""), r.name.as_deref().unwrap_or(""))
}

/// Whether the volume's claimRef names this claim (by uid when it has one).
fn refers_to(r: &ObjectReference, pvc: &PersistentVolumeClaim) -> bool {
    r.namespace.as_deref() == Some(pvc.namespace())
        && r.name.as_deref() == Some(pvc.name())
        && r.uid.as_deref().is_none_or(|u| u.is_empty() || u == pvc.uid())
}

/// The claims a pod's volumes name.
pub fn claims_of(pod: &Pod) -> impl Iterator<Item = &str> {
    let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_deref()).unwrap_or_default();
    volumes.iter().filter_map(|v| v.persistent_volume_claim.as_ref()).map(|c| c.claim_name.as_str())
}

fn finished(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

/// Whether `pv` can serve `pvc` (`FindMatchingVolume`'s checks).
fn satisfies(pv: &PersistentVolume, pvc: &PersistentVolumeClaim, class: &str) -> bool {
    let (Some(spec), Some(claim)) = (pv.spec.as_ref(), pvc.spec.as_ref()) else { return false };
    if pv.metadata.deletion_timestamp.is_some() || pv_class(pv) != class {
        return false;
    }
    let mode = |m: Option<&String>| m.map_or("Filesystem", String::as_str).to_string();
    if mode(spec.volume_mode.as_ref()) != mode(claim.volume_mode.as_ref()) {
        return false;
    }
    let have = spec.access_modes.as_deref().unwrap_or_default();
    if !claim.access_modes.as_deref().unwrap_or_default().iter().all(|m| have.contains(m)) {
        return false;
    }
    match (storage(spec.capacity.as_ref()), request(pvc)) {
        (Some(cap), Some(req)) if cap >= req => {}
        _ => return false,
    }
    match claim.selector.as_ref().map(LabelSelector::from_k8s) {
        None => true,
        Some(Ok(sel)) => sel.matches(pv.metadata.labels.as_ref().unwrap_or(&BTreeMap::new())),
        Some(Err(_)) => false,
    }
}

impl VolumeController {
    pub fn new(ctx: &Context) -> Self {
        Self {
            client: ctx.client.clone(),
            pvs: ctx.factory.typed(),
            pvcs: ctx.factory.typed(),
            classes: ctx.factory.typed(),
            pods: ctx.factory.typed(),
            recorder: EventRecorder::new(ctx.client.clone(), "persistentvolume-controller", ""),
            shared_root: ctx.config.shared_root.clone(),
        }
    }

    fn event(&self, pvc: &PersistentVolumeClaim, kind: EventType, reason: &'static str, message: String) {
        self.record(client::events::reference_to(pvc), kind, reason, message);
    }

    fn record(&self, target: ObjectReference, kind: EventType, reason: &'static str, message: String) {
        let recorder = self.recorder.clone();
        tokio::spawn(async move { recorder.record(&target, kind, reason, &message).await });
    }

    fn default_class(&self) -> Option<Arc<StorageClass>> {
        let mut defaults: Vec<_> =
            self.classes.store().list().into_iter().filter(|c| api::printers::is_default_class(&c.metadata)).collect();
        // Kubernetes picks the newest default when there are several.
        defaults.sort_by(|a, b| {
            (a.metadata.creation_timestamp.as_ref().map(|t| t.0), a.name())
                .cmp(&(b.metadata.creation_timestamp.as_ref().map(|t| t.0), b.name()))
        });
        defaults.pop()
    }

    fn pvc_api(&self, ns: &str) -> Api<PersistentVolumeClaim> {
        Api::namespaced(&self.client, ns)
    }

    fn pv_api(&self) -> Api<PersistentVolume> {
        Api::all(&self.client)
    }

    async fn sync_claim(&self, pvc: Arc<PersistentVolumeClaim>) -> Result<Action> {
        if pvc.metadata.deletion_timestamp.is_some() {
            return self.release_claim_finalizer(&pvc).await;
        }
        if pvc_class(&pvc).is_none() {
            if let Some(class) = self.default_class() {
                let mut with_class = (*pvc).clone();
                with_class.spec.get_or_insert_with(Default::default).storage_class_name =
                    Some(class.name().to_string());
                self.pvc_api(pvc.namespace()).update(&with_class).await?;
                return Ok(Action::Done);
            }
        }
        let class = pvc_class(&pvc).unwrap_or("").to_string();
        let named = volume_name(&pvc).to_string();
        if !named.is_empty() {
            let Some(pv) = self.pvs.store().get(&named) else {
                if phase_of_pvc(&pvc) == "Bound" {
                    self.set_claim_phase(&pvc, "Lost").await?;
                    self.event(
                        &pvc,
                        EventType::Warning,
                        "ClaimLost",
                        "Bound claim has lost its PersistentVolume. Data on the volume is lost!".into(),
                    );
                }
                return Ok(Action::Done);
            };
            return match claim_ref(&pv) {
                Some(r) if refers_to(r, &pvc) => self.bind(&pv, &pvc).await,
                None if satisfies(&pv, &pvc, pv_class(&pv)) => self.bind(&pv, &pvc).await,
                _ => {
                    let msg = format!("volume {named:?} already bound to a different claim.");
                    self.event(&pvc, EventType::Warning, "FailedBinding", msg);
                    Ok(Action::Done)
                }
            };
        }
        // A volume pre-bound to this claim, else the smallest that fits.
        let pvs = self.pvs.store().list();
        let prebound = pvs.iter().find(|pv| claim_ref(pv).is_some_and(|r| refers_to(r, &pvc)));
        let chosen = prebound.cloned().or_else(|| {
            pvs.iter()
                .filter(|pv| claim_ref(pv).is_none() && satisfies(pv, &pvc, &class))
                .min_by_key(|pv| storage(pv.spec.as_ref().and_then(|s| s.capacity.as_ref())))
                .cloned()
        });
        if let Some(pv) = chosen {
            return self.bind(&pv, &pvc).await;
        }
        if class.is_empty() {
            self.event(
                &pvc,
                EventType::Warning,
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set".into(),
            );
            return Ok(Action::RequeueAfter(SYNC_PERIOD));
        }
        let Some(sc) = self.classes.store().get(&class) else {
            let msg = format!("storageclass.storage.k8s.io {class:?} not found");
            self.event(&pvc, EventType::Warning, "ProvisioningFailed", msg);
            return Ok(Action::RequeueAfter(SYNC_PERIOD));
        };
        if sc.provisioner != PROVISIONER && sc.provisioner != MINIKUBE_PROVISIONER {
            let msg = format!(
                "Waiting for a volume to be created either by the external provisioner '{}' or manually by the \
                 system administrator. If volume creation is delayed, please verify that the provisioner is running \
                 and correctly registered.",
                sc.provisioner
            );
            self.event(&pvc, EventType::Normal, "ExternalProvisioning", msg);
            return Ok(Action::RequeueAfter(SYNC_PERIOD));
        }
        if sc.volume_binding_mode.as_deref() == Some("WaitForFirstConsumer") && self.consumer_node(&pvc).is_none() {
            let msg = "waiting for first consumer to be created before binding".to_string();
            self.event(&pvc, EventType::Normal, "WaitForFirstConsumer", msg);
            return Ok(Action::Done);
        }
        self.provision(&pvc, &sc).await
    }

    /// The node a scheduled pod using the claim runs on (the scheduler's
    /// `volume.kubernetes.io/selected-node` when set).
    fn consumer_node(&self, pvc: &PersistentVolumeClaim) -> Option<String> {
        if let Some(node) = annotation(&pvc.metadata, SELECTED_NODE) {
            return Some(node.to_string());
        }
        self.pods.store().list_namespace(pvc.namespace()).into_iter().find_map(|pod| {
            let node = pod.spec.as_ref().and_then(|s| s.node_name.clone()).filter(|n| !n.is_empty())?;
            claims_of(&pod).any(|c| c == pvc.name()).then_some(node)
        })
    }

    async fn provision(&self, pvc: &PersistentVolumeClaim, sc: &StorageClass) -> Result<Action> {
        let name = format!("pvc-{}", pvc.uid());
        if self.pvs.store().get(&name).is_some() {
            return Ok(Action::Done);
        }
        let mut annotated = pvc.clone();
        if annotation(&pvc.metadata, STORAGE_PROVISIONER).is_none() {
            set_annotation(&mut annotated.metadata, STORAGE_PROVISIONER, &sc.provisioner);
            set_annotation(&mut annotated.metadata, BETA_STORAGE_PROVISIONER, &sc.provisioner);
            self.pvc_api(pvc.namespace()).update(&annotated).await?;
            let msg =
                format!("External provisioner is provisioning volume for claim \"{}/{}\"", pvc.namespace(), pvc.name());
            self.event(pvc, EventType::Normal, "Provisioning", msg);
        }
        let claim = pvc.spec.clone().unwrap_or_default();
        let capacity =
            claim.resources.as_ref().and_then(|r| r.requests.as_ref()).and_then(|r| r.get("storage")).cloned();
        let pv = PersistentVolume {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                annotations: Some(BTreeMap::from([(PROVISIONED_BY.to_string(), sc.provisioner.clone())])),
                ..Default::default()
            },
            spec: Some(PersistentVolumeSpec {
                access_modes: claim.access_modes.clone(),
                capacity: capacity.map(|c| BTreeMap::from([("storage".to_string(), c)])),
                claim_ref: Some(client::events::reference_to(pvc)),
                host_path: Some(HostPathVolumeSource {
                    path: format!("{PROVISIONED_ROOT}/{}/{}", pvc.namespace(), pvc.name()),
                    type_: Some("DirectoryOrCreate".into()),
                }),
                persistent_volume_reclaim_policy: Some(sc.reclaim_policy.clone().unwrap_or_else(|| "Delete".into())),
                storage_class_name: Some(sc.name().into()),
                volume_mode: claim.volume_mode.clone(),
                ..Default::default()
            }),
            status: None,
        };
        match self.pv_api().create(&pv).await {
            Ok(_) => {
                self.event(
                    pvc,
                    EventType::Normal,
                    "ProvisioningSucceeded",
                    format!("Successfully provisioned volume {name}"),
                );
                Ok(Action::Done)
            }
            Err(e) if e.is_already_exists() => Ok(Action::Done),
            Err(e) => {
                self.event(pvc, EventType::Warning, "ProvisioningFailed", e.to_string());
                Err(e.into())
            }
        }
    }

    /// Binds both sides, each step only when not done yet.
    async fn bind(&self, pv: &PersistentVolume, pvc: &PersistentVolumeClaim) -> Result<Action> {
        let mut pv = pv.clone();
        let ref_ok = claim_ref(&pv).is_some_and(|r| r.uid.as_deref() == Some(pvc.uid()));
        if !ref_ok {
            let spec = pv.spec.get_or_insert_with(Default::default);
            spec.claim_ref = Some(client::events::reference_to(pvc));
            set_annotation(&mut pv.metadata, BOUND_BY_CONTROLLER, "yes");
            pv = self.pv_api().update(&pv).await?;
        }
        if phase_of_pv(&pv) != "Bound" {
            pv.status = Some(PersistentVolumeStatus { phase: Some("Bound".into()), ..Default::default() });
            pv = self.pv_api().update_status(&pv).await?;
        }
        let mut pvc = pvc.clone();
        if volume_name(&pvc) != pv.name() || annotation(&pvc.metadata, BIND_COMPLETED) != Some("yes") {
            let was_named = !volume_name(&pvc).is_empty();
            pvc.spec.get_or_insert_with(Default::default).volume_name = Some(pv.name().into());
            set_annotation(&mut pvc.metadata, BIND_COMPLETED, "yes");
            if !was_named {
                set_annotation(&mut pvc.metadata, BOUND_BY_CONTROLLER, "yes");
            }
            pvc = self.pvc_api(pvc.namespace()).update(&pvc).await?;
        }
        let spec = pv.spec.clone().unwrap_or_default();
        let want = PersistentVolumeClaimStatus {
            phase: Some("Bound".into()),
            access_modes: spec.access_modes.clone(),
            capacity: spec.capacity.clone(),
            ..pvc.status.clone().unwrap_or_default()
        };
        if pvc.status.as_ref() != Some(&want) {
            pvc.status = Some(want);
            self.pvc_api(pvc.namespace()).update_status(&pvc).await?;
        }
        Ok(Action::Done)
    }

    async fn set_claim_phase(&self, pvc: &PersistentVolumeClaim, phase: &str) -> Result<()> {
        let mut pvc = pvc.clone();
        pvc.status.get_or_insert_with(Default::default).phase = Some(phase.into());
        self.pvc_api(pvc.namespace()).update_status(&pvc).await?;
        Ok(())
    }

    /// pvc-protection: the finalizer goes once no unfinished pod uses the claim
    /// (checked live, as the cache may lag behind a pod just created).
    async fn release_claim_finalizer(&self, pvc: &PersistentVolumeClaim) -> Result<Action> {
        let finalizers = pvc.metadata.finalizers.as_deref().unwrap_or_default();
        if !finalizers.iter().any(|f| f == PVC_PROTECTION) {
            return Ok(Action::Done);
        }
        let pods = Api::<Pod>::namespaced(&self.client, pvc.namespace()).list(&Default::default()).await?;
        if pods.items.iter().any(|pod| !finished(pod) && claims_of(pod).any(|c| c == pvc.name())) {
            return Ok(Action::Done);
        }
        let mut pvc = pvc.clone();
        pvc.metadata.finalizers = Some(finalizers.iter().filter(|f| *f != PVC_PROTECTION).cloned().collect());
        match self.pvc_api(pvc.namespace()).update(&pvc).await {
            Err(e) if e.is_not_found() => Ok(Action::Done),
            other => other.map(drop).map(|_| Action::Done).map_err(Into::into),
        }
    }

    /// The claim a volume's claimRef names, if it is there (the same uid).
    async fn claim_of(&self, r: &ObjectReference) -> Result<Option<Arc<PersistentVolumeClaim>>> {
        let uid = r.uid.clone().unwrap_or_default();
        if let Some(c) = self.pvcs.store().get(&claim_key(r)).filter(|c| uid.is_empty() || c.uid() == uid) {
            return Ok(Some(c));
        }
        if uid.is_empty() {
            return Ok(None);
        }
        // The cache may not have a new claim yet: ask before releasing.
        let ns = r.namespace.as_deref().unwrap_or("");
        match self.pvc_api(ns).get(r.name.as_deref().unwrap_or("")).await {
            Ok(c) if c.uid() == uid => Ok(Some(Arc::new(c))),
            Ok(_) => Ok(None),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn sync_volume(&self, pv: Arc<PersistentVolume>) -> Result<Action> {
        let r = claim_ref(&pv).cloned();
        let claim = match &r {
            Some(r) => self.claim_of(r).await?,
            None => None,
        };
        let in_use = claim.as_ref().is_some_and(|c| volume_name(c) == pv.name());
        if pv.metadata.deletion_timestamp.is_some() {
            // pv-protection: kept while a claim is bound to it.
            let finalizers = pv.metadata.finalizers.as_deref().unwrap_or_default();
            if in_use || !finalizers.iter().any(|f| f == PV_PROTECTION) {
                return Ok(Action::Done);
            }
            let mut pv = (*pv).clone();
            pv.metadata.finalizers = Some(finalizers.iter().filter(|f| *f != PV_PROTECTION).cloned().collect());
            return match self.pv_api().update(&pv).await {
                Err(e) if e.is_not_found() => Ok(Action::Done),
                other => other.map(|_| Action::Done).map_err(Into::into),
            };
        }
        let Some(r) = r else {
            if phase_of_pv(&pv) != "Available" {
                self.set_volume_phase(&pv, "Available").await?;
            }
            return Ok(Action::Done);
        };
        match claim {
            // Pre-bound by name to a claim not yet there: Available to it.
            None if r.uid.as_deref().unwrap_or("").is_empty() => {
                if phase_of_pv(&pv) != "Available" {
                    self.set_volume_phase(&pv, "Available").await?;
                }
                Ok(Action::Done)
            }
            None => self.reclaim(&pv).await,
            Some(_) if in_use => {
                if phase_of_pv(&pv) != "Bound" {
                    self.set_volume_phase(&pv, "Bound").await?;
                }
                Ok(Action::Done)
            }
            // The claim's own sync finishes the binding.
            Some(_) => Ok(Action::Done),
        }
    }

    async fn reclaim(&self, pv: &PersistentVolume) -> Result<Action> {
        if phase_of_pv(pv) != "Released" && phase_of_pv(pv) != "Failed" {
            self.set_volume_phase(pv, "Released").await?;
            return Ok(Action::Done);
        }
        let policy = pv.spec.as_ref().and_then(|s| s.persistent_volume_reclaim_policy.as_deref()).unwrap_or("Retain");
        if policy == "Delete" && phase_of_pv(pv) == "Released" {
            if let Some(dir) = self.provisioned_dir(pv) {
                match std::fs::remove_dir_all(&dir) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        let msg = format!("failed to delete {}: {e}", dir.display());
                        let target = client::events::reference_to(pv);
                        self.record(target, EventType::Warning, "VolumeFailedDelete", msg.clone());
                        return Err(crate::runner::Error::Invalid(msg));
                    }
                    _ => {}
                }
            }
            match self.pv_api().delete(pv.name(), &Default::default()).await {
                Err(e) if !e.is_not_found() => return Err(e.into()),
                _ => {}
            }
        }
        Ok(Action::Done)
    }

    /// The directory behind a volume this provisioner made: its hostPath,
    /// which must be under [`PROVISIONED_ROOT`] and climb nowhere, under the
    /// shared root.
    fn provisioned_dir(&self, pv: &PersistentVolume) -> Option<PathBuf> {
        let ours = matches!(annotation(&pv.metadata, PROVISIONED_BY), Some(PROVISIONER | MINIKUBE_PROVISIONER));
        let path = Path::new(&pv.spec.as_ref()?.host_path.as_ref()?.path);
        let inside = path.strip_prefix(PROVISIONED_ROOT).ok()?;
        let plain = inside.components().all(|c| matches!(c, Component::Normal(_)));
        let relative = PROVISIONED_ROOT.trim_start_matches('/');
        (ours && plain && inside.components().next().is_some()).then(|| self.shared_root.join(relative).join(inside))
    }

    async fn set_volume_phase(&self, pv: &PersistentVolume, phase: &str) -> Result<()> {
        let mut pv = pv.clone();
        let status = pv.status.get_or_insert_with(Default::default);
        status.phase = Some(phase.into());
        status.last_phase_transition_time =
            Some(api::k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(jiff::Timestamp::now()));
        match self.pv_api().update_status(&pv).await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map(drop).map_err(Into::into),
        }
    }

    fn claim_changed(&self, change: &Change<PersistentVolumeClaim>, queue: &WorkQueue) {
        match change {
            Change::Added(pvc) | Change::Updated { new: pvc, .. } => queue.add(format!("pvc:{}", key_of(pvc.as_ref()))),
            Change::Deleted(pvc) => {
                for pv in self.pvs.store().list() {
                    if claim_ref(&pv).is_some_and(|r| refers_to(r, pvc)) {
                        queue.add(format!("pv:{}", pv.name()));
                    }
                }
            }
            _ => {}
        }
    }

    fn volume_changed(&self, change: &Change<PersistentVolume>, queue: &WorkQueue) {
        if let Change::Added(pv) | Change::Updated { new: pv, .. } = change {
            queue.add(format!("pv:{}", pv.name()));
            if let Some(r) = claim_ref(pv) {
                queue.add(format!("pvc:{}", claim_key(r)));
            } else {
                // A new Available volume may serve a waiting claim.
                self.requeue_pending(queue);
            }
        }
    }

    fn class_changed(&self, change: &Change<StorageClass>, queue: &WorkQueue) {
        if let Change::Added(_) | Change::Updated { .. } = change {
            self.requeue_pending(queue);
        }
    }

    fn pod_changed(&self, change: &Change<Pod>, queue: &WorkQueue) {
        match change {
            Change::Added(pod) | Change::Updated { new: pod, .. } | Change::Deleted(pod) => {
                for claim in claims_of(pod) {
                    queue.add(format!("pvc:{}/{claim}", pod.namespace()));
                }
            }
            _ => {}
        }
    }

    fn requeue_pending(&self, queue: &WorkQueue) {
        for pvc in self.pvcs.store().list() {
            if volume_name(&pvc).is_empty() {
                queue.add(format!("pvc:{}", key_of(pvc.as_ref())));
            }
        }
    }
}

#[async_trait::async_trait]
impl Controller for VolumeController {
    fn name(&self) -> &'static str {
        "persistentvolume-binder"
    }

    fn watches(self: Arc<Self>) -> Vec<Watch> {
        vec![
            Watch::method(&self, &self.pvcs, Self::claim_changed),
            Watch::method(&self, &self.pvs, Self::volume_changed),
            Watch::method(&self, &self.classes, Self::class_changed),
            Watch::method(&self, &self.pods, Self::pod_changed),
        ]
    }

    fn resync(&self, queue: &WorkQueue) {
        for pv in self.pvs.store().list() {
            queue.add(format!("pv:{}", pv.name()));
        }
        self.requeue_pending(queue);
    }

    fn resync_period(&self) -> Option<Duration> {
        Some(SYNC_PERIOD)
    }

    async fn reconcile(&self, key: &str) -> Result<Action> {
        if let Some(name) = key.strip_prefix("pv:") {
            return match self.pvs.store().get(name) {
                Some(pv) => self.sync_volume(pv).await,
                None => Ok(Action::Done),
            };
        }
        let key = key.strip_prefix("pvc:").unwrap_or(key);
        match self.pvcs.store().get(key) {
            Some(pvc) => self.sync_claim(pvc).await,
            None => Ok(Action::Done),
        }
    }
}

#[cfg(test)]
mod tests;
