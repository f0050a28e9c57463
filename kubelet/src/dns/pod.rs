//! A pod's resolver configuration (what Docker writes into its
//! /etc/resolv.conf), following the kubelet's rules for `dnsPolicy` and
//! `dnsConfig` (pkg/kubelet/network/dns): the base from the policy, then
//! `dnsConfig` appended, then Kubernetes' limits applied.

use client::Object;
use k8s_openapi::api::core::v1::{Pod, PodDNSConfigOption};

/// At most this many `nameserver` lines (glibc reads no more).
pub const MAX_NAMESERVERS: usize = 3;
/// At most this many search domains (Kubernetes' expanded DNS config limit)...
pub const MAX_SEARCH_PATHS: usize = 32;
/// ...and at most this many characters on the search line.
pub const MAX_SEARCH_LIST_CHARS: usize = 2048;
/// A longer search domain makes some resolvers (glibc 2.28) abort: dropped.
const MAX_SEARCH_PATH_LEN: usize = 253;

/// The options every ClusterFirst pod gets: names with fewer than 5 dots try
/// the search domains first, so `kubia` finds `kubia.<ns>.svc.cluster.local`.
const DEFAULT_OPTIONS: &str = "ndots:5";

/// A pod's resolver settings, as Docker's HostConfig `Dns`, `DnsSearch` and
/// `DnsOptions` take them. Each list that is empty leaves that part of
/// resolv.conf to Docker's default (the node's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodDns {
    pub nameservers: Vec<String>,
    pub searches: Vec<String>,
    /// `name:value` or `name`, e.g. `ndots:5`, `edns0`.
    pub options: Vec<String>,
    /// Limits that were exceeded, in the kubelet's words: worth a Warning
    /// event `DNSConfigForming` on the pod.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    Cluster,
    Host,
    None,
}

fn base_of(pod: &Pod) -> Base {
    let spec = pod.spec.as_ref();
    let host_network = spec.and_then(|s| s.host_network).unwrap_or(false);
    match spec.and_then(|s| s.dns_policy.as_deref()).unwrap_or("ClusterFirst") {
        "None" => Base::None,
        "ClusterFirstWithHostNet" => Base::Cluster,
        // A hostNetwork pod shares the node's resolver unless it asks for the
        // cluster's with ClusterFirstWithHostNet.
        "ClusterFirst" if host_network => Base::Host,
        "Default" => Base::Host,
        // ClusterFirst, and (as the kubelet does) anything the apiserver
        // should have rejected.
        _ => Base::Cluster,
    }
}

fn push_unique(list: &mut Vec<String>, more: Vec<String>) {
    for s in more {
        if !list.contains(&s) {
            list.push(s);
        }
    }
}

/// `dnsConfig.options` over the base's: a name given again takes its new
/// value in place; new names come last.
fn merge_options(options: &mut Vec<String>, extra: &[PodDNSConfigOption]) {
    for opt in extra {
        let Some(name) = opt.name.as_deref() else { continue };
        let rendered = match opt.value.as_deref() {
            Some(v) if !v.is_empty() => format!("{name}:{v}"),
            _ => name.to_string(),
        };
        let same = |o: &String| o.split(':').next() == Some(name);
        match options.iter_mut().find(|o| same(o)) {
            Some(o) => *o = rendered,
            None => options.push(rendered),
        }
    }
}

fn fit_nameservers(dns: &mut PodDns) {
    if dns.nameservers.len() > MAX_NAMESERVERS {
        dns.nameservers.truncate(MAX_NAMESERVERS);
        dns.warnings.push(format!(
            "Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: {}",
            dns.nameservers.join(" ")
        ));
    }
}

fn fit_searches(dns: &mut PodDns) {
    let mut exceeded = false;
    if dns.searches.len() > MAX_SEARCH_PATHS {
        dns.searches.truncate(MAX_SEARCH_PATHS);
        exceeded = true;
    }
    let before = dns.searches.len();
    dns.searches.retain(|s| s.len() <= MAX_SEARCH_PATH_LEN);
    exceeded |= dns.searches.len() != before;
    // Drop from the end until the line fits.
    while dns.searches.join(" ").len() > MAX_SEARCH_LIST_CHARS {
        dns.searches.pop();
        exceeded = true;
    }
    if exceeded {
        dns.warnings.push(format!(
            "Search Line limits were exceeded, some search paths have been omitted, the applied search line is: {}",
            dns.searches.join(" ")
        ));
    }
}

/// The resolver settings for `pod`, or `None` when it should simply get the
/// node's own resolv.conf (Docker's default): `dnsPolicy: Default`, a
/// hostNetwork pod with ClusterFirst, or ClusterFirst on a kubelet that has no
/// cluster DNS address — each without a `dnsConfig`.
///
/// `cluster_dns` are the cluster DNS server addresses (kubelet's
/// `--cluster-dns`, here `10.96.0.10`); `domain` the cluster domain.
pub fn pod_dns_config(pod: &Pod, cluster_dns: &[String], domain: &str) -> Option<PodDns> {
    let domain = domain.trim_end_matches('.');
    let mut base = base_of(pod);
    // Without a cluster DNS address ClusterFirst cannot be honoured; the
    // kubelet falls back to the node's resolver (and says so in an event).
    let mut warnings = vec![];
    if base == Base::Cluster && cluster_dns.is_empty() {
        warnings.push(
            "kubelet does not have ClusterDNS IP configured and cannot create Pod using \"ClusterFirst\" policy. \
             Falling back to \"Default\" policy."
                .to_string(),
        );
        base = Base::Host;
    }
    let config = pod.spec.as_ref().and_then(|s| s.dns_config.as_ref());
    if base == Base::Host && config.is_none() {
        return None;
    }
    let mut dns = PodDns { warnings, ..Default::default() };
    if base == Base::Cluster {
        dns.nameservers = cluster_dns.to_vec();
        if !domain.is_empty() {
            let ns = pod.namespace();
            let ns = if ns.is_empty() { "default" } else { ns };
            dns.searches = vec![format!("{ns}.svc.{domain}"), format!("svc.{domain}"), domain.to_string()];
        }
        dns.options = vec![DEFAULT_OPTIONS.to_string()];
    }
    if let Some(config) = config {
        push_unique(&mut dns.nameservers, config.nameservers.clone().unwrap_or_default());
        push_unique(&mut dns.searches, config.searches.clone().unwrap_or_default());
        merge_options(&mut dns.options, config.options.as_deref().unwrap_or_default());
    }
    fit_nameservers(&mut dns);
    fit_searches(&mut dns);
    Some(dns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn pod(spec: Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"namespace": "shop", "name": "p"}, "spec": spec})).unwrap()
    }

    fn cluster() -> Vec<String> {
        vec!["10.96.0.10".to_string()]
    }

    fn dns(ns: &[&str], search: &[&str], opts: &[&str]) -> Option<PodDns> {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect();
        Some(PodDns { nameservers: v(ns), searches: v(search), options: v(opts), warnings: vec![] })
    }

    const SEARCH: [&str; 3] = ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local"];

    #[test]
    fn policies_table() {
        let config = json!({"nameservers": ["1.1.1.1", "10.96.0.10"], "searches": ["corp.example", "svc.cluster.local"],
                            "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]});
        let cases: Vec<(&str, Value, Option<PodDns>)> = vec![
            ("no policy = ClusterFirst", json!({}), dns(&["10.96.0.10"], &SEARCH, &["ndots:5"])),
            ("ClusterFirst", json!({"dnsPolicy": "ClusterFirst"}), dns(&["10.96.0.10"], &SEARCH, &["ndots:5"])),
            ("hostNetwork falls back to the node's", json!({"dnsPolicy": "ClusterFirst", "hostNetwork": true}), None),
            (
                "ClusterFirstWithHostNet",
                json!({"dnsPolicy": "ClusterFirstWithHostNet", "hostNetwork": true}),
                dns(&["10.96.0.10"], &SEARCH, &["ndots:5"]),
            ),
            ("Default", json!({"dnsPolicy": "Default"}), None),
            (
                "ClusterFirst merges dnsConfig without duplicates, options by name",
                json!({"dnsPolicy": "ClusterFirst", "dnsConfig": config}),
                dns(
                    &["10.96.0.10", "1.1.1.1"],
                    &["shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"],
                    &["ndots:2", "edns0"],
                ),
            ),
            (
                "None takes dnsConfig alone",
                json!({"dnsPolicy": "None", "dnsConfig": config}),
                dns(&["1.1.1.1", "10.96.0.10"], &["corp.example", "svc.cluster.local"], &["ndots:2", "edns0"]),
            ),
            (
                "Default with dnsConfig: only its additions",
                json!({"dnsPolicy": "Default", "dnsConfig": {"searches": ["corp.example"]}}),
                dns(&[], &["corp.example"], &[]),
            ),
            (
                "an unknown policy is treated as ClusterFirst",
                json!({"dnsPolicy": "Bogus"}),
                dns(&["10.96.0.10"], &SEARCH, &["ndots:5"]),
            ),
        ];
        for (what, spec, want) in cases {
            assert_eq!(pod_dns_config(&pod(spec), &cluster(), "cluster.local"), want, "{what}");
        }
    }

    #[test]
    fn cluster_first_without_cluster_dns_falls_back_to_the_node() {
        assert_eq!(pod_dns_config(&pod(json!({})), &[], "cluster.local"), None);
        let with_config = pod(json!({"dnsConfig": {"nameservers": ["1.1.1.1"]}}));
        let got = pod_dns_config(&with_config, &[], "cluster.local").unwrap();
        assert_eq!((got.nameservers, got.searches, got.options), (vec!["1.1.1.1".to_string()], vec![], vec![]));
        assert!(got.warnings[0].contains("cannot create Pod using \"ClusterFirst\" policy"), "{:?}", got.warnings);
    }

    #[test]
    fn limits_are_applied_with_a_warning() {
        let many_ns = json!({"dnsConfig": {"nameservers": ["1.1.1.1", "2.2.2.2", "3.3.3.3"]}});
        let got = pod_dns_config(&pod(many_ns), &cluster(), "cluster.local").unwrap();
        assert_eq!(got.nameservers, ["10.96.0.10", "1.1.1.1", "2.2.2.2"]);
        assert_eq!(
            got.warnings,
            ["Nameserver limits were exceeded, some nameservers have been omitted, the applied nameserver line is: 10.96.0.10 1.1.1.1 2.2.2.2"]
        );

        let searches: Vec<String> = (0..40).map(|i| format!("d{i}.example")).collect();
        let got =
            pod_dns_config(&pod(json!({"dnsConfig": {"searches": searches}})), &cluster(), "cluster.local").unwrap();
        assert_eq!(got.searches.len(), MAX_SEARCH_PATHS);
        assert_eq!(got.searches[..3], SEARCH);
        assert!(got.warnings[0].starts_with("Search Line limits were exceeded"), "{:?}", got.warnings);

        // Long domains: one over 253 characters is dropped, then the line is cut to 2048.
        let long = |c: char| format!("{}.example", c.to_string().repeat(240));
        let mut searches: Vec<String> = ('a'..='j').map(long).collect();
        searches.insert(0, "x".repeat(254));
        let got =
            pod_dns_config(&pod(json!({"dnsPolicy": "None", "dnsConfig": {"searches": searches}})), &[], "").unwrap();
        assert!(got.searches.iter().all(|s| s.len() == 248), "{:?}", got.searches);
        assert_eq!(got.searches.len(), 8, "8 x 249 - 1 = 1991 <= 2048 < 9 x 249 - 1");
        assert_eq!(got.warnings.len(), 1);
    }

    #[test]
    fn the_domain_may_end_with_a_dot_and_a_namespaceless_pod_is_default() {
        let p: Pod = serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": {}})).unwrap();
        let got = pod_dns_config(&p, &cluster(), "cluster.local.").unwrap();
        assert_eq!(got.searches, ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"]);
    }
}
