//! Every frame the e2e tests receive is checked against the AsyncAPI
//! document's schema for its event type, so the document describes what the
//! platform really sends, not what it was meant to send.

use std::collections::HashMap;
use std::sync::OnceLock;

use homecare_domain::EventKind;
use jsonschema::{Draft, Validator};
use serde_json::{Value, json};

/// One validator per event type, each the document with its frame schema as
/// the root (`$ref`s resolve inside the document).
fn validators() -> &'static HashMap<&'static str, Validator> {
    static VALIDATORS: OnceLock<HashMap<&'static str, Validator>> = OnceLock::new();
    VALIDATORS.get_or_init(|| {
        let document = homecare_api::asyncapi::document();
        EventKind::ALL
            .iter()
            .map(|&kind| {
                let mut schema = document.clone();
                schema["$ref"] = json!(format!(
                    "#/components/schemas/{}",
                    homecare_api::asyncapi::frame_schema(kind)
                ));
                let validator = jsonschema::options()
                    .with_draft(Draft::Draft202012)
                    .should_validate_formats(true)
                    .build(&schema)
                    .unwrap_or_else(|e| panic!("the {kind:?} frame schema compiles: {e}"));
                (kind.event_type(), validator)
            })
            .collect()
    })
}

/// The reasons `frame` is not what the document says, if any.
pub fn frame_errors(frame: &Value) -> Vec<String> {
    let Some(event_type) = frame["event"]["type"].as_str() else {
        return vec![format!("a frame without an event type: {frame}")];
    };
    let Some(validator) = validators().get(event_type) else {
        return vec![format!(
            "an event type the document does not list: {event_type}"
        )];
    };
    validator
        .iter_errors(frame)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Panics with every difference when a frame does not match its schema.
pub fn check_frame(frame: &Value) {
    let errors = frame_errors(frame);
    assert!(
        errors.is_empty(),
        "a frame differs from the AsyncAPI document:\n  {}\nframe: {frame:#}",
        errors.join("\n  ")
    );
}
