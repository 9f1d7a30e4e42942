//! A self-hosted proof-of-work captcha, compatible with the ALTCHA widget and
//! its protocol: the server hands out `sha256(salt + n)` for a secret `n` up
//! to `maxnumber`, signed with HMAC; the client finds `n` by trying numbers
//! and sends back base64 JSON `{algorithm, challenge, number, salt,
//! signature}`. A solution is good once, until its challenge expires.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use postroom_core::api::CaptchaChallenge;
use rand::RngExt as _;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::clock::{Millis, MINUTE, SECOND};

/// How long a challenge may be solved and used.
pub const CHALLENGE_TTL: Millis = 10 * MINUTE;

#[derive(Clone)]
pub struct Captcha {
    key: [u8; 32],
    max_number: u64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Rejection {
    Malformed,
    Expired,
    Wrong,
}

#[derive(Deserialize)]
struct Solution {
    algorithm: String,
    challenge: String,
    number: u64,
    salt: String,
    signature: String,
}

impl Captcha {
    pub fn new(key: [u8; 32], max_number: u64) -> Captcha {
        Captcha { key, max_number }
    }

    fn sign(&self, challenge: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        mac.update(challenge.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn digest(salt: &str, number: u64) -> String {
        hex::encode(Sha256::digest(format!("{salt}{number}").as_bytes()))
    }

    pub fn challenge(&self, now: Millis) -> CaptchaChallenge {
        let mut rng = rand::rng();
        let expires = (now + CHALLENGE_TTL) / SECOND;
        let salt = format!(
            "{}?expires={expires}",
            hex::encode(rng.random::<[u8; 12]>())
        );
        let number = rng.random_range(0..=self.max_number);
        let challenge = Self::digest(&salt, number);
        let signature = self.sign(&challenge);
        CaptchaChallenge {
            algorithm: "SHA-256".into(),
            challenge,
            maxnumber: self.max_number,
            salt,
            signature,
        }
    }

    /// Checks a solution; on success returns the value to record as spent
    /// and when that record may be forgotten.
    pub fn verify(&self, payload: &str, now: Millis) -> Result<(String, Millis), Rejection> {
        let json = base64::engine::general_purpose::STANDARD
            .decode(payload.trim())
            .map_err(|_| Rejection::Malformed)?;
        let s: Solution = serde_json::from_slice(&json).map_err(|_| Rejection::Malformed)?;
        if s.algorithm != "SHA-256" || s.challenge.len() != 64 || s.salt.len() > 200 {
            return Err(Rejection::Malformed);
        }
        let expires: Millis = s
            .salt
            .split_once("?expires=")
            .and_then(|(_, e)| e.split('&').next()?.parse::<i64>().ok())
            .ok_or(Rejection::Malformed)?
            .saturating_mul(SECOND);
        if expires <= now {
            return Err(Rejection::Expired);
        }
        let signed = self.sign(&s.challenge);
        let signature_ok: bool = signed.as_bytes().ct_eq(s.signature.as_bytes()).into();
        if !signature_ok || Self::digest(&s.salt, s.number) != s.challenge {
            return Err(Rejection::Wrong);
        }
        Ok((super::tokens::hash(&s.challenge), expires))
    }

    /// Solves a challenge by brute force, as a client would: for tests and
    /// the benchmark tool.
    pub fn solve(c: &CaptchaChallenge) -> Option<String> {
        let number = (0..=c.maxnumber).find(|n| Self::digest(&c.salt, *n) == c.challenge)?;
        let json = serde_json::json!({
            "algorithm": c.algorithm, "challenge": c.challenge, "number": number,
            "salt": c.salt, "signature": c.signature,
        });
        Some(base64::engine::general_purpose::STANDARD.encode(json.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn captcha() -> Captcha {
        Captcha::new([7; 32], 2_000)
    }

    #[test]
    fn a_solved_challenge_verifies_until_it_expires() {
        let c = captcha();
        let ch = c.challenge(1_000_000);
        let solution = Captcha::solve(&ch).unwrap();
        assert!(c.verify(&solution, 1_000_000).is_ok());
        assert_eq!(
            c.verify(&solution, 1_000_000 + CHALLENGE_TTL + SECOND),
            Err(Rejection::Expired)
        );
    }

    #[test]
    fn a_forged_signature_or_wrong_number_is_refused() {
        let c = captcha();
        let ch = c.challenge(0);
        let other = Captcha::new([8; 32], 2_000);
        let forged = Captcha::solve(&other.challenge(0)).unwrap();
        assert_eq!(c.verify(&forged, 0), Err(Rejection::Wrong));
        let number = (0..=2_000u64)
            .find(|n| Captcha::digest(&ch.salt, *n) == ch.challenge)
            .unwrap();
        let payload = serde_json::json!({"algorithm":"SHA-256","challenge":ch.challenge,"number":number+1,"salt":ch.salt,"signature":ch.signature});
        let payload = base64::engine::general_purpose::STANDARD.encode(payload.to_string());
        assert_eq!(c.verify(&payload, 0), Err(Rejection::Wrong));
    }

    proptest! {
        #[test]
        fn arbitrary_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let c = captcha();
            let as_text = String::from_utf8_lossy(&bytes).to_string();
            let _ = c.verify(&as_text, 0);
            let _ = c.verify(&base64::engine::general_purpose::STANDARD.encode(&bytes), 0);
        }
    }
}
