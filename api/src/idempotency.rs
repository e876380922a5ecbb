//! `Idempotency-Key`: a client's name for one logical request, so that a
//! retry (a lost answer, a phone sending again) lands on the first request's
//! outcome instead of acting twice. Creations derive their id from the key;
//! workflow commands use it as the Temporal update id.

use axum::http::HeaderMap;
use uuid::Uuid;

use crate::ApiError;

/// The optional `Idempotency-Key` header, as the OpenAPI document states it
/// (`idempotency_key` reads it).
#[derive(utoipa::IntoParams)]
#[into_params(names("Idempotency-Key"), parameter_in = Header)]
#[allow(dead_code)] // documents the header
pub(crate) struct IdempotencyKey(
    /// Makes a retry land on the first request's outcome instead of acting
    /// twice: 1–200 printable ASCII characters, e.g. a UUID per logical request.
    #[param(pattern = "^[!-~]{1,200}$")]
    Option<String>,
);

/// An `Idempotency-Key` makes a retried request land on the same visit or update.
pub(crate) fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 200 && k.chars().all(|c| c.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::field(
                "Idempotency-Key",
                "must be 1-200 printable ASCII characters",
            )
        })?;
    Ok(Some(key.to_owned()))
}

/// A v5 id derived from the key within `namespace`: the same key always names
/// the same resource, so a retried creation finds what the first one made.
pub(crate) fn keyed_id(namespace: &Uuid, key: &str) -> Uuid {
    Uuid::new_v5(namespace, key.as_bytes())
}
