//! The AsyncAPI 3.0 document of every event: generated from the event types in
//! `homecare_domain::events`, so a channel or a message cannot exist without
//! its schema. Served at `/asyncapi.json` (no token needed) and printed by
//! `homecare asyncapi`.
//!
//! Two kinds of channel: the `/v1/events` WebSocket, whose frames carry any
//! event with its stream sequence, and one NATS subject per event type, as the
//! activities publish them (default prefix `homecare`). Schemas are shared
//! under `#/components/schemas`, the same place the OpenAPI document keeps its
//! own, so one `$ref` means the same type in both documents.

use homecare_domain::EventKind;
use homecare_domain::events::{SOURCE, SPEC_VERSION, data_schemas};
use serde_json::{Map, Value, json};

/// The schema name of the envelope of `kind`.
pub fn envelope_schema(kind: EventKind) -> String {
    format!("{}Envelope", kind.data_name())
}

/// The schema name of a WebSocket frame carrying `kind`.
pub fn frame_schema(kind: EventKind) -> String {
    format!("{}Frame", kind.data_name())
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A channel's key: lower camel case of the data type (`visitAssigned`).
fn channel_key(kind: EventKind) -> String {
    let name = kind.data_name();
    let mut chars = name.chars();
    chars
        .next()
        .map(|first| first.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The CloudEvents envelope of one event type, its `data` typed.
fn envelope(kind: EventKind) -> Value {
    json!({
        "type": "object",
        "description": format!("A CloudEvents 1.0 envelope of `{}`.", kind.event_type()),
        "required": ["specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"],
        "properties": {
            "specversion": { "type": "string", "const": SPEC_VERSION },
            "id": {
                "type": "string", "format": "uuid",
                "description": "Deterministic: the same transition always has the same id (de-duplicate on it)."
            },
            "source": { "type": "string", "const": SOURCE },
            "type": { "type": "string", "const": kind.event_type() },
            "subject": {
                "type": "string", "format": "uuid",
                "description": "The visit the event is about (the plan, for a plan's event)."
            },
            "time": { "type": "string", "format": "date-time" },
            "datacontenttype": { "type": "string", "const": "application/json" },
            "data": schema_ref(kind.data_name()),
        }
    })
}

fn frame(kind: EventKind) -> Value {
    json!({
        "type": "object",
        "description": format!("A `/v1/events` frame carrying `{}`.", kind.event_type()),
        "required": ["sequence", "event"],
        "properties": {
            "sequence": {
                "type": "integer", "minimum": 1,
                "description": "The stream sequence: reconnect with `since` set to the last one received."
            },
            "event": schema_ref(&envelope_schema(kind)),
        }
    })
}

/// Where a subject's `{visit_id}` or `{plan_id}` comes from.
fn subject_parameters(pattern: &str) -> Value {
    let mut parameters = Map::new();
    if pattern.contains("{visit_id}") {
        parameters.insert(
            "visit_id".to_owned(),
            json!({ "description": "The visit's id (a UUID)." }),
        );
    }
    if pattern.contains("{plan_id}") {
        parameters.insert(
            "plan_id".to_owned(),
            json!({ "description": "The day plan's id (a UUID)." }),
        );
    }
    Value::Object(parameters)
}

/// The WebSocket's query, as its handshake takes it.
fn websocket_query() -> Value {
    let types: Vec<&str> = EventKind::ALL.iter().map(|k| k.event_type()).collect();
    json!({
        "type": "object",
        "properties": {
            "visit_id": { "type": "string", "format": "uuid", "description": "Only this visit's events." },
            "caregiver_id": {
                "type": "string", "format": "uuid",
                "description": "Only this caregiver's events (a caregiver's token gets its own only, whatever it asks)."
            },
            "type": {
                "type": "string",
                "description": format!("Comma-separated event types, of: {}.", types.join(", "))
            },
            "since": {
                "type": "string", "pattern": "^[0-9]+$",
                "description": "Replay from after this stream sequence, then follow live; 0 replays everything retained."
            }
        }
    })
}

pub fn document() -> Value {
    let mut schemas = Map::new();
    for (name, schema) in data_schemas() {
        schemas.insert(
            name,
            serde_json::to_value(schema).expect("schemas serialise"),
        );
    }
    let mut messages = Map::new();
    let mut channels = Map::new();
    let mut operations = Map::new();
    for &kind in EventKind::ALL {
        let name = kind.data_name();
        schemas.insert(envelope_schema(kind), envelope(kind));
        schemas.insert(frame_schema(kind), frame(kind));
        messages.insert(format!("{name}Event"), subject_message(kind));
        messages.insert(format!("{name}Frame"), frame_message(kind));
        channels.insert(channel_key(kind), subject_channel(kind));
        operations.insert(format!("publish{name}"), publish_operation(kind));
    }
    channels.insert("events".to_owned(), websocket_channel());
    operations.insert("receiveEvents".to_owned(), receive_operation());
    json!({
        "asyncapi": "3.0.0",
        "info": {
            "title": "homecare events",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every state change of a visit, an invoice, an alert or a day plan, \
                as one CloudEvents 1.0 envelope. Activities publish them to NATS JetStream after \
                their transaction commits; the API relays them to WebSocket clients.",
        },
        "defaultContentType": "application/json",
        "servers": servers(),
        "channels": Value::Object(channels),
        "operations": Value::Object(operations),
        "components": {
            "schemas": Value::Object(schemas),
            "messages": Value::Object(messages),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The same bearer token as the REST API, in the handshake's `Authorization` header.",
                },
            },
        },
    })
}

fn servers() -> Value {
    json!({
        "api": {
            "host": "127.0.0.1:8080",
            "protocol": "ws",
            "description": "The homecare API (`HOMECARE_API_ADDR`); `wss` when it serves TLS.",
            "security": [{ "$ref": "#/components/securitySchemes/bearer" }],
        },
        "nats": {
            "host": "127.0.0.1:4222",
            "protocol": "nats",
            "description": "NATS with JetStream (`NATS_URL`): for services inside the platform.",
        },
    })
}

/// An event as published on its NATS subject.
fn subject_message(kind: EventKind) -> Value {
    json!({
        "name": kind.event_type(),
        "title": kind.event_type(),
        "summary": kind.description(),
        "contentType": "application/json",
        "headers": {
            "type": "object",
            "properties": {
                "Nats-Msg-Id": {
                    "type": "string", "format": "uuid",
                    "description": "The event id: JetStream drops a retried publish inside its duplicate window."
                }
            }
        },
        "payload": schema_ref(&envelope_schema(kind)),
    })
}

/// An event as a `/v1/events` frame.
fn frame_message(kind: EventKind) -> Value {
    json!({
        "name": kind.event_type(),
        "title": format!("{} (WebSocket frame)", kind.event_type()),
        "summary": kind.description(),
        "contentType": "application/json",
        "payload": schema_ref(&frame_schema(kind)),
    })
}

fn subject_channel(kind: EventKind) -> Value {
    let name = kind.data_name();
    let pattern = kind.subject_pattern();
    json!({
        "address": format!("homecare.{pattern}"),
        "title": kind.event_type(),
        "description": format!(
            "{} Subjects start with `HOMECARE_SUBJECT_PREFIX` (default `homecare`); \
             the `HOMECARE` stream captures `homecare.>`.",
            kind.description()
        ),
        "servers": [{ "$ref": "#/servers/nats" }],
        "parameters": subject_parameters(&pattern),
        "messages": { name: { "$ref": format!("#/components/messages/{name}Event") } },
    })
}

fn publish_operation(kind: EventKind) -> Value {
    let (name, key) = (kind.data_name(), channel_key(kind));
    json!({
        "action": "send",
        "summary": format!("The activity that records it publishes `{}` after its commit.", kind.event_type()),
        "channel": { "$ref": format!("#/channels/{key}") },
        "messages": [{ "$ref": format!("#/channels/{key}/messages/{name}") }],
    })
}

fn websocket_channel() -> Value {
    let messages: Map<String, Value> = EventKind::ALL
        .iter()
        .map(|k| {
            let name = k.data_name();
            (
                name.to_owned(),
                json!({ "$ref": format!("#/components/messages/{name}Frame") }),
            )
        })
        .collect();
    json!({
        "address": "/v1/events",
        "title": "Live events",
        "description": "Every event the caller may see, as it happens: one JSON frame per \
            event, with the stream sequence. Replays from `since`, then follows live without \
            a gap or a repeat. The server answers a Close frame with its own.",
        "servers": [{ "$ref": "#/servers/api" }],
        "messages": Value::Object(messages),
        "bindings": { "ws": { "method": "GET", "query": websocket_query(), "bindingVersion": "0.1.0" } },
    })
}

fn receive_operation() -> Value {
    let messages: Vec<Value> = EventKind::ALL
        .iter()
        .map(|k| json!({ "$ref": format!("#/channels/events/messages/{}", k.data_name()) }))
        .collect();
    json!({
        "action": "receive",
        "summary": "Dashboards and apps receive the events they may see.",
        "channel": { "$ref": "#/channels/events" },
        "messages": messages,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_a_channel_a_frame_and_its_data_schema() {
        let document = document();
        let schemas = &document["components"]["schemas"];
        for &kind in EventKind::ALL {
            assert!(schemas.get(kind.data_name()).is_some(), "{kind:?} data");
            assert!(schemas.get(frame_schema(kind)).is_some(), "{kind:?} frame");
            let channel = &document["channels"][channel_key(kind)];
            assert!(
                channel["address"]
                    .as_str()
                    .is_some_and(|a| a.starts_with("homecare.")),
                "{kind:?} channel"
            );
            assert!(
                document["channels"]["events"]["messages"]
                    .get(kind.data_name())
                    .is_some()
            );
        }
        // Every reference resolves inside the document.
        fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(r)) = map.get("$ref") {
                        found.push(r);
                    }
                    map.values().for_each(|v| refs(v, found));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
                _ => {}
            }
        }
        let mut found = Vec::new();
        refs(&document, &mut found);
        assert!(found.len() > 50);
        for reference in found {
            let pointer = reference.trim_start_matches('#');
            assert!(document.pointer(pointer).is_some(), "{reference} resolves");
        }
    }
}
