//! Who acts and from where: what authentication establishes and every
//! domain function takes. Kept apart from `sessions` so that modules which
//! only need to know the caller (accounts, API keys, teams, the policy)
//! depend on nothing that signs people in.

/// Who is making a request, established by a session token or an API key.
#[derive(Debug, Clone)]
pub struct Actor {
    pub user_id: String,
    /// The session used, when it was one (not an API key).
    pub session_id: Option<String>,
    /// False for an API key limited to reading.
    pub can_write: bool,
}

/// Where a request came from, for the sessions list and rate limits.
#[derive(Debug, Clone, Default)]
pub struct Client {
    pub ip: String,
    pub user_agent: Option<String>,
}
