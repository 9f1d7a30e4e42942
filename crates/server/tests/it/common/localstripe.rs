//! A Stripe-compatible server for the payment tests: localstripe (PyPI),
//! one per test binary on a free loopback port, started by the first test
//! that asks and stopped when the binary exits. Every test makes its own
//! customers, so tests share it without seeing each other's payments.
//! What localstripe supports, and how it differs from Stripe, is written
//! in `postroom_server::billing`.

use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use postroom_server::billing::Stripe;
use serde_json::Value;

/// Any key of this shape opens localstripe.
pub const SECRET_KEY: &str = "sk_test_postroom";

/// The server's process id, for [`stop`] at exit.
static PID: AtomicI32 = AtomicI32::new(0);
/// The server's base URL, or None when localstripe is not installed.
static SERVER: OnceLock<Option<String>> = OnceLock::new();

extern "C" fn stop() {
    let pid = PID.load(Ordering::SeqCst);
    if pid > 0 {
        // SAFETY: sends a signal to the child this binary started.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
    }
}

/// Starts localstripe on a free port; None when it is not installed.
fn start() -> Option<String> {
    let mut last_error = String::new();
    for _ in 0..5 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut child = match Command::new("localstripe")
            .args(["--port", &port.to_string(), "--from-scratch"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => panic!("localstripe does not start: {e}"),
        };
        PID.store(child.id() as i32, Ordering::SeqCst);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // SAFETY: registers a plain function with no state of its own.
                unsafe {
                    libc::atexit(stop);
                }
                return Some(format!("http://127.0.0.1:{port}"));
            }
            if let Ok(Some(status)) = child.try_wait() {
                // A version manager's shim answers 127 when the command is
                // not installed for the current interpreter.
                if status.code() == Some(127) {
                    return None;
                }
                last_error = format!("localstripe exited with {status}");
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        PID.store(0, Ordering::SeqCst);
    }
    panic!("localstripe did not start: {last_error}");
}

/// The shared server, as a test sees it.
pub struct LocalStripe {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    http: reqwest::Client,
}

impl LocalStripe {
    /// The running server, or None (with the reason printed) when
    /// localstripe is not installed.
    pub fn get(test: &str) -> Option<LocalStripe> {
        let Some(url) = SERVER.get_or_init(start).clone() else {
            super::skip(
                test,
                "localstripe is not installed (pip install localstripe)",
            );
            return None;
        };
        postroom_server::state::use_ring_by_default();
        Some(LocalStripe {
            url,
            http: reqwest::Client::new(),
        })
    }

    /// Our client of it.
    pub fn stripe(&self) -> Stripe {
        Stripe::new(self.url.parse().unwrap(), SECRET_KEY.to_owned().into()).unwrap()
    }

    /// Sends a form to its API with the secret key; the JSON answer and
    /// the status.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(SECRET_KEY)
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get_json(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(SECRET_KEY)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// A card as the browser makes one (`pm_...`), expiring 12/2030.
    pub async fn card(&self, number: &str) -> String {
        let (status, pm) = self
            .post(
                "/v1/payment_methods",
                &[
                    ("type", "card"),
                    ("card[number]", number),
                    ("card[exp_month]", "12"),
                    ("card[exp_year]", "2030"),
                    ("card[cvc]", "123"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{pm}");
        pm["id"].as_str().unwrap().to_owned()
    }

    /// Completes (or fails) 3-D Secure as the cardholder would in the
    /// browser; the intent as it then stands.
    pub async fn authenticate(&self, intent: &str, client_secret: &str, success: bool) -> Value {
        let (status, pi) = self
            .post(
                &format!("/v1/payment_intents/{intent}/_authenticate"),
                &[
                    ("client_secret", client_secret),
                    ("success", if success { "true" } else { "false" }),
                ],
            )
            .await;
        assert_eq!(status, 200, "{pi}");
        pi
    }

    /// Has every event of `events` posted, signed with `secret`, to `url`.
    pub async fn register_webhook(&self, id: &str, url: &str, secret: &str, events: &[&str]) {
        let mut form = vec![("url", url), ("secret", secret)];
        form.extend(events.iter().map(|e| ("events[]", *e)));
        let r = self
            .http
            .post(format!("{}/_config/webhooks/{id}", self.url))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "webhook: {}", r.status());
    }
}
