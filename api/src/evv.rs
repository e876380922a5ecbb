//! EVV and the pre-billing hold: each visit's verification record (the six
//! federal data elements), its exceptions, the hold list, coordinators'
//! resolutions, and the extra places a client receives care (geofence).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use homecare_domain::contracts::{ExceptionResolution, VisitSnapshot};
use homecare_domain::evv::{self, ExceptionCode, ResolutionCode};
use homecare_domain::validation::{self, FieldErrors};
use homecare_workflows::VisitWorkflow;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::Principal;
use crate::clients::Page;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::visits::{Effect, find_visit, send_update};
use crate::{ApiError, AppState};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/visits/{id}/evv", get(evv_record))
        .route("/visits/{id}/exceptions", get(visit_exceptions))
        .route(
            "/visits/{id}/exceptions/{exception_id}/resolve",
            post(resolve),
        )
        .route("/billing/holds", get(holds))
        .route(
            "/clients/{id}/locations",
            get(list_locations).post(add_location),
        )
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct VisitException {
    pub id: Uuid,
    pub visit_id: Uuid,
    pub code: String,
    pub source: String,
    pub detail: serde_json::Value,
    pub raised_at: DateTime<Utc>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolution_code: Option<String>,
    pub resolution_note: Option<String>,
    pub resolved_by: Option<String>,
}

const EXCEPTION_COLUMNS: &str = "id, visit_id, code::text as code, source, detail, raised_at,
    resolved_at, resolution_code, resolution_note, resolved_by";

async fn visit_exceptions(
    State(state): State<AppState>,
    ApiPath(visit_id): ApiPath<Uuid>,
) -> Result<Json<Vec<VisitException>>, ApiError> {
    find_visit(&state, visit_id).await?;
    let exceptions = sqlx::query_as::<_, VisitException>(&format!(
        "select {EXCEPTION_COLUMNS} from visit_exceptions where visit_id = $1 order by raised_at, id"
    ))
    .bind(visit_id)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(exceptions))
}

/// One check-in or check-out as verified.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct Verification {
    pub caregiver_id: Uuid,
    pub at: DateTime<Utc>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub method: String,
}

/// The six federal EVV data elements of a visit.
#[derive(Debug, Serialize)]
pub struct EvvRecord {
    pub visit_id: Uuid,
    /// Type of service (HCPCS).
    pub service_code: String,
    pub client_id: Uuid,
    pub caregiver_id: Option<Uuid>,
    /// The service date, in the client's time zone.
    pub service_date: Option<NaiveDate>,
    /// Begin: time and location.
    pub check_in: Option<Verification>,
    /// End: time and location.
    pub check_out: Option<Verification>,
    pub open_exceptions: usize,
}

async fn verification(
    state: &AppState,
    visit_id: Uuid,
    kind: &str,
) -> Result<Option<Verification>, ApiError> {
    Ok(sqlx::query_as::<_, Verification>(
        "select caregiver_id, occurred_at as at, latitude, longitude, method::text as method
           from evv_records where visit_id = $1 and kind = $2::evv_kind",
    )
    .bind(visit_id)
    .bind(kind)
    .fetch_optional(&state.db)
    .await?)
}

async fn evv_record(
    State(state): State<AppState>,
    ApiPath(visit_id): ApiPath<Uuid>,
) -> Result<Json<EvvRecord>, ApiError> {
    let visit = find_visit(&state, visit_id).await?;
    let check_in = verification(&state, visit_id, "check_in").await?;
    let check_out = verification(&state, visit_id, "check_out").await?;
    let (service_date, open): (Option<NaiveDate>, i64) = sqlx::query_as(
        "select ($2::timestamptz at time zone c.timezone)::date,
                (select count(*) from visit_exceptions where visit_id = $1 and resolved_at is null)
           from visits v join clients c on c.id = v.client_id where v.id = $1",
    )
    .bind(visit_id)
    .bind(check_in.as_ref().map(|c| c.at))
    .fetch_one(&state.db)
    .await?;
    Ok(Json(EvvRecord {
        visit_id,
        service_code: visit.service_code,
        client_id: visit.client_id,
        caregiver_id: check_in
            .as_ref()
            .map(|c| c.caregiver_id)
            .or(visit.caregiver_id),
        service_date,
        check_in,
        check_out,
        open_exceptions: open as usize,
    }))
}

/// A completed visit waiting on its exceptions before it bills.
#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct HeldVisit {
    pub visit_id: Uuid,
    pub client_id: Uuid,
    pub caregiver_id: Option<Uuid>,
    pub payer_id: Uuid,
    pub service_code: String,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
    pub exceptions: sqlx::types::Json<Vec<serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
pub struct HoldFilter {
    pub client_id: Option<Uuid>,
    pub code: Option<String>,
    pub limit: Option<i64>,
    pub offset: Option<i64>,
}

/// The pre-billing hold list: completed visits with at least one open exception,
/// oldest first, each with its open exceptions.
async fn holds(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<HoldFilter>,
) -> Result<Json<Vec<HeldVisit>>, ApiError> {
    let (limit, offset) = Page {
        limit: filter.limit,
        offset: filter.offset,
    }
    .bounds()?;
    if let Some(code) = &filter.code {
        ExceptionCode::parse(code)
            .ok_or_else(|| ApiError::field("code", format!("unknown exception code {code:?}")))?;
    }
    let held = sqlx::query_as::<_, HeldVisit>(
        "select v.id as visit_id, v.client_id, v.caregiver_id, v.payer_id, v.service_code,
                lower(v.scheduled) as scheduled_start, upper(v.scheduled) as scheduled_end,
                jsonb_agg(jsonb_build_object('id', e.id, 'code', e.code, 'source', e.source,
                                             'detail', e.detail, 'raised_at', e.raised_at)
                          order by e.raised_at, e.id) as exceptions
           from visits v
           join visit_exceptions e on e.visit_id = v.id and e.resolved_at is null
          where v.status = 'completed'
            and ($1::uuid is null or v.client_id = $1)
            and ($2::text is null or exists (select 1 from visit_exceptions f
                  where f.visit_id = v.id and f.resolved_at is null and f.code::text = $2))
          group by v.id
          order by min(e.raised_at), v.id
          limit $3 offset $4",
    )
    .bind(filter.client_id)
    .bind(&filter.code)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(held))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    pub resolution_code: String,
    pub note: String,
    /// For `missed_check_out`: when the visit actually ended.
    pub check_out_at: Option<DateTime<Utc>>,
}

/// A coordinator resolves one exception; the visit's workflow bills on its own
/// once nothing holds it.
#[tracing::instrument(skip_all, fields(visit_id = %visit_id, exception_id = %exception_id))]
async fn resolve(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath((visit_id, exception_id)): ApiPath<(Uuid, Uuid)>,
    headers: HeaderMap,
    ApiJson(request): ApiJson<ResolveRequest>,
) -> Result<Json<VisitSnapshot>, ApiError> {
    find_visit(&state, visit_id).await?;
    let found: Option<(String, bool)> = sqlx::query_as(
        "select code::text, resolved_at is not null from visit_exceptions where id = $1 and visit_id = $2",
    )
    .bind(exception_id)
    .bind(visit_id)
    .fetch_optional(&state.db)
    .await?;
    let Some((code, _resolved)) = found else {
        return Err(ApiError::NotFound(format!(
            "exception {exception_id} not found on visit {visit_id}"
        )));
    };
    let code = ExceptionCode::parse(&code)
        .ok_or_else(|| ApiError::internal(format!("unknown exception code {code}")))?;
    let mut errors = FieldErrors::default();
    let resolution_code = ResolutionCode::parse(&request.resolution_code);
    if resolution_code.is_none() {
        let names: Vec<_> = ResolutionCode::allowed_for(code)
            .iter()
            .map(|r| r.as_str())
            .collect();
        errors.add(
            "resolution_code",
            format!("must be one of: {}", names.join(", ")),
        );
    }
    validation::text(&mut errors, "note", &request.note, 1000);
    errors.into_result()?;
    let resolution_code = resolution_code.expect("checked above");
    let checked_in_at: Option<DateTime<Utc>> = sqlx::query_scalar(
        "select occurred_at from evv_records where visit_id = $1 and kind = 'check_in'",
    )
    .bind(visit_id)
    .fetch_optional(&state.db)
    .await?;
    if let Err(message) = evv::resolution_allowed(
        code,
        resolution_code,
        request.check_out_at,
        checked_in_at,
        Utc::now(),
    ) {
        let field = if message.contains("check_out_at") {
            "check_out_at"
        } else {
            "resolution_code"
        };
        return Err(ApiError::field(field, message));
    }
    let resolution = ExceptionResolution {
        exception_id,
        resolution_code,
        note: request.note.trim().to_owned(),
        // Who resolved it is who the token says, never the request body.
        resolved_by: principal.subject.chars().take(200).collect(),
        check_out_at: request.check_out_at,
    };
    send_update(
        &state,
        visit_id,
        &headers,
        VisitWorkflow::resolve_exception,
        "resolve_exception",
        resolution,
        Effect::Resolved(exception_id),
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLocation {
    pub label: String,
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(Debug, Serialize, sqlx::FromRow)]
pub struct ClientLocation {
    pub id: Uuid,
    pub client_id: Uuid,
    pub label: String,
    pub latitude: f64,
    pub longitude: f64,
}

pub(crate) async fn ensure_client(state: &AppState, client_id: Uuid) -> Result<(), ApiError> {
    crate::ensure_exists(state, "clients", "client", client_id).await
}

/// A further place of care: check-ins there are inside the geofence.
async fn add_location(
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewLocation>,
) -> Result<(StatusCode, Json<ClientLocation>), ApiError> {
    let mut errors = FieldErrors::default();
    validation::text(&mut errors, "label", &new.label, 100);
    validation::coordinates(&mut errors, "", new.latitude, new.longitude);
    errors.into_result()?;
    ensure_client(&state, client_id).await?;
    let location = sqlx::query_as::<_, ClientLocation>(
        "insert into client_locations (id, client_id, label, latitude, longitude)
         values ($1, $2, $3, $4, $5) returning id, client_id, label, latitude, longitude",
    )
    .bind(Uuid::new_v4())
    .bind(client_id)
    .bind(new.label.trim())
    .bind(new.latitude)
    .bind(new.longitude)
    .fetch_one(&state.db)
    .await?;
    Ok((StatusCode::CREATED, Json(location)))
}

async fn list_locations(
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<Uuid>,
) -> Result<Json<Vec<ClientLocation>>, ApiError> {
    ensure_client(&state, client_id).await?;
    Ok(Json(
        sqlx::query_as::<_, ClientLocation>(
            "select id, client_id, label, latitude, longitude from client_locations
              where client_id = $1 order by label, id",
        )
        .bind(client_id)
        .fetch_all(&state.db)
        .await?,
    ))
}
