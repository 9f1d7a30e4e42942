//! Plan limits, in one place. Until billing exists every team is on Free;
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
}

/// Free: up to 3 members (B1).
pub const FREE: Plan = Plan {
    id: "free",
    name: "Free",
    seats: 3,
};

/// The plan a new team starts on.
pub fn for_new_team() -> Plan {
    FREE
}

/// The plan with this id; unknown ids (a plan removed from the catalogue)
/// fall back to Free.
pub fn by_id(id: &str) -> Plan {
    match id {
        "free" => FREE,
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
}
