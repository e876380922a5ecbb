//! Failures counted per key (an account, an address's sign-ins, an address's
//! bearer tokens) in PostgreSQL, so every replica sees the same counts and
//! locks; the rule itself is `homecare_domain::accounts::Throttle`.

use chrono::{DateTime, Duration, Utc};
use homecare_domain::accounts::{Throttle, ThrottlePolicy};
use sqlx::{PgConnection, PgPool};

use crate::ApiError;

/// 429: `what` ("sign-in is", "... are") locked for `wait`.
pub(crate) fn too_many_attempts(what: &str, wait: Duration) -> ApiError {
    let minutes = (wait.num_seconds() + 59) / 60;
    ApiError::TooManyRequests {
        detail: format!("{what} locked for {minutes} more minute(s) after repeated failures"),
        retry_after_secs: u64::try_from(wait.num_seconds().max(1)).unwrap_or(1),
    }
}

/// The failures remembered for one key (its row locked with `for_update`).
async fn throttle(
    conn: &mut PgConnection,
    key: &str,
    for_update: bool,
) -> Result<Option<Throttle>, sqlx::Error> {
    let sql = if for_update {
        "select failures, window_started_at, locked_until from sign_in_throttle where key = $1 for update"
    } else {
        "select failures, window_started_at, locked_until from sign_in_throttle where key = $1"
    };
    let row: Option<(i32, DateTime<Utc>, Option<DateTime<Utc>>)> =
        sqlx::query_as(sql).bind(key).fetch_optional(conn).await?;
    Ok(
        row.map(|(failures, window_started_at, locked_until)| Throttle {
            failures: u32::try_from(failures).unwrap_or(1),
            window_started_at,
            locked_until,
        }),
    )
}

/// How long the longest-locked of `keys` stays locked (None: all may try).
pub(crate) async fn locked_for(
    db: &PgPool,
    keys: &[(String, ThrottlePolicy)],
    now: DateTime<Utc>,
) -> Result<Option<Duration>, sqlx::Error> {
    let mut conn = db.acquire().await?;
    let mut longest = None;
    for (key, _) in keys {
        let wait = throttle(&mut conn, key, false)
            .await?
            .and_then(|t| t.locked_for(now));
        longest = longest.max(wait);
    }
    Ok(longest)
}

/// Counts one failure against every key, in one transaction (the rows are
/// locked, so concurrent failures on two replicas both count), and answers
/// the longest lock it leaves.
pub(crate) async fn record_failure(
    db: &PgPool,
    keys: &[(String, ThrottlePolicy)],
    now: DateTime<Utc>,
) -> Result<Option<Duration>, sqlx::Error> {
    let mut longest = None;
    let mut tx = db.begin().await?;
    for (key, policy) in keys {
        // A new key's first failure (no policy locks on one) is its row.
        let inserted: Option<i32> = sqlx::query_scalar(
            "insert into sign_in_throttle (key, failures, window_started_at) values ($1, 1, $2)
             on conflict (key) do nothing returning failures",
        )
        .bind(key)
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        if inserted.is_some() {
            continue;
        }
        let previous = throttle(&mut tx, key, true).await?;
        let next = Throttle::after_failure(previous, now, policy);
        sqlx::query(
            "update sign_in_throttle set failures = $2, window_started_at = $3, locked_until = $4
             where key = $1",
        )
        .bind(key)
        .bind(i32::try_from(next.failures).unwrap_or(i32::MAX))
        .bind(next.window_started_at)
        .bind(next.locked_until)
        .execute(&mut *tx)
        .await?;
        longest = longest.max(next.locked_for(now));
    }
    tx.commit().await?;
    Ok(longest)
}
