//! The collection pages (S1-S3, S8, S9) in a real browser: a real Postman
//! export imported on the Collections page, its tree, sharing it with a
//! team, a teammate's edit in the feed on Home, a public link opened and
//! revoked, deleting with a confirmation step and restoring; and an
//! environment whose secret value is masked until revealed. Same harness as
//! `browser.rs` (`common/browser.rs`); screenshots of the pages passed
//! through go to `target/screenshots/collections-*.png`.

use std::path::PathBuf;

use fantoccini::Locator;
use serde_json::{json, Value};

use crate::common::browser::*;
use crate::common::PASSWORD;

fn postman_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data/postman")
        .join(name)
        .canonicalize()
        .expect("../shared/data/postman is beside the repository")
}

impl Browser {
    /// Saves this page as `target/screenshots/<name>.png`.
    async fn shot(&self, name: &str) {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("create target/screenshots");
        if let Some(png) = self.screenshot().await {
            std::fs::write(dir.join(format!("{name}.png")), png).expect("save the screenshot");
        }
    }

    /// Chooses `file` in the file input labelled `label`.
    async fn choose_file(&self, label: &str, file: &std::path::Path) {
        let file = file.canonicalize().expect("the file exists");
        self.field(label)
            .await
            .send_keys(file.to_str().unwrap())
            .await
            .expect("choose the file");
    }

    /// A property of the element matched by `css`.
    async fn css_prop(&self, css: &str, prop: &str) -> String {
        self.c
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("{css} on {}", "the page"))
            .prop(prop)
            .await
            .unwrap()
            .unwrap_or_default()
    }

    /// Types into the element matched by `css`.
    async fn type_into(&self, css: &str, text: &str) {
        let e = self.c.find(Locator::Css(css)).await.expect(css);
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }
}

/// The id in a path `/collections/<id>...`.
fn collection_id(path: &str) -> String {
    path.trim_start_matches("/collections/")
        .split(['?', '/', '#'])
        .next()
        .unwrap()
        .to_owned()
}

/// The path and query of a link the server made (it names `public_url`).
fn local(link: &str) -> String {
    let url = url::Url::parse(link).unwrap_or_else(|e| panic!("{link:?} is a URL: {e}"));
    url.path().to_owned()
}

/// Import, tree, share, a teammate's edit in the feed, link, delete and
/// restore, revisions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_share_link_delete_and_restore() {
    run(
        "collections",
        |_| {},
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;
            w.account("bob", "Bob Builder").await;
            // A team of two, made through the API (the team pages have their own tests).
            let ada = w.t.sign_in("ada", PASSWORD, false).await;
            let bob = w.t.sign_in("bob", PASSWORD, false).await;
            w.t.post(
                "/api/v1/teams",
                Some(&ada),
                json!({"name": "Acme Labs", "slug": "acme"}),
            )
            .await
            .assert(201, None);
            let r =
                w.t.post("/api/v1/teams/acme/invites", Some(&ada), json!({"email": null}))
                    .await;
            r.assert(201, None);
            let token = r.body["invite"]["token"].as_str().unwrap().to_owned();
            w.t.post(
                &format!("/api/v1/invites/{token}/accept"),
                Some(&bob),
                json!({}),
            )
            .await
            .assert(200, None);

            b.sign_in("ada", PASSWORD, false).await;
            b.expect_heading("Hello, Ada Lovelace").await;
            b.expect_text("No activity yet").await;
            b.shot("collections-home-empty").await;

            b.follow_in("//nav[@aria-label='Main']", "Collections").await;
            b.expect_heading("Collections").await;
            b.expect_text("No collections yet").await;

            // A bad file is refused with the path of what is wrong; nothing is imported.
            let dir = tempfile::tempdir().unwrap();
            let bad = dir.path().join("bad.postman_collection.json");
            std::fs::write(
                &bad,
                json!({"info": {"name": "Bad", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
                       "item": [{"name": "ok", "request": {"url": "http://x"}}, {"name": "x", "request": {"url": 5}}]})
                .to_string(),
            )
            .unwrap();
            b.choose_file("Collection, environment or data export", &bad)
                .await;
            b.press("Import").await;
            b.expect_text("The file was not imported").await;
            b.expect_text("item[1].request.url").await;
            b.expect_text("No collections yet").await;
            b.shot("collections-import-error").await;

            // The real export.
            b.choose_file(
                "Collection, environment or data export",
                &postman_file("realworld__Conduit.postman_collection.json"),
            )
            .await;
            b.press("Import").await;
            b.expect_text("Imported 1 collection and 0 environments.")
                .await;
            b.shot("collections-imported").await;
            b.follow_in("//ul[@class='imported']", "Conduit").await;
            b.expect_heading("Conduit").await;
            b.expect_text("Collection for testing the Conduit API").await;
            let id = collection_id(&b.path().await);
            // The tree: folders, requests with their method badges, indented.
            b.one(
                "//ul[@class='tree']/li[contains(@class,'depth-0')]/strong[.='Auth']",
                "the Auth folder",
            )
            .await;
            b.one(
                "//ul[@class='tree']/li[contains(@class,'depth-1')][span[contains(@class,'method-post')]][contains(.,'Login and Remember Token')]",
                "the request Login and Remember Token",
            )
            .await;
            // The description is markdown, rendered.
            b.one(
                "//div[@class='md']/p[contains(.,'Collection for testing the Conduit API')]",
                "the description",
            )
            .await;
            b.shot("collections-tree").await;

            // Download: the collection as a file named after it.
            let r = reqwest::Client::new()
                .get(w.t.url(&format!("/collections/{id}/download")))
                .header("cookie", cookies(b).await)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            let disposition = r.headers()["content-disposition"].to_str().unwrap().to_owned();
            assert!(
                disposition.contains("filename=\"Conduit.postman_collection.json\""),
                "{disposition}"
            );
            let doc: Value = r.json().await.unwrap();
            assert_eq!(doc["info"]["name"], "Conduit");

            // Share it with the team.
            b.select("Share with a team", "Acme Labs").await;
            b.press("Share").await;
            b.expect_text("The collection is shared").await;
            b.expect_text("Shared with the team Acme Labs").await;

            // Bob sees it on the Team tab, subscribes, and edits it through the API.
            let b2 = w.browser().await;
            b2.sign_in("bob", PASSWORD, false).await;
            b2.expect_heading("Hello, Bob Builder").await;
            b2.goto("/collections?tab=team").await;
            b2.expect_text("Conduit").await;
            b2.press("Subscribe").await;
            b2.expect_text("Subscribed: its changes show in your activity on Home.")
                .await;
            b2.one("//button[.='Unsubscribe']", "the Unsubscribe button")
                .await;
            b2.shot("collections-team-tab").await;
            let r = w.t.get(&format!("/api/v1/collections/{id}"), Some(&bob)).await;
            r.assert(200, None);
            let mut doc = r.body["collection"].clone();
            doc["info"]["description"] = json!("Edited by **Bob**.");
            w.t.put(
                &format!("/api/v1/collections/{id}"),
                Some(&bob),
                json!({ "collection": doc }),
            )
            .await
            .assert(200, None);

            // Ada's feed shows the edit.
            b.goto("/").await;
            b.expect_text("bob updated Conduit").await;
            b.expect_text("ada shared Conduit with Acme Labs").await;
            b.shot("collections-feed").await;

            // A link: made, opened by anyone, revoked after a confirmation.
            b.goto(&format!("/collections/{id}")).await;
            b.one("//div[@class='md']//strong[.='Bob']", "Bob's markdown")
                .await;
            b.press("Get link").await;
            b.expect_text("The link was made.").await;
            let link = b
                .one("//section[@id='links']//code[starts-with(@id,'link-')]", "the link")
                .await
                .text()
                .await
                .unwrap();
            assert!(link.contains("/l/"), "{link}");
            let stranger = w.browser().await;
            stranger.goto(&local(&link)).await;
            stranger.expect_heading("Conduit").await;
            stranger.expect_text("A read-only copy of this collection").await;
            stranger.shot("collections-public-link").await;
            let json = w.t.get(&local(&link), None).await;
            json.assert(200, None);
            assert_eq!(json.body["info"]["name"], "Conduit");
            b.goto("/collections?tab=links").await;
            b.expect_text("Acme Labs").await;
            b.shot("collections-links-tab").await;
            b.press_confirming(
                "",
                "Revoke",
                "Revoke this link to Conduit? It stops working at once.",
            )
            .await;
            b.expect_text("The link was revoked").await;
            b.expect_text("No public links").await;
            w.t.get(&local(&link), None).await.assert(404, None);

            // Revisions: the one before Bob's edit, restored after a confirmation.
            b.goto(&format!("/collections/{id}")).await;
            b.follow("Revisions").await;
            b.expect_heading("Revisions").await;
            b.shot("collections-revisions").await;
            b.press_confirming(
                "//tr[td[contains(.,'Revision 1')]]",
                "Restore",
                "Restore revision 1? It becomes the newest revision; the current one is kept in the list.",
            )
            .await;
            b.expect_text("The revision was restored as the newest revision.")
                .await;
            b.expect_text("Collection for testing the Conduit API").await;

            // Delete, with a confirmation step; then restore.
            b.follow("Delete").await;
            b.expect_heading("Delete Conduit?").await;
            b.shot("collections-delete-confirm").await;
            b.press("Delete collection").await;
            b.expect_text("The collection was deleted.").await;
            b.expect_heading("Collections").await;
            b.shot("collections-deleted").await;
            w.t.get(&format!("/api/v1/collections/{id}"), Some(&bob))
                .await
                .assert(404, None);
            b.press("Restore").await;
            b.expect_heading("Conduit").await;
            b.expect_text("The collection was restored.").await;
            w.t.get(&format!("/api/v1/collections/{id}"), Some(&bob))
                .await
                .assert(200, None);
        },
    )
    .await;
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

/// S8: a secret value is masked on the page until revealed (by the button,
/// or without JavaScript by the "Show secret values" link); editing keeps
/// every field the page does not show.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_secrets_are_masked_until_revealed() {
    run(
        "collections-environment",
        |_| {},
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;
            let ada = w.t.sign_in("ada", PASSWORD, false).await;
            let r = w
                .t
                .post(
                    "/api/v1/environments",
                    Some(&ada),
                    json!({"environment": {"name": "Staging", "_postman_variable_scope": "environment", "values": [
                        {"key": "host", "value": "https://staging.example", "enabled": true, "type": "default"},
                        {"key": "token", "value": "s3cr3t-value", "enabled": true, "type": "secret", "x-note": "kept"}
                    ]}}),
                )
                .await;
            r.assert(201, None);

            b.sign_in("ada", PASSWORD, false).await;
            b.goto("/environments").await;
            b.expect_heading("Environments").await;
            b.follow("Staging").await;
            b.expect_heading("Staging").await;
            let secret = "input[data-secret]";
            assert_eq!(b.css_prop(secret, "type").await, "password");
            assert_eq!(
                b.css_prop("input[name='value.0']", "type").await,
                "text",
                "a default value is shown"
            );
            b.shot("collections-environment-masked").await;
            b.press("Reveal secret values").await;
            assert_eq!(b.css_prop(secret, "type").await, "text");
            assert_eq!(b.css_prop(secret, "value").await, "s3cr3t-value");
            b.shot("collections-environment-revealed").await;

            // Without JavaScript the link shows them (it is hidden when the script runs).
            let path = b.path().await;
            let path = path.split('?').next().unwrap().to_owned();
            b.goto(&format!("{path}?show=1")).await;
            assert_eq!(
                b.css_prop("input[name='value.1']", "type").await,
                "text"
            );

            // Editing: a new variable; the rest is kept.
            b.type_into("input[name='key.2']", "region").await;
            b.type_into("input[name='value.2']", "eu-west").await;
            b.type_into("input[name='value.0']", "https://staging2.example")
                .await;
            b.press("Save").await;
            b.expect_text("Saved.").await;
            let id = path.trim_start_matches("/environments/");
            let r = w.t.get(&format!("/api/v1/environments/{id}"), Some(&ada)).await;
            r.assert(200, None);
            let env = &r.body["environment"];
            assert_eq!(env["_postman_variable_scope"], "environment");
            assert_eq!(env["values"][0]["value"], "https://staging2.example");
            assert_eq!(
                env["values"][1],
                json!({"key": "token", "value": "s3cr3t-value", "enabled": true, "type": "secret", "x-note": "kept"})
            );
            assert_eq!(env["values"][2]["key"], "region");
            assert_eq!(env["values"][2]["value"], "eu-west");
            assert_eq!(b.css_prop(secret, "type").await, "password");
        },
    )
    .await;
}
