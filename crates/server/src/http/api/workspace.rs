//! The workspace API (S1-S3, S9): `/api/v1/collections`, `/environments`,
//! `/header-presets`, `/history`, `/globals`, `/imports`, `/links` and
//! `/feed`. Every kind of item has the same routes (list, create, read,
//! write, delete, restore, revisions, move); they are made by one macro so
//! that the kinds cannot drift apart. A document is answered as the stored
//! JSON text inside its envelope (`{"collection": ...}`), never parsed again,
//! with `ETag: "<revision>"`; a write takes `If-Match` with the revision it
//! started from.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use postroom_core::api::*;
use postroom_core::ItemKind;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::workspace::{self, documents, feed, imports, links, Base, Document};
use crate::error::{Error, Result};
use crate::http::extract::{read_upload, ApiJson, ApiQuery, Auth, DocumentJson};
use crate::state::App;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(collections::list, collections::create))
        .routes(routes!(
            collections::read,
            collections::put,
            collections::delete
        ))
        .routes(routes!(collections::undelete))
        .routes(routes!(collections::revisions))
        .routes(routes!(collections::revision))
        .routes(routes!(collections::restore_revision))
        .routes(routes!(collections::move_to))
        .routes(routes!(environments::list, environments::create))
        .routes(routes!(
            environments::read,
            environments::put,
            environments::delete
        ))
        .routes(routes!(environments::undelete))
        .routes(routes!(environments::revisions))
        .routes(routes!(environments::revision))
        .routes(routes!(environments::restore_revision))
        .routes(routes!(environments::move_to))
        .routes(routes!(header_presets::list, header_presets::create))
        .routes(routes!(
            header_presets::read,
            header_presets::put,
            header_presets::delete
        ))
        .routes(routes!(header_presets::undelete))
        .routes(routes!(header_presets::revisions))
        .routes(routes!(header_presets::revision))
        .routes(routes!(header_presets::restore_revision))
        .routes(routes!(header_presets::move_to))
        .routes(routes!(history::list, history::create))
        .routes(routes!(history::read, history::put, history::delete))
        .routes(routes!(history::undelete))
        .routes(routes!(history::revisions))
        .routes(routes!(history::revision))
        .routes(routes!(history::restore_revision))
        .routes(routes!(history::move_to))
        .routes(routes!(get_globals, put_globals))
        .routes(routes!(subscribe, unsubscribe))
        .routes(routes!(create_link))
        .routes(routes!(list_links))
        .routes(routes!(revoke_link))
        .routes(routes!(get_feed))
        .routes(routes!(import))
}

/// A document in its envelope, straight from its stored text.
pub fn document_response(kind: ItemKind, doc: Document) -> Response {
    let member = documents::member(kind);
    let mut body = String::with_capacity(doc.json.len() + member.len() + 5);
    body.push_str("{\"");
    body.push_str(member);
    body.push_str("\":");
    body.push_str(&doc.json);
    body.push('}');
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", doc.item.revision)) {
        headers.insert(header::ETAG, etag);
    }
    response
}

/// What a write is based on, from `If-Match`: a revision (`"4"`, `4`,
/// `W/"4"`), or the current one when absent or `*`.
pub fn base(headers: &HeaderMap) -> Result<Base> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(Base::Current);
    };
    let bad = || {
        Error::bad_request(
            "invalid_if_match",
            "If-Match must be the revision the change started from, as the ETag gave it (\"4\")",
        )
    };
    let value = value.to_str().map_err(|_| bad())?.trim();
    if value == "*" {
        return Ok(Base::Current);
    }
    let value = value.strip_prefix("W/").unwrap_or(value);
    let value = value.trim_matches('"');
    value
        .parse::<i64>()
        .ok()
        .filter(|r| *r >= 1)
        .map(Base::Revision)
        .ok_or_else(bad)
}

/// A revision number from a path; anything else names no revision.
fn revision_number(text: &str) -> Result<i64> {
    text.parse::<i64>()
        .ok()
        .filter(|r| *r >= 1)
        .ok_or(Error::NotFound { what: "revision" })
}

/// Query of a revision list.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
pub struct RevisionQuery {
    /// `next` of the previous page.
    pub before: Option<i64>,
    /// At most this many (1-500, default 100).
    pub limit: Option<u32>,
}

macro_rules! item_routes {
    ($module:ident, $kind:expr, $tag:literal, $noun:literal,
     $base:literal, $one:literal, $undelete:literal, $revisions:literal, $revision:literal, $restore:literal, $move:literal,
     $list:ident, $plural:ident, $create_req:ident, $put_req:ident, $saved:ident, $created:ident, $member:ident) => {
        pub mod $module {
            use super::*;

            const KIND: ItemKind = $kind;

            #[doc = concat!("My ", $noun, "s and those of my teams, most recently changed first.")]
            #[utoipa::path(get, path = $base, tag = $tag, params(ItemListQuery), security(("session" = []), ("api_key" = [])),
                responses((status = 200, body = $list), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
                    (status = 403, body = ErrorBody, description = "no_seat"), (status = 404, body = ErrorBody)))]
            pub async fn list(
                State(app): State<App>,
                Auth(actor): Auth,
                ApiQuery(q): ApiQuery<ItemListQuery>,
            ) -> Result<Json<$list>> {
                let (items, next) = workspace::list(&app, &actor, KIND, &q).await?;
                Ok(Json($list { $plural: items, next }))
            }

            #[doc = concat!("Create a ", $noun, ": mine, or a team's (`team`).")]
            #[utoipa::path(post, path = $base, tag = $tag, request_body = $create_req, security(("session" = []), ("api_key" = [])),
                responses((status = 201, body = $created), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
                    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody),
                    (status = 415, body = ErrorBody), (status = 422, body = ErrorBody, description = "invalid_document, with the path of what is wrong")))]
            pub async fn create(
                State(app): State<App>,
                Auth(actor): Auth,
                DocumentJson(req): DocumentJson<$create_req>,
            ) -> Result<(StatusCode, Json<$created>)> {
                let item = workspace::create(&app, &actor, KIND, req.$member, req.team.as_deref()).await?;
                Ok((StatusCode::CREATED, Json($created { $member: item })))
            }

            #[doc = concat!("The ", $noun, ", as written, with `ETag: \"<revision>\"`.")]
            #[utoipa::path(get, path = $one, tag = $tag, params(("id" = String, Path)), security(("session" = []), ("api_key" = [])),
                responses((status = 200, body = $put_req, headers(("ETag" = String, description = "the revision, quoted"))),
                    (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
            pub async fn read(
                State(app): State<App>,
                Auth(actor): Auth,
                Path(id): Path<String>,
            ) -> Result<Response> {
                Ok(document_response(KIND, workspace::read(&app, &actor, KIND, &id).await?))
            }

            #[doc = concat!("Write a new revision of the ", $noun, ". With `If-Match: \"<revision>\"` (the revision the change started from) it is applied when that is current and merged with what changed since otherwise (`merged: true`); when the same field changed both ways it is kept, not applied, and answered with 409 `conflict` and the conflict to resolve. Without `If-Match` it overwrites the current revision.")]
            #[utoipa::path(put, path = $one, tag = $tag, params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "the revision the change started from")),
                request_body = $put_req, security(("session" = []), ("api_key" = [])),
                responses((status = 200, body = $saved), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
                    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "conflict: `conflict` holds it (see /api/v1/conflicts)"),
                    (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
            pub async fn put(
                State(app): State<App>,
                Auth(actor): Auth,
                Path(id): Path<String>,
                headers: HeaderMap,
                DocumentJson(req): DocumentJson<$put_req>,
            ) -> Result<Json<$saved>> {
                let base = base(&headers)?;
                let saved = workspace::put(&app, &actor, KIND, &id, req.$member, base).await?;
                Ok(Json($saved { $member: saved.item, merged: saved.merged }))
            }

            #[doc = concat!("Delete the ", $noun, "; it can be restored for 30 days. With `If-Match` of an older revision than the current one it is not deleted: 409 `conflict`.")]
            #[utoipa::path(delete, path = $one, tag = $tag, params(("id" = String, Path), ("If-Match" = Option<String>, Header, description = "the revision the delete was decided on")), security(("session" = []), ("api_key" = [])),
                responses((status = 204), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "creator_or_admin_required"),
                    (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "conflict")))]
            pub async fn delete(
                State(app): State<App>,
                Auth(actor): Auth,
                Path(id): Path<String>,
                headers: HeaderMap,
            ) -> Result<StatusCode> {
                workspace::delete(&app, &actor, KIND, &id, base(&headers)?).await?;
                Ok(StatusCode::NO_CONTENT)
            }

            #[doc = concat!("Bring a deleted ", $noun, " back.")]
            #[utoipa::path(post, path = $undelete, tag = $tag, params(("id" = String, Path)), security(("session" = []), ("api_key" = [])),
                responses((status = 200, body = $created), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
            pub async fn undelete(
                State(app): State<App>,
                Auth(actor): Auth,
                Path(id): Path<String>,
            ) -> Result<Json<$created>> {
                let item = workspace::undelete(&app, &actor, KIND, &id).await?;
                Ok(Json($created { $member: item }))
            }

            #[doc = concat!("The ", $noun, "'s revisions, newest first.")]
            #[utoipa::path(get, path = $revisions, tag = $tag, params(("id" = String, Path), RevisionQuery), security(("session" = []), ("api_key" = [])),
                responses((status = 200, body = RevisionList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
            pub async fn revisions(
                State(app): State<App>,
                Auth(actor): Auth,
                Path(id): Path<String>,
                ApiQuery(q): ApiQuery<RevisionQuery>,
            ) -> Result<Json<RevisionList>> {
                Ok(Json(workspace::revisions(&app, &actor, KIND, &id, q.before, q.limit).await?))
            }

            #[doc = concat!("One revision of the ", $noun, ", as it was.")]
            #[utoipa::path(get, path = $revision, tag = $tag, params(("id" = String, Path), ("revision" = i64, Path)), security(("session" = []), ("api_key" = [])),
                responses((status = 200, body = $put_req), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
            pub async fn revision(
                State(app): State<App>,
                Auth(actor): Auth,
                Path((id, revision)): Path<(String, String)>,
            ) -> Result<Response> {
                let revision = revision_number(&revision)?;
                let mut doc = workspace::revision(&app, &actor, KIND, &id, revision).await?;
                doc.item.revision = revision;
                Ok(document_response(KIND, doc))
            }

            #[doc = concat!("Make an old revision of the ", $noun, " the current one (as a new revision).")]
            #[utoipa::path(post, path = $restore, tag = $tag, params(("id" = String, Path), ("revision" = i64, Path)), security(("session" = []), ("api_key" = [])),
                responses((status = 200, body = $saved), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
            pub async fn restore_revision(
                State(app): State<App>,
                Auth(actor): Auth,
                Path((id, revision)): Path<(String, String)>,
            ) -> Result<Json<$saved>> {
                let revision = revision_number(&revision)?;
                let item = workspace::restore_revision(&app, &actor, KIND, &id, revision).await?;
                Ok(Json($saved { $member: item, merged: false }))
            }

            #[doc = concat!("Share the ", $noun, " with a team (`team`), or take it back to my private items (`team` null). Taking it out of a team is for whoever created it and for admins.")]
            #[utoipa::path(post, path = $move, tag = $tag, params(("id" = String, Path)), request_body = MoveRequest, security(("session" = []), ("api_key" = [])),
                responses((status = 200, body = ItemSummaryEnvelope), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
                    (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
            pub async fn move_to(
                State(app): State<App>,
                Auth(actor): Auth,
                Path(id): Path<String>,
                ApiJson(req): ApiJson<MoveRequest>,
            ) -> Result<Json<ItemSummaryEnvelope>> {
                let item = workspace::move_to(&app, &actor, KIND, &id, req.team.as_deref()).await?;
                Ok(Json(ItemSummaryEnvelope { item }))
            }
        }
    };
}

item_routes!(
    collections,
    ItemKind::Collection,
    "collections",
    "collection",
    "/api/v1/collections",
    "/api/v1/collections/{id}",
    "/api/v1/collections/{id}/restore",
    "/api/v1/collections/{id}/revisions",
    "/api/v1/collections/{id}/revisions/{revision}",
    "/api/v1/collections/{id}/revisions/{revision}/restore",
    "/api/v1/collections/{id}/move",
    CollectionList,
    collections,
    CreateCollectionRequest,
    PutCollectionRequest,
    SavedCollection,
    CreatedCollection,
    collection
);

item_routes!(
    environments,
    ItemKind::Environment,
    "environments",
    "environment",
    "/api/v1/environments",
    "/api/v1/environments/{id}",
    "/api/v1/environments/{id}/restore",
    "/api/v1/environments/{id}/revisions",
    "/api/v1/environments/{id}/revisions/{revision}",
    "/api/v1/environments/{id}/revisions/{revision}/restore",
    "/api/v1/environments/{id}/move",
    EnvironmentList,
    environments,
    CreateEnvironmentRequest,
    PutEnvironmentRequest,
    SavedEnvironment,
    CreatedEnvironment,
    environment
);

item_routes!(
    header_presets,
    ItemKind::HeaderPreset,
    "header presets",
    "header preset",
    "/api/v1/header-presets",
    "/api/v1/header-presets/{id}",
    "/api/v1/header-presets/{id}/restore",
    "/api/v1/header-presets/{id}/revisions",
    "/api/v1/header-presets/{id}/revisions/{revision}",
    "/api/v1/header-presets/{id}/revisions/{revision}/restore",
    "/api/v1/header-presets/{id}/move",
    HeaderPresetList,
    header_presets,
    CreateHeaderPresetRequest,
    PutHeaderPresetRequest,
    SavedHeaderPreset,
    CreatedHeaderPreset,
    header_preset
);

item_routes!(
    history,
    ItemKind::History,
    "history",
    "history entry",
    "/api/v1/history",
    "/api/v1/history/{id}",
    "/api/v1/history/{id}/restore",
    "/api/v1/history/{id}/revisions",
    "/api/v1/history/{id}/revisions/{revision}",
    "/api/v1/history/{id}/revisions/{revision}/restore",
    "/api/v1/history/{id}/move",
    HistoryList,
    history,
    CreateHistoryRequest,
    PutHistoryRequest,
    SavedHistory,
    CreatedHistory,
    entry
);

/// My globals, or a team's (`team`): `{globals: {values: [...]}}`, empty
/// until written.
#[utoipa::path(get, path = "/api/v1/globals", tag = "environments", params(GlobalsQuery), security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = PutGlobalsRequest), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get_globals(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<GlobalsQuery>,
) -> Result<Response> {
    match workspace::globals(&app, &actor, q.team.as_deref()).await? {
        Some(doc) => Ok(document_response(ItemKind::Globals, doc)),
        None => Ok(Json(serde_json::json!({"globals": {"values": []}})).into_response()),
    }
}

/// Write my globals, or a team's (`team`); `If-Match` as for any item.
#[utoipa::path(put, path = "/api/v1/globals", tag = "environments", params(GlobalsQuery, ("If-Match" = Option<String>, Header)),
    request_body = PutGlobalsRequest, security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = SavedGlobals), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn put_globals(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<GlobalsQuery>,
    headers: HeaderMap,
    DocumentJson(req): DocumentJson<PutGlobalsRequest>,
) -> Result<Json<SavedGlobals>> {
    let base = base(&headers)?;
    let saved = workspace::put_globals(&app, &actor, q.team.as_deref(), req.globals, base).await?;
    Ok(Json(SavedGlobals {
        globals: saved.item,
        merged: saved.merged,
    }))
}

/// Follow a collection in my feed.
#[utoipa::path(put, path = "/api/v1/collections/{id}/subscription", tag = "collections", params(("id" = String, Path)), security(("session" = []), ("api_key" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn subscribe(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    workspace::set_subscribed(&app, &actor, &id, true).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Stop following a collection.
#[utoipa::path(delete, path = "/api/v1/collections/{id}/subscription", tag = "collections", params(("id" = String, Path)), security(("session" = []), ("api_key" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn unsubscribe(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    workspace::set_subscribed(&app, &actor, &id, false).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Make a public read-only link to a collection: its URL answers the
/// collection's JSON (`newman run <url>` works) until revoked.
#[utoipa::path(post, path = "/api/v1/collections/{id}/links", tag = "collections", params(("id" = String, Path)), security(("session" = []), ("api_key" = [])),
    responses((status = 201, body = LinkEnvelope), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn create_link(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<LinkEnvelope>)> {
    let link = links::create(&app, &actor, &id).await?;
    Ok((StatusCode::CREATED, Json(LinkEnvelope { link })))
}

/// The links I made, and all links to the collections of teams I administer.
#[utoipa::path(get, path = "/api/v1/links", tag = "collections", security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = LinkList), (status = 401, body = ErrorBody)))]
async fn list_links(State(app): State<App>, Auth(actor): Auth) -> Result<Json<LinkList>> {
    Ok(Json(links::list(&app, &actor).await?))
}

/// Revoke a link: it answers 404 at once.
#[utoipa::path(delete, path = "/api/v1/links/{id}", tag = "collections", params(("id" = String, Path)), security(("session" = []), ("api_key" = [])),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn revoke_link(
    State(app): State<App>,
    Auth(actor): Auth,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    links::revoke(&app, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What happened to the collections I follow, newest first.
#[utoipa::path(get, path = "/api/v1/feed", tag = "collections", params(FeedQuery), security(("session" = []), ("api_key" = [])),
    responses((status = 200, body = FeedPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn get_feed(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Result<Json<FeedPage>> {
    Ok(Json(feed::feed(&app, &actor, &q).await?))
}

/// Import a Postman collection (v2.0 or v2.1) or environment file, or a
/// Postman data export (a zip of them), as the raw request body. Everything
/// is imported, or nothing.
#[utoipa::path(post, path = "/api/v1/imports", tag = "collections", params(ImportQuery), security(("session" = []), ("api_key" = [])),
    request_body(content = Vec<u8>, content_type = "application/json", description = "the file: JSON, or a zip (application/zip)"),
    responses((status = 201, body = ImportResult), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn import(
    State(app): State<App>,
    Auth(actor): Auth,
    ApiQuery(q): ApiQuery<ImportQuery>,
    request: Request,
) -> Result<(StatusCode, Json<ImportResult>)> {
    let (_, bytes) = read_upload(request, app.settings.max_document_bytes as usize).await?;
    let result = imports::import(&app, &actor, q.team.as_deref(), bytes).await?;
    Ok((StatusCode::CREATED, Json(result)))
}
