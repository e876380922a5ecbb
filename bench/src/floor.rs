//! `FloorWorkflow`: the floor `homecare bench` compares the product with. It
//! makes the same Temporal round trips as a visit (start; an activity; a
//! check-in and a check-out update that each run an activity; a final activity)
//! with activities that do nothing, so the difference to `VisitWorkflow` is
//! what PostgreSQL, NATS and the product's own logic cost.

use std::sync::Arc;

use temporalio_macros::{activities, activity_definitions, workflow, workflow_methods};
use temporalio_sdk::WorkerOptions;
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{WorkflowContext, WorkflowContextView, WorkflowResult};

use homecare_workflows::visit::activity_options;

pub const FLOOR_NOOP: &str = "floor.noop";

pub struct FloorActivities;

#[activity_definitions]
impl FloorActivities {
    #[activity(name = FLOOR_NOOP)]
    pub fn noop(_step: String) -> Result<(), ActivityError> {
        unimplemented!()
    }
}

type HandlerError = Box<dyn std::error::Error + Send + Sync>;

#[workflow]
pub struct FloorWorkflow {
    /// An activity is running: a check-in or check-out waits, as a visit's
    /// does. Set from the start, so a check-in that arrives with the start (the
    /// bench sends it at once) waits for the first activity, as a visit's
    /// check-in waits for its assignment, instead of running beside it.
    busy: bool,
    checked_out: bool,
}

impl FloorWorkflow {
    async fn step(ctx: &mut WorkflowContext<Self>, name: &str) -> Result<(), HandlerError> {
        ctx.wait_condition(|s| !s.busy).await?;
        ctx.state_mut(|s| s.busy = true);
        let done = ctx
            .execute_activity(FloorActivities::noop, name.to_owned(), activity_options())
            .await;
        ctx.state_mut(|s| s.busy = false);
        done?;
        Ok(())
    }
}

#[workflow_methods]
impl FloorWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, _input: ()) -> Self {
        Self {
            busy: true,
            checked_out: false,
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        let assigned = ctx
            .execute_activity(
                FloorActivities::noop,
                "assign".to_owned(),
                activity_options(),
            )
            .await;
        ctx.state_mut(|s| s.busy = false);
        assigned?;
        ctx.wait_condition(|s| s.checked_out).await?;
        ctx.execute_activity(
            FloorActivities::noop,
            "invoice".to_owned(),
            activity_options(),
        )
        .await?;
        let handlers = ctx.clone();
        ctx.wait_condition(move |_| handlers.all_handlers_finished())
            .await?;
        Ok(())
    }

    #[query]
    pub fn checked_out(&self, _ctx: &WorkflowContextView) -> bool {
        self.checked_out
    }

    #[update]
    pub async fn check_in(ctx: &mut WorkflowContext<Self>, _input: ()) -> Result<(), HandlerError> {
        Self::step(ctx, "check_in").await
    }

    #[update]
    pub async fn check_out(
        ctx: &mut WorkflowContext<Self>,
        _input: (),
    ) -> Result<(), HandlerError> {
        Self::step(ctx, "check_out").await?;
        ctx.state_mut(|s| s.checked_out = true);
        Ok(())
    }
}

/// The floor's activities: they do nothing, so the bench measures what
/// Temporal alone costs for a visit's round trips.
pub struct FloorActivitiesImpl;

#[activities]
impl FloorActivitiesImpl {
    #[activity(name = FLOOR_NOOP)]
    pub async fn noop(_ctx: ActivityContext, _step: String) -> Result<(), ActivityError> {
        Ok(())
    }
}

/// Registers the floor on a worker: only the worker the bench measures
/// against (`homecare up --bench-floor`) runs it; production workers do not.
pub fn register(options: &mut WorkerOptions) -> Result<(), String> {
    options
        .register_workflow::<FloorWorkflow>()
        .map_err(|e| e.to_string())?;
    options.register_activities(FloorActivitiesImpl);
    Ok(())
}

/// `register`, shared, as a worker's extra registrations take it.
pub fn registration() -> Arc<dyn Fn(&mut WorkerOptions) -> Result<(), String> + Send + Sync> {
    Arc::new(register)
}

#[cfg(test)]
mod tests {
    use temporalio_common::ActivityDefinition;

    #[test]
    fn the_floor_activity_is_implemented_under_its_declared_name() {
        assert_eq!(
            super::FloorActivities::noop.name(),
            super::FloorActivitiesImpl::noop.name()
        );
    }
}
