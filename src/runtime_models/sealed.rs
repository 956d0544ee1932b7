//! Provider secrets given through the model API are stored sealed: ChaCha20-Poly1305 under a
//! key derived from `LITELLM_SALT_KEY` (LiteLLM's setting for the same purpose), else the master
//! key, so a copy of the database alone does not give away provider keys. A sealed value is
//! `sealed:v1:` + base64url(nonce ‖ ciphertext ‖ tag).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

const PREFIX: &str = "sealed:v1:";

/// The key that seals and opens stored secrets.
pub struct SealKey(LessSafeKey);

impl SealKey {
    /// SHA-256 of the salt key (or master key), as LiteLLM derives its encryption key.
    pub fn derive(secret: &str) -> SealKey {
        let digest = Sha256::digest(secret.as_bytes());
        let unbound = UnboundKey::new(&CHACHA20_POLY1305, &digest).expect("32-byte key"); // ok: a SHA-256 digest is a valid ChaCha20 key
        SealKey(LessSafeKey::new(unbound))
    }

    pub fn seal(&self, plain: &str) -> Result<String, String> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| "no randomness for a nonce".to_string())?;
        let mut buf = plain.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
            .map_err(|_| "sealing failed".to_string())?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out)))
    }

    /// The plain value of a sealed one; a value that is not sealed is returned as it is.
    pub fn open(&self, value: &str) -> Result<String, String> {
        let Some(encoded) = value.strip_prefix(PREFIX) else {
            return Ok(value.to_string());
        };
        let raw = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| "a sealed secret is not valid base64".to_string())?;
        if raw.len() < NONCE_LEN {
            return Err("a sealed secret is too short".to_string());
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| "a sealed secret has a bad nonce".to_string())?;
        let mut buf = sealed.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::empty(), &mut buf)
            .map_err(|_| {
                "a sealed secret does not open with this LITELLM_SALT_KEY (or master key)"
                    .to_string()
            })?;
        String::from_utf8(plain.to_vec()).map_err(|_| "a sealed secret is not text".to_string())
    }
}

pub fn is_sealed(value: &str) -> bool {
    value.starts_with(PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key() {
        let key = SealKey::derive("salt-1");
        let sealed = key.seal("sk-provider-secret").unwrap();
        assert!(is_sealed(&sealed) && !sealed.contains("sk-provider-secret"));
        assert_eq!(key.open(&sealed).unwrap(), "sk-provider-secret");
        assert_ne!(key.seal("x").unwrap(), key.seal("x").unwrap());
        assert!(SealKey::derive("salt-2").open(&sealed).is_err());
        assert_eq!(key.open("plain").unwrap(), "plain");
        for bad in [
            "sealed:v1:",
            "sealed:v1:!!",
            "sealed:v1:AAAA",
            &sealed[..sealed.len() - 2],
        ] {
            assert!(key.open(bad).is_err(), "{bad}");
        }
    }
}
