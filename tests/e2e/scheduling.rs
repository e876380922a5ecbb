//! The scheduling engine through the API: call-outs reassign at once, the
//! candidates view explains every choice, manual assignments obey the hard rules,
//! unfilled visits fill as soon as someone can take them, two-person visits.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, minutes_ago};

fn caregiver_ids(snapshot: &Value) -> Vec<String> {
    snapshot["caregiver_ids"]
        .as_array()
        .map(|ids| ids.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[sqlx::test]
async fn a_call_out_reassigns_each_visit_and_only_the_new_caregiver_can_check_in(db: PgPool) {
    let app = TestApp::start(db).await;
    let client = app.create_client().await;
    let maria = app.create_caregiver(&[]).await;
    let james = app.create_caregiver(&[]).await;
    let (start, end) = (minutes_ago(-60), minutes_ago(-120));
    let first = app.create_visit(&client, start, end, &[]).await;
    let second = app
        .create_visit(&client, end, end + Duration::minutes(60), &[])
        .await;
    for visit in [&first, &second] {
        app.snapshot_when(visit, |s| s["status"] == "assigned")
            .await;
        let (status, snapshot) = app
            .put(
                &format!("/v1/visits/{visit}/assignment"),
                json!({"caregiver_ids": [maria]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{snapshot}");
        assert_eq!(snapshot["caregiver_id"], maria.as_str());
    }
    let mut events = app.events("").await;

    let (status, outcome) = app
        .post(
            &format!("/v1/caregivers/{maria}/call-outs"),
            json!({"start": minutes_ago(0), "end": minutes_ago(-600), "reason": "sick"}),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{outcome}");
    assert_eq!(outcome["status"], "decided");
    let changes = outcome["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{outcome}");
    for change in changes {
        assert_eq!(change["status"], "assigned");
        assert_eq!(change["caregiver_ids"], json!([james]));
    }
    for visit in [&first, &second] {
        let frames = events.frames_until(visit, "homecare.visit.assigned").await;
        let data = &frames.last().unwrap()["event"]["data"];
        assert_eq!(data["caregiver_id"], james.as_str());
        assert_eq!(data["previous_caregiver_ids"], json!([maria]));
        assert_eq!(data["decided_by"], "call_out");
        let snapshot = app
            .snapshot_when(visit, |s| s["caregiver_id"] == james.as_str())
            .await;
        assert_eq!(snapshot["status"], "assigned");
    }
    let (status, call_out) = app
        .get(&format!(
            "/v1/call-outs/{}",
            outcome["call_out_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{call_out}");
    assert_eq!(call_out["changes"], outcome["changes"]);
    let (status, refused) = app
        .post(
            &format!("/v1/visits/{first}/check-in"),
            TestApp::evv(&maria, minutes_ago(0)),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let (status, body) = app
        .post(
            &format!("/v1/visits/{first}/check-in"),
            TestApp::evv(&james, minutes_ago(0)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.shutdown().await;
}

#[sqlx::test]
async fn candidates_explain_every_caregiver_and_a_manual_assignment_breaking_a_rule_is_refused(
    db: PgPool,
) {
    let app = TestApp::start(db).await;
    let (status, client) = app
        .post(
            "/v1/clients",
            json!({"name": "Rosa Garcia", "address": "2 Test Ave", "latitude": 41.9,
                   "longitude": -87.7, "timezone": "America/Chicago", "required_language": "es"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    let client = client["id"].as_str().unwrap().to_owned();
    let ana = app
        .create_caregiver_from(json!({"name": "Ana", "languages": ["es", "en"],
            "credentials": [{"skill": "hoyer_lift", "expires_on": "2099-12-31"}]}))
        .await;
    let bob = app
        .create_caregiver_from(
            json!({"name": "Bob", "languages": ["en"], "skills": ["hoyer_lift"]}),
        )
        .await;
    let cara = app
        .create_caregiver_from(json!({"name": "Cara", "languages": ["es"],
            "credentials": [{"skill": "hoyer_lift", "expires_on": "2020-01-31"}]}))
        .await;
    let visit = app
        .create_visit(
            &client,
            minutes_ago(-60),
            minutes_ago(-120),
            &["hoyer_lift"],
        )
        .await;
    let snapshot = app
        .snapshot_when(&visit, |s| s["status"] == "assigned")
        .await;
    assert_eq!(
        snapshot["caregiver_id"],
        ana.as_str(),
        "the only eligible one"
    );

    let (status, view) = app.get(&format!("/v1/visits/{visit}/candidates")).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    let eligible = view["eligible"].as_array().unwrap();
    assert_eq!(eligible.len(), 1, "{view}");
    assert_eq!(eligible[0]["caregiver_id"], ana.as_str());
    for term in [
        "continuity",
        "preferred",
        "travel",
        "overtime",
        "balance",
        "total",
    ] {
        assert!(eligible[0]["score"][term].is_number(), "{term} in {view}");
    }
    let why_not = |id: &str| -> Vec<String> {
        view["ineligible"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["caregiver_id"] == id)
            .unwrap()["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["rule"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(why_not(&bob), ["language_mismatch"]);
    assert_eq!(why_not(&cara), ["credential_expired"]);

    let (status, problem) = app
        .put(
            &format!("/v1/visits/{visit}/assignment"),
            json!({"caregiver_ids": [bob]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["violations"][0]["caregiver_id"], bob.as_str());
    assert_eq!(
        problem["violations"][0]["violations"][0]["rule"],
        "language_mismatch"
    );
    let (_, detail) = app.get(&format!("/v1/visits/{visit}")).await;
    assert_eq!(detail["caregiver_id"], ana.as_str(), "nothing changed");
    let (status, _) = app
        .put(
            &format!("/v1/visits/{visit}/assignment"),
            json!({"caregiver_ids": [ana, bob]}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "one caregiver for this visit"
    );
    app.shutdown().await;
}

#[sqlx::test]
async fn an_unfilled_visit_is_filled_as_soon_as_someone_can_take_it(db: PgPool) {
    // The retry timer is 15 minutes: only the reconsider signal can fill it in time.
    let app = TestApp::start(db).await;
    let mut events = app.events("").await;
    let client = app.create_client().await;
    app.create_caregiver(&["personal_care"]).await;
    let visit = app
        .create_visit(&client, minutes_ago(-60), minutes_ago(-120), &["dementia"])
        .await;
    events.frames_until(&visit, "homecare.alert.unfilled").await;

    let newcomer = app.create_caregiver(&["dementia"]).await;

    let frames = events.frames_until(&visit, "homecare.visit.assigned").await;
    assert_eq!(
        frames.last().unwrap()["event"]["data"]["caregiver_id"],
        newcomer.as_str()
    );
    app.snapshot_when(&visit, |s| s["caregiver_id"] == newcomer.as_str())
        .await;
    app.shutdown().await;
}

#[sqlx::test]
async fn a_two_person_visit_is_staffed_by_two_distinct_caregivers(db: PgPool) {
    let app = TestApp::start(db).await;
    let client = app.create_client().await;
    for _ in 0..3 {
        app.create_caregiver(&[]).await;
    }
    let (status, visit) = app
        .post(
            "/v1/visits",
            json!({"client_id": client, "scheduled_start": minutes_ago(-60),
                   "scheduled_end": minutes_ago(-120), "caregivers_needed": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{visit}");
    let visit = visit["id"].as_str().unwrap().to_owned();
    app.track(&visit);
    let snapshot = app
        .snapshot_when(&visit, |s| s["status"] == "assigned")
        .await;
    let ids = caregiver_ids(&snapshot);
    assert_eq!(ids.len(), 2, "{snapshot}");
    assert_ne!(ids[0], ids[1]);
    let (_, detail) = app.get(&format!("/v1/visits/{visit}")).await;
    assert_eq!(detail["caregiver_ids"], json!(ids));
    app.shutdown().await;
}

#[sqlx::test]
async fn a_rescheduled_visit_moves_to_whoever_is_free_at_the_new_time(db: PgPool) {
    let app = TestApp::start(db).await;
    let client = app.create_client().await;
    let maria = app.create_caregiver(&[]).await;
    let james = app.create_caregiver(&[]).await;
    let (start, end) = (minutes_ago(-60), minutes_ago(-120));
    let visit = app.create_visit(&client, start, end, &[]).await;
    let busy_at = (minutes_ago(-300), minutes_ago(-360));
    let other = app.create_visit(&client, busy_at.0, busy_at.1, &[]).await;
    for v in [&visit, &other] {
        app.snapshot_when(v, |s| s["status"] == "assigned").await;
        let (status, body) = app
            .put(
                &format!("/v1/visits/{v}/assignment"),
                json!({"caregiver_ids": [maria]}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let mut events = app.events("").await;

    let (status, snapshot) = app
        .post(
            &format!("/v1/visits/{visit}/reschedule"),
            json!({"scheduled_start": busy_at.0, "scheduled_end": busy_at.1}),
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{snapshot}");
    assert_eq!(snapshot["caregiver_id"], james.as_str());
    let frames = events.frames_until(&visit, "homecare.visit.assigned").await;
    let kinds: Vec<&str> = frames
        .iter()
        .filter(|f| f["event"]["subject"] == visit.as_str())
        .map(|f| f["event"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["homecare.visit.rescheduled", "homecare.visit.assigned"]
    );
    let (_, detail) = app.get(&format!("/v1/visits/{visit}")).await;
    assert_eq!(detail["caregiver_ids"], json!([james]));
    let moved: chrono::DateTime<chrono::Utc> =
        detail["scheduled_start"].as_str().unwrap().parse().unwrap();
    assert!((moved - busy_at.0).num_milliseconds().abs() < 1);
    let (status, problem) = app
        .post(
            &format!("/v1/visits/{visit}/reschedule"),
            json!({"scheduled_start": busy_at.1, "scheduled_end": busy_at.0}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    app.shutdown().await;
}

#[sqlx::test]
async fn fifty_overlapping_visits_created_at_once_never_double_book(db: PgPool) {
    let app = TestApp::start(db).await;
    let client = app.create_client().await;
    let mut caregivers = Vec::new();
    for _ in 0..10 {
        caregivers.push(app.create_caregiver(&[]).await);
    }
    let base = minutes_ago(-600);
    // All 50 overlap between base+49 and base+60 minutes.
    let created = futures::future::join_all((0..50).map(|i| {
        let start = base + Duration::minutes(i);
        app.post(
            "/v1/visits",
            json!({"client_id": client, "scheduled_start": start,
                   "scheduled_end": base + Duration::minutes(60)}),
        )
    }))
    .await;
    let mut visits = Vec::new();
    for (status, visit) in created {
        assert_eq!(status, StatusCode::CREATED, "{visit}");
        let id = visit["id"].as_str().unwrap().to_owned();
        app.track(&id);
        visits.push(id);
    }
    for visit in &visits {
        app.snapshot_when(visit, |s| {
            s["status"] == "assigned" || s["status"] == "unfilled"
        })
        .await;
    }
    let (assigned, distinct, unfilled): (i64, i64, i64) = sqlx::query_as(
        "select count(*) filter (where status = 'assigned'),
                count(distinct caregiver_id) filter (where status = 'assigned'),
                count(*) filter (where status = 'unfilled')
           from visits",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((assigned, distinct, unfilled), (10, 10, 40));
    app.shutdown().await;
}

/// How many `reconsider` signals a visit's workflow has received.
async fn reconsider_signals(app: &TestApp, visit: &str) -> usize {
    use temporalio_client::WorkflowFetchHistoryOptions;
    use temporalio_common::protos::temporal::api::enums::v1::EventType;
    app.temporal
        .get_workflow_handle::<homecare_workflows::VisitWorkflow>(format!("visit-{visit}"))
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event_type() == EventType::WorkflowExecutionSignaled)
        .count()
}

/// A cancel wakes only the unfilled visits its freed caregiver could take: a
/// visit that needs a skill she lacks is left to its own timer (waking it
/// would only make it decide "still nobody"), one she can take is filled at
/// once.
#[sqlx::test]
async fn a_cancel_wakes_only_the_unfilled_visits_the_freed_caregiver_could_take(db: PgPool) {
    let app = TestApp::start(db).await;
    let mut events = app.events("").await;
    let client = app.create_client().await;
    let maria = app.create_caregiver(&["personal_care"]).await;
    let (start, end) = (minutes_ago(-60), minutes_ago(-120));
    let booked = app.create_visit(&client, start, end, &[]).await;
    events
        .frames_until(&booked, "homecare.visit.assigned")
        .await;
    // Maria is busy at that hour: this one waits unfilled, though she could do it.
    let servable = app
        .create_visit(&client, start, end, &["personal_care"])
        .await;
    events
        .frames_until(&servable, "homecare.alert.unfilled")
        .await;
    // Nobody has this skill.
    let hopeless = app
        .create_visit(&client, start, end, &["tracheostomy_care"])
        .await;
    events
        .frames_until(&hopeless, "homecare.alert.unfilled")
        .await;

    let (status, _) = app
        .post(
            &format!("/v1/visits/{booked}/cancel"),
            json!({"reason": "client in hospital"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let frames = events
        .frames_until(&servable, "homecare.visit.assigned")
        .await;
    assert_eq!(
        frames.last().unwrap()["event"]["data"]["caregiver_id"],
        maria.as_str(),
        "the freed caregiver takes the visit she could do, without waiting for its timer"
    );
    assert_eq!(reconsider_signals(&app, &servable).await, 1);
    assert_eq!(
        reconsider_signals(&app, &hopeless).await,
        0,
        "a visit the freed caregiver cannot take is not woken"
    );
    app.shutdown().await;
}
