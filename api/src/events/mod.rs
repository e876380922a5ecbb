//! `GET /v1/events`: JetStream events relayed to WebSocket clients.
//!
//! One ordered consumer per API process feeds a broadcast channel that every
//! socket reads (live traffic costs the server one consumer, not one per socket).
//! A client that passes `?since=N` first gets the events after sequence N from a
//! short-lived ordered consumer, then joins the live feed; it subscribes to the
//! feed *before* measuring where the replay ends and skips sequences it has sent,
//! so the switch has no gap and no repeat. A socket that falls behind the feed
//! re-replays from its last sequence instead of losing events.

use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures::StreamExt;
use homecare_domain::validation::FieldErrors;
use homecare_domain::{EventEnvelope, EventFrame, EventKind};
use homecare_store::EventBus;
use serde::Deserialize;
use tokio::sync::broadcast;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

mod relay;

pub use relay::Relay;
use relay::{after, decode, ordered_messages, stream_state};

use crate::auth::Principal;
use crate::extract::ApiQuery;
use crate::{ApiError, AppState};

const REPLAY_IDLE_LIMIT: Duration = Duration::from_secs(10);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(subscribe))
}

/// Which events a socket receives (a caregiver's token: their own only).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only this visit's events.
    #[param(value_type = Option<Uuid>)]
    pub visit_id: Option<String>,
    /// Only events about this caregiver: the visit's caregiver, anyone booked
    /// on it, or anyone a decision took it from.
    #[param(value_type = Option<Uuid>)]
    pub caregiver_id: Option<String>,
    /// Comma-separated CloudEvents types, e.g. `homecare.visit.assigned,homecare.invoice.created`.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// Resume after this stream sequence (0 replays everything retained).
    #[param(value_type = Option<u64>, minimum = 0)]
    pub since: Option<String>,
}

/// Which events a connection wants.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    visit_id: Option<String>,
    caregiver_id: Option<String>,
    event_types: Vec<String>,
}

impl EventFilter {
    fn matches(&self, event: &EventEnvelope) -> bool {
        self.visit_id.as_ref().is_none_or(|v| event.subject == *v)
            && self
                .caregiver_id
                .as_ref()
                .is_none_or(|c| event.concerns_caregiver(c))
            && (self.event_types.is_empty() || self.event_types.contains(&event.event_type))
    }
}

fn parse_query(query: EventsQuery) -> Result<(EventFilter, Option<u64>), FieldErrors> {
    let mut errors = FieldErrors::default();
    let mut uuid = |field: &str, value: Option<String>| {
        value.and_then(|v| match v.parse::<Uuid>() {
            Ok(id) => Some(id.to_string()),
            Err(_) => {
                errors.add(field, "must be a UUID");
                None
            }
        })
    };
    let visit_id = uuid("visit_id", query.visit_id);
    let caregiver_id = uuid("caregiver_id", query.caregiver_id);
    let event_types: Vec<String> = query
        .event_type
        .map(|types| {
            types
                .split(',')
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    for t in &event_types {
        errors.check(
            EventKind::from_event_type(t).is_some(),
            "type",
            format!("unknown event type `{t}`"),
        );
    }
    let since = query.since.and_then(|s| match s.parse::<u64>() {
        Ok(n) => Some(n),
        Err(_) => {
            errors.add(
                "since",
                "must be a stream sequence number (a non-negative integer)",
            );
            None
        }
    });
    errors.into_result()?;
    Ok((
        EventFilter {
            visit_id,
            caregiver_id,
            event_types,
        },
        since,
    ))
}

/// Live events over a WebSocket: every frame is a JSON `{"sequence", "event"}`,
/// the event a CloudEvents envelope; replays from `since`, then follows live.
#[utoipa::path(get, path = "/events", tag = "events", operation_id = "subscribe_events",
    params(EventsQuery),
    responses(
        (status = 101, description = "Switched to the WebSocket protocol; frames follow"),
        (status = 400, description = "Not a WebSocket upgrade request",
            body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
async fn subscribe(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiQuery(query): ApiQuery<EventsQuery>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let (mut filter, since) = parse_query(query)?;
    // A caregiver's socket carries their own events only, whatever it asks.
    if let Some(own) = principal.own_caregiver() {
        if let Some(asked) = &filter.caregiver_id
            && *asked != own.to_string()
        {
            return Err(ApiError::Forbidden(
                "a caregiver subscribes to their own events only".to_owned(),
            ));
        }
        filter.caregiver_id = Some(own.to_string());
    }
    if let Some(since) = since {
        let (end, _) = stream_state(&state.bus).await.map_err(ApiError::internal)?;
        if since > end {
            // A sequence this stream never reached (a typo, or a stream that was
            // recreated): resuming from it would silently skip what comes next.
            return Err(ApiError::field(
                "since",
                format!(
                    "is past the stream's last sequence {end}; reconnect with since=0 or without since"
                ),
            ));
        }
    }
    let upgrade = upgrade.map_err(|e| {
        ApiError::BadRequest(format!(
            "{}: connect with a WebSocket client",
            e.body_text()
        ))
    })?;
    // Clients only listen: small buffers keep a socket's memory to a few KiB
    // (axum's defaults of 128 KiB each way cost ~150 KiB per socket, 1.5 GiB for
    // 10,000), and a bounded write buffer pushes back on a stalled client.
    let upgrade = upgrade
        .read_buffer_size(4 * 1024)
        .write_buffer_size(8 * 1024)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(64 * 1024)
        // A browser cannot set Authorization on a WebSocket: it offers
        // `homecare.v1, bearer.<token>` as subprotocols, and must hear one back.
        .protocols([crate::auth::WEBSOCKET_PROTOCOL]);
    Ok(upgrade.on_upgrade(move |socket| async move {
        if let Err(reason) = relay_to_socket(socket, state, filter, since).await {
            tracing::debug!(%reason, "event socket closed");
        }
    }))
}

async fn send(socket: &mut WebSocket, event: &EventFrame) -> Result<(), String> {
    let text = serde_json::to_string(event).map_err(|e| e.to_string())?;
    socket
        .send(Message::Text(text.into()))
        .await
        .map_err(|e| e.to_string())
}

/// Sends the filtered events after `after` up to the stream's current end and
/// returns the last sequence covered.
async fn replay(
    socket: &mut WebSocket,
    bus: &EventBus,
    filter: &EventFilter,
    from: u64,
) -> Result<u64, String> {
    let (end, retained) = stream_state(bus).await.map_err(|e| e.to_string())?;
    if end <= from || retained == 0 {
        // Nothing after `from` is retained.
        return Ok(end);
    }
    let mut messages = ordered_messages(bus, after(from))
        .await
        .map_err(|e| e.to_string())?;
    let mut covered = from;
    while covered < end {
        let message = match tokio::time::timeout(REPLAY_IDLE_LIMIT, messages.next()).await {
            Ok(Some(Ok(message))) => message,
            Ok(Some(Err(e))) => return Err(format!("replay failed after sequence {covered}: {e}")),
            // Never skip silently: the client reconnects with `since` and misses nothing.
            Ok(None) | Err(_) => return Err(format!("replay stalled after sequence {covered}")),
        };
        let Some((sequence, event)) = decode(&message) else {
            continue;
        };
        covered = sequence;
        if let Some(event) = event.filter(|e| filter.matches(&e.event)) {
            send(socket, &event).await?;
        }
    }
    Ok(covered.max(end))
}

/// A replay that cannot finish closes the socket with a reason naming the last
/// sequence delivered, so the client resumes from there.
async fn replay_or_close(
    socket: &mut WebSocket,
    bus: &EventBus,
    filter: &EventFilter,
    after: u64,
) -> Result<u64, String> {
    match replay(socket, bus, filter, after).await {
        Ok(covered) => Ok(covered),
        Err(reason) => {
            let close = CloseFrame {
                code: 1013,
                reason: format!("{reason}; reconnect with since").into(),
            };
            let _ = socket.send(Message::Close(Some(close))).await;
            Err(reason)
        }
    }
}

/// Answers a client's Close frame with one of our own (RFC 6455, 5.5.1: the
/// endpoint that receives a Close sends one back), so the client's `close()`
/// completes at once instead of waiting for its own timeout.
async fn answer_close(mut socket: WebSocket, frame: Option<CloseFrame>) -> Result<(), String> {
    let code = frame.as_ref().map_or(1000, |f| f.code);
    let reply = CloseFrame {
        // 1005 (no status) and 1006 must never be sent; echo any other code.
        code: if matches!(code, 1005 | 1006) {
            1000
        } else {
            code
        },
        reason: "".into(),
    };
    // The socket may already have queued its reply (tungstenite answers a
    // Close itself on the next write); either way this flushes it.
    let _ = socket.send(Message::Close(Some(reply))).await;
    let _ = futures::SinkExt::close(&mut socket).await;
    Ok(())
}

async fn relay_to_socket(
    mut socket: WebSocket,
    state: AppState,
    filter: EventFilter,
    since: Option<u64>,
) -> Result<(), String> {
    let mut live = state.relay.subscribe();
    let mut covered = match since {
        Some(after) => replay_or_close(&mut socket, &state.bus, &filter, after).await?,
        None => 0,
    };
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(event) => {
                    if event.sequence <= covered {
                        continue;
                    }
                    covered = event.sequence;
                    if filter.matches(&event.event) {
                        send(&mut socket, &event).await?;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "socket fell behind the live feed; replaying");
                    covered = replay_or_close(&mut socket, &state.bus, &filter, covered).await?;
                }
                Err(broadcast::error::RecvError::Closed) => {
                    let close = CloseFrame { code: 1011, reason: "event relay stopped".into() };
                    let _ = socket.send(Message::Close(Some(close))).await;
                    return Err("relay closed".to_owned());
                }
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(frame))) => return answer_close(socket, frame).await,
                None | Some(Err(_)) => return Ok(()),
                Some(Ok(_)) => {}
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(visit: Option<&str>, types: Option<&str>, since: Option<&str>) -> EventsQuery {
        EventsQuery {
            visit_id: visit.map(str::to_owned),
            caregiver_id: None,
            event_type: types.map(str::to_owned),
            since: since.map(str::to_owned),
        }
    }

    #[test]
    fn bad_filters_are_reported_per_field() {
        let errors = parse_query(query(
            Some("nope"),
            Some("homecare.visit.exploded"),
            Some("-1"),
        ))
        .unwrap_err();
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["visit_id", "type", "since"]);
    }

    #[test]
    fn filters_select_by_visit_caregiver_and_type() {
        let visit = Uuid::new_v4();
        let caregiver = Uuid::new_v4();
        let event = EventEnvelope::new(
            EventKind::VisitAssigned,
            visit,
            "",
            chrono::Utc::now(),
            serde_json::json!({"caregiver_id": caregiver}),
        );
        let (by_visit, since) = parse_query(query(
            Some(&visit.to_string()),
            Some("homecare.visit.assigned"),
            Some("7"),
        ))
        .unwrap();
        assert_eq!(since, Some(7));
        assert!(by_visit.matches(&event));
        let (other_visit, _) =
            parse_query(query(Some(&Uuid::new_v4().to_string()), None, None)).unwrap();
        assert!(!other_visit.matches(&event));
        let (other_type, _) =
            parse_query(query(None, Some("homecare.invoice.created"), None)).unwrap();
        assert!(!other_type.matches(&event));
        let by_caregiver = EventFilter {
            caregiver_id: Some(caregiver.to_string()),
            ..Default::default()
        };
        assert!(by_caregiver.matches(&event));
        // Taken from this caregiver, given to another: both hear of it.
        let before = Uuid::new_v4();
        let reassigned = EventEnvelope::new(
            EventKind::VisitAssigned,
            visit,
            "",
            chrono::Utc::now(),
            serde_json::json!({"caregiver_id": caregiver, "caregiver_ids": [caregiver],
                               "previous_caregiver_ids": [before]}),
        );
        let by_previous = EventFilter {
            caregiver_id: Some(before.to_string()),
            ..Default::default()
        };
        assert!(by_previous.matches(&reassigned) && by_caregiver.matches(&reassigned));
        let stranger = EventFilter {
            caregiver_id: Some(Uuid::new_v4().to_string()),
            ..Default::default()
        };
        assert!(!stranger.matches(&reassigned));
    }
}
