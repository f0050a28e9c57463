//! The kubelab gRPC API, generated from `proto/kubelab.proto`; [`status`]:
//! how an `api::ApiError` travels as a gRPC status; [`coalesce`]: how both
//! ends of a connection batch their writes.
//!
//! Every component but the apiserver is a client of [`api_client::ApiClient`];
//! the apiserver implements [`api_server::Api`].

pub mod coalesce;
pub mod status;

#[allow(clippy::all)]
mod generated {
    tonic::include_proto!("kubelab.v1");
}
pub use generated::*;
