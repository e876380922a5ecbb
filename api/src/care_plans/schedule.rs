//! `GET /v1/clients/{id}/schedule`: the occurrences the client's care plans
//! ask for in a period, each beside the visit generated for it, and the
//! client's other visits.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Days, NaiveDate, Utc};
use homecare_domain::VisitStatus;
use homecare_domain::care_plan::{MAX_HORIZON_DAYS, planned_visits, with_current_ids};
use homecare_domain::validation::{self, FieldErrors};
use homecare_store::care_plans::{client_today, generated_visits, load_schedule};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::error::ApiError;
use crate::evv::ensure_client;
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(schedule))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SchedulePeriod {
    /// The first day (the client's local date); default today.
    pub from: Option<NaiveDate>,
    /// The day after the last; default the agency's horizon from `from`, at
    /// most 62 days after it.
    pub to: Option<NaiveDate>,
}

/// A visit as the schedule shows it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct ScheduledVisit {
    pub id: Uuid,
    #[schema(value_type = VisitStatus)]
    pub status: String,
    pub caregiver_id: Option<Uuid>,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
    pub care_plan_id: Option<Uuid>,
}

/// One occurrence a care plan asks for.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlannedOccurrence {
    pub care_plan_id: Uuid,
    pub pattern_id: Uuid,
    /// The pattern's date (a moved visit keeps it).
    pub date: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Moved by an exception.
    pub moved: bool,
    /// The id the occurrence's visit has, generated or to be.
    pub visit_id: Uuid,
    /// The visit, once generated (generation keeps the agency's horizon).
    pub visit: Option<ScheduledVisit>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Schedule {
    pub client_id: Uuid,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The client's time zone, in which the patterns' times are meant.
    pub timezone: String,
    pub planned: Vec<PlannedOccurrence>,
    /// Visits in the period no occurrence accounts for: entered by hand, or
    /// generated for an occurrence the plan no longer has.
    pub other_visits: Vec<ScheduledVisit>,
}

/// The client's planned occurrences beside the visits generated for them.
#[utoipa::path(get, path = "/clients/{id}/schedule", tag = "care_plans", operation_id = "show_client_schedule",
    params(("id" = Uuid, Path, description = "The client"), SchedulePeriod),
    responses((status = 200, description = "Planned occurrences and visits", body = Schedule)))]
async fn schedule(
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<Uuid>,
    ApiQuery(period): ApiQuery<SchedulePeriod>,
) -> Result<Json<Schedule>, ApiError> {
    ensure_client(&state, client_id).await?;
    let mut conn = state.db.acquire().await?;
    let (tz, today) = client_today(&mut conn, client_id, Utc::now()).await?;
    let from = period.from.unwrap_or(today);
    let plans = load_schedule(&mut conn, client_id, tz, from).await?;
    let to = period
        .to
        .unwrap_or(from + Days::new(plans.horizon_days.max(1) as u64));
    let mut errors = FieldErrors::default();
    validation::calendar_date(&mut errors, "from", from);
    validation::calendar_date(&mut errors, "to", to);
    errors.check(to > from, "to", "must be after from");
    errors.check(
        (to - from).num_days() <= MAX_HORIZON_DAYS,
        "to",
        format!("at most {MAX_HORIZON_DAYS} days after from"),
    );
    errors.into_result()?;
    let generated = generated_visits(&mut conn, client_id, from).await?;
    let planned = with_current_ids(
        &planned_visits(&plans.plans, &plans.holidays, tz, from, to),
        &generated,
    );
    let visits: Vec<ScheduledVisit> = sqlx::query_as(
        "select id, status::text as status, caregiver_id, lower(scheduled) as scheduled_start,
                upper(scheduled) as scheduled_end, care_plan_id
           from visits
          where client_id = $1
            and (scheduled && tstzrange($2, $3) or (care_plan_id is not null and occurrence_date >= $4
                                                     and occurrence_date < $5))
          order by lower(scheduled), id",
    )
    .bind(client_id)
    .bind(homecare_domain::care_plan::local_instant(tz, from, chrono::NaiveTime::MIN))
    .bind(homecare_domain::care_plan::local_instant(tz, to, chrono::NaiveTime::MIN))
    .bind(from)
    .bind(to)
    .fetch_all(&mut *conn)
    .await?;
    let planned: Vec<PlannedOccurrence> = planned
        .iter()
        .map(|p| PlannedOccurrence {
            care_plan_id: p.plan_id,
            pattern_id: p.occurrence.pattern_id,
            date: p.occurrence.date,
            start: p.occurrence.start,
            end: p.occurrence.end,
            moved: p.occurrence.moved,
            visit_id: p.visit_id,
            visit: visits.iter().find(|v| v.id == p.visit_id).cloned(),
        })
        .collect();
    let other_visits = visits
        .into_iter()
        .filter(|v| !planned.iter().any(|p| p.visit_id == v.id))
        .collect();
    Ok(Json(Schedule {
        client_id,
        from,
        to,
        timezone: tz.name().to_owned(),
        planned,
        other_visits,
    }))
}
