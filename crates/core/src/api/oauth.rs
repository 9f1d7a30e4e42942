//! Browser sign-in for programs (A5): OAuth 2.0 for native apps. The
//! server's metadata (RFC 8414), the device authorization answer (RFC 8628),
//! the token endpoint's answers (RFC 6749 §5), and the API's approval of a
//! device by a signed-in client. The field names are the RFCs'.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// The `client_id` of Postroom's own command-line client.
pub const CLI_CLIENT_ID: &str = "postroom-cli";

/// The `grant_type` of a device code (RFC 8628 §3.4).
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// `GET /.well-known/oauth-authorization-server`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthorizationServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub device_authorization_endpoint: String,
    pub response_types_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    pub code_challenge_methods_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

/// `POST /oauth/device`: what the program shows the person, and the code it
/// polls the token endpoint with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceAuthorization {
    pub device_code: String,
    /// Eight letters shown as `XXXX-XXXX`.
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: String,
    /// Seconds until the request expires.
    pub expires_in: u64,
    /// Seconds to wait between two polls of the token endpoint.
    pub interval: u64,
}

/// `POST /oauth/token`: a session token, sent as `Authorization: Bearer`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct TokenResponse {
    pub access_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Seconds until the session ends if it is not used; each use renews it
    /// (up to 30 days after sign-in), as for any session kept signed in.
    pub expires_in: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// The error answer of the OAuth endpoints (RFC 6749 §5.2): `error` is one
/// of the RFCs' codes (`invalid_request`, `invalid_grant`,
/// `authorization_pending`, `slow_down`, `expired_token`, `access_denied`,
/// `unsupported_grant_type`, ...).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OAuthError {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// `POST /api/v1/device-authorizations/approve`: the code a program shows
/// (`XXXX-XXXX`; case and the dash do not matter).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeviceApproveRequest {
    pub user_code: String,
}

/// The program that was approved; it receives its session on its next poll.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeviceApproval {
    pub client_id: String,
    /// The name the program gave its device, if any.
    pub device_name: Option<String>,
}
