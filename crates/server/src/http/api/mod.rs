//! The JSON API under `/api/v1`, one module per resource. Every route is
//! registered through `utoipa_axum::routes!`, so the OpenAPI document covers
//! exactly the routes that exist.

mod accounts;
mod api_keys;
mod billing;
mod captcha;
mod device_authorizations;
mod me;
mod notifications;
mod sessions;
mod support;
mod sync;
mod teams;
mod two_factor;
mod users;
mod workspace;

use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::state::App;

#[derive(OpenApi)]
#[openapi(
    info(title = "Postroom API", description = "Accounts, sessions, teams and workspace data (collections, environments) of a Postroom server."),
    components(schemas(postroom_core::api::ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "accounts", description = "Sign-up, email confirmation and account recovery"),
        (name = "sessions", description = "Signing in and out, active sessions, approving a program's sign-in"),
        (name = "me", description = "The signed-in person's account and settings"),
        (name = "users", description = "Public profiles and avatars"),
        (name = "captcha", description = "Proof-of-work captcha for credential endpoints"),
        (name = "teams", description = "Teams, members and roles, invites, domains and discovery, audit log"),
        (name = "collections", description = "Postman collections, imports, public links, subscriptions and the activity feed"),
        (name = "environments", description = "Environments and globals, sealed at rest"),
        (name = "header presets", description = "Named sets of request headers"),
        (name = "history", description = "Requests sent, as history entries"),
        (name = "sync", description = "The change log, the live sync socket, and conflicts to resolve"),
        (name = "billing", description = "Plans, subscriptions, the balance, cards and invoices (admins and the billing role)"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A session token from POST /api/v1/sessions"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Api-Key"))),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "postroom_accounts",
                "The web pages' session cookie (`__Host-postroom_accounts` over HTTPS). A \
                 request other than GET, HEAD or OPTIONS made with it must also send the page's CSRF \
                 token (`<meta name=\"csrf-token\">`) in `X-CSRF-Token`, or it is refused \
                 with 403 `csrf_failed`.",
            ))),
        );
    }
}

/// Every operation a session token may call may be called with the web's
/// session cookie too (the extractor accepts both): says so in the document.
fn accept_cookie_where_sessions_are(openapi: &mut utoipa::openapi::OpenApi) {
    let session = SecurityRequirement::new("session", Vec::<String>::new());
    let cookie = SecurityRequirement::new("cookie", Vec::<String>::new());
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
        ];
        for op in operations.into_iter().flatten() {
            if let Some(security) = &mut op.security {
                if security.contains(&session) && !security.contains(&cookie) {
                    security.push(cookie.clone());
                }
            }
        }
    }
}

/// OpenAPI 3.1 requires a description on every response, and utoipa leaves
/// out an empty one: a response declared without one is described by its
/// status's reason phrase ("No Content").
fn describe_every_response(openapi: &mut utoipa::openapi::OpenApi) {
    for item in openapi.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
            &mut item.head,
        ];
        for op in operations.into_iter().flatten() {
            for (status, response) in op.responses.responses.iter_mut() {
                let utoipa::openapi::RefOr::T(response) = response else {
                    continue;
                };
                if response.description.is_empty() {
                    let reason = status
                        .parse::<u16>()
                        .ok()
                        .and_then(|code| axum::http::StatusCode::from_u16(code).ok())
                        .and_then(|code| code.canonical_reason());
                    response.description = reason.unwrap_or("Response").to_owned();
                }
            }
        }
    }
}

/// The API's routes and its OpenAPI document.
pub fn router_and_document() -> (axum::Router<App>, utoipa::openapi::OpenApi) {
    let (router, mut openapi) = router().split_for_parts();
    accept_cookie_where_sessions_are(&mut openapi);
    describe_every_response(&mut openapi);
    (router, openapi)
}

fn router() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(accounts::router())
        .merge(billing::router())
        .merge(sessions::router())
        .merge(device_authorizations::router())
        .merge(me::router())
        .merge(two_factor::router())
        .merge(api_keys::router())
        .merge(notifications::router())
        .merge(users::router())
        .merge(captcha::router())
        .merge(support::router())
        .merge(teams::router())
        .merge(workspace::router())
        .merge(sync::router())
}
