//! `/v1/clients/{id}/care-plans`: what a client receives and when. A plan
//! names a service of a payer, its duties and what the caregiver needs; a
//! change is a new version from a date, the old ones kept. Its patterns
//! (`patterns`) recur in the client's local time, and the client's
//! `CarePlanWorkflow` keeps them generated as ordinary visits (`generation`);
//! `schedule` shows planned occurrences beside the visits.

mod generation;
mod patterns;
mod schedule;
mod views;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use chrono::{NaiveDate, Utc};
use homecare_domain::care_plan::{Duty, check_duty_text};
use homecare_domain::contracts::GenerationOutcome;
use homecare_domain::validation::{self, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::ApiError;
use crate::evv::ensure_client;
use crate::extract::{ApiJson, ApiPath};
use crate::idempotency::{idempotency_key, keyed_id};
use crate::state::AppState;
use crate::visits::{DEFAULT_SERVICE_CODE, PRIVATE_PAY};
use generation::regenerate;
use views::{CarePlanView, load_plan, load_plans};

/// v5 namespace for care-plan ids derived from an `Idempotency-Key`.
const IDEMPOTENT_PLAN_NAMESPACE: Uuid = Uuid::from_u128(0x7d2a_41e6_0c59_4b3a_9f18_6e0d_52c7_a934);
const MAX_DUTIES: usize = 20;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, change))
        .merge(patterns::router())
        .merge(schedule::router())
}

/// A new care plan: its first version applies from `valid_from`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCarePlan {
    /// The payer billed (default: private pay).
    pub payer_id: Option<Uuid>,
    /// A known HCPCS code the payer has a rate for (default `T1019`).
    #[schema(pattern = "^[A-Z][0-9]{4}$")]
    pub service_code: Option<String>,
    pub valid_from: NaiveDate,
    /// The last day the plan applies; open when absent.
    pub valid_until: Option<NaiveDate>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub duties: Vec<Duty>,
    /// Lower-case slugs every visit of the plan needs.
    #[serde(default)]
    #[schema(max_items = 32, pattern = "^[a-z0-9_-]{1,64}$")]
    pub required_skills: Vec<String>,
    /// A language the caregiver must speak (else the client's own requirement).
    pub required_language: Option<String>,
    pub required_gender: Option<String>,
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// A change of a plan from a date on: a new version (the old ones are kept).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CarePlanChange {
    /// The first day the new version applies: today or later.
    pub effective_from: NaiveDate,
    /// The plan's last day; absent: the plan runs on.
    pub valid_until: Option<NaiveDate>,
    #[serde(default)]
    #[schema(max_items = 20)]
    pub duties: Vec<Duty>,
    #[serde(default)]
    #[schema(max_items = 32, pattern = "^[a-z0-9_-]{1,64}$")]
    pub required_skills: Vec<String>,
    pub required_language: Option<String>,
    pub required_gender: Option<String>,
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// A plan as saved, and what generating the client's visits changed.
#[derive(Debug, Serialize, ToSchema)]
pub struct CarePlanChanged {
    pub plan: CarePlanView,
    pub generation: GenerationOutcome,
}

/// What a version asks for, checked.
struct Terms<'a> {
    duties: &'a [Duty],
    required_skills: &'a [String],
    required_language: Option<&'a str>,
    required_gender: Option<&'a str>,
    note: Option<&'a str>,
}

impl Terms<'_> {
    fn check(&self, errors: &mut FieldErrors) {
        errors.check(
            self.duties.len() <= MAX_DUTIES,
            "duties",
            format!("at most {MAX_DUTIES}"),
        );
        for (i, duty) in self.duties.iter().enumerate() {
            check_duty_text(
                errors,
                &format!("duties[{i}].text"),
                duty.code,
                duty.text.as_deref(),
            );
        }
        validation::skills(errors, "required_skills", self.required_skills);
        if let Some(language) = self.required_language {
            validation::languages(errors, "required_language", &[language.to_owned()]);
        }
        if let Some(gender) = self.required_gender {
            validation::text(errors, "required_gender", gender, 32);
        }
        if let Some(note) = self.note {
            validation::text(errors, "note", note, 500);
        }
    }
}

fn check_validity(errors: &mut FieldErrors, from: NaiveDate, until: Option<NaiveDate>) {
    validation::calendar_date(errors, "valid_from", from);
    if let Some(until) = until {
        validation::calendar_date(errors, "valid_until", until);
        errors.check(
            until >= from,
            "valid_until",
            "must not be before valid_from",
        );
    }
}

/// The client's care plans, oldest first, each with its versions and patterns.
#[utoipa::path(get, path = "/clients/{id}/care-plans", tag = "care_plans", operation_id = "list_care_plans",
    params(("id" = Uuid, Path, description = "The client")),
    responses((status = 200, description = "The client's care plans", body = Vec<CarePlanView>)))]
async fn list(
    State(state): State<AppState>,
    ApiPath(client_id): ApiPath<Uuid>,
) -> Result<Json<Vec<CarePlanView>>, ApiError> {
    ensure_client(&state, client_id).await?;
    Ok(Json(load_plans(&state, client_id).await?))
}

/// One care plan, with every version and pattern.
#[utoipa::path(get, path = "/clients/{id}/care-plans/{plan_id}", tag = "care_plans", operation_id = "show_care_plan",
    params(("id" = Uuid, Path, description = "The client"), ("plan_id" = Uuid, Path, description = "The plan")),
    responses((status = 200, description = "The care plan", body = CarePlanView)))]
async fn show(
    State(state): State<AppState>,
    ApiPath((client_id, plan_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<Json<CarePlanView>, ApiError> {
    Ok(Json(load_plan(&state, client_id, plan_id).await?))
}

/// Creates a care plan (version 1, from `valid_from`); add patterns to
/// generate its visits.
///
/// With an `Idempotency-Key`, a retried request answers 200 with the plan it
/// created.
#[utoipa::path(post, path = "/clients/{id}/care-plans", tag = "care_plans", operation_id = "create_care_plan",
    params(("id" = Uuid, Path, description = "The client"), crate::idempotency::IdempotencyKey),
    request_body = NewCarePlan,
    responses(
        (status = 201, description = "Created", body = CarePlanView),
        (status = 200, description = "A retry with the same `Idempotency-Key`: the plan it created", body = CarePlanView)))]
#[tracing::instrument(skip_all, fields(client_id = %client_id))]
async fn create(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(client_id): ApiPath<Uuid>,
    headers: HeaderMap,
    ApiJson(new): ApiJson<NewCarePlan>,
) -> Result<(StatusCode, Json<CarePlanView>), ApiError> {
    let key = idempotency_key(&headers)?;
    let mut errors = FieldErrors::default();
    check_validity(&mut errors, new.valid_from, new.valid_until);
    terms_of_new(&new).check(&mut errors);
    errors.into_result()?;
    ensure_client(&state, client_id).await?;
    let payer_id = new.payer_id.unwrap_or(PRIVATE_PAY);
    let service_code = new
        .service_code
        .clone()
        .unwrap_or_else(|| DEFAULT_SERVICE_CODE.to_owned());
    check_service(&state, client_id, payer_id, &service_code, new.valid_from).await?;
    let plan_id = match &key {
        Some(key) => keyed_id(&IDEMPOTENT_PLAN_NAMESPACE, &format!("{client_id}/{key}")),
        None => Uuid::new_v4(),
    };
    let mut tx = state.db.begin().await?;
    let inserted = sqlx::query(
        "insert into care_plans (id, client_id, payer_id, service_code, valid_from, valid_until)
         values ($1, $2, $3, $4, $5, $6) on conflict (id) do nothing",
    )
    .bind(plan_id)
    .bind(client_id)
    .bind(payer_id)
    .bind(&service_code)
    .bind(new.valid_from)
    .bind(new.valid_until)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 0 {
        tx.rollback().await?;
        // The first attempt may have stopped before starting the workflow.
        generation::ensure_workflow(&state, client_id).await?;
        return Ok((
            StatusCode::OK,
            Json(load_plan(&state, client_id, plan_id).await?),
        ));
    }
    insert_version(
        &mut tx,
        plan_id,
        1,
        new.valid_from,
        &terms_of_new(&new),
        &principal.subject,
    )
    .await?;
    tx.commit().await?;
    generation::ensure_workflow(&state, client_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(load_plan(&state, client_id, plan_id).await?),
    ))
}

fn terms_of_new(new: &NewCarePlan) -> Terms<'_> {
    Terms {
        duties: &new.duties,
        required_skills: &new.required_skills,
        required_language: new.required_language.as_deref(),
        required_gender: new.required_gender.as_deref(),
        note: new.note.as_deref(),
    }
}

/// The payer, the service and a rate for it on the plan's first day.
async fn check_service(
    state: &AppState,
    client_id: Uuid,
    payer_id: Uuid,
    service_code: &str,
    on: NaiveDate,
) -> Result<(), ApiError> {
    let mut conn = state.db.acquire().await?;
    let (payer, service): (bool, bool) = sqlx::query_as(
        "select exists (select 1 from payers where id = $1),
                exists (select 1 from service_codes where code = $2)",
    )
    .bind(payer_id)
    .bind(service_code)
    .fetch_one(&mut *conn)
    .await?;
    let mut errors = FieldErrors::default();
    errors.check(payer, "payer_id", "no such payer");
    errors.check(service, "service_code", "unknown service code");
    if payer && service {
        let noon = on.and_hms_opt(12, 0, 0).unwrap_or_default().and_utc();
        let rate =
            homecare_store::billing::has_rate(&mut conn, client_id, payer_id, service_code, noon)
                .await?;
        errors.check(
            rate,
            "payer_id",
            format!("the payer has no rate for {service_code} on {on}"),
        );
    }
    errors.into_result().map_err(Into::into)
}

async fn insert_version(
    conn: &mut sqlx::PgConnection,
    plan_id: Uuid,
    version: i32,
    effective_from: NaiveDate,
    terms: &Terms<'_>,
    created_by: &str,
) -> Result<(), sqlx::Error> {
    let mut skills = terms.required_skills.to_vec();
    skills.sort();
    skills.dedup();
    sqlx::query(
        "insert into care_plan_versions (care_plan_id, version, effective_from, duties, required_skills,
                                         required_language, required_gender, note, created_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(plan_id)
    .bind(version)
    .bind(effective_from)
    .bind(sqlx::types::Json(terms.duties))
    .bind(&skills)
    .bind(terms.required_language.map(str::trim))
    .bind(terms.required_gender.map(str::trim))
    .bind(terms.note.map(str::trim))
    .bind(created_by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Changes a plan from a date on (a new version) and regenerates the
/// client's visits: visits ahead whose needs changed are replaced.
#[utoipa::path(put, path = "/clients/{id}/care-plans/{plan_id}", tag = "care_plans", operation_id = "change_care_plan",
    params(("id" = Uuid, Path, description = "The client"), ("plan_id" = Uuid, Path, description = "The plan")),
    request_body = CarePlanChange,
    responses((status = 200, description = "The plan as changed and what generation did", body = CarePlanChanged)))]
#[tracing::instrument(skip_all, fields(client_id = %client_id, plan_id = %plan_id))]
async fn change(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath((client_id, plan_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(change): ApiJson<CarePlanChange>,
) -> Result<Json<CarePlanChanged>, ApiError> {
    let plan = load_plan(&state, client_id, plan_id).await?;
    let terms = Terms {
        duties: &change.duties,
        required_skills: &change.required_skills,
        required_language: change.required_language.as_deref(),
        required_gender: change.required_gender.as_deref(),
        note: change.note.as_deref(),
    };
    let mut errors = FieldErrors::default();
    validation::calendar_date(&mut errors, "effective_from", change.effective_from);
    errors.check(
        change.effective_from >= plan.valid_from,
        "effective_from",
        "must not be before the plan's valid_from",
    );
    check_validity(&mut errors, plan.valid_from, change.valid_until);
    terms.check(&mut errors);
    errors.into_result()?;
    let mut tx = state.db.begin().await?;
    let (_, today) =
        homecare_store::care_plans::client_today(&mut tx, client_id, Utc::now()).await?;
    let mut errors = FieldErrors::default();
    errors.check(
        change.effective_from >= today,
        "effective_from",
        format!("must not be before the client's today ({today}): past visits keep the version they were planned under"),
    );
    if let Some(until) = change.valid_until {
        errors.check(
            until >= today.pred_opt().unwrap_or(today),
            "valid_until",
            "must not end the plan before yesterday",
        );
        errors.check(
            until >= change.effective_from.pred_opt().unwrap_or(until),
            "valid_until",
            "must not end the plan before the version begins (yesterday at the latest: the plan ends)",
        );
    }
    errors.into_result()?;
    // Versions of one plan are numbered one after the other: the lock orders them.
    sqlx::query("select id from care_plans where id = $1 for update")
        .bind(plan_id)
        .execute(&mut *tx)
        .await?;
    let last: i32 =
        sqlx::query_scalar("select max(version) from care_plan_versions where care_plan_id = $1")
            .bind(plan_id)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query("update care_plans set valid_until = $2 where id = $1")
        .bind(plan_id)
        .bind(change.valid_until)
        .execute(&mut *tx)
        .await?;
    insert_version(
        &mut tx,
        plan_id,
        last + 1,
        change.effective_from,
        &terms,
        &principal.subject,
    )
    .await?;
    tx.commit().await?;
    let generation = regenerate(&state, client_id, "plan").await?;
    Ok(Json(CarePlanChanged {
        plan: load_plan(&state, client_id, plan_id).await?,
        generation,
    }))
}
