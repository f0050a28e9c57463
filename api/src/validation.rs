//! Per-kind decoding checks, defaulting and validation, in Kubernetes' words.
// Bodies being written.

pub mod names;

use crate::error::Result;
use crate::registry::ResourceInfo;
use serde_json::Value;

/// Strict decoding: unknown fields and wrong types are rejected, naming the field.
pub fn decode_check(_info: &ResourceInfo, _obj: &Value) -> Result<()> {
    unimplemented!()
}

/// Fills in Kubernetes' defaults for this kind. Runs after the server assigned
/// `metadata.uid` and `metadata.name` (Job selectors use the uid).
pub fn apply_defaults(_info: &ResourceInfo, _obj: &mut Value) -> Result<()> {
    unimplemented!()
}

/// Validates a defaulted object; `old` is the stored object on update.
pub fn validate(_info: &ResourceInfo, _obj: &Value, _old: Option<&Value>) -> Result<()> {
    unimplemented!()
}
