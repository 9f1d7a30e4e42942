//! Collection pages. For now the public side: `/l/<token>`, a collection's
//! public link (S2), answers the collection's JSON to tools (`newman run
//! <url>`) and a read-only page to a browser that asks for HTML.

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::Value;

use super::errors::error_response;
use super::pages::Page;
use super::session::WebSession;
use crate::domain::workspace::links;
use crate::state::App;

pub fn router() -> Router<App> {
    Router::new().route("/l/{token}", get(public_link))
}

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
            doc.json,
        )
            .into_response();
    }
    let value: Value = serde_json::from_str(&doc.json).unwrap_or(Value::Null);
    let description = description_text(value.pointer("/info/description"));
    Page::new("public_collection.html", doc.item.name.clone())
        .with("name", &doc.item.name)
        .with("description", description)
        .with("rows", tree(&value))
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
