//! Discovery: what groups, versions and resources the server has, as
//! kube-apiserver publishes them. Clients ask before anything else: kubectl
//! maps `po` to `pods` in `v1` and `deploy` to `deployments` in `apps/v1`
//! from these documents, and finds `deployments/scale` here for `kubectl scale`.
//!
//! Two shapes: the legacy ones (`/api` APIVersions, `/apis` APIGroupList, and
//! one APIResourceList per group version, fetched one by one), and the
//! aggregated `apidiscovery.k8s.io/v2` documents that current kubectls ask for
//! in `Accept`, with every version's resources in two responses.

use api::{registry, ResourceInfo};
use serde_json::{json, Value};

/// A subresource: its name, the kind its requests and responses carry, and its verbs.
pub struct Subresource {
    pub name: &'static str,
    /// (group, version, kind) of the subresource's object, when not the parent's own.
    pub kind: Option<(&'static str, &'static str, &'static str)>,
    pub verbs: &'static [&'static str],
}

const GET_PATCH_UPDATE: &[&str] = &["get", "patch", "update"];
const CREATE_GET: &[&str] = &["create", "get"];
const PROXY: &[&str] = &["create", "delete", "get", "patch", "update"];

/// The subresources a resource serves, as kube-apiserver lists them.
pub fn subresources(info: &ResourceInfo) -> Vec<Subresource> {
    let mut subs = Vec::new();
    if info.has_status {
        subs.push(Subresource { name: "status", kind: None, verbs: GET_PATCH_UPDATE });
    }
    match (info.group, info.plural) {
        ("", "pods") => {
            subs.push(Subresource { name: "attach", kind: Some(("", "v1", "PodAttachOptions")), verbs: CREATE_GET });
            subs.push(Subresource { name: "binding", kind: Some(("", "v1", "Binding")), verbs: &["create"] });
            subs.push(Subresource { name: "eviction", kind: Some(("policy", "v1", "Eviction")), verbs: &["create"] });
            subs.push(Subresource { name: "exec", kind: Some(("", "v1", "PodExecOptions")), verbs: CREATE_GET });
            subs.push(Subresource { name: "log", kind: None, verbs: &["get"] });
            subs.push(Subresource { name: "proxy", kind: Some(("", "v1", "PodProxyOptions")), verbs: PROXY });
            subs.push(Subresource {
                name: "portforward",
                kind: Some(("", "v1", "PodPortForwardOptions")),
                verbs: CREATE_GET,
            });
        }
        ("", "namespaces") => subs.push(Subresource { name: "finalize", kind: None, verbs: &["update"] }),
        ("", "nodes") => {
            subs.push(Subresource { name: "proxy", kind: Some(("", "v1", "NodeProxyOptions")), verbs: PROXY })
        }
        ("", "services") => {
            subs.push(Subresource { name: "proxy", kind: Some(("", "v1", "ServiceProxyOptions")), verbs: PROXY })
        }
        ("", "replicationcontrollers")
        | ("apps", "deployments")
        | ("apps", "replicasets")
        | ("apps", "statefulsets") => subs.push(Subresource {
            name: "scale",
            kind: Some(("autoscaling", "v1", "Scale")),
            verbs: GET_PATCH_UPDATE,
        }),
        _ => {}
    }
    subs.sort_by_key(|s| s.name);
    subs
}

/// The resources of one group version.
fn resources_of<'a>(group: &'a str, version: &'a str) -> impl Iterator<Item = &'static ResourceInfo> + 'a {
    registry::RESOURCES.iter().filter(move |r| r.group == group && r.version == version)
}

/// The named groups, each with its versions, in the order the registry lists them.
fn groups() -> Vec<(&'static str, Vec<&'static str>)> {
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    for r in registry::RESOURCES.iter().filter(|r| !r.group.is_empty()) {
        match out.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, versions)) if !versions.contains(&r.version) => versions.push(r.version),
            Some(_) => {}
            None => out.push((r.group, vec![r.version])),
        }
    }
    out
}

/// Whether `group/version` is served.
pub fn serves(group: &str, version: &str) -> bool {
    resources_of(group, version).next().is_some()
}

/// `/api`: the legacy group's versions.
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group_entry(name: &str, versions: &[&str]) -> Value {
    let versions: Vec<Value> =
        versions.iter().map(|v| json!({"groupVersion": format!("{name}/{v}"), "version": v})).collect();
    json!({"name": name, "versions": versions, "preferredVersion": versions[0]})
}

/// `/apis`: every named group.
pub fn group_list() -> Value {
    let groups: Vec<Value> = groups().iter().map(|(g, vs)| group_entry(g, vs)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`: one group, if served.
pub fn group(name: &str) -> Option<Value> {
    let (g, versions) = groups().into_iter().find(|(g, _)| *g == name)?;
    let mut entry = group_entry(g, &versions);
    entry["kind"] = "APIGroup".into();
    entry["apiVersion"] = "v1".into();
    Some(entry)
}

/// `/api/v1`, `/apis/<group>/<version>`: the APIResourceList, with each
/// subresource as its own entry (`pods/log`), as kube-apiserver lists them.
pub fn resource_list(group: &str, version: &str, verbs: impl Fn(&ResourceInfo) -> Vec<String>) -> Value {
    let mut resources = Vec::new();
    for r in resources_of(group, version) {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": verbs(r),
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        resources.push(entry);
        for s in subresources(r) {
            let mut sub = json!({
                "name": format!("{}/{}", r.plural, s.name),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": s.kind.map_or(r.kind, |(_, _, k)| k),
                "verbs": s.verbs,
            });
            if let Some((g, v, _)) = s.kind.filter(|(g, v, _)| (*g, *v) != (group, version)) {
                sub["group"] = g.into();
                sub["version"] = v.into();
            }
            resources.push(sub);
        }
    }
    let group_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources})
}

/// The aggregated discovery document: for `/api` the core group alone, for
/// `/apis` every named group; `beta` answers in `v2beta1`, same shape.
pub fn aggregated(core: bool, beta: bool, verbs: impl Fn(&ResourceInfo) -> Vec<String>) -> Value {
    let groups: Vec<(&str, Vec<&str>)> = if core { vec![("", vec!["v1"])] } else { groups() };
    let items: Vec<Value> = groups
        .iter()
        .map(|(g, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = resources_of(g, v).map(|r| aggregated_resource(r, &verbs)).collect();
                    json!({"version": v, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": g}, "versions": versions})
        })
        .collect();
    let version = if beta { "apidiscovery.k8s.io/v2beta1" } else { "apidiscovery.k8s.io/v2" };
    json!({"kind": "APIGroupDiscoveryList", "apiVersion": version, "metadata": {}, "items": items})
}

fn aggregated_resource(r: &ResourceInfo, verbs: &impl Fn(&ResourceInfo) -> Vec<String>) -> Value {
    let mut entry = json!({
        "resource": r.plural,
        "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": verbs(r),
    });
    if !r.short_names.is_empty() {
        entry["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        entry["categories"] = json!(r.categories);
    }
    let subs: Vec<Value> = subresources(r)
        .iter()
        .map(|s| {
            let (g, v, k) = s.kind.unwrap_or((r.group, r.version, r.kind));
            json!({"subresource": s.name, "responseKind": {"group": g, "version": v, "kind": k}, "verbs": s.verbs})
        })
        .collect();
    if !subs.is_empty() {
        entry["subresources"] = subs.into();
    }
    entry
}

/// The Content-Type of an aggregated discovery answer: clients pick the
/// parser by it, and treat plain `application/json` as the legacy shape.
pub fn aggregated_content_type(beta: bool) -> &'static str {
    if beta {
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
    } else {
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verbs(r: &ResourceInfo) -> Vec<String> {
        r.verbs().iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn the_groups_and_their_preferred_versions() {
        let list = group_list();
        let names: Vec<&str> = list["groups"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
        assert!(names.contains(&"apps") && names.contains(&"batch"), "{names:?}");
        assert!(!names.contains(&""), "the core group is served at /api, not /apis");
        let apps = group("apps").unwrap();
        assert_eq!(apps["preferredVersion"], json!({"groupVersion": "apps/v1", "version": "v1"}));
        assert!(group("frobs").is_none());
    }

    #[test]
    fn kubectl_scale_finds_the_scale_subresource() {
        let apps = resource_list("apps", "v1", verbs);
        let scale = apps["resources"].as_array().unwrap().iter().find(|r| r["name"] == "deployments/scale").unwrap();
        assert_eq!(scale["group"], "autoscaling");
        assert_eq!(scale["version"], "v1");
        assert_eq!(scale["kind"], "Scale");
        assert_eq!(scale["verbs"], json!(["get", "patch", "update"]));
    }

    #[test]
    fn pods_with_short_names_categories_and_subresources() {
        let core = resource_list("", "v1", verbs);
        assert_eq!(core["groupVersion"], "v1");
        let all = core["resources"].as_array().unwrap();
        let pods = all.iter().find(|r| r["name"] == "pods").unwrap();
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        assert_eq!(pods["namespaced"], true);
        for sub in ["pods/log", "pods/exec", "pods/portforward", "pods/status", "pods/binding"] {
            let entry = all.iter().find(|r| r["name"] == sub).unwrap_or_else(|| panic!("{sub}"));
            assert!(entry.get("group").is_none(), "{sub} is in the pods' own group version");
        }
    }

    #[test]
    fn nodes_serve_their_kubelets_through_proxy() {
        let core = resource_list("", "v1", verbs);
        let all = core["resources"].as_array().unwrap();
        let proxy = all.iter().find(|r| r["name"] == "nodes/proxy").expect("nodes/proxy");
        assert_eq!(
            *proxy,
            json!({"name": "nodes/proxy", "singularName": "", "namespaced": false, "kind": "NodeProxyOptions",
                "verbs": ["create", "delete", "get", "patch", "update"]})
        );
    }

    #[test]
    fn aggregated_documents_hold_every_version() {
        let core = aggregated(true, false, verbs);
        assert_eq!(core["apiVersion"], "apidiscovery.k8s.io/v2");
        let v1 = &core["items"][0]["versions"][0];
        let pods = v1["resources"].as_array().unwrap().iter().find(|r| r["resource"] == "pods").unwrap();
        assert_eq!(pods["scope"], "Namespaced");
        assert_eq!(pods["responseKind"], json!({"group": "", "version": "v1", "kind": "Pod"}));
        let apis = aggregated(false, true, verbs);
        assert_eq!(apis["apiVersion"], "apidiscovery.k8s.io/v2beta1");
        let apps = apis["items"].as_array().unwrap().iter().find(|g| g["metadata"]["name"] == "apps").unwrap();
        let deploy = apps["versions"][0]["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "deployments")
            .unwrap();
        let scale = deploy["subresources"].as_array().unwrap().iter().find(|s| s["subresource"] == "scale").unwrap();
        assert_eq!(scale["responseKind"]["kind"], "Scale");
    }
}
