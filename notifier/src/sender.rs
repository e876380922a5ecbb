//! Messages out: due rows are claimed (`for update skip locked`, so senders
//! on any number of notifiers never take the same one), sent, and marked
//! sent, failed (to be retried after a back-off) or dead.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use homecare_domain::notify::{self, Facts, Language, Template};
use sqlx::PgPool;
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use crate::channels::{Channel, Channels, Destination, Device, Failure};
use crate::config::NotifierConfig;

/// Messages one sender claims at a time.
const BATCH: i64 = 32;
/// How long a claim holds (longer than any channel's 20 s timeout); a
/// sender that died is taken over after it.
const CLAIM: Duration = Duration::from_secs(60);

/// The wait after failed attempt `attempts`: `base`, twice that, four
/// times ... capped at an hour.
pub fn backoff(attempts: i32, base: Duration) -> Duration {
    let exponent = attempts.clamp(1, 20) as u32 - 1;
    base.saturating_mul(1 << exponent)
        .min(Duration::from_secs(3600))
}

type Claimed = (
    Uuid,
    String,
    String,
    String,
    String,
    serde_json::Value,
    i32,
    bool,
);

pub(crate) async fn run(
    db: PgPool,
    channels: Arc<Channels>,
    config: Arc<NotifierConfig>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        match claim(&db).await {
            Ok(claimed) if !claimed.is_empty() => {
                let full = claimed.len() as i64 == BATCH;
                futures::future::join_all(
                    claimed
                        .into_iter()
                        .map(|row| send(&db, &channels, &config, row)),
                )
                .await;
                if full {
                    continue;
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "notifier: cannot claim messages"),
        }
        tokio::select! {
            _ = wake.notified() => {}
            _ = tokio::time::sleep(config.poll) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn device(db: &PgPool, endpoint: &str) -> Result<Option<Device>, sqlx::Error> {
    let row: Option<(String, String)> =
        sqlx::query_as("select p256dh, auth from push_subscriptions where endpoint = $1")
            .bind(endpoint)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(p256dh, auth)| Device {
        endpoint: endpoint.to_owned(),
        p256dh,
        auth,
    }))
}

/// A push service refused the subscription for good: it is not used again.
async fn forget_device(db: &PgPool, endpoint: &str) {
    if let Err(e) = sqlx::query("delete from push_subscriptions where endpoint = $1")
        .bind(endpoint)
        .execute(db)
        .await
    {
        tracing::warn!(error = %e, "notifier: cannot forget a refused push subscription");
    }
}

async fn claim(db: &PgPool) -> Result<Vec<Claimed>, sqlx::Error> {
    sqlx::query_as(
        "with due as (
             select id from notifications
              where next_attempt_at <= now()
                and (state in ('pending', 'failed') or (state = 'sending' and claimed_until < now()))
              order by next_attempt_at
              limit $1
              for update skip locked)
         update notifications n
            set state = 'sending', attempts = n.attempts + 1,
                claimed_until = now() + make_interval(secs => $2)
           from due where n.id = due.id
         returning n.id, n.channel, n.address, n.template, n.language, n.facts, n.attempts, n.urgent",
    )
    .bind(BATCH)
    .bind(CLAIM.as_secs_f64())
    .fetch_all(db)
    .await
}

async fn send(db: &PgPool, channels: &Channels, config: &NotifierConfig, row: Claimed) {
    let (id, channel, address, template, language, facts, attempts, urgent) = row;
    let outcome = match (
        Channel::parse(&channel),
        Template::parse(&template),
        serde_json::from_value::<Facts>(facts),
    ) {
        (Some(channel), Some(template), Ok(facts)) => {
            let message = notify::render(
                template,
                Language::parse(&language).unwrap_or_default(),
                &facts,
            );
            match channel {
                Channel::Email => {
                    channels
                        .send(id, Destination::Email(&address), &message, urgent)
                        .await
                }
                Channel::Sms => {
                    channels
                        .send(id, Destination::Sms(&address), &message, urgent)
                        .await
                }
                Channel::Push => match device(db, &address).await {
                    Ok(Some(device)) => {
                        let outcome = channels
                            .send(id, Destination::Push(&device), &message, urgent)
                            .await;
                        if outcome.as_ref().is_err_and(|f| f.permanent) {
                            // RFC 8030: 404 and 410 mean the subscription is gone.
                            forget_device(db, &address).await;
                        }
                        outcome
                    }
                    Ok(None) => Err(Failure {
                        permanent: true,
                        detail: "the device unsubscribed from push".to_owned(),
                    }),
                    Err(e) => Err(Failure {
                        permanent: false,
                        detail: e.to_string(),
                    }),
                },
            }
        }
        _ => Err(Failure {
            permanent: true,
            detail: format!("cannot render {template} for {channel}"),
        }),
    };
    let result = match outcome {
        Ok(()) => {
            sqlx::query(
                "update notifications set state = 'sent', sent_at = now(), claimed_until = null, last_error = null
                  where id = $1 and state = 'sending'",
            )
            .bind(id)
            .execute(db)
            .await
        }
        Err(failure) => {
            let dead = failure.permanent || attempts >= config.max_attempts;
            let next: DateTime<Utc> = Utc::now() + backoff(attempts, config.retry_base);
            tracing::warn!(%id, channel, attempts, dead, error = %failure.detail, "notifier: message not sent");
            sqlx::query(
                "update notifications set state = $2, next_attempt_at = $3, claimed_until = null, last_error = $4
                  where id = $1 and state = 'sending'",
            )
            .bind(id)
            .bind(if dead { "dead" } else { "failed" })
            .bind(next)
            .bind(failure.detail.chars().take(2000).collect::<String>())
            .execute(db)
            .await
        }
    };
    if let Err(e) = result {
        // The claim runs out and another attempt follows.
        tracing::warn!(%id, error = %e, "notifier: cannot record a message's outcome");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn back_off_doubles_up_to_an_hour() {
        let base = Duration::from_secs(10);
        let waits: Vec<u64> = (1..=6).map(|n| backoff(n, base).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320]);
        assert_eq!(backoff(30, base), Duration::from_secs(3600));
        assert_eq!(backoff(0, base), base);
    }
}
