//! The one error type of the service. Domain functions return it and the
//! HTTP layer turns it into a response: every 4xx carries a stable snake_case
//! `code`; anything unexpected becomes an opaque 500 whose cause chain is
//! logged (with the request id, from the tracing span) but never shown.

use std::collections::BTreeMap;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use postroom_core::api::{ErrorBody, ErrorDetail};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request is malformed (not JSON, wrong shape).
    #[error("{message}")]
    BadRequest { code: &'static str, message: String },
    /// 422: well-formed, but a value breaks a rule; `fields` says which.
    #[error("{message}")]
    Invalid {
        code: &'static str,
        message: String,
        fields: BTreeMap<String, String>,
    },
    /// 401: no valid credentials.
    #[error("{message}")]
    Unauthenticated { code: &'static str, message: String },
    /// 403: known, but not allowed.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// 404: absent, or not the caller's to see.
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// 409: clashes with the current state.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        field: Option<&'static str>,
    },
    /// 409 `conflict`: a write that could not be merged, kept whole.
    #[error("{message}")]
    MergeConflict {
        message: String,
        conflict: Box<postroom_core::api::ConflictView>,
    },
    /// 410: was here, and is no more (a cursor older than the change log).
    #[error("{message}")]
    Gone { code: &'static str, message: String },
    /// 413
    #[error("{message}")]
    TooLarge { message: String },
    /// 415
    #[error("{message}")]
    UnsupportedMedia { message: String },
    /// 431: the request's headers are too large together.
    #[error("{message}")]
    HeadersTooLarge { message: String },
    /// 429, with how long to wait.
    #[error("{message}")]
    TooManyRequests {
        code: &'static str,
        message: String,
        retry_after_secs: u64,
    },
    /// 402: a payment did not go through (`card_declined`, `card_required`),
    /// or waits for the card holder (`authentication_required`, with what the
    /// page needs to ask them).
    #[error("{message}")]
    PaymentRequired {
        code: &'static str,
        message: String,
        action: Option<Box<postroom_core::api::PaymentAction>>,
    },
    /// 502: another server we depend on (an OpenID provider) could not be
    /// reached or answered nonsense.
    #[error("{message}")]
    Upstream { code: &'static str, message: String },
    /// 500: a bug or an outage; the cause is logged, not shown.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Error {
        Error::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// A 422 for one field.
    pub fn field(field: &str, code: &'static str, message: impl Into<String>) -> Error {
        let message = message.into();
        let mut fields = BTreeMap::new();
        fields.insert(field.to_owned(), message.clone());
        Error::Invalid {
            code,
            message,
            fields,
        }
    }

    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Error {
        Error::Unauthenticated {
            code,
            message: message.into(),
        }
    }

    /// The same error with field `from`'s message under `to`, for a form
    /// whose field has another name than the API's.
    pub fn renamed_field(mut self, from: &str, to: &str) -> Error {
        if let Error::Invalid { fields, .. } = &mut self {
            if let Some(message) = fields.remove(from) {
                fields.insert(to.to_owned(), message);
            }
        }
        self
    }

    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Error {
        Error::Forbidden {
            code,
            message: message.into(),
        }
    }

    /// 403 `session_required`: `what` is done from a signed-in session,
    /// never with an API key (managing sign-in methods, approving a device).
    pub fn session_required(what: &str) -> Error {
        Error::forbidden(
            "session_required",
            format!("{what} from a signed-in session, not with an API key"),
        )
    }

    pub fn conflict(
        code: &'static str,
        field: Option<&'static str>,
        message: impl Into<String>,
    ) -> Error {
        Error::Conflict {
            code,
            message: message.into(),
            field,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Error::Forbidden { .. } => StatusCode::FORBIDDEN,
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::Conflict { .. } | Error::MergeConflict { .. } => StatusCode::CONFLICT,
            Error::Gone { .. } => StatusCode::GONE,
            Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMedia { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::HeadersTooLarge { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Error::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Upstream { .. } => StatusCode::BAD_GATEWAY,
            Error::PaymentRequired { .. } => StatusCode::PAYMENT_REQUIRED,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::BadRequest { code, .. }
            | Error::Invalid { code, .. }
            | Error::Unauthenticated { code, .. }
            | Error::Forbidden { code, .. }
            | Error::Conflict { code, .. }
            | Error::Gone { code, .. }
            | Error::TooManyRequests { code, .. }
            | Error::Upstream { code, .. }
            | Error::PaymentRequired { code, .. } => code,
            Error::MergeConflict { .. } => "conflict",
            Error::NotFound { .. } => "not_found",
            Error::TooLarge { .. } => "payload_too_large",
            Error::UnsupportedMedia { .. } => "unsupported_media_type",
            Error::HeadersTooLarge { .. } => "headers_too_large",
            Error::Internal(_) => "internal_error",
        }
    }

    pub fn body(&self) -> ErrorBody {
        let message = match self {
            Error::Internal(_) => "something went wrong on our side; it has been logged".to_owned(),
            other => other.to_string(),
        };
        let fields = match self {
            Error::Invalid { fields, .. } => fields.clone(),
            Error::Conflict {
                field: Some(f),
                message,
                ..
            } => BTreeMap::from([(f.to_string(), message.clone())]),
            _ => BTreeMap::new(),
        };
        ErrorBody {
            error: ErrorDetail {
                code: self.code().to_owned(),
                message,
                fields,
            },
            conflict: match self {
                Error::MergeConflict { conflict, .. } => Some(conflict.clone()),
                _ => None,
            },
            payment: match self {
                Error::PaymentRequired {
                    action: Some(a), ..
                } => Some((**a).clone()),
                _ => None,
            },
        }
    }
}

impl Error {
    /// What an internal error was, for the edge's log line of the request
    /// (see `http::edge`), which also names the request.
    pub fn failure_cause(&self) -> Option<crate::http::edge::FailureCause> {
        match self {
            Error::Internal(cause) => {
                Some(crate::http::edge::FailureCause(format!("{cause:?}").into()))
            }
            _ => None,
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Internal(anyhow::Error::new(e).context("database"))
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let cause = self.failure_cause();
        let status = self.status();
        let mut response = (status, axum::Json(self.body())).into_response();
        if let Some(cause) = cause {
            response.extensions_mut().insert(cause);
        }
        if let Error::TooManyRequests {
            retry_after_secs, ..
        } = self
        {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs.max(1)),
            );
        }
        response
    }
}

/// Collects field errors while checking a request, to report them together.
#[derive(Default)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_owned())
            .or_insert_with(|| message.into());
    }

    pub fn check<T>(
        &mut self,
        field: &str,
        r: std::result::Result<T, postroom_core::ValueError>,
    ) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.0);
                None
            }
        }
    }

    pub fn into_result(self) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        let message = if self.0.len() == 1 {
            self.0.values().next().cloned().unwrap_or_default()
        } else {
            "some fields are not valid".to_owned()
        };
        Err(Error::Invalid {
            code: "validation_failed",
            message,
            fields: self.0,
        })
    }
}
