//! The load generator: wrk (Debian's `wrk` package), driven by the Lua
//! scripts in `lua/`. Each script ends with `report.lua`, which prints the
//! run's numbers as one JSON line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};
use serde::Deserialize;

const REPORT: &str = include_str!("../lua/report.lua");

#[derive(Debug, Clone, Copy)]
pub enum Script {
    Read,
    Login,
    EveryToken,
    Soak,
}

impl Script {
    fn source(self) -> (&'static str, &'static str) {
        match self {
            Script::Read => ("read", include_str!("../lua/read.lua")),
            Script::Login => ("login", include_str!("../lua/login.lua")),
            Script::EveryToken => ("every_token", include_str!("../lua/every_token.lua")),
            Script::Soak => ("soak", include_str!("../lua/soak.lua")),
        }
    }
}

/// One wrk run.
#[derive(Debug, Clone)]
pub struct Load {
    pub url: String,
    pub script: Script,
    pub threads: u32,
    pub connections: u32,
    pub duration: Duration,
    /// A request unanswered this long counts as a timeout.
    pub timeout: Duration,
    /// Read by the script with `os.getenv`.
    pub env: Vec<(String, String)>,
}

/// What `report.lua` prints.
#[derive(Debug, Clone, Deserialize)]
pub struct Outcome {
    pub requests: u64,
    pub duration_us: u64,
    pub connect_errors: u64,
    pub read_errors: u64,
    pub write_errors: u64,
    /// Answers with a status outside 2xx and 3xx.
    pub status_errors: u64,
    pub timeouts: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Seconds until a script that stops by itself was done (-1: not such a script).
    pub took_s: i64,
    /// Answers per status, for scripts that count them.
    pub statuses: BTreeMap<String, u64>,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / (self.duration_us as f64 / 1e6)
    }

    pub fn socket_errors(&self) -> u64 {
        self.connect_errors + self.read_errors + self.write_errors + self.timeouts
    }
}

/// Fails with a clear message when wrk is not installed.
pub fn check_installed() -> anyhow::Result<()> {
    match Command::new("wrk")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "the load generator wrk is not installed: `apt-get install wrk` (Debian, Ubuntu) \
             or see https://github.com/wg/wrk"
        ),
        Err(e) => Err(e).context("running wrk"),
    }
}

/// A wrk run in progress.
pub struct Running {
    child: Child,
    out: PathBuf,
}

impl Load {
    /// Starts wrk; `dir` receives the script and wrk's output.
    pub fn start(&self, dir: &Path) -> anyhow::Result<Running> {
        let (name, source) = self.script.source();
        let script = dir.join(format!("{name}.lua"));
        std::fs::write(&script, format!("{source}\n{REPORT}"))?;
        let out = dir.join(format!("wrk-{name}-{}.out", uuid::Uuid::new_v4().simple()));
        let child = Command::new("wrk")
            .arg(format!("--threads={}", self.threads))
            .arg(format!("--connections={}", self.connections))
            .arg(format!("--duration={}s", self.duration.as_secs().max(1)))
            .arg(format!("--timeout={}s", self.timeout.as_secs().max(1)))
            .arg(format!("--script={}", script.display()))
            .arg(&self.url)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out)?)
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting wrk")?;
        Ok(Running { child, out })
    }

    pub fn run(&self, dir: &Path) -> anyhow::Result<Outcome> {
        self.start(dir)?.wait()
    }
}

impl Running {
    pub fn wait(mut self) -> anyhow::Result<Outcome> {
        let status = self.child.wait()?;
        let text = std::fs::read_to_string(&self.out)?;
        let Some(line) = text.lines().find_map(|l| l.strip_prefix("WRK_JSON ")) else {
            bail!("wrk ({status}) printed no summary:\n{text}");
        };
        serde_json::from_str(line).with_context(|| format!("reading wrk's summary {line}"))
    }
}
