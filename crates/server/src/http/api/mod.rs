//! The JSON API under `/api/v1`, one module per resource. Every route is
//! registered through `utoipa_axum::routes!`, so the OpenAPI document covers
//! exactly the routes that exist.

mod accounts;
mod api_keys;
mod captcha;
mod me;
mod notifications;
mod sessions;
mod support;
mod teams;
mod users;

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::state::App;

#[derive(OpenApi)]
#[openapi(
    info(title = "Postroom API", description = "Accounts, sessions and settings of a Postroom server."),
    components(schemas(postroom_core::api::ErrorBody)),
    modifiers(&Security),
    tags(
        (name = "accounts", description = "Sign-up, email confirmation and account recovery"),
        (name = "sessions", description = "Signing in and out, active sessions"),
        (name = "me", description = "The signed-in person's account and settings"),
        (name = "users", description = "Public profiles and avatars"),
        (name = "captcha", description = "Proof-of-work captcha for credential endpoints"),
        (name = "teams", description = "Teams, members and roles, invites, domains and discovery, audit log"),
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
    }
}

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(accounts::router())
        .merge(sessions::router())
        .merge(me::router())
        .merge(api_keys::router())
        .merge(notifications::router())
        .merge(users::router())
        .merge(captcha::router())
        .merge(support::router())
        .merge(teams::router())
}
