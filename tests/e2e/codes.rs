//! One definition of each code list claims carry: the API refuses what the
//! 837P renderer would refuse later, the OpenAPI document lists the same
//! codes, and so do the database's check constraints.

use homecare_domain::codes::{ClaimFilingIndicator, UsState};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::TestApp;

const PRIVATE_PAY: &str = "00000000-0000-4000-8000-000000000001";

fn codes<T: Copy>(all: &[T], code: fn(T) -> &'static str) -> Vec<String> {
    let mut codes: Vec<String> = all.iter().map(|c| code(*c).to_owned()).collect();
    codes.sort();
    codes
}

/// The codes a check constraint `<column> in (...)` allows.
async fn constraint_codes(db: &PgPool, name: &str) -> Vec<String> {
    let definition: String = sqlx::query_scalar(
        "select pg_get_constraintdef(oid) from pg_constraint where conname = $1",
    )
    .bind(name)
    .fetch_one(db)
    .await
    .unwrap_or_else(|e| panic!("constraint {name}: {e}"));
    let mut codes: Vec<String> = definition
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    codes.sort();
    codes
}

#[sqlx::test]
async fn the_database_checks_the_domains_code_lists(db: PgPool) {
    let filing = codes(ClaimFilingIndicator::ALL, ClaimFilingIndicator::as_str);
    let states = codes(UsState::ALL, UsState::as_str);
    assert_eq!(
        constraint_codes(&db, "payers_claim_filing_indicator_check").await,
        filing
    );
    assert_eq!(
        constraint_codes(&db, "agency_settings_state_check").await,
        states
    );
    assert_eq!(
        constraint_codes(&db, "client_coverages_state_check").await,
        states
    );
}

#[test]
fn the_openapi_document_lists_the_same_codes() {
    let document: Value =
        serde_json::from_str(&homecare_api::openapi_document().to_json().unwrap()).unwrap();
    let listed = |schema: &str| {
        let mut codes: Vec<String> = document["components"]["schemas"][schema]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{schema} is an enum in the document"))
            .iter()
            .map(|c| c.as_str().unwrap().to_owned())
            .collect();
        codes.sort();
        codes
    };
    assert_eq!(
        listed("ClaimFilingIndicator"),
        codes(ClaimFilingIndicator::ALL, ClaimFilingIndicator::as_str)
    );
    assert_eq!(listed("UsState"), codes(UsState::ALL, UsState::as_str));
}

#[sqlx::test]
async fn the_api_refuses_codes_the_837p_would_refuse_later(db: PgPool) {
    let app = TestApp::start(db).await;
    // "09" (self pay) was a 4010 code; the 5010 renderer refuses it.
    let (status, problem) = app
        .post(
            "/v1/payers",
            json!({"name": "Self Pay Plan", "payer_identifier": "SELF09",
                   "claim_filing_indicator": "09"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "claim_filing_indicator");
    let (status, payer) = app
        .post(
            "/v1/payers",
            json!({"name": "Blue Plan", "payer_identifier": "BLUE1",
                   "claim_filing_indicator": "BL"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{payer}");

    // Two capitals are not a state: "XX" went through before and failed at export.
    let client = app.create_client().await;
    let coverage = |state: &str| {
        json!({"member_id": "MBR-1", "last_name": "PARK", "first_name": "ELEANOR",
               "date_of_birth": "1941-06-02", "gender": "F", "address_line": "1 MAIN ST",
               "city": "CHICAGO", "state": state, "postal_code": "60657",
               "diagnosis_codes": ["R262"]})
    };
    let path = format!("/v1/clients/{client}/coverages/{PRIVATE_PAY}");
    let (status, problem) = app.put(&path, coverage("XX")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "state");
    let (status, saved) = app.put(&path, coverage("PR")).await;
    assert_eq!(status, StatusCode::OK, "{saved}");

    let (_, mut agency) = app.get("/v1/agency").await;
    agency["state"] = json!("XX");
    let (status, problem) = app.put("/v1/agency", agency).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    app.shutdown().await;
}
