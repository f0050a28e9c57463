//! The Kubernetes API error: a `Status` with a reason and an HTTP-style code.
//!
//! The apiserver returns these (inside gRPC statuses, see `proto`), and kubectl
//! prints them the way kubectl does: `Error from server (NotFound): pods "x" not found`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a request failed, as Kubernetes' `metav1.StatusReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    NotFound,
    AlreadyExists,
    Conflict,
    Invalid,
    BadRequest,
    /// The requested resourceVersion is older than the store keeps (HTTP 410).
    Expired,
    Gone,
    Forbidden,
    MethodNotAllowed,
    /// None of the media types the client accepts can be served (HTTP 406).
    NotAcceptable,
    /// The request body's media type is not one the server reads (HTTP 415).
    UnsupportedMediaType,
    RequestEntityTooLarge,
    InternalError,
    ServiceUnavailable,
    Timeout,
}

impl Reason {
    /// The HTTP status code Kubernetes pairs with this reason.
    pub fn code(self) -> u16 {
        match self {
            Reason::NotFound => 404,
            Reason::AlreadyExists | Reason::Conflict => 409,
            Reason::Invalid => 422,
            Reason::BadRequest => 400,
            Reason::Expired | Reason::Gone => 410,
            Reason::Forbidden => 403,
            Reason::MethodNotAllowed => 405,
            Reason::NotAcceptable => 406,
            Reason::UnsupportedMediaType => 415,
            Reason::RequestEntityTooLarge => 413,
            Reason::InternalError => 500,
            Reason::ServiceUnavailable => 503,
            Reason::Timeout => 504,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// One field-level problem, as Kubernetes' `field.Error`.
///
/// Displays as Kubernetes does: `spec.containers[0].name: Required value`, or
/// `metadata.name: Invalid value: "Foo_Bar": a lowercase RFC 1123 subdomain ...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// `FieldValueRequired`, `FieldValueInvalid`, ... (Kubernetes' cause types).
    pub kind: FieldErrorKind,
    /// The field path, e.g. `spec.containers[0].ports[0].containerPort`.
    pub field: String,
    /// The offending value, already rendered as Kubernetes renders it (`"Foo"`, `70000`).
    pub value: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldErrorKind {
    Required,
    Invalid,
    NotSupported,
    Duplicate,
    /// A reference to something that does not exist (a volumeMount's volume).
    NotFound,
    Forbidden,
    TooLong,
    /// A field that the schema does not know (strict field validation).
    Unknown,
    /// A field another manager owns (a server-side apply conflict); the
    /// detail names the manager.
    ManagerConflict,
}

impl FieldErrorKind {
    /// Kubernetes' `CauseType` string, used in `Status.details.causes[].reason`.
    pub fn cause_type(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::NotFound => "FieldValueNotFound",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::Unknown => "FieldValueInvalid",
            FieldErrorKind::ManagerConflict => "FieldManagerConflict",
        }
    }
}

impl FieldError {
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::Required, field: field.into(), value: None, detail: detail.into() }
    }
    /// `value` is rendered by the caller, e.g. `format!("{:?}", name)` for a string.
    pub fn invalid(field: impl Into<String>, value: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::Invalid, field: field.into(), value: Some(value.into()), detail: detail.into() }
    }
    /// `supported` lists the accepted values; the detail reads `supported values: "A", "B"`.
    pub fn not_supported(field: impl Into<String>, value: impl Into<String>, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Self {
            kind: FieldErrorKind::NotSupported,
            field: field.into(),
            value: Some(value.into()),
            detail: format!("supported values: {}", list.join(", ")),
        }
    }
    pub fn duplicate(field: impl Into<String>, value: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::Duplicate, field: field.into(), value: Some(value.into()), detail: String::new() }
    }
    pub fn not_found(field: impl Into<String>, value: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::NotFound, field: field.into(), value: Some(value.into()), detail: String::new() }
    }
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::Forbidden, field: field.into(), value: None, detail: detail.into() }
    }
    pub fn unknown(field: impl Into<String>) -> Self {
        Self { kind: FieldErrorKind::Unknown, field: field.into(), value: None, detail: String::new() }
    }
}

impl FieldError {
    /// What is wrong, without the field: a Status cause carries the field apart.
    pub fn message(&self) -> String {
        let full = self.to_string();
        match full.strip_prefix(&format!("{}: ", self.field)) {
            Some(rest) => rest.to_string(),
            None => full,
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = match self.kind {
            FieldErrorKind::Required => "Required value",
            FieldErrorKind::Invalid => "Invalid value",
            FieldErrorKind::NotSupported => "Unsupported value",
            FieldErrorKind::Duplicate => "Duplicate value",
            FieldErrorKind::NotFound => "Not found",
            FieldErrorKind::Forbidden => "Forbidden",
            FieldErrorKind::TooLong => "Too long",
            FieldErrorKind::Unknown => return write!(f, "unknown field \"{}\"", self.field),
            FieldErrorKind::ManagerConflict => return f.write_str(&self.detail),
        };
        write!(f, "{}: {head}", self.field)?;
        if let Some(v) = &self.value {
            write!(f, ": {v}")?;
        }
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

/// A failed API request. `message` is what users read; `reason` is what programs match on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub reason: Reason,
    pub message: String,
    /// The object's kind (`pods`, or `Pod` for Invalid) and name, where one is concerned.
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub causes: Vec<FieldError>,
}

pub type Result<T, E = ApiError> = std::result::Result<T, E>;

impl ApiError {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self { reason, message: message.into(), kind: String::new(), name: String::new(), causes: vec![] }
    }
    /// `pods "kubia" not found`; `resource` is the group-qualified plural (`replicasets.apps`).
    pub fn not_found(resource: &str, name: &str) -> Self {
        Self {
            kind: resource.into(),
            name: name.into(),
            ..Self::new(Reason::NotFound, format!("{resource} \"{name}\" not found"))
        }
    }
    /// `pods "kubia" already exists`
    pub fn already_exists(resource: &str, name: &str) -> Self {
        Self {
            kind: resource.into(),
            name: name.into(),
            ..Self::new(Reason::AlreadyExists, format!("{resource} \"{name}\" already exists"))
        }
    }
    /// The optimistic-concurrency failure, in Kubernetes' words.
    pub fn conflict(resource: &str, name: &str) -> Self {
        Self {
            kind: resource.into(),
            name: name.into(),
            ..Self::new(
                Reason::Conflict,
                format!(
                    "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; \
                     please apply your changes to the latest version and try again"
                ),
            )
        }
    }
    /// `Pod "x" is invalid: <cause>` or, with several causes, `... is invalid: [<c1>, <c2>]`.
    pub fn invalid(kind: &str, name: &str, causes: Vec<FieldError>) -> Self {
        let list: Vec<String> = causes.iter().map(ToString::to_string).collect();
        let body = if list.len() == 1 { list[0].clone() } else { format!("[{}]", list.join(", ")) };
        Self {
            reason: Reason::Invalid,
            message: format!("{kind} \"{name}\" is invalid: {body}"),
            kind: kind.into(),
            name: name.into(),
            causes,
        }
    }
    /// An Invalid error about an object of `kind` (as `invalid` made it)
    /// named with its group, as Kubernetes names grouped kinds:
    /// `Deployment.apps "web" is invalid: ...`. Other errors are unchanged.
    pub fn in_group(mut self, kind: &str, group: &str) -> Self {
        if self.reason == Reason::Invalid && self.kind == kind && !group.is_empty() {
            let qualified = format!("{kind}.{group}");
            if let Some(rest) = self.message.strip_prefix(&format!("{kind} \"")) {
                self.message = format!("{qualified} \"{rest}");
            }
            self.kind = qualified;
        }
        self
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(Reason::BadRequest, message)
    }
    /// A watch or list from a resourceVersion the store no longer has.
    pub fn expired(requested: i64, oldest: i64) -> Self {
        Self::new(Reason::Expired, format!("too old resource version: {requested} ({oldest})"))
    }
    /// `pods "x" is forbidden: <why>`
    pub fn forbidden(resource: &str, name: &str, why: &str) -> Self {
        Self {
            kind: resource.into(),
            name: name.into(),
            ..Self::new(Reason::Forbidden, format!("{resource} \"{name}\" is forbidden: {why}"))
        }
    }
    pub fn internal(message: impl fmt::Display) -> Self {
        Self::new(Reason::InternalError, format!("Internal error occurred: {message}"))
    }
    pub fn code(&self) -> u16 {
        self.reason.code()
    }
    pub fn is_not_found(&self) -> bool {
        self.reason == Reason::NotFound
    }
    pub fn is_already_exists(&self) -> bool {
        self.reason == Reason::AlreadyExists
    }
    pub fn is_conflict(&self) -> bool {
        self.reason == Reason::Conflict
    }
    pub fn is_invalid(&self) -> bool {
        self.reason == Reason::Invalid
    }
    pub fn is_expired(&self) -> bool {
        matches!(self.reason, Reason::Expired | Reason::Gone)
    }

    /// The Kubernetes `Status` object for this error (what `-v` and watch ERROR events show).
    pub fn to_status(&self) -> serde_json::Value {
        let mut status = serde_json::json!({
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code(),
        });
        if !self.kind.is_empty() || !self.causes.is_empty() {
            let causes: Vec<_> = self
                .causes
                .iter()
                .map(|c| serde_json::json!({"reason": c.kind.cause_type(), "message": c.message(), "field": c.field}))
                .collect();
            // `deployments.apps` and `Deployment.apps` are a kind (or
            // resource) and its group, which Status details carry apart.
            let (kind, group) = self.kind.split_once('.').unwrap_or((&self.kind, ""));
            let mut details = serde_json::json!({"name": self.name, "kind": kind});
            if !group.is_empty() {
                details["group"] = group.into();
            }
            if !causes.is_empty() {
                details["causes"] = causes.into();
            }
            status["details"] = details;
        }
        status
    }

    /// The full error as JSON, for carrying it over gRPC losslessly.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("ApiError always serializes")
    }
    pub fn from_json(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_like_kubernetes() {
        assert_eq!(ApiError::not_found("pods", "kubia").to_string(), r#"pods "kubia" not found"#);
        let e = ApiError::invalid(
            "ReplicationController",
            "kubia-rc",
            vec![FieldError::invalid(
                "spec.template.metadata.labels",
                r#"map[string]string{"app":"kubia"}"#,
                "`selector` does not match template `labels`",
            )],
        );
        assert_eq!(
            e.to_string(),
            r#"ReplicationController "kubia-rc" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"kubia"}: `selector` does not match template `labels`"#
        );
        let two = ApiError::invalid(
            "Pod",
            "p",
            vec![FieldError::required("spec.containers[0].name", ""), FieldError::unknown("spec.foo")],
        );
        assert_eq!(
            two.to_string(),
            r#"Pod "p" is invalid: [spec.containers[0].name: Required value, unknown field "spec.foo"]"#
        );
    }

    #[test]
    fn round_trips_through_json() {
        let e = ApiError::conflict("pods", "a");
        assert_eq!(ApiError::from_json(&e.to_json()), Some(e.clone()));
        assert_eq!(e.to_status()["code"], 409);
        assert!(e.is_conflict());
    }
}
