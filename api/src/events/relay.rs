//! This process's one consumer of the stream, fanned out in memory to every
//! socket, and the stream reads the sockets' replays share.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use futures::StreamExt;
use homecare_domain::{EventEnvelope, EventFrame};
use homecare_store::{EventBus, EventBusError};
use tokio::sync::broadcast;

const FEED_CAPACITY: usize = 4096;

/// This process's shared live feed of the stream.
#[derive(Clone)]
pub struct Relay {
    feed: broadcast::Sender<Arc<EventFrame>>,
}

pub(super) fn after(sequence: u64) -> DeliverPolicy {
    DeliverPolicy::ByStartSequence {
        start_sequence: sequence + 1,
    }
}

pub(super) type Messages = async_nats::jetstream::consumer::pull::Ordered;

pub(super) async fn ordered_messages(
    bus: &EventBus,
    deliver_policy: DeliverPolicy,
) -> Result<Messages, EventBusError> {
    let stream = bus.stream().await?;
    let consumer = stream
        .create_consumer(OrderedConfig {
            deliver_policy,
            ..Default::default()
        })
        .await
        .map_err(|e| bus.stream_error(e))?;
    consumer.messages().await.map_err(|e| bus.stream_error(e))
}

/// The message's stream sequence, and its event if it is an event envelope. The
/// sequence counts as covered either way, so a stray message never stalls anyone.
pub(super) fn decode(
    message: &async_nats::jetstream::Message,
) -> Option<(u64, Option<EventFrame>)> {
    let sequence = message.info().ok()?.stream_sequence;
    let event = match serde_json::from_slice::<EventEnvelope>(&message.payload) {
        Ok(event) => Some(EventFrame { sequence, event }),
        Err(e) => {
            tracing::warn!(sequence, error = %e, "skipping a message that is not an event envelope");
            None
        }
    };
    Some((sequence, event))
}

/// The stream's last sequence and how many messages it retains.
pub(super) async fn stream_state(bus: &EventBus) -> Result<(u64, u64), EventBusError> {
    let mut stream = bus.stream().await?;
    let info = stream.info().await.map_err(|e| bus.stream_error(e))?;
    Ok((info.state.last_sequence, info.state.messages))
}

impl Relay {
    pub async fn start(bus: EventBus) -> Result<Self, EventBusError> {
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        // An explicit start sequence (not `New`), so a resume can name exactly
        // where it left off.
        let (end, _) = stream_state(&bus).await?;
        let messages = ordered_messages(&bus, after(end)).await?;
        tokio::spawn(run_relay(bus, feed.clone(), messages, end));
        Ok(Self { feed })
    }

    /// Live WebSocket connections of this process (each holds one receiver).
    pub fn connections(&self) -> usize {
        self.feed.receiver_count()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<EventFrame>> {
        self.feed.subscribe()
    }
}

/// Forwards the stream to the feed for the life of the process, re-creating the
/// consumer after the last sequence seen if it ever ends.
pub(super) async fn run_relay(
    bus: EventBus,
    feed: broadcast::Sender<Arc<EventFrame>>,
    mut messages: Messages,
    mut last_sequence: u64,
) {
    loop {
        while let Some(message) = messages.next().await {
            match message {
                Ok(message) => {
                    let Some((sequence, event)) = decode(&message) else {
                        continue;
                    };
                    last_sequence = sequence;
                    if let Some(event) = event {
                        // No receivers is fine: nobody is listening right now.
                        let _ = feed.send(Arc::new(event));
                    }
                }
                Err(e) => tracing::warn!(error = %e, "event relay: consumer error"),
            }
        }
        tracing::warn!(last_sequence, "event relay: consumer ended; resuming");
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            match ordered_messages(&bus, after(last_sequence)).await {
                Ok(resumed) => {
                    messages = resumed;
                    break;
                }
                Err(e) => tracing::warn!(error = %e, "event relay: cannot resume yet"),
            }
        }
    }
}
