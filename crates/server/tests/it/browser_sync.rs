//! Sync in a real browser (S5, S7): the status in the header reaches
//! "Connected" over the sync socket, a change made through the API to the
//! collection a page shows brings the "Updated by ..." notice without
//! reloading the page, the status says "Offline" while the browser has no
//! network (and reconnects by itself, catching up, when it is back) or the
//! server is gone, and "Signed out" when the session ends; conflicts made through the API
//! are listed at /conflicts, counted in the navigation, and resolved on
//! their page each of the three ways (keep mine, keep theirs, edit the
//! merge, where JSON that does not parse is shown again with its error);
//! and an environment saved from a stale page explains the conflict and
//! links to it. Same harness as `browser.rs` (`common/browser.rs`);
//! screenshots go to `target/screenshots/sync-*.png`. Without a browser:
//! what the conflict pages refuse, each with its status.

use std::time::{Duration, Instant};

use fantoccini::Locator;
use serde_json::{json, Value};

use crate::common::browser::*;
use crate::common::{Resp, TestApp, PASSWORD};

impl Browser {
    async fn sync_shot(&self, name: &str) {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("create target/screenshots");
        if let Some(png) = self.screenshot().await {
            std::fs::write(dir.join(format!("{name}.png")), png).expect("save the screenshot");
        }
    }

    /// The sync status: its state and the words it shows.
    async fn sync_status(&self) -> (String, String) {
        let v = self
            .c
            .execute(
                "const b = document.querySelector('[data-sync]');
                 if (!b || b.hidden) return ['', ''];
                 return [b.dataset.state || '', b.querySelector('[data-sync-label]').textContent];",
                vec![],
            )
            .await
            .unwrap_or(Value::Null);
        serde_json::from_value(v).unwrap_or_default()
    }

    /// Waits until the sync status says `text` (in the state `state`).
    async fn expect_sync(&self, state: &str, text: &str) {
        let started = Instant::now();
        loop {
            let now = self.sync_status().await;
            if now.0 == state && now.1 == text {
                return;
            }
            if started.elapsed() > PATIENCE {
                panic!(
                    "expected the sync status {text:?} ({state}), got {now:?} on {}",
                    self.path().await
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The notice of a change made elsewhere, when it shows.
    async fn notice(&self) -> Option<String> {
        let v = self
            .c
            .execute(
                "const n = document.querySelector('[data-sync-notice]');
                 return n && !n.hidden ? n.textContent : null;",
                vec![],
            )
            .await
            .unwrap_or(Value::Null);
        v.as_str().map(str::to_owned)
    }

    /// The count next to "Conflicts" in the navigation; None when the link
    /// is not there.
    async fn conflict_count(&self) -> Option<String> {
        let v = self
            .c
            .execute(
                "const a = document.querySelector('nav[aria-label=Main] a[href=\"/conflicts\"]');
                 if (!a) return null;
                 const b = a.querySelector('.badge');
                 return b ? b.textContent : '';",
                vec![],
            )
            .await
            .unwrap_or(Value::Null);
        v.as_str().map(str::to_owned)
    }

    /// Takes the browser's network away, or gives it back.
    async fn set_online(&self, online: bool) {
        self.cdp(
            "Network.emulateNetworkConditions",
            json!({"offline": !online, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}),
        )
        .await;
    }

    async fn textarea_value(&self) -> String {
        self.c
            .find(Locator::Id("f-document"))
            .await
            .expect("the merge's text area")
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    /// Puts `text` in the merge's text area, as typing it would.
    async fn set_textarea(&self, text: &str) {
        self.c
            .execute(
                "const t = document.getElementById('f-document'); t.value = arguments[0];
                 t.dispatchEvent(new Event('input', {bubbles: true}));",
                vec![json!(text)],
            )
            .await
            .expect("fill the text area");
    }
}

/// The browser's cookies as a `Cookie` header, for a request outside it.
async fn cookies(b: &Browser) -> String {
    b.c.get_all_cookies()
        .await
        .unwrap()
        .iter()
        .map(|c| format!("{}={}", c.name(), c.value()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A collection with two requests, `a` and `b`, each with an id.
fn two_requests(name: &str) -> Value {
    json!({
        "info": {"name": name, "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
        "item": [
            {"id": "req-a", "name": "a", "request": {"method": "GET", "url": {"raw": "https://a.test/1"}}},
            {"id": "req-b", "name": "b", "request": {"method": "POST", "url": {"raw": "https://b.test/1"}}}
        ]
    })
}

async fn create_collection(t: &TestApp, token: &str, name: &str) -> String {
    let r = t
        .post(
            "/api/v1/collections",
            Some(token),
            json!({ "collection": two_requests(name) }),
        )
        .await;
    r.assert(201, None);
    r.body["collection"]["id"].as_str().unwrap().to_owned()
}

async fn put_if(t: &TestApp, token: &str, path: &str, rev: i64, body: Value) -> Resp {
    let req = t
        .client
        .put(t.url(path))
        .bearer_auth(token)
        .header("if-match", format!("\"{rev}\""))
        .json(&body);
    TestApp::read(req.send().await.unwrap()).await
}

/// Request a's URL in the collection `id`.
async fn url_a(t: &TestApp, token: &str, id: &str) -> (String, i64) {
    let r = t
        .get(&format!("/api/v1/collections/{id}"), Some(token))
        .await;
    r.assert(200, None);
    let etag = r.headers["etag"]
        .to_str()
        .unwrap()
        .trim_matches('"')
        .to_owned();
    (
        r.body["collection"]["item"][0]["request"]["url"]["raw"]
            .as_str()
            .unwrap()
            .to_owned(),
        etag.parse().unwrap(),
    )
}

/// Two writes from revision 1 of `id` that change request a's URL, one to
/// `theirs`, then one to `mine`: the second is kept as a conflict.
async fn make_conflict(t: &TestApp, token: &str, id: &str, theirs: &str, mine: &str) -> String {
    let path = format!("/api/v1/collections/{id}");
    let base = t.get(&path, Some(token)).await.body["collection"].clone();
    let mut first = base.clone();
    first["item"][0]["request"]["url"]["raw"] = json!(theirs);
    put_if(t, token, &path, 1, json!({ "collection": first }))
        .await
        .assert(200, None);
    let mut second = base;
    second["item"][0]["request"]["url"]["raw"] = json!(mine);
    let r = put_if(t, token, &path, 1, json!({ "collection": second })).await;
    r.assert(409, Some("conflict"));
    r.body["conflict"]["id"].as_str().unwrap().to_owned()
}

/// The status reaches "Connected"; a change to the open collection made
/// through the API shows the notice, and the page does not reload by
/// itself; the server going away shows "Offline".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_is_live_and_changes_arrive() {
    run(
        "sync-status",
        |_| {},
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;
            let ada = w.t.sign_in("ada", PASSWORD, false).await;
            let id = create_collection(&w.t, &ada, "Live").await;
            let other = create_collection(&w.t, &ada, "Elsewhere").await;

            b.sign_in("ada", PASSWORD, false).await;
            b.expect_heading("Hello, Ada Lovelace").await;
            b.expect_sync("connected", "Connected").await;
            let live = b.one("//div[@data-sync]", "the sync status").await;
            assert_eq!(
                live.attr("aria-live").await.unwrap().as_deref(),
                Some("polite")
            );
            b.sync_shot("sync-connected").await;

            // Without the script the status is not there: the page sends it hidden.
            let html =
                w.t.client
                    .get(w.t.url("/"))
                    .header("cookie", cookies(b).await)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap();
            let tag = html
                .split("<div class=\"sync\"")
                .nth(1)
                .and_then(|rest| rest.split('>').next())
                .expect("the sync status in the page");
            assert!(tag.contains(" hidden"), "{tag}");

            b.goto(&format!("/collections/{id}")).await;
            b.expect_heading("Live").await;
            b.expect_sync("connected", "Connected").await;
            assert_eq!(b.notice().await, None);
            // Something to tell whether the page reloads.
            b.c.execute("window.stillHere = true", vec![])
                .await
                .unwrap();

            // A change to another collection says nothing here.
            let path = format!("/api/v1/collections/{other}");
            let mut doc = w.t.get(&path, Some(&ada)).await.body["collection"].clone();
            doc["info"]["name"] = json!("Elsewhere, renamed");
            w.t.put(&path, Some(&ada), json!({ "collection": doc }))
                .await
                .assert(200, None);
            // A change to this one, from another session, does.
            let path = format!("/api/v1/collections/{id}");
            let mut doc = w.t.get(&path, Some(&ada)).await.body["collection"].clone();
            doc["info"]["name"] = json!("Live, renamed");
            w.t.put(&path, Some(&ada), json!({ "collection": doc }))
                .await
                .assert(200, None);
            let started = Instant::now();
            let notice = loop {
                if let Some(n) = b.notice().await {
                    break n;
                }
                assert!(started.elapsed() < PATIENCE, "no notice of the change");
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            assert_eq!(notice, "Updated by ada — reload");
            assert_eq!(
                b.c.execute("return window.stillHere === true", vec![])
                    .await
                    .unwrap(),
                true,
                "the page reloaded by itself"
            );
            b.expect_heading("Live").await;
            b.sync_shot("sync-notice").await;

            // "reload" shows the change; the catch-up after it brings no notice.
            b.follow_in("//div[@data-sync-notice]", "reload").await;
            b.expect_heading("Live, renamed").await;
            b.expect_sync("connected", "Connected").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            assert_eq!(b.notice().await, None);

            // The browser loses its network, then has it back: the status
            // follows and reconnects by itself, catching up from its cursor
            // with what changed meanwhile.
            b.set_online(false).await;
            b.expect_sync("offline", "Offline").await;
            let mut doc = w.t.get(&path, Some(&ada)).await.body["collection"].clone();
            doc["info"]["name"] = json!("Live, renamed again");
            w.t.put(&path, Some(&ada), json!({ "collection": doc }))
                .await
                .assert(200, None);
            b.set_online(true).await;
            b.expect_sync("connected", "Connected").await;
            let started = Instant::now();
            while b.notice().await.is_none() {
                assert!(
                    started.elapsed() < PATIENCE,
                    "no notice of the change made while offline"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            assert_eq!(b.notice().await.as_deref(), Some("Updated by ada — reload"));

            // The server goes away: offline, retrying by itself.
            w.t.shut_down();
            b.expect_sync("offline", "Offline").await;
            b.sync_shot("sync-offline").await;
        },
    )
    .await;
}

/// Conflicts made through the API are counted in the navigation, listed,
/// and resolved on their page: keep mine, keep theirs, edit the merge; an
/// environment saved from a stale page links to its conflict; the status
/// says "Signed out" when the session is revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_are_resolved_three_ways() {
    run(
        "sync-conflicts",
        |_| {},
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;
            let ada = w.t.sign_in("ada", PASSWORD, false).await;
            let mine_id = create_collection(&w.t, &ada, "Keep mine").await;
            let theirs_id = create_collection(&w.t, &ada, "Keep theirs").await;
            let merged_id = create_collection(&w.t, &ada, "Edit the merge").await;
            make_conflict(
                &w.t,
                &ada,
                &mine_id,
                "https://a.test/theirs",
                "https://a.test/mine",
            )
            .await;
            make_conflict(
                &w.t,
                &ada,
                &theirs_id,
                "https://a.test/theirs",
                "https://a.test/mine",
            )
            .await;
            make_conflict(
                &w.t,
                &ada,
                &merged_id,
                "https://a.test/theirs",
                "https://a.test/mine",
            )
            .await;

            b.sign_in("ada", PASSWORD, false).await;
            b.expect_heading("Hello, Ada Lovelace").await;
            assert_eq!(b.conflict_count().await.as_deref(), Some("3"));
            b.follow_in("//nav[@aria-label='Main']", "Conflicts3").await;
            b.expect_heading("Conflicts").await;
            for name in ["Keep mine", "Keep theirs", "Edit the merge"] {
                b.one(
                    &format!("//ul[contains(@class,'conflicts')]/li[.//a[.={}]]", xpath_literal(name)),
                    name,
                )
                .await;
            }
            b.expect_text("Field: item[id=req-a].request.url.raw").await;
            b.sync_shot("sync-conflicts-list").await;

            // Keep mine: the document has mine's value.
            b.follow("Keep mine").await;
            b.expect_heading("Keep mine").await;
            b.one(
                "//table[@class='conflict-fields']//tr[th[contains(.,'“a” › request.url.raw')]][td[@class='base']/pre[.='https://a.test/1']][td[@class='theirs']/pre[.='https://a.test/theirs']][td[@class='mine']/pre[.='https://a.test/mine']]",
                "the field with its three values",
            )
            .await;
            b.sync_shot("sync-conflict").await;
            b.press("Keep mine").await;
            b.expect_heading("Keep mine").await;
            assert_eq!(b.path().await, format!("/collections/{mine_id}?flash=conflict_mine"));
            b.expect_text("The conflict is resolved: your version was kept").await;
            assert_eq!(url_a(&w.t, &ada, &mine_id).await.0, "https://a.test/mine");
            assert_eq!(b.conflict_count().await.as_deref(), Some("2"));

            // Keep theirs: nothing changes.
            b.goto("/conflicts").await;
            b.follow("Keep theirs").await;
            b.expect_heading("Keep theirs").await;
            b.press("Keep theirs").await;
            b.expect_text("the current version was kept and yours dropped").await;
            assert_eq!(
                url_a(&w.t, &ada, &theirs_id).await,
                ("https://a.test/theirs".to_owned(), 2)
            );
            assert_eq!(b.conflict_count().await.as_deref(), Some("1"));

            // Edit the merge: text that is not JSON is shown again with
            // its error, nothing lost; then the edited JSON is saved.
            b.goto("/conflicts").await;
            b.follow("Edit the merge").await;
            b.expect_heading("Edit the merge").await;
            let draft: Value = serde_json::from_str(&b.textarea_value().await)
                .expect("the merge starts as JSON");
            assert_eq!(
                draft["item"][0]["request"]["url"]["raw"],
                "https://a.test/theirs",
                "the draft holds the current value where the two conflict"
            );
            let broken = "{\"info\": {\"name\": \"Edit the merge\"}, oops";
            b.set_textarea(broken).await;
            b.press("Save the merge").await;
            b.expect_text("This is not valid JSON").await;
            assert_eq!(b.textarea_value().await, broken);
            b.one(
                "//textarea[@id='f-document'][@aria-invalid='true']",
                "the text area marked invalid",
            )
            .await;
            b.sync_shot("sync-merge-error").await;
            let mut edited = draft.clone();
            edited["item"][0]["request"]["url"]["raw"] = json!("https://a.test/merged");
            b.set_textarea(&serde_json::to_string_pretty(&edited).unwrap())
                .await;
            b.press("Save the merge").await;
            b.expect_text("The conflict is resolved: your merge was saved.")
                .await;
            assert_eq!(b.path().await, format!("/collections/{merged_id}?flash=conflict_merged"));
            assert_eq!(
                url_a(&w.t, &ada, &merged_id).await.0,
                "https://a.test/merged"
            );

            // None left: the count is gone from the navigation.
            assert_eq!(b.conflict_count().await, None);
            b.goto("/conflicts").await;
            b.expect_text("No conflicts").await;

            // An environment saved from a page that went stale.
            let r = w
                .t
                .post(
                    "/api/v1/environments",
                    Some(&ada),
                    json!({"environment": {"name": "Staging", "values": [
                        {"key": "host", "value": "https://staging.example", "enabled": true, "type": "default"}
                    ]}}),
                )
                .await;
            r.assert(201, None);
            let env = r.body["environment"]["id"].as_str().unwrap().to_owned();
            b.goto(&format!("/environments/{env}")).await;
            b.expect_heading("Staging").await;
            let path = format!("/api/v1/environments/{env}");
            let mut doc = w.t.get(&path, Some(&ada)).await.body["environment"].clone();
            doc["values"][0]["value"] = json!("https://theirs.example");
            w.t.put(&path, Some(&ada), json!({ "environment": doc }))
                .await
                .assert(200, None);
            let value = b.c.find(Locator::Css("input[name='value.0']")).await.unwrap();
            value.clear().await.unwrap();
            value.send_keys("https://mine.example").await.unwrap();
            b.press("Save").await;
            b.expect_text("This environment changed while you were editing it").await;
            b.expect_text("Your change was kept, not applied.").await;
            assert_eq!(b.conflict_count().await.as_deref(), Some("1"));
            b.sync_shot("sync-environment-conflict").await;
            b.follow("Resolve the conflict").await;
            b.expect_heading("Staging").await;
            b.expect_text("values[key=host].value").await;
            b.press("Keep mine").await;
            b.expect_text("The conflict is resolved: your version was kept").await;
            assert_eq!(b.path().await, format!("/environments/{env}?flash=conflict_mine"));
            let now = w.t.get(&path, Some(&ada)).await;
            assert_eq!(now.body["environment"]["values"][0]["value"], "https://mine.example");
            assert_eq!(b.conflict_count().await, None);

            // The session ends elsewhere: the status says so and stops.
            b.expect_sync("connected", "Connected").await;
            w.t.post("/api/v1/me/sessions/revoke-others", Some(&ada), json!({}))
                .await
                .assert(200, None);
            b.expect_sync("signed-out", "Signed out").await;
        },
    )
    .await;
}

/// The conflict pages refuse, each with its status: another person's
/// conflict (404), a form without the CSRF token (403), a choice that is
/// none of the three (400), a merge that is not JSON (422, the text sent
/// back); the conflict stays open through all of it. Signed out, the list
/// sends to the sign-in page.
#[tokio::test]
async fn the_conflict_pages_refuse_what_they_must() {
    let t = TestApp::spawn(crate::common::Db::Sqlite).await;
    let ada = t.new_user("ada").await;
    t.new_user("bob").await;
    let id = create_collection(&t, &ada, "Shared").await;
    let conflict = make_conflict(
        &t,
        &ada,
        &id,
        "https://a.test/theirs",
        "https://a.test/mine",
    )
    .await;
    let page = format!("/conflicts/{conflict}");
    let resolve = format!("{page}/resolve");

    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = anonymous.get(t.url("/conflicts")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/sign-in?next=%2Fconflicts");

    let (bob_browser, bob_csrf) = crate::cookie_auth::browser_signed_in(&t, "bob").await;
    let r = bob_browser.get(t.url(&page)).send().await.unwrap();
    assert_eq!(r.status(), 404, "another person's conflict");
    let r = bob_browser
        .post(t.url(&resolve))
        .form(&[("csrf", bob_csrf.as_str()), ("keep", "theirs")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "another person's conflict is not resolved");
    let r = bob_browser
        .get(t.url("/conflicts/no-such-conflict"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    let (browser, csrf) = crate::cookie_auth::browser_signed_in(&t, "ada").await;
    let html = browser
        .get(t.url(&page))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Keep mine") && html.contains("Save the merge"),
        "{html}"
    );
    let r = browser
        .post(t.url(&resolve))
        .form(&[("keep", "mine")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no CSRF token");
    let r = browser
        .post(t.url(&resolve))
        .form(&[("csrf", csrf.as_str()), ("keep", "everything")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "not one of the three choices");
    let r = browser
        .post(t.url(&resolve))
        .form(&[
            ("csrf", csrf.as_str()),
            ("keep", "merged"),
            ("document", "{\"info\": oops"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422, "a merge that is not JSON");
    let html = r.text().await.unwrap();
    assert!(html.contains("This is not valid JSON"), "{html}");
    assert!(
        html.contains("{&quot;info&quot;: oops</textarea>"),
        "the text is sent back: {html}"
    );

    let open = t.get("/api/v1/conflicts", Some(&ada)).await;
    assert_eq!(open.body["conflicts"][0]["id"], conflict.as_str());
    t.stop().await;
}
