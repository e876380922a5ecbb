//! What the caregiver app reads: `GET /v1/me/visits`, the signed-in
//! caregiver's own visits with the client's first name and last initial,
//! where to go, and what EVV has recorded; nobody else's.

use chrono::Duration;
use homecare_api::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, authenticated_client, minutes_ago};

async fn my_visits(app: &TestApp, token: &str, query: &str) -> (StatusCode, Value) {
    let response = authenticated_client(token)
        .get(format!("{}/v1/me/visits{query}", app.base))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[sqlx::test]
async fn a_caregiver_reads_their_own_visits_with_the_clients_short_name(db: PgPool) {
    let app = TestApp::start(db).await;
    let (start, end) = (minutes_ago(30), minutes_ago(-30));
    let visit = app.assigned_visit(start, end).await;
    let maria = app.token(Role::Caregiver, Some(&visit.caregiver));
    let (status, body) = my_visits(&app, &maria, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let visits = body.as_array().unwrap();
    assert_eq!(visits.len(), 1, "{body}");
    let mine = &visits[0];
    assert_eq!(mine["id"], visit.visit.as_str());
    assert_eq!(mine["client_name"], "Eleanor P.");
    assert_eq!(mine["address"], "1452 W Belmont Ave, Chicago");
    assert_eq!(
        (mine["latitude"].as_f64(), mine["longitude"].as_f64()),
        (Some(41.94), Some(-87.67))
    );
    assert_eq!(mine["timezone"], "America/Chicago");
    assert_eq!(mine["status"], "assigned");
    assert_eq!(mine["records_evv"], true);
    assert!(mine["checked_in_at"].is_null());
    assert_eq!(mine["held"], false);
    // Nothing about billing or other people reaches the phone.
    for field in [
        "payer_id",
        "service_code",
        "client_id",
        "caregiver_ids",
        "amount",
    ] {
        assert!(mine.get(field).is_none(), "{field} in {mine}");
    }
    let (status, body) = app
        .post(
            &format!("/v1/visits/{}/check-in", visit.visit),
            TestApp::evv(&visit.caregiver, start + Duration::minutes(2)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, body) = my_visits(&app, &maria, "").await;
    assert_eq!(body[0]["status"], "checked_in");
    assert!(body[0]["checked_in_at"].is_string(), "{body}");

    // Another caregiver sees none of it; staff have no visits of their own.
    let james = app.create_caregiver(&[]).await;
    let (status, body) = my_visits(&app, &app.token(Role::Caregiver, Some(&james)), "").await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));
    let (status, _) = my_visits(&app, &app.token(Role::Coordinator, None), "").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The window is bounded.
    let from = minutes_ago(0).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let too_far =
        (minutes_ago(0) + Duration::days(40)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (status, body) = my_visits(&app, &maria, &format!("?from={from}&to={too_far}")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "to");
    let (status, _) = my_visits(&app, &maria, &format!("?from={from}&to={from}")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.shutdown().await;
}

#[sqlx::test]
async fn the_app_checks_in_and_out_on_a_phone_and_an_offline_check_out_is_sent_once(db: PgPool) {
    let app = TestApp::start_with(db, |settings| {
        settings.console_dir = crate::console::built_console();
    })
    .await;
    // The app is served at /app/, any path below it with the app's page.
    for path in ["/app/", "/app/visits/today"] {
        let response = reqwest::get(format!("{}{path}", app.base)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("manifest.webmanifest"),
            "{path}"
        );
    }
    let mut events = app.events("").await;
    let client = app.create_client().await;
    let maria = app.create_caregiver(&[]).await;
    // One visit under way (checked in now: two minutes late, within the
    // tolerance), one later today (checked out early and far away: held),
    // one this afternoon, reassigned while the phone is offline, and one this
    // evening, cancelled by the office while the app is open.
    let mut visits = Vec::new();
    for (start, end) in [(2, -10), (-11, -25), (-120, -180), (-240, -300)] {
        let visit = app
            .create_visit(&client, minutes_ago(start), minutes_ago(end), &[])
            .await;
        // One at a time: waiting for a visit's frame passes over the others'.
        events.frames_until(&visit, "homecare.visit.assigned").await;
        visits.push(visit);
    }
    let [near, far, later, evening] = <[String; 4]>::try_from(visits).unwrap();
    // Only now a second caregiver, for the office to reassign `later` to.
    let james = app.create_caregiver(&[]).await;
    for (email, role, caregiver) in [
        ("maria@agency.example", "caregiver", Some(maria.as_str())),
        ("dana@agency.example", "coordinator", None),
    ] {
        let (status, body) = app
            .post(
                "/v1/users",
                json!({"email": email, "display_name": "Maria Lopez", "role": role,
                       "caregiver_id": caregiver, "password": "correct horse battery"}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let stdout = crate::console::run_in_browser(
        "tests/app.mjs",
        "app-screenshots",
        &[
            ("HOMECARE_URL", app.base.clone()),
            ("CAREGIVER_EMAIL", "maria@agency.example".to_owned()),
            ("COORDINATOR_EMAIL", "dana@agency.example".to_owned()),
            ("PASSWORD", "correct horse battery".to_owned()),
            ("CLIENT_LAT", "41.94".to_owned()),
            ("CLIENT_LNG", "-87.67".to_owned()),
            ("NEAR_VISIT", near.clone()),
            ("FAR_VISIT", far.clone()),
            ("LATER_VISIT", later.clone()),
            ("CANCELLED_VISIT", evening.clone()),
            ("OTHER_CAREGIVER", james.clone()),
            ("HOMECARE_TOKEN", app.token(Role::Admin, None)),
        ],
    )
    .await;
    assert!(stdout.contains("caregiver app browser test passed"));
    // Exactly one check-out and one invoice line, however the phone retried.
    let check_outs = app
        .count(
            "select count(*) from evv_records where visit_id = $1::uuid and kind = 'check_out'",
            &near,
        )
        .await;
    let lines = app
        .count(
            "select count(*) from invoice_lines where visit_id = $1::uuid",
            &near,
        )
        .await;
    assert_eq!((check_outs, lines), (1, 1));
    app.shutdown().await;
}
