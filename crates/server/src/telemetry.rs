//! Logs (text or JSON, level from `RUST_LOG`) and the Prometheus recorder.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Sets up logging for the process; later calls do nothing.
pub fn init_logging(format: LogFormat) {
    // rustls logs what a client got wrong in its handshake as warnings:
    // anyone on the network could fill the log with them.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,rustls=error"));
    // Colours only for a person at a terminal (they cost time on every
    // request span, and a log file or collector does not want them).
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none());
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
            .expect("bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (an embedding program);
        // then these metrics go there, and /metrics shows ours as empty.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Folds recorded histogram samples into their buckets every few seconds.
/// Without it, samples pile up in memory until someone scrapes `/metrics`.
pub async fn metrics_upkeep() {
    let mut every = tokio::time::interval(Duration::from_secs(5));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        metrics_handle().run_upkeep();
    }
}
