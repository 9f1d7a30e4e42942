//! `postroom`: runs the server and its operator tools.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use postroom_server::{config, startup, telemetry, Application, Clock, Config};

#[derive(Parser)]
#[command(
    name = "postroom",
    version,
    about = "Self-hosted accounts, teams and sync for API collections"
)]
struct Cli {
    /// Configuration file (default: ./postroom.toml, or $POSTROOM_CONFIG).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Print the commented default configuration.
    DefaultConfig,
    /// Validate the configuration and print it, secrets hidden.
    CheckConfig,
    /// Copy the SQLite database to a new file, consistent even while the
    /// server runs (O7). On PostgreSQL use pg_dump.
    Backup {
        /// Where to write the copy; an existing file is never overwritten.
        file: PathBuf,
    },
    /// Mark an email domain verified for a team, without the DNS check (T8).
    VerifyDomain {
        /// The team's slug.
        team: String,
        /// The email domain, like example.com.
        domain: String,
    },
}

fn settings(file: Option<PathBuf>) -> anyhow::Result<config::Settings> {
    Ok(Config::load(file)?.validate()?)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        None | Some(Command::DefaultConfig) => {
            print!("{}", config::DEFAULT_CONFIG);
            if cli.command.is_none() {
                eprintln!(
                    "\n# Run `postroom serve` to start the server, `postroom --help` for more."
                );
            }
            Ok(())
        }
        Some(Command::CheckConfig) => {
            let s = settings(cli.config)?;
            print!("{}", s.redacted());
            Ok(())
        }
        Some(Command::VerifyDomain { team, domain }) => {
            let s = settings(cli.config)?;
            tokio::runtime::Runtime::new()?.block_on(verify_domain(s, &team, &domain))
        }
        Some(Command::Backup { file }) => {
            let s = settings(cli.config)?;
            tokio::runtime::Runtime::new()?.block_on(backup(s, &file))
        }
        Some(Command::Serve) => {
            let s = settings(cli.config)?;
            telemetry::init_logging(s.log_format);
            tokio::runtime::Runtime::new()?.block_on(serve(s))
        }
    }
}

async fn serve(settings: config::Settings) -> anyhow::Result<()> {
    let data_dir = settings.data_dir.clone();
    let backend = if settings.is_postgres() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let application = Application::build(settings, Clock::System).await?;
    let url = application.app().settings.public_url.clone();
    tracing::info!(addr = %application.addr(), data_dir = %data_dir.display(), database = backend, "postroom is listening");
    if !application.app().settings.rate_limits {
        tracing::warn!("rate_limits = false: credential endpoints are not rate-limited (for benchmarks and tests only)");
    }
    println!(
        "Postroom is running at {url}  (data in {}, {backend})",
        data_dir.display()
    );
    application.run(startup::shutdown_signal()).await
}

async fn backup(settings: config::Settings, file: &std::path::Path) -> anyhow::Result<()> {
    if settings.is_postgres() {
        anyhow::bail!(
            "the database is PostgreSQL: back it up with its own tools, e.g. \
             `pg_dump --format=custom --file=postroom.dump <database URL>`"
        );
    }
    if file.exists() {
        anyhow::bail!(
            "{} already exists: name a new file (a backup never overwrites one)",
            file.display()
        );
    }
    let path = file
        .to_str()
        .ok_or_else(|| anyhow::anyhow!("the backup file's path must be UTF-8"))?;
    let data_dir = settings.data_dir.clone();
    let app = postroom_server::App::new(settings, Clock::System).await?;
    let done = app.store.backup_into(path).await;
    app.store.close().await;
    done?;
    let bytes = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
    println!(
        "Backed up to {} ({bytes} bytes). To restore it: stop the server, remove \
         postroom.db-wal and postroom.db-shm from {}, and put the file there as postroom.db.",
        file.display(),
        data_dir.display()
    );
    Ok(())
}

async fn verify_domain(settings: config::Settings, team: &str, domain: &str) -> anyhow::Result<()> {
    let app = postroom_server::App::new(settings, Clock::System).await?;
    let verified =
        postroom_server::domain::teams::operator_verify_domain(&app, team, domain).await?;
    app.store.close().await;
    println!(
        "{} is verified for the team {team}; its admins may now turn discovery on",
        verified.domain
    );
    Ok(())
}
