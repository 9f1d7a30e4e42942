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

/// Text people show to others (a display name, a team name, a bio) on one
/// line: no control characters or line breaks, and none of the characters
/// that are invisible or turn the text's direction, with which one name can
/// pose as another ("ada\u{202E}nimda" shows as "adaadmin").
pub fn check_display_text(text: &str) -> Result<(), ValueError> {
    check_text(text, false)
}

/// Like [`check_display_text`], for text of several lines: `\n` is allowed.
pub fn check_display_lines(text: &str) -> Result<(), ValueError> {
    check_text(text, true)
}

fn check_text(text: &str, lines: bool) -> Result<(), ValueError> {
    for c in text.chars() {
        if c == '\n' && lines {
            continue;
        }
        if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
            return Err(invalid(if lines {
                "cannot contain control characters other than line breaks"
            } else {
                "cannot contain control characters or line breaks"
            }));
        }
        if is_hidden(c) {
            return Err(invalid(format!(
                "cannot contain invisible or text-direction characters (U+{:04X})",
                u32::from(c)
            )));
        }
    }
    Ok(())
}

/// Bidirectional controls, and characters that show as nothing: zero-width
/// spaces and joiners, invisible fillers, the soft hyphen, the byte order
/// mark, interlinear annotations and tags. Variation selectors
/// (U+FE00-U+FE0F) are not among them: emoji need them.
fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{200E}'
            | '\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2066}'..='\u{2069}'
            | '\u{00AD}'
            | '\u{034F}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200D}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every character [`check_display_text`] refuses besides control characters.
    const HIDDEN: &[(u32, u32)] = &[
        (0x061C, 0x061C),
        (0x200E, 0x200F),
        (0x202A, 0x202E),
        (0x2066, 0x2069),
        (0x00AD, 0x00AD),
        (0x034F, 0x034F),
        (0x115F, 0x1160),
        (0x17B4, 0x17B5),
        (0x180B, 0x180F),
        (0x200B, 0x200D),
        (0x2060, 0x206F),
        (0x3164, 0x3164),
        (0xFEFF, 0xFEFF),
        (0xFFA0, 0xFFA0),
        (0xFFF9, 0xFFFB),
        (0xE0000, 0xE007F),
    ];

    fn hidden() -> impl Iterator<Item = char> {
        HIDDEN
            .iter()
            .flat_map(|&(from, to)| (from..=to).filter_map(char::from_u32))
    }

    #[test]
    fn display_text() {
        for ok in [
            "Ada Lovelace",
            "Zoë Ångström-Łukasiewicz",
            "محمد",
            "עברית",
            "李小龍",
            "❤\u{FE0F} and \u{263A}\u{FE0E}",
            "🙂",
            "",
        ] {
            assert_eq!(check_display_text(ok), Ok(()), "{ok:?}");
            assert_eq!(check_display_lines(ok), Ok(()), "{ok:?}");
        }
        for bad in [
            "ada\u{202E}nimda",
            "admin\u{200B}",
            "\u{2066}x\u{2069}",
            "a\u{00AD}b",
            "\u{FEFF}ada",
            "tag\u{E0041}",
            "\u{3164}",
        ] {
            let e = check_display_text(bad).unwrap_err();
            assert!(e.0.contains("invisible"), "{bad:?}: {e}");
            assert!(check_display_lines(bad).is_err(), "{bad:?}");
        }
        for bad in ["a\u{7}", "a\rb", "a\tb", "\u{85}", "a\u{2028}b", "a\u{7f}"] {
            assert!(check_display_text(bad).is_err(), "{bad:?}");
            assert!(check_display_lines(bad).is_err(), "{bad:?}");
        }
        assert!(check_display_text("one\ntwo").is_err());
        assert_eq!(check_display_lines("one\ntwo"), Ok(()));
        assert_eq!(hidden().filter(|&c| is_hidden(c)).count(), hidden().count());
    }

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

        /// Text of visible characters passes; any refused character put
        /// anywhere in it makes it fail.
        #[test]
        fn one_hidden_character_spoils_display_text(
            text in "[\\p{L}\\p{N}\\p{P}\\p{S} ]{0,20}",
            pick in any::<prop::sample::Index>(),
            at in any::<prop::sample::Index>(),
        ) {
            // A few letters show as nothing (the Hangul fillers).
            prop_assume!(!text.chars().any(is_hidden));
            prop_assert_eq!(check_display_text(&text), Ok(()));
            let refused: Vec<char> = hidden()
                .chain(['\0', '\n', '\r', '\u{1b}', '\u{7f}', '\u{9b}', '\u{2029}'])
                .collect();
            let mut chars: Vec<char> = text.chars().collect();
            chars.insert(at.index(chars.len() + 1), *pick.get(&refused));
            let spoiled: String = chars.into_iter().collect();
            prop_assert!(check_display_text(&spoiled).is_err(), "{:?}", spoiled);
        }

        #[test]
        fn display_text_checks_never_panic(s in ".*") {
            let _ = check_display_text(&s);
            let _ = check_display_lines(&s);
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
