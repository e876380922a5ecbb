//! Sign-in for people: `POST /v1/auth/login` checks an e-mail address and an
//! Argon2id password and opens a session, answering a short-lived access token
//! (sent as `Authorization: Bearer`) and setting a rotating refresh token in an
//! httpOnly, Secure, SameSite=Strict cookie scoped to `/v1/auth`. Refreshing
//! uses the cookie once and sets the next one; a refresh token used twice
//! revokes the session. Logout revokes it. Repeated failures lock the account
//! and the address (`homecare_domain::accounts::Throttle`), across replicas.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use homecare_domain::accounts::{self, ACCOUNT_THROTTLE, ADDRESS_THROTTLE};
use homecare_domain::validation::FieldErrors;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use super::passwords;
use super::revocation::revoke;
use super::throttle::{locked_for, record_failure, too_many_attempts};
use super::users::{User, find_by_email};
use crate::auth::{Principal, Role};
use crate::client_address::ClientAddress;
use crate::extract::ApiJson;
use crate::{ApiError, AppState};

/// The refresh cookie's name; it is sent to `/v1/auth` only.
pub const REFRESH_COOKIE: &str = "homecare_refresh";
const ACCESS_PREFIX: &str = "hc_at_";
const REFRESH_PREFIX: &str = "hc_rt_";

/// Whether a bearer token is a session's access token (not a JWT).
pub fn is_access_token(token: &str) -> bool {
    token.starts_with(ACCESS_PREFIX)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"email": "coordinator@agency.example", "password": "correct horse battery"}))]
pub struct Credentials {
    #[schema(min_length = 3, max_length = 200)]
    pub email: String,
    #[schema(min_length = 1, max_length = 256)]
    pub password: String,
}

/// An open session: the access token to send as `Authorization: Bearer`, and
/// who it is for. The refresh token is in the `homecare_refresh` cookie.
#[derive(Debug, Serialize, ToSchema)]
pub struct Session {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds the access token is good for.
    pub expires_in: i64,
    /// When the session ends, however often it is refreshed.
    pub session_expires_at: DateTime<Utc>,
    pub user: User,
}

/// Signs a person in.
#[utoipa::path(post, path = "/auth/login", tag = "auth", operation_id = "login",
    request_body = Credentials,
    responses(
        (status = 200, description = "Signed in; the refresh token is in the `homecare_refresh` cookie", body = Session)),
    security(()))]
#[tracing::instrument(skip_all)]
pub(super) async fn login(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    ApiJson(credentials): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let mut errors = FieldErrors::default();
    let email = accounts::check_email(&mut errors, "email", &credentials.email);
    errors.check(
        !credentials.password.is_empty(),
        "password",
        "must not be empty",
    );
    errors.check(
        credentials.password.chars().count() <= accounts::MAX_PASSWORD_CHARS,
        "password",
        format!(
            "must be at most {} characters",
            accounts::MAX_PASSWORD_CHARS
        ),
    );
    errors.into_result()?;
    let email = email.expect("checked");
    let keys = [
        (format!("account:{email}"), ACCOUNT_THROTTLE),
        (format!("address:{address}"), ADDRESS_THROTTLE),
    ];
    let now = Utc::now();
    if let Some(wait) = locked_for(&state.db, &keys, now).await? {
        return Err(too_many_attempts("sign-in is", wait));
    }
    let user = find_by_email(&state.db, &email).await?;
    let matches = passwords::verify(
        credentials.password,
        user.as_ref().map(|(_, hash)| hash.clone()),
    )
    .await?;
    let user = match user {
        Some((user, _)) if matches => user,
        found => {
            record_failure(&state.db, &keys, Utc::now()).await?;
            if let Some((user, _)) = found {
                write_audit(&state, &user, "POST /v1/auth/login", 401).await;
            }
            return Err(ApiError::Unauthorized(
                "the e-mail address or the password is wrong".to_owned(),
            ));
        }
    };
    if !user.active {
        return Err(ApiError::Forbidden(
            "this account is deactivated; ask an administrator".to_owned(),
        ));
    }
    sqlx::query("delete from sign_in_throttle where key = $1")
        .bind(&keys[0].0)
        .execute(&state.db)
        .await?;
    let session_expires_at = now + Duration::hours(accounts::SESSION_HOURS);
    let session_id = Uuid::new_v4();
    let mut tx = state.db.begin().await?;
    sqlx::query("insert into sessions (id, user_id, expires_at, address) values ($1, $2, $3, $4)")
        .bind(session_id)
        .bind(user.id)
        .bind(session_expires_at)
        .bind(address.chars().take(100).collect::<String>())
        .execute(&mut *tx)
        .await?;
    let tokens = issue_tokens(&mut tx, session_id, session_expires_at, now).await?;
    tx.commit().await?;
    write_audit(&state, &user, "POST /v1/auth/login", 200).await;
    Ok(session_response(tokens, session_expires_at, user))
}

/// A refresh token's row: its session, when it was used and expires, and its
/// session's revocation, end and user.
type RefreshRow = (
    Uuid,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    DateTime<Utc>,
    Uuid,
);

/// Renews the access token with the refresh cookie, and rotates the cookie.
#[utoipa::path(post, path = "/auth/refresh", tag = "auth", operation_id = "refresh_session",
    responses(
        (status = 200, description = "A new access token; the cookie is rotated (401: no cookie, or one expired, revoked or used before, which revokes the session)", body = Session)),
    security(()))]
#[tracing::instrument(skip_all)]
pub(super) async fn refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let token = refresh_cookie(&headers)
        .ok_or_else(|| signed_out("no session: sign in again (the refresh cookie is missing)"))?;
    let now = Utc::now();
    let digest = passwords::digest(&token);
    let mut tx = state.db.begin().await?;
    let row: Option<RefreshRow> = sqlx::query_as(
        "select t.session_id, t.used_at, t.expires_at, s.revoked_at, s.expires_at, s.user_id
             from session_tokens t join sessions s on s.id = t.session_id
             where t.digest = $1 and t.kind = 'refresh'
             for update of t, s",
    )
    .bind(&digest)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((session_id, used_at, token_expires, revoked_at, session_expires_at, user_id)) = row
    else {
        return Err(signed_out("the session is unknown: sign in again"));
    };
    if used_at.is_some() {
        // Someone else holds a copy of this cookie: end the session for both.
        revoke(&mut tx, session_id, "a refresh token was used twice").await?;
        tx.commit().await?;
        return Err(signed_out(
            "this refresh token was already used; the session is revoked: sign in again",
        ));
    }
    if revoked_at.is_some() || token_expires <= now || session_expires_at <= now {
        return Err(signed_out("the session has ended: sign in again"));
    }
    let user = super::users::find(&mut tx, user_id)
        .await?
        .filter(|user| user.active)
        .ok_or_else(|| signed_out("the account is deactivated"))?;
    sqlx::query("update session_tokens set used_at = $2 where digest = $1")
        .bind(&digest)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let tokens = issue_tokens(&mut tx, session_id, session_expires_at, now).await?;
    tx.commit().await?;
    Ok(session_response(tokens, session_expires_at, user))
}

/// Ends the session of the refresh cookie (or of the bearer access token).
#[utoipa::path(post, path = "/auth/logout", tag = "auth", operation_id = "logout",
    responses((status = 204, description = "Signed out; the cookie is cleared")),
    security(()))]
#[tracing::instrument(skip_all)]
pub(super) async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let tokens = [
        refresh_cookie(&headers),
        crate::auth::bearer(&headers)
            .ok()
            .filter(|t| is_access_token(t))
            .map(str::to_owned),
    ];
    let mut tx = state.db.begin().await?;
    let mut ended = None;
    for token in tokens.into_iter().flatten() {
        let session: Option<(Uuid, Uuid)> = sqlx::query_as(
            "select s.id, s.user_id from session_tokens t join sessions s on s.id = t.session_id
             where t.digest = $1 and s.revoked_at is null",
        )
        .bind(passwords::digest(&token))
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((session_id, user_id)) = session {
            revoke(&mut tx, session_id, "signed out").await?;
            ended = Some(user_id);
        }
    }
    tx.commit().await?;
    if let Some(user_id) = ended {
        let mut conn = state.db.acquire().await?;
        if let Some(user) = super::users::find(&mut conn, user_id).await? {
            write_audit(&state, &user, "POST /v1/auth/logout", 204).await;
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, clear_cookie());
    Ok(response)
}

/// The principal of a session's access token, if it is current.
pub async fn principal(db: &PgPool, token: &str) -> Result<Principal, ApiError> {
    let row: Option<(String, String, Option<Uuid>)> = sqlx::query_as(
        "select u.email, u.role, u.caregiver_id
         from session_tokens t
         join sessions s on s.id = t.session_id
         join users u on u.id = s.user_id
         where t.digest = $1 and t.kind = 'access' and t.expires_at > now()
           and s.revoked_at is null and s.expires_at > now() and u.active",
    )
    .bind(passwords::digest(token))
    .fetch_optional(db)
    .await?;
    let (email, role, caregiver_id) = row.ok_or_else(|| {
        ApiError::Unauthorized(
            "the access token has expired or its session has ended: refresh or sign in again"
                .to_owned(),
        )
    })?;
    Ok(Principal {
        subject: email,
        role: Role::parse(&role).ok_or_else(|| ApiError::internal("unknown role in users"))?,
        caregiver_id,
        session: true,
    })
}

struct Tokens {
    access: String,
    refresh: String,
    refresh_max_age: i64,
}

async fn issue_tokens(
    conn: &mut PgConnection,
    session_id: Uuid,
    session_expires_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Tokens, sqlx::Error> {
    let (access, access_digest) = passwords::new_token(ACCESS_PREFIX);
    let (refresh, refresh_digest) = passwords::new_token(REFRESH_PREFIX);
    let access_expires =
        (now + Duration::minutes(accounts::ACCESS_TOKEN_MINUTES)).min(session_expires_at);
    sqlx::query(
        "insert into session_tokens (digest, session_id, kind, expires_at)
         values ($1, $3, 'access', $4), ($2, $3, 'refresh', $5)",
    )
    .bind(access_digest)
    .bind(refresh_digest)
    .bind(session_id)
    .bind(access_expires)
    .bind(session_expires_at)
    .execute(conn)
    .await?;
    Ok(Tokens {
        access,
        refresh,
        refresh_max_age: (session_expires_at - now).num_seconds().max(0),
    })
}

fn session_response(tokens: Tokens, session_expires_at: DateTime<Utc>, user: User) -> Response {
    let cookie = format!(
        "{REFRESH_COOKIE}={}; Path=/v1/auth; Max-Age={}; HttpOnly; Secure; SameSite=Strict",
        tokens.refresh, tokens.refresh_max_age
    );
    let session = Session {
        access_token: tokens.access,
        token_type: "Bearer",
        expires_in: accounts::ACCESS_TOKEN_MINUTES * 60,
        session_expires_at,
        user,
    };
    let mut response = Json(session).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("a token is a valid header value"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn clear_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "homecare_refresh=; Path=/v1/auth; Max-Age=0; HttpOnly; Secure; SameSite=Strict",
    )
}

/// The 401 for a session that cannot be renewed (the cookie stays until it
/// expires or a logout clears it; it is good for nothing).
fn signed_out(detail: &str) -> ApiError {
    ApiError::Unauthorized(detail.to_owned())
}

fn refresh_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == REFRESH_COOKIE && value.starts_with(REFRESH_PREFIX))
        .map(|(_, value)| value.to_owned())
}

async fn write_audit(state: &AppState, user: &User, action: &str, status: u16) {
    let principal = Principal {
        subject: user.email.clone(),
        role: user.role,
        caregiver_id: user.caregiver_id,
        session: true,
    };
    // The digest names the account, never the password.
    let digest = hex::encode(sha2::Sha256::digest(user.email.as_bytes()));
    crate::audit::write(
        state,
        &principal,
        action,
        ("user", Some(&user.id.to_string())),
        &Uuid::new_v4().to_string(),
        status,
        &digest,
    )
    .await;
}
