//! A folder of collections and environments kept in sync with a server
//! (C2, S6, S7).
//!
//! The folder holds Postman files that other tools read: `private/` for
//! the person's own items and `teams/<slug>/` for each team's, named
//! `<name>.postman_collection.json` and `<name>.postman_environment.json`
//! (`<name> (2)...` when two share a name). `.postroom/index.json` maps
//! each file to its item, the revision it was written from and a hash of
//! its bytes, and keeps the change-log cursor.
//!
//! The folder itself is the queue of work: a file whose bytes differ from
//! its hash is an edit to send (with its revision as the base, so the
//! server merges what changed since), a file the index does not know is a
//! new item, and an indexed file that is gone is a delete. Nothing is
//! queued in memory, so edits made offline, or while the client was not
//! running, go out on the next push.
//!
//! A conflict is never settled here: the file stays as the person left it,
//! `<name>.conflict.json` beside it holds the other side, and `postroom
//! resolve`, or removing the conflict file and pushing, settles it.
//!
//! Secret environment values are written as empty strings unless the
//! folder was pulled with `--include-secrets`; an empty secret is filled
//! back from the base revision when the file is pushed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Component, Path, PathBuf};

use postroom_client::{Client, Error as ApiError};
use postroom_core::api::{ChangeOp, Keep};
use postroom_core::ItemKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::accounts::{write_private, Account};
use super::{Exit, Failure, Outcome};

const INDEX_VERSION: u32 = 1;
const COLLECTION_SUFFIX: &str = ".postman_collection.json";
const ENVIRONMENT_SUFFIX: &str = ".postman_environment.json";
const CONFLICT_SUFFIX: &str = ".conflict.json";

#[derive(Debug, Serialize, Deserialize)]
pub struct Index {
    pub version: u32,
    /// The account the folder syncs with (`username@host`).
    pub account: String,
    pub server: String,
    /// The change-log cursor after the last change applied.
    pub cursor: Option<String>,
    /// Whether secret environment values are written to disk.
    #[serde(default)]
    pub include_secrets: bool,
    /// By item id.
    pub items: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    pub kind: ItemKind,
    /// The team's slug; absent for a private item.
    pub team: Option<String>,
    /// The file, relative to the folder, with `/` between parts.
    pub path: String,
    pub name: String,
    /// The revision the file was written from, or last pushed as.
    pub revision: i64,
    /// SHA-256 of the file's bytes as they were then.
    pub hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<Pending>,
}

/// A conflict waiting for the person.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub id: String,
    /// The file's hash when the conflict arose (empty for a delete).
    pub hash: String,
}

/// What a pass did, for the person and for `--json`.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub pushed: Vec<String>,
    pub created: Vec<String>,
    pub deleted: Vec<String>,
    pub pulled: Vec<String>,
    pub removed: Vec<String>,
    pub resolved: Vec<String>,
    /// Files with a conflict waiting (`<name>.conflict.json` beside them).
    pub conflicts: Vec<String>,
    /// Files left alone, and why.
    pub skipped: Vec<String>,
}

impl Report {
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let groups: [(&str, &Vec<String>); 7] = [
            ("pushed", &self.pushed),
            ("created on the server", &self.created),
            ("deleted on the server", &self.deleted),
            ("pulled", &self.pulled),
            ("removed (deleted on the server)", &self.removed),
            ("conflict settled", &self.resolved),
            ("skipped", &self.skipped),
        ];
        for (what, paths) in groups {
            lines.extend(paths.iter().map(|p| format!("{what}: {p}")));
        }
        lines.extend(self.conflicts.iter().map(|p| {
            format!(
                "conflict: {p} (the server's version is in {}; `postroom resolve {p} --keep mine|theirs`)",
                conflict_name(p)
            )
        }));
        lines
    }
}

/// A folder opened for a pass: its index, locked against another
/// `postroom` working on it at the same time.
pub struct Folder {
    pub root: PathBuf,
    pub index: Index,
    _lock: File,
}

fn meta_dir(root: &Path) -> PathBuf {
    root.join(".postroom")
}

fn index_path(root: &Path) -> PathBuf {
    meta_dir(root).join("index.json")
}

impl Folder {
    /// Whether `root` is a synced folder.
    pub fn exists(root: &Path) -> bool {
        index_path(root).is_file()
    }

    /// The account a synced folder belongs to.
    pub fn account_of(root: &Path) -> Outcome<Option<String>> {
        if !Folder::exists(root) {
            return Ok(None);
        }
        Ok(Some(read_index(root)?.account))
    }

    /// Opens a synced folder, or makes `root` one for `account`.
    pub fn open(root: &Path, account: &Account, create: bool) -> Outcome<Folder> {
        let exists = Folder::exists(root);
        if !exists && !create {
            return Err(Failure::other(format!(
                "{} is not a synced folder: `postroom pull {}` makes it one",
                root.display(),
                root.display()
            )));
        }
        std::fs::create_dir_all(meta_dir(root)).map_err(|e| {
            Failure::other(format!("cannot create {}: {e}", meta_dir(root).display()))
        })?;
        let lock = File::create(meta_dir(root).join("lock"))?;
        if lock.try_lock().is_err() {
            return Err(Failure::other(format!(
                "another postroom command is syncing {} (a `postroom watch`?); stop it or let it do the work",
                root.display()
            )));
        }
        let index = if exists {
            let index = read_index(root)?;
            if index.account != account.key() {
                return Err(Failure::other(format!(
                    "{} syncs with {}, not {}: `postroom switch {}` first",
                    root.display(),
                    index.account,
                    account.key(),
                    index.account
                )));
            }
            index
        } else {
            Index {
                version: INDEX_VERSION,
                account: account.key(),
                server: account.server.clone(),
                cursor: None,
                include_secrets: false,
                items: BTreeMap::new(),
            }
        };
        let folder = Folder {
            root: root.to_owned(),
            index,
            _lock: lock,
        };
        folder.save()?;
        Ok(folder)
    }

    pub fn save(&self) -> Outcome {
        let bytes = serde_json::to_vec_pretty(&self.index).expect("the index serialises");
        write_private(&index_path(&self.root), &bytes)
    }

    fn abs(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }

    /// The entry whose file is `path` (as the person typed it).
    pub fn entry_for_file(&self, path: &Path) -> Option<(String, Entry)> {
        let rel = relative(&self.root, path)?;
        let rel = rel
            .strip_suffix(CONFLICT_SUFFIX)
            .map_or(rel.clone(), |stem| {
                // `x.postman_collection.conflict.json` names `x.postman_collection.json`.
                format!("{stem}.json")
            });
        self.index
            .items
            .iter()
            .find(|(_, e)| e.path == rel)
            .map(|(id, e)| (id.clone(), e.clone()))
    }

    /// Sends local edits, new files and deletes.
    pub async fn push(&mut self, client: &Client, report: &mut Report) -> Outcome {
        let ids: Vec<String> = self.index.items.keys().cloned().collect();
        for id in ids {
            self.push_one(client, &id, report).await?;
        }
        for (rel, kind, team) in self.unindexed()? {
            self.create(client, &rel, kind, team, report).await?;
        }
        Ok(())
    }

    async fn push_one(&mut self, client: &Client, id: &str, report: &mut Report) -> Outcome {
        let Some(entry) = self.index.items.get(id).cloned() else {
            return Ok(());
        };
        let path = self.abs(&entry.path);
        if let Some(pending) = &entry.conflict {
            if self.abs(&conflict_name(&entry.path)).exists() {
                report.conflicts.push(entry.path.clone());
                return Ok(());
            }
            // The conflict file was removed: the file, as it is, settles it.
            return self.settle(client, id, &entry, pending, report).await;
        }
        let Some(bytes) = read_optional(&path)? else {
            match client
                .delete_item(entry.kind, id, Some(entry.revision))
                .await
            {
                Ok(()) => {
                    self.index.items.remove(id);
                    report.deleted.push(entry.path.clone());
                }
                Err(ApiError::Conflict(view)) => {
                    self.keep_conflict(client, id, &view.id, String::new())
                        .await?;
                    report.conflicts.push(entry.path.clone());
                }
                Err(err) if err.is_not_found() => {
                    self.index.items.remove(id);
                }
                Err(err) => return Err(err.into()),
            }
            return self.save();
        };
        let hash = sha256(&bytes);
        if hash == entry.hash {
            return Ok(());
        }
        let Some(document) = parse(&entry.path, &bytes, report) else {
            return Ok(());
        };
        let document = self.unmask(client, id, &entry, document).await?;
        match client
            .put_item(entry.kind, id, &document, Some(entry.revision))
            .await
        {
            Ok((item, merged)) => {
                if merged || item.name != entry.name {
                    // The file becomes the merged result (or moves to the
                    // new name).
                    self.write_current(client, id, entry.kind, entry.team.clone())
                        .await?;
                } else if let Some(e) = self.index.items.get_mut(id) {
                    e.revision = item.revision;
                    e.hash = hash;
                }
                report.pushed.push(entry.path.clone());
            }
            Err(ApiError::Conflict(view)) => {
                self.keep_conflict(client, id, &view.id, hash).await?;
                report.conflicts.push(entry.path.clone());
            }
            Err(err) if err.is_not_found() => {
                // Deleted on the server, or access ended: the file stays and
                // is offered again as a new item.
                self.index.items.remove(id);
                report.skipped.push(format!(
                    "{} (gone from the server; kept here, and sent as a new item next time)",
                    entry.path
                ));
            }
            Err(ApiError::Api {
                status: 400 | 413 | 422,
                message,
                ..
            }) => {
                report
                    .skipped
                    .push(format!("{} (the server refused it: {message})", entry.path));
            }
            Err(err) => return Err(err.into()),
        }
        self.save()
    }

    /// Records a conflict and puts the server's side beside the file.
    async fn keep_conflict(
        &mut self,
        client: &Client,
        id: &str,
        conflict_id: &str,
        hash: String,
    ) -> Outcome {
        let detail = client.conflict(conflict_id).await?;
        let Some(entry) = self.index.items.get_mut(id) else {
            return Ok(());
        };
        entry.conflict = Some(Pending {
            id: conflict_id.to_owned(),
            hash,
        });
        let theirs = detail.theirs.unwrap_or(Value::Null);
        let theirs = mask(entry.kind, theirs, self.index.include_secrets);
        let path = self.root.join(conflict_name(&entry.path));
        write_document(&path, &theirs)?;
        self.save()
    }

    /// Settles a conflict whose conflict file the person removed: the file
    /// as it is now is what they want (gone: the delete).
    async fn settle(
        &mut self,
        client: &Client,
        id: &str,
        entry: &Entry,
        pending: &Pending,
        report: &mut Report,
    ) -> Outcome {
        let path = self.abs(&entry.path);
        let (keep, document) = match read_optional(&path)? {
            Some(bytes) => {
                let Some(document) = parse(&entry.path, &bytes, report) else {
                    return Ok(());
                };
                let document = self.unmask(client, id, entry, document).await?;
                (Keep::Merged, Some(document))
            }
            None => (Keep::Mine, None),
        };
        self.resolve_with(client, id, pending, keep, document, report)
            .await
    }

    /// Resolves the conflict of `id` and writes the outcome to the folder.
    pub async fn resolve_with(
        &mut self,
        client: &Client,
        id: &str,
        pending: &Pending,
        keep: Keep,
        document: Option<Value>,
        report: &mut Report,
    ) -> Outcome {
        let Some(entry) = self.index.items.get(id).cloned() else {
            return Ok(());
        };
        match client.resolve(&pending.id, keep, document).await {
            Ok(_) => {}
            // Settled on another device (or gone): what the server has now
            // is the outcome.
            Err(err) if err.is_not_found() || err.code() == Some("conflict_resolved") => {}
            Err(ApiError::Conflict(view)) => {
                // The item changed again in the same place meanwhile.
                self.keep_conflict(client, id, &view.id, pending.hash.clone())
                    .await?;
                report.conflicts.push(entry.path.clone());
                return Ok(());
            }
            Err(err) => return Err(err.into()),
        }
        let _ = std::fs::remove_file(self.abs(&conflict_name(&entry.path)));
        if let Some(e) = self.index.items.get_mut(id) {
            e.conflict = None;
        }
        match self
            .write_current(client, id, entry.kind, entry.team.clone())
            .await
        {
            Ok(()) => {}
            Err(_) if !self.index.items.contains_key(id) => {}
            Err(err) => return Err(err),
        }
        report.resolved.push(entry.path.clone());
        self.save()
    }

    /// Fetches the item's current document and writes it to its file (a
    /// new name when it was renamed), or forgets it when it is gone.
    async fn write_current(
        &mut self,
        client: &Client,
        id: &str,
        kind: ItemKind,
        team: Option<String>,
    ) -> Outcome {
        let document = match client.item(kind, id).await {
            Ok(document) => document,
            Err(err) if err.is_not_found() => {
                if let Some(entry) = self.index.items.remove(id) {
                    let _ = std::fs::remove_file(self.abs(&entry.path));
                }
                return self.save();
            }
            Err(err) => return Err(err.into()),
        };
        let name = document_name(kind, &document.value);
        let old = self.index.items.get(id).cloned();
        let path = match &old {
            Some(e) if e.name == name && e.team == team => e.path.clone(),
            _ => self.free_path(kind, team.as_deref(), &name, Some(id)),
        };
        let masked = mask(kind, document.value, self.index.include_secrets);
        let hash = write_document(&self.abs(&path), &masked)?;
        if let Some(old) = &old {
            if old.path != path {
                let _ = std::fs::remove_file(self.abs(&old.path));
            }
        }
        self.index.items.insert(
            id.to_owned(),
            Entry {
                kind,
                team,
                path,
                name,
                revision: document.revision,
                hash,
                conflict: old.and_then(|e| e.conflict),
            },
        );
        self.save()
    }

    async fn create(
        &mut self,
        client: &Client,
        rel: &str,
        kind: ItemKind,
        team: Option<String>,
        report: &mut Report,
    ) -> Outcome {
        let Some(bytes) = read_optional(&self.abs(rel))? else {
            return Ok(());
        };
        let Some(document) = parse(rel, &bytes, report) else {
            return Ok(());
        };
        let item = match client.create_item(kind, &document, team.as_deref()).await {
            Ok(item) => item,
            Err(ApiError::Api {
                status: 400 | 403 | 404 | 413 | 422,
                message,
                ..
            }) => {
                report
                    .skipped
                    .push(format!("{rel} (the server refused it: {message})"));
                return Ok(());
            }
            Err(err) => return Err(err.into()),
        };
        // The file is rewritten as the server keeps it (with ids for every
        // request and folder, which later merges go by), under its name.
        let current = client.item(kind, &item.id).await?;
        let masked = mask(kind, current.value, self.index.include_secrets);
        let hash = write_document(&self.abs(rel), &masked)?;
        self.index.items.insert(
            item.id.clone(),
            Entry {
                kind,
                team,
                path: rel.to_owned(),
                name: item.name,
                revision: current.revision,
                hash,
                conflict: None,
            },
        );
        report.created.push(rel.to_owned());
        self.save()
    }

    /// Files of the folder the index does not know: new items.
    fn unindexed(&self) -> Outcome<Vec<(String, ItemKind, Option<String>)>> {
        let known: BTreeSet<&str> = self.index.items.values().map(|e| e.path.as_str()).collect();
        let mut found = Vec::new();
        let mut dirs = vec![("private".to_owned(), None)];
        if let Ok(teams) = std::fs::read_dir(self.root.join("teams")) {
            for team in teams.flatten() {
                if team.path().is_dir() {
                    let slug = team.file_name().to_string_lossy().into_owned();
                    dirs.push((format!("teams/{slug}"), Some(slug)));
                }
            }
        }
        for (dir, team) in dirs {
            let Ok(files) = std::fs::read_dir(self.root.join(&dir)) else {
                continue;
            };
            let mut names: Vec<String> = files
                .flatten()
                .filter(|f| f.path().is_file())
                .map(|f| f.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            for name in names {
                let kind = if name.ends_with(CONFLICT_SUFFIX) {
                    continue;
                } else if name.ends_with(COLLECTION_SUFFIX) {
                    ItemKind::Collection
                } else if name.ends_with(ENVIRONMENT_SUFFIX) {
                    ItemKind::Environment
                } else {
                    continue;
                };
                let rel = format!("{dir}/{name}");
                if !known.contains(rel.as_str()) {
                    found.push((rel, kind, team.clone()));
                }
            }
        }
        Ok(found)
    }

    /// Applies the changes made on the server since the cursor.
    pub async fn pull(&mut self, client: &Client, report: &mut Report) -> Outcome {
        let mut full = self.index.cursor.is_none();
        let mut seen = BTreeSet::new();
        loop {
            let page = match client.changes(self.index.cursor.as_deref(), 500).await {
                Ok(page) => page,
                Err(err) if err.code() == Some("cursor_expired") => {
                    // Too long away: everything again, and what is not in
                    // it is gone.
                    self.index.cursor = None;
                    full = true;
                    seen.clear();
                    continue;
                }
                Err(err) => return Err(err.into()),
            };
            for change in &page.changes {
                if !matches!(change.kind, ItemKind::Collection | ItemKind::Environment) {
                    continue;
                }
                seen.insert(change.id.clone());
                match change.op {
                    ChangeOp::Created | ChangeOp::Updated => {
                        self.apply_upsert(client, change, report).await?;
                    }
                    ChangeOp::Deleted => self.apply_delete(&change.id, report)?,
                }
            }
            self.index.cursor = Some(page.cursor);
            self.save()?;
            if !page.more {
                break;
            }
        }
        if full {
            let gone: Vec<String> = self
                .index
                .items
                .keys()
                .filter(|id| !seen.contains(*id))
                .cloned()
                .collect();
            for id in gone {
                self.apply_delete(&id, report)?;
            }
            self.save()?;
        }
        Ok(())
    }

    async fn apply_upsert(
        &mut self,
        client: &Client,
        change: &postroom_core::api::Change,
        report: &mut Report,
    ) -> Outcome {
        if let Some(entry) = self.index.items.get(&change.id) {
            if entry.revision >= change.revision && entry.team == change.team {
                return Ok(());
            }
            if entry.conflict.is_some() || self.modified(entry)? {
                // Local edits go out first (the push merges them); the
                // server's side arrives after.
                return Ok(());
            }
        }
        let before = self.index.items.contains_key(&change.id);
        self.write_current(client, &change.id, change.kind, change.team.clone())
            .await?;
        if let Some(entry) = self.index.items.get(&change.id) {
            if before || !report.pulled.contains(&entry.path) {
                report.pulled.push(entry.path.clone());
            }
        }
        Ok(())
    }

    fn apply_delete(&mut self, id: &str, report: &mut Report) -> Outcome {
        let Some(entry) = self.index.items.get(id).cloned() else {
            return Ok(());
        };
        if entry.conflict.is_none() && !self.modified(&entry)? {
            let _ = std::fs::remove_file(self.abs(&entry.path));
            report.removed.push(entry.path.clone());
        } else {
            report.skipped.push(format!(
                "{} (deleted on the server, or no longer shared with you, but edited here: kept, and sent as a new item next time)",
                entry.path
            ));
            let _ = std::fs::remove_file(self.abs(&conflict_name(&entry.path)));
        }
        self.index.items.remove(id);
        Ok(())
    }

    /// Whether the file differs from what was last written or pushed (a
    /// missing file counts: it is a delete to send).
    fn modified(&self, entry: &Entry) -> Outcome<bool> {
        Ok(match read_optional(&self.abs(&entry.path))? {
            Some(bytes) => sha256(&bytes) != entry.hash,
            None => true,
        })
    }

    /// The conflicts waiting in the folder.
    pub fn pending(&self) -> Vec<String> {
        self.index
            .items
            .values()
            .filter(|e| e.conflict.is_some())
            .map(|e| e.path.clone())
            .collect()
    }

    /// Fills secret values a masked file left empty from the revision the
    /// file was written from.
    async fn unmask(
        &self,
        client: &Client,
        id: &str,
        entry: &Entry,
        mut document: Value,
    ) -> Outcome<Value> {
        if entry.kind != ItemKind::Environment || self.index.include_secrets {
            return Ok(document);
        }
        let empty_secrets: Vec<String> = rows(&document)
            .filter(|row| is_secret(row) && row.get("value").and_then(Value::as_str) == Some(""))
            .filter_map(|row| row.get("key").and_then(Value::as_str).map(str::to_owned))
            .collect();
        if empty_secrets.is_empty() {
            return Ok(document);
        }
        let base = match client.item_revision(entry.kind, id, entry.revision).await {
            Ok(base) => base,
            Err(err) if err.is_not_found() => return Ok(document),
            Err(err) => return Err(err.into()),
        };
        let base_values: BTreeMap<String, Value> = rows(&base)
            .filter(|row| is_secret(row))
            .filter_map(|row| {
                Some((
                    row.get("key")?.as_str()?.to_owned(),
                    row.get("value")?.clone(),
                ))
            })
            .collect();
        if let Some(values) = document.get_mut("values").and_then(Value::as_array_mut) {
            for row in values.iter_mut() {
                let key = row.get("key").and_then(Value::as_str).map(str::to_owned);
                if let Some(original) = key.and_then(|k| base_values.get(&k)) {
                    if is_secret(row) && row.get("value").and_then(Value::as_str) == Some("") {
                        row["value"] = original.clone();
                    }
                }
            }
        }
        Ok(document)
    }

    /// A file name for an item that no other entry uses.
    fn free_path(
        &self,
        kind: ItemKind,
        team: Option<&str>,
        name: &str,
        id: Option<&str>,
    ) -> String {
        let dir = match team {
            Some(slug) => format!("teams/{}", file_stem(slug)),
            None => "private".to_owned(),
        };
        let suffix = if kind == ItemKind::Environment {
            ENVIRONMENT_SUFFIX
        } else {
            COLLECTION_SUFFIX
        };
        let stem = file_stem(name);
        let taken =
            |rel: &str| {
                self.index.items.iter().any(|(other, e)| {
                    Some(other.as_str()) != id && e.path.eq_ignore_ascii_case(rel)
                }) || self.abs(rel).exists()
            };
        let mut n = 1;
        loop {
            let rel = if n == 1 {
                format!("{dir}/{stem}{suffix}")
            } else {
                format!("{dir}/{stem} ({n}){suffix}")
            };
            if !taken(&rel) {
                return rel;
            }
            n += 1;
        }
    }
}

fn read_index(root: &Path) -> Outcome<Index> {
    let path = index_path(root);
    let bytes = std::fs::read(&path)
        .map_err(|e| Failure::other(format!("cannot read {}: {e}", path.display())))?;
    let index: Index = serde_json::from_slice(&bytes)
        .map_err(|e| Failure::other(format!("{} is damaged: {e}", path.display())))?;
    if index.version != INDEX_VERSION {
        return Err(Failure::other(format!(
            "{} was written by another version of postroom",
            path.display()
        )));
    }
    Ok(index)
}

/// `dir/x.postman_collection.json` -> `dir/x.postman_collection.conflict.json`.
pub fn conflict_name(rel: &str) -> String {
    let stem = rel.strip_suffix(".json").unwrap_or(rel);
    format!("{stem}{CONFLICT_SUFFIX}")
}

/// `path` relative to `root`, with `/` between parts, when it is inside.
fn relative(root: &Path, path: &Path) -> Option<String> {
    let root = root.canonicalize().ok()?;
    let path = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().ok()?.join(path)
    };
    // The file itself may be gone (a delete): its directory is what exists.
    let dir = path.parent()?.canonicalize().ok()?;
    let rel = dir.join(path.file_name()?);
    let rel = rel.strip_prefix(&root).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    Some(parts.join("/"))
}

/// A name made safe as a file name on every system.
pub fn file_stem(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|' => '-',
            c if c.is_control() => '-',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim().trim_matches('.').trim();
    let stem: String = trimmed.chars().take(100).collect();
    if stem.is_empty() {
        "untitled".to_owned()
    } else {
        stem
    }
}

fn document_name(kind: ItemKind, document: &Value) -> String {
    let name = match kind {
        ItemKind::Collection => document.pointer("/info/name"),
        _ => document.get("name"),
    };
    name.and_then(Value::as_str)
        .unwrap_or("untitled")
        .to_owned()
}

fn rows(document: &Value) -> impl Iterator<Item = &Value> {
    document
        .get("values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn is_secret(row: &Value) -> bool {
    row.get("type").and_then(Value::as_str) == Some("secret")
}

/// An environment's secret values emptied, unless they are to be kept.
pub fn mask(kind: ItemKind, mut document: Value, include_secrets: bool) -> Value {
    if kind != ItemKind::Environment || include_secrets {
        return document;
    }
    if let Some(values) = document.get_mut("values").and_then(Value::as_array_mut) {
        for row in values.iter_mut() {
            if is_secret(row) {
                row["value"] = Value::String(String::new());
            }
        }
    }
    document
}

/// Writes a document as pretty JSON (atomically) and answers its hash.
pub fn write_document(path: &Path, document: &Value) -> Outcome<String> {
    let mut bytes = serde_json::to_vec_pretty(document).expect("a JSON value serialises");
    bytes.push(b'\n');
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::other(format!("cannot create {}: {e}", dir.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    std::fs::write(&tmp, &bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| Failure::other(format!("cannot write {}: {e}", path.display())))?;
    Ok(sha256(&bytes))
}

fn read_optional(path: &Path) -> Outcome<Option<Vec<u8>>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Failure::other(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

fn parse(rel: &str, bytes: &[u8], report: &mut Report) -> Option<Value> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) if value.is_object() => Some(value),
        Ok(_) => {
            report.skipped.push(format!("{rel} (not a JSON object)"));
            None
        }
        Err(e) => {
            report.skipped.push(format!(
                "{rel} (not valid JSON: {e}; fix it and push again)"
            ));
            None
        }
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The exit code a pass ends with.
pub fn exit_for(folder: &Folder) -> Exit {
    if folder.pending().is_empty() {
        Exit::Ok
    } else {
        Exit::Conflicts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_safe_and_never_empty() {
        assert_eq!(file_stem("Users / Admin: v2?"), "Users - Admin- v2-");
        assert_eq!(file_stem("  ..  "), "untitled");
        assert_eq!(file_stem("../../etc/passwd"), "-..-etc-passwd");
        assert_eq!(file_stem("Проверка 🚀"), "Проверка 🚀");
    }

    #[test]
    fn the_conflict_file_sits_beside_its_file() {
        assert_eq!(
            conflict_name("teams/acme/Smoke.postman_collection.json"),
            "teams/acme/Smoke.postman_collection.conflict.json"
        );
    }

    #[test]
    fn secrets_are_emptied_unless_kept() {
        let env = serde_json::json!({"name": "e", "values": [
            {"key": "token", "value": "s3cret", "type": "secret"},
            {"key": "host", "value": "example.com", "type": "default"}]});
        let masked = mask(ItemKind::Environment, env.clone(), false);
        assert_eq!(masked["values"][0]["value"], "");
        assert_eq!(masked["values"][1]["value"], "example.com");
        assert_eq!(mask(ItemKind::Environment, env.clone(), true), env);
    }
}
