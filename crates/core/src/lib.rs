//! Postroom's shared vocabulary: the values every part of the system agrees on
//! (parsed emails, usernames, notification preferences) and the JSON shapes of
//! the HTTP API. It does no IO, so the server and the command-line client can
//! both depend on it.

pub mod api;
pub mod billing;
pub mod events;
pub mod merge;
pub mod postman;
pub mod prefs;
pub mod teams;
pub mod values;

pub use billing::{Cycle, Money};
pub use events::{AccountEvent, ItemEvent, ItemKind, JoinedVia, Stored, TeamEvent};
pub use prefs::{NotificationPrefs, Topic};
pub use teams::{DomainName, Role, Slug};
pub use values::{check_display_lines, check_display_text, Email, Username, ValueError};
