//! `postroom verify-domain <team> <domain>`: the operator marks a
//! team's email domain verified without DNS, on the server's own database.

use std::path::Path;

use crate::common::postroom;

use postroom_server::store::{self, Store};

const NOW: i64 = 1_767_225_600_000;

async fn open(data_dir: &Path) -> Store {
    let url = format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("postroom.db").display()
    );
    Store::connect(&url, 2).await.expect("the database opens")
}

#[tokio::test]
async fn verify_domain_marks_the_domain_verified() {
    let dir = tempfile::tempdir().unwrap();
    let team_id = {
        let store = open(dir.path()).await;
        let mut tx = store.begin().await.unwrap();
        let user = store::users::insert(
            &mut tx,
            &store::users::NewUser {
                username: "ada",
                username_key: "ada",
                email: "ada@acme.test",
                email_key: "ada@acme.test",
                password_hash: "x",
            },
            NOW,
        )
        .await
        .unwrap();
        let team = store::teams::insert(
            &mut tx,
            &store::teams::NewTeam {
                name: "Acme",
                slug: "acme",
                plan: "free",
                seats: 3,
                created_by: &user.id,
            },
            NOW,
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        store.close().await;
        team.id
    };

    let out = postroom(dir.path(), &["verify-domain", "acme", "Acme.Test"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("acme.test is verified for the team acme"),
        "{stdout}"
    );

    let store = open(dir.path()).await;
    let mut c = store.conn().await.unwrap();
    let domain = store::teams::domain(&mut c, &team_id, "acme.test")
        .await
        .unwrap()
        .expect("the domain was added");
    assert!(domain.verified_at.is_some());
    assert_eq!(domain.verified_by.as_deref(), Some("operator"));
    drop(c);
    store.close().await;

    let out = postroom(dir.path(), &["verify-domain", "nope", "acme.test"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("there is no team with the URL name \"nope\""));
    let out = postroom(dir.path(), &["verify-domain", "acme", "bad_name.test"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a valid domain"));
}
