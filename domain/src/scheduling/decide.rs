//! Decisions from the rules and scores: the ranking ("why not Maria?"), the
//! engine's choice for one visit or a batch, and the check of a
//! coordinator's own choice.

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Candidate {
    pub caregiver_id: Uuid,
    pub name: String,
    pub score: ScoreTerms,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ineligible {
    pub caregiver_id: Uuid,
    pub name: String,
    pub violations: Vec<Violation>,
}

/// Eligible caregivers best first (ties broken by id, so the order is stable), and
/// every ineligible one with the rules that exclude them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Ranking {
    pub eligible: Vec<Candidate>,
    pub ineligible: Vec<Ineligible>,
}

pub fn rank(need: &VisitNeed, caregivers: &[CaregiverProfile], policy: &Policy) -> Ranking {
    let mut eligible = Vec::new();
    let mut ineligible = Vec::new();
    for caregiver in caregivers {
        let found = violations(need, caregiver, policy, Overrides::default());
        if found.is_empty() {
            eligible.push(Candidate {
                caregiver_id: caregiver.id,
                name: caregiver.name.clone(),
                score: score(need, caregiver, policy),
            });
        } else {
            ineligible.push(Ineligible {
                caregiver_id: caregiver.id,
                name: caregiver.name.clone(),
                violations: found,
            });
        }
    }
    eligible.sort_by(|a, b| {
        b.score
            .total
            .total_cmp(&a.score.total)
            .then(a.caregiver_id.cmp(&b.caregiver_id))
    });
    ineligible.sort_by_key(|i| i.caregiver_id);
    Ranking {
        eligible,
        ineligible,
    }
}

/// Why a caregiver cannot take a visit by hand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManualProblem {
    pub caregiver_id: Uuid,
    pub violations: Vec<Violation>,
}

/// A coordinator's choice that is not a staff for this visit at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManualRefusal {
    #[error("the visit needs {needed} distinct caregiver(s); {given} given")]
    Count { needed: usize, given: usize },
    #[error("no such caregiver: {}", .0.iter().map(Uuid::to_string).collect::<Vec<_>>().join(", "))]
    Unknown(Vec<Uuid>),
}

/// Checks a coordinator's choice against the shape of the visit (how many
/// caregivers, distinct, existing: `profiles` holds those found) and every hard
/// rule. `Ok(vec![])`: allowed; otherwise each caregiver's violations.
pub fn check_manual(
    need: &VisitNeed,
    caregiver_ids: &[Uuid],
    profiles: &[CaregiverProfile],
    overrides: Overrides,
    policy: &Policy,
) -> Result<Vec<ManualProblem>, ManualRefusal> {
    let needed = usize::from(need.caregivers_needed);
    let mut distinct = caregiver_ids.to_vec();
    distinct.sort();
    distinct.dedup();
    if caregiver_ids.len() != needed || distinct.len() != needed {
        return Err(ManualRefusal::Count {
            needed,
            given: distinct.len(),
        });
    }
    let unknown: Vec<Uuid> = distinct
        .iter()
        .copied()
        .filter(|id| !profiles.iter().any(|p| p.id == *id))
        .collect();
    if !unknown.is_empty() {
        return Err(ManualRefusal::Unknown(unknown));
    }
    Ok(profiles
        .iter()
        .filter(|p| distinct.contains(&p.id))
        .map(|p| ManualProblem {
            caregiver_id: p.id,
            violations: violations(need, p, policy, overrides),
        })
        .filter(|p| !p.violations.is_empty())
        .collect())
}

/// Says which rules each caregiver breaks, for a refusal message.
pub fn describe_problems(problems: &[ManualProblem]) -> String {
    problems
        .iter()
        .map(|p| {
            let codes: Vec<&str> = p.violations.iter().map(Violation::code).collect();
            format!("caregiver {} breaks {}", p.caregiver_id, codes.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Who made a staffing decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// The scheduling engine, for a new or unfilled visit or a reschedule.
    Engine,
    /// A coordinator's manual assignment.
    Coordinator,
    /// The engine, re-deciding after a caregiver called out.
    CallOut,
    /// A day plan.
    Planner,
}

impl DecidedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Engine => "engine",
            Self::Coordinator => "coordinator",
            Self::CallOut => "call_out",
            Self::Planner => "planner",
        }
    }
}

/// The outcome for one visit: the chosen caregivers (as many as it needs), or
/// none when it cannot be staffed (the visit goes `unfilled`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub visit_id: Uuid,
    pub caregivers: Vec<Candidate>,
    /// How many eligible caregivers there were.
    pub eligible: usize,
}

impl Decision {
    pub fn staffed(&self) -> bool {
        !self.caregivers.is_empty()
    }

    pub fn caregiver_ids(&self) -> Vec<Uuid> {
        self.caregivers.iter().map(|c| c.caregiver_id).collect()
    }
}

/// Decides one visit: the best `caregivers_needed` distinct eligible caregivers,
/// or none if there are not enough (a two-person visit is never half staffed).
pub fn decide(need: &VisitNeed, caregivers: &[CaregiverProfile], policy: &Policy) -> Decision {
    let ranking = rank(need, caregivers, policy);
    let needed = usize::from(need.caregivers_needed.max(1));
    let eligible = ranking.eligible.len();
    let caregivers = if eligible >= needed {
        ranking.eligible.into_iter().take(needed).collect()
    } else {
        Vec::new()
    };
    Decision {
        visit_id: need.visit_id,
        caregivers,
        eligible,
    }
}

/// Decides several visits together (a call-out, a batch of new visits): the most
/// constrained visit first, each choice booked on the chosen caregivers' calendars
/// before the next visit is decided, so the batch never double-books. Visits not
/// in `needs` are never moved.
pub fn decide_all(
    needs: &[VisitNeed],
    caregivers: &mut [CaregiverProfile],
    policy: &Policy,
) -> Vec<Decision> {
    let mut order: Vec<(usize, usize)> = needs
        .iter()
        .enumerate()
        .map(|(i, need)| (rank(need, caregivers, policy).eligible.len(), i))
        .collect();
    order.sort_by_key(|&(eligible, i)| (eligible, needs[i].start, needs[i].visit_id));
    let mut decisions = Vec::with_capacity(needs.len());
    for (_, i) in order {
        let need = &needs[i];
        let decision = decide(need, caregivers, policy);
        for chosen in &decision.caregivers {
            if let Some(c) = caregivers.iter_mut().find(|c| c.id == chosen.caregiver_id) {
                c.book(Booking {
                    visit_id: need.visit_id,
                    client_id: need.client_id,
                    start: need.start,
                    end: need.end,
                    location: need.location,
                });
            }
        }
        decisions.push(decision);
    }
    decisions
}
