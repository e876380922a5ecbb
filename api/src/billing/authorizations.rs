//! `/v1/clients/{id}/authorizations`: units a payer authorized, with the
//! units used and left in each period.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{NaiveDate, Utc};
use homecare_domain::validation::{self, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::payers::ensure_payer;
use crate::evv::ensure_client;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::{ApiError, AppState};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_authorizations, create_authorization))
        .routes(routes!(update_authorization))
}

/// An authorization with the units used and left in one of its periods.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct AuthorizationView {
    pub id: Uuid,
    pub client_id: Uuid,
    pub payer_id: Uuid,
    pub service_code: String,
    pub valid_from: NaiveDate,
    /// The last day (inclusive).
    pub valid_to: NaiveDate,
    /// Units authorized per period.
    pub units: i32,
    #[schema(value_type = AuthorizationPeriod)]
    pub per: String,
    pub reference: Option<String>,
    /// The week or month containing `on` (within the authorization).
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub used_units: i64,
    pub remaining_units: i64,
}

/// The period an authorization counts units in: a week (Monday to Sunday) or a
/// calendar month.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the accepted strings
#[schema(rename_all = "lowercase")]
enum AuthorizationPeriod {
    Week,
    Month,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAuthorization {
    pub payer_id: Uuid,
    /// A known HCPCS service code.
    #[schema(pattern = "^[A-Z][0-9]{4}$")]
    pub service_code: String,
    pub valid_from: NaiveDate,
    /// The last day (inclusive), not before `valid_from`.
    pub valid_to: NaiveDate,
    /// Units authorized per period.
    #[schema(minimum = 1, maximum = 100000)]
    pub units: i32,
    /// `week` (Monday to Sunday) or `month`.
    #[schema(value_type = AuthorizationPeriod)]
    pub per: String,
    /// The payer's authorization number: 1 to 50 characters (trimmed).
    #[schema(min_length = 1, max_length = 50)]
    pub reference: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OnDate {
    /// The day whose period to report; defaults to today (UTC).
    pub on: Option<NaiveDate>,
}

async fn authorizations(
    state: &AppState,
    client_id: Uuid,
    on: NaiveDate,
    id: Option<Uuid>,
) -> Result<Vec<AuthorizationView>, ApiError> {
    Ok(sqlx::query_as::<_, AuthorizationView>(
        "with p as (
            select a.*, greatest(lower(a.valid), lower(r.period)) as period_start,
                   least(upper(a.valid), upper(r.period)) - 1 as period_end
              from authorizations a, lateral (select authorization_period(a.per, $2::date) as period) r
             where a.client_id = $1 and ($3::uuid is null or a.id = $3))
         select p.id, p.client_id, p.payer_id, p.service_code, lower(p.valid) as valid_from,
                upper(p.valid) - 1 as valid_to, p.units, p.per::text as per, p.reference,
                p.period_start, p.period_end, u.used as used_units, p.units - u.used as remaining_units
           from p, lateral (select coalesce(sum(l.units), 0)::bigint as used from invoice_lines l
                             where l.authorization_id = p.id
                               and l.service_date between p.period_start and p.period_end) u
          order by p.service_code, lower(p.valid)",
    )
    .bind(client_id)
    .bind(on)
    .bind(id)
    .fetch_all(&state.db)
    .await?)
}

/// The client's authorizations, with the units used and left in the period
/// containing `on`.
#[utoipa::path(get, path = "/clients/{id}/authorizations", tag = "billing", operation_id = "list_client_authorizations",
    params(("id" = Uuid, Path, description = "The client"), OnDate),
    responses((status = 200, description = "The client's authorizations, by service code and start date", body = Vec<AuthorizationView>)))]
async fn list_authorizations(
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<OnDate>,
) -> Result<Json<Vec<AuthorizationView>>, ApiError> {
    ensure_client(&state, client_id).await?;
    let on = query.on.unwrap_or_else(|| Utc::now().date_naive());
    Ok(Json(authorizations(&state, client_id, on, None).await?))
}

/// Units a payer authorized. Two authorizations of one client, payer and code
/// never overlap in time (409).
#[utoipa::path(post, path = "/clients/{id}/authorizations", tag = "billing", operation_id = "create_client_authorization",
    params(("id" = Uuid, Path, description = "The client")),
    request_body = NewAuthorization,
    responses((status = 201, description = "Recorded, reported for its first period", body = AuthorizationView)))]
async fn create_authorization(
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewAuthorization>,
) -> Result<(StatusCode, Json<AuthorizationView>), ApiError> {
    let mut errors = FieldErrors::default();
    validation::calendar_date(&mut errors, "valid_from", new.valid_from);
    validation::calendar_date(&mut errors, "valid_to", new.valid_to);
    errors.check(
        new.valid_to >= new.valid_from,
        "valid_to",
        "must not be before valid_from",
    );
    errors.check(
        (1..=100_000).contains(&new.units),
        "units",
        "must be 1 to 100000",
    );
    errors.check(
        ["week", "month"].contains(&new.per.as_str()),
        "per",
        "must be week or month",
    );
    if let Some(reference) = &new.reference {
        validation::text(&mut errors, "reference", reference, 50);
    }
    errors.into_result()?;
    ensure_client(&state, client_id).await?;
    ensure_payer(&state, new.payer_id).await?;
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into authorizations (id, client_id, payer_id, service_code, valid, units, per, reference)
         values ($1, $2, $3, $4, daterange($5, $6, '[]'), $7, $8::authorization_period, $9)",
    )
    .bind(id)
    .bind(client_id)
    .bind(new.payer_id)
    .bind(&new.service_code)
    .bind(new.valid_from)
    .bind(new.valid_to)
    .bind(new.units)
    .bind(&new.per)
    .bind(new.reference.as_deref().map(str::trim))
    .execute(&state.db)
    .await?;
    let view = authorizations(&state, client_id, new.valid_from, Some(id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("authorization vanished after insert"))?;
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizationChange {
    /// The new number of units per period (a payer's extension).
    #[schema(minimum = 1, maximum = 100000)]
    pub units: i32,
    /// The new last day (inclusive), not before the authorization's first.
    pub valid_to: NaiveDate,
    /// A new authorization number (1 to 50 characters, trimmed); none keeps it.
    #[schema(min_length = 1, max_length = 50)]
    pub reference: Option<String>,
}

/// A payer extended or changed an authorization: units and end date. Visits held
/// by `authorization_exceeded` bill once a coordinator resolves them with
/// `authorization_updated`.
#[utoipa::path(put, path = "/clients/{id}/authorizations/{authorization_id}", tag = "billing", operation_id = "update_client_authorization",
    params(("id" = Uuid, Path, description = "The client"),
           ("authorization_id" = Uuid, Path, description = "The authorization")),
    request_body = AuthorizationChange,
    responses((status = 200, description = "The authorization, reported for today's period (or its first, if later)", body = AuthorizationView)))]
async fn update_authorization(
    State(state): State<AppState>,
    ApiPath((client_id, authorization_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(change): ApiJson<AuthorizationChange>,
) -> Result<Json<AuthorizationView>, ApiError> {
    let mut errors = FieldErrors::default();
    validation::calendar_date(&mut errors, "valid_to", change.valid_to);
    errors.check(
        (1..=100_000).contains(&change.units),
        "units",
        "must be 1 to 100000",
    );
    if let Some(reference) = &change.reference {
        validation::text(&mut errors, "reference", reference, 50);
    }
    errors.into_result()?;
    let updated: Option<NaiveDate> = sqlx::query_scalar(
        "update authorizations
            set units = $3, valid = daterange(lower(valid), $4, '[]'), reference = coalesce($5, reference)
          where id = $2 and client_id = $1 and $4 >= lower(valid)
          returning lower(valid)",
    )
    .bind(client_id)
    .bind(authorization_id)
    .bind(change.units)
    .bind(change.valid_to)
    .bind(change.reference.as_deref().map(str::trim))
    .fetch_optional(&state.db)
    .await?;
    let Some(valid_from) = updated else {
        let exists: bool = sqlx::query_scalar(
            "select exists (select 1 from authorizations where id = $1 and client_id = $2)",
        )
        .bind(authorization_id)
        .bind(client_id)
        .fetch_one(&state.db)
        .await?;
        return Err(if exists {
            ApiError::field("valid_to", "must not be before valid_from")
        } else {
            ApiError::NotFound(format!(
                "authorization {authorization_id} not found for client {client_id}"
            ))
        });
    };
    // Reported for today's period (or the first, for one that starts later).
    let on = Utc::now().date_naive().max(valid_from);
    let view = authorizations(&state, client_id, on, Some(authorization_id))
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("authorization vanished after update"))?;
    Ok(Json(view))
}
