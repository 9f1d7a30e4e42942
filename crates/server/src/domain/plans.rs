//! Plan limits, in one place. Until billing exists every team starts on Free
//! (the operator or a test may set `teams.plan` to another);
//! billing (B1, T7) will own this module: the catalogue, trials, and seats
//! bought beyond a plan's included ones. Team rules ask here, never hard-code
//! a number.

/// What a plan allows a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The id stored with the team (`teams.plan`).
    pub id: &'static str,
    pub name: &'static str,
    /// Paid seats a new team on this plan starts with: members holding a
    /// seat plus pending invites never exceed the team's seats.
    pub seats: i64,
    /// Single sign-on through the team's own OpenID provider (A7).
    pub sso: bool,
}

/// Free: up to 3 members (B1).
pub const FREE: Plan = Plan {
    id: "free",
    name: "Free",
    seats: 3,
    sso: false,
};

/// Pro. Seats are bought with the plan (billing, T7); this is what a team
/// moved to it by the operator starts with.
pub const PRO: Plan = Plan {
    id: "pro",
    name: "Pro",
    seats: 10,
    sso: false,
};

/// Business: Pro and single sign-on (B1).
pub const BUSINESS: Plan = Plan {
    id: "business",
    name: "Business",
    seats: 10,
    sso: true,
};

pub const ENTERPRISE: Plan = Plan {
    id: "enterprise",
    name: "Enterprise",
    seats: 10,
    sso: true,
};

/// Every plan of the catalogue.
pub const ALL: [Plan; 4] = [FREE, PRO, BUSINESS, ENTERPRISE];

/// The plan named `id` exactly, for input that must name one.
pub fn parse(id: &str) -> Option<Plan> {
    ALL.into_iter()
        .find(|p| p.id == id.trim().to_ascii_lowercase())
}

/// The plan a new team starts on.
pub fn for_new_team() -> Plan {
    FREE
}

/// The plan with this id; unknown ids (a plan removed from the catalogue)
/// fall back to Free.
pub fn by_id(id: &str) -> Plan {
    match id {
        "pro" => PRO,
        "business" => BUSINESS,
        "enterprise" => ENTERPRISE,
        _ => FREE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_has_three_seats() {
        assert_eq!(for_new_team(), FREE);
        assert_eq!(FREE.seats, 3);
        assert_eq!(by_id("free"), FREE);
    }

    #[test]
    fn sso_is_for_business_and_enterprise() {
        for plan in [FREE, PRO, BUSINESS, ENTERPRISE] {
            assert_eq!(by_id(plan.id), plan);
            assert_eq!(plan.sso, matches!(plan.id, "business" | "enterprise"));
        }
        assert_eq!(by_id("retired"), FREE);
    }
}
