//! Password hashing (argon2id) and strength checks (zxcvbn). Both are CPU
//! work, so they run on a pool of their own, one thread per core: a flood of
//! sign-ins queues here instead of starving the request runtime.
//!
//! The pool's threads live as long as the [`Hasher`]. Each argon2id hash
//! allocates its whole memory cost (19 MiB by default), and the allocator
//! keeps a freed block in the arena of the thread that used it; on tokio's
//! blocking pool hashes wandered over many threads and arenas, and a sign-up
//! soak held ~350 MiB. With fixed threads that memory is one block per core.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{Error, Result};

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    /// Work for the hashing threads, taken in order; they stop when every
    /// clone of the hasher is gone.
    jobs: mpsc::Sender<Job>,
    /// A hash of a random password, verified against when the account does
    /// not exist so that both cases take the same time.
    dummy_hash: Arc<String>,
}

impl Hasher {
    pub fn new(memory_kib: u32, iterations: u32) -> anyhow::Result<Hasher> {
        let params = Params::new(memory_kib, iterations, 1, None)
            .map_err(|e| anyhow::anyhow!("argon2 parameters: {e}"))?;
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        let dummy = argon
            .hash_password(super::tokens::random_token(16).as_bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
            .to_string();
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..cores {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("postroom-hash-{n}"))
                .spawn(move || loop {
                    let job = queue.lock().map(|q| q.recv());
                    match job {
                        Ok(Ok(job)) => {
                            // A panic fails that one request, not the thread.
                            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                        }
                        _ => return,
                    }
                })
                .context("starting a hashing thread")?;
        }
        Ok(Hasher {
            params,
            jobs,
            dummy_hash: Arc::new(dummy),
        })
    }

    fn argon(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Runs `f` on a hashing thread when one is free.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                // Nobody waits any more (the client went away): skip the work.
                if !done.is_closed() {
                    let _ = done.send(f());
                }
            }))
            .map_err(|_| anyhow::anyhow!("the hashing threads have stopped"))?;
        Ok(result.await.context("hashing task failed")?)
    }

    pub async fn hash(&self, password: &str) -> Result<String> {
        let argon = self.argon();
        let password = password.to_owned();
        self.blocking(move || {
            let salt = SaltString::generate(&mut rand::rngs::OsRng);
            argon
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
        })
        .await?
        .map_err(|e| Error::Internal(anyhow::anyhow!("argon2: {e}")))
    }

    /// Checks `password` against a stored hash, or against a dummy hash when
    /// there is no account, taking the same time either way.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool> {
        let argon = self.argon();
        let password = password.to_owned();
        let exists = hash.is_some();
        let hash = hash
            .map(str::to_owned)
            .unwrap_or_else(|| self.dummy_hash.as_str().to_owned());
        let ok = self
            .blocking(move || match PasswordHash::new(&hash) {
                Ok(parsed) => argon.verify_password(password.as_bytes(), &parsed).is_ok(),
                Err(_) => false,
            })
            .await?;
        Ok(ok && exists)
    }

    /// Rejects passwords that are too short, too long or easy to guess. The
    /// person's own username and email count as easy to guess.
    pub async fn check_strength(
        &self,
        field: &'static str,
        password: &str,
        user_inputs: &[&str],
    ) -> Result<()> {
        postroom_core::values::check_password_length(password)
            .map_err(|e| Error::field(field, "weak_password", e.0))?;
        let password = password.to_owned();
        let inputs: Vec<String> = user_inputs.iter().map(|s| s.to_string()).collect();
        let verdict = self
            .blocking(move || {
                // zxcvbn's cost grows with length; the first 100 characters decide.
                let sample: String = password.chars().take(100).collect();
                let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                let entropy = zxcvbn::zxcvbn(&sample, &inputs);
                if entropy.score() >= zxcvbn::Score::Three {
                    return None;
                }
                let feedback = entropy.feedback();
                let warning = feedback.and_then(|f| f.warning()).map(|w| w.to_string());
                let suggestion = feedback
                    .and_then(|f| f.suggestions().first())
                    .map(|s| s.to_string());
                Some(match (warning, suggestion) {
                    (Some(w), Some(s)) => format!("password is too easy to guess: {w} {s}"),
                    (Some(w), None) => format!("password is too easy to guess: {w}"),
                    (None, Some(s)) => format!("password is too easy to guess. {s}"),
                    (None, None) => {
                        "password is too easy to guess; add more words or characters".to_owned()
                    }
                })
            })
            .await?;
        match verdict {
            None => Ok(()),
            Some(reason) => Err(Error::field(field, "weak_password", reason)),
        }
    }
}
