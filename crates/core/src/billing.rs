//! Money and proration, kept pure so that a preview, the charge that follows
//! it and the invoice that records it are the same arithmetic (B2, B5, T7).
//!
//! Amounts are integer minor units (cents) of one currency; instants are unix
//! seconds in UTC, and a period runs from its start up to, not including, its
//! end. Every line is rounded once, half away from zero, from the exact
//! fraction, and a total is only ever the sum of its lines, so nothing is lost
//! or made up between a quote and an invoice.
//!
//! Billing periods follow the calendar from an anchor: a month after Jan 31 is
//! Feb 28 (or 29), two months after it Mar 31. Each period end is counted from
//! the anchor, never from the previous end, so a short month does not pull
//! every later renewal earlier. The calendar arithmetic is written here rather
//! than borrowed, so that it is total: any `i64` instant gives an answer,
//! where a date library stops at year 9999.

use std::fmt;

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// How often a subscription renews.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Cycle {
    Month,
    Year,
}

impl Cycle {
    pub const ALL: [Cycle; 2] = [Cycle::Month, Cycle::Year];

    pub fn as_str(self) -> &'static str {
        match self {
            Cycle::Month => "month",
            Cycle::Year => "year",
        }
    }

    pub fn parse(s: &str) -> Option<Cycle> {
        Cycle::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// Calendar months in one cycle.
    pub fn months(self) -> i64 {
        match self {
            Cycle::Month => 1,
            Cycle::Year => 12,
        }
    }

    /// The adjective used in invoice lines: "monthly", "yearly".
    pub fn adjective(self) -> &'static str {
        match self {
            Cycle::Month => "monthly",
            Cycle::Year => "yearly",
        }
    }
}

/// An amount in minor units of a currency: `{"amount": 1200, "currency": "usd"}`
/// is twelve dollars.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct Money {
    /// Minor units (cents for "usd", yen for "jpy"); negative for a credit.
    pub amount: i64,
    /// A lowercase ISO 4217 code.
    pub currency: String,
}

impl Money {
    pub fn new(amount: i64, currency: impl Into<String>) -> Money {
        Money {
            amount,
            currency: currency.into(),
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_money(self.amount, &self.currency))
    }
}

/// A span of time in unix seconds: from `start` up to, not including, `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Period {
    pub start: i64,
    pub end: i64,
}

impl Period {
    /// Its length in seconds; never negative.
    pub fn secs(self) -> i64 {
        self.end.saturating_sub(self.start).max(0)
    }

    pub fn contains(self, at: i64) -> bool {
        self.start <= at && at < self.end
    }
}

/// `num / den` rounded to the nearest integer, halves away from zero
/// (2.5 -> 3, -2.5 -> -3). `den` must be positive.
///
/// # Panics
/// When `den` is not positive, or the rounded quotient does not fit in an
/// `i64`; `prorate` never asks for either.
pub fn round_half_away(num: i128, den: i128) -> i64 {
    assert!(den > 0, "the denominator must be positive");
    let (q, r) = (num / den, num % den);
    // The remainder has the sign of `num`; compare |r| with den - |r| rather
    // than 2|r| with den, which could overflow.
    let r = r.abs();
    let q = if r >= den - r { q + num.signum() } else { q };
    i64::try_from(q).expect("the rounded quotient fits in an i64")
}

/// What `remaining_secs` of a period of `period_secs` costs when the whole
/// period costs `amount`: `amount * remaining / period`, rounded once.
///
/// The remaining time is held to `0..=period_secs`, so the answer never
/// exceeds `amount` in size and has its sign; a period of no length costs
/// nothing.
pub fn prorate(amount: i64, period_secs: i64, remaining_secs: i64) -> i64 {
    if period_secs <= 0 {
        return 0;
    }
    let remaining = remaining_secs.clamp(0, period_secs);
    round_half_away(
        i128::from(amount) * i128::from(remaining),
        i128::from(period_secs),
    )
}

const SECS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (`month` 1-12).
///
/// Counts in eras of 400 years (146,097 days), taking March as the first
/// month of the year so that a leap day falls at a year's end.
fn days_from_civil(year: i128, month: u32, day: u32) -> i128 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = i128::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i128::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The date (year, month 1-12, day 1-31) of a count of days since
/// 1970-01-01; the inverse of `days_from_civil`.
fn civil_from_days(days: i128) -> (i128, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_from_march + 2) / 5 + 1) as u32;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    } as u32;
    let year = era * 400 + year_of_era + i128::from(month <= 2);
    (year, month, day)
}

fn is_leap(year: i128) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i128, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A UTC instant split into its date and the seconds into that day.
struct Civil {
    year: i128,
    month: u32,
    day: u32,
    secs_of_day: i128,
}

fn civil(secs: i64) -> Civil {
    let secs = i128::from(secs);
    let (year, month, day) = civil_from_days(secs.div_euclid(i128::from(SECS_PER_DAY)));
    Civil {
        year,
        month,
        day,
        secs_of_day: secs.rem_euclid(i128::from(SECS_PER_DAY)),
    }
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// The instant `n` cycles after `anchor` (before it for a negative `n`): the
/// same time of day, `n` calendar months or years on, the day held to the
/// last day of a shorter month. Counted from the anchor each time, so from
/// Jan 31 the ends are Feb 28, Mar 31, Apr 30, and a year after Feb 29 is
/// Feb 28. Saturates at the ends of `i64`, far beyond any real date.
pub fn add_cycles(anchor: i64, n: i64, cycle: Cycle) -> i64 {
    let a = civil(anchor);
    let months = a.year * 12 + i128::from(a.month - 1) + i128::from(n) * i128::from(cycle.months());
    let (year, month) = (months.div_euclid(12), months.rem_euclid(12) as u32 + 1);
    let day = a.day.min(days_in_month(year, month));
    saturate(days_from_civil(year, month, day) * i128::from(SECS_PER_DAY) + a.secs_of_day)
}

/// The billing period, counted in whole cycles from `anchor`, that holds the
/// instant `at`: `start <= at < end`, with `start` and `end` consecutive
/// `add_cycles(anchor, n, cycle)`. Periods before the anchor are counted the
/// same way backwards.
pub fn period_at(anchor: i64, at: i64, cycle: Cycle) -> Period {
    let (a, t) = (civil(anchor), civil(at));
    let months = (t.year * 12 + i128::from(t.month)) - (a.year * 12 + i128::from(a.month));
    // A first guess from the calendar months between the two, then at most a
    // step either way for the day and time of day. Near the ends of `i64`
    // the ends saturate, so a step forward must also move forward.
    let mut n = saturate(months.div_euclid(i128::from(cycle.months())));
    while n > i64::MIN && add_cycles(anchor, n, cycle) > at {
        n -= 1;
    }
    while n < i64::MAX {
        let next = add_cycles(anchor, n + 1, cycle);
        if next > at || next == add_cycles(anchor, n, cycle) {
            break;
        }
        n += 1;
    }
    Period {
        start: add_cycles(anchor, n, cycle),
        end: add_cycles(anchor, n.saturating_add(1), cycle),
    }
}

/// A plan as a subscription holds it, with the price it pays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priced {
    pub plan_id: String,
    /// The name shown in invoice lines: "Pro".
    pub plan_name: String,
    pub cycle: Cycle,
    pub seats: i64,
    /// Minor units per seat per cycle.
    pub unit_price: i64,
    /// False for Free and for a trial: nothing was paid, so nothing is
    /// credited when it ends and nothing is charged while it lasts.
    pub paid: bool,
}

impl Priced {
    /// What one whole cycle costs: the unit price times the seats. Saturates
    /// rather than wrapping; prices and seat counts are bounded long before.
    pub fn cycle_amount(&self) -> i64 {
        self.unit_price.saturating_mul(self.seats)
    }

    /// "Pro × 5 seats".
    pub fn label(&self) -> String {
        let seats = if self.seats == 1 { "seat" } else { "seats" };
        format!("{} × {} {seats}", self.plan_name, self.seats)
    }
}

/// One line of a quote or an invoice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub description: String,
    /// Minor units; negative for a credit.
    pub amount: i64,
    pub period: Period,
    /// True for the part of a period charged or credited on a change.
    pub proration: bool,
}

/// The lines of changing from `old` to `new` at the instant `at`, inside
/// `current`, the period `old` is paid up to.
///
/// With the same cycle and a paid `old`, the change is prorated to the second
/// over the whole period: "Unused time on Pro × 5 seats after Dec 7, 2026"
/// credits the old price for `[at, current.end)`, and "Remaining time on
/// Business × 5 seats after Dec 7, 2026" charges the new one for the same
/// span. When the cycle changes, or `old` was not paid (Free or a trial),
/// the unused old time is credited if it was paid, and `new` is charged a
/// whole cycle from `at` ("Business × 5 seats (yearly)"); the new
/// subscription's periods are then anchored at `at`. Moving to an unpaid
/// `new` (Free) gives only the credit.
///
/// `at` is expected inside `current`; the time left is held to the period,
/// so a credit never exceeds what the period cost.
pub fn change_lines(old: &Priced, new: &Priced, current: Period, at: i64) -> Vec<Line> {
    let period_secs = current.secs();
    let remaining = current.end.saturating_sub(at).clamp(0, period_secs);
    let rest = Period {
        start: current.end - remaining,
        end: current.end,
    };
    let after = format_date(rest.start);
    let mut lines = Vec::with_capacity(2);
    if old.paid {
        lines.push(Line {
            description: format!("Unused time on {} after {after}", old.label()),
            amount: -prorate(old.cycle_amount(), period_secs, remaining),
            period: rest,
            proration: true,
        });
    }
    if !new.paid {
        return lines;
    }
    if old.paid && old.cycle == new.cycle {
        lines.push(Line {
            description: format!("Remaining time on {} after {after}", new.label()),
            amount: prorate(new.cycle_amount(), period_secs, remaining),
            period: rest,
            proration: true,
        });
    } else {
        lines.push(whole_cycle(
            new,
            Period {
                start: at,
                end: add_cycles(at, 1, new.cycle),
            },
        ));
    }
    lines
}

/// The line that renews `p` for the whole of `period`.
pub fn renewal_line(p: &Priced, period: Period) -> Line {
    whole_cycle(p, period)
}

fn whole_cycle(p: &Priced, period: Period) -> Line {
    Line {
        description: format!("{} ({})", p.label(), p.cycle.adjective()),
        amount: if p.paid { p.cycle_amount() } else { 0 },
        period,
        proration: false,
    }
}

/// How a set of lines is paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// The sum of the lines.
    pub subtotal: i64,
    /// Taken from the balance; when the subtotal is a credit (zero or less),
    /// the whole of it, added to the balance.
    pub from_balance: i64,
    /// Charged to the card; never negative: a credit never goes back to a card.
    pub from_card: i64,
    /// `from_balance + from_card`, which is the subtotal.
    pub total: i64,
}

/// Splits the sum of `lines` between the balance and the card: a charge is
/// taken from whatever positive `balance` there is first and the rest from
/// the card; a credit goes to the balance whole. A negative balance (a
/// charge too small for a card, carried by [`carry_small_charge`]) is
/// collected with the next charge: `from_balance` is then negative and the
/// card pays it too.
pub fn split(lines: &[Line], balance: i64) -> Split {
    let subtotal = saturate(lines.iter().map(|l| i128::from(l.amount)).sum());
    let from_balance = if subtotal <= 0 {
        subtotal
    } else {
        balance.min(subtotal)
    };
    let from_card = subtotal - from_balance;
    Split {
        subtotal,
        from_balance,
        from_card,
        total: from_balance + from_card,
    }
}

/// Moves a card charge smaller than `minimum` (a card network's smallest
/// charge) onto the balance, where it waits for the next charge or top-up,
/// as Stripe does with a small invoice. The total is unchanged.
pub fn carry_small_charge(split: Split, minimum: i64) -> Split {
    if split.from_card > 0 && split.from_card < minimum {
        Split {
            from_balance: split.from_balance + split.from_card,
            from_card: 0,
            ..split
        }
    } else {
        split
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The UTC date of an instant, as invoice lines say it: "Dec 7, 2026".
pub fn format_date(secs: i64) -> String {
    let c = civil(secs);
    format!("{} {}, {}", MONTHS[c.month as usize - 1], c.day, c.year)
}

/// An instant as RFC 3339 in UTC, the API's time format:
/// "2026-12-07T00:00:00Z".
pub fn rfc3339(secs: i64) -> String {
    let c = civil(secs);
    let s = c.secs_of_day;
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        c.year,
        c.month,
        c.day,
        s / 3600,
        s / 60 % 60,
        s % 60
    )
}

/// How many digits of a currency's amounts are minor units: 0 for the yen
/// and the other currencies Stripe treats as zero-decimal, 3 for the dinars
/// and rials that have three, 2 for the rest.
pub fn minor_digits(currency: &str) -> u32 {
    match currency {
        "bif" | "clp" | "djf" | "gnf" | "jpy" | "kmf" | "krw" | "mga" | "pyg" | "rwf" | "ugx"
        | "vnd" | "vuv" | "xaf" | "xof" | "xpf" => 0,
        "bhd" | "jod" | "kwd" | "omr" | "tnd" => 3,
        _ => 2,
    }
}

fn symbol(currency: &str) -> Option<&'static str> {
    Some(match currency {
        "usd" => "$",
        "eur" => "€",
        "gbp" => "£",
        "jpy" => "¥",
        "krw" => "₩",
        "inr" => "₹",
        _ => return None,
    })
}

/// An amount for people: "$12.00", "-$3.64", "€1,200.00", "¥500", and for a
/// currency without a well-known symbol "12.00 CHF".
pub fn format_money(amount: i64, currency: &str) -> String {
    let digits = minor_digits(currency);
    let magnitude = amount.unsigned_abs();
    let scale = 10u64.pow(digits);
    let whole = (magnitude / scale).to_string();
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if digits > 0 {
        grouped.push_str(&format!(
            ".{:0width$}",
            magnitude % scale,
            width = digits as usize
        ));
    }
    let sign = if amount < 0 { "-" } else { "" };
    match symbol(currency) {
        Some(symbol) => format!("{sign}{symbol}{grouped}"),
        None => format!("{sign}{grouped} {}", currency.to_uppercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07T00:00:00Z.
    const DEC_7_2026: i64 = 1_796_601_600;

    fn at(date: &str) -> i64 {
        let t = time::OffsetDateTime::parse(date, &time::format_description::well_known::Rfc3339)
            .unwrap();
        t.unix_timestamp()
    }

    fn priced(plan: &str, cycle: Cycle, seats: i64, unit_price: i64) -> Priced {
        Priced {
            plan_id: plan.to_lowercase(),
            plan_name: plan.to_owned(),
            cycle,
            seats,
            unit_price,
            paid: true,
        }
    }

    fn free() -> Priced {
        Priced {
            plan_id: "free".to_owned(),
            plan_name: "Free".to_owned(),
            cycle: Cycle::Month,
            seats: 3,
            unit_price: 0,
            paid: false,
        }
    }

    fn sum(lines: &[Line]) -> i64 {
        lines.iter().map(|l| l.amount).sum()
    }

    #[test]
    fn rounds_halves_away_from_zero() {
        assert_eq!(round_half_away(5, 2), 3);
        assert_eq!(round_half_away(-5, 2), -3);
        assert_eq!(round_half_away(7, 3), 2);
        assert_eq!(round_half_away(-7, 3), -2);
        assert_eq!(round_half_away(8, 3), 3);
        assert_eq!(round_half_away(-8, 3), -3);
        assert_eq!(round_half_away(0, 7), 0);
        assert_eq!(round_half_away(1, 2), 1);
        assert_eq!(round_half_away(1, 3), 0);
    }

    #[test]
    fn doubling_the_price_at_half_the_period_nets_half_the_difference() {
        let start = at("2026-12-01T00:00:00Z");
        let current = period_at(start, start, Cycle::Month);
        let half = start + current.secs() / 2;
        let lines = change_lines(
            &priced("Pro", Cycle::Month, 1, 1000),
            &priced("Business", Cycle::Month, 1, 2000),
            current,
            half,
        );
        assert_eq!(
            lines.iter().map(|l| l.amount).collect::<Vec<_>>(),
            [-500, 1000]
        );
        assert_eq!(sum(&lines), 500);
        assert!(lines
            .iter()
            .all(|l| l.proration && l.period.end == current.end));
    }

    #[test]
    fn a_four_week_period_with_881112_seconds_left_credits_364() {
        // 1000 * 881,112 / 2,419,200 = 364.21...
        assert_eq!(prorate(1000, 2_419_200, 881_112), 364);
        let start = at("2027-02-01T00:00:00Z");
        let current = period_at(start, start, Cycle::Month);
        assert_eq!(current.secs(), 2_419_200);
        let lines = change_lines(
            &priced("Pro", Cycle::Month, 1, 1000),
            &free(),
            current,
            current.end - 881_112,
        );
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].amount, -364);
    }

    #[test]
    fn change_lines_read_like_stripes() {
        let current = period_at(at("2026-12-01T00:00:00Z"), DEC_7_2026, Cycle::Month);
        let lines = change_lines(
            &priced("Pro", Cycle::Month, 5, 1200),
            &priced("Business", Cycle::Month, 5, 2400),
            current,
            DEC_7_2026,
        );
        assert_eq!(
            lines[0].description,
            "Unused time on Pro × 5 seats after Dec 7, 2026"
        );
        assert_eq!(
            lines[1].description,
            "Remaining time on Business × 5 seats after Dec 7, 2026"
        );
        let rest = Period {
            start: DEC_7_2026,
            end: at("2027-01-01T00:00:00Z"),
        };
        assert!(lines.iter().all(|l| l.period == rest));
        // 6000 * 25 days / 31 days = 4838.70...; 12000 * 25 / 31 = 9677.41...
        assert_eq!(lines[0].amount, -4839);
        assert_eq!(lines[1].amount, 9677);
    }

    #[test]
    fn a_cycle_change_charges_a_whole_new_period() {
        let current = period_at(at("2026-12-01T00:00:00Z"), DEC_7_2026, Cycle::Month);
        let lines = change_lines(
            &priced("Pro", Cycle::Month, 5, 1200),
            &priced("Pro", Cycle::Year, 5, 12_000),
            current,
            DEC_7_2026,
        );
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].amount, -4839);
        assert_eq!(lines[1].description, "Pro × 5 seats (yearly)");
        assert_eq!(lines[1].amount, 60_000);
        assert!(!lines[1].proration);
        assert_eq!(
            lines[1].period,
            Period {
                start: DEC_7_2026,
                end: at("2027-12-07T00:00:00Z")
            }
        );
    }

    #[test]
    fn leaving_a_trial_or_free_credits_nothing() {
        let current = period_at(at("2026-12-01T00:00:00Z"), DEC_7_2026, Cycle::Month);
        let trial = Priced {
            paid: false,
            ..priced("Pro", Cycle::Month, 1, 1200)
        };
        let lines = change_lines(
            &trial,
            &priced("Pro", Cycle::Month, 1, 1200),
            current,
            DEC_7_2026,
        );
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].description, "Pro × 1 seat (monthly)");
        assert_eq!(lines[0].amount, 1200);
        assert!(change_lines(&free(), &free(), current, DEC_7_2026).is_empty());
    }

    #[test]
    fn months_are_counted_from_the_anchor_and_held_to_the_month_end() {
        let jan31 = at("2027-01-31T10:30:00Z");
        let ends: Vec<String> = (0..=4)
            .map(|n| rfc3339(add_cycles(jan31, n, Cycle::Month)))
            .collect();
        assert_eq!(
            ends,
            [
                "2027-01-31T10:30:00Z",
                "2027-02-28T10:30:00Z",
                "2027-03-31T10:30:00Z",
                "2027-04-30T10:30:00Z",
                "2027-05-31T10:30:00Z",
            ]
        );
        assert_eq!(
            rfc3339(add_cycles(at("2028-01-31T00:00:00Z"), 1, Cycle::Month)),
            "2028-02-29T00:00:00Z"
        );
        let leap_day = at("2028-02-29T00:00:00Z");
        assert_eq!(
            rfc3339(add_cycles(leap_day, 1, Cycle::Year)),
            "2029-02-28T00:00:00Z"
        );
        assert_eq!(
            rfc3339(add_cycles(leap_day, 4, Cycle::Year)),
            "2032-02-29T00:00:00Z"
        );
        assert_eq!(
            rfc3339(add_cycles(jan31, -2, Cycle::Month)),
            "2026-11-30T10:30:00Z"
        );
        assert_eq!(
            period_at(jan31, at("2027-03-01T00:00:00Z"), Cycle::Month),
            Period {
                start: at("2027-02-28T10:30:00Z"),
                end: at("2027-03-31T10:30:00Z")
            }
        );
    }

    #[test]
    fn split_takes_the_balance_first_and_never_refunds_to_a_card() {
        let line = |amount| Line {
            description: String::new(),
            amount,
            period: Period { start: 0, end: 1 },
            proration: true,
        };
        let s = split(&[line(-400), line(1000)], 250);
        assert_eq!(
            (s.subtotal, s.from_balance, s.from_card, s.total),
            (600, 250, 350, 600)
        );
        let s = split(&[line(-400), line(100)], 250);
        assert_eq!(
            (s.subtotal, s.from_balance, s.from_card, s.total),
            (-300, -300, 0, -300)
        );
        // A debt on the balance is collected with the next charge.
        let s = split(&[line(100)], -50);
        assert_eq!((s.from_balance, s.from_card), (-50, 150));
        // A charge too small for a card waits on the balance.
        let s = carry_small_charge(split(&[line(39)], 0), 50);
        assert_eq!((s.from_balance, s.from_card, s.total), (39, 0, 39));
        let s = carry_small_charge(split(&[line(60)], 0), 50);
        assert_eq!((s.from_balance, s.from_card), (0, 60));
        let s = split(&[line(100)], 5000);
        assert_eq!((s.from_balance, s.from_card), (100, 0));
        assert_eq!(split(&[], 10).total, 0);
    }

    #[test]
    fn formats_money_for_people() {
        assert_eq!(format_money(1200, "usd"), "$12.00");
        assert_eq!(format_money(-364, "usd"), "-$3.64");
        assert_eq!(format_money(120_000, "eur"), "€1,200.00");
        assert_eq!(format_money(500, "jpy"), "¥500");
        assert_eq!(format_money(1_234_567, "krw"), "₩1,234,567");
        assert_eq!(format_money(1200, "chf"), "12.00 CHF");
        assert_eq!(format_money(5, "gbp"), "£0.05");
        assert_eq!(format_money(0, "usd"), "$0.00");
        assert_eq!(format_money(1_234, "kwd"), "1.234 KWD");
        assert_eq!(format_money(100_000_000, "usd"), "$1,000,000.00");
        assert_eq!(format_money(i64::MIN, "usd"), "-$92,233,720,368,547,758.08");
        assert_eq!(Money::new(-99, "usd").to_string(), "-$0.99");
    }

    #[test]
    fn formats_dates() {
        assert_eq!(format_date(DEC_7_2026), "Dec 7, 2026");
        assert_eq!(format_date(DEC_7_2026 + 86_399), "Dec 7, 2026");
        assert_eq!(format_date(0), "Jan 1, 1970");
        assert_eq!(format_date(-1), "Dec 31, 1969");
        assert_eq!(rfc3339(DEC_7_2026 + 3_723), "2026-12-07T01:02:03Z");
    }

    #[test]
    fn cycles_parse_and_serialise_as_words() {
        assert_eq!(Cycle::parse("month"), Some(Cycle::Month));
        assert_eq!(Cycle::parse("year"), Some(Cycle::Year));
        assert_eq!(Cycle::parse("Year"), None);
        assert_eq!(serde_json::to_string(&Cycle::Year).unwrap(), "\"year\"");
        assert_eq!(
            serde_json::to_value(Money::new(1200, "usd")).unwrap(),
            serde_json::json!({"amount": 1200, "currency": "usd"})
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Instants from 1900 to 2200.
        const EARLY: i64 = -2_208_988_800;
        const LATE: i64 = 7_258_118_400;

        fn cycle() -> impl Strategy<Value = Cycle> {
            prop_oneof![Just(Cycle::Month), Just(Cycle::Year)]
        }

        /// A paid plan on `cycle`: up to 10,000 seats at up to 10,000.00.
        fn paid(cycle: Cycle) -> impl Strategy<Value = Priced> {
            (1i64..=10_000, 0i64..=1_000_000).prop_map(move |(seats, unit_price)| Priced {
                plan_id: "pro".to_owned(),
                plan_name: "Pro".to_owned(),
                cycle,
                seats,
                unit_price,
                paid: true,
            })
        }

        /// A subscription's current period and an instant inside it.
        fn moment() -> impl Strategy<Value = (Cycle, Period, i64)> {
            (cycle(), EARLY..LATE, EARLY..LATE, 0.0f64..1.0).prop_map(|(cycle, anchor, t, f)| {
                let current = period_at(anchor, t, cycle);
                (
                    cycle,
                    current,
                    current.start + (current.secs() as f64 * f) as i64,
                )
            })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(10_000))]

            /// Rounding does not depend on the sign, and lands within half
            /// of the exact quotient.
            #[test]
            fn rounding_is_symmetric_and_nearest(num in any::<i64>(), den in 1i64..=i64::MAX) {
                let (num, den) = (i128::from(num), i128::from(den));
                let q = round_half_away(num, den);
                prop_assert_eq!(round_half_away(-num, den), -q);
                let off = (i128::from(q) * den - num).abs();
                prop_assert!(2 * off <= den);
                if 2 * off == den {
                    prop_assert!(i128::from(q).abs() * den > num.abs());
                }
            }

            /// A prorated amount has the sign of the whole, never exceeds it,
            /// and negating the whole negates it.
            #[test]
            fn proration_is_symmetric_and_bounded(amount in any::<i64>(), period in 1i64..=i64::MAX, remaining in any::<i64>()) {
                let p = prorate(amount, period, remaining);
                prop_assert!(p.unsigned_abs() <= amount.unsigned_abs());
                prop_assert!(p == 0 || (p < 0) == (amount < 0));
                if amount != i64::MIN {
                    prop_assert_eq!(prorate(-amount, period, remaining), -p);
                }
            }

            /// Changing up and back down at the same instant nets nothing.
            #[test]
            fn up_then_down_nets_zero(
                a in paid(Cycle::Month),
                b in paid(Cycle::Month),
                (cycle, current, at) in moment(),
            ) {
                let (a, b) = (Priced { cycle, ..a }, Priced { cycle, ..b });
                let up = change_lines(&a, &b, current, at);
                let down = change_lines(&b, &a, current, at);
                prop_assert_eq!(sum(&up) + sum(&down), 0);
            }

            /// At any moment, adding seats to the new plan never makes the
            /// change cheaper, whatever the old plan was.
            #[test]
            fn more_seats_never_cost_less(
                old_cycle in cycle(),
                new_cycle in cycle(),
                old_paid in any::<bool>(),
                old in paid(Cycle::Month),
                new in paid(Cycle::Month),
                extra in 0i64..=1_000,
                (_, current, at) in moment(),
            ) {
                let old = Priced { cycle: old_cycle, paid: old_paid, ..old };
                let fewer = Priced { cycle: new_cycle, ..new };
                let more = Priced { seats: fewer.seats + extra, ..fewer.clone() };
                prop_assert!(sum(&change_lines(&old, &fewer, current, at)) <= sum(&change_lines(&old, &more, current, at)));
            }

            /// The credit for unused time is never more than the period
            /// cost, is nothing for an unpaid plan, and spans the rest of the
            /// period.
            #[test]
            fn a_credit_never_exceeds_what_was_paid(
                old in cycle().prop_flat_map(paid),
                old_paid in any::<bool>(),
                new in cycle().prop_flat_map(paid),
                new_paid in any::<bool>(),
                (_, current, at) in moment(),
                drift in -5_000_000i64..5_000_000,
            ) {
                let old = Priced { paid: old_paid, ..old };
                let new = Priced { paid: new_paid, ..new };
                // Also an instant a little outside the period.
                let at = if drift.abs() < 1_000_000 { at } else { at + drift };
                let lines = change_lines(&old, &new, current, at);
                let credits: Vec<&Line> = lines.iter().filter(|l| l.description.starts_with("Unused")).collect();
                prop_assert_eq!(credits.len(), usize::from(old.paid));
                for c in credits {
                    prop_assert!(c.amount <= 0);
                    prop_assert!(-c.amount <= renewal_line(&old, current).amount);
                    prop_assert_eq!(c.period.end, current.end);
                    prop_assert!(c.period.start >= current.start);
                }
                prop_assert!(lines.iter().filter(|l| l.amount > 0).count() <= usize::from(new.paid));
            }

            /// The split adds up: the subtotal is the sum of the lines, the
            /// total is what comes from the balance and the card, the card is
            /// never credited, and no more is taken from the balance than it
            /// holds.
            #[test]
            fn split_adds_up(amounts in prop::collection::vec(-10_000_000i64..10_000_000, 0..8), balance in -100_000_000i64..100_000_000) {
                let lines: Vec<Line> = amounts.iter().map(|&amount| Line {
                    description: String::new(),
                    amount,
                    period: Period { start: 0, end: 1 },
                    proration: true,
                }).collect();
                let s = split(&lines, balance);
                prop_assert_eq!(s.subtotal, amounts.iter().sum::<i64>());
                prop_assert_eq!(s.total, s.from_balance + s.from_card);
                prop_assert_eq!(s.total, s.subtotal);
                prop_assert!(s.from_card >= 0);
                if s.subtotal > 0 {
                    prop_assert!(s.from_balance >= balance.min(0));
                    prop_assert!(s.from_balance <= balance.max(0));
                    prop_assert!(s.from_card == 0 || s.from_balance == balance.min(s.subtotal));
                } else {
                    prop_assert_eq!(s.from_balance, s.subtotal);
                }
                let c = carry_small_charge(s, 50);
                prop_assert_eq!(c.total, s.total);
                prop_assert_eq!(c.from_balance + c.from_card, c.total);
                prop_assert!(c.from_card == 0 || c.from_card >= 50);
            }

            /// Consecutive periods from any anchor meet end to start, move
            /// strictly forward, last between 28 and 31 days (365 or 366 for
            /// a year), and `period_at` finds the one that holds an instant.
            #[test]
            fn periods_are_contiguous_and_increasing(anchor in EARLY..LATE, n in -2_400i64..2_400, cycle in cycle(), t in EARLY..LATE) {
                let (a, b, c) = (add_cycles(anchor, n, cycle), add_cycles(anchor, n + 1, cycle), add_cycles(anchor, n + 2, cycle));
                prop_assert!(a < b && b < c);
                let days = (b - a) / SECS_PER_DAY;
                match cycle {
                    Cycle::Month => prop_assert!((28..=31).contains(&days)),
                    Cycle::Year => prop_assert!((365..=366).contains(&days)),
                }
                prop_assert_eq!(period_at(anchor, a, cycle), Period { start: a, end: b });
                prop_assert_eq!(period_at(anchor, b - 1, cycle), Period { start: a, end: b });
                prop_assert_eq!(period_at(anchor, b, cycle), Period { start: b, end: c });
                let p = period_at(anchor, t, cycle);
                prop_assert!(p.contains(t));
                prop_assert_eq!(add_cycles(anchor, 0, cycle), anchor);
            }

            /// The calendar written here agrees with the `time` crate.
            #[test]
            fn the_calendar_agrees_with_time(secs in -62_135_596_800i64..253_402_300_799, months in -120i64..120) {
                let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap();
                prop_assert_eq!(
                    rfc3339(secs),
                    t.format(&time::format_description::well_known::Rfc3339).unwrap()
                );
                let c = civil(secs);
                prop_assert_eq!((c.year, c.month, c.day), (i128::from(t.year()), u8::from(t.month()) as u32, u32::from(t.day())));
                prop_assert_eq!(days_from_civil(c.year, c.month, c.day), i128::from(secs.div_euclid(SECS_PER_DAY)));
                // Adding months by hand with `time`: clamp the day, keep the time.
                let total = i64::from(t.year()) * 12 + i64::from(u8::from(t.month())) - 1 + months;
                let (year, month) = (total.div_euclid(12), total.rem_euclid(12) as u8 + 1);
                if (-9999..=9999).contains(&year) {
                    let month = time::Month::try_from(month).unwrap();
                    let day = t.day().min(month.length(year as i32));
                    let expected = time::Date::from_calendar_date(year as i32, month, day).unwrap()
                        .with_time(t.time()).assume_utc().unix_timestamp();
                    prop_assert_eq!(add_cycles(secs, months, Cycle::Month), expected);
                }
            }
        }

        /// The calendar stays total at the ends of `i64`.
        #[test]
        fn extreme_instants_do_not_panic() {
            for t in [i64::MIN, i64::MIN + 1, -1, 0, i64::MAX - 1, i64::MAX] {
                for cycle in Cycle::ALL {
                    for n in [i64::MIN, -1, 0, 1, i64::MAX] {
                        add_cycles(t, n, cycle);
                    }
                    let _ = period_at(t, 0, cycle);
                    let _ = period_at(0, t, cycle);
                }
                format_date(t);
                rfc3339(t);
            }
        }
    }
}
