//! The idle footprint of a compose cluster: the resident memory of each
//! cluster container's main process (its daemon: apiserver, scheduler,
//! controller-manager, a kubelet per worker, etcd), read from `/proc` on this
//! machine, and the sums the target is about.

/// What a cluster container runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Apiserver,
    Scheduler,
    ControllerManager,
    Kubelet,
    Etcd,
}

impl Role {
    /// The role of compose container `name` (`kubelab-worker2` runs a kubelet),
    /// or None for a container that is not part of the cluster.
    pub fn of(name: &str) -> Option<Role> {
        match name.strip_prefix("kubelab-")? {
            "apiserver" => Some(Role::Apiserver),
            "scheduler" => Some(Role::Scheduler),
            "controller-manager" => Some(Role::ControllerManager),
            "etcd" => Some(Role::Etcd),
            worker if worker.starts_with("worker") => Some(Role::Kubelet),
            _ => None,
        }
    }
}

/// The compose containers of a three-node cluster.
pub const CONTAINERS: [&str; 7] = [
    "kubelab-apiserver",
    "kubelab-scheduler",
    "kubelab-controller-manager",
    "kubelab-worker",
    "kubelab-worker2",
    "kubelab-worker3",
    "kubelab-etcd",
];

/// One container's reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub container: String,
    pub role: Role,
    pub rss: u64,
}

/// The readings and their sums.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footprint {
    /// In [`Role`] order, then by container name.
    pub readings: Vec<Reading>,
    /// Apiserver, scheduler, controller-manager and every kubelet: what the target is about.
    pub without_etcd: u64,
    pub with_etcd: u64,
    pub kubelets: usize,
    /// Roles with no reading at all (a container missing or not running).
    pub missing: Vec<Role>,
}

/// Sums the readings of `(container, rss bytes)`; containers that are not
/// part of the cluster are ignored.
pub fn aggregate(readings: &[(String, u64)]) -> Footprint {
    let mut readings: Vec<Reading> = readings
        .iter()
        .filter_map(|(container, rss)| {
            Some(Reading { container: container.clone(), role: Role::of(container)?, rss: *rss })
        })
        .collect();
    readings.sort_by(|a, b| (a.role, &a.container).cmp(&(b.role, &b.container)));
    let with_etcd = readings.iter().map(|r| r.rss).sum();
    let without_etcd = readings.iter().filter(|r| r.role != Role::Etcd).map(|r| r.rss).sum();
    let kubelets = readings.iter().filter(|r| r.role == Role::Kubelet).count();
    let missing = [Role::Apiserver, Role::Scheduler, Role::ControllerManager, Role::Kubelet, Role::Etcd]
        .into_iter()
        .filter(|role| !readings.iter().any(|r| r.role == *role))
        .collect();
    Footprint { readings, without_etcd, with_etcd, kubelets, missing }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn roles_come_from_compose_names() {
        assert_eq!(Role::of("kubelab-apiserver"), Some(Role::Apiserver));
        assert_eq!(Role::of("kubelab-controller-manager"), Some(Role::ControllerManager));
        assert_eq!(Role::of("kubelab-worker"), Some(Role::Kubelet));
        assert_eq!(Role::of("kubelab-worker3"), Some(Role::Kubelet));
        assert_eq!(Role::of("kubelab-etcd"), Some(Role::Etcd));
        assert_eq!(Role::of("k8s_POD_kubia_default_x_0"), None);
        assert_eq!(Role::of("kubelab-registry"), None);
    }

    #[test]
    fn sums_leave_etcd_out_of_the_target() {
        let readings: Vec<(String, u64)> = [
            ("kubelab-worker2", 20),
            ("kubelab-etcd", 30),
            ("kubelab-apiserver", 35),
            ("kubelab-worker", 19),
            ("kubelab-scheduler", 12),
            ("kubelab-controller-manager", 15),
            ("kubelab-worker3", 21),
            ("k8s_app_startup-0_ns_uid_0", 500),
        ]
        .into_iter()
        .map(|(name, mib)| (name.to_string(), mib * MIB))
        .collect();
        let f = aggregate(&readings);
        assert_eq!(f.without_etcd, (35 + 12 + 15 + 19 + 20 + 21) * MIB);
        assert_eq!(f.with_etcd, f.without_etcd + 30 * MIB);
        assert_eq!(f.kubelets, 3);
        assert!(f.missing.is_empty());
        let order: Vec<&str> = f.readings.iter().map(|r| r.container.as_str()).collect();
        assert_eq!(
            order,
            [
                "kubelab-apiserver",
                "kubelab-scheduler",
                "kubelab-controller-manager",
                "kubelab-worker",
                "kubelab-worker2",
                "kubelab-worker3",
                "kubelab-etcd"
            ]
        );
    }

    #[test]
    fn missing_roles_are_named() {
        let f = aggregate(&[("kubelab-apiserver".to_string(), MIB)]);
        assert_eq!(f.missing, [Role::Scheduler, Role::ControllerManager, Role::Kubelet, Role::Etcd]);
        assert_eq!((f.with_etcd, f.without_etcd, f.kubelets), (MIB, MIB, 0));
    }
}
