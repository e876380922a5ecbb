//! `GET /v1/me/visits`: the signed-in caregiver's visits as the caregiver app
//! shows them: when, where, whom (first name and last initial only), which
//! skills and duties, and what EVV has recorded so far. Nothing about anyone
//! else, and nothing about billing.

use axum::extract::State;
use axum::{Extension, Json};
use chrono::{DateTime, Duration, Utc};
use homecare_domain::VisitStatus;
use homecare_domain::care_plan::Duty;
use homecare_domain::notify::short_name;
use serde::{Deserialize, Serialize};
use sqlx::types::Json as Jsonb;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Principal;
use crate::extract::ApiQuery;
use crate::{ApiError, AppState};

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(my_visits))
}

/// The longest window one request may ask for.
const MAX_WINDOW_DAYS: i64 = 31;

/// One of the caregiver's visits, as the app shows it.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct MyVisit {
    pub id: Uuid,
    #[schema(value_type = VisitStatus)]
    pub status: String,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
    /// The client's first name and last initial ("Eleanor P.").
    pub client_name: String,
    pub address: String,
    pub latitude: f64,
    pub longitude: f64,
    /// The client's time zone (IANA): the app shows times in it.
    pub timezone: String,
    pub required_skills: Vec<String>,
    /// What the care plan asks for (empty without one).
    #[schema(value_type = Vec<Duty>)]
    pub planned_duties: Jsonb<Vec<Duty>>,
    /// Whether this caregiver records the visit's EVV (the first booked;
    /// others on a two-person visit only attend).
    pub records_evv: bool,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub checked_out_at: Option<DateTime<Utc>>,
    /// An EVV exception is open: the office resolves it before the visit bills.
    pub held: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MyWindow {
    /// Visits ending after this instant (default: 12 hours ago).
    pub from: Option<DateTime<Utc>>,
    /// Visits starting before this instant (default: 7 days after `from`; at
    /// most 31 days after it).
    pub to: Option<DateTime<Utc>>,
}

/// The caller's own visits, earliest first (caregivers only).
#[utoipa::path(get, path = "/me/visits", tag = "visits", operation_id = "my_visits",
    params(MyWindow),
    responses((status = 200, description = "The caregiver's visits in the window", body = Vec<MyVisit>)))]
async fn my_visits(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiQuery(window): ApiQuery<MyWindow>,
) -> Result<Json<Vec<MyVisit>>, ApiError> {
    let caregiver = principal.own_caregiver().ok_or_else(|| {
        ApiError::Forbidden("only a caregiver's account has visits of its own".to_owned())
    })?;
    let from = window
        .from
        .unwrap_or_else(|| Utc::now() - Duration::hours(12));
    let to = window.to.unwrap_or(from + Duration::days(7));
    if to <= from {
        return Err(ApiError::field("to", "must be after from"));
    }
    if to - from > Duration::days(MAX_WINDOW_DAYS) {
        return Err(ApiError::field(
            "to",
            format!("must be at most {MAX_WINDOW_DAYS} days after from"),
        ));
    }
    let mut visits = sqlx::query_as::<_, MyVisit>(
        "select v.id, v.status::text as status,
                lower(v.scheduled) as scheduled_start, upper(v.scheduled) as scheduled_end,
                c.name as client_name, c.address, c.latitude, c.longitude, c.timezone,
                v.required_skills,
                coalesce((select p.duties from care_plan_versions p
                          where p.care_plan_id = v.care_plan_id and p.version = v.plan_version), '[]')
                    as planned_duties,
                coalesce((select s.caregiver_id from visit_staff s where s.visit_id = v.id
                          order by s.slot limit 1), v.caregiver_id) = $1 as records_evv,
                (select e.occurred_at from evv_records e where e.visit_id = v.id and e.kind = 'check_in')
                    as checked_in_at,
                (select e.occurred_at from evv_records e where e.visit_id = v.id and e.kind = 'check_out')
                    as checked_out_at,
                exists (select 1 from visit_exceptions x where x.visit_id = v.id and x.resolved_at is null)
                    as held
           from visits v join clients c on c.id = v.client_id
          where (v.caregiver_id = $1
                 or exists (select 1 from visit_staff s where s.visit_id = v.id and s.caregiver_id = $1))
            and v.scheduled && tstzrange($2, $3)
          order by lower(v.scheduled), v.id",
    )
    .bind(caregiver)
    .bind(from)
    .bind(to)
    .fetch_all(&state.db)
    .await?;
    for visit in &mut visits {
        visit.client_name = short_name(&visit.client_name);
    }
    Ok(Json(visits))
}
