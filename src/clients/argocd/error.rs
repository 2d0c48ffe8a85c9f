//! Typed errors of the Argo CD client, each with a sentence that says what to do next.

use std::time::Duration;

use thiserror::Error;

use crate::model::app::RuntimeError;

/// gRPC status codes as grpc-gateway reports them in `code`.
pub mod grpc {
    pub const CANCELED: i32 = 1;
    pub const UNKNOWN: i32 = 2;
    pub const INVALID_ARGUMENT: i32 = 3;
    pub const DEADLINE_EXCEEDED: i32 = 4;
    pub const NOT_FOUND: i32 = 5;
    pub const ALREADY_EXISTS: i32 = 6;
    pub const PERMISSION_DENIED: i32 = 7;
    pub const RESOURCE_EXHAUSTED: i32 = 8;
    pub const FAILED_PRECONDITION: i32 = 9;
    pub const ABORTED: i32 = 10;
    pub const OUT_OF_RANGE: i32 = 11;
    pub const UNIMPLEMENTED: i32 = 12;
    pub const INTERNAL: i32 = 13;
    pub const UNAVAILABLE: i32 = 14;
    pub const DATA_LOSS: i32 = 15;
    pub const UNAUTHENTICATED: i32 = 16;

    /// grpc-gateway v1's mapping of a gRPC code to an HTTP status.
    pub fn http_status(code: i32) -> u16 {
        match code {
            0 => 200,
            CANCELED => 408,
            INVALID_ARGUMENT | FAILED_PRECONDITION | OUT_OF_RANGE => 400,
            DEADLINE_EXCEEDED => 504,
            NOT_FOUND => 404,
            ALREADY_EXISTS | ABORTED => 409,
            PERMISSION_DENIED => 403,
            RESOURCE_EXHAUSTED => 429,
            UNIMPLEMENTED => 501,
            UNAVAILABLE => 503,
            UNAUTHENTICATED => 401,
            _ => 500,
        }
    }
}

#[derive(Debug, Error, Clone, PartialEq)]
pub enum ArgoError {
    #[error(
        "cannot reach {url}: {detail}; check that the Argo CD server is up and the URL in the config is right"
    )]
    Unreachable { url: String, detail: String },

    #[error("{url} did not answer within {secs} s; the server or the network is slow, driftdeck keeps retrying", secs = .after.as_secs())]
    Timeout { url: String, after: Duration },

    #[error(
        "TLS handshake with {url} failed: {detail}; set `ca_file` for a private CA, or `insecure = true` for this instance if you accept the risk"
    )]
    Tls { url: String, detail: String },

    #[error(
        "token expired: run `argocd login {server}` (add `--sso` for single sign-on) or put a new token in the config"
    )]
    TokenExpired { server: String },

    #[error(
        "not logged in to {server} ({message}): run `argocd login {server}` or set `token`, `token_env` or `token_command` for this instance"
    )]
    Unauthenticated { server: String, message: String },

    #[error(
        "permission denied by {server}: {message}; ask an Argo CD admin for the RBAC rule, or use an account that has it"
    )]
    PermissionDenied { server: String, message: String },

    #[error("not found: {message}")]
    NotFound { message: String },

    #[error("refused: {message}")]
    Refused { code: i32, message: String },

    #[error("{server} is rate-limiting requests ({message}); driftdeck waits and retries")]
    RateLimited {
        server: String,
        message: String,
        retry_after: Option<Duration>,
    },

    #[error(
        "{server} failed with HTTP {status}: {message}; driftdeck retries, check the Argo CD server logs if it persists"
    )]
    Server {
        server: String,
        status: u16,
        message: String,
    },

    #[error(
        "{server} sent a reply driftdeck cannot read ({what}): {detail}; is this URL an Argo CD API server?"
    )]
    Malformed {
        server: String,
        what: String,
        detail: String,
    },

    #[error("the watch stream from {server} broke: {detail}; reconnecting")]
    Stream { server: String, detail: String },

    #[error("cannot get a token for {instance}: {detail}")]
    Credentials { instance: String, detail: String },

    #[error("invalid configuration for {instance}: {detail}")]
    Config { instance: String, detail: String },
}

impl ArgoError {
    /// Builds the error for a non-2xx reply from its status and body.
    pub fn from_reply(
        server: &str,
        status: u16,
        body: &[u8],
        retry_after: Option<Duration>,
    ) -> ArgoError {
        let parsed: Option<RuntimeError> = serde_json::from_slice(body).ok();
        let (code, message) = match &parsed {
            Some(e) if !e.message.is_empty() || !e.error.is_empty() => {
                let m = if e.message.is_empty() {
                    e.error.clone()
                } else {
                    e.message.clone()
                };
                (e.code, m)
            }
            _ => (
                0,
                String::from_utf8_lossy(&body[..body.len().min(300)])
                    .trim()
                    .to_string(),
            ),
        };
        ArgoError::from_parts(server, status, code, message, retry_after)
    }

    /// Builds the error for an `{"error":{...}}` frame of a watch stream.
    pub fn from_stream_error(server: &str, e: &crate::model::app::StreamError) -> ArgoError {
        let status = if e.http_code > 0 {
            e.http_code as u16
        } else {
            grpc::http_status(e.grpc_code)
        };
        ArgoError::from_parts(server, status, e.grpc_code, e.message.clone(), None)
    }

    fn from_parts(
        server: &str,
        status: u16,
        code: i32,
        message: String,
        retry_after: Option<Duration>,
    ) -> ArgoError {
        let message = if message.is_empty() {
            format!("HTTP {status}")
        } else {
            message
        };
        let server = server.to_string();
        match (status, code) {
            (401, _) | (_, grpc::UNAUTHENTICATED) => {
                if message.contains("expired") {
                    ArgoError::TokenExpired { server }
                } else {
                    ArgoError::Unauthenticated { server, message }
                }
            }
            (403, _) | (_, grpc::PERMISSION_DENIED) => {
                ArgoError::PermissionDenied { server, message }
            }
            (404, _) | (_, grpc::NOT_FOUND) => ArgoError::NotFound { message },
            (429, _) | (_, grpc::RESOURCE_EXHAUSTED) => ArgoError::RateLimited {
                server,
                message,
                retry_after,
            },
            (400 | 409 | 412 | 415, _) => ArgoError::Refused { code, message },
            _ => ArgoError::Server {
                server,
                status,
                message,
            },
        }
    }

    /// Whether retrying the same idempotent read later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ArgoError::Unreachable { .. }
                | ArgoError::Timeout { .. }
                | ArgoError::RateLimited { .. }
                | ArgoError::Server { .. }
                | ArgoError::Malformed { .. }
                | ArgoError::Stream { .. }
        )
    }

    /// A short label for the instance state in the summary bar.
    pub fn short(&self) -> &'static str {
        match self {
            ArgoError::Unreachable { .. } => "unreachable",
            ArgoError::Timeout { .. } => "timeout",
            ArgoError::Tls { .. } => "TLS error",
            ArgoError::TokenExpired { .. } => "token expired",
            ArgoError::Unauthenticated { .. } => "not logged in",
            ArgoError::PermissionDenied { .. } => "forbidden",
            ArgoError::NotFound { .. } => "not found",
            ArgoError::Refused { .. } => "refused",
            ArgoError::RateLimited { .. } => "rate-limited",
            ArgoError::Server { .. } => "server error",
            ArgoError::Malformed { .. } => "bad reply",
            ArgoError::Stream { .. } => "stream broke",
            ArgoError::Credentials { .. } => "no credentials",
            ArgoError::Config { .. } => "bad config",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_token_says_how_to_renew() {
        let body = br#"{"error":"invalid session: token has invalid claims: token is expired","code":16,"message":"invalid session: token has invalid claims: token is expired"}"#;
        let e = ArgoError::from_reply("argocd.example.com", 401, body, None);
        assert_eq!(
            e,
            ArgoError::TokenExpired {
                server: "argocd.example.com".into()
            }
        );
        assert!(e.to_string().contains("argocd login argocd.example.com"));
    }

    #[test]
    fn grpc_gateway_bodies_map_to_kinds() {
        let body = br#"{"error":"another operation is already in progress","code":9,"message":"another operation is already in progress"}"#;
        match ArgoError::from_reply("s", 400, body, None) {
            ArgoError::Refused { code, message } => {
                assert_eq!(code, 9);
                assert_eq!(message, "another operation is already in progress");
            }
            other => panic!("{other:?}"),
        }
        let body = br#"{"error":"permission denied","code":7,"message":"permission denied"}"#;
        assert!(matches!(
            ArgoError::from_reply("s", 403, body, None),
            ArgoError::PermissionDenied { .. }
        ));
    }

    #[test]
    fn a_non_json_body_is_kept_short() {
        let body = vec![b'x'; 5000];
        match ArgoError::from_reply("s", 502, &body, None) {
            ArgoError::Server {
                status, message, ..
            } => {
                assert_eq!(status, 502);
                assert_eq!(message.len(), 300);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn status_mapping_is_grpc_gateways() {
        assert_eq!(grpc::http_status(grpc::FAILED_PRECONDITION), 400);
        assert_eq!(grpc::http_status(grpc::UNAUTHENTICATED), 401);
        assert_eq!(grpc::http_status(grpc::ABORTED), 409);
        assert_eq!(grpc::http_status(grpc::DATA_LOSS), 500);
        assert_eq!(grpc::http_status(grpc::CANCELED), 408);
    }
}
