//! The audit trail's API side: every state-changing request that passed
//! authentication is written to `audit_log` (who, which role, which route, which
//! entity, the request id, the answer's status and a digest of the body), and
//! admins read the trail at `GET /v1/audit`.

use axum::Json;
use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, OriginalUri, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Principal;
use crate::clients::Page;
use crate::extract::ApiQuery;
use crate::{ApiError, AppState};

/// Largest request body accepted (413 beyond).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

/// The `x-request-id` a client sent (if sane), or a new one; echoed back.
fn request_id(request: &Request) -> String {
    request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 100 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| Uuid::new_v4().to_string())
}

/// Reads that hand out protected health information in bulk are audited too.
const AUDITED_READS: [&str; 3] = ["/v1/claims/837p", "/v1/audit", "/v1/visits/{id}/evv"];

/// Records every write after it ran, with its status, and the reads in
/// [`AUDITED_READS`] (their digest is the query string's).
pub async fn record(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let id = request_id(&request);
    let pattern = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let read = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if read
        && !pattern
            .as_deref()
            .is_some_and(|p| AUDITED_READS.contains(&p))
    {
        let mut response = next.run(request).await;
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert("x-request-id", value);
        }
        return Ok(response);
    }
    let principal = request.extensions().get::<Principal>().cloned();
    let (parts, body) = request.into_parts();
    let bytes = to_bytes(body, MAX_BODY_BYTES).await.map_err(|_| {
        ApiError::PayloadTooLarge(format!(
            "request bodies are limited to {MAX_BODY_BYTES} bytes"
        ))
    })?;
    let digest = if read {
        hex::encode(Sha256::digest(parts.uri.query().unwrap_or_default()))
    } else {
        hex::encode(Sha256::digest(&bytes))
    };
    let method = parts.method.clone();
    // Inside the `/v1` nest the URI has lost its prefix; the original has it.
    let path = parts
        .extensions
        .get::<OriginalUri>()
        .map_or_else(|| parts.uri.path().to_owned(), |uri| uri.path().to_owned());
    let mut response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", value);
    }
    if let (Some(principal), Some(pattern)) = (principal, pattern) {
        let (entity_type, entity_id) = entity(&pattern, &path);
        write(
            &state,
            &principal,
            &format!("{method} {pattern}"),
            (&entity_type, entity_id.as_deref()),
            &id,
            response.status().as_u16(),
            &digest,
        )
        .await;
    }
    Ok(response)
}

/// Writes one audit row; a failure is logged (the request already happened).
pub(crate) async fn write(
    state: &AppState,
    principal: &Principal,
    action: &str,
    (entity_type, entity_id): (&str, Option<&str>),
    request_id: &str,
    status: u16,
    digest: &str,
) {
    let written = sqlx::query(
        "insert into audit_log (actor, role, action, entity_type, entity_id, request_id, status, digest)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&principal.subject)
    .bind(principal.role.as_str())
    .bind(action)
    .bind(entity_type)
    .bind(entity_id)
    .bind(request_id)
    .bind(i32::from(status))
    .bind(digest)
    .execute(&state.db)
    .await;
    if let Err(e) = written {
        tracing::error!(error = %e, %request_id, "audit row not written");
    }
}

/// The resource a route acts on, and its id when the path names one:
/// `/v1/visits/{id}/check-in` on `/v1/visits/3e8a…/check-in` is (`visits`, `3e8a…`).
fn entity(pattern: &str, path: &str) -> (String, Option<String>) {
    let pattern: Vec<&str> = pattern.trim_start_matches("/v1/").split('/').collect();
    let path: Vec<&str> = path.trim_start_matches("/v1/").split('/').collect();
    let entity_type = pattern.first().copied().unwrap_or("unknown").to_owned();
    let entity_id = pattern
        .iter()
        .position(|segment| *segment == "{id}" || *segment == "{day}")
        .and_then(|index| path.get(index))
        .map(|id| id.chars().take(100).collect());
    (entity_type, entity_id)
}

/// One audited action: a state-changing request or a workflow transition.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct AuditRow {
    /// Insertion order.
    pub seq: i64,
    pub at: DateTime<Utc>,
    /// The token's `sub`, or `workflow` for a transition.
    pub actor: String,
    pub role: String,
    /// `METHOD /v1/route/{pattern}`, or the workflow transition.
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    pub request_id: Option<String>,
    /// The answer's HTTP status (requests only).
    pub status: Option<i32>,
    /// SHA-256 of the change (the request body, or the transition's payload).
    pub digest: String,
    /// The row's place in the hash chain, once sealed.
    pub position: Option<i64>,
    /// The chain hash over this row and the previous one, once sealed.
    pub hash: Option<String>,
}

/// Which rows (the page: `Page`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// The resource: `visits`, `clients`, `payers`...
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    /// The token `sub` that acted.
    pub actor: Option<String>,
}

/// The trail, oldest first, filterable by entity and actor (admins only).
#[utoipa::path(get, path = "/audit", tag = "audit", operation_id = "list_audit_rows",
    params(AuditFilter, Page),
    responses((status = 200, description = "Audit rows, oldest first", body = Vec<AuditRow>)))]
async fn list(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<AuditFilter>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<AuditRow>>, ApiError> {
    let (limit, offset) = page.bounds()?;
    let rows = sqlx::query_as::<_, AuditRow>(
        "select seq, at, actor, role, action, entity_type, entity_id, request_id, status, digest, position, hash
           from audit_log
          where ($1::text is null or entity_type = $1)
            and ($2::text is null or entity_id = $2)
            and ($3::text is null or actor = $3)
          order by seq limit $4 offset $5",
    )
    .bind(&filter.entity_type)
    .bind(&filter.entity_id)
    .bind(&filter.actor)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(rows))
}

#[cfg(test)]
mod tests {
    use super::entity;

    #[test]
    fn the_entity_comes_from_the_routes_pattern() {
        assert_eq!(
            entity("/v1/visits/{id}/check-in", "/v1/visits/abc/check-in"),
            ("visits".to_owned(), Some("abc".to_owned()))
        );
        assert_eq!(
            entity("/v1/visits", "/v1/visits"),
            ("visits".to_owned(), None)
        );
        assert_eq!(
            entity("/v1/holidays/{day}", "/v1/holidays/2026-12-25"),
            ("holidays".to_owned(), Some("2026-12-25".to_owned()))
        );
    }
}
