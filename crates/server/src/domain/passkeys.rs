//! Passkeys (A10): WebAuthn credentials that sign a person in on their own,
//! without a username or a password. A passkey is discoverable (a resident
//! key: the authenticator offers it for this site) and always verifies its
//! user (a PIN, a fingerprint), so it is two factors in one and a sign-in
//! with it needs no second step.
//!
//! Each use is a ceremony of two requests: the server sends a challenge,
//! the browser's authenticator answers it. The verifier's state between
//! the two is kept in the database (`passkey_ceremonies`) under a random id
//! the browser holds (stored hashed), never trusted from the browser; it
//! lasts [`CEREMONY_TTL`] and serves once, whatever the outcome. A
//! registration is bound to the account and the session that began it, and
//! begins only once the account's password was typed again.
//!
//! WebAuthn names the site by a domain (the relying party id, the host of
//! `public_url`), and browsers offer passkeys only to secure pages. A
//! server whose public URL is an IP address, or plain http on a name other
//! than `localhost`, has no passkeys: [`unavailable_reason`] says why.

use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use postroom_core::AccountEvent;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid, Webauthn, WebauthnBuilder,
};

use super::accounts::{self, load_user};
use super::actor::{Actor, Client};
use super::limits::{self, Check};
use super::notify;
use super::sessions::{self, NewSession};
use super::{tokens, views};
use crate::clock::{date_in_words, rfc3339, Millis, MINUTE};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::state::App;
use crate::store::{self, passkeys::CeremonyRow, Conn};

/// How long a ceremony may take, from its first request to its second.
pub const CEREMONY_TTL: Millis = 5 * MINUTE;
/// At most this many passkeys per account.
pub const MAX_PASSKEYS: i64 = 20;
/// The longest name of a passkey, in characters.
pub const MAX_NAME: usize = 64;

pub const KIND_REGISTER: &str = "register";
pub const KIND_SIGN_IN: &str = "sign_in";

/// A passkey as its owner's settings page lists it.
#[derive(Debug, Clone, Serialize)]
pub struct PasskeyView {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

fn view(row: &store::passkeys::PasskeyRow) -> PasskeyView {
    PasskeyView {
        id: row.id.clone(),
        name: row.name.clone(),
        created_at: rfc3339(row.created_at),
        last_used_at: row.last_used_at.map(rfc3339),
    }
}

/// A ceremony begun: its id, which the browser sends back with its answer,
/// and the options to hand to `navigator.credentials` (as WebAuthn's JSON,
/// binary values in unpadded base64url).
#[derive(Debug, Clone, Serialize)]
pub struct Begun {
    pub ceremony: String,
    pub options: Value,
}

/// The answer to a sign-in ceremony, as the browser sends it.
#[derive(Debug, Deserialize)]
pub struct SignInAnswer {
    pub ceremony: String,
    pub credential: Value,
    #[serde(default)]
    pub keep_signed_in: bool,
}

/// How many passkeys an account has: one of its ways to sign in.
pub async fn count(c: &mut Conn, user_id: &str) -> Result<i64> {
    Ok(store::passkeys::count(c, user_id).await?)
}

/// Why this server offers no passkeys, when it does not.
pub fn unavailable_reason(settings: &Settings) -> Option<String> {
    relying_party(settings).err()
}

/// The WebAuthn verifier for this server's public URL, or why there is none.
fn relying_party(settings: &Settings) -> std::result::Result<Webauthn, String> {
    let url = &settings.public_url;
    let shown = url.as_str().trim_end_matches('/');
    let Some(host) = url.domain() else {
        return Err(format!(
            "Passkeys need this server to be reached by a domain name, and its public URL \
             ({shown}) names an IP address, which browsers do not accept for passkeys. The \
             operator can set public_url (POSTROOM_PUBLIC_URL) to an address with a name, such \
             as https://postroom.example.com, or http://localhost:<port> on this computer."
        ));
    };
    let local = host == "localhost" || host.ends_with(".localhost");
    if url.scheme() != "https" && !local {
        return Err(format!(
            "Passkeys need HTTPS: browsers offer them only to secure pages, and this server's \
             public URL ({shown}) is plain http. The operator can serve it over HTTPS (built in, \
             or behind a proxy) with an https:// public_url."
        ));
    }
    let origin = Url::parse(&url.origin().ascii_serialization())
        .map_err(|e| format!("Passkeys are unavailable: the public URL has no origin ({e})."))?;
    WebauthnBuilder::new(host, &origin)
        .map(|b| {
            b.rp_name("Postroom")
                .timeout(Duration::from_millis(CEREMONY_TTL as u64))
        })
        .and_then(|b| b.build())
        .map_err(|e| format!("Passkeys are unavailable for the public URL {shown}: {e}."))
}

fn available(app: &App) -> Result<Webauthn> {
    relying_party(&app.settings)
        .map_err(|reason| Error::conflict("passkeys_unavailable", None, reason))
}

fn ceremony_unknown() -> Error {
    Error::bad_request(
        "ceremony_unknown",
        "this passkey request is not known here: it was already used, or was not made for \
         this session; start again",
    )
}

fn ceremony_expired() -> Error {
    Error::bad_request(
        "ceremony_expired",
        "this passkey request expired (they last 5 minutes); start again",
    )
}

fn invalid_credential(e: serde_json::Error) -> Error {
    Error::bad_request(
        "invalid_credential",
        format!("`credential` is not a WebAuthn credential as JSON: {e}"),
    )
}

fn passkey_not_accepted() -> Error {
    Error::unauthenticated(
        "passkey_not_accepted",
        "this passkey is not registered on this server, or its answer could not be verified",
    )
}

fn session_required() -> Error {
    Error::session_required("passkeys are managed")
}

/// The base64url (unpadded) form of a credential id, as stored.
fn credential_key(id: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(id)
}

/// What a ceremony must be for the request that ends it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected<'a> {
    pub kind: &'a str,
    pub user_id: Option<&'a str>,
    pub session_id: Option<&'a str>,
}

/// Checks a ceremony taken from the store against what the request ending
/// it expects: one of another kind, account or session is "unknown" (as
/// one never made), one past its time "expired".
pub(crate) fn check_ceremony(
    row: Option<CeremonyRow>,
    expected: Expected<'_>,
    now: Millis,
) -> Result<String> {
    let row = row.ok_or_else(ceremony_unknown)?;
    if row.kind != expected.kind
        || row.user_id.as_deref() != expected.user_id
        || row.session_id.as_deref() != expected.session_id
    {
        return Err(ceremony_unknown());
    }
    if row.expires_at <= now {
        return Err(ceremony_expired());
    }
    Ok(row.state)
}

/// Stores a ceremony's state and answers its new id.
async fn store_ceremony(
    app: &App,
    kind: &str,
    actor: Option<(&str, &str)>,
    state: &impl Serialize,
) -> Result<String> {
    let id = tokens::random_token(32);
    let state = serde_json::to_string(state).context("serialising a passkey ceremony")?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    store::passkeys::insert_ceremony(
        &mut tx,
        &store::passkeys::NewCeremony {
            id_hash: &tokens::hash(&id),
            kind,
            user_id: actor.map(|(user, _)| user),
            session_id: actor.map(|(_, session)| session),
            state: &state,
            expires_at: now + CEREMONY_TTL,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// Takes the ceremony `id` (spending it, whatever it turns out to be) and
/// answers its state once it is what `expected` says.
async fn take_ceremony(app: &App, id: &str, expected: Expected<'_>) -> Result<String> {
    if !tokens::well_formed(id, "") {
        return Err(ceremony_unknown());
    }
    let mut tx = app.store.begin().await?;
    let row = store::passkeys::take_ceremony(&mut tx, &tokens::hash(id)).await?;
    tx.commit().await?;
    check_ceremony(row, expected, app.clock.now())
}

/// A passkey's name as given, or one made from the browser and the date
/// when none is.
fn passkey_name(name: &str, client: &Client, now: Millis) -> Result<String> {
    let name = name.trim();
    if name.is_empty() {
        let device = views::device_label(client.user_agent.as_deref());
        let date = date_in_words(&rfc3339(now), false);
        return Ok(if device == "Unknown device" {
            format!("Passkey, {date}")
        } else {
            format!("{device}, {date}")
        });
    }
    if name.chars().count() > MAX_NAME {
        return Err(Error::field(
            "name",
            "validation_failed",
            format!("a passkey's name is at most {MAX_NAME} characters"),
        ));
    }
    postroom_core::values::check_display_text(name)
        .map_err(|e| Error::field("name", "validation_failed", e.0))?;
    Ok(name.to_owned())
}

/// The actor's passkeys, oldest first.
pub async fn list(app: &App, actor: &Actor) -> Result<Vec<PasskeyView>> {
    let rows = store::passkeys::list(&mut *app.store.conn().await?, &actor.user_id).await?;
    Ok(rows.iter().map(view).collect())
}

/// Begins adding a passkey to the actor's account, once `password` proved
/// to be its password (attempts count against the per-account limit).
/// The authenticator is asked for a discoverable credential that verifies
/// its user, and not for one it already holds for this account.
pub async fn begin_registration(app: &App, actor: &Actor, password: &str) -> Result<Begun> {
    let rp = available(app)?;
    let session_id = actor.session_id.as_deref().ok_or_else(session_required)?;
    let user = accounts::confirmed_by_password(app, actor, "password", password).await?;
    let existing = store::passkeys::list(&mut *app.store.conn().await?, &user.id).await?;
    if existing.len() as i64 >= MAX_PASSKEYS {
        return Err(too_many());
    }
    let exclude = existing
        .iter()
        .filter_map(|row| serde_json::from_str::<Passkey>(&row.credential).ok())
        .map(|p| p.cred_id().clone())
        .collect();
    let handle = Uuid::parse_str(&user.id).context("an account id is a UUID")?;
    let display = user
        .display_name
        .as_deref()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or(&user.username);
    let (challenge, state) = rp
        .start_passkey_registration(handle, &user.username, display, Some(exclude))
        .context("starting a passkey registration")?;
    let mut options = serde_json::to_value(&challenge).context("serialising passkey options")?;
    // Discoverable credentials, so that signing in needs no username: the
    // verifier does not ask for them by itself, and does not check what the
    // authenticator made (a passkey that is not discoverable still signs in
    // when the browser is given its id; ours are always asked for).
    let selection = &mut options["publicKey"]["authenticatorSelection"];
    selection["residentKey"] = "required".into();
    selection["requireResidentKey"] = true.into();
    let ceremony = store_ceremony(app, KIND_REGISTER, Some((&user.id, session_id)), &state).await?;
    Ok(Begun { ceremony, options })
}

fn too_many() -> Error {
    Error::conflict(
        "too_many_passkeys",
        None,
        format!("an account can have at most {MAX_PASSKEYS} passkeys; remove one first"),
    )
}

/// Ends adding a passkey: the authenticator's answer to the ceremony the
/// same session began. `name` may be empty (one is made up).
pub async fn finish_registration(
    app: &App,
    actor: &Actor,
    ceremony: &str,
    name: &str,
    credential: &Value,
    client: &Client,
) -> Result<PasskeyView> {
    let rp = available(app)?;
    let session_id = actor.session_id.as_deref().ok_or_else(session_required)?;
    let now = app.clock.now();
    let name = passkey_name(name, client, now)?;
    let answer: RegisterPublicKeyCredential =
        serde_json::from_value(credential.clone()).map_err(invalid_credential)?;
    let state = take_ceremony(
        app,
        ceremony,
        Expected {
            kind: KIND_REGISTER,
            user_id: Some(&actor.user_id),
            session_id: Some(session_id),
        },
    )
    .await?;
    let state: PasskeyRegistration =
        serde_json::from_str(&state).context("reading a stored passkey registration")?;
    let passkey = rp
        .finish_passkey_registration(&answer, &state)
        .map_err(|e| {
            Error::bad_request(
                "passkey_refused",
                format!("the passkey's answer could not be verified: {e}"),
            )
        })?;
    let record = serde_json::to_string(&passkey).context("serialising a passkey")?;
    let id = store::new_id();
    let mut tx = app.store.begin().await?;
    if store::passkeys::count(&mut tx, &actor.user_id).await? >= MAX_PASSKEYS {
        return Err(too_many());
    }
    let row = store::passkeys::insert(
        &mut tx,
        &store::passkeys::NewPasskey {
            id: &id,
            user_id: &actor.user_id,
            credential_id: &credential_key(passkey.cred_id().as_ref()),
            name: &name,
            credential: &record,
            sign_count: 0,
        },
        now,
    )
    .await
    .map_err(|e| {
        if store::is_unique_violation(&e, "passkeys_credential_id") {
            Error::conflict(
                "passkey_exists",
                None,
                "this passkey is already registered on this server",
            )
        } else {
            e.into()
        }
    })?;
    // The owner hears of it: a passkey signs in on its own.
    let user = load_user(&mut tx, &actor.user_id).await?;
    notify::send(
        app,
        &mut tx,
        &user,
        AccountEvent::PasskeyAdded {
            name: row.name.clone(),
        },
        None,
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("postroom_passkeys_registered_total").increment(1);
    Ok(view(&row))
}

/// Begins a sign-in with a passkey: a challenge any of this site's
/// passkeys may answer (the browser offers them, in its autofill or in its
/// own prompt), bound to no account yet.
pub async fn begin_sign_in(app: &App, client: &Client) -> Result<Begun> {
    let rp = available(app)?;
    limits::limit(
        app,
        &[Check::new(limits::PASSKEY_CHALLENGE_PER_IP, &client.ip)],
    )
    .await?;
    let (challenge, state) = rp
        .start_discoverable_authentication()
        .context("starting a passkey sign-in")?;
    let options = serde_json::to_value(&challenge).context("serialising passkey options")?;
    let ceremony = store_ceremony(app, KIND_SIGN_IN, None, &state).await?;
    Ok(Begun { ceremony, options })
}

/// Ends a sign-in with a passkey: a full sign-in, beginning a session
/// through [`sessions::start`] like a password (which refuses a disabled
/// account). The passkey's counter and last use are recorded in the same
/// transaction. Counted against the sign-in limits of the address and,
/// once the passkey names it, of the account.
pub async fn finish_sign_in(
    app: &App,
    answer: &SignInAnswer,
    client: &Client,
) -> Result<postroom_core::api::SignInResponse> {
    let rp = available(app)?;
    limits::limit(app, &[Check::new(limits::SIGN_IN_PER_IP, &client.ip)]).await?;
    let credential: PublicKeyCredential =
        serde_json::from_value(answer.credential.clone()).map_err(invalid_credential)?;
    let state = take_ceremony(
        app,
        &answer.ceremony,
        Expected {
            kind: KIND_SIGN_IN,
            user_id: None,
            session_id: None,
        },
    )
    .await?;
    let state: DiscoverableAuthentication =
        serde_json::from_str(&state).context("reading a stored passkey sign-in")?;
    let failed = || {
        metrics::counter!("postroom_sign_ins_total", "result" => "failed", "method" => "passkey")
            .increment(1);
        passkey_not_accepted()
    };
    let (handle, credential_id) = rp
        .identify_discoverable_authentication(&credential)
        .map_err(|_| failed())?;
    let row = store::passkeys::by_credential_id(
        &mut *app.store.conn().await?,
        &credential_key(credential_id),
    )
    .await?
    .filter(|row| Uuid::parse_str(&row.user_id).is_ok_and(|id| id == handle))
    .ok_or_else(failed)?;
    limits::limit(
        app,
        &[Check::new(limits::SIGN_IN_PER_ACCOUNT, &row.user_id)],
    )
    .await?;
    let mut passkey: Passkey =
        serde_json::from_str(&row.credential).context("reading a stored passkey")?;
    let result = rp
        .finish_discoverable_authentication_v2(&credential, state, &passkey)
        .map_err(|e| {
            tracing::debug!(error = %e, "a passkey's answer was refused");
            failed()
        })?;
    if !result.user_verified() {
        return Err(failed());
    }
    passkey.update_credential(&result);
    let record = serde_json::to_string(&passkey).context("serialising a passkey")?;
    let user = load_user(&mut *app.store.conn().await?, &row.user_id).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    store::passkeys::record_use(&mut tx, &row.id, &record, i64::from(result.counter()), now)
        .await?;
    let started = sessions::start(
        app,
        &mut tx,
        &user,
        &NewSession {
            keep_signed_in: answer.keep_signed_in,
            client,
            label: None,
        },
    )
    .await?;
    tx.commit().await?;
    metrics::counter!("postroom_sign_ins_total", "result" => "ok", "method" => "passkey")
        .increment(1);
    Ok(started.answer(app, &user))
}

/// Renames one of the actor's passkeys; someone else's is "not found".
pub async fn rename(app: &App, actor: &Actor, id: &str, name: &str) -> Result<()> {
    actor.session_id.as_deref().ok_or_else(session_required)?;
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::field(
            "name",
            "validation_failed",
            "give the passkey a name",
        ));
    }
    let name = passkey_name(name, &Client::default(), app.clock.now())?;
    let mut tx = app.store.begin().await?;
    if !store::passkeys::rename(&mut tx, &actor.user_id, id, &name).await? {
        return Err(Error::NotFound { what: "passkey" });
    }
    tx.commit().await?;
    Ok(())
}

/// Removes one of the actor's passkeys: it signs in no more, and the owner
/// is told (as of an added one). Someone else's is "not found".
pub async fn remove(app: &App, actor: &Actor, id: &str) -> Result<()> {
    actor.session_id.as_deref().ok_or_else(session_required)?;
    let mut tx = app.store.begin().await?;
    let Some(name) = store::passkeys::delete(&mut tx, &actor.user_id, id).await? else {
        return Err(Error::NotFound { what: "passkey" });
    };
    let user = load_user(&mut tx, &actor.user_id).await?;
    notify::send(
        app,
        &mut tx,
        &user,
        AccountEvent::PasskeyRemoved { name },
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Millis = 1_800_000_000_000;

    fn row(
        kind: &str,
        user: Option<&str>,
        session: Option<&str>,
        expires_at: Millis,
    ) -> CeremonyRow {
        CeremonyRow {
            kind: kind.to_owned(),
            user_id: user.map(str::to_owned),
            session_id: session.map(str::to_owned),
            state: "{}".to_owned(),
            created_at: expires_at - CEREMONY_TTL,
            expires_at,
        }
    }

    fn registration<'a>(user: &'a str, session: &'a str) -> Expected<'a> {
        Expected {
            kind: KIND_REGISTER,
            user_id: Some(user),
            session_id: Some(session),
        }
    }

    fn code(r: Result<String>) -> &'static str {
        match r {
            Ok(_) => "ok",
            Err(Error::BadRequest { code, .. }) => code,
            Err(e) => panic!("unexpected error {e:?}"),
        }
    }

    #[test]
    fn a_live_ceremony_of_the_same_account_and_session_serves() {
        let r = row(KIND_REGISTER, Some("u1"), Some("s1"), NOW + 1);
        assert_eq!(
            code(check_ceremony(Some(r), registration("u1", "s1"), NOW)),
            "ok"
        );
        let r = row(KIND_SIGN_IN, None, None, NOW + CEREMONY_TTL);
        let sign_in = Expected {
            kind: KIND_SIGN_IN,
            user_id: None,
            session_id: None,
        };
        assert_eq!(code(check_ceremony(Some(r), sign_in, NOW)), "ok");
    }

    #[test]
    fn an_expired_ceremony_is_refused() {
        let r = row(KIND_REGISTER, Some("u1"), Some("s1"), NOW);
        assert_eq!(
            code(check_ceremony(Some(r), registration("u1", "s1"), NOW)),
            "ceremony_expired"
        );
        let r = row(KIND_SIGN_IN, None, None, NOW - 1);
        let sign_in = Expected {
            kind: KIND_SIGN_IN,
            user_id: None,
            session_id: None,
        };
        assert_eq!(
            code(check_ceremony(Some(r), sign_in, NOW)),
            "ceremony_expired"
        );
    }

    #[test]
    fn a_spent_or_unknown_ceremony_is_refused() {
        assert_eq!(
            code(check_ceremony(None, registration("u1", "s1"), NOW)),
            "ceremony_unknown"
        );
    }

    #[test]
    fn another_account_session_or_kind_cannot_use_a_ceremony() {
        let live = NOW + MINUTE;
        let r = || row(KIND_REGISTER, Some("u1"), Some("s1"), live);
        // Another account, even in a session of the same id.
        assert_eq!(
            code(check_ceremony(Some(r()), registration("u2", "s1"), NOW)),
            "ceremony_unknown"
        );
        // The same account in another session.
        assert_eq!(
            code(check_ceremony(Some(r()), registration("u1", "s2"), NOW)),
            "ceremony_unknown"
        );
        // A registration's state is no sign-in's, and the reverse.
        let sign_in = Expected {
            kind: KIND_SIGN_IN,
            user_id: None,
            session_id: None,
        };
        assert_eq!(
            code(check_ceremony(Some(r()), sign_in, NOW)),
            "ceremony_unknown"
        );
        let s = row(KIND_SIGN_IN, None, None, live);
        assert_eq!(
            code(check_ceremony(Some(s), registration("u1", "s1"), NOW)),
            "ceremony_unknown"
        );
        // Someone else's unexpired ceremony is refused before its expiry is told.
        let old = row(KIND_REGISTER, Some("u1"), Some("s1"), NOW - 1);
        assert_eq!(
            code(check_ceremony(Some(old), registration("u2", "s9"), NOW)),
            "ceremony_unknown"
        );
    }

    fn settings(public_url: &str) -> Settings {
        let mut config = crate::Config::defaults();
        config.public_url = Some(public_url.to_owned());
        config.validate().expect("a valid configuration")
    }

    #[test]
    fn passkeys_need_a_domain_name_and_a_secure_page() {
        assert!(unavailable_reason(&settings("http://localhost:8080")).is_none());
        assert!(unavailable_reason(&settings("https://postroom.example.com/")).is_none());
        assert!(unavailable_reason(&settings("http://app.localhost:3000")).is_none());
        let ip = unavailable_reason(&settings("http://127.0.0.1:8080")).unwrap();
        assert!(ip.contains("IP address"), "{ip}");
        let v6 = unavailable_reason(&settings("https://[::1]:8443")).unwrap();
        assert!(v6.contains("IP address"), "{v6}");
        let plain = unavailable_reason(&settings("http://postroom.lan")).unwrap();
        assert!(plain.contains("HTTPS"), "{plain}");
    }

    #[test]
    fn the_sign_in_challenge_asks_for_conditional_mediation_and_user_verification() {
        let rp = relying_party(&settings("http://localhost:8080")).unwrap();
        let (challenge, _) = rp.start_discoverable_authentication().unwrap();
        let options = serde_json::to_value(&challenge).unwrap();
        assert_eq!(options["mediation"], "conditional");
        assert_eq!(options["publicKey"]["rpId"], "localhost");
        assert_eq!(options["publicKey"]["userVerification"], "required");
        // Any of the site's passkeys may answer: the browser discovers them.
        let allowed = &options["publicKey"]["allowCredentials"];
        assert!(
            allowed.is_null() || allowed.as_array().is_some_and(|a| a.is_empty()),
            "{allowed}"
        );
    }

    #[test]
    fn default_names_say_the_browser_and_the_date() {
        let client = Client {
            ip: "127.0.0.1".into(),
            user_agent: Some(
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36".into(),
            ),
        };
        let now = 1_796_601_600_000; // 7 December 2026
        assert_eq!(
            passkey_name("  ", &client, now).unwrap(),
            "Chrome on Linux, 7 December 2026"
        );
        assert_eq!(
            passkey_name("", &Client::default(), now).unwrap(),
            "Passkey, 7 December 2026"
        );
        assert_eq!(passkey_name(" Laptop ", &client, now).unwrap(), "Laptop");
        assert!(passkey_name(&"x".repeat(MAX_NAME + 1), &client, now).is_err());
        assert!(passkey_name("bad\u{202e}name", &client, now).is_err());
    }
}
