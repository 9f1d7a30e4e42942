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

    mod lossless {
        use super::*;
        use proptest::prelude::*;
        use serde_json::Map;

        /// Any JSON value: unicode, nulls, empty objects and lists, odd numbers.
        fn any_json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter("finite", |f| f.is_finite())
                    .prop_map(Value::from),
                ".*".prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::btree_map("[a-z_$]{0,8}|.{0,6}", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        /// Extra fields for a node, none named like the fields we look at.
        fn extras() -> impl Strategy<Value = Map<String, Value>> {
            prop::collection::btree_map("x_[a-zA-Z0-9_]{0,6}|_postman_.{0,4}", any_json(), 0..3)
                .prop_map(|m| m.into_iter().collect())
        }

        fn request() -> impl Strategy<Value = Value> {
            (".*", extras(), prop::option::of(any_json())).prop_map(|(url, extra, body)| {
                let mut r = extra;
                r.insert("url".into(), Value::String(url));
                r.insert("method".into(), Value::String("GET".into()));
                if let Some(Value::Object(b)) = body {
                    r.insert("body".into(), Value::Object(b));
                }
                Value::Object(r)
            })
        }

        fn items() -> impl Strategy<Value = Value> {
            let leaf = (".*", extras(), request(), prop::option::of(".{0,8}"), 0..3usize).prop_map(
                |(name, extra, request, id, responses)| {
                    let mut item = extra;
                    item.insert("name".into(), Value::String(name));
                    item.insert("request".into(), request);
                    if let Some(id) = id.filter(|id| !id.is_empty()) {
                        item.insert("id".into(), Value::String(id));
                    }
                    if responses > 0 {
                        let list = (0..responses)
                            .map(|i| serde_json::json!({"name": format!("ex {i}"), "body": null, "header": []}))
                            .collect();
                        item.insert("response".into(), Value::Array(list));
                    }
                    Value::Object(item)
                },
            );
            leaf.prop_recursive(3, 30, 5, |inner| {
                (".*", extras(), prop::collection::vec(inner, 0..5)).prop_map(
                    |(name, extra, children)| {
                        let mut folder = extra;
                        folder.insert("name".into(), Value::String(name));
                        folder.insert("item".into(), Value::Array(children));
                        Value::Object(folder)
                    },
                )
            })
        }

        fn collection() -> impl Strategy<Value = Value> {
            (
                ".+",
                extras(),
                extras(),
                prop::collection::vec(items(), 0..6),
            )
                .prop_map(|(name, info_extra, root_extra, items)| {
                    let mut info = info_extra;
                    info.insert("name".into(), Value::String(format!("n{name}")));
                    info.insert("schema".into(), Value::String(postman::SCHEMA_V21.into()));
                    let mut root = root_extra;
                    root.insert("info".into(), Value::Object(info));
                    root.insert("item".into(), Value::Array(items));
                    Value::Object(root)
                })
        }

        /// `got` is `want` but for `info._postman_id` and ids added to
        /// items and saved responses.
        fn same_but_ids(want: &Value, got: &Value, node: bool) -> bool {
            match (want, got) {
                (Value::Object(w), Value::Object(g)) => {
                    let extra_ok = g
                        .keys()
                        .all(|k| w.contains_key(k) || (node && k == "id") || k == "_postman_id");
                    extra_ok
                        && w.iter().all(|(k, wv)| {
                            if k == "_postman_id"
                                || (node && k == "id" && wv.as_str().is_none_or(|s| s.is_empty()))
                            {
                                return true;
                            }
                            let child_nodes = k == "item" || k == "response";
                            g.get(k).is_some_and(|gv| match (wv, gv) {
                                (Value::Array(wa), Value::Array(ga)) if child_nodes => {
                                    wa.len() == ga.len()
                                        && wa.iter().zip(ga).all(|(a, b)| same_but_ids(a, b, true))
                                }
                                _ => same_but_ids(wv, gv, false),
                            })
                        })
                }
                (Value::Array(w), Value::Array(g)) => {
                    w.len() == g.len() && w.iter().zip(g).all(|(a, b)| same_but_ids(a, b, false))
                }
                (Value::Number(w), Value::Number(g)) => w.as_f64() == g.as_f64(),
                (w, g) => w == g,
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(200))]

            /// What is stored reads back as the document written, whatever
            /// it holds beside the fields we look at.
            #[test]
            fn collections_read_back_as_written(doc in collection()) {
                let prepared = prepare(ItemKind::Collection, doc.clone(), "our-id").unwrap();
                let stored: Value = serde_json::from_str(&prepared.json).unwrap();
                prop_assert_eq!(stored["info"]["_postman_id"].as_str(), Some("our-id"));
                prop_assert!(same_but_ids(&doc, &stored, false), "{} became {}", doc, stored);
                // Stored once more (as a later write would), nothing changes.
                let again = prepare(ItemKind::Collection, stored.clone(), "our-id").unwrap();
                prop_assert_eq!(&again.json, &prepared.json);
            }

            #[test]
            fn environments_read_back_as_written(extra in extras(), values in prop::collection::vec((".*", any_json(), extras()), 0..6)) {
                let mut env = extra;
                env.insert("name".into(), Value::String("Env".into()));
                env.insert("values".into(), Value::Array(values.into_iter().map(|(k, v, x)| {
                    let mut var = x;
                    var.insert("key".into(), Value::String(k));
                    var.insert("value".into(), v);
                    Value::Object(var)
                }).collect()));
                let doc = Value::Object(env);
                let prepared = prepare(ItemKind::Environment, doc.clone(), "env-id").unwrap();
                let mut stored: Value = serde_json::from_str(&prepared.json).unwrap();
                prop_assert_eq!(stored["id"].as_str(), Some("env-id"));
                let mut want = doc;
                want.as_object_mut().unwrap().remove("id");
                stored.as_object_mut().unwrap().remove("id");
                prop_assert_eq!(stored, want);
            }
        }
    }
}
