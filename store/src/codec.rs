//! Encrypted workflow payloads: a Temporal `PayloadCodec` that seals every
//! payload (workflow inputs and results, activity inputs and results, updates,
//! signals, queries) with AES-256-GCM before it leaves the process, so the
//! Temporal server, its database and its UI only ever hold ciphertext.
//!
//! Format: the original `Payload` (metadata and data) is protobuf-encoded and
//! encrypted with a fresh 96-bit nonce; the new payload's data is nonce ‖
//! ciphertext, its metadata `encoding = binary/encrypted` and
//! `encryption-key-id = <kid>` (the convention other Temporal SDKs' samples use,
//! so their tools recognise it). Keys rotate by adding a new id: new payloads use
//! the current id, old ones decrypt with theirs. Payloads without the encrypted
//! encoding pass through, so histories written before encryption still decode.

use std::collections::HashMap;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use futures::future::BoxFuture;
use prost::Message;
use temporalio_common::data_converters::{
    DataConverter, PayloadCodec, PayloadConversionError, SerializationContextData,
};
use temporalio_common::protos::temporal::api::common::v1::Payload;

pub const ENCODING: &str = "binary/encrypted";
pub const KEY_ID: &str = "encryption-key-id";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error(
        "HOMECARE_PAYLOAD_KEYS is empty; give `<key id>:<base64 of 32 random bytes>`, comma-separated"
    )]
    Empty,
    #[error("payload key entry {0} is not `<key id>:<base64 of 32 bytes>`")]
    Malformed(usize),
    #[error("payload key {0} is not 32 bytes of base64")]
    BadKey(String),
    #[error("HOMECARE_PAYLOAD_KEY_ID {0} is not among HOMECARE_PAYLOAD_KEYS")]
    UnknownCurrent(String),
}

/// The keys by id, and the id new payloads are sealed with.
#[derive(Clone)]
pub struct PayloadCrypto {
    current: String,
    keys: HashMap<String, Aes256Gcm>,
}

impl std::fmt::Debug for PayloadCrypto {
    // Keys are secrets: only their ids are printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut ids: Vec<&String> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("PayloadCrypto")
            .field("current", &self.current)
            .field("key_ids", &ids)
            .finish()
    }
}

impl PayloadCrypto {
    /// `keys` is `kid:base64,kid:base64`; `current` defaults to the first id.
    pub fn parse(keys: &str, current: Option<&str>) -> Result<Self, KeyError> {
        let mut parsed = HashMap::new();
        let mut first = None;
        for (index, entry) in keys
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let (id, key) = entry
                .split_once(':')
                .ok_or(KeyError::Malformed(index + 1))?;
            let id = id.trim();
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(KeyError::Malformed(index + 1));
            }
            let bytes = STANDARD
                .decode(key.trim())
                .ok()
                .filter(|b| b.len() == 32)
                .ok_or_else(|| KeyError::BadKey(id.to_owned()))?;
            let cipher =
                Aes256Gcm::new_from_slice(&bytes).map_err(|_| KeyError::BadKey(id.to_owned()))?;
            first.get_or_insert_with(|| id.to_owned());
            parsed.insert(id.to_owned(), cipher);
        }
        let first = first.ok_or(KeyError::Empty)?;
        let current = current.map(str::to_owned).unwrap_or(first);
        if !parsed.contains_key(&current) {
            return Err(KeyError::UnknownCurrent(current));
        }
        Ok(Self {
            current,
            keys: parsed,
        })
    }

    pub fn current_key_id(&self) -> &str {
        &self.current
    }

    pub fn encrypt(&self, payload: &Payload) -> Result<Payload, PayloadConversionError> {
        let cipher = &self.keys[&self.current];
        let nonce_bytes: [u8; 12] = rand_nonce();
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce_bytes),
                payload.encode_to_vec().as_slice(),
            )
            .map_err(|_| failure("encryption failed"))?;
        let mut data = nonce_bytes.to_vec();
        data.extend_from_slice(&sealed);
        Ok(Payload {
            metadata: HashMap::from([
                ("encoding".to_owned(), ENCODING.as_bytes().to_vec()),
                (KEY_ID.to_owned(), self.current.as_bytes().to_vec()),
            ]),
            data,
            ..Default::default()
        })
    }

    /// Decrypts an encrypted payload; any other passes through unchanged.
    pub fn decrypt(&self, payload: Payload) -> Result<Payload, PayloadConversionError> {
        if payload.metadata.get("encoding").map(Vec::as_slice) != Some(ENCODING.as_bytes()) {
            return Ok(payload);
        }
        let id = payload
            .metadata
            .get(KEY_ID)
            .and_then(|id| std::str::from_utf8(id).ok())
            .ok_or_else(|| failure("encrypted payload without a key id"))?;
        let cipher = self
            .keys
            .get(id)
            .ok_or_else(|| failure(&format!("no payload key {id} (rotated out too early?)")))?;
        if payload.data.len() < 12 {
            return Err(failure("encrypted payload too short"));
        }
        let (nonce, sealed) = payload.data.split_at(12);
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| failure("payload does not decrypt: wrong key or tampered"))?;
        Payload::decode(plain.as_slice()).map_err(|_| failure("decrypted payload is not a payload"))
    }

    /// A data converter with the default JSON converters and this codec.
    pub fn data_converter(self: &Arc<Self>) -> DataConverter {
        DataConverter::new(
            Default::default(),
            temporalio_common::data_converters::DefaultFailureConverter::default(),
            EncryptionCodec(self.clone()),
        )
    }
}

fn failure(message: &str) -> PayloadConversionError {
    PayloadConversionError::EncodingError(message.to_owned().into())
}

fn rand_nonce() -> [u8; 12] {
    use aes_gcm::aead::OsRng;
    use aes_gcm::aead::rand_core::RngCore;
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    nonce
}

/// The codec Temporal calls for every payload in and out.
#[derive(Clone)]
pub struct EncryptionCodec(pub Arc<PayloadCrypto>);

impl PayloadCodec for EncryptionCodec {
    fn encode(
        &self,
        _context: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let crypto = self.0.clone();
        Box::pin(async move { payloads.iter().map(|p| crypto.encrypt(p)).collect() })
    }

    fn decode(
        &self,
        _context: &SerializationContextData,
        payloads: Vec<Payload>,
    ) -> BoxFuture<'static, Result<Vec<Payload>, PayloadConversionError>> {
        let crypto = self.0.clone();
        Box::pin(async move { payloads.into_iter().map(|p| crypto.decrypt(p)).collect() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        STANDARD.encode([byte; 32])
    }

    fn json_payload(text: &str) -> Payload {
        Payload {
            metadata: HashMap::from([("encoding".to_owned(), b"json/plain".to_vec())]),
            data: format!("{{\"note\":\"{text}\"}}").into_bytes(),
            ..Default::default()
        }
    }

    #[test]
    fn a_payload_round_trips_and_its_text_is_gone_from_the_ciphertext() {
        let crypto = PayloadCrypto::parse(&format!("k1:{}", key(1)), None).unwrap();
        let plain = json_payload("Eleanor Park");
        let sealed = crypto.encrypt(&plain).unwrap();
        assert_eq!(sealed.metadata["encoding"], ENCODING.as_bytes());
        assert_eq!(sealed.metadata[KEY_ID], b"k1");
        let bytes = sealed.encode_to_vec();
        assert!(!bytes.windows(7).any(|w| w == b"Eleanor"));
        assert_eq!(crypto.decrypt(sealed).unwrap(), plain);
        // Two encryptions of the same payload differ (fresh nonce).
        assert_ne!(
            crypto.encrypt(&plain).unwrap().data,
            crypto.encrypt(&plain).unwrap().data
        );
    }

    #[test]
    fn rotation_keeps_old_payloads_readable_and_a_tampered_one_fails() {
        let old = PayloadCrypto::parse(&format!("k1:{}", key(1)), None).unwrap();
        let sealed_with_k1 = old.encrypt(&json_payload("x")).unwrap();
        let rotated =
            PayloadCrypto::parse(&format!("k1:{},k2:{}", key(1), key(2)), Some("k2")).unwrap();
        assert_eq!(
            rotated.encrypt(&json_payload("y")).unwrap().metadata[KEY_ID],
            b"k2"
        );
        assert_eq!(
            rotated.decrypt(sealed_with_k1.clone()).unwrap(),
            json_payload("x")
        );
        let mut tampered = sealed_with_k1;
        let last = tampered.data.len() - 1;
        tampered.data[last] ^= 1;
        assert!(rotated.decrypt(tampered).is_err());
        // Without the old key it cannot be read at all.
        let only_k2 = PayloadCrypto::parse(&format!("k2:{}", key(2)), None).unwrap();
        assert!(
            only_k2
                .decrypt(old.encrypt(&json_payload("z")).unwrap())
                .is_err()
        );
        // Plain payloads (histories from before encryption) pass through.
        assert_eq!(
            only_k2.decrypt(json_payload("p")).unwrap(),
            json_payload("p")
        );
    }

    #[test]
    fn bad_key_configuration_is_refused() {
        assert!(matches!(
            PayloadCrypto::parse("", None),
            Err(KeyError::Empty)
        ));
        assert!(matches!(
            PayloadCrypto::parse("k1", None),
            Err(KeyError::Malformed(1))
        ));
        assert!(matches!(
            PayloadCrypto::parse("k1:c2hvcnQ=", None),
            Err(KeyError::BadKey(_))
        ));
        let keys = format!("k1:{}", key(1));
        assert!(matches!(
            PayloadCrypto::parse(&keys, Some("k9")),
            Err(KeyError::UnknownCurrent(_))
        ));
        assert!(!format!("{:?}", PayloadCrypto::parse(&keys, None).unwrap()).contains(&key(1)));
    }
}
