//! What dialpop writes into a shared Redis about a customer is sealed with
//! the operator's key (`customer.redis_key`): the record and the
//! invalidation messages are encrypted and authenticated
//! (ChaCha20-Poly1305, a random nonce each, the Redis key as associated
//! data so that an entry cannot be moved to another key), and the Redis
//! keys are keyed hashes (HMAC-SHA256) of the customer's keys, which
//! without the key cannot be brute-forced from the space of phone numbers
//! as a plain hash could. Pure: no I/O.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const NONCE: usize = 12;

#[derive(Clone)]
pub struct Sealer {
    cipher: ChaCha20Poly1305,
    mac_key: [u8; 32],
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer([redacted])")
    }
}

fn derive(key: &[u8], purpose: &str) -> [u8; 32] {
    let mut m = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key).unwrap_or_else(|_| {
        // HMAC takes a key of any length.
        unreachable!()
    });
    m.update(purpose.as_bytes());
    m.finalize().into_bytes().into()
}

impl Sealer {
    /// From 64 hex digits (32 bytes: `openssl rand -hex 32`).
    pub fn from_hex(hex_key: &str) -> Result<Sealer, String> {
        let key = hex::decode(hex_key.trim())
            .ok()
            .filter(|k| k.len() == 32)
            .ok_or("must be 64 hex digits (openssl rand -hex 32)")?;
        let seal_key = derive(&key, "dialpop cache seal v1");
        let cipher = ChaCha20Poly1305::new_from_slice(&seal_key)
            .map_err(|_| "the derived key has the wrong length".to_string())?;
        Ok(Sealer {
            cipher,
            mac_key: derive(&key, "dialpop cache name v1"),
        })
    }

    /// A keyed hash of the parts (each length-prefixed), in hex.
    pub fn name(&self, parts: &[&[u8]]) -> String {
        let Ok(mut m) = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(&self.mac_key) else {
            return String::new();
        };
        for p in parts {
            m.update(&(p.len() as u64).to_le_bytes());
            m.update(p);
        }
        hex::encode(m.finalize().into_bytes())
    }

    /// nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, aad: &[u8], plain: &[u8]) -> Option<Vec<u8>> {
        let mut nonce = [0u8; NONCE];
        rand::fill(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: plain, aad })
            .ok()?;
        let mut out = Vec::with_capacity(NONCE + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Some(out)
    }

    /// The plain text, or None: too short, another key, another associated
    /// data, or altered.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE {
            return None;
        }
        let (nonce, body) = sealed.split_at(NONCE);
        let nonce: [u8; NONCE] = nonce.try_into().ok()?;
        self.cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: body, aad })
            .ok()
    }
}

/// The shared Redis level and the key its records are sealed with: a
/// Redis without a key is refused, not used in clear.
pub fn redis_level(cfg: &super::config::CustomerConfig) -> Result<Option<(&str, Sealer)>, String> {
    let Some(url) = cfg.redis_url.as_deref() else {
        return Ok(None);
    };
    let Some(key) = &cfg.redis_key else {
        return Err("customer.redis_key: needed with customer.redis_url (64 hex digits, the same on every daemon; the records in the shared Redis are encrypted with it)".into());
    };
    let hex = key
        .resolve()
        .map_err(|e| format!("customer.redis_key: {e}"))?;
    let sealer = Sealer::from_hex(&hex).map_err(|e| format!("customer.redis_key: {e}"))?;
    Ok(Some((url, sealer)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn a_sealed_record_opens_only_with_its_key_and_its_name() {
        let s = Sealer::from_hex(KEY).expect("key");
        let plain = br#"{"name":"Ana Lima","phone":"+14155550003"}"#;
        let sealed = s.seal(b"entry-1", plain).expect("sealed");
        assert!(
            !sealed.windows(8).any(|w| w == b"Ana Lima"),
            "the name in clear"
        );
        assert_eq!(s.open(b"entry-1", &sealed).as_deref(), Some(&plain[..]));
        assert_eq!(s.open(b"entry-2", &sealed), None, "moved to another key");
        let other = Sealer::from_hex(&KEY.replace("00", "ff")).expect("key");
        assert_eq!(other.open(b"entry-1", &sealed), None, "another key");
        let mut altered = sealed.clone();
        altered[NONCE + 1] ^= 1;
        assert_eq!(s.open(b"entry-1", &altered), None, "altered");
        assert_eq!(s.open(b"entry-1", &sealed[..5]), None, "too short");
        assert_ne!(
            s.seal(b"entry-1", plain),
            Some(sealed),
            "a fresh nonce each time"
        );
    }

    #[test]
    fn names_are_keyed() {
        let a = Sealer::from_hex(KEY).expect("key");
        let b = Sealer::from_hex(&KEY.replace("0a", "aa")).expect("key");
        let phone: &[u8] = b"+14155550003";
        assert_eq!(a.name(&[phone]), a.name(&[phone]));
        assert_ne!(a.name(&[phone]), b.name(&[phone]));
        assert_ne!(
            a.name(&[b"ab", b"c"]),
            a.name(&[b"a", b"bc"]),
            "parts are delimited"
        );
        assert!(Sealer::from_hex("abcd").is_err());
        assert!(Sealer::from_hex(&"zz".repeat(32)).is_err());
    }
}
