//! Settings pages: profile and avatar, account (username, email, password),
//! notification preferences, active sessions, API keys and security
//! (passkeys; adding one is `passkeys.js`'s, through `web/passkeys.rs`).

use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use postroom_core::api::{self, ApiKeyScope};
use postroom_core::prefs::TopicSwitches;
use postroom_core::Topic;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::errors::{csrf_refused, error_status};
use super::pages::{capitalise, flash, see_other, FormError, OrForm, Page, PageResult};
use super::session::{check_csrf, CsrfForm, SignedIn};
use crate::domain::{accounts, api_keys, passkeys, profile, sessions};
use crate::error::Error;
use crate::http::extract::read_avatar;
use crate::state::App;

pub fn router() -> Router<App> {
    Router::new()
        .route(
            "/settings",
            get(|| async { see_other("/settings/profile") }),
        )
        .route("/settings/profile", get(profile_page).post(save_profile))
        .route(
            "/settings/avatar",
            post(upload_avatar).layer(DefaultBodyLimit::max(profile::MAX_AVATAR_BYTES + 64 * 1024)),
        )
        .route("/settings/avatar/delete", post(delete_avatar))
        .route("/settings/account", get(account_page))
        .route("/settings/account/username", post(change_username))
        .route("/settings/account/email", post(change_email))
        .route("/settings/account/password", post(change_password))
        .route("/settings/account/delete", post(delete_account))
        .route("/settings/notifications", get(prefs_page).post(save_prefs))
        .route("/settings/security", get(security_page))
        .route("/settings/security/{id}/unlink", post(unlink))
        .route("/settings/sessions", get(sessions_page))
        .route("/settings/sessions/revoke-others", post(revoke_others))
        .route("/settings/sessions/{id}/revoke", post(revoke_session))
        .route("/settings/api-keys", get(keys_page).post(create_key))
        .route("/settings/api-keys/{id}/revoke", post(revoke_key))
        .route(
            "/settings/security/passkeys/{id}/rename",
            post(rename_passkey),
        )
        .route(
            "/settings/security/passkeys/{id}/remove",
            post(remove_passkey),
        )
}

#[derive(Deserialize)]
struct FlashQuery {
    flash: Option<String>,
}

#[derive(Deserialize, Serialize, Default)]
struct ProfileForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    bio: String,
    #[serde(default)]
    links: String,
    #[serde(default)]
    usage: String,
    #[serde(default)]
    profile_public: Option<String>,
}

fn settings(template: &'static str, section: &str, title: &str) -> Page {
    Page::new(template, title.to_owned())
        .with("nav", "settings")
        .with("section", section)
}

async fn profile_form(app: &App, signed: &SignedIn) -> Result<ProfileForm, Error> {
    let me = profile::me(app, signed.actor()).await?;
    Ok(ProfileForm {
        display_name: me.display_name.unwrap_or_default(),
        bio: me.bio.unwrap_or_default(),
        links: me.links.join("\n"),
        usage: me.usage.unwrap_or_default(),
        profile_public: me.profile_public.then(|| "on".to_owned()),
    })
}

async fn profile_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    let form = profile_form(&app, &signed).await?;
    Ok(settings("settings_profile.html", "profile", "Profile")
        .with("form", form)
        .with("flash", flash(q.flash.as_deref()))
        .render(&app, &signed.session)
        .await)
}

async fn save_profile(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<ProfileForm>,
) -> PageResult {
    let req = api::UpdateMeRequest {
        display_name: Some(Some(form.display_name.clone())),
        // Browsers send a textarea's line breaks as CRLF; a bio keeps plain
        // newlines (and refuses a lone carriage return as a control character).
        bio: Some(Some(form.bio.replace("\r\n", "\n"))),
        links: Some(Some(form.links.lines().map(str::to_owned).collect())),
        usage: Some(Some(form.usage.clone())),
        profile_public: Some(form.profile_public.is_some()),
        ..Default::default()
    };
    profile::update_me(&app, signed.actor(), &req)
        .await
        .or_form(&app, &signed.session, async |fe| {
            Ok(settings("settings_profile.html", "profile", "Profile")
                .with("form", &form)
                .with("section_error", "profile")
                .with_errors(fe))
        })
        .await?;
    Ok(see_other("/settings/profile?flash=profile_saved"))
}

/// The avatar form is multipart, so its CSRF field is read here.
async fn upload_avatar(State(app): State<App>, signed: SignedIn, request: Request) -> PageResult {
    let show = async |fe| avatar_form(&app, &signed, fe).await;
    let upload = match read_avatar(request, false).await {
        Err(e) if !matches!(e, Error::TooLarge { .. }) => {
            return Ok(error_status(StatusCode::BAD_REQUEST))
        }
        r => r.or_form(&app, &signed.session, show).await?,
    };
    if !check_csrf(&signed.session, upload.csrf.as_deref()) {
        return Ok(csrf_refused());
    }
    let image = upload
        .image
        .filter(|i| !i.is_empty())
        .ok_or_else(|| Error::field("avatar", "validation_failed", "choose an image to upload"))
        .or_form(&app, &signed.session, show)
        .await?;
    profile::set_avatar(&app, signed.actor(), image)
        .await
        .or_form(&app, &signed.session, show)
        .await?;
    Ok(see_other("/settings/profile?flash=avatar_saved"))
}

/// The profile page with the avatar form's error: one message, the field's
/// when there is one.
async fn avatar_form(app: &App, signed: &SignedIn, fe: FormError) -> Result<Page, Error> {
    let message = fe
        .errors
        .values()
        .next()
        .cloned()
        .or(fe.error)
        .map(|m| capitalise(&m));
    Ok(settings("settings_profile.html", "profile", "Profile")
        .with("form", profile_form(app, signed).await?)
        .with("section_error", "avatar")
        .with("error", message))
}

#[derive(Deserialize)]
struct Nothing {}

async fn delete_avatar(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    match profile::delete_avatar(&app, signed.actor()).await {
        Ok(()) | Err(Error::NotFound { .. }) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(see_other("/settings/profile?flash=avatar_removed"))
}

#[derive(Deserialize, Serialize, Default)]
struct AccountForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    new_email: String,
    #[serde(default, skip_serializing)]
    password: String,
    #[serde(default, skip_serializing)]
    current_password: String,
    #[serde(default, skip_serializing)]
    new_password: String,
    /// The deletion form's password (its own name: the email form on the
    /// same page has a `password` field too).
    #[serde(default, skip_serializing)]
    delete_password: String,
    /// The "I understand" box of the deletion form.
    #[serde(default, skip_serializing)]
    confirm: Option<String>,
}

fn account(form: &AccountForm) -> Page {
    settings("settings_account.html", "account", "Account").with("form", form)
}

async fn account_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<FlashQuery>,
) -> Response {
    account(&AccountForm::default())
        .with("flash", flash(q.flash.as_deref()))
        .render(&app, &signed.session)
        .await
}

/// The account page with one of its forms' errors.
fn account_failed(form: &AccountForm, section: &str, fe: FormError) -> Page {
    account(form).with("section_error", section).with_errors(fe)
}

async fn change_username(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<AccountForm>,
) -> PageResult {
    let req = api::UpdateMeRequest {
        username: Some(form.username.clone()),
        ..Default::default()
    };
    profile::update_me(&app, signed.actor(), &req)
        .await
        .or_form(&app, &signed.session, async |fe| {
            Ok(account_failed(&form, "username", fe))
        })
        .await?;
    Ok(see_other("/settings/account?flash=username_changed"))
}

async fn change_email(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<AccountForm>,
) -> PageResult {
    let req = api::ChangeEmailRequest {
        new_email: form.new_email.clone(),
        password: form.password.clone(),
    };
    accounts::request_email_change(&app, signed.actor(), &req)
        .await
        .or_form(&app, &signed.session, async |fe| {
            Ok(account_failed(&form, "email", fe))
        })
        .await?;
    Ok(see_other("/settings/account?flash=email_change_sent"))
}

async fn change_password(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<AccountForm>,
) -> PageResult {
    let req = api::ChangePasswordRequest {
        current_password: form.current_password.clone(),
        new_password: form.new_password.clone(),
    };
    accounts::change_password(&app, signed.actor(), &req)
        .await
        .or_form(&app, &signed.session, async |fe| {
            Ok(account_failed(&form, "password", fe))
        })
        .await?;
    Ok(see_other("/settings/account?flash=password_changed"))
}

/// Deletes the active account (P9) and forgets it in this browser.
async fn delete_account(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<AccountForm>,
) -> PageResult {
    let show = async |fe| Ok(account_failed(&form, "delete", fe));
    if form.confirm.is_none() {
        let e = Error::field(
            "confirm",
            "confirmation_required",
            "tick the box to confirm that the account is to be deleted",
        );
        return Err::<Response, _>(e)
            .or_form(&app, &signed.session, show)
            .await;
    }
    let req = api::DeleteAccountRequest {
        password: form.delete_password.clone(),
    };
    accounts::delete_account(&app, signed.actor(), &req)
        .await
        .map_err(|e| e.renamed_field("password", "delete_password"))
        .or_form(&app, &signed.session, show)
        .await?;
    signed.session.remove(&signed.actor().user_id);
    Ok(if signed.session.active().is_some() {
        see_other("/?flash=account_deleted")
    } else {
        see_other("/sign-in?flash=account_deleted")
    })
}

/// The topics offered: only those something sends. Usage, monitors and
/// comments join when there is something to tell about them; until then
/// their stored switches are kept as they are.
const TOPICS: &[(Topic, &str, &str, &str)] = &[(
    Topic::Security,
    "security",
    "Security",
    "New sign-ins, password and email changes.",
)];

/// The switch of `topic` in one channel's switches.
fn switch(switches: &mut TopicSwitches, topic: Topic) -> &mut bool {
    match topic {
        Topic::Security => &mut switches.security,
        Topic::Usage => &mut switches.usage,
        Topic::Monitors => &mut switches.monitors,
        Topic::Comments => &mut switches.comments,
    }
}

async fn prefs_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    let prefs = profile::notification_prefs(&app, signed.actor()).await?;
    let topics: Vec<_> = TOPICS
        .iter()
        .map(|(t, key, label, hint)| {
            json!({ "key": key, "label": label, "hint": hint, "email": prefs.email.wants(*t), "in_app": prefs.in_app.wants(*t) })
        })
        .collect();
    Ok(settings(
        "settings_notifications.html",
        "notifications",
        "Notifications",
    )
    .with("topics", topics)
    .with("flash", flash(q.flash.as_deref()))
    .render(&app, &signed.session)
    .await)
}

async fn save_prefs(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<std::collections::HashMap<String, String>>,
) -> PageResult {
    let on = |name: String| form.contains_key(&name);
    let mut prefs = profile::notification_prefs(&app, signed.actor()).await?;
    for (topic, key, _, _) in TOPICS {
        *switch(&mut prefs.email, *topic) = on(format!("email_{key}"));
        *switch(&mut prefs.in_app, *topic) = on(format!("in_app_{key}"));
    }
    profile::set_notification_prefs(&app, signed.actor(), &prefs).await?;
    Ok(see_other("/settings/notifications?flash=prefs_saved"))
}

/// Sign-in methods: the password, and the providers linked to the account
/// (A2), each unlinked unless it is the last way in.
async fn unlink(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    match crate::domain::oidc::unlink(&app, signed.actor(), &id).await {
        Ok(()) => Ok(see_other("/settings/security?flash=provider_unlinked")),
        Err(e @ Error::Conflict { .. }) => {
            let text = capitalise(&e.body().error.message);
            Ok(security(&app, &signed)
                .await?
                .with("flash", json!({ "kind": "error", "text": text }))
                .status(StatusCode::CONFLICT)
                .render(&app, &signed.session)
                .await)
        }
        Err(e) => Err(e.into()),
    }
}

async fn sessions_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    let list = sessions::list(&app, signed.actor()).await?;
    Ok(
        settings("settings_sessions.html", "sessions", "Active sessions")
            .with("sessions", list.sessions)
            .with("flash", flash(q.flash.as_deref()))
            .render(&app, &signed.session)
            .await,
    )
}

async fn revoke_session(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    sessions::revoke(&app, signed.actor(), &id).await?;
    Ok(see_other("/settings/sessions?flash=session_revoked"))
}

async fn revoke_others(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    sessions::revoke_others(&app, signed.actor()).await?;
    Ok(see_other("/settings/sessions?flash=sessions_revoked"))
}

#[derive(Deserialize, Serialize, Default)]
struct KeyForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    read_only: Option<String>,
    /// Days until the key expires; empty for never.
    #[serde(default)]
    expires_in_days: Option<String>,
}

async fn keys(app: &App, signed: &SignedIn, form: &KeyForm) -> Result<Page, Error> {
    let list = api_keys::list(app, signed.actor()).await?;
    Ok(settings("settings_api_keys.html", "api-keys", "API keys")
        .with("keys", list.api_keys)
        .with("form", form))
}

async fn keys_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    Ok(keys(&app, &signed, &KeyForm::default())
        .await?
        .with("flash", flash(q.flash.as_deref()))
        .render(&app, &signed.session)
        .await)
}

/// Creates a key and shows it once, on this response only.
async fn create_key(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<KeyForm>,
) -> PageResult {
    let scopes = if form.read_only.is_some() {
        vec![ApiKeyScope::Read]
    } else {
        vec![ApiKeyScope::Read, ApiKeyScope::Write]
    };
    let expires_in_days = match form.expires_in_days.as_deref().map(str::trim) {
        None | Some("") => None,
        // Out of range is the domain's error to give; unreadable is too.
        Some(days) => Some(days.parse().unwrap_or(0)),
    };
    let req = api::CreateApiKeyRequest {
        name: form.name.clone(),
        scopes: Some(scopes),
        expires_in_days,
    };
    let created = api_keys::create(&app, signed.actor(), &req)
        .await
        .or_form(&app, &signed.session, async |fe| {
            Ok(keys(&app, &signed, &form).await?.with_errors(fe))
        })
        .await?;
    Ok(keys(&app, &signed, &KeyForm::default())
        .await?
        .with("created", created)
        .status(StatusCode::CREATED)
        .render(&app, &signed.session)
        .await)
}

async fn revoke_key(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    api_keys::revoke(&app, signed.actor(), &id).await?;
    Ok(see_other("/settings/api-keys?flash=key_revoked"))
}

/// The security page: the account's passkeys (A10), or why this server
/// has none.
/// The sign-in methods page: the password, providers linked and to link
/// (A2), and passkeys (A10).
async fn security(app: &App, signed: &SignedIn) -> Result<Page, Error> {
    let (linked, unlinked) = crate::domain::oidc::identities(app, signed.actor()).await?;
    let user = accounts::current_user(app, &signed.actor().user_id).await?;
    let unavailable = passkeys::unavailable_reason(&app.settings);
    let list = passkeys::list(app, signed.actor()).await?;
    Ok(
        settings("settings_security.html", "security", "Sign-in methods")
            .with("linked", linked)
            .with("unlinked", unlinked)
            .with(
                "has_password",
                crate::domain::passwords::has_password(&user.password_hash),
            )
            .with("passkey_script", unavailable.is_none())
            .with("unavailable", unavailable)
            .with("passkeys", list),
    )
}

async fn security_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    Ok(security(&app, &signed)
        .await?
        .with("flash", flash(q.flash.as_deref()))
        .render(&app, &signed.session)
        .await)
}

#[derive(Deserialize)]
struct NameForm {
    #[serde(default)]
    name: String,
}

async fn rename_passkey(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<NameForm>,
) -> PageResult {
    passkeys::rename(&app, signed.actor(), &id, &form.name)
        .await
        .or_form(&app, &signed.session, async |fe| {
            let message = fe.errors.values().next().cloned().or(fe.error);
            Ok(security(&app, &signed)
                .await?
                .with("error", message.map(|m| capitalise(&m))))
        })
        .await?;
    Ok(see_other("/settings/security?flash=passkey_renamed"))
}

async fn remove_passkey(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> PageResult {
    passkeys::remove(&app, signed.actor(), &id).await?;
    Ok(see_other("/settings/security?flash=passkey_removed"))
}
