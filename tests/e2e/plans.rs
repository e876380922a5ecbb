//! Day plans through the API: the optimizer replans a day, the result passes the
//! hard-rule checks, the visits' workflows learn their new caregivers, and
//! `homecare.plan.completed` carries the figures.

use chrono::{Duration, NaiveTime, Utc};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::TestApp;

#[sqlx::test]
async fn a_day_plan_uncrosses_two_caregivers_and_reports_its_figures(db: PgPool) {
    let app = TestApp::start(db).await;
    let client = |name: &str, latitude: f64, longitude: f64| {
        app.post(
            "/v1/clients",
            json!({"name": name, "address": "1 Plan St", "latitude": latitude,
                   "longitude": longitude, "timezone": "UTC"}),
        )
    };
    let (_, north) = client("North", 41.94, -87.67).await;
    let (_, south) = client("South", 41.80, -87.60).await;
    let (north, south) = (north["id"].as_str().unwrap(), south["id"].as_str().unwrap());
    let date = (Utc::now() + Duration::days(30)).date_naive();
    let at = |hour: u32| {
        date.and_time(NaiveTime::from_hms_opt(hour, 0, 0).unwrap())
            .and_utc()
    };
    let visit = async |client: &str, hour: u32, skills: &[&str]| {
        app.create_visit(client, at(hour), at(hour + 1), skills)
            .await
    };
    let north_9 = visit(north, 9, &[]).await;
    let south_9 = visit(south, 9, &[]).await;
    let north_11 = visit(north, 11, &[]).await;
    let south_11 = visit(south, 11, &[]).await;
    let nobody = visit(north, 14, &["hoyer_lift"]).await;
    // No caregiver yet: all five wait unfilled. Caregivers added now do not wake
    // visits 30 days ahead (only the next 14 days are reconsidered at once).
    for v in [&north_9, &south_9, &north_11, &south_11, &nobody] {
        app.snapshot_when(v, |s| s["status"] == "unfilled").await;
    }
    let ann = app.create_caregiver(&[]).await;
    let ben = app.create_caregiver(&[]).await;
    // Crossed by hand: each caregiver drives between north and south (legal,
    // 32 minutes of travel in a 60-minute gap, but wasteful).
    for (v, who) in [
        (&north_9, &ann),
        (&south_11, &ann),
        (&south_9, &ben),
        (&north_11, &ben),
    ] {
        let (status, body) = app
            .put(
                &format!("/v1/visits/{v}/assignment"),
                json!({"caregiver_ids": [who]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    app.snapshot_when(&nobody, |s| s["status"] == "unfilled")
        .await;
    let mut events = app.events("").await;

    let (status, plan) = app
        .post(
            "/v1/plans",
            json!({"date": date, "timezone": "UTC", "time_limit_seconds": 1}),
        )
        .await;

    assert_eq!(status, StatusCode::ACCEPTED, "{plan}");
    let plan_id = plan["id"].as_str().unwrap().to_owned();
    let frames = events
        .frames_until(&plan_id, "homecare.plan.completed")
        .await;
    let figures = &frames.last().unwrap()["event"]["data"];
    assert_eq!(figures["visits"], 5, "{figures}");
    assert_eq!(figures["caregivers"], 2);
    assert_eq!(figures["unfilled"], 1, "nobody has the skill");
    // Uncrossing moves two visits (or all four, if the two swap sides).
    let changed = figures["changed"].as_i64().unwrap();
    assert!(changed == 2 || changed == 4, "{figures}");
    assert!(figures["travel_minutes"].as_f64().unwrap() > 0.0);
    let caregiver =
        |snapshot: &serde_json::Value| snapshot["caregiver_id"].as_str().unwrap().to_owned();
    let mut by_visit = Vec::new();
    for v in [&north_9, &north_11, &south_9, &south_11] {
        let (_, detail) = app.get(&format!("/v1/visits/{v}")).await;
        let snapshot = app
            .snapshot_when(v, |s| s["caregiver_id"] == detail["caregiver_id"])
            .await;
        by_visit.push(caregiver(&snapshot));
    }
    assert_eq!(by_visit[0], by_visit[1], "one caregiver stays north");
    assert_eq!(by_visit[2], by_visit[3], "the other stays south");
    assert_ne!(by_visit[0], by_visit[2]);
    let (_, stored) = app.get(&format!("/v1/plans/{plan_id}")).await;
    assert_eq!(stored["status"], "completed");
    assert_eq!(stored["changed"], changed);
    let decided: i64 = sqlx::query_scalar(
        "select count(*) from assignment_decisions where decided_by = 'planner' and plan_id = $1::uuid",
    )
    .bind(&plan_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(decided, changed);
    let (status, _) = app
        .post(
            "/v1/plans",
            json!({"date": date, "timezone": "Mars/Olympus"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    app.shutdown().await;
}
