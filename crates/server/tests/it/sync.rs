//! Sync through the API (S4-S7, T5), on SQLite and PostgreSQL: the change
//! log from a cursor (paged, signed, expiring), a team's items arriving
//! when one joins and leaving when one is removed, stale writes merged or
//! kept as conflicts and resolved three ways, the sync socket (catch-up,
//! live changes, close codes), two nodes, and late commits never skipped.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use postroom_server::clock::{DAY, MINUTE};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{client::IntoClientRequest, Message};

use crate::common::{Db, TestApp};

on_both_databases!(
    the_change_log_catches_a_client_up,
    joining_a_team_brings_its_items_and_leaving_takes_them,
    an_old_cursor_expires,
    stale_writes_merge_or_are_kept_as_conflicts,
    the_sync_socket_pushes_changes_live,
    the_sync_socket_closes_when_access_ends,
);

async fn user_id(t: &TestApp, token: &str) -> String {
    t.get("/api/v1/me", Some(token)).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A collection with two requests, `a` and `b`, each with an id.
fn two_requests(name: &str) -> Value {
    json!({
        "info": {"name": name, "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "item": [
            {"id": "req-a", "name": "a", "request": {"method": "GET", "url": {"raw": "https://a.test/1"},
                "header": [{"key": "Accept", "value": "application/json"}]}},
            {"id": "req-b", "name": "b", "request": {"method": "POST", "url": {"raw": "https://b.test/1"}}}
        ]
    })
}

async fn create(t: &TestApp, token: &str, name: &str, team: Option<&str>) -> String {
    let r = t
        .post(
            "/api/v1/collections",
            Some(token),
            json!({"collection": two_requests(name), "team": team}),
        )
        .await;
    r.assert(201, None);
    r.body["collection"]["id"].as_str().unwrap().to_owned()
}

async fn put_if(
    t: &TestApp,
    token: &str,
    path: &str,
    rev: i64,
    body: Value,
) -> crate::common::Resp {
    let req = t
        .client
        .put(t.url(path))
        .bearer_auth(token)
        .header("if-match", format!("\"{rev}\""))
        .json(&body);
    TestApp::read(req.send().await.unwrap()).await
}

/// Every change after `since` (all pages), and the cursor after them.
async fn all_changes(t: &TestApp, token: &str, since: Option<&str>) -> (Vec<Value>, String) {
    let mut cursor = since.map(str::to_owned);
    let mut out = Vec::new();
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/changes?since={c}&limit=2"),
            None => "/api/v1/changes?limit=2".to_owned(),
        };
        let r = t.get(&path, Some(token)).await;
        r.assert(200, None);
        out.extend(r.body["changes"].as_array().unwrap().iter().cloned());
        cursor = Some(r.body["cursor"].as_str().unwrap().to_owned());
        if r.body["more"] != true {
            return (out, cursor.unwrap());
        }
    }
}

fn ops(changes: &[Value]) -> Vec<(String, String, i64)> {
    changes
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_owned(),
                c["op"].as_str().unwrap().to_owned(),
                c["revision"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn the_change_log_catches_a_client_up(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    let one = create(&t, &ada, "One", None).await;
    let two = create(&t, &ada, "Two", None).await;
    t.post(
        "/api/v1/environments",
        Some(&ada),
        json!({"environment": {"name": "Local", "values": [{"key": "k", "value": "v"}]}}),
    )
    .await
    .assert(201, None);

    // The first call answers everything as created, in pages.
    let (first, cursor) = all_changes(&t, &ada, None).await;
    assert_eq!(first.len(), 3, "{first:?}");
    assert!(first.iter().all(|c| c["op"] == "created"));
    let kinds: BTreeSet<&str> = first.iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, BTreeSet::from(["collection", "environment"]));
    assert_eq!(first[0]["actor"]["username"], "ada");
    assert!(first[0]["team"].is_null());
    // Nothing new: an empty page, the same place.
    let r = t
        .get(&format!("/api/v1/changes?since={cursor}"), Some(&ada))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["changes"], json!([]));
    assert_eq!(r.body["more"], false);

    // Changes come in order, once.
    let path = format!("/api/v1/collections/{one}");
    let mut doc = t.get(&path, Some(&ada)).await.body["collection"].clone();
    doc["info"]["name"] = json!("One, renamed");
    put_if(&t, &ada, &path, 1, json!({"collection": doc}))
        .await
        .assert(200, None);
    t.delete(&format!("/api/v1/collections/{two}"), Some(&ada))
        .await
        .assert(204, None);
    let (next, cursor2) = all_changes(&t, &ada, Some(&cursor)).await;
    assert_eq!(
        ops(&next),
        [
            (one.clone(), "updated".into(), 2),
            (two.clone(), "deleted".into(), 1)
        ]
    );
    assert_eq!(next[0]["name"], "One, renamed");
    let (none, _) = all_changes(&t, &ada, Some(&cursor2)).await;
    assert!(none.is_empty());
    // Bob sees none of it, and cannot use ada's cursor or a made-up one.
    let (bobs, _) = all_changes(&t, &bob, None).await;
    assert!(bobs.is_empty());
    t.get(&format!("/api/v1/changes?since={cursor}"), Some(&bob))
        .await
        .assert(400, Some("invalid_cursor"));
    t.get("/api/v1/changes?since=eyJwIjp7fX0.AAAA", Some(&ada))
        .await
        .assert(400, Some("invalid_cursor"));
    t.get("/api/v1/changes", None).await.assert(401, None);
    t.stop().await;
}

async fn joining_a_team_brings_its_items_and_leaving_takes_them(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    t.create_team(&ada, "acme").await;
    let shared: BTreeSet<String> = [
        create(&t, &ada, "A", Some("acme")).await,
        create(&t, &ada, "B", Some("acme")).await,
        create(&t, &ada, "C", Some("acme")).await,
    ]
    .into();
    let (start, cursor) = all_changes(&t, &bob, None).await;
    assert!(start.is_empty());

    t.join_team(&ada, "acme", &bob).await;
    let (arrived, cursor) = all_changes(&t, &bob, Some(&cursor)).await;
    let ids: BTreeSet<String> = arrived
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, shared);
    assert!(arrived
        .iter()
        .all(|c| c["op"] == "created" && c["team"] == "acme"));

    // A teammate's edit arrives as a change.
    let one = shared.iter().next().unwrap();
    let path = format!("/api/v1/collections/{one}");
    let doc = t.get(&path, Some(&ada)).await.body["collection"].clone();
    put_if(&t, &ada, &path, 1, json!({"collection": doc}))
        .await
        .assert(200, None);
    let (edited, cursor) = all_changes(&t, &bob, Some(&cursor)).await;
    assert_eq!(ops(&edited), [(one.clone(), "updated".into(), 2)]);

    // Removed from the team: its items leave bob's view.
    let bob_id = user_id(&t, &bob).await;
    t.delete(&format!("/api/v1/teams/acme/members/{bob_id}"), Some(&ada))
        .await
        .assert(204, None);
    let (gone, cursor) = all_changes(&t, &bob, Some(&cursor)).await;
    let gone_ids: BTreeSet<String> = gone
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(gone_ids, shared);
    assert!(gone.iter().all(|c| c["op"] == "deleted"));
    // And nothing more of the team after that.
    create(&t, &ada, "D", Some("acme")).await;
    let (after, _) = all_changes(&t, &bob, Some(&cursor)).await;
    assert!(after.is_empty(), "{after:?}");
    t.stop().await;
}

async fn an_old_cursor_expires(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let id = create(&t, &ada, "One", None).await;
    let (_, cursor) = all_changes(&t, &ada, None).await;
    let path = format!("/api/v1/collections/{id}");
    let doc = t.get(&path, Some(&ada)).await.body["collection"].clone();
    put_if(&t, &ada, &path, 1, json!({"collection": doc.clone()}))
        .await
        .assert(200, None);
    // A cursor within the kept log works after a day...
    t.clock.advance(DAY);
    let ada = t.sign_in("ada", crate::common::PASSWORD, true).await;
    let (seen, fresh) = all_changes(&t, &ada, Some(&cursor)).await;
    assert_eq!(seen.len(), 1);
    // ...and one whose next change was pruned (older than 30 days) is 410.
    t.clock.advance(30 * DAY);
    let ada = t.sign_in("ada", crate::common::PASSWORD, true).await;
    put_if(&t, &ada, &path, 2, json!({"collection": doc}))
        .await
        .assert(200, None);
    let pruned = postroom_server::domain::workspace::changes::prune(&t.app)
        .await
        .unwrap();
    assert!(pruned >= 2, "the first two changes are pruned: {pruned}");
    t.get(&format!("/api/v1/changes?since={cursor}"), Some(&ada))
        .await
        .assert(410, Some("cursor_expired"));
    // The later cursor stood past the pruned changes: it still works.
    let (later, _) = all_changes(&t, &ada, Some(&fresh)).await;
    assert_eq!(ops(&later), [(id.clone(), "updated".into(), 3)]);
    // Starting again answers the item as it is.
    let (again, _) = all_changes(&t, &ada, None).await;
    assert_eq!(ops(&again), [(id, "created".into(), 3)]);
    t.stop().await;
}

async fn stale_writes_merge_or_are_kept_as_conflicts(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    let id = create(&t, &ada, "Shared", None).await;
    let path = format!("/api/v1/collections/{id}");
    let base = t.get(&path, Some(&ada)).await.body["collection"].clone();

    // Two devices start from revision 1. The laptop edits request a's URL,
    // the phone renames request b: both apply, the second merged.
    let mut laptop = base.clone();
    laptop["item"][0]["request"]["url"]["raw"] = json!("https://a.test/2");
    let r = put_if(&t, &ada, &path, 1, json!({"collection": laptop})).await;
    r.assert(200, None);
    assert_eq!(r.body["merged"], false);
    let mut phone = base.clone();
    phone["item"][1]["name"] = json!("b, renamed");
    let r = put_if(&t, &ada, &path, 1, json!({"collection": phone})).await;
    r.assert(200, None);
    assert_eq!(r.body["merged"], true);
    assert_eq!(r.body["collection"]["revision"], 3);
    let now = t.get(&path, Some(&ada)).await.body["collection"].clone();
    assert_eq!(now["item"][0]["request"]["url"]["raw"], "https://a.test/2");
    assert_eq!(now["item"][1]["name"], "b, renamed");

    // The same field changed both ways: a conflict, nothing applied.
    let mut tablet = base.clone();
    tablet["item"][0]["request"]["url"]["raw"] = json!("https://a.test/tablet");
    tablet["item"][1]["request"]["method"] = json!("PUT");
    let r = put_if(&t, &ada, &path, 1, json!({"collection": tablet})).await;
    r.assert(409, Some("conflict"));
    let conflict = r.body["conflict"].clone();
    let conflict_id = conflict["id"].as_str().unwrap().to_owned();
    assert_eq!(conflict["base_revision"], 1);
    assert_eq!(conflict["theirs_revision"], 3);
    let fields = conflict["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert!(
        fields[0]["path"].as_str().unwrap().contains("url"),
        "{fields:?}"
    );
    assert_eq!(fields[0]["theirs"], "https://a.test/2");
    assert_eq!(fields[0]["mine"], "https://a.test/tablet");
    assert_eq!(t.get(&path, Some(&ada)).await.body["collection"], now);
    // Listed, with both documents, for ada only.
    let list = t.get("/api/v1/conflicts", Some(&ada)).await;
    list.assert(200, None);
    assert_eq!(list.body["conflicts"][0]["id"], conflict_id.as_str());
    let detail = t
        .get(&format!("/api/v1/conflicts/{conflict_id}"), Some(&ada))
        .await;
    detail.assert(200, None);
    assert_eq!(detail.body["mine"]["item"][1]["request"]["method"], "PUT");
    assert_eq!(detail.body["theirs"], now);
    t.get(&format!("/api/v1/conflicts/{conflict_id}"), Some(&bob))
        .await
        .assert(404, None);
    assert_eq!(
        t.get("/api/v1/conflicts", Some(&bob)).await.body["conflicts"],
        json!([])
    );

    // Meanwhile another edit lands (revision 4); "keep mine" merges the
    // write onto it: mine wins the URL, the edit made since stays.
    let mut later = now.clone();
    later["item"][1]["request"]["url"]["raw"] = json!("https://b.test/later");
    put_if(&t, &ada, &path, 3, json!({"collection": later}))
        .await
        .assert(200, None);
    let resolve = format!("/api/v1/conflicts/{conflict_id}/resolve");
    let r = t.post(&resolve, Some(&ada), json!({"keep": "mine"})).await;
    r.assert(200, None);
    assert_eq!(r.body["item"]["revision"], 5);
    let kept = t.get(&path, Some(&ada)).await.body["collection"].clone();
    assert_eq!(
        kept["item"][0]["request"]["url"]["raw"],
        "https://a.test/tablet"
    );
    assert_eq!(kept["item"][1]["request"]["method"], "PUT");
    assert_eq!(
        kept["item"][1]["request"]["url"]["raw"],
        "https://b.test/later"
    );
    assert_eq!(kept["item"][1]["name"], "b, renamed");
    t.post(&resolve, Some(&ada), json!({"keep": "mine"}))
        .await
        .assert(409, Some("conflict_resolved"));
    assert_eq!(
        t.get("/api/v1/conflicts", Some(&ada)).await.body["conflicts"],
        json!([])
    );

    // "Keep theirs" drops the write.
    let mut stale = base.clone();
    stale["item"][0]["request"]["url"]["raw"] = json!("https://a.test/dropped");
    let r = put_if(&t, &ada, &path, 1, json!({"collection": stale})).await;
    r.assert(409, Some("conflict"));
    let resolve = format!(
        "/api/v1/conflicts/{}/resolve",
        r.body["conflict"]["id"].as_str().unwrap()
    );
    let r = t
        .post(&resolve, Some(&ada), json!({"keep": "theirs"}))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["item"]["revision"], 5);
    assert_eq!(t.get(&path, Some(&ada)).await.body["collection"], kept);

    // "Merged" writes the document the person edited.
    let r = put_if(&t, &ada, &path, 1, json!({"collection": stale.clone()})).await;
    r.assert(409, Some("conflict"));
    let resolve = format!(
        "/api/v1/conflicts/{}/resolve",
        r.body["conflict"]["id"].as_str().unwrap()
    );
    t.post(&resolve, Some(&ada), json!({"keep": "merged"}))
        .await
        .assert(422, None);
    let mut edited = kept.clone();
    edited["item"][0]["request"]["url"]["raw"] = json!("https://a.test/both");
    let r = t
        .post(
            &resolve,
            Some(&ada),
            json!({"keep": "merged", "collection": edited}),
        )
        .await;
    r.assert(200, None);
    assert_eq!(
        t.get(&path, Some(&ada)).await.body["collection"]["item"][0]["request"]["url"]["raw"],
        "https://a.test/both"
    );

    // A revision the server never had is a conflict too.
    put_if(&t, &ada, &path, 99, json!({"collection": stale}))
        .await
        .assert(409, Some("conflict"));

    // A delete decided on an old revision is not carried out; "mine" does it.
    let r = t
        .client
        .delete(t.url(&path))
        .bearer_auth(&ada)
        .header("if-match", "\"2\"")
        .send()
        .await
        .unwrap();
    let r = TestApp::read(r).await;
    r.assert(409, Some("conflict"));
    assert_eq!(r.body["conflict"]["op"], "delete");
    t.get(&path, Some(&ada)).await.assert(200, None);
    let resolve = format!(
        "/api/v1/conflicts/{}/resolve",
        r.body["conflict"]["id"].as_str().unwrap()
    );
    let r = t.post(&resolve, Some(&ada), json!({"keep": "mine"})).await;
    r.assert(200, None);
    assert!(r.body["item"].is_null());
    t.get(&path, Some(&ada)).await.assert(404, None);
    t.stop().await;
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(t: &TestApp, token: &str, since: Option<&str>) -> Socket {
    let base = t.url("/api/v1/sync").replacen("http://", "ws://", 1);
    let url = match since {
        Some(c) => format!("{base}?since={c}"),
        None => base,
    };
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("the socket opens");
    socket
}

/// The next JSON message (heartbeats skipped), within 5 s.
async fn next_message(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .expect("the socket is open")
            .expect("a message");
        match message {
            Message::Text(text) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                if value["type"] != "heartbeat" {
                    return value;
                }
            }
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
}

/// Messages up to and including `synced`.
async fn until_synced(socket: &mut Socket) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let m = next_message(socket).await;
        if m["type"] == "synced" {
            return out;
        }
        assert_eq!(m["type"], "change", "{m}");
        out.push(m);
    }
}

/// The close code the server ends the socket with, within 5 s.
async fn close_code(socket: &mut Socket) -> u16 {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("closed within 5 s");
        match message {
            Some(Ok(Message::Close(Some(frame)))) => return frame.code.into(),
            Some(Ok(_)) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    }
}

async fn the_sync_socket_pushes_changes_live(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let first = create(&t, &ada, "First", None).await;

    // Not a WebSocket request: a clear 400.
    t.get("/api/v1/sync", Some(&ada))
        .await
        .assert(400, Some("websocket_required"));

    // Missed changes first (here: the first sync's snapshot), then synced.
    let mut socket = connect(&t, &ada, None).await;
    let missed = until_synced(&mut socket).await;
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0]["change"]["id"], first.as_str());
    assert_eq!(missed[0]["change"]["op"], "created");

    // A change made over REST arrives at once, with a cursor after it.
    let second = create(&t, &ada, "Second", None).await;
    let m = next_message(&mut socket).await;
    assert_eq!(m["type"], "change");
    assert_eq!(m["change"]["id"], second.as_str());
    let cursor = m["cursor"].as_str().unwrap().to_owned();
    // The cursor of a message resumes right after it, over REST too.
    let path = format!("/api/v1/collections/{first}");
    let doc = t.get(&path, Some(&ada)).await.body["collection"].clone();
    put_if(&t, &ada, &path, 1, json!({"collection": doc}))
        .await
        .assert(200, None);
    let m = next_message(&mut socket).await;
    assert_eq!(m["change"]["op"], "updated");
    let (after, _) = all_changes(&t, &ada, Some(&cursor)).await;
    assert_eq!(ops(&after), [(first.clone(), "updated".into(), 2)]);
    socket.close(None).await.unwrap();

    // Reconnecting with an older cursor sends what was missed, in order.
    let mut again = connect(&t, &ada, Some(&cursor)).await;
    let missed = until_synced(&mut again).await;
    assert_eq!(missed.len(), 1);
    assert_eq!(missed[0]["change"]["revision"], 2);

    // Several sockets of one person each get every change once.
    let mut other = connect(&t, &ada, Some(&cursor)).await;
    until_synced(&mut other).await;
    let third = create(&t, &ada, "Third", None).await;
    for s in [&mut again, &mut other] {
        let m = next_message(s).await;
        assert_eq!(m["change"]["id"], third.as_str());
    }

    // A bad cursor is refused before the socket opens.
    let base = t.url("/api/v1/sync").replacen("http://", "ws://", 1);
    let mut req = format!("{base}?since=nonsense")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {ada}").parse().unwrap());
    let Err(err) = tokio_tungstenite::connect_async(req).await else {
        panic!("the socket should be refused");
    };
    assert!(format!("{err}").contains("400"), "{err}");
    t.stop().await;
}

async fn the_sync_socket_closes_when_access_ends(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    t.create_team(&ada, "acme").await;
    create(&t, &ada, "Team's", Some("acme")).await;
    t.join_team(&ada, "acme", &bob).await;

    // Removed from the team: closed at once with 4003; reconnecting with
    // the cursor answers the team's items as deleted.
    let mut socket = connect(&t, &bob, None).await;
    let snapshot = until_synced(&mut socket).await;
    assert_eq!(snapshot.len(), 1);
    let cursor = snapshot[0]["cursor"].as_str().unwrap().to_owned();
    let bob_id = user_id(&t, &bob).await;
    t.delete(&format!("/api/v1/teams/acme/members/{bob_id}"), Some(&ada))
        .await
        .assert(204, None);
    // The deletions come first, then the close.
    let m = next_message(&mut socket).await;
    assert_eq!(m["change"]["op"], "deleted");
    assert_eq!(close_code(&mut socket).await, 4003);
    let (gone, _) = all_changes(&t, &bob, Some(&cursor)).await;
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0]["op"], "deleted");

    // Joining a team while connected brings its items on the open socket.
    let mut socket = connect(&t, &bob, None).await;
    assert!(until_synced(&mut socket).await.is_empty());
    t.join_team(&ada, "acme", &bob).await;
    let m = next_message(&mut socket).await;
    assert_eq!(m["change"]["op"], "created");
    assert_eq!(m["change"]["team"], "acme");

    // Signing out closes it with 4001.
    t.delete("/api/v1/sessions/current", Some(&bob))
        .await
        .assert(204, None);
    assert_eq!(close_code(&mut socket).await, 4001);

    t.stop().await;
}

/// A browser sends its cookie with any page's WebSocket: a page of this
/// server opens the socket with it, a page of another site is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_this_servers_pages_open_the_socket_with_the_cookie() {
    use reqwest::cookie::CookieStore;
    let t = TestApp::spawn(Db::Sqlite).await;
    t.new_user("ada").await;
    let (_, _, jar) = crate::cookie_auth::browser_signed_in_with_jar(&t, "ada").await;
    let url: reqwest::Url = t.url("/api/v1/sync").parse().unwrap();
    let cookie = jar.cookies(&url).expect("the session cookie");
    let request = |origin: &str| {
        let mut req = t
            .url("/api/v1/sync")
            .replacen("http://", "ws://", 1)
            .into_client_request()
            .unwrap();
        req.headers_mut().insert("origin", origin.parse().unwrap());
        req.headers_mut().insert("cookie", cookie.clone());
        req
    };
    let Err(err) = tokio_tungstenite::connect_async(request("https://evil.example")).await else {
        panic!("a page of another site opened the socket");
    };
    assert!(format!("{err}").contains("403"), "{err}");
    let (mut socket, _) = tokio_tungstenite::connect_async(request(&t.base))
        .await
        .expect("a page of this server opens it");
    until_synced(&mut socket).await;
    t.stop().await;
}

/// A session that went idle while its socket stayed open: the next look at
/// the credentials (here: another session of the person signing out) closes
/// the socket with 4001.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_ends_its_socket() {
    let t = TestApp::spawn(Db::Sqlite).await;
    let ada = t.new_user("ada").await;
    let mut socket = connect(&t, &ada, None).await;
    until_synced(&mut socket).await;
    t.clock.advance(31 * postroom_server::clock::MINUTE);
    let other = t.sign_in("ada", crate::common::PASSWORD, false).await;
    t.delete("/api/v1/sessions/current", Some(&other))
        .await
        .assert(204, None);
    assert_eq!(close_code(&mut socket).await, 4001);
    t.stop().await;
}

/// Two nodes on one PostgreSQL: a socket on one hears a change made on the
/// other within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_reaches_a_socket_on_another() {
    if crate::common::postgres_url().is_none() {
        crate::common::skip(
            "sync::a_change_on_one_node_reaches_a_socket_on_another",
            "set POSTROOM_TEST_DATABASE_URL to run it on PostgreSQL",
        );
        return;
    }
    let a = TestApp::spawn(Db::Postgres).await;
    let b = a.spawn_node().await;
    let ada = a.new_user("ada").await;
    let mut socket = connect(&b, &ada, None).await;
    until_synced(&mut socket).await;
    let started = std::time::Instant::now();
    let id = create(&a, &ada, "Across", None).await;
    let m = next_message(&mut socket).await;
    assert_eq!(m["change"]["id"], id.as_str());
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "arrived after {:?}",
        started.elapsed()
    );
    drop(socket);
    b.stop().await;
    a.stop().await;
}

/// Writers on two nodes commit concurrently into one team's log while a
/// reader follows it: every change is seen, none skipped, none twice, even
/// when a transaction that started first commits last.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn late_commits_are_never_skipped() {
    if crate::common::postgres_url().is_none() {
        crate::common::skip(
            "sync::late_commits_are_never_skipped",
            "set POSTROOM_TEST_DATABASE_URL to run it on PostgreSQL",
        );
        return;
    }
    let a = TestApp::spawn(Db::Postgres).await;
    let b = a.spawn_node().await;
    let ada = a.new_user("ada").await;
    let bob = a.new_user("bob").await;
    a.create_team(&ada, "acme").await;
    a.join_team(&ada, "acme", &bob).await;
    let (_, start) = all_changes(&a, &ada, None).await;
    const WRITERS: usize = 4;
    const WRITES: usize = 10;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (node, token) = if w % 2 == 0 { (&a, &ada) } else { (&b, &bob) };
        let (base, client, token) = (node.url(""), node.client.clone(), token.clone());
        writers.push(tokio::spawn(async move {
            let mut made = Vec::new();
            for i in 0..WRITES {
                let r = client
                    .post(format!("{base}/api/v1/collections"))
                    .bearer_auth(&token)
                    .json(
                        &json!({"collection": two_requests(&format!("w{w}-{i}")), "team": "acme"}),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                let body: Value = r.json().await.unwrap();
                made.push(body["collection"]["id"].as_str().unwrap().to_owned());
            }
            made
        }));
    }
    // The reader follows the log on node B while the writers run.
    let reader = {
        let (base, client, token) = (b.url(""), b.client.clone(), ada.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut cursor = start;
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            while seen.len() < WRITERS * WRITES && std::time::Instant::now() < deadline {
                let r: Value = client
                    .get(format!("{base}/api/v1/changes?since={cursor}&limit=7"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                let Some(changes) = r["changes"].as_array() else {
                    panic!("the change log answered {r}");
                };
                for c in changes {
                    seen.push(c["id"].as_str().unwrap().to_owned());
                }
                cursor = r["cursor"].as_str().unwrap().to_owned();
            }
            seen
        })
    };
    let mut made = HashSet::new();
    for w in writers {
        made.extend(w.await.unwrap());
    }
    let seen = reader.await.unwrap();
    let unique: HashSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "a change was delivered twice");
    assert_eq!(unique, made, "every committed change was delivered");
    b.stop().await;
    a.stop().await;
}

/// The socket's heartbeat and a client that sends frames of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_socket_ignores_client_chatter() {
    let t = TestApp::spawn(Db::Sqlite).await;
    let ada = t.new_user("ada").await;
    let mut socket = connect(&t, &ada, None).await;
    until_synced(&mut socket).await;
    socket.send(Message::Text("hello".into())).await.unwrap();
    socket.send(Message::Ping(vec![1, 2].into())).await.unwrap();
    let id = create(&t, &ada, "Still", None).await;
    let m = next_message(&mut socket).await;
    assert_eq!(m["change"]["id"], id.as_str());
    t.stop().await;
}

/// nginx in front, as a reverse proxy that passes WebSockets on: sockets
/// through it get their changes, from two nodes when PostgreSQL is there
/// (nginx spreads the connections over both), and a node that stops loses
/// nothing: its sockets are closed with "going away" and catch up through
/// the other from their cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_socket_works_behind_nginx() {
    let Some(nginx) = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
    else {
        crate::common::skip(
            "sync::the_sync_socket_works_behind_nginx",
            "nginx is not installed (apt-get install nginx)",
        );
        return;
    };
    let two_nodes = crate::common::postgres_url().is_some();
    let a = TestApp::spawn(if two_nodes { Db::Postgres } else { Db::Sqlite }).await;
    let b = if two_nodes {
        Some(a.spawn_node().await)
    } else {
        None
    };
    let mut upstreams = vec![a.url("").replace("http://", "")];
    if let Some(b) = &b {
        upstreams.push(b.url("").replace("http://", ""));
    }
    let proxy = Nginx::start(nginx, &upstreams);
    let ada = a.new_user("ada").await;
    let through = |path: &str| format!("{}{path}", proxy.base);

    // Two sockets through the proxy: with two nodes, one on each.
    let mut first = connect_url(&through("/api/v1/sync").replace("http", "ws"), &ada).await;
    let mut second = connect_url(&through("/api/v1/sync").replace("http", "ws"), &ada).await;
    until_synced(&mut first).await;
    until_synced(&mut second).await;
    let create_through = |name: &str| {
        let req = a
            .client
            .post(through("/api/v1/collections"))
            .bearer_auth(&ada)
            .json(&json!({"collection": two_requests(name)}));
        async move {
            let r = TestApp::read(req.send().await.unwrap()).await;
            r.assert(201, None);
            r.body["collection"]["id"].as_str().unwrap().to_owned()
        }
    };
    let id = create_through("Proxied").await;
    let mut cursors = Vec::new();
    for s in [&mut first, &mut second] {
        let m = next_message(s).await;
        assert_eq!(m["change"]["id"], id.as_str());
        cursors.push(m["cursor"].as_str().unwrap().to_owned());
    }

    if let Some(b) = b {
        // Node B stops: its socket is told to go away; a change made
        // meanwhile is not lost: the reconnected socket catches it up.
        b.stop().await;
        let mut closed = Vec::new();
        for s in [&mut first, &mut second] {
            let next = tokio::time::timeout(Duration::from_millis(500), s.next()).await;
            closed.push(matches!(next, Ok(Some(Ok(Message::Close(_)))) | Ok(None)));
        }
        assert_eq!(
            closed.iter().filter(|c| **c).count(),
            1,
            "one socket was on node B"
        );
        let lost = if closed[0] { 0 } else { 1 };
        let id2 = create_through("While one node is down").await;
        let mut back = connect_url(
            &format!(
                "{}?since={}",
                through("/api/v1/sync").replace("http", "ws"),
                cursors[lost]
            ),
            &ada,
        )
        .await;
        let missed = until_synced(&mut back).await;
        assert_eq!(missed.len(), 1);
        assert_eq!(missed[0]["change"]["id"], id2.as_str());
    }
    drop(proxy);
    a.stop().await;
}

async fn connect_url(url: &str, token: &str) -> Socket {
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (socket, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("the socket opens through the proxy");
    socket
}

/// An nginx process proxying to `upstreams`, stopped when dropped.
struct Nginx {
    child: std::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Nginx {
    fn start(binary: &str, upstreams: &[String]) -> Nginx {
        let dir = tempfile::tempdir().unwrap();
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let d = dir.path().display();
        let servers: String = upstreams.iter().map(|u| format!("server {u};")).collect();
        let config = format!(
            "daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
  upstream postroom {{ {servers} }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://postroom;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_set_header Host $host;
      proxy_read_timeout 1h;
    }}
  }}
}}
"
        );
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, config).unwrap();
        let child = std::process::Command::new(binary)
            .arg("-c")
            .arg(&path)
            .arg("-p")
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nginx starts");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nginx did not listen: {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Nginx {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The socket looks at its credentials again on every heartbeat; that is
/// not the person's activity, so a session without "keep me signed in"
/// still ends after 30 idle minutes while a page or client keeps its
/// socket open (and the socket then closes with 4001). A request is
/// activity. Both for a bearer token and for the pages' cookie.
#[tokio::test]
async fn checking_credentials_again_keeps_no_session_alive() {
    use postroom_server::http::extract::reauthenticate;
    use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, COOKIE};

    let t = TestApp::spawn(Db::Sqlite).await;
    let token = t.new_user("ada").await;
    let mut bearer = HeaderMap::new();
    bearer.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    // The pages' cookie, from the sign-in form.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = client.get(t.url("/sign-in")).send().await.unwrap();
    let mut jar: Vec<String> = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let html = form.text().await.unwrap();
    let csrf = html
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let signed_in = client
        .post(t.url("/sign-in"))
        .header("cookie", jar.join("; "))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", "ada"),
            ("password", crate::common::PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert!(signed_in.status().is_redirection());
    jar.extend(
        signed_in
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned()),
    );
    let mut cookie = HeaderMap::new();
    cookie.insert(COOKIE, HeaderValue::from_str(&jar.join("; ")).unwrap());

    for headers in [&bearer, &cookie] {
        assert!(reauthenticate(&t.app, headers).await.unwrap().is_some());
    }
    for _ in 0..2 {
        t.clock.advance(10 * MINUTE);
        for headers in [&bearer, &cookie] {
            let actor = reauthenticate(&t.app, headers).await.unwrap();
            assert!(actor.is_some(), "the session still holds");
        }
    }
    // 31 minutes without a request: both sessions ended.
    t.clock.advance(11 * MINUTE);
    assert!(reauthenticate(&t.app, &bearer).await.is_err());
    assert!(reauthenticate(&t.app, &cookie).await.unwrap().is_none());

    // A request, by contrast, is activity.
    let token = t.sign_in("ada", crate::common::PASSWORD, false).await;
    t.clock.advance(20 * MINUTE);
    t.get("/api/v1/me", Some(&token)).await.assert(200, None);
    t.clock.advance(20 * MINUTE);
    t.get("/api/v1/me", Some(&token)).await.assert(200, None);
    t.stop().await;
}
