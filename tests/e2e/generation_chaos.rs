//! A worker killed while it generates a client's visits: the retried
//! generation starts what the first left without a workflow, and creates
//! nothing twice.

use std::time::{Duration, Instant};

use chrono::Days;
use chrono_tz::Tz;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::care_plans::{
    EVERY_DAY, client_in, generated, generated_when, horizon_days, plan, today_in,
};
use crate::chaos::{spawn_worker, stream_holds_each_once, worker_process};
use crate::helpers::TestApp;

#[sqlx::test]
async fn a_worker_killed_during_generation_leaves_no_duplicate(db: PgPool) {
    let mut app = TestApp::start_with(db, |s| s.update_timeout_secs = 30).await;
    let (database, mut worker) = worker_process(&mut app).await;
    horizon_days(&app, 62).await;
    let tz: Tz = "America/Chicago".parse().unwrap();
    let client = client_in(&app, "America/Chicago").await;
    for _ in 0..4 {
        app.create_caregiver(&[]).await;
    }
    let tomorrow = today_in(tz) + Days::new(1);
    let plan = plan(&app, &client, tomorrow, json!([])).await;
    let (status, first) = app
        .post(
            &format!("/v1/clients/{client}/care-plans/{plan}/patterns"),
            json!({"recurrence": {"kind": "weekly", "weekdays": EVERY_DAY},
                   "start": "07:00", "end": "08:00", "starts_on": tomorrow}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{first}");
    // The horizon is today and 61 days more; the pattern starts tomorrow.
    assert_eq!(first["generation"]["created"], 61, "{first}");

    // The second pattern's generation: killed once its visits are saved,
    // while their workflows are being started.
    let request = {
        let (http, url) = (
            app.http.clone(),
            format!(
                "{}/v1/clients/{client}/care-plans/{plan}/patterns",
                app.base
            ),
        );
        let body = json!({"recurrence": {"kind": "weekly", "weekdays": EVERY_DAY},
                          "start": "18:00", "end": "19:00", "starts_on": tomorrow});
        tokio::spawn(async move {
            http.post(url)
                .header("Idempotency-Key", "evening")
                .json(&body)
                .send()
                .await
                .map(|r| r.status())
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let saved = generated(&app, &plan).await.len();
        if saved > 61 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second generation never saved its visits"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    worker.kill();
    let mut without_workflow = 0;
    for visit in generated(&app, &plan).await {
        let handle = app
            .temporal
            .get_workflow_handle::<homecare_workflows::VisitWorkflow>(
                homecare_domain::contracts::visit_workflow_id(visit.0),
            );
        if handle
            .describe(temporalio_client::WorkflowDescribeOptions::default())
            .await
            .is_err()
        {
            without_workflow += 1;
        }
    }
    eprintln!("killed with {without_workflow} of 122 visits saved but not started");
    assert!(
        without_workflow > 0,
        "the kill came after every workflow had started"
    );
    let answered = request.await.unwrap().unwrap();
    assert_eq!(answered, StatusCode::SERVICE_UNAVAILABLE);

    // A new worker retries the generation; the client retries its request
    // with the same key. Each occurrence has one visit, each visit one workflow.
    let _worker = spawn_worker(&app, &database);
    let deadline = Instant::now() + Duration::from_secs(120);
    let retried = loop {
        let (status, body) = app
            .request(
                reqwest::Method::POST,
                &format!("/v1/clients/{client}/care-plans/{plan}/patterns"),
                Some(
                    json!({"recurrence": {"kind": "weekly", "weekdays": EVERY_DAY},
                            "start": "18:00", "end": "19:00", "starts_on": tomorrow}),
                ),
                Some("evening"),
            )
            .await;
        if status != StatusCode::SERVICE_UNAVAILABLE {
            break (status, body);
        }
        assert!(
            Instant::now() < deadline,
            "generation never resumed: {body}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert_eq!(
        retried.0,
        StatusCode::OK,
        "the retry found its pattern: {}",
        retried.1
    );
    assert_eq!(retried.1["generation"]["created"], 0, "{}", retried.1);
    assert_eq!(retried.1["generation"]["kept"], 122, "{}", retried.1);
    let patterns: i64 = sqlx::query_scalar("select count(*) from care_plan_patterns")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(patterns, 2, "the retried request made no second pattern");
    let visits = generated_when(&app, &plan, "every visit started and assigned", |v| {
        v.iter().all(|v| v.3 == "assigned")
    })
    .await;
    assert_eq!(visits.len(), 122);
    let per_occurrence: i64 = sqlx::query_scalar(
        "select max(n) from (select count(*) n from visits group by pattern_id, occurrence_date) c",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(per_occurrence, 1);
    let recorded: i64 = sqlx::query_scalar("select count(*) from visit_events")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(recorded >= 122, "each visit's assignment: {recorded}");
    stream_holds_each_once(&app, recorded).await;
    app.shutdown().await;
}
