//! The kubelab gRPC API, generated from `proto/kubelab.proto`.
//!
//! Every component but the apiserver is a client of [`api_client::ApiClient`];
//! the apiserver implements [`api_server::Api`].
#![allow(clippy::all)]

tonic::include_proto!("kubelab.v1");
