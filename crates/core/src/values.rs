//! "Parse, don't validate": each value here can only be built from input that
//! passed its rules, so code holding one never checks again.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a piece of input is not a valid value. The message is meant for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

fn invalid(message: impl Into<String>) -> ValueError {
    ValueError(message.into())
}

/// An email address as people type it, checked for syntax. Comparison and
/// lookups use [`Email::key`], the address with its domain lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(invalid("email is required"));
        }
        if input.len() > Self::MAX_LEN {
            return Err(invalid("email is too long"));
        }
        let parsed: email_address::EmailAddress = input
            .parse()
            .map_err(|_| invalid("email is not a valid address"))?;
        let (local, domain) = (parsed.local_part(), parsed.domain());
        // The crate accepts forms no mail server delivers to in practice:
        // quoted local parts, address literals and dotless domains.
        let domain_ok = domain.contains('.')
            && !domain.starts_with('[')
            && domain.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local.starts_with('"') || !domain_ok || input.contains(['<', '>', ' ']) {
            return Err(invalid("email is not a valid address"));
        }
        Ok(Email(format!("{local}@{}", domain.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form used for uniqueness and lookups: the whole address lower-cased.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }

    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map(|(_, d)| d).unwrap_or_default()
    }
}

impl TryFrom<String> for Email {
    type Error = ValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Email::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A username: 3 to 39 characters of letters, digits and single hyphens, not
/// starting or ending with a hyphen. Unique regardless of case; the original
/// case is kept for display.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Username(String);

impl Username {
    pub const MIN_LEN: usize = 3;
    pub const MAX_LEN: usize = 39;

    pub fn parse(input: &str) -> Result<Self, ValueError> {
        let input = input.trim();
        let len = input.chars().count();
        if len < Self::MIN_LEN {
            return Err(invalid("username must be at least 3 characters"));
        }
        if len > Self::MAX_LEN {
            return Err(invalid("username must be at most 39 characters"));
        }
        if !input.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(invalid(
                "username may only contain letters a-z, digits 0-9 and hyphens",
            ));
        }
        if input.starts_with('-') || input.ends_with('-') || input.contains("--") {
            return Err(invalid(
                "username cannot start or end with a hyphen or contain two in a row",
            ));
        }
        Ok(Username(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that uniqueness is decided on.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl TryFrom<String> for Username {
    type Error = ValueError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Username::parse(&value)
    }
}

impl From<Username> for String {
    fn from(value: Username) -> Self {
        value.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Length rules for passwords (NIST 800-63B): at least 8 characters and up to
/// 256, with no composition rules. Strength is judged separately, by the
/// server's estimator.
pub fn check_password_length(password: &str) -> Result<(), ValueError> {
    let len = password.chars().count();
    if len < 8 {
        return Err(invalid("password must be at least 8 characters"));
    }
    if len > 256 {
        return Err(invalid("password must be at most 256 characters"));
    }
    Ok(())
}

/// A link on a profile: an absolute http(s) URL of reasonable length.
pub fn check_link(input: &str) -> Result<(), ValueError> {
    let lower = input.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| invalid("links must start with http:// or https://"))?;
    if rest.is_empty()
        || rest.starts_with('/')
        || input.len() > 300
        || input.chars().any(char::is_whitespace)
    {
        return Err(invalid("link is not a valid web address"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse(" Ada@Example.COM ").unwrap().as_str(),
            "Ada@example.com"
        );
        assert_eq!(
            Email::parse("Ada@Example.com").unwrap().key(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@localhost",
            "a b@example.com",
            "\"a\"@example.com",
            "ada@[127.0.0.1]",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn usernames() {
        assert_eq!(Username::parse("Ada-L").unwrap().key(), "ada-l");
        for bad in [
            "ab",
            "-ada",
            "ada-",
            "a--b",
            "ada_l",
            "ädä",
            &"a".repeat(40),
        ] {
            assert!(Username::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(Username::parse(&"a".repeat(39)).is_ok());
    }

    #[test]
    fn password_lengths() {
        assert!(check_password_length("1234567").is_err());
        assert!(check_password_length("12345678").is_ok());
        assert!(check_password_length(&"x".repeat(256)).is_ok());
        assert!(check_password_length(&"x".repeat(257)).is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in ".*") {
            let _ = Email::parse(&s);
            let _ = Username::parse(&s);
            let _ = check_link(&s);
        }

        #[test]
        fn valid_usernames_round_trip(s in "[a-zA-Z0-9]{1,10}(-[a-zA-Z0-9]{1,10}){0,2}") {
            prop_assume!(s.len() >= 3 && s.len() <= 39);
            let u = Username::parse(&s).unwrap();
            prop_assert_eq!(u.as_str(), s.as_str());
            prop_assert_eq!(Username::parse(&u.key()).unwrap().key(), u.key());
        }
    }
}
