//! Profile and settings (P1 to P5, P8): username and profile fields, email
//! change, avatar, public profile, notification preferences, in-app
//! notifications and API keys, on SQLite and PostgreSQL.

use crate::common::{Db, Resp, TestApp, PASSWORD};
use serde_json::{json, Value};

on_both_databases!(
    username_can_be_changed_and_used_to_sign_in,
    profile_fields_are_validated,
    null_clears_a_field_and_absent_leaves_it,
    email_change_needs_the_password_and_a_link_to_the_new_address,
    email_change_links_expire_and_lose_to_an_address_taken_meanwhile,
    avatars_are_uploaded_as_raw_images_or_forms_and_resized,
    bad_avatars_are_refused,
    avatars_too_large_in_pixels_or_too_frequent_are_refused,
    public_profile_shows_only_public_fields,
    notification_preferences_are_stored_and_validated,
    email_preferences_are_honoured_but_account_mail_is_always_sent,
    in_app_preferences_are_honoured,
    notifications_are_listed_newest_first_paged_and_marked_read,
    api_keys_are_shown_once_and_work_until_revoked,
    read_only_api_keys_cannot_write,
);

/// A user agent that the device list calls "Firefox on Windows".
const OTHER_DEVICE: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0";

fn encode(width: u32, height: u32, format: image::ImageFormat) -> Vec<u8> {
    let img = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 120])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode a test image");
    out.into_inner()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    encode(width, height, image::ImageFormat::Png)
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    encode(width, height, image::ImageFormat::Jpeg)
}

/// PUT /api/v1/me/avatar with a raw body of the given content type.
async fn put_avatar(t: &TestApp, token: &str, content_type: &str, body: Vec<u8>) -> Resp {
    let r = t
        .client
        .put(t.url("/api/v1/me/avatar"))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("request sent");
    TestApp::read(r).await
}

/// PUT /api/v1/me/avatar as a multipart form with one file field.
async fn put_avatar_form(t: &TestApp, token: &str, field: &str, body: Vec<u8>) -> Resp {
    let part = reqwest::multipart::Part::bytes(body)
        .file_name("avatar.png")
        .mime_str("image/png")
        .unwrap();
    let form = reqwest::multipart::Form::new().part(field.to_owned(), part);
    let r = t
        .client
        .put(t.url("/api/v1/me/avatar"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("request sent");
    TestApp::read(r).await
}

/// The path (with query) of an avatar URL, which is absolute on the public URL.
fn avatar_path(user: &Value) -> String {
    let url = user["avatar_url"]
        .as_str()
        .unwrap_or_else(|| panic!("the user has an avatar: {user}"));
    let start = url
        .find("/api/v1/avatars/")
        .unwrap_or_else(|| panic!("an avatar URL: {url}"));
    url[start..].to_owned()
}

/// GETs an image: status, content type and raw bytes.
async fn get_image(t: &TestApp, path: &str, auth: Option<&str>) -> (u16, String, Vec<u8>) {
    let mut req = t.client.get(t.url(path));
    if let Some(auth) = auth {
        req = req.bearer_auth(auth);
    }
    let r = req.send().await.expect("request sent");
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, r.bytes().await.unwrap().to_vec())
}

/// Signs in with a given user agent; returns the token.
async fn sign_in_as(t: &TestApp, login: &str, password: &str, user_agent: &str) -> String {
    let r = t
        .client
        .post(t.url("/api/v1/sessions"))
        .header("user-agent", user_agent)
        .json(&json!({ "login": login, "password": password }))
        .send()
        .await
        .expect("request sent");
    let r = TestApp::read(r).await;
    r.assert(201, None);
    r.body["token"].as_str().unwrap().to_owned()
}

async fn notifications(t: &TestApp, token: &str) -> Value {
    let r = t.get("/api/v1/me/notifications", Some(token)).await;
    r.assert(200, None);
    r.body
}

fn kinds(page: &Value) -> Vec<String> {
    page["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["kind"].as_str().unwrap().to_owned())
        .collect()
}

/// Subjects of every mail sent to `to` so far.
async fn subjects(t: &TestApp, to: &str) -> Vec<String> {
    t.mail_settled().await;
    t.mails_to(to)
        .iter()
        .flat_map(|m| {
            m.lines()
                .filter(|l| l.starts_with("Subject:"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

async fn username_can_be_changed_and_used_to_sign_in(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    t.new_user("grace").await;

    // Taken, whatever the case.
    for taken in ["grace", "GRACE", "Grace"] {
        let r = t
            .patch("/api/v1/me", Some(&ada), json!({ "username": taken }))
            .await;
        r.assert(409, Some("username_taken"));
        assert!(
            r.body["error"]["fields"]["username"].is_string(),
            "{}",
            r.body
        );
    }
    // Not a valid username.
    for bad in ["ab", "-ada", "ada_l", "a b", "", &"a".repeat(40)] {
        let r = t
            .patch("/api/v1/me", Some(&ada), json!({ "username": bad }))
            .await;
        r.assert(422, Some("validation_failed"));
        assert!(
            r.body["error"]["fields"]["username"].is_string(),
            "{}",
            r.body
        );
    }
    t.patch("/api/v1/me", Some(&ada), json!({ "username": 7 }))
        .await
        .assert(422, Some("invalid_body"));
    // Nothing changed so far.
    let me = t.get("/api/v1/me", Some(&ada)).await;
    me.assert(200, None);
    assert_eq!(me.body["user"]["username"], "ada");

    // Changing the case of one's own name is allowed.
    let r = t
        .patch("/api/v1/me", Some(&ada), json!({ "username": "Ada" }))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["user"]["username"], "Ada");

    let r = t
        .patch(
            "/api/v1/me",
            Some(&ada),
            json!({ "username": "ada-lovelace" }),
        )
        .await;
    r.assert(200, None);
    assert_eq!(r.body["user"]["username"], "ada-lovelace");
    assert_eq!(r.body["user"]["email"], "ada@example.com");
    t.get("/api/v1/me", Some(&ada)).await.assert(200, None);

    // The new name signs in; the old one is free and does not.
    t.sign_in("ada-lovelace", PASSWORD, false).await;
    t.sign_in("ADA-LOVELACE", PASSWORD, false).await;
    t.post(
        "/api/v1/sessions",
        None,
        json!({ "login": "ada", "password": PASSWORD }),
    )
    .await
    .assert(401, Some("invalid_credentials"));
    // The old name can be taken by someone else.
    let grace = t.sign_in("grace", PASSWORD, false).await;
    t.patch("/api/v1/me", Some(&grace), json!({ "username": "ada" }))
        .await
        .assert(200, None);
    t.patch(
        "/api/v1/me",
        Some(&grace),
        json!({ "username": "Ada-Lovelace" }),
    )
    .await
    .assert(409, Some("username_taken"));
}

async fn profile_fields_are_validated(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;

    for (body, field) in [
        (json!({ "display_name": "x".repeat(101) }), "display_name"),
        (json!({ "bio": "x".repeat(501) }), "bio"),
        (json!({ "usage": "x".repeat(101) }), "usage"),
        (json!({ "display_name": "Ada\u{7}" }), "display_name"),
        // Characters that make one name look like another.
        (
            json!({ "display_name": "ada\u{202E}nimda" }),
            "display_name",
        ),
        (json!({ "display_name": "Ada\u{200B}" }), "display_name"),
        (json!({ "display_name": "Ada\nLovelace" }), "display_name"),
        (json!({ "bio": "Hello \u{2066}there\u{2069}" }), "bio"),
        (json!({ "links": ["ftp://example.com"] }), "links"),
        (json!({ "links": ["javascript:alert(1)"] }), "links"),
        (json!({ "links": ["example.com"] }), "links"),
        (json!({ "links": ["https://"] }), "links"),
        (
            json!({ "links": ["https://a.example", "https://b.example", "https://c.example",
                              "https://d.example", "https://e.example", "https://f.example"] }),
            "links",
        ),
    ] {
        let r = t.patch("/api/v1/me", Some(&ada), body.clone()).await;
        r.assert(422, Some("validation_failed"));
        assert!(
            r.body["error"]["fields"][field].is_string(),
            "{field} is reported for {body}: {}",
            r.body
        );
    }
    // Several problems are reported together.
    let r = t
        .patch(
            "/api/v1/me",
            Some(&ada),
            json!({ "display_name": "x".repeat(101), "bio": "y".repeat(501), "links": ["nope"] }),
        )
        .await;
    r.assert(422, Some("validation_failed"));
    for field in ["display_name", "bio", "links"] {
        assert!(r.body["error"]["fields"][field].is_string(), "{}", r.body);
    }
    // Wrong shapes and unknown fields.
    for body in [
        json!({ "nickname": "Ada" }),
        json!({ "display_name": "Ada", "email": "other@example.com" }),
        json!({ "links": "https://example.com" }),
        json!({ "profile_public": "yes" }),
        json!({ "bio": 5 }),
    ] {
        t.patch("/api/v1/me", Some(&ada), body)
            .await
            .assert(422, Some("invalid_body"));
    }
    // Nothing was stored by any of these.
    let me = t.get("/api/v1/me", Some(&ada)).await;
    me.assert(200, None);
    assert_eq!(me.body["user"]["display_name"], Value::Null);
    assert_eq!(me.body["user"]["bio"], Value::Null);
    assert_eq!(me.body["user"]["links"], json!([]));
    assert_eq!(me.body["user"]["email"], "ada@example.com");

    // At the limits, everything is accepted (and trimmed).
    let links = [
        "https://a.example",
        "http://b.example/path?q=1",
        "https://c.example",
        "https://d.example",
        "HTTPS://E.example",
    ];
    let r = t
        .patch(
            "/api/v1/me",
            Some(&ada),
            json!({
                "display_name": format!("  {}  ", "d".repeat(98) + "❤\u{FE0F}"),
                "bio": format!("{}\n{}", "b".repeat(250), "c".repeat(249)),
                "usage": "u".repeat(100),
                "links": links,
                "profile_public": true,
            }),
        )
        .await;
    r.assert(200, None);
    let user = &r.body["user"];
    assert_eq!(user["display_name"], "d".repeat(98) + "❤\u{FE0F}");
    assert_eq!(user["bio"].as_str().unwrap().chars().count(), 500);
    assert_eq!(user["usage"], "u".repeat(100));
    assert_eq!(user["links"], json!(links));
    assert_eq!(user["profile_public"], true);
    let me = t.get("/api/v1/me", Some(&ada)).await;
    assert_eq!(&me.body["user"], user);
}

async fn null_clears_a_field_and_absent_leaves_it(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let full = json!({
        "display_name": "Ada Lovelace",
        "bio": "Analyst",
        "usage": "Side projects",
        "links": ["https://ada.example"],
        "profile_public": true,
    });
    t.patch("/api/v1/me", Some(&ada), full.clone())
        .await
        .assert(200, None);

    // An empty body changes nothing.
    let r = t.patch("/api/v1/me", Some(&ada), json!({})).await;
    r.assert(200, None);
    for (k, v) in full.as_object().unwrap() {
        assert_eq!(&r.body["user"][k], v, "{k}");
    }

    // One field at a time: the others stay.
    let r = t
        .patch("/api/v1/me", Some(&ada), json!({ "display_name": null }))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["user"]["display_name"], Value::Null);
    assert_eq!(r.body["user"]["bio"], "Analyst");
    assert_eq!(r.body["user"]["usage"], "Side projects");
    assert_eq!(r.body["user"]["links"], json!(["https://ada.example"]));
    assert_eq!(r.body["user"]["profile_public"], true);

    let r = t
        .patch(
            "/api/v1/me",
            Some(&ada),
            json!({ "bio": null, "usage": null }),
        )
        .await;
    r.assert(200, None);
    assert_eq!(r.body["user"]["bio"], Value::Null);
    assert_eq!(r.body["user"]["usage"], Value::Null);
    assert_eq!(r.body["user"]["links"], json!(["https://ada.example"]));
    assert_eq!(r.body["user"]["profile_public"], true);

    // `null` clears the links too, like any other optional field.
    let r = t
        .patch("/api/v1/me", Some(&ada), json!({ "links": null }))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["user"]["links"], json!([]));
    assert_eq!(r.body["user"]["profile_public"], true);
    t.patch(
        "/api/v1/me",
        Some(&ada),
        json!({ "links": ["https://ada.example"] }),
    )
    .await
    .assert(200, None);

    // An empty list clears the links, false hides the profile.
    let r = t
        .patch(
            "/api/v1/me",
            Some(&ada),
            json!({ "links": [], "profile_public": false }),
        )
        .await;
    r.assert(200, None);
    assert_eq!(r.body["user"]["links"], json!([]));
    assert_eq!(r.body["user"]["profile_public"], false);

    // A blank text counts as none.
    let r = t
        .patch("/api/v1/me", Some(&ada), json!({ "display_name": "   " }))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["user"]["display_name"], Value::Null);

    // And it is all stored.
    let me = t.get("/api/v1/me", Some(&ada)).await;
    assert_eq!(me.body["user"]["display_name"], Value::Null);
    assert_eq!(me.body["user"]["bio"], Value::Null);
    assert_eq!(me.body["user"]["usage"], Value::Null);
    assert_eq!(me.body["user"]["links"], json!([]));
    assert_eq!(me.body["user"]["profile_public"], false);
    assert_eq!(me.body["user"]["username"], "ada");
}

async fn email_change_needs_the_password_and_a_link_to_the_new_address(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    t.new_user("grace").await;

    let r = t
        .post(
            "/api/v1/me/email",
            Some(&ada),
            json!({ "new_email": "ada@new.example", "password": "not my password" }),
        )
        .await;
    r.assert(422, Some("wrong_password"));
    assert!(
        r.body["error"]["fields"]["password"].is_string(),
        "{}",
        r.body
    );
    for same in ["ada@example.com", "ADA@example.com", " Ada@Example.COM "] {
        let r = t
            .post(
                "/api/v1/me/email",
                Some(&ada),
                json!({ "new_email": same, "password": PASSWORD }),
            )
            .await;
        r.assert(422, Some("same_email"));
        assert!(
            r.body["error"]["fields"]["new_email"].is_string(),
            "{}",
            r.body
        );
    }
    for taken in ["grace@example.com", "GRACE@EXAMPLE.COM"] {
        let r = t
            .post(
                "/api/v1/me/email",
                Some(&ada),
                json!({ "new_email": taken, "password": PASSWORD }),
            )
            .await;
        r.assert(409, Some("email_taken"));
        assert!(
            r.body["error"]["fields"]["new_email"].is_string(),
            "{}",
            r.body
        );
    }
    for bad in ["not an address", "ada@", "@example.com", ""] {
        let r = t
            .post(
                "/api/v1/me/email",
                Some(&ada),
                json!({ "new_email": bad, "password": PASSWORD }),
            )
            .await;
        r.assert(422, Some("validation_failed"));
        assert!(
            r.body["error"]["fields"]["new_email"].is_string(),
            "{}",
            r.body
        );
    }
    t.post(
        "/api/v1/me/email",
        Some(&ada),
        json!({ "new_email": "ada@new.example" }),
    )
    .await
    .assert(422, Some("invalid_body"));
    t.mail_settled().await;
    assert!(t.mails_to("ada@new.example").is_empty());
    assert!(
        t.mails_to("grace@example.com").len() == 1,
        "only grace's confirmation"
    );

    let r = t
        .post(
            "/api/v1/me/email",
            Some(&ada),
            json!({ "new_email": "Ada@New.Example", "password": PASSWORD }),
        )
        .await;
    r.assert(202, None);
    assert!(r.body["message"].is_string());
    let link_mail = t
        .mail_to("Ada@new.example", "Confirm your new email address")
        .await;
    let token = crate::common::token_in(&link_mail, "/confirm-email").expect("a confirmation link");
    let notice = t.mail_to("ada@example.com", "about to change").await;
    assert!(
        crate::common::unfold(&notice).contains("new.example"),
        "the notice names the new address"
    );
    assert!(
        crate::common::token_in(&notice, "/confirm-email").is_none(),
        "the old address does not get the link"
    );

    // Nothing changes until the link is used.
    let me = t.get("/api/v1/me", Some(&ada)).await;
    me.assert(200, None);
    assert_eq!(me.body["user"]["email"], "ada@example.com");
    t.sign_in("ada@example.com", PASSWORD, false).await;

    t.post(
        "/api/v1/me/email/confirm",
        None,
        json!({ "token": "made-up" }),
    )
    .await
    .assert(400, Some("invalid_token"));
    // A verification link is not an email-change link.
    t.post(
        "/api/v1/accounts/verify-email",
        None,
        json!({ "token": token }),
    )
    .await
    .assert(400, Some("invalid_token"));
    let r = t
        .post("/api/v1/me/email/confirm", None, json!({ "token": token }))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["user"]["email"], "Ada@new.example");
    assert_eq!(r.body["user"]["email_verified"], true);
    t.post("/api/v1/me/email/confirm", None, json!({ "token": token }))
        .await
        .assert(400, Some("invalid_token"));

    let me = t.get("/api/v1/me", Some(&ada)).await;
    me.assert(200, None);
    assert_eq!(me.body["user"]["email"], "Ada@new.example");
    t.sign_in("ada@new.example", PASSWORD, false).await;
    t.sign_in("ADA@NEW.EXAMPLE", PASSWORD, false).await;
    t.post(
        "/api/v1/sessions",
        None,
        json!({ "login": "ada@example.com", "password": PASSWORD }),
    )
    .await
    .assert(401, Some("invalid_credentials"));
    let changed = t
        .mail_to("ada@example.com", "email address was changed")
        .await;
    assert!(crate::common::unfold(&changed).contains("new.example"));
    assert!(
        t.mails_to("Ada@new.example")
            .iter()
            .all(|m| !m.contains("was changed")),
        "the change notice goes to the old address only"
    );
    // The old address is free again.
    t.sign_up("ada@example.com", "ada-two")
        .await
        .assert(201, None);
}

async fn email_change_links_expire_and_lose_to_an_address_taken_meanwhile(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let grace = t.new_user("grace").await;
    let change = |token: String, to: &'static str| {
        let t = &t;
        async move {
            t.post(
                "/api/v1/me/email",
                Some(&token),
                json!({ "new_email": to, "password": PASSWORD }),
            )
            .await
            .assert(202, None);
            t.link_token(to, "/confirm-email").await
        }
    };

    // Both ask for the same free address; the first to confirm gets it.
    let ada_link = change(ada.clone(), "shared@example.com").await;
    let grace_link = change(grace.clone(), "shared@example.com").await;
    assert_ne!(ada_link, grace_link);
    let r = t
        .post(
            "/api/v1/me/email/confirm",
            None,
            json!({ "token": grace_link }),
        )
        .await;
    r.assert(200, None);
    assert_eq!(r.body["user"]["username"], "grace");
    assert_eq!(r.body["user"]["email"], "shared@example.com");
    t.post(
        "/api/v1/me/email/confirm",
        None,
        json!({ "token": ada_link }),
    )
    .await
    .assert(409, Some("email_taken"));
    let me = t.get("/api/v1/me", Some(&ada)).await;
    assert_eq!(me.body["user"]["email"], "ada@example.com");
    // A new request for it is refused up front now.
    t.post(
        "/api/v1/me/email",
        Some(&ada),
        json!({ "new_email": "SHARED@example.com", "password": PASSWORD }),
    )
    .await
    .assert(409, Some("email_taken"));

    // A newer link replaces the older one.
    let first = change(ada.clone(), "ada@one.example").await;
    let second = change(ada.clone(), "ada@two.example").await;
    t.post("/api/v1/me/email/confirm", None, json!({ "token": first }))
        .await
        .assert(400, Some("invalid_token"));

    // A link lasts a day.
    t.clock.advance(24 * 3_600_000 + 1);
    t.post("/api/v1/me/email/confirm", None, json!({ "token": second }))
        .await
        .assert(400, Some("invalid_token"));
    let ada = t.sign_in("ada", PASSWORD, false).await;
    let me = t.get("/api/v1/me", Some(&ada)).await;
    assert_eq!(me.body["user"]["email"], "ada@example.com");
    let third = change(ada.clone(), "ada@three.example").await;
    let r = t
        .post("/api/v1/me/email/confirm", None, json!({ "token": third }))
        .await;
    r.assert(200, None);
    assert_eq!(r.body["user"]["email"], "ada@three.example");
}

async fn avatars_are_uploaded_as_raw_images_or_forms_and_resized(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let me = t.get("/api/v1/me", Some(&ada)).await;
    assert_eq!(me.body["user"]["avatar_url"], Value::Null);

    for what in ["raw PNG", "raw JPEG", "multipart"] {
        let r = match what {
            "raw PNG" => put_avatar(&t, &ada, "image/png", png(600, 300)).await,
            "raw JPEG" => put_avatar(&t, &ada, "image/jpeg", jpeg(600, 300)).await,
            _ => put_avatar_form(&t, &ada, "avatar", png(300, 600)).await,
        };
        r.assert(200, None);
        let path = avatar_path(&r.body["user"]);
        let me = t.get("/api/v1/me", Some(&ada)).await;
        assert_eq!(
            me.body["user"]["avatar_url"], r.body["user"]["avatar_url"],
            "{what}"
        );
        let (status, content_type, bytes) = get_image(&t, &path, Some(&ada)).await;
        assert_eq!(status, 200, "{what}");
        assert_eq!(content_type, "image/png", "{what}");
        let image = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png)
            .unwrap_or_else(|e| panic!("{what}: the avatar is a PNG: {e}"));
        assert_eq!((image.width(), image.height()), (256, 256), "{what}");
        // The next upload gets a new URL, so caches see the change.
        t.clock.advance(1_000);
        let r2 = put_avatar(&t, &ada, "image/png", png(32, 32)).await;
        r2.assert(200, None);
        assert_ne!(avatar_path(&r2.body["user"]), path, "{what}");
        t.delete("/api/v1/me/avatar", Some(&ada))
            .await
            .assert(204, None);
        t.clock.advance(1_000);
    }
    put_avatar(&t, &ada, "image/png", png(600, 300))
        .await
        .assert(200, None);

    // A form needs the `avatar` field.
    put_avatar_form(&t, &ada, "picture", png(64, 64))
        .await
        .assert(422, Some("validation_failed"));

    let path = avatar_path(&t.get("/api/v1/me", Some(&ada)).await.body["user"]);
    t.delete("/api/v1/me/avatar", Some(&ada))
        .await
        .assert(204, None);
    let me = t.get("/api/v1/me", Some(&ada)).await;
    assert_eq!(me.body["user"]["avatar_url"], Value::Null);
    t.get(&path, Some(&ada))
        .await
        .assert(404, Some("not_found"));
    t.delete("/api/v1/me/avatar", Some(&ada))
        .await
        .assert(404, Some("not_found"));
}

async fn bad_avatars_are_refused(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;".to_vec();
    for (content_type, body) in [
        ("image/gif", gif.clone()),
        ("image/png", gif.clone()),
        ("text/plain", b"hello, this is not an image".to_vec()),
        ("image/png", b"hello, this is not an image".to_vec()),
        ("application/octet-stream", png(64, 64)),
        ("application/json", b"{\"avatar\": \"x\"}".to_vec()),
    ] {
        put_avatar(&t, &ada, content_type, body)
            .await
            .assert(415, Some("unsupported_media_type"));
    }
    put_avatar_form(&t, &ada, "avatar", gif)
        .await
        .assert(415, Some("unsupported_media_type"));
    // Nothing at all is its own mistake, raw or in a form.
    put_avatar(&t, &ada, "image/png", Vec::new())
        .await
        .assert(422, Some("empty_image"));
    put_avatar_form(&t, &ada, "avatar", Vec::new())
        .await
        .assert(422, Some("empty_image"));

    let mut truncated = png(600, 300);
    truncated.truncate(truncated.len() / 2);
    put_avatar(&t, &ada, "image/png", truncated.clone())
        .await
        .assert(422, Some("invalid_image"));
    put_avatar_form(&t, &ada, "avatar", truncated)
        .await
        .assert(422, Some("invalid_image"));
    let mut truncated = jpeg(600, 300);
    truncated.truncate(40);
    put_avatar(&t, &ada, "image/jpeg", truncated)
        .await
        .assert(422, Some("invalid_image"));

    // Over 2 MB: just over (read, then refused) and far over (refused while reading).
    for size in [2 * 1024 * 1024 + 1, 3 * 1024 * 1024] {
        let mut big = png(16, 16);
        big.resize(size, 0);
        put_avatar(&t, &ada, "image/png", big.clone())
            .await
            .assert(413, Some("payload_too_large"));
        put_avatar_form(&t, &ada, "avatar", big)
            .await
            .assert(413, Some("payload_too_large"));
    }

    // None of it was stored.
    let me = t.get("/api/v1/me", Some(&ada)).await;
    assert_eq!(me.body["user"]["avatar_url"], Value::Null);
    t.delete("/api/v1/me/avatar", Some(&ada))
        .await
        .assert(404, Some("not_found"));
}

/// A small file that declares a huge image is refused before it is decoded,
/// and one account can upload only so many avatars an hour.
async fn avatars_too_large_in_pixels_or_too_frequent_are_refused(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let bob = t.new_user("bob").await;
    // One colour compresses to almost nothing: 64 megapixels in a small file.
    let mut bomb = std::io::Cursor::new(Vec::new());
    image::GrayImage::new(8000, 8000)
        .write_to(&mut bomb, image::ImageFormat::Png)
        .unwrap();
    let bomb = bomb.into_inner();
    assert!(bomb.len() < 2 * 1024 * 1024, "{} bytes", bomb.len());
    let r = put_avatar(&t, &ada, "image/png", bomb.clone()).await;
    r.assert(422, Some("image_too_large"));
    let message = r.body["error"]["fields"]["avatar"].as_str().unwrap();
    assert!(message.contains("4096"), "{message}");
    put_avatar_form(&t, &ada, "avatar", bomb)
        .await
        .assert(422, Some("image_too_large"));
    let me = t.get("/api/v1/me", Some(&ada)).await;
    assert_eq!(me.body["user"]["avatar_url"], Value::Null);

    // An ordinary image still works, up to 20 uploads an hour.
    for _ in 2..20 {
        put_avatar(&t, &ada, "image/png", png(48, 32))
            .await
            .assert(200, None);
    }
    let r = put_avatar(&t, &ada, "image/png", png(48, 32)).await;
    r.assert(429, Some("rate_limited"));
    assert!(r.headers.contains_key("retry-after"));
    put_avatar(&t, &bob, "image/png", png(48, 32))
        .await
        .assert(200, None);
    // The next hour starts a new count (and a new session: the last one idled out).
    t.clock.advance(60 * 60 * 1000);
    let ada = t.sign_in("ada", PASSWORD, false).await;
    put_avatar(&t, &ada, "image/png", png(48, 32))
        .await
        .assert(200, None);
}

async fn public_profile_shows_only_public_fields(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let grace = t.new_user("grace").await;
    t.patch(
        "/api/v1/me",
        Some(&ada),
        json!({ "display_name": "Ada Lovelace", "bio": "Analyst", "usage": "secret plans",
                "links": ["https://ada.example"] }),
    )
    .await
    .assert(200, None);
    let r = put_avatar(&t, &ada, "image/png", png(600, 300)).await;
    r.assert(200, None);
    let avatar = avatar_path(&r.body["user"]);

    // Private: nobody else sees the profile or the avatar.
    for auth in [None, Some(grace.as_str()), Some(ada.as_str())] {
        t.get("/api/v1/users/ada", auth)
            .await
            .assert(404, Some("not_found"));
    }
    t.get("/api/v1/users/nobody", None)
        .await
        .assert(404, Some("not_found"));
    for auth in [None, Some(grace.as_str())] {
        let (status, _, _) = get_image(&t, &avatar, auth).await;
        assert_eq!(status, 404, "a private avatar is hidden from {auth:?}");
        t.get(&avatar, auth).await.assert(404, Some("not_found"));
    }
    let (status, content_type, _) = get_image(&t, &avatar, Some(&ada)).await;
    assert_eq!((status, content_type.as_str()), (200, "image/png"));
    // A bad token is not the same as no token.
    t.get(&avatar, Some(&format!("prs_{}", "x".repeat(43))))
        .await
        .assert(401, Some("unauthenticated"));

    t.patch("/api/v1/me", Some(&ada), json!({ "profile_public": true }))
        .await
        .assert(200, None);
    for path in ["/api/v1/users/ada", "/api/v1/users/ADA"] {
        let r = t.get(path, None).await;
        r.assert(200, None);
        let profile = r.body.as_object().unwrap();
        let mut keys: Vec<&str> = profile.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["avatar_url", "bio", "display_name", "links", "username"],
            "{}",
            r.body
        );
        assert!(
            !r.body.to_string().contains("ada@example.com"),
            "{}",
            r.body
        );
        assert!(profile.get("id").is_none() && profile.get("email").is_none());
        assert!(profile.get("usage").is_none());
        assert_eq!(profile["username"], "ada");
        assert_eq!(profile["display_name"], "Ada Lovelace");
        assert_eq!(profile["bio"], "Analyst");
        assert_eq!(profile["links"], json!(["https://ada.example"]));
        assert_eq!(avatar_path(&r.body), avatar);
    }
    for auth in [None, Some(grace.as_str()), Some(ada.as_str())] {
        let (status, content_type, _) = get_image(&t, &avatar, auth).await;
        assert_eq!(
            (status, content_type.as_str()),
            (200, "image/png"),
            "{auth:?}"
        );
    }

    // Hidden again.
    t.patch("/api/v1/me", Some(&ada), json!({ "profile_public": false }))
        .await
        .assert(200, None);
    t.get("/api/v1/users/ada", None)
        .await
        .assert(404, Some("not_found"));
    t.get(&avatar, Some(&grace))
        .await
        .assert(404, Some("not_found"));
    let (status, _, _) = get_image(&t, &avatar, Some(&ada)).await;
    assert_eq!(status, 200);
}

async fn notification_preferences_are_stored_and_validated(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let all_on = json!({ "security": true, "usage": true, "monitors": true, "comments": true });
    let r = t
        .get("/api/v1/me/notification-preferences", Some(&ada))
        .await;
    r.assert(200, None);
    assert_eq!(
        r.body,
        json!({ "preferences": { "email": all_on, "in_app": all_on } })
    );

    // Absent switches are on.
    let r = t
        .put(
            "/api/v1/me/notification-preferences",
            Some(&ada),
            json!({ "preferences": { "email": { "usage": false }, "in_app": { "comments": false } } }),
        )
        .await;
    r.assert(200, None);
    let expected = json!({ "preferences": {
        "email": { "security": true, "usage": false, "monitors": true, "comments": true },
        "in_app": { "security": true, "usage": true, "monitors": true, "comments": false },
    }});
    assert_eq!(r.body, expected);
    let r = t
        .get("/api/v1/me/notification-preferences", Some(&ada))
        .await;
    assert_eq!(r.body, expected);

    for body in [
        json!({ "preferences": { "sms": { "security": false } } }),
        json!({ "preferences": { "email": { "marketing": false } } }),
        json!({ "preferences": { "email": { "security": "no" } } }),
        json!({ "preferences": { "email": false } }),
        json!({ "preferences": "all" }),
        json!({}),
    ] {
        t.put("/api/v1/me/notification-preferences", Some(&ada), body)
            .await
            .assert(422, Some("invalid_body"));
    }
    // Still as before.
    let r = t
        .get("/api/v1/me/notification-preferences", Some(&ada))
        .await;
    assert_eq!(r.body, expected);

    // Replacing: what is left out goes back to on.
    let r = t
        .put(
            "/api/v1/me/notification-preferences",
            Some(&ada),
            json!({ "preferences": {} }),
        )
        .await;
    r.assert(200, None);
    assert_eq!(
        r.body,
        json!({ "preferences": { "email": all_on, "in_app": all_on } })
    );
}

async fn email_preferences_are_honoured_but_account_mail_is_always_sent(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    t.put(
        "/api/v1/me/notification-preferences",
        Some(&ada),
        json!({ "preferences": { "email": { "security": false } } }),
    )
    .await
    .assert(200, None);

    t.post(
        "/api/v1/me/password",
        Some(&ada),
        json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(204, None);
    // In-app only.
    let page = notifications(&t, &ada).await;
    assert_eq!(kinds(&page), ["password_changed"]);
    assert_eq!(page["unread_count"], 1);
    // A new device, too.
    sign_in_as(&t, "ada", "a brand new passphrase", OTHER_DEVICE).await;
    assert_eq!(
        kinds(&notifications(&t, &ada).await),
        ["new_sign_in", "password_changed"]
    );
    let sent = subjects(&t, "ada@example.com").await;
    assert!(
        sent.iter()
            .all(|s| !s.contains("password was changed") && !s.contains("New sign-in")),
        "no security mail: {sent:?}"
    );

    // Mail that an account action needs is sent whatever the preferences say.
    t.post(
        "/api/v1/password-resets",
        None,
        json!({ "email": "ada@example.com" }),
    )
    .await
    .assert(202, None);
    t.link_token("ada@example.com", "/reset-password").await;
    t.post(
        "/api/v1/me/email",
        Some(&ada),
        json!({ "new_email": "ada@new.example", "password": "a brand new passphrase" }),
    )
    .await
    .assert(202, None);
    t.link_token("ada@new.example", "/confirm-email").await;
    t.mail_to("ada@example.com", "about to change").await;

    // An unconfirmed account that turned every switch off still gets its confirmation link.
    t.sign_up("bob@example.com", "bob").await.assert(201, None);
    let bob = t.sign_in("bob", PASSWORD, false).await;
    let off = json!({ "security": false, "usage": false, "monitors": false, "comments": false });
    t.put(
        "/api/v1/me/notification-preferences",
        Some(&bob),
        json!({ "preferences": { "email": off, "in_app": off } }),
    )
    .await
    .assert(200, None);
    let first = t.link_token("bob@example.com", "/verify-email").await;
    t.post(
        "/api/v1/accounts/verify-email/resend",
        None,
        json!({ "email": "bob@example.com" }),
    )
    .await
    .assert(202, None);
    let second = t.link_token("bob@example.com", "/verify-email").await;
    assert_ne!(first, second, "a new confirmation mail was sent");
    t.post(
        "/api/v1/password-resets",
        None,
        json!({ "email": "bob@example.com" }),
    )
    .await
    .assert(202, None);
    let reset = t.link_token("bob@example.com", "/reset-password").await;
    t.post(
        "/api/v1/password-resets/confirm",
        None,
        json!({ "token": reset, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(200, None);
    let sent = subjects(&t, "bob@example.com").await;
    assert!(
        sent.iter().all(|s| !s.contains("password was changed")),
        "{sent:?}"
    );
    let bob = t.sign_in("bob", "a brand new passphrase", false).await;
    let page = notifications(&t, &bob).await;
    assert_eq!(kinds(&page), Vec::<String>::new());
    assert_eq!(page["unread_count"], 0);
}

async fn in_app_preferences_are_honoured(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    t.put(
        "/api/v1/me/notification-preferences",
        Some(&ada),
        json!({ "preferences": { "in_app": { "security": false } } }),
    )
    .await
    .assert(200, None);
    t.post(
        "/api/v1/me/password",
        Some(&ada),
        json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(204, None);
    sign_in_as(&t, "ada", "a brand new passphrase", OTHER_DEVICE).await;
    let page = notifications(&t, &ada).await;
    assert_eq!(kinds(&page), Vec::<String>::new());
    assert_eq!(page["unread_count"], 0);
    assert_eq!(page["next_cursor"], Value::Null);
    // Mail still goes out.
    t.mail_to("ada@example.com", "password was changed").await;
    t.mail_to("ada@example.com", "New sign-in").await;

    // Switched back on, the next notice shows up.
    t.put(
        "/api/v1/me/notification-preferences",
        Some(&ada),
        json!({ "preferences": {} }),
    )
    .await
    .assert(200, None);
    t.post(
        "/api/v1/me/password",
        Some(&ada),
        json!({ "current_password": "a brand new passphrase", "new_password": "another fresh passphrase" }),
    )
    .await
    .assert(204, None);
    assert_eq!(kinds(&notifications(&t, &ada).await), ["password_changed"]);
}

async fn notifications_are_listed_newest_first_paged_and_marked_read(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let page = notifications(&t, &ada).await;
    assert_eq!(page["notifications"], json!([]));
    assert_eq!(page["unread_count"], 0);
    assert_eq!(page["next_cursor"], Value::Null);

    // The same device again is not news.
    t.sign_in("ada", PASSWORD, false).await;
    assert_eq!(notifications(&t, &ada).await["unread_count"], 0);

    sign_in_as(&t, "ada", PASSWORD, OTHER_DEVICE).await;
    t.clock.advance(60_000);
    t.post(
        "/api/v1/me/password",
        Some(&ada),
        json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(204, None);
    t.mail_to("ada@example.com", "New sign-in").await;
    t.mail_to("ada@example.com", "password was changed").await;

    let page = notifications(&t, &ada).await;
    assert_eq!(kinds(&page), ["password_changed", "new_sign_in"]);
    assert_eq!(page["unread_count"], 2);
    assert_eq!(page["next_cursor"], Value::Null);
    let all = page["notifications"].as_array().unwrap().clone();
    assert!(all.iter().all(|n| n["read"] == false));
    assert!(
        all[1]["message"]
            .as_str()
            .unwrap()
            .contains("Firefox on Windows"),
        "{}",
        all[1]
    );
    assert!(all[0]["created_at"].as_str().unwrap() > all[1]["created_at"].as_str().unwrap());

    // One at a time.
    let r = t.get("/api/v1/me/notifications?limit=1", Some(&ada)).await;
    r.assert(200, None);
    assert_eq!(r.body["notifications"], json!([all[0].clone()]));
    assert_eq!(r.body["unread_count"], 2);
    let cursor = r.body["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let r = t
        .get(
            &format!("/api/v1/me/notifications?limit=1&before={cursor}"),
            Some(&ada),
        )
        .await;
    r.assert(200, None);
    assert_eq!(r.body["notifications"], json!([all[1].clone()]));
    assert_eq!(r.body["next_cursor"], Value::Null);
    let r = t
        .get(
            &format!(
                "/api/v1/me/notifications?before={}",
                all[1]["id"].as_str().unwrap()
            ),
            Some(&ada),
        )
        .await;
    r.assert(200, None);
    assert_eq!(r.body["notifications"], json!([]));

    for query in ["limit=abc", "limit=1.5", "limit="] {
        t.get(&format!("/api/v1/me/notifications?{query}"), Some(&ada))
            .await
            .assert(400, Some("invalid_query"));
    }

    // Read one, then the rest.
    let first = all[1]["id"].as_str().unwrap();
    t.post(
        "/api/v1/me/notifications/read",
        Some(&ada),
        json!({ "ids": [first] }),
    )
    .await
    .assert(204, None);
    let page = notifications(&t, &ada).await;
    assert_eq!(page["unread_count"], 1);
    assert_eq!(page["notifications"][0]["read"], false);
    assert_eq!(page["notifications"][1]["read"], true);
    t.post(
        "/api/v1/me/notifications/read",
        Some(&ada),
        json!({ "ids": "all" }),
    )
    .await
    .assert(422, Some("invalid_body"));
    let too_many: Vec<String> = (0..501).map(|i| format!("id-{i}")).collect();
    t.post(
        "/api/v1/me/notifications/read",
        Some(&ada),
        json!({ "ids": too_many }),
    )
    .await
    .assert(422, Some("validation_failed"));
    t.post("/api/v1/me/notifications/read", Some(&ada), json!({}))
        .await
        .assert(204, None);
    let page = notifications(&t, &ada).await;
    assert_eq!(page["unread_count"], 0);
    assert!(page["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["read"] == true));
    // Marking again is harmless.
    t.post("/api/v1/me/notifications/read", Some(&ada), json!({}))
        .await
        .assert(204, None);
    assert_eq!(notifications(&t, &ada).await["unread_count"], 0);
}

async fn api_keys_are_shown_once_and_work_until_revoked(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;

    for name in ["", "   ", &"k".repeat(101)] {
        let r = t
            .post("/api/v1/me/api-keys", Some(&ada), json!({ "name": name }))
            .await;
        r.assert(422, Some("validation_failed"));
        assert!(r.body["error"]["fields"]["name"].is_string(), "{}", r.body);
    }
    t.post(
        "/api/v1/me/api-keys",
        Some(&ada),
        json!({ "name": "ci", "scopes": [] }),
    )
    .await
    .assert(422, Some("validation_failed"));
    t.post(
        "/api/v1/me/api-keys",
        Some(&ada),
        json!({ "name": "ci", "scopes": ["admin"] }),
    )
    .await
    .assert(422, Some("invalid_body"));
    t.post("/api/v1/me/api-keys", Some(&ada), json!({}))
        .await
        .assert(422, Some("invalid_body"));

    let r = t
        .post(
            "/api/v1/me/api-keys",
            Some(&ada),
            json!({ "name": "  laptop script  " }),
        )
        .await;
    r.assert(201, None);
    let key = r.body["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("prk_") && key.len() > 40, "{key}");
    let id = r.body["api_key"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["api_key"]["name"], "laptop script");
    assert_eq!(r.body["api_key"]["scopes"], json!(["read", "write"]));
    assert!(key.starts_with(r.body["api_key"]["prefix"].as_str().unwrap()));
    assert_eq!(r.body["api_key"]["last_used_at"], Value::Null);

    let list = t.get("/api/v1/me/api-keys", Some(&ada)).await;
    list.assert(200, None);
    assert_eq!(list.body["api_keys"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["api_keys"][0]["id"], id.as_str());
    assert!(list.body["api_keys"][0].get("key").is_none());
    assert!(
        !list.body.to_string().contains(&key[4..]),
        "the list never shows the key: {}",
        list.body
    );

    // The key is a credential.
    let me = t.get("/api/v1/me", Some(&key)).await;
    me.assert(200, None);
    assert_eq!(me.body["user"]["username"], "ada");
    t.patch("/api/v1/me", Some(&key), json!({ "display_name": "Ada" }))
        .await
        .assert(200, None);
    let list = t.get("/api/v1/me/api-keys", Some(&key)).await;
    list.assert(200, None);
    assert!(list.body["api_keys"][0]["last_used_at"].is_string());
    assert!(!list.body.to_string().contains(&key[4..]));

    // Revoked, it stops at once.
    t.delete(&format!("/api/v1/me/api-keys/{id}"), Some(&ada))
        .await
        .assert(204, None);
    t.get("/api/v1/me", Some(&key))
        .await
        .assert(401, Some("invalid_api_key"));
    t.delete(&format!("/api/v1/me/api-keys/{id}"), Some(&ada))
        .await
        .assert(404, Some("not_found"));
    t.delete("/api/v1/me/api-keys/made-up", Some(&ada))
        .await
        .assert(404, Some("not_found"));
    let list = t.get("/api/v1/me/api-keys", Some(&ada)).await;
    assert_eq!(list.body["api_keys"], json!([]));

    // Made-up keys, well-formed or not.
    for garbage in [
        format!("prk_{}", "A".repeat(43)),
        "prk_short".to_owned(),
        "garbage".to_owned(),
        "prk_not a key!".to_owned(),
    ] {
        let r = t
            .client
            .get(t.url("/api/v1/me"))
            .header("x-api-key", garbage.as_str())
            .send()
            .await
            .unwrap();
        TestApp::read(r).await.assert(401, Some("invalid_api_key"));
    }
    // A key sent as a bearer token is no session.
    let r = t
        .client
        .get(t.url("/api/v1/me"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    TestApp::read(r).await.assert(401, Some("unauthenticated"));
}

async fn read_only_api_keys_cannot_write(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    let r = t
        .post(
            "/api/v1/me/api-keys",
            Some(&ada),
            json!({ "name": "dashboard", "scopes": ["read"] }),
        )
        .await;
    r.assert(201, None);
    assert_eq!(r.body["api_key"]["scopes"], json!(["read"]));
    let key = r.body["key"].as_str().unwrap().to_owned();
    let id = r.body["api_key"]["id"].as_str().unwrap().to_owned();

    for path in [
        "/api/v1/me",
        "/api/v1/me/sessions",
        "/api/v1/me/api-keys",
        "/api/v1/me/notifications",
        "/api/v1/me/notification-preferences",
    ] {
        t.get(path, Some(&key)).await.assert(200, None);
    }
    t.patch("/api/v1/me", Some(&key), json!({ "display_name": "Ada" }))
        .await
        .assert(403, Some("insufficient_scope"));
    t.post(
        "/api/v1/me/api-keys",
        Some(&key),
        json!({ "name": "escalate" }),
    )
    .await
    .assert(403, Some("insufficient_scope"));
    t.delete(&format!("/api/v1/me/api-keys/{id}"), Some(&key))
        .await
        .assert(403, Some("insufficient_scope"));
    t.post(
        "/api/v1/me/password",
        Some(&key),
        json!({ "current_password": PASSWORD, "new_password": "a brand new passphrase" }),
    )
    .await
    .assert(403, Some("insufficient_scope"));
    t.put(
        "/api/v1/me/notification-preferences",
        Some(&key),
        json!({ "preferences": {} }),
    )
    .await
    .assert(403, Some("insufficient_scope"));
    let r = t
        .client
        .put(t.url("/api/v1/me/avatar"))
        .header("x-api-key", key.as_str())
        .header("content-type", "image/png")
        .body(png(64, 64))
        .send()
        .await
        .unwrap();
    TestApp::read(r)
        .await
        .assert(403, Some("insufficient_scope"));
    // Nothing changed.
    let me = t.get("/api/v1/me", Some(&ada)).await;
    assert_eq!(me.body["user"]["display_name"], Value::Null);
    assert_eq!(me.body["user"]["avatar_url"], Value::Null);
    assert_eq!(
        t.get("/api/v1/me/api-keys", Some(&ada)).await.body["api_keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
