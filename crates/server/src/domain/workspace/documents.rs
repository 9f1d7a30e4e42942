//! What each kind of item's document must be, and how it is stored: checked
//! (with the path of what is wrong), upgraded (a v2.0 collection becomes
//! v2.1), given ids where it had none, and serialised once. Everything
//! else in the document is kept as it came.

use postroom_core::postman::{self, FileKind, ShapeError};
use postroom_core::ItemKind;
use serde_json::Value;

use crate::error::{Error, Result};

/// The longest name an item list shows; the document keeps its own.
const MAX_LIST_NAME: usize = 200;

/// A document ready to store.
pub struct Prepared {
    /// The name lists show: the document's, made displayable.
    pub name: String,
    /// The document as JSON text.
    pub json: String,
}

/// The name of the JSON member that carries a document of this kind, in
/// requests and answers: `{"collection": ...}`.
pub fn member(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Collection => "collection",
        ItemKind::Environment => "environment",
        ItemKind::Globals => "globals",
        ItemKind::History => "entry",
        ItemKind::HeaderPreset => "header_preset",
    }
}

/// What people call an item of this kind, in messages and "not found".
pub fn noun(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Collection => "collection",
        ItemKind::Environment => "environment",
        ItemKind::Globals => "globals",
        ItemKind::History => "history entry",
        ItemKind::HeaderPreset => "header preset",
    }
}

fn invalid(kind: ItemKind, e: ShapeError) -> Error {
    let message = if e.path.is_empty() {
        e.message.clone()
    } else {
        e.to_string()
    };
    let field = if e.path.is_empty() {
        member(kind).to_owned()
    } else {
        format!("{}.{}", member(kind), e.path)
    };
    let mut fields = std::collections::BTreeMap::new();
    fields.insert(field, message.clone());
    Error::Invalid {
        code: "invalid_document",
        message,
        fields,
    }
}

fn wrong_kind(kind: ItemKind, found: FileKind) -> Error {
    let found = match found {
        FileKind::CollectionV20 | FileKind::CollectionV21 => "a collection",
        FileKind::Environment => "an environment",
    };
    Error::Invalid {
        code: "wrong_kind",
        message: format!("this is {found}, not {}", with_article(kind)),
        fields: Default::default(),
    }
}

fn with_article(kind: ItemKind) -> String {
    match kind {
        ItemKind::Environment => "an environment".into(),
        ItemKind::Globals => "globals".into(),
        other => format!("a {}", noun(other)),
    }
}

/// Checks and normalises `doc` as an item of `kind` whose id is `id`.
/// `new_id` makes the ids of folders, requests and examples that have none.
pub fn prepare(kind: ItemKind, mut doc: Value, id: &str) -> Result<Prepared> {
    let name = match kind {
        ItemKind::Collection => {
            let found = postman::detect(&doc).map_err(|e| invalid(kind, e))?;
            match found {
                FileKind::CollectionV21 => {}
                FileKind::CollectionV20 => postman::upgrade_v20(&mut doc),
                FileKind::Environment => return Err(wrong_kind(kind, found)),
            }
            postman::check_collection(&doc).map_err(|e| invalid(kind, e))?;
            postman::assign_ids(&mut doc, &mut || uuid::Uuid::new_v4().to_string());
            postman::set_collection_id(&mut doc, id);
            postman::collection_name(&doc).to_owned()
        }
        ItemKind::Environment => {
            if let Ok(found @ (FileKind::CollectionV20 | FileKind::CollectionV21)) =
                postman::detect(&doc)
            {
                return Err(wrong_kind(kind, found));
            }
            postman::check_environment(&doc, true).map_err(|e| invalid(kind, e))?;
            if let Some(obj) = doc.as_object_mut() {
                obj.insert("id".into(), Value::String(id.into()));
            }
            postman::environment_name(&doc).to_owned()
        }
        ItemKind::Globals => {
            postman::check_environment(&doc, false).map_err(|e| invalid(kind, e))?;
            "Globals".to_owned()
        }
        ItemKind::HeaderPreset => {
            check_header_preset(&doc).map_err(|e| invalid(kind, e))?;
            postman::environment_name(&doc).to_owned()
        }
        ItemKind::History => {
            check_history(&doc).map_err(|e| invalid(kind, e))?;
            history_name(&doc)
        }
    };
    let json = serde_json::to_string(&doc).map_err(|e| Error::Internal(e.into()))?;
    Ok(Prepared {
        name: list_name(&name),
        json,
    })
}

/// A name fit for a list: no control characters, not too long.
fn list_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_LIST_NAME)
        .collect();
    let cleaned = cleaned.trim();
    if cleaned.is_empty() {
        "Untitled".into()
    } else {
        cleaned.into()
    }
}

fn shape(path: &str, message: &str) -> ShapeError {
    ShapeError {
        path: path.into(),
        message: message.into(),
    }
}

/// `{name, headers: [{key, value, enabled?, description?}]}`.
fn check_header_preset(doc: &Value) -> Result<(), ShapeError> {
    let obj = doc
        .as_object()
        .ok_or_else(|| shape("", "expected an object with `name` and `headers`"))?;
    match obj.get("name") {
        Some(Value::String(n)) if !n.trim().is_empty() => {}
        Some(Value::String(_)) => return Err(shape("name", "must not be empty")),
        Some(_) => return Err(shape("name", "expected a string")),
        None => return Err(shape("", "`name` is missing")),
    }
    let headers = match obj.get("headers") {
        Some(Value::Array(h)) => h,
        Some(_) => return Err(shape("headers", "expected a list of headers")),
        None => return Err(shape("", "`headers` is missing")),
    };
    for (i, h) in headers.iter().enumerate() {
        match h.get("key") {
            Some(Value::String(_)) => {}
            Some(_) => return Err(shape(&format!("headers[{i}].key"), "expected a string")),
            None => return Err(shape(&format!("headers[{i}]"), "`key` is missing")),
        }
    }
    Ok(())
}

/// `{request: {method, url, ...}, response?, ...}`: a request someone sent.
fn check_history(doc: &Value) -> Result<(), ShapeError> {
    let obj = doc
        .as_object()
        .ok_or_else(|| shape("", "expected an object with a `request`"))?;
    let request = match obj.get("request") {
        Some(Value::Object(r)) => r,
        Some(_) => return Err(shape("request", "expected an object")),
        None => return Err(shape("", "`request` is missing")),
    };
    match request.get("url") {
        None | Some(Value::String(_) | Value::Object(_)) => {}
        Some(_) => return Err(shape("request.url", "expected a string or an object")),
    }
    match request.get("method") {
        None | Some(Value::String(_)) => Ok(()),
        Some(_) => Err(shape("request.method", "expected a string")),
    }
}

/// "GET https://example.com/x", from the entry's request.
fn history_name(doc: &Value) -> String {
    let request = &doc["request"];
    let method = request["method"].as_str().unwrap_or("GET");
    let url = match &request["url"] {
        Value::String(s) => s.as_str(),
        Value::Object(u) => u.get("raw").and_then(Value::as_str).unwrap_or(""),
        _ => "",
    };
    format!("{method} {url}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_carry_the_path_under_the_member() {
        let doc = json!({"info": {"name": "A"}, "item": [{"request": {"url": 3}}]});
        let Err(Error::Invalid {
            message, fields, ..
        }) = prepare(ItemKind::Collection, doc, "c")
        else {
            panic!("expected a 422")
        };
        assert_eq!(
            message,
            "item[0].request.url: expected a string or an object"
        );
        assert!(fields.contains_key("collection.item[0].request.url"));
    }

    #[test]
    fn kinds_are_not_mixed_up() {
        let env = json!({"name": "E", "values": []});
        let Err(e) = prepare(ItemKind::Collection, env, "c") else {
            panic!("an environment is not a collection")
        };
        assert_eq!(e.code(), "wrong_kind");
        let coll = json!({"info": {"name": "A", "schema": postman::SCHEMA_V21}, "item": []});
        let Err(e) = prepare(ItemKind::Environment, coll, "e") else {
            panic!("a collection is not an environment")
        };
        assert_eq!(e.code(), "wrong_kind");
    }

    #[test]
    fn names_are_fit_for_lists() {
        assert_eq!(list_name("  a\u{7}b  "), "a b");
        assert_eq!(list_name(""), "Untitled");
        assert_eq!(list_name(&"x".repeat(500)).len(), MAX_LIST_NAME);
        let h = json!({"request": {"method": "POST", "url": {"raw": "https://x.test/a"}}});
        assert_eq!(history_name(&h), "POST https://x.test/a");
    }
}
