//! Browser sign-in from the command line (A5): the device flow approved
//! through the API, and the loopback flow in a real Chromium.

use std::io::BufReader;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};

use super::client::{assert_ok, json_line_with, stdout_json, text, Client, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_sign_in_approved_through_the_api() {
    let world = World::start();
    let ada = world.person("ada").await;
    let client = Client::new();
    let mut child = client
        .command(&["--json", "login", world.url(), "--no-browser"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("login starts");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let prompt = tokio::task::block_in_place(|| json_line_with(&mut out, "user_code"));
    let user_code = prompt["user_code"]
        .as_str()
        .expect("a user code")
        .to_owned();
    assert!(
        prompt["verification_uri"]
            .as_str()
            .is_some_and(|u| u == format!("{}/device", world.url())),
        "{prompt}"
    );

    // Approved by ada's other, signed-in client.
    let (status, approved) = world
        .call(
            "POST",
            "/device-authorizations/approve",
            &ada,
            Some(json!({ "user_code": user_code })),
        )
        .await;
    assert_eq!(status, 200, "{approved}");
    let done = tokio::task::block_in_place(|| json_line_with(&mut out, "account"));
    assert_eq!(done["username"], "ada", "{done}");
    let status = tokio::task::block_in_place(|| child.wait()).expect("login ends");
    assert!(status.success());

    let out = client.run(&["--json", "whoami"]);
    assert_ok(&out);
    assert_eq!(stdout_json(&out)["username"], "ada");

    // The server lists the session as the CLI on this machine; revoking it
    // there signs the client out.
    let (_, sessions) = world.call("GET", "/me/sessions", &ada, None).await;
    let host = gethostname();
    let cli = sessions["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .find(|s| s["device"] == format!("postroom CLI on {host}"))
        .unwrap_or_else(|| panic!("no CLI session in {sessions}"))
        .clone();
    let id = cli["id"].as_str().expect("an id");
    let (status, _) = world
        .call("DELETE", &format!("/me/sessions/{id}"), &ada, None)
        .await;
    assert_eq!(status, 204);
    let out = client.run(&["whoami"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
}

fn gethostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_sign_in_in_chromium() {
    if !std::path::Path::new(CHROMIUM).exists() || !std::path::Path::new(CHROMEDRIVER).exists() {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "skipped login::loopback_sign_in_in_chromium: install Debian's chromium and chromium-driver to run it"
        );
        return;
    }
    let world = World::start();
    let _ada = world.person("ada").await;
    let client = Client::new();

    // The "browser" the CLI opens records the URL; the test then drives
    // Chromium there, as a person would.
    let opened = client.home.path().join("opened-url");
    let script = client.home.path().join("browser.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nprintf '%s' \"$1\" > '{}'\n", opened.display()),
    )
    .expect("the script");
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .expect("executable");
    }
    let child = client
        .command(&["--json", "login", world.url()])
        .env("BROWSER", &script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("login starts");
    super::client::eventually("the browser to be opened", || async { opened.exists() }).await;
    let url = std::fs::read_to_string(&opened).expect("the URL");
    assert!(
        url.starts_with(&format!("{}/oauth/authorize?", world.url())),
        "{url}"
    );
    assert!(url.contains("code_challenge_method=S256"), "{url}");

    let driver = ChromeDriver::start();
    let browser = driver.session().await;
    browser.goto(&url).await.expect("the authorize page");
    // Not signed in: the sign-in page, which comes back here after.
    fill(&browser, "login", "ada").await;
    fill(&browser, "password", "ada keeps a long passphrase").await;
    click(&browser, "//button[normalize-space()='Sign in']").await;
    // A first sign-in passes through onboarding, which leads on to the
    // consent page.
    click(&browser, "//button[@value='skip']").await;
    let page = wait_for_text(&browser, "postroom CLI").await;
    assert!(
        page.contains(&gethostname()),
        "the consent page names the device: {page}"
    );
    assert!(page.contains("ada"), "and the account: {page}");
    click(&browser, "//button[normalize-space()='Approve']").await;
    let page = wait_for_text(&browser, "You are signed in").await;
    assert!(page.contains("close this tab"), "{page}");
    let _ = browser.close().await;

    let output = tokio::task::block_in_place(|| child.wait_with_output()).expect("login ends");
    assert!(output.status.success(), "{}", text(&output));
    let done: Value = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v.get("account").is_some())
        .expect("the result line");
    assert_eq!(done["username"], "ada");
    let out = client.run(&["--json", "whoami"]);
    assert_ok(&out);
    assert_eq!(stdout_json(&out)["username"], "ada");
}

async fn fill(browser: &fantoccini::Client, name: &str, value: &str) {
    let field = browser
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(fantoccini::Locator::Css(&format!("input[name='{name}']")))
        .await
        .unwrap_or_else(|e| panic!("the field {name}: {e}"));
    field.send_keys(value).await.expect("typed");
}

async fn click(browser: &fantoccini::Client, xpath: &str) {
    let button = browser
        .wait()
        .at_most(Duration::from_secs(15))
        .for_element(fantoccini::Locator::XPath(xpath))
        .await
        .unwrap_or_else(|e| panic!("{xpath}: {e}"));
    button.click().await.expect("clicked");
}

async fn wait_for_text(browser: &fantoccini::Client, needle: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let text = match browser.find(fantoccini::Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains(needle) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {needle:?} on the page; it shows: {text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A `chromedriver` on a free port, killed (with its browser) on drop.
struct ChromeDriver {
    child: std::process::Child,
    url: String,
}

impl ChromeDriver {
    fn start() -> ChromeDriver {
        use std::os::unix::process::CommandExt as _;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = std::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        ChromeDriver {
            child,
            url: format!("http://127.0.0.1:{port}/"),
        }
    }

    async fn session(&self) -> fantoccini::Client {
        let mut caps = fantoccini::wd::Capabilities::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"binary": CHROMIUM, "args": ["--headless", "--no-sandbox", "--disable-gpu",
                   "--disable-dev-shm-usage", "--no-first-run"]}),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        fantoccini::ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a ChromeDriver session")
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // The browser shares chromedriver's process group.
        let pgid = self.child.id() as i32;
        // SAFETY: kill(2) on the process group of our own child.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

/// With a Secret Service on the session bus (gnome-keyring here, in a bus
/// of its own), the token goes to the keyring and never to a file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_go_to_the_system_keyring_when_there_is_one() {
    let tools = ["/usr/bin/dbus-run-session", "/usr/bin/gnome-keyring-daemon"];
    if tools.iter().any(|t| !std::path::Path::new(t).exists()) {
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "skipped login::tokens_go_to_the_system_keyring_when_there_is_one: install Debian's dbus and gnome-keyring to run it"
        );
        return;
    }
    let world = World::start();
    let ada = world.person("ada").await;
    let client = Client::new();
    let home = client.home.path();
    std::fs::write(home.join("token"), &ada).expect("the token file");
    let script = format!(
        "set -e\n\
         export XDG_DATA_HOME='{home}/data' XDG_RUNTIME_DIR='{home}/run'\n\
         mkdir -p \"$XDG_DATA_HOME\" \"$XDG_RUNTIME_DIR\"\n\
         chmod 700 \"$XDG_RUNTIME_DIR\"\n\
         printf 'keyring password\\n' | gnome-keyring-daemon --unlock --components=secrets >/dev/null\n\
         '{bin}' login '{url}' --with-token < '{home}/token'\n\
         '{bin}' --json whoami\n",
        home = home.display(),
        bin = env!("CARGO_BIN_EXE_postroom"),
        url = world.url(),
    );
    let mut cmd = std::process::Command::new("dbus-run-session");
    cmd.args(["--", "bash", "-c", &script])
        .current_dir(home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("HOME", home)
        .env_remove("POSTROOM_KEYRING")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    let out = tokio::task::block_in_place(|| cmd.output()).expect("dbus-run-session runs");
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.contains("in the system keyring"), "{said}");
    assert!(said.contains(r#""username":"ada""#), "{said}");
    let config = home.join("config/postroom");
    assert!(!config.join("tokens.json").exists(), "no token in a file");
    let accounts = std::fs::read_to_string(config.join("accounts.json")).expect("accounts");
    assert!(
        accounts.contains(r#""token_store": "keyring""#),
        "{accounts}"
    );
    assert!(!accounts.contains(&ada));
}
