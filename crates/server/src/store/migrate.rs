//! Applies the migrations compiled into the binary, using sqlx's migrator so
//! that concurrent starts on PostgreSQL take its advisory lock.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::SqlStr;

use super::{Backend, Store};

macro_rules! migrations {
    ($dir:literal: $($version:literal $name:literal),* $(,)?) => {
        vec![$(Migration::new(
            $version,
            Cow::Borrowed($name),
            MigrationType::Simple,
            SqlStr::from_static(include_str!(concat!("../../migrations/", $dir, "/", $name, ".sql"))),
            false,
        )),*]
    };
}

fn sqlite() -> Vec<Migration> {
    migrations!("sqlite": 1 "0001_accounts", 2 "0002_teams", 3 "0003_web_and_support", 4 "0004_credential_lifetimes", 5 "0005_workspace", 6 "0006_sync", 7 "0007_oauth", 8 "0008_operator", 9 "0009_two_factor", 10 "0010_oidc", 11 "0011_passkeys", 12 "0012_billing")
}

fn postgres() -> Vec<Migration> {
    migrations!("postgres": 1 "0001_accounts", 2 "0002_teams", 3 "0003_web_and_support", 4 "0004_credential_lifetimes", 5 "0005_workspace", 6 "0006_sync", 7 "0007_oauth", 8 "0008_operator", 9 "0009_two_factor", 10 "0010_oidc", 11 "0011_passkeys", 12 "0012_billing")
}

/// The schema version this binary brings a SQLite database to.
pub fn latest_sqlite() -> i64 {
    latest(Backend::Sqlite)
}

/// The schema version this binary brings a database of `backend` to.
pub fn latest(backend: Backend) -> i64 {
    let migrations = match backend {
        Backend::Sqlite => sqlite(),
        Backend::Postgres => postgres(),
    };
    migrations.iter().map(|m| m.version).max().unwrap_or(0)
}

pub async fn run(store: &Store) -> Result<(), sqlx::migrate::MigrateError> {
    let migrations = match store.backend {
        Backend::Sqlite => sqlite(),
        Backend::Postgres => postgres(),
    };
    // The fields are public so that `migrate!()` can build a migrator; the
    // version is pinned in the workspace, and this avoids the proc-macro.
    let migrator = Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    };
    migrator.run(&store.pool).await
}
