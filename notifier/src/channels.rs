//! The channels a message can go out on, each against a real server: SMTP
//! (lettre), an SMS provider's HTTP API (Twilio's form POST), Web Push.

use std::time::Duration;

pub use homecare_domain::notify::Channel;
use homecare_domain::notify::Message;
use lettre::message::{Mailbox, header::ContentType};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::config::{NotifierConfig, NotifierError, SmsConfig};
use crate::push::Vapid;

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
    push: Option<(reqwest::Client, Vapid)>,
}

/// Where a push message goes: the subscription's endpoint and keys.
pub(crate) struct Device {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
}

/// Where one message goes: an e-mail address, a phone number, a device.
pub(crate) enum Destination<'a> {
    Email(&'a str),
    Sms(&'a str),
    Push(&'a Device),
}

fn http_client() -> Result<reqwest::Client, NotifierError> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .map_err(|e| NotifierError::Channel(e.to_string()))
}

/// How a provider's HTTP answer counts: success, a refusal that will not
/// change (permanent), or something to try again.
async fn answered(response: reqwest::Response, what: &str) -> Result<(), Failure> {
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let body = response.text().await.unwrap_or_default();
    let detail = format!(
        "{what} answered {status}: {}",
        body.chars().take(500).collect::<String>()
    );
    if status.is_client_error() && status.as_u16() != 429 && status.as_u16() != 408 {
        Err(Failure::permanent(detail))
    } else {
        Err(Failure::transient(detail))
    }
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
            Some(sms) => Some((http_client()?, sms.clone())),
            None => None,
        };
        let push = match &config.push {
            Some(vapid) => Some((http_client()?, vapid.clone())),
            None => None,
        };
        Ok(Self { email, sms, push })
    }

    pub(crate) fn enabled(&self) -> Vec<Channel> {
        let mut enabled = Vec::new();
        if self.email.is_some() {
            enabled.push(Channel::Email);
        }
        if self.sms.is_some() {
            enabled.push(Channel::Sms);
        }
        if self.push.is_some() {
            enabled.push(Channel::Push);
        }
        enabled
    }

    /// Hands one message to its channel. `id` names it to the server (the
    /// e-mail's Message-ID, the SMS request's Idempotency-Key, the push
    /// message's tag), so a message sent again after a crash can be told
    /// apart from a new one.
    pub(crate) async fn send(
        &self,
        id: uuid::Uuid,
        destination: Destination<'_>,
        message: &Message,
        urgent: bool,
    ) -> Result<(), Failure> {
        match destination {
            Destination::Push(device) => self.web_push(id, device, message, urgent).await,
            Destination::Email(address) => {
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
            Destination::Sms(address) => {
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
                answered(response, "SMS provider").await
            }
        }
    }

    /// A push message: the title, text and link as JSON, encrypted for the
    /// device, with VAPID; `urgent` ones ask the push service to wake it now.
    async fn web_push(
        &self,
        id: uuid::Uuid,
        device: &Device,
        message: &Message,
        urgent: bool,
    ) -> Result<(), Failure> {
        let (client, vapid) = self
            .push
            .as_ref()
            .ok_or_else(|| Failure::transient("Web Push is not configured on this notifier"))?;
        let endpoint: url::Url = device
            .endpoint
            .parse()
            .map_err(|e| Failure::permanent(format!("the push endpoint is not a URL: {e}")))?;
        let payload = serde_json::json!({
            "title": message.subject, "body": message.text, "url": message.link, "tag": id,
        });
        let body =
            crate::push::encrypt(&device.p256dh, &device.auth, payload.to_string().as_bytes())
                .map_err(|e| Failure::permanent(e.to_string()))?;
        let response = client
            .post(endpoint.clone())
            .header(
                "Authorization",
                vapid.authorization(&endpoint, chrono::Utc::now().timestamp()),
            )
            .header("Content-Encoding", "aes128gcm")
            .header("Content-Type", "application/octet-stream")
            .header("TTL", "86400")
            .header("Urgency", if urgent { "high" } else { "normal" })
            .body(body)
            .send()
            .await
            .map_err(|e| Failure::transient(e.to_string()))?;
        answered(response, "the push service").await
    }
}
