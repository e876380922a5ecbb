//! Independent solution checker.
//!
//! Works directly on the JSON-level [`Instance`] / [`Solution`] types by string ids and
//! shares no code with the solver's model or schedule evaluation. It verifies every
//! hard rule of the benchmark and recomputes the cost from the solution's own times.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::instance::{Cost, Instance, Solution, Synchronization};

/// Tolerance for time comparisons.
pub const TOLERANCE: f64 = 1e-6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ViolationKind {
    /// Route for a caregiver id that is not in the instance.
    UnknownCaregiver,
    /// Two routes for the same caregiver.
    DuplicateRoute,
    /// Visit of a patient id not in the instance.
    UnknownPatient,
    /// Visit of a service the patient does not require.
    ServiceNotRequired,
    /// A required service is never served.
    MissingService,
    /// A required service is served more than once.
    DuplicateService,
    /// The caregiver lacks the ability for the service.
    NoAbility,
    /// Start before the patient's earliest start.
    BeforeTimeWindow,
    /// Start before the caregiver can arrive (previous departure + travel).
    BeforeArrival,
    /// `departure_time - arrival_time` differs from the service duration.
    WrongDuration,
    /// Simultaneous pair not starting at the same time.
    SimultaneousViolated,
    /// Sequential pair outside its `[min, max]` start distance.
    SequentialViolated,
    /// Both services of a double-service patient done by the same caregiver.
    SameCaregiver,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Violation {
    pub kind: ViolationKind,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub violations: Vec<Violation>,
    /// Cost recomputed from the solution's routes and times.
    pub cost: Cost,
}

impl CheckReport {
    pub fn is_feasible(&self) -> bool {
        self.violations.is_empty()
    }

    pub fn has(&self, kind: ViolationKind) -> bool {
        self.violations.iter().any(|v| v.kind == kind)
    }
}

/// Where and when one service was performed.
struct Served<'a> {
    caregiver: &'a str,
    start: f64,
}

/// Checks `solution` against `instance`.
pub fn check(instance: &Instance, solution: &Solution) -> CheckReport {
    let mut violations = Vec::new();
    let mut push =
        |kind: ViolationKind, message: String| violations.push(Violation { kind, message });

    let patient_row: HashMap<&str, usize> = instance
        .patients
        .iter()
        .enumerate()
        .map(|(i, p)| (p.id.as_str(), i + 1))
        .collect();
    let default_duration: HashMap<&str, f64> = instance
        .services
        .iter()
        .map(|s| (s.id.as_str(), s.default_duration))
        .collect();
    let abilities: HashMap<&str, &Vec<String>> = instance
        .caregivers
        .iter()
        .map(|c| (c.id.as_str(), &c.abilities))
        .collect();
    let travel = |a: usize, b: usize| -> f64 { instance.distances[a][b] };

    let mut served: HashMap<(&str, &str), Vec<Served>> = HashMap::new();
    let mut seen_caregivers: HashMap<&str, usize> = HashMap::new();
    let mut distance = 0.0;
    let mut total_tardiness = 0.0;
    let mut max_tardiness: f64 = 0.0;

    for route in &solution.routes {
        let cg = route.caregiver_id.as_str();
        *seen_caregivers.entry(cg).or_insert(0) += 1;
        if seen_caregivers[cg] == 2 {
            push(
                ViolationKind::DuplicateRoute,
                format!("caregiver {cg} has more than one route"),
            );
        }
        let caregiver_abilities = abilities.get(cg);
        if caregiver_abilities.is_none() {
            push(
                ViolationKind::UnknownCaregiver,
                format!("route for unknown caregiver {cg}"),
            );
        }
        let mut here = 0usize; // depot row
        let mut free_at = 0.0f64;
        for visit in &route.locations {
            let pid = visit.patient_id.as_str();
            let sid = visit.service_id.as_str();
            let Some(&row) = patient_row.get(pid) else {
                push(
                    ViolationKind::UnknownPatient,
                    format!("caregiver {cg} visits unknown patient {pid}"),
                );
                continue;
            };
            let patient = &instance.patients[row - 1];
            let req = patient
                .required_caregivers
                .iter()
                .find(|r| r.service == sid);
            let Some(req) = req else {
                push(
                    ViolationKind::ServiceNotRequired,
                    format!("patient {pid} does not require service {sid} (caregiver {cg})"),
                );
                continue;
            };
            if let Some(ab) = caregiver_abilities
                && !ab.iter().any(|a| a == sid)
            {
                push(
                    ViolationKind::NoAbility,
                    format!("caregiver {cg} cannot perform {sid} (patient {pid})"),
                );
            }
            let duration = req
                .duration
                .or_else(|| default_duration.get(sid).copied())
                .unwrap_or(0.0);
            let leg = travel(here, row);
            distance += leg;
            let start = visit.arrival_time;
            if start < patient.time_window[0] - TOLERANCE {
                push(
                    ViolationKind::BeforeTimeWindow,
                    format!(
                        "patient {pid} service {sid} starts at {start} before its window opens at {}",
                        patient.time_window[0]
                    ),
                );
            }
            if start < free_at + leg - TOLERANCE {
                push(
                    ViolationKind::BeforeArrival,
                    format!(
                        "caregiver {cg} starts {pid}/{sid} at {start} but cannot arrive before {}",
                        free_at + leg
                    ),
                );
            }
            if (visit.departure_time - start - duration).abs() > TOLERANCE {
                push(
                    ViolationKind::WrongDuration,
                    format!(
                        "{pid}/{sid}: departure - arrival = {} but duration is {duration}",
                        visit.departure_time - start
                    ),
                );
            }
            let tardiness = (start - patient.time_window[1]).max(0.0);
            total_tardiness += tardiness;
            max_tardiness = max_tardiness.max(tardiness);
            served.entry((pid, sid)).or_default().push(Served {
                caregiver: cg,
                start,
            });
            // Continue from the recorded departure (never earlier than start + duration).
            free_at = visit.departure_time.max(start + duration);
            here = row;
        }
        distance += travel(here, 0);
    }

    for patient in &instance.patients {
        let pid = patient.id.as_str();
        let mut firsts: Vec<Option<&Served>> = Vec::new();
        for req in &patient.required_caregivers {
            match served.get(&(pid, req.service.as_str())) {
                None => {
                    push(
                        ViolationKind::MissingService,
                        format!("patient {pid} service {} is not served", req.service),
                    );
                    firsts.push(None);
                }
                Some(list) => {
                    if list.len() > 1 {
                        push(
                            ViolationKind::DuplicateService,
                            format!(
                                "patient {pid} service {} served {} times",
                                req.service,
                                list.len()
                            ),
                        );
                    }
                    firsts.push(list.first());
                }
            }
        }
        if let [Some(a), Some(b)] = firsts[..] {
            if a.caregiver == b.caregiver {
                push(
                    ViolationKind::SameCaregiver,
                    format!(
                        "both services of patient {pid} are done by caregiver {}",
                        a.caregiver
                    ),
                );
            }
            match patient.synchronization {
                Some(Synchronization::Sequential { distance: [lo, hi] }) => {
                    let gap = b.start - a.start;
                    if gap < lo - TOLERANCE || gap > hi + TOLERANCE {
                        push(
                            ViolationKind::SequentialViolated,
                            format!(
                                "patient {pid}: second start - first start = {gap}, allowed [{lo}, {hi}]"
                            ),
                        );
                    }
                }
                Some(Synchronization::Simultaneous) | None => {
                    if (a.start - b.start).abs() > TOLERANCE {
                        push(
                            ViolationKind::SimultaneousViolated,
                            format!(
                                "patient {pid}: simultaneous services start at {} and {}",
                                a.start, b.start
                            ),
                        );
                    }
                }
            }
        }
    }

    CheckReport {
        violations,
        cost: Cost::new(distance, total_tardiness, max_tardiness),
    }
}
