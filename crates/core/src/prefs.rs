//! Notification preferences (P5): for each channel (email, in-app), which
//! topics a person wants to hear about.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    Security,
    Usage,
    Monitors,
    Comments,
}

/// Whether each topic is wanted on one channel. Absent fields keep their
/// default (on), so older stored preferences stay readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct TopicSwitches {
    pub security: bool,
    pub usage: bool,
    pub monitors: bool,
    pub comments: bool,
}

impl Default for TopicSwitches {
    fn default() -> Self {
        TopicSwitches {
            security: true,
            usage: true,
            monitors: true,
            comments: true,
        }
    }
}

impl TopicSwitches {
    pub fn wants(&self, topic: Topic) -> bool {
        match topic {
            Topic::Security => self.security,
            Topic::Usage => self.usage,
            Topic::Monitors => self.monitors,
            Topic::Comments => self.comments,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(default, deny_unknown_fields)]
pub struct NotificationPrefs {
    pub email: TopicSwitches,
    pub in_app: TopicSwitches,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_default_to_on() {
        let p: NotificationPrefs = serde_json::from_str(r#"{"email":{"usage":false}}"#).unwrap();
        assert!(!p.email.wants(Topic::Usage));
        assert!(p.email.wants(Topic::Security));
        assert!(p.in_app.wants(Topic::Comments));
    }
}
