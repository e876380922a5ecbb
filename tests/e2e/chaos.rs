//! Faults: a worker process killed with SIGKILL while lifecycles are in flight,
//! then restarted; the API killed and restarted; PostgreSQL and NATS restarted
//! mid-run. Every visit is invoiced exactly
//! once and no event reaches the stream twice.
//!
//! The PostgreSQL restart would break every other test running at the same
//! time, so it is `#[ignore]`d here and `./dev test` runs it on its own after
//! the rest (`--run-ignored only`).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

use crate::helpers::TestApp;

const LIFECYCLES: usize = 200;

/// A child process that is killed when dropped, so a failing test never leaves
/// a worker or an API running (holding its database open).
pub(crate) struct Killed(Child);

impl Killed {
    pub(crate) fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        self.kill();
    }
}
const CAREGIVERS: usize = 20;

/// `homecare <command>` as a separate process on the test's database, stream
/// and task queue, with `extra` environment on top.
pub(crate) fn spawn_homecare(
    app: &TestApp,
    database: &str,
    command: &str,
    extra: &[(&str, &str)],
) -> Killed {
    let s = &app.settings;
    Killed(
        Command::new(env!("CARGO_BIN_EXE_homecare"))
            .arg(command)
            .env(
                "DATABASE_URL",
                format!("postgres://postgres@127.0.0.1:5432/{database}"),
            )
            .env("NATS_URL", &s.nats_url)
            .env("HOMECARE_SUBJECT_PREFIX", &s.subject_prefix)
            .env("HOMECARE_STREAM", &s.stream)
            .env("HOMECARE_TASK_QUEUE", &s.task_queue)
            .env("TEMPORAL_ADDRESS", &s.temporal_address)
            .env(
                "HOMECARE_JWT_HS256_SECRET",
                s.jwt.jwt_hs256_secret.as_deref().unwrap_or_default(),
            )
            .env(
                "HOMECARE_PAYLOAD_KEYS",
                crate::helpers::payload_keys_env(&app.tag),
            )
            .env("RUST_LOG", "warn")
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the homecare binary starts"),
    )
}

/// The test's stream holds each of the `recorded` events once: every one
/// published (the sweeper covers publishes lost with a worker), none twice.
pub(crate) async fn stream_holds_each_once(app: &TestApp, recorded: i64) {
    let bus = homecare_store::EventBus::connect(app.settings.bus())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let messages = loop {
        let messages = bus
            .stream()
            .await
            .unwrap()
            .info()
            .await
            .unwrap()
            .state
            .messages;
        if messages as i64 >= recorded || Instant::now() > deadline {
            break messages;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(messages as i64, recorded, "no event lost, none duplicated");
    let mut ids = std::collections::HashSet::new();
    let consumer = bus
        .stream()
        .await
        .unwrap()
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            deliver_policy: async_nats::jetstream::consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = consumer
        .fetch()
        .max_messages(messages as usize)
        .expires(Duration::from_secs(5))
        .messages()
        .await
        .unwrap();
    while let Some(Ok(message)) = batch.next().await {
        let envelope: Value = serde_json::from_slice(&message.payload).unwrap();
        assert!(
            ids.insert(envelope["id"].as_str().unwrap().to_owned()),
            "event {} twice on the stream",
            envelope["id"]
        );
    }
    assert_eq!(ids.len() as u64, messages);
}

/// Stops the test's in-process worker and runs `homecare worker` as a
/// process instead (to be killed); the test's database name with it.
pub(crate) async fn worker_process(app: &mut TestApp) -> (String, Killed) {
    app.stop_worker().await;
    let database = app.database().await;
    let worker = spawn_worker(app, &database);
    (database, worker)
}

/// `homecare worker` as a separate process.
pub(crate) fn spawn_worker(app: &TestApp, database: &str) -> Killed {
    spawn_homecare(app, database, "worker", &[])
}

/// Sends until the API gives a definite answer: a 5xx (no worker answered in
/// time, the database restarting) or a dropped connection is retried with the
/// same `Idempotency-Key`, as a phone would.
async fn until_answered(app: &TestApp, path: &str, body: Value, key: &str) -> (StatusCode, Value) {
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let sent = app
            .http
            .post(format!("{}{path}", app.base))
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await;
        if let Ok(response) = sent {
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            if !status.is_server_error() {
                return (status, body);
            }
        }
        assert!(Instant::now() < deadline, "{path} never answered");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A client and `CAREGIVERS` caregivers who may work any hours; the client's id.
async fn agency(app: &TestApp) -> String {
    let client = app.create_client().await;
    for i in 0..CAREGIVERS {
        app.create_caregiver_from(json!({"name": format!("Caregiver {i}"),
            "max_minutes_per_day": 1440, "max_minutes_per_week": 10080}))
            .await;
    }
    client
}

/// `lifecycles` lifecycles, `parallel` at a time.
async fn drive(app: &TestApp, client: &str, lifecycles: usize, parallel: usize) {
    futures::stream::iter(0..lifecycles)
        .map(|i| lifecycle(app, client, i))
        .buffer_unordered(parallel)
        .collect::<Vec<()>>()
        .await;
}

/// One visit from creation to invoice; the keys carry the test's own task queue
/// name, so visits (and their workflow ids) never meet another test's.
async fn lifecycle(app: &TestApp, client: &str, i: usize) {
    let start = Utc::now() - chrono::Duration::hours(2 * (LIFECYCLES - i) as i64 + 2);
    let end = start + chrono::Duration::minutes(60);
    let (status, visit) = until_answered(
        app,
        "/v1/visits",
        json!({"client_id": client, "scheduled_start": start, "scheduled_end": end}),
        &format!("{}-create-{i}", app.settings.task_queue),
    )
    .await;
    assert!(status.is_success(), "create: {status} {visit}");
    let visit = visit["id"].as_str().unwrap().to_owned();
    app.track(&visit);
    let deadline = Instant::now() + Duration::from_secs(240);
    let caregiver = loop {
        // The database may be restarting: an error is another poll.
        let assigned: Option<Option<Uuid>> = sqlx::query_scalar(
            "select caregiver_id from visits where id = $1::uuid and status = 'assigned'",
        )
        .bind(&visit)
        .fetch_optional(&app.db)
        .await
        .unwrap_or(None);
        if let Some(Some(caregiver)) = assigned {
            break caregiver;
        }
        assert!(Instant::now() < deadline, "visit {visit} never assigned");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    for (command, at, key) in [
        (
            "check-in",
            start,
            format!("{}-in-{i}", app.settings.task_queue),
        ),
        (
            "check-out",
            end - chrono::Duration::minutes(2),
            format!("{}-out-{i}", app.settings.task_queue),
        ),
    ] {
        let body =
            json!({"caregiver_id": caregiver, "at": at, "latitude": 41.94, "longitude": -87.67});
        let (status, answer) =
            until_answered(app, &format!("/v1/visits/{visit}/{command}"), body, &key).await;
        assert_eq!(status, StatusCode::OK, "{command} of {visit}: {answer}");
    }
}

#[sqlx::test]
async fn a_worker_killed_with_lifecycles_in_flight_invoices_each_exactly_once(db: PgPool) {
    let mut app = TestApp::start_with(db, |s| s.update_timeout_secs = 5).await;
    let (database, mut worker) = worker_process(&mut app).await;
    let client = agency(&app).await;

    let drive = drive(&app, &client, LIFECYCLES, 50);
    let chaos = async {
        // Kill once a third of the visits are invoiced, mid-flight for the rest.
        until_a_third_invoiced(&app, LIFECYCLES).await;
        worker.kill();
        let in_flight: i64 = sqlx::query_scalar(
            "select count(*) from visits where status in ('scheduled', 'assigned', 'checked_in', 'completed')",
        )
        .fetch_one(&app.db)
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_secs(2)).await;
        (in_flight, spawn_worker(&app, &database))
    };
    let (_, (in_flight, mut restarted)) = tokio::join!(drive, chaos);
    assert!(in_flight > 0, "the kill must hit visits in flight");

    assert_each_invoiced_once(&app, LIFECYCLES).await;
    restarted.kill();
    app.shutdown().await;
}

/// Waits until `a third` of the visits are invoiced (the moment to strike).
async fn until_a_third_invoiced(app: &TestApp, lifecycles: usize) {
    loop {
        let invoiced: i64 = sqlx::query_scalar("select count(*) from invoice_lines")
            .fetch_one(&app.db)
            .await
            .unwrap_or(0);
        if invoiced as usize >= lifecycles / 3 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every visit invoiced exactly once, two EVV records each, four events each,
/// and the stream holding each event exactly once.
async fn assert_each_invoiced_once(app: &TestApp, lifecycles: usize) {
    // Every visit ends invoiced (the workflow's last step), exactly once.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let invoiced: i64 =
            sqlx::query_scalar("select count(*) from visits where status = 'invoiced'")
                .fetch_one(&app.db)
                .await
                .unwrap();
        if invoiced as usize == lifecycles {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{invoiced} of {lifecycles} invoiced"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (lines, distinct, evv): (i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from invoice_lines), (select count(distinct visit_id) from invoice_lines),
                (select count(*) from evv_records)",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        (lines, distinct, evv),
        (lifecycles as i64, lifecycles as i64, 2 * lifecycles as i64)
    );

    // The stream holds each recorded event once: every one published (the
    // sweeper covers publishes lost with the worker), none twice.
    let recorded: i64 = sqlx::query_scalar("select count(*) from visit_events")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        recorded as usize,
        4 * lifecycles,
        "assigned, checked_in, completed, invoice"
    );
    stream_holds_each_once(app, recorded).await;
}

#[sqlx::test]
#[ignore = "restarts the shared PostgreSQL; ./dev test runs it alone after the rest"]
async fn postgres_restarted_mid_run_loses_and_doubles_nothing(db: PgPool) {
    const RUN: usize = 60;
    let app = TestApp::start(db).await;
    let client = agency(&app).await;
    let drive = drive(&app, &client, RUN, 20);
    let chaos = async {
        until_a_third_invoiced(&app, RUN).await;
        let version = std::fs::read_dir("/etc/postgresql")
            .expect("a Debian PostgreSQL cluster")
            .next()
            .unwrap()
            .unwrap()
            .file_name();
        let restarted = Command::new("pg_ctlcluster")
            .arg("--skip-systemctl-redirect")
            .arg(&version)
            .args(["main", "restart"])
            .status()
            .expect("pg_ctlcluster runs");
        assert!(restarted.success(), "PostgreSQL restarted");
    };
    tokio::join!(drive, chaos);
    assert_each_invoiced_once(&app, RUN).await;
    app.shutdown().await;
}

/// Restarts the machine's NATS server with the arguments it runs with; its
/// JetStream store is on disk, so the stream survives.
fn restart_nats() {
    let pid = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                c.starts_with("/usr/sbin/nats-server\0") || c.starts_with("nats-server\0")
            })
        })
        .expect("a running nats-server");
    let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap();
    let mut args: Vec<String> = cmdline
        .split('\0')
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    let program = args.remove(0);
    assert!(
        Command::new("kill")
            .arg(pid.to_string())
            .status()
            .unwrap()
            .success()
    );
    let gone = Instant::now() + Duration::from_secs(20);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < gone, "nats-server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Down for a moment while lifecycles keep going.
    std::thread::sleep(Duration::from_secs(2));
    // Daemonised the way `./dev` starts it, so the server outlives the test
    // rather than being its child.
    let started = Command::new("start-stop-daemon")
        .args([
            "--start",
            "--oknodo",
            "--background",
            "--exec",
            &program,
            "--",
        ])
        .args(&args)
        .status()
        .expect("start-stop-daemon runs");
    assert!(started.success(), "nats-server restarts");
    let up = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect("127.0.0.1:4222").is_err() {
        assert!(Instant::now() < up, "nats-server did not come back");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[sqlx::test]
#[ignore = "restarts the shared NATS server; ./dev test runs it alone after the rest"]
async fn nats_restarted_mid_run_loses_no_event_and_a_resuming_client_gets_each_once(db: PgPool) {
    const RUN: usize = 40;
    let app = TestApp::start(db).await;
    let client = agency(&app).await;
    let listener = resuming_listener(
        app.base.replacen("http", "ws", 1),
        app.token(homecare_api::auth::Role::Admin, None),
        4 * RUN,
    );
    let drive = drive(&app, &client, RUN, 10);
    let chaos = async {
        until_a_third_invoiced(&app, RUN).await;
        tokio::task::spawn_blocking(restart_nats).await.unwrap();
    };
    tokio::join!(drive, chaos);
    assert_each_invoiced_once(&app, RUN).await;

    assert_each_once_in_order(listener.await.unwrap(), 4 * RUN);
    app.shutdown().await;
}

/// A dashboard: follows the feed and, on any break (closed, failed, or quiet for
/// 15 s), reconnects with `?since=<last sequence it saw>`, until `expected`
/// frames. Returns (sequence, event id) of every frame received.
fn resuming_listener(
    ws: String,
    token: String,
    expected: usize,
) -> tokio::task::JoinHandle<Vec<(u64, String)>> {
    tokio::spawn(async move {
        let mut last = 0u64;
        let mut seen: Vec<(u64, String)> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(240);
        while seen.len() < expected && Instant::now() < deadline {
            let url = if last == 0 {
                format!("{ws}/v1/events")
            } else {
                format!("{ws}/v1/events?since={last}")
            };
            let mut request = url.into_client_request().unwrap();
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            let Ok((mut socket, _)) = tokio_tungstenite::connect_async(request).await else {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            };
            loop {
                match tokio::time::timeout(Duration::from_secs(15), socket.next()).await {
                    Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(text)))) => {
                        let frame: Value = serde_json::from_str(&text).unwrap();
                        crate::events_schema::check_frame(&frame);
                        last = frame["sequence"].as_u64().unwrap();
                        seen.push((last, frame["event"]["id"].as_str().unwrap().to_owned()));
                        if seen.len() >= expected {
                            break;
                        }
                    }
                    Ok(Some(Ok(_))) => {}
                    _ => break,
                }
            }
        }
        seen
    })
}

fn assert_each_once_in_order(seen: Vec<(u64, String)>, expected: usize) {
    assert_eq!(
        seen.len(),
        expected,
        "every event reached the resuming client"
    );
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "in stream order, none twice"
    );
    let ids: std::collections::HashSet<&String> = seen.iter().map(|(_, id)| id).collect();
    assert_eq!(ids.len(), expected);
}

/// `homecare api` as a process of its own on `addr`.
fn spawn_api(app: &TestApp, database: &str, addr: &str) -> Killed {
    spawn_homecare(app, database, "api", &[("HOMECARE_API_ADDR", addr)])
}

async fn until_healthy(base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(Instant::now() < deadline, "the API did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test]
async fn an_api_killed_mid_run_is_restarted_and_clients_resume_without_gaps(db: PgPool) {
    const RUN: usize = 40;
    let mut app = TestApp::start(db).await;
    let database = app.database().await;
    let addr = {
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        free.local_addr().unwrap().to_string()
    };
    let mut api = spawn_api(&app, &database, &addr);
    app.base = format!("http://{addr}");
    until_healthy(&app.base).await;
    let client = agency(&app).await;
    let listener = resuming_listener(
        app.base.replacen("http", "ws", 1),
        app.token(homecare_api::auth::Role::Admin, None),
        4 * RUN,
    );
    let drive = drive(&app, &client, RUN, 10);
    let chaos = async {
        until_a_third_invoiced(&app, RUN).await;
        api.kill();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let restarted = spawn_api(&app, &database, &addr);
        until_healthy(&app.base).await;
        restarted
    };
    let (_, mut restarted) = tokio::join!(drive, chaos);
    assert_each_invoiced_once(&app, RUN).await;
    assert_each_once_in_order(listener.await.unwrap(), 4 * RUN);
    restarted.kill();
    app.shutdown().await;
}
