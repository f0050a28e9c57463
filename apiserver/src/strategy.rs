//! The `Strategy` trait: everything the generic registry asks of a kind, as
//! kube-apiserver's REST strategies (`RESTCreateStrategy`,
//! `RESTUpdateStrategy`, `RESTDeleteStrategy` in
//! `pkg/registry/<group>/<kind>/strategy.go`). Each method has the default
//! most kinds want; a kind with rules of its own overrides some in its file
//! under `crate::kinds`, and the registry calls them through its table of
//! strategies, never naming a kind.
//!
//! Also here: what the server does to every object around a write whatever
//! its kind ([`before_create`], [`before_update`]: server-owned metadata, the
//! status subresource, generation), which then calls the kind's hooks.

use crate::registry::{DeleteOptions, Registry};
use api::{meta, validation, ApiError, Reason, ResourceInfo};
use rand::Rng;
use serde_json::Value;
use std::time::Duration;

type Result<T, E = ApiError> = std::result::Result<T, E>;

/// A kind's server-side rules. Every method but [`Strategy::info`] has a
/// default; the order the registry calls them in is that of kube-apiserver:
///
/// - create: [`before_create`] (generic metadata, then `prepare_for_create`,
///   `initial_status`), [`Strategy::default`], [`Strategy::validate`],
///   [`Strategy::finish_create`], [`Strategy::begin_create`], then the write;
/// - update and patch: [`before_update`] (then `prepare_for_update`),
///   `default`, `validate` with the old object, [`Strategy::begin_update`],
///   then the write, which removes the object when its deletion is finished
///   ([`Strategy::deletion_finished`]);
/// - delete: [`Strategy::check_delete`], [`Strategy::delete_grace`] (mark or
///   remove), [`Strategy::prepare_for_delete`] when marking,
///   [`Strategy::after_delete`] once the object is gone.
#[async_trait::async_trait]
pub trait Strategy: Send + Sync {
    /// The resource these rules are for.
    fn info(&self) -> &'static ResourceInfo;

    /// The verbs served, as discovery (`kubectl api-resources -o wide`) lists them.
    fn verbs(&self) -> &'static [&'static str] {
        self.info().verbs()
    }

    /// What the kind changes on a new object before defaulting, after the
    /// generic part of [`before_create`].
    fn prepare_for_create(&self, _obj: &mut Value) {}

    /// The status a new object starts with (for kinds with a status
    /// subresource). Kinds whose controllers fill status in start with none.
    fn initial_status(&self) -> Option<Value> {
        None
    }

    /// Whether spec changes are counted in `metadata.generation` (kinds with
    /// a status subresource, whose controllers report `observedGeneration`).
    fn counts_generation(&self) -> bool {
        self.info().has_status
    }

    /// Fills in Kubernetes' defaults. The pure functions live in
    /// `api::validation`, shared with kubectl.
    fn default(&self, obj: &mut Value) -> Result<()> {
        validation::apply_defaults(self.info(), obj)
    }

    /// Validates a defaulted object; `old` is the stored object on update.
    fn validate(&self, obj: &Value, old: Option<&Value>) -> Result<()> {
        validation::validate(self.info(), obj, old)
    }

    /// What the server completes on a new object once it is defaulted and valid.
    fn finish_create(&self, _obj: &mut Value) {}

    /// Takes what a new object needs from shared pools before it is stored
    /// (a Service's cluster IPs and node ports), filling it in. The registry
    /// settles the returned reservation once it knows whether the write
    /// happened, as kube-apiserver's `BeginCreate` and its finish function.
    async fn begin_create(&self, _obj: &mut Value, _dry_run: bool) -> Result<Option<Box<dyn Reservation>>> {
        Ok(None)
    }

    /// What the kind changes on an update, after the generic part of
    /// [`before_update`] (not called for the status subresource).
    fn prepare_for_update(&self, _new: &mut Value, _old: &Value) {}

    /// As [`Strategy::begin_create`], for an update of the main resource or a subresource.
    async fn begin_update(
        &self,
        _new: &mut Value,
        _old: &Value,
        _dry_run: bool,
    ) -> Result<Option<Box<dyn Reservation>>> {
        Ok(None)
    }

    /// How long the store keeps an object after its last write; None keeps it.
    fn ttl(&self) -> Option<Duration> {
        None
    }

    /// Refuses the deletion of objects that may never go.
    fn check_delete(&self, _name: &str) -> Result<()> {
        Ok(())
    }

    /// Whether a delete only marks the object (`deletionTimestamp`, with this
    /// grace period in seconds) or removes it now (None). By default an
    /// object with finalizers is marked and waits for them.
    fn delete_grace(&self, obj: &Value, _opts: &DeleteOptions) -> Option<i64> {
        (!meta::finalizers(obj).is_empty()).then_some(0)
    }

    /// What the kind changes on an object it marks for deletion.
    fn prepare_for_delete(&self, _obj: &mut Value) {}

    /// Whether an object being deleted, whose `metadata.finalizers` are all
    /// gone, may be removed by the write that removed the last one.
    fn deletion_finished(&self, _obj: &Value) -> bool {
        true
    }

    /// Runs once the object is removed from the store (not only marked).
    async fn after_delete(&self, _obj: &Value) {}

    /// A `create` on a subresource (`pods/<name>/binding`): by default there is none.
    async fn create_subresource(
        &self,
        _registry: &Registry,
        _namespace: &str,
        _name: &str,
        subresource: &str,
        _body: &[u8],
    ) -> Result<Value> {
        Err(ApiError::new(
            Reason::NotFound,
            format!("the server could not find the requested resource ({} {subresource})", self.info().plural),
        ))
    }
}

/// How a write that a strategy took something for ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Nothing was stored: a failure, a dry run, or an update that changed nothing.
    NotStored,
    /// The object was stored.
    Stored,
    /// The update removed the object (its last finalizer went).
    Removed,
}

/// What [`Strategy::begin_create`] or [`Strategy::begin_update`] took,
/// settled exactly once with the write's [`Outcome`].
#[async_trait::async_trait]
pub trait Reservation: Send {
    async fn finish(self: Box<Self>, outcome: Outcome);
}

/// Settles a reservation, if there is one.
pub async fn finish(reservation: Option<Box<dyn Reservation>>, outcome: Outcome) {
    if let Some(r) = reservation {
        r.finish(outcome).await;
    }
}

/// The characters Kubernetes uses for generated name suffixes (no vowels, no
/// look-alike digits, so generated names never spell words).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `generateName` plus 5 random characters, as Kubernetes' SimpleNameGenerator.
pub fn generate_name(prefix: &str) -> String {
    // Names are at most 63 characters for most kinds; Kubernetes trims the prefix to 58.
    let prefix: String = prefix.chars().take(58).collect();
    let mut rng = rand::rng();
    let suffix: String = (0..5).map(|_| NAME_ALPHABET[rng.random_range(0..NAME_ALPHABET.len())] as char).collect();
    format!("{prefix}{suffix}")
}

/// Sets what the server owns on a new object (uid, creationTimestamp,
/// generation, the initial status), drops what clients may not set, as
/// kube-apiserver's `rest.BeforeCreate`; then the kind's own preparation.
pub fn before_create(strategy: &dyn Strategy, obj: &mut Value) {
    let m = meta::metadata_mut(obj);
    for server_owned in
        ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"]
    {
        m.remove(server_owned);
    }
    m.insert("uid".into(), uuid::Uuid::new_v4().to_string().into());
    m.insert("creationTimestamp".into(), api::time::now().into());
    if strategy.counts_generation() {
        m.insert("generation".into(), 1.into());
    }
    strategy.prepare_for_create(obj);
    if strategy.info().has_status {
        match strategy.initial_status() {
            Some(s) => obj["status"] = s,
            None => {
                if let Some(o) = obj.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    }
}

/// Merges a client's update onto the stored object according to what the
/// request may change, and bumps generation when the spec changed, as
/// kube-apiserver's `rest.BeforeUpdate` with the kind's update strategy.
///
/// `subresource` is "" (main resource: status is kept from `old`) or "status"
/// (only status is taken from `new`).
pub fn before_update(strategy: &dyn Strategy, new: &mut Value, old: &Value, subresource: &str) {
    if subresource == "status" {
        // Only status is taken from the request; spec and metadata stay as stored.
        let status = new.get("status").cloned();
        *new = old.clone();
        match status {
            Some(s) => new["status"] = s,
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
        return;
    }
    if strategy.info().has_status {
        match old.get("status") {
            Some(s) => new["status"] = s.clone(),
            None => {
                if let Some(o) = new.as_object_mut() {
                    o.remove("status");
                }
            }
        }
    }
    // Fields the server owns are kept from the stored object, whatever the client sent.
    let old_meta = old.get("metadata").cloned().unwrap_or_default();
    let m = meta::metadata_mut(new);
    for owned in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
        match old_meta.get(owned) {
            Some(v) => m.insert(owned.into(), v.clone()),
            None => m.remove(owned),
        };
    }
    m.remove("managedFields");
    strategy.prepare_for_update(new, old);
    if strategy.counts_generation() && spec_of(new) != spec_of(old) {
        let g = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        meta::set_meta(new, "generation", g);
    }
}

/// Everything but metadata and status: the part of the object whose changes count as a new generation.
fn spec_of(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("metadata");
        o.remove("status");
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::testing::strategy;
    use serde_json::json;

    #[test]
    fn generated_names_have_five_safe_characters() {
        let n = generate_name("kubia-");
        assert_eq!(n.len(), 11);
        assert!(n[6..].bytes().all(|b| NAME_ALPHABET.contains(&b)), "{n}");
        assert_ne!(generate_name("x-"), generate_name("x-"));
    }

    #[test]
    fn create_sets_server_fields_and_pending_status() {
        let pods = strategy("pods");
        let mut pod =
            json!({"metadata": {"name": "a", "resourceVersion": "7"}, "spec": {}, "status": {"phase": "Running"}});
        before_create(&*pods, &mut pod);
        pods.finish_create(&mut pod);
        assert_eq!(pod["status"], json!({"phase": "Pending", "qosClass": "BestEffort"}));
        assert_eq!(pod["metadata"]["generation"], 1);
        assert!(pod["metadata"].get("resourceVersion").is_none());
        assert_eq!(meta::uid(&pod).len(), 36);
    }

    #[test]
    fn update_keeps_status_and_counts_spec_changes() {
        let rc = strategy("rc");
        let old = json!({"metadata": {"name": "a", "uid": "u", "generation": 1}, "spec": {"replicas": 1}, "status": {"replicas": 1}});
        let mut same = json!({"metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {"replicas": 1}, "status": {"replicas": 9}});
        before_update(&*rc, &mut same, &old, "");
        assert_eq!(same["status"]["replicas"], 1, "status is not writable through the main resource");
        assert_eq!(same["metadata"]["generation"], 1, "a label change is not a new generation");
        assert_eq!(same["metadata"]["uid"], "u");
        let mut scaled = json!({"metadata": {"name": "a"}, "spec": {"replicas": 3}});
        before_update(&*rc, &mut scaled, &old, "");
        assert_eq!(scaled["metadata"]["generation"], 2);
        let mut status = json!({"metadata": {"name": "a"}, "spec": {"replicas": 100}, "status": {"replicas": 3}});
        before_update(&*rc, &mut status, &old, "status");
        assert_eq!(status["spec"]["replicas"], 1, "spec is not writable through status");
        assert_eq!(status["status"]["replicas"], 3);
    }
}
