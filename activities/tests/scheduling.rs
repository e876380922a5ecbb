//! The scheduling engine's activities against a real database: call-outs,
//! manual assignment under the hard rules, two-person visits, and concurrency.

mod common;

use chrono::Duration;
use common::{Fixture, Run, at};
use futures::future::join_all;
use homecare_activities::ActivityFailure;
use homecare_domain::contracts::{CallOut, ManualAssignment, RecordManualAssignment};
use sqlx::PgPool;
use uuid::Uuid;

fn manual(
    visit_id: Uuid,
    caregivers: &[Uuid],
    override_reason: Option<&str>,
) -> RecordManualAssignment {
    RecordManualAssignment {
        visit_id,
        assignment: ManualAssignment {
            caregiver_ids: caregivers.to_vec(),
            override_reason: override_reason.map(str::to_owned),
        },
    }
}

/// A completed visit in the past: `caregiver` has served `client` before.
async fn served_before(f: &Fixture, caregiver: Uuid, client: Uuid) {
    sqlx::query(
        "insert into visits (id, client_id, caregiver_id, payer_id, service_code, scheduled, status)
         values ($1, $2, $3, '00000000-0000-4000-8000-000000000001', 'T1019',
                 tstzrange('2026-01-05 15:00Z', '2026-01-05 16:00Z'), 'completed')",
    )
    .bind(Uuid::new_v4())
    .bind(client)
    .bind(caregiver)
    .execute(f.db())
    .await
    .unwrap();
}

fn call_out(caregiver_id: Uuid, hours: (u32, u32)) -> CallOut {
    CallOut {
        call_out_id: Uuid::new_v4(),
        caregiver_id,
        start: at(hours.0, 0),
        end: at(hours.1, 0),
        reason: "sick".to_owned(),
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_call_out_reassigns_every_affected_visit_and_moves_nothing_else(db: PgPool) {
    let f = Fixture::new(db).await;
    let eleanor = f.client_id;
    let robert = f.client("Robert Diaz", 41.90, -87.65).await;
    let maria = f.caregiver("Maria Lopez", &[]).await;
    let james = f.caregiver("James Chen", &[]).await;
    let lin = f.caregiver("Lin Wu", &[]).await;
    served_before(&f, james, eleanor).await;

    let a = &f.activities;
    let morning = f.visit_for(eleanor, at(15, 0), at(16, 0), 1).await;
    let noon = f.visit_for(robert, at(17, 0), at(18, 0), 1).await;
    let next_week = f
        .visit_for(
            eleanor,
            at(15, 0) + Duration::days(7),
            at(16, 0) + Duration::days(7),
            1,
        )
        .await;
    let james_noon = f.visit_for(eleanor, at(17, 0), at(18, 0), 1).await;
    for v in [morning, noon, next_week] {
        a.assign_manually(&manual(v, &[maria], None)).await.unwrap();
    }
    a.assign_manually(&manual(james_noon, &[james], None))
        .await
        .unwrap();
    let events_before = f.event_types(next_week).await.len();

    let request = call_out(maria, (14, 20));
    let outcome = a.apply_call_out(&request).await.unwrap();

    let by_visit = |v: Uuid| {
        outcome
            .changes
            .iter()
            .find(|c| c.visit_id == v)
            .map(|c| c.outcome.caregiver_ids.clone())
    };
    assert_eq!(outcome.changes.len(), 2, "{outcome:?}");
    assert_eq!(
        by_visit(morning),
        Some(vec![james]),
        "continuity of care wins"
    );
    assert_eq!(by_visit(noon), Some(vec![lin]), "James is busy at noon");
    assert_eq!(f.staff(morning).await, [james]);
    assert_eq!(f.staff(noon).await, [lin]);
    assert_eq!(f.staff(next_week).await, [maria], "outside the call-out");
    assert_eq!(f.staff(james_noon).await, [james], "unaffected");
    assert_eq!(f.event_types(next_week).await.len(), events_before);
    let data: serde_json::Value = sqlx::query_scalar(
        "select envelope->'data' from visit_events where visit_id = $1
          order by occurred_at desc limit 1",
    )
    .bind(morning)
    .fetch_one(f.db())
    .await
    .unwrap();
    assert_eq!(data["decided_by"], "call_out");
    assert_eq!(data["previous_caregiver_ids"][0], maria.to_string());
    assert_eq!(data["caregiver_id"], james.to_string());

    // A retried activity (same call-out id) decides nothing twice.
    let published = f.published().await;
    let again = a.apply_call_out(&request).await.unwrap();
    assert_eq!(again.changes.len(), 2);
    assert_eq!(
        again
            .changes
            .iter()
            .find(|c| c.visit_id == morning)
            .unwrap()
            .outcome,
        outcome
            .changes
            .iter()
            .find(|c| c.visit_id == morning)
            .unwrap()
            .outcome
    );
    assert_eq!(f.published().await, published);
    let exceptions: i64 = sqlx::query_scalar("select count(*) from caregiver_exceptions")
        .fetch_one(f.db())
        .await
        .unwrap();
    assert_eq!(exceptions, 1);
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_call_out_nobody_can_cover_leaves_the_visit_unfilled_with_an_alert(db: PgPool) {
    let f = Fixture::new(db).await;
    let maria = f.caregiver("Maria Lopez", &["hoyer_lift"]).await;
    f.caregiver("James Chen", &[]).await;
    let visit = f.visit(at(15, 0), at(16, 0), &["hoyer_lift"]).await;
    assert_eq!(
        f.activities
            .assign_caregiver(visit)
            .await
            .unwrap()
            .caregiver_id,
        Some(maria)
    );

    let outcome = f
        .activities
        .apply_call_out(&call_out(maria, (0, 23)))
        .await
        .unwrap();

    assert_eq!(outcome.changes.len(), 1);
    assert_eq!(outcome.changes[0].outcome.caregiver_id, None);
    assert_eq!(f.status(visit).await, "unfilled");
    assert!(f.staff(visit).await.is_empty());
    let events = f.event_types(visit).await;
    assert!(
        events.contains(&"homecare.alert.unfilled".to_owned()),
        "{events:?}"
    );
    // Maria is unavailable now: the engine does not give the visit back to her.
    let retried = f.activities.assign_caregiver(visit).await.unwrap();
    assert_eq!(retried.caregiver_id, None);
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn manual_assignment_is_checked_against_every_hard_rule(db: PgPool) {
    let f = Fixture::new(db).await;
    let maria = f.caregiver("Maria Lopez", &[]).await;
    let james = f.caregiver("James Chen", &[]).await;
    let a = &f.activities;
    let first = f.visit(at(15, 0), at(16, 0), &[]).await;
    let overlapping = f.visit(at(15, 30), at(16, 30), &["hoyer_lift"]).await;
    a.assign_manually(&manual(first, &[maria], None))
        .await
        .unwrap();

    let refused = a
        .assign_manually(&manual(overlapping, &[maria], None))
        .await
        .unwrap_err();
    let message = refused.to_string();
    assert!(matches!(refused, ActivityFailure::Rejected(_)));
    assert!(message.starts_with("hard_rule_violated"), "{message}");
    assert!(
        message.contains("overlap") && message.contains("missing_skill"),
        "{message}"
    );
    assert!(f.staff(overlapping).await.is_empty(), "nothing written");

    // Weekly cap: James may work 90 minutes a week; a coordinator may override
    // it with a reason, which is recorded.
    sqlx::query("update caregivers set max_minutes_per_week = 90 where id = $1")
        .bind(james)
        .execute(f.db())
        .await
        .unwrap();
    let long = f.visit(at(18, 0), at(20, 0), &[]).await;
    let refused = a
        .assign_manually(&manual(long, &[james], None))
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("weekly_hours_exceeded"),
        "{refused}"
    );
    let outcome = a
        .assign_manually(&manual(long, &[james], Some("holiday cover agreed")))
        .await
        .unwrap();
    assert_eq!(outcome.caregiver_id, Some(james));
    let (by, reason): (String, Option<String>) = sqlx::query_as(
        "select decided_by, override_reason from assignment_decisions
          where visit_id = $1 order by version desc limit 1",
    )
    .bind(long)
    .fetch_one(f.db())
    .await
    .unwrap();
    assert_eq!(
        (by.as_str(), reason.as_deref()),
        ("coordinator", Some("holiday cover agreed"))
    );
    // Retrying the same assignment changes nothing.
    let again = a
        .assign_manually(&manual(long, &[james], Some("holiday cover agreed")))
        .await
        .unwrap();
    assert_eq!(again, outcome);
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_two_person_visit_gets_two_caregivers_and_a_call_out_replaces_only_one(db: PgPool) {
    let f = Fixture::new(db).await;
    let mut caregivers = Vec::new();
    for name in ["A", "B", "C"] {
        caregivers.push(f.caregiver(name, &[]).await);
    }
    let visit = f.visit_for(f.client_id, at(15, 0), at(16, 0), 2).await;

    let outcome = f.activities.assign_caregiver(visit).await.unwrap();
    assert_eq!(outcome.caregiver_ids.len(), 2);
    assert_ne!(outcome.caregiver_ids[0], outcome.caregiver_ids[1]);
    assert_eq!(f.staff(visit).await, outcome.caregiver_ids);

    let leaving = outcome.caregiver_ids[0];
    let staying = outcome.caregiver_ids[1];
    let spare = *caregivers
        .iter()
        .find(|c| !outcome.caregiver_ids.contains(c))
        .unwrap();
    f.activities
        .apply_call_out(&call_out(leaving, (14, 17)))
        .await
        .unwrap();
    assert_eq!(f.staff(visit).await, [staying, spare]);
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn fifty_concurrent_assignments_of_overlapping_visits_never_double_book(db: PgPool) {
    let f = Fixture::new(db).await;
    for i in 0..20 {
        f.caregiver(&format!("caregiver {i}"), &[]).await;
    }
    let mut visits = Vec::new();
    for i in 0..50 {
        // All overlap 15:50-16:00.
        visits.push(f.visit(at(15, i % 50), at(16, 0), &[]).await);
    }

    let outcomes = join_all(visits.iter().map(|v| f.activities.assign_caregiver(*v))).await;

    let mut booked: Vec<Uuid> = outcomes
        .into_iter()
        .filter_map(|o| {
            o.expect("a clash is a re-decision, never an error")
                .caregiver_id
        })
        .collect();
    assert_eq!(booked.len(), 20, "twenty caregivers, twenty staffed visits");
    booked.sort();
    booked.dedup();
    assert_eq!(
        booked.len(),
        20,
        "no caregiver holds two overlapping visits"
    );
    let (staffed, unfilled): (i64, i64) = sqlx::query_as(
        "select (select count(*) from visit_staff), (select count(*) from visits where status = 'unfilled')",
    )
    .fetch_one(f.db())
    .await
    .unwrap();
    assert_eq!((staffed, unfilled), (20, 30));
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_staff_table_refuses_a_double_booking_in_either_slot(db: PgPool) {
    let f = Fixture::new(db).await;
    let maria = f.caregiver("Maria Lopez", &[]).await;
    let first = f.visit_for(f.client_id, at(15, 0), at(16, 0), 2).await;
    let second = f.visit(at(15, 30), at(16, 30), &[]).await;
    let book = |visit: Uuid, slot: i16, start, end| {
        sqlx::query(
            "insert into visit_staff (visit_id, slot, caregiver_id, scheduled) values ($1, $2, $3, tstzrange($4, $5))",
        )
        .bind(visit)
        .bind(slot)
        .bind(maria)
        .bind(start)
        .bind(end)
        .execute(f.db())
    };
    book(first, 2, at(15, 0), at(16, 0)).await.unwrap();
    let clash = book(second, 1, at(15, 30), at(16, 30)).await.unwrap_err();
    assert_eq!(
        clash.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("23P01")
    );
    f.cleanup().await;
}

fn reschedule(visit_id: Uuid, hours: (u32, u32)) -> homecare_domain::contracts::RecordReschedule {
    homecare_domain::contracts::RecordReschedule {
        visit_id,
        command: homecare_domain::contracts::RescheduleCommand {
            scheduled_start: at(hours.0, 0),
            scheduled_end: at(hours.1, 0),
        },
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_rescheduled_visit_keeps_its_caregiver_if_she_still_fits_and_moves_otherwise(db: PgPool) {
    let f = Fixture::new(db).await;
    let maria = f.caregiver("Maria Lopez", &[]).await;
    let james = f.caregiver("James Chen", &[]).await;
    let a = &f.activities;
    let visit = f.visit(at(15, 0), at(16, 0), &[]).await;
    let other = f.visit(at(19, 0), at(20, 0), &[]).await;
    a.assign_manually(&manual(visit, &[maria], None))
        .await
        .unwrap();
    a.assign_manually(&manual(other, &[maria], None))
        .await
        .unwrap();

    // Free at the new time: Maria stays.
    let kept = a.reschedule(&reschedule(visit, (16, 17))).await.unwrap();
    assert_eq!(kept.caregiver_ids, [maria]);
    let retried = a.reschedule(&reschedule(visit, (16, 17))).await.unwrap();
    assert_eq!(retried, kept, "a retry changes nothing");

    // Onto her other visit: James takes it.
    let moved = a.reschedule(&reschedule(visit, (19, 20))).await.unwrap();
    assert_eq!(moved.caregiver_ids, [james]);
    assert_eq!(f.staff(visit).await, [james]);
    assert_eq!(
        f.staff(other).await,
        [maria],
        "the other visit does not move"
    );
    let scheduled: (chrono::DateTime<chrono::Utc>,) =
        sqlx::query_as("select lower(scheduled) from visits where id = $1")
            .bind(visit)
            .fetch_one(f.db())
            .await
            .unwrap();
    assert_eq!(scheduled.0, at(19, 0));
    let events = f.event_types(visit).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "homecare.visit.rescheduled")
            .count(),
        2,
        "{events:?}"
    );

    // Nobody free: unfilled with an alert.
    let third = f.visit(at(21, 0), at(22, 0), &[]).await;
    a.assign_manually(&manual(third, &[maria], None))
        .await
        .unwrap();
    let fourth = f.visit(at(21, 0), at(22, 0), &[]).await;
    a.assign_manually(&manual(fourth, &[james], None))
        .await
        .unwrap();
    let unfilled = a.reschedule(&reschedule(visit, (21, 22))).await.unwrap();
    assert_eq!(unfilled.caregiver_id, None);
    assert_eq!(f.status(visit).await, "unfilled");
    f.cleanup().await;
}
