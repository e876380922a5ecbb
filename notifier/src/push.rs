//! Web Push: a message encrypted for one browser (RFC 8291, with RFC 8188's
//! `aes128gcm` content coding) and signed for by this server (VAPID, RFC
//! 8292), POSTed to the push service's endpoint (RFC 8030).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hkdf::Hkdf;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::{PublicKey, SecretKey};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;

/// The record size announced in the header; one record holds any message we send.
const RECORD_SIZE: u32 = 4096;

/// Why a message cannot be encrypted for a subscription (its keys are not a
/// browser's): permanent.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("the subscription's p256dh is not a P-256 public key")]
    PublicKey,
    #[error("the subscription's auth secret is not 16 bytes")]
    Auth,
    #[error("the message is too long for one record")]
    TooLong,
}

/// The server's VAPID identity: a P-256 key and a contact (`mailto:` or `https:`).
#[derive(Clone)]
pub struct Vapid {
    key: SigningKey,
    subject: String,
}

impl std::fmt::Debug for Vapid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vapid")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

impl Vapid {
    /// From the private key as web-push tools print it: the 32-byte scalar,
    /// base64url.
    pub fn from_base64(private_key: &str, subject: &str) -> Result<Self, String> {
        let bytes = B64
            .decode(private_key.trim().trim_end_matches('='))
            .map_err(|e| format!("not base64url: {e}"))?;
        let secret =
            SecretKey::from_slice(&bytes).map_err(|_| "not a P-256 private key".to_owned())?;
        if !(subject.starts_with("mailto:") || subject.starts_with("https:")) {
            return Err("the VAPID subject must be a mailto: or https: URL".to_owned());
        }
        Ok(Self {
            key: SigningKey::from(secret),
            subject: subject.to_owned(),
        })
    }

    /// The public key browsers subscribe with (`applicationServerKey`):
    /// uncompressed point, base64url.
    pub fn public_key(&self) -> String {
        B64.encode(self.key.verifying_key().to_encoded_point(false).as_bytes())
    }

    /// The `Authorization` header for a request to `endpoint`: a JWT (ES256)
    /// for the endpoint's origin, good for 12 hours, and the public key.
    pub fn authorization(&self, endpoint: &url::Url, now: i64) -> String {
        let origin = endpoint.origin().ascii_serialization();
        let header = B64.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims =
            serde_json::json!({"aud": origin, "exp": now + 12 * 3600, "sub": self.subject});
        let claims = B64.encode(claims.to_string());
        let signing_input = format!("{header}.{claims}");
        let signature: Signature = self.key.sign(signing_input.as_bytes());
        format!(
            "vapid t={signing_input}.{}, k={}",
            B64.encode(signature.to_bytes()),
            self.public_key()
        )
    }
}

fn expand<const N: usize>(hkdf: &Hkdf<Sha256>, info: &[&[u8]]) -> [u8; N] {
    let mut out = [0u8; N];
    hkdf.expand_multi_info(info, &mut out)
        .expect("HKDF output length is valid");
    out
}

/// The body of a push message: `plaintext` encrypted for the browser whose
/// subscription has `p256dh` and `auth` (base64url), with a fresh key pair
/// and salt.
pub fn encrypt(p256dh: &str, auth: &str, plaintext: &[u8]) -> Result<Vec<u8>, PushError> {
    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    encrypt_with(
        p256dh,
        auth,
        plaintext,
        &SecretKey::random(&mut OsRng),
        salt,
    )
}

/// [`encrypt`] with the sender's key and the salt given (RFC 8291 section 3.4).
pub fn encrypt_with(
    p256dh: &str,
    auth: &str,
    plaintext: &[u8],
    sender: &SecretKey,
    salt: [u8; 16],
) -> Result<Vec<u8>, PushError> {
    let ua_public = B64
        .decode(p256dh.trim_end_matches('='))
        .map_err(|_| PushError::PublicKey)?;
    let ua_key = PublicKey::from_sec1_bytes(&ua_public).map_err(|_| PushError::PublicKey)?;
    let auth = B64
        .decode(auth.trim_end_matches('='))
        .map_err(|_| PushError::Auth)?;
    if auth.len() != 16 {
        return Err(PushError::Auth);
    }
    if plaintext.len() + 1 + 16 > RECORD_SIZE as usize {
        return Err(PushError::TooLong);
    }
    let as_public = sender.public_key().to_encoded_point(false);
    let shared = p256::ecdh::diffie_hellman(sender.to_nonzero_scalar(), ua_key.as_affine());
    // IKM = HKDF(auth_secret, ecdh_secret, "WebPush: info" 0x00 ua_public as_public, 32)
    let ikm: [u8; 32] = expand(
        &Hkdf::<Sha256>::new(Some(&auth), shared.raw_secret_bytes()),
        &[b"WebPush: info\0", &ua_public, as_public.as_bytes()],
    );
    let prk = Hkdf::<Sha256>::new(Some(&salt), &ikm);
    let cek: [u8; 16] = expand(&prk, &[b"Content-Encoding: aes128gcm\0"]);
    let nonce: [u8; 12] = expand(&prk, &[b"Content-Encoding: nonce\0"]);
    // One record: the message, then the last-record delimiter (2).
    let mut record = plaintext.to_vec();
    record.push(2);
    let ciphertext = Aes128Gcm::new(&cek.into())
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &record,
                aad: b"",
            },
        )
        .expect("AES-GCM encrypts any record");
    let mut body = Vec::with_capacity(16 + 4 + 1 + 65 + ciphertext.len());
    body.extend_from_slice(&salt);
    body.extend_from_slice(&RECORD_SIZE.to_be_bytes());
    body.push(as_public.as_bytes().len() as u8);
    body.extend_from_slice(as_public.as_bytes());
    body.extend_from_slice(&ciphertext);
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 8291 appendix A's keys are not reproduced here; the e2e test
    /// decrypts with the reference implementation (`http_ece`). This checks
    /// the layout: salt, record size, key id, and one record's length.
    #[test]
    fn the_body_has_the_aes128gcm_header_and_one_record() {
        let browser = SecretKey::random(&mut OsRng);
        let p256dh = B64.encode(browser.public_key().to_encoded_point(false).as_bytes());
        let auth = B64.encode([7u8; 16]);
        let sender = SecretKey::random(&mut OsRng);
        let body = encrypt_with(&p256dh, &auth, b"hello", &sender, [1u8; 16]).unwrap();
        assert_eq!(&body[..16], &[1u8; 16]);
        assert_eq!(u32::from_be_bytes(body[16..20].try_into().unwrap()), 4096);
        assert_eq!(body[20], 65);
        assert_eq!(
            &body[21..86],
            sender.public_key().to_encoded_point(false).as_bytes()
        );
        assert_eq!(body.len(), 86 + 5 + 1 + 16);
        assert!(matches!(
            encrypt(&p256dh, "AAAA", b"x"),
            Err(PushError::Auth)
        ));
        assert!(matches!(
            encrypt("AAAA", &auth, b"x"),
            Err(PushError::PublicKey)
        ));
    }

    #[test]
    fn vapid_signs_for_the_endpoints_origin() {
        let key = B64.encode(SecretKey::random(&mut OsRng).to_bytes());
        let vapid = Vapid::from_base64(&key, "mailto:ops@agency.example").unwrap();
        let header =
            vapid.authorization(&"https://push.example.net/send/abc".parse().unwrap(), 1_000);
        let (token, k) = header
            .strip_prefix("vapid t=")
            .unwrap()
            .split_once(", k=")
            .unwrap();
        assert_eq!(k, vapid.public_key());
        let claims = token.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&B64.decode(claims).unwrap()).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net");
        assert_eq!(claims["exp"], 1_000 + 12 * 3600);
        assert!(Vapid::from_base64(&key, "ops@agency.example").is_err());
    }
}
