//! The web dashboard (C1) in a real browser: headless Chromium driven through
//! ChromeDriver, clicking and typing as a person would, against a test server
//! on SQLite. Elements are found the way a person finds them: by their
//! label, their button or link text, or an id the page gives them.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian `chromium`
//! and `chromium-driver`; `.ci/run` installs them). Without them every test
//! here prints why it skipped and passes. Each test saves a screenshot of
//! its final page to `target/screenshots/<test>.png` (a second browser's to
//! `<test>-2.png`), also when it fails. Every page visited is checked for
//! Content-Security-Policy violations and uncaught script errors in the
//! browser's console.

mod common;

use std::future::Future;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::Method;
use common::{TestApp, PASSWORD};
use fantoccini::elements::Element;
use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{Client, ClientBuilder, Locator};
use postroom_server::clock::MINUTE;
use postroom_server::domain::sessions::Actor;
use serde_json::{json, Value};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 900;
/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(15);

/// At most this many tests drive a browser at once: each runs its own
/// ChromeDriver and Chromium, and they are heavy.
static BROWSERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(3);

// ---------------------------------------------------------------------------
// The harness.

/// A `chromedriver` child process on a free port, killed on drop together
/// with any browser it started (they share its process group).
struct ChromeDriver {
    child: Child,
    url: String,
}

impl ChromeDriver {
    fn start() -> ChromeDriver {
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
struct BrowserLog;

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
struct Cdp(&'static str, Value);

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

/// One browser: its own profile, so its own cookies.
#[derive(Clone)]
struct Browser {
    c: Client,
    base: String,
    _profile: Arc<tempfile::TempDir>,
}

/// Quotes `s` as an XPath string literal.
fn xpath_literal(s: &str) -> String {
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
    async fn open(driver: &ChromeDriver, base: &str) -> Browser {
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

    async fn goto(&self, path: &str) {
        self.c
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
        self.settle().await;
    }

    /// Waits for the page to have loaded, then checks its console.
    async fn settle(&self) {
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
    async fn assert_clean_console(&self) {
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
    async fn console_problems(&self) -> Vec<String> {
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
    async fn path(&self) -> String {
        let url = self.c.current_url().await.expect("the current URL");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    async fn text(&self) -> String {
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

    async fn heading(&self) -> String {
        match self.c.find(Locator::Css("main h1")).await {
            Ok(h) => h.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the page's main heading is `heading`.
    #[track_caller]
    fn expect_heading<'a>(&'a self, heading: &'a str) -> impl Future<Output = ()> + 'a {
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
    fn expect_text<'a>(&'a self, text: &'a str) -> impl Future<Output = ()> + 'a {
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
    async fn one(&self, xpath: &str, what: &str) -> Element {
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
    async fn field(&self, label: &str) -> Element {
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
    async fn fill(&self, label: &str, value: &str) {
        let f = self.field(label).await;
        f.clear().await.expect("clear the field");
        f.send_keys(value).await.expect("type into the field");
    }

    /// Ticks (or clears) the checkbox labelled `label`.
    async fn tick(&self, label: &str, on: bool) {
        let f = self.field(label).await;
        if f.is_selected().await.expect("checkbox state") != on {
            f.click().await.expect("click the checkbox");
        }
        assert_eq!(f.is_selected().await.unwrap(), on, "checkbox {label:?}");
    }

    async fn select(&self, label: &str, option: &str) {
        self.field(label)
            .await
            .select_by_label(option)
            .await
            .unwrap_or_else(|e| panic!("choose {option:?} for {label:?}: {e}"));
    }

    /// Clicks the one visible button reading `text`, then waits for the page.
    async fn press(&self, text: &str) {
        self.press_in("", text).await
    }

    /// Clicks the button reading `text` inside the elements matched by the
    /// XPath `scope` (empty: the whole page).
    async fn press_in(&self, scope: &str, text: &str) {
        self.button(scope, text).await;
        self.settle().await;
    }

    /// Clicks the button reading `text` inside `scope`, which asks for
    /// confirmation, and answers the dialog with OK after checking its text.
    async fn press_confirming(&self, scope: &str, text: &str, question: &str) {
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

    async fn button(&self, scope: &str, text: &str) {
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
    async fn follow(&self, text: &str) {
        self.follow_in("", text).await
    }

    /// Clicks the link reading `text` inside the elements matched by the
    /// XPath `scope` (empty: the whole page).
    async fn follow_in(&self, scope: &str, text: &str) {
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
    async fn open_menu(&self) {
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
    async fn acting_as(&self) -> String {
        self.c
            .find(Locator::Css("details.menu > summary > span:last-child"))
            .await
            .expect("the account menu")
            .text()
            .await
            .unwrap()
    }

    /// The accounts the menu offers to switch to.
    async fn switchable(&self) -> Vec<String> {
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
    async fn switch_to(&self, username: &str) {
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
    async fn cookie(&self, name: &str) -> Option<fantoccini::cookies::Cookie<'static>> {
        self.c
            .get_all_cookies()
            .await
            .expect("the cookies")
            .into_iter()
            .find(|c| c.name() == name)
    }

    /// Signs in from the sign-in page this browser shows.
    async fn sign_in_here(&self, login: &str, password: &str, keep: bool) {
        self.fill("Email or username", login).await;
        self.fill("Password", password).await;
        self.tick("Keep me signed in for 30 days", keep).await;
        self.press("Sign in").await;
    }

    async fn sign_in(&self, login: &str, password: &str, keep: bool) {
        self.goto("/sign-in").await;
        self.expect_heading("Sign in to Postroom").await;
        self.sign_in_here(login, password, keep).await;
    }

    /// Signs out of the account acting now, through the avatar menu.
    async fn sign_out(&self) {
        let me = self.acting_as().await;
        self.open_menu().await;
        self.press_in(
            "//details[contains(@class,'menu')]",
            &format!("Sign out of {me}"),
        )
        .await;
    }

    /// The image's natural width once loaded (0: it did not load).
    async fn image_width(&self, css: &str) -> i64 {
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

    /// A PNG of the whole page (falling back to the window).
    async fn screenshot(&self) -> Option<Vec<u8>> {
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

fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}

/// A test server, ChromeDriver, and the browser the test starts in.
struct Web {
    t: TestApp,
    b: Browser,
    driver: ChromeDriver,
    others: Mutex<Vec<Browser>>,
}

impl Web {
    /// Another browser, with its own cookies.
    async fn browser(&self) -> Browser {
        let b = Browser::open(&self.driver, &self.t.base).await;
        self.others.lock().unwrap().push(b.clone());
        b
    }

    /// An account that signed up and confirmed its address (through the
    /// API) and answered the onboarding questions: ready to sign in.
    /// Returns its email address.
    async fn account(&self, username: &str, name: &str) -> String {
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

fn browsers_installed() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

/// Runs `body` with a fresh server (configured by `edit`) and browser.
/// Afterwards, passed or failed, saves each browser's page as a screenshot
/// and closes the browsers.
async fn run<F, Fut>(name: &str, edit: impl FnOnce(&mut postroom_server::Config), body: F)
where
    F: FnOnce(Arc<Web>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    if !browsers_installed() {
        eprintln!("skipped: chromium/chromedriver not installed (apt-get install chromium chromium-driver)");
        return;
    }
    let _slot = BROWSERS.acquire().await.expect("the browser semaphore");
    let t = TestApp::spawn_with(common::Db::Sqlite, edit).await;
    let driver = ChromeDriver::start();
    let b = Browser::open(&driver, &t.base).await;
    let web = Arc::new(Web {
        t,
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

/// A small PNG of a colour gradient, as an avatar to upload.
fn avatar_png(dir: &Path) -> PathBuf {
    let img = image::RgbImage::from_fn(160, 120, |x, y| {
        image::Rgb([(x * 255 / 160) as u8, (y * 255 / 120) as u8, 160])
    });
    let path = dir.join("avatar.png");
    img.save(&path).expect("write the PNG");
    path
}

// ---------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_up_confirm_and_onboard() {
    run(
        "sign_up_confirm_and_onboard",
        |_| {},
        |w| async move {
            let b = &w.b;
            b.goto("/").await;
            b.expect_heading("Your API collections, in sync").await;
            b.follow("Create an account").await;
            b.expect_heading("Create your account").await;

            // Forgetting the terms keeps what was typed and says what is missing.
            b.fill("Email", "ada@example.com").await;
            b.fill("Username", "ada").await;
            b.fill("Password", PASSWORD).await;
            b.press("Create account").await;
            b.expect_text("Please fix the fields below.").await;
            let terms_error = b
                .one("//p[@id='e-accept_terms']", "the terms error")
                .await
                .text()
                .await
                .unwrap();
            assert!(!terms_error.is_empty());
            assert_eq!(
                b.field("Email")
                    .await
                    .prop("value")
                    .await
                    .unwrap()
                    .as_deref(),
                Some("ada@example.com")
            );
            b.fill("Password", PASSWORD).await;
            b.tick("I accept the terms of service", true).await;
            b.press("Create account").await;

            b.expect_heading("Check your email").await;
            b.expect_text("ada@example.com").await;
            assert!(b.path().await.starts_with("/check-email"));

            // The link from the mail.
            let token = w.t.link_token("ada@example.com", "/verify-email").await;
            b.goto(&format!("/verify-email?token={token}")).await;
            b.expect_heading("Confirm your email").await;
            b.press("Confirm my email").await;
            b.expect_heading("Email confirmed").await;
            b.expect_text("Thanks, ada: your email address is confirmed.")
                .await;
            b.follow_in("//main", "Sign in").await;

            b.expect_heading("Sign in to Postroom").await;
            b.sign_in_here("ada", PASSWORD, false).await;
            b.expect_heading("Welcome to Postroom, ada").await;
            assert_eq!(b.path().await, "/welcome");
            b.fill("Your name", "Ada Lovelace").await;
            b.select("What will you use Postroom for?", "Learning")
                .await;
            b.press("Continue").await;

            b.expect_heading("Hello, Ada Lovelace").await;
            assert_eq!(b.path().await, "/");
            assert_eq!(b.acting_as().await, "ada");
            let page = b.text().await;
            assert!(
                !page.contains("not confirmed"),
                "the address is confirmed: {page}"
            );
            // The answers were kept; onboarding is not asked again.
            b.goto("/settings/profile").await;
            assert_eq!(
                b.field("Name")
                    .await
                    .prop("value")
                    .await
                    .unwrap()
                    .as_deref(),
                Some("Ada Lovelace")
            );
            assert_eq!(
                b.field("What you use Postroom for")
                    .await
                    .prop("value")
                    .await
                    .unwrap()
                    .as_deref(),
                Some("Learning")
            );
            b.goto("/").await;
            b.expect_heading("Hello, Ada Lovelace").await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_with_avatar_and_public_page() {
    run(
        "profile_with_avatar_and_public_page",
        |_| {},
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;

            // Not public yet: a 404 page, for anyone.
            b.goto("/u/ada").await;
            b.expect_heading("Page not found").await;
            b.expect_text("404").await;

            b.sign_in("ada", PASSWORD, false).await;
            b.expect_heading("Hello, Ada Lovelace").await;
            b.follow("Settings").await;
            b.expect_heading("Settings").await;
            assert_eq!(b.path().await, "/settings/profile");

            // Choosing a picture previews it before it is uploaded.
            let dir = tempfile::tempdir().unwrap();
            let png = avatar_png(dir.path());
            b.field("Upload a new picture")
                .await
                .send_keys(&png.display().to_string())
                .await
                .expect("choose the file");
            let preview = b.c.find(Locator::Id("avatar-preview")).await.unwrap();
            assert!(preview.is_displayed().await.unwrap(), "the preview shows");
            assert!(preview
                .attr("src")
                .await
                .unwrap()
                .unwrap_or_default()
                .starts_with("blob:"));
            assert!(b.image_width("#avatar-preview").await > 0);
            b.press("Upload").await;
            b.expect_text("Your new avatar is up.").await;
            let src =
                b.c.find(Locator::Id("avatar-preview"))
                    .await
                    .unwrap()
                    .attr("src")
                    .await
                    .unwrap()
                    .unwrap_or_default();
            assert!(src.starts_with("/avatars/"), "{src}");
            assert!(b.image_width("#avatar-preview").await > 0);
            // The header shows it too.
            assert!(b.image_width("details.menu summary img.avatar").await > 0);

            b.fill(
                "Bio",
                "First programmer.\nWrote the notes on the Analytical Engine.",
            )
            .await;
            b.fill("Links", "https://ada.example.org\nhttps://example.com/ada")
                .await;
            b.tick("Make my profile public", true).await;
            b.press("Save profile").await;
            b.expect_text("Your profile was saved.").await;
            assert_eq!(
                b.field("Bio").await.prop("value").await.unwrap().as_deref(),
                Some("First programmer.\nWrote the notes on the Analytical Engine.")
            );

            // The menu now links the public page.
            b.open_menu().await;
            b.follow("My public profile").await;
            assert_eq!(b.path().await, "/u/ada");
            b.expect_heading("Ada Lovelace").await;
            b.expect_text("@ada").await;
            b.expect_text("Wrote the notes on the Analytical Engine.")
                .await;
            b.expect_text("https://ada.example.org").await;
            assert!(b.image_width("main img.avatar").await > 0);

            // Someone who is not signed in sees the same.
            let guest = w.browser().await;
            guest.goto("/u/ada").await;
            guest.expect_heading("Ada Lovelace").await;
            guest.expect_text("First programmer.").await;
            assert!(guest.image_width("main img.avatar").await > 0);
            assert!(
                guest.text().await.contains("Sign in"),
                "the guest is not signed in"
            );

            // Private again: 404.
            b.goto("/settings/profile").await;
            b.tick("Make my profile public", false).await;
            b.press("Save profile").await;
            b.expect_text("Your profile was saved.").await;
            guest.goto("/u/ada").await;
            guest.expect_heading("Page not found").await;

            b.goto("/u/ada").await;
            b.expect_heading("Page not found").await;
            assert_eq!(
                b.acting_as().await,
                "ada",
                "error pages show who is signed in"
            );
            b.goto("/u/nobody-here").await;
            b.expect_heading("Page not found").await;

            // Removing the avatar (after a confirmation) brings back the initial.
            b.goto("/settings/profile").await;
            b.press_confirming("", "Remove", "Remove your avatar?")
                .await;
            b.expect_text("Your avatar was removed.").await;
            assert!(!b
                .c
                .find(Locator::Id("avatar-preview"))
                .await
                .unwrap()
                .is_displayed()
                .await
                .unwrap());
            assert_eq!(
                b.c.find(Locator::Id("avatar-preview-placeholder"))
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap(),
                "A"
            );
            assert!(b
                .c
                .find(Locator::Css("details.menu summary img"))
                .await
                .is_err());

            // Public again, with the picture, for the screenshot.
            b.field("Upload a new picture")
                .await
                .send_keys(&png.display().to_string())
                .await
                .unwrap();
            b.press("Upload").await;
            b.expect_text("Your new avatar is up.").await;
            b.tick("Make my profile public", true).await;
            b.press("Save profile").await;
            b.expect_text("Your profile was saved.").await;
            b.goto("/u/ada").await;
            b.expect_heading("Ada Lovelace").await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_me_signed_in_and_the_idle_timeout() {
    run(
        "keep_me_signed_in_and_the_idle_timeout",
        |_| {},
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;

            // Without "keep me signed in": a cookie for this browser session only.
            b.sign_in("ada@example.com", PASSWORD, false).await;
            b.expect_heading("Hello, Ada Lovelace").await;
            let c = b
                .cookie("postroom_accounts")
                .await
                .expect("the accounts cookie");
            assert_eq!(c.expires(), None, "a session cookie: {c}");
            assert_eq!(c.http_only(), Some(true));
            assert_eq!(c.same_site(), Some(cookie::SameSite::Lax));
            assert_eq!(c.path(), Some("/"));
            let csrf = b.cookie("postroom_csrf").await.expect("the CSRF cookie");
            assert_eq!(csrf.http_only(), Some(true));

            b.sign_out().await;
            b.expect_heading("Sign in to Postroom").await;
            assert!(b.cookie("postroom_accounts").await.is_none());
            b.goto("/settings/profile").await;
            b.expect_heading("Sign in to Postroom").await;

            // With it: the cookie lasts 30 days.
            b.sign_in_here("ada", PASSWORD, true).await;
            assert_eq!(
                b.path().await,
                "/settings/profile",
                "back where it was going"
            );
            b.expect_heading("Settings").await;
            let c = b
                .cookie("postroom_accounts")
                .await
                .expect("the accounts cookie");
            let expires = c
                .expires_datetime()
                .unwrap_or_else(|| panic!("a persistent cookie: {c}"));
            let days = (expires - time::OffsetDateTime::now_utc()).as_seconds_f64() / 86_400.0;
            assert!((29.9..=30.1).contains(&days), "expires in {days} days");
            b.goto("/settings/sessions").await;
            b.expect_text("Kept signed in").await;
            // A kept session survives half an hour without activity.
            w.t.clock.advance(31 * MINUTE);
            b.goto("/settings/profile").await;
            b.expect_heading("Settings").await;

            b.sign_out().await;
            b.expect_heading("Sign in to Postroom").await;

            // Not kept: 30 minutes without activity end it.
            b.sign_in_here("ada", PASSWORD, false).await;
            b.expect_heading("Hello, Ada Lovelace").await;
            w.t.clock.advance(20 * MINUTE);
            b.goto("/settings/profile").await;
            b.expect_heading("Settings").await;
            w.t.clock.advance(31 * MINUTE);
            b.goto("/settings/profile").await;
            b.expect_heading("Sign in to Postroom").await;
            assert_eq!(b.path().await, "/sign-in?next=%2Fsettings%2Fprofile");
            assert!(
                b.cookie("postroom_accounts").await.is_none(),
                "the ended session is forgotten"
            );
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_the_password_by_mail() {
    run(
        "reset_the_password_by_mail",
        |_| {},
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;
            let new_password = "plum orchard lantern seventeen";

            b.goto("/sign-in").await;
            b.follow("Trouble signing in?").await;
            b.expect_heading("Trouble signing in?").await;
            // Two forms ask for an address; the reset one is the first.
            let email = b.c.find(Locator::Id("f-email")).await.unwrap();
            email.send_keys("ada@example.com").await.unwrap();
            b.press("Mail me a reset link").await;
            b.expect_heading("Check your email").await;
            b.expect_text("If an account uses ada@example.com").await;

            let token = w.t.link_token("ada@example.com", "/reset-password").await;
            b.goto(&format!("/reset-password?token={token}")).await;
            b.expect_heading("Choose a new password").await;
            // Too weak a password is refused on the page, next to the field.
            b.fill("New password", "password").await;
            b.press("Set new password").await;
            b.expect_heading("Choose a new password").await;
            b.one("//p[@id='e-new_password']", "the password error")
                .await;
            b.fill("New password", new_password).await;
            b.press("Set new password").await;
            b.expect_heading("Password changed").await;

            // The link works once.
            b.goto(&format!("/reset-password?token={token}")).await;
            b.fill("New password", "another fine passphrase 9").await;
            b.press("Set new password").await;
            b.expect_heading("That link did not work").await;

            b.goto("/sign-in").await;
            b.sign_in_here("ada", PASSWORD, false).await;
            b.expect_heading("Sign in to Postroom").await;
            b.expect_text("Wrong login or password").await;
            b.sign_in_here("ada", new_password, false).await;
            b.expect_heading("Hello, Ada Lovelace").await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_another_session() {
    run(
        "revoke_another_session",
        |_| {},
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;
            b.sign_in("ada", PASSWORD, false).await;
            b.expect_heading("Hello, Ada Lovelace").await;
            let other = w.browser().await;
            other.sign_in("ada", PASSWORD, true).await;
            other.expect_heading("Hello, Ada Lovelace").await;

            b.follow("Active sessions").await;
            b.expect_heading("Settings").await;
            let sessions = b.c.find_all(Locator::Css(".list > li")).await.unwrap();
            assert_eq!(sessions.len(), 2);
            b.expect_text("This browser").await;
            let others = "//li[not(.//*[contains(@class,'current')])]";
            b.one(
                &format!("{others}//*[normalize-space(.)='Kept signed in']"),
                "the other session's tag",
            )
            .await;
            b.press_confirming(others, "Sign out", "Sign out of Chrome on Linux?")
                .await;
            b.expect_text("That session was signed out.").await;
            let sessions = b.c.find_all(Locator::Css(".list > li")).await.unwrap();
            assert_eq!(sessions.len(), 1);
            assert!(sessions[0].text().await.unwrap().contains("This browser"));

            // The other browser finds itself signed out on its next request.
            other.goto("/settings/profile").await;
            other.expect_heading("Sign in to Postroom").await;
            assert!(other.cookie("postroom_accounts").await.is_none());
            // This one is not.
            b.goto("/settings/sessions").await;
            b.expect_heading("Settings").await;
            b.expect_text("This browser").await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_accounts_in_one_browser() {
    run(
        "several_accounts_in_one_browser",
        |_| {},
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;
            w.account("grace", "Grace Hopper").await;
            b.sign_in("ada", PASSWORD, false).await;
            b.expect_heading("Hello, Ada Lovelace").await;
            assert!(b.switchable().await.is_empty());

            b.open_menu().await;
            b.follow("Add a new account").await;
            b.expect_heading("Add another account").await;
            b.expect_text("You stay signed in to your other accounts.")
                .await;
            b.sign_in_here("grace", PASSWORD, false).await;
            b.expect_heading("Hello, Grace Hopper").await;
            assert_eq!(b.acting_as().await, "grace");
            assert_eq!(b.switchable().await, ["ada"]);

            b.open_menu().await;
            b.switch_to("ada").await;
            b.expect_text("You switched accounts.").await;
            b.expect_heading("Hello, Ada Lovelace").await;
            assert_eq!(b.acting_as().await, "ada");
            assert_eq!(b.switchable().await, ["grace"]);
            b.goto("/settings/account").await;
            b.expect_text("Your address is ada@example.com").await;

            // Signing out of one leaves the other.
            b.sign_out().await;
            b.expect_text("You were signed out.").await;
            b.expect_heading("Hello, Grace Hopper").await;
            assert_eq!(b.acting_as().await, "grace");
            assert!(b.switchable().await.is_empty());
            b.goto("/settings/account").await;
            b.expect_text("Your address is grace@example.com").await;
            b.goto("/").await;
            b.open_menu().await;
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_request_reaches_the_operator() {
    run(
        "support_request_reaches_the_operator",
        |c| c.support_email = Some("help@example.com".into()),
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;
            b.sign_in("ada", PASSWORD, false).await;
            b.follow("Support").await;
            b.expect_heading("Support").await;
            b.expect_text("You have not sent any requests.").await;

            // An empty request is refused, with what is missing.
            b.press("Send request").await;
            b.expect_text("Please fix the fields below.").await;

            b.select("Category", "Sync and data").await;
            b.fill("Subject", "Sync stops after ten minutes").await;
            b.fill(
                "How can we help?",
                "Since yesterday my collections stop syncing.\nRestarting helps for a while.",
            )
            .await;
            b.press("Send request").await;
            b.expect_text("Your request was sent.").await;
            let row = b
                .one(
                    "//table//tr[td[normalize-space(.)='Sync stops after ten minutes']]",
                    "the request's row",
                )
                .await
                .text()
                .await
                .unwrap();
            assert!(row.contains("Sync and data"), "{row}");
            assert!(row.contains("open"), "{row}");
            assert!(row.contains("just now"), "{row}");

            let mail =
                w.t.mail_to(
                    "help@example.com",
                    "Support request: Sync stops after ten minutes",
                )
                .await;
            let mail = common::unfold(&mail);
            assert!(mail.contains("ada@example.com"), "{mail}");
            assert!(mail.contains("Restarting helps for a while."), "{mail}");
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_the_csrf_token_are_refused() {
    run("forms_without_the_csrf_token_are_refused", |_| {}, |w| async move {
        let b = &w.b;
        w.account("ada", "Ada Lovelace").await;
        b.sign_in("ada", PASSWORD, false).await;
        b.goto("/settings/profile").await;
        b.expect_heading("Settings").await;

        // A form another page could make this browser send.
        let post = |csrf: Option<&'static str>| async move {
            b.c.execute(
                "const f = document.createElement('form');
                 f.method = 'post'; f.action = '/settings/profile';
                 const add = (n, v) => { const i = document.createElement('input'); i.type = 'hidden'; i.name = n; i.value = v; f.appendChild(i); };
                 add('display_name', 'Mallory'); add('bio', 'owned'); add('profile_public', 'on');
                 if (arguments[0] !== null) add('csrf', arguments[0]);
                 document.body.appendChild(f); f.submit();",
                vec![json!(csrf)],
            )
            .await
            .expect("submit the forged form");
            b.expect_heading("This form has expired").await;
            b.expect_text("403").await;
            assert_eq!(b.acting_as().await, "ada", "still signed in");
        };
        post(None).await;
        post(Some("0000000000000000000000000000000000000000000000000000000000000000")).await;

        b.goto("/settings/profile").await;
        assert_eq!(
            b.field("Name").await.prop("value").await.unwrap().as_deref(),
            Some("Ada Lovelace")
        );
        assert_eq!(
            b.field("Bio").await.prop("value").await.unwrap().as_deref(),
            Some("")
        );
        assert!(!b.field("Make my profile public").await.is_selected().await.unwrap());
        // The page's own form still works.
        b.fill("Bio", "Still me.").await;
        b.press("Save profile").await;
        b.expect_text("Your profile was saved.").await;
        // Back to the refusal, for the screenshot.
        post(None).await;
    })
    .await;
}
