//! Two-step verification (A10): time-based one-time codes (RFC 6238: SHA-1,
//! 6 digits, 30-second steps, one step of skew either way) and 10 single-use
//! recovery codes.
//!
//! Setting it up takes two steps: the person is given a new secret (and its
//! `otpauth://` URL, shown as a QR code), then types a code from their app;
//! only then is it on, the recovery codes are made (shown once, stored as
//! SHA-256) and the person's other sessions end. The secret is sealed at
//! rest under the person's data key, as their environments are.
//!
//! Every sign-in of an account with it on asks for a code after the first
//! factor (a password, an identity provider), except a passkey, which is two
//! factors itself. The API takes the code with the password; a web page
//! asks for it on a page of its own, carrying a short-lived challenge
//! instead of the password. A code is accepted once: the step of the last
//! one accepted is stored. Wrong codes count like wrong passwords, against
//! the same limits and towards the same lock.

use postroom_core::{api, AccountEvent};
use qrcode::render::svg;
use qrcode::QrCode;
use totp_rs::{Builder, Secret, Totp};

use super::accounts;
use super::actor::Actor;
use super::limits::{self, Check};
use super::notify;
use super::tokens;
use super::workspace::secrets;
use crate::clock::{Millis, MINUTE, SECOND};
use crate::error::{Error, Result};
use crate::state::App;
use crate::store::{self, items::OwnerId, users::UserRow, Conn, Tx};

/// Recovery codes made at once.
pub const RECOVERY_CODES: usize = 10;
/// How long a web sign-in waits for its second step.
pub const CHALLENGE_LIFETIME: Millis = 5 * MINUTE;
/// Wrong codes a challenge takes before the sign-in has to begin again.
pub const CHALLENGE_TRIES: i64 = 5;
/// Bytes of a TOTP secret: 160 bits, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;

/// What the person typed as their second step.
#[derive(Debug, Clone, Copy)]
pub enum Factor<'a> {
    /// A code from the authenticator app.
    Otp(&'a str),
    /// One of the recovery codes.
    RecoveryCode(&'a str),
}

impl<'a> Factor<'a> {
    /// The factor given with a sign-in, if any (a code first).
    pub fn given(otp: Option<&'a str>, recovery_code: Option<&'a str>) -> Option<Factor<'a>> {
        let present = |s: &&str| !s.trim().is_empty();
        match (otp.filter(present), recovery_code.filter(present)) {
            (Some(code), _) => Some(Factor::Otp(code)),
            (None, Some(code)) => Some(Factor::RecoveryCode(code)),
            (None, None) => None,
        }
    }
}

pub fn required() -> Error {
    Error::unauthenticated(
        "two_factor_required",
        "this account has two-step verification: send `otp` (a code from the authenticator app) or `recovery_code`",
    )
}

pub fn invalid_code() -> Error {
    Error::unauthenticated(
        "invalid_two_factor_code",
        "the code is not correct (or was used already)",
    )
}

fn challenge_expired() -> Error {
    Error::bad_request(
        "sign_in_expired",
        "this sign-in took too long or had too many wrong codes; sign in again",
    )
}

fn session_required() -> Error {
    Error::session_required("two-step verification is managed")
}

fn issuer(app: &App) -> String {
    let host = app.settings.public_url.host_str().unwrap_or("postroom");
    format!("Postroom ({host})")
}

fn totp(app: &App, secret: Vec<u8>, account: &str) -> Result<Totp> {
    Builder::new()
        .with_secret(secret)
        .with_issuer(Some(issuer(app)))
        .with_account_name(account.replace(':', ""))
        .build()
        .map_err(|e| Error::Internal(anyhow::anyhow!("a TOTP secret is unusable: {e:?}")))
}

/// The unix second `now` falls in, for the code generator.
fn unix_seconds(now: Millis) -> u64 {
    u64::try_from(now / SECOND).unwrap_or(0)
}

/// The SVG of a QR code for `text`, to be scanned by an authenticator app.
pub fn qr_svg(text: &str) -> Result<String> {
    let code = QrCode::new(text.as_bytes())
        .map_err(|e| Error::Internal(anyhow::anyhow!("cannot draw a QR code: {e}")))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// A recovery code as shown: ten letters and digits in two groups,
/// `k7m2p-x9q4t`, from an alphabet without look-alikes.
fn new_recovery_code() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut bytes = [0u8; 10];
    tokens::fill_random(&mut bytes);
    let mut code = String::with_capacity(11);
    for (i, b) in bytes.iter().enumerate() {
        if i == 5 {
            code.push('-');
        }
        code.push(ALPHABET[usize::from(*b) % ALPHABET.len()] as char);
    }
    code
}

/// A recovery code as typed, in the form it is hashed in: lower case,
/// spaces and dashes ignored.
fn normalise_recovery_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

async fn secret_of(c: &mut Conn, app: &App, row: &store::two_factor::TotpRow) -> Result<Vec<u8>> {
    let base32 = secrets::open(c, &app.kek, &row.key_id, &row.secret).await?;
    Secret::try_from_base32(&base32)
        .map(|s| s.as_bytes().to_vec())
        .map_err(|e| Error::Internal(anyhow::anyhow!("a stored TOTP secret is unreadable: {e:?}")))
}

/// Whether the person has two-step verification on, and how many recovery
/// codes they have left.
pub async fn status(app: &App, user_id: &str) -> Result<api::TwoFactorStatus> {
    let mut c = app.store.conn().await?;
    let enabled = store::two_factor::enabled(&mut c, user_id).await?;
    let recovery_codes_left = if enabled {
        store::two_factor::recovery_codes_left(&mut c, user_id).await?
    } else {
        0
    };
    Ok(api::TwoFactorStatus {
        enabled,
        recovery_codes_left,
    })
}

/// Begins setting up TOTP: a new secret, replacing one not yet confirmed.
pub async fn begin_setup(app: &App, actor: &Actor) -> Result<api::TotpSetup> {
    if actor.session_id.is_none() {
        return Err(session_required());
    }
    let user = accounts::load_user(&mut *app.store.conn().await?, &actor.user_id).await?;
    let mut bytes = vec![0u8; SECRET_BYTES];
    tokens::fill_random(&mut bytes);
    let totp = totp(app, bytes.clone(), &user.username)?;
    let base32 = Secret::from(bytes).to_base32();
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    let (sealed, key_id) =
        secrets::seal(&mut tx, &app.kek, &OwnerId::User(&user.id), &base32, now).await?;
    if !store::two_factor::put_pending(&mut tx, &user.id, &sealed, &key_id, now).await? {
        return Err(Error::conflict(
            "two_factor_enabled",
            None,
            "two-step verification is on already; turn it off first to use another app",
        ));
    }
    tx.commit().await?;
    Ok(api::TotpSetup {
        secret: base32,
        otpauth_url: otpauth_url(&totp)?,
    })
}

/// The setup begun and not yet confirmed, if any: its secret again.
pub async fn pending_setup(app: &App, actor: &Actor) -> Result<Option<api::TotpSetup>> {
    let mut c = app.store.conn().await?;
    let Some(row) = store::two_factor::totp(&mut c, &actor.user_id).await? else {
        return Ok(None);
    };
    if row.confirmed_at.is_some() {
        return Ok(None);
    }
    let user = accounts::load_user(&mut c, &actor.user_id).await?;
    let secret = secret_of(&mut c, app, &row).await?;
    let totp = totp(app, secret, &user.username)?;
    Ok(Some(api::TotpSetup {
        secret: totp.secret().to_base32(),
        otpauth_url: otpauth_url(&totp)?,
    }))
}

fn otpauth_url(totp: &Totp) -> Result<String> {
    totp.to_url()
        .map_err(|e| Error::Internal(anyhow::anyhow!("cannot write the otpauth URL: {e:?}")))
}

/// Turns TOTP on with a first code from the app: makes the recovery codes
/// (returned this once) and ends the person's other sessions.
pub async fn confirm_setup(app: &App, actor: &Actor, code: &str) -> Result<api::RecoveryCodes> {
    if actor.session_id.is_none() {
        return Err(session_required());
    }
    limits::limit(
        app,
        &[Check::new(limits::PASSWORD_PER_ACCOUNT, &actor.user_id)],
    )
    .await?;
    let mut c = app.store.conn().await?;
    let user = accounts::load_user(&mut c, &actor.user_id).await?;
    let row = match store::two_factor::totp(&mut c, &user.id).await? {
        Some(row) if row.confirmed_at.is_none() => row,
        Some(_) => {
            return Err(Error::conflict(
                "two_factor_enabled",
                None,
                "two-step verification is on already",
            ))
        }
        None => {
            return Err(Error::conflict(
                "two_factor_not_started",
                None,
                "begin with POST /api/v1/me/totp to get a secret, then confirm a code from it",
            ))
        }
    };
    let secret = secret_of(&mut c, app, &row).await?;
    drop(c);
    let now = app.clock.now();
    let totp = totp(app, secret, &user.username)?;
    let Some(step) = totp.check(code.trim(), unix_seconds(now)) else {
        return Err(Error::field(
            "code",
            "invalid_two_factor_code",
            "the code is not correct: type the 6 digits your app shows now",
        ));
    };
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    let mut tx = app.store.begin().await?;
    if !store::two_factor::confirm(&mut tx, &user.id, step as i64, now).await? {
        return Err(Error::conflict(
            "two_factor_enabled",
            None,
            "two-step verification is on already",
        ));
    }
    store_recovery_codes(&mut tx, &user.id, &codes, now).await?;
    store::sessions::delete_all_except(&mut tx, &user.id, actor.session_id.as_deref()).await?;
    notify::send(app, &mut tx, &user, AccountEvent::TwoFactorEnabled {}, None).await?;
    tx.commit().await?;
    Ok(api::RecoveryCodes {
        recovery_codes: codes,
    })
}

async fn store_recovery_codes(
    tx: &mut Tx,
    user_id: &str,
    codes: &[String],
    now: Millis,
) -> Result<()> {
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| tokens::hash(&normalise_recovery_code(c)))
        .collect();
    store::two_factor::replace_recovery_codes(tx, user_id, &hashes, now).await?;
    Ok(())
}

/// New recovery codes in place of the old ones (all of them, used or not),
/// once the password proved who asks.
pub async fn new_recovery_codes(
    app: &App,
    actor: &Actor,
    password: &str,
) -> Result<api::RecoveryCodes> {
    if actor.session_id.is_none() {
        return Err(session_required());
    }
    let user = accounts::confirmed_by_password(app, actor, "password", password).await?;
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    if !store::two_factor::enabled(&mut tx, &user.id).await? {
        return Err(Error::conflict(
            "two_factor_off",
            None,
            "two-step verification is off: there are no recovery codes to replace",
        ));
    }
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    store_recovery_codes(&mut tx, &user.id, &codes, now).await?;
    tx.commit().await?;
    Ok(api::RecoveryCodes {
        recovery_codes: codes,
    })
}

/// Turns two-step verification off (or abandons a setup), once the
/// password proved who asks.
pub async fn disable(app: &App, actor: &Actor, password: &str) -> Result<()> {
    if actor.session_id.is_none() {
        return Err(session_required());
    }
    let user = accounts::confirmed_by_password(app, actor, "password", password).await?;
    let mut tx = app.store.begin().await?;
    let was_on = store::two_factor::enabled(&mut tx, &user.id).await?;
    if !store::two_factor::delete(&mut tx, &user.id).await? {
        return Err(Error::conflict(
            "two_factor_off",
            None,
            "two-step verification is off already",
        ));
    }
    if was_on {
        notify::send(
            app,
            &mut tx,
            &user,
            AccountEvent::TwoFactorDisabled {},
            None,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Whether a sign-in of `user` needs a second step.
pub async fn is_enabled(c: &mut Conn, user_id: &str) -> Result<bool> {
    Ok(store::two_factor::enabled(c, user_id).await?)
}

/// Checks `factor` for `user` in the caller's transaction, spending it: a
/// code's step, or the recovery code. False when it is wrong or spent.
pub(crate) async fn verify(
    app: &App,
    tx: &mut Tx,
    user: &UserRow,
    factor: Factor<'_>,
) -> Result<bool> {
    let now = app.clock.now();
    match factor {
        Factor::Otp(code) => {
            let Some(row) = store::two_factor::totp(tx, &user.id).await? else {
                return Ok(false);
            };
            if row.confirmed_at.is_none() {
                return Ok(false);
            }
            let secret = secret_of(tx, app, &row).await?;
            let Some(step) =
                totp(app, secret, &user.username)?.check(code.trim(), unix_seconds(now))
            else {
                return Ok(false);
            };
            Ok(store::two_factor::use_step(tx, &user.id, step as i64).await?)
        }
        Factor::RecoveryCode(code) => {
            let code = normalise_recovery_code(code);
            if code.is_empty() || code.len() > 64 {
                return Ok(false);
            }
            let used =
                store::two_factor::use_recovery_code(tx, &user.id, &tokens::hash(&code), now)
                    .await?;
            if used {
                let left = store::two_factor::recovery_codes_left(tx, &user.id).await?;
                notify::send(
                    app,
                    tx,
                    user,
                    AccountEvent::RecoveryCodeUsed { left: left as u64 },
                    None,
                )
                .await?;
            }
            Ok(used)
        }
    }
}

/// A web sign-in waiting for its second step: the token the next page
/// carries.
pub(crate) async fn challenge(app: &App, user: &UserRow, keep_signed_in: bool) -> Result<String> {
    let token = tokens::random_token(32);
    let now = app.clock.now();
    let mut tx = app.store.begin().await?;
    store::two_factor::insert_challenge(
        &mut tx,
        &tokens::hash(&token),
        &user.id,
        keep_signed_in,
        now,
        now + CHALLENGE_LIFETIME,
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// The challenge a token names, still live.
pub(crate) async fn open_challenge(
    app: &App,
    token: &str,
) -> Result<(store::two_factor::ChallengeRow, UserRow)> {
    if token.is_empty() || token.len() > 128 {
        return Err(challenge_expired());
    }
    let mut c = app.store.conn().await?;
    let row = store::two_factor::challenge(&mut c, &tokens::hash(token), app.clock.now())
        .await?
        .ok_or_else(challenge_expired)?;
    let user = accounts::load_user(&mut c, &row.user_id).await?;
    Ok((row, user))
}

/// Counts a wrong code against a challenge, ending it after
/// [`CHALLENGE_TRIES`]; the error to show.
pub(crate) async fn challenge_failed(app: &App, id: &str) -> Result<Error> {
    let mut tx = app.store.begin().await?;
    let failures = store::two_factor::challenge_failed(&mut tx, id).await?;
    let error = if failures >= CHALLENGE_TRIES {
        store::two_factor::delete_challenge(&mut tx, id).await?;
        challenge_expired()
    } else {
        invalid_code()
    };
    tx.commit().await?;
    Ok(error)
}

/// Ends a passed challenge in the transaction that begins the session;
/// false when another request ended it first.
pub(crate) async fn end_challenge(tx: &mut Tx, id: &str) -> Result<bool> {
    Ok(store::two_factor::delete_challenge(tx, id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_ten_characters_in_two_groups() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 11);
        assert_eq!(&code[5..6], "-");
        assert_eq!(normalise_recovery_code(&code).len(), 10);
        assert_ne!(new_recovery_code(), code);
    }

    #[test]
    fn recovery_codes_are_read_whatever_their_case_and_spacing() {
        assert_eq!(normalise_recovery_code(" K7M2P-x9q4t "), "k7m2px9q4t");
        assert_eq!(normalise_recovery_code("k7m2p x9q4t"), "k7m2px9q4t");
    }

    #[test]
    fn a_code_is_preferred_to_a_recovery_code_and_blanks_are_absent() {
        assert!(matches!(
            Factor::given(Some("123456"), Some("abc")),
            Some(Factor::Otp("123456"))
        ));
        assert!(matches!(
            Factor::given(Some(" "), Some("abc")),
            Some(Factor::RecoveryCode("abc"))
        ));
        assert!(Factor::given(None, Some("")).is_none());
    }

    #[test]
    fn qr_codes_are_svg() {
        let svg = qr_svg("otpauth://totp/Postroom:ada?secret=JBSWY3DPEHPK3PXP").unwrap();
        assert!(svg.contains("<svg"));
    }
}
