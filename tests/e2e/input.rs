//! Bad input gets a problem+json answer with field detail and writes nothing.

use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, minutes_ago};

fn fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_owned())
        .collect()
}

async fn rows(app: &TestApp, table: &str) -> i64 {
    sqlx::query_scalar(&format!("select count(*) from {table}"))
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[sqlx::test]
async fn malformed_and_invalid_bodies_are_refused_with_field_detail(db: PgPool) {
    let app = TestApp::start(db).await;

    let response = app
        .http
        .post(format!("{}/v1/clients", app.base))
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );

    let (status, problem) = app
        .post("/v1/clients", json!({"name": " ", "address": "x", "latitude": 123.0, "longitude": 0.0, "timezone": "Mars/Olympus_Mons"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&problem), ["name", "latitude", "timezone"]);

    let (status, problem) = app
        .post(
            "/v1/caregivers",
            json!({"name": "Maria", "skills": ["Hoyer Lift"]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&problem), ["skills[0]"]);

    let (status, _) = app
        .post("/v1/caregivers", json!({"name": "Maria", "salary": 1}))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown fields are refused"
    );

    assert_eq!(rows(&app, "clients").await, 0);
    assert_eq!(rows(&app, "caregivers").await, 0);
    app.shutdown().await;
}

#[sqlx::test]
async fn an_impossible_visit_is_refused_and_starts_no_workflow(db: PgPool) {
    let app = TestApp::start(db).await;
    let client = app.create_client().await;

    let (status, problem) = app
        .post("/v1/visits", json!({"client_id": client, "scheduled_start": minutes_ago(0), "scheduled_end": minutes_ago(60)}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&problem), ["scheduled_end"]);

    let stranger = uuid::Uuid::new_v4();
    let (status, problem) = app
        .post("/v1/visits", json!({"client_id": stranger, "scheduled_start": minutes_ago(60), "scheduled_end": minutes_ago(0), "service_code": "Z9999"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&problem), ["client_id", "service_code"]);

    // State Medicaid has no S5130 rate in the reference data.
    let (status, problem) = app
        .post("/v1/visits", json!({"client_id": client, "scheduled_start": minutes_ago(60), "scheduled_end": minutes_ago(0), "service_code": "S5130", "payer_id": "00000000-0000-4000-8000-000000000002"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(fields(&problem), ["payer_id"]);

    assert_eq!(rows(&app, "visits").await, 0);
    app.shutdown().await;
}

#[sqlx::test]
async fn unknown_resources_are_404_and_bad_parameters_422(db: PgPool) {
    let app = TestApp::start(db).await;
    let stranger = uuid::Uuid::new_v4();

    assert_eq!(
        app.get("/v1/visits/not-a-uuid").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/v1/visits/{stranger}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/v1/clients/{stranger}")).await.0,
        StatusCode::NOT_FOUND
    );
    let evv = TestApp::evv(&stranger.to_string(), minutes_ago(1));
    assert_eq!(
        app.post(&format!("/v1/visits/{stranger}/check-in"), evv)
            .await
            .0,
        StatusCode::NOT_FOUND
    );

    let (status, problem) = app.get("/v1/visits?status=done&limit=0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let (status, problem) = app.get("/v1/events?visit_id=nope&since=-3").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&problem), ["visit_id", "since"]);
    // A sequence the stream never reached would silently skip what comes next.
    let (status, problem) = app.get("/v1/events?since=999999999").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(fields(&problem), ["since"]);

    let (status, problem) = app
        .post(
            &format!("/v1/visits/{stranger}/check-in"),
            json!({"caregiver_id": stranger, "latitude": 91.0, "longitude": 0.0}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation comes before lookup: {problem}"
    );
    app.shutdown().await;
}

#[sqlx::test]
async fn a_device_clock_in_the_future_is_refused(db: PgPool) {
    let app = TestApp::start(db).await;
    let client = app.create_client().await;
    let caregiver = app.create_caregiver(&[]).await;
    let visit = app
        .create_visit(&client, minutes_ago(30), minutes_ago(-30), &[])
        .await;
    let (status, problem) = app
        .post(
            &format!("/v1/visits/{visit}/check-in"),
            TestApp::evv(&caregiver, minutes_ago(-60)),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(fields(&problem), ["at"]);
    app.shutdown().await;
}

#[sqlx::test]
async fn readiness_reports_every_dependency(db: PgPool) {
    let app = TestApp::start(db).await;
    let (status, readiness) = app.get("/readyz").await;
    assert_eq!(status, StatusCode::OK, "{readiness}");
    assert_eq!(
        readiness,
        json!({"ready": true, "postgres": {"ok": true}, "nats": {"ok": true}, "temporal": {"ok": true}})
    );
    assert_eq!(app.get("/healthz").await.0, StatusCode::OK);
    app.shutdown().await;
}

#[sqlx::test]
async fn creating_a_visit_twice_with_one_idempotency_key_creates_one_visit(db: PgPool) {
    let app = TestApp::start(db).await;
    let client = app.create_client().await;
    let key = format!("import-{}", uuid::Uuid::new_v4());
    let body = json!({"client_id": client, "scheduled_start": minutes_ago(-60), "scheduled_end": minutes_ago(-120)});
    let post = |body, key| app.request(reqwest::Method::POST, "/v1/visits", Some(body), Some(key));
    let first = post(body.clone(), &key).await;
    assert_eq!(first.0, StatusCode::CREATED, "{}", first.1);
    app.track(first.1["id"].as_str().unwrap());
    let again = post(body, &key).await;
    assert_eq!(again.0, StatusCode::OK);
    assert_eq!(first.1["id"], again.1["id"]);

    // The same key for a different visit is a client bug, not a retry.
    let other = json!({"client_id": client, "scheduled_start": minutes_ago(-180), "scheduled_end": minutes_ago(-240)});
    let (status, problem) = post(other, &key).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(fields(&problem), ["Idempotency-Key"]);
    assert_eq!(rows(&app, "visits").await, 1);
    app.shutdown().await;
}

#[sqlx::test]
async fn caregiver_fields_are_validated_and_every_valid_slug_is_stored(db: PgPool) {
    let app = TestApp::start(db).await;
    let (status, caregiver) = app
        .post(
            "/v1/caregivers",
            serde_json::json!({"name": "Dana", "skills": ["dementia-care", "hoyer_lift"],
                "credentials": [{"skill": "cpr-aed", "expires_on": "2030-01-31"}],
                "availability": [{"weekday": "Monday", "start": "08:00", "end": "24:00"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{caregiver}");
    assert_eq!(
        caregiver["skills"],
        serde_json::json!(["cpr-aed", "dementia-care", "hoyer_lift"])
    );
    assert_eq!(caregiver["availability"][0]["end"], "24:00");
    let (status, problem) = app
        .post(
            "/v1/caregivers",
            serde_json::json!({"name": "Eve", "gender": "robot", "languages": ["e"],
                "max_minutes_per_day": 0, "home": {"latitude": 91.0, "longitude": 0.0},
                "availability": [{"weekday": "someday", "start": "9", "end": "08:00"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    for field in [
        "gender",
        "languages[0]",
        "max_minutes_per_day",
        "home.latitude",
        "availability[0].weekday",
        "availability[0].start",
    ] {
        assert!(fields.contains(&field), "{field} in {fields:?}");
    }
    let count: i64 = sqlx::query_scalar("select count(*) from caregivers")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 1, "nothing written for the invalid one");
    app.shutdown().await;
}

#[sqlx::test]
async fn an_idempotency_key_never_crosses_to_another_request_or_caregiver(db: PgPool) {
    let app = TestApp::start(db).await;
    let key = format!("retry-{}", uuid::Uuid::new_v4());

    // Two caregivers' phones happen to send the same key: two call-outs, each
    // answered with its own caregiver's.
    let period = json!({"start": minutes_ago(-600), "end": minutes_ago(-660), "reason": "sick"});
    let mut call_outs = Vec::new();
    for _ in 0..2 {
        let caregiver = app.create_caregiver(&[]).await;
        let (status, outcome) = app
            .request(
                reqwest::Method::POST,
                &format!("/v1/caregivers/{caregiver}/call-outs"),
                Some(period.clone()),
                Some(&key),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{outcome}");
        assert_eq!(outcome["caregiver_id"], caregiver.as_str());
        call_outs.push(outcome["call_out_id"].clone());
    }
    assert_ne!(call_outs[0], call_outs[1]);

    // A plan's key reused for another day is refused, as a visit's is.
    let plan = |date: &str| json!({"date": date, "timezone": "America/Chicago"});
    let (status, first) = app
        .request(
            reqwest::Method::POST,
            "/v1/plans",
            Some(plan("2026-12-01")),
            Some(&key),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    let (status, problem) = app
        .request(
            reqwest::Method::POST,
            "/v1/plans",
            Some(plan("2026-12-02")),
            Some(&key),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(fields(&problem), ["Idempotency-Key"]);
    assert_eq!(rows(&app, "plans").await, 1);
    app.shutdown().await;
}

#[sqlx::test]
async fn a_year_outside_the_platforms_calendar_is_refused(db: PgPool) {
    let app = TestApp::start(db).await;
    let client = app.create_client().await;
    let (status, problem) = app
        .post("/v1/visits", json!({"client_id": client, "scheduled_start": "1999-12-31T09:00:00Z", "scheduled_end": "1999-12-31T10:00:00Z"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(fields(&problem), ["scheduled_start"]);
    let (status, problem) = app
        .put("/v1/holidays/1066-10-14", json!({"name": "Hastings"}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(fields(&problem), ["day"]);
    assert_eq!(rows(&app, "visits").await, 0);
    assert_eq!(rows(&app, "holidays").await, 0);
    app.shutdown().await;
}
