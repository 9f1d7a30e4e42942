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
    /// Put a backup made by `postroom backup` in place of the SQLite
    /// database, with the server stopped. The file is checked first, and the
    /// database it replaces is kept beside it. On PostgreSQL use pg_restore.
    Restore {
        /// The backup file.
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
        Command::Restore { file, config } => {
            let s = settings(config)?;
            tokio::runtime::Runtime::new()?.block_on(restore(s, &file))
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

async fn restore(settings: config::Settings, file: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::{bail, Context};
    use postroom_server::files;
    if settings.is_postgres() {
        bail!(
            "the database is PostgreSQL: restore it with its own tools. Stop every postroom \
             server of the deployment, then `pg_restore --clean --if-exists --no-owner \
             --dbname <database URL> postroom.dump` (a dump made with `pg_dump --format=custom`), \
             and start the servers again; they migrate an older schema at start"
        );
    }
    let Some(db) = settings.sqlite_file() else {
        bail!("the configured database is not a SQLite file");
    };
    if !file.is_file() {
        bail!("{} was not found", file.display());
    }
    let data_dir = settings.data_dir.clone();
    // No server may use the database while it is replaced; holding the
    // lock also keeps one from starting until this is done.
    let _lock = files::lock_data_dir(&data_dir)
        .with_context(|| format!("locking the data directory {}", data_dir.display()))?
        .map_err(|held| {
            anyhow::anyhow!(
                "a postroom server{} is running on {}: stop it first, then restore",
                held.pid
                    .map(|p| format!(" (process {p})"))
                    .unwrap_or_default(),
                data_dir.display()
            )
        })?;
    let checked = postroom_server::store::inspect_sqlite(file).await?;

    // The backup goes in under a temporary name, whole and on disk, before
    // anything is moved.
    let incoming = db.with_extension("db.restoring");
    let _ = std::fs::remove_file(&incoming);
    {
        let mut from = std::fs::File::open(file)?;
        let mut to = files::create_private_file(&incoming)
            .with_context(|| format!("creating {}", incoming.display()))?;
        std::io::copy(&mut from, &mut to)?;
        to.sync_all()?;
    }
    // The database it replaces, with its write-ahead log, is kept aside.
    let stamp = file_stamp();
    let mut kept = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let mut name = db.clone().into_os_string();
        name.push(suffix);
        let path = std::path::PathBuf::from(name);
        if path.exists() {
            let mut aside = path.clone().into_os_string();
            aside.push(format!(".replaced-{stamp}"));
            let aside = std::path::PathBuf::from(aside);
            std::fs::rename(&path, &aside)
                .with_context(|| format!("moving {} aside", path.display()))?;
            kept.push(aside);
        }
    }
    std::fs::rename(&incoming, &db)
        .with_context(|| format!("putting {} in place", db.display()))?;
    if let Ok(dir) = std::fs::File::open(&data_dir) {
        let _ = dir.sync_all();
    }
    let bytes = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    println!(
        "Restored {} as {} ({bytes} bytes; integrity checked; {} accounts, {} teams, {} workspace items; schema {}{}).",
        file.display(),
        db.display(),
        checked.accounts,
        checked.teams,
        checked.items,
        checked.schema_version,
        if checked.schema_version < checked.binary_version {
            format!(", brought to {} when the server starts", checked.binary_version)
        } else {
            String::new()
        }
    );
    if kept.is_empty() {
        println!("There was no database before it.");
    } else {
        println!(
            "The database it replaced is kept as {}: delete it once the restored server works.",
            kept.iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    println!("Start the server: postroom serve");
    Ok(())
}

/// The time now as `20261202T104500Z`, for the name of a file kept aside.
fn file_stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let millis = i64::try_from(secs).unwrap_or(0) * 1000;
    postroom_server::clock::rfc3339(millis)
        .replace(['-', ':'], "")
        .replace(".000", "")
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
