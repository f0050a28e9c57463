//! Label and field selectors, parsed from kubectl's syntax and evaluated
//! (server side in the apiserver, client side in controllers).
// INTERFACE STUB: bodies to be written.

use crate::error::Result;
use crate::registry::ResourceInfo;
use serde_json::Value;
use std::collections::BTreeMap;

/// A parsed label selector: all requirements must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {}

impl LabelSelector {
    /// Parses kubectl's `-l` syntax: `a=b,c!=d,e in (x,y),f notin (z),g,!h`.
    pub fn parse(_s: &str) -> Result<Self> {
        unimplemented!()
    }
    /// From a Kubernetes `LabelSelector` (matchLabels and matchExpressions).
    pub fn from_k8s(_sel: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector) -> Result<Self> {
        unimplemented!()
    }
    /// Equality on every pair (an RC's `spec.selector`).
    pub fn from_map(_map: &BTreeMap<String, String>) -> Self {
        unimplemented!()
    }
    pub fn is_empty(&self) -> bool {
        unimplemented!()
    }
    pub fn matches(&self, _labels: &BTreeMap<String, String>) -> bool {
        unimplemented!()
    }
}

/// A parsed field selector (`metadata.name=x,status.phase!=Running`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {}

impl FieldSelector {
    /// Parses and checks that every field is supported for this resource.
    pub fn parse(_info: &ResourceInfo, _s: &str) -> Result<Self> {
        unimplemented!()
    }
    pub fn is_empty(&self) -> bool {
        unimplemented!()
    }
    pub fn matches(&self, _obj: &Value) -> bool {
        unimplemented!()
    }
}
