//! `postroom-bench`: measures the real release server against baselines
//! taken in the same run and prints one table. See `docs/PERFORMANCE.md`.
//!
//! ```sh
//! cargo run --release -p postroom-bench -- all
//! ```
//!
//! Load comes from wrk (Debian's `wrk` package); every server runs as a child
//! process on 127.0.0.1 with a fresh data directory (or a fresh PostgreSQL
//! database with `--postgres URL`), one at a time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context};
use clap::{Parser, Subcommand};
use postroom_bench::crash;
use postroom_bench::seed::{self, PASSWORD};
use postroom_bench::server::{
    raise_open_files_limit, sibling_binary, Database, PgDatabase, ServerProcess,
};
use postroom_bench::wrk::{self, Load, Outcome, Script};
use serde_json::json;

mod billing;
mod sync;
mod workspace;

#[derive(Parser)]
#[command(
    name = "postroom-bench",
    about = "Benchmarks, a soak and a crash test against the real postroom binary"
)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
    /// Run on PostgreSQL: an administrative URL (e.g.
    /// postgres://postgres@127.0.0.1:5432/postgres); each server gets a fresh
    /// database that is dropped afterwards. Default: SQLite.
    #[arg(long, global = true, value_name = "URL")]
    postgres: Option<String>,
    /// Seconds of each measured load (read, login, flood).
    #[arg(long, global = true, default_value_t = 10)]
    secs: u64,
    /// Seconds of the soak.
    #[arg(long, global = true, default_value_t = 60)]
    soak_secs: u64,
    /// Use the binaries as they are instead of running `cargo build` first.
    #[arg(long, global = true)]
    no_build: bool,
}

#[derive(Subcommand, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Every figure below, then the soak and the long crash test.
    All,
    /// GET /api/v1/me requests/s against a bare axum hello world.
    Read,
    /// Sign-ins/s against the raw argon2id hash rate on the same cores.
    Login,
    /// p99 of GET /api/v1/me during a sign-in flood against without one.
    Flood,
    /// Server RSS with 10,000 accounts and 10,000 sessions against idle.
    Memory,
    /// Server RSS right after start, and under reads 60 s after the last
    /// sign-in (memory given back at rest).
    Rest,
    /// 200 clients signing up, signing in, reading and editing.
    Soak,
    /// Writers, SIGKILL, restart: every acknowledged write must be there.
    Crash,
    /// GET of a 100 KB collection against the same bytes served from memory.
    Collection,
    /// Import of a 50 MB collection against serde_json parsing and writing it.
    Import,
    /// One change to 1,000 sync sockets against a bare broadcast server; RSS
    /// per idle socket (10,000); catching up 10,000 changes.
    Sync,
    /// A billing preview against reading the overview; renewing 10,000
    /// subscriptions against as many bare ledger writes.
    Billing,
}

/// How wrk loads GET requests: one thread for wrk (the server has the other
/// core's worth of CPU), 32 connections.
const READ_THREADS: u32 = 1;
const READ_CONNECTIONS: u32 = 32;
/// The read figure alternates the two servers this many times.
const READ_ROUNDS: u32 = 5;
/// The login figure alternates sign-ins and raw hashing this many times.
const LOGIN_ROUNDS: u32 = 5;
/// Sign-ins in flight: four per core keeps the hashing pool full.
const LOGIN_CONNECTIONS: u32 = 8;
/// The read load during the flood figure: a few clients, so the latency is
/// the server's, not a queue's.
const FLOOD_READ_CONNECTIONS: u32 = 4;
const MEMORY_ACCOUNTS: usize = 10_000;
/// The rest figure reads RSS this long after the last sign-in.
const REST_AFTER: Duration = Duration::from_secs(60);
/// Memory targets of the rest figures, in KiB.
const IDLE_TARGET_KIB: u64 = 20 * 1024;
const REST_TARGET_KIB: u64 = 40 * 1024;
const SOAK_CLIENTS: u32 = 200;
const SOAK_ACCOUNTS: usize = 200;

struct Row {
    figure: &'static str,
    value: String,
    baseline: String,
    ratio: Option<f64>,
    target: String,
    pass: bool,
}

struct Bench {
    postroom: PathBuf,
    hello: PathBuf,
    broadcast: PathBuf,
    open_files: libc::rlim_t,
    postgres: Option<String>,
    secs: Duration,
    soak_secs: Duration,
    dir: tempfile::TempDir,
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    rows: Vec<Row>,
}

/// A running postroom with its own data directory (and database).
struct Instance {
    server: ServerProcess,
    database: Database,
    data_dir: PathBuf,
    _pg: Option<PgDatabase>,
}

impl Instance {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server.base)
    }

    /// The database URL, for seeding.
    fn database_url(&self) -> String {
        match &self.database {
            Database::Sqlite => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("postroom.db").display()
            ),
            Database::Postgres(url) => url.clone(),
        }
    }
}

/// One figure of the bench.
type Step = fn(&mut Bench) -> anyhow::Result<()>;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    // The bench's HTTP clients share the server crate's rustls, which picks
    // no crypto provider of its own when several are compiled in.
    postroom_server::state::use_ring_by_default();
    wrk::check_installed()?;
    // Before any server starts: they inherit it.
    let open_files = raise_open_files_limit()?;
    let profile = build(cli.no_build)?;
    if profile != "release" {
        eprintln!("warning: these are {profile} binaries; run with --release for real figures");
    }
    let rt = tokio::runtime::Runtime::new()?;
    let mut bench = Bench {
        postroom: sibling_binary("postroom")?,
        hello: sibling_binary("postroom-bench-hello")?,
        broadcast: sibling_binary("postroom-bench-broadcast")?,
        open_files,
        postgres: cli.postgres.clone(),
        secs: Duration::from_secs(cli.secs.max(1)),
        soak_secs: Duration::from_secs(cli.soak_secs.max(10)),
        dir: tempfile::Builder::new()
            .prefix("postroom-bench-")
            .tempdir()?,
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()?,
        rt,
        rows: Vec::new(),
    };
    eprintln!(
        "postroom-bench: {} on {}; work files in {}",
        machine(),
        if cli.postgres.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        bench.dir.path().display()
    );
    let all = cli.mode == Mode::All;
    let mut failed = Vec::new();
    let steps: [(Mode, Step); 11] = [
        (Mode::Read, Bench::read),
        (Mode::Collection, Bench::collection),
        (Mode::Import, Bench::import),
        (Mode::Login, Bench::login),
        (Mode::Flood, Bench::flood),
        (Mode::Memory, Bench::memory),
        (Mode::Rest, Bench::rest),
        (Mode::Sync, Bench::sync),
        (Mode::Billing, Bench::billing),
        (Mode::Soak, Bench::soak),
        (Mode::Crash, Bench::crash),
    ];
    for (mode, step) in steps {
        if all || cli.mode == mode {
            if let Err(e) = step(&mut bench) {
                eprintln!("error in {}: {e:#}", name(mode));
                failed.push(name(mode));
            }
        }
    }
    print_table(&bench.rows);
    if !failed.is_empty() {
        bail!("could not measure: {}", failed.join(", "));
    }
    Ok(())
}

fn name(mode: Mode) -> &'static str {
    match mode {
        Mode::All => "all",
        Mode::Read => "read",
        Mode::Login => "login",
        Mode::Flood => "flood",
        Mode::Memory => "memory",
        Mode::Rest => "rest",
        Mode::Soak => "soak",
        Mode::Crash => "crash",
        Mode::Collection => "collection",
        Mode::Import => "import",
        Mode::Sync => "sync",
        Mode::Billing => "billing",
    }
}

/// Builds the server and the baseline with the profile this tool was built
/// with, so a fresh clone needs only the one command. Returns the profile.
fn build(skip: bool) -> anyhow::Result<String> {
    let exe = std::env::current_exe()?;
    let profile = exe
        .parent()
        .and_then(Path::file_name)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if skip {
        return Ok(profile);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .args(["build", "-p", "postroom", "-p", "postroom-bench", "--bins"]);
    // `cargo run` gives this process its package's variables; build scripts
    // that read them (through `cc`) would see a changed environment, and the
    // build here and the next `cargo run` would each rebuild half the tree.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_PKG_")
            || name.starts_with("CARGO_MANIFEST_")
            || matches!(
                &*name,
                "CARGO_CRATE_NAME" | "CARGO_BIN_NAME" | "CARGO_PRIMARY_PACKAGE"
            )
        {
            cmd.env_remove(&*name);
        }
    }
    if profile == "release" {
        cmd.arg("--release");
    }
    eprintln!("postroom-bench: building the server and the baseline ({profile})");
    let status = cmd.status().context("running cargo build")?;
    ensure!(status.success(), "cargo build failed");
    Ok(profile)
}

fn machine() -> String {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_kib: u64 = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    format!(
        "{cores} cores ({cpu}), {:.1} GiB memory",
        mem_kib as f64 / 1024.0 / 1024.0
    )
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

impl Bench {
    /// Starts a fresh postroom: new data directory, new database.
    fn start(&self, name: &str) -> anyhow::Result<Instance> {
        let data_dir = self.dir.path().join(format!("{name}-data"));
        std::fs::create_dir_all(&data_dir)?;
        let pg = match &self.postgres {
            Some(admin) => Some(
                self.rt
                    .block_on(PgDatabase::create(admin, "postroom_bench"))?,
            ),
            None => None,
        };
        let database = match &pg {
            Some(pg) => Database::Postgres(pg.url.clone()),
            None => Database::Sqlite,
        };
        let log = self.dir.path().join(format!("{name}.log"));
        let server = ServerProcess::postroom(&self.postroom, &data_dir, &database, &log)?;
        Ok(Instance {
            server,
            database,
            data_dir,
            _pg: pg,
        })
    }

    /// Signs up `username` through the API and signs in; returns the token.
    fn account(&self, pr: &Instance, username: &str) -> anyhow::Result<String> {
        self.rt.block_on(async {
            let r = self
                .client
                .post(pr.url("/api/v1/accounts"))
                .json(&json!({
                    "email": format!("{username}@example.com"),
                    "username": username,
                    "password": PASSWORD,
                    "accept_terms": true,
                }))
                .send()
                .await?;
            ensure!(
                r.status().as_u16() == 201,
                "sign-up: {} {}",
                r.status(),
                r.text().await?
            );
            let r = self
                .client
                .post(pr.url("/api/v1/sessions"))
                .json(&json!({ "login": username, "password": PASSWORD }))
                .send()
                .await?;
            ensure!(r.status().as_u16() == 201, "sign-in: {}", r.status());
            let body: serde_json::Value = r.json().await?;
            Ok(body["token"].as_str().context("a token")?.to_owned())
        })
    }

    fn read_load(&self, url: String, token: &str, connections: u32, secs: Duration) -> Load {
        Load {
            url,
            script: Script::Read,
            threads: READ_THREADS,
            connections,
            duration: secs,
            timeout: Duration::from_secs(10),
            env: vec![("BENCH_TOKEN".into(), token.into())],
        }
    }

    fn login_load(&self, pr: &Instance, username: &str, secs: Duration) -> Load {
        Load {
            url: pr.url("/api/v1/sessions"),
            script: Script::Login,
            threads: 1,
            connections: LOGIN_CONNECTIONS,
            duration: secs,
            timeout: Duration::from_secs(30),
            env: vec![(
                "BENCH_BODY".into(),
                json!({ "login": username, "password": PASSWORD, "keep_signed_in": false })
                    .to_string(),
            )],
        }
    }

    fn run_clean(&self, load: &Load, what: &str) -> anyhow::Result<Outcome> {
        let out = load.run(self.dir.path())?;
        ensure!(
            out.status_errors == 0 && out.socket_errors() == 0,
            "{what}: {} answers with an error status, {} socket errors or timeouts ({out:?})",
            out.status_errors,
            out.socket_errors()
        );
        ensure!(out.requests > 0, "{what}: no requests completed");
        Ok(out)
    }

    /// `GET /api/v1/me` once with each token (wrk, 16 connections).
    fn use_every_token(&self, pr: &Instance, tokens: &[String]) -> anyhow::Result<Outcome> {
        let file = self.dir.path().join("tokens.txt");
        std::fs::write(&file, tokens.join("\n"))?;
        let touch = Load {
            url: pr.url("/api/v1/me"),
            script: Script::EveryToken,
            threads: 1,
            connections: 16,
            // wrk runs for its whole duration even after the script stops
            // its thread, so this is the time allowed, not a target.
            duration: Duration::from_secs(30),
            timeout: Duration::from_secs(10),
            env: vec![("BENCH_TOKENS".into(), file.display().to_string())],
        };
        let out = self.run_clean(&touch, "GET /api/v1/me with every session")?;
        ensure!(
            out.requests >= tokens.len() as u64,
            "only {} of {} sessions were used",
            out.requests,
            tokens.len()
        );
        Ok(out)
    }

    fn read(&mut self) -> anyhow::Result<()> {
        let each = (self.secs / READ_ROUNDS).max(Duration::from_secs(2));
        eprintln!(
            "read: GET /api/v1/me against a hello world, {READ_ROUNDS} alternating rounds of {} s each",
            each.as_secs()
        );
        // Both servers run side by side (only one is loaded at a time) and
        // take turns, so each pair of measurements sees the same machine;
        // the figure is the median pair. On a shared machine a busy moment
        // then moves one pair, not the whole comparison.
        let pr = self.start("read")?;
        let token = self.account(&pr, "reader")?;
        let hello = ServerProcess::hello(&self.hello, &self.dir.path().join("hello.log"))?;
        let hello_url = format!("{}/", hello.base);
        let me_url = pr.url("/api/v1/me");
        let warm = Duration::from_secs(2);
        for (url, what) in [(&hello_url, "hello world"), (&me_url, "GET /api/v1/me")] {
            self.run_clean(
                &self.read_load(url.clone(), &token, READ_CONNECTIONS, warm),
                what,
            )?;
        }
        let mut pairs = Vec::new();
        for _ in 0..READ_ROUNDS {
            let base = self.run_clean(
                &self.read_load(hello_url.clone(), &token, READ_CONNECTIONS, each),
                "hello world",
            )?;
            let me = self.run_clean(
                &self.read_load(me_url.clone(), &token, READ_CONNECTIONS, each),
                "GET /api/v1/me",
            )?;
            pairs.push((me.per_second() / base.per_second(), me, base));
        }
        drop(pr);
        drop(hello);
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let spread = format!("{:.2}-{:.2}", pairs[0].0, pairs[pairs.len() - 1].0);
        let (ratio, me, base) = pairs.swap_remove(pairs.len() / 2);
        self.rows.push(Row {
            figure: "read",
            value: format!(
                "{:.0} req/s GET /api/v1/me (p99 {})",
                me.per_second(),
                ms(me.p99_us)
            ),
            baseline: format!(
                "{:.0} req/s hello world (p99 {}); median of {READ_ROUNDS} pairs, ratios {spread}",
                base.per_second(),
                ms(base.p99_us)
            ),
            ratio: Some(ratio),
            target: ">= 0.60".into(),
            pass: ratio >= 0.6,
        });
        Ok(())
    }

    /// Raw argon2id hashes per second, one thread per core, at the server's
    /// parameters: the argon2 crate at its fastest, each thread computing in
    /// one reused block of memory (`hash_password_into_with_memory`), so the
    /// baseline pays no allocation; each result is checked against the PHC
    /// string's hash.
    fn raw_hash_rate(&self, secs: Duration) -> anyhow::Result<(f64, usize)> {
        use argon2::password_hash::{phc::PasswordHash, PasswordHasher as _};
        let threads = std::thread::available_parallelism()?.get();
        let phc = seed::argon2()
            .hash_password(PASSWORD.as_bytes())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?
            .to_string();
        let started = Instant::now();
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let phc = phc.clone();
                std::thread::spawn(move || {
                    let parsed = PasswordHash::new(&phc).expect("a PHC string");
                    let expected = parsed.hash.expect("a hash");
                    let salt = parsed.salt.expect("a salt");
                    let argon = seed::argon2();
                    let params = seed::argon2_params();
                    let mut blocks =
                        postroom_server::domain::passwords::working_memory(params.block_count());
                    let mut out = vec![0u8; expected.len()];
                    let mut n = 0u64;
                    while started.elapsed() < secs {
                        argon
                            .hash_password_into_with_memory(
                                PASSWORD.as_bytes(),
                                &salt,
                                &mut out,
                                &mut blocks,
                            )
                            .expect("argon2");
                        assert_eq!(out, expected.as_bytes());
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let total: u64 = handles
            .into_iter()
            .map(|h| h.join().expect("hash thread"))
            .sum();
        Ok((total as f64 / started.elapsed().as_secs_f64(), threads))
    }

    fn login(&mut self) -> anyhow::Result<()> {
        // Rounds of at least 5 s: a sign-in takes tens of milliseconds, and
        // the ones in flight when a round ends are not counted.
        let each = (self.secs / 2).max(Duration::from_secs(5));
        eprintln!(
            "login: sign-ins against raw argon2id, {LOGIN_ROUNDS} alternating rounds of {} s each",
            each.as_secs()
        );
        // The two take turns and the figure is the median pair (see `read`).
        let pr = self.start("login")?;
        self.account(&pr, "signer")?;
        self.run_clean(
            &self.login_load(&pr, "signer", Duration::from_secs(3)),
            "warm-up",
        )?;
        let mut pairs = Vec::new();
        let mut threads = 0;
        for _ in 0..LOGIN_ROUNDS {
            let (raw, t) = self.raw_hash_rate(each)?;
            threads = t;
            let out = self.run_clean(&self.login_load(&pr, "signer", each), "sign-ins")?;
            pairs.push((out.per_second() / raw, out, raw));
        }
        drop(pr);
        pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let spread = format!("{:.2}-{:.2}", pairs[0].0, pairs[pairs.len() - 1].0);
        let (ratio, out, raw) = pairs.swap_remove(pairs.len() / 2);
        let p = seed::argon2_params();
        self.rows.push(Row {
            figure: "login",
            value: format!(
                "{:.1} sign-ins/s (p99 {})",
                out.per_second(),
                ms(out.p99_us)
            ),
            baseline: format!(
                "{raw:.1} argon2id hashes/s (m={} KiB, t={}, p=1; {threads} threads); median of {LOGIN_ROUNDS} pairs, ratios {spread}",
                p.m_cost(),
                p.t_cost()
            ),
            ratio: Some(ratio),
            target: ">= 0.90".into(),
            pass: ratio >= 0.9,
        });
        Ok(())
    }

    fn flood(&mut self) -> anyhow::Result<()> {
        eprintln!(
            "flood: p99 of GET /api/v1/me with and without a sign-in flood, {} s each",
            self.secs.as_secs()
        );
        let pr = self.start("flood")?;
        let token = self.account(&pr, "reader")?;
        self.account(&pr, "flooder")?;
        let reads = self.read_load(
            pr.url("/api/v1/me"),
            &token,
            FLOOD_READ_CONNECTIONS,
            self.secs,
        );
        self.run_clean(
            &self.read_load(
                pr.url("/api/v1/me"),
                &token,
                FLOOD_READ_CONNECTIONS,
                Duration::from_secs(2),
            ),
            "warm-up",
        )?;
        let quiet = self.run_clean(&reads, "reads without sign-ins")?;
        let flood = self
            .login_load(&pr, "flooder", self.secs + Duration::from_secs(3))
            .start(self.dir.path())?;
        std::thread::sleep(Duration::from_secs(1));
        let busy = self.run_clean(&reads, "reads during sign-ins");
        let logins = flood.wait()?;
        let busy = busy?;
        ensure!(
            logins.status_errors == 0,
            "sign-ins failed during the flood: {logins:?}"
        );
        let ratio = busy.p99_us as f64 / quiet.p99_us.max(1) as f64;
        self.rows.push(Row {
            figure: "flood",
            value: format!(
                "p99 {} GET /api/v1/me ({:.0} req/s) during {:.1} sign-ins/s",
                ms(busy.p99_us),
                busy.per_second(),
                logins.per_second()
            ),
            baseline: format!(
                "p99 {} ({:.0} req/s) without sign-ins",
                ms(quiet.p99_us),
                quiet.per_second()
            ),
            ratio: Some(ratio),
            target: "<= 10".into(),
            pass: ratio <= 10.0,
        });
        Ok(())
    }

    fn memory(&mut self) -> anyhow::Result<()> {
        eprintln!("memory: RSS with {MEMORY_ACCOUNTS} accounts and sessions");
        let pr = self.start("memory")?;
        let token = self.account(&pr, "reader")?;
        self.run_clean(
            &self.read_load(
                pr.url("/api/v1/me"),
                &token,
                READ_CONNECTIONS,
                Duration::from_secs(3),
            ),
            "warm-up",
        )?;
        std::thread::sleep(Duration::from_millis(500));
        let idle = pr.server.rss_kib()?;
        let seeded = self
            .rt
            .block_on(seed::seed(&pr.database_url(), "seed", MEMORY_ACCOUNTS))?;
        // As for sessions made earlier, each one's first request records its
        // activity (a write; at most every 15 s per session).
        std::thread::sleep(Duration::from_secs(16));
        let tokens: Vec<String> = seeded.into_iter().map(|s| s.token).collect();
        let out = self.use_every_token(&pr, &tokens)?;
        std::thread::sleep(Duration::from_millis(500));
        let full = pr.server.rss_kib()?;
        let ratio = full as f64 / idle as f64;
        self.rows.push(Row {
            figure: "memory",
            value: format!(
                "RSS {} with {MEMORY_ACCOUNTS} accounts + {MEMORY_ACCOUNTS} sessions, each used once (in ~{} s)",
                mib(full),
                out.took_s.max(1)
            ),
            baseline: format!("RSS {} idle after warm-up", mib(idle)),
            ratio: Some(ratio),
            target: "<= 2.0 (ours)".into(),
            pass: ratio <= 2.0,
        });
        Ok(())
    }

    /// Memory at rest, with the shipped idle delay of the hashing threads:
    /// RSS of a fresh server a moment after start; then sign-ins from 8
    /// clients for 2 s (every hashing thread hashes), and a read load from
    /// then on, with RSS read 2 s in and [`REST_AFTER`] after the last
    /// sign-in, while the reads go on.
    fn rest(&mut self) -> anyhow::Result<()> {
        eprintln!(
            "rest: RSS after start, and under reads {} s after the last sign-in",
            REST_AFTER.as_secs()
        );
        let pr = self.start("rest")?;
        std::thread::sleep(Duration::from_secs(2));
        let started = pr.server.rss_kib()?;
        self.rows.push(Row {
            figure: "idle",
            value: format!("RSS {} 2 s after start", mib(started)),
            baseline: "-".into(),
            ratio: None,
            target: format!("<= {}", mib(IDLE_TARGET_KIB)),
            pass: started <= IDLE_TARGET_KIB,
        });
        let token = self.account(&pr, "reader")?;
        self.run_clean(
            &self.login_load(&pr, "reader", Duration::from_secs(2)),
            "sign-ins",
        )?;
        let last_sign_in = Instant::now();
        let reads = self.read_load(
            pr.url("/api/v1/me"),
            &token,
            READ_CONNECTIONS,
            REST_AFTER + Duration::from_secs(3),
        );
        let running = reads.start(self.dir.path())?;
        std::thread::sleep(Duration::from_secs(2));
        let busy = pr.server.rss_kib()?;
        std::thread::sleep(REST_AFTER.saturating_sub(last_sign_in.elapsed()));
        let rest = pr.server.rss_kib()?;
        let out = running.wait()?;
        ensure!(
            out.status_errors == 0 && out.socket_errors() == 0 && out.requests > 0,
            "reads at rest: {out:?}"
        );
        self.rows.push(Row {
            figure: "rest",
            value: format!(
                "RSS {} under reads ({:.0} req/s), {} s after the last sign-in",
                mib(rest),
                out.per_second(),
                REST_AFTER.as_secs()
            ),
            baseline: format!(
                "RSS {} under the same reads, 2 s after the sign-ins",
                mib(busy)
            ),
            ratio: Some(rest as f64 / busy as f64),
            target: format!("<= {}", mib(REST_TARGET_KIB)),
            pass: rest <= REST_TARGET_KIB,
        });
        Ok(())
    }

    fn soak(&mut self) -> anyhow::Result<()> {
        let secs = self.soak_secs;
        eprintln!(
            "soak: {SOAK_CLIENTS} clients signing up, signing in, reading and editing for {} s",
            secs.as_secs()
        );
        let pr = self.start("soak")?;
        let seeded =
            self.rt
                .block_on(seed::seed(&pr.database_url(), "soak-seed", SOAK_ACCOUNTS))?;
        let users = self.dir.path().join("soak-users.txt");
        let lines: Vec<String> = seeded
            .iter()
            .map(|s| format!("{} {}", s.username, s.token))
            .collect();
        std::fs::write(&users, lines.join("\n"))?;
        let load = Load {
            url: pr.server.base.clone(),
            script: Script::Soak,
            threads: 2,
            connections: SOAK_CLIENTS,
            duration: secs,
            timeout: Duration::from_secs(30),
            env: vec![
                ("BENCH_USERS".into(), users.display().to_string()),
                ("BENCH_PASSWORD".into(), PASSWORD.into()),
            ],
        };
        let started = Instant::now();
        let running = load.start(self.dir.path())?;
        // RSS once a second; "after warm-up" is the first third.
        let warm_up = secs / 3;
        let mut samples = Vec::new();
        while started.elapsed() < secs {
            std::thread::sleep(Duration::from_secs(1));
            samples.push((started.elapsed(), pr.server.rss_kib()?));
        }
        let out = running.wait()?;
        let after_warm_up = samples
            .iter()
            .find(|(t, _)| *t >= warm_up)
            .map(|s| s.1)
            .context("no RSS sample after warm-up")?;
        let end = samples.last().map(|s| s.1).unwrap_or(after_warm_up);
        let peak = samples.iter().map(|s| s.1).max().unwrap_or(end);
        let ok: u64 = out
            .statuses
            .iter()
            .filter(|(s, _)| matches!(s.as_str(), "200" | "201" | "429"))
            .map(|(_, n)| n)
            .sum();
        let limited = out.statuses.get("429").copied().unwrap_or(0);
        let errors = out.requests - ok.min(out.requests) + out.socket_errors();
        let growth = end as f64 / after_warm_up as f64;
        let statuses: Vec<String> = out
            .statuses
            .iter()
            .map(|(s, n)| format!("{s}: {n}"))
            .collect();
        eprintln!("soak: answers by status: {}", statuses.join(", "));
        for line in pr.server.logged_errors(10) {
            eprintln!("soak: server log: {line}");
        }
        self.rows.push(Row {
            figure: "soak",
            value: format!(
                "{} requests ({:.0}/s), {errors} errors, {limited} x 429; RSS {} at the end (peak {})",
                out.requests,
                out.per_second(),
                mib(end),
                mib(peak)
            ),
            baseline: format!("RSS {} after {} s warm-up", mib(after_warm_up), warm_up.as_secs()),
            ratio: Some(growth),
            target: "0 errors, <= 1.10".into(),
            pass: errors == 0 && growth <= 1.10,
        });
        Ok(())
    }

    fn crash(&mut self) -> anyhow::Result<()> {
        let opts = crash::Options::long(self.postroom.clone(), self.postgres.clone());
        eprintln!(
            "crash: {} rounds of {} s of writes, each ended by SIGKILL",
            opts.rounds,
            opts.write_time.as_secs()
        );
        let report = self.rt.block_on(crash::run(&opts));
        let (value, pass) = match &report {
            Ok(r) => (
                format!(
                    "0 of {} acknowledged writes lost ({} sign-ups, {} sign-ins, {} profile edits; {} unanswered at kills); integrity ok",
                    r.acknowledged(),
                    r.accounts,
                    r.sessions,
                    r.profile_edits,
                    r.unanswered
                ),
                true,
            ),
            Err(e) => (format!("FAILED: {e:#}"), false),
        };
        self.rows.push(Row {
            figure: "crash",
            value,
            baseline: format!("{} x SIGKILL mid-write", opts.rounds),
            ratio: None,
            target: "0 lost".into(),
            pass,
        });
        report.map(|_| ())
    }
}

fn print_table(rows: &[Row]) {
    if rows.is_empty() {
        return;
    }
    let header = ["figure", "value", "baseline", "ratio", "target", "result"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            [
                r.figure.to_owned(),
                r.value.clone(),
                r.baseline.clone(),
                r.ratio
                    .map(|x| format!("{x:.2}"))
                    .unwrap_or_else(|| "-".into()),
                r.target.clone(),
                if r.pass { "pass" } else { "FAIL" }.to_owned(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let parts: Vec<String> = cols
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |", parts.join(" | "))
    };
    println!();
    println!("{}", line(&header.map(str::to_owned)));
    println!("|{}|", widths.map(|w| "-".repeat(w + 2)).join("|"));
    for row in &cells {
        println!("{}", line(row));
    }
}
