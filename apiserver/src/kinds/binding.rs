//! Binding (`v1/bindings`): the object the scheduler posts to assign a pod to a
//! node. Kubernetes serves it for `create` only, and so does discovery here.
//! Its validation (`target.kind` Node, `target.name` required) is in
//! `api::validation`; the binding itself is done by the pods' `binding`
//! subresource (`kinds::pod`).

use crate::strategy::Strategy;
use api::ResourceInfo;

pub struct BindingStrategy;

impl Strategy for BindingStrategy {
    fn info(&self) -> &'static ResourceInfo {
        super::lookup("bindings")
    }

    fn verbs(&self) -> &'static [&'static str] {
        &["create"]
    }
}
