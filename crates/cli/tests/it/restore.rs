//! `postroom restore <file>` (O7): a backup taken while writers are busy is
//! put back with the server stopped, and every write acknowledged before the
//! backup began is there; a restore is refused while a server runs on the
//! data directory, and a file that is not a whole Postroom database is
//! refused without touching anything. The database replaced is kept aside.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use postroom_bench::server::{Database, ServerProcess};
use serde_json::{json, Value};

use crate::common::postroom;

const PASSWORD: &str = "correct horse battery staple";

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_postroom"))
}

fn start(data: &Path, log: &Path) -> ServerProcess {
    ServerProcess::postroom(&binary(), data, &Database::Sqlite, log).expect("the server starts")
}

async fn session(client: &reqwest::Client, base: &str, sign_up: bool) -> String {
    if sign_up {
        let r = client
            .post(format!("{base}/api/v1/accounts"))
            .json(&json!({"email": "ada@example.com", "username": "ada",
                "password": PASSWORD, "accept_terms": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
    }
    let r: Value = client
        .post(format!("{base}/api/v1/sessions"))
        .json(&json!({"login": "ada", "password": PASSWORD, "keep_signed_in": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["token"].as_str().expect("a session").to_owned()
}

/// The names of every collection ada has.
async fn collections(client: &reqwest::Client, base: &str, token: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{base}/api/v1/collections?limit=500&cursor={c}"),
            None => format!("{base}/api/v1/collections?limit=500"),
        };
        let r: Value = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for c in r["collections"].as_array().expect("a list") {
            names.push(c["name"].as_str().unwrap().to_owned());
        }
        match r["next"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return names,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_acknowledged_write() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let log = dir.path().join("server.log");
    let mut server = start(&data, &log);
    let client = reqwest::Client::new();
    let token = session(&client, &server.base, true).await;

    // Two writers create collections; each acknowledged one is noted.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..2 {
        let (client, base, token) = (client.clone(), server.base.clone(), token.clone());
        let (acked, stop) = (acked.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                let name = format!("w{w}-{i}");
                let doc = json!({"info": {"name": name, "schema": "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"}, "item": []});
                let r = client
                    .post(format!("{base}/api/v1/collections"))
                    .bearer_auth(&token)
                    .json(&json!({"collection": doc}))
                    .send()
                    .await;
                if let Ok(r) = r {
                    if r.status() == 201 {
                        acked.lock().unwrap().push(name);
                    }
                }
                i += 1;
            }
        }));
    }
    let wait_for = |n: usize| {
        let acked = acked.clone();
        async move {
            while acked.lock().unwrap().len() < n {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    wait_for(20).await;

    // The backup, while the writers go on.
    let before: Vec<String> = acked.lock().unwrap().clone();
    let backup = dir.path().join("backup.db");
    let out = {
        let (data, backup) = (data.clone(), backup.clone());
        tokio::task::spawn_blocking(move || postroom(&data, &["backup", backup.to_str().unwrap()]))
            .await
            .unwrap()
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let at_backup_end = acked.lock().unwrap().len();
    wait_for(at_backup_end + 10).await;
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    let total = acked.lock().unwrap().len();

    // Not while the server runs on the data directory.
    let out = postroom(&data, &["restore", backup.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("stop it first"), "{stderr}");

    // With the server stopped: checked, put in place, the old one kept.
    server.stop().unwrap();
    let out = postroom(&data, &["restore", backup.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Restored"), "{stdout}");
    assert!(stdout.contains("integrity checked"), "{stdout}");
    let kept: Vec<_> = std::fs::read_dir(&data)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("postroom.db.replaced-")
        })
        .collect();
    assert_eq!(kept.len(), 1, "the replaced database is kept aside");

    // Every write acknowledged before the backup began is back; those made
    // after it ended are not (the database really was replaced).
    let server = start(&data, &log);
    let token = session(&client, &server.base, false).await;
    let names = collections(&client, &server.base, &token).await;
    for name in &before {
        assert!(
            names.contains(name),
            "{name} was acknowledged before the backup and is missing"
        );
    }
    assert!(
        names.len() < total,
        "{} of {total}: the backup's state, not the last one",
        names.len()
    );

    // A file that is not a Postroom database is refused; nothing moves.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"not a database at all").unwrap();
    drop(server);
    let out = postroom(&data, &["restore", junk.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not a SQLite database") || stderr.contains("does not open"),
        "{stderr}"
    );
    let out = postroom(
        &data,
        &["restore", dir.path().join("absent.db").to_str().unwrap()],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("was not found"));
    let server = start(&data, &log);
    let token = session(&client, &server.base, false).await;
    assert_eq!(
        collections(&client, &server.base, &token).await.len(),
        names.len()
    );
}

/// On PostgreSQL the command explains the pg_restore steps instead.
#[test]
fn on_postgres_restore_explains_pg_restore() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("postroom.dump");
    std::fs::write(&file, b"x").unwrap();
    let out = std::process::Command::new(binary())
        .args(["restore", file.to_str().unwrap()])
        .current_dir(dir.path())
        .env("POSTROOM_DATA_DIR", dir.path())
        .env(
            "POSTROOM_DATABASE_URL",
            "postgres://postgres@127.0.0.1:1/none",
        )
        .env_remove("POSTROOM_CONFIG")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pg_restore"), "{stderr}");
}
