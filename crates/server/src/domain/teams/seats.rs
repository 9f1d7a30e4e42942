//! Seat counting (T3): members holding a paid seat plus pending, unexpired
//! invites never exceed the team's seats. Support-only members (admin
//! and/or billing held alone, at most [`MAX_SUPPORT_ONLY`]) take none.

use postroom_core::api;

use crate::error::Error;
use crate::store::teams::{SeatCounts, TeamRow};

/// Support-only members (no seat) a team may have (T2).
pub const MAX_SUPPORT_ONLY: i64 = 2;

pub(super) fn seat_usage(team: &TeamRow, counts: SeatCounts) -> api::SeatUsage {
    let used = counts.members + counts.pending_invites;
    api::SeatUsage {
        total: team.seats.max(0) as u32,
        members: counts.members.max(0) as u32,
        pending_invites: counts.pending_invites.max(0) as u32,
        available: (team.seats - used).max(0) as u32,
    }
}

pub(super) fn has_free_seat(team: &TeamRow, counts: SeatCounts) -> bool {
    counts.members + counts.pending_invites < team.seats
}

pub(super) fn no_seats(team: &TeamRow) -> Error {
    Error::conflict(
        "no_seats_available",
        None,
        format!(
            "all {} seats of this team are taken by members and pending invites; cancel an invite or remove a member first",
            team.seats
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_never_go_negative() {
        let team = TeamRow {
            id: "t".into(),
            name: "T".into(),
            slug: "t".into(),
            plan: "free".into(),
            seats: 3,
            discoverable: 0,
            created_by: None,
            created_at: 0,
            updated_at: 0,
        };
        let full = SeatCounts {
            members: 2,
            pending_invites: 1,
            support_only: 2,
        };
        assert!(!has_free_seat(&team, full));
        assert_eq!(seat_usage(&team, full).available, 0);
        let over = SeatCounts {
            members: 4,
            pending_invites: 0,
            support_only: 0,
        };
        assert_eq!(seat_usage(&team, over).available, 0);
        let free = SeatCounts {
            members: 1,
            pending_invites: 0,
            support_only: 0,
        };
        assert!(has_free_seat(&team, free));
        assert_eq!(seat_usage(&team, free).available, 2);
    }
}
