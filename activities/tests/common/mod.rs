//! The fixture the activity tests share: a fresh database per test (sqlx::test)
//! and a NATS stream of its own.

#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use homecare_activities::{ActivityFailure, EvvKind, Steps, run};
use homecare_domain::contracts::{
    AssignmentOutcome, BillingOutcome, CallOut, CallOutOutcome, EvvCommand, InvoiceLineSummary,
    LateCheckInAlert, RecordCancel, RecordEvv, RecordManualAssignment, RecordReschedule,
    RecordResolution,
};
use homecare_domain::evv::EvvMethod;
use homecare_store::{EventBus, EventBusConfig, Store, StoreError};
use sqlx::PgPool;
use uuid::Uuid;

const PRIVATE_PAY: &str = "00000000-0000-4000-8000-000000000001";

pub struct Fixture {
    pub activities: Steps,
    pub client_id: Uuid,
}

/// The activities' steps as these tests call them: the functions the
/// activities run (`homecare_activities::run`), by the activities' names.
#[allow(async_fn_in_trait)]
pub trait Run {
    fn db(&self) -> &PgPool;
    fn bus(&self) -> &EventBus;
    async fn assign_caregiver(&self, visit_id: Uuid) -> Result<AssignmentOutcome, ActivityFailure>;
    async fn record_evv(&self, kind: EvvKind, evv: &RecordEvv) -> Result<(), ActivityFailure>;
    async fn bill(&self, visit_id: Uuid) -> Result<BillingOutcome, ActivityFailure>;
    async fn create_invoice_line(
        &self,
        visit_id: Uuid,
    ) -> Result<InvoiceLineSummary, ActivityFailure>;
    async fn cancel(&self, cancel: &RecordCancel) -> Result<(), ActivityFailure>;
    async fn resolve_exception(&self, request: &RecordResolution) -> Result<(), ActivityFailure>;
    async fn close_missed_check_out(&self, visit_id: Uuid) -> Result<bool, ActivityFailure>;
    async fn raise_late_check_in_alert(
        &self,
        alert: &LateCheckInAlert,
    ) -> Result<bool, ActivityFailure>;
    async fn assign_manually(
        &self,
        request: &RecordManualAssignment,
    ) -> Result<AssignmentOutcome, ActivityFailure>;
    async fn reschedule(
        &self,
        request: &RecordReschedule,
    ) -> Result<AssignmentOutcome, ActivityFailure>;
    async fn apply_call_out(&self, call_out: &CallOut) -> Result<CallOutOutcome, ActivityFailure>;
    async fn publish_stale(&self, older_than: std::time::Duration) -> Result<usize, StoreError>;
}

impl Run for Steps {
    fn db(&self) -> &PgPool {
        &self.store.db
    }
    fn bus(&self) -> &EventBus {
        &self.store.bus
    }
    async fn assign_caregiver(&self, visit_id: Uuid) -> Result<AssignmentOutcome, ActivityFailure> {
        run::assign_caregiver(self, visit_id).await
    }
    async fn record_evv(&self, kind: EvvKind, evv: &RecordEvv) -> Result<(), ActivityFailure> {
        run::record_evv(self, kind, evv).await
    }
    async fn bill(&self, visit_id: Uuid) -> Result<BillingOutcome, ActivityFailure> {
        run::bill(self, visit_id).await
    }
    async fn create_invoice_line(
        &self,
        visit_id: Uuid,
    ) -> Result<InvoiceLineSummary, ActivityFailure> {
        run::create_invoice_line(self, visit_id).await
    }
    async fn cancel(&self, cancel: &RecordCancel) -> Result<(), ActivityFailure> {
        run::cancel(self, cancel).await
    }
    async fn resolve_exception(&self, request: &RecordResolution) -> Result<(), ActivityFailure> {
        run::resolve_exception(self, request).await
    }
    async fn close_missed_check_out(&self, visit_id: Uuid) -> Result<bool, ActivityFailure> {
        run::close_missed_check_out(self, visit_id).await
    }
    async fn raise_late_check_in_alert(
        &self,
        alert: &LateCheckInAlert,
    ) -> Result<bool, ActivityFailure> {
        run::raise_late_check_in_alert(self, alert).await
    }
    async fn assign_manually(
        &self,
        request: &RecordManualAssignment,
    ) -> Result<AssignmentOutcome, ActivityFailure> {
        run::assign_manually(self, request).await
    }
    async fn reschedule(
        &self,
        request: &RecordReschedule,
    ) -> Result<AssignmentOutcome, ActivityFailure> {
        run::reschedule(self, request).await
    }
    async fn apply_call_out(&self, call_out: &CallOut) -> Result<CallOutOutcome, ActivityFailure> {
        run::apply_call_out(self, call_out).await
    }
    async fn publish_stale(&self, older_than: std::time::Duration) -> Result<usize, StoreError> {
        self.store.publish_stale(older_than).await
    }
}

impl Fixture {
    pub async fn new(db: PgPool) -> Self {
        let tag = Uuid::new_v4().simple().to_string();
        let bus = EventBus::connect(EventBusConfig {
            url: std::env::var("NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned()),
            subject_prefix: format!("test_{tag}"),
            stream_name: format!("TEST_{tag}"),
            ..Default::default()
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
            activities: Steps::new(Store::new(db, bus)),
            client_id,
        }
    }

    pub fn db(&self) -> &PgPool {
        self.activities.db()
    }

    pub async fn caregiver(&self, name: &str, skills: &[&str]) -> Uuid {
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

    pub async fn visit(&self, start: DateTime<Utc>, end: DateTime<Utc>, skills: &[&str]) -> Uuid {
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

    pub async fn status(&self, visit_id: Uuid) -> String {
        sqlx::query_scalar("select status::text from visits where id = $1")
            .bind(visit_id)
            .fetch_one(self.db())
            .await
            .unwrap()
    }

    pub async fn count(&self, sql: &str, visit_id: Uuid) -> i64 {
        sqlx::query_scalar(sql)
            .bind(visit_id)
            .fetch_one(self.db())
            .await
            .unwrap()
    }

    /// Messages in this test's stream.
    pub async fn published(&self) -> u64 {
        let mut stream = self.activities.bus().stream().await.unwrap();
        stream.info().await.unwrap().state.messages
    }

    /// Assigns the visit, then records the check-in and check-out.
    pub async fn work(&self, visit: Uuid, caregiver: Uuid, from: DateTime<Utc>, to: DateTime<Utc>) {
        self.activities.assign_caregiver(visit).await.unwrap();
        let act = &self.activities;
        act.record_evv(EvvKind::CheckIn, &evv(visit, caregiver, from))
            .await
            .unwrap();
        act.record_evv(EvvKind::CheckOut, &evv(visit, caregiver, to))
            .await
            .unwrap();
    }

    pub async fn cleanup(self) {
        let bus = self.activities.bus();
        let _ = bus
            .jetstream()
            .delete_stream(&bus.config().stream_name)
            .await;
    }
}

pub fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, hour, minute, 0).unwrap()
}

pub fn evv(visit_id: Uuid, caregiver_id: Uuid, time: DateTime<Utc>) -> RecordEvv {
    RecordEvv {
        visit_id,
        command: EvvCommand {
            caregiver_id,
            at: time,
            latitude: 41.94,
            longitude: -87.67,
            method: EvvMethod::Gps,
            duties: Vec::new(),
        },
    }
}

impl Fixture {
    pub async fn client(&self, name: &str, latitude: f64, longitude: f64) -> Uuid {
        let id = Uuid::new_v4();
        sqlx::query(
            "insert into clients (id, name, address, latitude, longitude, timezone)
             values ($1, $2, '1 Test St', $3, $4, 'America/Chicago')",
        )
        .bind(id)
        .bind(name)
        .bind(latitude)
        .bind(longitude)
        .execute(self.db())
        .await
        .unwrap();
        id
    }

    /// A visit of `client` needing `caregivers_needed` caregivers.
    pub async fn visit_for(
        &self,
        client: Uuid,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        caregivers_needed: i16,
    ) -> Uuid {
        let id = Uuid::new_v4();
        sqlx::query(
            "insert into visits (id, client_id, payer_id, service_code, scheduled, caregivers_needed)
             values ($1, $2, $3::uuid, 'T1019', tstzrange($4, $5), $6)",
        )
        .bind(id)
        .bind(client)
        .bind(PRIVATE_PAY)
        .bind(start)
        .bind(end)
        .bind(caregivers_needed)
        .execute(self.db())
        .await
        .unwrap();
        id
    }

    /// Who is booked on the visit, in slot order.
    pub async fn staff(&self, visit_id: Uuid) -> Vec<Uuid> {
        sqlx::query_scalar("select caregiver_id from visit_staff where visit_id = $1 order by slot")
            .bind(visit_id)
            .fetch_all(self.db())
            .await
            .unwrap()
    }

    pub async fn event_types(&self, visit_id: Uuid) -> Vec<String> {
        sqlx::query_scalar(
            "select event_type from visit_events where visit_id = $1 order by occurred_at, event_id",
        )
        .bind(visit_id)
        .fetch_all(self.db())
        .await
        .unwrap()
    }
}
