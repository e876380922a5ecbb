//! From a client's care plans to the visits they ask for, and from what is
//! generated already to what generation must change.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Duty, Occurrence, Pattern, PatternException, occurrences};
use crate::VisitStatus;
use crate::pricing::{self, RateRule};

/// What a visit of the plan needs from its caregivers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirements {
    pub required_skills: Vec<String>,
    pub required_language: Option<String>,
    pub required_gender: Option<String>,
}

impl Requirements {
    /// The same requirements always give the same key (skills in any order).
    fn key(&self) -> String {
        let mut skills = self.required_skills.clone();
        skills.sort();
        skills.dedup();
        format!(
            "{}|{}|{}",
            skills.join(","),
            self.required_language.as_deref().unwrap_or_default(),
            self.required_gender.as_deref().unwrap_or_default()
        )
    }
}

/// One version of a plan: what it asks for from `effective_from` until the
/// next version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanVersion {
    pub version: i32,
    pub effective_from: NaiveDate,
    pub duties: Vec<Duty>,
    pub requirements: Requirements,
}

/// A pattern as generation uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledPattern {
    pub pattern: Pattern,
    pub exceptions: Vec<PatternException>,
    pub caregivers_needed: u8,
    pub preferred_caregiver: Option<Uuid>,
}

/// A care plan with its versions and patterns.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanSchedule {
    pub plan_id: Uuid,
    pub payer_id: Uuid,
    pub service_code: String,
    pub valid_from: NaiveDate,
    /// The last day the plan applies, if it ends.
    pub valid_until: Option<NaiveDate>,
    /// In any order.
    pub versions: Vec<PlanVersion>,
    pub patterns: Vec<ScheduledPattern>,
}

impl PlanSchedule {
    /// The version in force on `date`: the latest to take effect by then,
    /// and of two from the same day the later one.
    pub fn version_on(&self, date: NaiveDate) -> Option<&PlanVersion> {
        self.versions
            .iter()
            .filter(|v| v.effective_from <= date)
            .max_by_key(|v| (v.effective_from, v.version))
    }
}

/// A visit the plans ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedVisit {
    pub visit_id: Uuid,
    pub plan_id: Uuid,
    pub version: i32,
    pub occurrence: Occurrence,
    pub requirements: Requirements,
    pub caregivers_needed: u8,
    pub preferred_caregiver: Option<Uuid>,
    pub payer_id: Uuid,
    pub service_code: String,
}

/// The id of the visit that the occurrence of `pattern_id` on `date` becomes,
/// under `requirements` and with `caregivers_needed`: the same occurrence
/// always makes the same visit, so generating twice creates nothing twice; a
/// change of what the visit needs (another version's requirements, two
/// caregivers instead of one) makes a new visit in place of the old.
pub fn visit_id(
    plan_id: Uuid,
    pattern_id: Uuid,
    date: NaiveDate,
    requirements: &Requirements,
    caregivers_needed: u8,
) -> Uuid {
    Uuid::new_v5(
        &super::VISIT_ID_NAMESPACE,
        format!(
            "{plan_id}/{pattern_id}/{date}/{}/{caregivers_needed}",
            requirements.key()
        )
        .as_bytes(),
    )
}

/// Every visit `plans` ask for whose occurrence date is in `[from, to)`.
pub fn planned_visits(
    plans: &[PlanSchedule],
    holidays: &BTreeSet<NaiveDate>,
    tz: Tz,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<PlannedVisit> {
    let mut planned = Vec::new();
    for plan in plans {
        for scheduled in &plan.patterns {
            // The pattern applies within the plan's validity only.
            let mut pattern = scheduled.pattern.clone();
            pattern.starts_on = pattern.starts_on.max(plan.valid_from);
            pattern.ends_on = match (pattern.ends_on, plan.valid_until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            for occurrence in occurrences(&pattern, &scheduled.exceptions, holidays, tz, from, to) {
                let Some(version) = plan.version_on(occurrence.date) else {
                    continue;
                };
                planned.push(PlannedVisit {
                    visit_id: visit_id(
                        plan.plan_id,
                        pattern.id,
                        occurrence.date,
                        &version.requirements,
                        scheduled.caregivers_needed,
                    ),
                    plan_id: plan.plan_id,
                    version: version.version,
                    requirements: version.requirements.clone(),
                    occurrence,
                    caregivers_needed: scheduled.caregivers_needed,
                    preferred_caregiver: scheduled.preferred_caregiver,
                    payer_id: plan.payer_id,
                    service_code: plan.service_code.clone(),
                });
            }
        }
    }
    planned.sort_by(|a, b| {
        a.occurrence
            .start
            .cmp(&b.occurrence.start)
            .then(a.visit_id.cmp(&b.visit_id))
    });
    planned
}

/// Why generation cancels a visit: it left the client's care plan.
pub const PLAN_CANCEL_REASON: &str = "no longer in the client's care plan";

/// A visit generation made earlier, as it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedVisit {
    pub visit_id: Uuid,
    pub pattern_id: Uuid,
    /// The pattern's date the visit serves.
    pub occurrence_date: NaiveDate,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub status: VisitStatus,
    /// Generation cancelled it (not a coordinator).
    pub cancelled_by_plan: bool,
    /// The plan version it follows, and the pattern's preferred caregiver,
    /// as written when it was generated (or last restamped).
    pub plan_version: i32,
    pub preferred_caregiver: Option<Uuid>,
    /// When its row last changed: keys the commands generation sends it.
    pub updated_at: DateTime<Utc>,
}

/// The id of the visit that brings back an occurrence whose visit `id`
/// generation cancelled (a skip taken back, a day put back in the pattern):
/// deterministic, as the first.
pub fn reinstated_id(id: Uuid) -> Uuid {
    Uuid::new_v5(&super::VISIT_ID_NAMESPACE, format!("{id}/again").as_bytes())
}

/// The planned visits with the ids they have now: an occurrence whose visit
/// generation cancelled earlier comes back under a new id.
pub fn with_current_ids(
    planned: &[PlannedVisit],
    generated: &[GeneratedVisit],
) -> Vec<PlannedVisit> {
    let by_id: HashMap<Uuid, &GeneratedVisit> = generated.iter().map(|g| (g.visit_id, g)).collect();
    planned
        .iter()
        .map(|visit| {
            let mut visit = visit.clone();
            while let Some(g) = by_id.get(&visit.visit_id)
                && g.status == VisitStatus::Cancelled
                && g.cancelled_by_plan
            {
                visit.visit_id = reinstated_id(visit.visit_id);
            }
            visit
        })
        .collect()
}

impl GeneratedVisit {
    /// Not started, not cancelled: generation may still move or cancel it.
    fn open(&self) -> bool {
        matches!(
            self.status,
            VisitStatus::Scheduled | VisitStatus::Unfilled | VisitStatus::Assigned
        )
    }

    /// Checked in, completed or invoiced: the occurrence is being served.
    fn begun(&self) -> bool {
        !self.open() && self.status != VisitStatus::Cancelled
    }
}

/// What generation changes: visits to create, to move, to cancel.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reconciliation {
    pub create: Vec<PlannedVisit>,
    pub reschedule: Vec<PlannedVisit>,
    pub cancel: Vec<Uuid>,
    /// Open visits whose plan version or preferred caregiver changed (the
    /// duties a check-out is checked against; who comes first next time).
    pub restamp: Vec<PlannedVisit>,
    /// Planned visits already generated as they should be (or started, done,
    /// or cancelled by hand: generation leaves those alone).
    pub kept: usize,
}

/// Compares the plans' visits with those generated so far; `planned` covers
/// the occurrences dated before `until`. Only what lies ahead of `now`
/// changes: a visit checked in, completed or cancelled by a coordinator is
/// never touched, an occurrence whose time has passed is not created, and an
/// occurrence already being served (checked in early, under an older
/// version) gets no second visit. An occurrence whose visit generation
/// cancelled before (a skip taken back) gets a new visit. Visits dated from
/// `until` on (a horizon that shrank) are left as they are.
pub fn reconcile(
    planned: &[PlannedVisit],
    generated: &[GeneratedVisit],
    now: DateTime<Utc>,
    until: NaiveDate,
) -> Reconciliation {
    let planned = with_current_ids(planned, generated);
    let planned = planned.as_slice();
    let by_id: HashMap<Uuid, &GeneratedVisit> = generated.iter().map(|g| (g.visit_id, g)).collect();
    let served: BTreeSet<(Uuid, NaiveDate)> = generated
        .iter()
        .filter(|g| g.begun())
        .map(|g| (g.pattern_id, g.occurrence_date))
        .collect();
    let mut result = Reconciliation::default();
    for visit in planned {
        let ahead = visit.occurrence.start > now;
        let key = (visit.occurrence.pattern_id, visit.occurrence.date);
        match by_id.get(&visit.visit_id) {
            None if ahead && !served.contains(&key) => result.create.push(visit.clone()),
            None => {}
            Some(g) => {
                let times = (visit.occurrence.start, visit.occurrence.end);
                if g.open() && ahead && (g.start, g.end) != times {
                    result.reschedule.push(visit.clone());
                } else {
                    result.kept += 1;
                }
                if g.open()
                    && (g.plan_version, g.preferred_caregiver)
                        != (visit.version, visit.preferred_caregiver)
                {
                    result.restamp.push(visit.clone());
                }
            }
        }
    }
    let planned_ids: BTreeSet<Uuid> = planned.iter().map(|p| p.visit_id).collect();
    result.cancel = generated
        .iter()
        .filter(|g| {
            g.open()
                && g.start > now
                && g.occurrence_date < until
                && !planned_ids.contains(&g.visit_id)
        })
        .map(|g| g.visit_id)
        .collect();
    result
}

/// The units `visits` would bill under `rule`, by service date (the client's
/// local date of each start); a per-day rate bills one unit a day.
pub fn planned_units(
    visits: &[&PlannedVisit],
    rule: &RateRule,
    tz: Tz,
) -> BTreeMap<NaiveDate, i64> {
    let mut units: BTreeMap<NaiveDate, i64> = BTreeMap::new();
    for visit in visits {
        let day = visit.occurrence.start.with_timezone(&tz).date_naive();
        let already = units.contains_key(&day);
        *units.entry(day).or_default() +=
            pricing::planned_units(rule, visit.occurrence.minutes(), already);
    }
    units
}

#[cfg(test)]
mod tests;
