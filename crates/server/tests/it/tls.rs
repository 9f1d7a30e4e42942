//! Built-in HTTPS (O4): a server given a certificate and key speaks HTTPS
//! (HTTP/1.1 and HTTP/2) and secure WebSockets, marks its cookies `Secure`,
//! sends HSTS, takes up a replaced certificate without a restart and
//! without dropping its connections, keeps its certificate when the new
//! files do not load, and names the file and the problem when a pair is
//! wrong at start.
//!
//! Certificates are made here (rcgen): a test authority and certificates it
//! issues for 127.0.0.1. The client side is tokio-rustls with that authority
//! as its only root, and hyper's client or tungstenite on top.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use postroom_server::tls::{Reload, TlsFiles};
use postroom_server::Config;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::common::{skip, Db, TestApp, PASSWORD};

/// A certificate authority of the test's own (or only its certificate, to
/// trust).
struct Authority {
    issuer: Option<rcgen::Issuer<'static, rcgen::KeyPair>>,
    root: CertificateDer<'static>,
}

/// A certificate and its key, as PEM files hold them.
struct Pair {
    cert_pem: String,
    key_pem: String,
    der: CertificateDer<'static>,
}

impl Authority {
    fn new() -> Authority {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Postroom test authority");
        let key = rcgen::KeyPair::generate().unwrap();
        let root = params.self_signed(&key).unwrap().der().clone();
        Authority {
            issuer: Some(rcgen::Issuer::new(params, key)),
            root,
        }
    }

    /// Clients that trust `root` alone.
    fn trusting(root: CertificateDer<'static>) -> Authority {
        Authority { issuer: None, root }
    }

    /// A new key and a certificate for it, for 127.0.0.1 and localhost.
    fn issue(&self) -> Pair {
        let params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
                .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let issuer = self.issuer.as_ref().expect("an authority that issues");
        let cert = params.signed_by(&key, issuer).unwrap();
        Pair {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            der: cert.der().clone(),
        }
    }

    /// A client configuration that trusts this authority alone.
    fn client(&self, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.root.clone()).unwrap();
        let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(config)
    }
}

/// Writes a file whole, under a temporary name then renamed, as certificate
/// renewal tools do.
fn put(path: &Path, contents: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, contents).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

/// Where a test keeps its certificate and key.
struct Files {
    _dir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
}

impl Files {
    fn with(pair: &Pair) -> Files {
        let dir = tempfile::tempdir().unwrap();
        let files = Files {
            cert: dir.path().join("cert.pem"),
            key: dir.path().join("key.pem"),
            _dir: dir,
        };
        files.replace(pair);
        files
    }

    fn replace(&self, pair: &Pair) {
        put(&self.cert, &pair.cert_pem);
        put(&self.key, &pair.key_pem);
    }

    fn tls(&self) -> TlsFiles {
        TlsFiles {
            cert: self.cert.clone(),
            key: self.key.clone(),
            check_every: Duration::from_secs(3600),
        }
    }
}

async fn spawn_tls(files: &Files) -> TestApp {
    let (cert, key) = (files.cert.clone(), files.key.clone());
    TestApp::spawn_with(Db::Sqlite, move |c| {
        c.tls_cert = Some(cert);
        c.tls_key = Some(key);
    })
    .await
}

fn addr(t: &TestApp) -> SocketAddr {
    t.base
        .strip_prefix("https://")
        .expect("the server speaks https")
        .parse()
        .unwrap()
}

/// A TLS connection to the server, as a client trusting `config`'s roots.
async fn connect(t: &TestApp, config: Arc<rustls::ClientConfig>) -> TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr(t)).await.unwrap();
    let name = ServerName::IpAddress(addr(t).ip().into());
    tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .expect("the TLS handshake succeeds")
}

/// The certificate a new connection is given.
async fn served(t: &TestApp, authority: &Authority) -> CertificateDer<'static> {
    let tls = connect(t, authority.client(&[])).await;
    tls.get_ref().1.peer_certificates().unwrap()[0].clone()
}

/// An answer: status, headers, body.
struct Reply {
    status: u16,
    headers: hyper::HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    fn cookies(&self) -> Vec<&str> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }
}

/// One HTTP/1.1 request over a new TLS connection.
async fn https(
    t: &TestApp,
    authority: &Authority,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, String)>,
) -> Reply {
    let tls = connect(t, authority.client(&[b"http/1.1"])).await;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(connection);
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", addr(t).to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = match body {
        Some((content_type, body)) => request
            .header("content-type", content_type)
            .body(Full::new(Bytes::from(body))),
        None => request.body(Full::new(Bytes::new())),
    }
    .unwrap();
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn post_json(
    t: &TestApp,
    authority: &Authority,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
    https(
        t,
        authority,
        "POST",
        path,
        &headers,
        Some(("application/json", body.to_string())),
    )
    .await
}

/// Signs up, confirms the address and signs in over HTTPS; the token.
async fn new_user(t: &TestApp, authority: &Authority, username: &str) -> String {
    let email = format!("{username}@example.com");
    let r = post_json(
        t,
        authority,
        "/api/v1/accounts",
        None,
        json!({ "email": email, "username": username, "password": PASSWORD, "accept_terms": true }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let token = t.link_token(&email, "/verify-email").await;
    let r = post_json(
        t,
        authority,
        "/api/v1/accounts/verify-email",
        None,
        json!({ "token": token }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = post_json(
        t,
        authority,
        "/api/v1/sessions",
        None,
        json!({ "login": username, "password": PASSWORD }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["token"].as_str().unwrap().to_owned()
}

async fn create_collection(t: &TestApp, authority: &Authority, token: &str, name: &str) -> String {
    let collection = json!({
        "info": {
            "name": name,
            "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
        },
        "item": [],
    });
    let r = post_json(
        t,
        authority,
        "/api/v1/collections",
        Some(token),
        json!({ "collection": collection }),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.json()["collection"]["id"].as_str().unwrap().to_owned()
}

type Socket = tokio_tungstenite::WebSocketStream<TlsStream<TcpStream>>;

/// The sync socket over wss://, signed in with `token`.
async fn sync_socket(t: &TestApp, authority: &Authority, token: &str) -> Socket {
    let tls = connect(t, authority.client(&[b"http/1.1"])).await;
    let mut request = format!("wss://{}/api/v1/sync", addr(t))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (socket, response) = tokio_tungstenite::client_async(request, tls)
        .await
        .expect("the socket opens over TLS");
    assert_eq!(
        response
            .headers()
            .get("strict-transport-security")
            .map(|v| v.to_str().unwrap()),
        Some("max-age=31536000")
    );
    socket
}

/// The next message other than a heartbeat, within 5 s.
async fn next_message(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .expect("the socket is open")
            .expect("a message");
        if let Message::Text(text) = message {
            let value: Value = serde_json::from_str(&text).unwrap();
            if value["type"] != "heartbeat" {
                return value;
            }
        }
    }
}

async fn until_synced(socket: &mut Socket) {
    while next_message(socket).await["type"] != "synced" {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_speaks_https_and_secure_websockets() {
    let authority = Authority::new();
    let files = Files::with(&authority.issue());
    let t = spawn_tls(&files).await;
    assert!(t.base.starts_with("https://127.0.0.1:"), "{}", t.base);
    assert_eq!(
        t.app.settings.public_url.as_str(),
        format!("{}/", t.base),
        "the public URL defaults to https://"
    );

    // Every answer asks browsers to keep to HTTPS.
    for path in [
        "/healthz",
        "/healthz/ready",
        "/sign-in",
        "/api/v1/me",
        "/nowhere",
    ] {
        let r = https(&t, &authority, "GET", path, &[], None).await;
        assert_eq!(
            r.header("strict-transport-security"),
            Some("max-age=31536000"),
            "{path} answered {}",
            r.status
        );
    }
    let health = https(&t, &authority, "GET", "/healthz", &[], None).await;
    assert_eq!(
        (health.status, health.json()),
        (200, json!({"status": "ok"}))
    );

    // HTTP/2, when the client asks for it by ALPN.
    let tls = connect(&t, authority.client(&[b"h2", b"http/1.1"])).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(connection);
    let response = sender
        .send_request(
            hyper::Request::get(t.url("/healthz/live"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.version(), hyper::Version::HTTP_2);
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );

    // Signing in on the web sets Secure cookies, with the __Host- prefix.
    let ada = new_user(&t, &authority, "ada").await;
    let form = https(&t, &authority, "GET", "/sign-in", &[], None).await;
    assert_eq!(form.status, 200);
    let csrf_cookie = form
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-postroom_csrf="))
        .expect("the sign-in page sets the CSRF cookie")
        .to_owned();
    assert!(csrf_cookie.contains("; Secure"), "{csrf_cookie}");
    let csrf = form
        .body
        .split(r#"name="csrf" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the form carries its CSRF token")
        .to_owned();
    let cookie = csrf_cookie.split(';').next().unwrap().to_owned();
    let signed_in = https(
        &t,
        &authority,
        "POST",
        "/sign-in",
        &[("cookie", &cookie)],
        Some((
            "application/x-www-form-urlencoded",
            serde_urlencoded::to_string([
                ("csrf", csrf.as_str()),
                ("login", "ada"),
                ("password", PASSWORD),
                ("next", "/"),
            ])
            .unwrap(),
        )),
    )
    .await;
    assert!(
        (300..400).contains(&signed_in.status),
        "the sign-in form answered {}: {}",
        signed_in.status,
        signed_in.body
    );
    let session = signed_in
        .cookies()
        .into_iter()
        .find(|c| c.starts_with("__Host-postroom_accounts="))
        .expect("signing in sets the session cookie");
    for attribute in ["; Secure", "; HttpOnly", "; Path=/"] {
        assert!(session.contains(attribute), "{attribute}: {session}");
    }
    assert_eq!(
        signed_in.header("strict-transport-security"),
        Some("max-age=31536000")
    );

    // The sync socket over wss://: catch-up, then a change as it happens.
    let mut socket = sync_socket(&t, &authority, &ada).await;
    until_synced(&mut socket).await;
    let id = create_collection(&t, &authority, &ada, "Over TLS").await;
    let change = next_message(&mut socket).await;
    assert_eq!(change["type"], "change", "{change}");
    assert_eq!(change["change"]["id"], id.as_str());

    // Plain HTTP on the TLS port gets no answer, and changes nothing.
    let mut plain = TcpStream::connect(addr(&t)).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(
        &mut plain,
        b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    )
    .await
    .unwrap();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut plain, &mut answer),
    )
    .await
    .expect("the connection is closed");
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    // So does a client that does not trust the certificate.
    let stranger = Authority::new();
    let tcp = TcpStream::connect(addr(&t)).await.unwrap();
    let refused = tokio_rustls::TlsConnector::from(stranger.client(&[]))
        .connect(ServerName::IpAddress(addr(&t).ip().into()), tcp)
        .await;
    assert!(refused.is_err(), "a certificate from another authority");
    let health = https(&t, &authority, "GET", "/healthz", &[], None).await;
    assert_eq!(health.status, 200);

    // Shutting down closes the socket as going away, and the server stops.
    t.shut_down();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("the socket closes within 5 s")
        {
            Some(Ok(Message::Close(Some(frame)))) => {
                assert_eq!(u16::from(frame.code), 1001);
                break;
            }
            Some(Ok(_)) => continue,
            other => panic!("no close frame: {other:?}"),
        }
    }
    tokio::time::timeout(Duration::from_secs(10), t.stop())
        .await
        .expect("the server stops within 10 s");
}

/// Waits until new connections get `want`, for 10 s at most.
async fn until_served(t: &TestApp, authority: &Authority, want: &CertificateDer<'_>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while served(t, authority).await != *want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new certificate was not taken up within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_certificate_is_taken_up_without_a_restart() {
    let authority = Authority::new();
    let first = authority.issue();
    let files = Files::with(&first);
    let t = spawn_tls(&files).await;
    assert_eq!(served(&t, &authority).await, first.der);
    let ada = new_user(&t, &authority, "ada").await;
    let mut socket = sync_socket(&t, &authority, &ada).await;
    until_synced(&mut socket).await;

    // Renewed: new connections get the new certificate (test servers look
    // at the files every 50 ms)...
    let second = authority.issue();
    files.replace(&second);
    until_served(&t, &authority, &second.der).await;
    // ...and the socket opened before goes on.
    let id = create_collection(&t, &authority, &ada, "After the renewal").await;
    let change = next_message(&mut socket).await;
    assert_eq!(change["change"]["id"], id.as_str(), "{change}");
    socket.send(Message::Ping(Bytes::new())).await.unwrap();

    // A key that is not the certificate's: refused (by the watcher, or by
    // this look, whichever comes first), and the certificate in use stays.
    let stray = authority.issue();
    put(&files.key, &stray.key_pem);
    let tls = t.tls.as_ref().expect("the server speaks TLS");
    match tls.reload() {
        Reload::Refused(e) => assert!(e.0.contains("does not match"), "{e}"),
        Reload::Unchanged => {}
        Reload::Replaced => panic!("a key that does not match was taken"),
    }
    assert_eq!(tls.chain()[0], second.der);
    assert_eq!(served(&t, &authority).await, second.der);
    let health = https(&t, &authority, "GET", "/healthz", &[], None).await;
    assert_eq!(health.status, 200);

    // Set right again, it is taken up.
    put(&files.key, &second.key_pem);
    files.replace(&first);
    until_served(&t, &authority, &first.der).await;
    t.stop().await;
}

/// The files of a pair are read again only when they change, and a pair
/// that does not load leaves the one in use, saying why, once.
#[test]
fn only_a_pair_that_loads_replaces_the_one_in_use() {
    let authority = Authority::new();
    let first = authority.issue();
    let files = Files::with(&first);
    let certs = postroom_server::tls::Certificates::load(&files.tls()).unwrap();
    assert_eq!(certs.chain()[0], first.der);
    assert_eq!(certs.reload(), Reload::Unchanged);

    let second = authority.issue();
    put(&files.cert, &second.cert_pem);
    let Reload::Refused(e) = certs.reload() else {
        panic!("a certificate without its key was taken")
    };
    assert!(
        e.0.contains(&format!(
            "tls_key: {} does not match the certificate in {}",
            files.key.display(),
            files.cert.display()
        )),
        "{e}"
    );
    assert_eq!(certs.reload(), Reload::Unchanged, "said once");
    assert_eq!(certs.chain()[0], first.der);

    std::fs::remove_file(&files.key).unwrap();
    let Reload::Refused(e) = certs.reload() else {
        panic!("a missing key was taken")
    };
    assert!(e.0.contains("does not exist"), "{e}");
    assert_eq!(certs.chain()[0], first.der);

    put(&files.key, &second.key_pem);
    assert_eq!(certs.reload(), Reload::Replaced);
    assert_eq!(certs.chain()[0], second.der);
}

/// What is wrong with a certificate or key is said at start, naming the
/// setting, the file and the problem.
#[test]
fn a_bad_certificate_or_key_is_named_at_start() {
    let authority = Authority::new();
    let pair = authority.issue();
    let files = Files::with(&pair);
    let dir = files.cert.parent().unwrap().to_owned();
    let validate = |cert: Option<&Path>, key: Option<&Path>| {
        let mut c = Config::defaults();
        c.listen = "127.0.0.1:8443".into();
        c.tls_cert = cert.map(Path::to_owned);
        c.tls_key = key.map(Path::to_owned);
        c.validate()
    };
    let error = |cert: &Path, key: &Path| validate(Some(cert), Some(key)).unwrap_err().to_string();

    let settings = validate(Some(&files.cert), Some(&files.key)).unwrap();
    assert_eq!(settings.public_url.as_str(), "https://127.0.0.1:8443/");
    assert!(settings.is_https());
    let shown = settings.redacted();
    assert!(
        shown.contains(&format!(
            "tls_cert = Some({:?})",
            files.cert.display().to_string()
        )),
        "{shown}"
    );
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");

    for (cert, key) in [(Some(&files.cert), None), (None, Some(&files.key))] {
        let e = validate(cert.map(|p| p.as_path()), key.map(|p| p.as_path()))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("set both") && e.contains("POSTROOM_TLS_KEY"),
            "{e}"
        );
    }

    let missing = dir.join("missing.pem");
    let e = error(&missing, &files.key);
    assert!(
        e.contains(&format!("tls_cert: {} does not exist", missing.display())),
        "{e}"
    );
    let e = error(&files.cert, &missing);
    assert!(
        e.contains(&format!("tls_key: {} does not exist", missing.display())),
        "{e}"
    );
    let e = error(&dir, &files.key);
    assert!(e.contains("is a directory"), "{e}");

    // Swapped.
    let e = error(&files.key, &files.cert);
    assert!(
        e.contains(&format!(
            "tls_cert: {} holds no certificate",
            files.key.display()
        )) && e.contains("swapped"),
        "{e}"
    );
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let e = error(&files.cert, &empty);
    assert!(
        e.contains(&format!(
            "tls_key: {} holds no private key",
            empty.display()
        )),
        "{e}"
    );
    let e = error(&empty, &files.key);
    assert!(e.contains("holds no certificate"), "{e}");
    let encrypted = dir.join("encrypted.pem");
    std::fs::write(
        &encrypted,
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n",
    )
    .unwrap();
    let e = error(&files.cert, &encrypted);
    assert!(e.contains("passphrase"), "{e}");
    let garbage = dir.join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let e = error(&garbage, &files.key);
    assert!(
        e.contains(&format!("tls_cert: {}", garbage.display())),
        "{e}"
    );

    // Another key than the certificate's.
    let other = authority.issue();
    let other_key = dir.join("other-key.pem");
    std::fs::write(&other_key, &other.key_pem).unwrap();
    let e = error(&files.cert, &other_key);
    assert!(
        e.contains(&format!(
            "tls_key: {} does not match the certificate in {}",
            other_key.display(),
            files.cert.display()
        )),
        "{e}"
    );
    // The key's contents never show.
    assert!(!e.contains("PRIVATE KEY-----"), "{e}");

    // The server speaks only HTTPS then: an http:// public URL is a mistake.
    let mut c = Config::defaults();
    c.tls_cert = Some(files.cert.clone());
    c.tls_key = Some(files.key.clone());
    c.public_url = Some("http://postroom.example".into());
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("public_url") && e.contains("https://"), "{e}");
    let mut c = Config::defaults();
    c.tls_cert = Some(files.cert.clone());
    c.tls_key = Some(files.key.clone());
    c.public_url = Some("https://postroom.example".into());
    assert_eq!(
        c.validate().unwrap().public_url.as_str(),
        "https://postroom.example/"
    );
}

/// The README's command for a test certificate (`openssl req ...`) makes a
/// pair the server takes, and that a client trusting the certificate
/// reaches. Skipped without openssl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readmes_test_certificate_works() {
    if std::process::Command::new("openssl")
        .arg("version")
        .output()
        .is_err()
    {
        skip(
            "tls::the_readmes_test_certificate_works",
            "openssl is not installed",
        );
        return;
    }
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .unwrap();
    let mut lines = readme
        .lines()
        .skip_while(|l| !l.starts_with("openssl req "));
    let mut command = String::new();
    for line in lines.by_ref() {
        command.push_str(line.trim_end_matches('\\'));
        command.push(' ');
        if !line.ends_with('\\') {
            break;
        }
    }
    assert!(command.contains("-keyout key.pem"), "{command:?}");
    let dir = tempfile::tempdir().unwrap();
    let made = std::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let root = CertificateDer::from_pem_file(&cert).unwrap();
    let t = TestApp::spawn_with(Db::Sqlite, |c| {
        c.tls_cert = Some(cert);
        c.tls_key = Some(key);
    })
    .await;
    let trusting = Authority::trusting(root.clone());
    assert_eq!(served(&t, &trusting).await, root);
    let ready = https(&t, &trusting, "GET", "/healthz/ready", &[], None).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    t.stop().await;
}

/// `redirect_http`: plain HTTP on its own address sends the browser on to
/// the same path and query over HTTPS, at the public URL whatever Host the
/// request named; without built-in HTTPS the setting is refused at start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_sent_on_to_https() {
    let authority = Authority::new();
    let files = Files::with(&authority.issue());
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (cert, key) = (files.cert.clone(), files.key.clone());
    let t = TestApp::spawn_with(Db::Sqlite, move |c| {
        c.tls_cert = Some(cert);
        c.tls_key = Some(key);
        c.redirect_http = Some(format!("127.0.0.1:{port}"));
    })
    .await;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = plain
        .get(format!("http://127.0.0.1:{port}/sign-in?next=%2Fteams"))
        .header("host", "evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(
        r.headers()["location"].to_str().unwrap(),
        format!("{}/sign-in?next=%2Fteams", t.base)
    );
    assert!(t.base.starts_with("https://"));

    let mut c = Config::defaults();
    c.redirect_http = Some("127.0.0.1:8081".into());
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("redirect_http") && e.contains("tls_cert"), "{e}");
    let mut c = Config::defaults();
    c.tls_cert = Some(files.cert.clone());
    c.tls_key = Some(files.key.clone());
    c.redirect_http = Some("port 80".into());
    let e = c.validate().unwrap_err().to_string();
    assert!(e.contains("not an address"), "{e}");
}
