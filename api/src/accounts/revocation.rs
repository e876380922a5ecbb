//! Ending sessions: one (logout, a refresh token used twice) or all of a
//! user's (deactivation, a new password or role).

use sqlx::PgConnection;
use uuid::Uuid;

/// Ends every open session of a user (a password change, deactivation).
pub async fn revoke_all(
    conn: &mut PgConnection,
    user_id: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    revoke_where(conn, "user_id", user_id, reason).await
}

pub(super) async fn revoke(
    conn: &mut PgConnection,
    session_id: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    revoke_where(conn, "id", session_id, reason).await
}

/// Revokes the open sessions whose `column` (`id` or `user_id`) is `id`.
async fn revoke_where(
    conn: &mut PgConnection,
    column: &'static str,
    id: Uuid,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "update sessions set revoked_at = now(), revoked_reason = $2
         where {column} = $1 and revoked_at is null"
    ))
    .bind(id)
    .bind(reason)
    .execute(conn)
    .await
    .map(|_| ())
}
