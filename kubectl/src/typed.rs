//! Where a kind-specific printer or describer starts, the JSON the server
//! returned becomes its `k8s-openapi` type, and the code reads fields, not
//! paths. Generic paths (`-o yaml|json|jsonpath|custom-columns`, `label`,
//! `edit`, `apply`, `patch`) keep the JSON: it holds every field of any kind.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// `obj` as the typed `T` (shared with the apiserver's tables).
pub use api::printers::decode::decode;

/// The items of `objects` that decode as `T`; the others (which the server's
/// validation would not have let in) are left out.
pub fn decode_all<T: DeserializeOwned>(objects: &[Value]) -> Vec<T> {
    objects.iter().filter_map(|o| decode(o).ok()).collect()
}
