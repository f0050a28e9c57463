//! The OpenAPI schema of each kind (from k8s-openapi): unknown-field detection and `kubectl explain`.
// INTERFACE STUB: bodies to be written.

use crate::error::Result;
use crate::registry::ResourceInfo;
use serde_json::Value;

/// Paths of fields the kind's schema does not know: `spec.containers[0].imagee`.
pub fn unknown_fields(_info: &ResourceInfo, _obj: &Value) -> Vec<String> {
    unimplemented!()
}

/// `kubectl explain` text for `path` below the kind (`[]` = the kind itself,
/// `["spec", "containers"]`), with `--recursive` listing nested fields.
pub fn explain(_info: &ResourceInfo, _path: &[&str], _recursive: bool) -> Result<String> {
    unimplemented!()
}
