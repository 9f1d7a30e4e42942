//! Plans, in one place (B1): what each allows a team (members, single
//! sign-on) and the catalogue of their prices, which the operator
//! configures. Every team starts on Free; billing moves it to a paid plan
//! (or a trial of Pro), the operator does where no payment is taken (B10).
//! Team rules ask here, never hard-code a number.

use std::collections::BTreeMap;

use postroom_core::billing::Cycle;

use crate::config::PriceConfig;

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

/// The plan a trial is of (B1).
pub const TRIAL: Plan = PRO;

/// The paid plans, cheapest first.
pub const PAID: [Plan; 3] = [PRO, BUSINESS, ENTERPRISE];

/// The catalogue: each paid plan's price of one seat per cycle, in minor
/// units of one currency, and the length of the trial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalogue {
    pub currency: String,
    pub trial_days: u32,
    prices: BTreeMap<&'static str, PriceConfig>,
}

impl Catalogue {
    /// Checks the configured prices: every paid plan has one, from 1 to
    /// 100,000,000 minor units; unknown plan names are refused.
    pub fn from_config(
        currency: &str,
        trial_days: u32,
        configured: &BTreeMap<String, PriceConfig>,
    ) -> Result<Catalogue, String> {
        let currency = currency.trim().to_ascii_lowercase();
        if currency.len() != 3 || !currency.bytes().all(|b| b.is_ascii_lowercase()) {
            return Err(format!(
                "billing_currency: {currency:?} is not a three-letter ISO 4217 code such as \"usd\""
            ));
        }
        if trial_days > 365 {
            return Err("trial_days: must be between 0 and 365".into());
        }
        for name in configured.keys() {
            if !PAID.iter().any(|p| p.id == name) {
                return Err(format!(
                    "prices: {name:?} is not a paid plan (pro, business, enterprise)"
                ));
            }
        }
        let mut prices = BTreeMap::new();
        for plan in PAID {
            let price = configured.get(plan.id).copied().ok_or_else(|| {
                format!("prices.{}: give the plan's month and year prices", plan.id)
            })?;
            for (cycle, amount) in [("month", price.month), ("year", price.year)] {
                if !(1..=100_000_000).contains(&amount) {
                    return Err(format!(
                        "prices.{}.{cycle}: must be from 1 to 100000000 minor units",
                        plan.id
                    ));
                }
            }
            prices.insert(plan.id, price);
        }
        Ok(Catalogue {
            currency,
            trial_days,
            prices,
        })
    }

    /// The price of one seat of `plan` for one `cycle`; Free costs nothing.
    pub fn unit_price(&self, plan: Plan, cycle: Cycle) -> i64 {
        match self.prices.get(plan.id) {
            Some(p) => match cycle {
                Cycle::Month => p.month,
                Cycle::Year => p.year,
            },
            None => 0,
        }
    }

    /// The catalogue as configuration, for `postroom check-config`.
    pub fn to_toml(&self) -> String {
        let mut out = format!(
            "billing_currency = {:?}\ntrial_days = {}\n",
            self.currency, self.trial_days
        );
        for (plan, price) in &self.prices {
            out.push_str(&format!(
                "\n[prices.{plan}]\nmonth = {}\nyear = {}\n",
                price.month, price.year
            ));
        }
        out
    }
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
    fn the_default_catalogue_prices_every_paid_plan() {
        let settings = crate::config::Config::defaults().validate().unwrap();
        let c = &settings.catalogue;
        assert_eq!(c.currency, "usd");
        assert_eq!(c.trial_days, 14);
        assert_eq!(c.unit_price(FREE, Cycle::Month), 0);
        for plan in PAID {
            assert!(c.unit_price(plan, Cycle::Month) > 0, "{}", plan.id);
            assert!(c.unit_price(plan, Cycle::Year) > c.unit_price(plan, Cycle::Month));
        }
        assert!(c.unit_price(BUSINESS, Cycle::Month) > c.unit_price(PRO, Cycle::Month));
    }

    #[test]
    fn a_catalogue_refuses_unknown_plans_and_missing_prices() {
        let mut prices = BTreeMap::new();
        prices.insert("pro".to_owned(), PriceConfig { month: 1, year: 2 });
        let err = Catalogue::from_config("usd", 14, &prices).unwrap_err();
        assert!(err.contains("prices.business"), "{err}");
        prices.insert("gold".to_owned(), PriceConfig { month: 1, year: 2 });
        let err = Catalogue::from_config("usd", 14, &prices).unwrap_err();
        assert!(err.contains("\"gold\""), "{err}");
        assert!(Catalogue::from_config("dollars", 14, &BTreeMap::new()).is_err());
    }

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
