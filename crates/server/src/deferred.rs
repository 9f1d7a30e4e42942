//! Work that runs after the reply has gone. A request whose answer must not
//! depend on what it finds (a password reset for an address that may or may
//! not have an account) replies first and hands the lookup and the writes to
//! this queue, so that neither its time nor its answer tells the caller
//! anything.
//!
//! Jobs run one at a time, in the order they were handed over, so that a
//! later request's effects (a newer reset link replacing an older one) land
//! after an earlier one's. A failed job is logged; nobody waits for it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::{mpsc, Notify};

type Job = (
    &'static str,
    Pin<Box<dyn Future<Output = crate::error::Result<()>> + Send>>,
);

#[derive(Clone)]
pub struct Deferred {
    jobs: mpsc::UnboundedSender<Job>,
    /// Jobs handed over and not yet finished, and the signal of each finish.
    pending: Arc<(AtomicUsize, Notify)>,
}

impl Deferred {
    /// Starts the runner on the current tokio runtime; it stops when every
    /// clone of this handle is gone.
    pub fn start() -> Deferred {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let pending = Arc::new((AtomicUsize::new(0), Notify::new()));
        let runner_pending = pending.clone();
        tokio::spawn(async move {
            while let Some((what, job)) = queue.recv().await {
                if let Err(e) = job.await {
                    tracing::error!(job = what, error = ?e, "work after a reply failed");
                }
                runner_pending.0.fetch_sub(1, Ordering::AcqRel);
                runner_pending.1.notify_waiters();
            }
        });
        Deferred { jobs, pending }
    }

    /// Runs `job` after the jobs handed over before it; `what` names it in
    /// the log if it fails.
    pub fn run(
        &self,
        what: &'static str,
        job: impl Future<Output = crate::error::Result<()>> + Send + 'static,
    ) {
        self.pending.0.fetch_add(1, Ordering::AcqRel);
        if self.jobs.send((what, Box::pin(job))).is_err() {
            // The runner is gone: the runtime is shutting down.
            self.pending.0.fetch_sub(1, Ordering::AcqRel);
            tracing::warn!(job = what, "work after a reply was dropped at shutdown");
        }
    }

    /// Resolves once every job handed over so far has finished.
    pub async fn settled(&self) {
        loop {
            let notified = self.pending.1.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.pending.0.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn jobs_run_in_order_and_settle() {
        let deferred = Deferred::start();
        let seen = Arc::new(Mutex::new(Vec::new()));
        for n in 0..20 {
            let seen = seen.clone();
            deferred.run("test", async move {
                // Later jobs are quicker: order must come from the queue.
                tokio::time::sleep(std::time::Duration::from_millis(20 - n)).await;
                seen.lock().unwrap().push(n);
                Ok(())
            });
        }
        deferred.run("failing", async {
            Err(crate::error::Error::Internal(anyhow::anyhow!("boom")))
        });
        deferred.settled().await;
        assert_eq!(*seen.lock().unwrap(), (0..20).collect::<Vec<_>>());
    }
}
