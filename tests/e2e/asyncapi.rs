//! The AsyncAPI document: served as generated, valid for the AsyncAPI
//! initiative's own parser, and strict enough to catch a frame of the wrong
//! shape (`events_schema` checks every frame the other tests receive).

use std::path::Path;

use homecare_domain::EventKind;
use serde_json::json;
use sqlx::PgPool;

use crate::events_schema::frame_errors;
use crate::helpers::TestApp;

#[test]
fn the_asyncapi_parser_finds_the_document_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/asyncapi");
    assert!(
        dir.join("node_modules/@asyncapi/parser").is_dir(),
        "@asyncapi/parser is not installed in {}: `./dev test` installs it (npm ci there)",
        dir.display()
    );
    let file =
        std::env::temp_dir().join(format!("homecare-asyncapi-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(
        &file,
        serde_json::to_vec_pretty(&homecare_api::asyncapi::document()).unwrap(),
    )
    .unwrap();
    let output = std::process::Command::new("node")
        .arg(dir.join("validate.mjs"))
        .arg(&file)
        .current_dir(&dir)
        .output()
        .expect("node runs (Node.js 20 is on the machine)");
    let _ = std::fs::remove_file(&file);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the AsyncAPI parser refused the document:\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("valid AsyncAPI 3.0.0"), "{stdout}");
    // One channel per event type and the WebSocket.
    assert!(
        stdout.contains(&format!("{} channels", EventKind::ALL.len() + 1)),
        "{stdout}"
    );
}

#[test]
fn a_frame_of_the_wrong_shape_is_caught() {
    let visit = uuid::Uuid::new_v4();
    let frame = |data: serde_json::Value| {
        json!({
            "sequence": 7,
            "event": {
                "specversion": "1.0",
                "id": uuid::Uuid::new_v4(),
                "source": "homecare/visit-workflow",
                "type": "homecare.visit.cancelled",
                "subject": visit,
                "time": "2026-12-01T10:00:00Z",
                "datacontenttype": "application/json",
                "data": data,
            }
        })
    };
    let good = json!({
        "visit_id": visit, "client_id": uuid::Uuid::new_v4(), "caregiver_id": null,
        "status": "cancelled", "service_code": "T1019",
        "scheduled_start": "2026-12-01T10:00:00Z", "scheduled_end": "2026-12-01T11:00:00Z",
        "reason": "client in hospital",
    });
    assert_eq!(frame_errors(&frame(good.clone())), Vec::<String>::new());
    let mut no_reason = good.clone();
    no_reason.as_object_mut().unwrap().remove("reason");
    assert!(!frame_errors(&frame(no_reason)).is_empty());
    let mut bad_status = good;
    bad_status["status"] = json!("exploded");
    assert!(!frame_errors(&frame(bad_status)).is_empty());
}

#[sqlx::test]
async fn the_api_serves_the_asyncapi_document_without_a_token(db: PgPool) {
    let app = TestApp::start(db).await;
    let response = reqwest::get(format!("{}/asyncapi.json", app.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let served: serde_json::Value = response.json().await.unwrap();
    assert_eq!(served, homecare_api::asyncapi::document());
    app.shutdown().await;
}
