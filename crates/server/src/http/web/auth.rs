//! Pages for getting in: sign-up and email confirmation, sign-in (also of a
//! second account), switching and signing out, account recovery, the pages
//! mailed links open, and onboarding.

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use postroom_core::api;
use serde::{Deserialize, Serialize};

use super::pages::enc;
use super::pages::{flash, local_next, local_path, see_other, FormError, OrForm, Page, PageResult};
use super::session::{CsrfForm, SignedIn, WebSession};
use crate::config::CaptchaMode;
use crate::domain::actor::Actor;
use crate::domain::sessions::{self, SignIn};
use crate::domain::two_factor::Factor;
use crate::domain::{accounts, passkeys, profile};
use crate::http::extract::ClientInfo;
use crate::state::App;

pub fn router() -> Router<App> {
    Router::new()
        .route("/sign-up", get(sign_up_page).post(sign_up))
        .route("/check-email", get(check_email))
        .route("/resend-confirmation", post(resend))
        .route("/verify-email", get(verify_page).post(verify))
        .route("/sign-in", get(sign_in_page).post(sign_in))
        .route("/sign-in/two-step", post(second_step))
        .route("/sign-out", post(sign_out))
        .route("/accounts/switch", post(switch))
        .route("/trouble", get(trouble_page))
        .route("/trouble/password", post(trouble_password))
        .route("/trouble/username", post(trouble_username))
        .route("/reset-password", get(reset_page).post(reset))
        .route(
            "/confirm-email",
            get(confirm_email_page).post(confirm_email),
        )
        .route("/welcome", get(welcome_page).post(welcome))
}

fn always_captcha(app: &App) -> bool {
    app.settings.captcha == CaptchaMode::Always
}

#[derive(Deserialize, Serialize, Default)]
struct SignUpForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    username: String,
    #[serde(default, skip_serializing)]
    password: String,
    #[serde(default)]
    accept_terms: Option<String>,
    #[serde(default, skip_serializing)]
    captcha: Option<String>,
    /// Where to go once signed in (an invite link), carried through.
    #[serde(default)]
    next: Option<String>,
}

/// `?next=` for a link, when there is somewhere to come back to.
pub(super) fn next_query(next: Option<&str>, sep: char) -> String {
    match local_path(next).as_str() {
        "/" => String::new(),
        p => format!("{sep}next={}", enc(p)),
    }
}

fn sign_up_form(app: &App, form: &SignUpForm, fe: FormError) -> Page {
    let settings = &app.settings;
    Page::new("sign_up.html", "Sign up")
        .with("narrow", true)
        .with("terms_url", settings.terms_url.as_ref().map(|u| u.as_str()))
        .with(
            "privacy_url",
            settings.privacy_url.as_ref().map(|u| u.as_str()),
        )
        .with("form", form)
        .with("providers", super::oidc::providers(app))
        .with_errors(fe)
}

async fn sign_up_page(
    State(app): State<App>,
    session: WebSession,
    Query(q): Query<NextQuery>,
) -> Response {
    let fe = FormError {
        captcha: always_captcha(&app),
        ..Default::default()
    };
    let captcha = fe.captcha;
    let next = local_next(q.next.as_deref());
    let form = SignUpForm {
        email: invited_email(&app, next.as_deref())
            .await
            .unwrap_or_default(),
        next,
        ..Default::default()
    };
    sign_up_form(&app, &form, fe)
        .with("captcha", captcha)
        .render(&app, &session)
        .await
}

async fn sign_up(
    State(app): State<App>,
    session: WebSession,
    ClientInfo(client): ClientInfo,
    CsrfForm(mut form): CsrfForm<SignUpForm>,
) -> PageResult {
    form.next = local_next(form.next.as_deref());
    let req = api::SignUpRequest {
        email: form.email.clone(),
        username: form.username.clone(),
        password: form.password.clone(),
        accept_terms: form.accept_terms.is_some(),
        captcha: form.captcha.clone(),
    };
    let user = accounts::sign_up_then(&app, &req, &client, form.next.as_deref())
        .await
        .or_form(&app, &session, async |fe| {
            let captcha = fe.captcha || always_captcha(&app);
            Ok(sign_up_form(&app, &form, fe).with("captcha", captcha))
        })
        .await?;
    Ok(see_other(&format!(
        "/check-email?email={}{}",
        enc(&user.email),
        next_query(form.next.as_deref(), '&')
    )))
}

/// The address an invite was sent to, when `next` is the page of an email
/// invite (`/invite?token=...`): the sign-up and sign-in forms fill it in.
async fn invited_email(app: &App, next: Option<&str>) -> Option<String> {
    let query = next?.strip_prefix("/invite?")?;
    let (_, token) = url::form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "token")?;
    crate::domain::teams::preview_invite(app, &token)
        .await
        .ok()?
        .email
}

#[derive(Deserialize)]
struct EmailQuery {
    #[serde(default)]
    email: String,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn check_email(
    State(app): State<App>,
    session: WebSession,
    Query(q): Query<EmailQuery>,
) -> Response {
    Page::new("check_email.html", "Check your email")
        .with("narrow", true)
        .with("email", &q.email)
        .with("next", local_next(q.next.as_deref()))
        .with("next_query", next_query(q.next.as_deref(), '?'))
        .with("captcha", always_captcha(&app))
        .render(&app, &session)
        .await
}

#[derive(Deserialize)]
struct EmailForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    captcha: Option<String>,
    /// "Check your email" carries where to go on to into the mail again.
    #[serde(default)]
    next: Option<String>,
}

async fn resend(
    State(app): State<App>,
    session: WebSession,
    ClientInfo(client): ClientInfo,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> PageResult {
    let req = api::EmailRequest {
        email: form.email.clone(),
        captcha: form.captcha,
    };
    let next = local_next(form.next.as_deref());
    let page = || {
        Page::new("check_email.html", "Check your email")
            .with("narrow", true)
            .with("email", &form.email)
            .with("next", &next)
            .with("next_query", next_query(next.as_deref(), '?'))
    };
    accounts::resend_verification_then(&app, &req, &client, next.clone())
        .await
        .or_form(&app, &session, async |fe| {
            Ok(page()
                .with("captcha", fe.captcha || always_captcha(&app))
                .with(
                    "flash",
                    serde_json::json!({ "kind": "error", "text": fe.error }),
                ))
        })
        .await?;
    Ok(page()
        .with(
            "flash",
            serde_json::json!({ "kind": "ok", "text": "We sent the link again." }),
        )
        .with("captcha", always_captcha(&app))
        .render(&app, &session)
        .await)
}

#[derive(Deserialize, Default)]
struct TokenForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
    /// Where to go on to (the invite a person signed up from), carried
    /// from the confirmation link through its form.
    #[serde(default)]
    next: Option<String>,
}

fn token_page(heading: &str, text: &str, action: &str, button: &str, token: &str) -> Page {
    Page::new("token_form.html", heading.to_owned())
        .with("narrow", true)
        .with("heading", heading)
        .with("text", text)
        .with("action", action)
        .with("button", button)
        .with("token", token)
}

fn message(title: &str, kind: &str, paragraphs: &[&str], action: Option<(&str, &str)>) -> Page {
    Page::new("message.html", title.to_owned())
        .with("narrow", true)
        .with("heading", title)
        .with("kind", kind)
        .with("paragraphs", paragraphs)
        .with(
            "action",
            action.map(|(href, label)| serde_json::json!({ "href": href, "label": label })),
        )
}

async fn verify_page(
    State(app): State<App>,
    session: WebSession,
    Query(q): Query<TokenForm>,
) -> Response {
    token_page(
        "Confirm your email",
        "Confirm the email address of your Postroom account.",
        "/verify-email",
        "Confirm my email",
        &q.token,
    )
    .with("next", local_next(q.next.as_deref()))
    .render(&app, &session)
    .await
}

async fn verify(
    State(app): State<App>,
    session: WebSession,
    ClientInfo(client): ClientInfo,
    CsrfForm(form): CsrfForm<TokenForm>,
) -> PageResult {
    let user = accounts::verify_email(&app, &form.token, &client)
        .await
        .or_form(&app, &session, async |fe| Ok(link_failed(fe)))
        .await?;
    let next = local_next(form.next.as_deref());
    let (href, label) = match (session.active().is_some(), next) {
        (true, Some(next)) => (next, "Continue"),
        (true, None) => ("/".to_owned(), "Go to Postroom"),
        (false, next) => (
            format!("/sign-in{}", next_query(next.as_deref(), '?')),
            "Sign in",
        ),
    };
    Ok(message(
        "Email confirmed",
        "ok",
        &[&format!(
            "Thanks, {}: your email address is confirmed.",
            user.username
        )],
        Some((href.as_str(), label)),
    )
    .render(&app, &session)
    .await)
}

/// What a mailed link that did not work shows.
fn link_failed(fe: FormError) -> Page {
    message(
        "That link did not work",
        "error",
        &[fe.error.as_deref().unwrap_or_default()],
        Some(("/", "Go to the home page")),
    )
}

#[derive(Deserialize, Serialize, Default)]
struct SignInForm {
    #[serde(default)]
    login: String,
    #[serde(default, skip_serializing)]
    password: String,
    #[serde(default)]
    keep_signed_in: Option<String>,
    #[serde(default)]
    next: Option<String>,
    #[serde(default, skip_serializing)]
    captcha: Option<String>,
}

#[derive(Deserialize)]
struct SignInQuery {
    next: Option<String>,
    add: Option<String>,
    flash: Option<String>,
}

fn sign_in_form(app: &App, form: &SignInForm, adding: bool, fe: FormError) -> Page {
    // The passkey button and the browser's autofill of passkeys, when this
    // server can have passkeys (a domain name, a secure page).
    let passkeys = passkeys::unavailable_reason(&app.settings).is_none();
    Page::new(
        "sign_in.html",
        if adding { "Add an account" } else { "Sign in" },
    )
    .with("narrow", true)
    .with("adding", adding)
    .with("next", local_path(form.next.as_deref()))
    .with("form", form)
    .with("providers", super::oidc::providers(app))
    .with("passkeys", passkeys)
    .with("passkey_script", passkeys)
    .with_errors(fe)
}

async fn sign_in_page(
    State(app): State<App>,
    session: WebSession,
    Query(q): Query<SignInQuery>,
) -> Response {
    let adding = q.add.is_some();
    if session.active().is_some() && !adding {
        return see_other(&local_path(q.next.as_deref()));
    }
    let form = SignInForm {
        login: invited_email(&app, local_next(q.next.as_deref()).as_deref())
            .await
            .unwrap_or_default(),
        next: q.next,
        ..Default::default()
    };
    sign_in_form(&app, &form, adding, FormError::default())
        .with("captcha", always_captcha(&app))
        .with("flash", flash(q.flash.as_deref()))
        .render(&app, &session)
        .await
}

async fn sign_in(
    State(app): State<App>,
    session: WebSession,
    ClientInfo(client): ClientInfo,
    CsrfForm(form): CsrfForm<SignInForm>,
) -> PageResult {
    let keep = form.keep_signed_in.is_some();
    // An address at a domain whose team requires single sign-on (A7) goes
    // on to the team's provider, password or not: by a link, since a
    // browser holds a form's redirect to another site to `form-action`.
    if form.login.contains('@') {
        if let Some(team) = crate::domain::teams::sso::enforced_for(&app, form.login.trim()).await?
        {
            let mut path = format!(
                "/auth/sso/{}?login_hint={}",
                team.slug,
                enc(form.login.trim())
            );
            if let Some(next) = local_next(form.next.as_deref()) {
                path.push_str(&format!("&next={}", enc(&next)));
            }
            if keep {
                path.push_str("&keep=1");
            }
            let text = format!(
                "{} signs in the people of its domain through its own sign-in page, not with a password here.",
                team.name
            );
            let label = format!("Continue to {}'s sign-in", team.name);
            return Ok(message(
                "Sign in with your organisation",
                "info",
                &[&text],
                Some((&path, &label)),
            )
            .render(&app, &session)
            .await);
        }
    }
    let req = SignIn {
        login: &form.login,
        password: &form.password,
        keep_signed_in: keep,
        captcha: form.captcha.as_deref(),
        otp: None,
        recovery_code: None,
    };
    let outcome = sessions::sign_in_web(&app, req, &client)
        .await
        .or_form(&app, &session, async |mut fe| {
            // A solved captcha means the limit is near: the next try needs
            // one too, unless the limit was reached.
            let solved = form.captcha.as_deref().is_some_and(|c| !c.is_empty());
            let captcha = !fe.limited && (fe.captcha || solved || always_captcha(&app));
            if fe.captcha {
                // The password is never sent back; the login is kept.
                fe.errors
                    .insert("password".into(), "Type your password again.".into());
            }
            let adding = session.active().is_some();
            Ok(sign_in_form(&app, &form, adding, fe).with("captcha", captcha))
        })
        .await?;
    Ok(signed_in_or_second_step(&app, &session, outcome, form.next.as_deref()).await)
}

/// Where a web sign-in goes once its first factor was right, whatever it
/// was (a password, an identity provider): the account joins the browser's
/// session and the person goes on (by way of onboarding the first time),
/// or the page asks for the second step.
pub(super) async fn signed_in_or_second_step(
    app: &App,
    session: &WebSession,
    outcome: sessions::WebSignIn,
    next: Option<&str>,
) -> Response {
    match outcome {
        sessions::WebSignIn::Started(signed) => signed_in(app, session, *signed, next).await,
        sessions::WebSignIn::SecondStep { challenge } => {
            second_step_form(&challenge, next, FormError::default())
                .render(app, session)
                .await
        }
    }
}

/// Adds a new session to the browser's accounts, as the active one, and
/// says where the person goes on: onboarding the first time, else `next`.
/// Every web sign-in ends here (a password, a second step, a provider, a
/// passkey).
pub(super) async fn add_signed_in(
    app: &App,
    session: &WebSession,
    signed: api::SignInResponse,
    next: Option<&str>,
) -> String {
    let keep = signed.session.keep_signed_in;
    let actor = Actor {
        user_id: signed.user.id.clone(),
        session_id: Some(signed.session.id.clone()),
        can_write: true,
    };
    session.add(signed.token, keep, actor.clone());
    match profile::needs_onboarding(app, &actor).await {
        Ok(true) => format!("/welcome{}", next_query(next, '?')),
        _ => local_path(next),
    }
}

/// Adds a new session to the browser's and goes on.
async fn signed_in(
    app: &App,
    session: &WebSession,
    signed: api::SignInResponse,
    next: Option<&str>,
) -> Response {
    see_other(&add_signed_in(app, session, signed, next).await)
}

fn second_step_form(challenge: &str, next: Option<&str>, fe: FormError) -> Page {
    Page::new("two_step.html", "Two-step verification")
        .with("narrow", true)
        .with("challenge", challenge)
        .with("next", local_path(next))
        .with_errors(fe)
}

#[derive(Deserialize)]
struct SecondStepForm {
    #[serde(default)]
    challenge: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: Option<String>,
}

/// The second step of a web sign-in: a code from the app, or a recovery
/// code, in one field (six digits are a code).
async fn second_step(
    State(app): State<App>,
    session: WebSession,
    ClientInfo(client): ClientInfo,
    CsrfForm(form): CsrfForm<SecondStepForm>,
) -> PageResult {
    let typed = form.code.trim();
    let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    let factor = if digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()) {
        Factor::Otp(&digits)
    } else {
        Factor::RecoveryCode(typed)
    };
    let result = sessions::answer_challenge(&app, &form.challenge, factor, &client).await;
    if let Err(e) = &result {
        if e.code() == "sign_in_expired" {
            return Ok(see_other(&format!(
                "/sign-in?flash=sign_in_expired{}",
                next_query(form.next.as_deref(), '&')
            )));
        }
    }
    let signed = result
        .or_form(&app, &session, async |mut fe| {
            if fe.error.is_some() && fe.errors.is_empty() && !fe.limited {
                fe.errors.insert(
                    "code".into(),
                    "That code is not right, or was used already. Try the code your app shows now."
                        .into(),
                );
                fe.error = None;
            }
            Ok(second_step_form(&form.challenge, form.next.as_deref(), fe))
        })
        .await?;
    Ok(signed_in(&app, &session, signed, form.next.as_deref()).await)
}

#[derive(Deserialize)]
struct Nothing {}

/// Signs out of the active account; the browser's other accounts stay.
async fn sign_out(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    let _ = sessions::sign_out(&app, signed.actor()).await;
    signed.session.remove(&signed.actor().user_id);
    if signed.session.active().is_some() {
        see_other("/?flash=signed_out")
    } else {
        see_other("/sign-in")
    }
}

#[derive(Deserialize)]
struct SwitchForm {
    user_id: String,
}

async fn switch(session: WebSession, CsrfForm(form): CsrfForm<SwitchForm>) -> Response {
    if session.switch(&form.user_id) {
        see_other("/?flash=switched")
    } else {
        see_other("/sign-in?add=1")
    }
}

#[derive(Serialize, Default)]
struct TroubleFormView {
    email: String,
}

fn trouble(which: &str, email: &str, fe: FormError, captcha: bool) -> Page {
    Page::new("trouble.html", "Trouble signing in")
        .with("narrow", true)
        .with("which", which)
        .with(
            "form",
            TroubleFormView {
                email: email.to_owned(),
            },
        )
        .with_errors(fe)
        .with("captcha", captcha)
}

async fn trouble_page(State(app): State<App>, session: WebSession) -> Response {
    let which = if always_captcha(&app) { "password" } else { "" };
    trouble(which, "", FormError::default(), always_captcha(&app))
        .render(&app, &session)
        .await
}

async fn trouble_password(
    State(app): State<App>,
    session: WebSession,
    ClientInfo(client): ClientInfo,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> PageResult {
    let req = api::EmailRequest {
        email: form.email.clone(),
        captcha: form.captcha,
    };
    let done = format!(
        "If an account uses {}, we sent it a link to choose a new password. The link works for an hour.",
        form.email
    );
    let outcome = accounts::request_password_reset(&app, &req, &client).await;
    trouble_answer(&app, &session, "password", &form.email, &done, outcome).await
}

async fn trouble_username(
    State(app): State<App>,
    session: WebSession,
    ClientInfo(client): ClientInfo,
    CsrfForm(form): CsrfForm<EmailForm>,
) -> PageResult {
    let req = api::EmailRequest {
        email: form.email.clone(),
        captcha: form.captcha,
    };
    let done = format!(
        "If an account uses {}, we mailed it its username.",
        form.email
    );
    let outcome = accounts::username_reminder(&app, &req, &client).await;
    trouble_answer(&app, &session, "username", &form.email, &done, outcome).await
}

/// "Check your email" after a recovery request, or its form again with the error.
async fn trouble_answer(
    app: &App,
    session: &WebSession,
    which: &str,
    email: &str,
    done: &str,
    outcome: crate::error::Result<api::Accepted>,
) -> PageResult {
    outcome
        .or_form(app, session, async |fe| {
            let captcha = fe.captcha || always_captcha(app);
            Ok(trouble(which, email, fe, captcha))
        })
        .await?;
    Ok(message(
        "Check your email",
        "ok",
        &[done],
        Some(("/sign-in", "Back to sign in")),
    )
    .render(app, session)
    .await)
}

fn reset_form(token: &str, fe: FormError) -> Page {
    token_page(
        "Choose a new password",
        "Choose the new password for your account. Every session will be signed out.",
        "/reset-password",
        "Set new password",
        token,
    )
    .with("password", true)
    .with_errors(fe)
}

async fn reset_page(
    State(app): State<App>,
    session: WebSession,
    Query(q): Query<TokenForm>,
) -> Response {
    reset_form(&q.token, FormError::default())
        .render(&app, &session)
        .await
}

async fn reset(
    State(app): State<App>,
    session: WebSession,
    ClientInfo(client): ClientInfo,
    CsrfForm(form): CsrfForm<TokenForm>,
) -> PageResult {
    let req = api::ResetConfirmRequest {
        token: form.token.clone(),
        new_password: form.new_password.clone(),
    };
    // A new password the rules refuse is the form's to show; any other
    // error is the link's.
    match accounts::confirm_password_reset(&app, &req, &client).await {
        r @ Err(crate::error::Error::Invalid { .. }) => {
            r.or_form(&app, &session, async |fe| Ok(reset_form(&form.token, fe)))
                .await?
        }
        r => {
            r.or_form(&app, &session, async |fe| Ok(link_failed(fe)))
                .await?
        }
    }
    Ok(message(
        "Password changed",
        "ok",
        &["Your password was changed and every session was signed out. Sign in with the new password."],
        Some(("/sign-in", "Sign in")),
    )
    .render(&app, &session)
    .await)
}

async fn confirm_email_page(
    State(app): State<App>,
    session: WebSession,
    Query(q): Query<TokenForm>,
) -> Response {
    token_page(
        "Confirm your new email",
        "Use this address for your Postroom account from now on.",
        "/confirm-email",
        "Confirm the new address",
        &q.token,
    )
    .render(&app, &session)
    .await
}

async fn confirm_email(
    State(app): State<App>,
    session: WebSession,
    ClientInfo(client): ClientInfo,
    CsrfForm(form): CsrfForm<TokenForm>,
) -> PageResult {
    let user = accounts::confirm_email_change(&app, &form.token, &client)
        .await
        .or_form(&app, &session, async |fe| Ok(link_failed(fe)))
        .await?;
    Ok(message(
        "Email changed",
        "ok",
        &[&format!("Your account now uses {}.", user.email)],
        Some(("/", "Go to Postroom")),
    )
    .render(&app, &session)
    .await)
}

const USAGES: &[&str] = &[
    "Building and testing APIs",
    "Exploring and using other people's APIs",
    "API documentation",
    "Automated tests and monitoring",
    "Learning",
    "Something else",
];

#[derive(Deserialize, Serialize, Default)]
struct WelcomeForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    usage: String,
    #[serde(default, skip_serializing)]
    action: String,
    /// Where to go afterwards (an invite link), carried through.
    #[serde(default)]
    next: Option<String>,
}

/// Onboarding's page (A3), with its team step: the teams discovery lists
/// to me. A list that cannot be read is an error page, not an empty step.
async fn welcome_form(app: &App, signed: &SignedIn) -> Result<Page, crate::error::Error> {
    let discoverable = crate::domain::teams::discoverable(app, signed.actor()).await?;
    Ok(Page::new("welcome.html", "Welcome")
        .with("usages", USAGES)
        .with("discoverable", discoverable.teams))
}

async fn welcome_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<NextQuery>,
) -> PageResult {
    let form = WelcomeForm {
        next: local_next(q.next.as_deref()),
        ..Default::default()
    };
    let page = welcome_form(&app, &signed).await?;
    Ok(page.with("form", form).render(&app, &signed.session).await)
}

async fn welcome(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(mut form): CsrfForm<WelcomeForm>,
) -> PageResult {
    form.next = local_next(form.next.as_deref());
    let answers =
        (form.action != "skip").then_some((form.display_name.as_str(), form.usage.as_str()));
    profile::complete_onboarding(&app, signed.actor(), answers)
        .await
        .or_form(&app, &signed.session, async |fe| {
            Ok(welcome_form(&app, &signed)
                .await?
                .with("form", &form)
                .with_errors(fe))
        })
        .await?;
    Ok(see_other(&local_path(form.next.as_deref())))
}
