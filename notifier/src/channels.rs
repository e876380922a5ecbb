//! The channels a message can go out on, each against a real server: SMTP
//! (lettre), an SMS provider's HTTP API (Twilio's form POST), Web Push.

use std::time::Duration;

use homecare_domain::notify::Message;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{NotifierConfig, NotifierError, SmsConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Email,
    Sms,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "email" => Some(Self::Email),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }
}

/// Why a message was not handed over; a permanent failure is not retried.
#[derive(Debug)]
pub struct Failure {
    pub permanent: bool,
    pub detail: String,
}

impl Failure {
    fn transient(detail: impl Into<String>) -> Self {
        Self {
            permanent: false,
            detail: detail.into(),
        }
    }

    fn permanent(detail: impl Into<String>) -> Self {
        Self {
            permanent: true,
            detail: detail.into(),
        }
    }
}

/// The channels this notifier was given.
pub(crate) struct Channels {
    email: Option<(AsyncSmtpTransport<Tokio1Executor>, Mailbox)>,
    sms: Option<(reqwest::Client, SmsConfig)>,
}

impl Channels {
    pub(crate) fn new(config: &NotifierConfig) -> Result<Self, NotifierError> {
        let email = match &config.email {
            Some(email) => {
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&email.smtp_url)
                    .map_err(|e| NotifierError::Channel(format!("HOMECARE_SMTP_URL: {e}")))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build();
                let from = email
                    .from
                    .parse::<Mailbox>()
                    .map_err(|e| NotifierError::Channel(format!("HOMECARE_NOTIFY_FROM: {e}")))?;
                Some((transport, from))
            }
            None => None,
        };
        let sms = match &config.sms {
            Some(sms) => {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(20))
                    .build()
                    .map_err(|e| NotifierError::Channel(e.to_string()))?;
                Some((client, sms.clone()))
            }
            None => None,
        };
        Ok(Self { email, sms })
    }

    pub(crate) fn enabled(&self) -> Vec<Channel> {
        let mut enabled = Vec::new();
        if self.email.is_some() {
            enabled.push(Channel::Email);
        }
        if self.sms.is_some() {
            enabled.push(Channel::Sms);
        }
        enabled
    }

    /// Hands one message to its channel. `id` names it to the server (the
    /// e-mail's Message-ID, the SMS request's Idempotency-Key), so a message
    /// sent again after a crash can be told apart from a new one.
    pub(crate) async fn send(
        &self,
        channel: Channel,
        id: uuid::Uuid,
        address: &str,
        message: &Message,
    ) -> Result<(), Failure> {
        match channel {
            Channel::Email => {
                let (transport, from) = self.email.as_ref().ok_or_else(|| {
                    Failure::transient("e-mail is not configured on this notifier")
                })?;
                let to = address
                    .parse::<Mailbox>()
                    .map_err(|e| Failure::permanent(format!("not an e-mail address: {e}")))?;
                let email = lettre::Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(&message.subject)
                    .message_id(Some(format!("<{id}@homecare.notifier>")))
                    .header(ContentType::TEXT_PLAIN)
                    .body(message.text.clone())
                    .map_err(|e| Failure::permanent(e.to_string()))?;
                transport.send(email).await.map(|_| ()).map_err(|e| {
                    if e.is_permanent() {
                        Failure::permanent(e.to_string())
                    } else {
                        Failure::transient(e.to_string())
                    }
                })
            }
            Channel::Sms => {
                let (client, sms) = self
                    .sms
                    .as_ref()
                    .ok_or_else(|| Failure::transient("SMS is not configured on this notifier"))?;
                let url = format!(
                    "{}/Accounts/{}/Messages.json",
                    sms.api_url.trim_end_matches('/'),
                    sms.account_sid
                );
                let response = client
                    .post(url)
                    .basic_auth(&sms.account_sid, Some(&sms.auth_token))
                    .header("Idempotency-Key", id.to_string())
                    .form(&[
                        ("To", address),
                        ("From", sms.from.as_str()),
                        ("Body", message.text.as_str()),
                    ])
                    .send()
                    .await
                    .map_err(|e| Failure::transient(e.to_string()))?;
                let status = response.status();
                if status.is_success() {
                    return Ok(());
                }
                let body = response.text().await.unwrap_or_default();
                let detail = format!(
                    "SMS provider answered {status}: {}",
                    body.chars().take(500).collect::<String>()
                );
                // A request the provider refuses as such will be refused again.
                if status.is_client_error() && status.as_u16() != 429 && status.as_u16() != 408 {
                    Err(Failure::permanent(detail))
                } else {
                    Err(Failure::transient(detail))
                }
            }
        }
    }
}
