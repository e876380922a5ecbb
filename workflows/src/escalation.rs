//! `EscalationWorkflow`: one per unfilled spell of a visit that starts soon,
//! id `escalation-<visit id>`. The notifier starts it when the unfilled alert
//! reaches the on-call coordinator; a durable timer gives them the agency's
//! `escalate_after_minutes`; if the visit is still unfilled then, the activity
//! raises `homecare.alert.escalated` and the notifier tells the admin the rota
//! escalates to. The notifier signals `resolved` the moment the visit is
//! assigned or cancelled, and the workflow ends without escalating (the
//! activity checks the visit too, for a signal that comes late).

use std::time::Duration;

use homecare_domain::contracts::Escalation;
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    CancellableFuture, SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult,
    workflows::select,
};

use crate::contracts::VisitActivities;
use crate::visit::activity_options;

#[workflow]
pub struct EscalationWorkflow {
    input: Escalation,
    resolved: bool,
}

#[workflow_methods]
impl EscalationWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: Escalation) -> Self {
        Self {
            input,
            resolved: false,
        }
    }

    /// True when the visit was escalated; false when it was filled or
    /// cancelled in time.
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<bool> {
        let escalation = ctx.state(|s| s.input.clone());
        let wait = Duration::from_secs(60 * escalation.waited_minutes.max(1) as u64);
        let mut timer = ctx.timer(wait);
        let fired = select! {
            _ = ctx.wait_condition(|s| s.resolved) => { timer.cancel(); false }
            _ = timer => true
        };
        if !fired {
            return Ok(false);
        }
        Ok(ctx
            .execute_activity(
                VisitActivities::escalate_unfilled,
                escalation,
                activity_options(),
            )
            .await?)
    }

    /// The visit was assigned or cancelled: nothing to escalate.
    #[signal]
    pub fn resolved(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _nothing: ()) {
        self.resolved = true;
    }

    #[query]
    pub fn is_resolved(&self, _ctx: &WorkflowContextView) -> bool {
        self.resolved
    }
}
