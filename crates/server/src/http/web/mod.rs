//! The web dashboard (C1): server-rendered pages for everything the account
//! core offers. Pages call the same domain functions as the JSON API; forms
//! work without JavaScript, and `assets/app.js` only enhances them.
//!
//! - `session`: the accounts signed in in this browser, CSRF.
//! - `render`: the templates and their environment.
//! - `errors`: error pages.
//! - `pages`: the context every page shares, flash messages, redirects.
//! - `auth`: sign-up, sign-in, switching accounts, recovery, mailed links, onboarding.
//! - `settings`: profile, account, notifications, sessions, API keys,
//!   sign-in methods (providers, passkeys).
//! - `two_factor`: the settings page of two-step verification.
//! - `passkeys`: the JSON endpoints of passkey ceremonies that
//!   `assets/passkeys.js` calls: adding a passkey, signing in with one.
//! - `misc`: home, notifications, support, public profiles.
//! - `teams`: my teams, a team's members and invites, discovery, join
//!   requests, the audit log, the invite landing page, "Join a team".
//! - `team_sso`: a team's single sign-on page (A7).
//! - `billing`: a team's billing pages (B1-B10): overview, plans and the
//!   preview of a change, cards (with `assets/billing.js` and Stripe.js),
//!   history, invoices.
//! - `collections`: the Collections tabs (Private, Team, Links), import, a
//!   collection's tree and actions, revisions, recently deleted, and a
//!   public link (JSON, or a read-only page).
//! - `workspace`: environments, globals, history, header presets.
//! - `conflicts`: writes kept because they met changes to the same fields
//!   (S7), and their resolution: keep mine, keep theirs, or edit the merge.
//! - `markdown`: descriptions rendered and sanitised.
//! - `admin`: the operator pages under `/admin` (users, teams, support,
//!   the operator's audit log), behind a fresh password check.
//! - `oidc`: signing in through OpenID providers and teams' single sign-on
//!   (A2, A7), and `finish_sign_in`, where such a sign-in begins a session.
//! - `oauth`: letting a program sign in (A5): the consent page of
//!   `/oauth/authorize`, and `/device` where a program's code is entered.

mod admin;
mod assets;
mod auth;
mod billing;
mod collections;
mod conflicts;
pub mod errors;
mod markdown;
mod misc;
mod oauth;
pub mod oidc;
pub mod pages;
mod passkeys;
mod render;
pub mod session;
mod settings;
mod team_sso;
mod teams;
mod two_factor;
mod workspace;

use axum::middleware;
use axum::Router;

use crate::state::App;

pub fn router(app: App) -> Router<App> {
    Router::new()
        .merge(auth::router())
        .merge(settings::router())
        .merge(two_factor::router())
        .merge(misc::router())
        .merge(teams::router())
        .merge(team_sso::router())
        .merge(billing::router())
        .merge(collections::router())
        .merge(workspace::router())
        .merge(conflicts::router())
        .merge(admin::router())
        .merge(oauth::router())
        .merge(oidc::router())
        .merge(passkeys::router())
        .fallback(crate::http::fallback)
        .layer(middleware::from_fn_with_state(app, session::middleware))
        .merge(assets::router())
}
