//! The remote codec endpoint the Temporal UI (and `temporal --codec-endpoint`)
//! calls to show decrypted payloads to an authorised person: `POST
//! /codec/decode` and `POST /codec/encode`, body `{"payloads": [{"metadata":
//! {k: base64}, "data": base64}]}`. Admins and coordinators only; CORS lets the
//! Temporal UI's origin call it with the user's bearer token.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use homecare_store::codec::PayloadCrypto;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use temporalio_common::protos::temporal::api::common::v1::Payload;
use tower_http::cors::{AllowOrigin, CorsLayer};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::{Principal, Role};
use crate::extract::ApiJson;
use crate::{ApiError, AppState};

pub fn router(origins: &[String]) -> OpenApiRouter<AppState> {
    let origins: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            "x-namespace".parse().expect("a valid header name"),
        ])
        .allow_credentials(true);
    OpenApiRouter::new()
        .routes(routes!(decode))
        .routes(routes!(encode))
        .layer(cors)
}

/// A Temporal payload in its JSON form: metadata values and data in base64.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct JsonPayload {
    #[serde(default)]
    #[schema(required = false)]
    pub metadata: HashMap<String, String>,
    #[serde(default)]
    #[schema(required = false)]
    pub data: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Payloads {
    /// At most 1000 (a larger batch is a 422). Not stated as `maxItems`:
    /// schemathesis 4.32 fails internally building arrays that long.
    pub payloads: Vec<JsonPayload>,
}

fn to_proto(payload: JsonPayload) -> Result<Payload, ApiError> {
    let bad = |what: &str| ApiError::field("payloads", format!("{what} must be base64"));
    let metadata = payload
        .metadata
        .into_iter()
        .map(|(k, v)| Ok((k, STANDARD.decode(v).map_err(|_| bad("metadata values"))?)))
        .collect::<Result<_, ApiError>>()?;
    Ok(Payload {
        metadata,
        data: STANDARD.decode(payload.data).map_err(|_| bad("data"))?,
        ..Default::default()
    })
}

fn to_json(payload: Payload) -> JsonPayload {
    JsonPayload {
        metadata: payload
            .metadata
            .into_iter()
            .map(|(k, v)| (k, STANDARD.encode(v)))
            .collect(),
        data: STANDARD.encode(payload.data),
    }
}

/// Admins and coordinators, with a valid token (the codec sits outside `/v1`,
/// so it checks for itself).
fn authorise<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
) -> Result<(Principal, &'a PayloadCrypto), ApiError> {
    let principal = state
        .config
        .auth
        .verify(crate::auth::bearer(headers)?)
        .map_err(ApiError::Unauthorized)?;
    if !matches!(principal.role, Role::Admin | Role::Coordinator) {
        return Err(ApiError::Forbidden(
            "only admins and coordinators may decode workflow payloads".to_owned(),
        ));
    }
    let crypto = state
        .config
        .crypto
        .as_deref()
        .ok_or_else(|| ApiError::NotFound("payload encryption is not configured".to_owned()))?;
    Ok((principal, crypto))
}

const MAX_PAYLOADS: usize = 1000;

/// Applies `transform` to every payload of an authorised request.
async fn transform(
    state: &AppState,
    headers: &HeaderMap,
    action: &str,
    body: Payloads,
    transform: impl Fn(&PayloadCrypto, Payload) -> Result<Payload, ApiError>,
) -> Result<Json<Payloads>, ApiError> {
    let (principal, crypto) = authorise(state, headers)?;
    if body.payloads.len() > MAX_PAYLOADS {
        return Err(ApiError::field(
            "payloads",
            format!("at most {MAX_PAYLOADS}"),
        ));
    }
    let digest = hex::encode(Sha256::digest(
        serde_json::to_vec(&body).unwrap_or_default(),
    ));
    let payloads = body
        .payloads
        .into_iter()
        .map(|p| transform(crypto, to_proto(p)?).map(to_json))
        .collect::<Result<_, _>>()?;
    // Who read (or sealed) workflow payloads is on the audit trail.
    crate::audit::write(
        state,
        &principal,
        action,
        ("codec", None),
        &Uuid::new_v4().to_string(),
        200,
        &digest,
    )
    .await;
    Ok(Json(Payloads { payloads }))
}

/// Decrypts workflow payloads for the Temporal UI (admins and coordinators).
#[utoipa::path(post, path = "/codec/decode", tag = "codec", operation_id = "codec_decode",
    request_body = Payloads,
    params(("X-Namespace" = Option<String>, Header, description = "The Temporal namespace (sent by the UI; informative)")),
    responses((status = 200, description = "The payloads in clear", body = Payloads)))]
async fn decode(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Payloads>,
) -> Result<Json<Payloads>, ApiError> {
    transform(
        &state,
        &headers,
        "POST /codec/decode",
        body,
        |crypto, payload| {
            crypto
                .decrypt(payload)
                .map_err(|e| ApiError::Unprocessable {
                    code: "undecryptable",
                    detail: e.to_string(),
                })
        },
    )
    .await
}

/// Encrypts payloads with the current key (admins and coordinators).
#[utoipa::path(post, path = "/codec/encode", tag = "codec", operation_id = "codec_encode",
    request_body = Payloads,
    params(("X-Namespace" = Option<String>, Header, description = "The Temporal namespace (sent by the UI; informative)")),
    responses((status = 200, description = "The payloads encrypted", body = Payloads)))]
async fn encode(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Payloads>,
) -> Result<Json<Payloads>, ApiError> {
    transform(
        &state,
        &headers,
        "POST /codec/encode",
        body,
        |crypto, payload| crypto.encrypt(&payload).map_err(ApiError::internal),
    )
    .await
}
