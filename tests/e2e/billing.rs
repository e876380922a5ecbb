//! Instant billing end to end: EVV exceptions hold a visit, a coordinator's
//! resolution lets its workflow bill on its own (exactly once), authorizations
//! cap what is billed, a missed check-out closes the visit on a durable timer,
//! and claims export as an 837P that pyx12 accepts.

use std::time::Duration;

use chrono::Utc;
use homecare_domain::VisitStatus;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, minutes_ago, types};

#[path = "../../domain/tests/support/pyx12.rs"]
mod pyx12;

pub(crate) const PRIVATE_PAY: &str = "00000000-0000-4000-8000-000000000001";

fn evv_at(caregiver: &str, at: chrono::DateTime<Utc>, latitude: f64) -> Value {
    json!({"caregiver_id": caregiver, "at": at, "latitude": latitude, "longitude": -87.67})
}

async fn open_exception(app: &TestApp, visit: &str, code: &str) -> String {
    let (status, exceptions) = app.get(&format!("/v1/visits/{visit}/exceptions")).await;
    assert_eq!(status, StatusCode::OK, "{exceptions}");
    exceptions
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["code"] == code && e["resolved_at"].is_null())
        .unwrap_or_else(|| panic!("no open {code} in {exceptions}"))["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[sqlx::test]
async fn a_visit_checked_out_outside_the_geofence_is_held_then_resolved_and_invoiced_once(
    db: PgPool,
) {
    let app = TestApp::start(db).await;
    app.strict_evv_policy().await;
    let (start, end) = (minutes_ago(70), minutes_ago(10));
    let mut visit = app.assigned_visit(start, end).await;
    let id = visit.visit.clone();
    let (status, body) = app
        .post(
            &format!("/v1/visits/{id}/check-in"),
            evv_at(&visit.caregiver, start, 41.94),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // About 4.4 km from the client's home: recorded, not refused.
    let (status, body) = app
        .post(
            &format!("/v1/visits/{id}/check-out"),
            evv_at(&visit.caregiver, end, 41.98),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "completed");
    let frames = visit.events.frames_until(&id, "homecare.visit.held").await;
    assert!(types(&frames, &id).contains(&"homecare.visit.exception_raised".to_owned()));

    let (status, holds) = app.get("/v1/billing/holds").await;
    assert_eq!(status, StatusCode::OK);
    let held = holds
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["visit_id"] == id.as_str())
        .expect("on the hold list");
    assert_eq!(held["exceptions"][0]["code"], "outside_geofence");
    assert_eq!(held["exceptions"][0]["source"], "check_out");
    // The six EVV elements, with the exception counted.
    let (_, record) = app.get(&format!("/v1/visits/{id}/evv")).await;
    assert_eq!(record["service_code"], "T1019");
    assert_eq!(record["client_id"], visit.client.as_str());
    assert_eq!(record["caregiver_id"], visit.caregiver.as_str());
    assert!(record["service_date"].is_string());
    assert_eq!(record["check_out"]["latitude"], 41.98);
    assert_eq!(record["open_exceptions"], 1);

    let exception = open_exception(&app, &id, "outside_geofence").await;
    let resolve = format!("/v1/visits/{id}/exceptions/{exception}/resolve");
    // Bad resolutions are refused and change nothing.
    let (status, body) = app
        .post(
            &resolve,
            json!({"resolution_code": "authorization_updated", "note": "n"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("gps_unavailable"),
        "{body}"
    );
    let (status, _) = app
        .post(
            &format!(
                "/v1/visits/{id}/exceptions/{}/resolve",
                uuid::Uuid::new_v4()
            ),
            json!({"resolution_code": "gps_unavailable", "note": "n"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .post(
            &resolve,
            json!({"resolution_code": "gps_unavailable", "note": "  "}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.count(
            "select count(*) from visit_exceptions where visit_id = $1 and resolved_at is null",
            &id
        )
        .await,
        1
    );

    let (status, snapshot) = app
        .post(
            &resolve,
            json!({"resolution_code": "gps_unavailable", "note": "Phone lost its fix; client confirmed the visit"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{snapshot}");
    let (_, exceptions) = app.get(&format!("/v1/visits/{id}/exceptions")).await;
    assert_eq!(
        exceptions[0]["resolved_by"], "e2e-admin",
        "who the token says"
    );
    // The workflow bills on its own: no further request.
    let frames = visit
        .events
        .frames_until(&id, "homecare.invoice.created")
        .await;
    assert!(types(&frames, &id).contains(&"homecare.visit.exception_resolved".to_owned()));
    // 60 verified minutes = 4 units x 7.50 = 30.00
    assert_eq!(frames.last().unwrap()["event"]["data"]["amount"], "30.00");
    let result = app.workflow_result(&id).await;
    assert_eq!(result.status, VisitStatus::Invoiced);
    assert!(result.held_by.is_empty());
    // Resolving again after billing is refused; there is still one line.
    let (status, _) = app
        .post(
            &resolve,
            json!({"resolution_code": "verified_with_client", "note": "again"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        app.count(
            "select count(*) from invoice_lines where visit_id = $1",
            &id
        )
        .await,
        1
    );
    let (_, holds) = app.get("/v1/billing/holds").await;
    assert!(
        holds
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["visit_id"] != id.as_str())
    );
    app.shutdown().await;
}

#[sqlx::test]
async fn a_visit_beyond_its_authorization_is_held_until_a_coordinator_bills_within_it(db: PgPool) {
    let app = TestApp::start(db).await;
    let mut events = app.events("").await;
    let client = app.create_client().await;
    let caregiver = app.create_caregiver(&[]).await;
    let today = Utc::now().date_naive();
    let (status, authorization) = app
        .post(
            &format!("/v1/clients/{client}/authorizations"),
            json!({"payer_id": PRIVATE_PAY, "service_code": "T1019", "units": 4, "per": "month",
                   "valid_from": today - chrono::Duration::days(40), "valid_to": today + chrono::Duration::days(40)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{authorization}");
    assert_eq!(authorization["remaining_units"], 4);
    // An overlapping authorization for the same service is refused.
    let (status, _) = app
        .post(
            &format!("/v1/clients/{client}/authorizations"),
            json!({"payer_id": PRIVATE_PAY, "service_code": "T1019", "units": 9, "per": "week",
                   "valid_from": today, "valid_to": today}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (start, end) = (minutes_ago(100), minutes_ago(10));
    let visit = app.create_visit(&client, start, end, &[]).await;
    events.frames_until(&visit, "homecare.visit.assigned").await;
    // 90 minutes = 6 units; 4 authorized.
    app.work(&visit, &caregiver, start, end).await;
    events.frames_until(&visit, "homecare.visit.held").await;
    let exception = open_exception(&app, &visit, "authorization_exceeded").await;
    let (status, _) = app
        .post(
            &format!("/v1/visits/{visit}/exceptions/{exception}/resolve"),
            json!({"resolution_code": "bill_within_authorization", "note": "Bill the 4 authorized units"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let frames = events
        .frames_until(&visit, "homecare.invoice.created")
        .await;
    let invoice = &frames.last().unwrap()["event"]["data"];
    // 4 units x 7.50 = 30.00; the 2 excess units are not billed.
    assert_eq!(
        (
            invoice["units"].as_i64(),
            invoice["unadjusted_units"].as_i64()
        ),
        (Some(4), Some(6))
    );
    assert_eq!(invoice["amount"], "30.00");
    let (_, authorizations) = app
        .get(&format!(
            "/v1/clients/{client}/authorizations?on={}",
            start.date_naive()
        ))
        .await;
    assert_eq!(authorizations[0]["used_units"], 4);
    assert_eq!(authorizations[0]["remaining_units"], 0);
    // The payer extends it: 10 units a month from now on.
    let authorization_id = authorizations[0]["id"].as_str().unwrap();
    let (status, extended) = app
        .put(
            &format!("/v1/clients/{client}/authorizations/{authorization_id}"),
            json!({"units": 10, "valid_to": today + chrono::Duration::days(60)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{extended}");
    let (_, authorizations) = app
        .get(&format!(
            "/v1/clients/{client}/authorizations?on={}",
            start.date_naive()
        ))
        .await;
    assert_eq!(authorizations[0]["remaining_units"], 6);
    // Coordinators read authorizations but do not change them.
    let coordinator = crate::helpers::authenticated_client(
        &app.token(homecare_api::auth::Role::Coordinator, None),
    );
    let response = coordinator
        .put(format!(
            "{}/v1/clients/{client}/authorizations/{authorization_id}",
            app.base
        ))
        .json(&json!({"units": 99, "valid_to": today}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    app.shutdown().await;
}

#[sqlx::test]
async fn a_visit_left_checked_in_is_closed_by_its_timer_and_bills_from_the_entered_end(db: PgPool) {
    let app = TestApp::start(db).await;
    let (_, mut agency) = app.get("/v1/agency").await;
    agency["missed_check_out_after_minutes"] = json!(1);
    let (status, body) = app.put("/v1/agency", agency).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (start, end) = (minutes_ago(30), Utc::now() - chrono::Duration::seconds(5));
    let mut visit = app.assigned_visit(start, end).await;
    let id = visit.visit.clone();
    let (status, _) = app
        .post(
            &format!("/v1/visits/{id}/check-in"),
            evv_at(&visit.caregiver, start, 41.94),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // One minute after the scheduled end the visit closes on its own.
    let frames = visit
        .events
        .frames_until_within(&id, "homecare.visit.held", Duration::from_secs(120))
        .await;
    let completed = frames
        .iter()
        .find(|f| {
            f["event"]["subject"] == id.as_str() && f["event"]["type"] == "homecare.visit.completed"
        })
        .expect("completed by the timer");
    assert_eq!(completed["event"]["data"]["missed_check_out"], true);
    // The caregiver's late check-out is refused: the coordinator enters the end.
    let (status, _) = app
        .post(
            &format!("/v1/visits/{id}/check-out"),
            evv_at(&visit.caregiver, Utc::now(), 41.94),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let exception = open_exception(&app, &id, "missed_check_out").await;
    let resolve = format!("/v1/visits/{id}/exceptions/{exception}/resolve");
    let (status, body) = app
        .post(
            &resolve,
            json!({"resolution_code": "caregiver_forgot", "note": "Left at 25 min"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["errors"][0]["field"], "check_out_at");
    let (status, body) = app
        .post(
            &resolve,
            json!({"resolution_code": "caregiver_forgot", "note": "Left at 25 min",
                   "check_out_at": start + chrono::Duration::minutes(25)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let frames = visit
        .events
        .frames_until(&id, "homecare.invoice.created")
        .await;
    // 25 minutes = 2 units (23-37) x 7.50 = 15.00
    assert_eq!(frames.last().unwrap()["event"]["data"]["amount"], "15.00");
    let result = app.workflow_result(&id).await;
    assert_eq!(
        result.checked_out_at,
        Some(start + chrono::Duration::minutes(25))
    );
    app.shutdown().await;
}

#[sqlx::test]
async fn claims_form_once_and_export_an_837p_that_pyx12_accepts(db: PgPool) {
    let app = TestApp::start(db).await;
    let mut events = app.events("").await;
    let client = app.create_client().await;
    let caregiver = app.create_caregiver(&[]).await;
    for (start, end) in [
        (minutes_ago(300), minutes_ago(240)),
        (minutes_ago(200), minutes_ago(110)),
    ] {
        let visit = app.create_visit(&client, start, end, &[]).await;
        events.frames_until(&visit, "homecare.visit.assigned").await;
        app.work(&visit, &caregiver, start, end).await;
        events
            .frames_until(&visit, "homecare.invoice.created")
            .await;
    }
    let coverage = json!({"member_id": "MBR-1001", "last_name": "PARK", "first_name": "ELEANOR",
        "date_of_birth": "1941-06-02", "gender": "F", "address_line": "1452 W BELMONT AVE",
        "city": "CHICAGO", "state": "IL", "postal_code": "60657", "diagnosis_codes": ["R262", "I10"]});
    // Hostile coverage is refused field by field and nothing is written.
    let mut bad = coverage.clone();
    bad["diagnosis_codes"] = json!(["R26.2"]);
    bad["last_name"] = json!("PARK*ISA");
    let (status, body) = app
        .put(
            &format!("/v1/clients/{client}/coverages/{PRIVATE_PAY}"),
            bad,
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"].as_array().unwrap().len(), 2, "{body}");
    let (status, body) = app
        .put(
            &format!("/v1/clients/{client}/coverages/{PRIVATE_PAY}"),
            coverage,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Service dates are the client's local dates: a window of a few days around today.
    let today = Utc::now().date_naive();
    let (from, to) = (
        today - chrono::Duration::days(3),
        today + chrono::Duration::days(1),
    );
    let period = json!({"payer_id": PRIVATE_PAY, "from": from, "to": to});
    let (status, formed) = app.post("/v1/claims", period.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{formed}");
    let claims = formed["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 1);
    // 60 min = 30.00, 90 min = 45.00
    assert_eq!(claims[0]["total"], "75.00");
    assert_eq!(claims[0]["line_count"], 2);
    let (status, again) = app.post("/v1/claims", period).await;
    assert_eq!(status, StatusCode::OK);
    assert!(again["claims"].as_array().unwrap().is_empty());

    let query = format!("payer={PRIVATE_PAY}&from={from}&to={to}");
    let (status, file) = app.get(&format!("/v1/claims/837p?{query}")).await;
    assert_eq!(status, StatusCode::OK);
    let file = file.as_str().expect("an X12 text file");
    assert!(file.starts_with("ISA*"), "{file}");
    assert!(file.contains("*75.00*"), "{file}");
    pyx12::pyx12_check("e2e_claims", file).unwrap_or_else(|report| panic!("{report}"));
    let (status, _) = app
        .get(&format!(
            "/v1/claims/837p?payer={PRIVATE_PAY}&from={to}&to={from}"
        ))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .get(&format!(
            "/v1/claims/837p?payer={}&from={from}&to={to}",
            uuid::Uuid::new_v4()
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.shutdown().await;
}
