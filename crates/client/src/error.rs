use postroom_core::api::{ConflictView, ErrorBody};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No answer from the server (down, no network, a proxy's 502-504):
    /// try again later; nothing was changed by this request.
    #[error("the server at {url} cannot be reached: {reason}")]
    Unreachable { url: String, reason: String },
    /// The session or key is not (or no longer) valid: sign in again.
    #[error("{message}")]
    Unauthenticated { code: String, message: String },
    /// A write on a stale base that could not be merged; the server keeps it
    /// as the conflict named here.
    #[error("conflict: {}", .0.fields.iter().map(|f| f.path.as_str()).collect::<Vec<_>>().join(", "))]
    Conflict(Box<ConflictView>),
    /// Any other answer the server gave with an error body.
    #[error("{message} ({code})")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    /// An answer that is not what this client understands.
    #[error("unexpected answer from the server: {0}")]
    Protocol(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The server's stable error code, when it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Unauthenticated { code, .. } | Error::Api { code, .. } => Some(code),
            Error::Conflict(_) => Some("conflict"),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Api { status: 404, .. })
    }

    pub(crate) fn unreachable(url: &str, err: &dyn std::fmt::Display) -> Error {
        Error::Unreachable {
            url: url.to_owned(),
            reason: err.to_string(),
        }
    }

    /// The error an HTTP answer with a failure status stands for.
    pub(crate) fn from_answer(url: &str, status: u16, body: &[u8]) -> Error {
        if matches!(status, 502..=504) {
            return Error::unreachable(url, &format!("the server answered {status}"));
        }
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(ErrorBody {
                conflict: Some(conflict),
                ..
            }) if status == 409 => Error::Conflict(conflict),
            Ok(body) if status == 401 => Error::Unauthenticated {
                code: body.error.code,
                message: body.error.message,
            },
            Ok(body) => Error::Api {
                status,
                code: body.error.code,
                message: body.error.message,
            },
            Err(_) if status == 401 => Error::Unauthenticated {
                code: "unauthenticated".into(),
                message: "not signed in".into(),
            },
            Err(_) => Error::Api {
                status,
                code: format!("http_{status}"),
                message: format!("the server answered {status}"),
            },
        }
    }
}
