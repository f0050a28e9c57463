//! Reading manifests (YAML, multi-document, or JSON) and writing objects as kubectl prints them.
// INTERFACE STUB: bodies to be written.

use crate::error::Result;
use serde_json::Value;

/// Parses a file's text into objects. `source` names the file in errors.
pub fn parse_manifests(_text: &str, _source: &str) -> Result<Vec<Value>> {
    unimplemented!()
}

/// YAML as `kubectl get -o yaml` prints it.
pub fn to_yaml(_obj: &Value) -> String {
    unimplemented!()
}

/// JSON as `kubectl get -o json` prints it (4-space indent).
pub fn to_json(_obj: &Value) -> String {
    unimplemented!()
}
