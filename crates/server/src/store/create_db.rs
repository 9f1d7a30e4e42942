//! PostgreSQL: a database named in `database_url` that does not exist yet is
//! created at start, when the role may create databases; otherwise the
//! error says how to create it. (SQLite creates its file itself.)

use anyhow::Context;
use sqlx::{AnyConnection, ConnectOptions, Connection};

/// SQLSTATE `invalid_catalog_name`: the database does not exist.
const NO_SUCH_DATABASE: &str = "3D000";
/// SQLSTATE `duplicate_database`: another node created it meanwhile.
const DUPLICATE_DATABASE: &str = "42P04";
/// SQLSTATE `insufficient_privilege`.
const NOT_ALLOWED: &str = "42501";

fn sqlstate(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
}

/// Connects once to the database `url` names, and creates it when it is
/// missing: connected to the server's `postgres` database with the same
/// role, `CREATE DATABASE "<name>"`.
pub(super) async fn create_if_missing(url: &str) -> anyhow::Result<()> {
    let options = url
        .parse::<sqlx::any::AnyConnectOptions>()
        .context("parsing the database URL")?;
    let e = match options.connect().await {
        Ok(conn) => {
            let _ = conn.close().await;
            return Ok(());
        }
        Err(e) if sqlstate(&e).as_deref() == Some(NO_SUCH_DATABASE) => e,
        Err(e) => return Err(e).context("connecting to the database"),
    };
    let parsed = url::Url::parse(url).context("parsing the database URL")?;
    let name = parsed.path().trim_start_matches('/').to_owned();
    let name = percent_decode(&name);
    let role = match parsed.username() {
        "" => "the role Postroom connects as".to_owned(),
        user => format!("the role {}", percent_decode(user)),
    };
    let how = format!(
        "create it with `createdb {name}` (or `CREATE DATABASE \"{name}\";` in psql), as a role that may, \
         or give {role} the CREATEDB privilege; then start again"
    );
    if name.is_empty() {
        return Err(e).context("the database URL names no database");
    }
    let mut maintenance = parsed.clone();
    maintenance.set_path("/postgres");
    let mut conn = AnyConnection::connect(maintenance.as_str())
        .await
        .with_context(|| format!("the database {name} does not exist, and connecting to the server's postgres database to create it failed: {how}"))?;
    // The name is an identifier, quoted with its quotes doubled: nothing in
    // it can leave the quotes.
    let created = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE \"{}\"",
        name.replace('"', "\"\"")
    )))
    .execute(&mut conn)
    .await;
    let _ = conn.close().await;
    match created {
        Ok(_) => {
            tracing::info!(database = %name, "created the PostgreSQL database");
            Ok(())
        }
        Err(e) if sqlstate(&e).as_deref() == Some(DUPLICATE_DATABASE) => Ok(()),
        Err(e) if sqlstate(&e).as_deref() == Some(NOT_ALLOWED) => Err(anyhow::anyhow!(
            "the database {name} does not exist, and {role} may not create databases: {how}"
        )),
        Err(e) => Err(e).with_context(|| {
            format!("the database {name} does not exist and creating it failed: {how}")
        }),
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_owned())
}
