use super::*;
use crate::VisitStatus;

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
        EventKind::ExceptionRaised.subject_tail(visit),
        format!("visit.{visit}.exception_raised")
    );
    assert_eq!(
        EventKind::InvoiceCreated.subject_tail(visit),
        format!("invoice.{visit}.created")
    );
    assert_eq!(
        EventKind::PlanCompleted.subject_tail(visit),
        format!("plan.{visit}.completed")
    );
    assert_eq!(
        EventKind::LateCheckInAlert.subject_tail(visit),
        "alert.late_check_in"
    );
    assert_eq!(
        EventKind::UnfilledAlert.subject_tail(visit),
        "alert.unfilled"
    );
}

#[test]
fn every_kind_has_its_own_type_and_data() {
    let mut types: Vec<&str> = EventKind::ALL.iter().map(|k| k.event_type()).collect();
    let mut names: Vec<&str> = EventKind::ALL.iter().map(|k| k.data_name()).collect();
    types.sort();
    types.dedup();
    names.sort();
    names.dedup();
    assert_eq!(types.len(), EventKind::ALL.len());
    assert_eq!(names.len(), EventKind::ALL.len());
    for kind in EventKind::ALL {
        assert_eq!(EventKind::from_event_type(kind.event_type()), Some(*kind));
        assert!(kind.event_type().starts_with("homecare."));
        assert!(!kind.description().is_empty());
    }
}

fn cancelled() -> VisitCancelled {
    VisitCancelled {
        visit: data::summary(VisitStatus::Cancelled),
        reason: "client in hospital".to_owned(),
    }
}

#[test]
fn a_typed_event_serializes_as_cloudevents_and_reads_back() {
    let event = cancelled();
    let envelope = EventEnvelope::of(&event, "", Utc::now());
    let json = serde_json::to_value(&envelope).unwrap();
    assert_eq!(json["specversion"], "1.0");
    assert_eq!(json["type"], "homecare.visit.cancelled");
    assert_eq!(json["subject"], event.visit.visit_id.to_string());
    // The common visit fields sit flat in `data`, beside the event's own.
    assert_eq!(json["data"]["reason"], "client in hospital");
    assert_eq!(json["data"]["status"], "cancelled");
    assert_eq!(
        envelope.caregiver_id(),
        event.visit.caregiver_id.map(|c| c.to_string()).as_deref()
    );
    let back: EventEnvelope = serde_json::from_value(json).unwrap();
    assert_eq!(back, envelope);
    assert_eq!(back.event().unwrap(), Event::VisitCancelled(event));
}

#[test]
fn data_of_the_wrong_shape_is_refused_by_name() {
    let mut envelope = EventEnvelope::of(&cancelled(), "", Utc::now());
    envelope.data.as_object_mut().unwrap().remove("reason");
    let error = envelope.event().unwrap_err();
    assert!(
        error.to_string().contains("homecare.visit.cancelled"),
        "{error}"
    );
    envelope.event_type = "homecare.visit.exploded".to_owned();
    assert!(matches!(envelope.event(), Err(UnknownEvent::Type(_))));
}

#[test]
fn a_completed_visit_only_says_missed_check_out_when_it_was() {
    let by_device = VisitCompleted {
        visit: data::summary(VisitStatus::Completed),
        at: Utc::now(),
        location: Some(crate::scheduling::Location {
            latitude: 41.9,
            longitude: -87.6,
        }),
        method: Some(crate::evv::EvvMethod::Gps),
        missed_check_out: false,
    };
    let json = serde_json::to_value(&by_device).unwrap();
    assert!(json.get("missed_check_out").is_none());
    let by_timer = VisitCompleted {
        location: None,
        method: None,
        missed_check_out: true,
        ..by_device
    };
    let json = serde_json::to_value(&by_timer).unwrap();
    assert_eq!(json["missed_check_out"], true);
    assert!(json.get("location").is_none());
    let back: VisitCompleted = serde_json::from_value(json).unwrap();
    assert_eq!(back, by_timer);
}

#[test]
fn an_assignment_reads_back_through_its_flattened_parts() {
    let assignment = Assignment {
        visit: data::summary(VisitStatus::Assigned),
        caregiver_ids: vec![Uuid::new_v4()],
        previous_caregiver_ids: vec![],
        assignment_version: 3,
        decided_by: crate::scheduling::DecidedBy::Engine,
        call_out_id: None,
        override_reason: None,
        decision: DecisionDetail {
            eligible: Some(2),
            chosen: Some(vec![]),
            ..DecisionDetail::default()
        },
    };
    let event = VisitAssigned { assignment };
    let envelope = EventEnvelope::of(&event, "v3", Utc::now());
    assert_eq!(envelope.data["assignment_version"], 3);
    assert_eq!(envelope.data["decided_by"], "engine");
    assert_eq!(envelope.data["decision"]["eligible"], 2);
    assert!(envelope.data["decision"].get("kept").is_none());
    assert_eq!(envelope.event().unwrap(), Event::VisitAssigned(event));
}
