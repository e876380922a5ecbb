//! `/v1/clients`: the people who receive care, with where they live, the care
//! plan's hard requirements (language, caregiver gender), and the caregivers they
//! prefer or refused.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use homecare_domain::validation::{self, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show))
        .routes(routes!(set_preference, remove_preference))
        .routes(routes!(list_preferences))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Eleanor Park", "address": "1452 W Belmont Ave, Chicago, IL 60657",
    "latitude": 41.94, "longitude": -87.67, "timezone": "America/Chicago", "required_language": "en"}))]
pub struct NewClient {
    /// Not blank, no control characters.
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    #[schema(min_length = 1, max_length = 500)]
    pub address: String,
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: f64,
    /// An IANA time zone, e.g. `America/Chicago`.
    pub timezone: String,
    /// The care plan requires a caregiver speaking this language (a tag such as `en`, `pt-br`).
    #[schema(min_length = 2, max_length = 16, pattern = "^[A-Za-z-]+$")]
    pub required_language: Option<String>,
    /// The care plan requires a caregiver of this gender.
    #[schema(value_type = Option<Gender>)]
    pub required_gender: Option<String>,
}

/// A caregiver's gender, as care plans may require it.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the accepted strings
#[schema(rename_all = "lowercase")]
pub(crate) enum Gender {
    Female,
    Male,
    Nonbinary,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Client {
    pub id: Uuid,
    pub name: String,
    pub address: String,
    pub latitude: f64,
    pub longitude: f64,
    pub timezone: String,
    pub required_language: Option<String>,
    pub required_gender: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A page of a list: every list takes it (alone or beside its filter).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// At most this many (1–1000, default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// Skip this many (default 0).
    #[param(minimum = 0)]
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

const COLUMNS: &str = "id, name, address, latitude, longitude, timezone, required_language, required_gender, created_at";

/// Registers a client.
#[utoipa::path(post, path = "/clients", tag = "clients", operation_id = "create_client",
    request_body = NewClient,
    responses((status = 201, description = "Registered", body = Client)))]
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
    if let Some(language) = &new.required_language {
        validation::languages(
            &mut errors,
            "required_language",
            std::slice::from_ref(language),
        );
    }
    if let Some(gender) = &new.required_gender {
        errors.check(
            ["female", "male", "nonbinary"].contains(&gender.as_str()),
            "required_gender",
            "must be female, male or nonbinary",
        );
    }
    errors.into_result()?;
    let client = sqlx::query_as::<_, Client>(&format!(
        "insert into clients (id, name, address, latitude, longitude, timezone, required_language, required_gender)
         values ($1, $2, $3, $4, $5, $6, $7, $8) returning {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(new.name.trim())
    .bind(new.address.trim())
    .bind(new.latitude)
    .bind(new.longitude)
    .bind(&new.timezone)
    .bind(new.required_language.as_deref().map(str::to_lowercase))
    .bind(&new.required_gender)
    .fetch_one(&state.db)
    .await?;
    Ok((StatusCode::CREATED, Json(client)))
}

/// One client.
#[utoipa::path(get, path = "/clients/{id}", tag = "clients", operation_id = "show_client",
    params(("id" = Uuid, Path, description = "The client")),
    responses((status = 200, description = "The client", body = Client)))]
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

/// Clients, oldest first.
#[utoipa::path(get, path = "/clients", tag = "clients", operation_id = "list_clients", params(Page),
    responses((status = 200, description = "A page of clients", body = Vec<Client>)))]
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferenceRequest {
    /// `preferred` (scored up) or `excluded` (never assigned: a hard rule).
    #[schema(value_type = PreferenceKind)]
    pub kind: String,
    #[schema(min_length = 1, max_length = 200)]
    pub reason: Option<String>,
}

/// How a client regards a caregiver.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the accepted strings
#[schema(rename_all = "lowercase")]
enum PreferenceKind {
    Preferred,
    Excluded,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Preference {
    pub client_id: Uuid,
    pub caregiver_id: Uuid,
    #[schema(value_type = PreferenceKind)]
    pub kind: String,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

const PREFERENCE_COLUMNS: &str = "client_id, caregiver_id, kind::text as kind, reason, created_at";

/// Records that the client prefers or refuses a caregiver. An exclusion applies
/// to every later decision; visits already booked stay (see the candidates view).
#[utoipa::path(put, path = "/clients/{id}/caregiver-preferences/{caregiver_id}", tag = "clients", operation_id = "set_caregiver_preference",
    params(("id" = Uuid, Path, description = "The client"),
           ("caregiver_id" = Uuid, Path, description = "The caregiver")),
    request_body = PreferenceRequest,
    responses((status = 200, description = "The preference as recorded", body = Preference)))]
#[tracing::instrument(skip_all, fields(client_id = %id, caregiver_id = %caregiver_id))]
async fn set_preference(
    State(state): State<AppState>,
    ApiPath((id, caregiver_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(request): ApiJson<PreferenceRequest>,
) -> Result<Json<Preference>, ApiError> {
    let mut errors = FieldErrors::default();
    errors.check(
        request.kind == "preferred" || request.kind == "excluded",
        "kind",
        "must be preferred or excluded",
    );
    if let Some(reason) = &request.reason {
        validation::name(&mut errors, "reason", reason);
    }
    errors.into_result()?;
    let (client, caregiver): (bool, bool) = sqlx::query_as(
        "select exists (select 1 from clients where id = $1),
                exists (select 1 from caregivers where id = $2)",
    )
    .bind(id)
    .bind(caregiver_id)
    .fetch_one(&state.db)
    .await?;
    if !client {
        return Err(ApiError::NotFound(format!("client {id} not found")));
    }
    if !caregiver {
        return Err(ApiError::NotFound(format!(
            "caregiver {caregiver_id} not found"
        )));
    }
    let preference = sqlx::query_as::<_, Preference>(&format!(
        "insert into client_caregiver_preferences (client_id, caregiver_id, kind, reason)
         values ($1, $2, $3::caregiver_preference, $4)
         on conflict (client_id, caregiver_id)
         do update set kind = excluded.kind, reason = excluded.reason
         returning {PREFERENCE_COLUMNS}"
    ))
    .bind(id)
    .bind(caregiver_id)
    .bind(&request.kind)
    .bind(request.reason.as_deref().map(str::trim))
    .fetch_one(&state.db)
    .await?;
    Ok(Json(preference))
}

/// Forgets a preference or exclusion.
#[utoipa::path(delete, path = "/clients/{id}/caregiver-preferences/{caregiver_id}", tag = "clients", operation_id = "remove_caregiver_preference",
    params(("id" = Uuid, Path, description = "The client"),
           ("caregiver_id" = Uuid, Path, description = "The caregiver")),
    responses((status = 204, description = "Removed")))]
async fn remove_preference(
    State(state): State<AppState>,
    ApiPath((id, caregiver_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, ApiError> {
    let removed = sqlx::query(
        "delete from client_caregiver_preferences where client_id = $1 and caregiver_id = $2",
    )
    .bind(id)
    .bind(caregiver_id)
    .execute(&state.db)
    .await?
    .rows_affected();
    if removed == 0 {
        return Err(ApiError::NotFound("no such preference".to_owned()));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The caregivers a client prefers or refused.
#[utoipa::path(get, path = "/clients/{id}/caregiver-preferences", tag = "clients", operation_id = "list_caregiver_preferences",
    params(("id" = Uuid, Path, description = "The client")),
    responses((status = 200, description = "Preferences, oldest first", body = Vec<Preference>)))]
async fn list_preferences(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Vec<Preference>>, ApiError> {
    let preferences = sqlx::query_as::<_, Preference>(&format!(
        "select {PREFERENCE_COLUMNS} from client_caregiver_preferences
          where client_id = $1 order by created_at, caregiver_id"
    ))
    .bind(id)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(preferences))
}
