//! Turns a pod spec's container into what the runtime runs: entrypoint and
//! arguments, environment (with `valueFrom` and `$(VAR)` references, and the
//! service variables of [`super::service_env`]), working directory and
//! resource limits, by Kubernetes' rules.

use crate::runtime::{ContainerConfig, ContainerMeta};
use api::quantity::Quantity;
use client::Object;
use k8s_openapi::api::core::v1::{ConfigMap, Container, EnvVarSource, Pod, Secret};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Why a container's config cannot be built: Kubernetes reports it as
/// `CreateContainerConfigError` with this message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{reason}: {text:?}")]
    Quantity { text: String, reason: &'static str },
    #[error("unsupported fieldPath: {0}")]
    FieldPath(String),
    #[error("unsupported resource: {0}")]
    Resource(String),
    #[error("invalid divisor: {0}")]
    Divisor(String),
    #[error("env valueFrom has no source")]
    NoSource,
    #[error("configmap {0:?} not found")]
    ConfigMapNotFound(String),
    #[error("couldn't find key {key} in ConfigMap {namespace}/{name}")]
    ConfigMapKey { key: String, namespace: String, name: String },
    #[error("secret {0:?} not found")]
    SecretNotFound(String),
    #[error("couldn't find key {key} in Secret {namespace}/{name}")]
    SecretKey { key: String, namespace: String, name: String },
    /// Reading a referenced object failed for another reason than its absence.
    #[error("{0}")]
    Read(String),
}

pub type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// What the environment of a container may refer to besides the pod spec.
pub struct EnvContext<'a> {
    pub pod: &'a Pod,
    pub pod_ip: &'a str,
    pub host_ip: &'a str,
    /// Node allocatable, for `resourceFieldRef`s to limits the container does not set.
    pub node_cpu_millis: i64,
    pub node_memory_bytes: i64,
    /// The service variables the pod sees (`KUBIA_SERVICE_HOST`...), in order.
    pub services: &'a [(String, String)],
    /// The ConfigMaps and Secrets the container refers to, as read just before.
    pub sources: &'a EnvSources,
}

/// The ConfigMaps and Secrets of the pod's namespace that a container's
/// environment refers to, read when the container is created (a later edit
/// does not reach a running container, as in Kubernetes). None: not found.
#[derive(Debug, Default, Clone)]
pub struct EnvSources {
    pub config_maps: BTreeMap<String, Option<ConfigMap>>,
    pub secrets: BTreeMap<String, Option<Secret>>,
}

/// No ConfigMaps or Secrets (a container that refers to none).
pub static NO_SOURCES: EnvSources = EnvSources { config_maps: BTreeMap::new(), secrets: BTreeMap::new() };

impl EnvSources {
    /// The names of the ConfigMaps and Secrets `container`'s env and envFrom refer to.
    pub fn references(container: &Container) -> (BTreeSet<String>, BTreeSet<String>) {
        let (mut cms, mut secrets) = (BTreeSet::new(), BTreeSet::new());
        for from in container.env_from.iter().flatten() {
            cms.extend(from.config_map_ref.as_ref().map(|r| r.name.clone()));
            secrets.extend(from.secret_ref.as_ref().map(|r| r.name.clone()));
        }
        for from in container.env.iter().flatten().filter_map(|e| e.value_from.as_ref()) {
            cms.extend(from.config_map_key_ref.as_ref().map(|r| r.name.clone()));
            secrets.extend(from.secret_key_ref.as_ref().map(|r| r.name.clone()));
        }
        (cms, secrets)
    }

    fn config_map(&self, name: &str) -> Option<&ConfigMap> {
        self.config_maps.get(name).and_then(Option::as_ref)
    }

    fn secret(&self, name: &str) -> Option<&Secret> {
        self.secrets.get(name).and_then(Option::as_ref)
    }
}

/// Kubernetes' IsEnvVarName: `[-._a-zA-Z][-._a-zA-Z0-9]*`.
pub fn is_env_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    let ok = |c: char| c == '-' || c == '.' || c == '_' || c.is_ascii_alphabetic();
    chars.next().is_some_and(ok) && chars.all(|c| ok(c) || c.is_ascii_digit())
}

/// One envFrom source's variables (its keys with the prefix) and the names
/// skipped as invalid.
struct FromVars {
    vars: Vec<(String, String)>,
    invalid: Vec<String>,
}

/// One envFrom source's variables; None: the object is missing (and optional).
fn env_from_vars(from: &k8s_openapi::api::core::v1::EnvFromSource, ctx: &EnvContext<'_>) -> Result<Option<FromVars>> {
    let prefix = from.prefix.as_deref().unwrap_or("");
    let pairs: Vec<(String, String)> = if let Some(r) = &from.config_map_ref {
        match ctx.sources.config_map(&r.name) {
            Some(cm) => cm.data.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect(),
            None if r.optional == Some(true) => return Ok(None),
            None => return Err(ConfigError::ConfigMapNotFound(r.name.clone())),
        }
    } else if let Some(r) = &from.secret_ref {
        match ctx.sources.secret(&r.name) {
            Some(s) => {
                s.data.iter().flatten().map(|(k, v)| (k.clone(), String::from_utf8_lossy(&v.0).into_owned())).collect()
            }
            None if r.optional == Some(true) => return Ok(None),
            None => return Err(ConfigError::SecretNotFound(r.name.clone())),
        }
    } else {
        return Ok(None);
    };
    let (mut vars, mut invalid) = (Vec::new(), Vec::new());
    for (k, v) in pairs {
        let name = format!("{prefix}{k}");
        if is_env_var_name(&name) {
            vars.push((name, v));
        } else {
            invalid.push(name);
        }
    }
    invalid.sort();
    Ok(Some(FromVars { vars, invalid }))
}

/// The `InvalidEnvironmentVariableNames` warnings of a container's envFrom,
/// with Kubernetes' message (keys that are not valid names are skipped).
pub fn invalid_env_from_names(container: &Container, ctx: &EnvContext<'_>) -> Vec<String> {
    let mut warnings = Vec::new();
    for from in container.env_from.iter().flatten() {
        let Ok(Some(FromVars { invalid, .. })) = env_from_vars(from, ctx) else { continue };
        if invalid.is_empty() {
            continue;
        }
        let (kind, name) = match (&from.config_map_ref, &from.secret_ref) {
            (Some(r), _) => ("configMap", r.name.as_str()),
            (None, Some(r)) => ("secret", r.name.as_str()),
            (None, None) => continue,
        };
        warnings.push(format!(
            "Keys [{}] from the EnvFrom {kind} {}/{name} were skipped since they are considered invalid environment variable names.",
            invalid.join(", "),
            ctx.pod.namespace()
        ));
    }
    warnings
}

/// Builds the runtime config of `container`. Errors are what Kubernetes
/// reports as `CreateContainerConfigError`.
pub fn container_config(
    container: &Container,
    meta: ContainerMeta,
    sandbox_id: &str,
    ctx: &EnvContext<'_>,
) -> Result<ContainerConfig> {
    let env = environment(container, ctx)?;
    let vars: HashMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let strings = |list: &Option<Vec<String>>| -> Option<Vec<String>> {
        let list: Vec<String> =
            list.iter().flatten().map(|s| expand(s, &|name| vars.get(name).map(|v| v.to_string()))).collect();
        (!list.is_empty()).then_some(list)
    };
    // Kubernetes: `command` replaces the image's entrypoint and drops its CMD;
    // `args` alone keeps the entrypoint and replaces CMD. Docker's own merge of
    // Entrypoint/Cmd with the image config does exactly this.
    let entrypoint = strings(&container.command);
    let cmd = strings(&container.args);
    let memory_limit = match resource(container, "limits", "memory") {
        Some(q) => Some(quantity(q)?.value()),
        None => None,
    };
    let cpu_limit_millis = match resource(container, "limits", "cpu") {
        Some(q) => Some(quantity(q)?.milli_value()),
        None => None,
    };
    // A request defaults to the limit when only the limit is set.
    let cpu_request_millis = match resource(container, "requests", "cpu") {
        Some(q) => quantity(q)?.milli_value(),
        None => cpu_limit_millis.unwrap_or(0),
    };
    Ok(ContainerConfig {
        meta,
        sandbox_id: sandbox_id.to_string(),
        image: container.image.clone().unwrap_or_default(),
        entrypoint,
        cmd,
        env,
        working_dir: container.working_dir.clone().filter(|s| !s.is_empty()),
        memory_limit,
        nano_cpus: cpu_limit_millis.map(|m| m * 1_000_000),
        cpu_shares: Some(cpu_shares(cpu_request_millis)),
        tty: container.tty.unwrap_or(false),
        stdin: container.stdin.unwrap_or(false),
        stdin_once: container.stdin_once.unwrap_or(false),
        // Set by the worker from the pod's volumes.
        mounts: Vec::new(),
    })
}

/// The container's `resources.<section>.<name>` (`limits`/`requests`, `cpu`/`memory`).
fn resource<'a>(container: &'a Container, section: &str, name: &str) -> Option<&'a str> {
    let resources = container.resources.as_ref()?;
    let amounts = match section {
        "limits" => resources.limits.as_ref(),
        _ => resources.requests.as_ref(),
    };
    amounts?.get(name).map(|q| q.0.as_str())
}

/// Kubernetes' milliCPUToShares: 1 CPU = 1024 shares, at least 2 (also for no request).
pub fn cpu_shares(millis: i64) -> i64 {
    (millis * 1024 / 1000).max(2)
}

/// The container's environment in order, as Kubernetes' makeEnvironmentVariables:
/// the `env` entries, each able to refer with `$(NAME)` to the ones before it
/// and to the service variables; then the service variables the entries do not
/// define (an entry overrides the service variable of the same name).
fn environment(container: &Container, ctx: &EnvContext<'_>) -> Result<Vec<(String, String)>> {
    let mut env: Vec<(String, String)> = Vec::new();
    let services: HashMap<&str, &str> = ctx.services.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // envFrom first (a later source wins a name), then env, which overrides them.
    for from in container.env_from.iter().flatten() {
        for (name, value) in env_from_vars(from, ctx)?.map(|f| f.vars).unwrap_or_default() {
            match env.iter_mut().find(|(k, _)| *k == name) {
                Some(slot) => slot.1 = value,
                None => env.push((name, value)),
            }
        }
    }
    for var in container.env.iter().flatten() {
        let name = var.name.clone();
        let value = if let Some(from) = &var.value_from {
            match value_from(from, container, ctx)? {
                Some(v) => v,
                // An optional reference to a missing object or key: no variable.
                None => continue,
            }
        } else {
            let raw = var.value.as_deref().unwrap_or("");
            let defined: HashMap<&str, &str> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            expand(raw, &|n| defined.get(n).or_else(|| services.get(n)).map(|v| v.to_string()))
        };
        // A later entry with the same name wins, in the earlier one's place.
        match env.iter_mut().find(|(k, _)| *k == name) {
            Some(slot) => slot.1 = value,
            None => env.push((name, value)),
        }
    }
    let defined: HashSet<String> = env.iter().map(|(k, _)| k.clone()).collect();
    env.extend(ctx.services.iter().filter(|(k, _)| !defined.contains(k)).cloned());
    Ok(env)
}

/// An env entry's `valueFrom`; None: an optional reference that finds nothing.
fn value_from(from: &EnvVarSource, container: &Container, ctx: &EnvContext<'_>) -> Result<Option<String>> {
    if let Some(field) = &from.field_ref {
        return field_value(ctx.pod, ctx.pod_ip, ctx.host_ip, &field.field_path).map(Some);
    }
    if let Some(r) = &from.resource_field_ref {
        let divisor = r.divisor.as_ref().map_or("1", |d| d.0.as_str());
        return resource_value(container, ctx.node_cpu_millis, ctx.node_memory_bytes, &r.resource, divisor).map(Some);
    }
    let namespace = ctx.pod.namespace().to_string();
    if let Some(r) = &from.config_map_key_ref {
        let optional = r.optional == Some(true);
        let Some(cm) = ctx.sources.config_map(&r.name) else {
            return if optional { Ok(None) } else { Err(ConfigError::ConfigMapNotFound(r.name.clone())) };
        };
        return match cm.data.as_ref().and_then(|d| d.get(&r.key)) {
            Some(v) => Ok(Some(v.clone())),
            None if optional => Ok(None),
            None => Err(ConfigError::ConfigMapKey { key: r.key.clone(), namespace, name: r.name.clone() }),
        };
    }
    if let Some(r) = &from.secret_key_ref {
        let optional = r.optional == Some(true);
        let Some(secret) = ctx.sources.secret(&r.name) else {
            return if optional { Ok(None) } else { Err(ConfigError::SecretNotFound(r.name.clone())) };
        };
        return match secret.data.as_ref().and_then(|d| d.get(&r.key)) {
            Some(v) => Ok(Some(String::from_utf8_lossy(&v.0).into_owned())),
            None if optional => Ok(None),
            None => Err(ConfigError::SecretKey { key: r.key.clone(), namespace, name: r.name.clone() }),
        };
    }
    Err(ConfigError::NoSource)
}

/// The downward API's `fieldRef` paths (env and downwardAPI volumes).
pub fn field_value(pod: &Pod, pod_ip: &str, host_ip: &str, path: &str) -> Result<String> {
    let map_key = |prefix: &str| -> Option<String> {
        let rest = path.strip_prefix(prefix)?.strip_prefix("['")?.strip_suffix("']")?;
        Some(rest.to_string())
    };
    let value = match path {
        "metadata.name" => pod.name().to_string(),
        "metadata.namespace" => pod.namespace().to_string(),
        "metadata.uid" => pod.uid().to_string(),
        "spec.nodeName" => api::pod::node_name(pod).to_string(),
        "spec.serviceAccountName" => pod.spec.as_ref().and_then(|s| s.service_account_name.clone()).unwrap_or_default(),
        "status.podIP" | "status.podIPs" => pod_ip.to_string(),
        "status.hostIP" | "status.hostIPs" => host_ip.to_string(),
        _ => {
            let from = |map: &Option<BTreeMap<String, String>>, key: String| {
                map.as_ref().and_then(|m| m.get(&key)).cloned().unwrap_or_default()
            };
            if let Some(key) = map_key("metadata.labels") {
                from(&pod.metadata.labels, key)
            } else if let Some(key) = map_key("metadata.annotations") {
                from(&pod.metadata.annotations, key)
            } else {
                return Err(ConfigError::FieldPath(path.into()));
            }
        }
    };
    Ok(value)
}

/// `resourceFieldRef`: a limit or request divided by `divisor`, rounded up;
/// a limit the container does not set is the node's allocatable amount.
pub fn resource_value(
    container: &Container,
    node_cpu_millis: i64,
    node_memory_bytes: i64,
    resource: &str,
    divisor: &str,
) -> Result<String> {
    let (section, kind) = resource.split_once('.').ok_or_else(|| ConfigError::Resource(resource.into()))?;
    if !matches!(section, "limits" | "requests") {
        return Err(ConfigError::Resource(resource.into()));
    }
    let set = self::resource(container, section, kind);
    // In thousandths, so that cpu (`500m`) and memory divide alike.
    let amount = match (set, kind) {
        (Some(q), _) => quantity(q)?.milli_value(),
        (None, "cpu") if section == "limits" => node_cpu_millis,
        (None, "memory") if section == "limits" => node_memory_bytes.saturating_mul(1000),
        (None, "cpu" | "memory") => 0,
        _ => return Err(ConfigError::Resource(resource.into())),
    };
    let divisor_millis = quantity(divisor)?.milli_value();
    if divisor_millis <= 0 {
        return Err(ConfigError::Divisor(divisor.into()));
    }
    // Kubernetes rounds up, and never reports less than 1 for a non-zero amount.
    Ok((amount.max(0) as u64).div_ceil(divisor_millis as u64).to_string())
}

/// Expands `$(NAME)` references as Kubernetes does: defined names are
/// replaced, undefined ones kept verbatim, and `$$` escapes a `$`.
pub fn expand(input: &str, lookup: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('(') {
            match inner.find(')') {
                Some(end) => {
                    let name = &inner[..end];
                    match lookup(name) {
                        Some(v) => out.push_str(&v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &inner[end + 1..];
                }
                None => {
                    out.push_str("$(");
                    rest = inner;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A quantity from the spec or a flag; the error is Kubernetes' message and the text.
pub fn quantity(q: &str) -> Result<Quantity> {
    api::quantity::parse(q.trim()).map_err(|reason| ConfigError::Quantity { text: q.into(), reason })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// A pod from its JSON form, as the API serves it.
    fn typed_pod(v: Value) -> Pod {
        serde_json::from_value(v).expect("a pod")
    }

    /// A container from its JSON form; `main` unless it says otherwise.
    fn typed(v: &Value) -> Container {
        let mut v = v.clone();
        if v.get("name").is_none() {
            v["name"] = "main".into();
        }
        serde_json::from_value(v).expect("a container")
    }

    fn ctx(pod: &Pod) -> EnvContext<'_> {
        EnvContext {
            pod,
            pod_ip: "172.18.0.5",
            host_ip: "172.18.0.2",
            node_cpu_millis: 2000,
            node_memory_bytes: 1 << 30,
            services: &[],
            sources: &NO_SOURCES,
        }
    }

    fn meta() -> ContainerMeta {
        ContainerMeta { container_name: "main".into(), ..Default::default() }
    }

    #[test]
    fn command_and_args_follow_kubernetes_rules() {
        let pod = typed_pod(json!({"metadata": {"name": "p"}}));
        let cases = [
            (json!({}), None, None),
            (json!({"command": ["/bin/sh"]}), Some(vec!["/bin/sh"]), None),
            (json!({"args": ["5"]}), None, Some(vec!["5"])),
            (json!({"command": ["sleep"], "args": ["5"]}), Some(vec!["sleep"]), Some(vec!["5"])),
        ];
        for (container, entrypoint, cmd) in cases {
            let c = container_config(&typed(&container), meta(), "sb", &ctx(&pod)).unwrap();
            let own = |v: Option<Vec<&str>>| v.map(|v| v.into_iter().map(String::from).collect::<Vec<_>>());
            assert_eq!(c.entrypoint, own(entrypoint), "{container}");
            assert_eq!(c.cmd, own(cmd), "{container}");
        }
    }

    #[test]
    fn env_resolves_field_refs_and_references() {
        let pod = typed_pod(json!({
            "metadata": {"name": "kubia", "namespace": "default", "uid": "u1", "labels": {"app": "kubia"}},
            "spec": {"nodeName": "node1"},
        }));
        let container = json!({
            "env": [
                {"name": "INTERVAL", "value": "30"},
                {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                {"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
                {"name": "MSG", "value": "every $(INTERVAL)s on $(NODE_NAME), $(UNKNOWN), $$(INTERVAL)"},
                {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
            ],
            "args": ["$(INTERVAL)"],
        });
        let c = container_config(&typed(&container), meta(), "sb", &ctx(&pod)).unwrap();
        let env: HashMap<_, _> = c.env.iter().cloned().collect();
        assert_eq!(env["POD_NAME"], "kubia");
        assert_eq!(env["POD_NAMESPACE"], "default");
        assert_eq!(env["POD_UID"], "u1");
        assert_eq!(env["POD_IP"], "172.18.0.5");
        assert_eq!(env["NODE_NAME"], "node1");
        assert_eq!(env["APP"], "kubia");
        assert_eq!(env["MSG"], "every 30s on node1, $(UNKNOWN), $(INTERVAL)");
        assert_eq!(env["MEM"], "1024", "no memory limit: the node's allocatable memory");
        assert_eq!(c.cmd, Some(vec!["30".to_string()]));
    }

    fn sources() -> EnvSources {
        let cm: ConfigMap = serde_json::from_value(json!({
            "metadata": {"name": "fortune-config", "namespace": "default"},
            "data": {"sleep-interval": "25", "INTERVAL": "7", "1bad": "x", "ok.name": "y"},
        }))
        .unwrap();
        let secret: Secret = serde_json::from_value(json!({
            "metadata": {"name": "creds", "namespace": "default"},
            // base64 of "s3cret" and "admin"
            "data": {"password": "czNjcmV0", "user": "YWRtaW4="},
        }))
        .unwrap();
        let mut s = EnvSources::default();
        s.config_maps.insert("fortune-config".into(), Some(cm));
        s.config_maps.insert("missing".into(), None);
        s.secrets.insert("creds".into(), Some(secret));
        s.secrets.insert("gone".into(), None);
        s
    }

    #[test]
    fn env_reads_config_maps_and_secrets() {
        let pod = typed_pod(json!({"metadata": {"name": "fortune", "namespace": "default"}}));
        let sources = sources();
        let ctx = EnvContext { sources: &sources, ..ctx(&pod) };
        let container = json!({
            "envFrom": [
                {"configMapRef": {"name": "fortune-config"}, "prefix": "CFG_"},
                {"secretRef": {"name": "creds"}},
                {"configMapRef": {"name": "missing", "optional": true}},
            ],
            "env": [
                {"name": "INTERVAL", "valueFrom": {"configMapKeyRef": {"name": "fortune-config", "key": "sleep-interval"}}},
                {"name": "user", "value": "overridden"},
                {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
                {"name": "OPT", "valueFrom": {"configMapKeyRef": {"name": "fortune-config", "key": "nope", "optional": true}}},
                {"name": "OPT2", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k", "optional": true}}},
                {"name": "MSG", "value": "$(CFG_INTERVAL)/$(INTERVAL)"},
            ],
            "args": ["$(INTERVAL)"],
        });
        let c = typed(&container);
        let config = container_config(&c, meta(), "sb", &ctx).unwrap();
        let env: HashMap<_, _> = config.env.iter().cloned().collect();
        assert_eq!(env["INTERVAL"], "25");
        assert_eq!(env["CFG_INTERVAL"], "7");
        assert_eq!(env["CFG_sleep-interval"], "25");
        assert_eq!(env["CFG_ok.name"], "y");
        assert_eq!(env["password"], "s3cret", "secret values are decoded");
        assert_eq!(env["user"], "overridden", "env overrides envFrom");
        assert_eq!(env["PASS"], "s3cret");
        assert_eq!(env["MSG"], "7/25");
        assert!(!env.contains_key("OPT") && !env.contains_key("OPT2"), "optional and missing: no variable");
        assert_eq!(env["CFG_1bad"], "x");
        assert_eq!(config.cmd, Some(vec!["25".to_string()]));
        // "CFG_1bad" is a valid name (the prefix fixes it); without a prefix it is skipped.
        let plain = typed(&json!({"envFrom": [{"configMapRef": {"name": "fortune-config"}}]}));
        let env: HashMap<_, _> = container_config(&plain, meta(), "sb", &ctx).unwrap().env.into_iter().collect();
        assert!(!env.contains_key("1bad") && env["sleep-interval"] == "25");
        assert_eq!(
            invalid_env_from_names(&plain, &ctx),
            ["Keys [1bad] from the EnvFrom configMap default/fortune-config were skipped since they are considered invalid environment variable names."]
        );
        assert!(invalid_env_from_names(&c, &ctx).is_empty());
    }

    #[test]
    fn missing_objects_and_keys_are_kubernetes_errors() {
        let pod = typed_pod(json!({"metadata": {"name": "fortune", "namespace": "ns1"}}));
        let sources = sources();
        let ctx = EnvContext { sources: &sources, ..ctx(&pod) };
        let cases = [
            (
                json!({"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "missing", "key": "k"}}}]}),
                r#"configmap "missing" not found"#,
            ),
            (
                json!({"env": [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "fortune-config", "key": "k"}}}]}),
                "couldn't find key k in ConfigMap ns1/fortune-config",
            ),
            (
                json!({"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "gone", "key": "k"}}}]}),
                r#"secret "gone" not found"#,
            ),
            (
                json!({"env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "k"}}}]}),
                "couldn't find key k in Secret ns1/creds",
            ),
            (json!({"envFrom": [{"configMapRef": {"name": "missing"}}]}), r#"configmap "missing" not found"#),
            (json!({"envFrom": [{"secretRef": {"name": "gone"}}]}), r#"secret "gone" not found"#),
        ];
        for (container, want) in cases {
            let err = container_config(&typed(&container), meta(), "sb", &ctx).unwrap_err();
            assert_eq!(err.to_string(), want, "{container}");
        }
        let refs = EnvSources::references(&typed(&json!({
            "envFrom": [{"configMapRef": {"name": "a"}}, {"secretRef": {"name": "s"}}],
            "env": [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "b", "key": "k"}}}],
        })));
        assert_eq!(refs, (["a".to_string(), "b".to_string()].into(), ["s".to_string()].into()));
    }

    #[test]
    fn env_var_names_follow_kubernetes() {
        for good in ["A", "_x", "a.b", "-x", "CFG_1bad", "sleep-interval"] {
            assert!(is_env_var_name(good), "{good}");
        }
        for bad in ["", "1bad", "a b", "a=b", "ü"] {
            assert!(!is_env_var_name(bad), "{bad}");
        }
    }

    #[test]
    fn service_variables_follow_the_containers_env_which_overrides_them() {
        let pod = typed_pod(json!({"metadata": {"name": "client", "namespace": "default"}}));
        let services = vec![
            ("KUBIA_SERVICE_HOST".to_string(), "10.111.249.153".to_string()),
            ("KUBIA_SERVICE_PORT".to_string(), "80".to_string()),
            ("KUBIA_PORT".to_string(), "tcp://10.111.249.153:80".to_string()),
        ];
        let container = json!({
            "env": [
                {"name": "KUBIA_SERVICE_PORT", "value": "8080"},
                {"name": "URL", "value": "http://$(KUBIA_SERVICE_HOST):$(KUBIA_SERVICE_PORT)"},
            ],
            "args": ["$(KUBIA_PORT)"],
        });
        let ctx = EnvContext { services: &services, ..ctx(&pod) };
        let c = container_config(&typed(&container), meta(), "sb", &ctx).unwrap();
        let own = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        assert_eq!(
            c.env,
            own(&[
                ("KUBIA_SERVICE_PORT", "8080"),
                ("URL", "http://10.111.249.153:8080"),
                ("KUBIA_SERVICE_HOST", "10.111.249.153"),
                ("KUBIA_PORT", "tcp://10.111.249.153:80"),
            ]),
            "the container's entries first, then the service variables it does not define"
        );
        assert_eq!(c.cmd, Some(vec!["tcp://10.111.249.153:80".to_string()]));
    }

    #[test]
    fn resources_become_docker_limits() {
        let pod = typed_pod(json!({}));
        let container =
            json!({"resources": {"limits": {"memory": "128Mi", "cpu": "500m"}, "requests": {"cpu": "250m"}}});
        let c = container_config(&typed(&container), meta(), "sb", &ctx(&pod)).unwrap();
        assert_eq!(c.memory_limit, Some(128 << 20));
        assert_eq!(c.nano_cpus, Some(500_000_000));
        assert_eq!(c.cpu_shares, Some(256));
        let only_limit = json!({"resources": {"limits": {"cpu": "1"}}});
        assert_eq!(container_config(&typed(&only_limit), meta(), "sb", &ctx(&pod)).unwrap().cpu_shares, Some(1024));
        let none = container_config(&typed(&json!({})), meta(), "sb", &ctx(&pod)).unwrap();
        assert_eq!((none.memory_limit, none.nano_cpus, none.cpu_shares), (None, None, Some(2)));
        let bad = json!({"resources": {"limits": {"memory": "lots"}}});
        assert!(container_config(&typed(&bad), meta(), "sb", &ctx(&pod)).is_err());
    }

    #[test]
    fn quantities_parse() {
        // In thousandths: what limits and resourceFieldRefs are computed in.
        for (q, want) in
            [("1", 1000), ("500m", 500), ("1Gi", 1073741824000), ("2k", 2_000_000), ("1e3", 1_000_000), ("0.5", 500)]
        {
            assert_eq!(quantity(q).unwrap().milli_value(), want, "{q}");
        }
        assert!(quantity("12x").is_err());
    }
}
