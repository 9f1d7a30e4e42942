//! Anti-abuse for credential endpoints (A9): fixed-window rate limits keyed
//! by client IP and by account, and the decision to ask for a captcha. The
//! counters live in the database so every node shares them.

use crate::clock::{Millis, MINUTE};
use crate::config::CaptchaMode;
use crate::domain::captcha::Rejection;
use crate::error::{Error, Result};
use crate::state::App;
use crate::store;

/// One limit: at most `limit` hits per `window`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub name: &'static str,
    pub limit: i64,
    pub window: Millis,
}

pub const SIGN_IN_PER_IP: Rule = Rule {
    name: "sign_in:ip",
    limit: 60,
    window: 5 * MINUTE,
};
pub const SIGN_IN_PER_ACCOUNT: Rule = Rule {
    name: "sign_in:account",
    limit: 10,
    window: 5 * MINUTE,
};
pub const SIGN_UP_PER_IP: Rule = Rule {
    name: "sign_up:ip",
    limit: 20,
    window: 60 * MINUTE,
};
pub const RECOVERY_PER_IP: Rule = Rule {
    name: "recovery:ip",
    limit: 20,
    window: 15 * MINUTE,
};
pub const RECOVERY_PER_ACCOUNT: Rule = Rule {
    name: "recovery:account",
    limit: 3,
    window: 15 * MINUTE,
};
pub const TOKEN_PER_IP: Rule = Rule {
    name: "token:ip",
    limit: 30,
    window: 15 * MINUTE,
};
pub const PASSWORD_PER_ACCOUNT: Rule = Rule {
    name: "password:account",
    limit: 10,
    window: 15 * MINUTE,
};
/// Programs asking to sign in by the device flow (each makes a request
/// that waits 5 minutes).
pub const DEVICE_START_PER_IP: Rule = Rule {
    name: "oauth_device:ip",
    limit: 30,
    window: 15 * MINUTE,
};
/// User codes entered (or sent to the API): guesses at another device's code.
pub const USER_CODE_PER_IP: Rule = Rule {
    name: "user_code:ip",
    limit: 60,
    window: 15 * MINUTE,
};
pub const USER_CODE_PER_ACCOUNT: Rule = Rule {
    name: "user_code:account",
    limit: 20,
    window: 15 * MINUTE,
};
/// Passkey sign-ins begun: each sign-in page asks for one (for the
/// browser's autofill), and each makes a ceremony that waits 5 minutes.
pub const PASSKEY_CHALLENGE_PER_IP: Rule = Rule {
    name: "passkey_challenge:ip",
    limit: 120,
    window: 5 * MINUTE,
};
pub const AVATAR_PER_ACCOUNT: Rule = Rule {
    name: "avatar:account",
    limit: 20,
    window: 60 * MINUTE,
};

/// A rule applied to one subject (an IP address, a login, an account id).
pub struct Check<'a> {
    pub rule: Rule,
    pub subject: &'a str,
}

impl<'a> Check<'a> {
    pub fn new(rule: Rule, subject: &'a str) -> Check<'a> {
        Check { rule, subject }
    }
}

/// Counts one attempt against every check; fails with 429 when a limit is
/// passed. For requests that offer no captcha (link tokens, requests of a
/// signed-in person).
pub async fn limit(app: &App, checks: &[Check<'_>]) -> Result<()> {
    count(app, checks).await.map(|_| ())
}

/// Like [`limit`], and when the captcha is required (always, or in `auto`
/// mode once half of a limit is used) also fails with 403 unless `captcha`
/// holds a fresh, unspent solution. A captcha-less attempt still counts.
pub async fn guard(app: &App, checks: &[Check<'_>], captcha: Option<&str>) -> Result<()> {
    let near_limit = count(app, checks).await?;
    let required = match app.settings.captcha {
        CaptchaMode::Always => true,
        CaptchaMode::Never => false,
        CaptchaMode::Auto => near_limit,
    };
    if !required {
        return Ok(());
    }
    let Some(solution) = captcha.filter(|s| !s.trim().is_empty()) else {
        return Err(Error::forbidden(
            "captcha_required",
            "solve the captcha from GET /api/v1/captcha and send it as `captcha`",
        ));
    };
    let now = app.clock.now();
    match app.captcha.verify(solution, now) {
        Ok((spent_key, expires)) => {
            // A transaction, so that on SQLite this write waits its turn.
            let mut tx = app.store.begin().await?;
            let spent = store::limits::spend_captcha(&mut tx, &spent_key, expires).await?;
            tx.commit().await?;
            if spent {
                Ok(())
            } else {
                Err(Error::forbidden(
                    "captcha_invalid",
                    "this captcha solution was already used; solve a new one",
                ))
            }
        }
        Err(Rejection::Expired) => Err(Error::forbidden(
            "captcha_invalid",
            "the captcha expired; solve a new one",
        )),
        Err(Rejection::Malformed | Rejection::Wrong) => Err(Error::forbidden(
            "captcha_invalid",
            "the captcha solution is not valid",
        )),
    }
}

/// Adds one to every counter; true when any is past half its limit. With
/// `rate_limits = false` (benchmarks and tests only) nothing is counted.
async fn count(app: &App, checks: &[Check<'_>]) -> Result<bool> {
    if !app.settings.rate_limits {
        return Ok(false);
    }
    let now = app.clock.now();
    // A transaction, so that on SQLite these writes wait their turn.
    let mut tx = app.store.begin().await?;
    let mut outcome = Ok(false);
    for check in checks {
        let window_start = now - now.rem_euclid(check.rule.window);
        let key = format!("{}:{}", check.rule.name, check.subject.to_lowercase());
        let count = store::limits::hit(&mut tx, &key, window_start).await?;
        if count > check.rule.limit {
            metrics::counter!("postroom_rate_limited_total", "rule" => check.rule.name)
                .increment(1);
            let retry_after = (window_start + check.rule.window - now + 999) / 1000;
            outcome = Err(Error::TooManyRequests {
                code: "rate_limited",
                message: "too many attempts; try again later".into(),
                retry_after_secs: retry_after as u64,
            });
            break;
        }
        outcome = outcome.map(|near: bool| near || count * 2 > check.rule.limit);
    }
    // The attempts count even when one is refused.
    tx.commit().await?;
    outcome
}
