//! A visit as the API answers with it, read from its row.

use chrono::{DateTime, NaiveDate, Utc};
use homecare_domain::VisitStatus;
use homecare_domain::care_plan::{Duty, DutyReport};
use serde::Serialize;
use sqlx::types::Json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct Visit {
    pub id: Uuid,
    pub client_id: Uuid,
    pub caregiver_id: Option<Uuid>,
    pub payer_id: Uuid,
    pub service_code: String,
    pub scheduled_start: DateTime<Utc>,
    pub scheduled_end: DateTime<Utc>,
    pub required_skills: Vec<String>,
    pub caregivers_needed: i16,
    /// Everyone booked, in slot order (the first records EVV).
    pub caregiver_ids: Vec<Uuid>,
    pub assignment_version: i32,
    #[schema(value_type = VisitStatus)]
    pub status: String,
    pub cancel_reason: Option<String>,
    /// The care plan that generated the visit, if one did.
    pub care_plan_id: Option<Uuid>,
    /// The date of the plan's pattern occurrence this visit serves.
    pub occurrence_date: Option<NaiveDate>,
    /// What the plan asks the caregiver to do (empty without a plan).
    #[schema(value_type = Vec<Duty>)]
    pub planned_duties: Json<Vec<Duty>>,
    /// What the check-out reported, done or not; null before check-out.
    #[schema(value_type = Option<Vec<DutyReport>>)]
    pub reported_duties: Option<Json<Vec<DutyReport>>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(super) const COLUMNS: &str = "id, client_id, caregiver_id, payer_id, service_code,
    lower(scheduled) as scheduled_start, upper(scheduled) as scheduled_end,
    required_skills, caregivers_needed,
    array(select s.caregiver_id from visit_staff s where s.visit_id = visits.id order by s.slot) as caregiver_ids,
    assignment_version, status::text as status, cancel_reason, care_plan_id, occurrence_date,
    coalesce((select v.duties from care_plan_versions v
              where v.care_plan_id = visits.care_plan_id and v.version = visits.plan_version), '[]') as planned_duties,
    (select e.duties from evv_records e where e.visit_id = visits.id and e.kind = 'check_out') as reported_duties,
    created_at, updated_at";

pub(crate) async fn find_visit(state: &AppState, id: Uuid) -> Result<Visit, ApiError> {
    sqlx::query_as::<_, Visit>(&format!("select {COLUMNS} from visits where id = $1"))
        .bind(id)
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("visit {id} not found")))
}
