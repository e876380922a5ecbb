//! Simulated annealing over the constructed routes: the moves, their
//! weights and the temperature schedule.

use std::time::Instant;

use super::options::{Progress, SolveOptions};
use crate::model::{Model, NONE};
use crate::rng::Rng;
use crate::state::State;

/// Multi-neighbourhood simulated annealing with reheats from the best solution.
pub(super) struct Annealer<'a> {
    pub(super) m: &'a Model,
    pub(super) st: State,
    pub(super) rng: Rng,
    pub(super) best_routes: Vec<Vec<u32>>,
    pub(super) best_cost: f64,
    pub(super) best_iter: u64,
    pub(super) iter: u64,
    pub(super) weights_cum: [u64; 8],
    pub(super) weights_total: u64,
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
    pub(super) fn new(m: &'a Model, st: State, rng: Rng) -> Self {
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

    pub(super) fn with_weights(mut self, m: &Model) -> Self {
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

    pub(super) fn run(&mut self, opt: &SolveOptions, started: Instant) {
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

    pub(super) fn report(&self, opt: &SolveOptions, started: Instant, temp: f64) {
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

    pub(super) fn step(&mut self, temp: f64) {
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
    pub(super) fn random_move(&mut self) -> bool {
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
    pub(super) fn pick_pos(&mut self, v: u32, r: u32) -> u32 {
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
    pub(super) fn relocate_near(&mut self) -> bool {
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
    pub(super) fn segment_move(&mut self) -> bool {
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
    pub(super) fn two_opt_star(&mut self) -> bool {
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
    pub(super) fn swap_near(&mut self) -> bool {
        let m = self.m;
        let v = self.rng.below(m.nv as u64) as u32;
        let nb = &m.neigh[v as usize];
        if nb.is_empty() {
            return false;
        }
        let w = nb[self.rng.below(nb.len() as u64) as usize];
        self.try_swap(v, w)
    }

    pub(super) fn try_swap(&mut self, v: u32, w: u32) -> bool {
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

    pub(super) fn relocate(&mut self) -> bool {
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

    pub(super) fn swap(&mut self) -> bool {
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

    pub(super) fn apply_swap(&mut self, v: u32, w: u32) {
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

    pub(super) fn pair_move(&mut self) -> bool {
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

    pub(super) fn pair_swap(&mut self) -> bool {
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
