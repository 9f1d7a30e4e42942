//! The one source of time. Everything that asks "what time is it" asks a
//! [`Clock`], so tests can move time forward (session expiry, link expiry)
//! without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Milliseconds since the Unix epoch, the unit stored in the database.
pub type Millis = i64;

pub const SECOND: Millis = 1_000;
pub const MINUTE: Millis = 60 * SECOND;
pub const HOUR: Millis = 60 * MINUTE;
pub const DAY: Millis = 24 * HOUR;

#[derive(Clone)]
pub enum Clock {
    System,
    /// A clock that only moves when told to; shared by clones.
    Manual(Arc<AtomicI64>),
}

impl Clock {
    pub fn manual(start: Millis) -> Clock {
        Clock::Manual(Arc::new(AtomicI64::new(start)))
    }

    pub fn now(&self) -> Millis {
        match self {
            Clock::System => {
                let d = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default();
                d.as_millis() as Millis
            }
            Clock::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Moves a manual clock forward; does nothing to the system clock.
    pub fn advance(&self, by: Millis) {
        if let Clock::Manual(t) = self {
            t.fetch_add(by, Ordering::SeqCst);
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Clock::System => f.write_str("Clock::System"),
            Clock::Manual(t) => write!(f, "Clock::Manual({})", t.load(Ordering::SeqCst)),
        }
    }
}

/// Formats stored milliseconds as RFC 3339 in UTC, the API's time format.
pub fn rfc3339(ms: Millis) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// An RFC 3339 time as a date in words, in UTC: "9 December 2026". With
/// `time_of_day`, also the time: "9 December 2026 at 14:05 UTC". Anything
/// else comes back as it is.
pub fn date_in_words(iso: &str, time_of_day: bool) -> String {
    let Ok(t) = time::OffsetDateTime::parse(iso, &time::format_description::well_known::Rfc3339)
    else {
        return iso.to_owned();
    };
    let t = t.to_offset(time::UtcOffset::UTC);
    let date = format!("{} {} {}", t.day(), t.month(), t.year());
    if time_of_day {
        format!("{date} at {:02}:{:02} UTC", t.hour(), t.minute())
    } else {
        date
    }
}

/// The UTC year and month (1-12) of an instant.
pub fn year_month(ms: Millis) -> (i32, u8) {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    (t.year(), u8::from(t.month()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_words() {
        assert_eq!(
            date_in_words("2026-12-09T14:05:59.123Z", false),
            "9 December 2026"
        );
        assert_eq!(
            date_in_words("2026-12-09T23:30:00+02:00", true),
            "9 December 2026 at 21:30 UTC"
        );
        assert_eq!(date_in_words(&rfc3339(0), false), "1 January 1970");
        assert_eq!(date_in_words("soon", true), "soon");
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = Clock::manual(1_000);
        let c2 = c.clone();
        c.advance(30 * MINUTE);
        assert_eq!(c2.now(), 1_000 + 30 * MINUTE);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
