//! The operator's console (O7, P10): accounts and teams as the operator sees
//! them, disabling accounts, the operator's audit log, and answers to
//! support requests.

use sqlx::FromRow;

use super::{Conn, Tx};
use crate::clock::Millis;

/// An account in the operator's list.
#[derive(Debug, Clone, FromRow)]
pub struct AccountRow {
    pub id: String,
    pub username: String,
    pub email: String,
    pub email_verified_at: Option<i64>,
    pub created_at: i64,
    pub operator: i64,
    pub disabled_at: Option<i64>,
    /// The latest activity of its live sessions.
    pub last_active_at: Option<i64>,
    pub teams: i64,
    /// Two-step verification is on.
    pub two_factor: i64,
}

const ACCOUNT_COLUMNS: &str =
    "u.id, u.username, u.email, u.email_verified_at, u.created_at, u.operator, u.disabled_at, \
     (SELECT MAX(s.last_active_at) FROM sessions s WHERE s.user_id = u.id) AS last_active_at, \
     (SELECT COUNT(*) FROM team_members m WHERE m.user_id = u.id) AS teams, \
     (SELECT COUNT(*) FROM user_totp t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL) AS two_factor";

/// Accounts whose username or email contains `search` (lower-case; empty:
/// all), after the id `after`, oldest first.
pub async fn accounts(
    c: &mut Conn,
    search: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<AccountRow>, sqlx::Error> {
    let pattern = format!(
        "%{}%",
        search
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ACCOUNT_COLUMNS} FROM users u \
         WHERE (u.username_key LIKE $1 ESCAPE '\\' OR u.email_key LIKE $1 ESCAPE '\\') AND u.id > $2 \
         ORDER BY u.id LIMIT $3"
    )))
    .bind(pattern)
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

pub async fn account(c: &mut Conn, id: &str) -> Result<Option<AccountRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {ACCOUNT_COLUMNS} FROM users u WHERE u.id = $1"
    )))
    .bind(id)
    .fetch_optional(c)
    .await
}

/// Marks an account disabled (`Some(now)`) or enabled again (`None`).
pub async fn set_disabled(
    c: &mut Tx,
    user_id: &str,
    disabled_at: Option<Millis>,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    c.changed(user_id);
    let c: &mut Conn = c;
    let r = sqlx::query("UPDATE users SET disabled_at = $2, updated_at = $3 WHERE id = $1")
        .bind(user_id)
        .bind(disabled_at)
        .bind(now)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

pub async fn set_operator(
    c: &mut Tx,
    user_id: &str,
    operator: bool,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    c.changed(user_id);
    let c: &mut Conn = c;
    let r = sqlx::query("UPDATE users SET operator = $2, updated_at = $3 WHERE id = $1")
        .bind(user_id)
        .bind(i64::from(operator))
        .bind(now)
        .execute(c)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// When the session last proved its password for the operator pages.
pub async fn confirmed_at(c: &mut Conn, session_id: &str) -> Result<Option<i64>, sqlx::Error> {
    let row: Option<(Option<i64>,)> =
        sqlx::query_as("SELECT operator_confirmed_at FROM sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(c)
            .await?;
    Ok(row.and_then(|(at,)| at))
}

pub async fn confirm(c: &mut Tx, session_id: &str, now: Millis) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("UPDATE sessions SET operator_confirmed_at = $2 WHERE id = $1")
        .bind(session_id)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

/// One line of the operator's audit log.
#[derive(Debug, Clone, FromRow)]
pub struct AuditRow {
    pub id: String,
    pub operator: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub created_at: i64,
}

pub struct NewAudit<'a> {
    pub id: &'a str,
    pub operator_id: Option<&'a str>,
    /// The operator's username, or "command line".
    pub operator: &'a str,
    pub action: &'a str,
    pub target: &'a str,
    pub detail: &'a str,
}

pub async fn audit(c: &mut Tx, a: &NewAudit<'_>, now: Millis) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query(
        "INSERT INTO operator_audit (id, operator_id, operator, action, target, detail, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(a.id)
    .bind(a.operator_id)
    .bind(a.operator)
    .bind(a.action)
    .bind(a.target)
    .bind(a.detail)
    .bind(now)
    .execute(c)
    .await?;
    Ok(())
}

/// The audit log, newest first, before the id `before` (empty: the newest).
pub async fn audit_log(
    c: &mut Conn,
    before: &str,
    limit: i64,
) -> Result<Vec<AuditRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, operator, action, target, detail, created_at FROM operator_audit \
         WHERE ($1 = '' OR id < $1) ORDER BY id DESC LIMIT $2",
    )
    .bind(before)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// A team in the operator's list.
#[derive(Debug, Clone, FromRow)]
pub struct TeamRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub plan: String,
    pub seats: i64,
    pub members: i64,
    pub created_at: i64,
}

pub async fn teams(c: &mut Conn, after: &str, limit: i64) -> Result<Vec<TeamRow>, sqlx::Error> {
    sqlx::query_as(
        "SELECT t.id, t.slug, t.name, t.plan, t.seats, \
         (SELECT COUNT(*) FROM team_members m WHERE m.team_id = t.id) AS members, t.created_at \
         FROM teams t WHERE t.id > $1 ORDER BY t.id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(c)
    .await
}

/// Sets a team's plan and seats.
pub async fn set_plan(
    c: &mut Tx,
    team_id: &str,
    plan: &str,
    seats: i64,
    now: Millis,
) -> Result<(), sqlx::Error> {
    let c: &mut Conn = c;
    sqlx::query("UPDATE teams SET plan = $2, seats = $3, updated_at = $4 WHERE id = $1")
        .bind(team_id)
        .bind(plan)
        .bind(seats)
        .bind(now)
        .execute(c)
        .await?;
    Ok(())
}

/// A support request as the operator sees it.
#[derive(Debug, Clone, FromRow)]
pub struct SupportRow {
    pub id: String,
    pub user_id: String,
    pub username: String,
    pub email: String,
    pub category: String,
    pub subject: String,
    pub body: String,
    pub status: String,
    pub answer: Option<String>,
    pub answered_at: Option<i64>,
    pub created_at: i64,
}

const SUPPORT_COLUMNS: &str =
    "r.id, r.user_id, u.username, u.email, r.category, r.subject, r.body, r.status, \
     r.answer, r.answered_at, r.created_at";

/// Support requests with `status` (empty: all), newest first.
pub async fn support(
    c: &mut Conn,
    status: &str,
    before: &str,
    limit: i64,
) -> Result<Vec<SupportRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SUPPORT_COLUMNS} FROM support_requests r JOIN users u ON u.id = r.user_id \
         WHERE ($1 = '' OR r.status = $1) AND ($2 = '' OR r.id < $2) ORDER BY r.id DESC LIMIT $3"
    )))
    .bind(status)
    .bind(before)
    .bind(limit)
    .fetch_all(c)
    .await
}

pub async fn count_support(c: &mut Conn, status: &str) -> Result<i64, sqlx::Error> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM support_requests WHERE status = $1")
        .bind(status)
        .fetch_one(c)
        .await?;
    Ok(n)
}

pub async fn support_request(c: &mut Conn, id: &str) -> Result<Option<SupportRow>, sqlx::Error> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SUPPORT_COLUMNS} FROM support_requests r JOIN users u ON u.id = r.user_id WHERE r.id = $1"
    )))
    .bind(id)
    .fetch_optional(c)
    .await
}

/// Records an answer (`answered`) or closes a request (`closed`).
pub async fn set_support_status(
    c: &mut Tx,
    id: &str,
    status: &str,
    answer: Option<&str>,
    now: Millis,
) -> Result<bool, sqlx::Error> {
    let c: &mut Conn = c;
    let r = sqlx::query(
        "UPDATE support_requests SET status = $2, answer = COALESCE($3, answer), \
         answered_at = CASE WHEN $3 IS NULL THEN answered_at ELSE $4 END, updated_at = $4 WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(answer)
    .bind(now)
    .execute(c)
    .await?;
    Ok(r.rows_affected() == 1)
}
