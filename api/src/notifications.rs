//! What the notifier owes and sent (`/v1/notifications`, admins and
//! coordinators, with resending a dead or failed message), how each person
//! wants to be told (`/v1/me/notification-preferences`), who is on call
//! (`/v1/on-call`) and a client's contacts who asked for visit news
//! (`/v1/clients/{id}/contacts`). The notifier (`homecare-notifier`) reads
//! all of it from the database; nothing here sends anything itself.

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveTime, Utc};
use homecare_domain::notify::{Channel, Language, Template};
use homecare_domain::validation::{self, FieldErrors};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::Principal;
use crate::clients::Page;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(resend))
        .routes(routes!(my_preferences, set_my_preferences))
        .routes(routes!(on_call, set_on_call))
        .routes(routes!(contacts, add_contact))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationState {
    /// Waiting for its time (now, or the end of the recipient's quiet hours).
    Pending,
    /// A sender holds it.
    Sending,
    Sent,
    /// Not sent yet; tried again at `next_attempt_at`.
    Failed,
    /// Given up after the last attempt, or refused for good; resend it by hand.
    Dead,
}

/// One message owed to one recipient on one channel for one event.
#[derive(Debug, Serialize, ToSchema)]
pub struct Notification {
    pub id: Uuid,
    pub event_id: String,
    pub event_type: String,
    /// `user:<id>` or `contact:<id>`.
    pub recipient: String,
    pub channel: Channel,
    /// The e-mail address or phone number it goes to.
    pub address: String,
    pub template: Template,
    pub language: Language,
    /// Sent even in the recipient's quiet hours.
    pub urgent: bool,
    pub state: NotificationState,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

type NotificationRow = (
    Uuid,
    String,
    String,
    String,
    String,
    String,
    String,
    String,
    bool,
    String,
    i32,
    DateTime<Utc>,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
);

const COLUMNS: &str =
    "id, event_id, event_type, recipient, channel, address, template, language, urgent,
     state, attempts, next_attempt_at, last_error, created_at, sent_at";

fn parse<T: for<'de> Deserialize<'de>>(value: String) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::String(value.clone()))
        .map_err(|_| ApiError::Internal(format!("unexpected stored value `{value}`")))
}

fn from_row(row: NotificationRow) -> Result<Notification, ApiError> {
    let (id, event_id, event_type, recipient, channel, address, template, language, urgent, state) = (
        row.0, row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8, row.9,
    );
    Ok(Notification {
        id,
        event_id,
        event_type,
        recipient,
        channel: parse(channel)?,
        address,
        template: parse(template)?,
        language: parse(language)?,
        urgent,
        state: parse(state)?,
        attempts: row.10,
        next_attempt_at: row.11,
        last_error: row.12,
        created_at: row.13,
        sent_at: row.14,
    })
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationFilter {
    pub state: Option<NotificationState>,
    /// Only the messages one event owed.
    pub event_id: Option<String>,
    /// Only one recipient's (`user:<id>` or `contact:<id>`).
    pub recipient: Option<String>,
}

/// Messages owed and sent, newest first (admins and coordinators).
#[utoipa::path(get, path = "/notifications", tag = "notifications", operation_id = "list_notifications",
    params(NotificationFilter, Page),
    responses((status = 200, description = "Messages", body = Vec<Notification>)))]
#[tracing::instrument(skip_all)]
async fn list(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<NotificationFilter>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<Notification>>, ApiError> {
    let (limit, offset) = page.bounds()?;
    let state_name = filter.state.map(|s| {
        serde_json::to_value(s)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    });
    let rows: Vec<NotificationRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from notifications
          where ($1::text is null or state = $1) and ($2::text is null or event_id = $2)
            and ($3::text is null or recipient = $3)
          order by created_at desc, id limit $4 offset $5"
    ))
    .bind(state_name)
    .bind(filter.event_id)
    .bind(filter.recipient)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(
        rows.into_iter().map(from_row).collect::<Result<_, _>>()?,
    ))
}

/// Sends a dead or failed message again now, with a fresh count of attempts.
#[utoipa::path(post, path = "/notifications/{id}/resend", tag = "notifications",
    operation_id = "resend_notification",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "Queued to be sent now", body = Notification)))]
#[tracing::instrument(skip_all)]
async fn resend(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Notification>, ApiError> {
    let row: Option<NotificationRow> = sqlx::query_as(&format!(
        "update notifications set state = 'pending', attempts = 0, next_attempt_at = now(), last_error = null
          where id = $1 and state in ('dead', 'failed') returning {COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(&state.db)
    .await?;
    if let Some(row) = row {
        return Ok(Json(from_row(row)?));
    }
    let current: Option<(String,)> =
        sqlx::query_as("select state from notifications where id = $1")
            .bind(id)
            .fetch_optional(&state.db)
            .await?;
    match current {
        None => Err(ApiError::NotFound(format!("notification {id} not found"))),
        Some((current,)) => Err(ApiError::Conflict {
            code: "notification_not_resendable",
            detail: format!(
                "notification {id} is {current}; only a dead or failed one is sent again"
            ),
        }),
    }
}

/// Quiet hours in the person's time zone, "HH:MM" to "HH:MM" (may cross midnight).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuietHoursBody {
    #[schema(value_type = String, example = "21:00")]
    pub start: NaiveTime,
    #[schema(value_type = String, example = "07:00")]
    pub end: NaiveTime,
}

/// How a person wants to be told. Urgent messages (a same-day change, the
/// office's alerts) go out in quiet hours too; the others wait until they end.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": true, "sms": true, "push": true, "phone": "+13125550142",
    "language": "es", "timezone": "America/Chicago", "quiet_hours": {"start": "21:00", "end": "07:00"}}))]
pub struct NotificationPreferences {
    pub email: bool,
    pub sms: bool,
    pub push: bool,
    /// E.164 ("+13125550142"); required for SMS.
    pub phone: Option<String>,
    pub language: Language,
    /// An IANA time zone, for quiet hours.
    pub timezone: String,
    pub quiet_hours: Option<QuietHoursBody>,
    /// Whether e-mail can reach the account's address (it must be verified).
    #[serde(default)]
    #[schema(read_only)]
    pub email_verified: bool,
}

fn e164(phone: &str) -> bool {
    let digits = phone.strip_prefix('+').unwrap_or("");
    (7..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// The signed-in person's account id (machine tokens have none).
pub(crate) async fn own_account(
    state: &AppState,
    principal: &Principal,
) -> Result<(Uuid, bool), ApiError> {
    if !principal.session {
        return Err(ApiError::Forbidden(
            "notification preferences belong to a signed-in person".to_owned(),
        ));
    }
    let row: Option<(Uuid, Option<DateTime<Utc>>)> =
        sqlx::query_as("select id, email_verified_at from users where email = $1 and active")
            .bind(&principal.subject)
            .fetch_optional(&state.db)
            .await?;
    row.map(|(id, verified)| (id, verified.is_some()))
        .ok_or_else(|| ApiError::Forbidden("no active account".to_owned()))
}

type PreferencesRow = (
    bool,
    bool,
    bool,
    Option<String>,
    String,
    String,
    Option<NaiveTime>,
    Option<NaiveTime>,
);

/// The caller's notification preferences (the defaults until they change them).
#[utoipa::path(get, path = "/me/notification-preferences", tag = "notifications",
    operation_id = "my_notification_preferences",
    responses((status = 200, description = "The caller's preferences", body = NotificationPreferences)))]
#[tracing::instrument(skip_all)]
async fn my_preferences(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<NotificationPreferences>, ApiError> {
    let (user, email_verified) = own_account(&state, &principal).await?;
    let row: Option<PreferencesRow> = sqlx::query_as(
        "select email, sms, push, phone, language, timezone, quiet_start, quiet_end
           from notification_preferences where user_id = $1",
    )
    .bind(user)
    .fetch_optional(&state.db)
    .await?;
    let (email, sms, push, phone, language, timezone, start, end) = row.unwrap_or((
        true,
        false,
        true,
        None,
        "en".to_owned(),
        "UTC".to_owned(),
        None,
        None,
    ));
    Ok(Json(NotificationPreferences {
        email,
        sms,
        push,
        phone,
        language: Language::parse(&language).unwrap_or_default(),
        timezone,
        quiet_hours: start
            .zip(end)
            .map(|(start, end)| QuietHoursBody { start, end }),
        email_verified,
    }))
}

/// Replaces the caller's notification preferences.
#[utoipa::path(put, path = "/me/notification-preferences", tag = "notifications",
    operation_id = "set_my_notification_preferences",
    request_body = NotificationPreferences,
    responses((status = 200, description = "Saved", body = NotificationPreferences)))]
#[tracing::instrument(skip_all)]
async fn set_my_preferences(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(mut body): ApiJson<NotificationPreferences>,
) -> Result<Json<NotificationPreferences>, ApiError> {
    let (user, email_verified) = own_account(&state, &principal).await?;
    let mut errors = FieldErrors::default();
    if let Some(phone) = &body.phone {
        errors.check(
            e164(phone),
            "phone",
            "must be an E.164 number such as +13125550142",
        );
    }
    errors.check(
        !body.sms || body.phone.is_some(),
        "phone",
        "is required for SMS",
    );
    validation::timezone(&mut errors, "timezone", &body.timezone);
    if let Some(quiet) = &body.quiet_hours {
        errors.check(
            quiet.start != quiet.end,
            "quiet_hours.end",
            "must differ from the start",
        );
    }
    errors.into_result()?;
    let (start, end) = body.quiet_hours.as_ref().map(|q| (q.start, q.end)).unzip();
    sqlx::query(
        "insert into notification_preferences
             (user_id, email, sms, push, phone, language, timezone, quiet_start, quiet_end, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
         on conflict (user_id) do update set email = $2, sms = $3, push = $4, phone = $5, language = $6,
             timezone = $7, quiet_start = $8, quiet_end = $9, updated_at = now()",
    )
    .bind(user)
    .bind(body.email)
    .bind(body.sms)
    .bind(body.push)
    .bind(&body.phone)
    .bind(body.language.as_str())
    .bind(&body.timezone)
    .bind(start)
    .bind(end)
    .execute(&state.db)
    .await?;
    body.email_verified = email_verified;
    Ok(Json(body))
}

/// One stretch of the on-call rota.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OnCallShift {
    /// ISO weekday: 1 Monday … 7 Sunday.
    #[schema(minimum = 1, maximum = 7)]
    pub weekday: i16,
    /// From this hour (0–23) …
    #[schema(minimum = 0, maximum = 23)]
    pub start_hour: i16,
    /// … to this one (1–24), in the rota's time zone.
    #[schema(minimum = 1, maximum = 24)]
    pub end_hour: i16,
    /// The coordinator or admin on call.
    pub user_id: Uuid,
    /// Who is told when the on-call person does not act (an admin).
    pub escalate_to: Option<Uuid>,
}

/// Who is on call, by weekday and hour. Nobody on call: the agency's admins
/// get the office's alerts.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"timezone": "America/Chicago", "shifts": [
    {"weekday": 1, "start_hour": 0, "end_hour": 24, "user_id": "6f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f", "escalate_to": null}]}))]
pub struct OnCallRota {
    pub timezone: String,
    pub shifts: Vec<OnCallShift>,
}

/// The on-call rota.
#[utoipa::path(get, path = "/on-call", tag = "notifications", operation_id = "get_on_call",
    responses((status = 200, description = "The rota", body = OnCallRota)))]
#[tracing::instrument(skip_all)]
async fn on_call(State(state): State<AppState>) -> Result<Json<OnCallRota>, ApiError> {
    let rows: Vec<(i16, i16, i16, Uuid, Option<Uuid>, String)> = sqlx::query_as(
        "select weekday, start_hour, end_hour, user_id, escalate_to, timezone from on_call
          order by weekday, start_hour, user_id",
    )
    .fetch_all(&state.db)
    .await?;
    let timezone = rows
        .first()
        .map_or_else(|| "UTC".to_owned(), |r| r.5.clone());
    Ok(Json(OnCallRota {
        timezone,
        shifts: rows
            .into_iter()
            .map(
                |(weekday, start_hour, end_hour, user_id, escalate_to, _)| OnCallShift {
                    weekday,
                    start_hour,
                    end_hour,
                    user_id,
                    escalate_to,
                },
            )
            .collect(),
    }))
}

/// Replaces the on-call rota.
#[utoipa::path(put, path = "/on-call", tag = "notifications", operation_id = "set_on_call",
    request_body = OnCallRota,
    responses((status = 200, description = "Saved", body = OnCallRota)))]
#[tracing::instrument(skip_all)]
async fn set_on_call(
    State(state): State<AppState>,
    ApiJson(rota): ApiJson<OnCallRota>,
) -> Result<Json<OnCallRota>, ApiError> {
    let mut errors = FieldErrors::default();
    validation::timezone(&mut errors, "timezone", &rota.timezone);
    errors.check(rota.shifts.len() <= 500, "shifts", "at most 500 shifts");
    let mut tx = state.db.begin().await?;
    for (i, shift) in rota.shifts.iter().enumerate() {
        let field = |name: &str| format!("shifts[{i}].{name}");
        errors.check(
            (1..=7).contains(&shift.weekday),
            &field("weekday"),
            "must be 1 (Monday) to 7 (Sunday)",
        );
        errors.check(
            (0..=23).contains(&shift.start_hour),
            &field("start_hour"),
            "must be 0 to 23",
        );
        errors.check(
            (1..=24).contains(&shift.end_hour) && shift.end_hour > shift.start_hour,
            &field("end_hour"),
            "must be after the start hour, at most 24",
        );
        for (id, name, roles) in [
            (
                Some(shift.user_id),
                "user_id",
                &["admin", "coordinator"][..],
            ),
            (shift.escalate_to, "escalate_to", &["admin"][..]),
        ] {
            let Some(id) = id else { continue };
            let role: Option<(String,)> =
                sqlx::query_as("select role from users where id = $1 and active")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            errors.check(
                role.is_some_and(|(role,)| roles.contains(&role.as_str())),
                &field(name),
                format!("must be an active {} account", roles.join(" or ")),
            );
        }
    }
    errors.into_result()?;
    sqlx::query("delete from on_call").execute(&mut *tx).await?;
    for shift in &rota.shifts {
        sqlx::query(
            "insert into on_call (id, weekday, start_hour, end_hour, user_id, escalate_to, timezone)
             values ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(Uuid::new_v4())
        .bind(shift.weekday)
        .bind(shift.start_hour)
        .bind(shift.end_hour)
        .bind(shift.user_id)
        .bind(shift.escalate_to)
        .bind(&rota.timezone)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(Json(rota))
}

/// Someone close to a client who asked to hear when a caregiver arrives and leaves.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Ruth Park", "email": "ruth@example.com", "phone": "+13125550199",
    "language": "en", "visit_updates": true}))]
pub struct NewContact {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
    #[serde(default)]
    pub language: Language,
    /// Opted in to a message at each check-in and check-out.
    pub visit_updates: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Contact {
    pub id: Uuid,
    pub client_id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub language: Language,
    pub visit_updates: bool,
    /// E-mail reaches the contact only once the address is verified.
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
}

type ContactRow = (
    Uuid,
    Uuid,
    String,
    Option<String>,
    Option<String>,
    String,
    bool,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
);

fn contact(row: ContactRow) -> Contact {
    Contact {
        id: row.0,
        client_id: row.1,
        name: row.2,
        email: row.3,
        phone: row.4,
        language: Language::parse(&row.5).unwrap_or_default(),
        visit_updates: row.6,
        email_verified: row.7.is_some(),
        created_at: row.8,
    }
}

const CONTACT_COLUMNS: &str =
    "id, client_id, name, email, phone, language, visit_updates, email_verified_at, created_at";

/// A client's contacts.
#[utoipa::path(get, path = "/clients/{id}/contacts", tag = "notifications", operation_id = "list_client_contacts",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The client's contacts", body = Vec<Contact>)))]
#[tracing::instrument(skip_all)]
async fn contacts(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Vec<Contact>>, ApiError> {
    let rows: Vec<ContactRow> = sqlx::query_as(&format!(
        "select {CONTACT_COLUMNS} from client_contacts where client_id = $1 order by created_at, id"
    ))
    .bind(id)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(rows.into_iter().map(contact).collect()))
}

/// Adds a contact to a client.
#[utoipa::path(post, path = "/clients/{id}/contacts", tag = "notifications", operation_id = "add_client_contact",
    params(("id" = Uuid, Path)),
    request_body = NewContact,
    responses((status = 201, description = "Added", body = Contact)))]
#[tracing::instrument(skip_all)]
async fn add_contact(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(new): ApiJson<NewContact>,
) -> Result<(StatusCode, Json<Contact>), ApiError> {
    let mut errors = FieldErrors::default();
    validation::name(&mut errors, "name", &new.name);
    let email = match new
        .email
        .as_deref()
        .map(homecare_domain::accounts::normalize_email)
    {
        Some(Ok(email)) => Some(email),
        Some(Err(reason)) => {
            errors.add("email", reason);
            None
        }
        None => None,
    };
    if let Some(phone) = &new.phone {
        errors.check(
            e164(phone),
            "phone",
            "must be an E.164 number such as +13125550142",
        );
    }
    errors.check(
        new.email.is_some() || new.phone.is_some(),
        "email",
        "an e-mail address or a phone number is needed",
    );
    errors.into_result()?;
    let row: Option<ContactRow> = sqlx::query_as(&format!(
        "insert into client_contacts (id, client_id, name, email, phone, language, visit_updates)
         select $1, c.id, $3, $4, $5, $6, $7 from clients c where c.id = $2
         returning {CONTACT_COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(id)
    .bind(new.name.trim())
    .bind(&email)
    .bind(&new.phone)
    .bind(new.language.as_str())
    .bind(new.visit_updates)
    .fetch_optional(&state.db)
    .await?;
    row.map(|row| (StatusCode::CREATED, Json(contact(row))))
        .ok_or_else(|| ApiError::NotFound(format!("client {id} not found")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn phone_numbers_are_e164() {
        assert!(super::e164("+13125550142"));
        assert!(!super::e164("3125550142"));
        assert!(!super::e164("+0312555"));
        assert!(!super::e164("+1312555014a"));
        assert!(!super::e164("+1234567890123456"));
    }
}
