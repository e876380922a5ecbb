//! Fan-out: extra WebSocket clients, each following one caregiver's events,
//! and their delivery latency.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;

use super::report::{FanoutReport, Percentiles};

/// K sockets, each following one caregiver's events.
pub(super) struct Fanout {
    sockets: usize,
    readers: Vec<tokio::task::JoinHandle<()>>,
    delivery_ms: Arc<Mutex<Vec<f64>>>,
    rss_before: Option<u64>,
}

impl Fanout {
    pub(super) async fn open(
        http: &reqwest::Client,
        token: &str,
        api: &str,
        caregivers: &[String],
        sockets: usize,
    ) -> anyhow::Result<Self> {
        let (rss_before, _) = api_health(http, api).await;
        let delivery_ms = Arc::new(Mutex::new(Vec::new()));
        let ws = api.replacen("http", "ws", 1);
        let mut readers = Vec::with_capacity(sockets);
        for k in 0..sockets {
            let url = format!(
                "{ws}/v1/events?caregiver_id={}",
                caregivers[k % caregivers.len().max(1)]
            );
            let (mut socket, _) =
                tokio_tungstenite::connect_async(homecare_client::websocket(&url, token)?)
                    .await
                    .with_context(|| format!("fan-out socket {k} of {sockets}"))?;
            let delivery_ms = delivery_ms.clone();
            readers.push(tokio::spawn(async move {
                while let Some(Ok(message)) = socket.next().await {
                    // Check-in/out events carry the device's time, not the
                    // moment of recording: only the others measure delivery.
                    if let Message::Text(text) = message
                        && let Ok(frame) = serde_json::from_str::<Value>(&text)
                        && matches!(
                            frame["event"]["type"].as_str(),
                            Some("homecare.visit.assigned" | "homecare.invoice.created")
                        )
                        && let Some(time) = frame["event"]["time"]
                            .as_str()
                            .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                    {
                        let ms =
                            (Utc::now() - time).num_microseconds().unwrap_or(0) as f64 / 1000.0;
                        delivery_ms.lock().unwrap().push(ms.max(0.0));
                    }
                }
            }));
            if (k + 1) % 250 == 0 {
                eprint!("\r{} fan-out sockets open", k + 1);
            }
        }
        eprintln!("\r{sockets} fan-out sockets open");
        Ok(Self {
            sockets,
            readers,
            delivery_ms,
            rss_before,
        })
    }

    pub(super) async fn close(self, http: &reqwest::Client, api: &str) -> FanoutReport {
        // Let the last frames land before measuring and closing.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (rss, connections) = api_health(http, api).await;
        for reader in &self.readers {
            reader.abort();
        }
        let samples = self.delivery_ms.lock().unwrap().clone();
        FanoutReport {
            sockets: self.sockets,
            frames: samples.len(),
            delivery: Percentiles::of(&samples),
            api_rss_bytes_before: self.rss_before,
            api_rss_bytes_with_sockets: rss,
            api_websocket_connections: connections,
        }
    }
}

/// The API's own view of itself (`/healthz`): resident memory and sockets.
pub(super) async fn api_health(http: &reqwest::Client, api: &str) -> (Option<u64>, Option<u64>) {
    let health: Value = match http.get(format!("{api}/healthz")).send().await {
        Ok(response) => response.json().await.unwrap_or(Value::Null),
        Err(_) => Value::Null,
    };
    (
        health["memory_rss_bytes"].as_u64(),
        health["websocket_connections"].as_u64(),
    )
}
