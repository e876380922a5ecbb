use chrono::{NaiveTime, TimeZone, Utc};
use chrono_tz::America::Chicago;

use super::*;
use crate::VisitStatus;
use crate::events::*;
use crate::evv::EvvMethod;
use crate::scheduling::{DecidedBy, Location};

fn at(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, hour, 0, 0).unwrap()
}

fn visit(caregiver: Option<Uuid>, start: DateTime<Utc>) -> VisitSummary {
    VisitSummary {
        visit_id: Uuid::from_u128(1),
        client_id: Uuid::from_u128(2),
        caregiver_id: caregiver,
        status: VisitStatus::Assigned,
        service_code: "T1019".into(),
        scheduled_start: start,
        scheduled_end: start + Duration::hours(1),
    }
}

fn assignment(now: &[Uuid], before: &[Uuid], start: DateTime<Utc>) -> Assignment {
    Assignment {
        visit: visit(now.first().copied(), start),
        caregiver_ids: now.to_vec(),
        previous_caregiver_ids: before.to_vec(),
        assignment_version: 2,
        decided_by: DecidedBy::Coordinator,
        call_out_id: None,
        override_reason: None,
        decision: DecisionDetail::default(),
    }
}

fn told(notices: &[Notice]) -> Vec<(Audience, Template, bool)> {
    notices
        .iter()
        .map(|n| (n.audience, n.template, n.urgent))
        .collect()
}

const MARIA: Uuid = Uuid::from_u128(10);
const JAMES: Uuid = Uuid::from_u128(11);

#[test]
fn a_reassignment_tells_the_new_caregiver_and_the_one_it_was_taken_from() {
    let event = Event::VisitAssigned(VisitAssigned {
        assignment: assignment(&[JAMES], &[MARIA], at(15)),
    });
    assert_eq!(
        told(&notices(&event, at(6))),
        vec![
            (Audience::Caregiver(JAMES), Template::Assigned, true),
            (Audience::Caregiver(MARIA), Template::ReassignedAway, true),
        ]
    );
    // Next week's visit: nothing urgent, so quiet hours hold it.
    let later = Event::VisitAssigned(VisitAssigned {
        assignment: assignment(&[JAMES], &[MARIA], at(15) + Duration::days(7)),
    });
    assert!(notices(&later, at(6)).iter().all(|n| !n.urgent));
    // A decision that keeps everyone tells nobody.
    let kept = Event::VisitAssigned(VisitAssigned {
        assignment: assignment(&[MARIA], &[MARIA], at(15)),
    });
    assert!(notices(&kept, at(6)).is_empty());
}

#[test]
fn an_unfilled_visit_tells_the_caregiver_it_left_and_its_alert_the_office() {
    let unfilled = Event::VisitUnfilled(VisitUnfilled {
        assignment: assignment(&[], &[MARIA], at(15)),
    });
    assert_eq!(
        told(&notices(&unfilled, at(6))),
        vec![(Audience::Caregiver(MARIA), Template::ReassignedAway, true)]
    );
    let alert = Event::UnfilledAlert(AlertUnfilled {
        assignment: assignment(&[], &[], at(15)),
    });
    assert_eq!(
        told(&notices(&alert, at(6))),
        vec![(Audience::OnCall, Template::Unfilled, true)]
    );
}

#[test]
fn cancellations_reschedules_and_the_office_alerts() {
    let cancelled = Event::VisitCancelled(VisitCancelled {
        visit: visit(Some(MARIA), at(15)),
        reason: "hospital".into(),
    });
    assert_eq!(
        told(&notices(&cancelled, at(6))),
        vec![(Audience::Caregiver(MARIA), Template::VisitCancelled, true)]
    );
    let nobody = Event::VisitCancelled(VisitCancelled {
        visit: visit(None, at(15)),
        reason: "x".into(),
    });
    assert!(notices(&nobody, at(6)).is_empty());
    // A visit next week moved to tomorrow is urgent; one moved within next week is not.
    let moved = |start, previous: DateTime<Utc>| {
        Event::VisitRescheduled(VisitRescheduled {
            visit: visit(Some(MARIA), start),
            previous_start: previous,
            previous_end: previous + Duration::hours(1),
        })
    };
    let week = Duration::days(7);
    assert!(notices(&moved(at(15), at(15) + week), at(6))[0].urgent);
    assert!(notices(&moved(at(15) + week, at(15)), at(6))[0].urgent);
    assert!(!notices(&moved(at(16) + week, at(15) + week), at(6))[0].urgent);
    let late = Event::LateCheckInAlert(AlertLateCheckIn {
        visit: visit(Some(MARIA), at(6)),
        minutes_after_start: 15,
    });
    assert_eq!(
        told(&notices(&late, at(7))),
        vec![(Audience::OnCall, Template::LateCheckIn, true)]
    );
}

#[test]
fn check_ins_and_check_outs_reach_the_clients_contacts_and_a_missed_one_the_office() {
    let client = Uuid::from_u128(2);
    let location = Location {
        latitude: 41.9,
        longitude: -87.6,
    };
    let checked_in = Event::VisitCheckedIn(VisitCheckedIn {
        visit: visit(Some(MARIA), at(15)),
        at: at(15),
        location,
        method: EvvMethod::Gps,
    });
    assert_eq!(
        told(&notices(&checked_in, at(15))),
        vec![(Audience::ClientContacts(client), Template::CheckedIn, false)]
    );
    let completed = |missed| {
        Event::VisitCompleted(VisitCompleted {
            visit: visit(Some(MARIA), at(15)),
            at: at(16),
            location: None,
            method: None,
            missed_check_out: missed,
        })
    };
    assert_eq!(
        told(&notices(&completed(false), at(16))),
        vec![(
            Audience::ClientContacts(client),
            Template::CheckedOut,
            false
        )]
    );
    assert_eq!(
        told(&notices(&completed(true), at(18))),
        vec![(Audience::OnCall, Template::MissedCheckOut, true)]
    );
}

fn facts() -> Facts {
    Facts {
        client: short_name("Eleanor Park"),
        scheduled_start: at(15),
        timezone: Chicago,
        link: "https://agency.example/app/".into(),
    }
}

#[test]
fn messages_name_the_client_by_first_name_and_initial_in_both_languages() {
    assert_eq!(short_name("Eleanor Park"), "Eleanor P.");
    assert_eq!(short_name("  María José  de la Cruz "), "María C.");
    assert_eq!(short_name("Cher"), "Cher");
    assert_eq!(short_name("eleanor ōtsuka"), "eleanor Ō.");
    assert_eq!(short_name(""), "");
    let english = render(Template::ReassignedAway, Language::English, &facts());
    assert_eq!(
        english.text,
        "Your visit with Eleanor P. on Wed Dec 2, 9:00 AM is no longer yours. https://agency.example/app/"
    );
    let spanish = render(Template::VisitCancelled, Language::Spanish, &facts());
    assert_eq!(spanish.subject, "Visita cancelada");
    assert_eq!(
        spanish.text,
        "Su visita con Eleanor P. el mié 2 dic, 09:00 fue cancelada. https://agency.example/app/"
    );
    // Every template has its own words in each language.
    for language in [Language::English, Language::Spanish] {
        let mut subjects: Vec<String> = Template::ALL
            .iter()
            .map(|t| render(*t, language, &facts()).subject)
            .collect();
        subjects.sort();
        subjects.dedup();
        assert_eq!(subjects.len(), Template::ALL.len(), "{language:?}");
    }
    for template in Template::ALL {
        assert_eq!(Template::parse(template.as_str()), Some(*template));
    }
}

#[test]
fn quiet_hours_hold_until_they_end_in_the_recipients_zone() {
    let night = QuietHours {
        start: NaiveTime::from_hms_opt(21, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
        timezone: Chicago,
    };
    // 04:00 UTC is 22:00 in Chicago: held until 07:00 Chicago (13:00 UTC).
    assert_eq!(night.release(at(4)), at(13));
    // 12:00 UTC is 06:00 in Chicago: until 07:00 the same morning.
    assert_eq!(night.release(at(12)), at(13));
    // 15:00 UTC is 09:00: not quiet.
    assert_eq!(night.release(at(15)), at(15));
    let lunch = QuietHours {
        start: NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
        end: NaiveTime::from_hms_opt(13, 0, 0).unwrap(),
        timezone: Chicago,
    };
    assert_eq!(lunch.release(at(18) + Duration::minutes(30)), at(19));
    assert_eq!(lunch.release(at(19)), at(19));
}
