//! `PlanDayWorkflow`: one per day plan, id `plan-<uuid>`.
//!
//! Solves the day with the optimizer in a heartbeating activity (so a worker
//! that dies mid-solve is noticed within seconds and the solve starts again on
//! another), applies the proposal in a second activity through the hard-rule
//! checks, then tells every visit whose caregivers changed.

use std::time::Duration;

use homecare_domain::contracts::{PlanOutcome, PlanRequest};
use temporalio_common::RetryPolicy;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityCloseTimeouts, ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult,
};

use crate::contracts::PlanActivities;
use crate::join::tell_visits;
use crate::visit::activity_options;

#[workflow]
pub struct PlanDayWorkflow {
    input: PlanRequest,
    outcome: Option<PlanOutcome>,
}

/// The solve may take its whole time limit; a heartbeat every two seconds
/// proves the worker is alive.
fn solve_options(time_limit_seconds: u32) -> ActivityOptions {
    ActivityOptions::with_close_timeouts(ActivityCloseTimeouts::StartToClose(Duration::from_secs(
        u64::from(time_limit_seconds) + 120,
    )))
    .heartbeat_timeout(Duration::from_secs(20))
    .retry_policy(
        RetryPolicy::builder()
            .initial_interval(Duration::from_secs(1))
            .maximum_attempts(5)
            .build(),
    )
    .build()
}

#[workflow_methods]
impl PlanDayWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: PlanRequest) -> Self {
        Self {
            input,
            outcome: None,
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<PlanOutcome> {
        let request = ctx.state(|s| s.input.clone());
        let proposal = ctx
            .execute_activity(
                PlanActivities::solve,
                request.clone(),
                solve_options(request.time_limit_seconds),
            )
            .await?;
        let outcome = ctx
            .execute_activity(PlanActivities::apply, proposal, activity_options())
            .await?;
        ctx.state_mut(|s| s.outcome = Some(outcome.clone()));
        tell_visits(ctx, &outcome.changes).await;
        Ok(outcome)
    }

    #[query]
    pub fn outcome(&self, _ctx: &WorkflowContextView) -> Option<PlanOutcome> {
        self.outcome.clone()
    }
}
