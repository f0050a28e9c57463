//! The OpenAPI documents kube-apiserver serves, for the kinds kubelab serves:
//! `/openapi/v2` (JSON, and protobuf: kubectl 1.20 reads only that, for
//! `explain` and its client-side validation) and `/openapi/v3` (an index of one
//! document per group version: current kubectls read it for `explain` and to
//! see that the server validates fields itself, `fieldValidation`).
//!
//! The schemas come from k8s-openapi, which carries Kubernetes' own
//! descriptions (`schemas`); the paths list the operations kube-apiserver has
//! for each resource (`paths`). Everything is built once, on first use.

mod paths;
pub mod proto;
mod schemas;

use api::registry::RESOURCES;
use bytes::Bytes;
use prost::Message;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::hash::Hasher;
use std::sync::OnceLock;

/// Where v3 references point.
const COMPONENTS: &str = "#/components/schemas/";

/// The served OpenAPI documents, encoded once.
#[derive(Debug)]
pub struct OpenApi {
    v2_json: Bytes,
    v2_protobuf: Bytes,
    v3_index: Bytes,
    /// By group version path: `api/v1`, `apis/apps/v1`.
    v3: BTreeMap<String, Bytes>,
    /// Each document above with its ETag, so answering one costs no hashing.
    etags: Vec<(Bytes, String)>,
}

impl OpenApi {
    /// The documents, built on first use and kept for the life of the process
    /// (about 2.4 MB). Building takes about a third of a second in a debug
    /// build (the `building_is_quick` test prints it): call it once at start-up,
    /// or from a blocking task, rather than on an async worker.
    pub fn get() -> &'static OpenApi {
        static DOCS: OnceLock<OpenApi> = OnceLock::new();
        DOCS.get_or_init(OpenApi::build)
    }

    /// `/openapi/v2` as JSON (`Accept: application/json`).
    pub fn v2_json(&self) -> Bytes {
        self.v2_json.clone()
    }

    /// `/openapi/v2` as gnostic's `openapi.v2.Document` protobuf, what kubectl asks
    /// for (`Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf`).
    pub fn v2_protobuf(&self) -> Bytes {
        self.v2_protobuf.clone()
    }

    /// `/openapi/v3`: `{"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=<HASH>"},...}}`,
    /// the hash being the document's, so clients may cache it by URL.
    pub fn v3_index(&self) -> Bytes {
        self.v3_index.clone()
    }

    /// `/openapi/v3/<group_version_path>`, for `api/v1` or `apis/apps/v1`;
    /// None for a group version kubelab does not serve.
    pub fn v3(&self, group_version_path: &str) -> Option<Bytes> {
        self.v3.get(group_version_path.trim_matches('/')).cloned()
    }

    /// The strong ETag of a document, quoted, for the `ETag` header (and to
    /// compare with `If-None-Match`). Known for the documents above; computed
    /// for any other bytes.
    pub fn etag(&self, doc: &[u8]) -> String {
        let known = self.etags.iter().find(|(d, _)| d.as_ptr() == doc.as_ptr() && d.len() == doc.len());
        match known {
            Some((_, etag)) => etag.clone(),
            None => format!("\"{}\"", hash(doc)),
        }
    }

    fn build() -> OpenApi {
        let (defs, kinds) = schemas::definitions();
        let mut v2_paths = Map::new();
        let mut v3_docs = BTreeMap::new();
        for (r, k) in RESOURCES.iter().filter_map(|r| Some((r, kinds.iter().find(|k| k.kind == r.kind)?))) {
            let gv = paths::prefix(r.group, r.version).trim_start_matches('/').to_string();
            let doc_paths = v3_docs.entry(gv).or_insert_with(Map::new);
            for p in paths::resource_paths(r, k) {
                v2_paths.insert(p.path.clone(), p.v2(r.group, r.version));
                doc_paths.insert(p.path.clone(), p.v3(r.group, r.version));
            }
        }
        let info = json!({"title": "Kubernetes", "version": crate::service::GIT_VERSION});
        let v2 = json!({"swagger": "2.0", "info": info, "paths": v2_paths, "definitions": defs});
        let v2_json = Bytes::from(serde_json::to_vec(&v2).unwrap_or_default());
        let v2_protobuf = Bytes::from(proto::document(&v2).encode_to_vec());

        let mut v3 = BTreeMap::new();
        let mut index = Map::new();
        for (gv, doc_paths) in v3_docs {
            let mut used = vec![];
            for p in doc_paths.values() {
                schemas::refs(p, COMPONENTS, &mut used);
            }
            let schemas: Map<String, Value> = schemas::reachable(&defs, used)
                .into_iter()
                .filter_map(|name| Some((name.clone(), v3_definition(&name, defs.get(&name)?))))
                .collect();
            let doc = json!({"openapi": "3.0.0", "info": info, "paths": doc_paths, "components": {"schemas": schemas}});
            let bytes = Bytes::from(serde_json::to_vec(&doc).unwrap_or_default());
            index.insert(gv.clone(), json!({"serverRelativeURL": format!("/openapi/v3/{gv}?hash={}", hash(&bytes))}));
            v3.insert(gv, bytes);
        }
        let v3_index = Bytes::from(serde_json::to_vec(&json!({"paths": index})).unwrap_or_default());
        let etags = [&v2_json, &v2_protobuf, &v3_index]
            .into_iter()
            .chain(v3.values())
            .map(|d| (d.clone(), format!("\"{}\"", hash(d))))
            .collect();
        OpenApi { v2_json, v2_protobuf, v3_index, v3, etags }
    }
}

/// A document's hash, as uppercase hex (128 bits from two differently seeded
/// SipHashes: the documents are fixed for a build, so a content hash that is
/// stable within one build is all the cache keys need).
fn hash(doc: &[u8]) -> String {
    let half = |seed: u8| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        h.write_u8(seed);
        h.write(doc);
        h.finish()
    };
    format!("{:016X}{:016X}", half(0), half(1))
}

/// A v2 definition as v3 writes it (see [`v3_schema`]); IntOrString and
/// Quantity, a string in v2, say in v3 which JSON types they take (as
/// kube-openapi writes their `OpenAPIV3OneOfTypes`), and `kubectl explain`
/// then names them by their type's name.
fn v3_definition(name: &str, def: &Value) -> Value {
    let mut def = v3_schema(def);
    let one_of = match name {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => json!([{"type": "integer"}, {"type": "string"}]),
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => json!([{"type": "string"}, {"type": "number"}]),
        _ => return def,
    };
    if let Value::Object(m) = &mut def {
        m.remove("type");
        m.insert("oneOf".into(), one_of);
    }
    def
}

/// A v2 schema as v3 writes it: references point at `#/components/schemas/`,
/// and a reference with a description of its own is wrapped in `allOf` (a
/// `$ref`'s siblings are ignored in OpenAPI 3.0), as kube-apiserver does.
fn v3_schema(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out: Map<String, Value> = m
                .iter()
                .map(|(k, v)| match (k.as_str(), v) {
                    ("$ref", Value::String(r)) => (k.clone(), json!(r.replace(schemas::DEFINITIONS, COMPONENTS))),
                    ("properties", Value::Object(props)) => {
                        (k.clone(), Value::Object(props.iter().map(|(name, p)| (name.clone(), v3_schema(p))).collect()))
                    }
                    _ => (k.clone(), v3_schema(v)),
                })
                .collect();
            if out.len() > 1 {
                if let Some(r) = out.remove("$ref") {
                    out.insert("allOf".into(), json!([{"$ref": r}]));
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(v3_schema).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn v2() -> Value {
        serde_json::from_slice(&OpenApi::get().v2_json()).expect("v2 is JSON")
    }

    fn decoded() -> proto::Document {
        proto::Document::decode(OpenApi::get().v2_protobuf()).expect("v2 protobuf decodes")
    }

    fn def<'a>(doc: &'a proto::Document, name: &str) -> &'a proto::Schema {
        let defs = &doc.definitions.as_ref().expect("definitions").additional_properties;
        defs.iter().find(|d| d.name == name).and_then(|d| d.value.as_ref()).unwrap_or_else(|| panic!("no {name}"))
    }

    fn prop<'a>(s: &'a proto::Schema, name: &str) -> &'a proto::Schema {
        let props = &s.properties.as_ref().expect("properties").additional_properties;
        props.iter().find(|p| p.name == name).and_then(|p| p.value.as_ref()).unwrap_or_else(|| panic!("no {name}"))
    }

    fn extension<'a>(s: &'a proto::Schema, name: &str) -> Option<&'a str> {
        s.vendor_extension.iter().find(|e| e.name == name).and_then(|e| e.value.as_ref()).map(|v| v.yaml.as_str())
    }

    fn v3_doc(gv: &str) -> Value {
        serde_json::from_slice(&OpenApi::get().v3(gv).unwrap_or_else(|| panic!("no v3 {gv}"))).expect("JSON")
    }

    #[test]
    fn building_is_quick() {
        let start = Instant::now();
        let docs = OpenApi::build();
        let took = start.elapsed();
        eprintln!(
            "built in {took:?}: v2 {} KB JSON, {} KB protobuf; v3 {} documents",
            docs.v2_json.len() / 1024,
            docs.v2_protobuf.len() / 1024,
            docs.v3.len()
        );
        // Debug builds are several times slower than release ones.
        assert!(took.as_secs() < 5, "building took {took:?}");
    }

    #[test]
    fn the_protobuf_decodes_and_names_pods_fields_with_their_descriptions() {
        let doc = decoded();
        assert_eq!(doc.swagger, "2.0");
        let pod = def(&doc, "io.k8s.api.core.v1.Pod");
        assert!(pod.description.starts_with("Pod is a collection of containers"), "{}", pod.description);
        assert_eq!(
            extension(pod, "x-kubernetes-group-version-kind"),
            Some(r#"[{"group":"","kind":"Pod","version":"v1"}]"#)
        );
        let spec = prop(pod, "spec");
        assert_eq!(spec.r#ref, "#/definitions/io.k8s.api.core.v1.PodSpec");
        assert!(spec.description.starts_with("Specification of the desired behavior of the pod"));
        // Kubernetes does not require metadata; k8s-openapi's Rust type does.
        assert!(pod.required.is_empty(), "{:?}", pod.required);

        let pod_spec = def(&doc, "io.k8s.api.core.v1.PodSpec");
        assert_eq!(pod_spec.required, ["containers"]);
        let containers = prop(pod_spec, "containers");
        assert_eq!(containers.r#type.as_ref().map(|t| t.value.clone()), Some(vec!["array".to_string()]));
        let item = &containers.items.as_ref().expect("items").schema[0];
        assert_eq!(item.r#ref, "#/definitions/io.k8s.api.core.v1.Container");
        let image = prop(def(&doc, "io.k8s.api.core.v1.Container"), "image");
        assert!(image.description.starts_with("Container image name."), "{}", image.description);
        // Every reference resolves: kubectl refuses the whole document otherwise.
        let names: Vec<&str> =
            doc.definitions.as_ref().unwrap().additional_properties.iter().map(|d| d.name.as_str()).collect();
        let mut refs = vec![];
        schemas::refs(&v2()["definitions"], schemas::DEFINITIONS, &mut refs);
        schemas::refs(&v2()["paths"], schemas::DEFINITIONS, &mut refs);
        for r in refs {
            assert!(names.contains(&r.as_str()), "dangling reference to {r}");
        }
    }

    #[test]
    fn every_definition_has_at_most_one_type_and_arrays_have_items() {
        // kubectl's schema parser rejects the document otherwise.
        fn check(path: &str, s: &Value) {
            let Value::Object(m) = s else { return };
            if let Some(t) = m.get("type") {
                assert!(t.is_string(), "{path}: type {t}");
                if t == "array" {
                    assert!(m.get("items").is_some_and(Value::is_object), "{path}: array without items");
                }
            } else {
                assert!(m.contains_key("$ref") || m.contains_key("properties") || m.len() <= 2, "{path}: {s}");
            }
            for (name, p) in m.get("properties").and_then(Value::as_object).into_iter().flatten() {
                check(&format!("{path}.{name}"), p);
            }
            if let Some(items) = m.get("items") {
                check(&format!("{path}[]"), items);
            }
            if let Some(add) = m.get("additionalProperties") {
                check(&format!("{path}{{}}"), add);
            }
        }
        for (name, d) in v2()["definitions"].as_object().expect("definitions") {
            check(name, d);
        }
        let int_or_string = &v2()["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
        assert_eq!(int_or_string["type"], "string");
        assert_eq!(int_or_string["format"], "int-or-string");
        assert_eq!(v2()["definitions"]["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"], "string");
    }

    #[test]
    fn every_served_kind_and_its_list_has_a_definition_with_its_gvk() {
        let defs = v2()["definitions"].clone();
        for r in RESOURCES {
            let prefix = match r.group {
                "" => "io.k8s.api.core.v1".to_string(),
                "coordination.k8s.io" => format!("io.k8s.api.coordination.{}", r.version),
                "storage.k8s.io" => format!("io.k8s.api.storage.{}", r.version),
                g => format!("io.k8s.api.{g}.{}", r.version),
            };
            let kind = &defs[format!("{prefix}.{}", r.kind)];
            assert_eq!(
                kind["x-kubernetes-group-version-kind"],
                json!([{"group": r.group, "kind": r.kind, "version": r.version}]),
                "{}",
                r.kind
            );
            if r.kind != "Binding" {
                let list = &defs[format!("{prefix}.{}List", r.kind)];
                assert_eq!(list["x-kubernetes-group-version-kind"][0]["kind"], format!("{}List", r.kind));
                assert_eq!(list["properties"]["items"]["items"]["$ref"], format!("#/definitions/{prefix}.{}", r.kind));
            }
        }
    }

    #[test]
    fn lists_strategic_merge_patches_merge_by_key_say_so() {
        let doc = decoded();
        let containers = prop(def(&doc, "io.k8s.api.core.v1.PodSpec"), "containers");
        assert_eq!(extension(containers, "x-kubernetes-patch-merge-key"), Some(r#""name""#));
        assert_eq!(extension(containers, "x-kubernetes-patch-strategy"), Some(r#""merge""#));
        let defs = v2()["definitions"].clone();
        let field = |d: &str, f: &str| defs[d]["properties"][f].clone();
        let ports = field("io.k8s.api.core.v1.Container", "ports");
        assert_eq!(ports["x-kubernetes-patch-merge-key"], "containerPort");
        assert_eq!(field("io.k8s.api.core.v1.ServiceSpec", "ports")["x-kubernetes-patch-merge-key"], "port");
        assert_eq!(field("io.k8s.api.core.v1.Container", "volumeMounts")["x-kubernetes-patch-merge-key"], "mountPath");
        assert_eq!(field("io.k8s.api.core.v1.PodSpec", "volumes")["x-kubernetes-patch-strategy"], "merge,retainKeys");
        let owners = field("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "ownerReferences");
        assert_eq!(owners["x-kubernetes-patch-merge-key"], "uid");
        let conditions = field("io.k8s.api.apps.v1.DeploymentStatus", "conditions");
        assert_eq!(conditions["x-kubernetes-patch-merge-key"], "type");
        // Every row of the table names a field that exists.
        for (d, f, _, _) in schemas::PATCH_STRATEGIES {
            assert!(defs[*d]["properties"][*f].get("x-kubernetes-patch-strategy").is_some(), "{d}.{f}");
        }
    }

    #[test]
    fn the_v3_index_lists_each_group_version_with_its_documents_hash() {
        let docs = OpenApi::get();
        let index: Value = serde_json::from_slice(&docs.v3_index()).expect("JSON");
        let paths = index["paths"].as_object().expect("paths");
        let gvs: Vec<&str> = paths.keys().map(String::as_str).collect();
        assert_eq!(
            gvs,
            ["api/v1", "apis/apps/v1", "apis/batch/v1", "apis/coordination.k8s.io/v1", "apis/storage.k8s.io/v1"]
        );
        for (gv, entry) in paths {
            let url = entry["serverRelativeURL"].as_str().expect("serverRelativeURL");
            let doc = docs.v3(gv).expect("served");
            assert_eq!(url, format!("/openapi/v3/{gv}?hash={}", hash(&doc)));
            assert_eq!(docs.etag(&doc), format!("\"{}\"", hash(&doc)));
            assert_eq!(hash(&doc).len(), 32);
        }
        assert!(docs.v3("apis/apps/v1beta1").is_none());
        assert!(docs.v3("apis/networking.k8s.io/v1").is_none());
        assert_eq!(docs.v3("/apis/apps/v1/"), docs.v3("apis/apps/v1"));
        // ETags differ between documents and match for the same content.
        assert_ne!(docs.etag(&docs.v2_json()), docs.etag(&docs.v2_protobuf()));
        let copy = docs.v2_json().to_vec();
        assert_eq!(docs.etag(&docs.v2_json()), docs.etag(&copy));
    }

    #[test]
    fn a_v3_document_has_patch_operations_taking_field_validation() {
        // What kubectl checks before leaving field validation to the server.
        let doc = v3_doc("apis/apps/v1");
        assert_eq!(doc["openapi"], "3.0.0");
        let patch = &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "kind": "Deployment", "version": "v1"})
        );
        assert_eq!(patch["x-kubernetes-action"], "patch");
        let params = patch["parameters"].as_array().expect("parameters");
        assert!(params.iter().any(|p| p["name"] == "fieldValidation" && p["in"] == "query"), "{params:?}");
        assert!(params.iter().any(|p| p["name"] == "dryRun" && p["in"] == "query"));
        assert!(patch["requestBody"]["content"]["application/strategic-merge-patch+json"].is_object());
        // Only this group version's paths, and the schemas they use.
        let paths = doc["paths"].as_object().expect("paths");
        assert!(paths.keys().all(|p| p.starts_with("/apis/apps/v1/")), "{:?}", paths.keys());
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        assert!(schemas.contains_key("io.k8s.api.apps.v1.Deployment"));
        assert!(schemas.contains_key("io.k8s.api.core.v1.PodSpec"));
        assert!(!schemas.contains_key("io.k8s.api.core.v1.Pod"));
        let metadata = &schemas["io.k8s.api.apps.v1.Deployment"]["properties"]["metadata"];
        assert_eq!(
            metadata["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert!(metadata["description"].as_str().is_some_and(|d| d.starts_with("Standard object")));
        let int_or_string = &schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
        assert_eq!(int_or_string["oneOf"], json!([{"type": "integer"}, {"type": "string"}]));
        assert!(int_or_string.get("type").is_none());
        // Every document's references resolve within it.
        for gv in OpenApi::get().v3.keys() {
            let doc = v3_doc(gv);
            let mut refs = vec![];
            schemas::refs(&doc, COMPONENTS, &mut refs);
            for r in refs {
                assert!(doc["components"]["schemas"].get(&r).is_some(), "{gv}: dangling reference to {r}");
            }
        }
        let body = serde_json::to_string(&doc).expect("JSON");
        assert!(!body.contains("#/definitions/"), "v2 reference left in v3");
        // Binding is create-only, as in Kubernetes.
        let core = v3_doc("api/v1");
        let bindings = &core["paths"]["/api/v1/namespaces/{namespace}/bindings"];
        assert_eq!(bindings["post"]["x-kubernetes-action"], "post");
        assert!(bindings.get("get").is_none());
        assert!(core["paths"].get("/api/v1/namespaces/{namespace}/bindings/{name}").is_none());
    }

    #[test]
    fn every_resource_has_kube_apiservers_operations() {
        let paths = v2()["paths"].clone();
        let pods = "/api/v1/namespaces/{namespace}/pods";
        let action = |path: &str, method: &str| paths[path][method]["x-kubernetes-action"].clone();
        assert_eq!(action(pods, "get"), "list");
        assert_eq!(action(pods, "post"), "post");
        assert_eq!(action(pods, "delete"), "deletecollection");
        let pod = format!("{pods}/{{name}}");
        assert_eq!(action(&pod, "get"), "get");
        assert_eq!(action(&pod, "put"), "put");
        assert_eq!(action(&pod, "patch"), "patch");
        assert_eq!(action(&pod, "delete"), "delete");
        assert_eq!(action(&format!("{pod}/status"), "patch"), "patch");
        assert_eq!(action("/api/v1/pods", "get"), "list");
        assert_eq!(action("/api/v1/watch/namespaces/{namespace}/pods/{name}", "get"), "watch");
        assert_eq!(paths[&pod]["patch"]["operationId"], "patchCoreV1NamespacedPod");
        assert_eq!(
            paths["/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"]["get"]["operationId"],
            "listCoordinationV1NamespacedLease"
        );
        // Cluster-scoped resources have no namespace segment nor a status path without a status.
        assert_eq!(action("/api/v1/nodes/{name}", "get"), "get");
        assert!(paths.get("/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases/{name}/status").is_none());
        let put = paths[&pod]["put"]["parameters"].as_array().expect("parameters").clone();
        let names: Vec<&str> = put.iter().filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(names, ["body", "dryRun", "fieldManager", "fieldValidation"]);
        let path_params: Vec<&str> =
            paths[&pod]["parameters"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(path_params, ["name", "namespace", "pretty"]);
    }

    #[test]
    fn the_served_subresources_have_their_operations() {
        let doc = v2();
        let paths = &doc["paths"];
        let scale = &paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
        for method in ["get", "put", "patch"] {
            assert_eq!(
                scale[method]["x-kubernetes-group-version-kind"],
                json!({"group": "autoscaling", "kind": "Scale", "version": "v1"})
            );
        }
        assert_eq!(scale["get"]["responses"]["200"]["schema"]["$ref"], "#/definitions/io.k8s.api.autoscaling.v1.Scale");
        let scale_def = &doc["definitions"]["io.k8s.api.autoscaling.v1.Scale"];
        assert_eq!(scale_def["x-kubernetes-group-version-kind"][0]["group"], "autoscaling");
        assert!(paths["/api/v1/namespaces/{namespace}/replicationcontrollers/{name}/scale"].is_object());
        assert!(paths.get("/apis/apps/v1/namespaces/{namespace}/daemonsets/{name}/scale").is_none());

        let pod = "/api/v1/namespaces/{namespace}/pods/{name}";
        let log = &paths[format!("{pod}/log")]["get"];
        assert_eq!(log["operationId"], "readCoreV1NamespacedPodLog");
        assert_eq!(log["responses"]["200"]["schema"], json!({"type": "string"}));
        let exec = &paths[format!("{pod}/exec")];
        assert_eq!(exec["post"]["x-kubernetes-action"], "connect");
        assert_eq!(exec["get"]["x-kubernetes-group-version-kind"]["kind"], "PodExecOptions");
        assert_eq!(exec["post"]["operationId"], "connectPostCoreV1NamespacedPodExec");
        let exec_params: Vec<&str> =
            exec["parameters"].as_array().unwrap().iter().filter_map(|p| p["name"].as_str()).collect();
        assert!(exec_params.contains(&"command") && exec_params.contains(&"tty"), "{exec_params:?}");
        assert_eq!(
            paths[format!("{pod}/portforward")]["get"]["operationId"],
            "connectGetCoreV1NamespacedPodPortForward"
        );
        assert_eq!(paths[format!("{pod}/binding")]["post"]["x-kubernetes-group-version-kind"]["kind"], "Binding");
        assert_eq!(paths["/api/v1/namespaces/{name}/finalize"]["put"]["x-kubernetes-action"], "put");
        // The protobuf carries them too.
        let decoded = decoded();
        let paths = &decoded.paths.as_ref().expect("paths").path;
        let log = paths.iter().find(|p| p.name == format!("{pod}/log")).and_then(|p| p.value.as_ref());
        assert_eq!(
            log.and_then(|l| l.get.as_ref()).map(|g| g.operation_id.as_str()),
            Some("readCoreV1NamespacedPodLog")
        );
    }

    #[test]
    fn every_served_kind_has_a_schema() {
        let (_, kinds) = schemas::definitions();
        for r in RESOURCES {
            assert!(
                kinds.iter().any(|k| (k.group, k.version, k.kind) == (r.group, r.version, r.kind)),
                "{} has no k8s-openapi type in openapi::schemas::KINDS",
                r.kind
            );
        }
    }
}
