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
