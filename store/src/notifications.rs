//! Owing a message: one row of `notifications` per (event, recipient,
//! channel). The notifier owes what events call for; the API owes an
//! e-mail-verification message. The notifier's senders deliver both.

use chrono::{DateTime, Utc};
use homecare_domain::notify::{Channel, Facts, Language, Template};
use sqlx::PgConnection;
use uuid::Uuid;

/// One message owed.
pub struct Owed<'a> {
    pub event_id: &'a str,
    pub event_type: &'a str,
    /// `user:<id>` or `contact:<id>`.
    pub recipient: &'a str,
    pub channel: Channel,
    pub address: &'a str,
    pub template: Template,
    pub language: Language,
    pub urgent: bool,
    pub facts: &'a Facts,
    /// Its first attempt (now, or the end of the recipient's quiet hours).
    pub due: DateTime<Utc>,
}

/// Records `owed` unless the same (event, recipient, channel) is owed
/// already; returns whether it is new.
pub async fn owe(conn: &mut PgConnection, owed: &Owed<'_>) -> Result<bool, sqlx::Error> {
    let inserted = sqlx::query(
        "insert into notifications (id, event_id, event_type, recipient, channel, address, template,
                                    language, urgent, facts, next_attempt_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         on conflict (event_id, recipient, channel) do nothing",
    )
    .bind(Uuid::new_v4())
    .bind(owed.event_id)
    .bind(owed.event_type)
    .bind(owed.recipient)
    .bind(owed.channel.as_str())
    .bind(owed.address)
    .bind(owed.template.as_str())
    .bind(owed.language.as_str())
    .bind(owed.urgent)
    .bind(serde_json::to_value(owed.facts).expect("facts serialise"))
    .bind(owed.due)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(inserted == 1)
}
