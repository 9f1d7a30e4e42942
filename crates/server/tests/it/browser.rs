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

use std::path::{Path, PathBuf};

use crate::common::PASSWORD;
use fantoccini::Locator;
use postroom_server::clock::MINUTE;
use serde_json::json;

use crate::common::browser::*;

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
        |c| c.terms_url = Some("https://example.com/terms".into()),
        |w| async move {
            let b = &w.b;
            b.goto("/").await;
            b.expect_heading("Your account and your teams, on your own server")
                .await;
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
            // What Home itself says (the header's sync status is the live
            // state, not a promise).
            let page =
                b.c.find(Locator::Css("main"))
                    .await
                    .expect("the page's main part")
                    .text()
                    .await
                    .unwrap();
            assert!(
                !page.contains("not confirmed"),
                "the address is confirmed: {page}"
            );
            // Home shows what there is and the next useful step, not
            // promises of what this server does not do.
            b.expect_text("Next step: Work with your team").await;
            b.expect_text("You are not in a team yet.").await;
            b.expect_text("Recent activity").await;
            for promise in ["synced", "Sync", "seats"] {
                assert!(!page.contains(promise), "Home mentions {promise:?}: {page}");
            }
            // Only topics something sends are offered.
            b.goto("/settings/notifications").await;
            let page = b.text().await;
            assert!(page.contains("Security"), "{page}");
            for topic in ["Usage", "Monitors", "Comments"] {
                assert!(!page.contains(topic), "{topic} is offered: {page}");
            }
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

/// A9 on the sign-in page: past half the per-address limit the page asks
/// for the captcha in words that stay true once it is solved, and keeps
/// the login; past the limit it says how long to wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_under_the_rate_limit_says_what_to_do() {
    run(
        "sign_in_under_the_rate_limit_says_what_to_do",
        |c| {
            c.captcha = postroom_server::config::CaptchaMode::Auto;
            c.captcha_difficulty = 1000;
        },
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;
            b.goto("/sign-in").await;
            // Half of the per-address limit (10 in 5 minutes) needs no captcha.
            for _ in 0..5 {
                b.sign_in_here("ada", "not the password", false).await;
                b.expect_heading("Sign in to Postroom").await;
            }
            b.sign_in_here("ada", "not the password", false).await;
            b.expect_text("One more step: this page checks that you are not a robot.")
                .await;
            b.expect_text("Verified: you are not a robot.").await;
            b.expect_text("Type your password again.").await;
            let page = b.text().await;
            assert!(!page.contains("Please complete the check"), "{page}");
            assert_eq!(
                b.field("Email or username")
                    .await
                    .prop("value")
                    .await
                    .unwrap()
                    .as_deref(),
                Some("ada")
            );
            // With the check solved each time, the attempts go on to the limit.
            for _ in 0..4 {
                b.expect_text("Verified: you are not a robot.").await;
                b.fill("Password", "still not the password").await;
                b.press("Sign in").await;
                b.expect_heading("Sign in to Postroom").await;
            }
            b.expect_text("Verified: you are not a robot.").await;
            b.fill("Password", "still not the password").await;
            b.press("Sign in").await;
            b.expect_text("Too many attempts. Try again in").await;
            let page = b.text().await;
            assert!(
                page.contains("minute"),
                "the page says how long to wait: {page}"
            );
            assert!(!page.contains("try again later"), "{page}");
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

            b.select("Category", "Your data").await;
            b.fill("Subject", "Sync stops after ten minutes").await;
            b.fill(
                "How can we help?",
                "Since yesterday my collections stop syncing.\nRestarting helps for a while.",
            )
            .await;
            b.press("Send request").await;
            b.expect_text("Your request was sent. We will answer by email.")
                .await;
            let row = b
                .one(
                    "//table//tr[td[normalize-space(.)='Sync stops after ten minutes']]",
                    "the request's row",
                )
                .await
                .text()
                .await
                .unwrap();
            assert!(row.contains("Your data"), "{row}");
            assert!(row.contains("open"), "{row}");
            assert!(row.contains("just now"), "{row}");

            let mail =
                w.t.mail_to(
                    "help@example.com",
                    "Support request: Sync stops after ten minutes",
                )
                .await;
            let mail = crate::common::unfold(&mail);
            assert!(mail.contains("ada@example.com"), "{mail}");
            assert!(mail.contains("Restarting helps for a while."), "{mail}");
        },
    )
    .await;
}

/// P10 without `support_email`: the page says that requests are only kept,
/// and promises no answer by mail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_without_an_address_promises_no_mail() {
    run(
        "support_without_an_address_promises_no_mail",
        |_| {},
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;
            b.sign_in("ada", PASSWORD, false).await;
            b.follow("Support").await;
            b.expect_text("This server has no support address set up")
                .await;
            b.fill("Subject", "Where is my data?").await;
            b.fill("How can we help?", "Just asking.").await;
            b.press("Send request").await;
            b.expect_text("Your request was saved on this server.")
                .await;
            let page = b.text().await;
            assert!(!page.contains("by email"), "{page}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_the_account() {
    run(
        "delete_the_account",
        |_| {},
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;
            b.sign_in("ada", PASSWORD, false).await;
            b.expect_heading("Hello, Ada Lovelace").await;
            b.goto("/settings/account").await;
            b.expect_heading("Settings").await;
            let download = b
                .one(
                    "//a[normalize-space(.)='Download my data']",
                    "the download link",
                )
                .await;
            assert_eq!(
                download.attr("href").await.unwrap().as_deref(),
                Some("/api/v1/me/export")
            );

            // Fills in the deletion form and answers its dialog.
            let delete = |password: &'static str, tick: bool| async move {
                b.fill("Password to confirm", password).await;
                if tick {
                    b.tick(
                        "I understand that my account and its data are deleted for good",
                        true,
                    )
                    .await;
                }
                b.press_confirming(
                    "//section[@aria-labelledby='delete-h']",
                    "Delete my account",
                    "Delete the account ada for good?",
                )
                .await;
            };
            // Without the box ticked nothing happens.
            delete(PASSWORD, false).await;
            b.expect_text("Tick the box to confirm that the account is to be deleted")
                .await;
            // A wrong password is refused.
            delete("not my password", true).await;
            b.expect_text("The password is not correct").await;

            delete(PASSWORD, true).await;
            b.expect_heading("Sign in to Postroom").await;
            b.expect_text("Your account was deleted.").await;
            assert!(b.cookie("postroom_accounts").await.is_none());
            // The account no longer signs in.
            b.fill("Email or username", "ada").await;
            b.fill("Password", PASSWORD).await;
            b.press("Sign in").await;
            b.expect_heading("Sign in to Postroom").await;
            assert!(b.cookie("postroom_accounts").await.is_none());
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_expire_and_a_new_password_revokes_them() {
    run(
        "api_keys_expire_and_a_new_password_revokes_them",
        |_| {},
        |w| async move {
            let b = &w.b;
            w.account("ada", "Ada Lovelace").await;
            b.sign_in("ada", PASSWORD, false).await;
            b.expect_heading("Hello, Ada Lovelace").await;
            b.goto("/settings/api-keys").await;
            b.expect_text("You have no API keys yet.").await;
            b.fill("Name", "laptop").await;
            b.select("Expires", "in 30 days").await;
            b.press("Create key").await;
            b.expect_text("Copy it now").await;
            b.expect_text("expires").await;
            let key = b.one("//*[@id='new-key']", "the new key").await;
            let key = key.text().await.unwrap();
            let status =
                w.t.client
                    .get(w.t.url("/api/v1/me"))
                    .header("x-api-key", key.trim())
                    .send()
                    .await
                    .unwrap()
                    .status();
            assert_eq!(status, 200);

            b.goto("/settings/account").await;
            b.expect_text("revokes your API keys").await;
            b.fill("Current password", PASSWORD).await;
            b.fill("New password", "a brand new passphrase").await;
            b.press("Change password").await;
            b.goto("/settings/api-keys").await;
            b.expect_text("You have no API keys yet.").await;
            let status =
                w.t.client
                    .get(w.t.url("/api/v1/me"))
                    .header("x-api-key", key.trim())
                    .send()
                    .await
                    .unwrap()
                    .status();
            assert_eq!(status, 401);
        },
    )
    .await;
}
