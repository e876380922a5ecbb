//! `VisitWorkflow`: one per visit, id `visit-<uuid>`.
//!
//! scheduled → assigned → checked_in → completed → invoiced, or cancelled before
//! completion. Waiting for a caregiver is a durable wait; the late check-in alert is
//! a durable timer. Check-in, check-out, cancel and a coordinator's assignment are
//! updates whose validators refuse bad commands synchronously, before anything is
//! written.
//!
//! Until check-in the assignment can change from outside: a call-out re-decides
//! the visit and signals `assignment_changed` (back to `unfilled`, or another
//! caregiver); `reconsider` wakes an unfilled visit when availability changes.
//! Every decision carries the visit's assignment version, so a late or repeated
//! signal never undoes a newer decision.

use std::time::{Duration, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use homecare_domain::contracts::{
    AssignmentChange, AssignmentOutcome, CancelCommand, EvvCommand, ExceptionResolution,
    InvoiceLineSummary, LateCheckInAlert, ManualAssignment, OpenException, RecordCancel, RecordEvv,
    RecordManualAssignment, RecordReschedule, RecordResolution, RescheduleCommand, VisitRef,
    VisitSnapshot, VisitWorkflowInput, search_attributes as sa,
};
use homecare_domain::visit::{self, VisitFacts};
use homecare_domain::{Rejection, VisitStatus};
use temporalio_common::search_attributes::{SearchAttributeKey, Timestamp};
use temporalio_common::{ActivityDefinition, RetryPolicy};
use temporalio_macros::{workflow, workflow_methods};
use temporalio_sdk::{
    ActivityCloseTimeouts, ActivityExecutionError, ActivityOptions, CancellableFuture,
    SyncWorkflowContext, WorkflowContext, WorkflowContextView, WorkflowResult, workflows::select,
};
use uuid::Uuid;

use crate::contracts::VisitActivities;

pub const VISIT_STATUS: SearchAttributeKey<String> = SearchAttributeKey::keyword(sa::VISIT_STATUS);
pub const CAREGIVER_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword(sa::CAREGIVER_ID);
pub const CLIENT_ID: SearchAttributeKey<String> = SearchAttributeKey::keyword(sa::CLIENT_ID);
pub const SCHEDULED_START: SearchAttributeKey<Timestamp> =
    SearchAttributeKey::datetime(sa::SCHEDULED_START);

type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Marks histories whose visit waits for its check-out with a timer and bills
/// through the pre-billing hold.
pub const BILLING_HOLDS_PATCH: &str = "billing-holds";
/// `VisitStatus` search attribute of a completed visit held by exceptions.
pub const HELD: &str = "held";

#[workflow]
pub struct VisitWorkflow {
    input: VisitWorkflowInput,
    status: VisitStatus,
    caregiver_id: Option<Uuid>,
    checked_in_at: Option<DateTime<Utc>>,
    checked_out_at: Option<DateTime<Utc>>,
    late_alert_raised: bool,
    cancel_requested: bool,
    cancel_reason: Option<String>,
    invoice: Option<InvoiceLineSummary>,
    /// Everyone booked (two for a two-person visit); `caregiver_id` is the first.
    caregiver_ids: Vec<Uuid>,
    /// The newest assignment decision applied (`visits.assignment_version`).
    assignment_version: i64,
    /// Availability changed somewhere: an unfilled visit tries again now.
    reconsider_requested: bool,
    /// New times set by a reschedule (the input keeps the original ones).
    rescheduled_to: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// How many reschedules applied: the late check-in timer starts over.
    schedule_changes: u32,
    /// The assignment activity is running.
    assigning: bool,
    /// Workflow time when the run began (deterministic: recorded in history).
    entered_at: Option<DateTime<Utc>>,
    /// Open exceptions holding billing, as the last billing attempt found them.
    held_by: Vec<OpenException>,
    /// Resolutions recorded so far: a held visit bills again after each.
    resolutions: u32,
    /// A check-in, check-out or cancel is between validation and its activity's
    /// result; further commands are refused until it settles, so two commands can
    /// never both pass validation against the same state.
    command_in_flight: bool,
}

/// Every state-changing activity: one attempt may take 30 s; retries with backoff
/// for at most an hour, which is why the JetStream duplicate window is two hours.
pub fn activity_options() -> ActivityOptions {
    ActivityOptions::with_close_timeouts(ActivityCloseTimeouts::ScheduleAndStartToClose {
        schedule_to_close: Duration::from_secs(60 * 60),
        start_to_close: Duration::from_secs(30),
    })
    .retry_policy(
        RetryPolicy::builder()
            .initial_interval(Duration::from_millis(500))
            .backoff_coefficient(2.0)
            .maximum_interval(Duration::from_secs(60))
            .build(),
    )
    .build()
}

/// A time as a `Datetime` search attribute value.
pub fn search_timestamp(at: DateTime<Utc>) -> Timestamp {
    Timestamp::new(at.timestamp(), at.timestamp_subsec_nanos() as i32)
}

mod steps;

#[workflow_methods]
impl VisitWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: VisitWorkflowInput) -> Self {
        Self {
            input,
            status: VisitStatus::Scheduled,
            caregiver_id: None,
            checked_in_at: None,
            checked_out_at: None,
            late_alert_raised: false,
            cancel_requested: false,
            cancel_reason: None,
            invoice: None,
            caregiver_ids: Vec::new(),
            assignment_version: 0,
            reconsider_requested: false,
            rescheduled_to: None,
            schedule_changes: 0,
            command_in_flight: false,
            entered_at: None,
            assigning: false,
            held_by: Vec::new(),
            resolutions: 0,
        }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<VisitSnapshot> {
        let (visit_id, client_id, start, version) = ctx.state(|s| {
            let i = &s.input;
            (i.visit_id, i.client_id, i.scheduled_start, i.version)
        });
        // Version 1 on: the API started the workflow with these attributes.
        if version == 0 {
            ctx.upsert_search_attributes([
                CLIENT_ID.value_set(client_id.to_string()),
                SCHEDULED_START.value_set(search_timestamp(start)),
            ]);
            Self::publish_search_attributes(ctx);
        }
        let entered = Self::now(ctx);
        ctx.state_mut(|s| s.entered_at = Some(entered));

        Self::assign(ctx).await?;
        while Self::await_check_in(ctx).await? {
            Self::assign(ctx).await?;
        }
        // Histories recorded before billing holds existed replay the old path;
        // from version 1 on, the version says so without a patch marker.
        let holds = version >= 1 || ctx.patched(BILLING_HOLDS_PATCH);
        if holds {
            Self::await_check_out(ctx).await?;
        }
        ctx.wait_condition(|s| s.cancelled() || s.status == VisitStatus::Completed)
            .await?;

        if ctx.state(|s| s.status == VisitStatus::Completed) {
            if holds {
                Self::bill(ctx).await?;
            } else {
                let invoice = ctx
                    .execute_activity(
                        VisitActivities::create_invoice_line,
                        VisitRef { visit_id },
                        activity_options(),
                    )
                    .await?;
                ctx.state_mut(|s| {
                    s.invoice = Some(invoice);
                    s.status = VisitStatus::Invoiced;
                });
                Self::publish_search_attributes(ctx);
            }
        }

        // A cancel or check-out handler may still be returning its result.
        let handlers = ctx.clone();
        ctx.wait_condition(move |_| handlers.all_handlers_finished())
            .await?;
        Ok(ctx.state(|s| s.snapshot()))
    }

    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> VisitSnapshot {
        self.snapshot()
    }

    /// A decision made elsewhere (a call-out): applied if newer than ours.
    #[signal]
    pub fn assignment_changed(
        &mut self,
        ctx: &mut SyncWorkflowContext<Self>,
        change: AssignmentChange,
    ) {
        if change.visit_id == self.input.visit_id && self.apply_outcome(&change.outcome) {
            ctx.upsert_search_attributes(self.search_attribute_updates());
        }
    }

    /// Availability changed: an unfilled visit tries to find a caregiver now.
    #[signal]
    pub fn reconsider(&mut self, _ctx: &mut SyncWorkflowContext<Self>, _nothing: ()) {
        self.reconsider_requested = true;
    }

    #[update_validator(assign_caregivers)]
    fn validate_assign_caregivers(
        &self,
        _ctx: &WorkflowContextView,
        _assignment: &ManualAssignment,
    ) -> Result<(), HandlerError> {
        self.validate(|s| visit::assignment_allowed(&s.facts()))
    }

    /// A coordinator's assignment; the activity checks the hard rules.
    #[update]
    pub async fn assign_caregivers(
        ctx: &mut WorkflowContext<Self>,
        assignment: ManualAssignment,
    ) -> Result<VisitSnapshot, HandlerError> {
        let visit_id = Self::begin_command(ctx, |s| visit::assignment_allowed(&s.facts())).await?;
        let recorded = ctx
            .execute_activity(
                VisitActivities::assign_manually,
                RecordManualAssignment {
                    visit_id,
                    assignment,
                },
                activity_options(),
            )
            .await;
        let outcome = recorded.as_ref().ok().cloned();
        Self::finish_command(ctx, recorded, move |s| {
            if let Some(outcome) = outcome {
                s.apply_outcome(&outcome);
            }
        })
    }

    #[update_validator(reschedule)]
    fn validate_reschedule(
        &self,
        _ctx: &WorkflowContextView,
        _command: &RescheduleCommand,
    ) -> Result<(), HandlerError> {
        self.validate(|s| visit::assignment_allowed(&s.facts()))
    }

    /// New times until check-in: the caregivers stay if they still fit, else
    /// the engine decides again; the late check-in timer starts over.
    #[update]
    pub async fn reschedule(
        ctx: &mut WorkflowContext<Self>,
        command: RescheduleCommand,
    ) -> Result<VisitSnapshot, HandlerError> {
        let visit_id = Self::begin_command(ctx, |s| visit::assignment_allowed(&s.facts())).await?;
        let times = (command.scheduled_start, command.scheduled_end);
        let recorded = ctx
            .execute_activity(
                VisitActivities::reschedule,
                RecordReschedule { visit_id, command },
                activity_options(),
            )
            .await;
        let outcome = recorded.as_ref().ok().cloned();
        let snapshot = Self::finish_command(ctx, recorded, move |s| {
            if let Some(outcome) = outcome {
                s.rescheduled_to = Some(times);
                s.schedule_changes += 1;
                s.late_alert_raised = false;
                s.apply_outcome(&outcome);
            }
        })?;
        ctx.upsert_search_attributes([SCHEDULED_START.value_set(search_timestamp(times.0))]);
        Ok(snapshot)
    }

    #[update_validator(check_in)]
    fn validate_check_in(
        &self,
        _ctx: &WorkflowContextView,
        command: &EvvCommand,
    ) -> Result<(), HandlerError> {
        self.validate(|s| visit::check_in_allowed(&s.facts(), command.caregiver_id))
    }

    #[update]
    pub async fn check_in(
        ctx: &mut WorkflowContext<Self>,
        command: EvvCommand,
    ) -> Result<VisitSnapshot, HandlerError> {
        let rule = |s: &Self, c: &EvvCommand| visit::check_in_allowed(&s.facts(), c.caregiver_id);
        Self::record_evv(
            ctx,
            VisitActivities::record_check_in,
            command,
            rule,
            |s, at| {
                s.status = VisitStatus::CheckedIn;
                s.checked_in_at = Some(at);
            },
        )
        .await
    }

    #[update_validator(check_out)]
    fn validate_check_out(
        &self,
        _ctx: &WorkflowContextView,
        command: &EvvCommand,
    ) -> Result<(), HandlerError> {
        self.validate(|s| visit::check_out_allowed(&s.facts(), command.caregiver_id, command.at))
    }

    #[update]
    pub async fn check_out(
        ctx: &mut WorkflowContext<Self>,
        command: EvvCommand,
    ) -> Result<VisitSnapshot, HandlerError> {
        let rule =
            |s: &Self, c: &EvvCommand| visit::check_out_allowed(&s.facts(), c.caregiver_id, c.at);
        Self::record_evv(
            ctx,
            VisitActivities::record_check_out,
            command,
            rule,
            |s, at| {
                s.status = VisitStatus::Completed;
                s.checked_out_at = Some(at);
            },
        )
        .await
    }

    #[update_validator(resolve_exception)]
    fn validate_resolve_exception(
        &self,
        _ctx: &WorkflowContextView,
        _resolution: &ExceptionResolution,
    ) -> Result<(), HandlerError> {
        self.validate(|s| visit::resolution_allowed(&s.facts()))
    }

    /// A coordinator resolves an EVV or billing exception; a held visit bills
    /// again on its own once nothing holds it.
    #[update]
    pub async fn resolve_exception(
        ctx: &mut WorkflowContext<Self>,
        resolution: ExceptionResolution,
    ) -> Result<VisitSnapshot, HandlerError> {
        let visit_id = Self::begin_command(ctx, |s| visit::resolution_allowed(&s.facts())).await?;
        let (exception_id, check_out_at) = (resolution.exception_id, resolution.check_out_at);
        let recorded = ctx
            .execute_activity(
                VisitActivities::resolve_exception,
                RecordResolution {
                    visit_id,
                    resolution,
                },
                activity_options(),
            )
            .await;
        Self::finish_command(ctx, recorded, move |s| {
            s.resolutions += 1;
            s.held_by.retain(|e| e.exception_id != exception_id);
            if s.checked_out_at.is_none() {
                s.checked_out_at = check_out_at;
            }
        })
    }

    #[update_validator(cancel)]
    fn validate_cancel(
        &self,
        _ctx: &WorkflowContextView,
        _command: &CancelCommand,
    ) -> Result<(), HandlerError> {
        self.validate(|s| visit::cancel_allowed(&s.facts()))
    }

    #[update]
    pub async fn cancel(
        ctx: &mut WorkflowContext<Self>,
        command: CancelCommand,
    ) -> Result<VisitSnapshot, HandlerError> {
        let visit_id = Self::begin_command(ctx, |s| visit::cancel_allowed(&s.facts())).await?;
        ctx.state_mut(|s| s.cancel_requested = true);
        let reason = command.reason;
        let recorded = ctx
            .execute_activity(
                VisitActivities::cancel,
                RecordCancel {
                    visit_id,
                    reason: reason.clone(),
                },
                activity_options(),
            )
            .await;
        if recorded.is_err() {
            ctx.state_mut(|s| s.cancel_requested = false);
        }
        Self::finish_command(ctx, recorded, |s| {
            s.status = VisitStatus::Cancelled;
            s.cancel_reason = Some(reason);
        })
    }
}
