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
//!
//! That block is given back when its thread has hashed nothing for a while
//! (`password_memory_idle_secs`), and the allocator is asked to return what
//! it keeps free (`malloc_trim`): a server between sign-ins does not hold a
//! hash's memory per core. The next hash maps it again and faults it in.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::password_hash::PasswordHasher as _;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use subtle::ConstantTimeEq;

use crate::error::{Error, Result};

type Job = Box<dyn FnOnce() + Send>;

/// Work for the hashing threads, taken in order.
struct Queue {
    state: Mutex<QueueState>,
    ready: Condvar,
}

struct QueueState {
    jobs: VecDeque<Job>,
    /// Every clone of the hasher is gone: the threads finish the queue and stop.
    closed: bool,
}

/// What a hashing thread does next.
enum Next {
    Run(Job),
    /// Nothing came for the idle delay: give the working memory back.
    Release,
    Stop,
}

impl Queue {
    fn push(&self, job: Job) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.jobs.push_back(job);
        drop(state);
        self.ready.notify_one();
    }

    /// The next job; waits for one at most `idle` (if given), else as long
    /// as it takes.
    fn next(&self, idle: Option<Duration>) -> Next {
        let deadline = idle.map(|idle| Instant::now() + idle);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(job) = state.jobs.pop_front() {
                return Next::Run(job);
            }
            if state.closed {
                return Next::Stop;
            }
            state = match deadline {
                None => self
                    .ready
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return Next::Release;
                    }
                    self.ready
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }
}

/// The hashers' handle on the queue: closes it when the last clone goes.
struct Jobs(Arc<Queue>);

impl Drop for Jobs {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.closed = true;
        drop(state);
        self.0.ready.notify_all();
    }
}

#[derive(Clone)]
pub struct Hasher {
    params: Params,
    /// Work for the hashing threads; they stop when every clone of the
    /// hasher is gone.
    jobs: Arc<Jobs>,
    /// Bytes of argon2 working memory the hashing threads hold now.
    held: Arc<AtomicUsize>,
    /// A hash of a random password, verified against when the account does
    /// not exist so that both cases take the same time.
    dummy_hash: Arc<String>,
}

impl Hasher {
    /// A pool of hashing threads, one per core, each giving its working
    /// memory back after `idle` without a hash.
    pub fn new(memory_kib: u32, iterations: u32, idle: Duration) -> anyhow::Result<Hasher> {
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
        let queue = Arc::new(Queue {
            state: Mutex::new(QueueState {
                jobs: VecDeque::new(),
                closed: false,
            }),
            ready: Condvar::new(),
        });
        // Made first, so that if a thread fails to start, the ones started
        // stop with it.
        let jobs = Jobs(queue.clone());
        let held = Arc::new(AtomicUsize::new(0));
        for n in 0..cores {
            let (queue, held) = (queue.clone(), held.clone());
            std::thread::Builder::new()
                .name(format!("postroom-hash-{n}"))
                .spawn(move || hashing_thread(&queue, idle, &held))
                .context("starting a hashing thread")?;
        }
        Ok(Hasher {
            params,
            jobs: Arc::new(jobs),
            held,
            dummy_hash: Arc::new(dummy),
        })
    }

    /// Bytes of argon2 working memory the hashing threads hold now: one
    /// block per thread that hashed within the idle delay, else none.
    pub fn working_memory_held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Runs `f` on a hashing thread when one is free.
    async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs.0.push(Box::new(move || {
            // Nobody waits any more (the client went away): skip the work.
            if !done.is_closed() {
                let _ = done.send(f());
            }
        }));
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
        // An account without a password (signed up through a provider) is
        // checked against the dummy hash like a missing account: the same
        // time, and never a match.
        let hash = hash.filter(|h| has_password(h));
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

/// A hashing thread: runs jobs in order; after `idle` without one, gives its
/// working memory back and waits without a limit for the next.
fn hashing_thread(queue: &Queue, idle: Duration, held: &AtomicUsize) {
    yield_to_requests();
    // What this thread has added to `held`.
    let mut mine = 0;
    let mut account = |now: usize| {
        if now > mine {
            held.fetch_add(now - mine, Ordering::Relaxed);
        } else {
            held.fetch_sub(mine - now, Ordering::Relaxed);
        }
        mine = now;
    };
    loop {
        let holding = BLOCKS.with(|b| b.borrow().as_ref().map_or(0, WorkingMemory::bytes));
        account(holding);
        match queue.next((holding > 0).then_some(idle)) {
            Next::Run(job) => {
                // A panic fails that one request, not the thread.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
            }
            Next::Release => {
                BLOCKS.with(|b| b.borrow_mut().take());
                account(0);
                give_back_free_memory();
            }
            Next::Stop => {
                BLOCKS.with(|b| b.borrow_mut().take());
                account(0);
                return;
            }
        }
    }
}

/// Asks the allocator to return the free memory it keeps to the kernel.
/// glibc keeps what the request threads freed in their arenas (a sign-in's
/// buffers, the hash's job) and returns little of it by itself.
fn give_back_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it takes the arenas'
    // locks like any allocation does.
    unsafe {
        libc::malloc_trim(0);
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
    /// hash on it until the thread gives it back.
    static BLOCKS: std::cell::RefCell<Option<WorkingMemory>> = const { std::cell::RefCell::new(None) };
}

/// Runs `f` in this thread's working memory of at least `count` blocks,
/// mapped first if there is none or too little.
fn with_working_memory<T>(count: usize, f: impl FnOnce(&mut [Block]) -> T) -> T {
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        if blocks.as_ref().is_none_or(|b| b.len() < count) {
            // The old block goes before the new one is mapped.
            *blocks = None;
            *blocks = Some(working_memory(count));
        }
        let memory = blocks.as_mut().expect("mapped above");
        f(&mut memory[..count])
    })
}

/// Zeroed argon2 working memory of `count` blocks, mapped from the kernel
/// on its own, so that dropping it gives it back at once (from the
/// allocator, a block this size would stay in an arena), and on transparent
/// huge pages where the kernel offers them (`madvise`, before the memory is
/// touched): argon2 reads 19 MiB in an order it cannot predict, and with
/// 4 KiB pages most of those reads also miss the TLB. Public so that the
/// benchmark's raw hash rate uses the same memory.
pub fn working_memory(count: usize) -> WorkingMemory {
    WorkingMemory::new(count)
}

/// Argon2 working memory: a slice of blocks in a mapping of its own.
pub struct WorkingMemory {
    #[cfg(unix)]
    blocks: std::ptr::NonNull<Block>,
    #[cfg(unix)]
    count: usize,
    #[cfg(not(unix))]
    blocks: Vec<Block>,
}

// SAFETY: the mapping is owned by this value alone, like a Vec's buffer.
#[cfg(unix)]
unsafe impl Send for WorkingMemory {}

impl WorkingMemory {
    #[cfg(unix)]
    fn new(count: usize) -> WorkingMemory {
        let bytes = count.max(1) * std::mem::size_of::<Block>();
        // SAFETY: a fresh private anonymous mapping; nothing else refers to
        // it. The kernel hands it out zeroed and page aligned, and a block
        // of zeros is a valid `Block` (128 integers), aligned to 64 bytes.
        unsafe {
            let ptr = libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            );
            if ptr == libc::MAP_FAILED {
                std::alloc::handle_alloc_error(
                    std::alloc::Layout::from_size_align(bytes, 4096).expect("a valid layout"),
                );
            }
            // Huge pages: failure (no THP support) changes nothing.
            #[cfg(target_os = "linux")]
            libc::madvise(ptr, bytes, libc::MADV_HUGEPAGE);
            WorkingMemory {
                blocks: std::ptr::NonNull::new_unchecked(ptr.cast()),
                count,
            }
        }
    }

    #[cfg(not(unix))]
    fn new(count: usize) -> WorkingMemory {
        WorkingMemory {
            blocks: vec![Block::default(); count],
        }
    }

    /// The size of the mapping, in bytes.
    pub fn bytes(&self) -> usize {
        self.len() * std::mem::size_of::<Block>()
    }
}

impl std::ops::Deref for WorkingMemory {
    type Target = [Block];
    fn deref(&self) -> &[Block] {
        #[cfg(unix)]
        // SAFETY: `count` initialised blocks at `blocks`, owned by self.
        unsafe {
            std::slice::from_raw_parts(self.blocks.as_ptr(), self.count)
        }
        #[cfg(not(unix))]
        &self.blocks
    }
}

impl std::ops::DerefMut for WorkingMemory {
    fn deref_mut(&mut self) -> &mut [Block] {
        #[cfg(unix)]
        // SAFETY: as in `deref`, borrowed mutably through `&mut self`.
        unsafe {
            std::slice::from_raw_parts_mut(self.blocks.as_ptr(), self.count)
        }
        #[cfg(not(unix))]
        &mut self.blocks
    }
}

impl AsMut<[Block]> for WorkingMemory {
    fn as_mut(&mut self) -> &mut [Block] {
        self
    }
}

#[cfg(unix)]
impl Drop for WorkingMemory {
    fn drop(&mut self) {
        let bytes = self.count.max(1) * std::mem::size_of::<Block>();
        // SAFETY: the mapping made in `new`, of this size, unmapped once.
        unsafe {
            libc::munmap(self.blocks.as_ptr().cast(), bytes);
        }
    }
}

/// What `PasswordHasher::hash_password` does (argon2id, a random salt, the
/// PHC string), computed in this thread's reused memory ([`BLOCKS`]).
fn hash_in_place(password: &[u8], params: Params) -> argon2::password_hash::Result<String> {
    let salt = Salt::generate();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let mut out = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    with_working_memory(params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password, &salt, &mut out, blocks)
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
    let computed = with_working_memory(params.block_count(), |blocks| {
        argon.hash_password_into_with_memory(password, &salt, &mut out, blocks)
    });
    computed.is_ok() && bool::from(out.ct_eq(expected.as_bytes()))
}

/// The stored hash of an account without a password: no password matches it.
pub const NO_PASSWORD: &str = "";

/// Whether a stored hash is a password's (and not [`NO_PASSWORD`]).
pub fn has_password(hash: &str) -> bool {
    !hash.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier as _;

    #[tokio::test]
    async fn an_account_without_a_password_matches_no_password() {
        let hasher = Hasher::new(64, 1, Duration::from_secs(30)).unwrap();
        for tried in ["", " ", "anything"] {
            assert!(!hasher.verify(tried, Some(NO_PASSWORD)).await.unwrap());
        }
        let real = hasher.hash("a real password").await.unwrap();
        assert!(has_password(&real) && !has_password(NO_PASSWORD));
        assert!(hasher.verify("a real password", Some(&real)).await.unwrap());
    }

    #[tokio::test]
    async fn working_memory_is_given_back_when_idle() {
        let hasher = Hasher::new(64, 1, Duration::from_millis(100)).unwrap();
        assert_eq!(
            hasher.working_memory_held(),
            0,
            "nothing held before a hash"
        );
        let phc = hasher.hash("right").await.unwrap();
        assert!(hasher.verify("right", Some(&phc)).await.unwrap());
        // The thread counts its block once the job has answered.
        let waited = Instant::now();
        while hasher.working_memory_held() == 0 && waited.elapsed() < Duration::from_millis(50) {
            std::thread::yield_now();
        }
        let held = hasher.working_memory_held();
        assert!(
            held >= 64 * 1024,
            "a hashing thread holds its block ({held} bytes)"
        );
        let waited = Instant::now();
        while hasher.working_memory_held() > 0 {
            assert!(
                waited.elapsed() < Duration::from_secs(2),
                "the working memory was kept after the idle delay"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Hashing again maps it again.
        assert!(hasher.verify("right", Some(&phc)).await.unwrap());
        assert!(!hasher.verify("wrong", Some(&phc)).await.unwrap());
    }

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
