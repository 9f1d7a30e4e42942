//! `postroom`: runs the server and its operator tools.

use std::path::PathBuf;

use clap::{Args, CommandFactory, Parser, Subcommand};
use postroom_server::{config, startup, telemetry, Application, Clock, Config};

#[derive(Parser)]
#[command(
    name = "postroom",
    version,
    about = "Self-hosted accounts, teams and sync for API collections"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

/// The configuration file, for the commands that read the configuration.
#[derive(Args)]
struct ConfigFile {
    /// Configuration file (default: ./postroom.toml if it exists, or $POSTROOM_CONFIG).
    /// POSTROOM_* environment variables win over it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    ///
    /// Without configuration it listens on 127.0.0.1:8080 and keeps an SQLite
    /// database in ./postroom-data. To change that, set POSTROOM_LISTEN (e.g.
    /// 0.0.0.0:8080), POSTROOM_DATA_DIR (the data directory), or
    /// POSTROOM_DATABASE_URL (e.g. postgres://user@host/db to run on PostgreSQL),
    /// or put the same settings in a configuration file; `postroom default-config`
    /// prints them all, with their POSTROOM_* names.
    Serve {
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Print the commented default configuration.
    DefaultConfig,
    /// Validate the configuration and print it, secrets hidden.
    CheckConfig {
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Copy the SQLite database to a new file, consistent even while the
    /// server runs. On PostgreSQL use pg_dump.
    Backup {
        /// Where to write the copy; an existing file is never overwritten.
        file: PathBuf,
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Mark an email domain verified for a team, without the DNS check.
    VerifyDomain {
        /// The team's URL name, as in /teams/<URL name>.
        team: String,
        /// The email domain, like example.com.
        domain: String,
        #[command(flatten)]
        config: ConfigFile,
    },
}

/// The settings from the configuration file and the environment. A file
/// named by `--config` or `$POSTROOM_CONFIG` must exist; the default
/// `./postroom.toml` may be absent.
fn settings(file: ConfigFile) -> anyhow::Result<config::Settings> {
    let named = file
        .config
        .or_else(|| std::env::var_os("POSTROOM_CONFIG").map(PathBuf::from));
    if let Some(path) = &named {
        if !path.is_file() {
            anyhow::bail!(
                "the configuration file {} was not found (`postroom default-config > {0}` writes one)",
                path.display()
            );
        }
    }
    Ok(Config::load(named)?.validate()?)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let Some(command) = cli.command else {
        Cli::command().print_help()?;
        return Ok(());
    };
    match command {
        Command::DefaultConfig => {
            print!("{}", config::DEFAULT_CONFIG);
            Ok(())
        }
        Command::CheckConfig { config } => {
            let s = settings(config)?;
            print!("{}", s.redacted());
            Ok(())
        }
        Command::VerifyDomain {
            team,
            domain,
            config,
        } => {
            let s = settings(config)?;
            tokio::runtime::Runtime::new()?.block_on(verify_domain(s, &team, &domain))
        }
        Command::Backup { file, config } => {
            let s = settings(config)?;
            tokio::runtime::Runtime::new()?.block_on(backup(s, &file))
        }
        Command::Serve { config } => {
            let s = settings(config)?;
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
    let verified = postroom_server::domain::teams::operator_verify_domain(&app, team, domain).await;
    app.store.close().await;
    let verified = match verified {
        Err(postroom_server::error::Error::NotFound { .. }) => anyhow::bail!(
            "there is no team with the URL name {team:?} (a team's URL name is the last part of its address, /teams/<URL name>)"
        ),
        other => other?,
    };
    println!(
        "{} is verified for the team {team}; its admins may now turn discovery on",
        verified.domain
    );
    Ok(())
}
