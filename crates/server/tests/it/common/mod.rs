//! The test harness: a real server on `127.0.0.1:0` with a fresh database
//! (SQLite in a temporary directory, or a new PostgreSQL database when
//! `POSTROOM_TEST_DATABASE_URL` is set), a clock the test moves, and typed
//! helpers for the common flows. Mail goes to the outbox directory, where
//! [`TestApp::mail_to`] finds it.

#![allow(dead_code)]

pub mod browser;
pub mod localstripe;
pub mod oidc_mock;

use std::path::PathBuf;
use std::time::Duration;

use postroom_server::{App, Application, Clock, Config};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// 2026-01-01T00:00:00Z: tests start here and move forward.
pub const START: i64 = 1_767_225_600_000;

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Runs one store write in a transaction of its own, as the domain does:
/// committed when it succeeds, rolled back when it fails.
#[allow(unused_macros)]
macro_rules! write {
    ($store:expr, |$tx:ident| $call:expr) => {{
        let mut $tx = $store.begin().await.unwrap();
        let result = $call;
        if result.is_ok() {
            $tx.commit().await.unwrap();
        } else {
            $tx.rollback().await.unwrap();
        }
        result
    }};
}

/// Runs each listed `async fn name(db: Db)` as two tests, `sqlite::name`
/// and `postgres::name`; the PostgreSQL one skips (with a message) unless
/// `POSTROOM_TEST_DATABASE_URL` is set.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::Db::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::common::postgres_url().is_none() {
                        $crate::common::skip(
                            concat!(module_path!(), "::", stringify!($name)),
                            "set POSTROOM_TEST_DATABASE_URL to run it on PostgreSQL",
                        );
                        return;
                    }
                    super::$name($crate::common::Db::Postgres).await
                }
            )*
        }
    };
}

/// How a test server hashes passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hashing {
    /// Tiny argon2id parameters: fast tests.
    Cheap,
    /// What `postroom serve` uses.
    Production,
}

/// Says that a test did not run and why, where a plain `cargo test` shows
/// it: the test harness keeps what `println!` and `eprintln!` print, but
/// not what is written to the standard error stream directly.
pub fn skip(test: &str, reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped {test}: {reason}");
}

pub fn postgres_url() -> Option<String> {
    std::env::var("POSTROOM_TEST_DATABASE_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

/// A fresh PostgreSQL database, dropped when this value is.
pub struct PgDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl PgDatabase {
    pub async fn create() -> PgDatabase {
        let admin_url = postgres_url().expect("POSTROOM_TEST_DATABASE_URL is set");
        sqlx::any::install_default_drivers();
        let name = format!("postroom_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
            .await
            .expect("connect to the test PostgreSQL");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .expect("create a test database");
        let mut url = url::Url::parse(&admin_url).expect("POSTROOM_TEST_DATABASE_URL is a URL");
        url.set_path(&format!("/{name}"));
        PgDatabase {
            admin_url,
            name,
            url: url.to_string(),
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside a runtime; a thread with its own runtime can block.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                if let Ok(mut conn) =
                    <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url).await
                {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut conn)
                    .await;
                }
            })
        })
        .join();
    }
}

pub struct TestApp {
    pub base: String,
    pub app: App,
    /// The certificate in use, when the server speaks HTTPS itself.
    pub tls: Option<std::sync::Arc<postroom_server::tls::Certificates>>,
    pub clock: Clock,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    pub db: Db,
    shutdown: std::sync::Mutex<Option<tokio::sync::oneshot::Sender<()>>>,
    server: Option<tokio::task::JoinHandle<()>>,
    _pg: Option<PgDatabase>,
}

/// A response: status, headers and the JSON body (Null when there is none).
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Resp {
    /// The error code of an error response.
    pub fn code(&self) -> &str {
        self.body["error"]["code"]
            .as_str()
            .unwrap_or("<no error code>")
    }

    #[track_caller]
    pub fn assert(&self, status: u16, code: Option<&str>) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        if let Some(code) = code {
            assert_eq!(
                self.code(),
                code,
                "unexpected error code; body: {}",
                self.body
            );
        }
        self
    }
}

impl TestApp {
    pub async fn spawn(db: Db) -> TestApp {
        Self::spawn_with(db, |_| {}).await
    }

    /// Starts a server whose configuration `edit` may change first.
    pub async fn spawn_with(db: Db, edit: impl FnOnce(&mut Config)) -> TestApp {
        Self::start(db, None, Hashing::Cheap, edit).await
    }

    /// A server that hashes passwords with the production parameters
    /// (argon2id, 19 MiB, 2 passes), as `postroom serve` does.
    pub async fn spawn_with_production_hashing(db: Db) -> TestApp {
        Self::start(db, None, Hashing::Production, |_| {}).await
    }

    /// Another server on this one's PostgreSQL database: a second node of
    /// the same deployment (with its own clock), sharing its server key as
    /// the nodes of a deployment must.
    pub async fn spawn_node(&self) -> TestApp {
        let url = self
            ._pg
            .as_ref()
            .expect("nodes share a PostgreSQL database")
            .url
            .clone();
        let key = std::fs::read_to_string(self.data_dir.path().join("server.key"))
            .expect("the first node's server key");
        Self::start(Db::Postgres, Some(url), Hashing::Cheap, |config| {
            config.secret_key = Some(key.trim().to_owned().into());
        })
        .await
    }

    async fn start(
        db: Db,
        shared_url: Option<String>,
        hashing: Hashing,
        edit: impl FnOnce(&mut Config),
    ) -> TestApp {
        let data_dir = tempfile::tempdir().expect("temporary directory");
        Self::start_in(db, data_dir, None, shared_url, hashing, START, edit).await
    }

    /// Stops the server and starts it again on the same data directory and
    /// database, its clock where it was: a restart.
    pub async fn restart(mut self) -> TestApp {
        self.halt().await;
        let data_dir = std::mem::replace(
            &mut self.data_dir,
            tempfile::tempdir().expect("temporary directory"),
        );
        let pg = self._pg.take();
        let url = pg.as_ref().map(|pg| pg.url.clone());
        let now = self.clock.now();
        Self::start_in(self.db, data_dir, pg, url, Hashing::Cheap, now, |_| {}).await
    }

    async fn start_in(
        db: Db,
        data_dir: tempfile::TempDir,
        pg: Option<PgDatabase>,
        shared_url: Option<String>,
        hashing: Hashing,
        start: postroom_server::clock::Millis,
        edit: impl FnOnce(&mut Config),
    ) -> TestApp {
        let mut config = Config::defaults();
        config.listen = "127.0.0.1:0".into();
        config.data_dir = data_dir.path().to_path_buf();
        // Tests look at rate limits and captchas on purpose, where they want them.
        config.captcha = postroom_server::config::CaptchaMode::Never;
        let pg = match (db, &shared_url, pg) {
            (_, _, Some(pg)) => Some(pg),
            (Db::Postgres, None, None) => Some(PgDatabase::create().await),
            _ => None,
        };
        if let Some(url) = shared_url.or_else(|| pg.as_ref().map(|pg| pg.url.clone())) {
            config.database_url = Some(url.into());
        }
        edit(&mut config);
        let mut settings = config.validate().expect("test configuration is valid");
        if hashing == Hashing::Cheap {
            // Below what the configuration accepts, on purpose: tests sign in
            // thousands of times. One test pins the production parameters.
            settings.argon2_memory_kib = 64;
            settings.argon2_iterations = 1;
        }
        if let Some(tls) = settings.tls.as_mut() {
            // Tests replace certificate files and wait for them to be used.
            tls.check_every = Duration::from_millis(50);
        }
        let clock = Clock::manual(start);
        let application = Application::build(settings, clock.clone())
            .await
            .expect("the server starts");
        let scheme = if application.tls().is_some() {
            "https"
        } else {
            "http"
        };
        let base = format!("{scheme}://{}", application.addr());
        let app = application.app().clone();
        let tls = application.tls();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(async move {
            application
                .run(async {
                    let _ = rx.await;
                })
                .await
                .expect("the server runs");
        });
        let client = reqwest::Client::builder()
            .user_agent("postroom-tests/1.0 (X11; Linux x86_64)")
            .build()
            .unwrap();
        TestApp {
            base,
            app,
            tls,
            clock,
            client,
            data_dir,
            db,
            shutdown: std::sync::Mutex::new(Some(tx)),
            server: Some(server),
            _pg: pg,
        }
    }

    /// Stops the server and waits until it has finished.
    pub async fn stop(mut self) {
        self.halt().await;
    }

    /// Stops the server, keeping its data directory and database (another
    /// server may then start on them).
    pub async fn halt(&mut self) {
        self.shut_down();
        if let Some(server) = self.server.take() {
            let _ = server.await;
        }
    }

    /// Asks the server to stop, without waiting: it closes its sockets and
    /// stops listening, as a server that goes away does.
    pub fn shut_down(&self) {
        let tx = self
            .shutdown
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(tx) = tx {
            let _ = tx.send(());
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends a request; `auth` is a session token (`prs_...`) or an API key (`prk_...`).
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        auth: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut req = self.client.request(method, self.url(path));
        if let Some(auth) = auth {
            req = if auth.starts_with("prk_") {
                req.header("x-api-key", auth)
            } else {
                req.bearer_auth(auth)
            };
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        Self::read(req.send().await.expect("request sent")).await
    }

    pub async fn read(r: reqwest::Response) -> Resp {
        let status = r.status();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, auth: Option<&str>) -> Resp {
        self.request(Method::GET, path, auth, None).await
    }

    pub async fn post(&self, path: &str, auth: Option<&str>, body: Value) -> Resp {
        self.request(Method::POST, path, auth, Some(body)).await
    }

    pub async fn patch(&self, path: &str, auth: Option<&str>, body: Value) -> Resp {
        self.request(Method::PATCH, path, auth, Some(body)).await
    }

    pub async fn put(&self, path: &str, auth: Option<&str>, body: Value) -> Resp {
        self.request(Method::PUT, path, auth, Some(body)).await
    }

    pub async fn delete(&self, path: &str, auth: Option<&str>) -> Resp {
        self.request(Method::DELETE, path, auth, None).await
    }

    pub async fn sign_up(&self, email: &str, username: &str) -> Resp {
        self.post(
            "/api/v1/accounts",
            None,
            json!({ "email": email, "username": username, "password": PASSWORD, "accept_terms": true }),
        )
        .await
    }

    /// Signs up, confirms the address from the mail, and signs in; returns the token.
    pub async fn new_user(&self, username: &str) -> String {
        let email = format!("{username}@example.com");
        self.sign_up(&email, username).await.assert(201, None);
        let token = self.link_token(&email, "/verify-email").await;
        self.post(
            "/api/v1/accounts/verify-email",
            None,
            json!({ "token": token }),
        )
        .await
        .assert(200, None);
        self.sign_in(username, PASSWORD, false).await
    }

    /// Creates the team `slug` (named after it) as the person signed in with `token`.
    pub async fn create_team(&self, token: &str, slug: &str) {
        self.post(
            "/api/v1/teams",
            Some(token),
            json!({ "name": slug.to_uppercase(), "slug": slug }),
        )
        .await
        .assert(201, None);
    }

    /// Adds the person signed in with `member` to the team through a link
    /// invite that the admin signed in with `admin` makes.
    pub async fn join_team(&self, admin: &str, slug: &str, member: &str) {
        let r = self
            .post(
                &format!("/api/v1/teams/{slug}/invites"),
                Some(admin),
                json!({ "email": null }),
            )
            .await;
        r.assert(201, None);
        let invite = r.body["invite"]["token"].as_str().unwrap();
        self.post(
            &format!("/api/v1/invites/{invite}/accept"),
            Some(member),
            json!({}),
        )
        .await
        .assert(200, None);
    }

    pub async fn sign_in(&self, login: &str, password: &str, keep: bool) -> String {
        let r = self
            .post(
                "/api/v1/sessions",
                None,
                json!({ "login": login, "password": password, "keep_signed_in": keep }),
            )
            .await;
        r.assert(201, None);
        r.body["token"].as_str().expect("a token").to_owned()
    }

    fn outbox(&self) -> PathBuf {
        self.data_dir.path().join("outbox")
    }

    /// Every mail sent so far to `to`, oldest first, as raw messages.
    pub fn mails_to(&self, to: &str) -> Vec<String> {
        let Ok(dir) = std::fs::read_dir(self.outbox()) else {
            return Vec::new();
        };
        let mut files: Vec<PathBuf> = dir
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .filter(|m| {
                m.lines()
                    .any(|l| l.eq_ignore_ascii_case(&format!("To: {to}")))
            })
            .collect()
    }

    /// Waits for the mail queue to drain: every queued mail has been written.
    pub async fn mail_settled(&self) {
        // Recovery requests queue their mail after replying.
        self.app.deferred.settled().await;
        for _ in 0..200 {
            let mut c = self.app.store.conn().await.unwrap();
            if postroom_server::store::mail::pending(&mut c).await.unwrap() == 0 {
                return;
            }
            drop(c);
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("mail was not delivered within 5 s");
    }

    /// The newest mail to `to` whose subject contains `subject`.
    pub async fn mail_to(&self, to: &str, subject: &str) -> String {
        self.mail_settled().await;
        self.mails_to(to)
            .into_iter()
            .rev()
            .find(|m| {
                m.lines()
                    .any(|l| l.starts_with("Subject:") && l.contains(subject))
            })
            .unwrap_or_else(|| panic!("no mail to {to} about {subject:?}"))
    }

    /// The token of the newest link to `path` mailed to `to`.
    pub async fn link_token(&self, to: &str, path: &str) -> String {
        self.mail_settled().await;
        let mails = self.mails_to(to);
        mails
            .iter()
            .rev()
            .find_map(|m| token_in(m, path))
            .unwrap_or_else(|| panic!("no mail to {to} with a link to {path}"))
    }
}

/// Undoes quoted-printable soft line breaks and `=3D`, enough to read links.
pub fn unfold(mail: &str) -> String {
    mail.replace("=\r\n", "")
        .replace("=\n", "")
        .replace("=3D", "=")
}

/// The token of a `<path>?token=...` link in a mail's plain text.
pub fn token_in(mail: &str, path: &str) -> Option<String> {
    let mail = &unfold(mail);
    let needle = format!("{path}?token=");
    let start = mail.find(&needle)? + needle.len();
    let token: String = mail[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (!token.is_empty()).then_some(token)
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shut_down();
    }
}
