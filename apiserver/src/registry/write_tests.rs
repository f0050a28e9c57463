//! Tests of the write options: managedFields, server-side apply, field
//! validation and dry runs, over the memory store.

use super::*;
use crate::store::mem::MemStore;
use api::registry::lookup;

async fn registry() -> Registry {
    let reg = Registry::new(Arc::new(MemStore::new()));
    reg.bootstrap().await.unwrap();
    reg
}

fn pods() -> &'static ResourceInfo {
    lookup("pods").unwrap()
}

fn deployments() -> &'static ResourceInfo {
    lookup("deployments").unwrap()
}

fn by(manager: &str) -> WriteOptions {
    WriteOptions { field_manager: manager.into(), ..Default::default() }
}

fn forced(manager: &str) -> WriteOptions {
    WriteOptions { force: true, ..by(manager) }
}

fn pod(labels: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a", "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}))
    .unwrap()
}

fn deployment(replicas: i64) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
}

fn entries(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| (e["manager"].as_str().unwrap().to_string(), e["operation"].as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn fields_of<'a>(obj: &'a Value, manager: &str) -> &'a Value {
    let all = obj["metadata"]["managedFields"].as_array().expect("managedFields");
    &all.iter().find(|e| e["manager"] == manager).expect("the manager's entry")["fieldsV1"]
}

async fn apply(reg: &Registry, info: &ResourceInfo, name: &str, config: &Value, opts: &WriteOptions) -> Result<Value> {
    let ns = if info.namespaced { "default" } else { "" };
    reg.patch(info, ns, name, PatchType::Apply, &serde_json::to_vec(config).unwrap(), "", opts).await
}

#[tokio::test]
async fn a_create_records_what_its_manager_set() {
    let reg = registry().await;
    let created = reg.create(pods(), "default", &pod(json!({"app": "x"})), &by("kubectl-create")).await.unwrap();
    let entry = &created["metadata"]["managedFields"][0];
    assert_eq!(entry["manager"], "kubectl-create");
    assert_eq!(entry["operation"], "Update");
    assert_eq!(entry["apiVersion"], "v1");
    assert_eq!(entry["fieldsType"], "FieldsV1");
    assert!(api::time::parse(entry["time"].as_str().unwrap()).is_some());
    let fields = &entry["fieldsV1"];
    assert_eq!(fields["f:metadata"], json!({"f:labels": {"f:app": {}}}), "server-set metadata is nobody's");
    let container = &fields["f:spec"]["f:containers"][r#"k:{"name":"c"}"#];
    assert_eq!(container["."], json!({}));
    assert_eq!(container["f:image"], json!({}));
    assert_eq!(container["f:imagePullPolicy"], json!({}), "defaults belong to the writer");
    assert!(fields.get("f:status").is_none() && fields.get("f:apiVersion").is_none());
    // Without a manager nothing is recorded.
    let body =
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}})).unwrap();
    let ns = reg.create(lookup("namespaces").unwrap(), "", &body, &WriteOptions::default()).await.unwrap();
    assert!(ns["metadata"].get("managedFields").is_none());
}

#[tokio::test]
async fn updates_and_patches_take_the_fields_they_change() {
    let reg = registry().await;
    reg.create(pods(), "default", &pod(json!({"app": "x", "tier": "web"})), &by("creator")).await.unwrap();
    let patch = serde_json::to_vec(&json!({"metadata": {"labels": {"app": "y", "tier": null}}})).unwrap();
    let patched = reg.patch(pods(), "default", "a", PatchType::Merge, &patch, "", &by("labeller")).await.unwrap();
    assert_eq!(entries(&patched), [("creator".into(), "Update".into()), ("labeller".into(), "Update".into())]);
    assert_eq!(fields_of(&patched, "labeller"), &json!({"f:metadata": {"f:labels": {"f:app": {}}}}));
    let creator = fields_of(&patched, "creator");
    assert!(creator["f:metadata"].is_null(), "app moved, tier is gone: {creator}");
    assert!(!creator["f:spec"].is_null());
    // A write that changes nothing keeps the object, time and resourceVersion alike.
    let again = reg.patch(pods(), "default", "a", PatchType::Merge, &patch, "", &by("labeller")).await.unwrap();
    assert_eq!(again, patched);
    // A status write is recorded apart, for the status subresource.
    let mut status = patched.clone();
    status["status"] = json!({"phase": "Running"});
    let body = serde_json::to_vec(&status).unwrap();
    let written = reg.update(pods(), "default", "a", &body, "status", &by("kubelet")).await.unwrap();
    let kubelet = written["metadata"]["managedFields"].as_array().unwrap().iter().find(|e| e["manager"] == "kubelet");
    let kubelet = kubelet.expect("kubelet's entry");
    assert_eq!(kubelet["subresource"], "status");
    assert_eq!(kubelet["fieldsV1"], json!({"f:status": {"f:phase": {}}}));
}

#[tokio::test]
async fn apply_creates_and_reapplying_writes_nothing() {
    let reg = registry().await;
    let yaml = b"apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\n  labels:\n    app: x\nspec:\n  containers:\n  - name: c\n    image: busybox\n";
    let created = reg.patch(pods(), "default", "a", PatchType::Apply, yaml, "", &by("kubectl")).await.unwrap();
    assert_eq!(entries(&created), [("kubectl".into(), "Apply".into())]);
    let fields = fields_of(&created, "kubectl");
    assert_eq!(fields["f:metadata"], json!({"f:labels": {"f:app": {}}}));
    assert!(
        fields["f:spec"]["f:containers"][r#"k:{"name":"c"}"#]["f:imagePullPolicy"].is_null(),
        "defaults are nobody's"
    );
    assert_eq!(created["spec"]["containers"][0]["imagePullPolicy"], "Always", "but they are set");
    let again = reg.patch(pods(), "default", "a", PatchType::Apply, yaml, "", &by("kubectl")).await.unwrap();
    assert_eq!(again, created, "no write: same resourceVersion, same managedFields");
}

#[tokio::test]
async fn apply_conflicts_with_another_managers_value_unless_forced() {
    let reg = registry().await;
    let body = serde_json::to_vec(&deployment(1)).unwrap();
    reg.create(deployments(), "default", &body, &by("kubectl-client-side-apply")).await.unwrap();
    let err = apply(&reg, deployments(), "web", &deployment(3), &by("kubectl")).await.unwrap_err();
    assert_eq!(err.reason, Reason::Conflict);
    assert_eq!(err.code(), 409);
    assert_eq!(
        err.message,
        r#"Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using apps/v1: .spec.replicas"#
    );
    let status = err.to_status();
    assert_eq!(status["details"]["causes"][0]["reason"], "FieldManagerConflict");
    assert_eq!(status["details"]["causes"][0]["field"], ".spec.replicas");
    assert_eq!(status["details"]["causes"][0]["message"], r#"conflict with "kubectl-client-side-apply" using apps/v1"#);
    let stored = reg.get(deployments(), "default", "web").await.unwrap();
    assert_eq!(stored["spec"]["replicas"], 1, "a conflict writes nothing");

    let applied = apply(&reg, deployments(), "web", &deployment(3), &forced("kubectl")).await.unwrap();
    assert!(fields_of(&applied, "kubectl").get("f:metadata").is_none(), "a name is not a field anyone owns");
    assert_eq!(applied["spec"]["replicas"], 3);
    assert!(fields_of(&applied, "kubectl")["f:spec"]["f:replicas"].is_object());
    let other = fields_of(&applied, "kubectl-client-side-apply");
    assert!(other["f:spec"]["f:replicas"].is_null(), "forcing takes the field: {other}");
    assert!(other["f:spec"]["f:template"].is_object(), "and only that field");
}

#[tokio::test]
async fn two_appliers_share_a_field_they_agree_on() {
    let reg = registry().await;
    apply(&reg, deployments(), "web", &deployment(2), &by("alice")).await.unwrap();
    // Same value: no conflict, both own it.
    let shared = apply(&reg, deployments(), "web", &deployment(2), &by("bob")).await.unwrap();
    assert!(fields_of(&shared, "alice")["f:spec"]["f:replicas"].is_object());
    assert!(fields_of(&shared, "bob")["f:spec"]["f:replicas"].is_object());
    // A changed value conflicts with the other applier, named without a version.
    let err = apply(&reg, deployments(), "web", &deployment(5), &by("bob")).await.unwrap_err();
    assert_eq!(err.message, r#"Apply failed with 1 conflict: conflict with "alice": .spec.replicas"#);
    // When alice stops applying it, bob still owns it, so it stays.
    let mut without = deployment(2);
    without["spec"].as_object_mut().unwrap().remove("replicas");
    let kept = apply(&reg, deployments(), "web", &without, &by("alice")).await.unwrap();
    assert_eq!(kept["spec"]["replicas"], 2);
    assert!(fields_of(&kept, "alice")["f:spec"]["f:replicas"].is_null());
}

#[tokio::test]
async fn fields_no_longer_applied_are_removed() {
    let reg = registry().await;
    let mut config = deployment(1);
    config["metadata"]["labels"] = json!({"a": "1", "b": "2"});
    config["spec"]["template"]["spec"]["containers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "side", "image": "busybox"}));
    apply(&reg, deployments(), "web", &config, &by("kubectl")).await.unwrap();
    config["metadata"]["labels"] = json!({"a": "1"});
    config["spec"]["template"]["spec"]["containers"].as_array_mut().unwrap().pop();
    let out = apply(&reg, deployments(), "web", &config, &by("kubectl")).await.unwrap();
    assert_eq!(out["metadata"]["labels"], json!({"a": "1"}));
    let containers = out["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1, "{containers:?}");
    assert_eq!(containers[0]["name"], "web");
}

#[tokio::test]
async fn apply_needs_a_field_manager_and_force_needs_apply() {
    let reg = registry().await;
    let err = apply(&reg, deployments(), "web", &deployment(1), &WriteOptions::default()).await.unwrap_err();
    assert_eq!(err.code(), 422);
    assert_eq!(
        err.message,
        r#"PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch"#
    );
    reg.create(pods(), "default", &pod(json!({})), &by("x")).await.unwrap();
    let patch = serde_json::to_vec(&json!({"metadata": {"labels": {"a": "b"}}})).unwrap();
    let err = reg.patch(pods(), "default", "a", PatchType::Merge, &patch, "", &forced("x")).await.unwrap_err();
    assert_eq!(
        err.message,
        r#"PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch"#
    );
    let mut keyless = deployment(1);
    keyless["spec"]["template"]["spec"]["containers"][0].as_object_mut().unwrap().remove("name");
    let err = apply(&reg, deployments(), "web", &keyless, &by("x")).await.unwrap_err();
    assert_eq!(
        err.message,
        "failed to create typed patch object (apps/v1, Kind=Deployment): .spec.template.spec.containers: element 0: \
         associative list with keys has an element that omits key field \"name\" (and doesn't have default value)"
    );
}

#[tokio::test]
async fn field_validation_fails_warns_or_ignores_unknown_fields() {
    let reg = registry().await;
    let body = |name: &str| {
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"foo": 1, "containers": [{"name": "c", "image": "busybox", "bar": true}]}}))
        .unwrap()
    };
    let err = reg.create(pods(), "default", &body("s"), &WriteOptions::default()).await.unwrap_err();
    assert_eq!(
        err.message,
        r#"Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].bar", unknown field "spec.foo""#
    );
    let warn = WriteOptions { field_validation: FieldValidation::Warn, ..Default::default() };
    let created = reg.create(pods(), "default", &body("w"), &warn).await.unwrap();
    assert!(created["spec"].get("foo").is_none() && created["spec"]["containers"][0].get("bar").is_none());
    assert_eq!(warn.warnings.take(), [r#"unknown field "spec.containers[0].bar""#, r#"unknown field "spec.foo""#]);
    let ignore = WriteOptions { field_validation: FieldValidation::Ignore, ..Default::default() };
    let created = reg.create(pods(), "default", &body("i"), &ignore).await.unwrap();
    assert!(created["spec"].get("foo").is_none());
    assert!(ignore.warnings.take().is_empty());
    // Patches are checked the same way.
    let patch = serde_json::to_vec(&json!({"spec": {"nope": 1}})).unwrap();
    let err = reg.patch(pods(), "default", "w", PatchType::Merge, &patch, "", &WriteOptions::default()).await;
    assert!(err.unwrap_err().message.contains(r#"unknown field "spec.nope""#));
    reg.patch(pods(), "default", "w", PatchType::Merge, &patch, "", &warn).await.unwrap();
    assert_eq!(warn.warnings.take(), [r#"unknown field "spec.nope""#]);
    assert_eq!("Bogus".parse::<FieldValidation>().unwrap_err().reason, Reason::BadRequest);
}

#[tokio::test]
async fn fields_set_twice_are_strict_decoding_errors_or_warnings() {
    let reg = registry().await;
    let body = |name: &str| {
        format!(
            r#"{{"apiVersion": "v1", "kind": "Pod", "metadata": {{"name": "{name}", "labels": {{"a": "1", "a": "2"}}}},
                "spec": {{"containers": [{{"name": "c", "image": "busybox"}}]}}}}"#
        )
        .into_bytes()
    };
    let err = reg.create(pods(), "default", &body("s"), &WriteOptions::default()).await.unwrap_err();
    assert_eq!(
        err.message,
        r#"Pod in version "v1" cannot be handled as a Pod: strict decoding error: duplicate field "metadata.labels.a""#
    );
    let warn = WriteOptions { field_validation: FieldValidation::Warn, ..Default::default() };
    let created = reg.create(pods(), "default", &body("w"), &warn).await.unwrap();
    assert_eq!(created["metadata"]["labels"]["a"], "2", "the last value wins");
    assert_eq!(warn.warnings.take(), [r#"duplicate field "metadata.labels.a""#]);
}

#[tokio::test]
async fn dry_runs_store_nothing() {
    let reg = registry().await;
    let dry = WriteOptions { dry_run: true, ..by("kubectl") };
    let answer = reg.create(pods(), "default", &pod(json!({})), &dry).await.unwrap();
    assert_eq!(entries(&answer), [("kubectl".into(), "Update".into())], "the answer is what would be stored");
    assert!(reg.get(pods(), "default", "a").await.unwrap_err().is_not_found());
    let applied = apply(&reg, deployments(), "web", &deployment(1), &dry).await.unwrap();
    assert_eq!(applied["spec"]["replicas"], 1);
    assert!(reg.get(deployments(), "default", "web").await.unwrap_err().is_not_found());

    let stored = reg.create(pods(), "default", &pod(json!({})), &by("kubectl")).await.unwrap();
    let patch = serde_json::to_vec(&json!({"metadata": {"labels": {"a": "b"}}})).unwrap();
    let patched = reg.patch(pods(), "default", "a", PatchType::StrategicMerge, &patch, "", &dry).await.unwrap();
    assert_eq!(patched["metadata"]["labels"]["a"], "b");
    let mut update = stored.clone();
    update["metadata"]["labels"] = json!({"c": "d"});
    reg.update(pods(), "default", "a", &serde_json::to_vec(&update).unwrap(), "", &dry).await.unwrap();
    assert_eq!(reg.get(pods(), "default", "a").await.unwrap(), stored);
}
