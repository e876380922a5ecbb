//! `GET /v1/visits/{id}/events`: a visit's events in the order they happened,
//! from the same rows the outbox publishes (the console's timeline).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::ApiPath;
use crate::state::ensure_exists;
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(timeline))
}

/// One event of a visit: its CloudEvents type and time, and its data.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct TimelineEvent {
    pub event_id: Uuid,
    /// The event type, e.g. `homecare.visit.checked_in`.
    #[serde(rename = "type")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// The event's `data`, as on the stream (see the AsyncAPI document).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// A visit's events, oldest first (staff).
#[utoipa::path(get, path = "/visits/{id}/events", tag = "visits", operation_id = "visit_timeline",
    params(("id" = Uuid, Path, description = "The visit")),
    responses((status = 200, description = "The visit's events, oldest first", body = Vec<TimelineEvent>)))]
#[tracing::instrument(skip_all)]
async fn timeline(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Vec<TimelineEvent>>, ApiError> {
    ensure_exists(&state, "visits", "visit", id).await?;
    let events = sqlx::query_as::<_, TimelineEvent>(
        "select event_id, event_type, occurred_at, coalesce(envelope -> 'data', 'null'::jsonb) as data
         from visit_events where visit_id = $1 order by occurred_at, event_id",
    )
    .bind(id)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(events))
}
