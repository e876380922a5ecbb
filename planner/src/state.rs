//! Mutable solution state with incremental schedule evaluation.
//!
//! Start times are the *least* solution of the difference-constraint system
//!
//! * `start[v] >= early[v]`
//! * `start[v] >= start[prev] + dur[prev] + d(prev, v)` (route order; depot at time 0)
//! * `start[v] >= start[partner] + offset[v]` (synchronisation, see [`crate::model`])
//!
//! Tardiness is non-decreasing in every start, so the least solution is optimal for the
//! given routes. It exists iff the constraint graph has no positive cycle (e.g. two
//! simultaneous pairs served in opposite orders by the same two caregivers).
//!
//! A move is applied in place through [`State::remove`] / [`State::insert`], each of
//! which marks its route dirty from the touched position. [`State::reschedule`] then
//! recomputes only what changed:
//!
//! 1. *Lazy propagation* (fast path). Visits are grouped into *units*: a single visit,
//!    or both visits of a synchronised pair, whose two starts have a closed-form least
//!    solution given their two route lower bounds. Units whose route predecessor
//!    changed are recomputed; whenever a start changes, the unit of its route successor
//!    is queued (FIFO label correcting). Every fixed point of this system is the least
//!    one when all cycles of the constraint graph are negative, so a quiescent queue
//!    gives the exact schedule (a positive cycle can never become quiescent). A unit
//!    recomputed more than [`MAX_RECOMPUTE`] times signals a probable positive cycle and
//!    the move is rejected.
//! 2. *Exact path* (used for full evaluations: construction start, restarts, final
//!    solution). The dirty set is closed over synchronisation links (a dirty visit
//!    makes its partner and the rest of the partner's route dirty; clean visits cannot
//!    depend on dirty ones), and the dirty units are evaluated once each in topological
//!    order (Kahn). If the pair-contracted graph is cyclic (which, with sequential
//!    pairs, does not necessarily mean infeasible), Bellman-Ford sweeps over the dirty
//!    route suffixes decide: no fixed point after `#dirty paired visits + 2` rounds
//!    means a positive cycle and the move is rejected.
//!
//! [`State::rollback`] undoes the route edits and restores the logged starts;
//! [`State::commit`] keeps them.

use crate::model::{Model, NONE};

const EPS: f64 = 1e-9;

/// Lazy propagation gives up (and the move is rejected) when a unit is recomputed more
/// often than this within one move.
const MAX_RECOMPUTE: u32 = 6;

#[derive(Debug, Clone, Copy)]
enum Op {
    Removed { v: u32, r: u32, i: u32 },
    Inserted { v: u32 },
}

#[derive(Debug, Clone)]
pub(crate) struct State {
    pub routes: Vec<Vec<u32>>,
    pub route_of: Vec<u32>,
    pub pos: Vec<u32>,
    pub start: Vec<f64>,
    pub dist_total: f64,
    pub tard_total: f64,
    pub tard_max: f64,
    // --- move bookkeeping ---
    ops: Vec<Op>,
    saved: (f64, f64, f64),
    dirty_from: Vec<u32>,
    scanned_from: Vec<u32>,
    dirty_routes: Vec<u32>,
    worklist: Vec<u32>,
    log: Vec<(u32, f64)>,
    indeg: Vec<u32>,
    queue: Vec<u32>,
    /// Highest position touched by an edit, per route (for seeding lazy propagation).
    touched_hi: Vec<u32>,
    stamp: u64,
    logged: Vec<u64>,
    visits: Vec<(u64, u32)>,
    in_queue: Vec<bool>,
}

/// Unit of a visit: itself, or the smaller index of its synchronised pair.
#[inline(always)]
fn unit(m: &Model, v: u32) -> u32 {
    v.min(m.partner[v as usize])
}

impl State {
    pub fn new(m: &Model) -> Self {
        Self {
            routes: vec![Vec::new(); m.nr],
            route_of: vec![NONE; m.nv],
            pos: vec![NONE; m.nv],
            start: vec![0.0; m.nv],
            dist_total: 0.0,
            tard_total: 0.0,
            tard_max: 0.0,
            ops: Vec::new(),
            saved: (0.0, 0.0, 0.0),
            dirty_from: vec![NONE; m.nr],
            scanned_from: vec![NONE; m.nr],
            dirty_routes: Vec::new(),
            worklist: Vec::new(),
            log: Vec::new(),
            indeg: vec![0; m.nv],
            queue: Vec::new(),
            touched_hi: vec![0; m.nr],
            stamp: 0,
            logged: vec![0; m.nv],
            visits: vec![(0, 0); m.nv],
            in_queue: vec![false; m.nv],
        }
    }

    /// Builds a state from explicit routes and evaluates it. Returns `None` if the
    /// routes have an infeasible (cyclic) synchronisation structure.
    pub fn from_routes(m: &Model, routes: &[Vec<u32>]) -> Option<Self> {
        let mut s = Self::new(m);
        s.routes = routes.to_vec();
        for (r, route) in s.routes.iter().enumerate() {
            for (i, &v) in route.iter().enumerate() {
                s.route_of[v as usize] = r as u32;
                s.pos[v as usize] = i as u32;
            }
        }
        s.full_evaluate(m).then_some(s)
    }

    /// Internal objective: distance + total tardiness + max tardiness (3x the benchmark cost).
    #[inline]
    pub fn cost(&self) -> f64 {
        self.dist_total + self.tard_total + self.tard_max
    }

    /// Recomputes everything from scratch. Returns feasibility.
    pub fn full_evaluate(&mut self, m: &Model) -> bool {
        self.begin();
        for r in 0..m.nr as u32 {
            self.mark(r, 0);
        }
        let ok = self.reschedule_exact(m);
        self.commit();
        self.recompute_totals(m);
        ok
    }

    pub fn recompute_totals(&mut self, m: &Model) {
        let mut d = 0.0;
        for route in &self.routes {
            let mut prev = 0u32;
            for &v in route {
                d += m.d(prev, m.loc[v as usize]);
                prev = m.loc[v as usize];
            }
            d += m.d(prev, 0);
        }
        self.dist_total = d;
        let (mut sum, mut mx) = (0.0f64, 0.0f64);
        for v in 0..m.nv {
            let t = (self.start[v] - m.late[v]).max(0.0);
            sum += t;
            mx = mx.max(t);
        }
        self.tard_total = sum;
        self.tard_max = mx;
    }

    /// Starts a move: remembers the objective components for rollback.
    #[inline]
    pub fn begin(&mut self) {
        self.saved = (self.dist_total, self.tard_total, self.tard_max);
    }

    #[inline]
    fn mark(&mut self, r: u32, i: u32) {
        let ru = r as usize;
        if self.dirty_from[ru] == NONE {
            self.dirty_routes.push(r);
            self.scanned_from[ru] = self.routes[ru].len() as u32;
            self.dirty_from[ru] = i;
            self.worklist.push(r);
        } else if i < self.dirty_from[ru] {
            self.dirty_from[ru] = i;
            self.worklist.push(r);
        }
    }

    #[inline]
    fn touch(&mut self, r: u32, i: u32) {
        let ru = r as usize;
        if self.dirty_from[ru] == NONE {
            self.touched_hi[ru] = i;
        } else {
            self.touched_hi[ru] = self.touched_hi[ru].max(i);
        }
    }

    /// Removes visit `v` from its route.
    pub fn remove(&mut self, m: &Model, v: u32) {
        let r = self.route_of[v as usize];
        let i = self.pos[v as usize];
        let route = &self.routes[r as usize];
        let prev = if i == 0 {
            0
        } else {
            m.loc[route[i as usize - 1] as usize]
        };
        let next = if i as usize + 1 == route.len() {
            0
        } else {
            m.loc[route[i as usize + 1] as usize]
        };
        let lv = m.loc[v as usize];
        self.dist_total += m.d(prev, next) - m.d(prev, lv) - m.d(lv, next);
        self.raw_remove(v);
        self.ops.push(Op::Removed { v, r, i });
        self.touch(r, i);
        self.mark(r, i);
    }

    /// Inserts visit `v` into route `r` at position `i` (0..=len).
    pub fn insert(&mut self, m: &Model, v: u32, r: u32, i: u32) {
        let route = &self.routes[r as usize];
        let prev = if i == 0 {
            0
        } else {
            m.loc[route[i as usize - 1] as usize]
        };
        let next = if i as usize == route.len() {
            0
        } else {
            m.loc[route[i as usize] as usize]
        };
        let lv = m.loc[v as usize];
        self.dist_total += m.d(prev, lv) + m.d(lv, next) - m.d(prev, next);
        self.raw_insert(v, r, i);
        self.ops.push(Op::Inserted { v });
        self.touch(r, i);
        self.mark(r, i);
    }

    fn raw_remove(&mut self, v: u32) {
        let r = self.route_of[v as usize] as usize;
        let i = self.pos[v as usize] as usize;
        let route = &mut self.routes[r];
        route.remove(i);
        for (j, &w) in route.iter().enumerate().skip(i) {
            self.pos[w as usize] = j as u32;
        }
        self.route_of[v as usize] = NONE;
        self.pos[v as usize] = NONE;
    }

    fn raw_insert(&mut self, v: u32, r: u32, i: u32) {
        let route = &mut self.routes[r as usize];
        route.insert(i as usize, v);
        for (j, &w) in route.iter().enumerate().skip(i as usize) {
            self.pos[w as usize] = j as u32;
        }
        self.route_of[v as usize] = r;
    }

    /// Recomputes the start times affected by the applied edits and updates the
    /// tardiness totals. Returns `false` if the schedule is infeasible (positive cycle);
    /// the caller must then [`rollback`](Self::rollback).
    pub fn reschedule(&mut self, m: &Model) -> bool {
        // A unit recomputed too often almost always means a positive cycle; such moves
        // are rejected (rarely, a feasible but pathological move is rejected too, which
        // only restricts the neighbourhood). The log lets `rollback` restore the starts.
        if !self.propagate(m) {
            return false;
        }
        self.update_tardiness(m);
        true
    }

    /// Lazy propagation: recompute the units whose route predecessor changed and,
    /// transitively, the successors of every unit whose start changed (FIFO
    /// label-correcting on the pair-contracted graph, which is a DAG iff feasible).
    /// Returns `false` if some unit is recomputed too often (likely a cycle).
    fn propagate(&mut self, m: &Model) -> bool {
        self.stamp += 1;
        let stamp = self.stamp;
        self.log.clear();
        self.queue.clear();
        let extra = self.ops.len() as u32 + 1;
        for k in 0..self.dirty_routes.len() {
            let r = self.dirty_routes[k] as usize;
            let len = self.routes[r].len() as u32;
            let to = (self.touched_hi[r] + extra).min(len);
            for i in self.dirty_from[r]..to {
                let u = unit(m, self.routes[r][i as usize]);
                if !self.in_queue[u as usize] {
                    self.in_queue[u as usize] = true;
                    self.queue.push(u);
                }
            }
        }
        let mut head = 0;
        let mut ok = true;
        while head < self.queue.len() {
            let u = self.queue[head];
            head += 1;
            self.in_queue[u as usize] = false;
            let cnt = &mut self.visits[u as usize];
            if cnt.0 != stamp {
                *cnt = (stamp, 0);
            }
            cnt.1 += 1;
            if cnt.1 > MAX_RECOMPUTE {
                ok = false;
                break;
            }
            let p = m.partner[u as usize];
            let lu = self.lower_bound(m, u);
            let (su, sp) = if p == NONE {
                (lu, 0.0)
            } else {
                let lp = self.lower_bound(m, p);
                let su = lu.max(lp + m.offset[u as usize]);
                (su, lp.max(su + m.offset[p as usize]))
            };
            for (x, sx) in [(u, su), (p, sp)] {
                if x == NONE {
                    continue;
                }
                let xu = x as usize;
                if self.logged[xu] != stamp {
                    self.logged[xu] = stamp;
                    self.log.push((x, self.start[xu]));
                }
                if sx != self.start[xu] {
                    self.start[xu] = sx;
                    let r = self.route_of[xu] as usize;
                    if let Some(&w) = self.routes[r].get(self.pos[xu] as usize + 1) {
                        let uw = unit(m, w) as usize;
                        if !self.in_queue[uw] {
                            self.in_queue[uw] = true;
                            self.queue.push(uw as u32);
                        }
                    }
                }
            }
        }
        if !ok {
            for &u in &self.queue[head..] {
                self.in_queue[u as usize] = false;
            }
        }
        ok
    }

    /// Exact evaluation: closes the dirty set over synchronisation links and evaluates
    /// it in topological order (Kahn). Returns `false` on a cycle.
    fn reschedule_exact(&mut self, m: &Model) -> bool {
        // 1. Closure over synchronisation links. A route's suffix from `dirty_from` is
        //    dirty; `scanned_from` tracks how much of it was already scanned for partners.
        //    Positions may have shifted after marking, so every dirty suffix is scanned
        //    in full once, and only newly dirtied prefixes afterwards.
        for &r in &self.dirty_routes {
            self.scanned_from[r as usize] = self.routes[r as usize].len() as u32;
        }
        self.worklist.clear();
        self.worklist.extend_from_slice(&self.dirty_routes);
        while let Some(r) = self.worklist.pop() {
            let ru = r as usize;
            let from = self.dirty_from[ru] as usize;
            let to = self.scanned_from[ru] as usize;
            if from >= to {
                continue;
            }
            self.scanned_from[ru] = from as u32;
            for i in from..to {
                let v = self.routes[ru][i];
                let p = m.partner[v as usize];
                if p != NONE {
                    let rp = self.route_of[p as usize];
                    let pp = self.pos[p as usize];
                    self.mark(rp, pp);
                }
            }
        }
        // 2. Log old starts and count, per unit (a single visit or a synchronised pair,
        //    identified by its smaller visit index), the dirty route predecessors.
        self.log.clear();
        for &r in &self.dirty_routes {
            let route = &self.routes[r as usize];
            let k = (self.dirty_from[r as usize] as usize).min(route.len());
            for &v in &route[k..] {
                self.log.push((v, self.start[v as usize]));
                self.indeg[unit(m, v) as usize] = 0;
            }
        }
        for &r in &self.dirty_routes {
            let route = &self.routes[r as usize];
            let k = (self.dirty_from[r as usize] as usize).min(route.len());
            for &v in route.iter().skip(k + 1) {
                self.indeg[unit(m, v) as usize] += 1;
            }
        }
        // 3. Kahn's algorithm over units: the contracted constraint graph must be acyclic.
        self.queue.clear();
        for &(v, _) in &self.log {
            if unit(m, v) == v && self.indeg[v as usize] == 0 {
                self.queue.push(v);
            }
        }
        let mut processed = 0usize;
        while let Some(u) = self.queue.pop() {
            let p = m.partner[u as usize];
            let lu = self.lower_bound(m, u);
            if p == NONE {
                self.start[u as usize] = lu;
                processed += 1;
            } else {
                // Least solution of s_u >= lu, s_p >= lp, s_u >= s_p + off_u, s_p >= s_u + off_p
                // (off_u + off_p <= 0).
                let lp = self.lower_bound(m, p);
                let su = lu.max(lp + m.offset[u as usize]);
                let sp = lp.max(su + m.offset[p as usize]);
                self.start[u as usize] = su;
                self.start[p as usize] = sp;
                processed += 2;
            }
            for x in [u, p] {
                if x == NONE {
                    continue;
                }
                let r = self.route_of[x as usize] as usize;
                let next = self.pos[x as usize] as usize + 1;
                if let Some(&w) = self.routes[r].get(next) {
                    let uw = unit(m, w) as usize;
                    self.indeg[uw] -= 1;
                    if self.indeg[uw] == 0 {
                        self.queue.push(uw as u32);
                    }
                }
            }
        }
        if processed < self.log.len() {
            // The pair-contracted graph has a cycle. With sequential pairs that does not
            // imply infeasibility (the backward `-dmax` edge can make the real cycle
            // negative), so decide with Bellman-Ford sweeps on the dirty suffixes.
            return self.sweep_dirty(m);
        }
        true
    }

    /// Bellman-Ford over the (already closed and logged) dirty suffixes, from -inf.
    /// Returns `false` if the values do not settle, i.e. there is a positive cycle.
    fn sweep_dirty(&mut self, m: &Model) -> bool {
        let mut paired = 0usize;
        for &(v, _) in &self.log {
            self.start[v as usize] = f64::NEG_INFINITY;
            if m.partner[v as usize] != NONE {
                paired += 1;
            }
        }
        let cap = paired + 2;
        let mut rounds = 0usize;
        loop {
            let mut changed = false;
            for &r in &self.dirty_routes {
                let route = &self.routes[r as usize];
                let k = self.dirty_from[r as usize] as usize;
                if k >= route.len() {
                    continue;
                }
                let (mut t_prev, mut l_prev) = if k == 0 {
                    (0.0, 0u32)
                } else {
                    let u = route[k - 1] as usize;
                    (self.start[u] + m.dur[u], m.loc[u])
                };
                for &v in &route[k..] {
                    let vu = v as usize;
                    let lv = m.loc[vu];
                    let mut t = (t_prev + m.d(l_prev, lv)).max(m.early[vu]);
                    let p = m.partner[vu];
                    if p != NONE {
                        t = t.max(self.start[p as usize] + m.offset[vu]);
                    }
                    if t > self.start[vu] + EPS {
                        self.start[vu] = t;
                        changed = true;
                    }
                    t_prev = self.start[vu] + m.dur[vu];
                    l_prev = lv;
                }
            }
            if !changed {
                return true;
            }
            rounds += 1;
            if rounds > cap {
                return false;
            }
        }
    }

    fn update_tardiness(&mut self, m: &Model) {
        // 4. Tardiness bookkeeping.
        let old_max = self.tard_max;
        let mut max_lost = false;
        let mut dirty_max = 0.0f64;
        let mut delta = 0.0;
        for &(v, old) in &self.log {
            let vu = v as usize;
            let late = m.late[vu];
            let ot = (old - late).max(0.0);
            let nt = (self.start[vu] - late).max(0.0);
            delta += nt - ot;
            dirty_max = dirty_max.max(nt);
            if ot >= old_max - EPS && nt < ot {
                max_lost = true;
            }
        }
        self.tard_total += delta;
        if self.tard_total < 0.0 {
            self.tard_total = 0.0;
        }
        if dirty_max >= old_max {
            self.tard_max = dirty_max;
        } else if max_lost {
            let mut mx = 0.0f64;
            for v in 0..m.nv {
                mx = mx.max(self.start[v] - m.late[v]);
            }
            self.tard_max = mx;
        }
    }

    /// Earliest start of `v` from its route predecessor (or the depot) and its window.
    #[inline]
    fn lower_bound(&self, m: &Model, v: u32) -> f64 {
        let vu = v as usize;
        let i = self.pos[vu] as usize;
        let lv = m.loc[vu];
        let arrive = if i == 0 {
            m.d(0, lv)
        } else {
            let u = self.routes[self.route_of[vu] as usize][i - 1] as usize;
            self.start[u] + m.dur[u] + m.d(m.loc[u], lv)
        };
        arrive.max(m.early[vu])
    }

    /// Keeps the applied move.
    pub fn commit(&mut self) {
        self.ops.clear();
        for &r in &self.dirty_routes {
            self.dirty_from[r as usize] = NONE;
            self.scanned_from[r as usize] = NONE;
        }
        self.dirty_routes.clear();
        self.worklist.clear();
        self.log.clear();
    }

    /// Undoes the applied move (route edits, starts, objective).
    pub fn rollback(&mut self) {
        while let Some(op) = self.ops.pop() {
            match op {
                Op::Removed { v, r, i } => self.raw_insert(v, r, i),
                Op::Inserted { v } => self.raw_remove(v),
            }
        }
        for &(v, old) in &self.log {
            self.start[v as usize] = old;
        }
        (self.dist_total, self.tard_total, self.tard_max) = self.saved;
        for &r in &self.dirty_routes {
            self.dirty_from[r as usize] = NONE;
            self.scanned_from[r as usize] = NONE;
        }
        self.dirty_routes.clear();
        self.worklist.clear();
        self.log.clear();
    }
}
