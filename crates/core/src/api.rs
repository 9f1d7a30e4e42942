//! The JSON shapes of the `/api/v1` HTTP API, shared by the server and clients.
//! Times are RFC 3339 strings in UTC.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::prefs::NotificationPrefs;

mod billing;
mod oauth;
mod sync;
mod teams;
mod workspace;
pub use billing::*;
pub use oauth::*;
pub use sync::*;
pub use teams::*;
pub use workspace::*;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// Every 4xx and 5xx answer has this body.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorBody {
    pub error: ErrorDetail,
    /// With 409 `conflict`: the write that could not be merged, kept until
    /// resolved (`/api/v1/conflicts/{id}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<Box<ConflictView>>,
    /// With 402 `authentication_required`: what the payment provider's page
    /// script needs to let the card's bank confirm the payment (3-D Secure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentAction>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ErrorDetail {
    /// Stable, machine-readable, snake_case.
    pub code: String,
    /// For people; may change between versions.
    pub message: String,
    /// Per-field problems, keyed by the request field name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SignUpRequest {
    pub email: String,
    pub username: String,
    pub password: String,
    /// Required (`true`) when the server has terms of service
    /// (`terms_url` in its configuration); ignored when it has none.
    #[serde(default)]
    pub accept_terms: bool,
    /// An ALTCHA solution, when the server asks for one.
    #[serde(default)]
    pub captcha: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TokenRequest {
    pub token: String,
}

/// A request that names an email address: re-sending the confirmation mail,
/// password reset, username reminder.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EmailRequest {
    pub email: String,
    #[serde(default)]
    pub captcha: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SignInRequest {
    /// Email address or username.
    pub login: String,
    pub password: String,
    /// Without it the session ends after 30 minutes without use, and 12
    /// hours after sign-in; with it, after 7 days without use, and 30 days
    /// after sign-in.
    #[serde(default)]
    pub keep_signed_in: bool,
    #[serde(default)]
    pub captcha: Option<String>,
    /// A code from the authenticator app, for an account with two-step
    /// verification; without it (or `recovery_code`) such an account
    /// answers 401 `two_factor_required`.
    #[serde(default)]
    pub otp: Option<String>,
    /// One of the account's recovery codes, instead of `otp`; each works once.
    #[serde(default)]
    pub recovery_code: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ResetConfirmRequest {
    pub token: String,
    pub new_password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChangePasswordRequest {
    pub current_password: String,
    pub new_password: String,
}

/// `GET /api/v1/me/export`: everything Postroom keeps about the caller (P9).
/// API keys appear without their secrets; nothing here signs anyone in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AccountExport {
    /// `postroom-account-export/1`.
    pub format: String,
    pub exported_at: String,
    pub user: User,
    pub notification_preferences: crate::NotificationPrefs,
    pub sessions: Vec<Session>,
    pub api_keys: Vec<ApiKey>,
    pub teams: Vec<Team>,
    /// Every in-app notification, newest first.
    pub notifications: Vec<Notification>,
    pub support_requests: Vec<SupportRequest>,
    /// The account's own event log, oldest first: sign-ins from new devices
    /// (with their address), password and email changes.
    pub activity: Vec<ActivityEvent>,
    /// My private workspace items, as documents (a team's items are the
    /// team's, not in here).
    #[serde(default)]
    pub workspace: WorkspaceExport,
}

/// One entry of an account's own event log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ActivityEvent {
    /// `new_sign_in`, `password_changed`, `email_changed`.
    pub kind: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub data: serde_json::Value,
    pub created_at: String,
}

/// `POST /api/v1/me/totp`: a new secret for the authenticator app, to be
/// confirmed with a code from it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TotpSetup {
    /// The secret in base32, for typing into the app by hand.
    pub secret: String,
    /// The `otpauth://totp/...` URL that the setup page shows as a QR code.
    pub otpauth_url: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TotpConfirmRequest {
    /// The 6 digits the app shows now.
    pub code: String,
}

/// Single-use recovery codes, shown only in this answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RecoveryCodes {
    pub recovery_codes: Vec<String>,
}

/// A request that only the account's password confirms.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PasswordConfirmation {
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TwoFactorStatus {
    pub enabled: bool,
    /// Unused recovery codes left (0 while it is off).
    pub recovery_codes_left: i64,
}

/// `DELETE /api/v1/me`: the account's password confirms the deletion.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeleteAccountRequest {
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ChangeEmailRequest {
    pub new_email: String,
    pub password: String,
}

/// Fields of `PATCH /api/v1/me`; absent fields are left as they are, and
/// `null` clears an optional one.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateMeRequest {
    #[serde(default)]
    pub username: Option<String>,
    #[serde(
        default,
        with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub display_name: Option<Option<String>>,
    #[serde(
        default,
        with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub bio: Option<Option<String>>,
    /// The whole list of links; `null` or `[]` removes them all.
    #[serde(
        default,
        with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub links: Option<Option<Vec<String>>>,
    #[serde(default)]
    pub profile_public: Option<bool>,
    /// What the person uses Postroom for, asked at onboarding.
    #[serde(
        default,
        with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub usage: Option<Option<String>>,
}

/// Tells a missing field (`None`) from an explicit `null` (`Some(None)`).
mod double_option {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<T>>, D::Error> {
        Option::<T>::deserialize(d).map(Some)
    }

    pub fn serialize<T: Serialize, S: Serializer>(
        v: &Option<Option<T>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match v {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: String,
    pub email_verified: bool,
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub links: Vec<String>,
    pub profile_public: bool,
    pub usage: Option<String>,
    /// Where the avatar image is served, when there is one.
    pub avatar_url: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct UserEnvelope {
    pub user: User,
}

/// What anyone may see of a person who made their profile public.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PublicProfile {
    pub username: String,
    pub display_name: Option<String>,
    pub bio: Option<String>,
    pub links: Vec<String>,
    pub avatar_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Session {
    pub id: String,
    /// A short description of the client: what signed in through the
    /// browser calls itself ("postroom CLI on ada-laptop"), or else what its
    /// user agent says ("Firefox on Linux").
    pub device: String,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: String,
    pub last_active_at: String,
    pub keep_signed_in: bool,
    /// True for the session this request was made with.
    pub current: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SignInResponse {
    /// The bearer token. It is shown only here.
    pub token: String,
    pub session: Session,
    pub user: User,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SessionList {
    pub sessions: Vec<Session>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RevokedCount {
    pub revoked: u64,
}

/// The answer to requests whose outcome must not reveal whether an account
/// exists.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Accepted {
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NotificationPrefsEnvelope {
    pub preferences: NotificationPrefs,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Notification {
    pub id: String,
    /// What happened: `new_sign_in`, `password_changed`, `email_changed`, ...
    pub kind: String,
    pub message: String,
    pub created_at: String,
    pub read: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct NotificationPage {
    pub notifications: Vec<Notification>,
    pub unread_count: u64,
    /// Pass as `before` to get the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct MarkReadRequest {
    /// Notification ids to mark read; absent means all of them.
    #[serde(default)]
    pub ids: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ApiKeyScope {
    /// Read-only requests (GET).
    Read,
    /// Every request an account may make.
    Write,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateApiKeyRequest {
    pub name: String,
    /// Defaults to `["read", "write"]`.
    #[serde(default)]
    pub scopes: Option<Vec<ApiKeyScope>>,
    /// Days until the key stops working (1 to 365); absent or null: the key
    /// works until it is revoked.
    #[serde(default)]
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    /// The first characters of the key, to recognise it by.
    pub prefix: String,
    pub scopes: Vec<ApiKeyScope>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// When the key stops working; null when it works until revoked.
    pub expires_at: Option<String>,
    /// True once `expires_at` has passed; an expired key is refused.
    pub expired: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreatedApiKey {
    /// The secret key. It is shown only here.
    pub key: String,
    pub api_key: ApiKey,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ApiKeyList {
    pub api_keys: Vec<ApiKey>,
}

/// An ALTCHA proof-of-work challenge.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CaptchaChallenge {
    pub algorithm: String,
    pub challenge: String,
    pub maxnumber: u64,
    pub salt: String,
    pub signature: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SupportCategory {
    Account,
    Billing,
    Teams,
    Sync,
    Bug,
    Other,
}

impl SupportCategory {
    pub const ALL: [SupportCategory; 6] = [
        SupportCategory::Account,
        SupportCategory::Billing,
        SupportCategory::Teams,
        SupportCategory::Sync,
        SupportCategory::Bug,
        SupportCategory::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SupportCategory::Account => "account",
            SupportCategory::Billing => "billing",
            SupportCategory::Teams => "teams",
            SupportCategory::Sync => "sync",
            SupportCategory::Bug => "bug",
            SupportCategory::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<SupportCategory> {
        SupportCategory::ALL.into_iter().find(|c| c.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            SupportCategory::Account => "My account",
            SupportCategory::Billing => "Plans and billing",
            SupportCategory::Teams => "Teams",
            SupportCategory::Sync => "Your data",
            SupportCategory::Bug => "Something is broken",
            SupportCategory::Other => "Something else",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CreateSupportRequest {
    pub category: SupportCategory,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SupportRequest {
    pub id: String,
    pub category: SupportCategory,
    pub subject: String,
    pub body: String,
    /// `open` until the operator answers.
    pub status: String,
    pub created_at: String,
    /// The operator's answer, once there is one (it is mailed too).
    #[serde(default)]
    pub answer: Option<String>,
    #[serde(default)]
    pub answered_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct SupportRequestList {
    pub support_requests: Vec<SupportRequest>,
}
