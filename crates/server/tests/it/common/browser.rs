//! The browser-test harness: headless Chromium driven through ChromeDriver
//! against a `TestApp`, shared by `browser.rs` and `browser_teams.rs`.

use std::future::Future;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use axum::http::Method;
use postroom_server::domain::actor::Actor;

use super::{Db, TestApp};
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const WIDTH: u32 = 1280;
pub const HEIGHT: u32 = 900;
/// How long a page may take to show what a test waits for.
pub const PATIENCE: Duration = Duration::from_secs(15);

/// At most this many tests drive a browser at once: each runs its own
/// ChromeDriver and Chromium, and they are heavy.
pub static BROWSERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(3);

// ---------------------------------------------------------------------------
// The harness.

/// A `chromedriver` child process on a free port, killed on drop together
/// with any browser it started (they share its process group).
pub struct ChromeDriver {
    pub child: Child,
    pub url: String,
}

impl ChromeDriver {
    pub fn start() -> ChromeDriver {
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let mut child = {
                use std::os::unix::process::CommandExt;
                Command::new(CHROMEDRIVER)
                    .arg(format!("--port={port}"))
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .process_group(0)
                    .spawn()
                    .expect("chromedriver starts")
            };
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return ChromeDriver {
                        child,
                        url: format!("http://127.0.0.1:{port}/"),
                    };
                }
                if let Ok(Some(status)) = child.try_wait() {
                    last_error = format!("chromedriver exited with {status}");
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("chromedriver did not start: {last_error}");
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let pid = self.child.id();
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Browsers left over from a session that could not be closed.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(Stdio::null())
            .status();
    }
}

/// `POST /session/{id}/se/log`: ChromeDriver's browser console log since
/// the last call (Chromium's "goog:loggingPrefs" must ask for it).
#[derive(Debug)]
pub struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        (Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

/// A Chrome DevTools command through ChromeDriver, for full-page screenshots.
#[derive(Debug)]
pub struct Cdp(&'static str, Value);

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        (
            Method::POST,
            Some(json!({ "cmd": self.0, "params": self.1 }).to_string()),
        )
    }
}

/// A command of WebDriver's WebAuthn extension on the session's virtual
/// authenticators: `POST /session/{id}/webauthn/authenticator` adds one,
/// and so on under `webauthn/`.
#[derive(Debug)]
pub struct WebAuthn {
    pub method: Method,
    /// After `session/{id}/webauthn/`.
    pub path: String,
    pub body: Option<Value>,
}

impl WebDriverCompatibleCommand for WebAuthn {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/webauthn/{}",
            session.unwrap_or_default(),
            self.path
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        let body = (self.method == Method::POST)
            .then(|| self.body.clone().unwrap_or_else(|| json!({})).to_string());
        (self.method.clone(), body)
    }
}

/// One browser: its own profile, so its own cookies.
#[derive(Clone)]
pub struct Browser {
    pub c: Client,
    pub base: String,
    pub _profile: Arc<tempfile::TempDir>,
}

/// Quotes `s` as an XPath string literal.
pub fn xpath_literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        let parts: Vec<String> = s.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

impl Browser {
    pub async fn open(driver: &ChromeDriver, base: &str) -> Browser {
        let profile = tempfile::tempdir().expect("a browser profile directory");
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--no-first-run".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
            format!("--window-size={WIDTH},{HEIGHT}"),
        ];
        let mut caps = Capabilities::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        // Confirmation dialogs are answered by the test, not dismissed.
        caps.insert("unhandledPromptBehavior".into(), json!("ignore"));
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let c = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a ChromeDriver session");
        // Pages are seen, and screenshot, in a WIDTH x HEIGHT viewport.
        let viewport = c
            .execute("return [window.innerWidth, window.innerHeight]", vec![])
            .await
            .ok()
            .and_then(|v| serde_json::from_value::<(u32, u32)>(v).ok());
        if viewport != Some((WIDTH, HEIGHT)) {
            let (outer_w, outer_h) = c.get_window_size().await.expect("the window size");
            let (inner_w, inner_h) = viewport.unwrap_or((outer_w as u32, outer_h as u32));
            c.set_window_size(
                WIDTH + outer_w as u32 - inner_w,
                HEIGHT + outer_h as u32 - inner_h,
            )
            .await
            .expect("set the window size");
        }
        Browser {
            c,
            base: base.to_owned(),
            _profile: Arc::new(profile),
        }
    }

    pub async fn goto(&self, path: &str) {
        self.c
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
        self.settle().await;
    }

    /// Waits for the page to have loaded, then checks its console.
    pub async fn settle(&self) {
        let started = Instant::now();
        loop {
            let state = self
                .c
                .execute("return document.readyState", vec![])
                .await
                .unwrap_or(Value::Null);
            if state == "complete" {
                break;
            }
            assert!(
                started.elapsed() < PATIENCE,
                "the page did not finish loading"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.assert_clean_console().await;
    }

    /// No Content-Security-Policy violation or uncaught script error was
    /// logged since the last check.
    pub async fn assert_clean_console(&self) {
        let bad = self.console_problems().await;
        assert!(
            bad.is_empty(),
            "the browser console reports problems on {}:\n{}",
            self.path().await,
            bad.join("\n")
        );
    }

    /// Content-Security-Policy violations and uncaught script errors logged
    /// since the last check.
    pub async fn console_problems(&self) -> Vec<String> {
        let log = self.c.issue_cmd(BrowserLog).await.expect("the browser log");
        log.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["message"].as_str())
            .filter(|m| {
                m.contains("Content Security Policy")
                    || m.contains("Content-Security-Policy")
                    || m.contains("Uncaught")
            })
            .map(str::to_owned)
            .collect()
    }

    /// The current path and query.
    pub async fn path(&self) -> String {
        let url = self.c.current_url().await.expect("the current URL");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn text(&self) -> String {
        self.c
            .execute(
                "return document.body ? document.body.innerText : ''",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    pub async fn heading(&self) -> String {
        match self.c.find(Locator::Css("main h1")).await {
            Ok(h) => h.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the page's main heading is `heading`.
    #[track_caller]
    pub fn expect_heading<'a>(&'a self, heading: &'a str) -> impl Future<Output = ()> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let started = Instant::now();
            loop {
                let h = self.heading().await;
                if h == heading {
                    return;
                }
                if started.elapsed() > PATIENCE {
                    panic!(
                        "{caller}: expected the heading {heading:?}, got {h:?} on {}; the page says:\n{}",
                        self.path().await,
                        self.text().await
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Waits until the page shows `text`.
    #[track_caller]
    pub fn expect_text<'a>(&'a self, text: &'a str) -> impl Future<Output = ()> + 'a {
        let caller = std::panic::Location::caller();
        async move {
            let started = Instant::now();
            loop {
                let page = self.text().await;
                if page.contains(text) {
                    return;
                }
                if started.elapsed() > PATIENCE {
                    panic!(
                        "{caller}: expected {text:?} on {}; the page says:\n{page}",
                        self.path().await
                    );
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// The visible elements matching `xpath`; exactly one is expected.
    pub async fn one(&self, xpath: &str, what: &str) -> Element {
        let started = Instant::now();
        loop {
            let mut shown = Vec::new();
            for e in self
                .c
                .find_all(Locator::XPath(xpath))
                .await
                .unwrap_or_default()
            {
                if e.is_displayed().await.unwrap_or(false) {
                    shown.push(e);
                }
            }
            match shown.len() {
                1 => return shown.pop().unwrap(),
                0 if started.elapsed() < PATIENCE => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                n => panic!(
                    "expected one {what} on {}, found {n}; the page says:\n{}",
                    self.path().await,
                    self.text().await
                ),
            }
        }
    }

    /// The form control labelled `label` (the `<label>`'s whole text).
    pub async fn field(&self, label: &str) -> Element {
        let l = self
            .one(
                &format!("//label[normalize-space(.)={}]", xpath_literal(label)),
                &format!("label {label:?}"),
            )
            .await;
        match l.attr("for").await.expect("the label's for") {
            Some(id) => self
                .c
                .find(Locator::Id(&id))
                .await
                .unwrap_or_else(|_| panic!("the control of label {label:?} (#{id})")),
            None => l
                .find(Locator::XPath(".//input|.//textarea|.//select"))
                .await
                .unwrap_or_else(|_| panic!("a control inside label {label:?}")),
        }
    }

    /// Types `value` into the field labelled `label`, replacing what was there.
    pub async fn fill(&self, label: &str, value: &str) {
        let f = self.field(label).await;
        f.clear().await.expect("clear the field");
        f.send_keys(value).await.expect("type into the field");
    }

    /// Ticks (or clears) the checkbox labelled `label`.
    pub async fn tick(&self, label: &str, on: bool) {
        let f = self.field(label).await;
        if f.is_selected().await.expect("checkbox state") != on {
            f.click().await.expect("click the checkbox");
        }
        assert_eq!(f.is_selected().await.unwrap(), on, "checkbox {label:?}");
    }

    pub async fn select(&self, label: &str, option: &str) {
        self.field(label)
            .await
            .select_by_label(option)
            .await
            .unwrap_or_else(|e| panic!("choose {option:?} for {label:?}: {e}"));
    }

    /// Clicks the one visible button reading `text`, then waits for the page.
    pub async fn press(&self, text: &str) {
        self.press_in("", text).await
    }

    /// Clicks the button reading `text` inside the elements matched by the
    /// XPath `scope` (empty: the whole page).
    pub async fn press_in(&self, scope: &str, text: &str) {
        self.button(scope, text).await;
        self.settle().await;
    }

    /// Clicks the button reading `text` inside `scope`, which asks for
    /// confirmation, and answers the dialog with OK after checking its text.
    pub async fn press_confirming(&self, scope: &str, text: &str, question: &str) {
        self.button(scope, text).await;
        let started = Instant::now();
        loop {
            match self.c.get_alert_text().await {
                Ok(asked) => {
                    assert_eq!(asked, question, "the confirmation question");
                    break;
                }
                Err(e) if started.elapsed() > PATIENCE => panic!("no confirmation dialog: {e}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
        self.c.accept_alert().await.expect("answer the dialog");
        self.settle().await;
    }

    pub async fn button(&self, scope: &str, text: &str) {
        let b = self
            .one(
                &format!(
                    "{scope}//button[normalize-space(.)={}]",
                    xpath_literal(text)
                ),
                &format!("button {text:?}"),
            )
            .await;
        b.click()
            .await
            .unwrap_or_else(|e| panic!("click {text:?}: {e}"));
    }

    /// Clicks the one visible link reading `text`.
    pub async fn follow(&self, text: &str) {
        self.follow_in("", text).await
    }

    /// Clicks the link reading `text` inside the elements matched by the
    /// XPath `scope` (empty: the whole page).
    pub async fn follow_in(&self, scope: &str, text: &str) {
        let a = self
            .one(
                &format!("{scope}//a[normalize-space(.)={}]", xpath_literal(text)),
                &format!("link {text:?}"),
            )
            .await;
        a.click()
            .await
            .unwrap_or_else(|e| panic!("follow {text:?}: {e}"));
        self.settle().await;
    }

    /// Opens the avatar menu in the header.
    pub async fn open_menu(&self) {
        let summary = self
            .one("//details[contains(@class,'menu')]/summary", "account menu")
            .await;
        let open = self
            .c
            .execute("return document.querySelector('details.menu').open", vec![])
            .await
            .unwrap();
        if open != true {
            summary.click().await.expect("open the account menu");
        }
    }

    /// Who the header says is acting: the account menu's username.
    pub async fn acting_as(&self) -> String {
        self.c
            .find(Locator::Css("details.menu > summary > span:last-child"))
            .await
            .expect("the account menu")
            .text()
            .await
            .unwrap()
    }

    /// The accounts the menu offers to switch to.
    pub async fn switchable(&self) -> Vec<String> {
        let v = self
            .c
            .execute(
                "return Array.from(document.querySelectorAll('details.menu form[action=\"/accounts/switch\"] button span:last-child')).map(s => s.textContent.trim())",
                vec![],
            )
            .await
            .unwrap();
        serde_json::from_value(v).unwrap()
    }

    /// Switches to the signed-in account `username` through the avatar menu.
    pub async fn switch_to(&self, username: &str) {
        self.open_menu().await;
        let b = self
            .one(
                &format!(
                    "//details[contains(@class,'menu')]//form[@action='/accounts/switch']//button[span[normalize-space(.)={}]]",
                    xpath_literal(username)
                ),
                &format!("the menu item switching to {username}"),
            )
            .await;
        b.click().await.expect("click the account");
        self.settle().await;
    }

    /// The browser's `name` cookie for the test server, if any.
    pub async fn cookie(&self, name: &str) -> Option<fantoccini::cookies::Cookie<'static>> {
        self.c
            .get_all_cookies()
            .await
            .expect("the cookies")
            .into_iter()
            .find(|c| c.name() == name)
    }

    /// Signs in from the sign-in page this browser shows.
    pub async fn sign_in_here(&self, login: &str, password: &str, keep: bool) {
        self.fill("Email or username", login).await;
        self.fill("Password", password).await;
        self.tick(
            "Keep me signed in (up to 30 days, while used every week)",
            keep,
        )
        .await;
        self.press("Sign in").await;
    }

    pub async fn sign_in(&self, login: &str, password: &str, keep: bool) {
        self.goto("/sign-in").await;
        self.expect_heading("Sign in to Postroom").await;
        self.sign_in_here(login, password, keep).await;
    }

    /// Signs out of the account acting now, through the avatar menu.
    pub async fn sign_out(&self) {
        let me = self.acting_as().await;
        self.open_menu().await;
        self.press_in(
            "//details[contains(@class,'menu')]",
            &format!("Sign out of {me}"),
        )
        .await;
    }

    /// The image's natural width once loaded (0: it did not load).
    pub async fn image_width(&self, css: &str) -> i64 {
        let started = Instant::now();
        loop {
            let v = self
                .c
                .execute(
                    "const i = document.querySelector(arguments[0]); return i && i.complete ? i.naturalWidth : -1;",
                    vec![json!(css)],
                )
                .await
                .unwrap();
            let w = v.as_i64().unwrap_or(-1);
            if w >= 0 || started.elapsed() > PATIENCE {
                return w;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sends a command of WebDriver's WebAuthn extension and returns its answer.
    pub async fn webauthn(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        self.c
            .issue_cmd(WebAuthn {
                method,
                path: path.to_owned(),
                body,
            })
            .await
            .unwrap_or_else(|e| panic!("webauthn/{path}: {e}"))
    }

    /// Adds a virtual authenticator like a phone's or a laptop's built-in
    /// one: CTAP2, internal, keeping discoverable credentials, verifying its
    /// user (who always consents). Answers its id.
    pub async fn add_authenticator(&self) -> String {
        let id = self
            .webauthn(
                Method::POST,
                "authenticator",
                Some(json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "isUserConsenting": true,
                })),
            )
            .await;
        id.as_str().expect("an authenticator id").to_owned()
    }

    /// Removes a virtual authenticator, with its credentials.
    pub async fn remove_authenticator(&self, id: &str) {
        self.webauthn(Method::DELETE, &format!("authenticator/{id}"), None)
            .await;
    }

    /// The credentials a virtual authenticator holds (with their private keys).
    pub async fn credentials(&self, id: &str) -> Vec<Value> {
        let v = self
            .webauthn(
                Method::GET,
                &format!("authenticator/{id}/credentials"),
                None,
            )
            .await;
        v.as_array().cloned().unwrap_or_default()
    }

    /// Puts a credential (as [`Browser::credentials`] gave it) into a
    /// virtual authenticator.
    pub async fn add_credential(&self, id: &str, credential: &Value) {
        self.webauthn(
            Method::POST,
            &format!("authenticator/{id}/credential"),
            Some(credential.clone()),
        )
        .await;
    }

    /// Removes every credential of a virtual authenticator.
    pub async fn remove_credentials(&self, id: &str) {
        self.webauthn(
            Method::DELETE,
            &format!("authenticator/{id}/credentials"),
            None,
        )
        .await;
    }

    /// Sends a Chrome DevTools command and returns its answer.
    pub async fn cdp(&self, command: &'static str, params: Value) -> Value {
        self.c
            .issue_cmd(Cdp(command, params))
            .await
            .unwrap_or_else(|e| panic!("{command}: {e}"))
    }

    /// A PNG of the whole page (falling back to the window).
    pub async fn screenshot(&self) -> Option<Vec<u8>> {
        let size = self
            .c
            .execute(
                "const d = document.documentElement;
                 return [Math.max(d.scrollWidth, window.innerWidth), Math.max(d.scrollHeight, window.innerHeight)]",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| serde_json::from_value::<(f64, f64)>(v).ok());
        if let Some((w, h)) = size {
            let params = json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": { "x": 0, "y": 0, "width": w, "height": h, "scale": 1 },
            });
            if let Ok(v) = self
                .c
                .issue_cmd(Cdp("Page.captureScreenshot", params))
                .await
            {
                use base64::Engine;
                if let Some(png) = v["data"]
                    .as_str()
                    .and_then(|d| base64::engine::general_purpose::STANDARD.decode(d).ok())
                {
                    return Some(png);
                }
            }
        }
        self.c.screenshot().await.ok()
    }
}

pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}

/// A test server, ChromeDriver, and the browser the test starts in.
pub struct Web {
    pub t: TestApp,
    /// Where the browsers open the server's pages: its public URL when that
    /// names `localhost` (passkeys need a domain name), else `t.base`.
    pub base: String,
    pub b: Browser,
    pub driver: ChromeDriver,
    pub others: Mutex<Vec<Browser>>,
}

impl Web {
    /// Another browser, with its own cookies.
    pub async fn browser(&self) -> Browser {
        let b = Browser::open(&self.driver, &self.base).await;
        self.others.lock().unwrap().push(b.clone());
        b
    }

    /// An account that signed up and confirmed its address (through the
    /// API) and answered the onboarding questions: ready to sign in.
    /// Returns its email address.
    pub async fn account(&self, username: &str, name: &str) -> String {
        let email = format!("{username}@example.com");
        let r = self.t.sign_up(&email, username).await;
        r.assert(201, None);
        let id = r.body["user"]["id"].as_str().unwrap().to_owned();
        let token = self.t.link_token(&email, "/verify-email").await;
        self.t
            .post(
                "/api/v1/accounts/verify-email",
                None,
                json!({ "token": token }),
            )
            .await
            .assert(200, None);
        let actor = Actor {
            user_id: id,
            session_id: None,
            can_write: true,
        };
        postroom_server::domain::profile::complete_onboarding(
            &self.t.app,
            &actor,
            Some((name, "Learning")),
        )
        .await
        .unwrap();
        email
    }
}

pub fn browsers_installed() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

/// Runs `body` with a fresh server (configured by `edit`) and browser.
/// Afterwards, passed or failed, saves each browser's page as a screenshot
/// and closes the browsers.
pub async fn run<F, Fut>(name: &str, edit: impl FnOnce(&mut postroom_server::Config), body: F)
where
    F: FnOnce(Arc<Web>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if !browsers_installed() {
        super::skip(
            name,
            "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)",
        );
        return;
    }
    let _slot = BROWSERS.acquire().await.expect("the browser semaphore");
    let t = TestApp::spawn_with(Db::Sqlite, edit).await;
    let driver = ChromeDriver::start();
    let public_url = &t.app.settings.public_url;
    let base = match public_url.host_str() {
        Some("localhost") => public_url.origin().ascii_serialization(),
        _ => t.base.clone(),
    };
    let b = Browser::open(&driver, &base).await;
    let web = Arc::new(Web {
        t,
        base,
        b,
        driver,
        others: Mutex::new(Vec::new()),
    });
    let outcome = tokio::spawn(body(web.clone())).await;

    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).expect("create target/screenshots");
    let others = web.others.lock().unwrap().clone();
    let browsers = std::iter::once(web.b.clone()).chain(others);
    let mut console = Vec::new();
    for (i, b) in browsers.enumerate() {
        if outcome.is_ok() {
            console.extend(b.console_problems().await);
        }
        let file = if i == 0 {
            format!("{name}.png")
        } else {
            format!("{name}-{}.png", i + 1)
        };
        if let Some(png) = b.screenshot().await {
            std::fs::write(dir.join(&file), png).expect("save the screenshot");
        }
        let _ = b.c.close().await;
    }
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("the test was cancelled: {e}");
    }
    assert!(
        console.is_empty(),
        "the browser console reports problems on the last pages:\n{}",
        console.join("\n")
    );
}
