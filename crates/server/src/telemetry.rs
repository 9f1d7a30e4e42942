//! Logs (text or JSON, level from `RUST_LOG`) and the Prometheus recorder.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Sets up logging for the process; later calls do nothing. Warnings and
/// errors are also kept, the last few, for the operator's overview page.
pub fn init_logging(format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    // rustls logs what a client got wrong in its handshake as warnings:
    // anyone on the network could fill the log with them.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,rustls=error"));
    // Colours only for a person at a terminal (they cost time on every
    // request span, and a log file or collector does not want them).
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none());
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(RecentProblems);
    let _ = match format {
        LogFormat::Json => registry.with(fmt.json().flatten_event(true)).try_init(),
        LogFormat::Text => registry.with(fmt).try_init(),
    };
}

/// How many warnings and errors [`recent_problems`] keeps.
const KEPT_PROBLEMS: usize = 20;

/// A warning or error the server logged.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Problem {
    /// When, as RFC 3339.
    pub at: String,
    pub level: &'static str,
    pub target: String,
    /// The message and its fields, as one line.
    pub text: String,
}

fn problems() -> &'static std::sync::Mutex<std::collections::VecDeque<Problem>> {
    static PROBLEMS: OnceLock<std::sync::Mutex<std::collections::VecDeque<Problem>>> =
        OnceLock::new();
    PROBLEMS.get_or_init(Default::default)
}

/// The last warnings and errors logged, newest first.
pub fn recent_problems() -> Vec<Problem> {
    let kept = problems().lock().unwrap_or_else(|e| e.into_inner());
    kept.iter().rev().cloned().collect()
}

/// The layer that keeps the last warnings and errors.
struct RecentProblems;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for RecentProblems {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let level = *event.metadata().level();
        if level > tracing::Level::WARN {
            return;
        }
        let mut line = Line::default();
        event.record(&mut line);
        let problem = Problem {
            at: crate::clock::rfc3339(crate::clock::Clock::System.now()),
            level: if level == tracing::Level::ERROR {
                "error"
            } else {
                "warning"
            },
            target: event.metadata().target().to_owned(),
            text: line.0,
        };
        let mut kept = problems().lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() == KEPT_PROBLEMS {
            kept.pop_front();
        }
        kept.push_back(problem);
    }
}

/// An event's message, then its other fields as `name=value`.
#[derive(Default)]
struct Line(String);

impl tracing::field::Visit for Line {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        use std::fmt::Write as _;
        if field.name() == "message" {
            let rest = std::mem::take(&mut self.0);
            let _ = write!(self.0, "{value:?}");
            if !rest.is_empty() {
                self.0.push(' ');
                self.0.push_str(&rest);
            }
        } else {
            if !self.0.is_empty() {
                self.0.push(' ');
            }
            let _ = write!(self.0, "{}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "message" {
            self.record_debug(field, &format_args!("{value}"));
        } else {
            self.record_debug(field, &value);
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt as _;

    #[test]
    fn the_last_warnings_and_errors_are_kept_newest_first() {
        let subscriber = tracing_subscriber::registry().with(RecentProblems);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("not kept");
            for n in 0..KEPT_PROBLEMS {
                tracing::warn!(n, "filler");
            }
            tracing::error!(error = "connection refused", "sending mail failed");
        });
        let kept = recent_problems();
        assert_eq!(kept.len(), KEPT_PROBLEMS, "only the last few are kept");
        assert_eq!(kept[0].level, "error");
        assert_eq!(
            kept[0].text,
            r#"sending mail failed error="connection refused""#
        );
        assert!(kept.iter().all(|p| !p.text.contains("not kept")));
    }
}
