//! The workspace through the API (S1-S3, S8, S9), on SQLite and PostgreSQL:
//! every real Postman export reads back as written, revisions and restores,
//! who sees a team's items, imports that are all or nothing, public links,
//! the feed, and secret values sealed at rest.

use std::path::PathBuf;

use crate::common::{Db, TestApp};
use postroom_server::domain::workspace::RESTORE_DAYS;
use serde_json::{json, Value};

on_both_databases!(
    environments_and_presets_are_shared_and_taken_back_on_their_pages,
    every_real_postman_file_reads_back_as_written,
    writes_make_revisions_and_nothing_is_lost,
    deleted_items_come_back_for_thirty_days,
    team_items_are_for_members_with_a_seat,
    bad_documents_are_refused_with_the_path,
    imports_are_all_or_nothing,
    public_links_serve_the_collection_until_revoked,
    the_feed_follows_subscribed_collections,
    environment_values_are_sealed_at_rest,
    globals_per_person_and_team,
    history_and_header_presets,
    a_large_collection_imports_in_one_piece,
);

/// A node given another server key than the one that sealed the database's
/// environments refuses to start, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_with_another_key_refuses_to_start() {
    use postroom_server::config::Config;
    let mut t = TestApp::spawn(Db::Sqlite).await;
    let ada = t.new_user("ada").await;
    t.post(
        "/api/v1/environments",
        Some(&ada),
        json!({"environment": {"name": "E", "values": [{"key": "k", "value": "v"}]}}),
    )
    .await
    .assert(201, None);
    // One server at a time on a data directory.
    t.halt().await;
    let data_dir = t.data_dir.path().to_path_buf();
    let start = |key: Option<String>| {
        let data_dir = data_dir.clone();
        async move {
            let mut config = Config::defaults();
            config.listen = "127.0.0.1:0".into();
            config.data_dir = data_dir;
            config.secret_key = key.map(Into::into);
            let settings = config.validate().unwrap();
            postroom_server::startup::Application::build(
                settings,
                postroom_server::clock::Clock::manual(0),
            )
            .await
        }
    };
    let err = start(Some("ab".repeat(32)))
        .await
        .err()
        .expect("another key is refused");
    let message = format!("{err:#}");
    assert!(message.contains("server key does not open"), "{message}");
    // With the key it was sealed under (<data_dir>/server.key), it starts.
    assert!(start(None).await.is_ok());
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_and_linked_collections_run_in_newman() {
    let Some(newman) = which("newman") else {
        crate::common::skip(
            "workspace::exported_and_linked_collections_run_in_newman",
            "newman is not installed (npm install -g newman)",
        );
        return;
    };
    newman_runs(&newman).await;
}

fn postman_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/postman")
}

/// The real exports: (file name, parsed).
fn real_files() -> Vec<(String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(postman_dir())
        .expect("../shared/data/postman is beside the repository")
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 9, "expected the shared Postman files");
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect()
}

/// Whether `got` is `want` as JSON values, but for what a store may add:
/// our id in `info._postman_id` (or an environment's `id`), and an `id` on
/// items, folders and saved responses that had none. Returns where they
/// first differ.
pub fn same_but_ids(want: &Value, got: &Value, path: &str) -> Result<(), String> {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => {
            for (k, wv) in w {
                let p = format!("{path}.{k}");
                if p == ".info._postman_id" || p == ".id" {
                    continue;
                }
                match g.get(k) {
                    Some(gv) => same_but_ids(wv, gv, &p)?,
                    None => return Err(format!("{p}: missing")),
                }
            }
            for k in g.keys() {
                if !w.contains_key(k) {
                    let p = format!("{path}.{k}");
                    let last = path.rsplit('.').next().unwrap_or("");
                    let id_added =
                        k == "id" && (last.starts_with("item[") || last.starts_with("response["));
                    let ours = p == ".info._postman_id" || p == ".id";
                    if !(id_added || ours) {
                        return Err(format!("{p}: added"));
                    }
                }
            }
            Ok(())
        }
        (Value::Array(w), Value::Array(g)) => {
            if w.len() != g.len() {
                return Err(format!("{path}: {} elements, not {}", g.len(), w.len()));
            }
            for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                same_but_ids(wv, gv, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        (w, g) if w == g => Ok(()),
        (Value::Number(w), Value::Number(g)) if w.as_f64() == g.as_f64() => Ok(()),
        (w, g) => Err(format!("{path}: {g} instead of {w}")),
    }
}

/// Every item, folder and saved response has a non-empty string id.
fn every_node_has_an_id(items: &Value) -> bool {
    items.as_array().into_iter().flatten().all(|item| {
        item["id"].as_str().is_some_and(|s| !s.is_empty())
            && item["response"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|r| r["id"].as_str().is_some_and(|s| !s.is_empty()))
            && item.get("item").is_none_or(every_node_has_an_id)
    })
}

async fn import_raw(
    t: &TestApp,
    token: &str,
    query: &str,
    body: Vec<u8>,
    content_type: &str,
) -> crate::common::Resp {
    let r = t
        .client
        .post(t.url(&format!("/api/v1/imports{query}")))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    TestApp::read(r).await
}

async fn every_real_postman_file_reads_back_as_written(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    for (name, original) in real_files() {
        let r = import_raw(
            &t,
            &ada,
            "",
            serde_json::to_vec(&original).unwrap(),
            "application/json",
        )
        .await;
        r.assert(201, None);
        let is_env = original.get("values").is_some();
        let (list, route, member) = if is_env {
            ("environments", "/api/v1/environments", "environment")
        } else {
            ("collections", "/api/v1/collections", "collection")
        };
        assert_eq!(r.body[list].as_array().unwrap().len(), 1, "{name}");
        let id = r.body[list][0]["id"].as_str().unwrap().to_owned();
        let got = t.get(&format!("{route}/{id}"), Some(&ada)).await;
        got.assert(200, None);
        assert_eq!(got.headers["etag"], "\"1\"", "{name}");
        let doc = &got.body[member];
        let mut want = original.clone();
        if want
            .pointer("/info/schema")
            .and_then(Value::as_str)
            .is_some_and(|s| s.contains("v2.0"))
        {
            // Upgraded to v2.1: the schema and the auth parameters change,
            // everything else (v2.0's root `variables` included) stays.
            assert!(
                doc["info"]["schema"].as_str().unwrap().contains("v2.1.0"),
                "{name}"
            );
            assert_eq!(doc["variables"], original["variables"], "{name}");
            want["info"]["schema"] = doc["info"]["schema"].clone();
        }
        if let Err(diff) = same_but_ids(&want, doc, "") {
            panic!("{name} does not read back as written: {diff}");
        }
        if is_env {
            assert_eq!(doc["id"], id.as_str(), "{name}");
        } else {
            assert_eq!(doc["info"]["_postman_id"], id.as_str(), "{name}");
            assert!(
                every_node_has_an_id(&doc["item"]),
                "{name}: every node gets an id"
            );
            // Ids are stable: writing the document back changes none.
            let r = t
                .put(&format!("{route}/{id}"), Some(&ada), json!({ member: doc }))
                .await;
            r.assert(200, None);
            assert_eq!(r.body[member]["revision"], 2);
            let again = t.get(&format!("{route}/{id}"), Some(&ada)).await;
            assert_eq!(
                &again.body[member], doc,
                "{name}: a second write keeps every id"
            );
        }
    }
    // The same through POST /collections.
    let (_, conduit) = real_files()
        .into_iter()
        .find(|(n, _)| n.starts_with("realworld"))
        .unwrap();
    let r = t
        .post(
            "/api/v1/collections",
            Some(&ada),
            json!({ "collection": conduit }),
        )
        .await;
    r.assert(201, None);
    assert_eq!(r.body["collection"]["name"], "Conduit");
    let id = r.body["collection"]["id"].as_str().unwrap();
    let got = t
        .get(&format!("/api/v1/collections/{id}"), Some(&ada))
        .await;
    same_but_ids(&conduit, &got.body["collection"], "").unwrap();
    let list = t.get("/api/v1/collections", Some(&ada)).await;
    list.assert(200, None);
    assert_eq!(list.body["collections"].as_array().unwrap().len(), 8);
    assert_eq!(list.body["collections"][0]["name"], "Conduit");
    assert_eq!(list.body["collections"][0]["owner"]["type"], "private");
    assert_eq!(list.body["collections"][0]["subscribed"], true);
    t.stop().await;
}

fn tiny_collection(name: &str) -> Value {
    json!({
        "info": {"name": name, "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "item": [{"name": "ping", "request": {"method": "GET", "url": "{{base}}/ping"}}],
    })
}

async fn put_if(
    t: &TestApp,
    token: &str,
    path: &str,
    if_match: Option<&str>,
    body: Value,
) -> crate::common::Resp {
    let mut req = t.client.put(t.url(path)).bearer_auth(token).json(&body);
    if let Some(m) = if_match {
        req = req.header("if-match", m);
    }
    TestApp::read(req.send().await.unwrap()).await
}

async fn writes_make_revisions_and_nothing_is_lost(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let r = t
        .post(
            "/api/v1/collections",
            Some(&ada),
            json!({"collection": tiny_collection("One")}),
        )
        .await;
    r.assert(201, None);
    let id = r.body["collection"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/collections/{id}");
    assert_eq!(r.body["collection"]["revision"], 1);

    // A write based on the current revision applies.
    let mut doc = t.get(&path, Some(&ada)).await.body["collection"].clone();
    doc["info"]["name"] = json!("Two");
    let r = put_if(&t, &ada, &path, Some("\"1\""), json!({"collection": doc})).await;
    r.assert(200, None);
    assert_eq!(
        r.body["collection"],
        json!({"id": id, "name": "Two", "revision": 2})
    );
    assert_eq!(r.body["merged"], false);
    // One based on an older revision that changed the same field is a
    // conflict: kept, not applied (the merge itself is tested in `sync`).
    doc["info"]["name"] = json!("Stale");
    put_if(&t, &ada, &path, Some("\"1\""), json!({"collection": doc}))
        .await
        .assert(409, Some("conflict"));
    put_if(
        &t,
        &ada,
        &path,
        Some("W/\"2\""),
        json!({"collection": doc.clone()}),
    )
    .await
    .assert(200, None);
    put_if(
        &t,
        &ada,
        &path,
        Some("yesterday"),
        json!({"collection": doc.clone()}),
    )
    .await
    .assert(400, Some("invalid_if_match"));
    // Without If-Match: an explicit overwrite of whatever is current.
    doc["info"]["name"] = json!("Four");
    put_if(&t, &ada, &path, None, json!({"collection": doc}))
        .await
        .assert(200, None);

    let revs = t.get(&format!("{path}/revisions"), Some(&ada)).await;
    revs.assert(200, None);
    let numbers: Vec<i64> = revs.body["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["revision"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers, vec![4, 3, 2, 1]);
    assert_eq!(revs.body["revisions"][0]["current"], true);
    assert_eq!(revs.body["revisions"][0]["created_by"]["username"], "ada");
    let page = t
        .get(&format!("{path}/revisions?limit=2"), Some(&ada))
        .await;
    assert_eq!(page.body["revisions"].as_array().unwrap().len(), 2);
    let next = page.body["next"].as_str().unwrap();
    let rest = t
        .get(
            &format!("{path}/revisions?limit=2&before={next}"),
            Some(&ada),
        )
        .await;
    assert_eq!(rest.body["revisions"][0]["revision"], 2);

    // Every revision can be read and restored (as a new one).
    let one = t.get(&format!("{path}/revisions/1"), Some(&ada)).await;
    one.assert(200, None);
    assert_eq!(one.body["collection"]["info"]["name"], "One");
    t.get(&format!("{path}/revisions/9"), Some(&ada))
        .await
        .assert(404, None);
    let r = t
        .post(
            &format!("{path}/revisions/1/restore"),
            Some(&ada),
            json!({}),
        )
        .await;
    r.assert(200, None);
    assert_eq!(r.body["collection"]["revision"], 5);
    let now = t.get(&path, Some(&ada)).await;
    assert_eq!(now.headers["etag"], "\"5\"");
    assert_eq!(now.body["collection"], one.body["collection"]);

    // Nobody else sees any of it.
    let bob = t.new_user("bob").await;
    t.get(&path, Some(&bob))
        .await
        .assert(404, Some("not_found"));
    t.get(&format!("{path}/revisions"), Some(&bob))
        .await
        .assert(404, None);
    put_if(
        &t,
        &bob,
        &path,
        None,
        json!({"collection": tiny_collection("x")}),
    )
    .await
    .assert(404, None);
    t.delete(&path, Some(&bob)).await.assert(404, None);
    t.get("/api/v1/collections/not-an-id!", Some(&ada))
        .await
        .assert(404, None);
    assert!(
        t.get("/api/v1/collections", Some(&bob)).await.body["collections"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    t.stop().await;
}

async fn deleted_items_come_back_for_thirty_days(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let r = t
        .post(
            "/api/v1/collections",
            Some(&ada),
            json!({"collection": tiny_collection("Gone")}),
        )
        .await;
    let id = r.body["collection"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/collections/{id}");
    t.delete(&path, Some(&ada)).await.assert(204, None);
    t.get(&path, Some(&ada)).await.assert(404, None);
    assert!(
        t.get("/api/v1/collections", Some(&ada)).await.body["collections"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let deleted = t.get("/api/v1/collections?deleted=true", Some(&ada)).await;
    assert_eq!(deleted.body["collections"][0]["id"], id.as_str());
    assert!(deleted.body["collections"][0]["purge_at"].is_string());
    t.post(&format!("{path}/restore"), Some(&ada), json!({}))
        .await
        .assert(200, None);
    t.get(&path, Some(&ada)).await.assert(200, None);
    t.post(&format!("{path}/restore"), Some(&ada), json!({}))
        .await
        .assert(404, None);

    // Past thirty days the janitor purges it.
    t.delete(&path, Some(&ada)).await.assert(204, None);
    let now = t.clock.now();
    let mut tx = t.app.store.begin().await.unwrap();
    let purged =
        postroom_server::store::items::purge_deleted(&mut tx, now - RESTORE_DAYS * 86_400_000)
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(purged, 0, "not before thirty days");
    t.clock.advance(31 * 86_400_000);
    let mut tx = t.app.store.begin().await.unwrap();
    let purged = postroom_server::store::items::purge_deleted(
        &mut tx,
        t.clock.now() - RESTORE_DAYS * 86_400_000,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(purged, 1);
    // The session ended meanwhile (thirty days): sign in again.
    let ada = t.sign_in("ada", crate::common::PASSWORD, false).await;
    t.post(&format!("{path}/restore"), Some(&ada), json!({}))
        .await
        .assert(404, None);
    t.stop().await;
}

async fn me(t: &TestApp, token: &str) -> String {
    t.get("/api/v1/me", Some(token)).await.body["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn team_items_are_for_members_with_a_seat(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    let carol = t.new_user("carol").await;
    t.create_team(&ada, "acme").await;
    t.join_team(&ada, "acme", &bob).await;

    let r = t
        .post(
            "/api/v1/collections",
            Some(&ada),
            json!({"collection": tiny_collection("Shared")}),
        )
        .await;
    let id = r.body["collection"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/collections/{id}");
    t.get(&path, Some(&bob)).await.assert(404, None);
    // Sharing moves it into the team.
    let r = t
        .post(&format!("{path}/move"), Some(&ada), json!({"team": "acme"}))
        .await;
    r.assert(200, None);
    assert_eq!(
        r.body["item"]["owner"],
        json!({"type": "team", "team": {"slug": "acme", "name": "ACME"}})
    );
    let r = t.get(&path, Some(&bob)).await;
    r.assert(200, None);
    let mut doc = r.body["collection"].clone();
    doc["item"][0]["name"] = json!("ping by bob");
    t.put(&path, Some(&bob), json!({"collection": doc}))
        .await
        .assert(200, None);
    let listed = t.get("/api/v1/collections?team=acme", Some(&bob)).await;
    listed.assert(200, None);
    assert_eq!(
        listed.body["collections"][0]["updated_by"]["username"],
        "bob"
    );
    // Bob did not create it and is no admin: he may not delete it or take it out.
    t.delete(&path, Some(&bob))
        .await
        .assert(403, Some("creator_or_admin_required"));
    t.post(&format!("{path}/move"), Some(&bob), json!({"team": null}))
        .await
        .assert(403, Some("creator_or_admin_required"));
    // A collection bob creates in the team is his to delete.
    let r = t
        .post(
            "/api/v1/collections",
            Some(&bob),
            json!({"collection": tiny_collection("Bob's"), "team": "acme"}),
        )
        .await;
    r.assert(201, None);
    let bobs = r.body["collection"]["id"].as_str().unwrap().to_owned();

    // Outsiders see nothing; a team they are not in is not found.
    t.get(&path, Some(&carol)).await.assert(404, None);
    t.get("/api/v1/collections?team=acme", Some(&carol))
        .await
        .assert(404, Some("not_found"));
    t.post(
        "/api/v1/collections",
        Some(&carol),
        json!({"collection": tiny_collection("x"), "team": "acme"}),
    )
    .await
    .assert(404, None);
    // A support-only member (billing alone) runs the team, not its work.
    t.join_team(&ada, "acme", &carol).await;
    let carol_id = me(&t, &carol).await;
    t.put(
        &format!("/api/v1/teams/acme/members/{carol_id}/role"),
        Some(&ada),
        json!({"role": "billing", "support_only": true}),
    )
    .await
    .assert(200, None);
    t.get(&path, Some(&carol)).await.assert(404, None);
    t.get("/api/v1/collections?team=acme", Some(&carol))
        .await
        .assert(403, Some("no_seat"));
    assert!(
        t.get("/api/v1/collections", Some(&carol)).await.body["collections"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A removed member loses access at once.
    let bob_id = me(&t, &bob).await;
    t.delete(&format!("/api/v1/teams/acme/members/{bob_id}"), Some(&ada))
        .await
        .assert(204, None);
    t.get(&path, Some(&bob)).await.assert(404, None);
    t.get(&format!("/api/v1/collections/{bobs}"), Some(&bob))
        .await
        .assert(404, None);
    // The admin may delete what bob made, and take the shared one back.
    t.delete(&format!("/api/v1/collections/{bobs}"), Some(&ada))
        .await
        .assert(204, None);
    let r = t.post(&format!("{path}/move"), Some(&ada), json!({})).await;
    r.assert(200, None);
    assert_eq!(r.body["item"]["owner"]["type"], "private");
    t.stop().await;
}

async fn bad_documents_are_refused_with_the_path(db: Db) {
    let t = TestApp::spawn_with(db, |c| c.max_document_mb = 1).await;
    let ada = t.new_user("ada").await;
    let bad = json!({"info": {"name": "Bad"}, "item": [{"name": "a", "request": "x"}, {"name": "f", "item": [{"name": "b", "request": {"url": 42}}]}]});
    let r = t
        .post(
            "/api/v1/collections",
            Some(&ada),
            json!({"collection": bad}),
        )
        .await;
    r.assert(422, Some("invalid_document"));
    assert_eq!(
        r.body["error"]["message"],
        "item[1].item[0].request.url: expected a string or an object"
    );
    assert!(r.body["error"]["fields"]["collection.item[1].item[0].request.url"].is_string());
    let v1 = json!({"id": "x", "name": "Old", "order": [], "requests": []});
    let r = t
        .post("/api/v1/collections", Some(&ada), json!({"collection": v1}))
        .await;
    r.assert(422, Some("invalid_document"));
    assert!(r.body["error"]["message"].as_str().unwrap().contains("v1"));
    let env = json!({"name": "E", "values": []});
    t.post(
        "/api/v1/collections",
        Some(&ada),
        json!({"collection": env}),
    )
    .await
    .assert(422, Some("wrong_kind"));
    t.post(
        "/api/v1/environments",
        Some(&ada),
        json!({"environment": {"values": []}}),
    )
    .await
    .assert(422, Some("invalid_document"));
    t.post("/api/v1/collections", Some(&ada), json!({"nothing": 1}))
        .await
        .assert(422, Some("invalid_body"));
    // Not JSON, not declared as JSON, too large.
    let r = t
        .client
        .post(t.url("/api/v1/collections"))
        .bearer_auth(&ada)
        .header("content-type", "application/json")
        .body("{\"collection\": ")
        .send()
        .await
        .unwrap();
    TestApp::read(r).await.assert(400, Some("invalid_json"));
    let r = t
        .client
        .post(t.url("/api/v1/collections"))
        .bearer_auth(&ada)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let mut big = tiny_collection("Big");
    big["info"]["description"] = json!("x".repeat(1_200_000));
    let r = t
        .post(
            "/api/v1/collections",
            Some(&ada),
            json!({"collection": big}),
        )
        .await;
    r.assert(413, None);
    // Nothing of it was stored.
    assert!(
        t.get("/api/v1/collections", Some(&ada)).await.body["collections"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Other routes keep their small limit.
    let r = t
        .patch(
            "/api/v1/me",
            Some(&ada),
            json!({"bio": "x".repeat(100_000)}),
        )
        .await;
    r.assert(413, None);
    t.stop().await;
}

fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    for (name, data) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap();
    out.into_inner()
}

async fn imports_are_all_or_nothing(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let files = real_files();
    let by_name = |prefix: &str| {
        serde_json::to_vec(&files.iter().find(|(n, _)| n.starts_with(prefix)).unwrap().1).unwrap()
    };
    let export = zip_of(&[
        ("collection/conduit.json", by_name("realworld")),
        ("collection/mall.json", by_name("mall")),
        (
            "environment/xero.json",
            by_name("xero-postman-oauth2__OAuth"),
        ),
        (
            "archive.json",
            br#"{"collection": {"a": true}, "environment": {"b": true}}"#.to_vec(),
        ),
    ]);
    let r = import_raw(&t, &ada, "", export, "application/zip").await;
    r.assert(201, None);
    assert_eq!(r.body["collections"].as_array().unwrap().len(), 2);
    assert_eq!(r.body["environments"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["skipped"][0]["path"], "archive.json");

    // One bad file: nothing of the zip is imported, and the error says where.
    let mut broken = files
        .iter()
        .find(|(n, _)| n.starts_with("httpiness"))
        .unwrap()
        .1
        .clone();
    broken["item"][3]["request"]["url"] = json!(7);
    let bad = zip_of(&[
        ("collection/conduit.json", by_name("realworld")),
        (
            "collection/broken.json",
            serde_json::to_vec(&broken).unwrap(),
        ),
    ]);
    let r = import_raw(&t, &ada, "", bad, "application/zip").await;
    r.assert(422, Some("invalid_document"));
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with(
            "collection/broken.json: item[3].request.url: expected a string or an object"
        ),
        "{message}"
    );
    assert_eq!(
        t.get("/api/v1/collections", Some(&ada)).await.body["collections"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Unsafe paths, junk, empty bodies.
    let evil = zip_of(&[("../../etc/passwd.json", by_name("realworld"))]);
    import_raw(&t, &ada, "", evil, "application/zip")
        .await
        .assert(422, Some("invalid_zip"));
    import_raw(
        &t,
        &ada,
        "",
        b"PK\x03\x04 not really".to_vec(),
        "application/zip",
    )
    .await
    .assert(422, Some("invalid_zip"));
    import_raw(&t, &ada, "", b"{not json".to_vec(), "application/json")
        .await
        .assert(400, Some("invalid_json"));
    import_raw(&t, &ada, "", Vec::new(), "application/json")
        .await
        .assert(422, Some("empty_file"));
    import_raw(&t, &ada, "", b"{\"hello\": 1}".to_vec(), "application/json")
        .await
        .assert(422, Some("invalid_document"));
    let only_junk = zip_of(&[("notes.txt", b"hi".to_vec())]);
    import_raw(&t, &ada, "", only_junk, "application/zip")
        .await
        .assert(422, Some("nothing_to_import"));
    // Into a team: only for its members.
    let bob = t.new_user("bob").await;
    import_raw(&t, &bob, "?team=nope", by_name("mall"), "application/json")
        .await
        .assert(404, None);
    t.create_team(&bob, "bobs").await;
    let r = import_raw(&t, &bob, "?team=bobs", by_name("mall"), "application/json").await;
    r.assert(201, None);
    let list = t.get("/api/v1/collections?team=bobs", Some(&bob)).await;
    assert_eq!(list.body["collections"][0]["name"], "mall-portal");
    t.stop().await;
}

async fn public_links_serve_the_collection_until_revoked(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    t.create_team(&ada, "acme").await;
    t.join_team(&ada, "acme", &bob).await;
    let r = t
        .post(
            "/api/v1/collections",
            Some(&bob),
            json!({"collection": tiny_collection("Linked"), "team": "acme"}),
        )
        .await;
    let id = r.body["collection"]["id"].as_str().unwrap().to_owned();
    let r = t
        .post(
            &format!("/api/v1/collections/{id}/links"),
            Some(&bob),
            json!({}),
        )
        .await;
    r.assert(201, None);
    let url = r.body["link"]["url"].as_str().unwrap().to_owned();
    let link_id = r.body["link"]["id"].as_str().unwrap().to_owned();
    assert!(url.starts_with(&t.base) && url.contains("/l/"), "{url}");

    // Anyone with the URL gets the collection, as Postman and newman read it.
    let anon = reqwest::Client::new();
    let got = anon.get(&url).send().await.unwrap();
    assert_eq!(got.status(), 200);
    let body: Value = got.json().await.unwrap();
    assert_eq!(body["info"]["name"], "Linked");
    assert_eq!(body["info"]["_postman_id"], id.as_str());
    // A browser gets a read-only page.
    let page = anon
        .get(&url)
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Linked") && html.contains("ping") && html.contains("newman run"),
        "{html}"
    );
    // A tampered URL is not found.
    let other = if url.ends_with('x') { 'y' } else { 'x' };
    let tampered = format!("{}{other}", &url[..url.len() - 1]);
    assert_eq!(anon.get(&tampered).send().await.unwrap().status(), 404);
    assert_eq!(
        anon.get(t.url(&format!("/l/{link_id}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // The maker and the team's admins see it; others do not.
    let ada_links = t.get("/api/v1/links", Some(&ada)).await;
    assert_eq!(ada_links.body["links"][0]["id"], link_id.as_str());
    assert_eq!(ada_links.body["links"][0]["team"]["slug"], "acme");
    let carol = t.new_user("carol").await;
    assert!(t.get("/api/v1/links", Some(&carol)).await.body["links"]
        .as_array()
        .unwrap()
        .is_empty());
    t.delete(&format!("/api/v1/links/{link_id}"), Some(&carol))
        .await
        .assert(404, None);
    t.post(
        &format!("/api/v1/collections/{id}/links"),
        Some(&carol),
        json!({}),
    )
    .await
    .assert(404, None);

    // A link speaks for its maker: removed from the team, it stops working.
    let bob_id = me(&t, &bob).await;
    t.delete(&format!("/api/v1/teams/acme/members/{bob_id}"), Some(&ada))
        .await
        .assert(204, None);
    assert_eq!(anon.get(&url).send().await.unwrap().status(), 404);
    // Ada's own link works until she revokes it.
    let r = t
        .post(
            &format!("/api/v1/collections/{id}/links"),
            Some(&ada),
            json!({}),
        )
        .await;
    let url = r.body["link"]["url"].as_str().unwrap().to_owned();
    let link_id = r.body["link"]["id"].as_str().unwrap().to_owned();
    assert_eq!(anon.get(&url).send().await.unwrap().status(), 200);
    t.delete(&format!("/api/v1/links/{link_id}"), Some(&ada))
        .await
        .assert(204, None);
    assert_eq!(anon.get(&url).send().await.unwrap().status(), 404);
    t.stop().await;
}

async fn the_feed_follows_subscribed_collections(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    t.create_team(&ada, "acme").await;
    t.join_team(&ada, "acme", &bob).await;
    let r = t
        .post(
            "/api/v1/collections",
            Some(&ada),
            json!({"collection": tiny_collection("API"), "team": "acme"}),
        )
        .await;
    let id = r.body["collection"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/collections/{id}");
    // Bob follows it; ada (its creator) follows it already.
    t.put(&format!("{path}/subscription"), Some(&bob), json!({}))
        .await
        .assert(204, None);
    let mut doc = t.get(&path, Some(&bob)).await.body["collection"].clone();
    doc["item"][0]["name"] = json!("ping v2");
    t.put(&path, Some(&bob), json!({"collection": doc}))
        .await
        .assert(200, None);

    let feed = t.get("/api/v1/feed", Some(&ada)).await;
    feed.assert(200, None);
    let events = feed.body["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{}", feed.body);
    assert_eq!(events[0]["action"], "updated");
    assert_eq!(events[0]["actor"]["username"], "bob");
    assert_eq!(
        events[0]["item"],
        json!({"id": id, "kind": "collection", "name": "API"})
    );
    assert_eq!(events[0]["team"]["slug"], "acme");
    assert_eq!(events[0]["summary"], "bob updated API (revision 2)");
    assert_eq!(events[1]["action"], "created");
    let page = t.get("/api/v1/feed?limit=1", Some(&ada)).await;
    let next = page.body["next"].as_str().unwrap();
    let older = t
        .get(&format!("/api/v1/feed?limit=1&before={next}"), Some(&ada))
        .await;
    assert_eq!(older.body["events"][0]["action"], "created");
    assert!(older.body["next"].is_null());
    t.get("/api/v1/feed?before=junk", Some(&ada))
        .await
        .assert(400, Some("invalid_cursor"));

    // Not following: not in the feed. Someone else's private work: never.
    t.delete(&format!("{path}/subscription"), Some(&ada))
        .await
        .assert(204, None);
    assert!(t.get("/api/v1/feed", Some(&ada)).await.body["events"]
        .as_array()
        .unwrap()
        .is_empty());
    let carol = t.new_user("carol").await;
    t.put(&format!("{path}/subscription"), Some(&carol), json!({}))
        .await
        .assert(404, None);
    assert!(t.get("/api/v1/feed", Some(&carol)).await.body["events"]
        .as_array()
        .unwrap()
        .is_empty());
    // What happened to a collection while it was someone's private one stays theirs.
    let r = t
        .post(
            "/api/v1/collections",
            Some(&ada),
            json!({"collection": tiny_collection("Draft")}),
        )
        .await;
    let draft = r.body["collection"]["id"].as_str().unwrap().to_owned();
    let mut doc = t
        .get(&format!("/api/v1/collections/{draft}"), Some(&ada))
        .await
        .body["collection"]
        .clone();
    doc["info"]["name"] = json!("Secret plan");
    t.put(
        &format!("/api/v1/collections/{draft}"),
        Some(&ada),
        json!({"collection": doc}),
    )
    .await
    .assert(200, None);
    t.post(
        &format!("/api/v1/collections/{draft}/move"),
        Some(&ada),
        json!({"team": "acme"}),
    )
    .await
    .assert(200, None);
    t.put(
        &format!("/api/v1/collections/{draft}/subscription"),
        Some(&bob),
        json!({}),
    )
    .await
    .assert(204, None);
    let bobs = t.get("/api/v1/feed", Some(&bob)).await;
    let about_draft: Vec<&Value> = bobs.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["item"]["id"] == draft.as_str())
        .collect();
    assert_eq!(about_draft.len(), 1, "{}", bobs.body);
    assert_eq!(about_draft[0]["action"], "moved_in");
    assert_eq!(
        about_draft[0]["summary"],
        "ada shared Secret plan with ACME"
    );
    assert!(!bobs.body.to_string().contains("Draft"));
    // Leaving the team takes its collections out of the feed.
    assert_eq!(
        t.get("/api/v1/feed", Some(&bob)).await.body["events"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let bob_id = me(&t, &bob).await;
    t.delete(&format!("/api/v1/teams/acme/members/{bob_id}"), Some(&ada))
        .await
        .assert(204, None);
    assert!(t.get("/api/v1/feed", Some(&bob)).await.body["events"]
        .as_array()
        .unwrap()
        .is_empty());
    t.stop().await;
}

const SECRET_MARKER: &str = "zq-sealed-marker-7c1e";

async fn environment_values_are_sealed_at_rest(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let env = json!({"name": "Prod", "values": [
        {"key": "token", "value": SECRET_MARKER, "enabled": true, "type": "secret"},
        {"key": "base", "value": "https://api.example.com", "enabled": true},
    ]});
    let r = t
        .post(
            "/api/v1/environments",
            Some(&ada),
            json!({"environment": env}),
        )
        .await;
    r.assert(201, None);
    let id = r.body["environment"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/environments/{id}");
    let mut doc = t.get(&path, Some(&ada)).await.body["environment"].clone();
    assert_eq!(doc["values"][0]["value"], SECRET_MARKER);
    doc["values"][1]["value"] = json!(format!("{SECRET_MARKER}-2"));
    t.put(&path, Some(&ada), json!({"environment": doc}))
        .await
        .assert(200, None);
    t.put(
        "/api/v1/globals",
        Some(&ada),
        json!({"globals": {"values": [{"key": "g", "value": SECRET_MARKER}]}}),
    )
    .await
    .assert(200, None);
    assert_eq!(
        t.get(&format!("{path}/revisions/1"), Some(&ada)).await.body["environment"]["values"][0]
            ["value"],
        SECRET_MARKER
    );

    let raw: Vec<u8> = match db {
        Db::Sqlite => {
            let mut bytes = Vec::new();
            for name in ["postroom.db", "postroom.db-wal"] {
                if let Ok(b) = std::fs::read(t.data_dir.path().join(name)) {
                    bytes.extend(b);
                }
            }
            assert!(bytes.len() > 10_000, "the database files were read");
            bytes
        }
        Db::Postgres => {
            use secrecy::ExposeSecret;
            let url = t.app.settings.database_url.expose_secret().to_owned();
            let out = std::process::Command::new("pg_dump")
                .arg(&url)
                .output()
                .expect("pg_dump runs");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains("item_revisions"));
            out.stdout
        }
    };
    let needle = SECRET_MARKER.as_bytes();
    assert!(
        !raw.windows(needle.len()).any(|w| w == needle),
        "a secret value is readable in the database"
    );
    // The environment's name is not secret and stays readable for lists.
    assert!(raw.windows(4).any(|w| w == b"Prod"));
    t.stop().await;
}

async fn globals_per_person_and_team(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    let empty = t.get("/api/v1/globals", Some(&ada)).await;
    empty.assert(200, None);
    assert_eq!(empty.body, json!({"globals": {"values": []}}));
    let r = t
        .put(
            "/api/v1/globals",
            Some(&ada),
            json!({"globals": {"values": [{"key": "a", "value": "1"}]}}),
        )
        .await;
    r.assert(200, None);
    assert_eq!(r.body["globals"]["revision"], 1);
    let got = t.get("/api/v1/globals", Some(&ada)).await;
    assert_eq!(got.headers["etag"], "\"1\"");
    assert_eq!(got.body["globals"]["values"][0]["value"], "1");
    put_if(
        &t,
        &ada,
        "/api/v1/globals",
        Some("\"7\""),
        json!({"globals": {"values": []}}),
    )
    .await
    .assert(409, Some("conflict"));
    put_if(
        &t,
        &ada,
        "/api/v1/globals",
        Some("\"1\""),
        json!({"globals": {"values": []}}),
    )
    .await
    .assert(200, None);
    assert_eq!(
        t.get("/api/v1/globals", Some(&bob)).await.body,
        json!({"globals": {"values": []}})
    );
    t.create_team(&ada, "acme").await;
    t.put(
        "/api/v1/globals?team=acme",
        Some(&ada),
        json!({"globals": {"values": [{"key": "t", "value": "team"}]}}),
    )
    .await
    .assert(200, None);
    t.get("/api/v1/globals?team=acme", Some(&bob))
        .await
        .assert(404, None);
    t.join_team(&ada, "acme", &bob).await;
    assert_eq!(
        t.get("/api/v1/globals?team=acme", Some(&bob)).await.body["globals"]["values"][0]["value"],
        "team"
    );
    t.put(
        "/api/v1/globals",
        Some(&ada),
        json!({"globals": {"values": "nope"}}),
    )
    .await
    .assert(422, Some("invalid_document"));
    t.stop().await;
}

async fn history_and_header_presets(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let r = t.post("/api/v1/history", Some(&ada), json!({"entry": {"request": {"method": "POST", "url": "https://x.test/a"}, "response": {"code": 201}}})).await;
    r.assert(201, None);
    assert_eq!(r.body["entry"]["name"], "POST https://x.test/a");
    let id = r.body["entry"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        t.get(&format!("/api/v1/history/{id}"), Some(&ada))
            .await
            .body["entry"]["response"]["code"],
        201
    );
    assert_eq!(
        t.get("/api/v1/history", Some(&ada)).await.body["history"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    t.post(
        "/api/v1/history",
        Some(&ada),
        json!({"entry": {"response": {}}}),
    )
    .await
    .assert(422, Some("invalid_document"));
    t.delete(&format!("/api/v1/history/{id}"), Some(&ada))
        .await
        .assert(204, None);

    let r = t.post("/api/v1/header-presets", Some(&ada), json!({"header_preset": {"name": "JSON", "headers": [{"key": "Accept", "value": "application/json"}]}})).await;
    r.assert(201, None);
    let id = r.body["header_preset"]["id"].as_str().unwrap().to_owned();
    let got = t
        .get(&format!("/api/v1/header-presets/{id}"), Some(&ada))
        .await;
    assert_eq!(got.body["header_preset"]["headers"][0]["key"], "Accept");
    t.post(
        "/api/v1/header-presets",
        Some(&ada),
        json!({"header_preset": {"name": "x", "headers": [{"value": 1}]}}),
    )
    .await
    .assert(422, Some("invalid_document"));
    assert_eq!(
        t.get("/api/v1/header-presets", Some(&ada)).await.body["header_presets"][0]["name"],
        "JSON"
    );
    t.stop().await;
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

/// A small API for the collection's requests to test: `GET /status` and
/// `POST /echo`.
async fn tiny_api() -> String {
    use axum::routing::{get, post};
    let app = axum::Router::new()
        .route(
            "/status",
            get(|| async { axum::Json(json!({"ok": true, "items": [1, 2, 3]})) }),
        )
        .route(
            "/echo",
            post(|body: axum::Json<Value>| async move { axum::Json(json!({"echo": body.0})) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

/// A collection whose requests carry `pm.test` assertions, some of them in a folder.
fn tested_collection(base: &str) -> Value {
    json!({
        "info": {"name": "Smoke", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "variable": [{"key": "base", "value": base}],
        "item": [
            {"name": "status", "request": {"method": "GET", "url": "{{base}}/status"},
             "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": [
                "pm.test('is up', () => pm.response.to.have.status(200));",
                "pm.test('has three items', () => pm.expect(pm.response.json().items.length).to.eql(3));"
             ]}}]},
            {"name": "writes", "item": [
                {"name": "echo", "request": {"method": "POST", "url": "{{base}}/echo",
                  "header": [{"key": "Content-Type", "value": "application/json"}],
                  "body": {"mode": "raw", "raw": "{\"hello\": \"world\"}"}},
                 "event": [{"listen": "test", "script": {"type": "text/javascript", "exec": [
                    "pm.test('echoes', () => pm.expect(pm.response.json().echo.hello).to.eql('world'));"
                 ]}}]}
            ]}
        ]
    })
}

fn run_newman(newman: &std::path::Path, target: &str) -> (bool, String) {
    let out = std::process::Command::new(newman)
        .args([
            "run",
            target,
            "--reporters",
            "cli",
            "--color",
            "off",
            "--timeout-request",
            "10000",
        ])
        .output()
        .expect("newman runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

async fn newman_runs(newman: &std::path::Path) {
    let t = TestApp::spawn(Db::Sqlite).await;
    let ada = t.new_user("ada").await;
    let base = tiny_api().await;
    let r = t
        .post(
            "/api/v1/collections",
            Some(&ada),
            json!({"collection": tested_collection(&base)}),
        )
        .await;
    r.assert(201, None);
    let id = r.body["collection"]["id"].as_str().unwrap().to_owned();

    // The exported file runs unchanged.
    let exported = t
        .get(&format!("/api/v1/collections/{id}"), Some(&ada))
        .await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("Smoke.postman_collection.json");
    std::fs::write(
        &file,
        serde_json::to_vec_pretty(&exported.body["collection"]).unwrap(),
    )
    .unwrap();
    let (ok, text) = run_newman(newman, file.to_str().unwrap());
    assert!(ok, "newman run of the exported file failed:\n{text}");
    assert!(text.contains("is up") && text.contains("echoes"), "{text}");

    // And so does the public link.
    let r = t
        .post(
            &format!("/api/v1/collections/{id}/links"),
            Some(&ada),
            json!({}),
        )
        .await;
    let url = r.body["link"]["url"].as_str().unwrap().to_owned();
    let (ok, text) = run_newman(newman, &url);
    assert!(ok, "newman run of the link failed:\n{text}");
    assert!(text.contains("has three items"), "{text}");

    // A failing assertion fails the run: the check above can fail.
    let mut broken = exported.body["collection"].clone();
    broken["item"][0]["event"][0]["script"]["exec"][1] = json!(
        "pm.test('has four items', () => pm.expect(pm.response.json().items.length).to.eql(4));"
    );
    t.put(
        &format!("/api/v1/collections/{id}"),
        Some(&ada),
        json!({"collection": broken}),
    )
    .await
    .assert(200, None);
    let (ok, text) = run_newman(newman, &url);
    assert!(!ok, "a failing pm.test must fail the run:\n{text}");
    t.stop().await;
}

/// 5,000 requests in nested folders, with test scripts and saved responses:
/// imported in one transaction, read back whole.
async fn a_large_collection_imports_in_one_piece(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let folders: Vec<Value> = (0..50)
        .map(|f| {
            let requests: Vec<Value> = (0..100)
                .map(|r| json!({
                    "name": format!("request {f}-{r} ✓"),
                    "request": {"method": "POST", "url": {"raw": format!("{{{{base}}}}/f{f}/r{r}?q=1"), "host": ["{{base}}"], "path": [format!("f{f}"), format!("r{r}")], "query": [{"key": "q", "value": "1"}]},
                        "header": [{"key": "Content-Type", "value": "application/json"}],
                        "body": {"mode": "raw", "raw": format!("{{\"n\": {r}, \"pad\": \"{}\"}}", "x".repeat(300))}},
                    "event": [{"listen": "test", "script": {"exec": ["pm.test('ok', () => pm.response.to.have.status(200));"], "type": "text/javascript"}}],
                    "response": [{"name": "ok", "code": 200, "body": null}],
                }))
                .collect();
            json!({"name": format!("folder {f}"), "item": requests})
        })
        .collect();
    let big = json!({"info": {"name": "Big", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"}, "item": folders});
    let bytes = serde_json::to_vec(&big).unwrap();
    assert!(bytes.len() > 3_000_000, "{} bytes", bytes.len());
    let r = import_raw(&t, &ada, "", bytes, "application/json").await;
    r.assert(201, None);
    let id = r.body["collections"][0]["id"].as_str().unwrap().to_owned();
    let got = t
        .get(&format!("/api/v1/collections/{id}"), Some(&ada))
        .await;
    got.assert(200, None);
    same_but_ids(&big, &got.body["collection"], "").unwrap();
    assert!(every_node_has_an_id(&got.body["collection"]["item"]));
    let listed = t.get("/api/v1/collections", Some(&ada)).await;
    assert!(listed.body["collections"][0]["size"].as_u64().unwrap() > 3_000_000);
    t.stop().await;
}

/// The environment and header preset pages share an item with a team and
/// take it back, as the collection page does.
async fn environments_and_presets_are_shared_and_taken_back_on_their_pages(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    t.create_team(&ada, "acme").await;
    t.join_team(&ada, "acme", &bob).await;
    let env = t
        .post(
            "/api/v1/environments",
            Some(&ada),
            json!({"environment": {"name": "Staging", "values": [{"key": "host", "value": "staging", "enabled": true}]}}),
        )
        .await;
    env.assert(201, None);
    let env_id = env.body["environment"]["id"].as_str().unwrap().to_owned();
    let preset = t
        .post(
            "/api/v1/header-presets",
            Some(&ada),
            json!({"header_preset": {"name": "JSON", "headers": [{"key": "Accept", "value": "application/json"}]}}),
        )
        .await;
    preset.assert(201, None);
    let preset_id = preset.body["header_preset"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (browser, csrf) = crate::cookie_auth::browser_signed_in(&t, "ada").await;

    for (kind, page) in [("environments", &env_id), ("header-presets", &preset_id)] {
        let html = browser
            .get(t.url(&format!("/{kind}/{page}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(html.contains("Share with a team"), "{kind}: {html}");
        t.get(&format!("/api/v1/{kind}/{page}"), Some(&bob))
            .await
            .assert(404, None);
        let shared = browser
            .post(t.url(&format!("/{kind}/{page}/move")))
            .form(&[("csrf", csrf.as_str()), ("team", "acme")])
            .send()
            .await
            .unwrap();
        assert_eq!(shared.status(), 303);
        assert!(shared.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("?flash=item_shared"));
        t.get(&format!("/api/v1/{kind}/{page}"), Some(&bob))
            .await
            .assert(200, None);
        // A team the person is not in is refused on the page, and nothing moves.
        let back = browser
            .post(t.url(&format!("/{kind}/{page}/move")))
            .form(&[("csrf", csrf.as_str()), ("team", "")])
            .send()
            .await
            .unwrap();
        assert_eq!(back.status(), 303);
        t.get(&format!("/api/v1/{kind}/{page}"), Some(&bob))
            .await
            .assert(404, None);
        let refused = browser
            .post(t.url(&format!("/{kind}/{page}/move")))
            .form(&[("csrf", csrf.as_str()), ("team", "nowhere")])
            .send()
            .await
            .unwrap();
        assert!(refused.status().is_client_error(), "{}", refused.status());
        let owner = t.get(&format!("/api/v1/{kind}/{page}"), Some(&ada)).await;
        owner.assert(200, None);
        let list = t
            .get(&format!("/api/v1/{kind}?private=true"), Some(&ada))
            .await;
        assert!(
            list.body.to_string().contains(page.as_str()),
            "still private: {}",
            list.body
        );
    }
}
