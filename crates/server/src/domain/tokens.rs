//! Random secrets handed to clients (session tokens, link tokens, API keys)
//! and the one-way hashes stored in their place.

use base64::Engine;
use rand::TryRng as _;
use sha2::{Digest, Sha256};

/// `bytes` random bytes from the OS, URL-safe base64 without padding.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    fill_random(&mut buf);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Fills `buf` from the OS's random source (keys, nonces).
pub fn fill_random(buf: &mut [u8]) {
    rand::rngs::SysRng
        .try_fill_bytes(buf)
        .expect("the system's random source");
}

/// SHA-256 of a token, hex. Tokens carry 256 bits of randomness, so a fast
/// hash is enough: the stored value is useless without the token.
pub fn hash(token: &str) -> String {
    let mut out = [0u8; 64];
    // 32 bytes always fit 64 hex digits, which are always ASCII.
    let _ = hex::encode_to_slice(Sha256::digest(token.as_bytes()), &mut out);
    out.iter().map(|&b| b as char).collect()
}

/// A token as the client sent it is only looked up when it has the expected
/// shape, so junk never reaches the database.
pub fn well_formed(token: &str, prefix: &str) -> bool {
    let Some(rest) = token.strip_prefix(prefix) else {
        return false;
    };
    (20..=100).contains(&rest.len())
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_are_distinct_and_well_formed() {
        let a = random_token(32);
        assert_ne!(a, random_token(32));
        assert!(well_formed(&a, ""));
        assert_eq!(hash(&a).len(), 64);
    }

    proptest! {
        #[test]
        fn well_formed_never_panics(s in ".*") {
            let _ = well_formed(&s, "prs_");
        }
    }
}
