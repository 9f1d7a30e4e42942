//! `postroom admin ...`: the operator's tools from the server's shell, on
//! the database of a running server.

use serde_json::json;

use crate::client::{text, World};
use crate::common::postroom;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_disables_creates_and_lists_accounts_from_the_shell() {
    let world = World::start();
    let bob = world.person("bob").await;
    let data = world.data.path();

    let out = postroom(data, &["admin", "disable", "bob"]);
    assert!(out.status.success(), "{}", text(&out));
    // His session ended at once, and he cannot sign in.
    let (status, _) = world.call("GET", "/me", &bob, None).await;
    assert_eq!(status, 401);
    let answer = reqwest::Client::new()
        .post(world.api("/sessions"))
        .json(&json!({"login": "bob", "password": "bob keeps a long passphrase"}))
        .send()
        .await
        .expect("sign-in");
    assert_eq!(answer.status(), 403);

    let out = postroom(data, &["admin", "users", "--search", "bo"]);
    assert!(out.status.success(), "{}", text(&out));
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        listed.contains("bob@example.com") && listed.contains("disabled"),
        "{listed}"
    );

    let out = postroom(data, &["admin", "enable", "bob"]);
    assert!(out.status.success(), "{}", text(&out));
    world.sign_in("bob").await;

    // A new operator, who chooses a password by the mailed link.
    let out = postroom(
        data,
        &[
            "admin",
            "create-user",
            "ops@example.com",
            "ops",
            "--operator",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let out = postroom(data, &["admin", "users"]);
    let listed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        listed.contains("ops@example.com") && listed.contains("operator"),
        "{listed}"
    );

    // Deleting needs --yes; an unknown account is named as such.
    let out = postroom(data, &["admin", "delete", "bob"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--yes"),
        "{}",
        text(&out)
    );
    let out = postroom(data, &["admin", "disable", "nobody"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such account"),
        "{}",
        text(&out)
    );
    let out = postroom(data, &["admin", "delete", "bob", "--yes"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = postroom(data, &["admin", "teams"]);
    assert!(out.status.success(), "{}", text(&out));
}

/// `postroom plan <team> <plan> [--seats N]` (B10): without a payment
/// provider the operator puts a team on a plan, and billing shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_puts_a_team_on_a_plan_from_the_shell() {
    let world = World::start();
    let ada = world.person("ada").await;
    let data = world.data.path();
    let (status, _) = world
        .call(
            "POST",
            "/teams",
            &ada,
            Some(json!({"name": "Acme", "slug": "acme"})),
        )
        .await;
    assert_eq!(status, 201);

    let out = postroom(data, &["plan", "acme", "pro", "--seats", "4"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Pro"),
        "{}",
        text(&out)
    );
    let (status, billing) = world.call("GET", "/teams/acme/billing", &ada, None).await;
    assert_eq!(status, 200, "{billing}");
    assert_eq!(billing["plan"], "pro");
    assert_eq!(billing["seats"]["total"], 4);
    assert_eq!(billing["provider"], false);

    let out = postroom(data, &["plan", "acme", "gold"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no such plan"),
        "{}",
        text(&out)
    );
}
