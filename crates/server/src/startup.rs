//! Building and running the server: [`Application::build`] binds the listener
//! (port 0 picks a free one, for tests), loads the TLS certificate when there
//! is one, and connects the store; [`Application::run`] starts the background
//! tasks and serves (plain HTTP through `axum::serve`, or HTTPS through
//! [`crate::tls::serve`]) until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::clock::{Clock, DAY, HOUR};
use crate::config::Settings;
use crate::state::App;
use crate::store;
use crate::tls::Certificates;

pub struct Application {
    listener: TcpListener,
    app: App,
    addr: SocketAddr,
    /// The certificate of built-in HTTPS, when it is on.
    tls: Option<Arc<Certificates>>,
    /// With built-in HTTPS and `redirect_http`: the plain HTTP listener
    /// that sends browsers on to `public_url`.
    redirect: Option<TcpListener>,
    /// Held until `run` returns.
    _lock: crate::files::DataDirLock,
}

impl Application {
    pub async fn build(settings: Settings, clock: Clock) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("listening on {}", settings.listen))?;
        let addr = listener.local_addr()?;
        let redirect = match settings.redirect_http {
            Some(at) => Some(
                TcpListener::bind(at)
                    .await
                    .with_context(|| format!("listening on {at} (redirect_http)"))?,
            ),
            None => None,
        };
        let lock = crate::files::lock_data_dir(&settings.data_dir)
            .with_context(|| format!("locking the data directory {}", settings.data_dir.display()))?
            .map_err(|held| {
                anyhow::anyhow!(
                    "another postroom server{} is using the data directory {}: stop it first, or give this one another data directory (POSTROOM_DATA_DIR)",
                    held.pid.map(|p| format!(" (process {p})")).unwrap_or_default(),
                    settings.data_dir.display()
                )
            })?;
        // Validation checked the files already; they are read again here, as
        // they are now.
        let tls = match &settings.tls {
            Some(files) => Some(Certificates::load(files)?),
            None => None,
        };
        let mut settings = settings;
        if settings.public_url.port() == Some(0) {
            // The default public URL follows the listen address; with port 0
            // the real port is only known now.
            let _ = settings.public_url.set_port(Some(addr.port()));
        }
        crate::telemetry::metrics_handle();
        let app = App::new(settings, clock).await?;
        Ok(Application {
            listener,
            app,
            addr,
            tls,
            redirect,
            _lock: lock,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn app(&self) -> &App {
        &self.app
    }

    /// Where plain HTTP is redirected to HTTPS, when it is.
    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The certificate in use, with built-in HTTPS.
    pub fn tls(&self) -> Option<Arc<Certificates>> {
        self.tls.clone()
    }

    /// Serves until `shutdown` resolves, then finishes open requests.
    pub async fn run(
        self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        // Alive from now: a health check may come before its first round.
        self.app.mail_worker.beat();
        let worker = tokio::spawn(crate::mail::worker::run(self.app.clone(), stop_rx.clone()));
        let janitor = tokio::spawn(janitor(self.app.clone(), stop_rx.clone()));
        let billing = tokio::spawn(billing_worker(self.app.clone(), stop_rx.clone()));
        let certificates = self
            .tls
            .clone()
            .map(|certs| tokio::spawn(crate::tls::watch(certs, stop_rx)));
        let listener = tokio::spawn(store::cache::listen(self.app.store.clone()));
        let upkeep = tokio::spawn(crate::telemetry::metrics_upkeep());
        let router = crate::http::router(self.app.clone());
        let app = self.app.clone();
        let mut stopping = stop_tx.subscribe();
        let redirect = self.redirect.map(|listener| {
            let public_url = self.app.settings.public_url.clone();
            tokio::spawn(async move {
                let served = axum::serve(listener, redirect_router(public_url))
                    .with_graceful_shutdown(async move {
                        let _ = stopping.wait_for(|stop| *stop).await;
                    })
                    .await;
                if let Err(e) = served {
                    tracing::warn!(error = %e, "the HTTP redirect listener stopped");
                }
            })
        });
        let shutdown = async move {
            shutdown.await;
            app.closing.send_replace(true);
        };
        let served = match self.tls.clone() {
            Some(certs) => crate::tls::serve(self.listener, certs, router, shutdown).await,
            None => {
                axum::serve(
                    self.listener,
                    router.into_make_service_with_connect_info::<SocketAddr>(),
                )
                .with_graceful_shutdown(shutdown)
                .await
            }
        };
        let _ = stop_tx.send(true);
        let _ = tokio::join!(worker, janitor, billing);
        if let Some(redirect) = redirect {
            let _ = redirect.await;
        }
        if let Some(certificates) = certificates {
            let _ = certificates.await;
        }
        listener.abort();
        upkeep.abort();
        self.app.store.close().await;
        served.context("serving HTTP")
    }
}

/// Plain HTTP beside built-in HTTPS (`redirect_http`): every request is sent
/// on, 308, to the same path and query at `public_url`. The request's Host
/// is not used, so the answer never points anywhere but this server.
fn redirect_router(public_url: url::Url) -> axum::Router {
    let base = public_url.as_str().trim_end_matches('/').to_owned();
    axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let base = base.clone();
        async move {
            let path = uri.path_and_query().map_or("/", |p| p.as_str());
            let to = format!("{base}{path}");
            (
                axum::http::StatusCode::PERMANENT_REDIRECT,
                [(axum::http::header::LOCATION, to)],
            )
        }
    })
}

/// Deletes what has expired: sessions, sign-ins left at their second step,
/// used or stale link tokens, programs' sign-in requests, passkey
/// ceremonies, old rate limit windows and spent captchas; drops cache
/// entries past their age.
async fn janitor(app: App, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
            _ = stop.changed() => return,
        }
        let now = app.clock.now();
        app.store.cache().sweep(now);
        let result: Result<(), sqlx::Error> = async {
            let mut tx = app.store.begin().await?;
            store::sessions::delete_expired(&mut tx, now).await?;
            store::two_factor::delete_expired_challenges(&mut tx, now).await?;
            store::tokens::delete_stale(&mut tx, now - 7 * DAY).await?;
            // Kept an hour past their expiry, so that a spent authorization
            // code used again still ends the session it gave.
            store::oauth::delete_expired(&mut tx, now - HOUR).await?;
            store::oidc::delete_expired_requests(&mut tx, now).await?;
            store::passkeys::delete_expired_ceremonies(&mut tx, now).await?;
            store::limits::delete_windows_before(&mut tx, now - 2 * HOUR).await?;
            store::limits::delete_spent_captchas(&mut tx, now).await?;
            store::items::purge_deleted(
                &mut tx,
                now - crate::domain::workspace::RESTORE_DAYS * DAY,
            )
            .await?;
            let kept = now - i64::from(app.settings.change_log_days) * DAY;
            store::sync::prune(&mut tx, kept).await?;
            store::sync::purge_resolved(&mut tx, kept).await?;
            store::billing::purge_quotes(&mut tx, now - DAY).await?;
            store::billing::purge_keys(&mut tx, now - 7 * DAY).await?;
            tx.commit().await
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(error = %e, "cleanup failed");
        }
    }
}

/// Billing's background work, every minute while a payment provider is
/// configured: renewals at each period's end, retries of unpaid invoices,
/// and reconciling payments whose outcome was never recorded.
async fn billing_worker(app: App, mut stop: watch::Receiver<bool>) {
    if app.payments().is_none() {
        return;
    }
    loop {
        if let Err(e) = crate::domain::billing::run_due(&app).await {
            tracing::error!(error = ?e, "billing renewals failed");
        }
        if let Err(e) = crate::domain::billing::reconcile(&app).await {
            tracing::error!(error = ?e, "reconciling payments failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}
