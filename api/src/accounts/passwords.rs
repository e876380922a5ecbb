//! Argon2id password hashes (RFC 9106's second recommended setting, the
//! crate's default: 19 MiB, 2 passes, 1 lane) and the random secrets of
//! sessions. Hashing is slow on purpose, so it runs off the async threads.

use argon2::Argon2;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::ApiError;

/// The PHC string of `password` with a fresh salt.
pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|hash| hash.to_string())
            .map_err(ApiError::internal)
    })
    .await
    .map_err(ApiError::internal)?
}

/// A hash no password matches, checked when the account does not exist so
/// that an unknown address takes as long to refuse as a known one.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$wRr1Jz4hYQyO8ZjX4m2n0b5vU3tSxqP7kLh9dGfEaCI";

/// Whether `password` matches `hash` (the decoy's when there is no account).
pub async fn verify(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DECOY.to_owned());
        let parsed = PasswordHash::new(&hash).map_err(ApiError::internal)?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok(known && matches)
    })
    .await
    .map_err(ApiError::internal)?
}

/// A new session secret (`prefix` + 256 random bits, URL-safe) and the digest
/// that is stored instead of it.
pub fn new_token(prefix: &str) -> (String, Vec<u8>) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let digest = digest(&token);
    (token, digest)
}

/// What is stored of a token: its SHA-256.
pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A password for a development or first admin account: 24 characters drawn
/// from letters and digits (about 143 bits).
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 24];
    OsRng.fill_bytes(&mut bytes);
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash("correct horse battery".to_owned()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify("correct horse battery".to_owned(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify("correct horse battery!".to_owned(), Some(hash))
                .await
                .unwrap()
        );
        // The decoy parses and matches nothing.
        assert!(!verify("anything at all".to_owned(), None).await.unwrap());
    }

    #[test]
    fn tokens_are_random_and_only_their_digest_is_kept() {
        let (a, digest_a) = new_token("hc_at_");
        let (b, _) = new_token("hc_at_");
        assert_ne!(a, b);
        assert!(a.starts_with("hc_at_") && a.len() == 6 + 43);
        assert_eq!(digest(&a), digest_a);
        assert_eq!(digest_a.len(), 32);
        let password = generate_password();
        assert_eq!(password.chars().count(), 24);
        assert_ne!(password, generate_password());
    }
}
