//! The teams vocabulary: a team's URL [`Slug`], an email [`DomainName`] a
//! team can prove it owns, and the [`Role`]s members hold. Parsed once at the
//! edge, so code holding one of these never checks again.

use std::fmt;

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

use crate::values::ValueError;

fn invalid(message: impl Into<String>) -> ValueError {
    ValueError(message.into())
}

/// A team's URL name: 3 to 39 characters of lower-case letters a-z, digits
/// and single hyphens, neither starting nor ending with a hyphen, and not one
/// of the [`Slug::RESERVED`] words. Input is trimmed and lower-cased first.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

impl Slug {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 39;

    /// Words that name pages or API paths, or that would mislead people.
    pub const RESERVED: &'static [&'static str] = &[
        "about",
        "account",
        "accounts",
        "admin",
        "administrator",
        "api",
        "app",
        "assets",
        "auth",
        "billing",
        "blog",
        "dashboard",
        "docs",
        "help",
        "home",
        "invite",
        "invites",
        "join",
        "login",
        "logout",
        "new",
        "null",
        "official",
        "onboarding",
        "postroom",
        "pricing",
        "root",
        "security",
        "settings",
        "sign-in",
        "sign-out",
        "sign-up",
        "signin",
        "signout",
        "signup",
        "static",
        "status",
        "support",
        "system",
        "team",
        "teams",
        "undefined",
        "user",
        "users",
        "www",
    ];

    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let slug = input.trim().to_ascii_lowercase();
        let len = slug.chars().count();
        if len < Self::MIN_LEN {
            return Err(invalid("slug must be at least 3 characters"));
        }
        if len > Self::MAX_LEN {
            return Err(invalid("slug must be at most 39 characters"));
        }
        if !slug
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            return Err(invalid(
                "slug may only contain letters a-z, digits 0-9 and hyphens",
            ));
        }
        if slug.starts_with('-') || slug.ends_with('-') || slug.contains("--") {
            return Err(invalid(
                "slug cannot start or end with a hyphen or contain two in a row",
            ));
        }
        if Self::RESERVED.contains(&slug.as_str()) {
            return Err(invalid(format!("the slug {slug:?} is reserved")));
        }
        Ok(Slug(slug))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Slug {
    type Error = ValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Slug::parse(&value)
    }
}

impl From<Slug> for String {
    fn from(value: Slug) -> Self {
        value.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email domain a team verifies (`example.com`): lower-case DNS labels of
/// letters, digits and inner hyphens, at least two of them, with a
/// non-numeric last label. A trailing dot is dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DomainName(String);

impl DomainName {
    pub const MAX_LEN: usize = 253;

    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let domain = input.trim().trim_end_matches('.').to_ascii_lowercase();
        if domain.is_empty() {
            return Err(invalid("domain is required"));
        }
        if domain.len() > Self::MAX_LEN {
            return Err(invalid("domain is too long"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 {
            return Err(invalid(
                "domain needs at least two labels, like example.com",
            ));
        }
        for label in &labels {
            let ok = !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-');
            if !ok {
                return Err(invalid("domain is not a valid domain name"));
            }
        }
        if labels
            .last()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(invalid("domain is not a valid domain name"));
        }
        Ok(DomainName(domain))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DomainName {
    type Error = ValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        DomainName::parse(&value)
    }
}

impl From<DomainName> for String {
    fn from(value: DomainName) -> Self {
        value.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a member may do in a team (T2). `admin` manages the team and its
/// members; `billing` manages plans and payment; `member` uses the team's
/// workspace. Admin and billing are "support" roles: held alone (a member
/// marked `support_only`), they take no paid seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Billing,
    Member,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Billing, Role::Member];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Billing => "billing",
            Role::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Admin and billing may be held without a seat; member may not.
    pub fn is_support(self) -> bool {
        matches!(self, Role::Admin | Role::Billing)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn slugs() {
        assert_eq!(Slug::parse(" Acme-Labs ").unwrap().as_str(), "acme-labs");
        assert_eq!(Slug::parse("a1b").unwrap().as_str(), "a1b");
        assert!(Slug::parse(&"a".repeat(39)).is_ok());
        for bad in [
            "",
            "ab",
            "-acme",
            "acme-",
            "ac--me",
            "acme_labs",
            "acme labs",
            "äcme",
            "acme.io",
            &"a".repeat(40),
            "api",
            "Admin",
            "settings",
        ] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn domains() {
        assert_eq!(
            DomainName::parse(" Example.COM. ").unwrap().as_str(),
            "example.com"
        );
        assert!(DomainName::parse("mail.corp-1.example.co.uk").is_ok());
        for bad in [
            "",
            "localhost",
            "example..com",
            "-example.com",
            "example-.com",
            "exa mple.com",
            "ex_ample.com",
            "1.2.3.4",
            "@example.com",
            "example.com/x",
        ] {
            assert!(
                DomainName::parse(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn roles_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                serde_json::json!(r.as_str())
            );
        }
        assert_eq!(Role::parse("owner"), None);
        assert!(Role::Admin.is_support() && Role::Billing.is_support());
        assert!(!Role::Member.is_support());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in ".*") {
            let _ = Slug::parse(&s);
            let _ = DomainName::parse(&s);
        }

        /// Whatever parses is already in its canonical form, and obeys every rule.
        #[test]
        fn parsed_slugs_are_canonical(s in "[a-zA-Z0-9-]{0,45}") {
            if let Ok(slug) = Slug::parse(&s) {
                let v = slug.as_str();
                prop_assert_eq!(Slug::parse(v).unwrap(), slug.clone());
                prop_assert!((3..=39).contains(&v.len()));
                prop_assert!(v.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
                prop_assert!(!v.starts_with('-') && !v.ends_with('-') && !v.contains("--"));
                prop_assert!(!Slug::RESERVED.contains(&v));
            }
        }

        #[test]
        fn well_formed_slugs_parse(s in "[a-z0-9]{1,10}(-[a-z0-9]{1,10}){0,2}") {
            prop_assume!(s.len() >= 3 && s.len() <= 39 && !Slug::RESERVED.contains(&s.as_str()));
            let lower = Slug::parse(&s).unwrap();
            let upper = Slug::parse(&s.to_uppercase()).unwrap();
            prop_assert_eq!(lower.as_str(), s.as_str());
            prop_assert_eq!(upper, lower);
        }

        #[test]
        fn slugs_round_trip_through_json(s in "[a-z0-9]{3,10}") {
            prop_assume!(!Slug::RESERVED.contains(&s.as_str()));
            let slug = Slug::parse(&s).unwrap();
            let json = serde_json::to_string(&slug).unwrap();
            prop_assert_eq!(serde_json::from_str::<Slug>(&json).unwrap(), slug);
        }

        #[test]
        fn parsed_domains_are_canonical(s in "[a-zA-Z0-9.-]{0,40}") {
            if let Ok(d) = DomainName::parse(&s) {
                prop_assert_eq!(DomainName::parse(d.as_str()).unwrap(), d.clone());
                prop_assert!(d.as_str().contains('.'));
            }
        }
    }
}
