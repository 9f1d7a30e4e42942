//! Seeding accounts and sessions straight into the server's database through
//! its own store functions, for figures that need many of them. Signing up
//! 10,000 people through the API would cost 10,000 argon2id hashes (minutes
//! of CPU) and measure the hashing, not the memory; instead every seeded
//! account gets the same password hash, computed once with the server's
//! parameters, so sign-ins with [`PASSWORD`] work as for any account. The
//! rows are the ones sign-up and sign-in write (`store::users::insert`,
//! `store::sessions::insert`), in transactions of 500. [`sessions`] adds
//! many sessions to one account the same way.

use anyhow::Context;
use argon2::password_hash::PasswordHasher as _;
use argon2::{Algorithm, Argon2, Params, Version};
use postroom_server::clock::{Clock, DAY};
use postroom_server::domain::tokens;
use postroom_server::store::{self, Store};

/// The password of every seeded account.
pub const PASSWORD: &str = "violet orchard lantern seventeen harbour";

/// A seeded account and its session token.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub username: String,
    pub token: String,
}

/// The argon2id parameters of a default configuration.
pub fn argon2_params() -> Params {
    let c = postroom_server::Config::defaults();
    Params::new(c.argon2_memory_kib, c.argon2_iterations, 1, None).expect("valid parameters")
}

pub fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, argon2_params())
}

/// Inserts `count` accounts (`{prefix}-{n}`), each with one live session
/// ("keep me signed in", so it lasts 30 days), into the database at `url`.
pub async fn seed(url: &str, prefix: &str, count: usize) -> anyhow::Result<Vec<Seeded>> {
    let hash = argon2()
        .hash_password(PASSWORD.as_bytes())
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
        .to_string();
    let store = Store::connect(url, 2)
        .await
        .context("opening the database")?;
    let now = Clock::System.now();
    let mut seeded = Vec::with_capacity(count);
    for start in (0..count).step_by(500) {
        let mut tx = store.begin().await?;
        for n in start..(start + 500).min(count) {
            let username = format!("{prefix}-{n}");
            let email = format!("{username}@example.com");
            let user = store::users::insert(
                &mut tx,
                &store::users::NewUser {
                    username: &username,
                    username_key: &username,
                    email: &email,
                    email_key: &email,
                    password_hash: &hash,
                },
                now,
            )
            .await?;
            let token = insert_session(&mut tx, &user.id, now).await?;
            seeded.push(Seeded { username, token });
        }
        tx.commit().await?;
    }
    store.close().await;
    Ok(seeded)
}

/// Inserts `count` more live sessions of the account `user_id` (as if it
/// signed in `count` times, "keep me signed in"); returns their tokens.
pub async fn sessions(url: &str, user_id: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let store = Store::connect(url, 2)
        .await
        .context("opening the database")?;
    let now = Clock::System.now();
    let mut tokens = Vec::with_capacity(count);
    for start in (0..count).step_by(500) {
        let mut tx = store.begin().await?;
        for _ in start..(start + 500).min(count) {
            tokens.push(insert_session(&mut tx, user_id, now).await?);
        }
        tx.commit().await?;
    }
    store.close().await;
    Ok(tokens)
}

/// One session, as sign-in makes it: a random token, stored hashed.
async fn insert_session(
    tx: &mut store::Tx,
    user_id: &str,
    now: postroom_server::clock::Millis,
) -> anyhow::Result<String> {
    let token = format!("prs_{}", tokens::random_token(32));
    store::sessions::insert(
        tx,
        &store::sessions::NewSession {
            id: &uuid::Uuid::now_v7().to_string(),
            user_id,
            token_hash: &tokens::hash(&token),
            keep_signed_in: true,
            user_agent: Some("postroom-bench"),
            ip: Some("127.0.0.1"),
            expires_at: now + 30 * DAY,
            label: None,
        },
        now,
    )
    .await?;
    Ok(token)
}
