//! `CallOutWorkflow`: one per call-out, id `call-out-<uuid>`.
//!
//! A caregiver calls out for a period. One activity records it and re-decides
//! every affected visit in a single transaction (so the decisions see each other
//! and the database stays the single source of truth); the workflow then tells
//! each affected visit's workflow its new assignment. Both steps are durable: a
//! crash after the commit still delivers every signal, and a repeated signal
//! changes nothing (decisions carry the visit's assignment version).

use homecare_domain::contracts::{CallOut, CallOutOutcome};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{WorkflowContext, WorkflowContextView, WorkflowResult};

use crate::contracts::CaregiverActivities;
use crate::join::tell_visits;
use crate::visit::activity_options;

#[workflow]
pub struct CallOutWorkflow {
    input: CallOut,
    outcome: Option<CallOutOutcome>,
}

#[workflow_methods]
impl CallOutWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: CallOut) -> Self {
        Self {
            input,
            outcome: None,
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<CallOutOutcome> {
        let call_out = ctx.state(|s| s.input.clone());
        let outcome = ctx
            .execute_activity(
                CaregiverActivities::apply_call_out,
                call_out,
                activity_options(),
            )
            .await?;
        ctx.state_mut(|s| s.outcome = Some(outcome.clone()));
        tell_visits(ctx, &outcome.changes).await;
        // A `decisions` update may still be returning its answer.
        let handlers = ctx.clone();
        ctx.wait_condition(move |_| handlers.all_handlers_finished())
            .await?;
        Ok(outcome)
    }

    /// Answers as soon as every affected visit is decided and committed (the
    /// visits' workflows are told right after): what the API returns.
    #[update]
    pub async fn decisions(
        ctx: &mut WorkflowContext<Self>,
        _nothing: (),
    ) -> Result<CallOutOutcome, Box<dyn std::error::Error + Send + Sync>> {
        ctx.wait_condition(|s| s.outcome.is_some()).await?;
        Ok(ctx.state(|s| s.outcome.clone()).expect("waited for it"))
    }

    /// The outcome once the decisions are made (before every signal is delivered).
    #[query]
    pub fn outcome(&self, _ctx: &WorkflowContextView) -> Option<CallOutOutcome> {
        self.outcome.clone()
    }
}
