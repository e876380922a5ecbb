//! `/v1/caregivers`: the people who deliver care: skills and certifications with
//! expiry, languages, hour caps, home location, weekly availability, extra hours,
//! and call-outs (which re-decide every affected visit at once).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::{Duration, NaiveTime, Utc};
use homecare_domain::validation::{self, FieldErrors};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Principal;
use crate::clients::Page;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::visits::reconsider_unfilled;
use crate::{ApiError, AppState};

mod availability;
mod call_outs;
mod profile;

use profile::{
    COLUMNS, Caregiver, CaregiverDetail, Coordinates, CredentialInput, LanguageTag,
    RECONSIDER_DAYS, Skill, WeeklyHours, detail, insert_weekly, weekly_rows,
};

const GENDERS: [&str; 3] = ["female", "male", "nonbinary"];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show))
        .merge(availability::router())
        .merge(call_outs::router())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCaregiver {
    /// 1 to 200 characters (trimmed).
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Skills that never expire.
    #[serde(default)]
    #[schema(value_type = Vec<Skill>, max_items = 32)]
    pub skills: Vec<String>,
    /// Skills and certifications with an expiry date (a skill given both ways
    /// keeps the expiry).
    #[serde(default)]
    #[schema(max_items = 32)]
    pub credentials: Vec<CredentialInput>,
    #[serde(default)]
    #[schema(value_type = Vec<LanguageTag>, max_items = 16)]
    pub languages: Vec<String>,
    #[schema(value_type = Option<crate::clients::Gender>)]
    pub gender: Option<String>,
    pub home: Option<Coordinates>,
    /// Default 600.
    #[schema(minimum = 1, maximum = 1440)]
    pub max_minutes_per_day: Option<i32>,
    /// Default 3000.
    #[schema(minimum = 1, maximum = 10080)]
    pub max_minutes_per_week: Option<i32>,
    /// Default 2400.
    #[schema(minimum = 0, maximum = 10080)]
    pub overtime_after_minutes_per_week: Option<i32>,
    /// Empty: no weekly restriction.
    #[serde(default)]
    #[schema(max_items = 50)]
    pub availability: Vec<WeeklyHours>,
}

fn minutes(errors: &mut FieldErrors, field: &str, value: Option<i32>, max: i32) {
    if let Some(v) = value {
        errors.check(
            (1..=max).contains(&v),
            field,
            format!("must be between 1 and {max}"),
        );
    }
}

/// Registers a caregiver; unfilled visits of the next two weeks are
/// reconsidered at once.
#[utoipa::path(post, path = "/caregivers", tag = "caregivers", operation_id = "create_caregiver",
    request_body = NewCaregiver,
    responses((status = 201, description = "Registered", body = CaregiverDetail)))]
#[tracing::instrument(skip_all)]
async fn create(
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewCaregiver>,
) -> Result<(StatusCode, Json<CaregiverDetail>), ApiError> {
    let weekly = new.validate()?;
    let credentials = new.credentials();
    let id = Uuid::new_v4();
    let mut tx = state.db.begin().await?;
    insert_caregiver(&mut tx, id, &new, &credentials).await?;
    insert_weekly(&mut tx, id, &weekly).await?;
    tx.commit().await?;
    // Someone new may cover a visit nobody could.
    let now = Utc::now();
    reconsider_unfilled(&state, &[id], now, now + Duration::days(RECONSIDER_DAYS)).await;
    Ok((StatusCode::CREATED, Json(detail(&state, id).await?)))
}

impl NewCaregiver {
    /// Every field's errors at once; the weekly hours as rows.
    fn validate(&self) -> Result<Vec<(i16, NaiveTime, NaiveTime)>, FieldErrors> {
        let mut errors = FieldErrors::default();
        validation::name(&mut errors, "name", &self.name);
        validation::skills(&mut errors, "skills", &self.skills);
        let credential_skills: Vec<String> =
            self.credentials.iter().map(|c| c.skill.clone()).collect();
        validation::skills(&mut errors, "credentials", &credential_skills);
        validation::languages(&mut errors, "languages", &self.languages);
        if let Some(gender) = &self.gender {
            errors.check(
                GENDERS.contains(&gender.as_str()),
                "gender",
                "must be female, male or nonbinary",
            );
        }
        if let Some(home) = self.home {
            validation::coordinates(&mut errors, "home.", home.latitude, home.longitude);
        }
        minutes(
            &mut errors,
            "max_minutes_per_day",
            self.max_minutes_per_day,
            1440,
        );
        minutes(
            &mut errors,
            "max_minutes_per_week",
            self.max_minutes_per_week,
            10080,
        );
        if let Some(v) = self.overtime_after_minutes_per_week {
            errors.check(
                (0..=10080).contains(&v),
                "overtime_after_minutes_per_week",
                "must be between 0 and 10080",
            );
        }
        let weekly = weekly_rows(&mut errors, "availability", &self.availability);
        errors.into_result()?;
        Ok(weekly)
    }

    /// Skills and credentials as one list by skill: a skill given both ways
    /// keeps the credential's expiry.
    fn credentials(&self) -> Vec<CredentialInput> {
        let mut credentials: Vec<CredentialInput> = self.credentials.clone();
        for skill in &self.skills {
            if !credentials.iter().any(|c| &c.skill == skill) {
                credentials.push(CredentialInput {
                    skill: skill.clone(),
                    expires_on: None,
                });
            }
        }
        credentials.sort_by(|a, b| a.skill.cmp(&b.skill));
        credentials.dedup_by(|a, b| a.skill == b.skill);
        credentials
    }
}

async fn insert_caregiver(
    conn: &mut sqlx::PgConnection,
    id: Uuid,
    new: &NewCaregiver,
    credentials: &[CredentialInput],
) -> Result<(), sqlx::Error> {
    let skills: Vec<String> = credentials.iter().map(|c| c.skill.clone()).collect();
    let mut languages: Vec<String> = new.languages.iter().map(|l| l.to_lowercase()).collect();
    languages.sort();
    languages.dedup();
    sqlx::query(
        "insert into caregivers (id, name, skills, languages, gender, home_latitude, home_longitude,
                                 max_minutes_per_day, max_minutes_per_week, overtime_after_minutes_per_week)
         values ($1, $2, $3, $4, $5, $6, $7, coalesce($8, 600), coalesce($9, 3000), coalesce($10, 2400))",
    )
    .bind(id)
    .bind(new.name.trim())
    .bind(&skills)
    .bind(&languages)
    .bind(&new.gender)
    .bind(new.home.map(|h| h.latitude))
    .bind(new.home.map(|h| h.longitude))
    .bind(new.max_minutes_per_day)
    .bind(new.max_minutes_per_week)
    .bind(new.overtime_after_minutes_per_week)
    .execute(&mut *conn)
    .await?;
    for c in credentials {
        sqlx::query(
            "insert into caregiver_credentials (caregiver_id, skill, expires_on) values ($1, $2, $3)",
        )
        .bind(id)
        .bind(&c.skill)
        .bind(c.expires_on)
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[utoipa::path(get, path = "/caregivers/{id}", tag = "caregivers", operation_id = "show_caregiver",
    params(("id" = Uuid, Path, description = "The caregiver")),
    responses((status = 200, description = "The caregiver", body = CaregiverDetail)))]
async fn show(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<CaregiverDetail>, ApiError> {
    principal.may_act_for(id)?;
    Ok(Json(detail(&state, id).await?))
}

/// Caregivers, oldest first.
#[utoipa::path(get, path = "/caregivers", tag = "caregivers", operation_id = "list_caregivers", params(Page),
    responses((status = 200, description = "A page of caregivers", body = Vec<Caregiver>)))]
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
