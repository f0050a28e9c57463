//! Kubernetes' patch metadata for the fields kubelab serves: which lists merge
//! element by element and on which key, which are sets of values, which are
//! replaced whole. Read off the struct tags of k8s.io/api (`patchStrategy`,
//! `patchMergeKey`, `listType`, `listMapKey`), which k8s-openapi does not carry.
//!
//! The table is per Go type, not per path, so a PodSpec behaves the same in a
//! Pod, a Deployment's template and a CronJob's job template. A field not
//! listed is a plain field: maps in it merge, lists in it are atomic.

/// The Go types whose fields carry patch metadata (or lead to such types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    /// A type without patch metadata anywhere below.
    Plain,
    /// The top of an object of the given kind.
    Root(&'static str),
    ObjectMeta,
    PodTemplateSpec,
    PodSpec,
    Container,
    PodStatus,
    /// ReplicationController, ReplicaSet, Deployment, DaemonSet and Job specs.
    WorkloadSpec,
    JobTemplateSpec,
    CronJobSpec,
    ServiceSpec,
    NodeSpec,
    NodeStatus,
    /// A status whose only metadata is `conditions` merged by type.
    ConditionsStatus,
}

/// How a list field is patched and applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    /// Replaced whole (no patch strategy; `listType=atomic`).
    Atomic,
    /// Elements are objects merged on these keys (`patchMergeKey` is the
    /// first; server-side apply's `listMapKey`s are all of them), with a
    /// default for a key an element may leave out (`protocol: TCP`).
    Map(&'static [(&'static str, Option<&'static str>)]),
    /// A set of scalars (`patchStrategy:"merge"` on a list of strings).
    Set,
}

/// What is known about one field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The type of the field's value, or of its elements for a list.
    pub ty: Ty,
    pub list: List,
}

const fn plain() -> Field {
    Field { ty: Ty::Plain, list: List::Atomic }
}
const fn of(ty: Ty) -> Field {
    Field { ty, list: List::Atomic }
}
const fn by(keys: &'static [(&'static str, Option<&'static str>)], ty: Ty) -> Field {
    Field { ty, list: List::Map(keys) }
}
const NAME: &[(&str, Option<&str>)] = &[("name", None)];
const TYPE: &[(&str, Option<&str>)] = &[("type", None)];
const IP: &[(&str, Option<&str>)] = &[("ip", None)];

/// The field `name` of a value of type `ty`.
pub fn field(ty: Ty, name: &str) -> Field {
    use Ty::*;
    match (ty, name) {
        (Root(_), "metadata") => of(ObjectMeta),
        (Root(kind), "spec") => of(match kind {
            "Pod" => PodSpec,
            "ReplicationController" | "ReplicaSet" | "Deployment" | "DaemonSet" | "StatefulSet" | "Job" => WorkloadSpec,
            "CronJob" => CronJobSpec,
            "Service" => ServiceSpec,
            "Node" => NodeSpec,
            _ => Plain,
        }),
        (Root(kind), "status") => of(match kind {
            "Pod" => PodStatus,
            "Node" => NodeStatus,
            "CronJob" => Plain,
            _ => ConditionsStatus,
        }),
        (ObjectMeta, "ownerReferences") => by(&[("uid", None)], Plain),
        (ObjectMeta, "finalizers") => Field { ty: Plain, list: List::Set },
        (WorkloadSpec, "template") => of(PodTemplateSpec),
        (CronJobSpec, "jobTemplate") => of(JobTemplateSpec),
        (JobTemplateSpec, "metadata") | (PodTemplateSpec, "metadata") => of(ObjectMeta),
        (JobTemplateSpec, "spec") => of(WorkloadSpec),
        (PodTemplateSpec, "spec") => of(PodSpec),
        (PodSpec, "containers" | "initContainers" | "ephemeralContainers") => by(NAME, Container),
        (PodSpec, "volumes" | "imagePullSecrets" | "schedulingGates" | "resourceClaims") => by(NAME, Plain),
        (PodSpec, "hostAliases") => by(IP, Plain),
        (PodSpec, "topologySpreadConstraints") => by(&[("topologyKey", None), ("whenUnsatisfiable", None)], Plain),
        (Container, "ports") => by(&[("containerPort", None), ("protocol", Some("TCP"))], Plain),
        (Container, "env") => by(NAME, Plain),
        (Container, "volumeMounts") => by(&[("mountPath", None)], Plain),
        (Container, "volumeDevices") => by(&[("devicePath", None)], Plain),
        (PodStatus, "podIPs" | "hostIPs") => by(IP, Plain),
        (PodStatus | NodeStatus | ConditionsStatus, "conditions") => by(TYPE, Plain),
        (ServiceSpec, "ports") => by(&[("port", None), ("protocol", Some("TCP"))], Plain),
        (NodeSpec, "podCIDRs") => Field { ty: Plain, list: List::Set },
        (NodeStatus, "addresses") => by(TYPE, Plain),
        _ => plain(),
    }
}

impl List {
    /// Strategic merge's merge key: the first key.
    pub fn merge_key(self) -> Option<&'static str> {
        match self {
            List::Map(keys) => keys.first().map(|(k, _)| *k),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pod_spec_is_the_same_wherever_it_sits() {
        let pod = field(field(Ty::Root("Pod"), "spec").ty, "containers");
        let tmpl = field(field(Ty::Root("Deployment"), "spec").ty, "template");
        let deploy = field(field(tmpl.ty, "spec").ty, "containers");
        assert_eq!(pod, deploy);
        assert_eq!(pod.list.merge_key(), Some("name"));
        let job = field(field(Ty::Root("CronJob"), "spec").ty, "jobTemplate");
        let job_pod = field(field(field(job.ty, "spec").ty, "template").ty, "spec");
        assert_eq!(field(job_pod.ty, "tolerations").list, List::Atomic);
        assert_eq!(field(field(pod.ty, "ports").ty, "x").list, List::Atomic);
        assert_eq!(field(pod.ty, "ports").list.merge_key(), Some("containerPort"));
        assert_eq!(field(field(Ty::Root("Service"), "spec").ty, "ports").list.merge_key(), Some("port"));
    }
}
