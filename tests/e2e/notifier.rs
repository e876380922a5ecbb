//! The notifier against real servers: a real SMTP server (aiosmtpd, from
//! PyPI) that receives and is read back, and a Twilio-style SMS provider
//! stand-in that records every request. Two notifiers run side by side on the
//! same durable consumer and table; every rule produces exactly the expected
//! messages, once; quiet hours hold a message and release it; a message the
//! provider keeps refusing goes dead, shows in `GET /v1/notifications`, and
//! is sent when resent; every sent message is on the audit trail.

use std::collections::{BTreeMap, HashSet};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::routing::post;
use chrono::{Timelike, Utc};
use homecare_notifier::{EmailConfig, Notifier, NotifierConfig, SmsConfig};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::{EVENT_WAIT, TestApp, authenticated_client, minutes_ago};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A test server in Python (tests/support/), killed when dropped: it listens
/// on `port`, appends what it receives to `file` as JSON lines and prints one
/// line when it is ready.
struct SupportServer {
    port: u16,
    file: PathBuf,
    ready: String,
    _process: tokio::process::Child,
}

impl SupportServer {
    async fn start(script: &str, extra: &[&str], missing: &str) -> Self {
        let port = free_port();
        let file =
            std::env::temp_dir().join(format!("homecare-{script}-{}.jsonl", uuid::Uuid::new_v4()));
        let path = format!("{}/tests/support/{script}", env!("CARGO_MANIFEST_DIR"));
        let port_arg = port.to_string();
        let mut process = tokio::process::Command::new("python3")
            .args([path.as_str(), &port_arg, file.to_str().unwrap()])
            .args(extra)
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("python3 runs {script}: {e}"));
        let mut ready = String::new();
        BufReader::new(process.stdout.take().unwrap())
            .read_line(&mut ready)
            .await
            .unwrap();
        assert!(
            !ready.trim().is_empty(),
            "{script} did not start: {missing}"
        );
        Self {
            port,
            file,
            ready,
            _process: process,
        }
    }

    /// Everything received so far.
    fn records(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }
}

/// A real SMTP server (tests/support/smtp_sink.py, aiosmtpd).
pub struct SmtpSink(SupportServer);

impl SmtpSink {
    pub async fn start() -> Self {
        let server = SupportServer::start(
            "smtp_sink.py",
            &[],
            "is aiosmtpd installed (./dev test installs it)?",
        )
        .await;
        assert_eq!(server.ready.trim(), "ready");
        Self(server)
    }

    pub fn port(&self) -> u16 {
        self.0.port
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Value> {
        self.0.records()
    }
}

/// What the SMS stand-in saw: each request's form, its Idempotency-Key and
/// its Basic credentials; numbers in `failing` are answered 503.
/// One request: its Idempotency-Key, its form and the status answered.
pub type SmsRequest = (String, BTreeMap<String, String>, u16);

#[derive(Default)]
pub struct SmsLog {
    pub requests: Mutex<Vec<SmsRequest>>,
    pub failing: Mutex<HashSet<String>>,
}

async fn sms_endpoint(
    State(log): State<Arc<SmsLog>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<BTreeMap<String, String>>,
) -> (AxumStatus, String) {
    use base64::Engine;
    let key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let credentials = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok()?.strip_prefix("Basic ").map(str::to_owned))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .map(|b| String::from_utf8(b).unwrap());
    if credentials.as_deref() != Some("AC_test:sms-secret") {
        return (
            AxumStatus::UNAUTHORIZED,
            "{\"message\": \"Authenticate\"}".into(),
        );
    }
    let failing = log
        .failing
        .lock()
        .unwrap()
        .contains(form.get("To").map_or("", String::as_str));
    let status = if failing { 503 } else { 201 };
    log.requests.lock().unwrap().push((key, form, status));
    if failing {
        (
            AxumStatus::SERVICE_UNAVAILABLE,
            "{\"message\": \"try later\"}".into(),
        )
    } else {
        (
            AxumStatus::CREATED,
            format!("{{\"sid\": \"SM{}\"}}", uuid::Uuid::new_v4().simple()),
        )
    }
}

/// The SMS provider stand-in, serving until the test ends.
pub async fn sms_stand_in() -> (String, Arc<SmsLog>) {
    let log = Arc::new(SmsLog::default());
    let router = axum::Router::new()
        .route(
            "/2010-04-01/Accounts/AC_test/Messages.json",
            post(sms_endpoint),
        )
        .with_state(Arc::clone(&log));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/2010-04-01", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, log)
}

pub fn notifier_config(smtp: &SmtpSink, sms_url: &str) -> NotifierConfig {
    NotifierConfig {
        public_url: "https://care.agency.example".to_owned(),
        email: Some(EmailConfig {
            smtp_url: format!("smtp://127.0.0.1:{}", smtp.port()),
            from: "Agency <notifications@agency.example>".to_owned(),
        }),
        sms: Some(SmsConfig {
            api_url: sms_url.to_owned(),
            account_sid: "AC_test".to_owned(),
            auth_token: "sms-secret".to_owned(),
            from: "+13125550000".to_owned(),
        }),
        push: None,
        max_attempts: 2,
        retry_base: Duration::from_millis(300),
        poll: Duration::from_millis(100),
        ..NotifierConfig::default()
    }
}

/// A person who signs in: returns (user id, access token).
async fn person(
    app: &TestApp,
    email: &str,
    role: &str,
    caregiver: Option<&str>,
) -> (String, String) {
    let (status, user) = app
        .post(
            "/v1/users",
            json!({"email": email, "display_name": email, "role": role, "caregiver_id": caregiver,
                   "password": "correct horse battery"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    let session: Value = reqwest::Client::new()
        .post(format!("{}/v1/auth/login", app.base))
        .json(&json!({"email": email, "password": "correct horse battery"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (
        user["id"].as_str().unwrap().to_owned(),
        session["access_token"]
            .as_str()
            .expect("signed in")
            .to_owned(),
    )
}

/// The same person on call round the clock, all week, escalating to `escalate_to`.
async fn on_call_all_week(app: &TestApp, user: &str, escalate_to: Option<&str>) {
    let shifts: Vec<Value> = (1..=7)
        .map(|day| json!({"weekday": day, "start_hour": 0, "end_hour": 24, "user_id": user, "escalate_to": escalate_to}))
        .collect();
    let (status, rota) = app
        .put(
            "/v1/on-call",
            json!({"timezone": "America/Chicago", "shifts": shifts}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rota}");
}

async fn set_preferences(app: &TestApp, token: &str, body: Value) {
    let response = authenticated_client(token)
        .put(format!("{}/v1/me/notification-preferences", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Waits until `done` holds for the notifications table (polling, bounded).
async fn until(app: &TestApp, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + EVENT_WAIT * 6;
    loop {
        let (status, rows) = app.get("/v1/notifications?limit=1000").await;
        assert_eq!(status, StatusCode::OK, "{rows}");
        let rows = rows.as_array().unwrap().clone();
        if done(&rows) {
            return rows;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}: {rows:#?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn of<'a>(rows: &'a [Value], recipient: &str, template: &str) -> Vec<&'a Value> {
    rows.iter()
        .filter(|r| r["recipient"] == format!("user:{recipient}") || r["recipient"] == recipient)
        .filter(|r| r["template"] == template)
        .collect()
}

fn sent(rows: &[Value], recipient: &str, template: &str, channels: &[&str]) -> bool {
    let found = of(rows, recipient, template);
    channels.iter().all(|c| {
        found
            .iter()
            .any(|r| r["channel"] == *c && r["state"] == "sent")
    })
}

#[sqlx::test]
async fn each_rule_sends_its_messages_once_through_real_servers(db: PgPool) {
    let smtp = SmtpSink::start().await;
    let (sms_url, sms) = sms_stand_in().await;
    let app = TestApp::start(db.clone()).await;
    let bus = homecare_store::EventBus::connect(app.settings.bus())
        .await
        .unwrap();
    // Two notifiers on one durable consumer and one table.
    let first = Notifier::start(db.clone(), bus.clone(), notifier_config(&smtp, &sms_url))
        .await
        .unwrap();
    let second = Notifier::start(db.clone(), bus, notifier_config(&smtp, &sms_url))
        .await
        .unwrap();

    let client = app.create_client().await;
    let maria = app.create_caregiver(&[]).await;
    let (maria_user, maria_token) =
        person(&app, "maria@agency.example", "caregiver", Some(&maria)).await;
    let (dana_user, _) = person(&app, "dana@agency.example", "coordinator", None).await;
    set_preferences(
        &app,
        &maria_token,
        json!({"email": true, "sms": true, "push": false, "phone": "+13125550101", "language": "es",
               "timezone": "America/Chicago", "quiet_hours": null}),
    )
    .await;
    // Maria proves her address: the link arrives by e-mail (in Spanish) and
    // works once. Dana's and James's addresses are marked verified directly
    // (the same column); Ruth's is not, so she gets SMS only.
    let response = authenticated_client(&maria_token)
        .post(format!("{}/v1/me/email-verification", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let deadline = tokio::time::Instant::now() + EVENT_WAIT;
    let mail = loop {
        if let Some(mail) = smtp
            .messages()
            .into_iter()
            .find(|m| m["to"][0] == "maria@agency.example")
        {
            break mail;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no verification e-mail"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(mail["subject"], "Confirme su correo electrónico");
    // The link points at HOMECARE_PUBLIC_URL; the test's API listens elsewhere.
    let link = mail["text"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .find_map(|w| {
            w.split_once("/v1/auth/verify-email?token=")
                .map(|(_, token)| token)
        })
        .map(|token| format!("{}/v1/auth/verify-email?token={token}", app.base))
        .expect("a verification link");
    let opened = reqwest::get(&link).await.unwrap();
    assert_eq!(opened.status(), StatusCode::OK);
    assert!(opened.text().await.unwrap().contains("verified"));
    assert_eq!(
        reqwest::get(&link).await.unwrap().status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "a link works once"
    );
    let preferences: Value = authenticated_client(&maria_token)
        .get(format!("{}/v1/me/notification-preferences", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(preferences["email_verified"], true, "{preferences}");
    sqlx::query("update users set email_verified_at = now() where email = 'dana@agency.example'")
        .execute(&db)
        .await
        .unwrap();
    on_call_all_week(&app, &dana_user, None).await;
    for (name, phone, updates) in [
        ("Ruth Park", "+13125550199", true),
        ("Sam Park", "+13125550198", false),
    ] {
        let (status, contact) = app
            .post(
                &format!("/v1/clients/{client}/contacts"),
                json!({"name": name, "email": "ruth@example.com", "phone": phone, "visit_updates": updates}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{contact}");
    }

    // The engine books Maria on a visit two hours away: she is told, in
    // Spanish, by e-mail and SMS.
    let visit = app
        .create_visit(&client, minutes_ago(-120), minutes_ago(-180), &[])
        .await;
    let rows = until(&app, "maria told of her new visit", |rows| {
        sent(rows, &maria_user, "assigned", &["email", "sms"])
    })
    .await;
    assert!(
        of(&rows, &maria_user, "assigned")
            .iter()
            .all(|r| r["language"] == "es" && r["urgent"] == true)
    );

    // James has quiet hours now; the office moves the visit to him. It starts
    // within the day, so he is told at once, and Maria that it left her.
    let james = app.create_caregiver(&[]).await;
    let (james_user, james_token) =
        person(&app, "james@agency.example", "caregiver", Some(&james)).await;
    sqlx::query("update users set email_verified_at = now() where email = 'james@agency.example'")
        .execute(&db)
        .await
        .unwrap();
    let local = Utc::now().with_timezone(&chrono_tz::America::Chicago);
    // Quiet from an hour ago until the start of the minute after next.
    let quiet_end = (local + chrono::Duration::minutes(2))
        .time()
        .with_second(0)
        .unwrap()
        .with_nanosecond(0)
        .unwrap();
    let quiet_start = (local - chrono::Duration::hours(1))
        .time()
        .with_second(0)
        .unwrap();
    set_preferences(
        &app,
        &james_token,
        json!({"email": true, "sms": false, "push": false, "phone": null, "language": "en",
               "timezone": "America/Chicago",
               "quiet_hours": {"start": quiet_start.format("%H:%M").to_string(), "end": quiet_end.format("%H:%M").to_string()}}),
    )
    .await;
    let (status, body) = app
        .put(
            &format!("/v1/visits/{visit}/assignment"),
            json!({"caregiver_ids": [james]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    until(&app, "the reassignment told to both", |rows| {
        sent(rows, &maria_user, "reassigned_away", &["email", "sms"])
            && sent(rows, &james_user, "assigned", &["email"])
    })
    .await;

    // A visit next week moved to James is not urgent: it waits out his quiet hours.
    let next_week = app
        .create_visit(
            &client,
            minutes_ago(-7 * 24 * 60),
            minutes_ago(-7 * 24 * 60 - 60),
            &[],
        )
        .await;
    app.snapshot_when(&next_week, |s| s["status"] == "assigned")
        .await;
    let (status, body) = app
        .put(
            &format!("/v1/visits/{next_week}/assignment"),
            json!({"caregiver_ids": [james]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = until(
        &app,
        "the next-week assignment held for quiet hours",
        |rows| of(rows, &james_user, "assigned").len() == 2,
    )
    .await;
    let held = of(&rows, &james_user, "assigned")
        .into_iter()
        .find(|r| r["urgent"] == false)
        .expect("the next-week message")
        .clone();
    assert_eq!(held["state"], "pending", "{held}");
    let release =
        chrono::DateTime::parse_from_rfc3339(held["next_attempt_at"].as_str().unwrap()).unwrap();
    assert_eq!(
        release.with_timezone(&chrono_tz::America::Chicago).time(),
        quiet_end,
        "held until the quiet hours end"
    );

    // James checks in and out: Ruth (opted in) hears both by SMS; Sam (not
    // opted in) hears nothing, and nobody's e-mail goes to an unverified address.
    let (status, body) = app
        .post(
            &format!("/v1/visits/{visit}/check-in"),
            TestApp::evv(&james, Utc::now()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &format!("/v1/visits/{visit}/check-out"),
            TestApp::evv(&james, Utc::now()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = until(
        &app,
        "the family told of the check-in and check-out",
        |rows| {
            ["checked_in", "checked_out"].iter().all(|t| {
                rows.iter()
                    .any(|r| r["template"] == *t && r["channel"] == "sms" && r["state"] == "sent")
            })
        },
    )
    .await;
    let family: Vec<&Value> = rows
        .iter()
        .filter(|r| r["recipient"].as_str().unwrap().starts_with("contact:"))
        .collect();
    assert_eq!(
        family.len(),
        2,
        "one SMS each to Ruth, none to Sam, no e-mail: {family:#?}"
    );
    assert!(family.iter().all(|r| r["address"] == "+13125550199"));

    // A visit nobody can take: the on-call coordinator is told at once.
    let unfilled = app
        .create_visit(
            &client,
            minutes_ago(-300),
            minutes_ago(-360),
            &["hoyer-lift"],
        )
        .await;
    until(
        &app,
        "the on-call coordinator told of the unfilled visit",
        |rows| sent(rows, &dana_user, "unfilled", &["email"]),
    )
    .await;
    let _ = unfilled;

    // Maria's phone number stops taking messages; the office cancels her
    // next visit. The SMS fails twice and is dead; the e-mail goes.
    sms.failing
        .lock()
        .unwrap()
        .insert("+13125550101".to_owned());
    let tomorrow = app
        .create_visit(&client, minutes_ago(-20 * 60), minutes_ago(-21 * 60), &[])
        .await;
    app.snapshot_when(&tomorrow, |s| s["status"] == "assigned")
        .await;
    let (status, body) = app
        .put(
            &format!("/v1/visits/{tomorrow}/assignment"),
            json!({"caregiver_ids": [maria]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(
            &format!("/v1/visits/{tomorrow}/cancel"),
            json!({"reason": "The client is in hospital"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    until(
        &app,
        "the cancellation's SMS dead after two attempts",
        |rows| {
            of(rows, &maria_user, "visit_cancelled")
                .iter()
                .any(|r| r["channel"] == "sms" && r["state"] == "dead")
        },
    )
    .await;
    let (status, dead) = app.get("/v1/notifications?state=dead").await;
    assert_eq!(status, StatusCode::OK);
    // The cancellation's SMS, and the booking's before it if the engine gave
    // Maria the visit: each tried twice, with the provider's answer.
    let dead = dead.as_array().unwrap().clone();
    assert!(!dead.is_empty() && dead.len() <= 2, "{dead:#?}");
    for row in &dead {
        assert_eq!(
            (row["address"].as_str(), row["attempts"].as_i64()),
            (Some("+13125550101"), Some(2)),
            "{row}"
        );
        assert!(row["last_error"].as_str().unwrap().contains("503"), "{row}");
    }
    // The number works again; the office sends them again.
    sms.failing.lock().unwrap().clear();
    for row in &dead {
        let (status, body) = app
            .post(
                &format!("/v1/notifications/{}/resend", row["id"].as_str().unwrap()),
                json!({}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    until(&app, "the resent SMS sent", |rows| {
        sent(rows, &maria_user, "visit_cancelled", &["sms", "email"])
    })
    .await;
    let (status, body) = app
        .post(
            &format!(
                "/v1/notifications/{}/resend",
                dead[0]["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a sent message is not resent: {body}"
    );

    // The quiet hours end: the held message goes.
    until(
        &app,
        "the held message released when the quiet hours end",
        |rows| {
            of(rows, &james_user, "assigned")
                .iter()
                .all(|r| r["state"] == "sent")
        },
    )
    .await;

    // Exactly once: one row per (event, recipient, channel), each sent once.
    let rows = until(&app, "everything sent", |rows| {
        rows.iter().all(|r| r["state"] == "sent")
    })
    .await;
    let mails = smtp.messages();
    let texts: Vec<_> = sms
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.2 == 201)
        .cloned()
        .collect();
    let by_channel = |channel: &str| rows.iter().filter(|r| r["channel"] == channel).count();
    assert_eq!(mails.len(), by_channel("email"), "{mails:#?}");
    assert_eq!(texts.len(), by_channel("sms"), "{texts:#?}");
    let ids: HashSet<_> = mails
        .iter()
        .map(|m| m["message_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), mails.len(), "no e-mail twice");
    let keys: HashSet<_> = texts.iter().map(|t| t.0.clone()).collect();
    assert_eq!(keys.len(), texts.len(), "no SMS twice");
    for row in &rows {
        let id = row["id"].as_str().unwrap();
        match row["channel"].as_str().unwrap() {
            "email" => assert!(ids.contains(&format!("<{id}@homecare.notifier>")), "{row}"),
            _ => assert!(keys.contains(id), "{row}"),
        }
    }
    // What they say: Maria's in Spanish, the client as a first name and an
    // initial, a link into the app, never the address or the full name.
    let to_maria: Vec<&Value> = mails
        .iter()
        .filter(|m| m["to"][0] == "maria@agency.example")
        .collect();
    assert!(
        to_maria.iter().any(|m| m["subject"] == "Nueva visita"
            && m["text"]
                .as_str()
                .unwrap()
                .starts_with("Tiene una nueva visita con Eleanor P. el ")
            && m["text"]
                .as_str()
                .unwrap()
                .trim_end()
                .ends_with("https://care.agency.example/app/")),
        "{to_maria:#?}"
    );
    let everything: Vec<String> = mails
        .iter()
        .map(|m| format!("{} {}", m["subject"], m["text"]))
        .chain(texts.iter().map(|t| t.1["Body"].clone()))
        .collect();
    for text in &everything {
        assert!(
            !text.contains("Park") && !text.contains("Belmont"),
            "{text}"
        );
    }
    assert!(texts.iter().all(|t| t.1["From"] == "+13125550000"));
    // The audit trail names every message sent: recipient, channel, template, event; no body.
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action like 'notification.sent.%'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(audited as usize, rows.len());
    first.stop().await;
    second.stop().await;
    app.shutdown().await;
}

/// The test's push endpoint (tests/support/push_endpoint.py) and the
/// subscription it made, as a browser would hand it over.
struct PushEndpoint {
    server: SupportServer,
    subscription: Value,
}

impl PushEndpoint {
    async fn start(vapid_public_key: &str) -> Self {
        let server = SupportServer::start(
            "push_endpoint.py",
            &[vapid_public_key],
            "is http_ece installed (./dev test installs it)?",
        )
        .await;
        let subscription = serde_json::from_str(&server.ready).expect("the subscription");
        Self {
            server,
            subscription,
        }
    }

    fn received(&self) -> Vec<Value> {
        self.server.records()
    }
}

#[sqlx::test]
async fn push_messages_are_encrypted_for_the_device_and_signed_with_vapid(db: PgPool) {
    use base64::Engine;
    let key: Vec<u8> = [
        uuid::Uuid::new_v4().into_bytes(),
        uuid::Uuid::new_v4().into_bytes(),
    ]
    .concat();
    let vapid = homecare_notifier::push::Vapid::from_base64(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key),
        "mailto:ops@agency.example",
    )
    .unwrap();
    let endpoint = PushEndpoint::start(&vapid.public_key()).await;
    let app = TestApp::start(db.clone()).await;
    let bus = homecare_store::EventBus::connect(app.settings.bus())
        .await
        .unwrap();
    let config = NotifierConfig {
        public_url: "https://care.agency.example".to_owned(),
        push: Some(vapid),
        max_attempts: 2,
        retry_base: Duration::from_millis(300),
        poll: Duration::from_millis(100),
        ..NotifierConfig::default()
    };
    let notifier = Notifier::start(db.clone(), bus, config).await.unwrap();
    let client = app.create_client().await;
    let maria = app.create_caregiver(&[]).await;
    let (maria_user, token) = person(&app, "maria@agency.example", "caregiver", Some(&maria)).await;
    let phone = authenticated_client(&token);
    let subscribe = |body: Value| {
        let phone = phone.clone();
        let url = format!("{}/v1/me/push-subscriptions", app.base);
        async move {
            let response = phone.post(url).json(&body).send().await.unwrap();
            let status = response.status();
            (
                status,
                response.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    // A subscription that is not a browser's is refused, field by field.
    let (status, body) =
        subscribe(json!({"endpoint": "ftp://x", "keys": {"p256dh": "AAAA", "auth": "AAAA"}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: HashSet<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        HashSet::from(["endpoint", "keys.p256dh", "keys.auth"])
    );
    let (status, body) = subscribe(endpoint.subscription.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // A visit two hours away: Maria's phone gets it, decrypted with only the
    // subscription's keys, the VAPID signature checked, urgent.
    let visit = app
        .create_visit(&client, minutes_ago(-120), minutes_ago(-180), &[])
        .await;
    let rows = until(&app, "the push message sent", |rows| {
        sent(rows, &maria_user, "assigned", &["push"])
    })
    .await;
    let received = endpoint.received();
    assert_eq!(received.len(), 1, "{received:#?}");
    let got = &received[0];
    assert_eq!(got["problem"], Value::Null, "{got}");
    assert_eq!(
        (got["urgency"].as_str(), got["ttl"].as_str()),
        (Some("high"), Some("86400"))
    );
    let message = &got["message"];
    assert_eq!(message["title"], "New visit");
    assert!(
        message["body"]
            .as_str()
            .unwrap()
            .starts_with("You have a new visit with Eleanor P. on "),
        "{message}"
    );
    assert_eq!(message["url"], "https://care.agency.example/app/");
    assert_eq!(message["tag"], rows[0]["id"]);

    // The phone unsubscribes behind our back (a newer subscription that the
    // push service answers 410 for): the message is dead at once, and the
    // subscription is forgotten.
    let mut gone = endpoint.subscription.clone();
    gone["endpoint"] = json!(
        gone["endpoint"]
            .as_str()
            .unwrap()
            .replace("/push/", "/gone/")
    );
    let (status, body) = subscribe(gone.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = app
        .post(
            &format!("/v1/visits/{visit}/cancel"),
            json!({"reason": "The client is in hospital"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let rows = until(&app, "the push to a gone device dead", |rows| {
        of(rows, &maria_user, "visit_cancelled")
            .iter()
            .any(|r| r["state"] == "dead")
    })
    .await;
    let dead = of(&rows, &maria_user, "visit_cancelled")[0];
    assert_eq!(dead["attempts"], 1, "not retried: {dead}");
    assert!(
        dead["last_error"].as_str().unwrap().contains("410"),
        "{dead}"
    );
    let left: i64 =
        sqlx::query_scalar("select count(*) from push_subscriptions where endpoint = $1")
            .bind(gone["endpoint"].as_str().unwrap())
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(left, 0);
    notifier.stop().await;
    app.shutdown().await;
}

/// How many deliveries the SMTP server got of each Message-ID.
fn deliveries(smtp: &SmtpSink) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for mail in smtp.messages() {
        *counts
            .entry(mail["message_id"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    counts
}

#[sqlx::test]
async fn a_notifier_killed_mid_batch_loses_nothing_and_makes_no_message_twice(db: PgPool) {
    const PEOPLE: usize = 24;
    let smtp = SmtpSink::start().await;
    let app = TestApp::start(db.clone()).await;
    let database = app.database().await;
    let smtp_url = format!("smtp://127.0.0.1:{}", smtp.port());
    let notifier = || {
        crate::chaos::spawn_homecare(
            &app,
            &database,
            "notifier",
            &[("HOMECARE_SMTP_URL", smtp_url.as_str())],
        )
    };
    // The notifier's durable consumer is made, then the notifier is down
    // while a morning's assignments happen: they wait on the stream.
    let mut first = notifier();
    let bus = homecare_store::EventBus::connect(app.settings.bus())
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + EVENT_WAIT;
    while bus
        .stream()
        .await
        .unwrap()
        .consumer_info("notifier")
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the notifier never made its consumer"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.kill();
    let client = app.create_client().await;
    for n in 0..PEOPLE {
        let caregiver = app.create_caregiver(&[]).await;
        person(
            &app,
            &format!("carer{n}@agency.example"),
            "caregiver",
            Some(&caregiver),
        )
        .await;
    }
    sqlx::query("update users set email_verified_at = now()")
        .execute(&db)
        .await
        .unwrap();
    // One visit each, an hour apart so nobody can take two.
    for n in 0..PEOPLE as i64 {
        let visit = app
            .create_visit(
                &client,
                minutes_ago(-60 - 120 * n),
                minutes_ago(-120 - 120 * n),
                &[],
            )
            .await;
        app.snapshot_when(&visit, |s| s["status"] == "assigned")
            .await;
    }
    // The notifier comes back to the backlog and is killed again at its first message.
    let mut second = notifier();
    let deadline = tokio::time::Instant::now() + EVENT_WAIT;
    while smtp.messages().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no message sent before the kill"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    second.kill();
    let at_kill = smtp.messages().len();
    let _third = notifier();
    let rows = until(&app, "every message sent after the restart", |rows| {
        rows.len() == PEOPLE && rows.iter().all(|r| r["state"] == "sent")
    })
    .await;
    let counts = deliveries(&smtp);
    // Each owed message was made once (one Message-ID per row) and delivered.
    assert_eq!(counts.len(), PEOPLE, "{counts:#?}");
    for row in &rows {
        assert!(
            counts.contains_key(&format!(
                "<{}@homecare.notifier>",
                row["id"].as_str().unwrap()
            )),
            "{row}"
        );
    }
    // A message whose hand-over straddled the kill (accepted by the server,
    // not yet marked sent) goes again under the same Message-ID once its
    // claim runs out; no other arrives twice.
    let again: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    for (id, _) in &again {
        let row = rows
            .iter()
            .find(|r| format!("<{}@homecare.notifier>", r["id"].as_str().unwrap()) == **id)
            .unwrap();
        assert!(
            row["attempts"].as_i64().unwrap() > 1,
            "only a taken-over message arrives twice: {row}"
        );
    }
    println!(
        "notifier killed after {at_kill} of {PEOPLE} messages; after the restart all {PEOPLE} sent, {} delivered twice under the same Message-ID",
        again.len()
    );
    app.shutdown().await;
}

#[sqlx::test]
async fn an_unfilled_visit_is_escalated_to_the_admin_unless_filled_in_time(db: PgPool) {
    let smtp = SmtpSink::start().await;
    let (sms_url, _sms) = sms_stand_in().await;
    let app = TestApp::start(db.clone()).await;
    let bus = homecare_store::EventBus::connect(app.settings.bus())
        .await
        .unwrap();
    let config = NotifierConfig {
        escalations: Some(homecare_notifier::Escalations {
            temporal: app.temporal.clone(),
            task_queue: app.settings.task_queue.clone(),
        }),
        ..notifier_config(&smtp, &sms_url)
    };
    let notifier = Notifier::start(db.clone(), bus, config).await.unwrap();
    // The agency escalates unfilled visits starting within 4 hours after a minute.
    let (status, mut agency) = app.get("/v1/agency").await;
    assert_eq!(status, StatusCode::OK, "{agency}");
    agency["escalate_after_minutes"] = json!(0);
    let (status, body) = app.put("/v1/agency", agency.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "escalate_after_minutes");
    agency["escalate_after_minutes"] = json!(1);
    agency["escalate_within_hours"] = json!(4);
    let (status, body) = app.put("/v1/agency", agency).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (dana, _) = person(&app, "dana@agency.example", "coordinator", None).await;
    let (alex, _) = person(&app, "alex@agency.example", "admin", None).await;
    sqlx::query("update users set email_verified_at = now()")
        .execute(&db)
        .await
        .unwrap();
    on_call_all_week(&app, &dana, Some(&alex)).await;

    // Two visits nobody can take, in an hour and in two; a visit next week too.
    let client = app.create_client().await;
    let left = app
        .create_visit(
            &client,
            minutes_ago(-60),
            minutes_ago(-120),
            &["hoyer_lift"],
        )
        .await;
    let filled = app
        .create_visit(
            &client,
            minutes_ago(-120),
            minutes_ago(-180),
            &["trach_care"],
        )
        .await;
    let next_week = app
        .create_visit(
            &client,
            minutes_ago(-7 * 24 * 60),
            minutes_ago(-7 * 24 * 60 - 60),
            &["hoyer_lift"],
        )
        .await;
    let rows = until(
        &app,
        "the on-call coordinator told of three unfilled visits",
        |rows| {
            of(rows, &dana, "unfilled")
                .iter()
                .filter(|r| r["state"] == "sent")
                .count()
                == 3
        },
    )
    .await;
    assert!(of(&rows, &alex, "escalated").is_empty());
    // A caregiver who can take one of them joins in time and the coordinator
    // books her (if the engine has not already): its escalation stops at once.
    let ana = app
        .create_caregiver_from(json!({"name": "Ana Ruiz", "skills": ["trach_care"]}))
        .await;
    let (status, body) = app
        .put(
            &format!("/v1/visits/{filled}/assignment"),
            json!({"caregiver_ids": [ana]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let stopped = app
        .temporal
        .get_workflow_handle::<homecare_workflows::EscalationWorkflow>(
            homecare_domain::contracts::escalation_workflow_id(filled.parse().unwrap()),
        );
    let escalated: bool = tokio::time::timeout(EVENT_WAIT, async {
        loop {
            if let Ok(result) = stopped.get_result(Default::default()).await {
                break result;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await
    .expect("the filled visit's escalation ends at once");
    assert!(!escalated, "a filled visit is not escalated");

    // The other is still unfilled a minute later: the admin is told.
    let rows = until(&app, "the admin told of the visit left unfilled", |rows| {
        of(rows, &alex, "escalated")
            .iter()
            .any(|r| r["state"] == "sent")
    })
    .await;
    let escalated: Vec<&Value> = of(&rows, &alex, "escalated");
    assert_eq!(escalated.len(), 1, "{escalated:#?}");
    assert_eq!(escalated[0]["urgent"], true);
    let mail = smtp
        .messages()
        .into_iter()
        .find(|m| m["subject"] == "Unfilled visit escalated")
        .expect("the escalation e-mail");
    assert_eq!(mail["to"][0], "alex@agency.example");
    assert!(
        mail["text"]
            .as_str()
            .unwrap()
            .contains(&format!("?visit={left}")),
        "{mail}"
    );
    // Next week's visit is not escalated: it is outside the agency's window.
    let open: i64 = sqlx::query_scalar("select count(*) from escalations where visit_id = $1")
        .bind(next_week.parse::<uuid::Uuid>().unwrap())
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(open, 0);
    notifier.stop().await;
    app.shutdown().await;
}
