//! A real OpenID provider for the sign-in tests: `oidc-provider-mock`
//! (PyPI), started as a child process on a free loopback port and killed
//! when dropped. It signs ID tokens with its own key, serves discovery and
//! its keys, and lets a test choose the person at the authorize step by
//! posting its form (`sub`), with the claims set beforehand by `PUT
//! /users/{sub}`; it accepts any client id and secret, and does not check
//! PKCE (the unit tests of `domain::oidc` cover ours).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub struct Mock {
    /// The issuer, as its ID tokens name it (`http://127.0.0.1:<port>`).
    pub issuer: String,
    child: Child,
    http: reqwest::Client,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Mock {
    /// A running provider, or None (with the reason printed) when
    /// `oidc-provider-mock` is not installed.
    pub async fn start(test: &str) -> Option<Mock> {
        let installed = Command::new("python3")
            .args(["-c", "import oidc_provider_mock"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            super::skip(
                test,
                "oidc-provider-mock is not installed (python3 -m pip install oidc-provider-mock)",
            );
            return None;
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new("python3")
            .args(["-m", "oidc_provider_mock", "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("oidc-provider-mock starts");
        postroom_server::state::use_ring_by_default();
        let mock = Mock {
            issuer: format!("http://127.0.0.1:{port}"),
            child,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let url = format!("{}/.well-known/openid-configuration", mock.issuer);
            if let Ok(r) = mock.http.get(&url).send().await {
                if r.status().is_success() {
                    return Some(mock);
                }
            }
            assert!(
                Instant::now() < deadline,
                "oidc-provider-mock did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Sets the claims of the person `sub` (`email`, `email_verified`, ...).
    pub async fn set_user(&self, sub: &str, claims: Value) {
        let r = self
            .http
            .put(format!("{}/users/{sub}", self.issuer))
            .json(&claims)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "PUT /users/{sub}: {}", r.status());
    }

    async fn answer(&self, authorize_url: &str, form: &[(&str, &str)]) -> String {
        assert!(
            authorize_url.starts_with(&self.issuer),
            "not this provider's URL: {authorize_url}"
        );
        let r = self
            .http
            .post(authorize_url)
            .form(form)
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_redirection(),
            "authorize answered {}",
            r.status()
        );
        r.headers()["location"].to_str().unwrap().to_owned()
    }

    /// Signs `sub` in at the authorize step; the redirect back to us.
    pub async fn authorize(&self, authorize_url: &str, sub: &str) -> String {
        self.answer(authorize_url, &[("sub", sub)]).await
    }

    /// Refuses consent; the redirect back to us (with `error=access_denied`).
    pub async fn deny(&self, authorize_url: &str) -> String {
        self.answer(authorize_url, &[("action", "deny")]).await
    }
}
