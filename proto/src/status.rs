//! How an [`ApiError`] travels over gRPC, both ways: the apiserver (and the
//! kubelet's node agent) answer with a `tonic::Status` whose code follows the
//! error's reason and whose details carry the error's JSON; clients turn it
//! back into the `ApiError` the server meant. A watch that fails ends with an
//! ERROR event holding a Kubernetes `Status` object instead
//! ([`error_from_status_object`]).
//!
//! It lives beside the generated code so that the server and the client share
//! it without the server depending on the client.

use api::{ApiError, Reason};
use serde_json::Value;

/// Maps an `ApiError` to the gRPC status that carries it.
pub fn to_status(err: &ApiError) -> tonic::Status {
    let code = match err.reason {
        Reason::NotFound => tonic::Code::NotFound,
        Reason::AlreadyExists => tonic::Code::AlreadyExists,
        Reason::Conflict => tonic::Code::Aborted,
        Reason::Invalid | Reason::BadRequest => tonic::Code::InvalidArgument,
        Reason::Expired | Reason::Gone => tonic::Code::OutOfRange,
        Reason::Forbidden => tonic::Code::PermissionDenied,
        Reason::MethodNotAllowed | Reason::UnsupportedMediaType => tonic::Code::Unimplemented,
        Reason::NotAcceptable => tonic::Code::InvalidArgument,
        Reason::RequestEntityTooLarge => tonic::Code::ResourceExhausted,
        Reason::ServiceUnavailable => tonic::Code::Unavailable,
        Reason::Timeout => tonic::Code::DeadlineExceeded,
        Reason::InternalError => tonic::Code::Internal,
    };
    tonic::Status::with_details(code, err.message.clone(), err.to_json().into())
}

/// Turns a gRPC status into the `ApiError` the server meant: its details carry
/// the error's JSON; a status without them (transport failures) is mapped by
/// code. `server` is the address the call went to, for kubectl's wording.
pub fn from_status(server: &str, status: tonic::Status) -> ApiError {
    if let Some(err) = ApiError::from_json(status.details()) {
        return err;
    }
    match status.code() {
        tonic::Code::Unavailable => refused(server),
        tonic::Code::NotFound => ApiError::new(Reason::NotFound, status.message()),
        tonic::Code::DeadlineExceeded => ApiError::new(Reason::Timeout, status.message()),
        _ => ApiError::internal(status.message()),
    }
}

/// Rebuilds an `ApiError` from a Kubernetes `Status` object (a watch ERROR event).
pub fn error_from_status_object(status: &Value) -> ApiError {
    let message = status.get("message").and_then(Value::as_str).unwrap_or("unknown error").to_string();
    let reason = status
        .get("reason")
        .cloned()
        .and_then(|r| serde_json::from_value::<Reason>(r).ok())
        .unwrap_or(Reason::InternalError);
    ApiError::new(reason, message)
}

/// What kubectl says when nothing answers at the server's address.
pub fn refused(server: &str) -> ApiError {
    let host = server.split("://").nth(1).unwrap_or(server);
    ApiError::new(
        Reason::ServiceUnavailable,
        format!("The connection to the server {host} was refused - did you specify the right host or port?"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_survive_the_grpc_round_trip() {
        let err = ApiError::not_found("pods", "kubia");
        let status = to_status(&err);
        assert_eq!(status.code(), tonic::Code::NotFound);
        assert_eq!(from_status("http://x", status), err);
    }

    #[test]
    fn transport_failures_read_like_kubectl() {
        let err = from_status("http://127.0.0.1:6443", tonic::Status::unavailable("tcp connect error"));
        assert_eq!(
            err.to_string(),
            "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?"
        );
    }

    #[test]
    fn watch_error_events_become_errors() {
        let status = ApiError::expired(5, 10).to_status();
        let err = error_from_status_object(&status);
        assert!(err.is_expired());
        assert_eq!(err.message, "too old resource version: 5 (10)");
    }
}
