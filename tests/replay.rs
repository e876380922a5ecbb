//! Recorded workflow histories replayed against the current `VisitWorkflow`
//! and `CarePlanWorkflow` code.
//! A change that would break running visits fails here, in CI, before it ships:
//! guard changed logic with `ctx.patched("...")`.
//!
//! Record a new history from any visit, or a client's care plans (platform running):
//!     cargo run -q --bin homecare -- history record <visit-id> --out tests/histories/<name>.json
//!     cargo run -q --bin homecare -- history record <client-id> --care-plan --out tests/histories/<name>.json

use std::path::{Path, PathBuf};

use homecare_workflows::{CarePlanWorkflow, VisitWorkflow};
use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

fn histories() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/histories");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    files.sort();
    files
}

fn replayer() -> WorkflowReplayer {
    WorkflowReplayer::new(
        WorkflowReplayerOptions::new()
            .register_workflow::<VisitWorkflow>()
            .unwrap()
            .register_workflow::<CarePlanWorkflow>()
            .unwrap()
            .build(),
    )
    .unwrap()
}

#[tokio::test]
async fn every_recorded_history_replays_against_the_current_workflow_code() {
    let files = histories();
    assert!(
        files.len() >= 2,
        "tests/histories should hold the recorded lifecycles"
    );
    let replayer = replayer();
    for file in files {
        let history = WorkflowHistory::from_json(&std::fs::read(&file).unwrap()).unwrap();
        replayer
            .replay_workflow(history)
            .await
            .unwrap_or_else(|e| panic!("{} no longer replays: {e}", file.display()));
    }
}

/// The replay test is only worth having if it can fail: a history whose recorded
/// activity does not match what the code schedules must be rejected.
#[tokio::test]
async fn a_history_the_code_no_longer_matches_fails_to_replay() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/histories/visit_invoiced.json");
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(recorded.contains("visit.assign_caregiver"));
    let tampered = recorded.replace("visit.assign_caregiver", "visit.assign_someone_else");
    let history = WorkflowHistory::from_json(tampered.as_bytes()).unwrap();
    assert!(
        replayer().replay_workflow(history).await.is_err(),
        "nondeterminism went unnoticed"
    );
}

/// The same for a client's care plans: a recorded generation the code would
/// not schedule is caught.
#[tokio::test]
async fn a_care_plan_history_the_code_no_longer_matches_fails_to_replay() {
    let file =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/histories/care_plan_generations.json");
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(recorded.contains("care_plan.generate"));
    let tampered = recorded.replace("care_plan.generate", "care_plan.generate_otherwise");
    let history = WorkflowHistory::from_json(tampered.as_bytes()).unwrap();
    assert!(
        replayer().replay_workflow(history).await.is_err(),
        "nondeterminism went unnoticed"
    );
}
