//! The store contract for `store::teams`: every public function called
//! directly against a fresh database, on SQLite always and on PostgreSQL when
//! `POSTROOM_TEST_DATABASE_URL` is set. It pins down what the HTTP tests rely
//! on without seeing: the unique-constraint names the domain maps to 409s,
//! expiry edges, "only while pending" updates, orderings and the row lock.

use crate::common::{Db, PgDatabase, START as T0};
use postroom_server::clock::DAY;
use postroom_server::store::{
    self, events,
    teams::{self, NewInvite, NewTeam, SeatCounts},
    users::{self, NewUser, UserRow},
    Backend, Conn, Store, Tx,
};

on_both_databases!(
    teams_round_trip_lock_and_unique_slug,
    members_roles_and_counts,
    invites_count_seats_until_they_expire,
    domains_verify_once_across_teams,
    discovery_and_join_requests,
    audit_pages_newest_first_with_usernames,
    the_team_lock_serialises_writers,
    deleting_people_teams_and_event_streams,
);

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
            Fixture {
                store,
                _dir: None,
                _pg: Some(pg),
            }
        }
    }
}

async fn add_user(store: &Store, name: &str, domain: &str) -> UserRow {
    write!(store, |t| users::insert(
        &mut t,
        &NewUser {
            username: name,
            username_key: name,
            email: &format!("{name}@{domain}"),
            email_key: &format!("{name}@{domain}"),
            password_hash: "hash",
        },
        T0,
    )
    .await)
    .expect("insert a user")
}

async fn add_team(store: &Store, slug: &str, creator: &UserRow) -> teams::TeamRow {
    write!(store, |t| teams::insert(
        &mut t,
        &NewTeam {
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

/// Inserts an invite in the caller's transaction.
async fn invite(c: &mut Tx, team: &str, by: &str, email: Option<&str>, n: u32) -> teams::InviteRow {
    let id = uuid::Uuid::now_v7().to_string();
    teams::insert_invite(
        c,
        &NewInvite {
            id: &id,
            team_id: team,
            email,
            email_key: email.map(str::to_lowercase).as_deref(),
            token_hash: &format!("hash-{n}"),
            created_by: by,
            expires_at: T0 + 7 * DAY,
        },
        T0,
    )
    .await
    .expect("insert an invite")
}

async fn teams_round_trip_lock_and_unique_slug(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada", "example.com").await;
    let team = add_team(&f.store, "acme", &ada).await;
    assert_eq!(team.id.len(), 36);
    assert_eq!(
        (team.name.as_str(), team.slug.as_str(), team.plan.as_str()),
        ("ACME", "acme", "free")
    );
    assert_eq!((team.seats, team.discoverable), (3, 0));
    assert_eq!(team.created_by.as_deref(), Some(ada.id.as_str()));
    assert_eq!((team.created_at, team.updated_at), (T0, T0));

    let err = add_team_err(&f.store, "acme", &ada).await;
    assert!(store::is_unique_violation(&err, "teams_slug"), "{err}");
    assert!(!store::is_unique_violation(&err, "users_username_key"));

    assert_eq!(
        teams::by_slug(&mut c, "acme").await.unwrap().unwrap().id,
        team.id
    );
    assert!(teams::by_slug(&mut c, "ACME").await.unwrap().is_none());
    assert_eq!(
        teams::by_id(&mut c, &team.id).await.unwrap().unwrap().slug,
        "acme"
    );
    assert!(teams::by_id(&mut c, "nope").await.unwrap().is_none());
    assert_eq!(
        write!(f.store, |t| teams::lock_by_slug(&mut t, "acme").await)
            .unwrap()
            .unwrap()
            .id,
        team.id
    );
    assert!(
        write!(f.store, |t| teams::lock_by_slug(&mut t, "nope").await)
            .unwrap()
            .is_none()
    );
    let locked = write!(f.store, |t| teams::lock(&mut t, &team.id).await)
        .unwrap()
        .unwrap();
    assert_eq!(locked.updated_at, T0, "taking the lock changes nothing");
    assert!(write!(f.store, |t| teams::lock(&mut t, "nope").await)
        .unwrap()
        .is_none());

    write!(f.store, |t| teams::rename(
        &mut t,
        &team.id,
        "Acme Labs",
        T0 + 1
    )
    .await)
    .unwrap();
    write!(f.store, |t| teams::set_discoverable(
        &mut t,
        &team.id,
        true,
        T0 + 2
    )
    .await)
    .unwrap();
    let after = teams::by_id(&mut c, &team.id).await.unwrap().unwrap();
    assert_eq!(
        (after.name.as_str(), after.discoverable, after.updated_at),
        ("Acme Labs", 1, T0 + 2)
    );
}

async fn add_team_err(store: &Store, slug: &str, creator: &UserRow) -> sqlx::Error {
    write!(store, |t| teams::insert(
        &mut t,
        &NewTeam {
            name: "Again",
            slug,
            plan: "free",
            seats: 3,
            created_by: &creator.id,
        },
        T0,
    )
    .await)
    .expect_err("the slug is taken")
}

async fn members_roles_and_counts(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada", "example.com").await;
    let bob = add_user(&f.store, "bob", "example.com").await;
    let cat = add_user(&f.store, "cat", "example.com").await;
    let acme = add_team(&f.store, "acme", &ada).await;
    let zeta = add_team(&f.store, "zeta", &bob).await;
    let m = write!(f.store, |t| teams::insert_member(
        &mut t, &acme.id, &ada.id, "admin", false, T0
    )
    .await)
    .unwrap();
    assert_eq!(
        (
            m.team_id.as_str(),
            m.user_id.as_str(),
            m.role.as_str(),
            m.support_only,
            m.created_at
        ),
        (acme.id.as_str(), ada.id.as_str(), "admin", 0, T0)
    );
    let err = write!(f.store, |t| teams::insert_member(
        &mut t, &acme.id, &ada.id, "member", false, T0
    )
    .await)
    .expect_err("already a member");
    assert!(
        store::is_unique_violation(&err, "team_members_team_id_user_id"),
        "{err}"
    );
    write!(f.store, |t| teams::insert_member(
        &mut t,
        &acme.id,
        &cat.id,
        "member",
        false,
        T0 + 1
    )
    .await)
    .unwrap();
    write!(f.store, |t| teams::insert_member(
        &mut t,
        &acme.id,
        &bob.id,
        "billing",
        true,
        T0 + 2
    )
    .await)
    .unwrap();
    write!(f.store, |t| teams::insert_member(
        &mut t,
        &zeta.id,
        &ada.id,
        "member",
        false,
        T0 + 3
    )
    .await)
    .unwrap();

    // Admins first, then billing, then members; by username within a role.
    let names: Vec<(String, String)> = teams::members(&mut c, &acme.id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.person.username, m.role))
        .collect();
    assert_eq!(
        names,
        [
            ("ada".into(), "admin".into()),
            ("bob".into(), "billing".into()),
            ("cat".into(), "member".into())
        ]
    );
    let bob_in_acme = teams::member_person(&mut c, &acme.id, &bob.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bob_in_acme.person.email, "bob@example.com");
    assert_eq!(bob_in_acme.support_only, 1);
    assert!(teams::member_person(&mut c, &zeta.id, &cat.id)
        .await
        .unwrap()
        .is_none());
    assert!(teams::member(&mut c, &zeta.id, &bob.id)
        .await
        .unwrap()
        .is_none());

    // Ada's teams, by name, with her role in each.
    let mine: Vec<(String, String, i64)> = teams::of_user(&mut c, &ada.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.team.slug, t.role, t.joined_at))
        .collect();
    assert_eq!(
        mine,
        [
            ("acme".into(), "admin".into(), T0),
            ("zeta".into(), "member".into(), T0 + 3)
        ]
    );

    assert_eq!(teams::count_admins(&mut c, &acme.id).await.unwrap(), 1);
    assert_eq!(
        teams::seat_counts(&mut c, &acme.id, T0).await.unwrap(),
        SeatCounts {
            members: 2,
            pending_invites: 0,
            support_only: 1
        }
    );
    assert!(write!(f.store, |t| teams::set_role(
        &mut t,
        &acme.id,
        &cat.id,
        "admin",
        true,
        T0 + 5
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| teams::set_role(
        &mut t, &zeta.id, &cat.id, "admin", false, T0
    )
    .await)
    .unwrap());
    assert_eq!(teams::count_admins(&mut c, &acme.id).await.unwrap(), 2);
    assert_eq!(
        teams::seat_counts(&mut c, &acme.id, T0).await.unwrap(),
        SeatCounts {
            members: 1,
            pending_invites: 0,
            support_only: 2
        }
    );
    assert!(
        write!(f.store, |t| teams::delete_member(&mut t, &acme.id, &cat.id)
            .await)
        .unwrap()
    );
    assert!(
        !write!(f.store, |t| teams::delete_member(&mut t, &acme.id, &cat.id)
            .await)
        .unwrap()
    );
    assert_eq!(teams::count_admins(&mut c, &acme.id).await.unwrap(), 1);
}

async fn invites_count_seats_until_they_expire(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada", "example.com").await;
    let bob = add_user(&f.store, "bob", "example.com").await;
    let acme = add_team(&f.store, "acme", &ada).await;
    let mut tx = f.store.begin().await.unwrap();
    let by_mail = invite(&mut tx, &acme.id, &ada.id, Some("Bob@example.com"), 1).await;
    let by_link = invite(&mut tx, &acme.id, &ada.id, None, 2).await;
    tx.commit().await.unwrap();
    assert_eq!(by_mail.email.as_deref(), Some("Bob@example.com"));
    assert_eq!(by_mail.email_key.as_deref(), Some("bob@example.com"));
    assert_eq!(by_mail.status, "pending");
    assert_eq!(by_mail.created_by_username.as_deref(), Some("ada"));
    assert_eq!(by_mail.expires_at, T0 + 7 * DAY);
    assert_eq!(by_link.email, None);

    // The token hash is unique.
    let err = write!(f.store, |t| teams::insert_invite(
        &mut t,
        &NewInvite {
            id: &uuid::Uuid::now_v7().to_string(),
            team_id: &acme.id,
            email: None,
            email_key: None,
            token_hash: "hash-1",
            created_by: &ada.id,
            expires_at: T0 + DAY,
        },
        T0,
    )
    .await)
    .expect_err("the token hash is taken");
    assert!(
        store::is_unique_violation(&err, "team_invites_token_hash"),
        "{err}"
    );

    assert_eq!(
        pending(&mut c, &acme.id, T0).await,
        [by_mail.id.clone(), by_link.id.clone()]
    );
    assert_eq!(
        teams::seat_counts(&mut c, &acme.id, T0)
            .await
            .unwrap()
            .pending_invites,
        2
    );
    // At the expiry instant an invite is no longer pending.
    let end = T0 + 7 * DAY;
    assert_eq!(pending(&mut c, &acme.id, end - 1).await.len(), 2);
    assert!(pending(&mut c, &acme.id, end).await.is_empty());
    assert_eq!(
        teams::seat_counts(&mut c, &acme.id, end)
            .await
            .unwrap()
            .pending_invites,
        0
    );
    assert!(
        teams::has_pending_invite_for(&mut c, &acme.id, "bob@example.com", T0)
            .await
            .unwrap()
    );
    assert!(
        !teams::has_pending_invite_for(&mut c, &acme.id, "bob@example.com", end)
            .await
            .unwrap()
    );
    assert!(
        !teams::has_pending_invite_for(&mut c, &acme.id, "Bob@example.com", T0)
            .await
            .unwrap()
    );

    let found = teams::invite_by_token_hash(&mut c, "hash-2").await.unwrap();
    assert_eq!(found.map(|i| i.id), Some(by_link.id.clone()));
    assert!(teams::invite_by_token_hash(&mut c, "nope")
        .await
        .unwrap()
        .is_none());
    assert!(teams::invite(&mut c, &acme.id, &by_link.id)
        .await
        .unwrap()
        .is_some());
    assert!(teams::invite(&mut c, "other-team", &by_link.id)
        .await
        .unwrap()
        .is_none());

    // Accepting works once, and not at or after expiry.
    assert!(!write!(f.store, |t| teams::accept_invite(
        &mut t,
        &by_link.id,
        &bob.id,
        end
    )
    .await)
    .unwrap());
    assert!(write!(f.store, |t| teams::accept_invite(
        &mut t,
        &by_link.id,
        &bob.id,
        end - 1
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| teams::accept_invite(
        &mut t,
        &by_link.id,
        &bob.id,
        T0
    )
    .await)
    .unwrap());
    let accepted = teams::invite(&mut c, &acme.id, &by_link.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(accepted.status, "accepted");
    assert_eq!(accepted.accepted_by.as_deref(), Some(bob.id.as_str()));
    assert_eq!(accepted.decided_at, Some(end - 1));
    assert!(
        !write!(f.store, |t| teams::cancel_invite(&mut t, &by_link.id, T0)
            .await)
        .unwrap()
    );

    // Cancelling works once; a cancelled invite cannot be accepted.
    assert!(write!(f.store, |t| teams::cancel_invite(
        &mut t,
        &by_mail.id,
        T0 + 1
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| teams::cancel_invite(
        &mut t,
        &by_mail.id,
        T0 + 2
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| teams::accept_invite(
        &mut t,
        &by_mail.id,
        &bob.id,
        T0
    )
    .await)
    .unwrap());
    assert!(pending(&mut c, &acme.id, T0).await.is_empty());
}

async fn pending(c: &mut Conn, team: &str, at: i64) -> Vec<String> {
    teams::pending_invites(c, team, at)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect()
}

async fn domains_verify_once_across_teams(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada", "example.com").await;
    let acme = add_team(&f.store, "acme", &ada).await;
    let rival = add_team(&f.store, "rival", &ada).await;
    let d = write!(f.store, |t| teams::insert_domain(
        &mut t,
        &acme.id,
        "acme.test",
        "tok",
        T0
    )
    .await)
    .unwrap();
    assert_eq!(
        (
            d.domain.as_str(),
            d.txt_token.as_str(),
            d.verified_at,
            d.verified_by
        ),
        ("acme.test", "tok", None, None)
    );
    let err = write!(f.store, |t| teams::insert_domain(
        &mut t,
        &acme.id,
        "acme.test",
        "tok2",
        T0
    )
    .await)
    .expect_err("already added");
    assert!(
        store::is_unique_violation(&err, "team_domains_team_id_domain"),
        "{err}"
    );
    write!(f.store, |t| teams::insert_domain(
        &mut t, &acme.id, "b.test", "tok", T0
    )
    .await)
    .unwrap();
    // Another team may claim the same domain until one of them verifies it.
    write!(f.store, |t| teams::insert_domain(
        &mut t,
        &rival.id,
        "acme.test",
        "tok3",
        T0
    )
    .await)
    .unwrap();
    let names: Vec<String> = teams::domains(&mut c, &acme.id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.domain)
        .collect();
    assert_eq!(names, ["acme.test", "b.test"]);
    assert_eq!(teams::count_domains(&mut c, &acme.id).await.unwrap(), 2);
    assert_eq!(
        teams::count_verified_domains(&mut c, &acme.id)
            .await
            .unwrap(),
        0
    );

    let v = write!(f.store, |t| teams::mark_domain_verified(
        &mut t,
        &acme.id,
        "acme.test",
        "dns",
        T0 + 5
    )
    .await)
    .unwrap()
    .unwrap();
    assert_eq!(
        (v.verified_at, v.verified_by.as_deref()),
        (Some(T0 + 5), Some("dns"))
    );
    assert!(write!(f.store, |t| teams::mark_domain_verified(
        &mut t,
        &acme.id,
        "nope.test",
        "dns",
        T0
    )
    .await)
    .unwrap()
    .is_none());
    let err = write!(f.store, |t| teams::mark_domain_verified(
        &mut t,
        &rival.id,
        "acme.test",
        "operator",
        T0
    )
    .await)
    .expect_err("verified by another team");
    assert!(
        store::is_unique_violation(&err, "team_domains_domain"),
        "{err}"
    );
    assert!(!store::is_unique_violation(
        &err,
        "team_domains_team_id_domain"
    ));
    assert_eq!(
        teams::count_verified_domains(&mut c, &acme.id)
            .await
            .unwrap(),
        1
    );
    assert!(teams::domain(&mut c, &acme.id, "acme.test")
        .await
        .unwrap()
        .is_some());

    // Once it lets go, the other team may verify it.
    assert!(write!(f.store, |t| teams::delete_domain(
        &mut t,
        &acme.id,
        "acme.test"
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| teams::delete_domain(
        &mut t,
        &acme.id,
        "acme.test"
    )
    .await)
    .unwrap());
    assert!(teams::domain(&mut c, &acme.id, "acme.test")
        .await
        .unwrap()
        .is_none());
    write!(f.store, |t| teams::mark_domain_verified(
        &mut t,
        &rival.id,
        "acme.test",
        "operator",
        T0
    )
    .await)
    .unwrap()
    .unwrap();
}

async fn discovery_and_join_requests(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada", "acme.test").await;
    let bob = add_user(&f.store, "bob", "acme.test").await;
    let acme = add_team(&f.store, "acme", &ada).await;
    let beta = add_team(&f.store, "beta", &ada).await;
    write!(f.store, |t| teams::insert_member(
        &mut t, &acme.id, &ada.id, "admin", false, T0
    )
    .await)
    .unwrap();
    write!(f.store, |t| teams::insert_domain(
        &mut t,
        &acme.id,
        "acme.test",
        "t",
        T0
    )
    .await)
    .unwrap();
    // Not discoverable: discovery off, then the domain unverified.
    assert!(!teams::is_discoverable_by(&mut c, &acme.id, "acme.test")
        .await
        .unwrap());
    write!(f.store, |t| teams::set_discoverable(
        &mut t, &acme.id, true, T0
    )
    .await)
    .unwrap();
    assert!(!teams::is_discoverable_by(&mut c, &acme.id, "acme.test")
        .await
        .unwrap());
    assert!(teams::discoverable_by(&mut c, &bob.id, "acme.test")
        .await
        .unwrap()
        .is_empty());
    write!(f.store, |t| teams::mark_domain_verified(
        &mut t,
        &acme.id,
        "acme.test",
        "dns",
        T0
    )
    .await)
    .unwrap();
    assert!(teams::is_discoverable_by(&mut c, &acme.id, "acme.test")
        .await
        .unwrap());
    assert!(!teams::is_discoverable_by(&mut c, &acme.id, "other.test")
        .await
        .unwrap());
    assert!(!teams::is_discoverable_by(&mut c, &beta.id, "acme.test")
        .await
        .unwrap());
    let found = teams::discoverable_by(&mut c, &bob.id, "acme.test")
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(
        (
            found[0].slug.as_str(),
            found[0].members,
            found[0].pending_requests
        ),
        ("acme", 1, 0)
    );
    // Members do not discover their own team.
    assert!(teams::discoverable_by(&mut c, &ada.id, "acme.test")
        .await
        .unwrap()
        .is_empty());

    let r = write!(f.store, |t| teams::insert_join_request(
        &mut t, &acme.id, &bob.id, T0
    )
    .await)
    .unwrap();
    assert_eq!(
        (r.status.as_str(), r.person.username.as_str(), r.decided_at),
        ("pending", "bob", None)
    );
    let err = write!(f.store, |t| teams::insert_join_request(
        &mut t, &acme.id, &bob.id, T0
    )
    .await)
    .expect_err("one pending request per person and team");
    assert!(
        store::is_unique_violation(&err, "team_join_requests_team_id_user_id"),
        "{err}"
    );
    assert_eq!(
        teams::discoverable_by(&mut c, &bob.id, "acme.test")
            .await
            .unwrap()[0]
            .pending_requests,
        1
    );
    assert_eq!(
        teams::pending_join_requests(&mut c, &acme.id)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        teams::count_pending_join_requests(&mut c, &acme.id)
            .await
            .unwrap(),
        1
    );
    assert!(teams::join_request(&mut c, &beta.id, &r.id)
        .await
        .unwrap()
        .is_none());

    assert!(write!(f.store, |t| teams::decide_join_request(
        &mut t,
        &r.id,
        "declined",
        &ada.id,
        T0 + 1
    )
    .await)
    .unwrap());
    assert!(!write!(f.store, |t| teams::decide_join_request(
        &mut t,
        &r.id,
        "approved",
        &ada.id,
        T0 + 2
    )
    .await)
    .unwrap());
    let decided = teams::join_request(&mut c, &acme.id, &r.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (decided.status.as_str(), decided.decided_at),
        ("declined", Some(T0 + 1))
    );
    assert!(teams::pending_join_requests(&mut c, &acme.id)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        teams::count_pending_join_requests(&mut c, &acme.id)
            .await
            .unwrap(),
        0
    );

    // After a decision, a new request may be made, and withdrawn.
    write!(f.store, |t| teams::insert_join_request(
        &mut t,
        &acme.id,
        &bob.id,
        T0 + 3
    )
    .await)
    .unwrap();
    assert_eq!(
        write!(f.store, |t| teams::withdraw_join_requests(
            &mut t,
            &acme.id,
            &bob.id,
            T0 + 4
        )
        .await)
        .unwrap(),
        1
    );
    assert_eq!(
        write!(f.store, |t| teams::withdraw_join_requests(
            &mut t,
            &acme.id,
            &bob.id,
            T0 + 5
        )
        .await)
        .unwrap(),
        0
    );
}

async fn audit_pages_newest_first_with_usernames(db: Db) {
    let f = open(db).await;
    let mut c = f.store.conn().await.unwrap();
    let ada = add_user(&f.store, "ada", "example.com").await;
    let scope = "team:t1";
    for i in 0..5 {
        write!(f.store, |t| events::append(
            &mut t,
            scope,
            Some(&ada.id),
            "renamed",
            &format!("{{\"i\":{i}}}"),
            T0 + i,
        )
        .await)
        .unwrap();
    }
    write!(f.store, |t| events::append(
        &mut t,
        scope,
        None,
        "domain_verified",
        "{}",
        T0 + 9
    )
    .await)
    .unwrap();
    write!(f.store, |t| events::append(
        &mut t,
        "team:other",
        Some(&ada.id),
        "created",
        "{}",
        T0
    )
    .await)
    .unwrap();
    let page = teams::audit_page(&mut c, scope, None, 4).await.unwrap();
    let seqs: Vec<i64> = page.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [6, 5, 4, 3]);
    assert_eq!(page[0].actor_id, None);
    assert_eq!(page[0].actor_username, None);
    assert_eq!(page[1].actor_username.as_deref(), Some("ada"));
    assert_eq!(page[1].data, "{\"i\":4}");
    assert_eq!(page[1].created_at, T0 + 4);
    let rest = teams::audit_page(&mut c, scope, Some(3), 4).await.unwrap();
    let seqs: Vec<i64> = rest.iter().map(|r| r.seq).collect();
    assert_eq!(seqs, [2, 1]);
    assert!(teams::audit_page(&mut c, scope, Some(1), 4)
        .await
        .unwrap()
        .is_empty());
}

/// Two transactions that lock the same team run one after the other: the
/// second sees the first one's writes (the seat count), on both backends.
async fn the_team_lock_serialises_writers(db: Db) {
    let f = open(db).await;
    let ada = add_user(&f.store, "ada", "example.com").await;
    add_team(&f.store, "acme", &ada).await;
    let mut first = f.store.begin().await.unwrap();
    let team = teams::lock_by_slug(&mut first, "acme")
        .await
        .unwrap()
        .unwrap();
    let store = f.store.clone();
    let (team_id, ada_id) = (team.id.clone(), ada.id.clone());
    let second = tokio::spawn(async move {
        let mut tx = store.begin().await.unwrap();
        teams::lock(&mut tx, &team_id).await.unwrap().unwrap();
        let counts = teams::seat_counts(&mut tx, &team_id, T0).await.unwrap();
        invite(&mut tx, &team_id, &ada_id, None, 2).await;
        tx.commit().await.unwrap();
        counts.pending_invites
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !second.is_finished(),
        "the second writer waits for the lock"
    );
    invite(&mut first, &team.id, &ada.id, None, 1).await;
    first.commit().await.unwrap();
    let seen = tokio::time::timeout(std::time::Duration::from_secs(10), second)
        .await
        .expect("the second writer goes on once the first commits")
        .unwrap();
    assert_eq!(seen, 1, "the second writer counted the first one's invite");
}

async fn deleting_people_teams_and_event_streams(db: Db) {
    let f = open(db).await;
    let ada = add_user(&f.store, "ada", "example.com").await;
    let bob = add_user(&f.store, "bob", "example.com").await;
    let acme = add_team(&f.store, "acme", &ada).await;
    let solo = add_team(&f.store, "solo", &ada).await;
    let mut tx = f.store.begin().await.unwrap();
    teams::insert_member(&mut tx, &acme.id, &ada.id, "admin", false, T0)
        .await
        .unwrap();
    teams::insert_member(&mut tx, &acme.id, &bob.id, "member", false, T0)
        .await
        .unwrap();
    teams::insert_member(&mut tx, &solo.id, &ada.id, "admin", false, T0)
        .await
        .unwrap();
    invite(&mut tx, &solo.id, &ada.id, Some("x@example.com"), 1).await;
    for scope in ["team:solo", "team:solo", "team:acme"] {
        events::append(&mut tx, scope, Some(&ada.id), "k", "{}", T0)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    // A team goes with its members and invites.
    assert!(write!(f.store, |t| teams::delete(&mut t, &solo.id).await).unwrap());
    assert!(!write!(f.store, |t| teams::delete(&mut t, &solo.id).await).unwrap());
    let mut c = f.store.conn().await.unwrap();
    assert!(teams::by_id(&mut c, &solo.id).await.unwrap().is_none());
    assert!(teams::pending_invites(&mut c, &solo.id, T0)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(teams::of_user(&mut c, &ada.id).await.unwrap().len(), 1);

    // An event stream goes whole; a new one starts again at 1.
    assert_eq!(
        write!(f.store, |t| events::delete_scope(&mut t, "team:solo").await).unwrap(),
        2
    );
    assert!(events::since(&mut c, "team:solo", 0, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        events::since(&mut c, "team:acme", 0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let again = write!(f.store, |t| events::append(
        &mut t,
        "team:solo",
        None,
        "k",
        "{}",
        T0
    )
    .await)
    .unwrap();
    assert_eq!(again.seq, 1);

    // A person goes with their memberships; the teams they made stay.
    assert!(write!(f.store, |t| users::delete(&mut t, &ada.id).await).unwrap());
    assert!(!write!(f.store, |t| users::delete(&mut t, &ada.id).await).unwrap());
    assert!(users::by_id(&mut c, &ada.id).await.unwrap().is_none());
    let members = teams::members(&mut c, &acme.id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].person.username, "bob");
    let team = teams::by_id(&mut c, &acme.id).await.unwrap().unwrap();
    assert_eq!(team.created_by, None);
    // The audit trail keeps what the person did.
    assert_eq!(
        events::since(&mut c, "team:acme", 0, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}
