//! `/v1/clients`: the people who receive care, with where they live.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use homecare_domain::validation::{self, FieldErrors};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/clients", get(list).post(create))
        .route("/clients/{id}", get(show))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClient {
    pub name: String,
    pub address: String,
    pub latitude: f64,
    pub longitude: f64,
    pub timezone: String,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Client {
    pub id: Uuid,
    pub name: String,
    pub address: String,
    pub latitude: f64,
    pub longitude: f64,
    pub timezone: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize)]
pub struct Page {
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

impl Page {
    pub fn bounds(&self) -> Result<(i64, i64), ApiError> {
        let limit = self.limit.unwrap_or(100);
        let offset = self.offset.unwrap_or(0);
        let mut errors = FieldErrors::default();
        errors.check(
            (1..=1000).contains(&limit),
            "limit",
            "must be between 1 and 1000",
        );
        errors.check(offset >= 0, "offset", "must not be negative");
        errors.into_result()?;
        Ok((limit, offset))
    }
}

const COLUMNS: &str = "id, name, address, latitude, longitude, timezone, created_at";

#[tracing::instrument(skip_all)]
async fn create(
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewClient>,
) -> Result<(StatusCode, Json<Client>), ApiError> {
    let mut errors = FieldErrors::default();
    validation::name(&mut errors, "name", &new.name);
    validation::address(&mut errors, "address", &new.address);
    validation::coordinates(&mut errors, "", new.latitude, new.longitude);
    validation::timezone(&mut errors, "timezone", &new.timezone);
    errors.into_result()?;
    let client = sqlx::query_as::<_, Client>(&format!(
        "insert into clients (id, name, address, latitude, longitude, timezone)
         values ($1, $2, $3, $4, $5, $6) returning {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(new.name.trim())
    .bind(new.address.trim())
    .bind(new.latitude)
    .bind(new.longitude)
    .bind(&new.timezone)
    .fetch_one(&state.db)
    .await?;
    Ok((StatusCode::CREATED, Json(client)))
}

async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Client>, ApiError> {
    sqlx::query_as::<_, Client>(&format!("select {COLUMNS} from clients where id = $1"))
        .bind(id)
        .fetch_optional(&state.db)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("client {id} not found")))
}

async fn list(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<Client>>, ApiError> {
    let (limit, offset) = page.bounds()?;
    let clients = sqlx::query_as::<_, Client>(&format!(
        "select {COLUMNS} from clients order by created_at, id limit $1 offset $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(clients))
}
