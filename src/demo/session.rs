//! The demo's connection to the platform: the API and the event feed it
//! prints as events arrive.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use homecare_domain::{Event, EventFrame};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

pub(super) type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(super) struct Demo {
    pub(super) http: reqwest::Client,
    pub(super) api: String,
    pub(super) events: Socket,
}

impl Demo {
    pub(super) async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        Ok(homecare_client::post_json(&self.http, &self.api, path, &body).await?)
    }

    pub(super) async fn put(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        Ok(self
            .http
            .put(format!("{}{path}", self.api))
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    pub(super) async fn get(&self, path: &str) -> anyhow::Result<Value> {
        Ok(self
            .http
            .get(format!("{}{path}", self.api))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// Prints events as they arrive until every one of `visits` has emitted
    /// one of `event_types`.
    pub(super) async fn wait_for_all(
        &mut self,
        visits: &BTreeSet<String>,
        event_types: &[&str],
    ) -> anyhow::Result<()> {
        let mut waiting = visits.clone();
        while let Some(visit) = waiting.first().cloned() {
            let (frame, _) = self.next_event(&visit, event_types[0]).await?;
            if event_types.contains(&frame.event.event_type.as_str()) {
                waiting.remove(&frame.event.subject);
            }
        }
        Ok(())
    }

    /// Prints events as they arrive until `visit` emits `event_type`.
    pub(super) async fn wait_for(
        &mut self,
        visit: &str,
        event_type: &str,
    ) -> anyhow::Result<(EventFrame, Event)> {
        loop {
            let (frame, event) = self.next_event(visit, event_type).await?;
            if frame.event.subject == visit && frame.event.event_type == event_type {
                return Ok((frame, event));
            }
        }
    }

    /// The next event, printed; `visit` and `event_type` name what the demo
    /// waits for when none comes.
    async fn next_event(
        &mut self,
        visit: &str,
        event_type: &str,
    ) -> anyhow::Result<(EventFrame, Event)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let frame = tokio::time::timeout_at(deadline, self.events.next())
                .await
                .with_context(|| {
                    format!(
                        "no {event_type} event for visit {visit} within 30 s; is a worker running?"
                    )
                })?
                .context("the event stream closed")??;
            let Message::Text(text) = frame else { continue };
            let (frame, event) = homecare_client::read_frame(&text)?;
            let extra = match &event {
                Event::InvoiceCreated(invoice) => {
                    format!(" amount=${} units={}", invoice.amount, invoice.units)
                }
                _ => String::new(),
            };
            println!(
                "  event #{:<4} {:<30} visit={} caregiver={}{extra}",
                frame.sequence,
                frame.event.event_type,
                short(Some(&frame.event.subject)),
                short(frame.event.caregiver_id()),
            );
            return Ok((frame, event));
        }
    }
}

pub(super) fn short(id: Option<&str>) -> String {
    id.map(|id| id.chars().take(8).collect())
        .unwrap_or_else(|| "-".to_owned())
}

pub(super) fn id(value: &Value) -> anyhow::Result<String> {
    value["id"]
        .as_str()
        .map(str::to_owned)
        .context("response has no id")
}
