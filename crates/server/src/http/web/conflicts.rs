//! The conflict pages (S7). `/conflicts` lists the person's open conflicts:
//! writes of theirs that met changes to the same fields made meanwhile and
//! were kept whole, not applied. `/conflicts/{id}` shows one: each field
//! with the version both started from, the current one and theirs side by
//! side, and the three ways out, each a form: keep mine, keep theirs, or
//! edit the merge (a JSON document, started from everything that merges,
//! with the current values where the two conflict). Resolving goes back to
//! the item with a flash; a merge that is not JSON, or not a valid
//! document, is shown again with the error and the text as it was sent.
//!
//! The pages call `domain::workspace::conflicts` like the API does.

use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::routing::{get, post};
use axum::Router;
use postroom_core::api::{ConflictView, Keep};
use postroom_core::ItemKind;
use serde::Deserialize;
use serde_json::{json, Value};

use super::errors::csrf_refused;
use super::pages::enc;
use super::pages::{flash, see_other, FormError, OrForm, Page, PageResult};
use super::session::{check_csrf, SignedIn};
use crate::domain::workspace::{conflicts, documents};
use crate::error::Error;
use crate::http::extract::read_upload;
use crate::state::App;

pub fn router() -> Router<App> {
    Router::new()
        .route("/conflicts", get(list_page))
        .route("/conflicts/{id}", get(conflict_page))
        .route(
            "/conflicts/{id}/resolve",
            // A merged document may be as large as any document:
            // `read_upload` caps the body itself.
            post(resolve).layer(DefaultBodyLimit::disable()),
        )
}

#[derive(Deserialize, Default)]
struct FlashQuery {
    flash: Option<String>,
    /// `1`: show secret values in clear.
    show: Option<String>,
}

/// The page of an item.
fn item_path(kind: ItemKind, id: &str, team: Option<&str>) -> String {
    match kind {
        ItemKind::Collection => format!("/collections/{}", enc(id)),
        ItemKind::Environment => format!("/environments/{}", enc(id)),
        ItemKind::HeaderPreset => format!("/header-presets/{}", enc(id)),
        ItemKind::Globals => match team {
            Some(slug) => format!("/globals?team={}", enc(slug)),
            None => "/globals".to_owned(),
        },
        ItemKind::History => "/history".to_owned(),
    }
}

/// Where an item's kind is listed, for an item that is gone.
fn list_path(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Collection => "/collections/deleted",
        ItemKind::Environment => "/environments",
        ItemKind::HeaderPreset => "/header-presets",
        ItemKind::Globals => "/globals",
        ItemKind::History => "/history",
    }
}

fn with_flash(path: &str, key: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}flash={key}")
}

/// A conflict as the list shows it.
fn summary(view: &ConflictView) -> Value {
    json!({
        "id": view.id,
        "noun": documents::noun(view.kind),
        "item": view.item,
        "team": view.team,
        "op": view.op,
        "base_revision": view.base_revision,
        "theirs_revision": view.theirs_revision,
        "created_at": view.created_at,
        "paths": view.fields.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
    })
}

async fn list_page(
    State(app): State<App>,
    signed: SignedIn,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    let list = conflicts::list(&app, signed.actor()).await?;
    let rows: Vec<Value> = list.conflicts.iter().map(summary).collect();
    Ok(Page::new("conflicts.html", "Conflicts")
        .with("nav", "conflicts")
        .with("conflicts", rows)
        .with("flash", flash(q.flash.as_deref()))
        .render(&app, &signed.session)
        .await)
}

/// A form shown again: why, and the merge as the person sent it.
struct Sent {
    text: Option<String>,
    error: FormError,
}

async fn conflict_view(
    app: &App,
    signed: &SignedIn,
    id: &str,
    sent: Option<Sent>,
    show_secrets: bool,
) -> Result<Page, Error> {
    let (detail, draft) = conflicts::get_with_draft(app, signed.actor(), id).await?;
    let view = &detail.conflict;
    let docs: Vec<&Value> = [detail.theirs.as_ref(), detail.mine.as_ref()]
        .into_iter()
        .flatten()
        .collect();
    let secrets = secret_keys(&docs);
    let mut masked = false;
    let fields: Vec<Value> = view
        .fields
        .iter()
        .map(|f| {
            let hide = !show_secrets && value_key(&f.path).is_some_and(|k| secrets.contains(k));
            masked |= hide;
            let cell = |v: Option<&Value>| match (hide, v) {
                (true, Some(_)) => Some(SECRET_MASK.to_owned()),
                _ => shown(v),
            };
            json!({
                "path": f.path,
                "where": readable_path(&f.path, &docs),
                "base": cell(f.base.as_ref()),
                "theirs": cell(f.theirs.as_ref()),
                "mine": cell(f.mine.as_ref()),
            })
        })
        .collect();
    let deleted = detail.theirs.is_none();
    let mut page = Page::new("conflict.html", format!("Conflict in {}", view.item.name))
        .with("nav", "conflicts")
        .with("conflict", view)
        .with("noun", documents::noun(view.kind))
        .with("fields", fields)
        .with("secrets_masked", masked)
        .with("secrets_shown", show_secrets && !secrets.is_empty())
        .with("item_deleted", deleted)
        .with(
            "item_href",
            (!deleted).then(|| item_path(view.kind, &view.item.id, view.team.as_deref())),
        )
        .with("mergeable", !draft.is_null())
        .with(
            "watch",
            json!({ "id": view.item.id, "revision": view.item.revision }),
        );
    let (text, error) = match sent {
        Some(sent) => (sent.text, Some(sent.error)),
        None => (None, None),
    };
    let text = text.unwrap_or_else(|| serde_json::to_string_pretty(&draft).unwrap_or_default());
    page = page.with("document", text);
    if let Some(error) = error {
        page = page.with_errors(error);
    }
    Ok(page)
}

async fn conflict_page(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    Query(q): Query<FlashQuery>,
) -> PageResult {
    let show = q.show.as_deref() == Some("1");
    Ok(conflict_view(&app, &signed, &id, None, show)
        .await?
        .with("flash", flash(q.flash.as_deref()))
        .render(&app, &signed.session)
        .await)
}

#[derive(Deserialize)]
struct ResolveForm {
    csrf: Option<String>,
    #[serde(default)]
    keep: String,
    document: Option<String>,
}

/// The three forms of the conflict page. The form is read here, not by
/// `CsrfForm`, because a merged document may exceed the pages' body limit.
async fn resolve(
    State(app): State<App>,
    signed: SignedIn,
    Path(id): Path<String>,
    request: Request,
) -> PageResult {
    // Percent-encoding a JSON document triples it at worst.
    let max = 3 * app.settings.max_document_bytes as usize + 64 * 1024;
    let (_, bytes) = read_upload(request, max).await?;
    let form: ResolveForm = serde_urlencoded::from_bytes(&bytes)
        .map_err(|_| Error::bad_request("invalid_form", "the form could not be read"))?;
    if !check_csrf(&signed.session, form.csrf.as_deref()) {
        return Ok(csrf_refused());
    }
    let (keep, flash_key) = match form.keep.as_str() {
        "mine" => (Keep::Mine, "conflict_mine"),
        "theirs" => (Keep::Theirs, "conflict_theirs"),
        "merged" => (Keep::Merged, "conflict_merged"),
        _ => {
            return Err(Error::bad_request(
                "invalid_keep",
                "choose what to keep: mine, theirs or merged",
            )
            .into())
        }
    };
    // What the conflict is about, for where to go afterwards.
    let view = conflicts::view_of(&app, signed.actor(), &id).await?;
    let flash_key = if keep == Keep::Mine && view.op == "delete" {
        "conflict_deleted"
    } else {
        flash_key
    };
    // Browsers send a textarea's line breaks as CRLF.
    let text = form.document.unwrap_or_default().replace("\r\n", "\n");
    let document = match keep {
        Keep::Merged => Some(parse_json(text.clone()).await),
        Keep::Mine | Keep::Theirs => None,
    };
    let result = match document {
        Some(Err(e)) => Err(e),
        Some(Ok(doc)) => conflicts::resolve(&app, signed.actor(), &id, keep, Some(doc)).await,
        None => conflicts::resolve(&app, signed.actor(), &id, keep, None).await,
    };
    // The item changed again in the same place meanwhile: the choice was
    // kept as a new conflict.
    if let Err(Error::MergeConflict { conflict, .. }) = &result {
        return Ok(see_other(&with_flash(
            &format!("/conflicts/{}", enc(&conflict.id)),
            "conflict_again",
        )));
    }
    let resolved = result
        .or_form(&app, &signed.session, async |error| {
            let text = (keep == Keep::Merged).then_some(text);
            conflict_view(&app, &signed, &id, Some(Sent { text, error }), false).await
        })
        .await?;
    let target = match &resolved.item {
        Some(item) => item_path(view.kind, &item.id, view.team.as_deref()),
        None => list_path(view.kind).to_owned(),
    };
    Ok(see_other(&with_flash(&target, flash_key)))
}

/// The merged document, or why it is not JSON (shown under the text).
async fn parse_json(text: String) -> Result<Value, Error> {
    let parsed = tokio::task::spawn_blocking(move || serde_json::from_str::<Value>(&text))
        .await
        .map_err(|e| Error::Internal(e.into()))?;
    parsed.map_err(|e| {
        Error::field(
            "document",
            "invalid_json",
            format!("this is not valid JSON: {e}; nothing was saved"),
        )
    })
}

/// A field's value as the page shows it: text as it is, anything else as
/// indented JSON; `None` where that side has no value.
/// What a secret value shows until the person asks to see it.
const SECRET_MASK: &str = "••••••••";

/// The keys of the variables marked secret (`"type": "secret"`) in any of
/// the documents (environments and globals).
fn secret_keys<'a>(docs: &[&'a Value]) -> std::collections::HashSet<&'a str> {
    docs.iter()
        .filter_map(|d| d["values"].as_array())
        .flatten()
        .filter(|row| row["type"] == "secret")
        .filter_map(|row| row["key"].as_str())
        .collect()
}

/// The variable a conflict's path is in: `values[key=token].value` → `token`
/// (`token#2` names the second row with that key: still `token`).
fn value_key(path: &str) -> Option<&str> {
    let rest = path.strip_prefix("values[key=")?;
    let key = &rest[..rest.find(']')?];
    Some(key.split_once('#').map_or(key, |(k, _)| k))
}

fn shown(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        other => Some(serde_json::to_string_pretty(other).unwrap_or_default()),
    }
}

/// A conflict's path with the folders, requests and saved examples it
/// names by id (`item[id=r1]`) named as the documents name them:
/// `“Get user” › request.url.raw`. Rows named by key stay as they are.
fn readable_path(path: &str, docs: &[&Value]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut rest: Vec<&str> = Vec::new();
    for segment in segments(path) {
        let named = segment
            .strip_suffix(']')
            .and_then(|s| s.split_once("[id="))
            .and_then(|(_, id)| {
                let id = id.split('#').next().unwrap_or(id);
                docs.iter().find_map(|doc| name_of(doc, id))
            });
        match named {
            Some(name) => {
                if !rest.is_empty() {
                    parts.push(rest.join("."));
                    rest.clear();
                }
                parts.push(format!("“{name}”"));
            }
            None => rest.push(segment),
        }
    }
    if !rest.is_empty() {
        parts.push(rest.join("."));
    }
    parts.join(" › ")
}

/// The path's dot-separated segments; a dot inside brackets (a key or an
/// id) does not separate.
fn segments(path: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in path.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            '.' if depth == 0 => {
                out.push(&path[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&path[start..]);
    out
}

/// The `name` of the element of `doc` whose `id` is `id`, at any depth.
fn name_of(doc: &Value, id: &str) -> Option<String> {
    match doc {
        Value::Object(o) => {
            if o.get("id").and_then(Value::as_str) == Some(id) {
                if let Some(name) = o.get("name").and_then(Value::as_str) {
                    return Some(name.to_owned());
                }
            }
            o.values().find_map(|v| name_of(v, id))
        }
        Value::Array(a) => a.iter().find_map(|v| name_of(v, id)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_the_elements_they_point_at() {
        let doc = json!({"info": {"name": "C"}, "item": [
            {"id": "f1", "name": "Users", "item": [
                {"id": "r.1", "name": "Get user", "request": {"url": {"raw": "x"}}}
            ]}
        ]});
        let docs = [&doc];
        assert_eq!(
            readable_path("item[id=r.1].request.url.raw", &docs),
            "“Get user” › request.url.raw"
        );
        assert_eq!(readable_path("item[id=f1]", &docs), "“Users”");
        assert_eq!(
            readable_path("item[id=r.1].request.header[key=X.Trace#2].value", &docs),
            "“Get user” › request.header[key=X.Trace#2].value"
        );
        // Unknown ids and other paths stay as they are.
        assert_eq!(
            readable_path("item[id=gone].name", &docs),
            "item[id=gone].name"
        );
        assert_eq!(
            readable_path("values[key=token].value", &docs),
            "values[key=token].value"
        );
        assert_eq!(readable_path("info.name", &[]), "info.name");
    }

    #[test]
    fn secret_variables_are_found_by_key() {
        let env = json!({"values": [
            {"key": "token", "value": "s3cret", "type": "secret"},
            {"key": "host", "value": "x.test", "type": "default"}
        ]});
        let keys = secret_keys(&[&env]);
        assert!(keys.contains("token") && !keys.contains("host"));
        assert_eq!(value_key("values[key=token].value"), Some("token"));
        assert_eq!(value_key("values[key=token#2].value"), Some("token"));
        assert_eq!(value_key("values[key=token]"), Some("token"));
        assert_eq!(value_key("item[id=a].name"), None);
    }

    #[test]
    fn values_are_shown_as_text_or_json() {
        assert_eq!(shown(None), None);
        assert_eq!(shown(Some(&json!("a\nb"))).as_deref(), Some("a\nb"));
        assert_eq!(shown(Some(&json!(5))).as_deref(), Some("5"));
        assert_eq!(
            shown(Some(&json!({"a": 1}))).as_deref(),
            Some("{\n  \"a\": 1\n}")
        );
    }

    #[test]
    fn items_have_pages() {
        assert_eq!(
            item_path(ItemKind::Collection, "c1", None),
            "/collections/c1"
        );
        assert_eq!(
            item_path(ItemKind::Globals, "g", Some("acme")),
            "/globals?team=acme"
        );
        assert_eq!(
            with_flash("/globals?team=acme", "conflict_mine"),
            "/globals?team=acme&flash=conflict_mine"
        );
        assert_eq!(
            with_flash("/environments/e", "conflict_theirs"),
            "/environments/e?flash=conflict_theirs"
        );
    }
}
