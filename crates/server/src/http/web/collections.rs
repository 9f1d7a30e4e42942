//! Collection pages (S1-S3, S9). `/collections`: the Private, Team and
//! Links tabs, importing a file or a Postman data export, and the recently
//! deleted collections; `/collections/{id}`: a collection's folders and
//! requests, and what can be done to it (share with a team or take it back,
//! get a link, follow it, download it, delete it, its revisions). The
//! public side, `/l/<token>`, answers a link's collection as JSON to tools
//! (`newman run <url>`) and as a read-only page to a browser.
//!
//! Every page calls the same `domain::workspace` function as the JSON API;
//! who may do what is decided there (`policy::decide_item`), so a control
//! hidden here is refused there too.

use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use postroom_core::api::{self, ItemListQuery};
use postroom_core::ItemKind;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::errors::{csrf_refused, error_response, error_status};
use super::markdown;
use super::pages::enc;
use super::pages::{capitalise, flash, see_other, FormError, Page};
use super::session::{check_csrf, CsrfForm, SignedIn, WebSession};
use crate::domain::actor::Actor;
use crate::domain::policy::ItemAction;
use crate::domain::teams;
use crate::domain::workspace::{self, imports, links, Scope, RESTORE_DAYS};
use crate::error::Error;
use crate::http::extract::read_upload;
use crate::state::App;

/// Collections a list page shows at once.
const PAGE: u32 = 25;

pub fn router() -> Router<App> {
    Router::new()
        .route("/l/{token}", get(public_link))
        .route("/collections", get(list_page))
        .route(
            "/collections/import",
            // `read_upload` caps the body at the document limit itself.
            post(import).layer(DefaultBodyLimit::disable()),
        )
        .route("/collections/deleted", get(deleted_page))
        .route("/collections/{id}", get(collection_page))
        .route("/collections/{id}/download", get(download))
        .route("/collections/{id}/move", post(move_to))
        .route("/collections/{id}/links", post(create_link))
        .route("/collections/{id}/subscription", post(subscribe))
        .route("/collections/{id}/delete", get(delete_page).post(delete))
        .route("/collections/{id}/undelete", post(undelete))
        .route("/collections/{id}/revisions", get(revisions_page))
        .route("/collections/{id}/revisions/{rev}", get(revision_page))
        .route(
            "/collections/{id}/revisions/{rev}/restore",
            post(restore_revision),
        )
        .route("/links/{id}/revoke", post(revoke_link))
}

#[derive(Deserialize)]
struct Nothing {}

fn collection_path(id: &str, rest: &str) -> String {
    format!("/collections/{}{rest}", enc(id))
}

/// How a page shows a refusal it can explain (a bad file, a stale revision,
/// "only the creator or an admin"); `None` for what gets an error page.
pub(super) fn problem(e: &Error) -> Option<String> {
    explain(e).map(|text| capitalise(&text))
}

/// The refusal as the domain words it, with the fields it names; a message
/// that starts with a path (`item[3].request.url: ...`) keeps it as it is.
fn explain(e: &Error) -> Option<String> {
    match e {
        Error::Forbidden { message, .. } => Some(message.clone()),
        _ => FormError::from(e).map(|_| {
            let body = e.body().error;
            let mut text = body.message.clone();
            for (field, message) in &body.fields {
                if !body.message.contains(message.as_str()) {
                    text.push_str(&format!(" ({field}: {message})"));
                }
            }
            text
        }),
    }
}

/// My teams where I hold a seat: those whose items I read and write.
pub(super) async fn seated_teams(app: &App, actor: &Actor) -> Result<Vec<api::TeamRef>, Error> {
    Ok(teams::list_mine(app, actor)
        .await?
        .teams
        .into_iter()
        .filter(|t| !t.membership.support_only)
        .map(|t| api::TeamRef {
            slug: t.slug,
            name: t.name,
        })
        .collect())
}

// The list: Private, Team and Links tabs, import, recently deleted.

#[derive(Deserialize, Default)]
struct ListQuery {
    tab: Option<String>,
    cursor: Option<String>,
    flash: Option<String>,
}

/// What an import shows on the list page: what it brought, or why not.
#[derive(Default, Serialize)]
struct ImportOutcome {
    result: Option<api::ImportResult>,
    error: Option<String>,
}

async fn list_view(
    app: &App,
    signed: &SignedIn,
    tab: &str,
    cursor: Option<String>,
    outcome: ImportOutcome,
) -> Result<Page, Error> {
    let actor = signed.actor();
    let teams = seated_teams(app, actor).await?;
    let q = ItemListQuery {
        limit: Some(PAGE),
        cursor,
        deleted: tab == "deleted",
        ..Default::default()
    };
    let (tab, title) = match tab {
        "team" => ("team", "Team collections"),
        "links" => ("links", "Public links"),
        "deleted" => ("deleted", "Recently deleted collections"),
        _ => ("private", "Collections"),
    };
    let mut page = Page::new("collections.html", title)
        .with("nav", "collections")
        .with("tab", tab)
        .with("teams", &teams)
        .with("import", outcome)
        .with("restore_days", RESTORE_DAYS);
    match tab {
        "links" => {
            let list = links::list(app, actor).await?;
            page = page.with("links", list.links);
        }
        _ => {
            let scope = match tab {
                "team" => Scope::Teams,
                "deleted" => Scope::All,
                _ => Scope::Private,
            };
            let (items, next) =
                workspace::list_in(app, actor, ItemKind::Collection, scope, &q).await?;
            page = page
                .with("items", items)
                .with("next", next)
                .with("paged", q.cursor.is_some());
        }
    }
    Ok(page)
}

async fn list_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<ListQuery>,
) -> Response {
    let tab = q.tab.as_deref().unwrap_or("private");
    let tab = if tab == "deleted" { "private" } else { tab };
    match list_view(&app, &signed, tab, q.cursor, ImportOutcome::default()).await {
        Ok(page) => {
            page.with("flash", flash(q.flash.as_deref()))
                .render(&app, &signed.session)
                .await
        }
        Err(e) => error_response(e),
    }
}

async fn deleted_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<ListQuery>,
) -> Response {
    match list_view(&app, &signed, "deleted", q.cursor, ImportOutcome::default()).await {
        Ok(page) => {
            page.with("flash", flash(q.flash.as_deref()))
                .render(&app, &signed.session)
                .await
        }
        Err(e) => error_response(e),
    }
}

/// The import form is multipart (a file), so its CSRF field is read here.
async fn import(State(app): State<App>, signed: SignedIn, request: Request) -> Response {
    let form = match read_import_form(&app, request).await {
        Ok(form) => form,
        Err(e) => return import_shown(&app, &signed, "private", Err(e)).await,
    };
    if !check_csrf(&signed.session, form.csrf.as_deref()) {
        return csrf_refused();
    }
    let tab = if form.team.is_some() {
        "team"
    } else {
        "private"
    };
    let result = match form.file {
        Some(bytes) => imports::import(&app, signed.actor(), form.team.as_deref(), bytes).await,
        None => Err(Error::field(
            "file",
            "empty_file",
            "choose a file to import: a Postman collection, environment or data export",
        )),
    };
    import_shown(&app, &signed, tab, result).await
}

/// The list page with what the import brought, or its error.
async fn import_shown(
    app: &App,
    signed: &SignedIn,
    tab: &str,
    result: Result<api::ImportResult, Error>,
) -> Response {
    let (outcome, status) = match result {
        Ok(result) => (
            ImportOutcome {
                result: Some(result),
                error: None,
            },
            StatusCode::OK,
        ),
        Err(e) => match explain(&e) {
            Some(text) => (
                ImportOutcome {
                    result: None,
                    error: Some(text),
                },
                e.status(),
            ),
            None => return error_response(e),
        },
    };
    match list_view(app, signed, tab, None, outcome).await {
        Ok(page) => page.status(status).render(app, &signed.session).await,
        Err(e) => error_response(e),
    }
}

#[derive(Default)]
struct ImportForm {
    csrf: Option<String>,
    team: Option<String>,
    file: Option<axum::body::Bytes>,
}

async fn read_import_form(app: &App, request: Request) -> Result<ImportForm, Error> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_form {
        return Err(Error::UnsupportedMedia {
            message: "send the import form".into(),
        });
    }
    // A form carries a little more than its file.
    let max = app.settings.max_document_bytes as usize + 64 * 1024;
    let (parts, bytes) = read_upload(request, max).await?;
    let request = Request::from_parts(parts, axum::body::Body::from(bytes));
    let mut multipart =
        <axum::extract::Multipart as axum::extract::FromRequest<()>>::from_request(request, &())
            .await
            .map_err(|_| Error::bad_request("invalid_multipart", "the form could not be read"))?;
    let invalid = |e: axum::extract::multipart::MultipartError| {
        Error::bad_request("invalid_multipart", e.body_text())
    };
    let mut form = ImportForm::default();
    while let Some(field) = multipart.next_field().await.map_err(invalid)? {
        match field.name() {
            Some("csrf") => form.csrf = Some(field.text().await.map_err(invalid)?),
            Some("team") => {
                let team = field.text().await.map_err(invalid)?;
                form.team = Some(team).filter(|t| !t.is_empty());
            }
            Some("file") => {
                let bytes = field.bytes().await.map_err(invalid)?;
                form.file = Some(bytes).filter(|b| !b.is_empty());
            }
            _ => {}
        }
    }
    Ok(form)
}

// One collection.

#[derive(Deserialize, Default)]
struct ItemQuery {
    flash: Option<String>,
}

/// A collection's folders and requests, their descriptions as safe HTML.
fn rows(collection: &Value) -> Vec<Value> {
    tree(collection)
        .into_iter()
        .map(|r| {
            let html = r.description.as_deref().map(markdown::to_html);
            let mut v = serde_json::to_value(&r).unwrap_or_default();
            v["description_html"] = json!(html);
            v
        })
        .collect()
}

async fn item_view(
    app: &App,
    signed: &SignedIn,
    id: &str,
    error: Option<String>,
) -> Result<Page, Error> {
    let actor = signed.actor();
    let doc = workspace::read(app, actor, ItemKind::Collection, id).await?;
    let summary = workspace::summary(app, actor, &doc.item).await?;
    let can_remove = workspace::may(app, actor, &doc.item, ItemAction::Remove).await?;
    let value: Value = serde_json::from_str(&doc.json).unwrap_or(Value::Null);
    let description =
        description_text(value.pointer("/info/description")).map(|d| markdown::to_html(&d));
    let teams = seated_teams(app, actor).await?;
    let links: Vec<api::Link> = links::list(app, actor)
        .await?
        .links
        .into_iter()
        .filter(|l| l.collection.id == doc.item.id)
        .collect();
    Ok(Page::new("collection.html", doc.item.name.clone())
        .with("nav", "collections")
        .with(
            "watch",
            json!({ "id": doc.item.id, "revision": doc.item.revision }),
        )
        .with("item", summary)
        .with("description_html", description)
        .with("rows", rows(&value))
        .with("teams", teams)
        .with("links", links)
        .with("can_remove", can_remove)
        .with("restore_days", RESTORE_DAYS)
        .with("error", error))
}

async fn collection_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<ItemQuery>,
) -> Response {
    match item_view(&app, &signed, &id, None).await {
        Ok(page) => {
            page.with("flash", flash(q.flash.as_deref()))
                .render(&app, &signed.session)
                .await
        }
        Err(e) => error_response(e),
    }
}

/// After an action on a collection: back to its page with `flash`, or the
/// page again with the refusal explained.
async fn after(
    app: &App,
    signed: &SignedIn,
    id: &str,
    result: Result<(), Error>,
    flash_key: &str,
) -> Response {
    match result {
        Ok(()) => see_other(&collection_path(id, &format!("?flash={flash_key}"))),
        Err(e) => match problem(&e) {
            Some(text) => match item_view(app, signed, id, Some(text)).await {
                Ok(page) => page.refused(&e).render(app, &signed.session).await,
                Err(e) => error_response(e),
            },
            None => error_response(e),
        },
    }
}

/// The collection as a file, named after it.
async fn download(State(app): State<App>, signed: SignedIn, Path(id): Path<String>) -> Response {
    let doc = match workspace::read(&app, signed.actor(), ItemKind::Collection, &id).await {
        Ok(doc) => doc,
        Err(e) => return error_response(e),
    };
    let name = file_name(&doc.item.name);
    let disposition = format!(
        "attachment; filename=\"{}.postman_collection.json\"; filename*=UTF-8''{}.postman_collection.json",
        ascii_name(&name),
        enc(&name).replace('+', "%20")
    );
    let mut response = (
        [(header::CONTENT_TYPE, "application/json")],
        doc.json.to_string(),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        response
            .headers_mut()
            .insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// A name fit for a file: no path separators or characters file systems refuse.
fn file_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let cleaned = cleaned.trim().trim_matches('.').to_owned();
    if cleaned.is_empty() {
        "collection".into()
    } else {
        cleaned
    }
}

/// The name for clients that only read `filename=`: plain ASCII.
fn ascii_name(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '"' | '\\' => '_',
            c if c.is_ascii_graphic() || c == ' ' => c,
            _ => '_',
        })
        .collect()
}

#[derive(Deserialize)]
struct MoveForm {
    #[serde(default)]
    team: String,
}

async fn move_to(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<MoveForm>,
) -> Response {
    let team = Some(form.team.as_str()).filter(|t| !t.is_empty());
    let flash_key = if team.is_some() {
        "collection_shared"
    } else {
        "collection_unshared"
    };
    let result = workspace::move_to(&app, signed.actor(), ItemKind::Collection, &id, team)
        .await
        .map(|_| ());
    after(&app, &signed, &id, result, flash_key).await
}

async fn create_link(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    match links::create(&app, signed.actor(), &id).await {
        Ok(_) => see_other(&collection_path(&id, "?flash=link_created#links")),
        Err(e) => after(&app, &signed, &id, Err(e), "").await,
    }
}

#[derive(Deserialize)]
struct SubscribeForm {
    #[serde(default)]
    on: String,
    /// Where to go back to: the Team tab, or the collection.
    #[serde(default)]
    back: String,
}

async fn subscribe(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<SubscribeForm>,
) -> Response {
    let on = form.on == "1";
    let flash_key = if on { "subscribed" } else { "unsubscribed" };
    let result = workspace::set_subscribed(&app, signed.actor(), &id, on).await;
    if result.is_ok() && form.back == "team" {
        return see_other(&format!("/collections?tab=team&flash={flash_key}"));
    }
    after(&app, &signed, &id, result, flash_key).await
}

/// "Delete": a page that asks first, so it works without JavaScript.
async fn delete_page(State(app): State<App>, signed: SignedIn, Path(id): Path<String>) -> Response {
    let doc = match workspace::read(&app, signed.actor(), ItemKind::Collection, &id).await {
        Ok(doc) => doc,
        Err(e) => return error_response(e),
    };
    let summary = match workspace::summary(&app, signed.actor(), &doc.item).await {
        Ok(s) => s,
        Err(e) => return error_response(e),
    };
    Page::new(
        "collection_delete.html",
        format!("Delete {}", doc.item.name),
    )
    .with("nav", "collections")
    .with("item", summary)
    .with("restore_days", RESTORE_DAYS)
    .render(&app, &signed.session)
    .await
}

async fn delete(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    match workspace::delete(
        &app,
        signed.actor(),
        ItemKind::Collection,
        &id,
        workspace::Base::Current,
    )
    .await
    {
        Ok(()) => see_other("/collections/deleted?flash=collection_deleted"),
        Err(e) => after(&app, &signed, &id, Err(e), "").await,
    }
}

async fn undelete(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    match workspace::undelete(&app, signed.actor(), ItemKind::Collection, &id).await {
        Ok(_) => see_other(&collection_path(&id, "?flash=collection_restored")),
        Err(e) => error_response(e),
    }
}

// Revisions.

#[derive(Deserialize, Default)]
struct RevisionsQuery {
    before: Option<i64>,
    flash: Option<String>,
}

async fn revisions_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<RevisionsQuery>,
) -> Response {
    let actor = signed.actor();
    let result = async {
        let doc = workspace::read(&app, actor, ItemKind::Collection, &id).await?;
        let summary = workspace::summary(&app, actor, &doc.item).await?;
        let list =
            workspace::revisions(&app, actor, ItemKind::Collection, &id, q.before, Some(PAGE))
                .await?;
        Ok::<_, Error>((summary, list))
    }
    .await;
    match result {
        Ok((summary, list)) => {
            Page::new(
                "collection_revisions.html",
                format!("Revisions of {}", summary.name),
            )
            .with("nav", "collections")
            .with("item", summary)
            .with("revisions", list.revisions)
            .with("next", list.next)
            .with("flash", flash(q.flash.as_deref()))
            .render(&app, &signed.session)
            .await
        }
        Err(e) => error_response(e),
    }
}

async fn revision_page(
    State(app): State<App>,
    signed: SignedIn,
    Path((id, rev)): Path<(String, String)>,
) -> Response {
    let Ok(rev) = rev.parse::<i64>() else {
        return error_status(StatusCode::NOT_FOUND);
    };
    let actor = signed.actor();
    let result = async {
        let doc = workspace::revision(&app, actor, ItemKind::Collection, &id, rev).await?;
        let summary = workspace::summary(&app, actor, &doc.item).await?;
        Ok::<_, Error>((doc, summary))
    }
    .await;
    match result {
        Ok((doc, summary)) => {
            let value: Value = serde_json::from_str(&doc.json).unwrap_or(Value::Null);
            let name = value
                .pointer("/info/name")
                .and_then(Value::as_str)
                .unwrap_or(&summary.name)
                .to_owned();
            let description =
                description_text(value.pointer("/info/description")).map(|d| markdown::to_html(&d));
            Page::new(
                "collection_revision.html",
                format!("Revision {rev} of {}", summary.name),
            )
            .with("nav", "collections")
            .with("item", summary)
            .with("revision", rev)
            .with("name", name)
            .with("description_html", description)
            .with("rows", rows(&value))
            .render(&app, &signed.session)
            .await
        }
        Err(e) => error_response(e),
    }
}

async fn restore_revision(
    State(app): State<App>,
    signed: SignedIn,
    Path((id, rev)): Path<(String, String)>,
    CsrfForm(_): CsrfForm<Nothing>,
) -> Response {
    let Ok(rev) = rev.parse::<i64>() else {
        return error_status(StatusCode::NOT_FOUND);
    };
    let result = workspace::restore_revision(&app, signed.actor(), ItemKind::Collection, &id, rev)
        .await
        .map(|_| ());
    after(&app, &signed, &id, result, "revision_restored").await
}

// Links.

async fn revoke_link(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<SubscribeForm>,
) -> Response {
    match links::revoke(&app, signed.actor(), &id).await {
        Ok(()) if !form.back.is_empty() => {
            see_other(&collection_path(&form.back, "?flash=link_revoked#links"))
        }
        Ok(()) => see_other("/collections?tab=links&flash=link_revoked"),
        Err(e) => error_response(e),
    }
}

// The public side of a link.

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

async fn public_link(
    State(app): State<App>,
    session: WebSession,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> Response {
    let doc = match links::resolve(&app, &token).await {
        Ok(doc) => doc,
        Err(e) if wants_html(&headers) => return error_response(e),
        Err(e) => return e.into_response(),
    };
    if !wants_html(&headers) {
        // The collection itself, as Postman and newman read it.
        return (
            [
                (header::CONTENT_TYPE, "application/json"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            doc.json.to_string(),
        )
            .into_response();
    }
    let value: Value = serde_json::from_str(&doc.json).unwrap_or(Value::Null);
    let description =
        description_text(value.pointer("/info/description")).map(|d| markdown::to_html(&d));
    Page::new("public_collection.html", doc.item.name.clone())
        .with("name", &doc.item.name)
        .with("description_html", description)
        .with("rows", rows(&value))
        .with(
            "json_url",
            links::url(&app, token.split('.').next().unwrap_or("")),
        )
        .render(&app, &session)
        .await
}

/// A folder or request of a collection, flattened for a page: its depth
/// gives the indentation.
#[derive(Debug, Serialize)]
pub struct Row {
    pub depth: usize,
    pub folder: bool,
    pub name: String,
    pub method: Option<String>,
    pub url: Option<String>,
    pub description: Option<String>,
}

/// The collection's folders and requests, in order, depth first.
pub fn tree(collection: &Value) -> Vec<Row> {
    fn walk(items: &Value, depth: usize, rows: &mut Vec<Row>) {
        for item in items.as_array().into_iter().flatten() {
            let name = item["name"].as_str().unwrap_or("(unnamed)").to_owned();
            let description = description_text(item.get("description"))
                .or_else(|| description_text(item.pointer("/request/description")));
            match item.get("item") {
                Some(children) => {
                    rows.push(Row {
                        depth,
                        folder: true,
                        name,
                        method: None,
                        url: None,
                        description,
                    });
                    walk(children, depth + 1, rows);
                }
                None => {
                    let request = &item["request"];
                    let (method, url) = match request {
                        Value::String(url) => ("GET".to_owned(), url.clone()),
                        _ => (
                            request["method"].as_str().unwrap_or("GET").to_uppercase(),
                            match &request["url"] {
                                Value::String(s) => s.clone(),
                                Value::Object(u) => u
                                    .get("raw")
                                    .and_then(Value::as_str)
                                    .unwrap_or("")
                                    .to_owned(),
                                _ => String::new(),
                            },
                        ),
                    };
                    rows.push(Row {
                        depth,
                        folder: false,
                        name,
                        method: Some(method),
                        url: Some(url),
                        description,
                    });
                }
            }
        }
    }
    let mut rows = Vec::new();
    if let Some(items) = collection.get("item") {
        walk(items, 0, &mut rows);
    }
    rows
}

/// A description, which Postman writes as a string or as `{content, type}`.
fn description_text(value: Option<&Value>) -> Option<String> {
    let text = match value? {
        Value::String(s) => s.as_str(),
        Value::Object(o) => o.get("content").and_then(Value::as_str)?,
        _ => return None,
    };
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_are_files() {
        assert_eq!(file_name("Conduit"), "Conduit");
        assert_eq!(file_name("a/b\\c:d"), "a_b_c_d");
        assert_eq!(file_name(" .. "), "collection");
        assert_eq!(file_name("..\u{0}"), "_");
        assert_eq!(ascii_name("Café \"x\""), "Caf_ _x_");
    }
}
