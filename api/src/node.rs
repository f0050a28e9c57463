//! What every component asks of a node: its Ready condition.

use k8s_openapi::api::core::v1::{Node, NodeCondition};

/// The node's condition of `type_` (`Ready`, `MemoryPressure`, ...).
pub fn condition<'a>(node: &'a Node, type_: &str) -> Option<&'a NodeCondition> {
    node.status.as_ref()?.conditions.as_ref()?.iter().find(|c| c.type_ == type_)
}

/// The Ready condition's status: `True`, `False`, `Unknown` (the node
/// controller's word for a node that stopped reporting), or "" when the node
/// has no such condition yet.
pub fn ready_status(node: &Node) -> &str {
    condition(node, "Ready").map(|c| c.status.as_str()).unwrap_or("")
}

/// The Ready condition is True.
pub fn is_ready(node: &Node) -> bool {
    ready_status(node) == "True"
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ready_follows_the_ready_condition() {
        let node = |conditions: serde_json::Value| -> Node {
            serde_json::from_value(json!({"metadata": {"name": "n"}, "status": {"conditions": conditions}})).unwrap()
        };
        let ready = node(json!([{"type": "MemoryPressure", "status": "False"}, {"type": "Ready", "status": "True"}]));
        assert!(is_ready(&ready));
        let unknown = node(json!([{"type": "Ready", "status": "Unknown"}]));
        assert_eq!(ready_status(&unknown), "Unknown");
        assert!(!is_ready(&unknown));
        assert_eq!(ready_status(&node(json!([]))), "");
        assert_eq!(ready_status(&serde_json::from_value(json!({"metadata": {"name": "n"}})).unwrap()), "");
    }
}
