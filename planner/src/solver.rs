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

/// Multi-neighbourhood simulated annealing with reheats from the best solution.
struct Annealer<'a> {
    m: &'a Model,
    st: State,
    rng: Rng,
    best_routes: Vec<Vec<u32>>,
    best_cost: f64,
    best_iter: u64,
    iter: u64,
    weights_cum: [u64; 8],
    weights_total: u64,
}

// Annealing schedule (temperatures in internal units = 3 x benchmark cost).
/// Share of the planned iterations spent in the cold probe anneal.
const PROBE_FRACTION: f64 = 0.05;
const PROBE_T0: f64 = 10.0;
const T_END: f64 = 0.05;
/// Main-anneal start temperature: `min(T0_MAX, T0_BASE + T0_PER_TARDINESS * max tardiness
/// of the probe's best solution)`.
const T0_BASE: f64 = 25.0;
const T0_PER_TARDINESS: f64 = 2.0;
const T0_MAX: f64 = 1000.0;
/// Share of the plan spent in the main anneal, split in `MAIN_CYCLES` equal cycles that
/// each restart from the best solution at `T0`.
const MAIN_FRACTION: f64 = 0.7;
const MAIN_CYCLES: u64 = 3;
/// Later cycles (each `(1 - MAIN_FRACTION) / 2` of the plan) restart from the best at
/// `REHEAT * T0`.
const REHEAT: f64 = 0.1;

const MOVE_RELOCATE: u32 = 0;
const MOVE_SWAP: u32 = 1;
const MOVE_PAIR: u32 = 2;
const MOVE_PAIR_SWAP: u32 = 3;
const MOVE_RELOCATE_NEAR: u32 = 4;
const MOVE_SWAP_NEAR: u32 = 5;
const MOVE_SEGMENT: u32 = 6;
const MOVE_TWO_OPT_STAR: u32 = 7;
/// Default neighbourhood weights, indexed by the `MOVE_*` constants.
const MOVE_WEIGHTS: [u64; 8] = [20, 15, 10, 5, 30, 20, 10, 25];

impl<'a> Annealer<'a> {
    fn new(m: &'a Model, st: State, rng: Rng) -> Self {
        let best_cost = st.cost();
        Self {
            m,
            best_routes: st.routes.clone(),
            st,
            rng,
            best_cost,
            best_iter: 0,
            iter: 0,
            weights_cum: [0; 8],
            weights_total: 0,
        }
        .with_weights(m)
    }

    fn with_weights(mut self, m: &Model) -> Self {
        let mut w = MOVE_WEIGHTS;
        if m.pairs.is_empty() {
            w[MOVE_PAIR as usize] = 0;
            w[MOVE_PAIR_SWAP as usize] = 0;
        }
        let mut acc = 0;
        for (i, x) in w.iter().enumerate() {
            acc += x;
            self.weights_cum[i] = acc;
        }
        self.weights_total = acc.max(1);
        self
    }

    fn run(&mut self, opt: &SolveOptions, started: Instant) {
        // Temperatures are in internal units (3 x benchmark cost).
        let budget = planned_iterations(self.m, opt);
        let max_iter = opt.max_iterations.unwrap_or(u64::MAX);
        // Phase 0: a short cold anneal to reach a reasonable local optimum; its maximum
        // tardiness calibrates the starting temperature of the main anneal (instances
        // whose good solutions are very tardy need much hotter starts).
        let probe_len = ((budget as f64 * PROBE_FRACTION) as u64).max(1000);
        let (probe_t0, probe_tf) = (PROBE_T0, T_END);
        let mut temp = probe_t0;
        while self.iter < max_iter.min(probe_len) {
            if self.iter & 255 == 0 {
                if started.elapsed() >= opt.time_limit {
                    break;
                }
                temp = probe_t0
                    * ((probe_tf / probe_t0).ln() * (self.iter as f64 / probe_len as f64)).exp();
            }
            self.iter += 1;
            self.step(temp);
        }
        if let Some(s) = State::from_routes(self.m, &self.best_routes) {
            self.st = s;
        }
        let max_tard = self.st.tard_max;
        let t0 = (T0_BASE + T0_PER_TARDINESS * max_tard).min(T0_MAX);
        let t_end = T_END;
        let budget = budget.saturating_sub(self.iter);
        // MAIN_CYCLES anneals from T0 over most of the plan, then cooler reheats, every
        // cycle restarting from the best solution; they go on until the time limit.
        let n_main = MAIN_CYCLES;
        let main_len = ((budget as f64 * MAIN_FRACTION / n_main as f64) as u64).max(1000);
        let reheat_len = ((budget as f64 * (1.0 - MAIN_FRACTION) / 2.0) as u64).max(1000);
        let mut cycle = 0u64;
        let mut cycle_len = main_len;
        let mut k = 0u64;
        let mut cycle_t0 = t0;
        temp = t0;
        while self.iter < max_iter {
            if self.iter & 255 == 0 {
                if started.elapsed() >= opt.time_limit {
                    break;
                }
                temp = cycle_t0 * ((t_end / cycle_t0).ln() * (k as f64 / cycle_len as f64)).exp();
                if self.iter & 0xffff == 0 {
                    self.report(opt, started, temp);
                }
            }
            if k >= cycle_len {
                // Next cycle, restarted from the best solution.
                cycle += 1;
                k = 0;
                if cycle >= n_main {
                    cycle_len = reheat_len;
                    cycle_t0 = t0 * REHEAT;
                }
                if let Some(s) = State::from_routes(self.m, &self.best_routes) {
                    self.st = s;
                }
            }
            self.iter += 1;
            k += 1;
            self.step(temp);
        }
        self.report(opt, started, temp);
    }

    fn report(&self, opt: &SolveOptions, started: Instant, temp: f64) {
        if let Some(cb) = &opt.progress {
            cb(&Progress {
                iterations: self.iter,
                elapsed: started.elapsed(),
                best_cost: self.best_cost / 3.0,
                current_cost: self.st.cost() / 3.0,
                temperature: temp,
            });
        }
    }

    fn step(&mut self, temp: f64) {
        let before = self.st.cost();
        self.st.begin();
        let applied = self.random_move();
        if !applied || !self.st.reschedule(self.m) {
            self.st.rollback();
            return;
        }
        let delta = self.st.cost() - before;
        if delta <= 0.0 || self.rng.unit() < (-delta / temp).exp() {
            self.st.commit();
            let c = self.st.cost();
            if c < self.best_cost - 1e-7 {
                self.best_cost = c;
                self.best_iter = self.iter;
                for (dst, src) in self.best_routes.iter_mut().zip(&self.st.routes) {
                    dst.clone_from(src);
                }
            }
        } else {
            self.st.rollback();
        }
    }

    /// Applies one random move of a randomly chosen neighbourhood (without evaluating
    /// it). Returns `false` if the drawn move is not applicable.
    fn random_move(&mut self) -> bool {
        let x = self.rng.below(self.weights_total);
        let mut mv = 0;
        while x >= self.weights_cum[mv] {
            mv += 1;
        }
        match mv as u32 {
            MOVE_RELOCATE => self.relocate(),
            MOVE_SWAP => self.swap(),
            MOVE_PAIR => self.pair_move(),
            MOVE_RELOCATE_NEAR => self.relocate_near(),
            MOVE_SWAP_NEAR => self.swap_near(),
            MOVE_SEGMENT => self.segment_move(),
            MOVE_TWO_OPT_STAR => self.two_opt_star(),
            _ => self.pair_swap(),
        }
    }

    /// Insertion position for `v` into route `r` (which does not contain `v`):
    /// either uniform or near `v`'s current start time.
    fn pick_pos(&mut self, v: u32, r: u32) -> u32 {
        let route = &self.st.routes[r as usize];
        let len = route.len() as u32;
        if len == 0 {
            return 0;
        }
        if self.rng.below(2) == 0 {
            return self.rng.below(len as u64 + 1) as u32;
        }
        let tv = self.st.start[v as usize];
        let start = &self.st.start;
        let j = route.partition_point(|&w| start[w as usize] < tv) as i64;
        let off = self.rng.below(3) as i64 - 1;
        (j + off).clamp(0, len as i64) as u32
    }

    /// Moves `v` right before or after one of its neighbours (granular relocate).
    fn relocate_near(&mut self) -> bool {
        let m = self.m;
        let v = self.rng.below(m.nv as u64) as u32;
        let nb = &m.neigh[v as usize];
        if nb.is_empty() {
            return false;
        }
        let w = nb[self.rng.below(nb.len() as u64) as usize];
        let r = self.st.route_of[w as usize];
        let p = m.partner[v as usize];
        if !m.can(v, r) || (p != NONE && self.st.route_of[p as usize] == r) {
            return false;
        }
        let r0 = self.st.route_of[v as usize];
        let i0 = self.st.pos[v as usize];
        self.st.remove(m, v);
        let i = self.st.pos[w as usize] + self.rng.below(2) as u32;
        if r == r0 && i == i0 {
            return false;
        }
        self.st.insert(m, v, r, i);
        true
    }

    /// Or-opt: moves a chain of 2-3 consecutive visits next to a neighbour of its first
    /// visit in another route.
    fn segment_move(&mut self) -> bool {
        let m = self.m;
        let v = self.rng.below(m.nv as u64) as u32;
        let r1 = self.st.route_of[v as usize];
        let i = self.st.pos[v as usize] as usize;
        let len = 2 + self.rng.below(2) as usize;
        let route1 = &self.st.routes[r1 as usize];
        if i + len > route1.len() {
            return false;
        }
        let nb = &m.neigh[v as usize];
        if nb.is_empty() {
            return false;
        }
        let w = nb[self.rng.below(nb.len() as u64) as usize];
        let r2 = self.st.route_of[w as usize];
        if r2 == r1 {
            return false;
        }
        let mut seg = [NONE; 3];
        for (k, &x) in route1[i..i + len].iter().enumerate() {
            let p = m.partner[x as usize];
            if !m.can(x, r2) || (p != NONE && self.st.route_of[p as usize] == r2) {
                return false;
            }
            seg[k] = x;
        }
        for &x in seg[..len].iter().rev() {
            self.st.remove(m, x);
        }
        let j = self.st.pos[w as usize] + self.rng.below(2) as u32;
        for (k, &x) in seg[..len].iter().enumerate() {
            self.st.insert(m, x, r2, j + k as u32);
        }
        true
    }

    /// 2-opt*: exchanges the tails of two routes so that `v` is followed by its
    /// neighbour `w` (and `w`'s old predecessor by `v`'s old successor).
    fn two_opt_star(&mut self) -> bool {
        let m = self.m;
        let v = self.rng.below(m.nv as u64) as u32;
        let nb = &m.neigh[v as usize];
        if nb.is_empty() {
            return false;
        }
        let w = nb[self.rng.below(nb.len() as u64) as usize];
        let (r1, r2) = (self.st.route_of[v as usize], self.st.route_of[w as usize]);
        if r1 == r2 {
            return false;
        }
        let i = self.st.pos[v as usize] as usize;
        let j = self.st.pos[w as usize] as usize;
        let (route1, route2) = (&self.st.routes[r1 as usize], &self.st.routes[r2 as usize]);
        let (tail1, tail2) = (&route1[i + 1..], &route2[j..]);
        if tail1.len() + tail2.len() > 16 {
            return false;
        }
        // Route of a visit after the exchange.
        let st = &self.st;
        let new_route = |y: u32| -> u32 {
            let (ry, py) = (st.route_of[y as usize], st.pos[y as usize] as usize);
            if ry == r1 && py > i {
                r2
            } else if ry == r2 && py >= j {
                r1
            } else {
                ry
            }
        };
        for (&x, target) in tail1
            .iter()
            .map(|x| (x, r2))
            .chain(tail2.iter().map(|x| (x, r1)))
        {
            if !m.can(x, target) {
                return false;
            }
            let p = m.partner[x as usize];
            if p != NONE && new_route(p) == target {
                return false;
            }
        }
        let t1: Vec<u32> = tail1.to_vec();
        let t2: Vec<u32> = tail2.to_vec();
        for &x in t1.iter().rev() {
            self.st.remove(m, x);
        }
        for &x in t2.iter().rev() {
            self.st.remove(m, x);
        }
        for (k, &x) in t2.iter().enumerate() {
            self.st.insert(m, x, r1, (i + 1 + k) as u32);
        }
        for (k, &x) in t1.iter().enumerate() {
            self.st.insert(m, x, r2, (j + k) as u32);
        }
        true
    }

    /// Swaps `v` with one of its neighbours.
    fn swap_near(&mut self) -> bool {
        let m = self.m;
        let v = self.rng.below(m.nv as u64) as u32;
        let nb = &m.neigh[v as usize];
        if nb.is_empty() {
            return false;
        }
        let w = nb[self.rng.below(nb.len() as u64) as usize];
        self.try_swap(v, w)
    }

    fn try_swap(&mut self, v: u32, w: u32) -> bool {
        let m = self.m;
        let r1 = self.st.route_of[v as usize];
        let r2 = self.st.route_of[w as usize];
        let pv = m.partner[v as usize];
        let pw = m.partner[w as usize];
        if r1 != r2 {
            if !m.can(w, r1) || !m.can(v, r2) {
                return false;
            }
            if pv != NONE && pv != w && self.st.route_of[pv as usize] == r2 {
                return false;
            }
            if pw != NONE && pw != v && self.st.route_of[pw as usize] == r1 {
                return false;
            }
        }
        self.apply_swap(v, w);
        true
    }

    fn relocate(&mut self) -> bool {
        let m = self.m;
        let v = self.rng.below(m.nv as u64) as u32;
        let caps = &m.capable[v as usize];
        let r = caps[self.rng.below(caps.len() as u64) as usize];
        let p = m.partner[v as usize];
        if p != NONE && self.st.route_of[p as usize] == r {
            return false;
        }
        let r0 = self.st.route_of[v as usize];
        let i0 = self.st.pos[v as usize];
        self.st.remove(m, v);
        let i = self.pick_pos(v, r);
        if r == r0 && i == i0 {
            return false;
        }
        self.st.insert(m, v, r, i);
        true
    }

    fn swap(&mut self) -> bool {
        let m = self.m;
        let v = self.rng.below(m.nv as u64) as u32;
        let caps = &m.capable[v as usize];
        let r2 = caps[self.rng.below(caps.len() as u64) as usize];
        let r1 = self.st.route_of[v as usize];
        let len2 = self.st.routes[r2 as usize].len();
        if len2 == 0 || (r1 == r2 && len2 < 2) {
            return false;
        }
        let w = if r1 != r2 && self.rng.below(2) == 0 {
            // Time-aligned partner in the other route.
            let tv = self.st.start[v as usize];
            let start = &self.st.start;
            let route = &self.st.routes[r2 as usize];
            let j = route.partition_point(|&w| start[w as usize] < tv) as i64;
            let off = self.rng.below(2) as i64 - 1;
            route[(j + off).clamp(0, len2 as i64 - 1) as usize]
        } else {
            self.st.routes[r2 as usize][self.rng.below(len2 as u64) as usize]
        };
        if w == v {
            return false;
        }
        let pv = m.partner[v as usize];
        let pw = m.partner[w as usize];
        if r1 != r2 {
            if !m.can(w, r1) {
                return false;
            }
            if pv != NONE && pv != w && self.st.route_of[pv as usize] == r2 {
                return false;
            }
            if pw != NONE && pw != v && self.st.route_of[pw as usize] == r1 {
                return false;
            }
        }
        self.apply_swap(v, w);
        true
    }

    fn apply_swap(&mut self, v: u32, w: u32) {
        let m = self.m;
        let (r1, i1) = (self.st.route_of[v as usize], self.st.pos[v as usize]);
        let (r2, i2) = (self.st.route_of[w as usize], self.st.pos[w as usize]);
        if r1 != r2 {
            self.st.remove(m, v);
            self.st.remove(m, w);
            self.st.insert(m, w, r1, i1);
            self.st.insert(m, v, r2, i2);
        } else {
            let (a, ia, b, ib) = if i1 < i2 {
                (v, i1, w, i2)
            } else {
                (w, i2, v, i1)
            };
            self.st.remove(m, b);
            self.st.remove(m, a);
            self.st.insert(m, b, r1, ia);
            self.st.insert(m, a, r1, ib);
        }
    }

    fn pair_move(&mut self) -> bool {
        let m = self.m;
        let (a, b) = m.pairs[self.rng.below(m.pairs.len() as u64) as usize];
        let ca = &m.capable[a as usize];
        let cb = &m.capable[b as usize];
        let mut r1 = ca[self.rng.below(ca.len() as u64) as usize];
        let mut r2 = cb[self.rng.below(cb.len() as u64) as usize];
        if r1 == r2 {
            // Keep one of them on its current route if possible.
            if self.rng.below(2) == 0 {
                r1 = self.st.route_of[a as usize];
            } else {
                r2 = self.st.route_of[b as usize];
            }
            if r1 == r2 {
                return false;
            }
        }
        self.st.remove(m, a);
        self.st.remove(m, b);
        let i1 = self.pick_pos(a, r1);
        self.st.insert(m, a, r1, i1);
        let i2 = self.pick_pos(b, r2);
        self.st.insert(m, b, r2, i2);
        true
    }

    fn pair_swap(&mut self) -> bool {
        let m = self.m;
        let (a, b) = m.pairs[self.rng.below(m.pairs.len() as u64) as usize];
        let (ra, rb) = (self.st.route_of[a as usize], self.st.route_of[b as usize]);
        if !m.can(a, rb) || !m.can(b, ra) {
            return false;
        }
        self.apply_swap(a, b);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str) -> Instance {
        let p = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/hhcrsp/mankowska/"
        );
        Instance::load(format!("{p}{name}").as_ref()).unwrap()
    }

    /// The incremental evaluation after thousands of random SA moves agrees with a
    /// from-scratch evaluation of the same routes (starts and all cost components).
    #[test]
    fn incremental_matches_full_evaluation() {
        for name in [
            "InstanzCPLEX_HCSRP_10_2.json",
            "InstanzCPLEX_HCSRP_25_6.json",
            "InstanzCPLEX_HCSRP_50_6.json",
        ] {
            let inst = load(name);
            let m = Model::build(&inst).unwrap();
            let mut rng = Rng::new(11);
            let st = construct(&m, &mut rng).unwrap();
            let mut sa = Annealer::new(&m, st, rng);
            for round in 0..40 {
                let mut full = None;
                for _ in 0..500 {
                    sa.iter += 1;
                    sa.step(if round % 2 == 0 { 50.0 } else { 1.0 });
                    full = State::from_routes(&m, &sa.st.routes);
                    assert!(full.is_some(), "{name}: accepted an infeasible move");
                }
                let full = full.unwrap();
                for v in 0..m.nv {
                    assert!(
                        (full.start[v] - sa.st.start[v]).abs() < 1e-6,
                        "{name} start {v}"
                    );
                    assert_eq!(full.route_of[v], sa.st.route_of[v]);
                    assert_eq!(full.pos[v], sa.st.pos[v]);
                }
                assert!((full.dist_total - sa.st.dist_total).abs() < 1e-6);
                assert!((full.tard_total - sa.st.tard_total).abs() < 1e-6);
                assert!((full.tard_max - sa.st.tard_max).abs() < 1e-6);
            }
        }
    }

    /// Two simultaneous pairs served in opposite orders by the same two caregivers form
    /// a positive cycle: the evaluator must report infeasibility.
    #[test]
    fn detects_cyclic_synchronisation() {
        let inst = load("InstanzCPLEX_HCSRP_25_1.json");
        let m = Model::build(&inst).unwrap();
        let sim: Vec<(u32, u32)> = m
            .pairs
            .iter()
            .copied()
            .filter(|&(a, b)| m.offset[a as usize] == 0.0 && m.offset[b as usize] == 0.0)
            .collect();
        // Find two simultaneous pairs and two routes r1 != r2 able to host them crosswise.
        for (i, &(a1, b1)) in sim.iter().enumerate() {
            for &(a2, b2) in &sim[i + 1..] {
                for r1 in 0..m.nr as u32 {
                    for r2 in 0..m.nr as u32 {
                        if r1 == r2
                            || !(m.can(a1, r1) && m.can(b1, r2) && m.can(a2, r1) && m.can(b2, r2))
                        {
                            continue;
                        }
                        let mut routes = vec![Vec::new(); m.nr];
                        routes[r1 as usize] = vec![a1, a2];
                        routes[r2 as usize] = vec![b2, b1];
                        assert!(State::from_routes(&m, &routes).is_none());
                        routes[r2 as usize] = vec![b1, b2];
                        assert!(State::from_routes(&m, &routes).is_some());
                        return;
                    }
                }
            }
        }
        panic!("no suitable pairs found");
    }
}
