//! Events the provider posts to us, proved to be its own: Stripe signs each
//! body with the endpoint's secret (`Stripe-Signature: t=<unix seconds>,
//! v1=<hex HMAC-SHA256 of "{t}.{body}">`, several `v1` while a secret is
//! being rolled), and the timestamp bounds how long a captured request can
//! be replayed.

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// How far the signature's timestamp may be from our clock, either way.
pub const TOLERANCE_SECS: i64 = 300;

/// A verified event.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEvent {
    /// The event's id (`evt_...`), to ignore one delivered twice.
    pub id: String,
    /// `payment_intent.succeeded`, `payment_intent.payment_failed`...
    pub kind: String,
    /// The object the event is about (`data.object`), as sent.
    pub object: serde_json::Value,
}

/// Why an event was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Header,
    #[error("no signature matches the body")]
    Signature,
    #[error("the signature's timestamp is more than {TOLERANCE_SECS} s away from now")]
    Timestamp,
    #[error("the body is not an event: {0}")]
    Payload(String),
}

/// Checks `header` (the `Stripe-Signature` value) against the raw body and
/// the endpoint's secret at `now_secs`, then reads the event.
pub fn verify_webhook(
    payload: &[u8],
    header: &str,
    secret: &[u8],
    now_secs: i64,
) -> Result<WebhookEvent, WebhookError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((name, value)) = part.trim().split_once('=') else {
            continue;
        };
        match name {
            "t" if timestamp.is_none() => {
                timestamp = Some(value.parse::<i64>().map_err(|_| WebhookError::Header)?)
            }
            // A signature that is not hex cannot match; others may.
            "v1" => signatures.extend(hex::decode(value).ok()),
            _ => {}
        }
    }
    let (Some(t), false) = (timestamp, signatures.is_empty()) else {
        return Err(WebhookError::Header);
    };
    let expected = tag(payload, secret, t);
    let matches = signatures
        .iter()
        .any(|s| bool::from(s.as_slice().ct_eq(expected.as_slice())));
    if !matches {
        return Err(WebhookError::Signature);
    }
    if now_secs.abs_diff(t) > TOLERANCE_SECS.unsigned_abs() {
        return Err(WebhookError::Timestamp);
    }

    #[derive(Deserialize)]
    struct Event {
        id: String,
        #[serde(rename = "type")]
        kind: String,
        data: Data,
    }
    #[derive(Deserialize)]
    struct Data {
        object: serde_json::Value,
    }
    let event: Event =
        serde_json::from_slice(payload).map_err(|e| WebhookError::Payload(e.to_string()))?;
    Ok(WebhookEvent {
        id: event.id,
        kind: event.kind,
        object: event.data.object,
    })
}

/// The `Stripe-Signature` value for `payload` signed at `t`, as Stripe (and
/// localstripe) would send it.
pub fn sign_webhook(payload: &[u8], secret: &[u8], t: i64) -> String {
    format!("t={t},v1={}", hex::encode(tag(payload, secret, t)))
}

fn tag(payload: &[u8], secret: &[u8], t: i64) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(payload);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test";
    const NOW: i64 = 1_767_225_600;
    const BODY: &[u8] = br#"{"id":"evt_1","type":"payment_intent.succeeded","data":{"object":{"id":"pi_1","status":"succeeded"}},"created":1767225600}"#;

    #[test]
    fn a_signed_event_is_read() {
        let header = sign_webhook(BODY, SECRET, NOW);
        let event = verify_webhook(BODY, &header, SECRET, NOW + 10).unwrap();
        assert_eq!(event.id, "evt_1");
        assert_eq!(event.kind, "payment_intent.succeeded");
        assert_eq!(event.object["id"], "pi_1");
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: Python's hmac.new(b"secret",
        // b"1614556800.{}", hashlib.sha256).hexdigest().
        assert_eq!(
            sign_webhook(b"{}", b"secret", 1_614_556_800),
            "t=1614556800,v1=b3282d0f7e5d4ca946012e58df895aa129e0c486c8ccf0f8b4678625352a552a"
        );
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let good = sign_webhook(BODY, SECRET, NOW);
        let v1 = good.split_once(",v1=").unwrap().1;
        let header = format!("t={NOW},v1={},v0=abc,v1={v1}", "00".repeat(32));
        assert!(verify_webhook(BODY, &header, SECRET, NOW).is_ok());
    }

    #[test]
    fn a_wrong_secret_or_a_changed_body_is_refused() {
        let header = sign_webhook(BODY, b"another secret", NOW);
        assert_eq!(
            verify_webhook(BODY, &header, SECRET, NOW),
            Err(WebhookError::Signature)
        );
        let header = sign_webhook(BODY, SECRET, NOW);
        let mut changed = BODY.to_vec();
        changed[10] ^= 1;
        assert_eq!(
            verify_webhook(&changed, &header, SECRET, NOW),
            Err(WebhookError::Signature)
        );
        // The timestamp is signed too.
        let forged = header.replacen(&format!("t={NOW}"), &format!("t={}", NOW + 1), 1);
        assert_eq!(
            verify_webhook(BODY, &forged, SECRET, NOW),
            Err(WebhookError::Signature)
        );
    }

    #[test]
    fn an_old_or_future_timestamp_is_refused() {
        let header = sign_webhook(BODY, SECRET, NOW);
        assert!(verify_webhook(BODY, &header, SECRET, NOW + TOLERANCE_SECS).is_ok());
        assert_eq!(
            verify_webhook(BODY, &header, SECRET, NOW + TOLERANCE_SECS + 1),
            Err(WebhookError::Timestamp)
        );
        assert_eq!(
            verify_webhook(BODY, &header, SECRET, NOW - TOLERANCE_SECS - 1),
            Err(WebhookError::Timestamp)
        );
    }

    #[test]
    fn a_malformed_header_is_refused() {
        for header in ["", "t=1", "v1=00", "t=x,v1=00", "t=1,v1=zz", "garbage"] {
            assert_eq!(
                verify_webhook(BODY, header, SECRET, 1),
                Err(WebhookError::Header),
                "{header:?}"
            );
        }
    }

    #[test]
    fn a_signed_body_that_is_not_an_event_is_refused() {
        let body = br#"{"hello":"world"}"#;
        let header = sign_webhook(body, SECRET, NOW);
        assert!(matches!(
            verify_webhook(body, &header, SECRET, NOW),
            Err(WebhookError::Payload(_))
        ));
    }
}
