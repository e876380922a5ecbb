//! Publishing events to the JetStream stream, and the stream's definition.
//!
//! Every publish carries the event id as `Nats-Msg-Id`, so JetStream drops a
//! publish retried inside the duplicate window; consumers de-duplicate on the id
//! for anything older.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use homecare_domain::EventEnvelope;

/// Longer than the longest span an activity is retried (one hour, see
/// `homecare_workflows::visit::activity_options`), so a retried publish is
/// always de-duplicated by the server.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(2 * 60 * 60);
/// How long events stay replayable for reconnecting clients (`?since=`).
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum EventBusError {
    #[error("cannot connect to NATS at {url}: {source}")]
    Connect {
        url: String,
        source: async_nats::ConnectError,
    },
    #[error("cannot set up JetStream stream {stream}: {detail}")]
    Stream { stream: String, detail: String },
    #[error("publish to {subject} failed: {detail}")]
    Publish { subject: String, detail: String },
}

/// Where events go: a subject prefix (`homecare` in production; tests use their
/// own) and the stream that captures `<prefix>.>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventBusConfig {
    pub url: String,
    pub subject_prefix: String,
    pub stream_name: String,
    /// TLS to NATS: trust this CA (PEM) and require TLS.
    pub tls_ca: Option<std::path::PathBuf>,
    /// A client certificate and key (PEM) for servers that verify clients.
    pub tls_client: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl Default for EventBusConfig {
    fn default() -> Self {
        Self {
            url: "nats://127.0.0.1:4222".to_owned(),
            subject_prefix: "homecare".to_owned(),
            stream_name: "HOMECARE".to_owned(),
            tls_ca: None,
            tls_client: None,
        }
    }
}

#[derive(Clone)]
pub struct EventBus {
    client: async_nats::Client,
    jetstream: jetstream::Context,
    config: EventBusConfig,
}

impl EventBus {
    pub async fn connect(config: EventBusConfig) -> Result<Self, EventBusError> {
        let mut options = async_nats::ConnectOptions::new()
            .name("homecare")
            .retry_on_initial_connect()
            .connection_timeout(Duration::from_secs(5));
        if let Some(ca) = &config.tls_ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &config.tls_client {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        let client = options
            .connect(config.url.as_str())
            .await
            .map_err(|source| EventBusError::Connect {
                url: config.url.clone(),
                source,
            })?;
        Ok(Self::new(client, config))
    }

    pub fn new(client: async_nats::Client, config: EventBusConfig) -> Self {
        let jetstream = jetstream::new(client.clone());
        Self {
            client,
            jetstream,
            config,
        }
    }

    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    pub fn jetstream(&self) -> &jetstream::Context {
        &self.jetstream
    }

    pub fn config(&self) -> &EventBusConfig {
        &self.config
    }

    pub fn subject(&self, tail: &str) -> String {
        format!("{}.{tail}", self.config.subject_prefix)
    }

    /// Creates the stream, or brings an existing one to this definition. Idempotent;
    /// every worker and API process calls it at start.
    pub async fn ensure_stream(&self) -> Result<stream::Info, EventBusError> {
        let config = stream::Config {
            name: self.config.stream_name.clone(),
            subjects: vec![format!("{}.>", self.config.subject_prefix)],
            duplicate_window: DUPLICATE_WINDOW,
            max_age: RETENTION,
            storage: stream::StorageType::File,
            ..Default::default()
        };
        self.jetstream
            .create_or_update_stream(config)
            .await
            .map_err(|e| self.stream_error(e))
    }

    /// The stream this bus publishes into.
    pub async fn stream(&self) -> Result<stream::Stream, EventBusError> {
        self.jetstream
            .get_stream(&self.config.stream_name)
            .await
            .map_err(|e| self.stream_error(e))
    }

    /// An error about this bus's stream.
    pub fn stream_error(&self, e: impl std::fmt::Display) -> EventBusError {
        EventBusError::Stream {
            stream: self.config.stream_name.clone(),
            detail: e.to_string(),
        }
    }

    /// Publishes and waits for the stream's acknowledgement; returns the stream
    /// sequence and whether JetStream recognised the message as a duplicate.
    pub async fn publish(
        &self,
        subject_tail: &str,
        envelope: &EventEnvelope,
    ) -> Result<(u64, bool), EventBusError> {
        let subject = self.subject(subject_tail);
        let failed = |detail: String| EventBusError::Publish {
            subject: subject.clone(),
            detail,
        };
        let payload = serde_json::to_vec(envelope).map_err(|e| failed(e.to_string()))?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", envelope.id.as_str());
        let ack = self
            .jetstream
            .publish_with_headers(subject.clone(), headers, payload.into())
            .await
            .map_err(|e| failed(e.to_string()))?
            .await
            .map_err(|e| failed(e.to_string()))?;
        Ok((ack.sequence, ack.duplicate))
    }
}
