//! How a notifier is set up: its channels' servers and credentials, retries,
//! and the durable consumer it shares with every other notifier.

use std::time::Duration;

/// How a notifier runs.
#[derive(Clone, Debug)]
pub struct NotifierConfig {
    /// Where links in messages point (`<public_url>/app/` for caregivers).
    pub public_url: String,
    pub email: Option<EmailConfig>,
    pub sms: Option<SmsConfig>,
    /// Web Push: the server's VAPID key and contact.
    pub push: Option<crate::push::Vapid>,
    /// Where escalation workflows run (none: unfilled visits are not escalated).
    pub escalations: Option<crate::escalation::Escalations>,
    /// Attempts before a message is dead (and waits for someone to resend it).
    pub max_attempts: i32,
    /// The wait after the first failed attempt; it doubles with each one.
    pub retry_base: Duration,
    /// The durable consumer's name on the stream (shared by every notifier).
    pub consumer: String,
    /// How often senders look for due messages when nothing wakes them.
    pub poll: Duration,
}

impl Default for NotifierConfig {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:8080".to_owned(),
            email: None,
            sms: None,
            push: None,
            escalations: None,
            max_attempts: 6,
            retry_base: Duration::from_secs(10),
            consumer: "notifier".to_owned(),
            poll: Duration::from_millis(250),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifierError {
    #[error(transparent)]
    Bus(#[from] homecare_store::EventBusError),
    #[error("notifier database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("notifier channel set-up: {0}")]
    Channel(String),
}

/// E-mail over SMTP: `smtp://host:port` (plain, for a local relay),
/// `smtp://host:port?tls=required` (STARTTLS) or `smtps://host:port`, with
/// `user:password@` when the relay wants them.
#[derive(Clone, Debug)]
pub struct EmailConfig {
    pub smtp_url: String,
    /// The From address ("Agency <noreply@agency.example>").
    pub from: String,
}

/// SMS through a Twilio-style HTTP API: a form POST to
/// `<api_url>/Accounts/<account_sid>/Messages.json` with basic auth.
#[derive(Clone)]
pub struct SmsConfig {
    pub api_url: String,
    pub account_sid: String,
    pub auth_token: String,
    /// The sending number (E.164).
    pub from: String,
}

impl std::fmt::Debug for SmsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsConfig")
            .field("api_url", &self.api_url)
            .field("account_sid", &self.account_sid)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}
