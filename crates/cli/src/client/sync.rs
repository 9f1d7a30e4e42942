//! `pull`, `push`, `resolve` and `sync off|on`: one pass over a synced
//! folder at a time (`watch` runs them live).

use std::path::{Path, PathBuf};

use postroom_client::Client;
use postroom_core::api::Keep;
use serde_json::{json, Value};

use super::accounts::{self, Account, State};
use super::folder::{self, Folder, Report};
use super::{Ctx, Exit, Failure, Outcome};

/// The account a folder syncs with (an existing folder's own, else the
/// active one) and a client for it.
pub async fn account_for(ctx: &Ctx, state: &State, dir: &Path) -> Outcome<(Account, Client)> {
    let account = match Folder::account_of(dir)? {
        Some(key) => state
            .find(&key)
            .cloned()
            .ok_or_else(|| {
                Failure::new(
                    Exit::SignIn,
                    "not_signed_in",
                    format!(
                        "{} syncs with {key}, which is not signed in: `postroom login` as that account first",
                        dir.display()
                    ),
                )
            })?,
        None => state.active()?.clone(),
    };
    let client = accounts::client_for(ctx, &account).await?;
    Ok((account, client))
}

fn sync_is_on(state: &State) -> Outcome {
    if state.sync {
        Ok(())
    } else {
        Err(Failure::new(
            Exit::SyncOff,
            "sync_off",
            "sync is off: your edits stay in the folder; `postroom sync on` sends them",
        ))
    }
}

pub async fn pull(ctx: &Ctx, dir: &Path, include_secrets: bool) -> Outcome<Exit> {
    let state = State::load(ctx)?;
    sync_is_on(&state)?;
    let (account, client) = account_for(ctx, &state, dir).await?;
    let mut folder = Folder::open(dir, &account, true)?;
    if include_secrets && !folder.index.include_secrets {
        folder.index.include_secrets = true;
        // Files written without secrets are written again with them.
        folder.index.cursor = None;
        for entry in folder.index.items.values_mut() {
            if entry.kind == postroom_core::ItemKind::Environment {
                entry.revision = 0;
            }
        }
    }
    let mut report = Report::default();
    let spinner = progress(ctx, "pulling");
    let done = folder.pull(&client, &mut report).await;
    spinner.finish_and_clear();
    done?;
    Ok(finish_pass(ctx, &folder, &account, &report, "Up to date"))
}

pub async fn push(ctx: &Ctx, dir: &Path) -> Outcome<Exit> {
    let state = State::load(ctx)?;
    sync_is_on(&state)?;
    let (account, client) = account_for(ctx, &state, dir).await?;
    let mut folder = Folder::open(dir, &account, false)?;
    let mut report = Report::default();
    let spinner = progress(ctx, "pushing");
    let done = folder.push(&client, &mut report).await;
    spinner.finish_and_clear();
    done?;
    if ctx.interactive && !report.conflicts.is_empty() {
        choose(&mut folder, &client, &mut report).await?;
    }
    Ok(finish_pass(
        ctx,
        &folder,
        &account,
        &report,
        "Nothing to push",
    ))
}

/// Tells what a pass did and answers its exit code.
pub fn finish_pass(
    ctx: &Ctx,
    folder: &Folder,
    account: &Account,
    report: &Report,
    nothing: &str,
) -> Exit {
    let exit = folder::exit_for(folder);
    let mut text = report.lines();
    if text.is_empty() {
        text.push(format!(
            "{} ({}, {}).",
            nothing,
            folder.root.display(),
            account.key()
        ));
    }
    ctx.result(
        text.join("\n"),
        json!({"account": account.key(), "report": report, "conflicts": folder.pending()}),
    );
    exit
}

/// A spinner on standard error while a pass runs (hidden when that is not
/// a terminal, or with `--json`).
pub fn progress(ctx: &Ctx, what: &'static str) -> indicatif::ProgressBar {
    if ctx.json {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new_spinner().with_message(what);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

/// The folder a file is in: the nearest directory above it with
/// `.postroom/index.json`.
fn folder_of(file: &Path) -> Option<PathBuf> {
    let abs = if file.is_absolute() {
        file.to_owned()
    } else {
        std::env::current_dir().ok()?.join(file)
    };
    abs.ancestors()
        .skip(1)
        .find(|d| Folder::exists(d))
        .map(Path::to_owned)
}

pub async fn resolve(ctx: &Ctx, file: &Path, keep: Keep) -> Outcome<Exit> {
    let state = State::load(ctx)?;
    let root = folder_of(file)
        .ok_or_else(|| Failure::other(format!("{} is not in a synced folder", file.display())))?;
    let (account, client) = account_for(ctx, &state, &root).await?;
    let mut folder = Folder::open(&root, &account, false)?;
    let (id, entry) = folder
        .entry_for_file(file)
        .ok_or_else(|| Failure::other(format!("{} is not a synced file", file.display())))?;
    let Some(pending) = entry.conflict.clone() else {
        ctx.result(
            format!("{} has no conflict to resolve.", entry.path),
            json!({"resolved": Value::Null}),
        );
        return Ok(Exit::Ok);
    };
    let mut report = Report::default();
    let (keep, document) = mine_or_theirs(&folder, &entry, &pending, keep)?;
    folder
        .resolve_with(&client, &id, &pending, keep, document, &mut report)
        .await?;
    Ok(finish_pass(
        ctx,
        &folder,
        &account,
        &report,
        "Nothing changed",
    ))
}

/// What to send for a choice: "mine" is the file as it is now (the write
/// the server kept when the file did not change since, else the file as
/// a merged document), "theirs" the server's side.
fn mine_or_theirs(
    folder: &Folder,
    entry: &folder::Entry,
    pending: &folder::Pending,
    keep: Keep,
) -> Outcome<(Keep, Option<Value>)> {
    if keep != Keep::Mine {
        return Ok((keep, None));
    }
    let path = folder.root.join(&entry.path);
    match std::fs::read(&path) {
        Ok(bytes) if folder::sha256(&bytes) == pending.hash => Ok((Keep::Mine, None)),
        Ok(bytes) => {
            let document: Value = serde_json::from_slice(&bytes)
                .map_err(|e| Failure::other(format!("{} is not valid JSON: {e}", entry.path)))?;
            Ok((Keep::Merged, Some(document)))
        }
        Err(_) => Ok((Keep::Mine, None)),
    }
}

/// Asks the person, conflict by conflict: mine, theirs, edit, or later.
pub async fn choose(folder: &mut Folder, client: &Client, report: &mut Report) -> Outcome {
    let conflicts = std::mem::take(&mut report.conflicts);
    for path in conflicts {
        let Some((id, entry)) = folder.entry_for_file(&folder.root.join(&path)) else {
            continue;
        };
        let Some(pending) = entry.conflict.clone() else {
            continue;
        };
        let detail = client.conflict(&pending.id).await?;
        eprintln!(
            "\nConflict in {path}: changed here and on the server ({} now) in the same place:",
            detail.conflict.theirs_revision
        );
        for field in &detail.conflict.fields {
            eprintln!("  {}", field.path);
        }
        eprintln!(
            "The server's version is in {}.",
            folder::conflict_name(&path)
        );
        let answer = ask("Keep [m]ine, keep [t]heirs, [e]dit the file, or decide [l]ater? ")?;
        let keep = match answer.as_str() {
            "m" | "mine" => Keep::Mine,
            "t" | "theirs" => Keep::Theirs,
            "e" | "edit" => {
                edit(&folder.root.join(&path))?;
                Keep::Merged
            }
            _ => {
                report.conflicts.push(path);
                continue;
            }
        };
        let (keep, document) = if keep == Keep::Merged {
            let bytes = std::fs::read(folder.root.join(&path))?;
            let document: Value = serde_json::from_slice(&bytes)
                .map_err(|e| Failure::other(format!("{path} is not valid JSON: {e}")))?;
            (Keep::Merged, Some(document))
        } else {
            mine_or_theirs(folder, &entry, &pending, keep)?
        };
        folder
            .resolve_with(client, &id, &pending, keep, document, report)
            .await?;
    }
    Ok(())
}

fn ask(question: &str) -> Outcome<String> {
    use std::io::Write as _;
    eprint!("{question}");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim().to_lowercase())
}

/// Opens `$VISUAL` or `$EDITOR` (else `vi`) on a file and waits for it.
fn edit(path: &Path) -> Outcome {
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".to_owned());
    let mut words = editor.split_whitespace();
    let program = words.next().unwrap_or("vi");
    let status = std::process::Command::new(program)
        .args(words)
        .arg(path)
        .status()
        .map_err(|e| Failure::other(format!("cannot start the editor {program:?}: {e}")))?;
    if !status.success() {
        return Err(Failure::other(format!("the editor {program:?} failed")));
    }
    Ok(())
}

pub fn set_sync(ctx: &Ctx, on: bool) -> Outcome<Exit> {
    let mut state = State::load(ctx)?;
    state.sync = on;
    state.save(ctx)?;
    let text = if on {
        "Sync is on: push, pull and watch talk to the server again; edits made meanwhile go out on the next push (a running watch sends them now)."
    } else {
        "Sync is off: push, pull and watch wait, and nothing is lost; your edits stay in your folders until `postroom sync on`."
    };
    ctx.result(text, json!({ "sync": on }));
    Ok(Exit::Ok)
}
