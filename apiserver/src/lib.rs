//! The kubelab apiserver.
pub mod store;
