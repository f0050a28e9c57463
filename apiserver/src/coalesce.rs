//! Write coalescing for the apiserver's HTTP/2 connections (its clients' and
//! its own to etcd). It lives in `proto::coalesce`, which the client crate
//! uses for its connections too; the apiserver names it here.

pub use proto::coalesce::Coalesced;
