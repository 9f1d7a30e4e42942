//! The team pages (T1-T6, T8, A3) in a real browser, end to end: inviting
//! by a copied link, and joining by discovery. Same harness as
//! `browser.rs` (`common/browser.rs`): headless Chromium through ChromeDriver, elements found by
//! label, button or link text; screenshots of the final pages go to
//! `target/screenshots/<test>.png` (`<test>-2.png` for the second browser),
//! and every page is checked for CSP violations and script errors. Without
//! `/usr/bin/chromium` and `/usr/bin/chromedriver` the tests skip.

#![allow(dead_code)]

use std::sync::Arc;

use crate::common::PASSWORD;
use fantoccini::Locator;
use postroom_server::domain::actor::Actor;
use serde_json::json;

use crate::common::browser::*;

// ---------------------------------------------------------------------------
// Helpers of the team tests.

/// An account with `email`, confirmed through the mailed link; onboarded
/// with the name `name` when given (else the first sign-in asks). Returns
/// its user id.
async fn confirmed_account(w: &Web, username: &str, email: &str, name: Option<&str>) -> String {
    let r = w.t.sign_up(email, username).await;
    r.assert(201, None);
    let id = r.body["user"]["id"].as_str().unwrap().to_owned();
    let token = w.t.link_token(email, "/verify-email").await;
    w.t.post(
        "/api/v1/accounts/verify-email",
        None,
        json!({ "token": token }),
    )
    .await
    .assert(200, None);
    if let Some(name) = name {
        let actor = Actor {
            user_id: id.clone(),
            session_id: None,
            can_write: true,
        };
        postroom_server::domain::profile::complete_onboarding(
            &w.t.app,
            &actor,
            Some((name, "Learning")),
        )
        .await
        .unwrap();
    }
    id
}

impl Browser {
    /// Saves this page as `target/screenshots/<name>.png`, for a look at a
    /// page the test passes through.
    pub(crate) async fn snap(&self, name: &str) {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("create target/screenshots");
        if let Some(png) = self.screenshot().await {
            std::fs::write(dir.join(format!("{name}.png")), png).expect("save the screenshot");
        }
    }

    /// The text of the element with this id.
    async fn text_of(&self, id: &str) -> String {
        self.one(&format!("//*[@id={}]", xpath_literal(id)), id)
            .await
            .text()
            .await
            .unwrap()
            .trim()
            .to_owned()
    }

    /// The names in the team home's member list.
    async fn members(&self) -> Vec<String> {
        let v = self
            .c
            .execute(
                "return Array.from(document.querySelectorAll('section[aria-labelledby=\"members-h\"] li strong')).map(s => s.textContent.trim())",
                vec![],
            )
            .await
            .unwrap();
        serde_json::from_value(v).unwrap()
    }

    /// Creates a team from the Teams page, reached through the header.
    async fn create_team(&self, name: &str, slug: &str) {
        self.follow_in("//nav[@aria-label='Main']", "Teams").await;
        self.expect_heading("Teams").await;
        self.fill("Team name", name).await;
        self.fill("URL name", slug).await;
        self.press("Create team").await;
        self.expect_heading(name).await;
        self.expect_text("Your team was created.").await;
        assert_eq!(
            self.path().await,
            format!("/teams/{slug}?flash=team_created")
        );
    }
}

/// The path and query of a link the server made (it names `public_url`).
fn local(link: &str) -> String {
    let url = url::Url::parse(link).unwrap_or_else(|e| panic!("{link:?} is a URL: {e}"));
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

// ---------------------------------------------------------------------------
// The tests.

/// T1, T3, T4, T5: an admin creates a team and an invite link and copies it;
/// someone new opens it, signs up and comes back to it, accepts, and is a
/// member; the link is spent; the admin removes them and their access ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_by_link() {
    run(
        "invite_by_link",
        |_| {},
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;
            b.sign_in("ada", PASSWORD, false).await;
            b.expect_heading("Hello, Ada Lovelace").await;
            b.create_team("Acme Labs", "acme").await;
            assert_eq!(b.members().await, vec!["Ada Lovelace".to_owned()]);
            b.expect_text("1 of 3 seats used").await;

            // A second team with the same URL name is refused on that field.
            b.create_team("Other", "other").await;
            b.follow_in("//nav[@aria-label='Main']", "Teams").await;
            b.fill("Team name", "Acme again").await;
            b.fill("URL name", "acme").await;
            b.press("Create team").await;
            b.expect_text("Please fix the fields below.").await;
            assert_eq!(
                b.text_of("e-slug").await,
                "A team with this URL name already exists"
            );
            assert_eq!(
                b.field("Team name")
                    .await
                    .prop("value")
                    .await
                    .unwrap()
                    .as_deref(),
                Some("Acme again")
            );
            b.follow("Acme Labs").await;
            b.expect_heading("Acme Labs").await;

            // The invite link, copied from the page.
            b.press("Create an invite link").await;
            b.expect_text("The invite link was created.").await;
            let link = b.text_of("new-invite-link").await;
            assert!(link.contains("/invite?token="), "{link}");
            b.press_in("//section[@id='new-invite']", "Copy link").await;
            let copied = b
                .one(
                    "//section[@id='new-invite']//button[@data-copy]",
                    "the copy button",
                )
                .await
                .text()
                .await
                .unwrap();
            assert!(
                copied == "Copied" || copied == "Press Ctrl+C to copy",
                "the copy button says {copied:?}"
            );
            b.expect_text("2 of 3 seats used (1 by pending invites)")
                .await;
            b.snap("invite_by_link-created").await;
            // The pending invite lists the same link.
            let pending = b
                .one(
                    "//section[@aria-labelledby='pending-h']//p[contains(@class,'secret')]",
                    "the pending invite's link",
                )
                .await
                .text()
                .await
                .unwrap();
            assert_eq!(pending.trim(), link);

            // Someone new opens it, signs up, and comes back to it.
            let b2 = w.browser().await;
            b2.goto(&local(&link)).await;
            b2.expect_heading("Join Acme Labs").await;
            b2.expect_text("ada invites you to join the team Acme Labs")
                .await;
            b2.snap("invite_by_link-landing").await;
            b2.follow("Create an account").await;
            b2.expect_heading("Create your account").await;
            b2.fill("Email", "bob@example.com").await;
            b2.fill("Username", "bob").await;
            b2.fill("Password", PASSWORD).await;
            b2.press("Create account").await;
            b2.expect_heading("Check your email").await;
            b2.follow("Continue to sign in").await;
            b2.expect_heading("Sign in to Postroom").await;
            b2.sign_in_here("bob", PASSWORD, false).await;
            b2.expect_heading("Welcome to Postroom, bob").await;
            b2.fill("Your name", "Bob Builder").await;
            b2.press("Continue").await;
            b2.expect_heading("Join Acme Labs").await;
            b2.expect_text("You are signed in as bob").await;
            b2.press("Accept and join Acme Labs").await;
            b2.expect_heading("Acme Labs").await;
            b2.expect_text("Welcome to the team!").await;
            assert_eq!(
                b2.members().await,
                vec!["Ada Lovelace".to_owned(), "Bob Builder".to_owned()]
            );
            // A member sees no admin controls.
            let page = b2.text().await;
            for admin_only in [
                "Invite people",
                "Pending invites",
                "Rename team",
                "Audit log",
            ] {
                assert!(
                    !page.contains(admin_only),
                    "a member sees {admin_only:?}:\n{page}"
                );
            }
            assert!(b2
                .c
                .find_all(Locator::XPath("//button[normalize-space(.)='Remove']"))
                .await
                .unwrap()
                .is_empty());

            // The link is spent.
            b2.goto(&local(&link)).await;
            b2.expect_heading("This invite can't be used").await;
            b2.expect_text("This invite was already used").await;

            // The admin sees the new member, and the seat moved to them.
            b.goto("/teams/acme").await;
            assert_eq!(
                b.members().await,
                vec!["Ada Lovelace".to_owned(), "Bob Builder".to_owned()]
            );
            b.expect_text("2 of 3 seats used · 1 available").await;
            b.snap("invite_by_link-joined").await;
            b.expect_text("No pending invites.").await;

            // The last admin cannot leave, and says why.
            b.press_confirming(
                "",
                "Leave team",
                "Leave Acme Labs? You lose access at once.",
            )
            .await;
            b.expect_text("A team needs at least one admin").await;

            // Removing Bob ends his access at once.
            b.press_confirming(
                "",
                "Remove",
                "Remove bob from Acme Labs? They lose access at once.",
            )
            .await;
            b.expect_text("The member was removed and lost access at once.")
                .await;
            assert_eq!(b.members().await, vec!["Ada Lovelace".to_owned()]);
            b2.goto("/teams/acme").await;
            b2.expect_heading("Page not found").await;
        },
    )
    .await;
}

/// T3, A1: someone invited by email opens the mailed invite, creates an
/// account (the invited address filled in; no terms to accept when none are
/// configured), confirms the address from the mail, signs in, and is back
/// at the invite, which they accept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_by_email_leads_back_through_sign_up() {
    run(
        "invite_by_email_leads_back_through_sign_up",
        |_| {},
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;
            let ada = w.t.sign_in("ada", PASSWORD, false).await;
            w.t.post(
                "/api/v1/teams",
                Some(&ada),
                json!({ "name": "Acme Labs", "slug": "acme" }),
            )
            .await
            .assert(201, None);
            let r =
                w.t.post(
                    "/api/v1/teams/acme/invites",
                    Some(&ada),
                    json!({ "email": "bob@example.com" }),
                )
                .await;
            r.assert(201, None);
            let link = r.body["invite"]["link"].as_str().unwrap().to_owned();

            b.goto(&local(&link)).await;
            b.expect_heading("Join Acme Labs").await;
            b.follow("Create an account").await;
            b.expect_heading("Create your account").await;
            assert_eq!(
                b.field("Email")
                    .await
                    .prop("value")
                    .await
                    .unwrap()
                    .as_deref(),
                Some("bob@example.com")
            );
            assert!(
                b.c.find_all(Locator::Css("input[name=accept_terms]"))
                    .await
                    .unwrap()
                    .is_empty(),
                "no terms are configured, so there is nothing to accept"
            );
            b.fill("Username", "bob").await;
            b.fill("Password", PASSWORD).await;
            b.press("Create account").await;
            b.expect_heading("Check your email").await;
            // A link sent again leads back too (and replaces the first).
            b.press("Send the link again").await;
            b.expect_text("We sent the link again.").await;

            // The newest confirmation mail's link, opened in the same browser.
            w.t.mail_settled().await;
            let mail =
                w.t.mails_to("bob@example.com")
                    .into_iter()
                    .rev()
                    .map(|m| crate::common::unfold(&m))
                    .find(|m| m.contains("/verify-email?token="))
                    .expect("the confirmation mail");
            let start = mail.find("/verify-email?token=").unwrap();
            let confirm: String = mail[start..]
                .chars()
                .take_while(|c| !c.is_whitespace() && *c != '"' && *c != '<')
                .collect();
            assert!(confirm.contains("&next="), "{confirm}");
            b.goto(&confirm).await;
            b.expect_heading("Confirm your email").await;
            b.press("Confirm my email").await;
            b.expect_heading("Email confirmed").await;
            b.follow_in("//main", "Sign in").await;
            b.expect_heading("Sign in to Postroom").await;
            assert_eq!(
                b.field("Email or username")
                    .await
                    .prop("value")
                    .await
                    .unwrap()
                    .as_deref(),
                Some("bob@example.com")
            );
            b.sign_in_here("bob@example.com", PASSWORD, false).await;
            b.expect_heading("Welcome to Postroom, bob").await;
            b.fill("Your name", "Bob Builder").await;
            b.press("Continue").await;
            b.expect_heading("Join Acme Labs").await;
            b.press("Accept and join Acme Labs").await;
            b.expect_heading("Acme Labs").await;
            b.expect_text("Welcome to the team!").await;
        },
    )
    .await;
}

/// T1-T3: the URL name follows the team name, errors name fields by their
/// labels, a full team says so once and offers no invite controls, the
/// list and the team count seats alike, another admin's role is not
/// offered for change, and an admin deletes the team (members are told).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_pages_guide_the_admin() {
    run(
        "team_pages_guide_the_admin",
        |_| {},
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;
            w.account("bob", "Bob Builder").await;
            b.sign_in("ada", PASSWORD, false).await;
            b.follow_in("//nav[@aria-label='Main']", "Teams").await;
            b.fill("Team name", "Café Crème Labs").await;
            let value = |label: &'static str| async move {
                b.field(label)
                    .await
                    .prop("value")
                    .await
                    .unwrap()
                    .unwrap_or_default()
            };
            assert_eq!(value("URL name").await, "cafe-creme-labs");
            b.fill("URL name", "ab").await;
            b.press("Create team").await;
            assert_eq!(
                b.text_of("e-slug").await,
                "URL name must be at least 3 characters"
            );
            b.fill("URL name", "acme").await;
            b.press("Create team").await;
            b.expect_heading("Café Crème Labs").await;

            // Two link invites fill the Free plan's 3 seats.
            for _ in 0..2 {
                b.press("Create an invite link").await;
                b.expect_text("The invite link was created.").await;
            }
            b.expect_text("3 of 3 seats used (2 by pending invites) · 0 available")
                .await;
            b.expect_text("All 3 seats are taken by members and pending invites.")
                .await;
            for button in ["Send invite", "Create an invite link"] {
                let el = b
                    .one(
                        &format!("//button[normalize-space(.)={}]", xpath_literal(button)),
                        button,
                    )
                    .await;
                assert!(!el.is_enabled().await.unwrap(), "{button} is disabled");
            }
            assert!(!b.field("Invite by email").await.is_enabled().await.unwrap());
            b.follow_in("//nav[@aria-label='Main']", "Teams").await;
            b.expect_text("3 of 3 seats used (2 by pending invites)")
                .await;

            // Bob joins through one of the links and becomes an admin.
            let ada = w.t.sign_in("ada", PASSWORD, false).await;
            let bob = w.t.sign_in("bob", PASSWORD, false).await;
            let invites = w.t.get("/api/v1/teams/acme/invites", Some(&ada)).await;
            let token = invites.body["invites"][0]["token"]
                .as_str()
                .unwrap()
                .to_owned();
            w.t.post(
                &format!("/api/v1/invites/{token}/accept"),
                Some(&bob),
                json!({}),
            )
            .await
            .assert(200, None);
            let bob_id = w.t.get("/api/v1/me", Some(&bob)).await.body["user"]["id"]
                .as_str()
                .unwrap()
                .to_owned();
            w.t.put(
                &format!("/api/v1/teams/acme/members/{bob_id}/role"),
                Some(&ada),
                json!({ "role": "admin" }),
            )
            .await
            .assert(200, None);
            b.goto("/teams/acme").await;
            b.field("Role of ada").await;
            assert!(
                b.c.find_all(Locator::XPath("//label[normalize-space(.)='Role of bob']"))
                    .await
                    .unwrap()
                    .is_empty(),
                "only bob changes bob's role"
            );

            // Deleting asks for the box, then for confirmation.
            b.press_confirming(
                "",
                "Delete team",
                "Delete Café Crème Labs for good? Every member loses access at once.",
            )
            .await;
            b.expect_text("Tick the box to confirm that the team is to be deleted")
                .await;
            b.tick(
                "I understand that the team and everything in it is deleted",
                true,
            )
            .await;
            b.press_confirming(
                "",
                "Delete team",
                "Delete Café Crème Labs for good? Every member loses access at once.",
            )
            .await;
            b.expect_text("The team was deleted.").await;
            b.expect_text("You are not in a team yet.").await;
            w.t.mail_settled().await;
            assert!(w
                .t
                .mails_to("bob@example.com")
                .iter()
                .any(|m| crate::common::unfold(m).contains("ada, an admin of the team")));
        },
    )
    .await;
}

/// T8, A3: a team verifies its domain (the TXT record the page names,
/// published in a test resolver) and turns discovery on; a person with a
/// confirmed address there sees it at onboarding and on "Join a team",
/// asks to join, and the admin approves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_by_discovery() {
    run(
        "join_by_discovery",
        |_| {},
        |w| async move {
            let resolver = Arc::new(postroom_server::domain::dns::StaticResolver::new());
            w.t.app.dns.replace(resolver.clone());
            let b = &w.b;
            confirmed_account(&w, "ada", "ada@acme.test", Some("Ada Lovelace")).await;
            confirmed_account(&w, "dan", "dan@acme.test", None).await;
            b.sign_in("ada", PASSWORD, false).await;
            b.create_team("Acme Labs", "acme").await;
            b.follow_in("//nav[@aria-label='Team']", "Discovery").await;
            b.expect_heading("Acme Labs").await;

            // Discovery needs a verified domain.
            b.press("Turn discovery on").await;
            b.expect_text("Verify an email domain before turning discovery on")
                .await;
            b.snap("join_by_discovery-no-domain").await;

            b.fill("Domain", "acme.test").await;
            b.press("Add domain").await;
            b.expect_text("The domain was added.").await;
            let name = b.text_of("txt-name-1").await;
            let value = b.text_of("txt-value-1").await;
            assert_eq!(name, "_postroom-verification.acme.test");
            assert!(value.starts_with("postroom-verification="), "{value}");
            b.snap("join_by_discovery-record").await;

            // Before the record exists, verifying says so; after, it works.
            b.press("Verify").await;
            b.expect_heading("Acme Labs").await;
            let refused = b
                .one(
                    "//div[contains(@class,'flash') and contains(@class,'error')]",
                    "the error",
                )
                .await
                .text()
                .await
                .unwrap();
            assert!(!refused.is_empty());
            resolver.add(&name, &value);
            b.press("Verify").await;
            b.expect_text("The domain is verified.").await;
            b.press("Turn discovery on").await;
            b.expect_text("Discovery is on.").await;

            // Dan signs in for the first time: onboarding lists the team.
            let b2 = w.browser().await;
            b2.sign_in("dan", PASSWORD, false).await;
            b2.expect_heading("Welcome to Postroom, dan").await;
            b2.expect_text("These teams of your organisation let you ask to join:")
                .await;
            b2.expect_text("Acme Labs").await;
            b2.snap("join_by_discovery-welcome").await;
            b2.fill("Your name", "Dan Brown").await;
            b2.press("Continue").await;
            b2.expect_heading("Hello, Dan Brown").await;
            b2.follow_in("//nav[@aria-label='Main']", "Teams").await;
            b2.follow("Join a team").await;
            b2.expect_heading("Join a team").await;
            b2.press("Ask to join").await;
            b2.expect_text("Your request was sent.").await;
            b2.expect_text("Request sent: waiting for an admin").await;
            b2.snap("join_by_discovery-asked").await;

            // The admin sees a request waiting, and approves it.
            b.goto("/teams/acme").await;
            let badge =
                "//nav[@aria-label='Team']//a[contains(., 'Join requests')]/span[@class='badge']";
            let waiting = b.one(badge, "the count of waiting requests").await;
            assert_eq!(waiting.text().await.unwrap(), "1");
            waiting.click().await.unwrap();
            b.settle().await;
            b.expect_text("dan@acme.test").await;
            b.snap("join_by_discovery-requests").await;
            b.press("Approve").await;
            b.expect_text("The request was approved: they are a member now.")
                .await;
            b.expect_text("No pending requests").await;
            assert!(b
                .c
                .find_all(Locator::XPath(badge))
                .await
                .unwrap()
                .is_empty());

            // Dan is a member.
            b2.follow_in("//nav[@aria-label='Main']", "Teams").await;
            b2.follow_in("//section[@aria-labelledby='my-teams-h']", "Acme Labs")
                .await;
            b2.expect_heading("Acme Labs").await;
            assert_eq!(
                b2.members().await,
                vec!["Ada Lovelace".to_owned(), "Dan Brown".to_owned()]
            );

            // The audit log tells the story.
            b.follow_in("//nav[@aria-label='Team']", "Audit log").await;
            for line in [
                "ada created the team Acme Labs",
                "ada added the domain acme.test",
                "ada verified the domain acme.test by DNS",
                "ada turned discovery on",
                "dan asked to join",
                "ada approved the request of dan to join",
                "dan joined after their request was approved",
            ] {
                b.expect_text(line).await;
            }
        },
    )
    .await;
}
