//! What an event owes: the rules' notices resolved to people, channels and
//! addresses, recorded once per (event, recipient, channel).

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use homecare_domain::notify::{self, Audience, Facts, Language, Notice, QuietHours};
use homecare_domain::{Event, EventEnvelope};
use homecare_store::notifications::{Owed, owe};
use sqlx::PgPool;
use uuid::Uuid;

use crate::channels::Channel;
use crate::config::NotifierConfig;

/// Someone a notice reaches, and how.
struct Recipient {
    key: String,
    language: Language,
    link: String,
    quiet: Option<QuietHours>,
    addresses: Vec<(Channel, String)>,
}

type UserRow = (
    Uuid,
    String,
    String,
    Option<DateTime<Utc>>,
    Option<bool>,
    Option<bool>,
    Option<bool>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<NaiveTime>,
    Option<NaiveTime>,
    Option<String>,
);

/// A client's contact: id, e-mail, when it was verified, phone, language.
type ContactRow = (
    Uuid,
    Option<String>,
    Option<DateTime<Utc>>,
    Option<String>,
    String,
);

const USER_COLUMNS: &str =
    "u.id, u.role, u.email, u.email_verified_at, p.email, p.sms, p.push, p.phone,
     p.language, p.timezone, p.quiet_start, p.quiet_end,
     (select s.endpoint from push_subscriptions s where s.user_id = u.id order by s.created_at desc limit 1)
     from users u left join notification_preferences p on p.user_id = u.id";

fn user(row: UserRow, config: &NotifierConfig, channels: &[Channel], visit: Uuid) -> Recipient {
    let (
        id,
        role,
        email,
        verified,
        email_on,
        sms_on,
        push_on,
        phone,
        language,
        timezone,
        quiet_start,
        quiet_end,
        device,
    ) = row;
    let timezone = timezone
        .and_then(|tz| tz.parse::<Tz>().ok())
        .unwrap_or(Tz::UTC);
    let mut addresses = Vec::new();
    if email_on.unwrap_or(true) && verified.is_some() {
        addresses.push((Channel::Email, email));
    }
    if let (true, Some(phone)) = (sms_on.unwrap_or(false), phone) {
        addresses.push((Channel::Sms, phone));
    }
    // Push goes to the device the person subscribed last.
    if let (true, Some(endpoint)) = (push_on.unwrap_or(true), device) {
        addresses.push((Channel::Push, endpoint));
    }
    addresses.retain(|(channel, _)| channels.contains(channel));
    let public = config.public_url.trim_end_matches('/');
    Recipient {
        key: format!("user:{id}"),
        language: language
            .as_deref()
            .and_then(Language::parse)
            .unwrap_or_default(),
        link: if role == "caregiver" {
            format!("{public}/app/")
        } else {
            format!("{public}/?visit={visit}")
        },
        quiet: quiet_start.zip(quiet_end).map(|(start, end)| QuietHours {
            start,
            end,
            timezone,
        }),
        addresses,
    }
}

async fn recipients(
    db: &PgPool,
    config: &NotifierConfig,
    channels: &[Channel],
    notice: &Notice,
    at: DateTime<Utc>,
) -> Result<Vec<Recipient>, sqlx::Error> {
    let users = |rows: Vec<UserRow>| {
        rows.into_iter()
            .map(|row| user(row, config, channels, notice.visit_id))
            .collect::<Vec<_>>()
    };
    Ok(match notice.audience {
        Audience::Caregiver(caregiver) => users(
            sqlx::query_as(&format!(
                "select {USER_COLUMNS} where u.caregiver_id = $1 and u.active"
            ))
            .bind(caregiver)
            .fetch_all(db)
            .await?,
        ),
        Audience::OnCall | Audience::Escalation => {
            // Whoever the rota names for the hour the event happened (or whom
            // it escalates to), in the rota's own time zone; with nobody
            // named, every active admin.
            let column = if notice.audience == Audience::OnCall {
                "user_id"
            } else {
                "escalate_to"
            };
            let named: Vec<UserRow> = sqlx::query_as(&format!(
                "select {USER_COLUMNS} where u.active and u.id in (
                     select {column} from on_call r
                      where r.weekday = extract(isodow from $1 at time zone r.timezone)
                        and extract(hour from $1 at time zone r.timezone) >= r.start_hour
                        and extract(hour from $1 at time zone r.timezone) < r.end_hour)"
            ))
            .bind(at)
            .fetch_all(db)
            .await?;
            if named.is_empty() {
                users(
                    sqlx::query_as(&format!(
                        "select {USER_COLUMNS} where u.active and u.role = 'admin'"
                    ))
                    .fetch_all(db)
                    .await?,
                )
            } else {
                users(named)
            }
        }
        Audience::ClientContacts(client) => {
            let rows: Vec<ContactRow> = sqlx::query_as(
                "select id, email, email_verified_at, phone, language from client_contacts
                  where client_id = $1 and visit_updates",
            )
            .bind(client)
            .fetch_all(db)
            .await?;
            rows.into_iter()
                .map(|(id, email, verified, phone, language)| {
                    let mut addresses = Vec::new();
                    if let (Some(email), Some(_)) = (email, verified) {
                        addresses.push((Channel::Email, email));
                    }
                    if let Some(phone) = phone {
                        addresses.push((Channel::Sms, phone));
                    }
                    addresses.retain(|(channel, _)| channels.contains(channel));
                    Recipient {
                        key: format!("contact:{id}"),
                        language: Language::parse(&language).unwrap_or_default(),
                        link: String::new(),
                        quiet: None,
                        addresses,
                    }
                })
                .collect()
        }
    })
}

/// Records the messages `envelope` owes; returns how many are new (0 for an
/// event seen before).
pub(crate) async fn record(
    db: &PgPool,
    config: &NotifierConfig,
    channels: &[Channel],
    envelope: &EventEnvelope,
    event: &Event,
) -> Result<usize, sqlx::Error> {
    let notices = notify::notices(event, envelope.time);
    // Every notice of an event is about the same visit, hence the same client.
    let Some(first) = notices.first() else {
        return Ok(0);
    };
    let client: Option<(String, String)> =
        sqlx::query_as("select name, timezone from clients where id = $1")
            .bind(first.client_id)
            .fetch_optional(db)
            .await?;
    let Some((name, timezone)) = client else {
        return Ok(0);
    };
    let (client, timezone) = (
        notify::short_name(&name),
        timezone.parse().unwrap_or(Tz::UTC),
    );
    let now = Utc::now();
    let mut owed = Vec::new();
    for notice in &notices {
        for recipient in recipients(db, config, channels, notice, envelope.time).await? {
            let facts = Facts {
                client: client.clone(),
                scheduled_start: notice.scheduled_start,
                timezone,
                link: recipient.link.clone(),
            };
            let due = match (notice.urgent, recipient.quiet) {
                (false, Some(quiet)) => quiet.release(now),
                _ => now,
            };
            owed.push((notice, recipient, facts, due));
        }
    }
    let mut tx = db.begin().await?;
    let mut inserted = 0;
    for (notice, recipient, facts, due) in &owed {
        for (channel, address) in &recipient.addresses {
            let row = Owed {
                event_id: &envelope.id,
                event_type: &envelope.event_type,
                recipient: &recipient.key,
                channel: *channel,
                address,
                template: notice.template,
                language: recipient.language,
                urgent: notice.urgent,
                facts,
                due: *due,
            };
            inserted += usize::from(owe(&mut tx, &row).await?);
        }
    }
    tx.commit().await?;
    Ok(inserted)
}
