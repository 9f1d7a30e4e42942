//! Password hashing (argon2id) and strength checks (zxcvbn). Both are CPU
//! work, so they run on a pool of their own, one thread per core: a flood of
//! sign-ins queues here instead of starving the request runtime.
//!
//! The pool's threads live as long as the [`Hasher`]. Each argon2id hash
//! allocates its whole memory cost (19 MiB by default), and the allocator
//! keeps a freed block in the arena of the thread that used it; on tokio's
//! blocking pool hashes wandered over many threads and arenas, and a sign-up
//! soak held ~350 MiB. With fixed threads that memory is one block per core.
//! Verification (every sign-in) goes further and computes in a block kept by
//! each hashing thread: argon2's own API allocates and zeroes it each time,
//! which cost ~1,900 page faults per sign-in and a quarter of the hash rate.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::password_hash::PasswordHasher as _;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

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
        let dummy = argon
            .hash_password(super::tokens::random_token(16).as_bytes())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
            .to_string();
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..cores {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("postroom-hash-{n}"))
                .spawn(move || {
                    yield_to_requests();
                    loop {
                        let job = queue.lock().map(|q| q.recv());
                        match job {
                            Ok(Ok(job)) => {
                                // A panic fails that one request, not the thread.
                                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                            }
                            _ => return,
                        }
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
        let params = self.params.clone();
        let password = password.to_owned();
        self.blocking(move || hash_in_place(password.as_bytes(), params))
            .await?
            .map_err(|e| Error::Internal(anyhow::anyhow!("argon2: {e}")))
    }

    /// Checks `password` against a stored hash, or against a dummy hash when
    /// there is no account, taking the same time either way.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> Result<bool> {
        let password = password.to_owned();
        let exists = hash.is_some();
        let hash = hash
            .map(str::to_owned)
            .unwrap_or_else(|| self.dummy_hash.as_str().to_owned());
        let ok = self
            .blocking(move || verify_in_place(password.as_bytes(), &hash))
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

/// Lowers the calling hashing thread's scheduling priority (nice 10), so
/// that a thread serving requests that wakes up runs before it: a flood of
/// sign-ins then delays other sign-ins, not every other request. Hashing
/// still gets the cores whenever requests leave them idle, and about a tenth
/// of them when requests keep every core busy. (On Linux the nice value is
/// per thread.)
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread, no memory passed.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        if libc::setpriority(libc::PRIO_PROCESS, tid, HASHING_NICE) != 0 {
            tracing::debug!("could not lower the hashing threads' priority");
        }
    }
}

#[cfg(target_os = "linux")]
const HASHING_NICE: libc::c_int = 10;

thread_local! {
    /// The argon2 working memory of a hashing thread, reused by every
    /// verification on it.
    static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Zeroed argon2 working memory of `count` blocks, on transparent huge pages
/// where the kernel offers them (`madvise`, before the memory is touched):
/// argon2 reads 19 MiB in an order it cannot predict, and with 4 KiB pages
/// most of those reads also miss the TLB. Public so that the benchmark's
/// raw hash rate uses the same memory.
pub fn working_memory(count: usize) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::with_capacity(count);
    #[cfg(target_os = "linux")]
    {
        const PAGE: usize = 4096;
        let start = blocks.as_mut_ptr() as usize;
        let end = start + count * std::mem::size_of::<Block>();
        let (start, end) = (start.next_multiple_of(PAGE), end / PAGE * PAGE);
        if end > start {
            // SAFETY: the range lies inside this Vec's allocation, page
            // aligned; MADV_HUGEPAGE changes how it is backed, not its
            // contents, and failure (no THP support) changes nothing.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
            }
        }
    }
    blocks.resize(count, Block::default());
    blocks
}

/// What `PasswordHasher::hash_password` does (argon2id, a random salt, the
/// PHC string), computed in this thread's reused memory ([`BLOCKS`]).
fn hash_in_place(password: &[u8], params: Params) -> argon2::password_hash::Result<String> {
    let salt = Salt::generate();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        let count = params.block_count();
        if blocks.len() < count {
            *blocks = working_memory(count);
        }
        argon.hash_password_into_with_memory(password, &salt, &mut out, &mut blocks[..count])
    })?;
    Ok(PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt),
        hash: Some(Output::new(&out)?),
    }
    .to_string())
}

/// What `PasswordVerifier::verify_password` does, with the parameters, salt
/// and algorithm of the stored PHC string, but computed in this thread's
/// reused memory ([`BLOCKS`]) instead of a fresh allocation.
fn verify_in_place(password: &[u8], phc: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let (Ok(params), Ok(algorithm)) = (
        Params::try_from(&parsed),
        Algorithm::try_from(parsed.algorithm.as_str()),
    ) else {
        return false;
    };
    let Ok(version) = parsed.version.map(Version::try_from).transpose() else {
        return false;
    };
    let argon = Argon2::new(algorithm, version.unwrap_or_default(), params.clone());
    let mut out = vec![0u8; expected.len()];
    let computed = BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        let count = params.block_count();
        if blocks.len() < count {
            *blocks = working_memory(count);
        }
        argon.hash_password_into_with_memory(password, &salt, &mut out, &mut blocks[..count])
    });
    computed.is_ok() && bool::from(out.ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier as _;

    #[test]
    fn verifying_in_place_agrees_with_argon2() {
        // Small parameters, and two sets of them: a stored hash is checked
        // with its own parameters, whatever the current ones are.
        for (m, t) in [(64, 1), (128, 2)] {
            let argon = Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(m, t, 1, None).unwrap(),
            );
            let phc = argon.hash_password(b"right").unwrap().to_string();
            assert!(verify_in_place(b"right", &phc));
            assert!(!verify_in_place(b"wrong", &phc));
            assert!(!verify_in_place(
                b"right",
                &phc.replace("$argon2id$", "$argon2i$")
            ));
        }
        // Hashes made in place are ordinary PHC strings.
        let params = Params::new(64, 1, 1, None).unwrap();
        let phc = hash_in_place(b"right", params.clone()).unwrap();
        let parsed = PasswordHash::new(&phc).unwrap();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        assert!(argon.verify_password(b"right", &parsed).is_ok());
        assert!(argon.verify_password(b"wrong", &parsed).is_err());
        assert!(verify_in_place(b"right", &phc));
        assert!(!verify_in_place(b"right", "not a hash"));
        // A hash made by the reference implementation (the `argon2` command,
        // `-id -t 1 -k 64 -p 1`), as older versions of this server stored:
        // stored hashes keep verifying across argon2 crate upgrades.
        let reference = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0$jTb/3tBMMtrtgBlCu/7k64VopiAVsVwsoS+rSLMK+o8";
        assert!(verify_in_place(b"right", reference));
        assert!(!verify_in_place(b"wrong", reference));
        assert!(!verify_in_place(
            b"right",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ"
        ));
    }
}
