//! The WebSocket relay: per-connection filters and resuming from a sequence.

use reqwest::StatusCode;
use sqlx::PgPool;

use crate::helpers::{AssignedVisit, TestApp, minutes_ago};

#[sqlx::test]
async fn a_reconnecting_client_resumes_from_its_sequence_without_gaps_or_repeats(db: PgPool) {
    let app = TestApp::start(db).await;
    let AssignedVisit {
        events: mut first_connection,
        client,
        caregiver,
        visit,
        start,
        ..
    } = app.assigned_visit(minutes_ago(60), minutes_ago(0)).await;
    app.work(&visit, &caregiver, start, minutes_ago(1)).await;
    let seen = first_connection
        .frames_until(&visit, "homecare.invoice.created")
        .await;
    let sequences: Vec<u64> = seen
        .iter()
        .map(|f| f["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences.len(), 3);

    // The phone dropped after the first of these; it reconnects with that sequence.
    let mut resumed = app.events(&format!("?since={}", sequences[0])).await;
    let replayed = vec![resumed.next_frame().await, resumed.next_frame().await];
    assert_eq!(
        replayed,
        seen[1..].to_vec(),
        "the missed events, once each, in order"
    );

    // ...and then carries on live.
    let next = app
        .create_visit(&client, minutes_ago(-60), minutes_ago(-120), &[])
        .await;
    let live = resumed.next_frame().await;
    assert_eq!(live["event"]["subject"], next.as_str());
    assert!(live["sequence"].as_u64().unwrap() > sequences[2]);
    app.shutdown().await;
}

#[sqlx::test]
async fn each_connection_gets_only_the_events_its_filter_asks_for(db: PgPool) {
    let app = TestApp::start(db).await;
    let mut everything = app.events("").await;
    let mut invoices_only = app.events("?type=homecare.invoice.created").await;
    let client = app.create_client().await;
    let caregiver = app.create_caregiver(&[]).await;
    let start = minutes_ago(120);
    let other = app
        .create_visit(&client, minutes_ago(-60), minutes_ago(-120), &[])
        .await;
    let visit = app.create_visit(&client, start, minutes_ago(60), &[]).await;
    let mut this_visit_only = app.events(&format!("?visit_id={visit}&since=0")).await;
    everything
        .frames_until(&visit, "homecare.visit.assigned")
        .await;
    let (s1, _) = app
        .post(
            &format!("/v1/visits/{visit}/check-in"),
            TestApp::evv(&caregiver, start),
        )
        .await;
    let (s2, _) = app
        .post(
            &format!("/v1/visits/{visit}/check-out"),
            TestApp::evv(&caregiver, minutes_ago(61)),
        )
        .await;
    assert_eq!((s1, s2), (StatusCode::OK, StatusCode::OK));

    let invoice = invoices_only.next_frame().await;
    assert_eq!(invoice["event"]["type"], "homecare.invoice.created");
    assert_eq!(invoice["event"]["subject"], visit.as_str());
    let frames = this_visit_only
        .frames_until(&visit, "homecare.invoice.created")
        .await;
    assert!(
        frames
            .iter()
            .all(|f| f["event"]["subject"] == visit.as_str()),
        "nothing from visit {other}"
    );
    assert_eq!(frames.len(), 4);
    app.shutdown().await;
}
