//! Construction heuristic + multi-neighbourhood simulated annealing.
//!
//! See the crate README for the algorithm description. Everything is deterministic for a
//! given seed: the temperature schedule is driven by the iteration counter only, the wall
//! clock is consulted solely to stop.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::instance::{Cost, Instance, Route, Solution, Visit};
use crate::model::{Model, NONE};
use crate::rng::Rng;
use crate::state::State;

/// Progress report passed to [`SolveOptions::progress`].
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub iterations: u64,
    pub elapsed: Duration,
    /// Best benchmark cost so far (`(distance + total + max tardiness) / 3`).
    pub best_cost: f64,
    /// Benchmark cost of the current SA solution.
    pub current_cost: f64,
    pub temperature: f64,
}

/// Progress callback type.
pub type ProgressFn = Arc<dyn Fn(&Progress) + Send + Sync>;

/// Solver options.
#[derive(Clone)]
pub struct SolveOptions {
    /// Wall-clock limit (the only non-deterministic input: it just decides when to stop).
    pub time_limit: Duration,
    pub seed: u64,
    /// Optional iteration limit; with a generous `time_limit` the run is fully
    /// reproducible.
    pub max_iterations: Option<u64>,
    /// Called every 2^16 iterations and once at the end.
    pub progress: Option<ProgressFn>,
}

impl std::fmt::Debug for SolveOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SolveOptions")
            .field("time_limit", &self.time_limit)
            .field("seed", &self.seed)
            .field("max_iterations", &self.max_iterations)
            .field("progress", &self.progress.as_ref().map(|_| "<callback>"))
            .finish()
    }
}

impl Default for SolveOptions {
    fn default() -> Self {
        Self {
            time_limit: Duration::from_secs(10),
            seed: 0,
            max_iterations: None,
            progress: None,
        }
    }
}

impl SolveOptions {
    pub fn with_time_limit(time_limit: Duration, seed: u64) -> Self {
        Self {
            time_limit,
            seed,
            ..Self::default()
        }
    }

    pub fn with_iterations(max_iterations: u64, seed: u64) -> Self {
        Self {
            time_limit: Duration::from_secs(3600),
            seed,
            max_iterations: Some(max_iterations),
            progress: None,
        }
    }
}

/// Result of [`solve`].
#[derive(Debug, Clone)]
pub struct SolveResult {
    pub solution: Solution,
    pub cost: Cost,
    pub iterations: u64,
    pub elapsed: Duration,
    /// Iteration at which the returned solution was found.
    pub best_iteration: u64,
}

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

/// Iteration budget the temperature schedule is laid out for: the explicit iteration
/// limit if any, else the time limit times a conservative, size-dependent throughput
/// estimate (a fixed formula, so the search trajectory never depends on machine speed;
/// only the stopping point does).
pub(crate) fn planned_iterations(m: &Model, opt: &SolveOptions) -> u64 {
    if let Some(n) = opt.max_iterations {
        return n;
    }
    let rate = 0.75 * 1.6e8 / (m.nv as f64 + 60.0);
    (opt.time_limit.as_secs_f64() * rate).max(10_000.0) as u64
}

mod annealer;

use annealer::Annealer;

#[cfg(test)]
mod tests;
