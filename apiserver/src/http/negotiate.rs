//! Content negotiation and query parameters, as kube-apiserver reads them.
//!
//! A client says in `Accept` what it wants back: plain JSON (or YAML), a
//! server-side `Table` (`application/json;as=Table;v=v1;g=meta.k8s.io`, what
//! kubectl asks for to print `get`), metadata only (`as=PartialObjectMetadata`),
//! or an aggregated discovery document. The first acceptable entry wins; none
//! acceptable is 406. Request bodies may be JSON or YAML; protobuf is 415.

use api::{ApiError, Reason};
use std::collections::HashMap;

/// The representation a response is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
    /// A `meta.k8s.io` Table (`v1` or the older `v1beta1` kubectl 1.20 also accepts).
    Table {
        beta: bool,
    },
    /// `PartialObjectMetadata` (or its List).
    Metadata {
        beta: bool,
    },
    /// An aggregated discovery document (`apidiscovery.k8s.io`).
    Discovery {
        beta: bool,
    },
}

/// One media range of an `Accept` header: `type/subtype;key=value...`.
#[derive(Debug)]
struct MediaRange<'a> {
    essence: &'a str,
    params: Vec<(&'a str, &'a str)>,
}

impl<'a> MediaRange<'a> {
    fn parse(s: &'a str) -> Self {
        let mut parts = s.split(';').map(str::trim);
        let essence = parts.next().unwrap_or("");
        let params =
            parts.filter_map(|p| p.split_once('=')).map(|(k, v)| (k.trim(), v.trim().trim_matches('"'))).collect();
        MediaRange { essence, params }
    }
    fn param(&self, key: &str) -> Option<&'a str> {
        self.params.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| *v)
    }
}

/// Picks the response format from an `Accept` header. `discovery` says
/// whether the path serves aggregated discovery documents.
pub fn accept(header: Option<&str>, discovery: bool) -> Result<Format, ApiError> {
    let header = header.unwrap_or("").trim();
    if header.is_empty() {
        return Ok(Format::Json);
    }
    for range in header.split(',').map(MediaRange::parse) {
        let json = matches!(range.essence, "application/json" | "application/*" | "*/*");
        if range.param("q") == Some("0") {
            continue;
        }
        match (range.param("as"), range.param("g"), range.param("v")) {
            (None, None, None) if json => return Ok(Format::Json),
            (None, None, None) if range.essence == "application/yaml" => return Ok(Format::Yaml),
            (Some("Table"), Some("meta.k8s.io"), Some(v @ ("v1" | "v1beta1"))) if json => {
                return Ok(Format::Table { beta: v == "v1beta1" })
            }
            (
                Some("PartialObjectMetadata" | "PartialObjectMetadataList"),
                Some("meta.k8s.io"),
                Some(v @ ("v1" | "v1beta1")),
            ) if json => return Ok(Format::Metadata { beta: v == "v1beta1" }),
            (Some("APIGroupDiscoveryList"), Some("apidiscovery.k8s.io"), Some(v @ ("v2" | "v2beta1")))
                if json && discovery =>
            {
                return Ok(Format::Discovery { beta: v == "v2beta1" })
            }
            // Anything else (protobuf, CBOR, an unknown `as`) is not served: try the next entry.
            _ => {}
        }
    }
    Err(ApiError::new(
        Reason::NotAcceptable,
        format!("only the following media types are accepted: application/json, application/yaml (got {header:?})"),
    ))
}

/// The media types a request body may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyType {
    Json,
    Yaml,
    /// Kubernetes' protobuf encoding (`k8s\0` + Unknown), which current
    /// kubectls' typed clients send; read into JSON by `protobuf::to_json`.
    Protobuf,
    MergePatch,
    JsonPatch,
    StrategicMergePatch,
    ApplyPatch,
}

/// Reads a request's `Content-Type`. Missing means JSON, as Go clients that
/// send a body always say what it is.
pub fn content_type(header: Option<&str>) -> Result<BodyType, ApiError> {
    let essence = header.map(|h| MediaRange::parse(h).essence.to_ascii_lowercase()).unwrap_or_default();
    Ok(match essence.as_str() {
        "" | "application/json" => BodyType::Json,
        "application/yaml" => BodyType::Yaml,
        "application/vnd.kubernetes.protobuf" => BodyType::Protobuf,
        "application/merge-patch+json" => BodyType::MergePatch,
        "application/json-patch+json" => BodyType::JsonPatch,
        "application/strategic-merge-patch+json" => BodyType::StrategicMergePatch,
        "application/apply-patch+yaml" => BodyType::ApplyPatch,
        other => {
            return Err(ApiError::new(
                Reason::UnsupportedMediaType,
                format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (got {other:?})"),
            ))
        }
    })
}

/// A request's query parameters (the last value wins, as Go's `Get`).
#[derive(Debug, Default)]
pub struct Query(HashMap<String, String>);

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        Query(form_urlencoded::parse(query.unwrap_or("").as_bytes()).into_owned().collect())
    }

    pub fn get(&self, key: &str) -> &str {
        self.0.get(key).map(String::as_str).unwrap_or("")
    }

    pub fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.0.insert(key.to_string(), value.to_string());
    }

    /// A boolean parameter: `true`/`1` (and the bare key, as `?watch`) are true.
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.0.get(key).map(String::as_str) {
            None | Some("false") | Some("0") => Ok(false),
            Some("") | Some("true") | Some("1") => Ok(true),
            Some(other) => Err(ApiError::bad_request(format!(
                "invalid value {other:?} for query parameter {key}: want true or false"
            ))),
        }
    }

    /// An integer parameter, if present.
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.0.get(key).map(String::as_str) {
            None | Some("") => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!("invalid value {v:?} for query parameter {key}: want an integer"))
            }),
        }
    }

    /// `dryRun`: absent, or `All` (the only stage Kubernetes has). Anything
    /// else is Invalid on the verb's options (`CreateOptions`, ...), as
    /// kube-apiserver validates them.
    pub fn dry_run(&self, options: &str) -> Result<bool, ApiError> {
        match self.0.get("dryRun").map(String::as_str) {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => Err(invalid_dry_run(options, other)),
        }
    }
}

/// The error for a dry-run stage Kubernetes does not have.
pub fn invalid_dry_run(options: &str, value: &str) -> ApiError {
    ApiError::invalid(
        &format!("{options}.meta.k8s.io"),
        "",
        vec![api::FieldError::not_supported("dryRun", format!("{value:?}"), &["All"])],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECTL_GET: &str = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    const DISCOVERY: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

    #[test]
    fn what_kubectl_get_asks_for_is_a_table() {
        assert_eq!(accept(Some(KUBECTL_GET), false).unwrap(), Format::Table { beta: false });
        assert_eq!(accept(Some("application/json"), false).unwrap(), Format::Json);
        assert_eq!(accept(None, false).unwrap(), Format::Json);
        assert_eq!(accept(Some("*/*"), false).unwrap(), Format::Json);
        assert_eq!(accept(Some("application/yaml"), false).unwrap(), Format::Yaml);
        let meta = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
        assert_eq!(accept(Some(meta), false).unwrap(), Format::Metadata { beta: false });
    }

    #[test]
    fn aggregated_discovery_only_where_served() {
        assert_eq!(accept(Some(DISCOVERY), true).unwrap(), Format::Discovery { beta: false });
        // Elsewhere the same header falls through to its plain JSON entry.
        assert_eq!(accept(Some(DISCOVERY), false).unwrap(), Format::Json);
    }

    #[test]
    fn protobuf_alone_is_not_acceptable_but_with_json_it_falls_back() {
        let err = accept(Some("application/vnd.kubernetes.protobuf"), false).unwrap_err();
        assert_eq!(err.code(), 406);
        let both = "application/vnd.kubernetes.protobuf, application/json";
        assert_eq!(accept(Some(both), false).unwrap(), Format::Json);
    }

    #[test]
    fn body_types() {
        assert_eq!(content_type(None).unwrap(), BodyType::Json);
        assert_eq!(content_type(Some("application/json; charset=utf-8")).unwrap(), BodyType::Json);
        assert_eq!(content_type(Some("application/apply-patch+yaml")).unwrap(), BodyType::ApplyPatch);
        assert_eq!(
            content_type(Some("application/strategic-merge-patch+json")).unwrap(),
            BodyType::StrategicMergePatch
        );
        assert_eq!(content_type(Some("application/vnd.kubernetes.protobuf")).unwrap(), BodyType::Protobuf);
        let err = content_type(Some("application/cbor")).unwrap_err();
        assert_eq!(err.code(), 415);
        assert!(err.message.contains("application/cbor"), "{}", err.message);
    }

    #[test]
    fn query_values() {
        let q = Query::parse(Some("watch&labelSelector=app%3Dkubia%2Cenv+in+(a)&limit=5&dryRun=All"));
        assert!(q.flag("watch").unwrap());
        assert_eq!(q.get("labelSelector"), "app=kubia,env in (a)");
        assert_eq!(q.int("limit").unwrap(), Some(5));
        assert!(q.dry_run("CreateOptions").unwrap());
        let err = Query::parse(Some("dryRun=Some")).dry_run("CreateOptions").unwrap_err();
        assert_eq!(err.code(), 422);
        assert!(err.message.starts_with("CreateOptions.meta.k8s.io \"\" is invalid: dryRun"), "{}", err.message);
        assert!(Query::parse(Some("limit=x")).int("limit").is_err());
        assert!(Query::parse(Some("watch=maybe")).flag("watch").is_err());
    }
}
