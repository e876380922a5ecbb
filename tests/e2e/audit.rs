//! Every state-changing request and every workflow transition of a visit is in
//! the audit trail, which only admins read.

use homecare_api::auth::Role;
use reqwest::StatusCode;
use sqlx::PgPool;

use crate::helpers::{TestApp, authenticated_client, minutes_ago};

#[sqlx::test]
async fn a_visits_requests_and_transitions_are_in_the_audit_trail(db: PgPool) {
    let app = TestApp::start(db).await;
    let (start, end) = (minutes_ago(90), minutes_ago(30));
    let mut visit = app.assigned_visit(start, end).await;
    let id = visit.visit.clone();
    let response = app
        .http
        .post(format!("{}/v1/visits/{id}/check-in", app.base))
        .header("x-request-id", "phone-42-check-in")
        .json(&TestApp::evv(&visit.caregiver, start))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-request-id"], "phone-42-check-in");
    // A refused write is on the trail too, with its status.
    let (status, _) = app
        .post(
            &format!("/v1/visits/{id}/check-in"),
            TestApp::evv(&visit.caregiver, start),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _) = app
        .post(
            &format!("/v1/visits/{id}/check-out"),
            TestApp::evv(&visit.caregiver, end),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    visit
        .events
        .frames_until(&id, "homecare.invoice.created")
        .await;

    // Reading the EVV record (PHI) is audited too.
    let (status, _) = app.get(&format!("/v1/visits/{id}/evv")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, rows) = app
        .get(&format!("/v1/audit?entity_type=visits&entity_id={id}"))
        .await;
    assert_eq!(status, StatusCode::OK, "{rows}");
    let rows = rows.as_array().unwrap();
    let summary: Vec<(String, String, Option<i64>)> = rows
        .iter()
        .map(|r| {
            (
                r["actor"].as_str().unwrap().to_owned(),
                r["action"].as_str().unwrap().to_owned(),
                r["status"].as_i64(),
            )
        })
        .collect();
    let find = |action: &str, status: Option<i64>| {
        summary.iter().any(|(_, a, s)| a == action && *s == status)
    };
    assert!(
        find("POST /v1/visits/{id}/check-in", Some(200)),
        "{summary:?}"
    );
    assert!(
        find("POST /v1/visits/{id}/check-in", Some(409)),
        "{summary:?}"
    );
    assert!(
        find("POST /v1/visits/{id}/check-out", Some(200)),
        "{summary:?}"
    );
    assert!(find("GET /v1/visits/{id}/evv", Some(200)), "{summary:?}");
    for transition in [
        "homecare.visit.assigned",
        "homecare.visit.checked_in",
        "homecare.visit.completed",
        "homecare.invoice.created",
    ] {
        assert!(find(transition, None), "{transition} in {summary:?}");
    }
    let check_in = rows
        .iter()
        .find(|r| r["request_id"] == "phone-42-check-in")
        .expect("the request id is kept");
    assert_eq!(check_in["actor"], "e2e-admin");
    assert_eq!(check_in["role"], "admin");
    assert_eq!(check_in["digest"].as_str().unwrap().len(), 64);
    // Only admins read the trail.
    let coordinator = authenticated_client(&app.token(Role::Coordinator, None));
    let response = coordinator
        .get(format!("{}/v1/audit", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    app.shutdown().await;
}

#[sqlx::test]
async fn an_oversized_body_is_refused_before_any_handler_runs(db: PgPool) {
    let app = TestApp::start(db).await;
    // 1.5 MiB: over our 1 MiB limit, under axum's own 2 MB for JSON.
    let huge = "x".repeat(1536 * 1024);
    let response = app
        .http
        .post(format!("{}/v1/clients", app.base))
        .header("content-type", "application/json")
        .body(format!("{{\"name\": \"{huge}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let clients: i64 = sqlx::query_scalar("select count(*) from clients")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(clients, 0);
    app.shutdown().await;
}
