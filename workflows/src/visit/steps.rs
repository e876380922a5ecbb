//! The steps `VisitWorkflow`'s run loop and handlers share: the state's
//! projections (facts, snapshot), applying an assignment, the command
//! bookkeeping, and the waits of each phase (assignment, check-in, check-out,
//! billing).

use super::*;

impl VisitWorkflow {
    pub(super) fn facts(&self) -> VisitFacts {
        VisitFacts {
            status: self.status,
            caregiver_id: self.caregiver_id,
            checked_in_at: self.checked_in_at,
        }
    }

    pub(super) fn snapshot(&self) -> VisitSnapshot {
        VisitSnapshot {
            visit_id: self.input.visit_id,
            status: self.status,
            caregiver_id: self.caregiver_id,
            checked_in_at: self.checked_in_at,
            checked_out_at: self.checked_out_at,
            late_alert_raised: self.late_alert_raised,
            cancel_reason: self.cancel_reason.clone(),
            invoice: self.invoice.clone(),
            caregiver_ids: self.caregiver_ids.clone(),
            assignment_version: self.assignment_version,
            held_by: self.held_by.clone(),
        }
    }

    /// Applies an assignment decision unless a newer one is already applied or
    /// the visit is past check-in (or cancelled). Returns whether it applied.
    pub(super) fn apply_outcome(&mut self, outcome: &AssignmentOutcome) -> bool {
        let open = matches!(
            self.status,
            VisitStatus::Scheduled | VisitStatus::Unfilled | VisitStatus::Assigned
        );
        if !open || outcome.version < self.assignment_version {
            return false;
        }
        self.assignment_version = outcome.version;
        self.caregiver_id = outcome.caregiver_id;
        self.caregiver_ids = if outcome.caregiver_ids.is_empty() {
            outcome.caregiver_id.into_iter().collect()
        } else {
            outcome.caregiver_ids.clone()
        };
        self.status = if outcome.caregiver_id.is_some() {
            VisitStatus::Assigned
        } else {
            VisitStatus::Unfilled
        };
        true
    }

    /// An assignment or a command is between its activity's start and the
    /// workflow applying its result. Its event may already be out, and clients
    /// react to events at once, so commands arriving now are not refused.
    pub(super) fn busy(&self) -> bool {
        self.assigning || self.command_in_flight
    }

    /// Validators refuse at once when the workflow is settled. While it is busy
    /// they accept provisionally and the handler applies the same rule once the
    /// workflow has settled, failing the update with the same coded rejection.
    pub(super) fn validate(
        &self,
        rule: impl FnOnce(&Self) -> Result<(), Rejection>,
    ) -> Result<(), HandlerError> {
        if self.busy() {
            Ok(())
        } else {
            rule(self).map_err(Into::into)
        }
    }

    /// Waits until the workflow is settled, applies the rule, and marks a command
    /// in flight (so commands are recorded one at a time, in order).
    pub(super) async fn begin_command(
        ctx: &mut WorkflowContext<Self>,
        rule: impl Fn(&Self) -> Result<(), Rejection>,
    ) -> Result<Uuid, HandlerError> {
        ctx.wait_condition(|s| !s.busy()).await?;
        ctx.state_mut(|s| {
            rule(s)?;
            s.command_in_flight = true;
            Ok(s.input.visit_id)
        })
    }

    pub(super) fn finish_command<T>(
        ctx: &mut WorkflowContext<Self>,
        recorded: Result<T, ActivityExecutionError>,
        apply: impl FnOnce(&mut Self),
    ) -> Result<VisitSnapshot, HandlerError> {
        let ok = recorded.is_ok();
        ctx.state_mut(|s| {
            s.command_in_flight = false;
            if ok {
                apply(s);
            }
        });
        recorded?;
        Self::publish_search_attributes(ctx);
        Ok(ctx.state(|s| s.snapshot()))
    }

    pub(super) async fn record_evv<A>(
        ctx: &mut WorkflowContext<Self>,
        activity: A,
        command: EvvCommand,
        rule: impl Fn(&Self, &EvvCommand) -> Result<(), Rejection>,
        apply: impl FnOnce(&mut Self, DateTime<Utc>),
    ) -> Result<VisitSnapshot, HandlerError>
    where
        A: ActivityDefinition<Input = RecordEvv, Output = ()>,
    {
        let visit_id = Self::begin_command(ctx, |s| rule(s, &command)).await?;
        let at = command.at;
        let recorded = ctx
            .execute_activity(
                activity,
                RecordEvv { visit_id, command },
                activity_options(),
            )
            .await;
        Self::finish_command(ctx, recorded, |s| apply(s, at))
    }

    pub(super) fn cancelled(&self) -> bool {
        self.status == VisitStatus::Cancelled
    }

    pub(super) fn search_attribute_updates(
        &self,
    ) -> Vec<temporalio_common::search_attributes::SearchAttributeUpdate> {
        let mut updates = vec![VISIT_STATUS.value_set(self.status.as_str().to_owned())];
        // Unsetting a keyword is refused by the server ("value from <>"), so an
        // unfilled visit keeps its last caregiver here; VisitStatus tells.
        if let Some(id) = self.caregiver_id {
            updates.push(CAREGIVER_ID.value_set(id.to_string()));
        }
        updates
    }

    pub(super) fn publish_search_attributes(ctx: &WorkflowContext<Self>) {
        ctx.upsert_search_attributes(ctx.state(|s| s.search_attribute_updates()));
    }

    pub(super) fn now(ctx: &WorkflowContext<Self>) -> DateTime<Utc> {
        let at = ctx.workflow_time().unwrap_or(UNIX_EPOCH);
        DateTime::<Utc>::from(at)
    }

    pub(super) async fn assign(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        let (visit_id, retry_minutes) = ctx.state(|s| {
            (
                s.input.visit_id,
                s.input.unfilled_retry_minutes.max(1) as u64,
            )
        });
        loop {
            // A cancel under way decides whether there is anything left to assign:
            // if it fails, assignment carries on. So does a coordinator's
            // assignment being recorded.
            ctx.wait_condition(|s| !s.busy() && (!s.cancel_requested || s.cancelled()))
                .await?;
            if ctx.state(|s| s.cancelled() || s.status == VisitStatus::Assigned) {
                return Ok(());
            }
            ctx.state_mut(|s| {
                s.assigning = true;
                s.reconsider_requested = false;
            });
            let outcome = ctx
                .execute_activity(
                    VisitActivities::assign_caregiver,
                    VisitRef { visit_id },
                    activity_options(),
                )
                .await?;
            // No cancel can have started meanwhile: a cancel waits while the
            // workflow is busy assigning, so the result applies as it is.
            let assigned = ctx.state_mut(|s| {
                s.assigning = false;
                s.apply_outcome(&outcome);
                s.status == VisitStatus::Assigned
            });
            Self::publish_search_attributes(ctx);
            if assigned {
                return Ok(());
            }
            // Unfilled: try again later, or at once when availability changed, or
            // stop when the visit is cancelled or a coordinator assigned it.
            let mut retry = ctx.timer(Duration::from_secs(retry_minutes * 60));
            select! {
                _ = ctx.wait_condition(|s| {
                    s.cancel_requested
                        || s.cancelled()
                        || s.reconsider_requested
                        || s.command_in_flight
                        || s.status == VisitStatus::Assigned
                }) => { retry.cancel(); }
                _ = retry => {}
            };
        }
    }

    /// Waits for the check-in (or a cancel), raising the late alert on time.
    /// Returns true if the visit lost its caregiver meanwhile (a call-out left it
    /// unfilled): the caller assigns again and comes back.
    pub(super) async fn await_check_in(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<bool> {
        let changes = ctx.state(|s| s.schedule_changes);
        let past_check_in =
            move |s: &Self| s.status != VisitStatus::Assigned || s.schedule_changes != changes;
        let (visit_id, start, late_after) = ctx.state(|s| {
            (
                s.input.visit_id,
                s.scheduled_start(),
                s.input.late_check_in_after_minutes.max(0),
            )
        });
        // A visit entered after its start (a backfill, a coordinator catching up)
        // gets the same grace period from the moment it was entered.
        let entered = ctx.state(|s| s.entered_at).unwrap_or(start);
        let late_at = start.max(entered) + chrono::Duration::minutes(late_after);
        // Already late: fire at once (a timer must be longer than zero).
        let wait = (late_at - Self::now(ctx))
            .to_std()
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_millis(1));
        let mut late_timer = ctx.timer(wait);
        let timer_fired = select! {
            _ = ctx.wait_condition(past_check_in) => { late_timer.cancel(); false }
            _ = late_timer => true
        };
        if timer_fired {
            // A check-in or cancel being recorded decides whether the visit is
            // still late; if it fails, the alert is still due.
            ctx.wait_condition(|s| !s.command_in_flight).await?;
        }
        if timer_fired && ctx.state(|s| s.status == VisitStatus::Assigned && !s.late_alert_raised) {
            let raised = ctx
                .execute_activity(
                    VisitActivities::raise_late_check_in_alert,
                    LateCheckInAlert {
                        visit_id,
                        minutes_after_start: late_after,
                    },
                    activity_options(),
                )
                .await?;
            ctx.state_mut(|s| s.late_alert_raised = raised);
        }
        ctx.wait_condition(past_check_in).await?;
        // Unfilled (a call-out) or new times: assign if needed and wait again.
        Ok(ctx.state(|s| s.status == VisitStatus::Unfilled || s.schedule_changes != changes))
    }

    /// While checked in: closes the visit with a `missed_check_out` exception if
    /// no check-out comes within the agency's limit past the scheduled end (or
    /// past the check-in, when that came after the scheduled end).
    pub(super) async fn await_check_out(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        if ctx.state(|s| s.status != VisitStatus::CheckedIn) {
            return Ok(());
        }
        // A visit checked in after its scheduled end (entered late, a backfill)
        // gets the same limit from its check-in.
        let now = Self::now(ctx);
        let (visit_id, close_at) = ctx.state(|s| {
            (
                s.input.visit_id,
                s.scheduled_end().max(now)
                    + chrono::Duration::minutes(s.input.missed_check_out_after_minutes.max(1)),
            )
        });
        let wait = (close_at - now)
            .to_std()
            .unwrap_or(Duration::ZERO)
            .max(Duration::from_millis(1));
        let mut timer = ctx.timer(wait);
        let fired = select! {
            _ = ctx.wait_condition(|s| s.status != VisitStatus::CheckedIn) => { timer.cancel(); false }
            _ = timer => true
        };
        if !fired {
            return Ok(());
        }
        // A check-out being recorded wins; otherwise the close runs as a command,
        // so a check-out arriving meanwhile waits and is then refused cleanly.
        ctx.wait_condition(|s| !s.command_in_flight).await?;
        if ctx.state(|s| s.status != VisitStatus::CheckedIn) {
            return Ok(());
        }
        ctx.state_mut(|s| s.command_in_flight = true);
        let closed = ctx
            .execute_activity(
                VisitActivities::close_missed_check_out,
                VisitRef { visit_id },
                activity_options(),
            )
            .await;
        ctx.state_mut(|s| {
            s.command_in_flight = false;
            if matches!(closed, Ok(true)) {
                s.status = VisitStatus::Completed;
            }
        });
        closed?;
        Self::publish_search_attributes(ctx);
        Ok(())
    }

    /// Bills the completed visit; while exceptions hold it, waits durably for a
    /// coordinator's resolution (an update), then tries again.
    pub(super) async fn bill(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<()> {
        let visit_id = ctx.state(|s| s.input.visit_id);
        loop {
            let seen = ctx.state(|s| s.resolutions);
            let outcome = ctx
                .execute_activity(
                    VisitActivities::bill,
                    VisitRef { visit_id },
                    activity_options(),
                )
                .await?;
            if let Some(invoice) = outcome.invoice {
                ctx.state_mut(|s| {
                    s.invoice = Some(invoice);
                    s.held_by.clear();
                    s.status = VisitStatus::Invoiced;
                });
                Self::publish_search_attributes(ctx);
                return Ok(());
            }
            ctx.state_mut(|s| s.held_by = outcome.held_by);
            ctx.upsert_search_attributes([VISIT_STATUS.value_set(HELD.to_owned())]);
            ctx.wait_condition(move |s| s.resolutions != seen).await?;
        }
    }

    pub(super) fn scheduled_end(&self) -> DateTime<Utc> {
        self.rescheduled_to
            .map_or(self.input.scheduled_end, |(_, end)| end)
    }

    pub(super) fn scheduled_start(&self) -> DateTime<Utc> {
        self.rescheduled_to
            .map_or(self.input.scheduled_start, |(start, _)| start)
    }
}
