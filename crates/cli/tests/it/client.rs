//! The client commands (C2): the real `postroom` binary against a real
//! server (the same binary's `serve`, as a child process), with its state
//! in a temporary `XDG_CONFIG_HOME` and tokens in the file store.

use std::io::{BufRead, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use postroom_bench::server::{Database, ServerProcess};
use serde_json::{json, Value};

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_postroom"))
}

/// A server, and the people on it.
pub struct World {
    pub server: ServerProcess,
    pub data: tempfile::TempDir,
    pub listen: String,
    http: reqwest::Client,
}

/// A free port on the loopback, for a server that must come back where it
/// was after a stop.
fn free_listen() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = listener.local_addr().expect("its address");
    format!("127.0.0.1:{}", addr.port())
}

impl World {
    pub fn start() -> World {
        let data = tempfile::tempdir().expect("a data directory");
        let listen = free_listen();
        let server = ServerProcess::postroom_on(
            &binary(),
            data.path(),
            &Database::Sqlite,
            &data.path().join("server.log"),
            &listen,
        )
        .expect("the server starts");
        World {
            server,
            data,
            listen,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self) -> &str {
        &self.server.base
    }

    pub fn api(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.server.base)
    }

    /// Stops the server (the client is then offline).
    pub fn stop(&mut self) {
        self.server.stop().expect("the server stops");
    }

    /// Starts it again on the same address and data.
    pub fn start_again(&mut self) {
        self.server = ServerProcess::postroom_on(
            &binary(),
            self.data.path(),
            &Database::Sqlite,
            &self.data.path().join("server.log"),
            &self.listen,
        )
        .expect("the server starts again");
    }

    /// Signs a person up (address confirmed through the mail the server
    /// wrote) and signs them in; answers their session token.
    pub async fn person(&self, name: &str) -> String {
        let password = format!("{name} keeps a long passphrase");
        let answer = self
            .http
            .post(self.api("/accounts"))
            .json(
                &json!({"email": format!("{name}@example.com"), "username": name,
                          "password": password, "accept_terms": true}),
            )
            .send()
            .await
            .expect("sign-up");
        assert_eq!(
            answer.status(),
            201,
            "{}",
            answer.text().await.unwrap_or_default()
        );
        let token = self
            .mailed_token(&format!("{name}@example.com"), "verify-email?token=")
            .await;
        let answer = self
            .http
            .post(self.api("/accounts/verify-email"))
            .json(&json!({ "token": token }))
            .send()
            .await
            .expect("verify");
        assert!(
            answer.status().is_success(),
            "{}",
            answer.text().await.unwrap_or_default()
        );
        self.sign_in(name).await
    }

    pub async fn sign_in(&self, name: &str) -> String {
        let answer: Value = self
            .http
            .post(self.api("/sessions"))
            .json(
                &json!({"login": name, "password": format!("{name} keeps a long passphrase"),
                          "keep_signed_in": true}),
            )
            .send()
            .await
            .expect("sign-in")
            .json()
            .await
            .expect("a JSON answer");
        answer["token"].as_str().expect("a token").to_owned()
    }

    /// The token after `marker` in the last mail to `to` in the outbox.
    async fn mailed_token(&self, to: &str, marker: &str) -> String {
        let outbox = self.data.path().join("outbox");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut found = None;
            if let Ok(files) = std::fs::read_dir(&outbox) {
                let mut files: Vec<PathBuf> = files.flatten().map(|f| f.path()).collect();
                files.sort();
                for file in files
                    .iter()
                    .filter(|f| f.extension().is_some_and(|e| e == "txt"))
                {
                    let text = std::fs::read_to_string(file).unwrap_or_default();
                    if !text.contains(&format!("To: {to}")) {
                        continue;
                    }
                    if let Some((_, rest)) = text.split_once(marker) {
                        let token: String = rest
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
                            .collect();
                        found = Some(token);
                    }
                }
            }
            if let Some(token) = found {
                return token;
            }
            assert!(Instant::now() < deadline, "no mail to {to} with {marker}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.http.request(method, self.api(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.expect("the request");
        let status = answer.status().as_u16();
        let text = answer.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// A collection `name` with one request `health`, imported as the
    /// person's (or the team's); answers its id.
    pub async fn collection(&self, token: &str, name: &str, team: Option<&str>) -> String {
        let document = json!({
            "info": {"name": name, "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
            "item": [{"name": "health", "request": {"method": "GET", "url": "http://127.0.0.1:1/healthz"}}]
        });
        let (status, answer) = self
            .call(
                "POST",
                "/collections",
                token,
                Some(json!({"collection": document, "team": team})),
            )
            .await;
        assert_eq!(status, 201, "{answer}");
        answer["collection"]["id"]
            .as_str()
            .expect("an id")
            .to_owned()
    }

    /// The collection as the server has it, with its revision.
    pub async fn read(&self, token: &str, id: &str) -> (Value, i64) {
        let answer = self
            .http
            .get(self.api(&format!("/collections/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("read");
        assert_eq!(answer.status(), 200);
        let revision = answer.headers()["etag"]
            .to_str()
            .expect("an etag")
            .trim_matches('"')
            .parse()
            .expect("a revision");
        let body: Value = answer.json().await.expect("JSON");
        (body["collection"].clone(), revision)
    }

    /// Writes a new revision through the API on `base`.
    pub async fn write(&self, token: &str, id: &str, document: &Value, base: i64) {
        let answer = self
            .http
            .put(self.api(&format!("/collections/{id}")))
            .bearer_auth(token)
            .header("if-match", format!("\"{base}\""))
            .json(&json!({ "collection": document }))
            .send()
            .await
            .expect("write");
        assert_eq!(
            answer.status(),
            200,
            "{}",
            answer.text().await.unwrap_or_default()
        );
    }
}

/// The client side: a home of its own.
pub struct Client {
    pub home: tempfile::TempDir,
}

impl Client {
    pub fn new() -> Client {
        Client {
            home: tempfile::tempdir().expect("a client home"),
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(binary());
        cmd.args(args);
        self.environment(cmd)
    }

    /// Runs `postroom <args>` at a terminal (a pseudo-terminal made by
    /// util-linux `script`), typing `input`.
    pub fn run_at_terminal(&self, args: &[&str], input: &str) -> Output {
        let line = std::iter::once(binary().display().to_string())
            .chain(args.iter().map(|a| format!("'{a}'")))
            .collect::<Vec<_>>()
            .join(" ");
        let mut cmd = Command::new("script");
        cmd.args(["-q", "-e", "-c", &line, "/dev/null"]);
        let mut child = self
            .environment(cmd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("typed");
        child.wait_with_output().expect("script ends")
    }

    fn environment(&self, mut cmd: Command) -> Command {
        cmd.current_dir(self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("HOME", self.home.path())
            .env("POSTROOM_KEYRING", "off")
            .env_remove("BROWSER")
            .env_remove("DISPLAY")
            .env_remove("WAYLAND_DISPLAY");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(Stdio::null())
            .output()
            .expect("postroom runs")
    }

    pub fn run_with_input(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("postroom runs");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("input written");
        child.wait_with_output().expect("postroom ends")
    }

    /// `login URL --with-token`, which must succeed.
    pub fn login(&self, url: &str, token: &str) {
        let out = self.run_with_input(&["login", url, "--with-token"], token);
        assert_ok(&out);
    }

    pub fn dir(&self) -> PathBuf {
        self.home.path().join("work")
    }
}

pub fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn assert_ok(out: &Output) {
    assert!(out.status.success(), "{}", text(out));
}

pub fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

/// Waits until `check` holds, failing after 20 s with `what`.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .expect("a JSON file")
}

fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(value).expect("JSON")).expect("written");
}

/// The first request's name in a collection document.
fn first_request_name(document: &Value) -> String {
    document["item"][0]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_switch_and_logout() {
    let world = World::start();
    let ada = world.person("ada").await;
    let bob = world.person("bob").await;
    let client = Client::new();

    // Not signed in yet: exit code 3.
    let out = client.run(&["whoami"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    client.login(world.url(), &ada);
    client.login(world.url(), &bob);
    let out = client.run(&["--json", "accounts"]);
    assert_ok(&out);
    let listed = stdout_json(&out);
    let accounts = listed["accounts"].as_array().expect("a list");
    assert_eq!(accounts.len(), 2, "{listed}");
    let active: Vec<&str> = accounts
        .iter()
        .filter(|a| a["active"] == true)
        .map(|a| a["username"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(active, ["bob"], "the last sign-in is active: {listed}");

    // The token is kept in a file only its owner can read, and never in
    // the accounts file.
    let config = client.home.path().join("config/postroom");
    let accounts_file = std::fs::read_to_string(config.join("accounts.json")).expect("accounts");
    assert!(!accounts_file.contains(&ada) && !accounts_file.contains(&bob));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(config.join("tokens.json"))
            .expect("tokens")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "tokens.json is private: {mode:o}");
    }

    let out = client.run(&["switch", "ada"]);
    assert_ok(&out);
    let out = client.run(&["--json", "whoami"]);
    assert_ok(&out);
    assert_eq!(stdout_json(&out)["username"], "ada");
    let out = client.run(&["accounts"]);
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let host = world.url().trim_start_matches("http://");
    assert!(listing.contains(&format!("* ada@{host}")), "{listing}");
    assert!(listing.contains(&format!("  bob@{host}")), "{listing}");

    // An unknown account is refused with the sign-in exit code.
    let out = client.run(&["switch", "carol"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    // Signing out of ada ends her session on the server; bob stays.
    let out = client.run(&["logout"]);
    assert_ok(&out);
    let (status, _) = world.call("GET", "/me", &ada, None).await;
    assert_eq!(status, 401, "the session ended on the server");
    let out = client.run(&["--json", "whoami"]);
    assert_ok(&out);
    assert_eq!(stdout_json(&out)["username"], "bob");

    // A session revoked elsewhere: the client says to sign in again.
    let (status, _) = world.call("DELETE", "/sessions/current", &bob, None).await;
    assert_eq!(status, 204);
    let out = client.run(&["whoami"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("postroom login"),
        "{}",
        text(&out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_edit_push_and_a_conflict_that_keeps_both_versions() {
    let world = World::start();
    let ada = world.person("ada").await;
    let id = world.collection(&ada, "Smoke", None).await;
    let twin = world.collection(&ada, "Smoke", None).await;
    let client = Client::new();
    client.login(world.url(), &ada);
    let dir = client.dir();
    let dir_arg = dir.to_str().expect("UTF-8");

    let out = client.run(&["pull", dir_arg]);
    assert_ok(&out);
    // Two collections of the same name get two files.
    let file = dir.join("private/Smoke.postman_collection.json");
    let file2 = dir.join("private/Smoke (2).postman_collection.json");
    let first = read_json(&file);
    let second = read_json(&file2);
    let mut ids = [
        first["info"]["_postman_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        second["info"]["_postman_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    ];
    ids.sort();
    let mut expected = [id.clone(), twin.clone()];
    expected.sort();
    assert_eq!(ids, expected, "each file holds its own collection");
    let (file, mut document) = if first["info"]["_postman_id"] == id.as_str() {
        (file, first)
    } else {
        (file2, second)
    };

    // An edit in the folder reaches the server.
    document["item"][0]["name"] = json!("health check");
    write_json(&file, &document);
    let out = client.run(&["push", dir_arg]);
    assert_ok(&out);
    let (on_server, revision) = world.read(&ada, &id).await;
    assert_eq!(first_request_name(&on_server), "health check");

    // A new file becomes a new collection.
    let new_file = dir.join("private/Orders.postman_collection.json");
    write_json(
        &new_file,
        &json!({"info": {"name": "Orders", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"},
                "item": [{"name": "list", "request": {"method": "GET", "url": "http://127.0.0.1:1/orders"}}]}),
    );
    let out = client.run(&["--json", "push", dir_arg]);
    assert_ok(&out);
    let report = stdout_json(&out);
    assert_eq!(
        report["report"]["created"],
        json!(["private/Orders.postman_collection.json"]),
        "{report}"
    );
    let (status, list) = world.call("GET", "/collections", &ada, None).await;
    assert_eq!(status, 200);
    assert!(
        list["collections"]
            .as_array()
            .expect("a list")
            .iter()
            .any(|c| c["name"] == "Orders"),
        "{list}"
    );

    // The same request renamed here and on the server: a conflict. The file
    // stays as it was left, the server's side is beside it, exit code 4.
    let mut theirs = on_server.clone();
    theirs["item"][0]["name"] = json!("renamed on the web");
    world.write(&ada, &id, &theirs, revision).await;
    document["item"][0]["name"] = json!("renamed in the folder");
    write_json(&file, &document);
    let mine_bytes = std::fs::read(&file).expect("the file");
    let out = client.run(&["push", dir_arg]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert_eq!(
        std::fs::read(&file).expect("the file"),
        mine_bytes,
        "the file is as the person left it"
    );
    let conflict_file = PathBuf::from(file.to_string_lossy().replace(".json", ".conflict.json"));
    assert_eq!(
        first_request_name(&read_json(&conflict_file)),
        "renamed on the web"
    );
    let (still, _) = world.read(&ada, &id).await;
    assert_eq!(
        first_request_name(&still),
        "renamed on the web",
        "nothing of the conflicting write applied"
    );
    // Pushing again changes nothing while the conflict file is there.
    let out = client.run(&["push", dir_arg]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));

    // Keep mine: the folder's version wins, and the conflict file goes.
    let file_arg = file.to_str().expect("UTF-8");
    let out = client.run(&["resolve", file_arg, "--keep", "mine"]);
    assert_ok(&out);
    assert!(!conflict_file.exists());
    let (resolved, _) = world.read(&ada, &id).await;
    assert_eq!(first_request_name(&resolved), "renamed in the folder");
    assert_eq!(
        first_request_name(&read_json(&file)),
        "renamed in the folder"
    );

    // Deleted on the server: the pull removes the untouched file.
    let (status, _) = world
        .call("DELETE", &format!("/collections/{twin}"), &ada, None)
        .await;
    assert_eq!(status, 204);
    let out = client.run(&["--json", "pull", dir_arg]);
    assert_ok(&out);
    let twin_file = if file.ends_with("Smoke.postman_collection.json") {
        dir.join("private/Smoke (2).postman_collection.json")
    } else {
        dir.join("private/Smoke.postman_collection.json")
    };
    assert!(!twin_file.exists(), "{}", text(&out));

    // Removing a file deletes the collection.
    std::fs::remove_file(&new_file).expect("removed");
    let out = client.run(&["push", dir_arg]);
    assert_ok(&out);
    let (_, list) = world.call("GET", "/collections", &ada, None).await;
    assert!(
        !list["collections"]
            .as_array()
            .expect("a list")
            .iter()
            .any(|c| c["name"] == "Orders"),
        "{list}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn theirs_settles_a_conflict_and_secrets_stay_off_disk() {
    let world = World::start();
    let ada = world.person("ada").await;
    let id = world.collection(&ada, "Smoke", None).await;
    let (status, env) = world
        .call(
            "POST",
            "/environments",
            &ada,
            Some(json!({"environment": {"name": "Staging", "values": [
            {"key": "host", "value": "staging.example.com", "enabled": true, "type": "default"},
            {"key": "token", "value": "s3cret-value", "enabled": true, "type": "secret"}]}})),
        )
        .await;
    assert_eq!(status, 201, "{env}");
    let env_id = env["environment"]["id"].as_str().expect("an id").to_owned();
    let client = Client::new();
    client.login(world.url(), &ada);
    let dir = client.dir();
    let dir_arg = dir.to_str().expect("UTF-8");
    assert_ok(&client.run(&["pull", dir_arg]));

    // The secret is not on disk, and editing another value keeps it.
    let env_file = dir.join("private/Staging.postman_environment.json");
    let on_disk = std::fs::read_to_string(&env_file).expect("the environment file");
    assert!(!on_disk.contains("s3cret-value"), "{on_disk}");
    let mut environment = read_json(&env_file);
    environment["values"][0]["value"] = json!("staging2.example.com");
    write_json(&env_file, &environment);
    assert_ok(&client.run(&["push", dir_arg]));
    let (_, stored) = world
        .call("GET", &format!("/environments/{env_id}"), &ada, None)
        .await;
    let values = &stored["environment"]["values"];
    assert_eq!(values[0]["value"], "staging2.example.com", "{stored}");
    assert_eq!(
        values[1]["value"], "s3cret-value",
        "the secret is kept: {stored}"
    );

    // A conflict settled with theirs: the file becomes the server's.
    let file = dir.join("private/Smoke.postman_collection.json");
    let (on_server, revision) = world.read(&ada, &id).await;
    let mut theirs = on_server.clone();
    theirs["item"][0]["name"] = json!("theirs");
    world.write(&ada, &id, &theirs, revision).await;
    let mut mine = read_json(&file);
    mine["item"][0]["name"] = json!("mine");
    write_json(&file, &mine);
    let out = client.run(&["push", dir_arg]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let out = client.run(&["resolve", file.to_str().expect("UTF-8"), "--keep", "theirs"]);
    assert_ok(&out);
    assert_eq!(first_request_name(&read_json(&file)), "theirs");
    assert_eq!(first_request_name(&world.read(&ada, &id).await.0), "theirs");
    assert!(!dir
        .join("private/Smoke.postman_collection.conflict.json")
        .exists());

    // At a terminal, push asks; "t" keeps theirs.
    let mut mine = read_json(&file);
    mine["item"][0]["name"] = json!("mine again");
    write_json(&file, &mine);
    let (on_server, revision) = world.read(&ada, &id).await;
    let mut theirs = on_server.clone();
    theirs["item"][0]["name"] = json!("theirs again");
    world.write(&ada, &id, &theirs, revision).await;
    let out = client.run_at_terminal(&["push", dir_arg], "t\n");
    assert_ok(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Keep [m]ine"),
        "{}",
        text(&out)
    );
    assert_eq!(first_request_name(&read_json(&file)), "theirs again");
    assert!(!dir
        .join("private/Smoke.postman_collection.conflict.json")
        .exists());

    // Export and import by id, with the secret left out of the file.
    let exported = client.home.path().join("staging.json");
    let out = client.run(&["export", &env_id, "-o", exported.to_str().expect("UTF-8")]);
    assert_ok(&out);
    assert!(!std::fs::read_to_string(&exported)
        .expect("exported")
        .contains("s3cret-value"));
    let out = client.run(&["--json", "import", exported.to_str().expect("UTF-8")]);
    assert_ok(&out);
    assert_eq!(
        stdout_json(&out)["environments"][0]["name"],
        "Staging",
        "{}",
        text(&out)
    );

    // Sync off: push waits (exit code 6) and the edit is kept; on: it goes.
    assert_ok(&client.run(&["sync", "off"]));
    let mut edited = read_json(&file);
    edited["item"][0]["name"] = json!("made while sync was off");
    write_json(&file, &edited);
    let out = client.run(&["push", dir_arg]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert_ok(&client.run(&["sync", "on"]));
    assert_ok(&client.run(&["push", dir_arg]));
    assert_eq!(
        first_request_name(&world.read(&ada, &id).await.0),
        "made while sync was off"
    );
}

/// A running `postroom watch`, stopped when dropped.
struct Watching {
    child: Child,
    log: PathBuf,
}

impl Watching {
    fn start(client: &Client, dir: &Path) -> Watching {
        let log = client.home.path().join("watch.log");
        let file = std::fs::File::create(&log).expect("a log");
        let child = client
            .command(&["watch", dir.to_str().expect("UTF-8")])
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .expect("watch starts");
        Watching { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_syncs_both_ways_and_sends_offline_edits_when_the_server_is_back() {
    let mut world = World::start();
    let ada = world.person("ada").await;
    let id = world.collection(&ada, "Smoke", None).await;
    let client = Client::new();
    client.login(world.url(), &ada);
    let dir = client.dir();
    let file = dir.join("private/Smoke.postman_collection.json");

    let watching = Watching::start(&client, &dir);
    eventually("the first pull", || async { file.exists() }).await;
    eventually("the socket to connect", || async {
        watching.log().contains("connected")
    })
    .await;

    // An edit on the server arrives in the file.
    let (on_server, revision) = world.read(&ada, &id).await;
    let mut theirs = on_server.clone();
    theirs["item"][0]["name"] = json!("edited on the web");
    world.write(&ada, &id, &theirs, revision).await;
    eventually("the server's edit in the file", || async {
        std::fs::read(&file)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .is_some_and(|d| first_request_name(&d) == "edited on the web")
    })
    .await;

    // An edit in the file reaches the server.
    let mut document = read_json(&file);
    document["item"][0]["name"] = json!("edited in the folder");
    write_json(&file, &document);
    eventually("the folder's edit on the server", || async {
        first_request_name(&world.read(&ada, &id).await.0) == "edited in the folder"
    })
    .await;

    // The server goes away; an edit made meanwhile waits, and arrives when
    // it is back.
    world.stop();
    eventually("watch to notice", || async {
        watching.log().contains("offline")
    })
    .await;
    let mut document = read_json(&file);
    document["item"][0]["name"] = json!("edited offline");
    write_json(&file, &document);
    world.start_again();
    eventually("the offline edit on the server", || async {
        first_request_name(&world.read(&ada, &id).await.0) == "edited offline"
    })
    .await;
    let log = watching.log();
    assert!(log.contains("syncing"), "{log}");

    // The session ends (revoked on the web): watch says so and keeps the
    // edits made meanwhile; once signed in again, they go out.
    let (status, _) = world.call("DELETE", "/sessions/current", &ada, None).await;
    assert_eq!(status, 204);
    eventually("watch to say the session ended", || async {
        watching.log().contains("signed out")
    })
    .await;
    let mut document = read_json(&file);
    document["item"][0]["name"] = json!("edited while signed out");
    write_json(&file, &document);
    let again = world.sign_in("ada").await;
    client.login(world.url(), &again);
    eventually("the edit made while signed out on the server", || async {
        first_request_name(&world.read(&again, &id).await.0) == "edited while signed out"
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teams_collections_land_in_the_teams_folder() {
    let world = World::start();
    let ada = world.person("ada").await;
    let (status, team) = world
        .call(
            "POST",
            "/teams",
            &ada,
            Some(json!({"name": "Acme", "slug": "acme"})),
        )
        .await;
    assert_eq!(status, 201, "{team}");
    world.collection(&ada, "Shared API", Some("acme")).await;
    let client = Client::new();
    client.login(world.url(), &ada);
    let dir = client.dir();
    assert_ok(&client.run(&["pull", dir.to_str().expect("UTF-8")]));
    let file = dir.join("teams/acme/Shared API.postman_collection.json");
    assert_eq!(read_json(&file)["info"]["name"], "Shared API");

    // A file added to the team's folder becomes the team's.
    write_json(
        &dir.join("teams/acme/Billing.postman_collection.json"),
        &json!({"info": {"name": "Billing", "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"}, "item": []}),
    );
    assert_ok(&client.run(&["push", dir.to_str().expect("UTF-8")]));
    let (_, list) = world
        .call("GET", "/collections?team=acme", &ada, None)
        .await;
    let names: Vec<&str> = list["collections"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(names.contains(&"Billing"), "{list}");

    // Offline: the client says so, with its own exit code, and the edit
    // stays to be sent.
    drop(world);
    let mut edited = read_json(&file);
    edited["item"] = json!([]);
    write_json(&file, &edited);
    let out = client.run(&["push", dir.to_str().expect("UTF-8")]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot be reached"),
        "{}",
        text(&out)
    );
    assert_eq!(read_json(&file)["item"], json!([]));
}

/// Reads lines of a child's standard output until one parses as JSON with
/// `key`.
pub fn json_line_with(reader: &mut impl BufRead, key: &str) -> Value {
    let mut line = String::new();
    loop {
        line.clear();
        let read = reader.read_line(&mut line).expect("a line");
        assert!(read > 0, "the output ended before a line with {key}");
        if let Ok(value) = serde_json::from_str::<Value>(&line) {
            if value.get(key).is_some() {
                return value;
            }
        }
    }
}
