//! The activities that make scheduling decisions: the engine's own assignment of a
//! new or unfilled visit, a coordinator's manual assignment, and a call-out.
//!
//! Each is one transaction: load with indexed queries, decide with the pure
//! engine (`homecare_domain::scheduling`), apply. A double booking refused by
//! the exclusion constraint (a concurrent decision took the caregiver between
//! our read and our write) rolls the whole transaction back and decides again
//! from fresh data; it never surfaces as an error.

use homecare_domain::EventKind;
use homecare_domain::VisitStatus;
use homecare_domain::contracts::{
    AssignmentChange, AssignmentOutcome, CallOut, CallOutOutcome, RecordManualAssignment,
    RecordReschedule,
};
use homecare_domain::scheduling::{self, Overrides, Violation};
use serde::Serialize;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::scheduling::{
    Apply, DecidedBy, LoadedVisit, ProfileFilter, current_outcome, is_double_booking,
    load_profiles, load_visit, until_no_clash,
};
use crate::{ActivityFailure, VisitActivitiesImpl};

/// Why a caregiver cannot take a visit by hand.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManualProblem {
    pub caregiver_id: Uuid,
    pub violations: Vec<Violation>,
}

/// Checks a coordinator's choice against the shape of the visit (how many
/// caregivers, distinct, existing) and every hard rule. `Ok(vec![])`: allowed.
pub async fn check_manual(
    conn: &mut PgConnection,
    visit: &LoadedVisit,
    caregiver_ids: &[Uuid],
    override_weekly_cap: bool,
    policy: &scheduling::Policy,
) -> Result<Vec<ManualProblem>, ActivityFailure> {
    let needed = usize::from(visit.need.caregivers_needed);
    let mut distinct = caregiver_ids.to_vec();
    distinct.sort();
    distinct.dedup();
    if caregiver_ids.len() != needed || distinct.len() != needed {
        return Err(ActivityFailure::Rejected(format!(
            "the visit needs {needed} distinct caregiver(s); {} given",
            distinct.len()
        )));
    }
    let filter = ProfileFilter {
        skills: None,
        ids: Some(distinct.clone()),
    };
    let profiles = load_profiles(
        conn,
        &filter,
        visit.need.start,
        visit.need.end,
        &[visit.need.client_id],
    )
    .await?;
    if profiles.len() != distinct.len() {
        let missing: Vec<String> = distinct
            .iter()
            .filter(|id| !profiles.iter().any(|p| p.id == **id))
            .map(Uuid::to_string)
            .collect();
        return Err(ActivityFailure::Rejected(format!(
            "no such caregiver: {}",
            missing.join(", ")
        )));
    }
    let overrides = Overrides {
        weekly_cap: override_weekly_cap,
    };
    Ok(profiles
        .iter()
        .map(|p| ManualProblem {
            caregiver_id: p.id,
            violations: scheduling::violations(&visit.need, p, policy, overrides),
        })
        .filter(|p| !p.violations.is_empty())
        .collect())
}

fn describe(problems: &[ManualProblem]) -> String {
    problems
        .iter()
        .map(|p| {
            let codes: Vec<&str> = p.violations.iter().map(Violation::code).collect();
            format!("caregiver {} breaks {}", p.caregiver_id, codes.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl VisitActivitiesImpl {
    /// The engine's choice for a visit that is `scheduled` or `unfilled`: the best
    /// eligible caregivers, or `unfilled` with an alert when there are none.
    #[tracing::instrument(skip_all, fields(visit_id = %visit_id))]
    pub async fn assign(&self, visit_id: Uuid) -> Result<AssignmentOutcome, ActivityFailure> {
        until_no_clash(|| async move {
            let mut tx = self.db.begin().await?;
            let visit = load_visit(&mut tx, visit_id, true).await?;
            if !matches!(visit.status, VisitStatus::Scheduled | VisitStatus::Unfilled) {
                // Decided by an earlier attempt, a coordinator or a call-out, or
                // cancelled: report what stands.
                self.commit_and_publish(tx, visit_id).await?;
                return Ok(Some(current_outcome(&visit)));
            }
            let decision = self.engine_decision(&mut tx, &visit.need).await?;
            if !decision.staffed() && visit.status == VisitStatus::Unfilled {
                // Still nobody: nothing changes, no new alert.
                self.commit_and_publish(tx, visit_id).await?;
                return Ok(Some(current_outcome(&visit)));
            }
            let detail = json!({ "eligible": decision.eligible, "chosen": decision.caregivers });
            let applied = crate::scheduling::apply(
                &mut tx,
                Apply {
                    visit: &visit,
                    staff: decision.caregiver_ids(),
                    decided_by: DecidedBy::Engine,
                    override_reason: None,
                    detail,
                },
            )
            .await;
            match applied {
                Err(e) if is_double_booking(&e) => Ok(None),
                Err(e) => Err(e.into()),
                Ok(outcome) => {
                    self.commit_and_publish(tx, visit_id).await?;
                    tracing::info!(caregivers = ?outcome.caregiver_ids, eligible = decision.eligible, "visit decided");
                    Ok(Some(outcome))
                }
            }
        })
        .await
    }

    /// A coordinator's assignment, checked against every hard rule in the same
    /// transaction that books it. The weekly hours cap may be overridden with a
    /// reason, which is recorded with the decision.
    #[tracing::instrument(skip_all, fields(visit_id = %request.visit_id))]
    pub async fn assign_manually(
        &self,
        request: &RecordManualAssignment,
    ) -> Result<AssignmentOutcome, ActivityFailure> {
        let visit_id = request.visit_id;
        let assignment = &request.assignment;
        let mut tx = self.db.begin().await?;
        let visit = load_visit(&mut tx, visit_id, true).await?;
        if visit.status == VisitStatus::Assigned && visit.staff == assignment.caregiver_ids {
            // Already so (an earlier attempt of this activity committed).
            self.commit_and_publish(tx, visit_id).await?;
            return Ok(current_outcome(&visit));
        }
        if !matches!(
            visit.status,
            VisitStatus::Scheduled | VisitStatus::Unfilled | VisitStatus::Assigned
        ) {
            return Err(ActivityFailure::Rejected(format!(
                "invalid_state: the visit is {}; it can no longer be reassigned",
                visit.status
            )));
        }
        let problems = check_manual(
            &mut tx,
            &visit,
            &assignment.caregiver_ids,
            assignment.override_reason.is_some(),
            &self.policy,
        )
        .await?;
        if !problems.is_empty() {
            return Err(ActivityFailure::Rejected(format!(
                "hard_rule_violated: {}",
                describe(&problems)
            )));
        }
        let applied = crate::scheduling::apply(
            &mut tx,
            Apply {
                visit: &visit,
                staff: assignment.caregiver_ids.clone(),
                decided_by: DecidedBy::Coordinator,
                override_reason: assignment.override_reason.as_deref(),
                detail: json!({}),
            },
        )
        .await;
        let outcome = match applied {
            Err(e) if is_double_booking(&e) => {
                return Err(ActivityFailure::Rejected(
                    "hard_rule_violated: a chosen caregiver was booked on an overlapping visit \
                     a moment ago"
                        .to_owned(),
                ));
            }
            other => other?,
        };
        self.commit_and_publish(tx, visit_id).await?;
        Ok(outcome)
    }

    /// A caregiver calls out for a period: the period becomes unavailable, and every
    /// visit of theirs in it that has not started is re-decided together, the
    /// scarcest first, preferring caregivers who know the client. Only affected
    /// visits move; the other caregiver of a two-person visit stays. Visits nobody
    /// can cover go `unfilled` with an alert. Idempotent by call-out id.
    #[tracing::instrument(skip_all, fields(call_out_id = %call_out.call_out_id, caregiver_id = %call_out.caregiver_id))]
    pub async fn apply_call_out(
        &self,
        call_out: &CallOut,
    ) -> Result<CallOutOutcome, ActivityFailure> {
        until_no_clash(|| async move {
            let mut tx = self.db.begin().await?;
            // One call-out of a caregiver at a time.
            let exists: Option<Uuid> =
                sqlx::query_scalar("select id from caregivers where id = $1 for update")
                    .bind(call_out.caregiver_id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if exists.is_none() {
                return Err(ActivityFailure::Rejected(format!(
                    "no such caregiver: {}",
                    call_out.caregiver_id
                )));
            }
            let inserted = sqlx::query(
                "insert into call_outs (id, caregiver_id, period, reason)
                 values ($1, $2, tstzrange($3, $4), $5)
                 on conflict (id) do nothing",
            )
            .bind(call_out.call_out_id)
            .bind(call_out.caregiver_id)
            .bind(call_out.start)
            .bind(call_out.end)
            .bind(&call_out.reason)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                let outcome = recorded_call_out(&mut tx, call_out).await?;
                tx.commit().await?;
                for change in &outcome.changes {
                    self.publish_or_defer(change.visit_id).await;
                }
                return Ok(Some(outcome));
            }
            sqlx::query(
                "insert into caregiver_exceptions (id, caregiver_id, period, kind, reason, call_out_id)
                 values ($1, $2, tstzrange($3, $4), 'unavailable', $5, $6)",
            )
            .bind(Uuid::new_v4())
            .bind(call_out.caregiver_id)
            .bind(call_out.start)
            .bind(call_out.end)
            .bind(&call_out.reason)
            .bind(call_out.call_out_id)
            .execute(&mut *tx)
            .await?;
            let affected: Vec<Uuid> = sqlx::query_scalar(
                "select s.visit_id from visit_staff s join visits v on v.id = s.visit_id
                  where s.caregiver_id = $1 and s.scheduled && tstzrange($2, $3)
                    and v.status = 'assigned'
                  order by s.visit_id",
            )
            .bind(call_out.caregiver_id)
            .bind(call_out.start)
            .bind(call_out.end)
            .fetch_all(&mut *tx)
            .await?;
            let mut visits = Vec::with_capacity(affected.len());
            for visit_id in &affected {
                visits.push(load_visit(&mut tx, *visit_id, true).await?);
            }
            // What each visit still needs: the called-out caregiver's slot, and
            // never the caregiver already on it.
            let mut needs = Vec::with_capacity(visits.len());
            let mut remaining = Vec::with_capacity(visits.len());
            for visit in &visits {
                let stays: Vec<Uuid> = visit
                    .staff
                    .iter()
                    .copied()
                    .filter(|id| *id != call_out.caregiver_id)
                    .collect();
                let mut need = visit.need.clone();
                need.caregivers_needed = (visit.staff.len() - stays.len()).max(1) as u8;
                need.excluded_caregivers.extend(stays.iter().copied());
                needs.push(need);
                remaining.push(stays);
            }
            let mut outcome = CallOutOutcome {
                call_out_id: call_out.call_out_id,
                caregiver_id: call_out.caregiver_id,
                changes: Vec::new(),
            };
            if !visits.is_empty() {
                let from = needs
                    .iter()
                    .map(|n| n.start)
                    .min()
                    .unwrap_or(call_out.start);
                let to = needs.iter().map(|n| n.end).max().unwrap_or(call_out.end);
                let clients: Vec<Uuid> = needs.iter().map(|n| n.client_id).collect();
                let filter = ProfileFilter {
                    skills: Some(Vec::new()),
                    ids: None,
                };
                let mut profiles = load_profiles(&mut tx, &filter, from, to, &clients).await?;
                let decisions = scheduling::decide_all(&needs, &mut profiles, &self.policy);
                let mut clashed = false;
                for decision in decisions {
                    let i = visits
                        .iter()
                        .position(|v| v.need.visit_id == decision.visit_id)
                        .expect("a decision per need");
                    // A two-person visit is staffed fully or not at all.
                    let staff = if decision.staffed() {
                        let mut staff = remaining[i].clone();
                        staff.extend(decision.caregiver_ids());
                        staff
                    } else {
                        Vec::new()
                    };
                    let detail = json!({
                        "eligible": decision.eligible,
                        "chosen": decision.caregivers,
                        "called_out": call_out.caregiver_id,
                    });
                    let applied = crate::scheduling::apply(
                        &mut tx,
                        Apply {
                            visit: &visits[i],
                            staff,
                            decided_by: DecidedBy::CallOut(call_out.call_out_id),
                            override_reason: None,
                            detail,
                        },
                    )
                    .await;
                    match applied {
                        Err(e) if is_double_booking(&e) => {
                            clashed = true;
                            break;
                        }
                        Err(e) => return Err(e.into()),
                        Ok(o) => outcome.changes.push(AssignmentChange {
                            visit_id: decision.visit_id,
                            outcome: o,
                        }),
                    }
                }
                if clashed {
                    return Ok(None);
                }
            }
            tx.commit().await?;
            for change in &outcome.changes {
                self.publish_or_defer(change.visit_id).await;
            }
            let unfilled = outcome
                .changes
                .iter()
                .filter(|c| c.outcome.caregiver_id.is_none())
                .count();
            tracing::info!(
                affected = outcome.changes.len(),
                unfilled,
                "call-out applied"
            );
            Ok(Some(outcome))
        })
        .await
    }

    /// New times for a visit that has not started. Its caregivers stay if they
    /// still meet every hard rule at the new time (the least disruption);
    /// otherwise the engine decides again, or the visit goes unfilled.
    #[tracing::instrument(skip_all, fields(visit_id = %request.visit_id))]
    pub async fn reschedule(
        &self,
        request: &RecordReschedule,
    ) -> Result<AssignmentOutcome, ActivityFailure> {
        let visit_id = request.visit_id;
        let (start, end) = (
            request.command.scheduled_start,
            request.command.scheduled_end,
        );
        until_no_clash(
            async || -> Result<Option<AssignmentOutcome>, ActivityFailure> {
                let mut tx = self.db.begin().await?;
                let mut visit = load_visit(&mut tx, visit_id, true).await?;
                if visit.need.start == start && visit.need.end == end {
                    // Already moved (an earlier attempt of this activity committed).
                    self.commit_and_publish(tx, visit_id).await?;
                    return Ok(Some(current_outcome(&visit)));
                }
                if !matches!(
                    visit.status,
                    VisitStatus::Scheduled | VisitStatus::Unfilled | VisitStatus::Assigned
                ) {
                    return Err(ActivityFailure::Rejected(format!(
                        "invalid_state: a {} visit can no longer be rescheduled",
                        visit.status
                    )));
                }
                let (old_start, old_end) = (visit.need.start, visit.need.end);
                // `apply` writes the new times together with the staff, so the
                // visits table's own double-booking constraint sees both at once.
                visit.need.start = start;
                visit.need.end = end;
                let kept = if visit.staff.is_empty() {
                    false
                } else {
                    let filter = ProfileFilter {
                        skills: None,
                        ids: Some(visit.staff.clone()),
                    };
                    let staff =
                        load_profiles(&mut tx, &filter, start, end, &[visit.need.client_id])
                            .await?;
                    staff.len() == visit.staff.len()
                        && staff.iter().all(|p| {
                            scheduling::violations(
                                &visit.need,
                                p,
                                &self.policy,
                                Overrides::default(),
                            )
                            .is_empty()
                        })
                };
                let (staff, detail) = if kept {
                    (visit.staff.clone(), json!({ "kept": true }))
                } else {
                    let decision = self.engine_decision(&mut tx, &visit.need).await?;
                    let detail =
                        json!({ "eligible": decision.eligible, "chosen": decision.caregivers });
                    (decision.caregiver_ids(), detail)
                };
                crate::store::record_event(
                    &mut tx,
                    EventKind::VisitRescheduled,
                    visit_id,
                    &format!("v{}", visit.version + 1),
                    chrono::Utc::now() - chrono::Duration::microseconds(1),
                    json!({
                        "visit_id": visit_id,
                        "client_id": visit.need.client_id,
                        "caregiver_id": visit.staff.first(),
                        "previous_start": old_start,
                        "previous_end": old_end,
                        "scheduled_start": start,
                        "scheduled_end": end,
                    }),
                )
                .await?;
                let applied = crate::scheduling::apply(
                    &mut tx,
                    Apply {
                        visit: &visit,
                        staff,
                        decided_by: DecidedBy::Engine,
                        override_reason: None,
                        detail,
                    },
                )
                .await;
                match applied {
                    Err(e) if is_double_booking(&e) => Ok(None),
                    Err(e) => Err(e.into()),
                    Ok(outcome) => {
                        self.commit_and_publish(tx, visit_id).await?;
                        Ok(Some(outcome))
                    }
                }
            },
        )
        .await
    }

    /// The engine's choice for one visit among the active caregivers holding
    /// its skills (the GIN-indexed pre-filter).
    async fn engine_decision(
        &self,
        conn: &mut PgConnection,
        need: &scheduling::VisitNeed,
    ) -> Result<scheduling::Decision, ActivityFailure> {
        let filter = ProfileFilter {
            skills: Some(need.required_skills.clone()),
            ids: None,
        };
        let profiles =
            load_profiles(conn, &filter, need.start, need.end, &[need.client_id]).await?;
        Ok(scheduling::decide(need, &profiles, &self.policy))
    }

    async fn publish_or_defer(&self, visit_id: Uuid) {
        if let Err(e) = self.publish_pending(visit_id).await {
            tracing::warn!(%visit_id, error = %e, "publish deferred to the outbox sweeper");
        }
    }
}

/// The outcome of a call-out already applied (a retried activity).
async fn recorded_call_out(
    conn: &mut PgConnection,
    call_out: &CallOut,
) -> Result<CallOutOutcome, ActivityFailure> {
    let rows: Vec<(Uuid, i32, Vec<Uuid>)> = sqlx::query_as(
        "select visit_id, version, caregiver_ids from assignment_decisions
          where call_out_id = $1 order by visit_id",
    )
    .bind(call_out.call_out_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(CallOutOutcome {
        call_out_id: call_out.call_out_id,
        caregiver_id: call_out.caregiver_id,
        changes: rows
            .into_iter()
            .map(|(visit_id, version, caregiver_ids)| AssignmentChange {
                visit_id,
                outcome: AssignmentOutcome {
                    caregiver_id: caregiver_ids.first().copied(),
                    caregiver_ids,
                    version: version.into(),
                },
            })
            .collect(),
    })
}
