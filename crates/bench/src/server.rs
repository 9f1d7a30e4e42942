//! Running a server binary as a child process: the real `postroom serve`, or
//! the hello-world baseline. It listens on `127.0.0.1:0`; the address is read
//! from the line it prints when it is ready. Everything it prints goes to a
//! log file.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Where the server keeps its data: SQLite in the data directory, or a
/// PostgreSQL database (its URL).
#[derive(Debug, Clone)]
pub enum Database {
    Sqlite,
    Postgres(String),
}

pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base: String,
    pub log: PathBuf,
}

impl ServerProcess {
    /// Starts `postroom serve` on loopback with `data_dir`, configured for a
    /// benchmark: no captcha and no rate limits (one client IP sends
    /// everything), everything else as shipped.
    pub fn postroom(
        binary: &Path,
        data_dir: &Path,
        database: &Database,
        log: &Path,
    ) -> anyhow::Result<ServerProcess> {
        Self::postroom_on(binary, data_dir, database, log, "127.0.0.1:0")
    }

    /// The same on a given address (`127.0.0.1:PORT`), so that a server
    /// stopped and started again is found where it was.
    pub fn postroom_on(
        binary: &Path,
        data_dir: &Path,
        database: &Database,
        log: &Path,
        listen: &str,
    ) -> anyhow::Result<ServerProcess> {
        let mut cmd = Command::new(binary);
        cmd.arg("serve");
        // Only what is set here configures the server: no POSTROOM_* from the
        // caller's environment, and no postroom.toml from a working directory.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("POSTROOM_") {
                cmd.env_remove(name);
            }
        }
        cmd.current_dir(data_dir)
            .env("POSTROOM_LISTEN", listen)
            .env("POSTROOM_DATA_DIR", data_dir)
            .env("POSTROOM_CAPTCHA", "never")
            .env("POSTROOM_RATE_LIMITS", "false")
            .env("NO_COLOR", "1");
        if let Database::Postgres(url) = database {
            cmd.env("POSTROOM_DATABASE_URL", url);
        }
        Self::spawn(cmd, "Postroom is running at ", log)
    }

    /// Starts the hello-world baseline.
    pub fn hello(binary: &Path, log: &Path) -> anyhow::Result<ServerProcess> {
        Self::spawn(Command::new(binary), "listening on ", log)
    }

    /// Starts the WebSocket broadcast baseline of the sync figures.
    pub fn broadcast(binary: &Path, log: &Path) -> anyhow::Result<ServerProcess> {
        Self::spawn(Command::new(binary), "listening on ", log)
    }

    /// Starts the baseline serving `body` (a file) from memory at `/body`.
    pub fn hello_with_body(
        binary: &Path,
        body: &Path,
        log: &Path,
    ) -> anyhow::Result<ServerProcess> {
        let mut cmd = Command::new(binary);
        cmd.arg(body);
        Self::spawn(cmd, "listening on ", log)
    }

    fn spawn(mut cmd: Command, ready: &str, log: &Path) -> anyhow::Result<ServerProcess> {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file.try_clone()?)
            .spawn()
            .with_context(|| format!("starting {:?}", cmd.get_program()))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        let ready = ready.to_owned();
        std::thread::spawn(move || {
            let mut log_file = log_file;
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log_file, "{line}");
                if let Some(rest) = line.split_once(&ready).map(|(_, rest)| rest) {
                    let url = rest.split_whitespace().next().unwrap_or_default();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(url.trim_end_matches('/').to_owned());
                    }
                }
            }
        });
        let mut server = ServerProcess {
            child,
            base: String::new(),
            log: log.to_path_buf(),
        };
        let started = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(base) => {
                    server.base = base;
                    return Ok(server);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = server.child.wait();
                    bail!(
                        "the server exited before it was ready; see {}",
                        log.display()
                    );
                }
            }
            if let Some(status) = server.child.try_wait()? {
                bail!(
                    "the server exited ({status}) before it was ready; see {}",
                    log.display()
                );
            }
            if started.elapsed() > Duration::from_secs(60) {
                bail!(
                    "the server was not ready within 60 s; see {}",
                    log.display()
                );
            }
        }
    }

    /// The lines of the log that report errors, at most `max` (the last ones).
    pub fn logged_errors(&self, max: usize) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let errors: Vec<String> = text
            .lines()
            .filter(|l| l.contains("ERROR") || l.contains("panicked"))
            .map(str::to_owned)
            .collect();
        errors[errors.len().saturating_sub(max)..].to_vec()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the process, in KiB, from `/proc/<pid>/status`.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .context("reading /proc/<pid>/status (Linux only)")?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmRSS line in /proc/<pid>/status")
    }

    /// Ends the process at once with SIGKILL, as a crash or `kill -9` would.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_none() {
            self.child.kill()?;
        }
        self.child.wait()?;
        Ok(())
    }

    /// Asks the process to stop (SIGTERM) and waits up to 10 s, then kills it.
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if self.child.try_wait()?.is_some() {
            return Ok(());
        }
        // SAFETY: kill(2) with the pid of our own child, which we have not reaped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.kill()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.kill();
    }
}

/// A fresh PostgreSQL database made from an administrative URL, dropped
/// (with its connections) by [`PgDatabase::drop_now`] or when this value is.
pub struct PgDatabase {
    admin_url: String,
    name: String,
    pub url: String,
    dropped: bool,
}

impl PgDatabase {
    pub async fn create(admin_url: &str, prefix: &str) -> anyhow::Result<PgDatabase> {
        sqlx::any::install_default_drivers();
        let name = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin_url)
            .await
            .context("connecting to PostgreSQL")?;
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .context("creating a database")?;
        let mut url = url::Url::parse(admin_url).context("the PostgreSQL URL")?;
        url.set_path(&format!("/{name}"));
        Ok(PgDatabase {
            admin_url: admin_url.to_owned(),
            name,
            url: url.to_string(),
            dropped: false,
        })
    }

    pub async fn drop_now(mut self) -> anyhow::Result<()> {
        self.dropped = true;
        drop_database(&self.admin_url, &self.name).await
    }
}

async fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(admin_url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut conn)
    .await?;
    Ok(())
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run inside a runtime; a thread with its own runtime can block.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            let _ = rt.block_on(drop_database(&admin_url, &name));
        })
        .join();
    }
}

/// The directory of the running executable (`target/<profile>/`), where the
/// workspace's other binaries are built too.
pub fn sibling_binary(name: &str) -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("locating this executable")?;
    let dir = exe.parent().context("the executable's directory")?;
    let path = dir.join(name);
    if !path.exists() {
        bail!(
            "{} is missing; build it with `cargo build --release -p postroom -p postroom-bench`",
            path.display()
        );
    }
    Ok(path)
}

/// Raises this process's limit of open files to its hard limit and returns
/// it. Servers started afterwards inherit it: 10,000 sockets need 10,000
/// descriptors on each side.
pub fn raise_open_files_limit() -> anyhow::Result<libc::rlim_t> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return Err(std::io::Error::last_os_error()).context("getrlimit(RLIMIT_NOFILE)");
        }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error()).context("setrlimit(RLIMIT_NOFILE)");
            }
        }
    }
    Ok(limit.rlim_cur)
}
