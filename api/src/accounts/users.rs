//! `/v1/users`: the people who sign in (admins manage them), and
//! `GET /v1/auth/me`: who the caller is. A caregiver's account names the
//! caregiver it stands for; deactivating an account or changing its password
//! ends its sessions at once.

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use homecare_domain::accounts;
use homecare_domain::validation::{self, FieldErrors};
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use super::passwords;
use super::revocation::revoke_all;
use crate::auth::{Principal, Role};
use crate::clients::Page;
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::{ApiError, AppState};

/// An account (never its password).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// The caregiver a `caregiver` account stands for.
    pub caregiver_id: Option<Uuid>,
    pub active: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "dana@agency.example", "display_name": "Dana Whitfield",
    "role": "coordinator", "password": "correct horse battery"}))]
pub struct NewUser {
    #[schema(min_length = 3, max_length = 200)]
    pub email: String,
    #[schema(min_length = 1, max_length = 200)]
    pub display_name: String,
    pub role: Role,
    /// Required for, and only for, the `caregiver` role.
    pub caregiver_id: Option<Uuid>,
    /// At least 12 characters, at least 4 different ones, not the e-mail address.
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
}

/// What an admin may change; absent fields stay as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"active": false}))]
pub struct UserChanges {
    #[schema(min_length = 1, max_length = 200)]
    pub display_name: Option<String>,
    pub role: Option<Role>,
    /// The caregiver of a `caregiver` account (send with `role: caregiver`).
    pub caregiver_id: Option<Uuid>,
    /// `false` ends the account's sessions and refuses sign-in.
    pub active: Option<bool>,
    /// A new password; ends the account's sessions.
    #[schema(min_length = 12, max_length = 256)]
    pub password: Option<String>,
}

type UserRow = (
    Uuid,
    String,
    String,
    String,
    Option<Uuid>,
    bool,
    DateTime<Utc>,
    DateTime<Utc>,
);
/// A row of [`COLUMNS`] followed by `password_hash`.
type UserRowWithHash = (
    Uuid,
    String,
    String,
    String,
    Option<Uuid>,
    bool,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
);
const COLUMNS: &str = "id, email, display_name, role, caregiver_id, active, created_at, updated_at";

fn from_row(row: UserRow) -> Result<User, ApiError> {
    let (id, email, display_name, role, caregiver_id, active, created_at, updated_at) = row;
    Ok(User {
        id,
        email,
        display_name,
        role: Role::parse(&role).ok_or_else(|| ApiError::internal("unknown role in users"))?,
        caregiver_id,
        active,
        created_at,
        updated_at,
    })
}

/// The account with `email` (normalised) and its password hash.
pub(super) async fn find_by_email(
    db: &PgPool,
    email: &str,
) -> Result<Option<(User, String)>, ApiError> {
    // One read: the account's columns and its hash.
    let row: Option<UserRowWithHash> = sqlx::query_as(&format!(
        "select {COLUMNS}, password_hash from users where email = $1"
    ))
    .bind(email)
    .fetch_optional(db)
    .await?;
    let Some((id, email, display_name, role, caregiver_id, active, created_at, updated_at, hash)) =
        row
    else {
        return Ok(None);
    };
    let user = from_row((
        id,
        email,
        display_name,
        role,
        caregiver_id,
        active,
        created_at,
        updated_at,
    ))?;
    Ok(Some((user, hash)))
}

/// Whether `email` (normalised) has an account.
pub async fn exists(db: &PgPool, email: &str) -> Result<bool, ApiError> {
    Ok(
        sqlx::query_scalar("select exists (select 1 from users where email = $1)")
            .bind(email)
            .fetch_one(db)
            .await?,
    )
}

pub(super) async fn find(conn: &mut PgConnection, id: Uuid) -> Result<Option<User>, ApiError> {
    let row: Option<UserRow> =
        sqlx::query_as(&format!("select {COLUMNS} from users where id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?;
    row.map(from_row).transpose()
}

fn check_caregiver_link(errors: &mut FieldErrors, role: Role, caregiver_id: Option<Uuid>) {
    match (role, caregiver_id) {
        (Role::Caregiver, None) => {
            errors.add("caregiver_id", "a caregiver account names its caregiver")
        }
        (Role::Caregiver, Some(_)) | (_, None) => {}
        (_, Some(_)) => errors.add("caregiver_id", "only a caregiver account names a caregiver"),
    }
}

/// Creates an account: the API's `POST /v1/users` and `homecare users create`.
pub async fn create_user(db: &PgPool, new: NewUser) -> Result<User, ApiError> {
    let mut errors = FieldErrors::default();
    let email = accounts::check_email(&mut errors, "email", &new.email);
    validation::name(&mut errors, "display_name", &new.display_name);
    accounts::check_password(&mut errors, "password", &new.password, &new.email);
    check_caregiver_link(&mut errors, new.role, new.caregiver_id);
    errors.into_result()?;
    if let Some(caregiver) = new.caregiver_id {
        ensure_caregiver(db, caregiver).await?;
    }
    let hash = passwords::hash(new.password).await?;
    let row: UserRow = sqlx::query_as(&format!(
        "insert into users (id, email, display_name, role, caregiver_id, password_hash)
         values ($1, $2, $3, $4, $5, $6) returning {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(email.expect("checked"))
    .bind(new.display_name.trim())
    .bind(new.role.as_str())
    .bind(new.caregiver_id)
    .bind(hash)
    .fetch_one(db)
    .await
    .map_err(|e| match ApiError::from(e) {
        ApiError::Conflict {
            code: "duplicate",
            detail,
        } if detail.contains("email") => {
            ApiError::field("email", "an account with this e-mail address exists")
        }
        ApiError::Conflict {
            code: "duplicate", ..
        } => ApiError::field("caregiver_id", "this caregiver already has an account"),
        other => other,
    })?;
    from_row(row)
}

async fn ensure_caregiver(db: &PgPool, caregiver: Uuid) -> Result<(), ApiError> {
    let exists: bool = sqlx::query_scalar("select exists (select 1 from caregivers where id = $1)")
        .bind(caregiver)
        .fetch_one(db)
        .await?;
    if exists {
        Ok(())
    } else {
        Err(ApiError::field(
            "caregiver_id",
            format!("caregiver {caregiver} not found"),
        ))
    }
}

/// Creates an account (admin).
#[utoipa::path(post, path = "/users", tag = "users", operation_id = "create_user",
    request_body = NewUser,
    responses((status = 201, description = "Created", body = User)))]
#[tracing::instrument(skip_all)]
pub(super) async fn create(
    State(state): State<AppState>,
    ApiJson(new): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(create_user(&state.db, new).await?),
    ))
}

/// Every account, by e-mail address (admin).
#[utoipa::path(get, path = "/users", tag = "users", operation_id = "list_users",
    params(Page),
    responses((status = 200, description = "Accounts", body = Vec<User>)))]
#[tracing::instrument(skip_all)]
pub(super) async fn list(
    State(state): State<AppState>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<User>>, ApiError> {
    let (limit, offset) = page.bounds()?;
    let rows: Vec<UserRow> = sqlx::query_as(&format!(
        "select {COLUMNS} from users order by email limit $1 offset $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(
        rows.into_iter().map(from_row).collect::<Result<_, _>>()?,
    ))
}

/// One account (admin).
#[utoipa::path(get, path = "/users/{id}", tag = "users", operation_id = "get_user",
    params(("id" = Uuid, Path)),
    responses((status = 200, description = "The account", body = User)))]
#[tracing::instrument(skip_all)]
pub(super) async fn show(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<User>, ApiError> {
    let mut conn = state.db.acquire().await?;
    find(&mut conn, id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("user {id} not found")))
}

/// Changes an account (admin). Deactivation and a new password end its
/// sessions; an admin cannot deactivate or demote their own account.
#[utoipa::path(patch, path = "/users/{id}", tag = "users", operation_id = "update_user",
    params(("id" = Uuid, Path)),
    request_body = UserChanges,
    responses((status = 200, description = "Changed", body = User)))]
#[tracing::instrument(skip_all)]
pub(super) async fn update(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(changes): ApiJson<UserChanges>,
) -> Result<Json<User>, ApiError> {
    let mut tx = state.db.begin().await?;
    let current = find(&mut tx, id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("user {id} not found")))?;
    let role = changes.role.unwrap_or(current.role);
    let caregiver_id = match (changes.role, changes.caregiver_id) {
        (_, Some(caregiver)) => Some(caregiver),
        (Some(Role::Caregiver) | None, None) => current.caregiver_id,
        (Some(_), None) => None,
    };
    let mut errors = FieldErrors::default();
    if let Some(name) = &changes.display_name {
        validation::name(&mut errors, "display_name", name);
    }
    if let Some(password) = &changes.password {
        accounts::check_password(&mut errors, "password", password, &current.email);
    }
    check_caregiver_link(&mut errors, role, caregiver_id);
    if principal.subject == current.email {
        errors.check(
            changes.active != Some(false),
            "active",
            "you cannot deactivate your own account",
        );
        errors.check(
            role == current.role,
            "role",
            "you cannot change your own role",
        );
    }
    errors.into_result()?;
    if let Some(caregiver) = caregiver_id.filter(|c| Some(*c) != current.caregiver_id) {
        ensure_caregiver(&state.db, caregiver).await?;
    }
    let hash = match changes.password.clone() {
        Some(password) => Some(passwords::hash(password).await?),
        None => None,
    };
    let row: UserRow = sqlx::query_as(&format!(
        "update users set display_name = coalesce($2, display_name), role = $3, caregiver_id = $4,
             active = coalesce($5, active), password_hash = coalesce($6, password_hash),
             updated_at = now()
         where id = $1 returning {COLUMNS}"
    ))
    .bind(id)
    .bind(changes.display_name.as_deref().map(str::trim))
    .bind(role.as_str())
    .bind(caregiver_id)
    .bind(changes.active)
    .bind(hash.as_deref())
    .fetch_one(&mut *tx)
    .await?;
    let ends_sessions = if changes.active == Some(false) {
        Some("the account was deactivated")
    } else if changes.password.is_some() {
        Some("the password was changed")
    } else if role != current.role || caregiver_id != current.caregiver_id {
        Some("the account's role changed")
    } else {
        None
    };
    if let Some(reason) = ends_sessions {
        revoke_all(&mut tx, id, reason).await?;
    }
    tx.commit().await?;
    Ok(Json(from_row(row)?))
}

/// Who is calling: the signed-in person, or a machine client's token.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The account's e-mail address, or a token's subject.
    pub subject: String,
    pub role: Role,
    pub caregiver_id: Option<Uuid>,
    /// The account, when the caller signed in (absent for machine tokens).
    pub user: Option<User>,
}

/// Who is calling (any role).
#[utoipa::path(get, path = "/auth/me", tag = "auth", operation_id = "who_am_i",
    responses((status = 200, description = "The caller", body = Me)))]
#[tracing::instrument(skip_all)]
pub(super) async fn me(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<Me>, ApiError> {
    let user = match find_by_email(&state.db, &principal.subject).await? {
        Some((user, _)) if principal.session => Some(user),
        _ => None,
    };
    Ok(Json(Me {
        subject: principal.subject,
        role: principal.role,
        caregiver_id: principal.caregiver_id,
        user,
    }))
}
