//! `/api/v1/captcha`: proof-of-work challenges (ALTCHA-compatible).

use axum::extract::State;
use axum::Json;
use postroom_core::api::CaptchaChallenge;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::state::App;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new().routes(routes!(challenge))
}

/// A fresh challenge. Solve it and send the solution as `captcha` with the next credential request.
#[utoipa::path(get, path = "/api/v1/captcha", tag = "captcha", responses((status = 200, body = CaptchaChallenge)))]
async fn challenge(State(app): State<App>) -> Json<CaptchaChallenge> {
    Json(app.captcha.challenge(app.clock.now()))
}
