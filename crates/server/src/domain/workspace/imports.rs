//! Imports (S9): one Postman file (a v2.0 or v2.1 collection, or an
//! environment; which one is detected), or a Postman data export, a zip of
//! them. Everything a request brings is imported in one transaction, so a
//! bad file leaves nothing half-imported; the error names the file and the
//! path inside it.
//!
//! A zip is checked before anything is unpacked: how many entries, their
//! declared sizes (each, and together), and their paths (no absolute paths,
//! no `..`); unpacking then reads no more than each entry declared.

use std::io::{Cursor, Read};

use postroom_core::api;
use postroom_core::postman::{self, FileKind};
use postroom_core::ItemKind;
use serde_json::Value;

use super::create_in;
use crate::domain::actor::Actor;
use crate::error::{Error, Result};
use crate::state::App;

/// Entries a zip may hold.
pub const MAX_ZIP_ENTRIES: usize = 2_000;
/// A zip's entries together may unpack to this many times the document limit.
pub const ZIP_TOTAL_FACTOR: u64 = 4;

/// One file to import: where it came from (for messages) and its JSON.
struct File {
    path: String,
    doc: Value,
}

fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// Imports `bytes`, a JSON file or a zip, into the actor's private items
/// or the team `team`.
pub async fn import(
    app: &App,
    actor: &Actor,
    team: Option<&str>,
    bytes: axum::body::Bytes,
) -> Result<api::ImportResult> {
    if bytes.is_empty() {
        return Err(Error::field(
            "file",
            "empty_file",
            "the file is empty: send a Postman collection, environment or data export",
        ));
    }
    let max = app.settings.max_document_bytes;
    let (files, mut skipped) = tokio::task::spawn_blocking(move || {
        if is_zip(&bytes) {
            unzip(&bytes, max)
        } else {
            let doc = serde_json::from_slice(&bytes).map_err(|e| {
                Error::bad_request(
                    "invalid_json",
                    format!(
                        "the file is not valid JSON (line {}, column {})",
                        e.line(),
                        e.column()
                    ),
                )
            })?;
            Ok((
                vec![File {
                    path: String::new(),
                    doc,
                }],
                Vec::new(),
            ))
        }
    })
    .await
    .map_err(|e| Error::Internal(e.into()))??;

    let mut tx = app.store.begin().await?;
    let team_id = super::target_owner(&mut tx, actor, team).await?;
    let single = files.len() == 1 && files[0].path.is_empty();
    let mut result = api::ImportResult::default();
    for File { path, doc } in files {
        let kind = match postman::detect(&doc) {
            Ok(FileKind::CollectionV20 | FileKind::CollectionV21) => ItemKind::Collection,
            Ok(FileKind::Environment) => ItemKind::Environment,
            Err(e) if single => {
                return Err(in_file(
                    &path,
                    Error::field("file", "invalid_document", e.to_string()),
                ))
            }
            Err(e) => {
                skipped.push(api::SkippedFile {
                    path,
                    reason: e.message,
                });
                continue;
            }
        };
        let row = create_in(
            app,
            &mut tx,
            actor,
            kind,
            doc,
            team_id.as_deref(),
            Some("import"),
        )
        .await
        .map_err(|e| in_file(&path, e))?;
        let item = super::item_ref(&row);
        match kind {
            ItemKind::Collection => result.collections.push(item),
            _ => result.environments.push(item),
        }
    }
    if result.collections.is_empty() && result.environments.is_empty() {
        return Err(Error::field(
            "file",
            "nothing_to_import",
            "the zip holds no Postman collection or environment",
        ));
    }
    tx.commit().await?;
    result.skipped = skipped;
    Ok(result)
}

/// The error, its message prefixed with the file it is about.
fn in_file(path: &str, e: Error) -> Error {
    if path.is_empty() {
        return e;
    }
    match e {
        Error::Invalid {
            code,
            message,
            fields,
        } => Error::Invalid {
            code,
            message: format!("{path}: {message}"),
            fields: fields
                .into_iter()
                .map(|(k, v)| (format!("{path}:{k}"), v))
                .collect(),
        },
        other => other,
    }
}

fn bad_zip(message: impl Into<String>) -> Error {
    Error::field("file", "invalid_zip", message)
}

/// The JSON files of a zip, checked before anything is unpacked, and what
/// was passed over.
fn unzip(bytes: &[u8], max: u64) -> Result<(Vec<File>, Vec<api::SkippedFile>)> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes))
        .map_err(|e| bad_zip(format!("the zip cannot be read: {e}")))?;
    if zip.len() > MAX_ZIP_ENTRIES {
        return Err(bad_zip(format!(
            "the zip holds {} entries; at most {MAX_ZIP_ENTRIES} are imported at once",
            zip.len()
        )));
    }
    let mut total = 0u64;
    let mut wanted = Vec::new();
    let mut skipped = Vec::new();
    for i in 0..zip.len() {
        let entry = zip
            .by_index_raw(i)
            .map_err(|e| bad_zip(format!("entry {i} cannot be read: {e}")))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let Some(path) = entry.enclosed_name() else {
            return Err(bad_zip(format!(
                "{name:?}: a path that leaves the archive (absolute, or with ..) is refused"
            )));
        };
        if entry.is_dir() {
            continue;
        }
        if entry.size() > max {
            return Err(bad_zip(format!(
                "{name}: unpacks to {} MB, over the limit of {} MB per file",
                entry.size() / (1024 * 1024),
                max / (1024 * 1024)
            )));
        }
        total = total.saturating_add(entry.size());
        if total > max.saturating_mul(ZIP_TOTAL_FACTOR) {
            return Err(bad_zip(format!(
                "the zip unpacks to more than {} MB",
                max.saturating_mul(ZIP_TOTAL_FACTOR) / (1024 * 1024)
            )));
        }
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        if !is_json {
            skipped.push(api::SkippedFile {
                path: name,
                reason: "not a JSON file".into(),
            });
            continue;
        }
        wanted.push((i, name, entry.size()));
    }
    let mut files = Vec::with_capacity(wanted.len());
    for (i, name, size) in wanted {
        let entry = zip
            .by_index(i)
            .map_err(|e| bad_zip(format!("{name}: {e}")))?;
        let mut buf = Vec::with_capacity(size as usize);
        // Never more than the entry declared, whatever its data says.
        entry
            .take(size.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| bad_zip(format!("{name}: {e}")))?;
        if buf.len() as u64 > size {
            return Err(bad_zip(format!(
                "{name}: holds more than its declared size"
            )));
        }
        match serde_json::from_slice::<Value>(&buf) {
            Ok(doc) if is_postman_export_index(&doc) => skipped.push(api::SkippedFile {
                path: name,
                reason: "the export's index of its files".into(),
            }),
            Ok(doc) => files.push(File { path: name, doc }),
            Err(e) => skipped.push(api::SkippedFile {
                path: name,
                reason: format!("not valid JSON (line {}, column {})", e.line(), e.column()),
            }),
        }
    }
    Ok((files, skipped))
}

/// A Postman data export's `archive.json`: which collections and
/// environments the export holds, by id.
fn is_postman_export_index(doc: &Value) -> bool {
    doc.get("info").is_none()
        && doc.get("values").is_none()
        && (doc.get("collection").is_some_and(Value::is_object)
            || doc.get("environment").is_some_and(Value::is_object))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        for (name, data) in files {
            w.start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn a_zip_is_checked_before_it_is_unpacked() {
        let coll = br#"{"info": {"name": "A"}, "item": []}"#;
        let ok = zip_of(&[
            ("collection/a.json", coll),
            ("archive.json", br#"{"collection": {"a": true}}"#),
            ("readme.txt", b"hi"),
        ]);
        assert!(is_zip(&ok));
        let (files, skipped) = unzip(&ok, 1024).unwrap();
        assert_eq!(files.len(), 1);
        assert_eq!(files[0].path, "collection/a.json");
        assert_eq!(skipped.len(), 2);

        let escaping = zip_of(&[("../evil.json", coll)]);
        assert_eq!(unzip(&escaping, 1024).err().unwrap().code(), "invalid_zip");
        let big = zip_of(&[("a.json", &[b' '; 2048])]);
        let err = unzip(&big, 1024).err().unwrap();
        assert!(err.to_string().contains("over the limit"), "{err}");
        let many: Vec<(String, Vec<u8>)> = (0..5)
            .map(|i| (format!("{i}.json"), vec![b' '; 900]))
            .collect();
        let refs: Vec<(&str, &[u8])> = many
            .iter()
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        let err = unzip(&zip_of(&refs), 1000).err().unwrap();
        assert!(err.to_string().contains("unpacks to more than"), "{err}");
        assert_eq!(
            unzip(b"PK\x03\x04garbage", 1024).err().unwrap().code(),
            "invalid_zip"
        );
    }
}
