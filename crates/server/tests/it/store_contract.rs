//! The store contract: every public function of every `store` module, called
//! directly against a fresh database, on SQLite always and on PostgreSQL when
//! `POSTROOM_TEST_DATABASE_URL` is set. The HTTP tests cover the flows; these
//! pin down what each statement promises (cursors, expiry edges, ownership
//! checks, leases, unique-violation mapping, transactions) on both backends.

use crate::common::{Db, PgDatabase, START as T0};
use postroom_server::clock::{DAY, HOUR, MINUTE};
use postroom_server::store::{
    self, api_keys, avatars, billing, events, limits, mail, oauth, passkeys, sessions, support,
    teams, tokens, two_factor, users, Backend, Conn, Store, Tx,
};
use sessions::NewSession;
use tokens::Purpose;
use users::{NewUser, ProfileFields, UserRow};

on_both_databases!(
    users_round_trip_and_unique_keys,
    users_failed_sign_ins_and_devices,
    sessions_expire_touch_and_delete,
    tokens_are_single_use_and_expire,
    api_keys_lifecycle,
    avatars_put_replace_get_delete,
    events_number_per_scope_and_page,
    notifications_page_count_and_mark_read,
    limits_count_per_window_and_captchas_spend_once,
    mail_queue_claims_with_a_lease,
    rolled_back_transaction_leaves_nothing,
    dropped_transaction_leaves_nothing,
    typed_events_and_the_last_number_of_a_scope,
    support_requests_are_listed_newest_first_per_person,
    onboarding_deletion_lock_and_relaxed_writes,
    items_revisions_links_subscriptions_and_keys,
    oauth_requests_are_decided_and_spent_once,
    two_factor_steps_codes_and_challenges_are_spent_once,
    passkeys_are_owned_unique_and_ceremonies_serve_once,
    billing_accounts_subscriptions_ledger_and_cards,
    billing_quotes_invoices_payments_keys_and_history,
);

/// A store on a fresh database; keeps the database alive as long as it lives.
struct Fixture {
    store: Store,
    _dir: Option<tempfile::TempDir>,
    _pg: Option<PgDatabase>,
}

async fn open(db: Db) -> Fixture {
    match db {
        Db::Sqlite => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let url = format!("sqlite://{}/t.db?mode=rwc", dir.path().display());
            let store = Store::connect(&url, 4).await.expect("connect to SQLite");
            assert_eq!(store.backend(), Backend::Sqlite);
            Fixture {
                store,
                _dir: Some(dir),
                _pg: None,
            }
        }
        Db::Postgres => {
            let pg = PgDatabase::create().await;
            let store = Store::connect(&pg.url, 4)
                .await
                .expect("connect to PostgreSQL");
            assert_eq!(store.backend(), Backend::Postgres);
            Fixture {
                store,
                _dir: None,
                _pg: Some(pg),
            }
        }
    }
}

/// Inserts `name` with lowercase keys and address `<name>@example.com`, in
/// the caller's transaction.
async fn insert_user(c: &mut Tx, name: &str) -> UserRow {
    let key = name.to_lowercase();
    users::insert(
        c,
        &NewUser {
            username: name,
            username_key: &key,
            email: &format!("{name}@example.com"),
            email_key: &format!("{key}@example.com"),
            password_hash: "hash",
        },
        T0,
    )
    .await
    .expect("insert a user")
}

/// [`insert_user`] in a transaction of its own.
async fn add_user(store: &Store, name: &str) -> UserRow {
    let mut tx = store.begin().await.unwrap();
    let user = insert_user(&mut tx, name).await;
    tx.commit().await.unwrap();
    user
}

async fn user(c: &mut Conn, id: &str) -> UserRow {
    users::by_id(c, id).await.unwrap().expect("the user exists")
}

async fn users_round_trip_and_unique_keys(db: Db) {
    let f = open(db).await;
    f.store.ping().await.expect("ping");
    let mut c = f.store.conn().await.unwrap();

    let ada = write!(f.store, |t| users::insert(
        &mut t,
        &NewUser {
            username: "Ada",
            username_key: "ada",
            email: "Ada@example.com",
            email_key: "ada@example.com",
            password_hash: "h1",
        },
        T0,
    )
    .await)
    .unwrap();
    assert_eq!(ada.id.len(), 36, "a UUID: {}", ada.id);
    assert_eq!(ada.username, "Ada");
    assert_eq!(ada.email, "Ada@example.com");
    assert_eq!(ada.email_verified_at, None);
    assert_eq!(ada.password_hash, "h1");
    assert_eq!(ada.display_name, None);
    assert_eq!(ada.bio, None);
    assert_eq!(ada.links, "[]");
    assert_eq!(ada.profile_public, 0);
    assert_eq!(ada.usage, None);
    assert_eq!(ada.notification_prefs, "{}");
    assert_eq!(ada.avatar_version, None);
    assert_eq!(ada.failed_sign_ins, 0);
    assert_eq!(ada.locked_until, None);
    assert_eq!(ada.created_at, T0);

    // Lookups go by id and by the exact keys.
    assert_eq!(user(&mut c, &ada.id).await.username, "Ada");
    assert!(users::by_id(&mut c, "no-such-id").await.unwrap().is_none());
    let by_email = users::by_email_key(&mut c, "ada@example.com")
        .await
        .unwrap();
    assert_eq!(by_email.map(|u| u.id), Some(ada.id.clone()));
    assert!(users::by_email_key(&mut c, "Ada@example.com")
        .await
        .unwrap()
        .is_none());
    let by_name = users::by_username_key(&mut c, "ada").await.unwrap();
    assert_eq!(by_name.map(|u| u.id), Some(ada.id.clone()));
    assert!(users::by_username_key(&mut c, "Ada")
        .await
        .unwrap()
        .is_none());

    // Unique violations name the right constraint on both backends.
    let err = write!(f.store, |t| users::insert(
        &mut t,
        &NewUser {
            username: "ADA",
            username_key: "ada",
            email: "other@example.com",
            email_key: "other@example.com",
            password_hash: "h",
        },
        T0,
    )
    .await)
    .expect_err("the username key is taken");
    assert!(
        store::is_unique_violation(&err, "users_username_key"),
        "{err}"
    );
    assert!(
        !store::is_unique_violation(&err, "users_email_key"),
        "{err}"
    );
    let err = write!(f.store, |t| users::insert(
        &mut t,
        &NewUser {
            username: "other",
            username_key: "other",
            email: "ADA@example.com",
            email_key: "ada@example.com",
            password_hash: "h",
        },
        T0,
    )
    .await)
    .expect_err("the email key is taken");
    assert!(store::is_unique_violation(&err, "users_email_key"), "{err}");
    assert!(
        !store::is_unique_violation(&err, "users_username_key"),
        "{err}"
    );
    assert!(users::by_username_key(&mut c, "other")
        .await
        .unwrap()
        .is_none());
    assert!(!store::is_unique_violation(
        &sqlx::Error::RowNotFound,
        "users_username_key"
    ));

    // Renames and address changes hit the same constraints.
    let bob = add_user(&f.store, "Bob").await;
    let err = write!(f.store, |t| users::set_username(
        &mut t,
        &bob.id,
        "ADA",
        "ada",
        T0 + 1
    )
    .await)
    .expect_err("taken");
    assert!(
        store::is_unique_violation(&err, "users_username_key"),
        "{err}"
    );
    let err = write!(f.store, |t| users::set_email(
        &mut t,
        &bob.id,
        "ada@Example.com",
        "ada@example.com",
        T0 + 1,
    )
    .await)
    .expect_err("taken");
    assert!(store::is_unique_violation(&err, "users_email_key"), "{err}");
    write!(f.store, |t| users::set_username(
        &mut t,
        &bob.id,
        "Robert",
        "robert",
        T0 + 1
    )
    .await)
    .unwrap();
    assert!(users::by_username_key(&mut c, "bob")
        .await
        .unwrap()
        .is_none());
    let robert = users::by_username_key(&mut c, "robert")
        .await
        .unwrap()
        .expect("renamed");
    assert_eq!(
        (robert.id.as_str(), robert.username.as_str()),
        (bob.id.as_str(), "Robert")
    );

    // The first confirmation time sticks.
    write!(f.store, |t| users::mark_email_verified(
        &mut t,
        &ada.id,
        T0 + 10
    )
    .await)
    .unwrap();
    write!(f.store, |t| users::mark_email_verified(
        &mut t,
        &ada.id,
        T0 + 20
    )
    .await)
    .unwrap();
    assert_eq!(user(&mut c, &ada.id).await.email_verified_at, Some(T0 + 10));

    // A confirmed address change replaces the address and counts as verified.
    write!(f.store, |t| users::set_email(
        &mut t,
        &ada.id,
        "Lovelace@example.com",
        "lovelace@example.com",
        T0 + 30,
    )
    .await)
    .unwrap();
    let u = user(&mut c, &ada.id).await;
    assert_eq!(u.email, "Lovelace@example.com");
    assert_eq!(u.email_verified_at, Some(T0 + 30));
    assert!(users::by_email_key(&mut c, "ada@example.com")
        .await
        .unwrap()
        .is_none());
    assert!(users::by_email_key(&mut c, "lovelace@example.com")
        .await
        .unwrap()
        .is_some());

    write!(f.store, |t| users::set_password_hash(
        &mut t,
        &ada.id,
        "h2",
        T0 + 40
    )
    .await)
    .unwrap();
    assert_eq!(user(&mut c, &ada.id).await.password_hash, "h2");

    write!(f.store, |t| users::set_profile(
        &mut t,
        &ada.id,
        &ProfileFields {
            display_name: Some("Ada Lovelace"),
            bio: Some("Analyst"),
            links_json: r#"["https://example.com/ada"]"#,
            profile_public: true,
            usage: Some("work"),
        },
        T0 + 50,
    )
    .await)
    .unwrap();
    let u = user(&mut c, &ada.id).await;
    assert_eq!(u.display_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(u.bio.as_deref(), Some("Analyst"));
    assert_eq!(u.links, r#"["https://example.com/ada"]"#);
    assert_eq!(u.profile_public, 1);
    assert_eq!(u.usage.as_deref(), Some("work"));
    write!(f.store, |t| users::set_profile(
        &mut t,
        &ada.id,
        &ProfileFields {
            display_name: None,
            bio: None,
            links_json: "[]",
            profile_public: false,
            usage: None,
        },
        T0 + 60,
    )
    .await)
    .unwrap();
    let u = user(&mut c, &ada.id).await;
    assert_eq!(u.display_name, None);
    assert_eq!(u.bio, None);
    assert_eq!(u.links, "[]");
    assert_eq!(u.profile_public, 0);
    assert_eq!(u.usage, None);

    write!(f.store, |t| users::set_notification_prefs(
        &mut t,
        &ada.id,
        r#"{"new_sign_in":false}"#,
        T0 + 70
    )
    .await)
    .unwrap();
    assert_eq!(
        user(&mut c, &ada.id).await.notification_prefs,
        r#"{"new_sign_in":false}"#
    );

    write!(f.store, |t| users::set_avatar_version(
        &mut t,
        &ada.id,
        Some(7),
        T0 + 80
    )
    .await)
    .unwrap();
    assert_eq!(user(&mut c, &ada.id).await.avatar_version, Some(7));
    write!(f.store, |t| users::set_avatar_version(
        &mut t,
        &ada.id,
        None,
        T0 + 90
    )
    .await)
    .unwrap();
    assert_eq!(user(&mut c, &ada.id).await.avatar_version, None);

    // None of that touched the other account.
    let b = user(&mut c, &bob.id).await;
    assert_eq!(b.email, "Bob@example.com");
    assert_eq!(b.email_verified_at, None);
    assert_eq!(b.password_hash, "hash");
    assert_eq!(b.notification_prefs, "{}");
}

async fn users_failed_sign_ins_and_devices(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada").await;
    let bob = add_user(&f.store, "bob").await;
    let carol = add_user(&f.store, "carol").await;
    let lock = T0 + 15 * MINUTE;

    // Each failure counts; the count comes back with the locks so far.
    for n in 1..=3 {
        let counted = write!(f.store, |t| users::record_failed_sign_in(&mut t, &ada.id)
            .await)
        .unwrap();
        assert_eq!(counted, (n, 0));
        let u = user(&mut c, &ada.id).await;
        assert_eq!((u.failed_sign_ins, u.locked_until), (n, None));
    }
    // A lock starts the count again and counts itself.
    write!(f.store, |t| users::lock(&mut t, &ada.id, lock).await).unwrap();
    let u = user(&mut c, &ada.id).await;
    assert_eq!(
        (u.failed_sign_ins, u.locked_until, u.lockouts),
        (0, Some(lock), 1)
    );
    assert_eq!(
        write!(f.store, |t| users::record_failed_sign_in(&mut t, &ada.id)
            .await)
        .unwrap(),
        (1, 1)
    );
    write!(f.store, |t| users::lock(&mut t, &ada.id, lock + MINUTE)
        .await)
    .unwrap();
    let u = user(&mut c, &ada.id).await;
    assert_eq!((u.locked_until, u.lockouts), (Some(lock + MINUTE), 2));
    // Other accounts keep their own count.
    assert_eq!(user(&mut c, &bob.id).await.failed_sign_ins, 0);

    // A success ends the run of failures and of locks.
    write!(f.store, |t| users::clear_failed_sign_ins(&mut t, &ada.id)
        .await)
    .unwrap();
    let u = user(&mut c, &ada.id).await;
    assert_eq!(
        (u.failed_sign_ins, u.locked_until, u.lockouts),
        (0, None, 0)
    );
    write!(f.store, |t| users::clear_failed_sign_ins(&mut t, &ada.id)
        .await)
    .unwrap();
    assert_eq!(
        write!(f.store, |t| users::record_failed_sign_in(&mut t, &ada.id)
            .await)
        .unwrap(),
        (1, 0),
        "the run starts again"
    );

    // A new password also ends the run and the lock.
    write!(f.store, |t| users::record_failed_sign_in(&mut t, &bob.id)
        .await)
    .unwrap();
    write!(f.store, |t| users::lock(&mut t, &bob.id, lock).await).unwrap();
    assert_eq!(user(&mut c, &bob.id).await.locked_until, Some(lock));
    write!(f.store, |t| users::set_password_hash(
        &mut t,
        &bob.id,
        "new",
        T0 + 1
    )
    .await)
    .unwrap();
    let u = user(&mut c, &bob.id).await;
    assert_eq!(
        (u.failed_sign_ins, u.locked_until, u.lockouts),
        (0, None, 0)
    );

    // Devices: new once per account.
    assert!(!users::has_devices(&mut c, &ada.id).await.unwrap());
    assert!(write!(f.store, |t| users::remember_device(
        &mut t, &ada.id, "d1", T0
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| users::remember_device(
        &mut t,
        &ada.id,
        "d1",
        T0 + 1
    )
    .await)
    .unwrap());
    assert!(write!(f.store, |t| users::remember_device(
        &mut t,
        &ada.id,
        "d2",
        T0 + 2
    )
    .await)
    .unwrap());
    assert!(write!(f.store, |t| users::remember_device(
        &mut t,
        &bob.id,
        "d1",
        T0 + 3
    )
    .await)
    .unwrap());
    assert!(users::has_devices(&mut c, &ada.id).await.unwrap());
    assert!(users::has_devices(&mut c, &bob.id).await.unwrap());
    assert!(!users::has_devices(&mut c, &carol.id).await.unwrap());
}

fn new_session<'a>(
    id: &'a str,
    user_id: &'a str,
    token_hash: &'a str,
    keep_signed_in: bool,
    expires_at: i64,
) -> NewSession<'a> {
    NewSession {
        id,
        user_id,
        token_hash,
        keep_signed_in,
        user_agent: None,
        ip: None,
        expires_at,
        label: None,
    }
}

fn ids(rows: &[sessions::SessionRow]) -> Vec<&str> {
    rows.iter().map(|s| s.id.as_str()).collect()
}

async fn sessions_expire_touch_and_delete(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada").await;
    let bob = add_user(&f.store, "bob").await;

    let s1 = write!(f.store, |tx| sessions::insert(
        &mut tx,
        &NewSession {
            user_agent: Some("Firefox"),
            ip: Some("192.0.2.1"),
            ..new_session("s1", &ada.id, "h1", false, T0 + HOUR)
        },
        T0,
    )
    .await)
    .unwrap();
    assert_eq!(s1.id, "s1");
    assert_eq!(s1.user_id, ada.id);
    assert_eq!(s1.keep_signed_in, 0);
    assert_eq!(s1.user_agent.as_deref(), Some("Firefox"));
    assert_eq!(s1.ip.as_deref(), Some("192.0.2.1"));
    assert_eq!((s1.created_at, s1.last_active_at), (T0, T0));
    assert_eq!(s1.expires_at, T0 + HOUR);
    let s2 = write!(f.store, |tx| sessions::insert(
        &mut tx,
        &new_session("s2", &ada.id, "h2", true, T0 + 30 * DAY),
        T0 + 1,
    )
    .await)
    .unwrap();
    assert_eq!(s2.keep_signed_in, 1);
    assert_eq!((s2.user_agent, s2.ip), (None, None));
    write!(f.store, |tx| sessions::insert(
        &mut tx,
        &new_session("s3", &bob.id, "h3", false, T0 + HOUR),
        T0,
    )
    .await)
    .unwrap();
    let err = write!(f.store, |tx| sessions::insert(
        &mut tx,
        &new_session("s9", &bob.id, "h1", false, T0 + HOUR),
        T0,
    )
    .await)
    .expect_err("token hashes are unique");
    assert!(
        store::is_unique_violation(&err, "sessions_token_hash"),
        "{err}"
    );

    // A session is found by its token hash until it expires, then hidden.
    let found = sessions::by_token_hash(&mut c, "h1", T0 + HOUR - 1)
        .await
        .unwrap();
    assert_eq!(found.map(|s| s.id), Some("s1".to_owned()));
    assert!(sessions::by_token_hash(&mut c, "h1", T0 + HOUR)
        .await
        .unwrap()
        .is_none());
    assert!(sessions::by_token_hash(&mut c, "nope", T0)
        .await
        .unwrap()
        .is_none());

    // Activity moves the expiry to what the caller says, for any session.
    let t = T0 + 10 * MINUTE;
    write!(f.store, |tx| sessions::touch(&mut tx, "s1", t, t + HOUR)
        .await)
    .unwrap();
    let s = sessions::by_token_hash(&mut c, "h1", t)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((s.last_active_at, s.expires_at), (t, t + HOUR));
    let t2 = T0 + 20 * MINUTE;
    write!(f.store, |tx| sessions::touch(&mut tx, "s2", t2, t2 + HOUR)
        .await)
    .unwrap();
    let s = sessions::by_token_hash(&mut c, "h2", t2)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((s.last_active_at, s.expires_at), (t2, t2 + HOUR));
    // The touched session now outlives its original expiry.
    assert!(sessions::by_token_hash(&mut c, "h1", T0 + HOUR)
        .await
        .unwrap()
        .is_some());

    // Live sessions, most recently active first, per user.
    let live = sessions::list_live(&mut c, &ada.id, t2).await.unwrap();
    assert_eq!(ids(&live), ["s2", "s1"]);
    let live = sessions::list_live(&mut c, &ada.id, t + HOUR)
        .await
        .unwrap();
    assert_eq!(ids(&live), ["s2"], "s1 expired");
    let live = sessions::list_live(&mut c, &bob.id, T0).await.unwrap();
    assert_eq!(ids(&live), ["s3"]);

    // Only the owner can delete a session.
    assert!(
        !write!(f.store, |tx| sessions::delete_own(&mut tx, &bob.id, "s1")
            .await)
        .unwrap()
    );
    assert!(sessions::by_token_hash(&mut c, "h1", t)
        .await
        .unwrap()
        .is_some());
    assert!(
        !write!(f.store, |tx| sessions::delete_own(&mut tx, &ada.id, "s3")
            .await)
        .unwrap()
    );
    assert!(
        write!(f.store, |tx| sessions::delete_own(&mut tx, &ada.id, "s1")
            .await)
        .unwrap()
    );
    assert!(
        !write!(f.store, |tx| sessions::delete_own(&mut tx, &ada.id, "s1")
            .await)
        .unwrap()
    );
    assert!(sessions::by_token_hash(&mut c, "h1", t)
        .await
        .unwrap()
        .is_none());

    // Signing out everywhere else keeps the named session and other users'.
    for (id, hash) in [("s4", "h4"), ("s5", "h5")] {
        write!(f.store, |tx| sessions::insert(
            &mut tx,
            &new_session(id, &ada.id, hash, false, T0 + HOUR),
            T0,
        )
        .await)
        .unwrap();
    }
    assert_eq!(
        write!(f.store, |tx| sessions::delete_all_except(
            &mut tx,
            &ada.id,
            Some("s2")
        )
        .await)
        .unwrap(),
        2
    );
    assert_eq!(
        ids(&sessions::list_live(&mut c, &ada.id, T0).await.unwrap()),
        ["s2"]
    );
    assert_eq!(
        ids(&sessions::list_live(&mut c, &bob.id, T0).await.unwrap()),
        ["s3"]
    );
    assert_eq!(
        write!(f.store, |tx| sessions::delete_all_except(
            &mut tx, &ada.id, None
        )
        .await)
        .unwrap(),
        1
    );
    assert!(sessions::list_live(&mut c, &ada.id, T0)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        ids(&sessions::list_live(&mut c, &bob.id, T0).await.unwrap()),
        ["s3"]
    );

    // Cleanup removes sessions whose expiry has come, and only those.
    write!(f.store, |tx| sessions::insert(
        &mut tx,
        &new_session("s6", &ada.id, "h6", false, T0 + 2 * HOUR),
        T0,
    )
    .await)
    .unwrap();
    assert_eq!(
        write!(f.store, |tx| sessions::delete_expired(&mut tx, T0 + HOUR)
            .await)
        .unwrap(),
        1
    );
    assert!(sessions::list_live(&mut c, &bob.id, T0)
        .await
        .unwrap()
        .is_empty());
    assert!(sessions::by_token_hash(&mut c, "h6", T0 + HOUR)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        write!(f.store, |tx| sessions::delete_expired(&mut tx, T0 + HOUR)
            .await)
        .unwrap(),
        0
    );
}

async fn tokens_are_single_use_and_expire(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada").await;
    let bob = add_user(&f.store, "bob").await;
    assert_eq!(Purpose::VerifyEmail.as_str(), "verify_email");
    assert_eq!(Purpose::ResetPassword.as_str(), "reset_password");
    assert_eq!(Purpose::ChangeEmail.as_str(), "change_email");

    let exp = T0 + HOUR;
    write!(f.store, |t| tokens::insert(
        &mut t,
        "v1",
        &ada.id,
        Purpose::VerifyEmail,
        None,
        T0,
        exp
    )
    .await)
    .unwrap();

    // Peeking does not use the token up.
    for _ in 0..2 {
        let t = tokens::peek(&mut c, "v1", Purpose::VerifyEmail, T0)
            .await
            .unwrap()
            .expect("live");
        assert_eq!((t.user_id.as_str(), t.new_email), (ada.id.as_str(), None));
    }
    assert!(tokens::peek(&mut c, "v1", Purpose::ResetPassword, T0)
        .await
        .unwrap()
        .is_none());
    assert!(tokens::peek(&mut c, "v1", Purpose::VerifyEmail, exp)
        .await
        .unwrap()
        .is_none());
    assert!(tokens::peek(&mut c, "nope", Purpose::VerifyEmail, T0)
        .await
        .unwrap()
        .is_none());

    // The wrong purpose, or an expired token, is not consumed...
    assert!(write!(f.store, |t| tokens::consume(
        &mut t,
        "v1",
        Purpose::ResetPassword,
        T0
    )
    .await)
    .unwrap()
    .is_none());
    assert!(write!(f.store, |t| tokens::consume(
        &mut t,
        "v1",
        Purpose::VerifyEmail,
        exp
    )
    .await)
    .unwrap()
    .is_none());
    assert!(write!(f.store, |t| tokens::consume(
        &mut t,
        "nope",
        Purpose::VerifyEmail,
        T0
    )
    .await)
    .unwrap()
    .is_none());
    // ...so it still works once, and only once.
    let used = write!(f.store, |t| tokens::consume(
        &mut t,
        "v1",
        Purpose::VerifyEmail,
        exp - 1
    )
    .await)
    .unwrap()
    .expect("consumed");
    assert_eq!(
        (used.user_id.as_str(), used.new_email),
        (ada.id.as_str(), None)
    );
    assert!(write!(f.store, |t| tokens::consume(
        &mut t,
        "v1",
        Purpose::VerifyEmail,
        exp - 1
    )
    .await)
    .unwrap()
    .is_none());
    assert!(tokens::peek(&mut c, "v1", Purpose::VerifyEmail, T0)
        .await
        .unwrap()
        .is_none());

    // An address change carries the new address.
    write!(f.store, |t| tokens::insert(
        &mut t,
        "c1",
        &ada.id,
        Purpose::ChangeEmail,
        Some("new@example.com"),
        T0,
        exp,
    )
    .await)
    .unwrap();
    let peeked = tokens::peek(&mut c, "c1", Purpose::ChangeEmail, T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(peeked.new_email.as_deref(), Some("new@example.com"));
    let used = write!(f.store, |t| tokens::consume(
        &mut t,
        "c1",
        Purpose::ChangeEmail,
        T0
    )
    .await)
    .unwrap()
    .unwrap();
    assert_eq!(used.user_id, ada.id);
    assert_eq!(used.new_email.as_deref(), Some("new@example.com"));

    // Voiding affects only that user's unused tokens of that purpose.
    for (hash, user_id, purpose) in [
        ("r1", &ada.id, Purpose::ResetPassword),
        ("r2", &ada.id, Purpose::ResetPassword),
        ("v2", &ada.id, Purpose::VerifyEmail),
        ("r3", &bob.id, Purpose::ResetPassword),
    ] {
        write!(f.store, |t| tokens::insert(
            &mut t, hash, user_id, purpose, None, T0, exp
        )
        .await)
        .unwrap();
    }
    write!(f.store, |t| tokens::void_unused(
        &mut t,
        &ada.id,
        Purpose::ResetPassword,
        T0 + 1
    )
    .await)
    .unwrap();
    for hash in ["r1", "r2"] {
        assert!(write!(f.store, |t| tokens::consume(
            &mut t,
            hash,
            Purpose::ResetPassword,
            T0 + 2
        )
        .await)
        .unwrap()
        .is_none());
    }
    assert!(tokens::peek(&mut c, "v2", Purpose::VerifyEmail, T0 + 2)
        .await
        .unwrap()
        .is_some());
    let r3 = write!(f.store, |t| tokens::consume(
        &mut t,
        "r3",
        Purpose::ResetPassword,
        T0 + 2
    )
    .await)
    .unwrap();
    assert_eq!(r3.map(|t| t.user_id), Some(bob.id.clone()));

    // Voiding them all takes every purpose, of that user only.
    for (hash, user_id, purpose) in [
        ("a1", &ada.id, Purpose::ChangeEmail),
        ("a2", &ada.id, Purpose::ResetPassword),
        ("b1", &bob.id, Purpose::ChangeEmail),
    ] {
        write!(f.store, |t| tokens::insert(
            &mut t, hash, user_id, purpose, None, T0, exp
        )
        .await)
        .unwrap();
    }
    // a1, a2 and the v2 left from above.
    assert_eq!(
        write!(f.store, |t| tokens::void_all_unused(
            &mut t,
            &ada.id,
            T0 + 3
        )
        .await)
        .unwrap(),
        3
    );
    for (hash, purpose) in [
        ("a1", Purpose::ChangeEmail),
        ("a2", Purpose::ResetPassword),
        ("v2", Purpose::VerifyEmail),
    ] {
        assert!(tokens::peek(&mut c, hash, purpose, T0 + 4)
            .await
            .unwrap()
            .is_none());
    }
    assert!(tokens::peek(&mut c, "b1", Purpose::ChangeEmail, T0 + 4)
        .await
        .unwrap()
        .is_some());

    // Stale tokens go by expiry, used or not.
    write!(f.store, |t| tokens::insert(
        &mut t,
        "late",
        &bob.id,
        Purpose::VerifyEmail,
        None,
        T0,
        T0 + DAY,
    )
    .await)
    .unwrap();
    assert_eq!(
        write!(f.store, |t| tokens::delete_stale(&mut t, exp).await).unwrap(),
        0
    );
    assert_eq!(
        write!(f.store, |t| tokens::delete_stale(&mut t, exp + 1).await).unwrap(),
        9
    );
    assert!(tokens::peek(&mut c, "late", Purpose::VerifyEmail, T0)
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        write!(f.store, |t| tokens::delete_stale(&mut t, exp + 1).await).unwrap(),
        0
    );
}

fn new_key<'a>(id: &'a str, user_id: &'a str, hash: &'a str) -> api_keys::NewApiKey<'a> {
    api_keys::NewApiKey {
        id,
        user_id,
        name: "ci",
        prefix: "prk_abcd",
        key_hash: hash,
        scopes: r#"["profile:read"]"#,
        expires_at: None,
    }
}

async fn api_keys_lifecycle(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada").await;
    let bob = add_user(&f.store, "bob").await;

    let k1 = write!(f.store, |t| api_keys::insert(
        &mut t,
        &new_key("k1", &ada.id, "kh1"),
        T0
    )
    .await)
    .unwrap();
    assert_eq!(k1.id, "k1");
    assert_eq!(k1.user_id, ada.id);
    assert_eq!(k1.name, "ci");
    assert_eq!(k1.prefix, "prk_abcd");
    assert_eq!(k1.scopes, r#"["profile:read"]"#);
    assert_eq!((k1.created_at, k1.last_used_at), (T0, None));
    write!(f.store, |t| api_keys::insert(
        &mut t,
        &new_key("k2", &ada.id, "kh2"),
        T0 + 1
    )
    .await)
    .unwrap();
    write!(f.store, |t| api_keys::insert(
        &mut t,
        &new_key("k3", &bob.id, "kh3"),
        T0
    )
    .await)
    .unwrap();
    let err = write!(f.store, |t| api_keys::insert(
        &mut t,
        &new_key("k4", &bob.id, "kh1"),
        T0
    )
    .await)
    .expect_err("key hashes are unique");
    assert!(
        store::is_unique_violation(&err, "api_keys_key_hash"),
        "{err}"
    );
    assert!(
        !store::is_unique_violation(&err, "users_username_key"),
        "{err}"
    );

    let found = api_keys::by_hash(&mut c, "kh1", T0).await.unwrap();
    assert_eq!(found.map(|k| k.id), Some("k1".to_owned()));
    assert!(api_keys::by_hash(&mut c, "nope", T0)
        .await
        .unwrap()
        .is_none());
    let list = api_keys::list_active(&mut c, &ada.id).await.unwrap();
    assert_eq!(
        list.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        ["k2", "k1"],
        "newest first"
    );
    assert_eq!(
        api_keys::count_active(&mut c, &ada.id, T0).await.unwrap(),
        2
    );
    assert_eq!(
        api_keys::count_active(&mut c, &bob.id, T0).await.unwrap(),
        1
    );

    write!(f.store, |t| api_keys::touch(&mut t, "k1", T0 + 5).await).unwrap();
    let k = api_keys::by_hash(&mut c, "kh1", T0).await.unwrap().unwrap();
    assert_eq!(k.last_used_at, Some(T0 + 5));

    // Only the owner revokes, once; a revoked key is gone from every lookup.
    assert!(!write!(f.store, |t| api_keys::revoke_own(
        &mut t,
        &bob.id,
        "k1",
        T0 + 6
    )
    .await)
    .unwrap());
    assert!(api_keys::by_hash(&mut c, "kh1", T0)
        .await
        .unwrap()
        .is_some());
    assert!(write!(f.store, |t| api_keys::revoke_own(
        &mut t,
        &ada.id,
        "k1",
        T0 + 7
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| api_keys::revoke_own(
        &mut t,
        &ada.id,
        "k1",
        T0 + 8
    )
    .await)
    .unwrap());
    assert!(api_keys::by_hash(&mut c, "kh1", T0)
        .await
        .unwrap()
        .is_none());
    let list = api_keys::list_active(&mut c, &ada.id).await.unwrap();
    assert_eq!(
        list.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        ["k2"]
    );
    assert_eq!(
        api_keys::count_active(&mut c, &ada.id, T0).await.unwrap(),
        1
    );
    assert_eq!(
        api_keys::count_active(&mut c, &bob.id, T0).await.unwrap(),
        1
    );

    // A key with an expiry works until then; after it, it is listed (as
    // expired) but neither found nor counted.
    let expiring = api_keys::NewApiKey {
        expires_at: Some(T0 + 100),
        ..new_key("k5", &ada.id, "kh5")
    };
    let k5 = write!(f.store, |t| api_keys::insert(&mut t, &expiring, T0).await).unwrap();
    assert_eq!(k5.expires_at, Some(T0 + 100));
    assert!(api_keys::by_hash(&mut c, "kh5", T0 + 99)
        .await
        .unwrap()
        .is_some());
    assert!(api_keys::by_hash(&mut c, "kh5", T0 + 100)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        api_keys::count_active(&mut c, &ada.id, T0 + 99)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        api_keys::count_active(&mut c, &ada.id, T0 + 100)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        api_keys::list_active(&mut c, &ada.id).await.unwrap().len(),
        2
    );

    // A new password revokes all of a person's keys, and no one else's.
    assert_eq!(
        write!(f.store, |t| api_keys::revoke_all(&mut t, &ada.id, T0 + 9)
            .await)
        .unwrap(),
        2
    );
    assert!(api_keys::list_active(&mut c, &ada.id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        api_keys::count_active(&mut c, &bob.id, T0).await.unwrap(),
        1
    );
}

async fn avatars_put_replace_get_delete(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada").await;
    let bob = add_user(&f.store, "bob").await;

    assert!(avatars::get(&mut c, &ada.id).await.unwrap().is_none());
    write!(f.store, |t| avatars::put(
        &mut t,
        &ada.id,
        "image/png",
        &[1, 2, 3],
        T0
    )
    .await)
    .unwrap();
    assert_eq!(
        avatars::get(&mut c, &ada.id).await.unwrap(),
        Some(("image/png".to_owned(), vec![1, 2, 3]))
    );
    // A second put replaces the first; every byte value survives.
    let bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    write!(f.store, |t| avatars::put(
        &mut t,
        &ada.id,
        "image/webp",
        &bytes,
        T0 + 1
    )
    .await)
    .unwrap();
    assert_eq!(
        avatars::get(&mut c, &ada.id).await.unwrap(),
        Some(("image/webp".to_owned(), bytes))
    );
    assert!(avatars::get(&mut c, &bob.id).await.unwrap().is_none());

    assert!(!write!(f.store, |t| avatars::delete(&mut t, &bob.id).await).unwrap());
    assert!(write!(f.store, |t| avatars::delete(&mut t, &ada.id).await).unwrap());
    assert!(avatars::get(&mut c, &ada.id).await.unwrap().is_none());
    assert!(!write!(f.store, |t| avatars::delete(&mut t, &ada.id).await).unwrap());
}

fn seqs(rows: &[events::EventRow]) -> Vec<i64> {
    rows.iter().map(|e| e.seq).collect()
}

async fn events_number_per_scope_and_page(db: Db) {
    let f = open(db).await;
    let mut tx = f.store.begin().await.unwrap();
    let ada = insert_user(&mut tx, "ada").await;

    let e1 = events::append(&mut tx, "user:a", Some(&ada.id), "k1", r#"{"n":1}"#, T0)
        .await
        .unwrap();
    assert_eq!(e1.scope, "user:a");
    assert_eq!(e1.seq, 1);
    assert_eq!(e1.actor_id.as_deref(), Some(ada.id.as_str()));
    assert_eq!(e1.kind, "k1");
    assert_eq!(e1.data, r#"{"n":1}"#);
    assert_eq!(e1.created_at, T0);
    let e2 = events::append(&mut tx, "user:a", None, "k2", "{}", T0 + 1)
        .await
        .unwrap();
    let b1 = events::append(&mut tx, "user:b", None, "k1", "{}", T0 + 2)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Numbering carries on across transactions.
    let mut c = f.store.conn().await.unwrap();
    let e3 = write!(f.store, |t| events::append(
        &mut t,
        "user:a",
        None,
        "k3",
        "{}",
        T0 + 3
    )
    .await)
    .unwrap();
    assert_eq!((e2.seq, e3.seq, b1.seq), (2, 3, 1));
    assert_eq!(e2.actor_id, None);
    let mut all_ids = vec![&e1.id, &e2.id, &e3.id, &b1.id];
    all_ids.sort();
    all_ids.dedup();
    assert_eq!(all_ids.len(), 4, "event ids are distinct");

    // `since` pages a scope oldest first, after a cursor.
    let all = events::since(&mut c, "user:a", 0, 10).await.unwrap();
    assert_eq!(seqs(&all), [1, 2, 3]);
    assert_eq!(
        all.iter().map(|e| e.kind.as_str()).collect::<Vec<_>>(),
        ["k1", "k2", "k3"]
    );
    assert_eq!(all[0].id, e1.id);
    assert_eq!(all[0].actor_id.as_deref(), Some(ada.id.as_str()));
    assert_eq!(
        seqs(&events::since(&mut c, "user:a", 0, 2).await.unwrap()),
        [1, 2]
    );
    assert_eq!(
        seqs(&events::since(&mut c, "user:a", 1, 1).await.unwrap()),
        [2]
    );
    assert_eq!(
        seqs(&events::since(&mut c, "user:a", 2, 10).await.unwrap()),
        [3]
    );
    assert!(events::since(&mut c, "user:a", 3, 10)
        .await
        .unwrap()
        .is_empty());
    let b = events::since(&mut c, "user:b", 0, 10).await.unwrap();
    assert_eq!(seqs(&b), [1]);
    assert_eq!(b[0].id, b1.id);
    assert!(events::since(&mut c, "user:none", 0, 10)
        .await
        .unwrap()
        .is_empty());

    // The (scope, seq) pair is unique, and reported as such on both backends.
    let err = sqlx::query(
        "INSERT INTO events (id, scope, seq, actor_id, kind, data, created_at) \
         VALUES ('dup', 'user:a', 2, NULL, 'k', '{}', 0)",
    )
    .execute(&mut *c)
    .await
    .expect_err("(scope, seq) is unique");
    assert!(
        store::is_unique_violation(&err, "events_scope_seq"),
        "{err}"
    );
}

async fn notifications_page_count_and_mark_read(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada").await;
    let bob = add_user(&f.store, "bob").await;
    let ev = write!(f.store, |t| events::append(
        &mut t, "user:x", None, "k", "{}", T0
    )
    .await)
    .unwrap();

    for i in 1..=5 {
        write!(f.store, |t| events::insert_notification(
            &mut t,
            &ada.id,
            &ev.id,
            "kind",
            &format!("m{i}"),
            T0 + i
        )
        .await)
        .unwrap();
    }
    write!(f.store, |t| events::insert_notification(
        &mut t, &bob.id, &ev.id, "kind", "bob", T0
    )
    .await)
    .unwrap();

    // Newest first; `before` pages towards older ones.
    let all = events::notifications_page(&mut c, &ada.id, None, 100)
        .await
        .unwrap();
    let messages = |rows: &[events::NotificationRow]| -> Vec<String> {
        rows.iter().map(|n| n.message.clone()).collect()
    };
    assert_eq!(messages(&all), ["m5", "m4", "m3", "m2", "m1"]);
    assert_eq!(all[0].kind, "kind");
    assert_eq!(all[0].created_at, T0 + 5);
    assert!(all.iter().all(|n| n.read_at.is_none()));
    let p1 = events::notifications_page(&mut c, &ada.id, None, 2)
        .await
        .unwrap();
    assert_eq!(messages(&p1), ["m5", "m4"]);
    let p2 = events::notifications_page(&mut c, &ada.id, Some(&p1[1].id), 2)
        .await
        .unwrap();
    assert_eq!(messages(&p2), ["m3", "m2"]);
    let p3 = events::notifications_page(&mut c, &ada.id, Some(&p2[1].id), 2)
        .await
        .unwrap();
    assert_eq!(messages(&p3), ["m1"]);
    assert!(
        events::notifications_page(&mut c, &ada.id, Some(&p3[0].id), 2)
            .await
            .unwrap()
            .is_empty()
    );
    let bobs = events::notifications_page(&mut c, &bob.id, None, 100)
        .await
        .unwrap();
    assert_eq!(messages(&bobs), ["bob"]);

    assert_eq!(events::unread_count(&mut c, &ada.id).await.unwrap(), 5);
    assert_eq!(events::unread_count(&mut c, &bob.id).await.unwrap(), 1);

    // Marking by id only touches the owner's notifications, once.
    let chosen = vec![all[0].id.clone(), all[1].id.clone(), bobs[0].id.clone()];
    assert_eq!(
        write!(f.store, |t| events::mark_read(
            &mut t,
            &ada.id,
            Some(chosen.as_slice()),
            T0 + 100
        )
        .await)
        .unwrap(),
        2
    );
    assert_eq!(
        write!(f.store, |t| events::mark_read(
            &mut t,
            &ada.id,
            Some(chosen.as_slice()),
            T0 + 101
        )
        .await)
        .unwrap(),
        0
    );
    assert_eq!(
        write!(f.store, |t| events::mark_read(
            &mut t,
            &ada.id,
            Some(&[][..]),
            T0 + 101
        )
        .await)
        .unwrap(),
        0
    );
    assert_eq!(events::unread_count(&mut c, &ada.id).await.unwrap(), 3);
    assert_eq!(events::unread_count(&mut c, &bob.id).await.unwrap(), 1);
    let p = events::notifications_page(&mut c, &ada.id, None, 100)
        .await
        .unwrap();
    assert_eq!(
        p.iter().map(|n| n.read_at).collect::<Vec<_>>(),
        [Some(T0 + 100), Some(T0 + 100), None, None, None]
    );

    // Marking all reads the rest, keeping earlier read times, and no one else's.
    assert_eq!(
        write!(f.store, |t| events::mark_read(
            &mut t,
            &ada.id,
            None,
            T0 + 200
        )
        .await)
        .unwrap(),
        3
    );
    assert_eq!(events::unread_count(&mut c, &ada.id).await.unwrap(), 0);
    assert_eq!(events::unread_count(&mut c, &bob.id).await.unwrap(), 1);
    let p = events::notifications_page(&mut c, &ada.id, None, 100)
        .await
        .unwrap();
    assert_eq!(
        p.iter().map(|n| n.read_at).collect::<Vec<_>>(),
        [
            Some(T0 + 100),
            Some(T0 + 100),
            Some(T0 + 200),
            Some(T0 + 200),
            Some(T0 + 200)
        ]
    );
    assert_eq!(
        write!(f.store, |t| events::mark_read(
            &mut t,
            &ada.id,
            None,
            T0 + 300
        )
        .await)
        .unwrap(),
        0
    );
    assert_eq!(
        write!(f.store, |t| events::mark_read(
            &mut t,
            &bob.id,
            None,
            T0 + 300
        )
        .await)
        .unwrap(),
        1
    );
    assert_eq!(events::unread_count(&mut c, &bob.id).await.unwrap(), 0);
}

async fn limits_count_per_window_and_captchas_spend_once(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let (w0, w1) = (T0, T0 + MINUTE);

    for n in 1..=3 {
        assert_eq!(
            write!(f.store, |t| limits::hit(&mut t, "ip:1", w0).await).unwrap(),
            n
        );
    }
    assert_eq!(
        write!(f.store, |t| limits::hit(&mut t, "ip:2", w0).await).unwrap(),
        1
    );
    assert_eq!(
        write!(f.store, |t| limits::hit(&mut t, "ip:1", w1).await).unwrap(),
        1
    );

    // Peeking reads without counting.
    assert_eq!(limits::peek(&mut c, "ip:1", w0).await.unwrap(), 3);
    assert_eq!(limits::peek(&mut c, "ip:1", w0).await.unwrap(), 3);
    assert_eq!(limits::peek(&mut c, "ip:1", w1).await.unwrap(), 1);
    assert_eq!(limits::peek(&mut c, "ip:2", w0).await.unwrap(), 1);
    assert_eq!(limits::peek(&mut c, "ip:3", w0).await.unwrap(), 0);

    // Old windows go; the current one stays.
    assert_eq!(
        write!(f.store, |t| limits::delete_windows_before(&mut t, w0).await).unwrap(),
        0
    );
    assert_eq!(
        write!(f.store, |t| limits::delete_windows_before(&mut t, w1).await).unwrap(),
        2
    );
    assert_eq!(limits::peek(&mut c, "ip:1", w0).await.unwrap(), 0);
    assert_eq!(limits::peek(&mut c, "ip:2", w0).await.unwrap(), 0);
    assert_eq!(limits::peek(&mut c, "ip:1", w1).await.unwrap(), 1);
    assert_eq!(
        write!(f.store, |t| limits::hit(&mut t, "ip:1", w0).await).unwrap(),
        1
    );

    // A captcha solution is spent once.
    assert!(write!(f.store, |t| limits::spend_captcha(
        &mut t,
        "sol1",
        T0 + MINUTE
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| limits::spend_captcha(
        &mut t,
        "sol1",
        T0 + MINUTE
    )
    .await)
    .unwrap());
    assert!(write!(f.store, |t| limits::spend_captcha(
        &mut t,
        "sol2",
        T0 + 2 * MINUTE
    )
    .await)
    .unwrap());
    assert_eq!(
        write!(f.store, |t| limits::delete_spent_captchas(
            &mut t,
            T0 + MINUTE
        )
        .await)
        .unwrap(),
        0,
        "not expired yet"
    );
    assert_eq!(
        write!(f.store, |t| limits::delete_spent_captchas(
            &mut t,
            T0 + MINUTE + 1
        )
        .await)
        .unwrap(),
        1
    );
    assert!(!write!(f.store, |t| limits::spend_captcha(
        &mut t,
        "sol2",
        T0 + 2 * MINUTE
    )
    .await)
    .unwrap());
    assert!(write!(f.store, |t| limits::spend_captcha(
        &mut t,
        "sol1",
        T0 + MINUTE
    )
    .await)
    .unwrap());
}

async fn mail_queue_claims_with_a_lease(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let lease = MINUTE;
    assert_eq!(mail::pending(&mut c).await.unwrap(), 0);

    let m1 = write!(f.store, |tx| mail::enqueue(
        &mut tx,
        "a@example.com",
        "S1",
        "text 1",
        "<p>1</p>",
        T0
    )
    .await)
    .unwrap();
    let m2 = write!(f.store, |tx| mail::enqueue(
        &mut tx,
        "b@example.com",
        "S2",
        "text 2",
        "<p>2</p>",
        T0 + 10
    )
    .await)
    .unwrap();
    assert_ne!(m1, m2);
    assert_eq!(mail::pending(&mut c).await.unwrap(), 2);

    // Only due mails are claimed, with their content.
    let claimed = write!(f.store, |tx| mail::claim_due(&mut tx, T0, lease, 10).await).unwrap();
    assert_eq!(claimed.len(), 1);
    let q = &claimed[0];
    assert_eq!(q.id, m1);
    assert_eq!(q.to_addr, "a@example.com");
    assert_eq!(q.subject, "S1");
    assert_eq!(q.text_body, "text 1");
    assert_eq!(q.html_body, "<p>1</p>");
    assert_eq!(q.attempts, 0);

    // A claimed mail is not claimable again until its lease ends.
    let claimed = write!(f.store, |tx| mail::claim_due(&mut tx, T0 + 10, lease, 10)
        .await)
    .unwrap();
    assert_eq!(claimed.iter().map(|m| &m.id).collect::<Vec<_>>(), [&m2]);
    assert!(write!(f.store, |tx| mail::claim_due(
        &mut tx,
        T0 + lease - 1,
        lease,
        10
    )
    .await)
    .unwrap()
    .is_empty());
    assert_eq!(
        mail::pending(&mut c).await.unwrap(),
        2,
        "claimed still pending"
    );

    // Rescheduling counts the attempt, ends the lease and sets the next time.
    write!(f.store, |tx| mail::reschedule(
        &mut tx,
        &m1,
        T0 + 5 * lease,
        "421 try again later"
    )
    .await)
    .unwrap();
    assert!(write!(f.store, |tx| mail::claim_due(
        &mut tx,
        T0 + lease,
        lease,
        10
    )
    .await)
    .unwrap()
    .is_empty());

    // Once both are due: oldest due first, up to the limit.
    let t = T0 + 5 * lease;
    let claimed = write!(f.store, |tx| mail::claim_due(&mut tx, t, lease, 1).await).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((&claimed[0].id, claimed[0].attempts), (&m2, 0));
    let claimed = write!(f.store, |tx| mail::claim_due(&mut tx, t, lease, 10).await).unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((&claimed[0].id, claimed[0].attempts), (&m1, 1));
    assert!(
        write!(f.store, |tx| mail::claim_due(&mut tx, t, lease, 10).await)
            .unwrap()
            .is_empty()
    );

    write!(f.store, |tx| mail::delete(&mut tx, &m2).await).unwrap();
    assert_eq!(mail::pending(&mut c).await.unwrap(), 1);
    write!(f.store, |tx| mail::delete(&mut tx, &m1).await).unwrap();
    write!(f.store, |tx| mail::delete(&mut tx, "no-such-mail").await).unwrap();
    assert_eq!(mail::pending(&mut c).await.unwrap(), 0);
    assert!(
        write!(f.store, |tx| mail::claim_due(&mut tx, t + DAY, lease, 10)
            .await)
        .unwrap()
        .is_empty()
    );
}

/// What [`write_everything`] wrote, to look for afterwards.
struct Written {
    user_id: String,
}

/// One write through every module that writes, in the transaction `c`.
async fn write_everything(c: &mut Tx) -> Written {
    let u = insert_user(c, "ada").await;
    users::remember_device(c, &u.id, "device", T0)
        .await
        .unwrap();
    sessions::insert(
        c,
        &new_session("s1", &u.id, "session-hash", false, T0 + HOUR),
        T0,
    )
    .await
    .unwrap();
    tokens::insert(
        c,
        "token-hash",
        &u.id,
        Purpose::VerifyEmail,
        None,
        T0,
        T0 + HOUR,
    )
    .await
    .unwrap();
    api_keys::insert(c, &new_key("k1", &u.id, "key-hash"), T0)
        .await
        .unwrap();
    avatars::put(c, &u.id, "image/png", &[1, 2, 3], T0)
        .await
        .unwrap();
    let e = events::append(c, "user:ada", Some(&u.id), "k", "{}", T0)
        .await
        .unwrap();
    assert_eq!(e.seq, 1);
    events::insert_notification(c, &u.id, &e.id, "k", "hello", T0)
        .await
        .unwrap();
    mail::enqueue(c, "ada@example.com", "S", "t", "h", T0)
        .await
        .unwrap();
    assert_eq!(limits::hit(c, "ip:1", T0).await.unwrap(), 1);
    assert!(limits::spend_captcha(c, "solution", T0 + HOUR)
        .await
        .unwrap());
    // The transaction reads its own writes.
    assert!(users::by_id(c, &u.id).await.unwrap().is_some());
    assert!(sessions::by_token_hash(c, "session-hash", T0)
        .await
        .unwrap()
        .is_some());
    Written { user_id: u.id }
}

async fn assert_written(store: &Store, c: &mut Conn, w: &Written) {
    assert!(users::by_id(c, &w.user_id).await.unwrap().is_some());
    assert!(users::by_username_key(c, "ada").await.unwrap().is_some());
    assert!(users::has_devices(c, &w.user_id).await.unwrap());
    assert!(sessions::by_token_hash(c, "session-hash", T0)
        .await
        .unwrap()
        .is_some());
    assert!(tokens::peek(c, "token-hash", Purpose::VerifyEmail, T0)
        .await
        .unwrap()
        .is_some());
    assert!(api_keys::by_hash(c, "key-hash", T0)
        .await
        .unwrap()
        .is_some());
    assert!(avatars::get(c, &w.user_id).await.unwrap().is_some());
    assert_eq!(
        seqs(&events::since(c, "user:ada", 0, 10).await.unwrap()),
        [1]
    );
    assert_eq!(events::unread_count(c, &w.user_id).await.unwrap(), 1);
    assert_eq!(mail::pending(c).await.unwrap(), 1);
    assert_eq!(limits::peek(c, "ip:1", T0).await.unwrap(), 1);
    assert!(!write!(store, |t| limits::spend_captcha(
        &mut t,
        "solution",
        T0 + HOUR
    )
    .await)
    .unwrap());
}

async fn assert_nothing_written(store: &Store, c: &mut Conn, w: &Written) {
    assert!(users::by_id(c, &w.user_id).await.unwrap().is_none());
    assert!(users::by_username_key(c, "ada").await.unwrap().is_none());
    assert!(users::by_email_key(c, "ada@example.com")
        .await
        .unwrap()
        .is_none());
    assert!(!users::has_devices(c, &w.user_id).await.unwrap());
    assert!(sessions::by_token_hash(c, "session-hash", T0)
        .await
        .unwrap()
        .is_none());
    assert!(tokens::peek(c, "token-hash", Purpose::VerifyEmail, T0)
        .await
        .unwrap()
        .is_none());
    assert!(api_keys::by_hash(c, "key-hash", T0)
        .await
        .unwrap()
        .is_none());
    assert!(avatars::get(c, &w.user_id).await.unwrap().is_none());
    assert!(events::since(c, "user:ada", 0, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(events::unread_count(c, &w.user_id).await.unwrap(), 0);
    assert_eq!(mail::pending(c).await.unwrap(), 0);
    assert_eq!(limits::peek(c, "ip:1", T0).await.unwrap(), 0);
    // Counts everything spent; nothing is there to delete.
    assert_eq!(
        write!(store, |t| limits::delete_spent_captchas(&mut t, i64::MAX)
            .await)
        .unwrap(),
        0
    );
}

/// After nothing stuck, the same writes succeed (keys free, the event counter
/// back at zero) and a commit makes them visible to other connections.
async fn write_again_and_commit(store: &Store) {
    let mut tx = store.begin().await.unwrap();
    let w = write_everything(&mut tx).await;
    tx.commit().await.unwrap();
    let mut c = store.conn().await.unwrap();
    assert_written(store, &mut c, &w).await;
}

async fn rolled_back_transaction_leaves_nothing(db: Db) {
    let f = open(db).await;
    let mut tx = f.store.begin().await.unwrap();
    let w = write_everything(&mut tx).await;
    tx.rollback().await.unwrap();
    let mut c = f.store.conn().await.unwrap();
    assert_nothing_written(&f.store, &mut c, &w).await;
    drop(c);

    // A unique violation inside a transaction is reported the same way, and
    // rolling back leaves nothing of it either.
    let mut tx = f.store.begin().await.unwrap();
    insert_user(&mut tx, "ada").await;
    let err = users::insert(
        &mut tx,
        &NewUser {
            username: "ADA",
            username_key: "ada",
            email: "x@example.com",
            email_key: "x@example.com",
            password_hash: "h",
        },
        T0,
    )
    .await
    .expect_err("duplicate");
    assert!(
        store::is_unique_violation(&err, "users_username_key"),
        "{err}"
    );
    tx.rollback().await.unwrap();
    let mut c = f.store.conn().await.unwrap();
    assert!(users::by_username_key(&mut c, "ada")
        .await
        .unwrap()
        .is_none());
    drop(c);

    write_again_and_commit(&f.store).await;

    // A closed store hands out no more connections.
    f.store.close().await;
    assert!(f.store.conn().await.is_err());
}

async fn dropped_transaction_leaves_nothing(db: Db) {
    let f = open(db).await;
    let mut tx = f.store.begin().await.unwrap();
    let w = write_everything(&mut tx).await;
    drop(tx);
    let mut c = f.store.conn().await.unwrap();
    assert_nothing_written(&f.store, &mut c, &w).await;
    drop(c);
    write_again_and_commit(&f.store).await;
}

async fn typed_events_and_the_last_number_of_a_scope(db: Db) {
    use postroom_core::{Stored, TeamEvent};
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    assert_eq!(events::last_seq(&mut c, "team:t").await.unwrap(), 0);
    let renamed = TeamEvent::Renamed {
        from: "Acme".into(),
        to: "Acme Labs".into(),
    };
    let row = write!(f.store, |t| events::record(
        &mut t, "team:t", None, &renamed, T0
    )
    .await)
    .unwrap();
    assert_eq!((row.seq, row.kind.as_str()), (1, "renamed"));
    assert_eq!(TeamEvent::from_stored(&row.kind, &row.data), Some(renamed));
    write!(f.store, |t| events::append(
        &mut t, "team:t", None, "k", "{}", T0
    )
    .await)
    .unwrap();
    assert_eq!(events::last_seq(&mut c, "team:t").await.unwrap(), 2);
    assert_eq!(events::last_seq(&mut c, "team:other").await.unwrap(), 0);
    // A rolled-back event leaves the number where it was.
    write!(f.store, |t| {
        events::append(&mut t, "team:t", None, "k", "{}", T0)
            .await
            .unwrap();
        Err::<(), _>(sqlx::Error::RowNotFound)
    })
    .unwrap_err();
    assert_eq!(events::last_seq(&mut c, "team:t").await.unwrap(), 2);
}

async fn support_requests_are_listed_newest_first_per_person(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada").await;
    let bob = add_user(&f.store, "bob").await;
    for (id, user, subject) in [
        ("01-a", &ada.id, "first"),
        ("02-b", &bob.id, "bob's"),
        ("03-a", &ada.id, "second"),
    ] {
        let row = write!(f.store, |t| support::insert(
            &mut t, id, user, "bug", subject, "body", T0
        )
        .await)
        .unwrap();
        assert_eq!(
            (row.status.as_str(), row.subject.as_str()),
            ("open", subject)
        );
    }
    let own = support::list_own(&mut c, &ada.id, 10).await.unwrap();
    assert_eq!(
        own.iter().map(|r| r.subject.as_str()).collect::<Vec<_>>(),
        ["second", "first"]
    );
    assert_eq!(
        support::list_own(&mut c, &ada.id, 1).await.unwrap().len(),
        1
    );
    assert_eq!(
        support::list_own(&mut c, &bob.id, 10).await.unwrap().len(),
        1
    );
}

async fn onboarding_deletion_lock_and_relaxed_writes(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada").await;
    assert_eq!(ada.onboarded_at, None);
    // The first completion counts; a second does not move it.
    write!(f.store, |t| users::mark_onboarded(&mut t, &ada.id, T0 + 1)
        .await)
    .unwrap();
    write!(f.store, |t| users::mark_onboarded(&mut t, &ada.id, T0 + 2)
        .await)
    .unwrap();
    assert_eq!(user(&mut c, &ada.id).await.onboarded_at, Some(T0 + 1));
    // The deletion lock finds the account, or says it is gone.
    assert!(write!(f.store, |t| users::lock_for_deletion(&mut t, &ada.id).await).unwrap());
    assert!(
        !write!(f.store, |t| users::lock_for_deletion(&mut t, "nobody")
            .await)
        .unwrap()
    );
    // A relaxed transaction commits like any other.
    let mut tx = f.store.begin_relaxed().await.unwrap();
    let s = sessions::insert(
        &mut tx,
        &NewSession {
            id: "s1",
            user_id: &ada.id,
            token_hash: "h1",
            keep_signed_in: false,
            user_agent: None,
            ip: None,
            expires_at: T0 + HOUR,
            label: None,
        },
        T0,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(sessions::by_token_hash(&mut c, "h1", T0)
        .await
        .unwrap()
        .is_some_and(|row| row.id == s.id));
}

async fn items_revisions_links_subscriptions_and_keys(db: Db) {
    use postroom_core::{ItemEvent, ItemKind};
    use store::items::{self, ListFilter, NewItem, OwnerId};
    use store::teams::{self, NewTeam};
    let f = open(db).await;
    let ada = add_user(&f.store, "ada").await;
    let bob = add_user(&f.store, "bob").await;
    let team = write!(f.store, |t| teams::insert(
        &mut t,
        &NewTeam {
            name: "Acme",
            slug: "acme",
            plan: "free",
            seats: 3,
            created_by: &ada.id
        },
        T0
    )
    .await)
    .unwrap();
    fn new_item<'a>(id: &'a str, owner: OwnerId<'a>, body: &'a str, by: &'a str) -> NewItem<'a> {
        NewItem {
            id,
            kind: "collection",
            owner,
            name: "C",
            body,
            key_id: None,
            by,
        }
    }
    let (ada_id, team_id) = (ada.id.as_str(), team.id.as_str());
    let mut tx = f.store.begin().await.unwrap();
    let a = items::insert(
        &mut tx,
        &new_item("item-a", OwnerId::User(ada_id), "{\"a\":1}", ada_id),
        T0,
    )
    .await
    .unwrap();
    let b = items::insert(
        &mut tx,
        &new_item("item-b", OwnerId::Team(team_id), "{\"b\":1}", ada_id),
        T0 + 1,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        (a.revision, a.size, a.owner_user_id.as_deref()),
        (1, 7, Some(ada_id))
    );
    assert_eq!(
        (b.owner_user_id.as_deref(), b.owner_team_id.as_deref()),
        (None, Some(team_id))
    );

    // A write adds a revision and makes it current; every revision stays.
    let mut tx = f.store.begin().await.unwrap();
    let locked = items::lock(&mut tx, "item-a").await.unwrap().unwrap();
    let a2 = items::update(
        &mut tx,
        &locked,
        "C2",
        "{\"a\":2}",
        Some("key-1"),
        &bob.id,
        T0 + 5,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        (
            a2.revision,
            a2.name.as_str(),
            a2.updated_by.as_deref(),
            a2.updated_at
        ),
        (2, "C2", Some(bob.id.as_str()), T0 + 5)
    );
    let mut c = f.store.conn().await.unwrap();
    assert_eq!(
        items::body(&mut c, "item-a", 1)
            .await
            .unwrap()
            .unwrap()
            .body,
        "{\"a\":1}"
    );
    let two = items::body(&mut c, "item-a", 2).await.unwrap().unwrap();
    assert_eq!(
        (two.body.as_str(), two.key_id.as_deref()),
        ("{\"a\":2}", Some("key-1"))
    );
    assert!(items::body(&mut c, "item-a", 3).await.unwrap().is_none());
    let revs = items::revisions(&mut c, "item-a", None, 10).await.unwrap();
    assert_eq!(
        revs.iter().map(|r| r.revision).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(
        items::revisions(&mut c, "item-a", Some(2), 10)
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(items::by_id(&mut c, "missing").await.unwrap().is_none());
    assert_eq!(
        items::singleton(&mut c, "collection", &OwnerId::Team(team_id))
            .await
            .unwrap()
            .unwrap()
            .id,
        "item-b"
    );
    assert!(items::singleton(&mut c, "globals", &OwnerId::User(ada_id))
        .await
        .unwrap()
        .is_none());

    // Lists: by owner, newest change first, paged, live or deleted.
    let list = |private: bool, teams: Vec<String>, deleted: bool, after: Option<(i64, String)>| {
        let store = f.store.clone();
        let user = ada.id.clone();
        async move {
            let mut c = store.conn().await.unwrap();
            items::list(
                &mut c,
                &ListFilter {
                    kind: "collection",
                    user_id: &user,
                    private,
                    team_ids: &teams,
                    deleted,
                    after: after.as_ref().map(|(at, id)| (*at, id.as_str())),
                    limit: 10,
                },
            )
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.id)
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list(true, vec![team.id.clone()], false, None).await,
        vec!["item-a", "item-b"]
    );
    assert_eq!(list(true, vec![], false, None).await, vec!["item-a"]);
    assert_eq!(
        list(false, vec![team.id.clone()], false, None).await,
        vec!["item-b"]
    );
    assert!(list(false, vec![], false, None).await.is_empty());
    assert_eq!(
        list(
            true,
            vec![team.id.clone()],
            false,
            Some((T0 + 5, "item-a".into()))
        )
        .await,
        vec!["item-b"]
    );

    // Deleting is a mark; moving changes the owner; purging is for good.
    let mut tx = f.store.begin().await.unwrap();
    let gone = items::set_deleted(&mut tx, "item-b", Some(T0 + 10), Some(&ada.id))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(gone.deleted_at, Some(T0 + 10));
    assert_eq!(
        list(true, vec![team.id.clone()], true, None).await,
        vec!["item-b"]
    );
    let mut tx = f.store.begin().await.unwrap();
    let back = items::set_deleted(&mut tx, "item-b", None, None)
        .await
        .unwrap();
    let moved = items::set_owner(&mut tx, "item-b", &OwnerId::User(ada_id), &ada.id, T0 + 11)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        (
            back.deleted_at,
            moved.owner_user_id.as_deref(),
            moved.owner_team_id
        ),
        (None, Some(ada_id), None)
    );

    // Subscriptions: idempotent, per person.
    let mut tx = f.store.begin().await.unwrap();
    items::subscribe(&mut tx, &bob.id, "item-a", T0)
        .await
        .unwrap();
    items::subscribe(&mut tx, &bob.id, "item-a", T0)
        .await
        .unwrap();
    items::subscribe(&mut tx, &bob.id, "item-b", T0)
        .await
        .unwrap();
    items::unsubscribe(&mut tx, &bob.id, "item-b")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        items::subscribed_among(&mut c, &bob.id, &["item-a", "item-b", "nope"])
            .await
            .unwrap(),
        vec!["item-a"]
    );
    assert!(items::subscribed_among(&mut c, &ada.id, &[])
        .await
        .unwrap()
        .is_empty());

    // The feed: events about followed items the person may see, newest first.
    let updated = ItemEvent::Updated {
        item: ItemKind::Collection,
        name: "C2".into(),
        revision: 2,
        restored_from: None,
    };
    let scope = format!("items:user:{}", ada.id);
    for at in [T0 + 20, T0 + 21] {
        write!(f.store, |t| events::record_about(
            &mut t,
            &scope,
            Some(&ada.id),
            "item-a",
            &updated,
            at
        )
        .await)
        .unwrap();
    }
    let mut tx = f.store.begin().await.unwrap();
    items::subscribe(&mut tx, &ada.id, "item-a", T0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let feed = items::feed(&mut c, &ada.id, None, 10).await.unwrap();
    assert_eq!(
        feed.iter().map(|e| e.created_at).collect::<Vec<_>>(),
        vec![T0 + 21, T0 + 20]
    );
    assert_eq!(feed[0].subject, "item-a");
    let older = items::feed(&mut c, &ada.id, Some((feed[0].created_at, &feed[0].id)), 10)
        .await
        .unwrap();
    assert_eq!(older.len(), 1);
    // Bob follows it too, but it is ada's private item: nothing for him.
    assert!(items::feed(&mut c, &bob.id, None, 10)
        .await
        .unwrap()
        .is_empty());

    // Links: live until revoked; the maker's, and a team's for its admins.
    let mut tx = f.store.begin().await.unwrap();
    let link = items::insert_link(&mut tx, "link-1", "item-a", &ada.id, T0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        items::link(&mut c, "link-1")
            .await
            .unwrap()
            .unwrap()
            .item_id,
        link.item_id
    );
    assert_eq!(items::count_links(&mut c, "item-a").await.unwrap(), 1);
    assert_eq!(
        items::links_for(&mut c, &ada.id, &[]).await.unwrap().len(),
        1
    );
    assert!(
        items::links_for(&mut c, &bob.id, std::slice::from_ref(&team.id))
            .await
            .unwrap()
            .is_empty()
    );
    let mut tx = f.store.begin().await.unwrap();
    assert!(items::revoke_link(&mut tx, "link-1", T0 + 1).await.unwrap());
    assert!(!items::revoke_link(&mut tx, "link-1", T0 + 2).await.unwrap());
    tx.commit().await.unwrap();
    assert!(items::link(&mut c, "link-1").await.unwrap().is_none());
    assert_eq!(items::count_links(&mut c, "item-a").await.unwrap(), 0);

    // Data keys: the newest per owner; any one, to check at start.
    assert!(items::any_data_key(&mut c).await.unwrap().is_none());
    let mut tx = f.store.begin().await.unwrap();
    items::insert_data_key(
        &mut tx,
        "dk-1",
        &OwnerId::Team(team_id),
        "wrapped",
        "kek-1",
        T0,
    )
    .await
    .unwrap();
    items::insert_data_key(
        &mut tx,
        "dk-2",
        &OwnerId::Team(team_id),
        "wrapped2",
        "kek-1",
        T0 + 1,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        items::data_key(&mut c, &OwnerId::Team(team_id))
            .await
            .unwrap()
            .unwrap()
            .id,
        "dk-2"
    );
    assert!(items::data_key(&mut c, &OwnerId::User(ada_id))
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        items::data_key_by_id(&mut c, "dk-1")
            .await
            .unwrap()
            .unwrap()
            .wrapped,
        "wrapped"
    );
    assert!(items::any_data_key(&mut c).await.unwrap().is_some());

    // Purging takes what was deleted before the cut, with its revisions and links.
    let mut tx = f.store.begin().await.unwrap();
    items::set_deleted(&mut tx, "item-a", Some(T0 + 30), Some(&ada.id))
        .await
        .unwrap();
    assert_eq!(items::purge_deleted(&mut tx, T0 + 30).await.unwrap(), 0);
    assert_eq!(items::purge_deleted(&mut tx, T0 + 31).await.unwrap(), 1);
    tx.commit().await.unwrap();
    assert!(items::by_id(&mut c, "item-a").await.unwrap().is_none());
    assert!(items::body(&mut c, "item-a", 1).await.unwrap().is_none());
    assert!(items::subscribed_among(&mut c, &bob.id, &["item-a"])
        .await
        .unwrap()
        .is_empty());
    // The owner's account goes: its items go with it, a data key stays.
    let mut tx = f.store.begin().await.unwrap();
    users::delete(&mut tx, &ada.id).await.unwrap();
    tx.commit().await.unwrap();
    assert!(items::by_id(&mut c, "item-b").await.unwrap().is_none());
}

fn code_request<'a>(id: &'a str, user_id: &'a str, expires_at: i64) -> oauth::NewCodeRequest<'a> {
    oauth::NewCodeRequest {
        id,
        client_id: "postroom-cli",
        device_name: Some("ada-laptop"),
        redirect_uri: "http://127.0.0.1:4000/cb",
        code_challenge: "challenge",
        state: Some("xyz"),
        user_id,
        expires_at,
    }
}

fn device_request<'a>(
    id: &'a str,
    device_code: &'a str,
    user_code: &'a str,
) -> oauth::NewDeviceRequest<'a> {
    oauth::NewDeviceRequest {
        id,
        client_id: "postroom-cli",
        device_name: None,
        device_code_hash: device_code,
        user_code_hash: user_code,
        interval_secs: 5,
        expires_at: T0 + 5 * MINUTE,
    }
}

async fn oauth_requests_are_decided_and_spent_once(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada").await;
    let bob = add_user(&f.store, "bob").await;
    let exp = T0 + 5 * MINUTE;

    // A code request, bound to the account shown its consent page.
    write!(f.store, |t| oauth::insert_code_request(
        &mut t,
        &code_request("r1", &ada.id, exp),
        T0
    )
    .await)
    .unwrap();
    let r1 = oauth::by_id(&mut c, "r1").await.unwrap().expect("stored");
    assert_eq!(r1.kind, oauth::KIND_CODE);
    assert_eq!(r1.status(), oauth::Status::Pending);
    assert_eq!(
        (
            r1.redirect_uri.as_deref(),
            r1.code_challenge.as_deref(),
            r1.state.as_deref()
        ),
        (
            Some("http://127.0.0.1:4000/cb"),
            Some("challenge"),
            Some("xyz")
        )
    );
    assert_eq!(
        (r1.user_id.as_deref(), r1.created_at, r1.expires_at),
        (Some(ada.id.as_str()), T0, exp)
    );
    assert!(oauth::by_id(&mut c, "nope").await.unwrap().is_none());

    // Only its account decides it, only before it expires, only once.
    assert!(!write!(f.store, |t| oauth::decide(
        &mut t,
        "r1",
        &bob.id,
        true,
        Some("c1"),
        T0
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| oauth::decide(
        &mut t,
        "r1",
        &ada.id,
        true,
        Some("c1"),
        exp
    )
    .await)
    .unwrap());
    assert!(oauth::by_code_hash(&mut c, "c1").await.unwrap().is_none());
    assert!(write!(f.store, |t| oauth::decide(
        &mut t,
        "r1",
        &ada.id,
        true,
        Some("c1"),
        exp - 1
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| oauth::decide(
        &mut t, "r1", &ada.id, false, None, T0
    )
    .await)
    .unwrap());
    let r1 = oauth::by_code_hash(&mut c, "c1")
        .await
        .unwrap()
        .expect("found by its code");
    assert_eq!(
        (r1.id.as_str(), r1.status()),
        ("r1", oauth::Status::Approved)
    );

    // Spent once, on the session it gave, and only before it expires.
    assert!(!write!(f.store, |t| oauth::claim(&mut t, "r1", "s1", exp).await).unwrap());
    assert!(write!(f.store, |t| oauth::claim(&mut t, "r1", "s1", T0).await).unwrap());
    assert!(!write!(f.store, |t| oauth::claim(&mut t, "r1", "s2", T0).await).unwrap());
    let r1 = oauth::by_id(&mut c, "r1").await.unwrap().unwrap();
    assert_eq!(
        (r1.status(), r1.session_id.as_deref()),
        (oauth::Status::Used, Some("s1"))
    );

    // A device request: found by either code; user codes are unique.
    write!(f.store, |t| oauth::insert_device_request(
        &mut t,
        &device_request("d1", "dc1", "uc1"),
        T0
    )
    .await)
    .unwrap();
    let err = write!(f.store, |t| oauth::insert_device_request(
        &mut t,
        &device_request("d2", "dc2", "uc1"),
        T0
    )
    .await)
    .expect_err("user codes are unique");
    assert!(
        store::is_unique_violation(&err, "oauth_requests_user_code_hash"),
        "{err}"
    );
    let d1 = oauth::by_user_code_hash(&mut c, "uc1")
        .await
        .unwrap()
        .expect("by user code");
    assert_eq!(
        (
            d1.kind.as_str(),
            d1.user_id,
            d1.interval_secs,
            d1.last_polled_at
        ),
        (oauth::KIND_DEVICE, None, 5, None)
    );
    assert_eq!(
        oauth::by_device_code_hash(&mut c, "dc1")
            .await
            .unwrap()
            .unwrap()
            .id,
        "d1"
    );
    assert!(oauth::by_device_code_hash(&mut c, "dc2")
        .await
        .unwrap()
        .is_none());
    write!(f.store, |t| oauth::polled(&mut t, "d1", T0 + 1000, 10)
        .await)
    .unwrap();
    let d1 = oauth::by_id(&mut c, "d1").await.unwrap().unwrap();
    assert_eq!((d1.interval_secs, d1.last_polled_at), (10, Some(T0 + 1000)));
    // Any account may decide a device request; it is then that account's.
    assert!(write!(f.store, |t| oauth::decide(
        &mut t, "d1", &bob.id, true, None, T0
    )
    .await)
    .unwrap());
    let d1 = oauth::by_id(&mut c, "d1").await.unwrap().unwrap();
    assert_eq!(
        (d1.status(), d1.user_id.as_deref()),
        (oauth::Status::Approved, Some(bob.id.as_str()))
    );

    // A changed password voids what the account approved but did not spend.
    write!(f.store, |t| oauth::insert_device_request(
        &mut t,
        &device_request("d3", "dc3", "uc3"),
        T0
    )
    .await)
    .unwrap();
    assert_eq!(
        write!(f.store, |t| oauth::void_for_user(&mut t, &bob.id).await).unwrap(),
        1
    );
    assert_eq!(
        oauth::by_id(&mut c, "d1").await.unwrap().unwrap().status(),
        oauth::Status::Denied
    );
    assert_eq!(
        oauth::by_id(&mut c, "d3").await.unwrap().unwrap().status(),
        oauth::Status::Pending
    );
    assert_eq!(
        oauth::by_id(&mut c, "r1").await.unwrap().unwrap().status(),
        oauth::Status::Used
    );

    // Expired requests go, the others stay.
    write!(f.store, |t| oauth::insert_code_request(
        &mut t,
        &code_request("r2", &ada.id, exp + MINUTE),
        T0
    )
    .await)
    .unwrap();
    assert_eq!(
        write!(f.store, |t| oauth::delete_expired(&mut t, exp).await).unwrap(),
        0
    );
    assert_eq!(
        write!(f.store, |t| oauth::delete_expired(&mut t, exp + 1).await).unwrap(),
        3
    );
    assert!(oauth::by_id(&mut c, "r2").await.unwrap().is_some());
    // Deleting an account deletes its requests.
    write!(f.store, |t| users::delete(&mut t, &ada.id).await).unwrap();
    assert!(oauth::by_id(&mut c, "r2").await.unwrap().is_none());

    // A session keeps the label it was given.
    let s = write!(f.store, |tx| sessions::insert(
        &mut tx,
        &NewSession {
            label: Some("postroom CLI on ada-laptop"),
            ..new_session("s9", &bob.id, "h9", true, T0 + HOUR)
        },
        T0,
    )
    .await)
    .unwrap();
    assert_eq!(s.label.as_deref(), Some("postroom CLI on ada-laptop"));
    let found = sessions::by_token_hash(&mut c, "h9", T0)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.label.as_deref(), Some("postroom CLI on ada-laptop"));
}

async fn two_factor_steps_codes_and_challenges_are_spent_once(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada").await;
    let bob = add_user(&f.store, "bob").await;

    // A setup is pending until confirmed, and may begin again meanwhile.
    assert!(two_factor::totp(&mut c, &ada.id).await.unwrap().is_none());
    assert!(write!(f.store, |t| two_factor::put_pending(
        &mut t, &ada.id, "s1", "k1", T0
    )
    .await)
    .unwrap());
    assert!(write!(f.store, |t| two_factor::put_pending(
        &mut t,
        &ada.id,
        "s2",
        "k1",
        T0 + 1
    )
    .await)
    .unwrap());
    let row = two_factor::totp(&mut c, &ada.id).await.unwrap().unwrap();
    assert_eq!((row.secret.as_str(), row.confirmed_at), ("s2", None));
    assert!(!two_factor::enabled(&mut c, &ada.id).await.unwrap());
    // A step is not taken before it is on.
    assert!(!write!(f.store, |t| two_factor::use_step(&mut t, &ada.id, 5).await).unwrap());

    assert!(write!(f.store, |t| two_factor::confirm(
        &mut t,
        &ada.id,
        10,
        T0 + 2
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| two_factor::confirm(
        &mut t,
        &ada.id,
        11,
        T0 + 3
    )
    .await)
    .unwrap());
    assert!(two_factor::enabled(&mut c, &ada.id).await.unwrap());
    // Once on, a new setup does not replace the secret.
    assert!(!write!(f.store, |t| two_factor::put_pending(
        &mut t,
        &ada.id,
        "s3",
        "k1",
        T0 + 4
    )
    .await)
    .unwrap());
    assert_eq!(
        two_factor::totp(&mut c, &ada.id)
            .await
            .unwrap()
            .unwrap()
            .secret,
        "s2"
    );

    // Steps only go forward.
    assert!(!write!(f.store, |t| two_factor::use_step(&mut t, &ada.id, 10).await).unwrap());
    assert!(!write!(f.store, |t| two_factor::use_step(&mut t, &ada.id, 9).await).unwrap());
    assert!(write!(f.store, |t| two_factor::use_step(&mut t, &ada.id, 11).await).unwrap());
    assert!(!write!(f.store, |t| two_factor::use_step(&mut t, &ada.id, 11).await).unwrap());

    // Recovery codes: each once, and only the owner's; replacing drops the old.
    let codes = vec!["h1".to_owned(), "h2".to_owned()];
    write!(f.store, |t| two_factor::replace_recovery_codes(
        &mut t, &ada.id, &codes, T0
    )
    .await)
    .unwrap();
    assert_eq!(
        two_factor::recovery_codes_left(&mut c, &ada.id)
            .await
            .unwrap(),
        2
    );
    assert!(!write!(f.store, |t| two_factor::use_recovery_code(
        &mut t, &bob.id, "h1", T0
    )
    .await)
    .unwrap());
    assert!(write!(f.store, |t| two_factor::use_recovery_code(
        &mut t, &ada.id, "h1", T0
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| two_factor::use_recovery_code(
        &mut t, &ada.id, "h1", T0
    )
    .await)
    .unwrap());
    assert_eq!(
        two_factor::recovery_codes_left(&mut c, &ada.id)
            .await
            .unwrap(),
        1
    );
    let fresh = vec!["h3".to_owned()];
    write!(f.store, |t| two_factor::replace_recovery_codes(
        &mut t, &ada.id, &fresh, T0
    )
    .await)
    .unwrap();
    assert!(!write!(f.store, |t| two_factor::use_recovery_code(
        &mut t, &ada.id, "h2", T0
    )
    .await)
    .unwrap());
    assert_eq!(
        two_factor::recovery_codes_left(&mut c, &ada.id)
            .await
            .unwrap(),
        1
    );

    // Challenges: live until they expire, failures counted, ended once.
    write!(f.store, |t| two_factor::insert_challenge(
        &mut t,
        "ch1",
        &ada.id,
        true,
        T0,
        T0 + 5 * MINUTE
    )
    .await)
    .unwrap();
    let ch = two_factor::challenge(&mut c, "ch1", T0)
        .await
        .unwrap()
        .expect("live");
    assert_eq!(
        (ch.user_id.as_str(), ch.keep_signed_in, ch.failures),
        (ada.id.as_str(), 1, 0)
    );
    assert!(two_factor::challenge(&mut c, "ch1", T0 + 5 * MINUTE)
        .await
        .unwrap()
        .is_none());
    assert!(two_factor::challenge(&mut c, "other", T0)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        write!(f.store, |t| two_factor::challenge_failed(&mut t, &ch.id)
            .await)
        .unwrap(),
        1
    );
    assert_eq!(
        write!(f.store, |t| two_factor::challenge_failed(&mut t, &ch.id)
            .await)
        .unwrap(),
        2
    );
    assert!(
        write!(f.store, |t| two_factor::delete_challenge(&mut t, &ch.id)
            .await)
        .unwrap()
    );
    assert!(
        !write!(f.store, |t| two_factor::delete_challenge(&mut t, &ch.id)
            .await)
        .unwrap()
    );
    write!(f.store, |t| two_factor::insert_challenge(
        &mut t,
        "ch2",
        &bob.id,
        false,
        T0,
        T0 + MINUTE
    )
    .await)
    .unwrap();
    assert_eq!(
        write!(f.store, |t| two_factor::delete_expired_challenges(
            &mut t,
            T0 + MINUTE
        )
        .await)
        .unwrap(),
        1
    );

    // Turning it off takes the secret and the codes.
    assert!(write!(f.store, |t| two_factor::delete(&mut t, &ada.id).await).unwrap());
    assert!(!write!(f.store, |t| two_factor::delete(&mut t, &ada.id).await).unwrap());
    assert!(!two_factor::enabled(&mut c, &ada.id).await.unwrap());
    assert_eq!(
        two_factor::recovery_codes_left(&mut c, &ada.id)
            .await
            .unwrap(),
        0
    );
}

fn passkey<'a>(id: &'a str, user_id: &'a str, credential_id: &'a str) -> passkeys::NewPasskey<'a> {
    passkeys::NewPasskey {
        id,
        user_id,
        credential_id,
        name: "Laptop",
        credential: "{}",
        sign_count: 0,
    }
}

async fn passkeys_are_owned_unique_and_ceremonies_serve_once(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada").await;
    let bob = add_user(&f.store, "bob").await;

    let p1 = write!(f.store, |t| passkeys::insert(
        &mut t,
        &passkey("p1", &ada.id, "cred1"),
        T0
    )
    .await)
    .unwrap();
    assert_eq!(
        (
            p1.name.as_str(),
            p1.created_at,
            p1.last_used_at,
            p1.sign_count
        ),
        ("Laptop", T0, None, 0)
    );
    write!(f.store, |t| passkeys::insert(
        &mut t,
        &passkey("p2", &ada.id, "cred2"),
        T0 + 1
    )
    .await)
    .unwrap();
    // A credential id is registered once, whoever asks.
    let taken = write!(f.store, |t| passkeys::insert(
        &mut t,
        &passkey("p3", &bob.id, "cred1"),
        T0
    )
    .await)
    .unwrap_err();
    assert!(
        store::is_unique_violation(&taken, "passkeys_credential_id"),
        "{taken}"
    );
    assert_eq!(passkeys::count(&mut c, &ada.id).await.unwrap(), 2);
    assert_eq!(passkeys::count(&mut c, &bob.id).await.unwrap(), 0);
    let names: Vec<String> = passkeys::list(&mut c, &ada.id)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(names, ["p1", "p2"]);
    let found = passkeys::by_credential_id(&mut c, "cred2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.id.as_str(), found.user_id.as_str()),
        ("p2", ada.id.as_str())
    );
    assert!(passkeys::by_credential_id(&mut c, "nope")
        .await
        .unwrap()
        .is_none());

    // A use moves the counter forward only, and always notes the time.
    write!(f.store, |t| passkeys::record_use(
        &mut t,
        "p1",
        "{\"n\":5}",
        5,
        T0 + HOUR
    )
    .await)
    .unwrap();
    write!(f.store, |t| passkeys::record_use(
        &mut t,
        "p1",
        "{\"n\":3}",
        3,
        T0 + 2 * HOUR
    )
    .await)
    .unwrap();
    let p1 = passkeys::by_credential_id(&mut c, "cred1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (p1.sign_count, p1.credential.as_str(), p1.last_used_at),
        (5, "{\"n\":5}", Some(T0 + 2 * HOUR))
    );

    // Renamed and removed by their owner only.
    assert!(
        !write!(f.store, |t| passkeys::rename(&mut t, &bob.id, "p1", "Mine")
            .await)
        .unwrap()
    );
    assert!(
        write!(f.store, |t| passkeys::rename(&mut t, &ada.id, "p1", "Work")
            .await)
        .unwrap()
    );
    assert_eq!(
        write!(f.store, |t| passkeys::delete(&mut t, &bob.id, "p1").await).unwrap(),
        None
    );
    assert_eq!(
        write!(f.store, |t| passkeys::delete(&mut t, &ada.id, "p1").await)
            .unwrap()
            .as_deref(),
        Some("Work")
    );
    assert_eq!(
        write!(f.store, |t| passkeys::delete(&mut t, &ada.id, "p1").await).unwrap(),
        None
    );
    let left = passkeys::list(&mut c, &ada.id).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].name, "Laptop");

    // A ceremony is taken once; expired ones are swept.
    let live = passkeys::NewCeremony {
        id_hash: "h1",
        kind: "register",
        user_id: Some(&ada.id),
        session_id: Some("s1"),
        state: "{}",
        expires_at: T0 + 5 * MINUTE,
    };
    write!(f.store, |t| passkeys::insert_ceremony(&mut t, &live, T0)
        .await)
    .unwrap();
    let old = passkeys::NewCeremony {
        id_hash: "h2",
        kind: "sign_in",
        user_id: None,
        session_id: None,
        state: "{}",
        expires_at: T0 + MINUTE,
    };
    write!(f.store, |t| passkeys::insert_ceremony(&mut t, &old, T0)
        .await)
    .unwrap();
    let taken = write!(f.store, |t| passkeys::take_ceremony(&mut t, "h1").await)
        .unwrap()
        .expect("the ceremony");
    assert_eq!(
        (
            taken.kind.as_str(),
            taken.user_id.as_deref(),
            taken.session_id.as_deref(),
            taken.state.as_str(),
            taken.created_at,
            taken.expires_at
        ),
        (
            "register",
            Some(ada.id.as_str()),
            Some("s1"),
            "{}",
            T0,
            T0 + 5 * MINUTE
        )
    );
    assert!(
        write!(f.store, |t| passkeys::take_ceremony(&mut t, "h1").await)
            .unwrap()
            .is_none()
    );
    assert_eq!(
        write!(f.store, |t| passkeys::delete_expired_ceremonies(
            &mut t,
            T0 + MINUTE
        )
        .await)
        .unwrap(),
        1
    );
    assert!(
        write!(f.store, |t| passkeys::take_ceremony(&mut t, "h2").await)
            .unwrap()
            .is_none()
    );

    // They go with their account.
    write!(f.store, |t| users::delete(&mut t, &ada.id).await).unwrap();
    assert!(passkeys::by_credential_id(&mut c, "cred2")
        .await
        .unwrap()
        .is_none());
}

/// A team for the billing tables that name one (subscriptions, cards,
/// quotes), made by `creator`.
async fn add_team(store: &Store, slug: &str, creator: &UserRow) -> teams::TeamRow {
    write!(store, |t| teams::insert(
        &mut t,
        &teams::NewTeam {
            name: &slug.to_uppercase(),
            slug,
            plan: "free",
            seats: 3,
            created_by: &creator.id,
        },
        T0,
    )
    .await)
    .expect("insert a team")
}

fn subscription(team_id: &str, status: &str, period_end: i64) -> billing::SubscriptionRow {
    billing::SubscriptionRow {
        team_id: team_id.to_owned(),
        plan: "pro".into(),
        cycle: "month".into(),
        seats: 5,
        unit_price: 1200,
        currency: "usd".into(),
        status: status.into(),
        anchor: T0,
        period_start: T0,
        period_end,
        cancel_at_period_end: 0,
        trial_ends_at: None,
        created_at: T0,
        updated_at: T0,
    }
}

fn entry<'a>(team_id: &'a str, amount: i64, source: &'a str) -> billing::NewEntry<'a> {
    billing::NewEntry {
        team_id,
        amount,
        currency: "usd",
        kind: "top_up",
        description: "Top-up",
        source,
        invoice_id: None,
        created_by: None,
    }
}

fn card(id: &str, team_id: &str, provider_id: &str, created_at: i64) -> billing::CardRow {
    billing::CardRow {
        id: id.into(),
        team_id: team_id.into(),
        provider_id: provider_id.into(),
        brand: "visa".into(),
        last4: "4242".into(),
        exp_month: 12,
        exp_year: 2030,
        is_default: 0,
        created_at,
    }
}

fn card_ids(cards: &[billing::CardRow]) -> Vec<(&str, i64)> {
    cards
        .iter()
        .map(|c| (c.id.as_str(), c.is_default))
        .collect()
}

async fn billing_accounts_subscriptions_ledger_and_cards(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada").await;
    let acme = add_team(&f.store, "acme", &ada).await;
    let globex = add_team(&f.store, "globex", &ada).await;
    let initech = add_team(&f.store, "initech", &ada).await;

    // Billing accounts: made on first use, the first call's values kept.
    assert!(billing::account(&mut c, &acme.id).await.unwrap().is_none());
    let a = write!(f.store, |t| billing::ensure_account(
        &mut t, &acme.id, "Acme", "usd", T0
    )
    .await)
    .unwrap();
    assert_eq!(
        (
            a.team_id.as_str(),
            a.team_name.as_str(),
            a.customer_id.as_deref(),
            a.billing_email.as_deref(),
            a.details.as_str(),
            a.currency.as_str(),
            a.trial_used_at,
            a.created_at,
            a.updated_at,
            a.deleted_at
        ),
        (
            acme.id.as_str(),
            "Acme",
            None,
            None,
            "{}",
            "usd",
            None,
            T0,
            T0,
            None
        )
    );
    let again = write!(f.store, |t| billing::ensure_account(
        &mut t,
        &acme.id,
        "Other",
        "eur",
        T0 + HOUR
    )
    .await)
    .unwrap();
    assert_eq!(
        (
            again.team_name.as_str(),
            again.currency.as_str(),
            again.created_at,
            again.updated_at
        ),
        ("Acme", "usd", T0, T0)
    );
    write!(f.store, |t| billing::set_customer(
        &mut t,
        &acme.id,
        "cus_1",
        T0 + 1
    )
    .await)
    .unwrap();
    write!(f.store, |t| billing::update_account(
        &mut t,
        &acme.id,
        "Acme Inc",
        Some("billing@acme.test"),
        r#"{"vat_id":"EU1"}"#,
        T0 + 2
    )
    .await)
    .unwrap();
    write!(f.store, |t| billing::mark_trial_used(
        &mut t,
        &acme.id,
        T0 + 3
    )
    .await)
    .unwrap();
    let a = billing::account(&mut c, &acme.id).await.unwrap().unwrap();
    assert_eq!(
        (
            a.team_name.as_str(),
            a.customer_id.as_deref(),
            a.billing_email.as_deref(),
            a.details.as_str(),
            a.trial_used_at,
            a.created_at,
            a.updated_at,
            a.deleted_at
        ),
        (
            "Acme Inc",
            Some("cus_1"),
            Some("billing@acme.test"),
            r#"{"vat_id":"EU1"}"#,
            Some(T0 + 3),
            T0,
            T0 + 3,
            None
        )
    );
    // The billing email may be cleared again.
    write!(f.store, |t| billing::update_account(
        &mut t,
        &acme.id,
        "Acme Inc",
        None,
        "{}",
        T0 + 4
    )
    .await)
    .unwrap();
    assert_eq!(
        billing::account(&mut c, &acme.id)
            .await
            .unwrap()
            .unwrap()
            .billing_email,
        None
    );
    // A deleted team's account stays, marked, and is not made again.
    write!(f.store, |t| billing::mark_account_deleted(
        &mut t,
        &acme.id,
        T0 + 5
    )
    .await)
    .unwrap();
    let kept = write!(f.store, |t| billing::ensure_account(
        &mut t,
        &acme.id,
        "New",
        "usd",
        T0 + 6
    )
    .await)
    .unwrap();
    assert_eq!(
        (kept.team_name.as_str(), kept.deleted_at, kept.updated_at),
        ("Acme Inc", Some(T0 + 5), T0 + 5)
    );
    // Other teams' accounts are untouched.
    assert!(billing::account(&mut c, &globex.id)
        .await
        .unwrap()
        .is_none());

    // Subscriptions: written whole, replaced whole (but when it began stays).
    assert!(billing::subscription(&mut c, &acme.id)
        .await
        .unwrap()
        .is_none());
    let s1 = subscription(&acme.id, "trialing", T0 + 14 * DAY);
    write!(f.store, |t| billing::put_subscription(&mut t, &s1).await).unwrap();
    assert_eq!(
        billing::subscription(&mut c, &acme.id).await.unwrap(),
        Some(s1.clone())
    );
    let s2 = billing::SubscriptionRow {
        plan: "business".into(),
        cycle: "year".into(),
        seats: 7,
        unit_price: 24000,
        currency: "usd".into(),
        status: "active".into(),
        anchor: T0 + DAY,
        period_start: T0 + DAY,
        period_end: T0 + 366 * DAY,
        cancel_at_period_end: 1,
        trial_ends_at: Some(T0 + 14 * DAY),
        created_at: T0 + DAY,
        updated_at: T0 + DAY,
        ..s1.clone()
    };
    write!(f.store, |t| billing::put_subscription(&mut t, &s2).await).unwrap();
    assert_eq!(
        billing::subscription(&mut c, &acme.id).await.unwrap(),
        Some(billing::SubscriptionRow {
            created_at: T0,
            ..s2.clone()
        })
    );

    // Due: the period ended by then, oldest end first, never past due.
    write!(f.store, |t| billing::put_subscription(
        &mut t,
        &subscription(&globex.id, "active", T0 + DAY)
    )
    .await)
    .unwrap();
    write!(f.store, |t| billing::put_subscription(
        &mut t,
        &subscription(&initech.id, "past_due", T0)
    )
    .await)
    .unwrap();
    assert!(billing::due_subscriptions(&mut c, T0 + DAY - 1, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        billing::due_subscriptions(&mut c, T0 + DAY, 10)
            .await
            .unwrap(),
        [globex.id.as_str()]
    );
    assert_eq!(
        billing::due_subscriptions(&mut c, T0 + 400 * DAY, 10)
            .await
            .unwrap(),
        [globex.id.as_str(), acme.id.as_str()]
    );
    assert_eq!(
        billing::due_subscriptions(&mut c, T0 + 400 * DAY, 1)
            .await
            .unwrap(),
        [globex.id.as_str()]
    );
    assert!(write!(f.store, |t| billing::delete_subscription(
        &mut t, &globex.id
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| billing::delete_subscription(
        &mut t, &globex.id
    )
    .await)
    .unwrap());
    assert!(billing::subscription(&mut c, &globex.id)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        billing::due_subscriptions(&mut c, T0 + 400 * DAY, 10)
            .await
            .unwrap(),
        [acme.id.as_str()]
    );

    // The ledger: one entry per source, the balance is the sum.
    assert_eq!(billing::balance(&mut c, &acme.id).await.unwrap(), 0);
    assert!(billing::entries(&mut c, &acme.id, 10)
        .await
        .unwrap()
        .is_empty());
    assert!(write!(f.store, |t| billing::add_entry(
        &mut t,
        &entry(&acme.id, 5000, "payment:p1"),
        T0
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| billing::add_entry(
        &mut t,
        &entry(&acme.id, 9999, "payment:p1"),
        T0 + 1
    )
    .await)
    .unwrap());
    // The source is unique across teams too.
    assert!(!write!(f.store, |t| billing::add_entry(
        &mut t,
        &entry(&globex.id, 1, "payment:p1"),
        T0 + 1
    )
    .await)
    .unwrap());
    assert!(write!(f.store, |t| billing::add_entry(
        &mut t,
        &billing::NewEntry {
            kind: "invoice",
            description: "Paid towards PR-00000001",
            invoice_id: Some("i1"),
            created_by: Some(&ada.id),
            ..entry(&acme.id, -1200, "invoice:i1:balance")
        },
        T0 + 1
    )
    .await)
    .unwrap());
    assert!(write!(f.store, |t| billing::add_entry(
        &mut t,
        &entry(&acme.id, 300, "invoice:i2:balance"),
        T0 + 2
    )
    .await)
    .unwrap());
    assert!(write!(f.store, |t| billing::add_entry(
        &mut t,
        &entry(&globex.id, 999, "payment:p9"),
        T0 + 3
    )
    .await)
    .unwrap());
    // An entry rolled back with its transaction was never there.
    {
        let mut tx = f.store.begin().await.unwrap();
        assert!(
            billing::add_entry(&mut tx, &entry(&acme.id, 7, "payment:gone"), T0)
                .await
                .unwrap()
        );
        tx.rollback().await.unwrap();
    }
    assert!(!billing::entry_exists(&mut c, "payment:gone").await.unwrap());
    assert!(billing::entry_exists(&mut c, "payment:p1").await.unwrap());
    assert!(billing::entry_exists(&mut c, "invoice:i1:balance")
        .await
        .unwrap());
    assert!(!billing::entry_exists(&mut c, "payment:nope").await.unwrap());

    assert_eq!(billing::balance(&mut c, &acme.id).await.unwrap(), 4100);
    assert_eq!(billing::balance(&mut c, &globex.id).await.unwrap(), 999);
    assert_eq!(billing::balance(&mut c, &initech.id).await.unwrap(), 0);
    let all = billing::entries(&mut c, &acme.id, 10).await.unwrap();
    assert_eq!(
        all.iter()
            .map(|e| (e.amount, e.source.as_str(), e.created_at))
            .collect::<Vec<_>>(),
        [
            (300, "invoice:i2:balance", T0 + 2),
            (-1200, "invoice:i1:balance", T0 + 1),
            (5000, "payment:p1", T0),
        ]
    );
    assert_eq!(all.iter().map(|e| e.amount).sum::<i64>(), 4100);
    let paid = &all[1];
    assert_eq!(
        (
            paid.team_id.as_str(),
            paid.currency.as_str(),
            paid.kind.as_str(),
            paid.description.as_str(),
            paid.invoice_id.as_deref(),
            paid.created_by.as_deref()
        ),
        (
            acme.id.as_str(),
            "usd",
            "invoice",
            "Paid towards PR-00000001",
            Some("i1"),
            Some(ada.id.as_str())
        )
    );
    assert_eq!(paid.id.len(), 36);
    let newest: Vec<i64> = billing::entries(&mut c, &acme.id, 2)
        .await
        .unwrap()
        .iter()
        .map(|e| e.amount)
        .collect();
    assert_eq!(newest, [300, -1200]);

    // Cards: the first is the default, and there is one default at most.
    assert!(billing::cards(&mut c, &acme.id).await.unwrap().is_empty());
    assert!(billing::default_card(&mut c, &acme.id)
        .await
        .unwrap()
        .is_none());
    for (id, provider, at) in [
        ("c1", "pm_1", T0),
        ("c2", "pm_2", T0 + 1),
        ("c3", "pm_3", T0 + 2),
    ] {
        write!(f.store, |t| billing::add_card(
            &mut t,
            &card(id, &acme.id, provider, at)
        )
        .await)
        .unwrap();
    }
    write!(f.store, |t| billing::add_card(
        &mut t,
        &card("g1", &globex.id, "pm_g1", T0)
    )
    .await)
    .unwrap();
    assert_eq!(
        card_ids(&billing::cards(&mut c, &acme.id).await.unwrap()),
        [("c1", 1), ("c3", 0), ("c2", 0)]
    );
    assert_eq!(
        billing::card(&mut c, &acme.id, "c2").await.unwrap(),
        Some(billing::CardRow {
            is_default: 0,
            ..card("c2", &acme.id, "pm_2", T0 + 1)
        })
    );
    assert!(billing::card(&mut c, &globex.id, "c2")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        billing::default_card(&mut c, &globex.id)
            .await
            .unwrap()
            .map(|c| c.id),
        Some("g1".to_owned())
    );
    // A provider's card is registered once, whichever team asks.
    let taken = write!(f.store, |t| billing::add_card(
        &mut t,
        &card("g2", &globex.id, "pm_1", T0)
    )
    .await)
    .unwrap_err();
    assert!(
        store::is_unique_violation(&taken, "cards_provider_id"),
        "{taken}"
    );
    assert!(
        !store::is_unique_violation(&taken, "ledger_entries_source"),
        "{taken}"
    );

    // The default moves to a card of the team's, and only there.
    assert!(write!(f.store, |t| billing::set_default_card(
        &mut t, &acme.id, "c2"
    )
    .await)
    .unwrap());
    assert_eq!(
        card_ids(&billing::cards(&mut c, &acme.id).await.unwrap()),
        [("c2", 1), ("c3", 0), ("c1", 0)]
    );
    assert!(!write!(f.store, |t| billing::set_default_card(
        &mut t, &acme.id, "nope"
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| billing::set_default_card(
        &mut t, &acme.id, "g1"
    )
    .await)
    .unwrap());
    assert_eq!(
        billing::default_card(&mut c, &acme.id)
            .await
            .unwrap()
            .map(|c| c.id),
        Some("c2".to_owned())
    );
    assert_eq!(
        billing::default_card(&mut c, &globex.id)
            .await
            .unwrap()
            .map(|c| c.id),
        Some("g1".to_owned())
    );

    // Removing the default makes the newest remaining card the default.
    assert!(
        !write!(f.store, |t| billing::delete_card(&mut t, &acme.id, "g1")
            .await)
        .unwrap()
    );
    assert!(
        write!(f.store, |t| billing::delete_card(&mut t, &acme.id, "c2")
            .await)
        .unwrap()
    );
    assert!(
        !write!(f.store, |t| billing::delete_card(&mut t, &acme.id, "c2")
            .await)
        .unwrap()
    );
    assert_eq!(
        card_ids(&billing::cards(&mut c, &acme.id).await.unwrap()),
        [("c3", 1), ("c1", 0)]
    );
    // Removing another card leaves the default where it is.
    assert!(
        write!(f.store, |t| billing::delete_card(&mut t, &acme.id, "c1")
            .await)
        .unwrap()
    );
    assert_eq!(
        card_ids(&billing::cards(&mut c, &acme.id).await.unwrap()),
        [("c3", 1)]
    );
    assert!(
        write!(f.store, |t| billing::delete_card(&mut t, &acme.id, "c3")
            .await)
        .unwrap()
    );
    assert!(billing::default_card(&mut c, &acme.id)
        .await
        .unwrap()
        .is_none());
    // A card added after the last one went is the default again.
    write!(f.store, |t| billing::add_card(
        &mut t,
        &card("c4", &acme.id, "pm_4", T0 + 3)
    )
    .await)
    .unwrap();
    assert_eq!(
        card_ids(&billing::cards(&mut c, &acme.id).await.unwrap()),
        [("c4", 1)]
    );
    assert_eq!(
        card_ids(&billing::cards(&mut c, &globex.id).await.unwrap()),
        [("g1", 1)]
    );
}

fn quote(id: &str, team_id: &str, expires_at: i64) -> billing::QuoteRow {
    billing::QuoteRow {
        id: id.into(),
        team_id: team_id.into(),
        user_id: None,
        plan: "pro".into(),
        cycle: "month".into(),
        seats: 5,
        unit_price: 1200,
        currency: "usd".into(),
        at: T0,
        anchor: T0,
        period_start: T0,
        period_end: T0 + 31 * DAY,
        lines: "[]".into(),
        subtotal: 6000,
        from_balance: 1000,
        from_card: 5000,
        total: 6000,
        balance: 1000,
        expires_at,
        used_at: None,
    }
}

fn invoice(
    id: &str,
    team_id: &str,
    n: i64,
    status: &str,
    next_attempt_at: Option<i64>,
) -> billing::InvoiceRow {
    billing::InvoiceRow {
        id: id.into(),
        team_id: team_id.into(),
        number: format!("PR-{n:08}"),
        kind: "renewal".into(),
        status: status.into(),
        currency: "usd".into(),
        subtotal: 6000,
        from_balance: 1000,
        from_card: 5000,
        total: 6000,
        period_start: Some(T0),
        period_end: Some(T0 + 31 * DAY),
        billing: "{}".into(),
        corrects: None,
        issued_at: T0,
        paid_at: None,
        attempts: 0,
        next_attempt_at,
        created_by: None,
    }
}

fn line(invoice_id: &str, position: i64, amount: i64) -> billing::LineRow {
    billing::LineRow {
        invoice_id: invoice_id.into(),
        position,
        description: format!("Line {position}"),
        amount,
        period_start: T0,
        period_end: T0 + 31 * DAY,
        proration: position % 2,
    }
}

fn invoice_ids(rows: &[billing::InvoiceRow]) -> Vec<&str> {
    rows.iter().map(|i| i.id.as_str()).collect()
}

fn payment(
    id: &str,
    team_id: &str,
    purpose: &str,
    status: &str,
    created_at: i64,
) -> billing::PaymentRow {
    billing::PaymentRow {
        id: id.into(),
        team_id: team_id.into(),
        purpose: purpose.into(),
        invoice_id: None,
        quote_id: None,
        amount: 5000,
        currency: "usd".into(),
        card_id: Some("c1".into()),
        card_label: Some("Visa •••• 4242".into()),
        provider_id: None,
        client_secret: None,
        status: status.into(),
        failure_code: None,
        failure_message: None,
        hard_decline: 0,
        created_by: None,
        created_at,
        updated_at: created_at,
    }
}

fn payment_ids(rows: &[billing::PaymentRow]) -> Vec<&str> {
    rows.iter().map(|p| p.id.as_str()).collect()
}

async fn billing_quotes_invoices_payments_keys_and_history(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada").await;
    let acme = add_team(&f.store, "acme", &ada).await;
    let globex = add_team(&f.store, "globex", &ada).await;

    // Quotes: spent once, released after a decline, purged once expired
    // and unused.
    let q1 = quote("q1", &acme.id, T0 + 15 * MINUTE);
    write!(f.store, |t| billing::insert_quote(&mut t, &q1).await).unwrap();
    write!(f.store, |t| billing::insert_quote(
        &mut t,
        &quote("q2", &acme.id, T0 + MINUTE)
    )
    .await)
    .unwrap();
    assert_eq!(
        billing::quote(&mut c, &acme.id, "q1").await.unwrap(),
        Some(q1.clone())
    );
    assert!(billing::quote(&mut c, &globex.id, "q1")
        .await
        .unwrap()
        .is_none());
    assert!(write!(f.store, |t| billing::use_quote(&mut t, "q1", T0 + 1).await).unwrap());
    assert!(!write!(f.store, |t| billing::use_quote(&mut t, "q1", T0 + 2).await).unwrap());
    assert!(!write!(f.store, |t| billing::use_quote(&mut t, "nope", T0).await).unwrap());
    assert_eq!(
        billing::quote(&mut c, &acme.id, "q1")
            .await
            .unwrap()
            .unwrap()
            .used_at,
        Some(T0 + 1)
    );
    write!(f.store, |t| billing::release_quote(&mut t, "q1").await).unwrap();
    assert_eq!(
        billing::quote(&mut c, &acme.id, "q1").await.unwrap(),
        Some(q1.clone())
    );
    assert!(write!(f.store, |t| billing::use_quote(&mut t, "q1", T0 + 3).await).unwrap());
    // Expired means before `before`, strictly; a used quote is kept.
    assert_eq!(
        write!(f.store, |t| billing::purge_quotes(&mut t, T0 + MINUTE)
            .await)
        .unwrap(),
        0
    );
    assert_eq!(
        write!(f.store, |t| billing::purge_quotes(&mut t, T0 + HOUR).await).unwrap(),
        1
    );
    assert!(billing::quote(&mut c, &acme.id, "q2")
        .await
        .unwrap()
        .is_none());
    assert!(billing::quote(&mut c, &acme.id, "q1")
        .await
        .unwrap()
        .is_some());
    write!(f.store, |t| billing::release_quote(&mut t, "q1").await).unwrap();
    assert_eq!(
        write!(f.store, |t| billing::purge_quotes(&mut t, T0 + HOUR).await).unwrap(),
        1
    );

    // Invoice numbers: gapless and increasing; a rolled-back transaction
    // gives its number back.
    let n1 = write!(f.store, |t| billing::next_invoice_number(&mut t).await).unwrap();
    let n2 = write!(f.store, |t| billing::next_invoice_number(&mut t).await).unwrap();
    assert_eq!((n1, n2), (1, 2));
    {
        let mut tx = f.store.begin().await.unwrap();
        assert_eq!(billing::next_invoice_number(&mut tx).await.unwrap(), 3);
        assert_eq!(billing::next_invoice_number(&mut tx).await.unwrap(), 4);
        tx.rollback().await.unwrap();
    }
    let n3 = write!(f.store, |t| billing::next_invoice_number(&mut t).await).unwrap();
    assert_eq!(n3, 3);
    // A second transaction waits for the one holding the counter, then
    // takes the next number (or the same one, if the first rolled back).
    for (commit, expected) in [(true, 5), (false, 7)] {
        let mut first = f.store.begin().await.unwrap();
        let taken = billing::next_invoice_number(&mut first).await.unwrap();
        assert_eq!(taken, expected - 1);
        let store = f.store.clone();
        let second = tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            let n = billing::next_invoice_number(&mut tx).await.unwrap();
            tx.commit().await.unwrap();
            n
        });
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(!second.is_finished(), "the counter is held by the first");
        if commit {
            first.commit().await.unwrap();
        } else {
            first.rollback().await.unwrap();
        }
        let got = second.await.unwrap();
        assert_eq!(got, if commit { expected } else { expected - 1 });
    }
    assert_eq!(
        write!(f.store, |t| billing::next_invoice_number(&mut t).await).unwrap(),
        7
    );

    // Invoices with their lines, read back in order.
    let i1 = invoice("i1", &acme.id, 1, "open", Some(T0 + DAY));
    let lines = [line("i1", 2, 300), line("i1", 0, -500), line("i1", 1, 6200)];
    write!(f.store, |t| billing::insert_invoice(&mut t, &i1, &lines)
        .await)
    .unwrap();
    let i2 = billing::InvoiceRow {
        kind: "subscription".into(),
        paid_at: Some(T0),
        created_by: Some(ada.id.clone()),
        ..invoice("i2", &acme.id, 2, "paid", None)
    };
    write!(f.store, |t| billing::insert_invoice(&mut t, &i2, &[]).await).unwrap();
    let i3 = invoice("i3", &acme.id, 3, "open", None);
    write!(f.store, |t| billing::insert_invoice(&mut t, &i3, &[]).await).unwrap();
    let i4 = invoice("i4", &globex.id, 4, "open", Some(T0));
    write!(f.store, |t| billing::insert_invoice(&mut t, &i4, &[]).await).unwrap();
    let dup = write!(f.store, |t| billing::insert_invoice(
        &mut t,
        &invoice("i5", &globex.id, 4, "open", None),
        &[]
    )
    .await)
    .unwrap_err();
    assert!(store::is_unique_violation(&dup, "invoices_number"), "{dup}");
    assert!(billing::invoice_by_id(&mut c, "i5")
        .await
        .unwrap()
        .is_none());

    assert_eq!(
        billing::invoice(&mut c, &acme.id, "i1").await.unwrap(),
        Some(i1.clone())
    );
    assert!(billing::invoice(&mut c, &globex.id, "i1")
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        billing::invoice_by_id(&mut c, "i2").await.unwrap(),
        Some(i2.clone())
    );
    let read = billing::invoice_lines(&mut c, "i1").await.unwrap();
    assert_eq!(read, [lines[1].clone(), lines[2].clone(), lines[0].clone()]);
    assert_eq!(read.iter().map(|l| l.amount).sum::<i64>(), i1.subtotal);
    assert!(billing::invoice_lines(&mut c, "i2")
        .await
        .unwrap()
        .is_empty());

    // Paged by number, newest first.
    assert_eq!(
        invoice_ids(&billing::invoices(&mut c, &acme.id, None, 10).await.unwrap()),
        ["i3", "i2", "i1"]
    );
    assert_eq!(
        invoice_ids(&billing::invoices(&mut c, &acme.id, None, 2).await.unwrap()),
        ["i3", "i2"]
    );
    assert_eq!(
        invoice_ids(
            &billing::invoices(&mut c, &acme.id, Some("PR-00000002"), 2)
                .await
                .unwrap()
        ),
        ["i1"]
    );
    assert!(billing::invoices(&mut c, &acme.id, Some("PR-00000001"), 2)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        invoice_ids(
            &billing::invoices(&mut c, &globex.id, None, 10)
                .await
                .unwrap()
        ),
        ["i4"]
    );

    // Open ones, oldest first; the retry queue by when they are due.
    assert_eq!(
        billing::open_invoice(&mut c, &acme.id)
            .await
            .unwrap()
            .map(|i| i.id),
        Some("i1".to_owned())
    );
    assert_eq!(
        invoice_ids(&billing::open_invoices(&mut c, &acme.id).await.unwrap()),
        ["i1", "i3"]
    );
    assert!(billing::invoices_to_retry(&mut c, T0 - 1, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        invoice_ids(&billing::invoices_to_retry(&mut c, T0, 10).await.unwrap()),
        ["i4"]
    );
    assert_eq!(
        invoice_ids(
            &billing::invoices_to_retry(&mut c, T0 + DAY, 10)
                .await
                .unwrap()
        ),
        ["i4", "i1"]
    );
    assert_eq!(
        invoice_ids(
            &billing::invoices_to_retry(&mut c, T0 + DAY, 1)
                .await
                .unwrap()
        ),
        ["i4"]
    );
    write!(f.store, |t| billing::invoice_attempted(
        &mut t,
        "i1",
        1,
        Some(T0 + 3 * DAY)
    )
    .await)
    .unwrap();
    // A paid invoice is not attempted again.
    write!(f.store, |t| billing::invoice_attempted(
        &mut t,
        "i2",
        1,
        Some(T0)
    )
    .await)
    .unwrap();
    let i1_now = billing::invoice_by_id(&mut c, "i1").await.unwrap().unwrap();
    assert_eq!(
        (i1_now.attempts, i1_now.next_attempt_at),
        (1, Some(T0 + 3 * DAY))
    );
    assert_eq!(
        billing::invoice_by_id(&mut c, "i2").await.unwrap(),
        Some(i2.clone())
    );
    assert_eq!(
        invoice_ids(
            &billing::invoices_to_retry(&mut c, T0 + DAY, 10)
                .await
                .unwrap()
        ),
        ["i4"]
    );

    // Stalled: past due, with an open invoice not to be tried by itself,
    // issued before the cut.
    write!(f.store, |t| billing::put_subscription(
        &mut t,
        &subscription(&acme.id, "past_due", T0)
    )
    .await)
    .unwrap();
    write!(f.store, |t| billing::put_subscription(
        &mut t,
        &subscription(&globex.id, "active", T0)
    )
    .await)
    .unwrap();
    assert!(billing::stalled_past_due(&mut c, T0, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        billing::stalled_past_due(&mut c, T0 + 1, 10).await.unwrap(),
        [acme.id.as_str()]
    );
    assert!(billing::stalled_past_due(&mut c, T0 + 1, 0)
        .await
        .unwrap()
        .is_empty());

    // A new card: every open invoice of the team is tried now.
    assert_eq!(
        write!(f.store, |t| billing::retry_open_invoices(
            &mut t,
            &acme.id,
            T0 + HOUR
        )
        .await)
        .unwrap(),
        2
    );
    // (i1 and i3 are due at the same instant, in no promised order.)
    let due = billing::invoices_to_retry(&mut c, T0 + HOUR, 10)
        .await
        .unwrap();
    let mut tied = invoice_ids(&due[1..]);
    tied.sort_unstable();
    assert_eq!((due[0].id.as_str(), tied), ("i4", vec!["i1", "i3"]));
    assert_eq!(
        billing::invoice_by_id(&mut c, "i2")
            .await
            .unwrap()
            .unwrap()
            .next_attempt_at,
        None
    );
    assert!(billing::stalled_past_due(&mut c, T0 + 1, 10)
        .await
        .unwrap()
        .is_empty());

    // Settled once, from open only.
    assert!(write!(f.store, |t| billing::settle_invoice(
        &mut t,
        "i1",
        "paid",
        Some(T0 + 2 * HOUR)
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| billing::settle_invoice(
        &mut t,
        "i1",
        "uncollectible",
        None
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| billing::settle_invoice(
        &mut t,
        "i2",
        "uncollectible",
        None
    )
    .await)
    .unwrap());
    let i1_now = billing::invoice_by_id(&mut c, "i1").await.unwrap().unwrap();
    assert_eq!(
        (
            i1_now.status.as_str(),
            i1_now.paid_at,
            i1_now.next_attempt_at,
            i1_now.attempts
        ),
        ("paid", Some(T0 + 2 * HOUR), None, 1)
    );
    assert!(write!(f.store, |t| billing::settle_invoice(
        &mut t,
        "i3",
        "uncollectible",
        None
    )
    .await)
    .unwrap());
    let i3_now = billing::invoice_by_id(&mut c, "i3").await.unwrap().unwrap();
    assert_eq!(
        (
            i3_now.status.as_str(),
            i3_now.paid_at,
            i3_now.next_attempt_at
        ),
        ("uncollectible", None, None)
    );
    // What was issued did not change.
    assert_eq!(
        (i1_now.subtotal, i1_now.total, i1_now.number.as_str()),
        (i1.subtotal, i1.total, i1.number.as_str())
    );
    assert_eq!(billing::invoice_lines(&mut c, "i1").await.unwrap(), read);
    assert!(billing::open_invoice(&mut c, &acme.id)
        .await
        .unwrap()
        .is_none());
    assert!(billing::open_invoices(&mut c, &acme.id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        invoice_ids(
            &billing::invoices_to_retry(&mut c, T0 + HOUR, 10)
                .await
                .unwrap()
        ),
        ["i4"]
    );
    assert_eq!(
        write!(f.store, |t| billing::retry_open_invoices(
            &mut t,
            &acme.id,
            T0 + HOUR
        )
        .await)
        .unwrap(),
        0
    );

    // Payments: written before the provider is asked, settled once.
    let p1 = billing::PaymentRow {
        quote_id: Some("q1".into()),
        created_by: Some(ada.id.clone()),
        ..payment("p1", &acme.id, "change", "pending", T0)
    };
    let p2 = billing::PaymentRow {
        invoice_id: Some("i1".into()),
        provider_id: Some("pi_2".into()),
        ..payment("p2", &acme.id, "renewal", "requires_action", T0 + 1)
    };
    let p3 = payment("p3", &acme.id, "top_up", "succeeded", T0 + 2);
    let p4 = payment("p4", &globex.id, "top_up", "pending", T0);
    for p in [&p1, &p2, &p3, &p4] {
        write!(f.store, |t| billing::insert_payment(&mut t, p).await).unwrap();
    }
    assert_eq!(
        billing::payment(&mut c, "p1").await.unwrap(),
        Some(p1.clone())
    );
    assert!(billing::payment(&mut c, "nope").await.unwrap().is_none());

    assert!(write!(f.store, |t| billing::set_payment_outcome(
        &mut t,
        "p1",
        &billing::Outcome {
            status: "succeeded",
            provider_id: Some("pi_1"),
            ..Default::default()
        },
        T0 + 10
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| billing::set_payment_outcome(
        &mut t,
        "p1",
        &billing::Outcome {
            status: "failed",
            failure_code: Some("card_declined"),
            ..Default::default()
        },
        T0 + 11
    )
    .await)
    .unwrap());
    assert_eq!(
        billing::payment(&mut c, "p1").await.unwrap(),
        Some(billing::PaymentRow {
            status: "succeeded".into(),
            provider_id: Some("pi_1".into()),
            updated_at: T0 + 10,
            ..p1.clone()
        })
    );
    // Without a provider id the one known is kept; requires_action moves on.
    assert!(write!(f.store, |t| billing::set_payment_outcome(
        &mut t,
        "p2",
        &billing::Outcome {
            status: "requires_action",
            client_secret: Some("pi_2_secret_x"),
            ..Default::default()
        },
        T0 + 12
    )
    .await)
    .unwrap());
    assert!(write!(f.store, |t| billing::set_payment_outcome(
        &mut t,
        "p2",
        &billing::Outcome {
            status: "failed",
            failure_code: Some("card_declined"),
            failure_message: Some("Your card was declined."),
            hard_decline: true,
            ..Default::default()
        },
        T0 + 13
    )
    .await)
    .unwrap());
    assert_eq!(
        billing::payment(&mut c, "p2").await.unwrap(),
        Some(billing::PaymentRow {
            status: "failed".into(),
            provider_id: Some("pi_2".into()),
            client_secret: None,
            failure_code: Some("card_declined".into()),
            failure_message: Some("Your card was declined.".into()),
            hard_decline: 1,
            updated_at: T0 + 13,
            ..p2.clone()
        })
    );
    assert!(!write!(f.store, |t| billing::set_payment_outcome(
        &mut t,
        "p3",
        &billing::Outcome {
            status: "failed",
            ..Default::default()
        },
        T0 + 14
    )
    .await)
    .unwrap());
    assert_eq!(
        billing::payment(&mut c, "p3").await.unwrap(),
        Some(p3.clone())
    );
    assert_eq!(
        billing::payment_by_provider_id(&mut c, "pi_1")
            .await
            .unwrap()
            .map(|p| p.id),
        Some("p1".to_owned())
    );
    assert_eq!(
        billing::payment_by_provider_id(&mut c, "pi_2")
            .await
            .unwrap()
            .map(|p| p.id),
        Some("p2".to_owned())
    );
    assert!(billing::payment_by_provider_id(&mut c, "pi_none")
        .await
        .unwrap()
        .is_none());

    // Unsettled: by when they were last touched; per team, by purpose and
    // invoice.
    let p5 = payment("p5", &acme.id, "top_up", "pending", T0 + 5);
    let p6 = billing::PaymentRow {
        invoice_id: Some("i3".into()),
        updated_at: T0 + 3,
        ..payment("p6", &acme.id, "renewal", "requires_action", T0 + 4)
    };
    for p in [&p5, &p6] {
        write!(f.store, |t| billing::insert_payment(&mut t, p).await).unwrap();
    }
    assert!(billing::unsettled_payments(&mut c, T0, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        payment_ids(
            &billing::unsettled_payments(&mut c, T0 + 5, 10)
                .await
                .unwrap()
        ),
        ["p4", "p6"]
    );
    assert_eq!(
        payment_ids(
            &billing::unsettled_payments(&mut c, T0 + 6, 10)
                .await
                .unwrap()
        ),
        ["p4", "p6", "p5"]
    );
    assert_eq!(
        payment_ids(
            &billing::unsettled_payments(&mut c, T0 + 6, 1)
                .await
                .unwrap()
        ),
        ["p4"]
    );
    assert_eq!(
        payment_ids(
            &billing::unsettled_of_team(&mut c, &acme.id, None, None)
                .await
                .unwrap()
        ),
        ["p6", "p5"]
    );
    assert_eq!(
        payment_ids(
            &billing::unsettled_of_team(&mut c, &acme.id, Some("renewal"), None)
                .await
                .unwrap()
        ),
        ["p6"]
    );
    assert!(
        billing::unsettled_of_team(&mut c, &acme.id, Some("change"), None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        payment_ids(
            &billing::unsettled_of_team(&mut c, &acme.id, None, Some("i3"))
                .await
                .unwrap()
        ),
        ["p6"]
    );
    assert!(
        billing::unsettled_of_team(&mut c, &acme.id, Some("renewal"), Some("i1"))
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        payment_ids(
            &billing::unsettled_of_team(&mut c, &globex.id, None, None)
                .await
                .unwrap()
        ),
        ["p4"]
    );
    assert_eq!(
        payment_ids(
            &billing::recent_payments(&mut c, &acme.id, 10)
                .await
                .unwrap()
        ),
        ["p5", "p6", "p3", "p2", "p1"]
    );
    assert_eq!(
        payment_ids(&billing::recent_payments(&mut c, &acme.id, 2).await.unwrap()),
        ["p5", "p6"]
    );
    assert_eq!(
        payment_ids(
            &billing::recent_payments(&mut c, &globex.id, 10)
                .await
                .unwrap()
        ),
        ["p4"]
    );

    // Idempotency keys, per owner.
    use billing::KeyState;
    let owner = format!("{}:acme", ada.id);
    assert_eq!(
        billing::claim_key(&mut c, &owner, "k1", "h1", T0)
            .await
            .unwrap(),
        KeyState::New
    );
    assert_eq!(
        billing::claim_key(&mut c, &owner, "k1", "h1", T0)
            .await
            .unwrap(),
        KeyState::InProgress
    );
    assert_eq!(
        billing::claim_key(&mut c, &owner, "k1", "h2", T0)
            .await
            .unwrap(),
        KeyState::Mismatch
    );
    assert_eq!(
        billing::claim_key(&mut c, "someone-else", "k1", "h2", T0)
            .await
            .unwrap(),
        KeyState::New
    );
    billing::finish_key(&mut c, &owner, "k1", 200, r#"{"ok":true}"#)
        .await
        .unwrap();
    assert_eq!(
        billing::claim_key(&mut c, &owner, "k1", "h1", T0 + 1)
            .await
            .unwrap(),
        KeyState::Done {
            status: 200,
            response: r#"{"ok":true}"#.into()
        }
    );
    assert_eq!(
        billing::claim_key(&mut c, &owner, "k1", "h2", T0 + 1)
            .await
            .unwrap(),
        KeyState::Mismatch
    );
    // A finished key is not released; an unfinished one is.
    billing::release_key(&mut c, &owner, "k1").await.unwrap();
    assert!(matches!(
        billing::claim_key(&mut c, &owner, "k1", "h1", T0 + 2)
            .await
            .unwrap(),
        KeyState::Done { status: 200, .. }
    ));
    assert_eq!(
        billing::claim_key(&mut c, &owner, "k2", "h1", T0)
            .await
            .unwrap(),
        KeyState::New
    );
    billing::release_key(&mut c, &owner, "k2").await.unwrap();
    assert_eq!(
        billing::claim_key(&mut c, &owner, "k2", "h3", T0)
            .await
            .unwrap(),
        KeyState::New
    );
    assert_eq!(
        billing::claim_key(&mut c, &owner, "k3", "h1", T0 + HOUR)
            .await
            .unwrap(),
        KeyState::New
    );
    assert_eq!(
        write!(f.store, |t| billing::purge_keys(&mut t, T0).await).unwrap(),
        0
    );
    assert_eq!(
        write!(f.store, |t| billing::purge_keys(&mut t, T0 + HOUR).await).unwrap(),
        3
    );
    assert_eq!(
        billing::claim_key(&mut c, &owner, "k1", "h9", T0 + HOUR)
            .await
            .unwrap(),
        KeyState::New
    );
    assert_eq!(
        billing::claim_key(&mut c, &owner, "k3", "h1", T0 + HOUR)
            .await
            .unwrap(),
        KeyState::InProgress
    );

    // Webhook events: seen once; handled is what was seen.
    assert!(!billing::webhook_handled(&mut c, "evt_1").await.unwrap());
    assert!(!write!(f.store, |t| billing::webhook_seen(
        &mut t,
        "evt_1",
        "payment_intent.succeeded",
        T0
    )
    .await)
    .unwrap());
    assert!(write!(f.store, |t| billing::webhook_seen(
        &mut t,
        "evt_1",
        "payment_intent.succeeded",
        T0 + 1
    )
    .await)
    .unwrap());
    assert!(billing::webhook_handled(&mut c, "evt_1").await.unwrap());
    assert!(!write!(f.store, |t| billing::webhook_seen(
        &mut t,
        "evt_2",
        "payment_intent.payment_failed",
        T0
    )
    .await)
    .unwrap());

    // The history: the team's billing events and the operator's plan
    // changes, newest first, paged by sequence number.
    let scope = format!("team:{}", acme.id);
    let mut seqs_by_kind = Vec::new();
    for (kind, actor) in [
        ("billing_card_added", Some(ada.id.as_str())),
        ("member_added", Some(ada.id.as_str())),
        ("plan_set", None),
        ("billings", None),
        ("billing_payment_succeeded", None),
        ("xbilling_y", None),
    ] {
        let e = write!(f.store, |t| events::append(
            &mut t, &scope, actor, kind, "{}", T0
        )
        .await)
        .unwrap();
        seqs_by_kind.push((kind, e.seq));
    }
    write!(f.store, |t| events::append(
        &mut t,
        &format!("team:{}", globex.id),
        None,
        "billing_card_added",
        "{}",
        T0
    )
    .await)
    .unwrap();
    let history = billing::history(&mut c, &scope, None, 10).await.unwrap();
    assert_eq!(
        history
            .iter()
            .map(|h| (h.kind.as_str(), h.seq))
            .collect::<Vec<_>>(),
        [
            ("billing_payment_succeeded", seqs_by_kind[4].1),
            ("plan_set", seqs_by_kind[2].1),
            ("billing_card_added", seqs_by_kind[0].1),
        ]
    );
    assert_eq!(history[2].actor_username.as_deref(), Some("ada"));
    assert_eq!(history[0].actor_username, None);
    assert_eq!(
        (history[0].data.as_str(), history[0].created_at),
        ("{}", T0)
    );
    let page: Vec<String> = billing::history(&mut c, &scope, None, 1)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.kind)
        .collect();
    assert_eq!(page, ["billing_payment_succeeded"]);
    let page: Vec<String> = billing::history(&mut c, &scope, Some(seqs_by_kind[2].1), 10)
        .await
        .unwrap()
        .into_iter()
        .map(|h| h.kind)
        .collect();
    assert_eq!(page, ["billing_card_added"]);
    assert!(
        billing::history(&mut c, &scope, Some(seqs_by_kind[0].1), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(billing::history(&mut c, "team:none", None, 10)
        .await
        .unwrap()
        .is_empty());
}
