//! `import <file>` and `export <id>` (S9), with a progress bar on long
//! uploads.

use std::io::Read as _;
use std::path::Path;

use postroom_client::{Error as ApiError, Upload};
use postroom_core::ItemKind;
use serde_json::{json, Value};

use super::accounts::{self, State};
use super::folder::{mask, write_document};
use super::{Ctx, Exit, Failure, Outcome};

pub async fn import(ctx: &Ctx, file: &Path, team: Option<&str>) -> Outcome<Exit> {
    let state = State::load(ctx)?;
    let account = state.active()?;
    let client = accounts::client_for(ctx, account).await?;
    let len = std::fs::metadata(file)
        .map_err(|e| Failure::other(format!("cannot read {}: {e}", file.display())))?
        .len();
    let mut head = [0u8; 4];
    let read = std::fs::File::open(file)
        .and_then(|mut f| f.read(&mut head))
        .map_err(|e| Failure::other(format!("cannot read {}: {e}", file.display())))?;
    let content_type = if head[..read].starts_with(b"PK\x03\x04") {
        "application/zip"
    } else {
        "application/json"
    };
    let bar = if ctx.json {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(len).with_style(
            indicatif::ProgressStyle::with_template(
                "uploading {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, {eta})",
            )
            .expect("a valid template"),
        )
    };
    let stream = chunks(file.to_owned(), bar.clone())?;
    let result = client
        .import(Upload::stream(len, content_type, stream), team)
        .await;
    bar.finish_and_clear();
    let result = result.map_err(|err| match err {
        ApiError::Api { message, code, .. } => Failure::other(format!(
            "{} was not imported: {message} ({code})",
            file.display()
        )),
        other => other.into(),
    })?;
    let mut lines = Vec::new();
    for c in &result.collections {
        lines.push(format!("collection {} ({})", c.name, c.id));
    }
    for e in &result.environments {
        lines.push(format!("environment {} ({})", e.name, e.id));
    }
    for s in &result.skipped {
        lines.push(format!("skipped {}: {}", s.path, s.reason));
    }
    let whose = team.map_or("your private items".to_owned(), |t| format!("team {t}"));
    lines.insert(0, format!("Imported into {whose}:"));
    ctx.result(
        lines.join("\n"),
        serde_json::to_value(&result).unwrap_or(Value::Null),
    );
    Ok(Exit::Ok)
}

/// The file in chunks, advancing the bar as they go out.
fn chunks(
    path: std::path::PathBuf,
    bar: indicatif::ProgressBar,
) -> Outcome<impl futures_util::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static> {
    let file = std::fs::File::open(&path)
        .map_err(|e| Failure::other(format!("cannot read {}: {e}", path.display())))?;
    Ok(futures_util::stream::unfold(
        (file, bar),
        |(mut file, bar)| async move {
            let mut buf = vec![0u8; 256 * 1024];
            match file.read(&mut buf) {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    bar.inc(n as u64);
                    Some((Ok(buf), (file, bar)))
                }
                Err(e) => Some((Err(e), (file, bar))),
            }
        },
    ))
}

pub async fn export(
    ctx: &Ctx,
    id: &str,
    output: Option<&Path>,
    include_secrets: bool,
) -> Outcome<Exit> {
    let state = State::load(ctx)?;
    let account = state.active()?;
    let client = accounts::client_for(ctx, account).await?;
    let mut found = None;
    for kind in [ItemKind::Collection, ItemKind::Environment] {
        match client.item(kind, id).await {
            Ok(document) => {
                found = Some((kind, document));
                break;
            }
            Err(err) if err.is_not_found() => continue,
            Err(err) => return Err(err.into()),
        }
    }
    let Some((kind, document)) = found else {
        return Err(Failure::other(format!(
            "no collection or environment {id:?} that {} can see",
            account.key()
        )));
    };
    let value = mask(kind, document.value, include_secrets);
    match output {
        Some(path) => {
            if path.exists() {
                return Err(Failure::other(format!(
                    "{} exists: name a new file",
                    path.display()
                )));
            }
            write_document(path, &value)?;
            ctx.result(
                format!("Exported {} to {}.", id, path.display()),
                json!({"exported": id, "kind": kind.as_str(), "file": path, "revision": document.revision}),
            );
        }
        None => {
            println!(
                "{}",
                serde_json::to_string_pretty(&value).expect("a JSON value serialises")
            );
        }
    }
    Ok(Exit::Ok)
}
