//! The activity feed (S3): what happened to the collections a person
//! follows (whoever creates a collection starts following it), by others
//! and by them, newest first. It reads the item events of the stream, so it
//! shows exactly what was recorded with each write; an item the person can
//! no longer see (they left its team) drops out of it.

use std::collections::HashMap;

use postroom_core::api;
use postroom_core::{ItemEvent, Stored};

use super::{parse_cursor, usernames};
use crate::clock::rfc3339;
use crate::domain::actor::Actor;
use crate::error::Result;
use crate::state::App;
use crate::store;

const DEFAULT_PAGE: u32 = 50;
const MAX_PAGE: u32 = 200;

pub async fn feed(app: &App, actor: &Actor, q: &api::FeedQuery) -> Result<api::FeedPage> {
    let before = match &q.before {
        None => None,
        Some(cursor) => Some(parse_cursor(cursor)?),
    };
    let limit = i64::from(q.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE));
    let mut c = app.store.conn().await?;
    let rows = store::items::feed(
        &mut c,
        &actor.user_id,
        before.as_ref().map(|(at, id)| (*at, id.as_str())),
        limit + 1,
    )
    .await?;
    let more = rows.len() as i64 > limit;
    let rows = &rows[..rows.len().min(limit as usize)];
    let people = usernames(&mut c, rows.iter().filter_map(|r| r.actor_id.as_deref())).await?;
    let mut teams: HashMap<String, Option<api::TeamRef>> = HashMap::new();
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(event) = ItemEvent::from_stored(&row.kind, &row.data) else {
            continue;
        };
        let team = match row.scope.strip_prefix("items:team:") {
            None => None,
            Some(team_id) => {
                if !teams.contains_key(team_id) {
                    let team = store::teams::by_id(&mut c, team_id)
                        .await?
                        .map(|t| api::TeamRef {
                            slug: t.slug,
                            name: t.name,
                        });
                    teams.insert(team_id.to_owned(), team);
                }
                teams[team_id].clone()
            }
        };
        let actor = row.actor_id.as_deref().map(|id| api::ItemUser {
            id: id.to_owned(),
            username: people.get(id).cloned(),
        });
        events.push(api::FeedEvent {
            id: row.id.clone(),
            at: rfc3339(row.created_at),
            summary: sentence(&event, actor.as_ref(), team.as_ref()),
            actor,
            action: row.kind.clone(),
            item: api::FeedItem {
                id: row.subject.clone(),
                kind: event.item_kind(),
                name: event.name().to_owned(),
            },
            revision: revision_of(&event),
            team,
        });
    }
    let next = if more {
        rows.last().map(|r| format!("{}.{}", r.created_at, r.id))
    } else {
        None
    };
    Ok(api::FeedPage { events, next })
}

fn revision_of(event: &ItemEvent) -> i64 {
    match event {
        ItemEvent::Created { revision, .. }
        | ItemEvent::Updated { revision, .. }
        | ItemEvent::Deleted { revision, .. }
        | ItemEvent::Undeleted { revision, .. }
        | ItemEvent::MovedIn { revision, .. }
        | ItemEvent::MovedOut { revision, .. } => *revision,
    }
}

/// The event in one sentence: "ada updated Conduit (revision 4)".
pub fn sentence(
    event: &ItemEvent,
    actor: Option<&api::ItemUser>,
    team: Option<&api::TeamRef>,
) -> String {
    let who = actor
        .and_then(|a| a.username.clone())
        .unwrap_or_else(|| "someone".into());
    let what = event.name();
    match event {
        ItemEvent::Created { via: Some(_), .. } => format!("{who} imported {what}"),
        ItemEvent::Created { .. } => format!("{who} created {what}"),
        ItemEvent::Updated {
            revision,
            restored_from: Some(old),
            ..
        } => format!("{who} restored {what} to revision {old} (now revision {revision})"),
        ItemEvent::Updated { revision, .. } => {
            format!("{who} updated {what} (revision {revision})")
        }
        ItemEvent::Deleted { .. } => format!("{who} deleted {what}"),
        ItemEvent::Undeleted { .. } => format!("{who} restored {what} from the deleted items"),
        ItemEvent::MovedIn { from, .. } if from == "private" => match team {
            Some(team) => format!("{who} shared {what} with {}", team.name),
            None => format!("{who} moved {what} here"),
        },
        ItemEvent::MovedIn { .. } => format!("{who} moved {what} to their private collections"),
        ItemEvent::MovedOut { to, .. } if to == "private" => {
            format!("{who} took {what} out of the team")
        }
        ItemEvent::MovedOut { to, .. } => format!("{who} moved {what} to the team {to}"),
    }
}
