//! Extractors: the caller's identity ([`Auth`], [`MaybeAuth`]), where the
//! request came from ([`ClientInfo`]), and JSON bodies and queries whose
//! rejections become the API's JSON errors ([`ApiJson`], [`ApiQuery`]).

use std::net::SocketAddr;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, Method};
use serde::de::DeserializeOwned;

use crate::domain::actor::{Actor, Client};
use crate::domain::{api_keys, sessions};
use crate::error::Error;
use crate::state::App;

/// A signed-in caller. Read-only API keys may only make GET requests.
pub struct Auth(pub Actor);

/// A caller who may or may not be signed in; bad credentials still fail.
pub struct MaybeAuth(pub Option<Actor>);

pub const API_KEY_HEADER: &str = "x-api-key";

/// The caller the request's credentials name; `activity`: whether this
/// counts as the person's activity on a session (see `sessions::recheck`).
async fn actor_from(parts: &Parts, app: &App, activity: bool) -> Result<Option<Actor>, Error> {
    if let Some(key) = parts.headers.get(API_KEY_HEADER) {
        let key = key
            .to_str()
            .map_err(|_| Error::unauthenticated("invalid_api_key", "the API key is not valid"))?;
        return api_keys::authenticate(app, key.trim()).await.map(Some);
    }
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let token = value
            .to_str()
            .ok()
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .ok_or_else(|| {
                Error::unauthenticated("unauthenticated", "use `Authorization: Bearer <token>`")
            })?;
        let token = token.trim();
        return if activity {
            sessions::authenticate(app, token).await.map(Some)
        } else {
            sessions::recheck(app, token).await.map(Some)
        };
    }
    crate::http::web::session::api_actor(app, parts, activity).await
}

/// The caller that `headers` (kept from a request) name now: a long-lived
/// connection checks that its credentials still hold. Checking is not
/// activity: a session it names still ends when idle.
pub async fn reauthenticate(
    app: &App,
    headers: &axum::http::HeaderMap,
) -> Result<Option<Actor>, Error> {
    let (mut parts, ()) = Request::new(()).into_parts();
    parts.headers = headers.clone();
    actor_from(&parts, app, false).await
}

impl FromRequestParts<App> for Auth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let actor = actor_from(parts, app, true).await?.ok_or_else(|| {
            Error::unauthenticated(
                "unauthenticated",
                "sign in first: send a session token (`Authorization: Bearer`), an API key \
                 (`X-Api-Key`) or the web session cookie",
            )
        })?;
        if !actor.can_write && !matches!(parts.method, Method::GET | Method::HEAD) {
            return Err(Error::forbidden(
                "insufficient_scope",
                "this API key may only read",
            ));
        }
        Ok(Auth(actor))
    }
}

impl FromRequestParts<App> for MaybeAuth {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(MaybeAuth(actor_from(parts, app, true).await?))
    }
}

/// The client's address and user agent.
pub struct ClientInfo(pub Client);

impl FromRequestParts<App> for ClientInfo {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let forwarded = app
            .settings
            .trust_proxy
            .then(|| {
                parts
                    .headers
                    .get("x-forwarded-for")?
                    .to_str()
                    .ok()?
                    .split(',')
                    .next()
                    .map(|s| s.trim().to_owned())
            })
            .flatten()
            .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok());
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        let ip = forwarded.or(peer).unwrap_or_else(|| "unknown".to_owned());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(ClientInfo(Client { ip, user_agent }))
    }
}

/// `axum::Json` with the API's error format.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(ApiJson(v)),
            Err(JsonRejection::JsonDataError(e)) => Err(Error::Invalid {
                code: "invalid_body",
                message: format!(
                    "the request body does not match the expected shape: {}",
                    e.body_text().trim_start_matches(
                        "Failed to deserialize the JSON body into the target type: "
                    )
                ),
                fields: Default::default(),
            }),
            Err(JsonRejection::JsonSyntaxError(_)) => Err(Error::bad_request(
                "invalid_json",
                "the request body is not valid JSON",
            )),
            Err(JsonRejection::MissingJsonContentType(_)) => Err(Error::UnsupportedMedia {
                message: "send the body as JSON with `Content-Type: application/json`".into(),
            }),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(Error::TooLarge {
                    message: "the request body is too large".into(),
                })
            }
            Err(e) => Err(Error::bad_request("invalid_body", e.body_text())),
        }
    }
}

/// A JSON body that may be as large as a document (`max_document_mb`):
/// collections, environments and the like. Other routes take small bodies
/// only ([`ApiJson`], under the router's limit).
pub struct DocumentJson<T>(pub T);

impl<T: DeserializeOwned + Send + 'static> FromRequest<App> for DocumentJson<T> {
    type Rejection = Error;

    async fn from_request(req: Request, app: &App) -> Result<Self, Self::Rejection> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let v = v.split(';').next().unwrap_or("").trim();
                v.eq_ignore_ascii_case("application/json")
                    || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if !json {
            return Err(Error::UnsupportedMedia {
                message: "send the body as JSON with `Content-Type: application/json`".into(),
            });
        }
        let (_, bytes) = read_upload(req, app.settings.max_document_bytes as usize).await?;
        let value = tokio::task::spawn_blocking(move || serde_json::from_slice::<T>(&bytes))
            .await
            .map_err(|e| Error::Internal(e.into()))?;
        match value {
            Ok(v) => Ok(DocumentJson(v)),
            Err(e) if e.is_data() => Err(Error::Invalid {
                code: "invalid_body",
                message: format!("the request body does not match the expected shape: {e}"),
                fields: Default::default(),
            }),
            Err(e) => Err(Error::bad_request(
                "invalid_json",
                format!(
                    "the request body is not valid JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )),
        }
    }
}

/// `axum::extract::Query` with the API's error format.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(ApiQuery(v)),
            Err(e @ QueryRejection::FailedToDeserializeQueryString(_)) => {
                Err(Error::bad_request("invalid_query", e.body_text()))
            }
            Err(e) => Err(Error::bad_request("invalid_query", e.body_text())),
        }
    }
}

/// Reads a whole upload of at most `max` bytes. A larger one is still read
/// to its end (up to 16 MiB) before the 413 answer, so that the client,
/// which is still sending, gets to read that answer.
pub async fn read_upload(
    request: Request,
    max: usize,
) -> Result<(Parts, axum::body::Bytes), Error> {
    use http_body_util::BodyExt;
    const DRAIN_CAP: usize = 16 * 1024 * 1024;
    let (parts, mut body) = request.into_parts();
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            Error::bad_request("invalid_body", format!("the upload was cut off: {e}"))
        })?;
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= max {
                buf.extend_from_slice(&data);
            } else if seen > DRAIN_CAP {
                break;
            }
        }
    }
    if seen > max {
        return Err(Error::TooLarge {
            message: format!("the upload must be at most {} MB", max / (1024 * 1024)),
        });
    }
    Ok((parts, buf.into()))
}

/// An avatar upload as the API and the settings page receive it: the image,
/// and the form's `csrf` field when it came as a form.
#[derive(Debug, Default)]
pub struct AvatarUpload {
    pub image: Option<Vec<u8>>,
    pub csrf: Option<String>,
}

/// Reads an avatar upload: a raw image body (`image/*`, when `raw_allowed`)
/// or a multipart form with an `avatar` field (and a `csrf` field, from the
/// pages). An image past the size limit is 413, whichever way it came; a
/// form that cannot be read is 400 `invalid_multipart`.
pub async fn read_avatar(request: Request, raw_allowed: bool) -> Result<AvatarUpload, Error> {
    use crate::domain::profile::MAX_AVATAR_BYTES;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let too_large = || Error::TooLarge {
        message: format!(
            "the image must be at most {} MB",
            MAX_AVATAR_BYTES / (1024 * 1024)
        ),
    };
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let is_form = content_type.starts_with("multipart/form-data");
    let raw_image = raw_allowed && content_type.starts_with("image/");
    if !(is_form || raw_image) {
        return Err(Error::UnsupportedMedia {
            message: if raw_allowed {
                "send a PNG, JPEG or WebP image, or a multipart form with an `avatar` field".into()
            } else {
                "send a multipart form with an `avatar` field".into()
            },
        });
    }
    // A form carries a little more than its image.
    let limit = if is_form {
        MAX_AVATAR_BYTES + 64 * 1024
    } else {
        MAX_AVATAR_BYTES
    };
    let (parts, bytes) = read_upload(request, limit).await.map_err(|e| match e {
        Error::TooLarge { .. } => too_large(),
        e => e,
    })?;
    if !is_form {
        return Ok(AvatarUpload {
            image: Some(bytes.to_vec()),
            csrf: None,
        });
    }
    let request = Request::from_parts(parts, axum::body::Body::from(bytes));
    let mut form = axum::extract::Multipart::from_request(request, &())
        .await
        .map_err(|e| {
            Error::bad_request("invalid_multipart", e.into_response().status().to_string())
        })?;
    let invalid = |e: axum::extract::multipart::MultipartError| match e.status() {
        StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        _ => Error::bad_request("invalid_multipart", e.body_text()),
    };
    let mut upload = AvatarUpload::default();
    while let Some(field) = form.next_field().await.map_err(invalid)? {
        match field.name() {
            Some("avatar") => upload.image = Some(field.bytes().await.map_err(invalid)?.to_vec()),
            Some("csrf") => upload.csrf = Some(field.text().await.map_err(invalid)?),
            _ => {}
        }
    }
    Ok(upload)
}
