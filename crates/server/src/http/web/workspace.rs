//! The rest of a workspace (S1, S8): environments (`/environments`), globals
//! (`/globals`, mine and each team's), history (`/history`) and header
//! presets (`/header-presets`). Variables and headers are edited as rows;
//! a save changes only the rows' key, value, enabled and type, so every
//! other field a client wrote stays, and it names the revision the page
//! showed, so a change made meanwhile is never overwritten. Values of
//! `type: "secret"` are masked until revealed.

use std::collections::HashMap;

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use postroom_core::api::ItemListQuery;
use postroom_core::ItemKind;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::collections::{problem, seated_teams};
use super::errors::error_response;
use super::pages::enc;
use super::pages::{flash, see_other, Page};
use super::session::{CsrfForm, SignedIn};
use crate::domain::policy::ItemAction;
use crate::domain::workspace::{self, Base, Scope, RESTORE_DAYS};
use crate::error::Error;
use crate::state::App;

const PAGE: u32 = 50;
/// Empty rows an editor offers for new variables or headers.
const NEW_ROWS: usize = 3;

pub fn router() -> Router<App> {
    Router::new()
        .route(
            "/environments",
            get(environments_page).post(create_environment),
        )
        .route(
            "/environments/{id}",
            get(environment_page).post(save_environment),
        )
        .route("/environments/{id}/delete", post(delete_environment))
        .route("/environments/{id}/move", post(move_environment))
        .route("/environments/{id}/undelete", post(undelete_environment))
        .route("/globals", get(globals_page).post(save_globals))
        .route("/history", get(history_page))
        .route("/history/{id}/delete", post(delete_history))
        .route("/header-presets", get(presets_page).post(create_preset))
        .route("/header-presets/{id}", get(preset_page).post(save_preset))
        .route("/header-presets/{id}/delete", post(delete_preset))
        .route("/header-presets/{id}/move", post(move_preset))
}

#[derive(Deserialize)]
struct Nothing {}

#[derive(Deserialize, Default)]
struct ListQuery {
    cursor: Option<String>,
    flash: Option<String>,
}

fn list_query(cursor: Option<String>, deleted: bool, limit: u32) -> ItemListQuery {
    ItemListQuery {
        limit: Some(limit),
        cursor,
        deleted,
        ..Default::default()
    }
}

// Rows of variables (environments, globals) and headers (presets).

/// One row of an editor.
#[derive(Serialize)]
struct Row {
    key: String,
    value: String,
    enabled: bool,
    secret: bool,
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The rows of `doc[member]`, as an editor shows them.
fn rows_of(doc: &Value, member: &str) -> Vec<Row> {
    doc.get(member)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|v| Row {
            key: text_of(v.get("key")),
            value: text_of(v.get("value")),
            enabled: v.get("enabled").and_then(Value::as_bool).unwrap_or(true),
            secret: v.get("type").and_then(Value::as_str) == Some("secret"),
        })
        .collect()
}

/// Applies an editor's form to `doc[member]`: each row it showed (`key.<i>`,
/// `value.<i>`, `enabled.<i>`, `type.<i>`, `remove.<i>`) changes only those
/// fields of that entry, keeping the rest; new rows with a key are added.
fn apply_rows(doc: &mut Value, member: &str, form: &HashMap<String, String>, typed: bool) {
    let existing: Vec<Value> = doc
        .get(member)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = Vec::with_capacity(existing.len() + NEW_ROWS);
    for i in 0.. {
        let Some(key) = form.get(&format!("key.{i}")) else {
            break;
        };
        let value = form.get(&format!("value.{i}")).cloned().unwrap_or_default();
        let enabled = form.contains_key(&format!("enabled.{i}"));
        let kind = form
            .get(&format!("type.{i}"))
            .map(String::as_str)
            .unwrap_or("default");
        if form.contains_key(&format!("remove.{i}")) {
            continue;
        }
        let mut entry = match existing.get(i) {
            Some(Value::Object(o)) => o.clone(),
            Some(_) => continue,
            None if key.trim().is_empty() => continue,
            None => Map::new(),
        };
        if text_of(entry.get("key")) != *key {
            entry.insert("key".into(), json!(key));
        }
        if text_of(entry.get("value")) != value {
            entry.insert("value".into(), json!(value));
        }
        if entry.contains_key("enabled") || !enabled || existing.get(i).is_none() {
            entry.insert("enabled".into(), json!(enabled));
        }
        if typed {
            let was = entry
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("default");
            if was != kind || existing.get(i).is_none() {
                entry.insert("type".into(), json!(kind));
            }
        }
        out.push(Value::Object(entry));
    }
    // Entries past what the form showed (the form was cut short) stay.
    let shown = (0..)
        .take_while(|i| form.contains_key(&format!("key.{i}")))
        .count();
    out.extend(existing.into_iter().skip(shown));
    if let Some(obj) = doc.as_object_mut() {
        obj.insert(member.into(), Value::Array(out));
    }
}

/// The form's fields by name (the last of a repeated name wins).
fn fields(pairs: Vec<(String, String)>) -> HashMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| (k, v.replace("\r\n", "\n")))
        .collect()
}

/// The item a page shows, for the sync status to tell when it changes
/// elsewhere (`assets/sync.js`).
fn watch(doc: &workspace::Document) -> Value {
    json!({ "id": doc.item.id, "revision": doc.item.revision })
}

fn base_of(form: &HashMap<String, String>) -> Base {
    form.get("revision")
        .and_then(|r| r.parse::<i64>().ok())
        .filter(|r| *r >= 1)
        .map_or(Base::Current, Base::Revision)
}

// Environments.

async fn environments_view(
    app: &App,
    signed: &SignedIn,
    cursor: Option<String>,
) -> Result<Page, Error> {
    let actor = signed.actor();
    let q = list_query(cursor, false, PAGE);
    let (items, next) =
        workspace::list_in(app, actor, ItemKind::Environment, Scope::All, &q).await?;
    let (deleted, _) = workspace::list_in(
        app,
        actor,
        ItemKind::Environment,
        Scope::All,
        &list_query(None, true, 20),
    )
    .await?;
    Ok(Page::new("environments.html", "Environments")
        .with("nav", "collections")
        .with("items", items)
        .with("next", next)
        .with("paged", q.cursor.is_some())
        .with("deleted", deleted)
        .with("restore_days", RESTORE_DAYS)
        .with("teams", seated_teams(app, actor).await?))
}

async fn environments_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<ListQuery>,
) -> Response {
    match environments_view(&app, &signed, q.cursor).await {
        Ok(page) => {
            page.with("flash", flash(q.flash.as_deref()))
                .render(&app, &signed.session)
                .await
        }
        Err(e) => error_response(e),
    }
}

#[derive(Deserialize, Serialize, Default)]
struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    team: String,
}

async fn create_environment(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Response {
    let team = Some(form.team.as_str()).filter(|t| !t.is_empty());
    let doc = json!({ "name": form.name.trim(), "values": [] });
    match workspace::create(&app, signed.actor(), ItemKind::Environment, doc, team).await {
        Ok(item) => see_other(&format!(
            "/environments/{}?flash=environment_created",
            enc(&item.id)
        )),
        Err(e) => match problem(&e) {
            Some(text) => match environments_view(&app, &signed, None).await {
                Ok(page) => {
                    page.with("error", text)
                        .with("form", &form)
                        .status(e.status())
                        .render(&app, &signed.session)
                        .await
                }
                Err(e) => error_response(e),
            },
            None => error_response(e),
        },
    }
}

#[derive(Deserialize, Default)]
struct ShowQuery {
    /// Show secret values (the page without JavaScript).
    show: Option<String>,
    flash: Option<String>,
}

async fn environment_view(
    app: &App,
    signed: &SignedIn,
    id: &str,
    show: bool,
    error: Option<String>,
) -> Result<Page, Error> {
    let actor = signed.actor();
    let doc = workspace::read(app, actor, ItemKind::Environment, id).await?;
    let summary = workspace::summary(app, actor, &doc.item).await?;
    let value: Value = serde_json::from_str(&doc.json).unwrap_or(Value::Null);
    let rows = rows_of(&value, "values");
    let can_remove = workspace::may(app, actor, &doc.item, ItemAction::Remove).await?;
    Ok(Page::new("environment.html", doc.item.name.clone())
        .with("nav", "collections")
        .with("watch", watch(&doc))
        .with("teams", seated_teams(app, actor).await?)
        .with("can_remove", can_remove)
        .with("move_action", format!("/environments/{}/move", enc(id)))
        .with("kind", "environment")
        .with("item", summary)
        .with("name", text_of(value.get("name")))
        .with("has_secrets", rows.iter().any(|r| r.secret))
        .with("rows", rows)
        .with("new_rows", NEW_ROWS)
        .with("show", show)
        .with("action", format!("/environments/{}", enc(id)))
        .with("error", error))
}

async fn environment_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> Response {
    match environment_view(&app, &signed, &id, q.show.is_some(), None).await {
        Ok(page) => {
            page.with("flash", flash(q.flash.as_deref()))
                .render(&app, &signed.session)
                .await
        }
        Err(e) => error_response(e),
    }
}

/// Writes a page's edits (the name, and the rows of `member`) onto the
/// item's current document, based on the revision the page showed.
async fn save_rows(
    app: &App,
    actor: &crate::domain::actor::Actor,
    kind: ItemKind,
    id: &str,
    member: &str,
    typed: bool,
    form: &HashMap<String, String>,
) -> Result<workspace::Saved, Error> {
    let doc = workspace::read(app, actor, kind, id).await?;
    let mut value: Value =
        serde_json::from_str(&doc.json).map_err(|e| Error::Internal(e.into()))?;
    if let (Some(name), Some(obj)) = (form.get("name"), value.as_object_mut()) {
        obj.insert("name".into(), json!(name.trim()));
    }
    apply_rows(&mut value, member, form, typed);
    workspace::put(app, actor, kind, id, value, base_of(form)).await
}

async fn save_environment(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Response {
    let form = fields(pairs);
    let actor = signed.actor();
    let result = save_rows(
        &app,
        actor,
        ItemKind::Environment,
        &id,
        "values",
        true,
        &form,
    )
    .await;
    match result {
        Ok(_) => see_other(&format!("/environments/{}?flash=saved", enc(&id))),
        Err(e) => match problem(&e) {
            Some(text) => match environment_view(&app, &signed, &id, false, Some(text)).await {
                Ok(page) => page.refused(&e).render(&app, &signed.session).await,
                Err(e) => error_response(e),
            },
            None => error_response(e),
        },
    }
}

async fn delete_environment(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    match workspace::delete(
        &app,
        signed.actor(),
        ItemKind::Environment,
        &id,
        workspace::Base::Current,
    )
    .await
    {
        Ok(()) => see_other("/environments?flash=environment_deleted"),
        Err(e) => match problem(&e) {
            Some(text) => match environment_view(&app, &signed, &id, false, Some(text)).await {
                Ok(page) => page.refused(&e).render(&app, &signed.session).await,
                Err(e) => error_response(e),
            },
            None => error_response(e),
        },
    }
}

async fn undelete_environment(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    match workspace::undelete(&app, signed.actor(), ItemKind::Environment, &id).await {
        Ok(_) => see_other(&format!(
            "/environments/{}?flash=environment_restored",
            enc(&id)
        )),
        Err(e) => error_response(e),
    }
}

// Globals: mine, and each of my teams'.

#[derive(Deserialize, Default)]
struct GlobalsQuery {
    team: Option<String>,
    show: Option<String>,
    flash: Option<String>,
}

async fn globals_view(
    app: &App,
    signed: &SignedIn,
    team: Option<&str>,
    show: bool,
    error: Option<String>,
) -> Result<Page, Error> {
    let actor = signed.actor();
    let teams = seated_teams(app, actor).await?;
    let doc = workspace::globals(app, actor, team).await?;
    let (value, revision) = match &doc {
        Some(d) => (
            serde_json::from_str(&d.json).unwrap_or(Value::Null),
            Some(d.item.revision),
        ),
        None => (json!({ "values": [] }), None),
    };
    let rows = rows_of(&value, "values");
    let action = match team {
        Some(slug) => format!("/globals?team={}", enc(slug)),
        None => "/globals".to_owned(),
    };
    Ok(Page::new("environment.html", "Globals")
        .with("nav", "collections")
        .with("watch", doc.as_ref().map(watch))
        .with("kind", "globals")
        .with("team", team)
        .with("teams", teams)
        .with("revision", revision)
        .with("has_secrets", rows.iter().any(|r| r.secret))
        .with("rows", rows)
        .with("new_rows", NEW_ROWS)
        .with("show", show)
        .with("action", action)
        .with("error", error))
}

async fn globals_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<GlobalsQuery>,
) -> Response {
    let team = q.team.as_deref().filter(|t| !t.is_empty());
    match globals_view(&app, &signed, team, q.show.is_some(), None).await {
        Ok(page) => {
            page.with("flash", flash(q.flash.as_deref()))
                .render(&app, &signed.session)
                .await
        }
        Err(e) => error_response(e),
    }
}

async fn save_globals(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<GlobalsQuery>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Response {
    let form = fields(pairs);
    let team = q.team.as_deref().filter(|t| !t.is_empty());
    let actor = signed.actor();
    let result = async {
        let mut value = match workspace::globals(&app, actor, team).await? {
            Some(d) => serde_json::from_str(&d.json).map_err(|e| Error::Internal(e.into()))?,
            None => json!({ "values": [] }),
        };
        apply_rows(&mut value, "values", &form, true);
        workspace::put_globals(&app, actor, team, value, base_of(&form)).await
    }
    .await;
    let back = match team {
        Some(slug) => format!("/globals?team={}&flash=saved", enc(slug)),
        None => "/globals?flash=saved".to_owned(),
    };
    match result {
        Ok(_) => see_other(&back),
        Err(e) => match problem(&e) {
            Some(text) => match globals_view(&app, &signed, team, false, Some(text)).await {
                Ok(page) => page.refused(&e).render(&app, &signed.session).await,
                Err(e) => error_response(e),
            },
            None => error_response(e),
        },
    }
}

// History.

async fn history_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<ListQuery>,
) -> Response {
    let query = list_query(q.cursor, false, PAGE);
    match workspace::list_in(&app, signed.actor(), ItemKind::History, Scope::All, &query).await {
        Ok((items, next)) => {
            Page::new("history.html", "History")
                .with("nav", "collections")
                .with("items", items)
                .with("next", next)
                .with("paged", query.cursor.is_some())
                .with("flash", flash(q.flash.as_deref()))
                .render(&app, &signed.session)
                .await
        }
        Err(e) => error_response(e),
    }
}

async fn delete_history(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    match workspace::delete(
        &app,
        signed.actor(),
        ItemKind::History,
        &id,
        workspace::Base::Current,
    )
    .await
    {
        Ok(()) => see_other("/history?flash=history_deleted"),
        Err(e) => error_response(e),
    }
}

// Header presets.

async fn presets_view(app: &App, signed: &SignedIn, cursor: Option<String>) -> Result<Page, Error> {
    let actor = signed.actor();
    let q = list_query(cursor, false, PAGE);
    let (items, next) =
        workspace::list_in(app, actor, ItemKind::HeaderPreset, Scope::All, &q).await?;
    Ok(Page::new("header_presets.html", "Header presets")
        .with("nav", "collections")
        .with("items", items)
        .with("next", next)
        .with("paged", q.cursor.is_some())
        .with("teams", seated_teams(app, actor).await?))
}

async fn presets_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<ListQuery>,
) -> Response {
    match presets_view(&app, &signed, q.cursor).await {
        Ok(page) => {
            page.with("flash", flash(q.flash.as_deref()))
                .render(&app, &signed.session)
                .await
        }
        Err(e) => error_response(e),
    }
}

async fn create_preset(
    State(app): State<App>,
    signed: SignedIn,
    CsrfForm(form): CsrfForm<CreateForm>,
) -> Response {
    let team = Some(form.team.as_str()).filter(|t| !t.is_empty());
    let doc = json!({ "name": form.name.trim(), "headers": [] });
    match workspace::create(&app, signed.actor(), ItemKind::HeaderPreset, doc, team).await {
        Ok(item) => see_other(&format!(
            "/header-presets/{}?flash=preset_created",
            enc(&item.id)
        )),
        Err(e) => match problem(&e) {
            Some(text) => match presets_view(&app, &signed, None).await {
                Ok(page) => {
                    page.with("error", text)
                        .with("form", &form)
                        .status(e.status())
                        .render(&app, &signed.session)
                        .await
                }
                Err(e) => error_response(e),
            },
            None => error_response(e),
        },
    }
}

async fn preset_view(
    app: &App,
    signed: &SignedIn,
    id: &str,
    error: Option<String>,
) -> Result<Page, Error> {
    let actor = signed.actor();
    let doc = workspace::read(app, actor, ItemKind::HeaderPreset, id).await?;
    let summary = workspace::summary(app, actor, &doc.item).await?;
    let value: Value = serde_json::from_str(&doc.json).unwrap_or(Value::Null);
    let can_remove = workspace::may(app, actor, &doc.item, ItemAction::Remove).await?;
    Ok(Page::new("environment.html", doc.item.name.clone())
        .with("nav", "collections")
        .with("watch", watch(&doc))
        .with("teams", seated_teams(app, actor).await?)
        .with("can_remove", can_remove)
        .with("move_action", format!("/header-presets/{}/move", enc(id)))
        .with("kind", "preset")
        .with("item", summary)
        .with("name", text_of(value.get("name")))
        .with("rows", rows_of(&value, "headers"))
        .with("new_rows", NEW_ROWS)
        .with("show", true)
        .with("action", format!("/header-presets/{}", enc(id)))
        .with("error", error))
}

async fn preset_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<ListQuery>,
) -> Response {
    match preset_view(&app, &signed, &id, None).await {
        Ok(page) => {
            page.with("flash", flash(q.flash.as_deref()))
                .render(&app, &signed.session)
                .await
        }
        Err(e) => error_response(e),
    }
}

async fn save_preset(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(pairs): CsrfForm<Vec<(String, String)>>,
) -> Response {
    let form = fields(pairs);
    let actor = signed.actor();
    let result = save_rows(
        &app,
        actor,
        ItemKind::HeaderPreset,
        &id,
        "headers",
        false,
        &form,
    )
    .await;
    match result {
        Ok(_) => see_other(&format!("/header-presets/{}?flash=saved", enc(&id))),
        Err(e) => match problem(&e) {
            Some(text) => match preset_view(&app, &signed, &id, Some(text)).await {
                Ok(page) => page.refused(&e).render(&app, &signed.session).await,
                Err(e) => error_response(e),
            },
            None => error_response(e),
        },
    }
}

async fn delete_preset(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    match workspace::delete(
        &app,
        signed.actor(),
        ItemKind::HeaderPreset,
        &id,
        workspace::Base::Current,
    )
    .await
    {
        Ok(()) => see_other("/header-presets?flash=preset_deleted"),
        Err(e) => error_response(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn editing_rows_keeps_what_the_form_does_not_show() {
        let mut doc = json!({
            "name": "Dev", "_postman_variable_scope": "environment",
            "values": [
                {"key": "host", "value": "a", "enabled": true, "x-extra": 1},
                {"key": "token", "value": "s3cret", "type": "secret", "enabled": true},
                {"key": "port", "value": 8080},
            ]
        });
        apply_rows(
            &mut doc,
            "values",
            &form(&[
                ("key.0", "host"),
                ("value.0", "b"),
                ("enabled.0", "on"),
                ("key.1", "token"),
                ("value.1", "s3cret"),
                ("type.1", "secret"),
                ("remove.1", "on"),
                ("key.2", "port"),
                ("value.2", "8080"),
                ("enabled.2", "on"),
                ("key.3", "new"),
                ("value.3", "v"),
                ("type.3", "secret"),
                ("enabled.3", "on"),
                ("key.4", ""),
                ("value.4", ""),
            ]),
            true,
        );
        assert_eq!(
            doc,
            json!({
                "name": "Dev", "_postman_variable_scope": "environment",
                "values": [
                    {"key": "host", "value": "b", "enabled": true, "x-extra": 1},
                    {"key": "port", "value": 8080},
                    {"key": "new", "value": "v", "enabled": true, "type": "secret"},
                ]
            })
        );
    }
}

#[derive(Deserialize)]
struct MoveForm {
    #[serde(default)]
    team: String,
}

/// Shares an environment or a header preset with a team (`team` set), or
/// takes it back among the person's own (`team` empty); the page it came
/// from says which, or shows why not.
async fn move_item(
    app: &App,
    signed: &SignedIn,
    kind: ItemKind,
    id: &str,
    form: &MoveForm,
) -> Response {
    let team = Some(form.team.as_str()).filter(|t| !t.is_empty());
    let flash_key = if team.is_some() {
        "item_shared"
    } else {
        "item_unshared"
    };
    let path = match kind {
        ItemKind::Environment => format!("/environments/{}", enc(id)),
        _ => format!("/header-presets/{}", enc(id)),
    };
    match workspace::move_to(app, signed.actor(), kind, id, team).await {
        Ok(_) => see_other(&format!("{path}?flash={flash_key}")),
        Err(e) => match problem(&e) {
            Some(text) => {
                let page = match kind {
                    ItemKind::Environment => {
                        environment_view(app, signed, id, false, Some(text)).await
                    }
                    _ => preset_view(app, signed, id, Some(text)).await,
                };
                match page {
                    Ok(page) => page.refused(&e).render(app, &signed.session).await,
                    Err(e) => error_response(e),
                }
            }
            None => error_response(e),
        },
    }
}

async fn move_environment(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<MoveForm>,
) -> Response {
    move_item(&app, &signed, ItemKind::Environment, &id, &form).await
}

async fn move_preset(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<MoveForm>,
) -> Response {
    move_item(&app, &signed, ItemKind::HeaderPreset, &id, &form).await
}
