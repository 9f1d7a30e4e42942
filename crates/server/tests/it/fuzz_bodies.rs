//! Property tests for outside input over HTTP. Request bodies, the parser
//! every JSON endpoint shares (`ApiJson`) and the validation behind it:
//! arbitrary bytes, arbitrary JSON, and objects with the API's field names
//! holding arbitrary values (captcha solutions and link tokens among them),
//! sent to every route whose OpenAPI entry takes a JSON body. Credentials:
//! arbitrary `Authorization` and `X-Api-Key` values. Uploads: arbitrary bytes
//! as an avatar, raw or as a form. None gets a 5xx, every 4xx is a JSON error
//! with a code, and no made-up credential is ever accepted.

use crate::common::{Db, TestApp};
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::Value;

/// Every (method, path) of the OpenAPI document with a JSON request body;
/// path parameters are filled with a plausible-looking id.
fn json_routes() -> Vec<(reqwest::Method, String)> {
    let doc = serde_json::to_value(postroom_server::http::openapi()).expect("serialises");
    let mut routes = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            let takes_json = op["requestBody"]["content"]
                .as_object()
                .is_some_and(|c| c.contains_key("application/json"));
            if !takes_json {
                continue;
            }
            let method = method.to_uppercase().parse().expect("an HTTP method");
            let mut concrete = String::new();
            for segment in path.split('/').skip(1) {
                concrete.push('/');
                if segment.starts_with('{') {
                    concrete.push_str("0190e7a0-7c3e-7000-8000-000000000000");
                } else {
                    concrete.push_str(segment);
                }
            }
            routes.push((method, concrete));
        }
    }
    assert!(routes.len() >= 8, "the API has JSON routes: {routes:?}");
    routes
}

/// Names of fields the API's request bodies use.
const FIELDS: &[&str] = &[
    "email",
    "username",
    "password",
    "accept_terms",
    "captcha",
    "login",
    "keep_signed_in",
    "token",
    "new_password",
    "current_password",
    "new_email",
    "display_name",
    "bio",
    "links",
    "profile_public",
    "usage",
    "preferences",
    "name",
    "scopes",
    "subject",
    "body",
    "category",
    "role",
    "slug",
    "user_code",
];

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,40}".prop_map(Value::String),
        "[a-z0-9@.\\- ]{0,300}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Bodies from raw noise to near-valid requests.
fn body() -> impl Strategy<Value = Vec<u8>> {
    let object = prop::collection::btree_map(prop::sample::select(FIELDS), json_value(), 0..6)
        .prop_map(|m| {
            let v: serde_json::Map<String, Value> =
                m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            serde_json::to_vec(&Value::Object(v)).expect("serialises")
        });
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..300),
        1 => json_value().prop_map(|v| serde_json::to_vec(&v).expect("serialises")),
        2 => object,
    ]
}

#[test]
fn arbitrary_bodies_never_get_a_server_error() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t = rt.block_on(TestApp::spawn_with(Db::Sqlite, |c| {
        // Many requests from one address: the limits would answer 429 early
        // and hide the code behind them.
        c.rate_limits = false;
    }));
    let token = rt.block_on(t.new_user("fuzzer"));
    let routes = json_routes();
    let content_types = [
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("text/plain"),
        None,
    ];
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let strategy = (
        0..routes.len(),
        body(),
        prop::sample::select(content_types.to_vec()),
        any::<bool>(),
    );
    let result = runner.run(&strategy, |(route, body, content_type, signed_in)| {
        let (method, path) = &routes[route];
        let mut req = t
            .client
            .request(method.clone(), t.url(path))
            .body(body.clone());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        if signed_in {
            req = req.bearer_auth(&token);
        }
        let r = rt.block_on(async { TestApp::read(req.send().await.expect("sent")).await });
        let shown = String::from_utf8_lossy(&body);
        if r.status.is_server_error() {
            return Err(TestCaseError::fail(format!(
                "{method} {path} with {shown:?} ({content_type:?}): {} {}",
                r.status, r.body
            )));
        }
        if r.status.is_client_error() && !r.body["error"]["code"].is_string() {
            return Err(TestCaseError::fail(format!(
                "{method} {path} with {shown:?}: {} without a JSON error code: {}",
                r.status, r.body
            )));
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    rt.block_on(t.stop());
}

/// A runtime and a server for one property test, without rate limits (many
/// requests come from one address).
fn fuzz_server() -> (tokio::runtime::Runtime, TestApp) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t = rt.block_on(TestApp::spawn_with(Db::Sqlite, |c| c.rate_limits = false));
    (rt, t)
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    })
}

/// Fails unless the response is a 4xx JSON error with a code.
fn refused(what: &str, r: &crate::common::Resp) -> Result<(), TestCaseError> {
    if r.status.is_client_error() && r.body["error"]["code"].is_string() {
        Ok(())
    } else {
        Err(TestCaseError::fail(format!(
            "{what}: {} {}",
            r.status, r.body
        )))
    }
}

#[test]
fn made_up_credentials_are_refused_cleanly() {
    let (rt, t) = fuzz_server();
    // A real session exists, so a lookup has something to (not) find.
    rt.block_on(t.new_user("fuzzer"));
    let token_like = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..120),
        "(Bearer |bearer |Basic |)(prs_|prk_|)[A-Za-z0-9_\\-]{0,60}".prop_map(String::into_bytes),
        "Bearer prs_[A-Za-z0-9_\\-]{43}".prop_map(String::into_bytes),
    ];
    let result = runner(300).run(&(token_like, any::<bool>()), |(value, as_api_key)| {
        // Bytes that cannot be a header value never reach the server.
        let Ok(value) = reqwest::header::HeaderValue::from_bytes(&value) else {
            return Ok(());
        };
        let name = if as_api_key {
            "x-api-key"
        } else {
            "authorization"
        };
        let req = t
            .client
            .get(t.url("/api/v1/me"))
            .header(name, value.clone());
        let r = rt.block_on(async { TestApp::read(req.send().await.expect("sent")).await });
        refused(&format!("{name}: {value:?}"), &r)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    rt.block_on(t.stop());
}

#[test]
fn arbitrary_avatar_bytes_are_refused_cleanly() {
    let (rt, t) = fuzz_server();
    let token = rt.block_on(t.new_user("fuzzer"));
    // Noise, and noise behind each accepted format's magic bytes.
    let magic: [&[u8]; 4] = [
        b"",
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff",
        b"RIFF\0\0\0\0WEBPVP8 ",
    ];
    let bytes = (
        prop::sample::select(magic.to_vec()),
        prop::collection::vec(any::<u8>(), 0..600),
    )
        .prop_map(|(magic, rest)| [magic, &rest].concat());
    let content_types = ["image/png", "image/jpeg", "image/webp", "image/gif"];
    let strategy = (
        bytes,
        prop::sample::select(content_types.to_vec()),
        any::<bool>(),
    );
    let result = runner(200).run(&strategy, |(body, content_type, as_form)| {
        let req = t.client.put(t.url("/api/v1/me/avatar")).bearer_auth(&token);
        let req = if as_form {
            let part = reqwest::multipart::Part::bytes(body.clone())
                .file_name("avatar")
                .mime_str(content_type)
                .expect("a valid MIME type");
            req.multipart(reqwest::multipart::Form::new().part("avatar", part))
        } else {
            req.header("content-type", content_type).body(body.clone())
        };
        let r = rt.block_on(async { TestApp::read(req.send().await.expect("sent")).await });
        refused(
            &format!("{} bytes as {content_type} (form: {as_form})", body.len()),
            &r,
        )
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    rt.block_on(t.stop());
}
