//! The OpenAPI document describes the API that runs: schemathesis (an
//! independent property-based tester) reads `/openapi.json` and throws generated
//! requests, valid and invalid, at every operation with an admin token. Not one
//! may answer 5xx, and every answer must match the document: its status, its
//! content type, its headers and its body's schema. Schemathesis also checks
//! that no operation answers without a valid token (`ignored_auth`), that
//! undocumented methods get 405, and that what it created can be read back
//! and what it deleted cannot.

use std::process::Stdio;

use homecare_api::auth::Role;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{TestApp, minutes_ago};

/// The schemathesis release CI installs (`./dev test`).
const SCHEMATHESIS: &str = "schemathesis";

#[sqlx::test]
async fn the_document_lists_every_operation_with_its_answers(db: PgPool) {
    let app = TestApp::start(db).await;
    let response = app
        .http
        .get(format!("{}/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "no token needed");
    let document: Value = response.json().await.unwrap();
    assert_eq!(
        document,
        serde_json::to_value(homecare_api::openapi_document()).unwrap()
    );
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/v1/visits",
        "/v1/visits/{id}/check-in",
        "/v1/claims/837p",
        "/v1/audit",
        "/v1/events",
        "/codec/decode",
        "/readyz",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    // Operation ids name operations for client generators: never twice.
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|operation| operation["operationId"].as_str().unwrap())
        .collect();
    let operations = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), operations, "operation ids are unique");
    let check_in = &paths["/v1/visits/{id}/check-in"]["post"];
    assert_eq!(check_in["security"][0]["bearer"], serde_json::json!([]));
    for status in ["200", "401", "403", "404", "409", "422"] {
        assert!(
            check_in["responses"][status].is_object(),
            "check-in documents {status}"
        );
    }
    app.shutdown().await;
}

#[sqlx::test]
async fn schemathesis_finds_no_server_error_and_no_answer_off_the_schema(db: PgPool) {
    // Its checks send thousands of requests without a valid token from one
    // address: they are to meet 401, not the back-off (tested in `accounts`).
    let app = TestApp::start_with(db, |settings| {
        settings.bearer_failures_per_minute = 1_000_000;
    })
    .await;
    // Something to find: ids schemathesis can reach through list answers.
    let client = app.create_client().await;
    app.create_caregiver(&[]).await;
    app.create_visit(&client, minutes_ago(-24 * 60), minutes_ago(-25 * 60), &[])
        .await;
    let token = app.token(Role::Admin, None);
    // schemathesis keeps its example database in `.schemathesis/` of its
    // working directory: a scratch folder, never the repository.
    let scratch = std::env::temp_dir().join(format!("homecare-schemathesis-{}", app.tag));
    std::fs::create_dir_all(&scratch).unwrap();
    let output = tokio::process::Command::new(SCHEMATHESIS)
        .args([
            "run",
            &format!("{}/openapi.json", app.base),
            "--header",
            &format!("Authorization: Bearer {token}"),
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,ignored_auth,\
             unsupported_method,use_after_free,ensure_resource_availability",
            "--max-examples",
            "25",
            "--generation-deterministic",
            "--workers",
            "2",
        ])
        .env("NO_COLOR", "1")
        .current_dir(&scratch)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("{SCHEMATHESIS} must be installed (./dev test does): {e}"));
    let report = String::from_utf8_lossy(&output.stdout);
    println!("{report}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        output.status.success(),
        "schemathesis found failures (report above)"
    );
    assert!(
        scratch.join(".schemathesis").is_dir(),
        "schemathesis wrote its cache where it was told"
    );
    let repository = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        !repository.join(".schemathesis").exists(),
        "the test run leaves the repository as it found it"
    );
    let _ = std::fs::remove_dir_all(&scratch);
    app.shutdown().await;
}
