//! Proving an e-mail address: `POST /v1/me/email-verification` owes the
//! signed-in person an e-mail (through the notifier, like every message) with
//! a link that works once for a day; `GET /v1/auth/verify-email?token=` (an
//! open route: the link carries the secret) marks the address verified. The
//! notifier sends e-mail only to verified addresses.

use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::Html;
use chrono::{DateTime, Duration, Utc};
use homecare_domain::notify::{Channel, Facts, Language, Template};
use homecare_store::notifications::{Owed, owe};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::passwords::{digest, new_token};
use crate::auth::Principal;
use crate::extract::ApiQuery;
use crate::{ApiError, AppState};

/// How long a verification link works.
const VALID_FOR: Duration = Duration::hours(24);

#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationSent {
    /// The address the link goes to.
    pub sent_to: String,
    pub expires_at: DateTime<Utc>,
}

/// Sends the caller a link that proves they read their e-mail address.
#[utoipa::path(post, path = "/me/email-verification", tag = "notifications",
    operation_id = "verify_my_email",
    responses((status = 202, description = "The e-mail is owed; the notifier sends it", body = VerificationSent)))]
#[tracing::instrument(skip_all)]
pub(super) async fn request(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<(StatusCode, Json<VerificationSent>), ApiError> {
    if !principal.session {
        return Err(ApiError::Forbidden(
            "an e-mail address belongs to a signed-in person".to_owned(),
        ));
    }
    let row: Option<(Uuid, String, Option<String>)> = sqlx::query_as(
        "select u.id, u.email, p.language from users u
           left join notification_preferences p on p.user_id = u.id
          where u.email = $1 and u.active",
    )
    .bind(&principal.subject)
    .fetch_optional(&state.db)
    .await?;
    let (user, email, language) =
        row.ok_or_else(|| ApiError::Forbidden("no active account".to_owned()))?;
    let (token, token_digest) = new_token("ev_");
    let now = Utc::now();
    let expires_at = now + VALID_FOR;
    let public = state.config.public_url.trim_end_matches('/');
    let facts = Facts {
        client: String::new(),
        scheduled_start: now,
        timezone: chrono_tz::Tz::UTC,
        link: format!("{public}/v1/auth/verify-email?token={token}"),
    };
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "insert into email_verifications (digest, user_id, email, expires_at) values ($1, $2, $3, $4)",
    )
    .bind(&token_digest)
    .bind(user)
    .bind(&email)
    .bind(expires_at)
    .execute(&mut *tx)
    .await?;
    // Owed like any message: the notifier's senders deliver it.
    owe(
        &mut tx,
        &Owed {
            event_id: &format!("email-verification:{}", hex::encode(&token_digest[..16])),
            event_type: "homecare.account.email_verification",
            recipient: &format!("user:{user}"),
            channel: Channel::Email,
            address: &email,
            template: Template::VerifyEmail,
            language: language
                .as_deref()
                .and_then(Language::parse)
                .unwrap_or_default(),
            urgent: true,
            facts: &facts,
            due: now,
        },
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(VerificationSent {
            sent_to: email,
            expires_at,
        }),
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VerificationLink {
    /// The secret from the e-mail's link.
    pub token: String,
}

/// Marks the address verified (the link in the verification e-mail).
#[utoipa::path(get, path = "/auth/verify-email", tag = "auth", operation_id = "confirm_email",
    params(VerificationLink),
    responses((status = 200, description = "Verified", content_type = "text/html", body = String)))]
#[tracing::instrument(skip_all)]
pub(super) async fn confirm(
    State(state): State<AppState>,
    ApiQuery(link): ApiQuery<VerificationLink>,
) -> Result<Html<&'static str>, ApiError> {
    let verified: Option<(Uuid,)> = sqlx::query_as(
        "with used as (
             update email_verifications v set used_at = now()
              where v.digest = $1 and v.used_at is null and v.expires_at > now()
             returning v.user_id, v.email)
         update users u set email_verified_at = now()
           from used where u.id = used.user_id and u.email = used.email
         returning u.id",
    )
    .bind(digest(&link.token))
    .fetch_optional(&state.db)
    .await?;
    match verified {
        Some(_) => Ok(Html(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>E-mail verified</title>\
             <p>Your e-mail address is verified: homecare notifications will reach it.</p></html>",
        )),
        None => Err(ApiError::field(
            "token",
            "this verification link is used, expired or not ours: ask for a new one",
        )),
    }
}
