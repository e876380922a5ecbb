//! Construction heuristic + multi-neighbourhood simulated annealing.
//!
//! See the crate README for the algorithm description. Everything is deterministic for a
//! given seed: the temperature schedule is driven by the iteration counter only, the wall
//! clock is consulted solely to stop.

use std::time::Instant;

use crate::instance::{Cost, Instance, Route, Solution, Visit};
use crate::model::{Model, NONE};
use crate::rng::Rng;
use crate::state::State;

/// Solves an instance. Panics if the instance is malformed (see [`try_solve`]).
pub fn solve(instance: &Instance, options: &SolveOptions) -> SolveResult {
    try_solve(instance, options).expect("invalid HHCRSP instance")
}

/// Solves an instance; errors if it is malformed or has no feasible assignment.
pub fn try_solve(instance: &Instance, options: &SolveOptions) -> anyhow::Result<SolveResult> {
    let started = Instant::now();
    let m = Model::build(instance)?;
    let mut rng = Rng::new(options.seed);
    let st = construct(&m, &mut rng)?;
    let mut sa = Annealer::new(&m, st, rng);
    sa.run(options, started);
    let best = State::from_routes(&m, &sa.best_routes)
        .ok_or_else(|| anyhow::anyhow!("internal error: best routes infeasible"))?;
    let solution = to_solution(instance, &m, &best);
    let cost = Cost::new(best.dist_total, best.tard_total, best.tard_max);
    Ok(SolveResult {
        solution,
        cost,
        iterations: sa.iter,
        elapsed: started.elapsed(),
        best_iteration: sa.best_iter,
    })
}

pub(crate) fn to_solution(inst: &Instance, m: &Model, st: &State) -> Solution {
    let routes = st
        .routes
        .iter()
        .enumerate()
        .map(|(r, route)| Route {
            caregiver_id: inst.caregivers[r].id.clone(),
            locations: route
                .iter()
                .map(|&v| {
                    let vu = v as usize;
                    let s = st.start[vu];
                    Visit {
                        patient_id: inst.patients[m.patient[vu] as usize].id.clone(),
                        service_id: inst.services[m.service[vu] as usize].id.clone(),
                        arrival_time: s,
                        departure_time: s + m.dur[vu],
                    }
                })
                .collect(),
        })
        .collect();
    Solution { routes }
}

/// Greedy construction: patients by earliest start; each service (or pair of services)
/// goes to the cheapest feasible insertion (any position for single services, appended
/// to two distinct routes for synchronised pairs).
pub(crate) fn construct(m: &Model, rng: &mut Rng) -> anyhow::Result<State> {
    let mut st = State::new(m);
    st.full_evaluate(m);
    let mut patients: Vec<(f64, u64, u32)> = Vec::new();
    let mut first_visit = vec![NONE; m.nloc];
    for v in (0..m.nv).rev() {
        first_visit[m.patient[v] as usize] = v as u32;
    }
    for (p, &v) in first_visit.iter().enumerate() {
        if v != NONE {
            patients.push((m.early[v as usize], rng.next_u64(), p as u32));
        }
    }
    patients.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    for &(_, _, p) in &patients {
        let a = first_visit[p as usize];
        let b = m.partner[a as usize];
        let base = st.cost();
        let mut best: Option<(f64, u32, u32, u32, u32)> = None;
        if b == NONE {
            for &r in &m.capable[a as usize] {
                let len = st.routes[r as usize].len() as u32;
                for i in 0..=len {
                    st.begin();
                    st.insert(m, a, r, i);
                    if st.reschedule(m) {
                        let c = st.cost() - base;
                        if best.is_none_or(|x| c < x.0 - 1e-9) {
                            best = Some((c, r, i, 0, 0));
                        }
                    }
                    st.rollback();
                }
            }
        } else {
            for &r1 in &m.capable[a as usize] {
                for &r2 in &m.capable[b as usize] {
                    if r1 == r2 {
                        continue;
                    }
                    let (l1, l2) = (
                        st.routes[r1 as usize].len() as u32,
                        st.routes[r2 as usize].len() as u32,
                    );
                    st.begin();
                    st.insert(m, a, r1, l1);
                    st.insert(m, b, r2, l2);
                    if st.reschedule(m) {
                        let c = st.cost() - base;
                        if best.is_none_or(|x| c < x.0 - 1e-9) {
                            best = Some((c, r1, l1, r2, l2));
                        }
                    }
                    st.rollback();
                }
            }
        }
        let (_, r1, i1, r2, i2) =
            best.ok_or_else(|| anyhow::anyhow!("construction: no feasible insertion"))?;
        st.begin();
        st.insert(m, a, r1, i1);
        if b != NONE {
            st.insert(m, b, r2, i2);
        }
        let ok = st.reschedule(m);
        debug_assert!(ok);
        st.commit();
    }
    st.recompute_totals(m);
    Ok(st)
}

mod annealer;
mod options;

use annealer::Annealer;
pub use options::{Progress, ProgressFn, SolveOptions, SolveResult};

#[cfg(test)]
mod tests;
