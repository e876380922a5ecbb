//! Every event the platform publishes: one Rust type per event type, and one
//! envelope for all of them, following CloudEvents 1.0 (JSON).
//!
//! The list in [`events!`] below is the one definition of the event types: the
//! CloudEvents `type`, the Rust type of `data`, the NATS subject and the
//! description the AsyncAPI document shows all come from it.
//!
//! The id is deterministic: the same transition of the same visit always gets the
//! same id, so a retried activity publishes a message JetStream de-duplicates
//! (`Nats-Msg-Id`) and consumers can de-duplicate on it too.

mod data;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use data::*;

/// Namespace for the v5 event ids (a fixed random UUID; changing it changes every id).
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d0c_1f7e_4a8b_4f3e_9d2a_5b7c_8e1f_2a3b);

pub const SPEC_VERSION: &str = "1.0";
pub const SOURCE: &str = "homecare/visit-workflow";

/// The `data` of one event type.
pub trait EventData: Serialize + DeserializeOwned {
    const KIND: EventKind;
    /// What the envelope's `subject` names: the visit (the plan for a plan's event).
    fn subject_id(&self) -> Uuid;
}

/// `events! { Kind(DataType) = "cloudevents.type", subject.path, "description"; ... }`
/// declares the kinds, the typed [`Event`] and the [`EventData`] implementations.
macro_rules! events {
    ($( $kind:ident($data:ident) = $type:literal, $($subject:ident).+, $description:literal; )*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum EventKind {
            $($kind,)*
        }

        impl EventKind {
            pub const ALL: &'static [EventKind] = &[$(EventKind::$kind,)*];

            /// The CloudEvents `type`.
            pub fn event_type(self) -> &'static str {
                match self {
                    $(Self::$kind => $type,)*
                }
            }

            /// The name of the `data` type (and of its schema).
            pub fn data_name(self) -> &'static str {
                match self {
                    $(Self::$kind => stringify!($data),)*
                }
            }

            /// When the event is published, for the AsyncAPI document.
            pub fn description(self) -> &'static str {
                match self {
                    $(Self::$kind => $description,)*
                }
            }
        }

        /// Any event, typed by its `type`.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Event {
            $($kind($data),)*
        }

        impl Event {
            pub fn kind(&self) -> EventKind {
                match self {
                    $(Self::$kind(_) => EventKind::$kind,)*
                }
            }

            /// `data` read as the type its kind says.
            pub fn from_data(kind: EventKind, data: serde_json::Value) -> Result<Self, serde_json::Error> {
                match kind {
                    $(EventKind::$kind => serde_json::from_value(data).map(Self::$kind),)*
                }
            }
        }

        $(
            impl EventData for $data {
                const KIND: EventKind = EventKind::$kind;
                fn subject_id(&self) -> Uuid {
                    self.$($subject).+
                }
            }
        )*

        /// The schema of every event's `data` and of what they refer to, by
        /// name (`#/components/schemas/<name>`).
        #[cfg(feature = "openapi")]
        pub fn data_schemas() -> Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)> {
            let mut schemas = Vec::new();
            $(
                <$data as utoipa::ToSchema>::schemas(&mut schemas);
                schemas.push((
                    <$data as utoipa::ToSchema>::name().into_owned(),
                    <$data as utoipa::PartialSchema>::schema(),
                ));
            )*
            schemas.sort_by(|a, b| a.0.cmp(&b.0));
            schemas.dedup_by(|a, b| a.0 == b.0);
            schemas
        }
    };
}

events! {
    VisitAssigned(VisitAssigned) = "homecare.visit.assigned", assignment.visit.visit_id,
        "Caregivers were booked on the visit: by the scheduling engine, a coordinator, a call-out, a reschedule or a day plan.";
    VisitUnfilled(VisitUnfilled) = "homecare.visit.unfilled", assignment.visit.visit_id,
        "Nobody eligible could be booked on the visit; it is retried on a timer and whenever availability changes.";
    VisitCheckedIn(VisitCheckedIn) = "homecare.visit.checked_in", visit.visit_id,
        "The caregiver checked in (EVV): device time, place and method.";
    VisitCompleted(VisitCompleted) = "homecare.visit.completed", visit.visit_id,
        "The caregiver checked out, or the missed check-out timer closed the visit.";
    VisitCancelled(VisitCancelled) = "homecare.visit.cancelled", visit.visit_id,
        "The visit was cancelled; its caregivers are free again.";
    InvoiceCreated(InvoiceCreated) = "homecare.invoice.created", visit.visit_id,
        "The completed visit was priced and its invoice line committed.";
    LateCheckInAlert(AlertLateCheckIn) = "homecare.alert.late_check_in", visit.visit_id,
        "The assigned caregiver has not checked in this long after the scheduled start.";
    UnfilledAlert(AlertUnfilled) = "homecare.alert.unfilled", assignment.visit.visit_id,
        "A visit went unfilled: someone must find a caregiver.";
    VisitRescheduled(VisitRescheduled) = "homecare.visit.rescheduled", visit.visit_id,
        "The visit moved to new times; an assigned or unfilled event follows with who covers it.";
    PlanCompleted(PlanCompleted) = "homecare.plan.completed", plan_id,
        "A day plan was applied; the visits whose staff changed have their own assigned events.";
    ExceptionRaised(ExceptionRaised) = "homecare.visit.exception_raised", visit.visit_id,
        "An EVV or billing exception was raised; it holds the visit's billing until resolved.";
    ExceptionResolved(ExceptionResolved) = "homecare.visit.exception_resolved", visit.visit_id,
        "A coordinator resolved an exception.";
    VisitHeld(VisitHeld) = "homecare.visit.held", visit.visit_id,
        "The completed visit is held before billing by open exceptions.";
    EscalationAlert(AlertEscalated) = "homecare.alert.escalated", visit.visit_id,
        "An unfilled visit starting soon was not filled by the on-call coordinator in time: the agency's admin is told.";
    OverAuthorizationAlert(AlertOverAuthorization) = "homecare.alert.over_authorization", care_plan_id,
        "A care plan's visits would bill more units in a period than its authorization allows, before any of them is worked.";
}

impl EventKind {
    pub fn from_event_type(event_type: &str) -> Option<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|kind| kind.event_type() == event_type)
    }

    /// The NATS subject below the stream prefix (default prefix `homecare`):
    /// `visit.<id>.<event>`, `invoice.<id>.created`, `plan.<id>.completed`,
    /// `alert.<kind>`.
    pub fn subject_tail(self, subject_id: Uuid) -> String {
        self.subject_pattern()
            .replace("{visit_id}", &subject_id.to_string())
            .replace("{plan_id}", &subject_id.to_string())
    }

    /// The subject tail with its parameter named, as the AsyncAPI document
    /// writes channel addresses.
    pub fn subject_pattern(self) -> String {
        match self {
            Self::InvoiceCreated => "invoice.{visit_id}.created".to_owned(),
            Self::LateCheckInAlert => "alert.late_check_in".to_owned(),
            Self::UnfilledAlert => "alert.unfilled".to_owned(),
            Self::OverAuthorizationAlert => "alert.over_authorization".to_owned(),
            Self::EscalationAlert => "alert.escalated".to_owned(),
            Self::PlanCompleted => "plan.{plan_id}.completed".to_owned(),
            other => {
                let event = other.event_type().rsplit('.').next().unwrap_or_default();
                format!("visit.{{visit_id}}.{event}")
            }
        }
    }
}

/// A CloudEvents 1.0 envelope. `subject` is always the visit id (the plan id for
/// a plan's event), so every event of a visit (invoice and alerts included) can
/// be filtered by it. `data` is kept as JSON so that relays pass on what they
/// do not need to read; [`EventEnvelope::event`] types it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    pub specversion: String,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub subject: String,
    pub time: DateTime<Utc>,
    pub datacontenttype: String,
    pub data: serde_json::Value,
}

/// An envelope whose `type` or `data` is not one of ours.
#[derive(Debug, thiserror::Error)]
pub enum UnknownEvent {
    #[error("unknown event type `{0}`")]
    Type(String),
    #[error("`{event_type}` data does not have its documented shape: {source}")]
    Data {
        event_type: String,
        source: serde_json::Error,
    },
}

impl EventEnvelope {
    /// The envelope of a typed event. `discriminator` separates transitions that
    /// can happen more than once for a visit (an assignment's version, an
    /// exception's id); pass "" for one-time ones.
    pub fn of<E: EventData>(event: &E, discriminator: &str, time: DateTime<Utc>) -> Self {
        let data = serde_json::to_value(event).expect("event data serialises to JSON");
        Self::new(E::KIND, event.subject_id(), discriminator, time, data)
    }

    /// An envelope around untyped data (tests and tools; the platform writes
    /// typed events with [`EventEnvelope::of`]).
    pub fn new(
        kind: EventKind,
        subject_id: Uuid,
        discriminator: &str,
        time: DateTime<Utc>,
        data: serde_json::Value,
    ) -> Self {
        Self {
            specversion: SPEC_VERSION.to_owned(),
            id: event_id(kind, subject_id, discriminator).to_string(),
            source: SOURCE.to_owned(),
            event_type: kind.event_type().to_owned(),
            subject: subject_id.to_string(),
            time,
            datacontenttype: "application/json".to_owned(),
            data,
        }
    }

    pub fn kind(&self) -> Option<EventKind> {
        EventKind::from_event_type(&self.event_type)
    }

    /// The event, typed.
    pub fn event(&self) -> Result<Event, UnknownEvent> {
        let kind = self
            .kind()
            .ok_or_else(|| UnknownEvent::Type(self.event_type.clone()))?;
        Event::from_data(kind, self.data.clone()).map_err(|source| UnknownEvent::Data {
            event_type: self.event_type.clone(),
            source,
        })
    }

    /// The caregiver the event concerns, if any (used by per-connection filters).
    pub fn caregiver_id(&self) -> Option<&str> {
        self.data.get("caregiver_id").and_then(|v| v.as_str())
    }

    /// Whether the event is about this caregiver: the visit's caregiver,
    /// anyone booked on it, or (for a decision) anyone it was taken from, so a
    /// caregiver hears that a visit was reassigned away from them.
    pub fn concerns_caregiver(&self, caregiver_id: &str) -> bool {
        let listed = |field: &str| {
            self.data
                .get(field)
                .and_then(|v| v.as_array())
                .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(caregiver_id)))
        };
        self.caregiver_id() == Some(caregiver_id)
            || listed("caregiver_ids")
            || listed("previous_caregiver_ids")
    }
}

/// One WebSocket frame of `/v1/events`: the stream sequence (pass it back as
/// `since` to resume) and the envelope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventFrame {
    pub sequence: u64,
    pub event: EventEnvelope,
}

pub fn event_id(kind: EventKind, subject_id: Uuid, discriminator: &str) -> Uuid {
    let name = format!("{subject_id}/{}/{discriminator}", kind.event_type());
    Uuid::new_v5(&EVENT_ID_NAMESPACE, name.as_bytes())
}

#[cfg(test)]
mod tests;
