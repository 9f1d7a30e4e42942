//! What happened, as typed events. The server records each in the same
//! transaction as the change it describes, in a scope (a person's account or
//! a team) with a sequence number of that scope; the team audit log, the
//! account's activity, in-app notifications and, next, the sync change log
//! all read them.
//!
//! An event is stored (and shown in the API) as its `kind`, the snake_case
//! name of its variant, and its `data`, the variant's fields as a JSON
//! object. Fields added later are optional, so that events recorded before
//! them still read.

use serde::{Deserialize, Serialize};

/// An event in a team's scope (`team:<id>`): the audit log (T9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum TeamEvent {
    Created {
        name: String,
        slug: String,
        username: String,
    },
    Renamed {
        from: String,
        to: String,
    },
    Invited {
        invite_id: String,
        /// Absent for an invite link.
        email: Option<String>,
    },
    InviteCancelled {
        invite_id: String,
        email: Option<String>,
    },
    Joined {
        user_id: String,
        username: String,
        via: JoinedVia,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        invite_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
    },
    /// Someone left (`left`) or was removed; `account_deleted` when they
    /// left by deleting their account.
    Removed {
        user_id: String,
        username: String,
        left: bool,
        #[serde(default, skip_serializing_if = "is_false")]
        account_deleted: bool,
    },
    RoleChanged {
        user_id: String,
        username: String,
        from: String,
        to: String,
        from_support_only: bool,
        support_only: bool,
    },
    /// Turned on or off by an admin, or off by itself (`reason`) when the
    /// last verified domain went.
    DiscoveryChanged {
        enabled: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    DomainAdded {
        domain: String,
        /// `operator` when the operator's command line added it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
    DomainVerified {
        domain: String,
        /// `dns` or `operator`.
        method: String,
    },
    DomainRemoved {
        domain: String,
    },
    JoinRequested {
        request_id: String,
        user_id: String,
        username: String,
    },
    JoinApproved {
        request_id: String,
        user_id: String,
        username: String,
    },
    JoinDeclined {
        request_id: String,
        user_id: String,
        username: String,
    },
    /// Single sign-on (A7) set up, or its setup replaced (which must be
    /// tested again). The client secret is never in an event.
    SsoConfigured {
        issuer: String,
        client_id: String,
    },
    /// An admin completed a sign-in through the team's provider.
    SsoTested {
        issuer: String,
    },
    /// Single sign-on enforced for the team's verified domains, or no longer.
    SsoEnforced {
        enforced: bool,
    },
    SsoRemoved {
        issuer: String,
    },
    /// The operator set the team's plan and seats (no payment provider is
    /// configured, so nobody was charged).
    PlanSet {
        from: String,
        to: String,
        seats: i64,
    },
    /// The operator disabled a member's account (it cannot sign in; it
    /// stays a member), or enabled it again.
    MemberDisabled {
        user_id: String,
        username: String,
        disabled: bool,
    },
    /// Billing (B7, T9): a trial of a paid plan began.
    BillingTrialStarted {
        plan: String,
        seats: i64,
        /// Unix milliseconds.
        ends_at: i64,
    },
    /// The plan, its cycle or its seats changed; `amount` is what the
    /// change cost (negative: credited to the balance).
    BillingSubscriptionChanged {
        from_plan: String,
        to_plan: String,
        from_cycle: Option<String>,
        to_cycle: String,
        from_seats: i64,
        to_seats: i64,
        invoice: Option<String>,
        amount: i64,
        currency: String,
    },
    /// The subscription was renewed for another period.
    BillingRenewed {
        plan: String,
        seats: i64,
        invoice: String,
        amount: i64,
        currency: String,
    },
    /// The subscription will end at its period's end.
    BillingCancelled {
        /// Unix milliseconds.
        ends_at: i64,
    },
    /// A cancellation was taken back.
    BillingResumed {},
    /// The paid plan ended and the team is on Free (`reason`: cancelled,
    /// trial_ended, unpaid, team_deleted).
    BillingPlanEnded {
        plan: String,
        reason: String,
    },
    BillingPaymentSucceeded {
        payment_id: String,
        purpose: String,
        amount: i64,
        currency: String,
        card: Option<String>,
        invoice: Option<String>,
    },
    BillingPaymentFailed {
        payment_id: String,
        purpose: String,
        amount: i64,
        currency: String,
        card: Option<String>,
        reason: String,
    },
    /// Money added to the balance with a card.
    BillingToppedUp {
        payment_id: String,
        amount: i64,
        currency: String,
    },
    BillingCardAdded {
        brand: String,
        last4: String,
    },
    BillingCardRemoved {
        brand: String,
        last4: String,
    },
    BillingDefaultCardSet {
        brand: String,
        last4: String,
    },
    /// The billing email or the details printed on invoices changed.
    BillingDetailsChanged {},
}

/// How someone joined a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinedVia {
    Invite,
    JoinRequest,
}

/// An event in a person's own scope (`user:<id>`): their activity, and the
/// security notices they are sent (P5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum AccountEvent {
    /// A sign-in from a device not seen before.
    NewSignIn { device: String, ip: String },
    /// The password was changed, or reset by mail (`by_reset`), which also
    /// revoked the account's API keys.
    PasswordChanged {
        #[serde(default)]
        by_reset: bool,
        #[serde(default)]
        keys_revoked: u64,
    },
    EmailChanged {
        old_email: String,
        new_email: String,
    },
    /// Two-step verification was turned on; the other sessions ended.
    TwoFactorEnabled {},
    /// Two-step verification was turned off.
    TwoFactorDisabled {},
    /// A recovery code was used to sign in; `left` are still unused.
    RecoveryCodeUsed { left: u64 },
    /// A passkey was added to the account (A10), named `name`.
    PasskeyAdded { name: String },
    /// A passkey was removed from the account.
    PasskeyRemoved { name: String },
}

/// The kinds of workspace item (S1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Collection,
    Environment,
    Globals,
    History,
    HeaderPreset,
}

impl ItemKind {
    pub const ALL: [ItemKind; 5] = [
        ItemKind::Collection,
        ItemKind::Environment,
        ItemKind::Globals,
        ItemKind::History,
        ItemKind::HeaderPreset,
    ];

    /// The stored and wire name: `collection`, `header_preset`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Collection => "collection",
            ItemKind::Environment => "environment",
            ItemKind::Globals => "globals",
            ItemKind::History => "history",
            ItemKind::HeaderPreset => "header_preset",
        }
    }

    pub fn parse(s: &str) -> Option<ItemKind> {
        ItemKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A change to a workspace item, in its owner's items scope
/// (`items:user:<id>` or `items:team:<id>`): the change log that sync
/// reads (S4) and the activity feed (S3). Each names the item's revision
/// after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum ItemEvent {
    Created {
        item: ItemKind,
        name: String,
        revision: i64,
        /// `import` when it came from a file.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<String>,
    },
    Updated {
        item: ItemKind,
        name: String,
        revision: i64,
        /// The revision whose content was restored, when this was a restore.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restored_from: Option<i64>,
    },
    Deleted {
        item: ItemKind,
        name: String,
        revision: i64,
    },
    /// Brought back from the deleted items.
    Undeleted {
        item: ItemKind,
        name: String,
        revision: i64,
    },
    /// Moved into this scope from another: shared with a team (`from` is
    /// `private`) or taken back (`from` is the team's slug).
    MovedIn {
        item: ItemKind,
        name: String,
        revision: i64,
        from: String,
    },
    /// Moved out of this scope, to `to` (a team's slug, or `private`).
    MovedOut {
        item: ItemKind,
        name: String,
        revision: i64,
        to: String,
    },
}

impl ItemEvent {
    pub fn item_kind(&self) -> ItemKind {
        match self {
            ItemEvent::Created { item, .. }
            | ItemEvent::Updated { item, .. }
            | ItemEvent::Deleted { item, .. }
            | ItemEvent::Undeleted { item, .. }
            | ItemEvent::MovedIn { item, .. }
            | ItemEvent::MovedOut { item, .. } => *item,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            ItemEvent::Created { name, .. }
            | ItemEvent::Updated { name, .. }
            | ItemEvent::Deleted { name, .. }
            | ItemEvent::Undeleted { name, .. }
            | ItemEvent::MovedIn { name, .. }
            | ItemEvent::MovedOut { name, .. } => name,
        }
    }

    /// The item's revision after this event.
    pub fn revision(&self) -> i64 {
        match self {
            ItemEvent::Created { revision, .. }
            | ItemEvent::Updated { revision, .. }
            | ItemEvent::Deleted { revision, .. }
            | ItemEvent::Undeleted { revision, .. }
            | ItemEvent::MovedIn { revision, .. }
            | ItemEvent::MovedOut { revision, .. } => *revision,
        }
    }

    /// What happened, in the change log's words: the item appeared in the
    /// scope (`created`), changed (`updated`) or left it (`deleted`).
    pub fn op(&self) -> &'static str {
        match self {
            ItemEvent::Created { .. } | ItemEvent::Undeleted { .. } | ItemEvent::MovedIn { .. } => {
                "created"
            }
            ItemEvent::Updated { .. } => "updated",
            ItemEvent::Deleted { .. } | ItemEvent::MovedOut { .. } => "deleted",
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// The stored form of an event: its kind and its data as JSON text.
pub trait Stored: Serialize + for<'de> Deserialize<'de> + Sized {
    /// The kind and the data object, for storing.
    fn to_stored(&self) -> (String, String) {
        let value = serde_json::to_value(self).expect("events serialize");
        let kind = value["kind"]
            .as_str()
            .expect("events have a kind")
            .to_owned();
        let data = value
            .get("data")
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        (kind, data.to_string())
    }

    /// The event from its stored kind and data; `None` for a kind this
    /// version does not know or data that does not fit it.
    fn from_stored(kind: &str, data: &str) -> Option<Self> {
        let data: serde_json::Value = serde_json::from_str(data).ok()?;
        serde_json::from_value(serde_json::json!({ "kind": kind, "data": data })).ok()
    }

    /// The event's kind, as stored.
    fn kind(&self) -> String {
        self.to_stored().0
    }
}

impl Stored for TeamEvent {}
impl Stored for AccountEvent {}
impl Stored for ItemEvent {}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_store_as_kind_and_data_and_read_back() {
        let e = TeamEvent::RoleChanged {
            user_id: "u1".into(),
            username: "bob".into(),
            from: "member".into(),
            to: "admin".into(),
            from_support_only: false,
            support_only: true,
        };
        let (kind, data) = e.to_stored();
        assert_eq!(kind, "role_changed");
        let data_json: serde_json::Value = serde_json::from_str(&data).unwrap();
        assert_eq!(
            data_json,
            json!({"user_id": "u1", "username": "bob", "from": "member", "to": "admin",
                   "from_support_only": false, "support_only": true})
        );
        assert_eq!(TeamEvent::from_stored(&kind, &data), Some(e));
    }

    #[test]
    fn events_recorded_before_a_field_existed_still_read() {
        // Joined without its ids, a removal without account_deleted, a
        // password change from before API keys were revoked with it.
        let joined =
            TeamEvent::from_stored("joined", r#"{"user_id":"u","username":"u","via":"invite"}"#);
        assert!(matches!(
            joined,
            Some(TeamEvent::Joined {
                invite_id: None,
                ..
            })
        ));
        let removed =
            TeamEvent::from_stored("removed", r#"{"user_id":"u","username":"u","left":true}"#);
        assert!(matches!(
            removed,
            Some(TeamEvent::Removed {
                account_deleted: false,
                left: true,
                ..
            })
        ));
        assert_eq!(
            AccountEvent::from_stored("password_changed", "{}"),
            Some(AccountEvent::PasswordChanged {
                by_reset: false,
                keys_revoked: 0
            })
        );
        assert_eq!(TeamEvent::from_stored("exploded", "{}"), None);
        assert_eq!(TeamEvent::from_stored("renamed", "not json"), None);
    }

    #[test]
    fn every_kind_has_its_own_name() {
        let events = [
            TeamEvent::Created {
                name: "n".into(),
                slug: "s".into(),
                username: "u".into(),
            },
            TeamEvent::InviteCancelled {
                invite_id: "i".into(),
                email: None,
            },
            TeamEvent::DiscoveryChanged {
                enabled: true,
                reason: None,
            },
            TeamEvent::DomainVerified {
                domain: "d".into(),
                method: "dns".into(),
            },
            TeamEvent::JoinDeclined {
                request_id: "r".into(),
                user_id: "u".into(),
                username: "u".into(),
            },
        ];
        let kinds: Vec<String> = events.iter().map(Stored::kind).collect();
        assert_eq!(
            kinds,
            [
                "created",
                "invite_cancelled",
                "discovery_changed",
                "domain_verified",
                "join_declined"
            ]
        );
    }
}
