//! Postman files: telling a collection from an environment, checking the
//! shape of what we rely on, upgrading a v2.0 collection to v2.1, and giving
//! every folder, request and saved example a stable id.
//!
//! Everything here works on `serde_json::Value` and leaves alone what it does
//! not name, so that a file read back is the one written: fields outside the
//! schema (`_postman_isSubFolder`, `protocolProfileBehavior`, ...) survive,
//! and so do empty objects, nulls and unusual types in places we do not look.
//! The checks only reject what would make a file unusable as a collection
//! (an `item` that is not a list, a `url` that is a number), each with the
//! path of the offending value, like `item[3].request.url`.

use serde_json::{Map, Value};

/// The schema URL of a v2.1 collection, which an upgraded v2.0 file gets.
pub const SCHEMA_V21: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

/// What a JSON file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A v2.1 collection.
    CollectionV21,
    /// A v2.0 collection, upgraded on import.
    CollectionV20,
    /// An environment (or a globals file: a name and a list of values).
    Environment,
}

/// A file that is not what it must be, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct ShapeError {
    /// Where, from the document's root: `item[3].request.url`; empty for the root.
    pub path: String,
    pub message: String,
}

fn shape(path: &Path<'_>, message: impl Into<String>) -> ShapeError {
    ShapeError {
        path: path.to_string(),
        message: message.into(),
    }
}

/// A path into a document, built as the checks descend, rendered only when
/// something is wrong.
#[derive(Clone, Copy)]
enum Path<'a> {
    Root,
    Key(&'a Path<'a>, &'a str),
    Index(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn key<'a>(&'a self, key: &'a str) -> Path<'a> {
        Path::Key(self, key)
    }

    fn index(&self, index: usize) -> Path<'_> {
        Path::Index(self, index)
    }
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(Path::Root, key) => write!(f, "{key}"),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// Tells what a parsed file is. A v1 collection (with `requests` and
/// `order`) and anything else are refused with a message that says what
/// would be accepted.
pub fn detect(doc: &Value) -> Result<FileKind, ShapeError> {
    let root = Path::Root;
    let Some(obj) = doc.as_object() else {
        return Err(shape(
            &root,
            "expected a JSON object: a Postman collection or environment",
        ));
    };
    if let Some(info) = obj.get("info") {
        let schema = info.get("schema").and_then(Value::as_str).unwrap_or("");
        return if schema.contains("/v2.1") {
            Ok(FileKind::CollectionV21)
        } else if schema.contains("/v2.0") {
            Ok(FileKind::CollectionV20)
        } else if schema.is_empty() {
            // Some tools write v2.1 files without a schema URL.
            Ok(FileKind::CollectionV21)
        } else {
            Err(shape(
                &root.key("info").key("schema"),
                format!("unsupported collection schema {schema:?}: export it as Collection v2.1"),
            ))
        };
    }
    if obj.contains_key("requests") || obj.contains_key("order") {
        return Err(shape(
            &root,
            "this is a Postman v1 collection, which is not supported: export it from Postman as Collection v2.1",
        ));
    }
    if obj.contains_key("values") {
        return Ok(FileKind::Environment);
    }
    Err(shape(
        &root,
        "not a Postman collection (no `info`) nor an environment (no `values`)",
    ))
}

/// Checks a v2.0 or v2.1 collection.
pub fn check_collection(doc: &Value) -> Result<(), ShapeError> {
    let root = Path::Root;
    let obj = object(doc, &root)?;
    let info_path = root.key("info");
    let info = object(
        obj.get("info")
            .ok_or_else(|| shape(&root, "`info` is missing"))?,
        &info_path,
    )?;
    match info.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => {}
        Some(Value::String(_)) => return Err(shape(&info_path.key("name"), "must not be empty")),
        Some(_) => return Err(shape(&info_path.key("name"), "expected a string")),
        None => return Err(shape(&info_path, "`name` is missing")),
    }
    optional_list(obj, "variable", &root)?;
    optional_list(obj, "event", &root)?;
    optional_auth(obj, &root)?;
    match obj.get("item") {
        None | Some(Value::Null) => Ok(()),
        Some(items) => check_items(items, &root.key("item")),
    }
}

fn check_items(items: &Value, path: &Path<'_>) -> Result<(), ShapeError> {
    let items = items
        .as_array()
        .ok_or_else(|| shape(path, "expected a list of folders and requests"))?;
    for (i, item) in items.iter().enumerate() {
        let path = path.index(i);
        let obj = object(item, &path)?;
        optional_string(obj, "id", &path)?;
        optional_list(obj, "event", &path)?;
        optional_list(obj, "variable", &path)?;
        optional_auth(obj, &path)?;
        if let Some(children) = obj.get("item") {
            check_items(children, &path.key("item"))?;
            continue;
        }
        match obj.get("request") {
            None | Some(Value::String(_)) => {}
            Some(Value::Object(request)) => check_request(request, &path.key("request"))?,
            Some(_) => {
                return Err(shape(
                    &path.key("request"),
                    "expected a string or an object",
                ))
            }
        }
        if let Some(responses) = obj.get("response") {
            let rpath = path.key("response");
            let responses = responses
                .as_array()
                .ok_or_else(|| shape(&rpath, "expected a list of saved responses"))?;
            for (j, response) in responses.iter().enumerate() {
                let rpath = rpath.index(j);
                let response = object(response, &rpath)?;
                optional_string(response, "id", &rpath)?;
            }
        }
    }
    Ok(())
}

fn check_request(request: &Map<String, Value>, path: &Path<'_>) -> Result<(), ShapeError> {
    match request.get("url") {
        None | Some(Value::Null | Value::String(_) | Value::Object(_)) => {}
        Some(_) => return Err(shape(&path.key("url"), "expected a string or an object")),
    }
    optional_string(request, "method", path)?;
    match request.get("header") {
        None | Some(Value::Null | Value::String(_) | Value::Array(_)) => {}
        Some(_) => return Err(shape(&path.key("header"), "expected a list or a string")),
    }
    match request.get("body") {
        None | Some(Value::Null | Value::Object(_)) => {}
        Some(_) => return Err(shape(&path.key("body"), "expected an object")),
    }
    optional_auth(request, path)
}

fn object<'v>(value: &'v Value, path: &Path<'_>) -> Result<&'v Map<String, Value>, ShapeError> {
    value
        .as_object()
        .ok_or_else(|| shape(path, "expected an object"))
}

fn optional_list(obj: &Map<String, Value>, key: &str, path: &Path<'_>) -> Result<(), ShapeError> {
    match obj.get(key) {
        None | Some(Value::Null | Value::Array(_)) => Ok(()),
        Some(_) => Err(shape(&path.key(key), "expected a list")),
    }
}

fn optional_string(obj: &Map<String, Value>, key: &str, path: &Path<'_>) -> Result<(), ShapeError> {
    match obj.get(key) {
        None | Some(Value::Null | Value::String(_)) => Ok(()),
        Some(_) => Err(shape(&path.key(key), "expected a string")),
    }
}

fn optional_auth(obj: &Map<String, Value>, path: &Path<'_>) -> Result<(), ShapeError> {
    match obj.get("auth") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(auth)) => match auth.get("type") {
            None | Some(Value::String(_)) => Ok(()),
            Some(_) => Err(shape(&path.key("auth").key("type"), "expected a string")),
        },
        Some(_) => Err(shape(&path.key("auth"), "expected an object")),
    }
}

/// Upgrades a v2.0 collection to v2.1 in place: the schema URL, and auth
/// parameters from v2.0's `{name: value}` objects to v2.1's lists of
/// `{key, value, type}`, wherever an `auth` is (the collection, folders,
/// requests). Every other field stays, v2.0's root `variables` included.
pub fn upgrade_v20(doc: &mut Value) {
    let Some(obj) = doc.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(info)) = obj.get_mut("info") {
        info.insert("schema".into(), Value::String(SCHEMA_V21.into()));
    }
    upgrade_auth(obj);
    if let Some(items) = obj.get_mut("item") {
        upgrade_items(items);
    }
}

fn upgrade_items(items: &mut Value) {
    let Some(items) = items.as_array_mut() else {
        return;
    };
    for item in items {
        let Some(obj) = item.as_object_mut() else {
            continue;
        };
        upgrade_auth(obj);
        if let Some(Value::Object(request)) = obj.get_mut("request") {
            upgrade_auth(request);
        }
        if let Some(Value::Array(responses)) = obj.get_mut("response") {
            for response in responses {
                if let Some(Value::Object(request)) = response.get_mut("originalRequest") {
                    upgrade_auth(request);
                }
            }
        }
        if let Some(children) = obj.get_mut("item") {
            upgrade_items(children);
        }
    }
}

fn upgrade_auth(holder: &mut Map<String, Value>) {
    let Some(Value::Object(auth)) = holder.get_mut("auth") else {
        return;
    };
    for (name, params) in auth.iter_mut() {
        if name == "type" {
            continue;
        }
        let Value::Object(map) = params else {
            continue;
        };
        let list = std::mem::take(map)
            .into_iter()
            .map(|(key, value)| {
                let kind = match &value {
                    Value::String(_) => "string",
                    Value::Bool(_) => "boolean",
                    Value::Number(_) => "number",
                    _ => "any",
                };
                let mut param = Map::new();
                param.insert("key".into(), Value::String(key));
                param.insert("value".into(), value);
                param.insert("type".into(), Value::String(kind.into()));
                Value::Object(param)
            })
            .collect();
        *params = Value::Array(list);
    }
}

/// Gives every folder, request and saved response without a string `id`
/// one from `new_id`, and returns how many it gave. Ids already there stay,
/// so that ids are stable from the first import on.
pub fn assign_ids(doc: &mut Value, new_id: &mut impl FnMut() -> String) -> usize {
    match doc.get_mut("item") {
        Some(items) => assign_item_ids(items, new_id),
        None => 0,
    }
}

fn assign_item_ids(items: &mut Value, new_id: &mut impl FnMut() -> String) -> usize {
    let Some(items) = items.as_array_mut() else {
        return 0;
    };
    let mut given = 0;
    for item in items {
        let Some(obj) = item.as_object_mut() else {
            continue;
        };
        given += give_id(obj, new_id);
        if let Some(Value::Array(responses)) = obj.get_mut("response") {
            for response in responses {
                if let Some(response) = response.as_object_mut() {
                    given += give_id(response, new_id);
                }
            }
        }
        if let Some(children) = obj.get_mut("item") {
            given += assign_item_ids(children, new_id);
        }
    }
    given
}

fn give_id(obj: &mut Map<String, Value>, new_id: &mut impl FnMut() -> String) -> usize {
    match obj.get("id") {
        Some(Value::String(id)) if !id.is_empty() => 0,
        _ => {
            obj.insert("id".into(), Value::String(new_id()));
            1
        }
    }
}

/// A collection's name (`info.name`), trimmed.
pub fn collection_name(doc: &Value) -> &str {
    doc.pointer("/info/name")
        .and_then(Value::as_str)
        .map_or("", str::trim)
}

/// Sets the collection's id (`info._postman_id`).
pub fn set_collection_id(doc: &mut Value, id: &str) {
    if let Some(Value::Object(info)) = doc.get_mut("info") {
        info.insert("_postman_id".into(), Value::String(id.into()));
    }
}

/// How many requests and folders a collection holds.
pub fn count_items(doc: &Value) -> (usize, usize) {
    fn walk(items: &Value, counts: &mut (usize, usize)) {
        for item in items.as_array().into_iter().flatten() {
            match item.get("item") {
                Some(children) => {
                    counts.1 += 1;
                    walk(children, counts);
                }
                None => counts.0 += 1,
            }
        }
    }
    let mut counts = (0, 0);
    if let Some(items) = doc.get("item") {
        walk(items, &mut counts);
    }
    counts
}

/// Checks an environment (`{name, values: [{key, value, enabled, type}]}`)
/// or, with `named` false, a globals document (`{values: [...]}`).
pub fn check_environment(doc: &Value, named: bool) -> Result<(), ShapeError> {
    let root = Path::Root;
    let obj = object(doc, &root)?;
    if named {
        match obj.get("name") {
            Some(Value::String(name)) if !name.trim().is_empty() => {}
            Some(Value::String(_)) => return Err(shape(&root.key("name"), "must not be empty")),
            Some(_) => return Err(shape(&root.key("name"), "expected a string")),
            None => return Err(shape(&root, "`name` is missing")),
        }
    }
    let vpath = root.key("values");
    let values = match obj.get("values") {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(values)) => values,
        Some(_) => return Err(shape(&vpath, "expected a list of variables")),
    };
    for (i, value) in values.iter().enumerate() {
        let path = vpath.index(i);
        let var = object(value, &path)?;
        match var.get("key") {
            Some(Value::String(_)) => {}
            Some(_) => return Err(shape(&path.key("key"), "expected a string")),
            None => return Err(shape(&path, "`key` is missing")),
        }
        optional_string(var, "type", &path)?;
    }
    Ok(())
}

/// An environment's name, trimmed.
pub fn environment_name(doc: &Value) -> &str {
    doc.get("name")
        .and_then(Value::as_str)
        .map_or("", str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn counter() -> impl FnMut() -> String {
        let mut n = 0;
        move || {
            n += 1;
            format!("id-{n}")
        }
    }

    #[test]
    fn detects_versions_and_kinds() {
        let v21 = json!({"info": {"name": "A", "schema": SCHEMA_V21}, "item": []});
        assert_eq!(detect(&v21), Ok(FileKind::CollectionV21));
        let v20 = json!({"info": {"name": "A", "schema": "https://schema.getpostman.com/json/collection/v2.0.0/collection.json"}});
        assert_eq!(detect(&v20), Ok(FileKind::CollectionV20));
        let env = json!({"name": "E", "values": []});
        assert_eq!(detect(&env), Ok(FileKind::Environment));
        let v1 = json!({"id": "x", "name": "Old", "requests": [], "order": []});
        assert!(detect(&v1).unwrap_err().message.contains("v1"));
        assert!(detect(&json!([1, 2])).is_err());
        assert!(detect(&json!({"name": "neither"})).is_err());
        let v3 = json!({"info": {"name": "A", "schema": "https://example.com/v3.0.0/x.json"}});
        assert_eq!(detect(&v3).unwrap_err().path, "info.schema");
    }

    #[test]
    fn errors_name_the_path() {
        let doc = json!({"info": {"name": "A"}, "item": [
            {"name": "ok", "request": "https://example.com"},
            {"name": "folder", "item": [{"name": "bad", "request": {"url": 42}}]},
        ]});
        let err = check_collection(&doc).unwrap_err();
        assert_eq!(err.path, "item[1].item[0].request.url");
        assert_eq!(err.message, "expected a string or an object");
        let err = check_collection(&json!({"info": {"name": "A"}, "item": {}})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "item: expected a list of folders and requests"
        );
        let err = check_collection(&json!({"info": {"name": " "}})).unwrap_err();
        assert_eq!(err.path, "info.name");
        let err = check_collection(&json!({"item": []})).unwrap_err();
        assert_eq!(err.path, "");
        let err =
            check_environment(&json!({"name": "E", "values": [{"value": 1}]}), true).unwrap_err();
        assert_eq!(err.to_string(), "values[0]: `key` is missing");
    }

    #[test]
    fn ids_are_given_once_and_kept() {
        let mut doc = json!({"info": {"name": "A"}, "item": [
            {"name": "f", "item": [{"name": "r", "request": {}, "response": [{"name": "ex"}, {"id": "keep"}]}]},
            {"id": "mine", "name": "r2", "request": "x"},
        ]});
        let mut ids = counter();
        assert_eq!(assign_ids(&mut doc, &mut ids), 3);
        assert_eq!(doc["item"][0]["id"], "id-1");
        assert_eq!(doc["item"][0]["item"][0]["id"], "id-2");
        assert_eq!(doc["item"][0]["item"][0]["response"][0]["id"], "id-3");
        assert_eq!(doc["item"][0]["item"][0]["response"][1]["id"], "keep");
        assert_eq!(doc["item"][1]["id"], "mine");
        let again = doc.clone();
        assert_eq!(assign_ids(&mut doc, &mut ids), 0);
        assert_eq!(doc, again);
        assert_eq!(count_items(&doc), (2, 1));
    }

    #[test]
    fn upgrade_turns_auth_maps_into_lists_and_keeps_the_rest() {
        let mut doc = json!({
            "variables": [],
            "info": {"name": "A", "schema": "https://schema.getpostman.com/json/collection/v2.0.0/collection.json", "x": 1},
            "auth": {"type": "bearer", "bearer": {"token": "t"}},
            "item": [{"name": "r", "request": {"url": "u", "auth": {"type": "basic", "basic": {"username": "u", "saveHelperData": true}}}}],
        });
        upgrade_v20(&mut doc);
        assert_eq!(doc["info"]["schema"], SCHEMA_V21);
        assert_eq!(doc["info"]["x"], 1);
        assert_eq!(doc["variables"], json!([]));
        assert_eq!(
            doc["auth"]["bearer"],
            json!([{"key": "token", "value": "t", "type": "string"}])
        );
        assert_eq!(
            doc["item"][0]["request"]["auth"]["basic"],
            json!([{"key": "username", "value": "u", "type": "string"}, {"key": "saveHelperData", "value": true, "type": "boolean"}])
        );
        assert_eq!(doc["item"][0]["request"]["url"], "u");
    }
}
