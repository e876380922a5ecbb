//! Starting the platform in-process for one test, and talking to it like a client.

use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Parser;
use futures::StreamExt;
use homecare::platform::{self, RunningApi};
use homecare::settings::Settings;
use homecare_domain::contracts::{VisitSnapshot, visit_workflow_id};
use homecare_worker::{WorkerSettings, WorkerThread};
use homecare_workflows::{CarePlanWorkflow, VisitWorkflow};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use temporalio_client::{
    Client, WorkflowDescribeOptions, WorkflowExecutionStatus, WorkflowGetResultOptions,
    WorkflowTerminateOptions,
};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

/// How long a test waits for an event before it fails (not a sleep).
pub const EVENT_WAIT: Duration = Duration::from_secs(30);

#[derive(Parser)]
struct Defaults {
    #[command(flatten)]
    settings: Settings,
}

/// The settings the binary would read from this environment, with `tag` giving
/// the test its own subject prefix, stream and task queue, and port 0 for the API.
pub fn isolated_settings(tag: &str) -> Settings {
    let mut settings = Defaults::parse_from(["e2e"]).settings;
    settings.subject_prefix = format!("e2e_{tag}");
    settings.stream = format!("E2E_{tag}");
    settings.task_queue = format!("e2e-{tag}");
    settings.api_addr = "127.0.0.1:0".parse().unwrap();
    // Each test signs its own tokens and encrypts with its own payload key,
    // whatever the environment holds.
    settings.jwt.jwt_hs256_secret = Some(format!("e2e-secret-{tag}-{}", Uuid::new_v4()));
    settings.jwt.jwt_rs256_public_key = None;
    settings.payload_keys = Some(std::sync::Arc::new(
        homecare_store::codec::PayloadCrypto::parse(&payload_keys_env(tag), None).unwrap(),
    ));
    settings
}

/// The `HOMECARE_PAYLOAD_KEYS` value of the test tagged `tag` (for child processes).
pub fn payload_keys_env(tag: &str) -> String {
    use base64::Engine;
    let key = Uuid::new_v5(&Uuid::NAMESPACE_OID, tag.as_bytes()).into_bytes();
    let key: Vec<u8> = key.iter().chain(key.iter()).copied().collect();
    format!(
        "e2e:{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

pub struct TestApp {
    /// This test's tag: its subject prefix, stream, task queue and keys derive from it.
    pub tag: String,
    pub base: String,
    pub db: PgPool,
    pub settings: Settings,
    pub http: reqwest::Client,
    pub temporal: Client,
    worker: Option<WorkerThread>,
    api: Option<RunningApi>,
    created: std::sync::Mutex<Vec<String>>,
}

impl TestApp {
    pub async fn start(db: PgPool) -> Self {
        Self::start_with(db, |_| {}).await
    }

    pub async fn start_with(db: PgPool, configure: impl FnOnce(&mut Settings)) -> Self {
        let tag = Uuid::new_v4().simple().to_string();
        let mut settings = isolated_settings(&tag);
        settings.update_timeout_secs = 10;
        configure(&mut settings);
        let admin = settings.jwt.auth().unwrap().mint(
            "e2e-admin",
            homecare_api::auth::Role::Admin,
            None,
            chrono::Duration::hours(2),
        );
        let mut app = Self {
            tag: tag.clone(),
            base: String::new(),
            db: db.clone(),
            temporal: homecare_store::temporal::connect(&settings.temporal(), "e2e")
                .await
                .expect("Temporal must be running on TEMPORAL_ADDRESS (./dev test starts it)"),
            settings,
            http: authenticated_client(&admin.unwrap()),
            worker: None,
            api: None,
            created: Default::default(),
        };
        // The lifecycle tests check in and out at whatever times their story
        // needs; EVV tolerances would hold those visits before billing. The
        // billing tests restore the agency's real policy (`strict_evv_policy`).
        sqlx::query(
            "update agency_settings set late_check_in_minutes = 1440, early_check_out_minutes = 1440,
                                        over_scheduled_minutes = 1440",
        )
        .execute(&db)
        .await
        .unwrap();
        app.start_worker().await;
        let api = platform::start_api(&app.settings, db, app.settings.api_addr)
            .await
            .unwrap();
        app.base = format!("http://{}", api.addr);
        app.api = Some(api);
        app
    }

    pub async fn start_worker(&mut self) {
        let settings = WorkerSettings {
            temporal: self.settings.temporal(),
            database: (*self.db.connect_options()).clone(),
            max_db_connections: 5,
            bus: self.settings.bus(),
            policy: self.settings.policy(),
            unfilled_retry_minutes: self.settings.unfilled_retry_minutes,
            extra: self.settings.worker_extra(),
        };
        self.worker = Some(WorkerThread::spawn(settings).await.expect("worker starts"));
    }

    /// The name of this test's database (for child processes).
    pub async fn database(&self) -> String {
        sqlx::query_scalar("select current_database()")
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// Records the history of workflow `workflow_id` (a `W`) now and replays
    /// it against the current code.
    pub async fn replay_now<W>(&self, workflow_id: &str)
    where
        W: temporalio_sdk::workflows::WorkflowImplementation
            + temporalio_common::HasWorkflowDefinition,
        <<W as temporalio_sdk::workflows::WorkflowImplementation>::Run as temporalio_common::WorkflowDefinition>::Input: Send,
    {
        let recorded = homecare::history::record::<W>(&self.settings, workflow_id)
            .await
            .unwrap();
        let history = temporalio_client::WorkflowHistory::from_json(&recorded).unwrap();
        let replayer = temporalio_sdk::workflow_replayer::WorkflowReplayer::new(
            temporalio_sdk::workflow_replayer::WorkflowReplayerOptions::new()
                .register_workflow::<W>()
                .unwrap()
                .build(),
        )
        .unwrap();
        replayer
            .replay_workflow(history)
            .await
            .expect("the recorded history replays");
    }

    pub async fn stop_worker(&mut self) {
        if let Some(worker) = self.worker.take() {
            worker.stop().await.expect("worker stops cleanly");
        }
    }

    pub async fn shutdown(mut self) {
        self.stop_worker().await;
        if let Some(api) = self.api.take() {
            api.stop().await.unwrap();
        }
        self.terminate_running_workflows().await;
        let bus = homecare_store::EventBus::connect(self.settings.bus())
            .await
            .unwrap();
        let _ = bus.jetstream().delete_stream(&self.settings.stream).await;
    }

    /// Remembers a visit created outside `create_visit`, for `shutdown`.
    pub fn track(&self, visit: &str) {
        self.created.lock().unwrap().push(visit.to_owned());
    }

    /// Visits a test leaves open (never checked in, unfilled) would otherwise
    /// stay running on the shared dev server with no worker. Terminated by id:
    /// a visibility query could miss a visit created a moment ago.
    async fn terminate_running_workflows(&self) {
        let mut created = std::mem::take(&mut *self.created.lock().unwrap());
        // Care plans run a workflow per client and generate visits of their own.
        let clients: Vec<Uuid> = sqlx::query_scalar("select distinct client_id from care_plans")
            .fetch_all(&self.db)
            .await
            .unwrap_or_default();
        for client in clients {
            let handle = self.temporal.get_workflow_handle::<CarePlanWorkflow>(
                homecare_domain::contracts::care_plan_workflow_id(client),
            );
            let reason = WorkflowTerminateOptions::builder()
                .reason("test finished".to_owned())
                .build();
            let _ = handle.terminate(reason).await;
        }
        let generated: Vec<Uuid> =
            sqlx::query_scalar("select id from visits where care_plan_id is not null")
                .fetch_all(&self.db)
                .await
                .unwrap_or_default();
        created.extend(generated.iter().map(Uuid::to_string));
        for visit in created {
            let handle = self
                .temporal
                .get_workflow_handle::<VisitWorkflow>(format!("visit-{visit}"));
            let reason = WorkflowTerminateOptions::builder()
                .reason("test finished".to_owned())
                .build();
            // Finished visits answer "not found"; that is fine.
            let _ = handle.terminate(reason).await;
        }
    }

    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(reqwest::Method::POST, path, Some(body), None)
            .await
    }

    pub async fn put(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(reqwest::Method::PUT, path, Some(body), None)
            .await
    }

    /// Creates a caregiver from a full request body; returns the id.
    pub async fn create_caregiver_from(&self, body: Value) -> String {
        let (status, caregiver) = self.post("/v1/caregivers", body).await;
        assert_eq!(status, StatusCode::CREATED, "{caregiver}");
        caregiver["id"].as_str().unwrap().to_owned()
    }

    /// The visit's workflow snapshot once `done` holds for it (polls the API's
    /// view, which queries the workflow; fails after `EVENT_WAIT`).
    pub async fn snapshot_when(&self, visit: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + EVENT_WAIT;
        loop {
            let (status, body) = self.get(&format!("/v1/visits/{visit}")).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let snapshot = body["workflow"]["snapshot"].clone();
            if done(&snapshot) {
                return snapshot;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the workflow never reached the expected state: {snapshot}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The agency's default EVV tolerances (15 minutes each), as shipped.
    pub async fn strict_evv_policy(&self) {
        sqlx::query(
            "update agency_settings set late_check_in_minutes = 15, early_check_out_minutes = 15,
                                        over_scheduled_minutes = 15",
        )
        .execute(&self.db)
        .await
        .unwrap();
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.request(reqwest::Method::GET, path, None, None).await
    }

    pub async fn create_client(&self) -> String {
        let (status, client) = self
            .post("/v1/clients", json!({"name": "Eleanor Park", "address": "1452 W Belmont Ave, Chicago", "latitude": 41.94, "longitude": -87.67, "timezone": "America/Chicago"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{client}");
        client["id"].as_str().unwrap().to_owned()
    }

    pub async fn create_caregiver(&self, skills: &[&str]) -> String {
        let (status, caregiver) = self
            .post(
                "/v1/caregivers",
                json!({"name": "Maria Lopez", "skills": skills}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{caregiver}");
        caregiver["id"].as_str().unwrap().to_owned()
    }

    pub async fn create_visit(
        &self,
        client: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        skills: &[&str],
    ) -> String {
        let (status, visit) = self
            .post("/v1/visits", json!({"client_id": client, "scheduled_start": start, "scheduled_end": end, "required_skills": skills}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{visit}");
        let id = visit["id"].as_str().unwrap().to_owned();
        self.track(&id);
        id
    }

    /// A client, one caregiver and a visit from `start` to `end`, once the
    /// workflow has assigned it; `events` was connected before anything happened.
    pub async fn assigned_visit(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> AssignedVisit {
        let mut events = self.events("").await;
        let client = self.create_client().await;
        let caregiver = self.create_caregiver(&[]).await;
        let visit = self.create_visit(&client, start, end, &[]).await;
        let frames = events.frames_until(&visit, "homecare.visit.assigned").await;
        AssignedVisit {
            events,
            frames,
            client,
            caregiver,
            visit,
            start,
        }
    }

    /// Checks the caregiver in and out at the given device times; both must be accepted.
    pub async fn work(
        &self,
        visit: &str,
        caregiver: &str,
        check_in: DateTime<Utc>,
        check_out: DateTime<Utc>,
    ) {
        for (command, at) in [("check-in", check_in), ("check-out", check_out)] {
            let (status, body) = self
                .post(
                    &format!("/v1/visits/{visit}/{command}"),
                    Self::evv(caregiver, at),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{command}: {body}");
        }
    }

    pub fn evv(caregiver: &str, at: DateTime<Utc>) -> Value {
        json!({"caregiver_id": caregiver, "at": at, "latitude": 41.94, "longitude": -87.67})
    }

    pub async fn events(&self, query: &str) -> EventSocket {
        self.events_as(query, &self.token(homecare_api::auth::Role::Admin, None))
            .await
    }

    /// A WebSocket opened with `token`.
    pub async fn events_as(&self, query: &str, token: &str) -> EventSocket {
        let (socket, _) = tokio_tungstenite::connect_async(self.websocket_request(query, token))
            .await
            .expect("websocket connects");
        EventSocket { socket }
    }

    /// The handshake request for `/v1/events{query}` carrying `token`.
    pub fn websocket_request(
        &self,
        query: &str,
        token: &str,
    ) -> tokio_tungstenite::tungstenite::handshake::client::Request {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("{}/v1/events{query}", self.base.replacen("http", "ws", 1));
        let mut request = url.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        request
    }

    /// A token signed with this test's secret.
    pub fn token(&self, role: homecare_api::auth::Role, caregiver_id: Option<&str>) -> String {
        self.settings
            .jwt
            .auth()
            .unwrap()
            .mint(
                "e2e",
                role,
                caregiver_id.map(|id| Uuid::parse_str(id).unwrap()),
                chrono::Duration::hours(1),
            )
            .unwrap()
    }

    pub async fn count(&self, sql: &str, visit: &str) -> i64 {
        sqlx::query_scalar(sql)
            .bind(Uuid::parse_str(visit).unwrap())
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// Waits for the visit's workflow to finish and returns its final snapshot.
    pub async fn workflow_result(&self, visit: &str) -> VisitSnapshot {
        let id = visit_workflow_id(Uuid::parse_str(visit).unwrap());
        let handle = self.temporal.get_workflow_handle::<VisitWorkflow>(id);
        tokio::time::timeout(
            EVENT_WAIT,
            handle.get_result(WorkflowGetResultOptions::default()),
        )
        .await
        .expect("workflow finishes in time")
        .expect("workflow completed successfully")
    }

    pub async fn workflow_status(&self, visit: &str) -> WorkflowExecutionStatus {
        let id = visit_workflow_id(Uuid::parse_str(visit).unwrap());
        let handle = self.temporal.get_workflow_handle::<VisitWorkflow>(id);
        handle
            .describe(WorkflowDescribeOptions::default())
            .await
            .unwrap()
            .status()
    }
}

pub struct AssignedVisit {
    pub events: EventSocket,
    /// What the socket saw up to and including the assignment.
    pub frames: Vec<Value>,
    pub client: String,
    pub caregiver: String,
    pub visit: String,
    pub start: DateTime<Utc>,
}

pub struct EventSocket {
    socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl EventSocket {
    /// Closes cleanly (normal closure, 1000): sends a Close frame and returns
    /// the server's answer, `Some(its close frame)`; None when the connection
    /// ended without one.
    pub async fn close(
        mut self,
    ) -> Option<Option<tokio_tungstenite::tungstenite::protocol::CloseFrame>> {
        use futures::SinkExt;
        use tokio_tungstenite::tungstenite::protocol::CloseFrame;
        use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
        let goodbye = CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        };
        self.socket
            .send(Message::Close(Some(goodbye)))
            .await
            .expect("the Close frame is sent");
        loop {
            match self.socket.next().await {
                Some(Ok(Message::Close(frame))) => return Some(frame),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The next frame, `{"sequence": N, "event": {...}}`.
    pub async fn next_frame(&mut self) -> Value {
        self.next_frame_within(EVENT_WAIT).await
    }

    /// The next frame, waiting at most `wait` (for events behind a durable timer).
    pub async fn next_frame_within(&mut self, wait: Duration) -> Value {
        loop {
            let message = tokio::time::timeout(wait, self.socket.next())
                .await
                .expect("an event arrives in time")
                .expect("the socket stays open")
                .expect("a readable frame");
            if let Message::Text(text) = message {
                let frame: Value = serde_json::from_str(&text).unwrap();
                crate::events_schema::check_frame(&frame);
                return frame;
            }
        }
    }

    /// Every frame up to and including `event_type` for `visit`.
    pub async fn frames_until(&mut self, visit: &str, event_type: &str) -> Vec<Value> {
        self.frames_until_within(visit, event_type, EVENT_WAIT)
            .await
    }

    /// As `frames_until`, each frame waited for at most `wait`.
    pub async fn frames_until_within(
        &mut self,
        visit: &str,
        event_type: &str,
        wait: Duration,
    ) -> Vec<Value> {
        let mut frames = Vec::new();
        loop {
            let frame = self.next_frame_within(wait).await;
            let done = frame["event"]["subject"] == visit && frame["event"]["type"] == event_type;
            frames.push(frame);
            if done {
                return frames;
            }
        }
    }
}

pub fn types(frames: &[Value], visit: &str) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["event"]["subject"] == visit)
        .map(|f| f["event"]["type"].as_str().unwrap().to_owned())
        .collect()
}

/// An HTTP client that sends `token` with every request.
pub fn authenticated_client(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

pub fn minutes_ago(minutes: i64) -> DateTime<Utc> {
    Utc::now() - chrono::Duration::minutes(minutes)
}
