//! One envelope for every event, following CloudEvents 1.0 (JSON).
//!
//! The id is deterministic: the same transition of the same visit always gets the
//! same id, so a retried activity publishes a message JetStream de-duplicates
//! (`Nats-Msg-Id`) and consumers can de-duplicate on it too.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Namespace for the v5 event ids (a fixed random UUID; changing it changes every id).
const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6d0c_1f7e_4a8b_4f3e_9d2a_5b7c_8e1f_2a3b);

pub const SPEC_VERSION: &str = "1.0";
pub const SOURCE: &str = "homecare/visit-workflow";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    VisitAssigned,
    VisitUnfilled,
    VisitCheckedIn,
    VisitCompleted,
    VisitCancelled,
    InvoiceCreated,
    LateCheckInAlert,
    UnfilledAlert,
    VisitRescheduled,
    PlanCompleted,
    ExceptionRaised,
    ExceptionResolved,
    VisitHeld,
}

impl EventKind {
    pub const ALL: [EventKind; 13] = [
        Self::VisitAssigned,
        Self::VisitUnfilled,
        Self::VisitCheckedIn,
        Self::VisitCompleted,
        Self::VisitCancelled,
        Self::InvoiceCreated,
        Self::LateCheckInAlert,
        Self::UnfilledAlert,
        Self::VisitRescheduled,
        Self::PlanCompleted,
        Self::ExceptionRaised,
        Self::ExceptionResolved,
        Self::VisitHeld,
    ];

    /// The CloudEvents `type`.
    pub fn event_type(self) -> &'static str {
        match self {
            Self::VisitAssigned => "homecare.visit.assigned",
            Self::VisitUnfilled => "homecare.visit.unfilled",
            Self::VisitCheckedIn => "homecare.visit.checked_in",
            Self::VisitCompleted => "homecare.visit.completed",
            Self::VisitCancelled => "homecare.visit.cancelled",
            Self::InvoiceCreated => "homecare.invoice.created",
            Self::LateCheckInAlert => "homecare.alert.late_check_in",
            Self::UnfilledAlert => "homecare.alert.unfilled",
            Self::VisitRescheduled => "homecare.visit.rescheduled",
            Self::PlanCompleted => "homecare.plan.completed",
            Self::ExceptionRaised => "homecare.visit.exception_raised",
            Self::ExceptionResolved => "homecare.visit.exception_resolved",
            Self::VisitHeld => "homecare.visit.held",
        }
    }

    pub fn from_event_type(event_type: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.event_type() == event_type)
    }

    /// The NATS subject below the stream prefix (default prefix `homecare`):
    /// `visit.<id>.<event>`, `invoice.<id>.created`, `alert.<kind>`.
    pub fn subject_tail(self, visit_id: Uuid) -> String {
        match self {
            Self::InvoiceCreated => format!("invoice.{visit_id}.created"),
            Self::LateCheckInAlert => "alert.late_check_in".to_owned(),
            Self::UnfilledAlert => "alert.unfilled".to_owned(),
            // The id is the plan's here.
            Self::PlanCompleted => format!("plan.{visit_id}.completed"),
            other => {
                let event = other.event_type().rsplit('.').next().unwrap_or_default();
                format!("visit.{visit_id}.{event}")
            }
        }
    }
}

/// A CloudEvents 1.0 envelope. `subject` is always the visit id, so every event of a
/// visit (invoice and alerts included) can be filtered by it.
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

impl EventEnvelope {
    /// `discriminator` separates transitions that can happen more than once for a
    /// visit (an assignment to a different caregiver); pass "" for one-time ones.
    pub fn new(
        kind: EventKind,
        visit_id: Uuid,
        discriminator: &str,
        time: DateTime<Utc>,
        data: serde_json::Value,
    ) -> Self {
        Self {
            specversion: SPEC_VERSION.to_owned(),
            id: event_id(kind, visit_id, discriminator).to_string(),
            source: SOURCE.to_owned(),
            event_type: kind.event_type().to_owned(),
            subject: visit_id.to_string(),
            time,
            datacontenttype: "application/json".to_owned(),
            data,
        }
    }

    pub fn kind(&self) -> Option<EventKind> {
        EventKind::from_event_type(&self.event_type)
    }

    /// The caregiver the event concerns, if any (used by per-connection filters).
    pub fn caregiver_id(&self) -> Option<&str> {
        self.data.get("caregiver_id").and_then(|v| v.as_str())
    }
}

pub fn event_id(kind: EventKind, visit_id: Uuid, discriminator: &str) -> Uuid {
    let name = format!("{visit_id}/{}/{discriminator}", kind.event_type());
    Uuid::new_v5(&EVENT_ID_NAMESPACE, name.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_transition_always_gets_the_same_id() {
        let visit = Uuid::new_v4();
        let a = event_id(EventKind::VisitCompleted, visit, "");
        assert_eq!(a, event_id(EventKind::VisitCompleted, visit, ""));
        assert_ne!(a, event_id(EventKind::VisitCheckedIn, visit, ""));
        assert_ne!(a, event_id(EventKind::VisitCompleted, Uuid::new_v4(), ""));
        assert_ne!(
            event_id(EventKind::VisitAssigned, visit, "a"),
            event_id(EventKind::VisitAssigned, visit, "b")
        );
    }

    #[test]
    fn subjects_follow_the_documented_layout() {
        let visit = Uuid::nil();
        assert_eq!(
            EventKind::VisitAssigned.subject_tail(visit),
            format!("visit.{visit}.assigned")
        );
        assert_eq!(
            EventKind::VisitCheckedIn.subject_tail(visit),
            format!("visit.{visit}.checked_in")
        );
        assert_eq!(
            EventKind::InvoiceCreated.subject_tail(visit),
            format!("invoice.{visit}.created")
        );
        assert_eq!(
            EventKind::LateCheckInAlert.subject_tail(visit),
            "alert.late_check_in"
        );
    }

    #[test]
    fn envelope_serializes_as_cloudevents() {
        let visit = Uuid::new_v4();
        let caregiver = Uuid::new_v4();
        let envelope = EventEnvelope::new(
            EventKind::VisitAssigned,
            visit,
            &caregiver.to_string(),
            Utc::now(),
            serde_json::json!({"visit_id": visit, "caregiver_id": caregiver}),
        );
        let json = serde_json::to_value(&envelope).unwrap();
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["type"], "homecare.visit.assigned");
        assert_eq!(json["subject"], visit.to_string());
        assert_eq!(
            envelope.caregiver_id(),
            Some(caregiver.to_string().as_str())
        );
        let back: EventEnvelope = serde_json::from_value(json).unwrap();
        assert_eq!(back, envelope);
        assert_eq!(back.kind(), Some(EventKind::VisitAssigned));
    }
}
