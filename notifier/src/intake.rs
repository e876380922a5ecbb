//! Events in: a JetStream durable pull consumer, shared by every notifier.
//! An event is acknowledged only once the messages it owes are recorded, so a
//! notifier that dies before that leaves it to be delivered again (to itself
//! or another), and the unique key makes the second recording a no-op.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::AckKind;
use async_nats::jetstream::consumer::pull::{Config, Stream as Messages};
use async_nats::jetstream::consumer::{AckPolicy, Consumer, DeliverPolicy};
use futures::StreamExt;
use homecare_domain::EventEnvelope;
use homecare_store::EventBus;
use sqlx::PgPool;
use tokio::sync::{Notify, watch};

use crate::channels::Channel;
use crate::config::{NotifierConfig, NotifierError};
use crate::owed;

/// How long an event may wait unacknowledged before JetStream offers it again.
const ACK_WAIT: Duration = Duration::from_secs(30);

pub(crate) async fn consumer(
    bus: &EventBus,
    name: &str,
) -> Result<Consumer<Config>, NotifierError> {
    let stream = bus.stream().await?;
    let consumer = stream
        .get_or_create_consumer(
            name,
            Config {
                durable_name: Some(name.to_owned()),
                description: Some("homecare notifier: events to messages".to_owned()),
                ack_policy: AckPolicy::Explicit,
                ack_wait: ACK_WAIT,
                // A notifier put in place later starts from then: it does not
                // tell anyone about a month of history.
                deliver_policy: DeliverPolicy::New,
                max_ack_pending: 1000,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| bus.stream_error(e))?;
    Ok(consumer)
}

pub(crate) async fn run(
    db: PgPool,
    consumer: Consumer<Config>,
    config: Arc<NotifierConfig>,
    channels: Vec<Channel>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let mut messages: Messages = match consumer.messages().await {
            Ok(messages) => messages,
            Err(e) => {
                tracing::warn!(error = %e, "notifier: cannot read the event stream yet");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                    _ = stop.changed() => return,
                }
            }
        };
        loop {
            let message = tokio::select! {
                message = messages.next() => message,
                _ = stop.changed() => return,
            };
            let Some(message) = message else { break };
            let message = match message {
                Ok(message) => message,
                Err(e) => {
                    tracing::warn!(error = %e, "notifier: consumer error");
                    continue;
                }
            };
            let envelope = match serde_json::from_slice::<EventEnvelope>(&message.payload) {
                Ok(envelope) => envelope,
                Err(e) => {
                    // Not ours: nothing is owed for it.
                    tracing::warn!(error = %e, subject = %message.subject, "notifier: skipping a message that is not an event");
                    let _ = message.ack().await;
                    continue;
                }
            };
            // An event of a type this build does not know owes nothing.
            let recorded = match envelope.event() {
                Err(_) => Ok(0),
                Ok(event) => match owed::record(&db, &config, &channels, &envelope, &event).await {
                    Err(e) => Err(e.to_string()),
                    Ok(count) => match &config.escalations {
                        Some(escalations) => escalations
                            .follow(&db, &event, &envelope.id, chrono::Utc::now())
                            .await
                            .map(|()| count),
                        None => Ok(count),
                    },
                },
            };
            match recorded {
                Ok(count) => {
                    if count > 0 {
                        wake.notify_one();
                    }
                    // Waits for the server's confirmation: an event acknowledged
                    // is never offered again.
                    if let Err(e) = message.double_ack().await {
                        tracing::warn!(error = %e, event = %envelope.id, "notifier: acknowledgement not confirmed; the event comes again and owes nothing new");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, event = %envelope.id, "notifier: cannot record what the event owes; it comes again");
                    let _ = message
                        .ack_with(AckKind::Nak(Some(Duration::from_secs(2))))
                        .await;
                }
            }
        }
        tracing::warn!("notifier: the consumer's message stream ended; reading again");
    }
}
