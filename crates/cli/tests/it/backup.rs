//! `postroom backup <file>` (O7): a consistent copy of the SQLite database,
//! written while the data is in use, that opens as a Postroom database.

use std::path::Path;

use crate::common::postroom;

use postroom_server::store::{self, Store};

const NOW: i64 = 1_767_225_600_000;

async fn open(db: &Path) -> Store {
    let url = format!("sqlite://{}?mode=rwc", db.display());
    Store::connect(&url, 2).await.expect("the database opens")
}

async fn add_user(store: &Store, name: &str) {
    let mut tx = store.begin().await.unwrap();
    store::users::insert(
        &mut tx,
        &store::users::NewUser {
            username: name,
            username_key: name,
            email: &format!("{name}@example.com"),
            email_key: &format!("{name}@example.com"),
            password_hash: "x",
        },
        NOW,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn backup_copies_the_database_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    // The live database stays open (as a running server keeps it) with a
    // write still in its WAL.
    let live = open(&dir.path().join("postroom.db")).await;
    add_user(&live, "ada").await;

    let copy = dir.path().join("backup-1.db");
    let out = postroom(dir.path(), &["backup", copy.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Backed up to"), "{stdout}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the backup is for its owner only: {mode:o}");
    }

    // Writes after the backup are not in it; the backup is a whole database.
    add_user(&live, "bob").await;
    let restored = open(&copy).await;
    let mut c = restored.conn().await.unwrap();
    assert!(store::users::by_username_key(&mut c, "ada")
        .await
        .unwrap()
        .is_some());
    assert!(store::users::by_username_key(&mut c, "bob")
        .await
        .unwrap()
        .is_none());
    let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    drop(c);
    restored.close().await;

    // An existing file is refused and left as it was.
    let before = std::fs::read(&copy).unwrap();
    let out = postroom(dir.path(), &["backup", copy.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    assert_eq!(std::fs::read(&copy).unwrap(), before);
    live.close().await;
}
