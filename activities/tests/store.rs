//! The activities' transactions against a fresh database per test and a NATS
//! stream of its own: retries and re-runs change nothing twice.

mod common;

use common::{Fixture, Run, at, evv};
use homecare_activities::{ActivityFailure, EvvKind, Steps};
use homecare_domain::contracts::{LateCheckInAlert, RecordCancel};
use homecare_store::{EventBus, EventBusConfig, Store};
use rust_decimal_macros::dec;
use sqlx::PgPool;
use uuid::Uuid;

#[sqlx::test(migrations = "../migrations")]
async fn assignment_books_a_caregiver_with_every_required_skill(db: PgPool) {
    let f = Fixture::new(db).await;
    let _unskilled = f.caregiver("James Chen", &["personal_care"]).await;
    let maria = f
        .caregiver("Maria Lopez", &["personal_care", "hoyer_lift"])
        .await;
    let visit = f.visit(at(15, 0), at(16, 0), &["hoyer_lift"]).await;

    let outcome = f.activities.assign_caregiver(visit).await.unwrap();

    assert_eq!(outcome.caregiver_id, Some(maria));
    assert_eq!(f.status(visit).await, "assigned");
    assert_eq!(f.published().await, 1);
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_retried_assignment_books_once_and_publishes_once(db: PgPool) {
    let f = Fixture::new(db).await;
    let maria = f.caregiver("Maria Lopez", &[]).await;
    let visit = f.visit(at(15, 0), at(16, 0), &[]).await;

    let first = f.activities.assign_caregiver(visit).await.unwrap();
    let retried = f.activities.assign_caregiver(visit).await.unwrap();

    assert_eq!(first.caregiver_id, Some(maria));
    assert_eq!(retried.caregiver_id, Some(maria));
    assert_eq!(
        f.count(
            "select count(*) from visit_events where visit_id = $1",
            visit
        )
        .await,
        1
    );
    assert_eq!(f.published().await, 1);
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_visit_nobody_can_staff_becomes_unfilled_with_an_event(db: PgPool) {
    let f = Fixture::new(db).await;
    f.caregiver("James Chen", &["personal_care"]).await;
    let visit = f.visit(at(15, 0), at(16, 0), &["dementia_care"]).await;

    let outcome = f.activities.assign_caregiver(visit).await.unwrap();
    let again = f.activities.assign_caregiver(visit).await.unwrap();

    assert_eq!(outcome.caregiver_id, None);
    assert_eq!(again.caregiver_id, None);
    assert_eq!(f.status(visit).await, "unfilled");
    let mut events: Vec<String> =
        sqlx::query_scalar("select event_type from visit_events where visit_id = $1")
            .bind(visit)
            .fetch_all(f.db())
            .await
            .unwrap();
    events.sort();
    assert_eq!(
        events,
        ["homecare.alert.unfilled", "homecare.visit.unfilled"]
    );
    assert_eq!(
        f.published().await,
        2,
        "a second attempt republishes nothing"
    );
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_database_refuses_a_double_booking_even_without_the_activity(db: PgPool) {
    let f = Fixture::new(db).await;
    let maria = f.caregiver("Maria Lopez", &[]).await;
    let first = f.visit(at(15, 0), at(16, 0), &[]).await;
    let second = f.visit(at(15, 59), at(17, 0), &[]).await;
    let book = |visit: Uuid| {
        sqlx::query("update visits set caregiver_id = $2, status = 'assigned' where id = $1")
            .bind(visit)
            .bind(maria)
            .execute(f.db())
    };
    book(first).await.unwrap();
    let clash = book(second).await.unwrap_err();
    assert_eq!(
        clash.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("23P01")
    );
    // A cancelled visit frees the slot.
    sqlx::query("update visits set status = 'cancelled' where id = $1")
        .bind(first)
        .execute(f.db())
        .await
        .unwrap();
    book(second).await.unwrap();
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn check_in_and_check_out_retried_record_one_evv_record_each(db: PgPool) {
    let f = Fixture::new(db).await;
    let maria = f.caregiver("Maria Lopez", &[]).await;
    let visit = f.visit(at(9, 0), at(11, 0), &[]).await;
    f.activities.assign_caregiver(visit).await.unwrap();

    for _ in 0..2 {
        f.activities
            .record_evv(EvvKind::CheckIn, &evv(visit, maria, at(9, 2)))
            .await
            .unwrap();
    }
    for _ in 0..2 {
        f.activities
            .record_evv(EvvKind::CheckOut, &evv(visit, maria, at(10, 58)))
            .await
            .unwrap();
    }

    assert_eq!(f.status(visit).await, "completed");
    assert_eq!(
        f.count(
            "select count(*) from evv_records where visit_id = $1",
            visit
        )
        .await,
        2
    );
    assert_eq!(
        f.count(
            "select count(*) from visit_events where visit_id = $1",
            visit
        )
        .await,
        3
    );
    assert_eq!(f.published().await, 3);
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn evv_from_a_caregiver_not_assigned_is_refused_for_good(db: PgPool) {
    let f = Fixture::new(db).await;
    f.caregiver("Maria Lopez", &[]).await;
    let visit = f.visit(at(9, 0), at(11, 0), &[]).await;
    f.activities.assign_caregiver(visit).await.unwrap();

    let error = f
        .activities
        .record_evv(EvvKind::CheckIn, &evv(visit, Uuid::new_v4(), at(9, 0)))
        .await
        .unwrap_err();

    assert!(matches!(error, ActivityFailure::Rejected(_)), "{error:?}");
    assert!(!error.is_retryable());
    assert_eq!(f.status(visit).await, "assigned");
    assert_eq!(
        f.count(
            "select count(*) from evv_records where visit_id = $1",
            visit
        )
        .await,
        0
    );
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn invoicing_twice_creates_one_line_with_the_exact_amount(db: PgPool) {
    let f = Fixture::new(db).await;
    let maria = f.caregiver("Maria Lopez", &[]).await;
    let visit = f.visit(at(15, 0), at(17, 0), &[]).await;
    f.work(visit, maria, at(15, 0), at(16, 52)).await;

    let first = f.activities.create_invoice_line(visit).await.unwrap();
    let second = f.activities.create_invoice_line(visit).await.unwrap();

    // 112 verified minutes -> (112 + 7) / 15 = 7 units x 7.50 (private pay T1019) = 52.50
    assert_eq!(first.units, 7);
    assert_eq!(first.amount, dec!(52.50));
    assert_eq!(second, first);
    assert_eq!(
        f.count(
            "select count(*) from invoice_lines where visit_id = $1",
            visit
        )
        .await,
        1
    );
    let (minutes, date): (i32, chrono::NaiveDate) = sqlx::query_as(
        "select billed_minutes, service_date from invoice_lines where visit_id = $1",
    )
    .bind(visit)
    .fetch_one(f.db())
    .await
    .unwrap();
    assert_eq!(minutes, 112);
    // 15:00 UTC is 09:00 in Chicago: the service date is the client's local date.
    assert_eq!(date, chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
    assert_eq!(f.status(visit).await, "invoiced");
    assert_eq!(f.published().await, 4);
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_publish_lost_after_commit_is_repaired_by_the_retry_without_a_duplicate(db: PgPool) {
    let f = Fixture::new(db).await;
    let maria = f.caregiver("Maria Lopez", &[]).await;
    let visit = f.visit(at(9, 0), at(11, 0), &[]).await;
    f.activities.assign_caregiver(visit).await.unwrap();
    f.activities
        .record_evv(EvvKind::CheckIn, &evv(visit, maria, at(9, 0)))
        .await
        .unwrap();
    assert_eq!(f.published().await, 2);

    // The worker died after the commit, before it marked the publish: the outbox
    // still shows the event as pending.
    sqlx::query("update visit_events set published_at = null where visit_id = $1")
        .bind(visit)
        .execute(f.db())
        .await
        .unwrap();
    f.activities
        .record_evv(EvvKind::CheckIn, &evv(visit, maria, at(9, 0)))
        .await
        .unwrap();

    let pending = f
        .count(
            "select count(*) from visit_events where visit_id = $1 and published_at is null",
            visit,
        )
        .await;
    assert_eq!(pending, 0, "the retry published what was pending");
    assert_eq!(
        f.published().await,
        2,
        "JetStream dropped the re-publish by its Nats-Msg-Id"
    );
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_completed_visit_cannot_be_cancelled(db: PgPool) {
    let f = Fixture::new(db).await;
    let maria = f.caregiver("Maria Lopez", &[]).await;
    let visit = f.visit(at(9, 0), at(11, 0), &[]).await;
    f.work(visit, maria, at(9, 0), at(10, 0)).await;

    let cancel = RecordCancel {
        visit_id: visit,
        reason: "duplicate".to_owned(),
    };
    let error = f.activities.cancel(&cancel).await.unwrap_err();

    assert!(!error.is_retryable());
    assert_eq!(f.status(visit).await, "completed");
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn cancelling_twice_frees_the_caregiver_once(db: PgPool) {
    let f = Fixture::new(db).await;
    let maria = f.caregiver("Maria Lopez", &[]).await;
    let first = f.visit(at(9, 0), at(11, 0), &[]).await;
    f.activities.assign_caregiver(first).await.unwrap();
    let cancel = RecordCancel {
        visit_id: first,
        reason: "client in hospital".to_owned(),
    };
    f.activities.cancel(&cancel).await.unwrap();
    f.activities.cancel(&cancel).await.unwrap();

    let second = f.visit(at(9, 0), at(11, 0), &[]).await;
    assert_eq!(
        f.activities
            .assign_caregiver(second)
            .await
            .unwrap()
            .caregiver_id,
        Some(maria)
    );
    assert_eq!(f.count("select count(*) from visit_events where visit_id = $1 and event_type = 'homecare.visit.cancelled'", first).await, 1);
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn the_late_alert_is_raised_only_while_the_check_in_is_missing(db: PgPool) {
    let f = Fixture::new(db).await;
    let maria = f.caregiver("Maria Lopez", &[]).await;
    let late = f.visit(at(9, 0), at(11, 0), &[]).await;
    let punctual = f.visit(at(12, 0), at(13, 0), &[]).await;
    f.activities.assign_caregiver(late).await.unwrap();
    f.activities.assign_caregiver(punctual).await.unwrap();
    f.activities
        .record_evv(EvvKind::CheckIn, &evv(punctual, maria, at(12, 1)))
        .await
        .unwrap();

    let alert = |visit_id| LateCheckInAlert {
        visit_id,
        minutes_after_start: 15,
    };
    assert!(
        f.activities
            .raise_late_check_in_alert(&alert(late))
            .await
            .unwrap()
    );
    assert!(
        f.activities
            .raise_late_check_in_alert(&alert(late))
            .await
            .unwrap()
    );
    assert!(
        !f.activities
            .raise_late_check_in_alert(&alert(punctual))
            .await
            .unwrap()
    );

    let alerts: i64 = sqlx::query_scalar(
        "select count(*) from visit_events where event_type = 'homecare.alert.late_check_in'",
    )
    .fetch_one(f.db())
    .await
    .unwrap();
    assert_eq!(alerts, 1);
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn an_activity_succeeds_without_nats_and_the_sweeper_publishes_its_event(db: PgPool) {
    let f = Fixture::new(db.clone()).await;
    f.caregiver("Maria Lopez", &[]).await;
    let visit = f.visit(at(9, 0), at(11, 0), &[]).await;
    // A worker whose NATS subjects no stream captures: every publish fails, as
    // it would with JetStream unreachable, after the transaction has committed.
    let cut_off = Steps::new(Store::new(
        db,
        EventBus::connect(EventBusConfig {
            subject_prefix: format!("nowhere_{}", Uuid::new_v4().simple()),
            ..f.activities.bus().config().clone()
        })
        .await
        .unwrap(),
    ));
    let outcome = cut_off
        .assign_caregiver(visit)
        .await
        .expect("the change commits; the publish waits");
    assert!(outcome.caregiver_id.is_some());
    assert_eq!(f.status(visit).await, "assigned");
    assert_eq!(f.published().await, 0);

    // Not yet stale: the sweeper leaves it to the activity's own retry.
    assert_eq!(
        f.activities
            .publish_stale(std::time::Duration::from_secs(60))
            .await
            .unwrap(),
        0
    );
    let swept = f
        .activities
        .publish_stale(std::time::Duration::ZERO)
        .await
        .unwrap();

    assert_eq!(swept, 1);
    assert_eq!(f.published().await, 1);
    let pending = f
        .count(
            "select count(*) from visit_events where visit_id = $1 and published_at is null",
            visit,
        )
        .await;
    assert_eq!(pending, 0);
    f.cleanup().await;
}
