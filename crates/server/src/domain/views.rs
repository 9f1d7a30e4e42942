//! Stored rows turned into the API's wire types.

use postroom_core::api::{self, ApiKeyScope};

use crate::clock::{rfc3339, Millis};
use crate::state::App;
use crate::store::{api_keys::ApiKeyRow, sessions::SessionRow, users::UserRow};

pub fn links_of(user: &UserRow) -> Vec<String> {
    serde_json::from_str(&user.links).unwrap_or_default()
}

pub fn avatar_url(app: &App, user: &UserRow) -> Option<String> {
    avatar_url_of(app, &user.id, user.avatar_version)
}

/// [`avatar_url`] from a user's id and avatar version.
pub fn avatar_url_of(app: &App, user_id: &str, avatar_version: Option<i64>) -> Option<String> {
    avatar_version.map(|v| {
        app.settings
            .link(&format!("/api/v1/avatars/{user_id}?v={v}"))
    })
}

pub fn user(app: &App, u: &UserRow) -> api::User {
    api::User {
        id: u.id.clone(),
        username: u.username.clone(),
        email: u.email.clone(),
        email_verified: u.email_verified_at.is_some(),
        display_name: u.display_name.clone(),
        bio: u.bio.clone(),
        links: links_of(u),
        profile_public: u.profile_public != 0,
        usage: u.usage.clone(),
        avatar_url: avatar_url(app, u),
        created_at: rfc3339(u.created_at),
    }
}

pub fn public_profile(app: &App, u: &UserRow) -> api::PublicProfile {
    api::PublicProfile {
        username: u.username.clone(),
        display_name: u.display_name.clone(),
        bio: u.bio.clone(),
        links: links_of(u),
        avatar_url: avatar_url(app, u),
    }
}

pub fn session(s: &SessionRow, current: Option<&str>) -> api::Session {
    api::Session {
        id: s.id.clone(),
        device: s
            .label
            .clone()
            .unwrap_or_else(|| device_label(s.user_agent.as_deref())),
        user_agent: s.user_agent.clone(),
        ip: s.ip.clone(),
        created_at: rfc3339(s.created_at),
        last_active_at: rfc3339(s.last_active_at),
        keep_signed_in: s.keep_signed_in != 0,
        current: current == Some(s.id.as_str()),
    }
}

pub fn api_key(k: &ApiKeyRow, now: Millis) -> api::ApiKey {
    api::ApiKey {
        id: k.id.clone(),
        name: k.name.clone(),
        prefix: k.prefix.clone(),
        scopes: parse_scopes(&k.scopes),
        created_at: rfc3339(k.created_at),
        last_used_at: k.last_used_at.map(rfc3339),
        expires_at: k.expires_at.map(rfc3339),
        expired: k.expires_at.is_some_and(|t| t <= now),
    }
}

/// A key's scopes as stored (comma-separated names); a name this version
/// does not know is left out.
pub fn parse_scopes(s: &str) -> Vec<ApiKeyScope> {
    s.split(',')
        .filter_map(|p| match p {
            "read" => Some(ApiKeyScope::Read),
            "write" => Some(ApiKeyScope::Write),
            _ => None,
        })
        .collect()
}

/// "Firefox on Linux", "curl", "Postroom CLI": enough to recognise a session.
pub fn device_label(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|ua| !ua.trim().is_empty()) else {
        return "Unknown device".to_owned();
    };
    let program = [
        ("postroom/", "Postroom CLI"),
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
        ("PostmanRuntime/", "Postman"),
        ("python-requests/", "Python requests"),
        ("reqwest", "reqwest"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    let system = [
        ("Windows", "Windows"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Android", "Android"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match (program, system) {
        (Some(p), Some(s)) => format!("{p} on {s}"),
        (Some(p), None) => p.to_owned(),
        (None, Some(s)) => format!("Browser on {s}"),
        (None, None) => ua
            .split('/')
            .next()
            .unwrap_or(ua)
            .chars()
            .take(40)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::device_label;

    #[test]
    fn labels() {
        assert_eq!(
            device_label(Some(
                "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
            )),
            "Firefox on Linux"
        );
        assert_eq!(device_label(Some("curl/8.5.0")), "curl");
        assert_eq!(device_label(None), "Unknown device");
    }
}
