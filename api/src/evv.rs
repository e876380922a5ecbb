//! EVV and the pre-billing hold: each visit's verification record (the six
//! federal data elements), its exceptions, the hold list, coordinators'
//! resolutions, and the extra places a client receives care (geofence).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use chrono::{DateTime, NaiveDate, Utc};
use homecare_domain::contracts::{ExceptionResolution, VisitSnapshot};
use homecare_domain::evv::{self, EvvMethod, ExceptionCode, ResolutionCode};
use homecare_domain::validation::{self, FieldErrors};
use homecare_workflows::VisitWorkflow;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Principal;
use crate::clients::Page;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::visits::find_visit;
use crate::workflow_client::{Effect, send_update};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(evv_record))
        .routes(routes!(visit_exceptions))
        .routes(routes!(resolve))
        .routes(routes!(holds))
        .routes(routes!(list_locations, add_location))
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct VisitException {
    pub id: Uuid,
    pub visit_id: Uuid,
    #[schema(value_type = ExceptionCode)]
    pub code: String,
    #[schema(value_type = ExceptionSource)]
    pub source: String,
    /// What was found (distances, times, units), by code.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    pub raised_at: DateTime<Utc>,
    /// Set with `resolution_code`, `resolution_note` and `resolved_by` once resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<ResolutionCode>)]
    pub resolution_code: Option<String>,
    pub resolution_note: Option<String>,
    /// The subject of the token that resolved it.
    pub resolved_by: Option<String>,
}

/// Where an exception was found.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the strings the API writes
#[schema(rename_all = "snake_case")]
enum ExceptionSource {
    CheckIn,
    CheckOut,
    /// The missed check-out timer.
    Timer,
    Billing,
}

const EXCEPTION_COLUMNS: &str = "id, visit_id, code::text as code, source, detail, raised_at,
    resolved_at, resolution_code, resolution_note, resolved_by";

/// Every exception a visit raised, open or resolved, oldest first.
#[utoipa::path(get, path = "/visits/{id}/exceptions", tag = "evv", operation_id = "list_visit_exceptions",
    params(("id" = Uuid, Path, description = "The visit")),
    responses((status = 200, description = "The visit's exceptions", body = Vec<VisitException>)))]
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
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Verification {
    pub caregiver_id: Uuid,
    pub at: DateTime<Utc>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    #[schema(value_type = EvvMethod)]
    pub method: String,
    /// At check-out: the duties reported, done or not.
    #[schema(value_type = Option<Vec<homecare_domain::care_plan::DutyReport>>)]
    pub duties: Option<sqlx::types::Json<Vec<homecare_domain::care_plan::DutyReport>>>,
}

/// The six federal EVV data elements of a visit.
#[derive(Debug, Serialize, ToSchema)]
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
        "select caregiver_id, occurred_at as at, latitude, longitude, method::text as method, duties
           from evv_records where visit_id = $1 and kind = $2::evv_kind",
    )
    .bind(visit_id)
    .bind(kind)
    .fetch_optional(&state.db)
    .await?)
}

/// A visit's EVV record: the six federal data elements.
#[utoipa::path(get, path = "/visits/{id}/evv", tag = "evv", operation_id = "show_visit_evv",
    params(("id" = Uuid, Path, description = "The visit")),
    responses((status = 200, description = "The EVV record", body = EvvRecord)))]
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
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct HeldVisit {
    pub visit_id: Uuid,
    pub client_id: Uuid,
    pub caregiver_id: Option<Uuid>,
    pub payer_id: Uuid,
    pub service_code: String,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
    /// The open exceptions, oldest first.
    #[schema(value_type = Vec<HeldException>)]
    pub exceptions: sqlx::types::Json<Vec<serde_json::Value>>,
}

/// An open exception on the hold list (the object the query builds).
#[derive(ToSchema)]
#[allow(dead_code)] // documents the JSON the hold query writes
struct HeldException {
    id: Uuid,
    code: ExceptionCode,
    source: ExceptionSource,
    #[schema(value_type = Object)]
    detail: serde_json::Value,
    raised_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HoldFilter {
    /// Only this client's visits.
    pub client_id: Option<Uuid>,
    /// Only visits held by an open exception with this code.
    #[param(value_type = Option<ExceptionCode>)]
    pub code: Option<String>,
}

/// The pre-billing hold list.
///
/// Completed visits with at least one open exception, oldest first, each with
/// its open exceptions.
#[utoipa::path(get, path = "/billing/holds", tag = "evv", operation_id = "list_billing_holds",
    params(HoldFilter, Page),
    responses((status = 200, description = "A page of held visits", body = Vec<HeldVisit>)))]
async fn holds(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<HoldFilter>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<HeldVisit>>, ApiError> {
    let (limit, offset) = page.bounds()?;
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// One of the codes that fit the exception's code.
    #[schema(value_type = ResolutionCode)]
    pub resolution_code: String,
    /// 1-1000 characters, no control characters.
    #[schema(min_length = 1, max_length = 1000)]
    pub note: String,
    /// For `missed_check_out`: when the visit actually ended.
    pub check_out_at: Option<DateTime<Utc>>,
}

/// Resolves one of a visit's exceptions.
///
/// A coordinator resolves one exception; the visit's workflow bills on its own
/// once nothing holds it.
#[utoipa::path(post, path = "/visits/{id}/exceptions/{exception_id}/resolve", tag = "evv",
    operation_id = "resolve_visit_exception",
    params(("id" = Uuid, Path, description = "The visit"),
           ("exception_id" = Uuid, Path, description = "The exception"),
           crate::idempotency::IdempotencyKey),
    request_body = ResolveRequest,
    responses((status = 200, description = "The visit as its workflow now sees it", body = VisitSnapshot)))]
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLocation {
    /// 1-100 characters, no control characters.
    #[schema(min_length = 1, max_length = 100)]
    pub label: String,
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: f64,
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct ClientLocation {
    pub id: Uuid,
    pub client_id: Uuid,
    pub label: String,
    pub latitude: f64,
    pub longitude: f64,
}

pub(crate) async fn ensure_client(state: &AppState, client_id: Uuid) -> Result<(), ApiError> {
    crate::state::ensure_exists(state, "clients", "client", client_id).await
}

/// Adds a further place of care: check-ins there are inside the geofence.
#[utoipa::path(post, path = "/clients/{id}/locations", tag = "evv", operation_id = "add_client_location",
    params(("id" = Uuid, Path, description = "The client")),
    request_body = NewLocation,
    responses((status = 201, description = "Added", body = ClientLocation)))]
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

/// A client's further places of care, by label.
#[utoipa::path(get, path = "/clients/{id}/locations", tag = "evv", operation_id = "list_client_locations",
    params(("id" = Uuid, Path, description = "The client")),
    responses((status = 200, description = "The client's locations", body = Vec<ClientLocation>)))]
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
