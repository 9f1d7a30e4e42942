//! Operations: the health checks (live, ready, and each readiness check
//! failing), request ids, Prometheus metrics, the
//! OpenAPI document, JSON answers for unknown routes and wrong methods,
//! configuration validation, the headers every answer carries, and the
//! permissions of the files in the data directory.

use crate::common::{Db, TestApp, PASSWORD};
use postroom_server::Config;
use reqwest::Method;
use serde_json::{json, Value};

on_both_databases!(
    health_check_answers_ok,
    readiness_names_each_check,
    readiness_fails_on_a_schema_of_another_version,
    readiness_fails_when_the_database_does_not_answer,
    every_response_carries_a_request_id,
    metrics_count_requests_sign_ins_and_mails,
    only_assets_and_avatars_may_be_cached,
    metrics_can_ask_for_a_token,
);

async fn health_check_answers_ok(db: Db) {
    let t = TestApp::spawn(db).await;
    let r = t.get("/healthz", None).await;
    r.assert(200, None);
    assert_eq!(r.body, json!({ "status": "ok" }));
    t.stop().await;
}

async fn readiness_names_each_check(db: Db) {
    let t = TestApp::spawn(db).await;
    let live = t.get("/healthz/live", None).await;
    live.assert(200, None);
    assert_eq!(live.body, json!({ "status": "ok" }));
    let ready = t.get("/healthz/ready", None).await;
    ready.assert(200, None);
    assert_eq!(ready.body["status"], "ok");
    let checks = &ready.body["checks"];
    assert_eq!(checks["database"], json!({ "ok": true }));
    assert_eq!(checks["migrations"]["ok"], true, "{checks}");
    assert_eq!(
        checks["migrations"]["schema"],
        checks["migrations"]["binary"]
    );
    assert!(checks["migrations"]["binary"].as_i64().unwrap() >= 6);
    assert_eq!(checks["mail_worker"]["ok"], true, "{checks}");
    assert_eq!(checks["mail_worker"]["state"], "running");
    assert!(checks["mail_worker"]["seconds_since_last_run"].is_u64());
    // The worker's signs of life follow real time, not the clock tests move.
    t.clock.advance(30 * 24 * 3600 * 1000);
    t.get("/healthz/ready", None).await.assert(200, None);
    t.stop().await;
}

/// A newer node migrated the shared database past this binary's schema:
/// this node is not ready (it would read and write a schema it does not
/// know), while it still lives and its database answers.
async fn readiness_fails_on_a_schema_of_another_version(db: Db) {
    let t = TestApp::spawn(db).await;
    let newer = {
        let ready = t.get("/healthz/ready", None).await;
        ready.body["checks"]["migrations"]["binary"]
            .as_i64()
            .unwrap()
            + 1
    };
    let mut tx = t.app.store.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES ($1, 'from a newer postroom', TRUE, $2, 1)",
    )
    .bind(newer)
    .bind(vec![0u8; 48])
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let ready = t.get("/healthz/ready", None).await;
    ready.assert(503, None);
    assert_eq!(ready.body["status"], "unavailable");
    let checks = &ready.body["checks"];
    assert_eq!(
        checks["migrations"],
        json!({ "ok": false, "schema": newer, "binary": newer - 1 })
    );
    assert_eq!(checks["database"]["ok"], true, "{checks}");
    assert_eq!(checks["mail_worker"]["ok"], true, "{checks}");
    t.get("/healthz/live", None).await.assert(200, None);
    t.get("/healthz", None).await.assert(200, None);
    t.stop().await;
}

async fn readiness_fails_when_the_database_does_not_answer(db: Db) {
    let t = TestApp::spawn(db).await;
    t.app.store.close().await;
    let ready = t.get("/healthz/ready", None).await;
    ready.assert(503, None);
    let checks = &ready.body["checks"];
    assert_eq!(
        checks["database"],
        json!({ "ok": false, "error": "the connection pool is closed" })
    );
    assert_eq!(checks["migrations"]["ok"], false, "{checks}");
    assert_eq!(checks["mail_worker"]["ok"], true, "{checks}");
    // Nothing about where the database is or who connects to it.
    let text = ready.body.to_string();
    let url = secrecy::ExposeSecret::expose_secret(&t.app.settings.database_url).to_owned();
    for secret in [url.as_str(), "postgres", "sqlite", "postroom.db"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(!text.contains(&t.data_dir.path().display().to_string()));
    t.get("/healthz", None).await.assert(503, None);
    t.get("/healthz/live", None).await.assert(200, None);
    t.stop().await;
}

/// A mail worker that cannot start (here: `<data_dir>/outbox` is a file, so
/// the outbox cannot be made) leaves the node not ready, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_fails_when_the_mail_worker_is_not_running() {
    let data = tempfile::tempdir().unwrap();
    std::fs::write(data.path().join("outbox"), "not a directory").unwrap();
    let dir = data.path().to_owned();
    let t = TestApp::spawn_with(Db::Sqlite, |c| c.data_dir = dir).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let ready = loop {
        let ready = t.get("/healthz/ready", None).await;
        if ready.body["checks"]["mail_worker"]["state"] != "running" {
            break ready;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the worker still runs: {}",
            ready.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    ready.assert(503, None);
    let checks = &ready.body["checks"];
    assert_eq!(
        checks["mail_worker"],
        json!({ "ok": false, "state": "stopped", "seconds_since_last_run": null })
    );
    assert_eq!(checks["database"]["ok"], true, "{checks}");
    assert_eq!(checks["migrations"]["ok"], true, "{checks}");
    // Requests are still served: /healthz is for load balancers.
    t.get("/healthz", None).await.assert(200, None);
    t.stop().await;
}

async fn every_response_carries_a_request_id(db: Db) {
    let t = TestApp::spawn(db).await;
    let mut seen = Vec::new();
    for r in [
        t.get("/healthz", None).await,
        t.get("/api/v1/captcha", None).await,
        t.get("/api/v1/me", None).await,
        t.post("/api/v1/sessions", None, json!({})).await,
        t.get("/no/such/page", None).await,
        t.request(Method::PUT, "/api/v1/sessions", None, None).await,
        t.get("/api/openapi.json", None).await,
    ] {
        let id = r
            .headers
            .get("x-request-id")
            .unwrap_or_else(|| panic!("no x-request-id on a {} answer", r.status))
            .to_str()
            .unwrap()
            .to_owned();
        assert!(!id.is_empty());
        seen.push(id);
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "each request gets its own id");

    // An id the caller (or a proxy in front) sends is kept and echoed.
    for path in ["/healthz", "/api/v1/me", "/nowhere"] {
        let r = t
            .client
            .get(t.url(path))
            .header("x-request-id", "trace-me-42")
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.headers().get("x-request-id").unwrap(),
            "trace-me-42",
            "{path}"
        );
    }
    t.stop().await;
}

async fn metrics_count_requests_sign_ins_and_mails(db: Db) {
    let t = TestApp::spawn(db).await;
    // `new_user` signs up (a mail goes out) and signs in.
    let token = t.new_user("ada").await;
    t.get("/api/v1/me", Some(&token)).await.assert(200, None);
    t.post(
        "/api/v1/sessions",
        None,
        json!({ "login": "ada", "password": "not the password" }),
    )
    .await
    .assert(401, Some("invalid_credentials"));
    t.sign_in("ada", PASSWORD, false).await;
    t.mail_settled().await;

    let r = t
        .client
        .get(t.url("/metrics"))
        .send()
        .await
        .expect("request sent");
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = r.text().await.unwrap();
    for name in [
        "http_requests_total",
        "http_request_duration_seconds",
        "postroom_sign_ins_total",
        "postroom_mails_total",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "/metrics has {name}:\n{text}"
        );
    }
    // Requests are counted per matched route, not per raw path.
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total")
            && l.contains(r#"route="/api/v1/sessions""#)
            && l.contains(r#"status="201""#)),
        "sign-ins are counted under their route:\n{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("postroom_sign_ins_total") && l.contains(r#"result="ok""#)),
        "successful sign-ins are counted:\n{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("postroom_sign_ins_total") && l.contains(r#"result="failed""#)),
        "failed sign-ins are counted:\n{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("postroom_mails_total") && l.contains(r#"result="sent""#)),
        "sent mails are counted:\n{text}"
    );
    t.stop().await;
}

/// The `Cache-Control` of a response.
fn cache_control(r: &crate::common::Resp) -> &str {
    r.headers
        .get("cache-control")
        .map_or("<none>", |v| v.to_str().unwrap())
}

async fn only_assets_and_avatars_may_be_cached(db: Db) {
    let t = TestApp::spawn(db).await;
    let ada = t.new_user("ada").await;
    // Answers that carry a token, private data or an error are never stored.
    let sign_in = t
        .post(
            "/api/v1/sessions",
            None,
            json!({ "login": "ada", "password": PASSWORD }),
        )
        .await;
    sign_in.assert(201, None);
    assert_eq!(cache_control(&sign_in), "no-store");
    let key = t
        .post(
            "/api/v1/me/api-keys",
            Some(&ada),
            json!({ "name": "laptop" }),
        )
        .await;
    key.assert(201, None);
    assert_eq!(cache_control(&key), "no-store");
    for r in [
        t.get("/api/v1/me", Some(&ada)).await,
        t.get("/api/v1/me", None).await,
        t.get("/healthz", None).await,
        t.get("/metrics", None).await,
        t.get("/api/openapi.json", None).await,
        t.get("/sign-in", None).await,
        t.get("/no/such/page", None).await,
        t.get("/assets/no-such-file.css", None).await,
        t.request(Method::PUT, "/api/v1/sessions", None, None).await,
    ] {
        assert_eq!(cache_control(&r), "no-store", "a {} answer", r.status);
    }
    // What handlers allow to be cached keeps their own rule.
    let page = t.get("/sign-in", None).await;
    let css = page
        .body
        .as_str()
        .unwrap()
        .split("/assets/app.css?v=")
        .nth(1)
        .unwrap();
    let css = &css[..css.find('"').unwrap()];
    let asset = t.get(&format!("/assets/app.css?v={css}"), None).await;
    asset.assert(200, None);
    assert_eq!(cache_control(&asset), "public, max-age=31536000, immutable");
    let mut png = std::io::Cursor::new(Vec::new());
    image::RgbImage::new(32, 32)
        .write_to(&mut png, image::ImageFormat::Png)
        .unwrap();
    let r = t
        .client
        .put(t.url("/api/v1/me/avatar"))
        .bearer_auth(&ada)
        .header("content-type", "image/png")
        .body(png.into_inner())
        .send()
        .await
        .unwrap();
    let r = TestApp::read(r).await;
    r.assert(200, None);
    let url = r.body["user"]["avatar_url"].as_str().unwrap();
    let path = &url[url.find("/api/v1/avatars/").unwrap()..];
    let r = t
        .client
        .get(t.url(path))
        .bearer_auth(&ada)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "private, max-age=3600");
    // Served over http, nothing asks browsers to keep to https.
    assert!(!sign_in.headers.contains_key("strict-transport-security"));
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_https_public_url_asks_browsers_to_keep_to_https() {
    let t = TestApp::spawn_with(Db::Sqlite, |c| {
        c.public_url = Some("https://postroom.example".into())
    })
    .await;
    for r in [
        t.get("/healthz", None).await,
        t.get("/api/v1/me", None).await,
        t.get("/sign-in", None).await,
        t.get("/no/such/page", None).await,
    ] {
        assert_eq!(
            r.headers
                .get("strict-transport-security")
                .map(|v| v.to_str().unwrap()),
            Some("max-age=31536000"),
            "a {} answer",
            r.status
        );
    }
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_headers_are_refused() {
    let t = TestApp::spawn(Db::Sqlite).await;
    let send = |headers: Vec<(String, String)>| {
        let mut req = t.client.get(t.url("/api/v1/captcha"));
        for (name, value) in headers {
            req = req.header(name, value);
        }
        async move { TestApp::read(req.send().await.expect("request sent")).await }
    };
    // One large header, and many small ones, over 16 KiB together.
    for headers in [
        vec![("x-filler".to_owned(), "a".repeat(200 * 1024))],
        vec![("x-filler".to_owned(), "a".repeat(17 * 1024))],
        (0..40)
            .map(|i| (format!("x-filler-{i}"), "a".repeat(500)))
            .collect(),
    ] {
        let r = send(headers).await;
        r.assert(431, Some("headers_too_large"));
        assert!(r.body["error"]["message"].is_string(), "{}", r.body);
        assert!(r.headers.contains_key("x-request-id"));
    }
    // Just under the limit is fine.
    send(vec![("x-filler".to_owned(), "a".repeat(15 * 1024))])
        .await
        .assert(200, None);
    t.stop().await;
}

async fn metrics_can_ask_for_a_token(db: Db) {
    let token = "metrics-token-0123456789";
    let t = TestApp::spawn_with(db, |c| c.metrics_token = Some(token.into())).await;
    let metrics = |auth: Option<&'static str>| {
        let mut req = t.client.get(t.url("/metrics"));
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        async move { TestApp::read(req.send().await.expect("request sent")).await }
    };
    for auth in [
        None,
        Some("Bearer wrong-token-0123456789"),
        Some("Bearer metrics-token-012345678"),
        Some("Bearer metrics-token-01234567890"),
        Some("Basic bWV0cmljczp4"),
        Some("metrics-token-0123456789"),
    ] {
        let r = metrics(auth).await;
        r.assert(401, Some("unauthenticated"));
        assert_eq!(r.headers["www-authenticate"], "Bearer", "{auth:?}");
    }
    let r = metrics(Some("Bearer metrics-token-0123456789")).await;
    r.assert(200, None);
    assert!(
        r.body.as_str().unwrap().contains("http_requests_total"),
        "{}",
        r.body
    );
    t.stop().await;
}

/// Everything a server creates in its data directory is for its own user;
/// an older installation's looser files are tightened when it starts.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_and_the_outbox_are_private() {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let set_mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let outbox = data.join("outbox");
    let databases = ["postroom.db", "postroom.db-wal", "postroom.db-shm"].map(|f| data.join(f));
    let mails = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&outbox)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    };
    let check = |mails: Vec<std::path::PathBuf>| {
        assert_eq!(mode(&data), 0o700, "the data directory");
        for db in &databases {
            assert_eq!(mode(db), 0o600, "{}", db.display());
        }
        assert_eq!(mode(&outbox), 0o700, "the outbox");
        assert!(!mails.is_empty());
        for mail in mails {
            assert_eq!(mode(&mail), 0o600, "{}", mail.display());
        }
    };

    let t = TestApp::spawn_with(Db::Sqlite, |c| c.data_dir = data.clone()).await;
    t.sign_up("ada@example.com", "ada").await.assert(201, None);
    t.mail_settled().await;
    check(mails());
    t.stop().await;

    // As an older version left them.
    for path in databases.iter().chain(&mails()) {
        if path.exists() {
            set_mode(path, 0o644);
        }
    }
    set_mode(&outbox, 0o755);
    let t = TestApp::spawn_with(Db::Sqlite, |c| c.data_dir = data.clone()).await;
    check(mails());
    t.stop().await;
}

/// Every operation the API offers, as (method, path) in the OpenAPI document.
const OPERATIONS: &[(&str, &str)] = &[
    ("post", "/api/v1/accounts"),
    ("post", "/api/v1/accounts/verify-email"),
    ("post", "/api/v1/accounts/verify-email/resend"),
    ("post", "/api/v1/sessions"),
    ("delete", "/api/v1/sessions/current"),
    ("post", "/api/v1/device-authorizations/approve"),
    ("get", "/api/v1/me"),
    ("patch", "/api/v1/me"),
    ("get", "/api/v1/me/sessions"),
    ("delete", "/api/v1/me/sessions/{id}"),
    ("post", "/api/v1/me/sessions/revoke-others"),
    ("post", "/api/v1/me/password"),
    ("post", "/api/v1/password-resets"),
    ("post", "/api/v1/password-resets/confirm"),
    ("post", "/api/v1/username-reminders"),
    ("post", "/api/v1/me/email"),
    ("post", "/api/v1/me/email/confirm"),
    ("get", "/api/v1/me/notification-preferences"),
    ("put", "/api/v1/me/notification-preferences"),
    ("get", "/api/v1/me/notifications"),
    ("post", "/api/v1/me/notifications/read"),
    ("get", "/api/v1/me/api-keys"),
    ("post", "/api/v1/me/api-keys"),
    ("delete", "/api/v1/me/api-keys/{id}"),
    ("put", "/api/v1/me/avatar"),
    ("delete", "/api/v1/me/avatar"),
    ("get", "/api/v1/users/{username}"),
    ("get", "/api/v1/avatars/{id}"),
    ("get", "/api/v1/captcha"),
    ("get", "/api/v1/me/support-requests"),
    ("post", "/api/v1/me/support-requests"),
];

/// Operations that take no input and need no credentials, so no 4xx answer
/// is possible to document: a fresh captcha challenge is always handed out,
/// and the plans with their prices are public.
const CANNOT_FAIL: &[(&str, &str)] = &[("get", "/api/v1/captcha"), ("get", "/api/v1/plans")];

const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_describes_every_route() {
    let t = TestApp::spawn(Db::Sqlite).await;
    let r = t.get("/api/openapi.json", None).await;
    r.assert(200, None);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "{:?}",
        r.headers["content-type"]
    );
    let doc = r.body;
    let version = doc["openapi"].as_str().expect("an openapi version");
    assert!(version.starts_with("3.1"), "OpenAPI 3.1, got {version}");
    assert!(doc["info"]["title"].is_string());
    assert!(
        doc["components"]["schemas"]["ErrorBody"].is_object(),
        "ErrorBody is a component schema"
    );

    let paths = doc["paths"].as_object().expect("paths");
    for (method, path) in OPERATIONS {
        assert!(
            paths
                .get(*path)
                .is_some_and(|p| p.get(*method).is_some_and(Value::is_object)),
            "the document has {} {path}; it has: {:?}",
            method.to_uppercase(),
            paths
                .iter()
                .map(|(p, item)| (
                    p,
                    item.as_object()
                        .map(|o| o.keys().cloned().collect::<Vec<_>>())
                ))
                .collect::<Vec<_>>()
        );
    }

    let mut operations = 0;
    for (path, item) in paths {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            if !HTTP_METHODS.contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            let name = format!("{} {path}", method.to_uppercase());
            let documents_error_body = op["responses"]
                .as_object()
                .unwrap_or_else(|| panic!("{name} has responses"))
                .iter()
                .filter(|(status, _)| status.starts_with('4'))
                .any(|(_, resp)| {
                    resp["content"]["application/json"]["schema"]["$ref"]
                        .as_str()
                        .is_some_and(|s| s.ends_with("/ErrorBody"))
                });
            let exempt = CANNOT_FAIL.iter().any(|(m, p)| m == method && p == path);
            assert!(
                documents_error_body || exempt,
                "{name} documents a 4xx answer with an ErrorBody: {op}"
            );
            if let Some(json_body) = op["requestBody"]["content"].get("application/json") {
                let schema = &json_body["schema"];
                assert!(
                    schema.is_object() && !schema.as_object().unwrap().is_empty(),
                    "{name} has a schema for its JSON body: {op}"
                );
                if let Some(reference) = schema["$ref"].as_str() {
                    let component = reference.trim_start_matches("#/components/schemas/");
                    assert!(
                        doc["components"]["schemas"][component].is_object(),
                        "{name}: {reference} exists"
                    );
                }
            }
        }
    }
    assert!(
        operations >= OPERATIONS.len(),
        "{operations} operations under /api/v1"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_and_wrong_methods_answer_json() {
    let t = TestApp::spawn(Db::Sqlite).await;
    // Under /api/ the answer is a JSON error; elsewhere a page for people.
    t.get("/no/such/page", None).await.assert(404, None);
    for path in [
        "/api/v1/nothing-here",
        "/api/v1/me/nothing-here",
        "/api/v2/accounts",
    ] {
        let r = t.get(path, None).await;
        r.assert(404, Some("not_found"));
        assert!(r.body["error"]["message"].is_string(), "{}", r.body);
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{path}"
        );
    }
    for (method, path, allowed) in [
        (Method::PUT, "/api/v1/sessions", "POST"),
        (Method::GET, "/api/v1/accounts", "POST"),
        (Method::DELETE, "/api/v1/me/password", "POST"),
        (Method::POST, "/healthz", "GET,HEAD"),
    ] {
        let r = t.request(method.clone(), path, None, None).await;
        r.assert(405, Some("method_not_allowed"));
        assert_eq!(
            r.headers.get("allow").map(|v| v.to_str().unwrap()),
            Some(allowed),
            "{method} {path} says which methods are allowed"
        );
        assert!(
            r.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json"),
            "{method} {path}"
        );
    }
    t.stop().await;
}

#[test]
fn bad_configuration_names_the_field_and_hides_secrets() {
    Config::defaults()
        .validate()
        .expect("the defaults are valid");

    let mut c = Config::defaults();
    c.listen = "nowhere".into();
    let err = c.validate().unwrap_err().to_string();
    assert!(err.contains("listen"), "{err}");

    let secret = "s3cret-hunter2";
    for smtp in [
        format!("http://user:{secret}@x"),
        format!("user:{secret} not a url"),
    ] {
        let mut c = Config::defaults();
        c.smtp_url = Some(smtp.clone().into());
        assert!(
            !format!("{c:?}").contains(secret),
            "Debug hides the SMTP URL"
        );
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("smtp_url"), "{err}");
        assert!(!err.contains(secret), "the secret leaks: {err}");
    }

    let mut c = Config::defaults();
    c.database_url = Some(format!("mysql://root:{secret}@db/postroom").into());
    let err = c.validate().unwrap_err().to_string();
    assert!(err.contains("database_url"), "{err}");
    assert!(!err.contains(secret), "the secret leaks: {err}");

    let mut c = Config::defaults();
    c.secret_key = Some(secret.to_owned().into());
    let err = c.validate().unwrap_err().to_string();
    assert!(err.contains("secret_key"), "{err}");
    assert!(!err.contains(secret), "the secret leaks: {err}");

    // So does the metrics token, which must not be short.
    let mut c = Config::defaults();
    c.metrics_token = Some("short".to_owned().into());
    let err = c.validate().unwrap_err().to_string();
    assert!(
        err.contains("metrics_token") && !err.contains("short"),
        "{err}"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        format!("metrics_token = \"{secret}-metrics\"\n"),
    )
    .unwrap();
    let settings = Config::load(Some(file.path().to_owned()))
        .unwrap()
        .validate()
        .unwrap();
    let token = settings.metrics_token.as_ref().expect("read from the file");
    assert_eq!(
        secrecy::ExposeSecret::expose_secret(token),
        format!("{secret}-metrics")
    );
    assert!(settings
        .redacted()
        .contains("metrics_token = Some(\"<redacted>\")"));
    assert!(!settings.redacted().contains(secret));
    assert!(!format!("{settings:?}").contains(secret));

    // A valid SMTP URL with a password stays out of the redacted view.
    let mut c = Config::defaults();
    c.smtp_url = Some(format!("smtp://user:{secret}@mail.example.com:587").into());
    let settings = c.validate().expect("a valid smtp URL");
    assert!(!settings.redacted().contains(secret));
    assert!(!format!("{settings:?}").contains(secret));
}

/// O1 on PostgreSQL: a database that does not exist yet is created at
/// start when the role may; when it may not, the error says how to create
/// it.
#[tokio::test]
async fn a_missing_postgres_database_is_created_or_explained() {
    let Some(admin_url) = crate::common::postgres_url() else {
        crate::common::skip(
            "a_missing_postgres_database_is_created_or_explained",
            "POSTROOM_TEST_DATABASE_URL is not set",
        );
        return;
    };
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let name = format!("postroom_missing_{suffix}");
    let role = format!("postroom_nocreate_{suffix}");
    let with = |user: Option<&str>, db: &str| {
        let mut url = url::Url::parse(&admin_url).unwrap();
        if let Some(user) = user {
            url.set_username(user).unwrap();
        }
        url.set_path(&format!("/{db}"));
        url.to_string()
    };
    let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE ROLE {role} LOGIN NOCREATEDB"
    )))
    .execute(&mut admin)
    .await
    .unwrap();

    // A role that may not create databases is told how.
    let refused = postroom_server::store::Store::connect(&with(Some(&role), &name), 2).await;
    let Err(refused) = refused else {
        panic!("the database is missing, and the role may not create it")
    };
    let message = format!("{refused:#}");
    assert!(
        message.contains(&format!("the database {name} does not exist")),
        "{message}"
    );
    assert!(message.contains("may not create databases"), "{message}");
    assert!(message.contains(&format!("createdb {name}")), "{message}");

    // One that may creates it, and migrates it.
    let store = postroom_server::store::Store::connect(&with(None, &name), 2)
        .await
        .expect("the database is created");
    store.close().await;
    // Starting again finds it there.
    let store = postroom_server::store::Store::connect(&with(None, &name), 2)
        .await
        .expect("the database exists now");
    store.close().await;

    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {role}")))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// One server per data directory: a second one on the same directory
/// refuses to start, naming the process that holds it; once the first has
/// stopped, it starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_a_data_directory_refuses_to_start() {
    let mut t = TestApp::spawn(Db::Sqlite).await;
    let build = |data_dir: std::path::PathBuf| async move {
        let mut config = postroom_server::config::Config::defaults();
        config.listen = "127.0.0.1:0".into();
        config.data_dir = data_dir;
        let settings = config.validate().unwrap();
        postroom_server::startup::Application::build(
            settings,
            postroom_server::clock::Clock::manual(0),
        )
        .await
    };
    let Err(err) = build(t.data_dir.path().to_path_buf()).await else {
        panic!("a second server started on the same data directory");
    };
    let message = format!("{err:#}");
    assert!(message.contains("another postroom server"), "{message}");
    assert!(
        message.contains(&format!("process {}", std::process::id())),
        "{message}"
    );
    t.halt().await;
    assert!(build(t.data_dir.path().to_path_buf()).await.is_ok());
}
