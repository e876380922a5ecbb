//! `CarePlanWorkflow`: one per client, id `care-plan-<client_id>`.
//!
//! Keeps every care plan of the client generated for the agency's rolling
//! horizon: a generation at start, then one each day just after the client's
//! midnight (a durable timer), and one at once whenever a plan, pattern or
//! exception changes (the `regenerate` update, which answers with what the
//! generation changed). Generations run one at a time; each is one activity,
//! idempotent (visit ids are deterministic per plan, pattern and date). The
//! workflow ends when no plan applies any more, and continues as new every
//! `GENERATIONS_PER_RUN` generations so its history stays short.

use std::collections::VecDeque;
use std::time::{Duration, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use homecare_domain::contracts::{CarePlanWorkflowInput, GenerateSchedule, GenerationOutcome};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityExecutionError, ContinueAsNewOptions, WorkflowContext, WorkflowContextView,
    WorkflowResult,
};

use crate::contracts::CarePlanActivities;
use crate::visit::activity_options;

/// Generations in one execution before it continues as new: a month of days.
pub const GENERATIONS_PER_RUN: u64 = 30;

type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// How long after a failed daily generation the next is tried.
const FAILED_RETRY: Duration = Duration::from_secs(60 * 60);

/// Outcomes kept for the updates waiting on them.
const RECENT: usize = 32;

#[workflow]
pub struct CarePlanWorkflow {
    input: CarePlanWorkflowInput,
    /// A generation is running; the next waits.
    generating: bool,
    /// Generations completed in this execution.
    generations: u64,
    /// The last `RECENT` outcomes, the latest last.
    recent: VecDeque<GenerationOutcome>,
}

impl CarePlanWorkflow {
    async fn generate(
        ctx: &mut WorkflowContext<Self>,
        reason: &str,
    ) -> WorkflowResult<Result<GenerationOutcome, ActivityExecutionError>> {
        ctx.wait_condition(|s| !s.generating).await?;
        ctx.state_mut(|s| s.generating = true);
        let client_id = ctx.state(|s| s.input.client_id);
        let outcome = ctx
            .execute_activity(
                CarePlanActivities::generate,
                GenerateSchedule {
                    client_id,
                    reason: reason.to_owned(),
                },
                activity_options(),
            )
            .await;
        ctx.state_mut(|s| {
            s.generating = false;
            if let Ok(outcome) = &outcome {
                s.generations += 1;
                s.recent.push_back(outcome.clone());
                if s.recent.len() > RECENT {
                    s.recent.pop_front();
                }
            }
        });
        Ok(outcome)
    }

    /// Everything generations changed from the `since`-th completed one on:
    /// a change saved before an update is applied by the generation running
    /// when the update arrives, or by the update's own.
    fn changed_since(&self, since: u64) -> Option<GenerationOutcome> {
        let count = self.generations.saturating_sub(since) as usize;
        let first = self.recent.len().saturating_sub(count);
        let mut outcomes = self.recent.iter().skip(first);
        let mut merged = outcomes.next()?.clone();
        for later in outcomes {
            merged = GenerationOutcome {
                created: merged.created + later.created,
                rescheduled: merged.rescheduled + later.rescheduled,
                cancelled: merged.cancelled + later.cancelled,
                ..later.clone()
            };
        }
        Some(merged)
    }

    fn now(ctx: &WorkflowContext<Self>) -> DateTime<Utc> {
        DateTime::<Utc>::from(ctx.workflow_time().unwrap_or(UNIX_EPOCH))
    }
}

#[workflow_methods]
impl CarePlanWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: CarePlanWorkflowInput) -> Self {
        Self {
            input,
            generating: false,
            generations: 0,
            recent: VecDeque::new(),
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        loop {
            let outcome = match Self::generate(ctx, "daily").await? {
                Ok(outcome) => outcome,
                Err(_) => {
                    // Failed after all its retries (the database away for
                    // an hour): the visits stay as they are; try again in
                    // an hour rather than end the client's generation.
                    ctx.timer(FAILED_RETRY).await;
                    continue;
                }
            };
            let handlers = ctx.clone();
            if outcome.active_plans == 0 {
                ctx.wait_condition(move |_| handlers.all_handlers_finished())
                    .await?;
                // An update meanwhile may have found a new plan.
                if ctx.state(|s| s.recent.back().is_some_and(|o| o.active_plans > 0)) {
                    continue;
                }
                return Ok(());
            }
            if ctx.state(|s| s.generations) >= GENERATIONS_PER_RUN
                || ctx.continue_as_new_suggested()
            {
                ctx.wait_condition(move |s| !s.generating && handlers.all_handlers_finished())
                    .await?;
                let input = ctx.state(|s| CarePlanWorkflowInput {
                    client_id: s.input.client_id,
                    generations: s.input.generations + s.generations,
                });
                ctx.continue_as_new(input, ContinueAsNewOptions::default())?;
            }
            let wait = (outcome.next_run_at - Self::now(ctx))
                .to_std()
                .unwrap_or(Duration::ZERO)
                .max(Duration::from_millis(1));
            ctx.timer(wait).await;
        }
    }

    /// Generates at once (a plan, pattern or exception changed) and answers
    /// with what changed meanwhile: a generation already running when the
    /// update arrived may have applied the change, so its outcome counts too.
    #[update]
    pub async fn regenerate(
        ctx: &mut WorkflowContext<Self>,
        reason: String,
    ) -> Result<GenerationOutcome, HandlerError> {
        let since = ctx.state(|s| s.generations);
        Self::generate(ctx, &reason).await??;
        ctx.state(|s| s.changed_since(since))
            .ok_or_else(|| "no generation outcome kept".into())
    }

    /// The last generation's outcome.
    #[query]
    pub fn last_generation(&self, _ctx: &WorkflowContextView) -> Option<GenerationOutcome> {
        self.recent.back().cloned()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use uuid::Uuid;

    use super::*;

    fn outcome(created: usize, kept: usize) -> GenerationOutcome {
        GenerationOutcome {
            client_id: Uuid::nil(),
            active_plans: 1,
            horizon_days: 14,
            created,
            rescheduled: 1,
            cancelled: 0,
            kept,
            over_authorization: vec![],
            next_run_at: Utc.with_ymd_and_hms(2026, 12, 3, 6, 5, 0).unwrap(),
        }
    }

    fn workflow(outcomes: &[GenerationOutcome]) -> CarePlanWorkflow {
        CarePlanWorkflow {
            input: CarePlanWorkflowInput {
                client_id: Uuid::nil(),
                generations: 0,
            },
            generating: false,
            generations: outcomes.len() as u64,
            recent: outcomes.iter().cloned().collect(),
        }
    }

    #[test]
    fn an_update_answers_with_every_change_since_it_arrived() {
        // The update arrived after the first generation; the second was
        // running and applied the change; the update's own found it done.
        let w = workflow(&[outcome(3, 0), outcome(7, 3), outcome(0, 10)]);
        let merged = w.changed_since(1).unwrap();
        assert_eq!(
            (merged.created, merged.rescheduled, merged.kept),
            (7, 2, 10)
        );
        assert_eq!(w.changed_since(2).unwrap(), outcome(0, 10));
        assert_eq!(w.changed_since(3), None);
        assert_eq!(workflow(&[]).changed_since(0), None);
    }
}
