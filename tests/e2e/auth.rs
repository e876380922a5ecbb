//! Every request is authenticated and scoped by role: 401 without a valid token,
//! 403 across a role's boundary, and a caregiver sees and receives only their
//! own visits and events.

use homecare_api::auth::{AuthConfig, Role};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, authenticated_client, minutes_ago};

async fn status_as(
    app: &TestApp,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
) -> StatusCode {
    let http = match token {
        Some(token) => authenticated_client(token),
        None => reqwest::Client::new(),
    };
    let mut request = http.request(method.clone(), format!("{}{path}", app.base));
    if method != reqwest::Method::GET {
        request = request.json(&json!({}));
    }
    request.send().await.unwrap().status()
}

#[sqlx::test]
async fn requests_without_a_valid_token_are_refused_with_401(db: PgPool) {
    let app = TestApp::start(db).await;
    let get = reqwest::Method::GET;
    let response = reqwest::Client::new()
        .get(format!("{}/v1/visits", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().contains_key("www-authenticate"));
    assert_eq!(
        status_as(&app, Some("not-a-jwt"), get.clone(), "/v1/visits").await,
        StatusCode::UNAUTHORIZED
    );
    let auth = app.settings.jwt.auth().unwrap();
    let expired = auth
        .mint("a", Role::Admin, None, chrono::Duration::minutes(-10))
        .unwrap();
    assert_eq!(
        status_as(&app, Some(&expired), get.clone(), "/v1/visits").await,
        StatusCode::UNAUTHORIZED
    );
    let secret = app.settings.jwt.jwt_hs256_secret.clone().unwrap();
    let elsewhere = AuthConfig::hs256(secret.as_bytes(), "homecare", "another-api").unwrap();
    let wrong_audience = elsewhere
        .mint("a", Role::Admin, None, chrono::Duration::minutes(10))
        .unwrap();
    assert_eq!(
        status_as(&app, Some(&wrong_audience), get.clone(), "/v1/visits").await,
        StatusCode::UNAUTHORIZED
    );
    let forged = AuthConfig::hs256(&[9u8; 40], "homecare", "homecare-api").unwrap();
    let forged = forged
        .mint("a", Role::Admin, None, chrono::Duration::minutes(10))
        .unwrap();
    assert_eq!(
        status_as(&app, Some(&forged), get.clone(), "/v1/visits").await,
        StatusCode::UNAUTHORIZED
    );
    // Nothing was written by a refused request.
    assert_eq!(
        status_as(&app, None, reqwest::Method::POST, "/v1/clients").await,
        StatusCode::UNAUTHORIZED
    );
    let clients: i64 = sqlx::query_scalar("select count(*) from clients")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(clients, 0);
    // The WebSocket too, before the upgrade; health stays open for probes.
    let url = format!("{}/v1/events", app.base.replacen("http", "ws", 1));
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
    assert_eq!(status_as(&app, None, get, "/healthz").await, StatusCode::OK);
    app.shutdown().await;
}

#[sqlx::test]
async fn each_role_stays_within_its_boundary(db: PgPool) {
    let app = TestApp::start(db).await;
    let (post, get, put) = (
        reqwest::Method::POST,
        reqwest::Method::GET,
        reqwest::Method::PUT,
    );
    let billing = app.token(Role::Billing, None);
    let coordinator = app.token(Role::Coordinator, None);
    let caregiver = app.create_caregiver(&[]).await;
    let caregiver = app.token(Role::Caregiver, Some(&caregiver));
    // Billing reads schedules and works claims, but never changes a schedule.
    for path in ["/v1/visits", "/v1/clients", "/v1/caregivers", "/v1/plans"] {
        assert_eq!(
            status_as(&app, Some(&billing), post.clone(), path).await,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    assert_eq!(
        status_as(&app, Some(&billing), get.clone(), "/v1/visits").await,
        StatusCode::OK
    );
    assert_eq!(
        status_as(&app, Some(&billing), get.clone(), "/v1/invoice-lines").await,
        StatusCode::OK
    );
    // 422: allowed through, then refused for the empty body.
    assert_eq!(
        status_as(&app, Some(&billing), post.clone(), "/v1/claims").await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Coordinators schedule but neither claim nor change the agency's settings.
    assert_eq!(
        status_as(&app, Some(&coordinator), post.clone(), "/v1/claims").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_as(&app, Some(&coordinator), put.clone(), "/v1/agency").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_as(&app, Some(&coordinator), post.clone(), "/v1/clients").await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Caregivers reach none of the back office.
    for (method, path) in [
        (get.clone(), "/v1/invoice-lines"),
        (get.clone(), "/v1/clients"),
        (post.clone(), "/v1/visits"),
        (get, "/v1/billing/holds"),
    ] {
        assert_eq!(
            status_as(&app, Some(&caregiver), method, path).await,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    app.shutdown().await;
}

#[sqlx::test]
async fn a_caregiver_sees_acts_on_and_hears_about_their_own_visits_only(db: PgPool) {
    let app = TestApp::start(db).await;
    let mut everything = app.events("").await;
    let client = app.create_client().await;
    let ana = app.create_caregiver(&["ana_skill"]).await;
    let ben = app.create_caregiver(&["ben_skill"]).await;
    let ana_token = app.token(Role::Caregiver, Some(&ana));
    let ana_http = authenticated_client(&ana_token);
    let mut ana_socket = app.events_as("", &ana_token).await;
    // Ana cannot listen to Ben's events.
    let request = app.websocket_request(&format!("?caregiver_id={ben}"), &ana_token);
    assert!(tokio_tungstenite::connect_async(request).await.is_err());

    let (start, end) = (minutes_ago(120), minutes_ago(60));
    let bens = app.create_visit(&client, start, end, &["ben_skill"]).await;
    everything
        .frames_until(&bens, "homecare.visit.assigned")
        .await;
    let anas = app.create_visit(&client, start, end, &["ana_skill"]).await;
    everything
        .frames_until(&anas, "homecare.visit.assigned")
        .await;

    // Ben's visit: not visible, and no check-in, whoever she claims to be.
    let response = ana_http
        .get(format!("{}/v1/visits/{bens}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    for caregiver in [&ben, &ana] {
        let response = ana_http
            .post(format!("{}/v1/visits/{bens}/check-in", app.base))
            .json(&TestApp::evv(caregiver, start))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "as {caregiver}");
    }
    // Her own: visible, listed alone, and hers to check in and out.
    let response = ana_http
        .get(format!("{}/v1/visits/{anas}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let listed: serde_json::Value = ana_http
        .get(format!("{}/v1/visits", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ids: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [anas.as_str()]);
    for (command, at) in [("check-in", start), ("check-out", end)] {
        let response = ana_http
            .post(format!("{}/v1/visits/{anas}/{command}", app.base))
            .json(&TestApp::evv(&ana, at))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{command}");
    }
    // Her socket saw her visit's events and nothing of Ben's.
    let frames = ana_socket
        .frames_until(&anas, "homecare.invoice.created")
        .await;
    assert!(
        frames
            .iter()
            .all(|f| f["event"]["data"]["caregiver_id"] == ana.as_str()),
        "{frames:?}"
    );
    assert!(
        frames
            .iter()
            .all(|f| f["event"]["subject"] == anas.as_str()),
        "{frames:?}"
    );
    app.shutdown().await;
}
