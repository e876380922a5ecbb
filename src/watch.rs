//! `homecare watch`: print the live event stream, one line per event, the way a
//! dashboard would receive it. Reconnects resume from the last sequence seen.

use std::time::Duration;

use anyhow::Context;
use futures::StreamExt;
use tokio_tungstenite::tungstenite::Message;

pub struct WatchOptions {
    pub api_url: String,
    /// Bearer token for the API.
    pub token: String,
    pub visit_id: Option<String>,
    pub caregiver_id: Option<String>,
    pub event_type: Option<String>,
    pub since: Option<u64>,
}

fn url(options: &WatchOptions, since: Option<u64>) -> String {
    let mut query = Vec::new();
    if let Some(visit) = &options.visit_id {
        query.push(format!("visit_id={visit}"));
    }
    if let Some(caregiver) = &options.caregiver_id {
        query.push(format!("caregiver_id={caregiver}"));
    }
    if let Some(types) = &options.event_type {
        query.push(format!("type={types}"));
    }
    if let Some(since) = since {
        query.push(format!("since={since}"));
    }
    homecare_client::events_url(&options.api_url, &query.join("&"))
}

/// One line per frame: sequence, time, type, visit and data. A frame whose
/// data does not have its type's documented shape is printed and flagged.
fn line(text: &str) -> anyhow::Result<(u64, String)> {
    let (frame, checked) = match homecare_client::read_frame(text) {
        Ok((frame, _)) => (frame, String::new()),
        Err(e) => (serde_json::from_str(text)?, format!("  [{e}]")),
    };
    let event = &frame.event;
    Ok((
        frame.sequence,
        format!(
            "#{} {} {} visit={} {}{checked}",
            frame.sequence,
            event
                .time
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            event.event_type,
            event.subject,
            event.data
        ),
    ))
}

pub async fn run(options: WatchOptions) -> anyhow::Result<()> {
    let mut since = options.since;
    loop {
        let url = url(&options, since);
        let (mut socket, _) =
            tokio_tungstenite::connect_async(homecare_client::websocket(&url, &options.token)?)
                .await
                .with_context(|| format!("cannot open {url}; is the platform up?"))?;
        eprintln!("watching {url}");
        while let Some(message) = socket.next().await {
            match message {
                Ok(Message::Text(text)) => {
                    let (sequence, line) = line(&text)?;
                    since = Some(sequence);
                    println!("{line}");
                }
                Ok(Message::Close(frame)) => {
                    eprintln!("server closed the stream: {frame:?}");
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    eprintln!("stream error: {e}");
                    break;
                }
            }
        }
        eprintln!("reconnecting after sequence {since:?}");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
