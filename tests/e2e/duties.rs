//! Duties end to end: a care plan's duties shown on its visits, the duties a
//! check-out reports stored with the EVV record, and a required duty left
//! undone raising `missing_duty` under the agency's policy.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::care_plans::{
    EVERY_DAY, client_in, generated_when, horizon_days, late_morning_zone, plan, today_in, weekly,
};
use crate::helpers::{TestApp, types};

/// A client whose plan (with `duties`) has one visit today at noon, an hour
/// or two ahead, assigned: (caregiver, visit).
async fn todays_visit(app: &TestApp, duties: Value) -> (String, String) {
    horizon_days(app, 1).await;
    let (zone, tz) = late_morning_zone();
    let client = client_in(app, &zone).await;
    let caregiver = app.create_caregiver(&[]).await;
    let today = today_in(tz);
    let plan = plan(app, &client, today, duties).await;
    weekly(
        app,
        &client,
        &plan,
        &EVERY_DAY,
        ("12:00", "14:00"),
        today,
        json!({}),
    )
    .await;
    let visits = generated_when(app, &plan, "assigned", |v| {
        v.len() == 1 && v[0].3 == "assigned"
    })
    .await;
    (caregiver, visits[0].0.to_string())
}

#[sqlx::test]
async fn duties_flow_from_the_check_out_to_the_evv_record(db: PgPool) {
    let app = TestApp::start(db).await;
    let (caregiver, visit) = todays_visit(
        &app,
        json!([{"code": "bathing", "required": true},
               {"code": "meal_preparation"},
               {"code": "medication_reminder", "required": true},
               {"code": "other", "text": "Water the plants"}]),
    )
    .await;
    let mut events = app.events("").await;
    // A duty not performed needs its reason, named beside the field.
    let now = Utc::now();
    // Duties are reported at check-out, not check-in.
    let mut check_in = TestApp::evv(&caregiver, now);
    check_in["duties"] = json!([{"code": "bathing", "performed": true}]);
    let (status, refused) = app
        .post(&format!("/v1/visits/{visit}/check-in"), check_in)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let (status, body) = app
        .post(
            &format!("/v1/visits/{visit}/check-in"),
            TestApp::evv(&caregiver, now),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut check_out = TestApp::evv(&caregiver, now + chrono::Duration::minutes(1));
    // An `other` duty is named.
    check_out["duties"] = json!([{"code": "other", "performed": true}]);
    let (status, refused) = app
        .post(&format!("/v1/visits/{visit}/check-out"), check_out.clone())
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused.to_string().contains("duties[0].text"), "{refused}");
    check_out["duties"] = json!([{"code": "meal_preparation", "performed": false}]);
    let (status, refused) = app
        .post(&format!("/v1/visits/{visit}/check-out"), check_out.clone())
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        refused.to_string().contains("duties[0].reason"),
        "{refused}"
    );

    // Bathing done, the meal refused by the client, the medication reminder
    // not reported: the required duty missing is an EVV exception.
    let reported = json!([
        {"code": "bathing", "performed": true},
        {"code": "meal_preparation", "performed": false, "reason": "client had eaten"},
        {"code": "other", "text": "Water the plants", "performed": true}
    ]);
    check_out["duties"] = reported.clone();
    let (status, body) = app
        .post(&format!("/v1/visits/{visit}/check-out"), check_out)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    events
        .frames_until(&visit, "homecare.visit.completed")
        .await;

    let (_, evv) = app.get(&format!("/v1/visits/{visit}/evv")).await;
    assert_eq!(evv["check_out"]["duties"], reported, "{evv}");
    assert_eq!(evv["check_in"]["duties"], Value::Null, "{evv}");
    let (_, shown) = app.get(&format!("/v1/visits/{visit}")).await;
    assert_eq!(shown["reported_duties"], reported, "{shown}");
    let (_, exceptions) = app.get(&format!("/v1/visits/{visit}/exceptions")).await;
    let missing: Vec<&Value> = exceptions
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["code"] == "missing_duty")
        .collect();
    assert_eq!(missing.len(), 1, "{exceptions}");
    assert_eq!(missing[0]["source"], "check_out");
    assert_eq!(
        missing[0]["detail"]["missing"],
        json!([{"code": "medication_reminder", "required": true}])
    );

    // The coordinator learns the client declined it: the visit bills.
    let exception = missing[0]["id"].as_str().unwrap();
    let (status, body) = app
        .post(
            &format!("/v1/visits/{visit}/exceptions/{exception}/resolve"),
            json!({"resolution_code": "client_declined", "note": "Took it before we came"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let frames = events
        .frames_until(&visit, "homecare.invoice.created")
        .await;
    assert!(
        types(&frames, &visit).contains(&"homecare.visit.held".to_owned()),
        "held until resolved: {frames:?}"
    );
    app.shutdown().await;
}

#[sqlx::test]
async fn without_the_policy_a_missing_duty_raises_nothing(db: PgPool) {
    let app = TestApp::start(db).await;
    sqlx::query("update agency_settings set missing_duty_raises_exception = false")
        .execute(&app.db)
        .await
        .unwrap();
    let (caregiver, visit) =
        todays_visit(&app, json!([{"code": "bathing", "required": true}])).await;
    let mut events = app.events("").await;
    let now = Utc::now();
    app.work(&visit, &caregiver, now, now + chrono::Duration::minutes(1))
        .await;
    let frames = events
        .frames_until(&visit, "homecare.invoice.created")
        .await;
    let seen = types(&frames, &visit);
    assert!(
        !seen
            .iter()
            .any(|t| t == "homecare.visit.held" || t == "homecare.visit.exception_raised"),
        "{seen:?}"
    );
    let (_, exceptions) = app.get(&format!("/v1/visits/{visit}/exceptions")).await;
    assert_eq!(exceptions, json!([]));
    app.shutdown().await;
}
