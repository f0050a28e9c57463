//! Kubernetes' URL layout, parsed: which document or which resource a path
//! names, as kube-apiserver's request-info resolver reads it
//! (`k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`).
//!
//! ```text
//! /api/v1/pods                                   every pod, all namespaces
//! /api/v1/namespaces/default/pods/kubia/log      a pod's subresource
//! /api/v1/namespaces/default                     the namespace itself
//! /apis/apps/v1/namespaces/default/deployments/kubia/scale
//! /api/v1/watch/namespaces/default/pods          the deprecated watch prefix
//! /api/v1/namespaces/default/pods/kubia/proxy/x  proxy: the rest is `rest`
//! ```

use api::{registry, ApiError, Reason, ResourceInfo};

/// What a request path names.
#[derive(Debug, Clone, PartialEq)]
pub enum Path {
    /// `/api`: the legacy group's versions.
    CoreVersions,
    /// `/apis`: every named group.
    Groups,
    /// `/apis/<group>`: one group.
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`: the resources of a group version.
    Resources { group: String, version: String },
    /// A collection, object or subresource.
    Resource(ResourcePath),
    /// `/version`, `/healthz`..., `/openapi/...`: served by name.
    Other(String),
}

/// A resource request: the collection (in a namespace or across all of
/// them), an object of it, or one of the object's subresources.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourcePath {
    pub info: &'static ResourceInfo,
    /// "" for cluster-scoped resources and for lists across all namespaces.
    pub namespace: String,
    /// "" for the collection.
    pub name: String,
    /// "" for the object itself; `status`, `scale`, `log`, `exec`...
    pub subresource: String,
    /// What follows a `proxy` subresource, without its leading `/`.
    pub rest: String,
    /// The path began with the deprecated `watch/` prefix.
    pub watch: bool,
}

fn not_found() -> ApiError {
    ApiError::new(Reason::NotFound, "the server could not find the requested resource")
}

/// Parses a request path (without its query).
pub fn parse(path: &str) -> Result<Path, ApiError> {
    let trimmed = path.trim_end_matches('/');
    let decoded: Vec<String> = trimmed.split('/').skip(1).map(percent_decode).collect();
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    // An empty segment inside the path (`/api/v1/namespaces//pods`) names nothing.
    if segments.first().is_some_and(|s| *s == "api" || *s == "apis") && segments.iter().any(|s| s.is_empty()) {
        return Err(not_found());
    }
    match segments.as_slice() {
        ["api"] => Ok(Path::CoreVersions),
        ["apis"] => Ok(Path::Groups),
        ["apis", group] => Ok(Path::Group(group.to_string())),
        ["api", version] => Ok(Path::Resources { group: String::new(), version: version.to_string() }),
        ["apis", group, version] => Ok(Path::Resources { group: group.to_string(), version: version.to_string() }),
        ["api", version, rest @ ..] => resource("", version, rest).map(Path::Resource),
        ["apis", group, version, rest @ ..] => resource(group, version, rest).map(Path::Resource),
        _ => Ok(Path::Other(if trimmed.is_empty() { "/".to_string() } else { trimmed.to_string() })),
    }
}

/// A path segment with its `%XX` escapes decoded (a bad escape stays as written).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).and_then(|b| hex(*b)), bytes.get(i + 2).and_then(|b| hex(*b))) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The resource part of a path: what follows `/api/v1/` or `/apis/<g>/<v>/`.
fn resource(group: &str, version: &str, segments: &[&str]) -> Result<ResourcePath, ApiError> {
    let (watch, segments) = match segments {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, segments),
    };
    // `namespaces/<ns>/<resource>/...` is namespaced; `namespaces` and
    // `namespaces/<ns>[/<subresource>]` name the Namespace object itself.
    let (namespace, rest): (&str, &[&str]) = match segments {
        ["namespaces", ns, resource, rest @ ..] if !is_namespace_subresource(resource) || !rest.is_empty() => {
            let mut all = vec![*resource];
            all.extend_from_slice(rest);
            return finish(group, version, ns, &all, watch);
        }
        _ => ("", segments),
    };
    finish(group, version, namespace, rest, watch)
}

/// `namespaces/<name>/finalize` and `namespaces/<name>/status` are the
/// Namespace's own subresources, not collections in it.
fn is_namespace_subresource(segment: &str) -> bool {
    matches!(segment, "finalize" | "status")
}

fn finish(
    group: &str,
    version: &str,
    namespace: &str,
    segments: &[&str],
    watch: bool,
) -> Result<ResourcePath, ApiError> {
    let (plural, name, subresource, rest) = match segments {
        [plural] => (*plural, "", "", String::new()),
        [plural, name] => (*plural, *name, "", String::new()),
        [plural, name, sub] => (*plural, *name, *sub, String::new()),
        [plural, name, "proxy", rest @ ..] => (*plural, *name, "proxy", rest.join("/")),
        _ => return Err(not_found()),
    };
    let info = served(group, version, plural).ok_or_else(not_found)?;
    if name.is_empty() && !namespace.is_empty() && !info.namespaced {
        return Err(not_found());
    }
    if !info.namespaced && !namespace.is_empty() {
        return Err(not_found());
    }
    Ok(ResourcePath {
        info,
        namespace: namespace.to_string(),
        name: name.to_string(),
        subresource: subresource.to_string(),
        rest,
        watch,
    })
}

/// The resource served at `group/version` under this plural name.
pub fn served(group: &str, version: &str, plural: &str) -> Option<&'static ResourceInfo> {
    registry::RESOURCES.iter().find(|r| r.group == group && r.version == version && r.plural == plural)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match parse(path).unwrap_or_else(|e| panic!("{path}: {e}")) {
            Path::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn discovery_paths() {
        assert_eq!(parse("/api").unwrap(), Path::CoreVersions);
        assert_eq!(parse("/apis/").unwrap(), Path::Groups);
        assert_eq!(parse("/apis/apps").unwrap(), Path::Group("apps".into()));
        assert_eq!(parse("/api/v1").unwrap(), Path::Resources { group: "".into(), version: "v1".into() });
        assert_eq!(parse("/apis/apps/v1").unwrap(), Path::Resources { group: "apps".into(), version: "v1".into() });
        assert_eq!(parse("/healthz").unwrap(), Path::Other("/healthz".into()));
        assert_eq!(parse("/").unwrap(), Path::Other("/".into()));
    }

    #[test]
    fn namespaced_collections_objects_and_subresources() {
        let all = res("/api/v1/pods");
        assert_eq!((all.info.plural, all.namespace.as_str(), all.name.as_str()), ("pods", "", ""));
        let list = res("/api/v1/namespaces/default/pods");
        assert_eq!((list.namespace.as_str(), list.name.as_str()), ("default", ""));
        let log = res("/api/v1/namespaces/default/pods/kubia/log");
        assert_eq!((log.name.as_str(), log.subresource.as_str()), ("kubia", "log"));
        let scale = res("/apis/apps/v1/namespaces/ns1/deployments/web/scale");
        assert_eq!((scale.info.kind, scale.subresource.as_str()), ("Deployment", "scale"));
        let proxy = res("/api/v1/namespaces/default/pods/kubia:8080/proxy/a/b");
        assert_eq!(
            (proxy.name.as_str(), proxy.subresource.as_str(), proxy.rest.as_str()),
            ("kubia:8080", "proxy", "a/b")
        );
    }

    #[test]
    fn the_namespace_itself_and_its_subresources() {
        let ns = res("/api/v1/namespaces/team");
        assert_eq!((ns.info.kind, ns.namespace.as_str(), ns.name.as_str()), ("Namespace", "", "team"));
        let fin = res("/api/v1/namespaces/team/finalize");
        assert_eq!((fin.name.as_str(), fin.subresource.as_str()), ("team", "finalize"));
        let status = res("/api/v1/namespaces/team/status");
        assert_eq!((status.name.as_str(), status.subresource.as_str()), ("team", "status"));
        // A resource called "status" inside a namespace would need a name after it.
        let nodes = res("/api/v1/nodes/w1/status");
        assert_eq!((nodes.info.kind, nodes.subresource.as_str()), ("Node", "status"));
    }

    #[test]
    fn escapes_in_segments_are_decoded() {
        let proxy = res("/api/v1/namespaces/default/pods/kubia%3A8080/proxy/a%20b");
        assert_eq!((proxy.name.as_str(), proxy.rest.as_str()), ("kubia:8080", "a b"));
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn the_watch_prefix() {
        let w = res("/api/v1/watch/namespaces/default/pods/kubia");
        assert!(w.watch);
        assert_eq!((w.namespace.as_str(), w.name.as_str()), ("default", "kubia"));
        assert!(res("/apis/apps/v1/watch/deployments").watch);
    }

    #[test]
    fn unknown_resources_and_misplaced_scopes_are_not_found() {
        for bad in [
            "/api/v1/frobs",
            "/api/v2/pods",
            "/apis/apps/v1/pods",
            "/api/v1/namespaces/default/nodes",
            "/api/v1/namespaces/default/pods/a/b/c",
            "/api/v1/namespaces//pods",
            "/apis//v1",
            "/apis//v1/deployments",
        ] {
            let err = parse(bad).expect_err(bad);
            assert_eq!(err.code(), 404, "{bad}");
            assert_eq!(err.message, "the server could not find the requested resource");
        }
    }
}
