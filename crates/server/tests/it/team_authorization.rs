//! The team authorization matrix: every team endpoint
//! called as anonymous, a non-member, a member, a billing member, an admin,
//! and an admin's read-only API key, each on a fresh team, with the exact
//! status asserted. Outsiders learn nothing: their 404 is the one a team that
//! does not exist gets. On SQLite and PostgreSQL.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::common::{Db, Resp, TestApp};
use postroom_server::domain::dns::StaticResolver;
use reqwest::Method;
use serde_json::{json, Value};

on_both_databases!(
    every_team_endpoint_for_every_kind_of_caller,
    discovery_shows_a_team_and_nothing_more,
    a_removed_member_is_an_outsider_everywhere,
);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Anonymous,
    Outsider,
    Member,
    Billing,
    Admin,
    /// The admin, through an API key that may only read.
    AdminReadKey,
}

const EVERYONE: [Who; 6] = [
    Who::Anonymous,
    Who::Outsider,
    Who::Member,
    Who::Billing,
    Who::Admin,
    Who::AdminReadKey,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    ListMine,
    Create,
    Discoverable,
    Get,
    Rename,
    DeleteTeam,
    ListMembers,
    RemoveOther,
    /// Remove another member who is an admin.
    RemoveAdmin,
    Leave,
    SetRole,
    ListInvites,
    Invite,
    CancelInvite,
    PreviewInvite,
    AcceptInvite,
    ListDomains,
    AddDomain,
    RemoveDomain,
    VerifyDomain,
    SetDiscovery,
    RequestToJoin,
    ListJoinRequests,
    ApproveJoinRequest,
    DeclineJoinRequest,
    AuditLog,
}

use Endpoint::*;

const ENDPOINTS: [Endpoint; 26] = [
    ListMine,
    Create,
    Discoverable,
    Get,
    Rename,
    DeleteTeam,
    ListMembers,
    RemoveOther,
    RemoveAdmin,
    Leave,
    SetRole,
    ListInvites,
    Invite,
    CancelInvite,
    PreviewInvite,
    AcceptInvite,
    ListDomains,
    AddDomain,
    RemoveDomain,
    VerifyDomain,
    SetDiscovery,
    RequestToJoin,
    ListJoinRequests,
    ApproveJoinRequest,
    DeclineJoinRequest,
    AuditLog,
];

/// Endpoints that act on one team named in the path.
fn team_scoped(e: Endpoint) -> bool {
    !matches!(
        e,
        ListMine | Create | Discoverable | PreviewInvite | AcceptInvite
    )
}

/// The expected status and error code: (anonymous, outsider, member, billing, admin).
fn expected(e: Endpoint) -> [(u16, Option<&'static str>); 5] {
    const UNAUTH: (u16, Option<&str>) = (401, Some("unauthenticated"));
    const HIDDEN: (u16, Option<&str>) = (404, Some("not_found"));
    const ADMIN_ONLY: (u16, Option<&str>) = (403, Some("admin_required"));
    const OK: (u16, Option<&str>) = (200, None);
    const CREATED: (u16, Option<&str>) = (201, None);
    const GONE: (u16, Option<&str>) = (204, None);
    const ALREADY: (u16, Option<&str>) = (409, Some("already_a_member"));
    match e {
        ListMine | Discoverable => [UNAUTH, OK, OK, OK, OK],
        Create => [UNAUTH, CREATED, CREATED, CREATED, CREATED],
        Get | ListMembers => [UNAUTH, HIDDEN, OK, OK, OK],
        Leave => [UNAUTH, HIDDEN, GONE, GONE, (409, Some("last_admin"))],
        PreviewInvite => [OK, OK, OK, OK, OK],
        AcceptInvite => [UNAUTH, OK, ALREADY, ALREADY, ALREADY],
        RequestToJoin => [UNAUTH, HIDDEN, ALREADY, ALREADY, ALREADY],
        Rename | SetRole | ListInvites | ListDomains | VerifyDomain | SetDiscovery
        | ListJoinRequests | ApproveJoinRequest | DeclineJoinRequest | AuditLog => {
            [UNAUTH, HIDDEN, ADMIN_ONLY, ADMIN_ONLY, OK]
        }
        Invite | AddDomain => [UNAUTH, HIDDEN, ADMIN_ONLY, ADMIN_ONLY, CREATED],
        RemoveOther | RemoveAdmin | CancelInvite | RemoveDomain | DeleteTeam => {
            [UNAUTH, HIDDEN, ADMIN_ONLY, ADMIN_ONLY, GONE]
        }
    }
}

fn expected_for(e: Endpoint, who: Who, method: &Method) -> (u16, Option<&'static str>) {
    let row = expected(e);
    match who {
        Who::Anonymous => row[0],
        Who::Outsider => row[1],
        Who::Member => row[2],
        Who::Billing => row[3],
        Who::Admin => row[4],
        // A read-only key reads like its owner and may write nothing.
        Who::AdminReadKey if *method == Method::GET => row[4],
        Who::AdminReadKey => (403, Some("insufficient_scope")),
    }
}

/// The people every case uses, and a resolver the test controls.
struct World {
    t: TestApp,
    admin: String,
    admin_key: String,
    member: String,
    billing: String,
    outsider: String,
    /// Joins teams when a case needs a member to act on.
    target: String,
    target_id: String,
    /// Has a pending join request in teams where a case needs one.
    requester_id: String,
    ids: std::collections::HashMap<String, String>,
    resolver: Arc<StaticResolver>,
    counter: AtomicUsize,
}

/// A fresh team: the admin, a member, and a billing member who holds only
/// that support role (no seat), so one of the 3 seats is free.
struct Team {
    id: String,
    slug: String,
}

async fn user_id(t: &TestApp, token: &str) -> String {
    let r = t.get("/api/v1/me", Some(token)).await;
    r.assert(200, None);
    r.body["user"]["id"].as_str().unwrap().to_owned()
}

impl World {
    async fn new(db: Db) -> World {
        // The matrix makes a team for each case, more than a person may make
        // in a day.
        let t = TestApp::spawn_with(db, |c| c.rate_limits = false).await;
        let resolver = Arc::new(StaticResolver::new());
        t.app.dns.replace(resolver.clone());
        let admin = t.new_user("admin").await;
        let member = t.new_user("member").await;
        let billing = t.new_user("billing").await;
        let outsider = t.new_user("outsider").await;
        let target = t.new_user("target").await;
        let requester = t.new_user("requester").await;
        let r = t
            .post(
                "/api/v1/me/api-keys",
                Some(&admin),
                json!({ "name": "read", "scopes": ["read"] }),
            )
            .await;
        r.assert(201, None);
        let admin_key = r.body["key"].as_str().unwrap().to_owned();
        let mut ids = std::collections::HashMap::new();
        for token in [&admin, &admin_key, &member, &billing, &outsider] {
            ids.insert(token.clone(), user_id(&t, token).await);
        }
        World {
            target_id: user_id(&t, &target).await,
            requester_id: user_id(&t, &requester).await,
            t,
            admin,
            admin_key,
            member,
            billing,
            outsider,
            target,
            ids,
            resolver,
            counter: AtomicUsize::new(0),
        }
    }

    fn token(&self, who: Who) -> Option<&str> {
        match who {
            Who::Anonymous => None,
            Who::Outsider => Some(&self.outsider),
            Who::Member => Some(&self.member),
            Who::Billing => Some(&self.billing),
            Who::Admin => Some(&self.admin),
            Who::AdminReadKey => Some(&self.admin_key),
        }
    }

    fn next(&self) -> usize {
        self.counter.fetch_add(1, Ordering::SeqCst)
    }

    async fn link_invite(&self, slug: &str) -> Value {
        let r = self
            .t
            .post(
                &format!("/api/v1/teams/{slug}/invites"),
                Some(&self.admin),
                json!({ "email": null }),
            )
            .await;
        r.assert(201, None);
        r.body["invite"].clone()
    }

    async fn add(&self, slug: &str, token: &str) {
        let invite = self.link_invite(slug).await;
        self.t
            .post(
                &format!(
                    "/api/v1/invites/{}/accept",
                    invite["token"].as_str().unwrap()
                ),
                Some(token),
                json!({}),
            )
            .await
            .assert(200, None);
    }

    async fn team(&self) -> Team {
        let slug = format!("team-{}", self.next());
        let r = self
            .t
            .post(
                "/api/v1/teams",
                Some(&self.admin),
                json!({ "name": "Matrix", "slug": slug }),
            )
            .await;
        r.assert(201, None);
        let id = r.body["team"]["id"].as_str().unwrap().to_owned();
        self.add(&slug, &self.member).await;
        self.add(&slug, &self.billing).await;
        let billing_id = &self.ids[&self.billing];
        self.t
            .put(
                &format!("/api/v1/teams/{slug}/members/{billing_id}/role"),
                Some(&self.admin),
                json!({ "role": "billing", "support_only": true }),
            )
            .await
            .assert(200, None);
        Team { id, slug }
    }

    /// Sets up what the call needs and returns it: method, path, body.
    async fn prepare(
        &self,
        e: Endpoint,
        team: &Team,
        caller_id: Option<&str>,
    ) -> (Method, String, Option<Value>) {
        let base = format!("/api/v1/teams/{}", team.slug);
        let n = self.next();
        match e {
            ListMine => (Method::GET, "/api/v1/teams".into(), None),
            Create => (
                Method::POST,
                "/api/v1/teams".into(),
                Some(json!({ "name": "New", "slug": format!("new-{n}") })),
            ),
            Discoverable => (Method::GET, "/api/v1/discoverable-teams".into(), None),
            Get => (Method::GET, base, None),
            Rename => (Method::PATCH, base, Some(json!({ "name": "Renamed" }))),
            DeleteTeam => (Method::DELETE, base, None),
            ListMembers => (Method::GET, format!("{base}/members"), None),
            RemoveOther => {
                self.add(&team.slug, &self.target).await;
                (
                    Method::DELETE,
                    format!("{base}/members/{}", self.target_id),
                    None,
                )
            }
            RemoveAdmin => {
                self.add(&team.slug, &self.target).await;
                self.t
                    .put(
                        &format!("{base}/members/{}/role", self.target_id),
                        Some(&self.admin),
                        json!({ "role": "admin" }),
                    )
                    .await
                    .assert(200, None);
                (
                    Method::DELETE,
                    format!("{base}/members/{}", self.target_id),
                    None,
                )
            }
            Leave => {
                let me = caller_id.unwrap_or(&self.ids[&self.admin]);
                (Method::DELETE, format!("{base}/members/{me}"), None)
            }
            SetRole => {
                self.add(&team.slug, &self.target).await;
                (
                    Method::PUT,
                    format!("{base}/members/{}/role", self.target_id),
                    Some(json!({ "role": "billing" })),
                )
            }
            ListInvites => (Method::GET, format!("{base}/invites"), None),
            Invite => (
                Method::POST,
                format!("{base}/invites"),
                Some(json!({ "email": null })),
            ),
            CancelInvite => {
                let invite = self.link_invite(&team.slug).await;
                (
                    Method::DELETE,
                    format!("{base}/invites/{}", invite["id"].as_str().unwrap()),
                    None,
                )
            }
            PreviewInvite => {
                let invite = self.link_invite(&team.slug).await;
                (
                    Method::GET,
                    format!("/api/v1/invites/{}", invite["token"].as_str().unwrap()),
                    None,
                )
            }
            AcceptInvite => {
                let invite = self.link_invite(&team.slug).await;
                (
                    Method::POST,
                    format!(
                        "/api/v1/invites/{}/accept",
                        invite["token"].as_str().unwrap()
                    ),
                    Some(json!({})),
                )
            }
            ListDomains => (Method::GET, format!("{base}/domains"), None),
            AddDomain => (
                Method::POST,
                format!("{base}/domains"),
                Some(json!({ "domain": format!("d{n}.test") })),
            ),
            RemoveDomain | VerifyDomain => {
                let domain = format!("d{n}.test");
                let r = self
                    .t
                    .post(
                        &format!("{base}/domains"),
                        Some(&self.admin),
                        json!({ "domain": domain }),
                    )
                    .await;
                r.assert(201, None);
                self.resolver.add(
                    r.body["domain"]["txt_name"].as_str().unwrap(),
                    r.body["domain"]["txt_value"].as_str().unwrap(),
                );
                if e == RemoveDomain {
                    (Method::DELETE, format!("{base}/domains/{domain}"), None)
                } else {
                    (
                        Method::POST,
                        format!("{base}/domains/{domain}/verify"),
                        Some(json!({})),
                    )
                }
            }
            SetDiscovery => (
                Method::PATCH,
                format!("{base}/discovery"),
                Some(json!({ "enabled": false })),
            ),
            RequestToJoin => (
                Method::POST,
                format!("{base}/join-requests"),
                Some(json!({})),
            ),
            ListJoinRequests => (Method::GET, format!("{base}/join-requests"), None),
            ApproveJoinRequest | DeclineJoinRequest => {
                // The requester's request is written directly: how it came
                // to be is discovery's business, tested elsewhere.
                let mut tx = self.t.app.store.begin().await.unwrap();
                let request = postroom_server::store::teams::insert_join_request(
                    &mut tx,
                    &team.id,
                    &self.requester_id,
                    crate::common::START,
                )
                .await
                .unwrap();
                tx.commit().await.unwrap();
                let what = if e == ApproveJoinRequest {
                    "approve"
                } else {
                    "decline"
                };
                (
                    Method::POST,
                    format!("{base}/join-requests/{}/{what}", request.id),
                    Some(json!({})),
                )
            }
            AuditLog => (Method::GET, format!("{base}/audit-log"), None),
        }
    }
}

/// The answer for a team that does not exist: outsiders must get exactly this.
async fn missing_team_body(t: &TestApp, token: &str) -> Value {
    let r = t.get("/api/v1/teams/no-such-team", Some(token)).await;
    r.assert(404, Some("not_found"));
    r.body
}

async fn every_team_endpoint_for_every_kind_of_caller(db: Db) {
    let w = World::new(db).await;
    let missing = missing_team_body(&w.t, &w.outsider).await;
    let mut failures = Vec::new();
    for e in ENDPOINTS {
        for who in EVERYONE {
            let team = w.team().await;
            let caller = w.token(who).map(|t| w.ids[t].clone());
            let (method, path, body) = w.prepare(e, &team, caller.as_deref()).await;
            let (status, code) = expected_for(e, who, &method);
            let r: Resp = w.t.request(method.clone(), &path, w.token(who), body).await;
            let code_ok = code.is_none_or(|c| r.code() == c);
            if r.status.as_u16() != status || !code_ok {
                failures.push(format!(
                    "{e:?} as {who:?}: {method} {path} answered {} {}, expected {status} {code:?}",
                    r.status.as_u16(),
                    r.body
                ));
            }
            if who == Who::Outsider && status == 404 {
                assert_eq!(r.body, missing, "{e:?}: an outsider learns nothing");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} calls were wrong:\n{}",
        failures.len(),
        ENDPOINTS.len() * EVERYONE.len(),
        failures.join("\n")
    );
}

/// A person whose verified domain a discoverable team verified may see it in
/// the list and ask to join; every other team endpoint still answers 404.
async fn discovery_shows_a_team_and_nothing_more(db: Db) {
    let w = World::new(db).await;
    let email = "dana@found.test";
    w.t.sign_up(email, "dana").await.assert(201, None);
    let token = w.t.link_token(email, "/verify-email").await;
    w.t.post(
        "/api/v1/accounts/verify-email",
        None,
        json!({ "token": token }),
    )
    .await
    .assert(200, None);
    let dana = w.t.sign_in("dana", crate::common::PASSWORD, false).await;
    let dana_id = user_id(&w.t, &dana).await;
    let missing = missing_team_body(&w.t, &dana).await;
    for e in ENDPOINTS.into_iter().filter(|e| team_scoped(*e)) {
        // A fresh team, discoverable to Dana: it verifies found.test (which
        // the previous team gave up) and turns discovery on.
        let team = w.team().await;
        postroom_server::domain::teams::operator_verify_domain(&w.t.app, &team.slug, "found.test")
            .await
            .unwrap();
        w.t.patch(
            &format!("/api/v1/teams/{}/discovery", team.slug),
            Some(&w.admin),
            json!({ "enabled": true }),
        )
        .await
        .assert(200, None);
        let listed = w.t.get("/api/v1/discoverable-teams", Some(&dana)).await;
        assert_eq!(listed.body["teams"][0]["slug"], team.slug.as_str());
        let (method, path, body) = w.prepare(e, &team, Some(&dana_id)).await;
        let r = w.t.request(method, &path, Some(&dana), body).await;
        if e == RequestToJoin {
            r.assert(201, None);
            assert_eq!(r.body["join_request"]["status"], "pending");
        } else {
            r.assert(404, Some("not_found"));
            assert_eq!(r.body, missing, "{e:?}");
        }
        w.t.delete(
            &format!("/api/v1/teams/{}/domains/found.test", team.slug),
            Some(&w.admin),
        )
        .await
        .assert(204, None);
    }
}

/// Once removed, a former member is an outsider on every team endpoint, on
/// their very next request.
async fn a_removed_member_is_an_outsider_everywhere(db: Db) {
    let w = World::new(db).await;
    let missing = missing_team_body(&w.t, &w.member).await;
    let member_id = w.ids[&w.member].clone();
    for e in ENDPOINTS.into_iter().filter(|e| team_scoped(*e)) {
        let team = w.team().await;
        let (method, path, body) = w.prepare(e, &team, Some(&member_id)).await;
        w.t.delete(
            &format!("/api/v1/teams/{}/members/{member_id}", team.slug),
            Some(&w.admin),
        )
        .await
        .assert(204, None);
        let r = w.t.request(method, &path, Some(&w.member), body).await;
        r.assert(404, Some("not_found"));
        assert_eq!(r.body, missing, "{e:?}");
    }
}
