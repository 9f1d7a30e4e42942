//! `postroom`: runs the server and its operator tools, and is the client
//! that signs in to a server and keeps a folder of collections in sync.

mod client;

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
    /// Print results as JSON on standard output (client commands).
    #[arg(long, global = true)]
    json: bool,
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
    /// Sign in to a server through the browser (or with a code).
    ///
    /// Opens the browser on the server's sign-in page; approve there and
    /// the session comes back here. Without a browser (or with
    /// --no-browser) it prints a URL and a code to enter on any device.
    /// Other accounts stay signed in; the new one becomes the active one.
    #[command(after_help = EXIT_CODES)]
    Login {
        /// The server (default: the last one used, else http://127.0.0.1:8080).
        url: Option<String>,
        /// Print a URL and a code instead of opening a browser.
        #[arg(long)]
        no_browser: bool,
        /// Read a session token or API key from standard input (for scripts).
        #[arg(long, conflicts_with = "no_browser")]
        with_token: bool,
    },
    /// Sign out of an account (default: the active one), here and on the server.
    #[command(after_help = EXIT_CODES)]
    Logout {
        /// `username` or `username@host`.
        account: Option<String>,
    },
    /// Who the active account is, as the server knows it.
    #[command(after_help = EXIT_CODES)]
    Whoami,
    /// The signed-in accounts; the active one is marked with *.
    Accounts,
    /// Make another signed-in account the active one.
    #[command(after_help = EXIT_CODES)]
    Switch {
        /// `username`, or `username@host` when the name is on several servers.
        account: String,
    },
    /// Write your and your teams' collections and environments into a folder
    /// as Postman files, or bring a synced folder up to date.
    #[command(after_help = EXIT_CODES)]
    Pull {
        dir: PathBuf,
        /// Write secret environment values too (they are left empty otherwise).
        #[arg(long)]
        include_secrets: bool,
    },
    /// Send the edits made in a synced folder: changed, new and removed files.
    #[command(after_help = EXIT_CODES)]
    Push { dir: PathBuf },
    /// Keep a folder in sync live: edits go out as you save, the server's
    /// arrive as they happen, and work done offline goes out on reconnect.
    #[command(after_help = EXIT_CODES)]
    Watch {
        dir: PathBuf,
        /// Write secret environment values too.
        #[arg(long)]
        include_secrets: bool,
    },
    /// Settle the conflict of a synced file.
    #[command(after_help = EXIT_CODES)]
    Resolve {
        /// The file (or its .conflict.json).
        file: PathBuf,
        /// Whose version wins where both changed the same thing.
        #[arg(long, value_enum)]
        keep: KeepArg,
    },
    /// Turn sync off or on; edits made while it is off are kept and go out
    /// when it is back on.
    Sync {
        #[arg(value_enum)]
        state: OnOff,
    },
    /// Import a Postman collection, environment or data export (zip).
    #[command(after_help = EXIT_CODES)]
    Import {
        file: PathBuf,
        /// Into this team (its URL name) instead of your private items.
        #[arg(long)]
        team: Option<String>,
    },
    /// Export a collection or environment by id as a Postman file.
    #[command(after_help = EXIT_CODES)]
    Export {
        id: String,
        /// Write it to this new file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Keep secret environment values (they are left empty otherwise).
        #[arg(long)]
        include_secrets: bool,
    },
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
    /// The operator's tools: users and teams, from the server's shell.
    ///
    /// Each action is recorded in the operator's audit log (as "command
    /// line"), like those of the operator pages under /admin.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Put a team on a plan (free, pro, business, enterprise) where no
    /// payment provider is configured; the same as `admin set-plan`.
    Plan {
        /// The team's URL name.
        team: String,
        plan: String,
        /// Seats of a paid plan (default: the plan's, or what the team uses).
        #[arg(long)]
        seats: Option<i64>,
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

const EXIT_CODES: &str = "Exit codes: 0 done, 1 failed, 2 bad usage, 3 not signed in or the \
session ended (postroom login), 4 done but conflicts wait (postroom resolve), 5 the server cannot \
be reached (nothing was lost), 6 sync is off (postroom sync on).";

#[derive(Clone, Copy, clap::ValueEnum)]
enum KeepArg {
    Mine,
    Theirs,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum OnOff {
    On,
    Off,
}

/// Runs a client command to its exit code.
fn run_client(json: bool, command: Command) -> std::process::ExitCode {
    use client::{login, sync, transfer, watch, Ctx};
    let outcome = (|| {
        let ctx = Ctx::new(json)?;
        let rt = client::runtime()?;
        postroom_client::install_crypto();
        rt.block_on(async {
            match command {
                Command::Login {
                    url,
                    no_browser,
                    with_token,
                } => {
                    login::login(
                        &ctx,
                        login::LoginArgs {
                            server: url,
                            no_browser,
                            with_token,
                        },
                    )
                    .await
                }
                Command::Logout { account } => login::logout(&ctx, account.as_deref()).await,
                Command::Whoami => login::whoami(&ctx).await,
                Command::Accounts => login::list(&ctx),
                Command::Switch { account } => login::switch(&ctx, &account),
                Command::Pull {
                    dir,
                    include_secrets,
                } => sync::pull(&ctx, &dir, include_secrets).await,
                Command::Push { dir } => sync::push(&ctx, &dir).await,
                Command::Watch {
                    dir,
                    include_secrets,
                } => watch::watch(&ctx, &dir, include_secrets).await,
                Command::Resolve { file, keep } => {
                    let keep = match keep {
                        KeepArg::Mine => postroom_core::api::Keep::Mine,
                        KeepArg::Theirs => postroom_core::api::Keep::Theirs,
                    };
                    sync::resolve(&ctx, &file, keep).await
                }
                Command::Sync { state } => sync::set_sync(&ctx, matches!(state, OnOff::On)),
                Command::Import { file, team } => {
                    transfer::import(&ctx, &file, team.as_deref()).await
                }
                Command::Export {
                    id,
                    output,
                    include_secrets,
                } => transfer::export(&ctx, &id, output.as_deref(), include_secrets).await,
                _ => unreachable!("server commands are run by main"),
            }
        })
    })();
    client::finish(json, outcome)
}

#[derive(Subcommand)]
enum AdminCommand {
    /// List accounts (sign-up date, last active, confirmed, teams, state).
    Users {
        /// Only those whose username or email contains this.
        #[arg(long)]
        search: Option<String>,
    },
    /// Create an account; the person gets a mail with a link to choose a password.
    CreateUser {
        email: String,
        username: String,
        /// Make the account an operator (it may open /admin).
        #[arg(long)]
        operator: bool,
    },
    /// Disable an account: its sessions and API keys end, it cannot sign in.
    Disable { user: String },
    /// Let a disabled account sign in again.
    Enable { user: String },
    /// End every session of an account.
    SignOut { user: String },
    /// Turn off two-step verification for a person who lost their phone and
    /// recovery codes (make sure it is them first).
    TwoStepOff { user: String },
    /// Delete an account and everything of it, by the rules of its own deletion.
    Delete {
        user: String,
        /// Confirm the deletion (it cannot be undone).
        #[arg(long)]
        yes: bool,
    },
    /// List teams with their plan, members and seats.
    Teams,
    /// Put a team on a plan (free, pro, business, enterprise) without payment;
    /// for servers that take no payments.
    SetPlan {
        /// The team's URL name.
        team: String,
        plan: String,
        /// Seats of a paid plan (default: the plan's, or what the team uses).
        #[arg(long)]
        seats: Option<i64>,
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

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let Some(command) = cli.command else {
        let _ = Cli::command().print_help();
        return std::process::ExitCode::SUCCESS;
    };
    if command.is_client() {
        return run_client(cli.json, command);
    }
    match run_server_command(command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err:?}");
            std::process::ExitCode::FAILURE
        }
    }
}

impl Command {
    fn is_client(&self) -> bool {
        !matches!(
            self,
            Command::Serve { .. }
                | Command::DefaultConfig
                | Command::CheckConfig { .. }
                | Command::Backup { .. }
                | Command::Restore { .. }
                | Command::VerifyDomain { .. }
                | Command::Plan { .. }
                | Command::Admin { .. }
        )
    }
}

fn run_server_command(command: Command) -> anyhow::Result<()> {
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
        Command::Admin { command, config } => {
            let s = settings(config)?;
            tokio::runtime::Runtime::new()?.block_on(admin(s, command))
        }
        Command::Plan {
            team,
            plan,
            seats,
            config,
        } => {
            let s = settings(config)?;
            tokio::runtime::Runtime::new()?
                .block_on(admin(s, AdminCommand::SetPlan { team, plan, seats }))
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
        _ => unreachable!("client commands are run by run_client"),
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

async fn admin(settings: config::Settings, command: AdminCommand) -> anyhow::Result<()> {
    use postroom_server::domain::operator::{self, By};
    use postroom_server::error::Error;
    let app = postroom_server::App::new(settings, Clock::System).await?;
    let when = |ms: i64| postroom_server::clock::rfc3339(ms);
    let by = By::CommandLine;
    let done: Result<(), Error> = async {
        match command {
            AdminCommand::Users { search } => {
                let mut after = String::new();
                println!(
                    "{:<24} {:<32} {:<20} {:<20} {:>5}  state",
                    "username", "email", "signed up", "last active", "teams"
                );
                loop {
                    let rows =
                        operator::accounts(&app, search.as_deref().unwrap_or(""), &after).await?;
                    for u in &rows {
                        let state = match (u.disabled_at, u.email_verified_at) {
                            (Some(_), _) => "disabled",
                            (None, None) => "unconfirmed",
                            (None, Some(_)) => "active",
                        };
                        println!(
                            "{:<24} {:<32} {:<20} {:<20} {:>5}  {state}{}{}",
                            u.username,
                            u.email,
                            &when(u.created_at)[..19],
                            u.last_active_at
                                .map(|t| when(t)[..19].to_owned())
                                .unwrap_or_else(|| "-".into()),
                            u.teams,
                            if u.operator != 0 { ", operator" } else { "" },
                            if u.two_factor != 0 { ", two-step" } else { "" }
                        );
                    }
                    match rows.last() {
                        Some(last) if rows.len() as i64 == operator::PAGE => {
                            after = last.id.clone()
                        }
                        _ => break,
                    }
                }
            }
            AdminCommand::CreateUser {
                email,
                username,
                operator: op,
            } => {
                let user = operator::create_account(&app, &by, &email, &username, op).await?;
                println!(
                    "Created {} <{}>{}; a mail with a link to choose a password is on its way.",
                    user.username,
                    user.email,
                    if op { " as an operator" } else { "" }
                );
            }
            AdminCommand::Disable { user } => {
                let user = operator::set_disabled(&app, &by, &user, true).await?;
                println!(
                    "Disabled {}: its sessions and API keys ended, and it cannot sign in.",
                    user.username
                );
            }
            AdminCommand::Enable { user } => {
                let user = operator::set_disabled(&app, &by, &user, false).await?;
                println!("Enabled {}: it can sign in again.", user.username);
            }
            AdminCommand::SignOut { user } => {
                let ended = operator::sign_out_everywhere(&app, &by, &user).await?;
                println!("Ended {ended} session(s) of {user}.");
            }
            AdminCommand::TwoStepOff { user } => {
                let user = operator::turn_off_two_factor(&app, &by, &user).await?;
                println!(
                    "Two-step verification is off for {}: their password alone signs in now.",
                    user.username
                );
            }
            AdminCommand::Delete { user, yes } => {
                if !yes {
                    return Err(Error::bad_request(
                        "confirmation_required",
                        format!("deleting {user} cannot be undone: add --yes to confirm"),
                    ));
                }
                let user = operator::delete(&app, &by, &user).await?;
                println!("Deleted {} <{}>.", user.username, user.email);
            }
            AdminCommand::SetPlan { team, plan, seats } => {
                let (name, seats) = operator::set_plan(&app, &by, &team, &plan, seats).await?;
                println!("{team} is on {name} now, with {seats} seats.");
            }
            AdminCommand::Teams => {
                let mut after = String::new();
                println!(
                    "{:<24} {:<24} {:<12} {:>7} {:>5}",
                    "URL name", "name", "plan", "members", "seats"
                );
                loop {
                    let rows = operator::teams(&app, &after).await?;
                    for t in &rows {
                        println!(
                            "{:<24} {:<24} {:<12} {:>7} {:>5}",
                            t.slug, t.name, t.plan, t.members, t.seats
                        );
                    }
                    match rows.last() {
                        Some(last) if rows.len() as i64 == operator::PAGE => {
                            after = last.id.clone()
                        }
                        _ => break,
                    }
                }
            }
        }
        Ok(())
    }
    .await;
    // Mail queued above goes out with the next server start, or now when
    // the server runs (its worker polls the queue).
    app.store.close().await;
    match done {
        Err(Error::NotFound { .. }) => {
            anyhow::bail!("there is no such account (name it by username or id)")
        }
        Err(e) => anyhow::bail!("{}", e.body().error.message),
        Ok(()) => Ok(()),
    }
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
