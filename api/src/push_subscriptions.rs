//! Web Push from the API's side: the server's VAPID key for browsers to
//! subscribe with (`GET /v1/push/key`), and the signed-in person's
//! subscriptions (`/v1/me/push-subscriptions`, the shape of the browser's
//! `PushSubscription.toJSON()`). The notifier encrypts each message for the
//! device that subscribed last.

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use homecare_domain::validation::FieldErrors;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Principal;
use crate::extract::ApiJson;
use crate::notifications::own_account;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(key))
        .routes(routes!(subscribe, unsubscribe))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PushKey {
    /// The VAPID public key (uncompressed P-256 point, base64url): the
    /// `applicationServerKey` of `pushManager.subscribe`.
    pub public_key: String,
}

/// The key browsers subscribe to this server's push messages with.
#[utoipa::path(get, path = "/push/key", tag = "notifications", operation_id = "push_key",
    responses((status = 200, description = "The VAPID public key", body = PushKey)))]
#[tracing::instrument(skip_all)]
async fn key(State(state): State<AppState>) -> Result<Json<PushKey>, ApiError> {
    state
        .config
        .vapid_public_key
        .clone()
        .map(|public_key| Json(PushKey { public_key }))
        .ok_or_else(|| {
            ApiError::NotFound(
                "Web Push is not set up on this platform (HOMECARE_VAPID_PRIVATE_KEY)".to_owned(),
            )
        })
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushKeys {
    /// The browser's P-256 public key, base64url.
    pub p256dh: String,
    /// The browser's 16-byte authentication secret, base64url.
    pub auth: String,
}

/// A browser's push subscription, as `PushSubscription.toJSON()` gives it
/// (its `expirationTime`, if any, is not kept: a push service answers 404 or
/// 410 for an expired subscription, and the notifier then forgets it).
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"endpoint": "https://push.example.net/send/abc123",
    "expirationTime": null, "keys": {"p256dh": "BNcRd...", "auth": "tBHI..."}}))]
pub struct NewPushSubscription {
    pub endpoint: String,
    pub keys: PushKeys,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushEndpoint {
    pub endpoint: String,
}

fn decoded(value: &str) -> Option<Vec<u8>> {
    B64.decode(value.trim_end_matches('=')).ok()
}

/// Registers the caller's device for push messages (again: the newest wins).
#[utoipa::path(post, path = "/me/push-subscriptions", tag = "notifications",
    operation_id = "subscribe_to_push",
    request_body = NewPushSubscription,
    responses((status = 201, description = "Subscribed")))]
#[tracing::instrument(skip_all)]
async fn subscribe(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(new): ApiJson<NewPushSubscription>,
) -> Result<StatusCode, ApiError> {
    let (user, _) = own_account(&state, &principal).await?;
    let mut errors = FieldErrors::default();
    let endpoint = url::Url::parse(&new.endpoint).ok();
    errors.check(
        new.endpoint.len() <= 2000
            && endpoint.as_ref().is_some_and(|u| {
                u.scheme() == "https" || (u.scheme() == "http" && u.host_str() == Some("127.0.0.1"))
            }),
        "endpoint",
        "must be the push service's https URL",
    );
    errors.check(
        decoded(&new.keys.p256dh).is_some_and(|k| k.len() == 65 && k[0] == 4),
        "keys.p256dh",
        "must be an uncompressed P-256 public key, base64url",
    );
    errors.check(
        decoded(&new.keys.auth).is_some_and(|k| k.len() == 16),
        "keys.auth",
        "must be 16 bytes, base64url",
    );
    errors.into_result()?;
    sqlx::query(
        "insert into push_subscriptions (id, user_id, endpoint, p256dh, auth) values ($1, $2, $3, $4, $5)
         on conflict (endpoint) do update set user_id = $2, p256dh = $4, auth = $5, created_at = now()",
    )
    .bind(Uuid::new_v4())
    .bind(user)
    .bind(&new.endpoint)
    .bind(&new.keys.p256dh)
    .bind(&new.keys.auth)
    .execute(&state.db)
    .await?;
    Ok(StatusCode::CREATED)
}

/// Stops push messages to one of the caller's devices.
#[utoipa::path(delete, path = "/me/push-subscriptions", tag = "notifications",
    operation_id = "unsubscribe_from_push",
    request_body = PushEndpoint,
    responses((status = 204, description = "Unsubscribed")))]
#[tracing::instrument(skip_all)]
async fn unsubscribe(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<PushEndpoint>,
) -> Result<StatusCode, ApiError> {
    let (user, _) = own_account(&state, &principal).await?;
    sqlx::query("delete from push_subscriptions where endpoint = $1 and user_id = $2")
        .bind(&body.endpoint)
        .bind(user)
        .execute(&state.db)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
