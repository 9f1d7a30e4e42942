//! Secret values at rest (S8, DESIGN.md 6). Environments and globals are
//! stored sealed: each owner (a person, a team) has a data key, made on its
//! first sealed write; the data key is stored wrapped (sealed) by the
//! key-encryption key, which is derived from the server key and never
//! stored in the database, so a copy of the database alone opens nothing.
//! Every node of a cluster shares the server key (`secret_key`), so every
//! node opens every document. Each data key records which key-encryption
//! key wrapped it (`wrapped_by`), so that the key can be rotated.
//!
//! The cipher is XChaCha20-Poly1305: a random 24-byte nonce per message,
//! stored in front of the ciphertext; the item id and revision are not
//! bound in, as a document may be moved between revisions and owners only
//! by re-sealing (a move re-seals under the new owner's key).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};

use crate::clock::Millis;
use crate::error::{Error, Result};
use crate::store::{self, items::OwnerId, Conn, Tx};

const NONCE_LEN: usize = 24;

/// The key-encryption key and its id.
#[derive(Clone)]
pub struct Kek {
    key: [u8; 32],
    /// The first 16 hex digits of its SHA-256: names it without revealing it.
    pub id: String,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kek").field("id", &self.id).finish()
    }
}

impl Kek {
    pub fn new(key: [u8; 32]) -> Kek {
        let id = hex::encode(&Sha256::digest(key)[..8]);
        Kek { key, id }
    }

    fn wrap(&self, data_key: &[u8; 32]) -> String {
        seal_with(&self.key, data_key)
    }

    fn unwrap(&self, wrapped: &str) -> Option<[u8; 32]> {
        open_with(&self.key, wrapped)?.try_into().ok()
    }

    /// Checks at start that this key opens the database's data keys: a
    /// node given another server key refuses to run rather than fail on
    /// every environment.
    pub async fn check(&self, c: &mut Conn) -> anyhow::Result<()> {
        let Some(row) = store::items::any_data_key(c).await? else {
            return Ok(());
        };
        if row.wrapped_by != self.id || self.unwrap(&row.wrapped).is_none() {
            anyhow::bail!(
                "the server key does not open this database's encrypted environments (they were sealed under key {}, this server has key {}): \
                 start it with the server key the database was used with (`secret_key`, or <data_dir>/server.key)",
                row.wrapped_by,
                self.id
            );
        }
        Ok(())
    }
}

fn cipher(key: &[u8; 32]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.into())
}

fn seal_with(key: &[u8; 32], plaintext: &[u8]) -> String {
    let mut nonce = [0u8; NONCE_LEN];
    crate::domain::tokens::fill_random(&mut nonce);
    let sealed = cipher(key)
        .encrypt(&XNonce::from(nonce), plaintext)
        .expect("XChaCha20-Poly1305 seals any length this server handles");
    let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    STANDARD.encode(out)
}

fn open_with(key: &[u8; 32], sealed: &str) -> Option<Vec<u8>> {
    let bytes = STANDARD.decode(sealed).ok()?;
    if bytes.len() < NONCE_LEN {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
    let nonce: [u8; NONCE_LEN] = nonce.try_into().ok()?;
    cipher(key).decrypt(&XNonce::from(nonce), ciphertext).ok()
}

/// Seals `json` under the owner's data key, making the key on first use.
/// Returns the sealed text and the data key's id.
pub async fn seal(
    tx: &mut Tx,
    kek: &Kek,
    owner: &OwnerId<'_>,
    json: &str,
    now: Millis,
) -> Result<(String, String)> {
    let (id, key) = match store::items::data_key(tx, owner).await? {
        Some(row) => (row.id.clone(), unwrap_row(kek, &row)?),
        None => {
            let mut key = [0u8; 32];
            crate::domain::tokens::fill_random(&mut key);
            let id = store::new_id();
            store::items::insert_data_key(tx, &id, owner, &kek.wrap(&key), &kek.id, now).await?;
            (id, key)
        }
    };
    Ok((seal_with(&key, json.as_bytes()), id))
}

/// Opens a sealed document.
pub async fn open(c: &mut Conn, kek: &Kek, key_id: &str, sealed: &str) -> Result<String> {
    let row = store::items::data_key_by_id(c, key_id)
        .await?
        .ok_or_else(|| Error::Internal(anyhow::anyhow!("data key {key_id} is missing")))?;
    let key = unwrap_row(kek, &row)?;
    let plain = open_with(&key, sealed).ok_or_else(|| {
        Error::Internal(anyhow::anyhow!(
            "a document sealed under data key {key_id} does not open"
        ))
    })?;
    String::from_utf8(plain).map_err(|e| Error::Internal(e.into()))
}

fn unwrap_row(kek: &Kek, row: &store::items::DataKeyRow) -> Result<[u8; 32]> {
    kek.unwrap(&row.wrapped).ok_or_else(|| {
        Error::Internal(anyhow::anyhow!(
            "data key {} (wrapped by {}) does not open with key {}",
            row.id,
            row.wrapped_by,
            kek.id
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_text_opens_with_its_key_only() {
        let key = [7u8; 32];
        let sealed = seal_with(&key, b"s3cret value");
        assert!(!sealed.contains("s3cret"));
        assert_eq!(
            open_with(&key, &sealed).as_deref(),
            Some(&b"s3cret value"[..])
        );
        assert_eq!(open_with(&[8u8; 32], &sealed), None);
        // Each seal takes a fresh nonce.
        assert_ne!(seal_with(&key, b"x"), seal_with(&key, b"x"));
        // Tampering is caught.
        let mut bytes = STANDARD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert_eq!(open_with(&key, &STANDARD.encode(bytes)), None);
        assert_eq!(open_with(&key, "not base64!"), None);
        assert_eq!(open_with(&key, "AAAA"), None);
    }

    #[test]
    fn data_keys_wrap_under_the_kek() {
        let kek = Kek::new([1u8; 32]);
        let dk = [9u8; 32];
        let wrapped = kek.wrap(&dk);
        assert_eq!(kek.unwrap(&wrapped), Some(dk));
        assert_eq!(Kek::new([2u8; 32]).unwrap(&wrapped), None);
        assert_eq!(kek.id.len(), 16);
        assert!(!format!("{kek:?}").contains("1, 1"));
    }
}
