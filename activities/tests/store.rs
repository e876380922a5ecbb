//! The activities' transactions against a fresh database per test and a NATS
//! stream of its own: retries and re-runs change nothing twice.

use chrono::{DateTime, TimeZone, Utc};
use futures::future::join_all;
use homecare_activities::{
    ActivityFailure, EventBus, EventBusConfig, EvvKind, VisitActivitiesImpl,
};
use homecare_domain::contracts::{EvvCommand, LateCheckInAlert, RecordCancel, RecordEvv};
use rust_decimal_macros::dec;
use sqlx::PgPool;
use uuid::Uuid;

const PRIVATE_PAY: &str = "00000000-0000-4000-8000-000000000001";

struct Fixture {
    activities: VisitActivitiesImpl,
    client_id: Uuid,
}

impl Fixture {
    async fn new(db: PgPool) -> Self {
        let tag = Uuid::new_v4().simple().to_string();
        let bus = EventBus::connect(EventBusConfig {
            url: std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned()),
            subject_prefix: format!("test_{tag}"),
            stream_name: format!("TEST_{tag}"),
        })
        .await
        .expect("NATS with JetStream must be running on NATS_URL (./dev test starts it)");
        bus.ensure_stream().await.unwrap();
        let client_id = Uuid::new_v4();
        sqlx::query(
            "insert into clients (id, name, address, latitude, longitude, timezone)
             values ($1, 'Eleanor Park', '1452 W Belmont Ave', 41.94, -87.67, 'America/Chicago')",
        )
        .bind(client_id)
        .execute(&db)
        .await
        .unwrap();
        Self {
            activities: VisitActivitiesImpl::new(db, bus),
            client_id,
        }
    }

    fn db(&self) -> &PgPool {
        self.activities.db()
    }

    async fn caregiver(&self, name: &str, skills: &[&str]) -> Uuid {
        let id = Uuid::new_v4();
        sqlx::query("insert into caregivers (id, name, skills) values ($1, $2, $3)")
            .bind(id)
            .bind(name)
            .bind(skills.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .execute(self.db())
            .await
            .unwrap();
        id
    }

    async fn visit(&self, start: DateTime<Utc>, end: DateTime<Utc>, skills: &[&str]) -> Uuid {
        let id = Uuid::new_v4();
        sqlx::query(
            "insert into visits (id, client_id, payer_id, service_code, scheduled, required_skills)
             values ($1, $2, $3::uuid, 'T1019', tstzrange($4, $5), $6)",
        )
        .bind(id)
        .bind(self.client_id)
        .bind(PRIVATE_PAY)
        .bind(start)
        .bind(end)
        .bind(skills.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        .execute(self.db())
        .await
        .unwrap();
        id
    }

    async fn status(&self, visit_id: Uuid) -> String {
        sqlx::query_scalar("select status::text from visits where id = $1")
            .bind(visit_id)
            .fetch_one(self.db())
            .await
            .unwrap()
    }

    async fn count(&self, sql: &str, visit_id: Uuid) -> i64 {
        sqlx::query_scalar(sql)
            .bind(visit_id)
            .fetch_one(self.db())
            .await
            .unwrap()
    }

    /// Messages in this test's stream.
    async fn published(&self) -> u64 {
        let mut stream = self.activities.bus().stream().await.unwrap();
        stream.info().await.unwrap().state.messages
    }

    /// Assigns the visit, then records the check-in and check-out.
    async fn work(&self, visit: Uuid, caregiver: Uuid, from: DateTime<Utc>, to: DateTime<Utc>) {
        self.activities.assign(visit).await.unwrap();
        let act = &self.activities;
        act.record_evv(EvvKind::CheckIn, &evv(visit, caregiver, from))
            .await
            .unwrap();
        act.record_evv(EvvKind::CheckOut, &evv(visit, caregiver, to))
            .await
            .unwrap();
    }

    async fn cleanup(self) {
        let bus = self.activities.bus();
        let _ = bus
            .jetstream()
            .delete_stream(&bus.config().stream_name)
            .await;
    }
}

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, hour, minute, 0).unwrap()
}

fn evv(visit_id: Uuid, caregiver_id: Uuid, time: DateTime<Utc>) -> RecordEvv {
    RecordEvv {
        visit_id,
        command: EvvCommand {
            caregiver_id,
            at: time,
            latitude: 41.94,
            longitude: -87.67,
        },
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn assignment_books_the_first_caregiver_with_every_required_skill(db: PgPool) {
    let f = Fixture::new(db).await;
    let _unskilled = f.caregiver("James Chen", &["personal_care"]).await;
    let maria = f
        .caregiver("Maria Lopez", &["personal_care", "hoyer_lift"])
        .await;
    let visit = f.visit(at(15, 0), at(16, 0), &["hoyer_lift"]).await;

    let outcome = f.activities.assign(visit).await.unwrap();

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

    let first = f.activities.assign(visit).await.unwrap();
    let retried = f.activities.assign(visit).await.unwrap();

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

    let outcome = f.activities.assign(visit).await.unwrap();
    let again = f.activities.assign(visit).await.unwrap();

    assert_eq!(outcome.caregiver_id, None);
    assert_eq!(again.caregiver_id, None);
    assert_eq!(f.status(visit).await, "unfilled");
    let unfilled: String =
        sqlx::query_scalar("select event_type from visit_events where visit_id = $1")
            .bind(visit)
            .fetch_one(f.db())
            .await
            .unwrap();
    assert_eq!(unfilled, "homecare.visit.unfilled");
    assert_eq!(
        f.published().await,
        1,
        "a second attempt republishes nothing"
    );
    f.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn concurrent_assignments_of_overlapping_visits_never_double_book(db: PgPool) {
    let f = Fixture::new(db).await;
    let mut caregivers = Vec::new();
    for name in ["A", "B", "C"] {
        caregivers.push(f.caregiver(name, &[]).await);
    }
    let mut visits = Vec::new();
    for i in 0..10 {
        // All overlap 15:30-16:00.
        visits.push(f.visit(at(15, i), at(16, 30), &[]).await);
    }

    let outcomes = join_all(visits.iter().map(|v| f.activities.assign(*v))).await;

    let mut booked: Vec<Uuid> = outcomes
        .into_iter()
        .filter_map(|o| o.unwrap().caregiver_id)
        .collect();
    assert_eq!(booked.len(), 3, "three caregivers, three staffed visits");
    booked.sort();
    booked.dedup();
    assert_eq!(booked.len(), 3, "no caregiver holds two overlapping visits");
    let unfilled: i64 = sqlx::query_scalar("select count(*) from visits where status = 'unfilled'")
        .fetch_one(f.db())
        .await
        .unwrap();
    assert_eq!(unfilled, 7);
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
    f.activities.assign(visit).await.unwrap();

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
    f.activities.assign(visit).await.unwrap();

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

    let first = f.activities.invoice(visit).await.unwrap();
    let second = f.activities.invoice(visit).await.unwrap();

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
    f.activities.assign(visit).await.unwrap();
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
    f.activities.assign(first).await.unwrap();
    let cancel = RecordCancel {
        visit_id: first,
        reason: "client in hospital".to_owned(),
    };
    f.activities.cancel(&cancel).await.unwrap();
    f.activities.cancel(&cancel).await.unwrap();

    let second = f.visit(at(9, 0), at(11, 0), &[]).await;
    assert_eq!(
        f.activities.assign(second).await.unwrap().caregiver_id,
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
    f.activities.assign(late).await.unwrap();
    f.activities.assign(punctual).await.unwrap();
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
            .late_check_in_alert(&alert(late))
            .await
            .unwrap()
    );
    assert!(
        f.activities
            .late_check_in_alert(&alert(late))
            .await
            .unwrap()
    );
    assert!(
        !f.activities
            .late_check_in_alert(&alert(punctual))
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
    let cut_off = VisitActivitiesImpl::new(
        db,
        EventBus::connect(EventBusConfig {
            subject_prefix: format!("nowhere_{}", Uuid::new_v4().simple()),
            ..f.activities.bus().config().clone()
        })
        .await
        .unwrap(),
    );
    let outcome = cut_off
        .assign(visit)
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
