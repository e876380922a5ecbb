//! A visit's whole life through the REST API, and the ways it can go wrong.

use homecare_domain::VisitStatus;
use homecare_workflows::visit::{CAREGIVER_ID, CLIENT_ID, VISIT_STATUS};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use temporalio_client::{
    WorkflowDescribeOptions, WorkflowExecutionStatus, WorkflowFetchHistoryOptions,
};
use temporalio_common::protos::temporal::api::enums::v1::EventType;

use crate::helpers::{AssignedVisit, TestApp, minutes_ago, types};

const ORDER: [&str; 4] = [
    "homecare.visit.assigned",
    "homecare.visit.checked_in",
    "homecare.visit.completed",
    "homecare.invoice.created",
];

#[sqlx::test]
async fn a_visit_goes_from_creation_to_one_exact_invoice_line(db: PgPool) {
    let app = TestApp::start(db).await;
    let mut events = app.events("").await;
    let client = app.create_client().await;
    let caregiver = app.create_caregiver(&["personal_care"]).await;
    let (start, end) = (minutes_ago(120), minutes_ago(60));
    let visit = app
        .create_visit(&client, start, end, &["personal_care"])
        .await;

    let assigned = events.frames_until(&visit, "homecare.visit.assigned").await;
    assert_eq!(
        assigned.last().unwrap()["event"]["data"]["caregiver_id"],
        caregiver.as_str()
    );

    let (status, snapshot) = app
        .post(
            &format!("/v1/visits/{visit}/check-in"),
            TestApp::evv(&caregiver, start + chrono::Duration::minutes(1)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{snapshot}");
    assert_eq!(snapshot["status"], "checked_in");
    // 96 verified minutes: (96 + 7) / 15 = 6 units x 7.50 (Private Pay, T1019) = 45.00
    let (status, snapshot) = app
        .post(
            &format!("/v1/visits/{visit}/check-out"),
            TestApp::evv(&caregiver, start + chrono::Duration::minutes(97)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{snapshot}");
    assert_eq!(snapshot["status"], "completed");

    let mut frames = assigned;
    frames.extend(
        events
            .frames_until(&visit, "homecare.invoice.created")
            .await,
    );
    assert_eq!(
        types(&frames, &visit),
        ORDER,
        "the socket saw the lifecycle in order"
    );
    let invoice = &frames.last().unwrap()["event"]["data"];
    assert_eq!(invoice["amount"], "45.00");

    let (status, lines) = app
        .get(&format!("/v1/invoice-lines?visit_id={visit}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let lines = lines.as_array().unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["amount"], "45.00");
    assert_eq!(lines[0]["units"], 6);
    assert_eq!(lines[0]["billed_minutes"], 96);

    let result = app.workflow_result(&visit).await;
    assert_eq!(result.status, VisitStatus::Invoiced);
    assert_eq!(result.invoice.unwrap().amount.to_string(), "45.00");
    assert_eq!(
        app.workflow_status(&visit).await,
        WorkflowExecutionStatus::Completed
    );
    // Coordinators filter on these in the Temporal UI; they end current.
    let handle = app
        .temporal
        .get_workflow_handle::<homecare_workflows::VisitWorkflow>(format!("visit-{visit}"));
    let attributes = handle
        .describe(WorkflowDescribeOptions::default())
        .await
        .unwrap()
        .search_attributes();
    assert_eq!(attributes.get(&CLIENT_ID).as_deref(), Some(client.as_str()));
    assert_eq!(
        attributes.get(&CAREGIVER_ID).as_deref(),
        Some(caregiver.as_str())
    );
    assert_eq!(attributes.get(&VISIT_STATUS).as_deref(), Some("invoiced"));
    // The API starts the workflow with its search attributes, so the workflow
    // upserts only its four state changes, and no patch marker is written.
    let history = handle
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
        .unwrap();
    let count = |kind: EventType| history.iter().filter(|e| e.event_type() == kind).count();
    assert_eq!(count(EventType::UpsertWorkflowSearchAttributes), 4);
    assert_eq!(count(EventType::MarkerRecorded), 0);
    let (_, detail) = app.get(&format!("/v1/visits/{visit}")).await;
    assert_eq!(detail["status"], "invoiced");
    assert_eq!(detail["workflow"]["execution_status"], "Completed");
    app.shutdown().await;
}

#[sqlx::test]
async fn the_same_check_out_sent_twice_bills_once(db: PgPool) {
    let app = TestApp::start(db).await;
    let mut events = app.events("").await;
    let client = app.create_client().await;
    let caregiver = app.create_caregiver(&[]).await;
    let start = minutes_ago(90);
    let visit = app.create_visit(&client, start, minutes_ago(30), &[]).await;
    events.frames_until(&visit, "homecare.visit.assigned").await;
    let check_in = TestApp::evv(&caregiver, start);
    assert_eq!(
        app.post(&format!("/v1/visits/{visit}/check-in"), check_in)
            .await
            .0,
        StatusCode::OK
    );

    // A phone retrying with its Idempotency-Key gets the first answer again.
    let check_out = TestApp::evv(&caregiver, minutes_ago(31));
    let path = format!("/v1/visits/{visit}/check-out");
    let send = |body, key| app.request(reqwest::Method::POST, &path, Some(body), key);
    let first = send(check_out.clone(), Some("phone-42")).await;
    let retry = send(check_out.clone(), Some("phone-42")).await;
    assert_eq!(first.0, StatusCode::OK, "{}", first.1);
    assert_eq!(retry, first);
    // A different check-out is refused: the visit is already checked out.
    let other_time = TestApp::evv(&caregiver, minutes_ago(20));
    let (status, problem) = send(other_time, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");

    events
        .frames_until(&visit, "homecare.invoice.created")
        .await;
    app.workflow_result(&visit).await;
    // After the workflow has finished: the same key still gets the first answer,
    // and an exact duplicate under a new key gets the visit as it is now.
    assert_eq!(send(check_out.clone(), Some("phone-42")).await, first);
    let (status, duplicate) = send(check_out, Some("phone-43")).await;
    assert_eq!(status, StatusCode::OK, "{duplicate}");
    assert_eq!(duplicate["status"], "invoiced");
    assert_eq!(
        app.count(
            "select count(*) from invoice_lines where visit_id = $1",
            &visit
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "select count(*) from evv_records where visit_id = $1 and kind = 'check_out'",
            &visit
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "select count(*) from visit_events where visit_id = $1",
            &visit
        )
        .await,
        4
    );
    app.shutdown().await;
}

#[sqlx::test]
async fn commands_the_visit_state_forbids_are_refused_synchronously(db: PgPool) {
    let app = TestApp::start(db).await;
    let mut events = app.events("").await;
    let client = app.create_client().await;
    let caregiver = app.create_caregiver(&[]).await;
    let start = minutes_ago(60);
    let visit = app.create_visit(&client, start, minutes_ago(0), &[]).await;
    events.frames_until(&visit, "homecare.visit.assigned").await;
    let check_in = format!("/v1/visits/{visit}/check-in");
    let check_out = format!("/v1/visits/{visit}/check-out");
    let stranger = uuid::Uuid::new_v4().to_string();

    let (status, problem) = app.post(&check_in, TestApp::evv(&stranger, start)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("/wrong_caregiver")
    );

    let (status, problem) = app.post(&check_out, TestApp::evv(&caregiver, start)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("/invalid_state")
    );

    assert_eq!(
        app.post(&check_in, TestApp::evv(&caregiver, start)).await.0,
        StatusCode::OK
    );
    let (status, problem) = app.post(&check_in, TestApp::evv(&caregiver, start)).await;
    assert_eq!(status, StatusCode::CONFLICT, "a second check-in: {problem}");

    let before_check_in = start - chrono::Duration::minutes(5);
    let (status, problem) = app
        .post(&check_out, TestApp::evv(&caregiver, before_check_in))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert!(problem["type"].as_str().unwrap().ends_with("/invalid_time"));

    // None of the refused commands wrote anything.
    assert_eq!(
        app.count(
            "select count(*) from evv_records where visit_id = $1",
            &visit
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "select count(*) from visit_events where visit_id = $1",
            &visit
        )
        .await,
        2
    );
    app.shutdown().await;
}

#[sqlx::test]
async fn a_visit_can_be_cancelled_before_completion_and_not_after(db: PgPool) {
    let app = TestApp::start(db).await;
    let mut events = app.events("").await;
    let client = app.create_client().await;
    let caregiver = app.create_caregiver(&[]).await;

    let cancelled = app
        .create_visit(&client, minutes_ago(-60), minutes_ago(-120), &[])
        .await;
    events
        .frames_until(&cancelled, "homecare.visit.assigned")
        .await;
    let (status, snapshot) = app
        .post(
            &format!("/v1/visits/{cancelled}/cancel"),
            json!({"reason": "client in hospital"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{snapshot}");
    assert_eq!(snapshot["status"], "cancelled");
    events
        .frames_until(&cancelled, "homecare.visit.cancelled")
        .await;
    assert_eq!(
        app.workflow_result(&cancelled)
            .await
            .cancel_reason
            .as_deref(),
        Some("client in hospital")
    );

    // The cancelled visit freed the caregiver for the same slot.
    let replacement = app
        .create_visit(&client, minutes_ago(-60), minutes_ago(-120), &[])
        .await;
    let frames = events
        .frames_until(&replacement, "homecare.visit.assigned")
        .await;
    assert_eq!(
        frames.last().unwrap()["event"]["data"]["caregiver_id"],
        caregiver.as_str()
    );

    let done = app
        .create_visit(&client, minutes_ago(240), minutes_ago(180), &[])
        .await;
    events.frames_until(&done, "homecare.visit.assigned").await;
    let (s1, _) = app
        .post(
            &format!("/v1/visits/{done}/check-in"),
            TestApp::evv(&caregiver, minutes_ago(240)),
        )
        .await;
    let (s2, _) = app
        .post(
            &format!("/v1/visits/{done}/check-out"),
            TestApp::evv(&caregiver, minutes_ago(181)),
        )
        .await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));
    events.frames_until(&done, "homecare.invoice.created").await;
    app.workflow_result(&done).await;
    let (status, problem) = app
        .post(
            &format!("/v1/visits/{done}/cancel"),
            json!({"reason": "too late"}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    app.shutdown().await;
}

#[sqlx::test]
async fn a_worker_stopped_mid_visit_finishes_it_after_restart_with_nothing_lost_or_doubled(
    db: PgPool,
) {
    let mut app = TestApp::start_with(db, |s| s.update_timeout_secs = 3).await;
    let AssignedVisit {
        mut events,
        mut frames,
        caregiver,
        visit,
        start,
        ..
    } = app.assigned_visit(minutes_ago(60), minutes_ago(0)).await;
    assert_eq!(
        app.post(
            &format!("/v1/visits/{visit}/check-in"),
            TestApp::evv(&caregiver, start)
        )
        .await
        .0,
        StatusCode::OK
    );
    frames.extend(
        events
            .frames_until(&visit, "homecare.visit.checked_in")
            .await,
    );

    app.stop_worker().await;
    let path = format!("/v1/visits/{visit}/check-out");
    let check_out = TestApp::evv(&caregiver, minutes_ago(2));
    let (status, problem) = app
        .request(
            reqwest::Method::POST,
            &path,
            Some(check_out.clone()),
            Some("co-1"),
        )
        .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");

    app.start_worker().await;
    let (status, snapshot) = app
        .request(reqwest::Method::POST, &path, Some(check_out), Some("co-1"))
        .await;
    assert_eq!(status, StatusCode::OK, "{snapshot}");
    frames.extend(
        events
            .frames_until(&visit, "homecare.invoice.created")
            .await,
    );

    assert_eq!(
        types(&frames, &visit),
        ORDER,
        "each event exactly once, in order"
    );
    assert_eq!(
        app.workflow_result(&visit).await.status,
        VisitStatus::Invoiced
    );
    assert_eq!(
        app.count(
            "select count(*) from invoice_lines where visit_id = $1",
            &visit
        )
        .await,
        1
    );
    assert_eq!(
        app.count(
            "select count(*) from evv_records where visit_id = $1",
            &visit
        )
        .await,
        2
    );
    app.shutdown().await;
}

#[sqlx::test]
async fn a_missing_check_in_raises_the_late_alert(db: PgPool) {
    let app = TestApp::start(db).await;
    // The agency's policy drives the alert's timer as it drives the EVV
    // exception: no separate setting.
    sqlx::query("update agency_settings set late_check_in_minutes = 0")
        .execute(&app.db)
        .await
        .unwrap();
    let mut events = app.events("?type=homecare.alert.late_check_in").await;
    let client = app.create_client().await;
    app.create_caregiver(&[]).await;
    let visit = app
        .create_visit(&client, minutes_ago(5), minutes_ago(-55), &[])
        .await;

    let alert = events.next_frame().await;
    assert_eq!(alert["event"]["subject"], visit.as_str());
    assert_eq!(alert["event"]["type"], "homecare.alert.late_check_in");
    // The event goes out when the activity commits, a moment before the
    // workflow applies the activity's result.
    app.snapshot_when(&visit, |s| s["late_alert_raised"] == true)
        .await;
    app.shutdown().await;
}

#[sqlx::test]
async fn a_visit_nobody_can_staff_is_unfilled_and_can_still_be_cancelled(db: PgPool) {
    let app = TestApp::start(db).await;
    let mut events = app.events("").await;
    let client = app.create_client().await;
    app.create_caregiver(&["personal_care"]).await;
    let visit = app
        .create_visit(
            &client,
            minutes_ago(-60),
            minutes_ago(-120),
            &["hoyer_lift"],
        )
        .await;

    let frames = events.frames_until(&visit, "homecare.alert.unfilled").await;
    assert_eq!(
        types(&frames, &visit),
        ["homecare.visit.unfilled", "homecare.alert.unfilled"]
    );
    let (status, snapshot) = app
        .post(
            &format!("/v1/visits/{visit}/cancel"),
            json!({"reason": "no hoyer-trained staff"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{snapshot}");
    assert_eq!(
        app.workflow_result(&visit).await.status,
        VisitStatus::Cancelled
    );
    app.shutdown().await;
}
