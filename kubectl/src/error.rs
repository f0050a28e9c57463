//! kubectl's errors and how they read on stderr: `error: ...` for client-side
//! problems, `Error from server (Reason): ...` for API errors, `The Pod "x" is
//! invalid: ...` for validation failures, and the bare connection message.

use api::{ApiError, Reason};

/// A failed command, displayed as kubectl prints it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error from the apiserver (or the connection to it).
    #[error("{}", api_error_text(.0, None))]
    Api(ApiError),
    /// A client-side problem, printed as `error: <message>`.
    #[error("error: {0}")]
    Msg(String),
    /// Already reported on stderr; only the exit code is left to set.
    #[error("")]
    Reported,
    /// A remote command (`exec`) ended with this non-zero exit code, which kubectl exits with.
    #[error("command terminated with exit code {0}")]
    Exit(i32),
    /// A failure printed as it is (no `error: ` prefix), exiting with this code:
    /// `run --restart=Never`'s `pod default/x terminated (Error)` with the container's.
    #[error("{0}")]
    Code(String, i32),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn msg(m: impl Into<String>) -> Self {
        Error::Msg(m.into())
    }

    /// The process exit code for this error: a remote command's own code, else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            // Exit statuses are 0-255; anything else is reported as a plain failure.
            Error::Exit(code) | Error::Code(_, code) => u8::try_from(*code).ok().filter(|c| *c != 0).unwrap_or(1),
            _ => 1,
        }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Msg(e.to_string())
    }
}

/// An API error as kubectl prints it; `context` is e.g. `creating "kubia.yaml"`,
/// which kubectl folds into the message as `error when creating "kubia.yaml": ...`.
pub fn api_error_text(err: &ApiError, context: Option<&str>) -> String {
    if err.reason == Reason::ServiceUnavailable && err.message.starts_with("The connection to the server") {
        return err.message.clone();
    }
    if err.reason == Reason::Invalid {
        return invalid_text(err);
    }
    match context {
        Some(ctx) => format!("Error from server ({}): error when {ctx}: {}", err.reason, err.message),
        None => format!("Error from server ({}): {}", err.reason, err.message),
    }
}

/// kubectl rebuilds Invalid errors from the status details: one cause on the
/// same line, several as a bulleted list.
fn invalid_text(err: &ApiError) -> String {
    if err.kind.is_empty() && err.name.is_empty() {
        return format!("The request is invalid: {}", err.message);
    }
    let head = format!("The {} \"{}\" is invalid", err.kind, err.name);
    match err.causes.len() {
        0 => match err.message.split_once(" is invalid: ") {
            Some((_, rest)) => format!("{head}: {rest}"),
            None => head,
        },
        1 => format!("{head}: {}", err.causes[0]),
        _ => {
            let lines: Vec<String> = err.causes.iter().map(|c| format!("* {c}")).collect();
            format!("{head}: \n{}", lines.join("\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::FieldError;

    #[test]
    fn server_errors_name_their_reason() {
        let e = Error::from(ApiError::not_found("pods", "x"));
        assert_eq!(e.to_string(), r#"Error from server (NotFound): pods "x" not found"#);
        let exists = ApiError::already_exists("pods", "kubia-manual");
        assert_eq!(
            api_error_text(&exists, Some("creating \"kubia-manual.yaml\"")),
            r#"Error from server (AlreadyExists): error when creating "kubia-manual.yaml": pods "kubia-manual" already exists"#
        );
    }

    #[test]
    fn client_errors_are_prefixed() {
        assert_eq!(
            Error::msg("Required resource not specified.").to_string(),
            "error: Required resource not specified."
        );
    }

    #[test]
    fn invalid_objects_read_like_kubectl() {
        let e = ApiError::invalid(
            "ReplicationController",
            "kubia-rc",
            vec![FieldError::invalid(
                "spec.template.metadata.labels",
                r#"map[string]string{"app":"kubia"}"#,
                "`selector` does not match template `labels`",
            )],
        );
        assert_eq!(
            api_error_text(&e, Some("creating \"kubia-rc.yaml\"")),
            r#"The ReplicationController "kubia-rc" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{"app":"kubia"}: `selector` does not match template `labels`"#
        );
        let two = ApiError::invalid(
            "Pod",
            "p",
            vec![
                FieldError::required("spec.containers[0].name", ""),
                FieldError::required("spec.containers[0].image", ""),
            ],
        );
        assert_eq!(
            api_error_text(&two, None),
            "The Pod \"p\" is invalid: \n* spec.containers[0].name: Required value\n* spec.containers[0].image: Required value"
        );
    }

    #[test]
    fn connection_failures_print_bare() {
        let e = ApiError::new(
            Reason::ServiceUnavailable,
            "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?",
        );
        assert_eq!(
            Error::from(e).to_string(),
            "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?"
        );
    }
}
