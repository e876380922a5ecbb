//! The WebSocket relay: per-connection filters and resuming from a sequence.

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
    // Each visit needs a skill only one of them has, so the two visits have
    // different caregivers (with equal scores the engine breaks ties by id).
    let james = app.create_caregiver(&["companionship"]).await;
    let maria = app.create_caregiver(&["hoyer_lift"]).await;
    let mut james_only = app.events(&format!("?caregiver_id={james}")).await;
    let start = minutes_ago(120);
    let other = app
        .create_visit(
            &client,
            minutes_ago(-60),
            minutes_ago(-120),
            &["hoyer_lift"],
        )
        .await;
    let other_assigned = everything
        .frames_until(&other, "homecare.visit.assigned")
        .await;
    assert_eq!(
        other_assigned.last().unwrap()["event"]["data"]["caregiver_id"],
        maria.as_str()
    );
    let visit = app
        .create_visit(&client, start, minutes_ago(60), &["companionship"])
        .await;
    let mut this_visit_only = app.events(&format!("?visit_id={visit}&since=0")).await;
    everything
        .frames_until(&visit, "homecare.visit.assigned")
        .await;
    app.work(&visit, &james, start, minutes_ago(61)).await;

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
    // Maria's assignment came first on the stream; James's socket never saw it.
    let jamess = james_only
        .frames_until(&visit, "homecare.invoice.created")
        .await;
    assert_eq!(jamess.len(), 4, "{jamess:?}");
    assert!(
        jamess
            .iter()
            .all(|f| f["event"]["data"]["caregiver_id"] == james.as_str())
    );
    app.shutdown().await;
}

/// RFC 6455, 5.5.1: an endpoint that receives a Close frame sends one back, so
/// a client's clean `close()` completes at once instead of waiting out its
/// own timeout.
#[sqlx::test]
async fn a_client_closing_the_socket_gets_a_close_frame_back(db: PgPool) {
    let app = TestApp::start(db).await;
    let AssignedVisit { events, .. } = app.assigned_visit(minutes_ago(60), minutes_ago(0)).await;
    // It has received frames (the visit's assignment), then says goodbye.
    let reply = tokio::time::timeout(std::time::Duration::from_secs(3), events.close())
        .await
        .expect("the server answers the Close frame at once");
    let frame = reply.expect("the server's answer is a Close frame");
    let code = frame.map(|f| u16::from(f.code));
    assert_eq!(code, Some(1000), "it echoes the normal closure");
    app.shutdown().await;
}
