//! `/v1/caregivers`: the people who deliver care, with their skills.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use homecare_domain::validation::{self, FieldErrors};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::clients::Page;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/caregivers", get(list).post(create))
        .route("/caregivers/{id}", get(show))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCaregiver {
    pub name: String,
    #[serde(default)]
    pub skills: Vec<String>,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Caregiver {
    pub id: Uuid,
    pub name: String,
    pub skills: Vec<String>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, name, skills, active, created_at";

#[tracing::instrument(skip_all)]
async fn create(
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewCaregiver>,
) -> Result<(StatusCode, Json<Caregiver>), ApiError> {
    let mut errors = FieldErrors::default();
    validation::name(&mut errors, "name", &new.name);
    validation::skills(&mut errors, "skills", &new.skills);
    errors.into_result()?;
    let mut skills = new.skills;
    skills.sort();
    skills.dedup();
    let caregiver = sqlx::query_as::<_, Caregiver>(&format!(
        "insert into caregivers (id, name, skills) values ($1, $2, $3) returning {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(new.name.trim())
    .bind(&skills)
    .fetch_one(&state.db)
    .await?;
    Ok((StatusCode::CREATED, Json(caregiver)))
}

async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Caregiver>, ApiError> {
    sqlx::query_as::<_, Caregiver>(&format!("select {COLUMNS} from caregivers where id = $1"))
        .bind(id)
        .fetch_optional(&state.db)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("caregiver {id} not found")))
}

async fn list(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<Caregiver>>, ApiError> {
    let (limit, offset) = page.bounds()?;
    let caregivers = sqlx::query_as::<_, Caregiver>(&format!(
        "select {COLUMNS} from caregivers order by created_at, id limit $1 offset $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(caregivers))
}
