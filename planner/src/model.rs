//! Compiled, index-based view of an [`Instance`] used by the solver.
//!
//! Every (patient, required service) pair becomes a *visit* `v` with dense index. A
//! double-service patient yields two visits that are each other's `partner`. The
//! synchronisation of a pair is expressed as a lower bound on each visit's start
//! relative to its partner's start: `start[v] >= start[partner[v]] + offset[v]`.
//!
//! * simultaneous: offset 0 for both (so both starts are equal);
//! * sequential `[dmin, dmax]`: second `>= first + dmin` (offset `dmin`) and
//!   first `>= second - dmax` (offset `-dmax`).

use anyhow::{Context, bail, ensure};

use crate::instance::{Instance, Synchronization};

pub(crate) const NONE: u32 = u32::MAX;

/// Length of the per-visit neighbour lists used by the granular moves.
const NEIGHBOURS: usize = 20;

#[derive(Debug, Clone)]
pub(crate) struct Model {
    /// Number of visits.
    pub nv: usize,
    /// Number of routes (= caregivers).
    pub nr: usize,
    /// Number of locations (depot + patients).
    pub nloc: usize,
    /// Flat `nloc * nloc` travel-time matrix.
    pub dist: Vec<f64>,
    pub loc: Vec<u32>,
    pub dur: Vec<f64>,
    pub early: Vec<f64>,
    pub late: Vec<f64>,
    pub partner: Vec<u32>,
    pub offset: Vec<f64>,
    pub patient: Vec<u32>,
    /// Index of the visit's service within `instance.services`.
    pub service: Vec<u32>,
    /// Index k of the visit within its patient's `required_caregivers`.
    pub slot: Vec<u32>,
    /// Routes (caregivers) able to perform each visit.
    pub capable: Vec<Vec<u32>>,
    /// `can[v * nr + r]`.
    pub can: Vec<bool>,
    /// Pairs `(first, second)` of synchronised visits.
    pub pairs: Vec<(u32, u32)>,
    /// For each visit, the closest other visits (travel time plus a time-window
    /// penalty) that share at least one capable caregiver with it.
    pub neigh: Vec<Vec<u32>>,
}

impl Model {
    pub fn build(inst: &Instance) -> anyhow::Result<Self> {
        let np = inst.patients.len();
        let nloc = np + 1;
        ensure!(
            inst.distances.len() == nloc,
            "distance matrix has {} rows, expected {} (depot + patients)",
            inst.distances.len(),
            nloc
        );
        let mut dist = Vec::with_capacity(nloc * nloc);
        for (i, row) in inst.distances.iter().enumerate() {
            ensure!(
                row.len() == nloc,
                "distance row {i} has {} entries",
                row.len()
            );
            dist.extend_from_slice(row);
        }
        let nr = inst.caregivers.len();
        ensure!(nr > 0, "instance has no caregivers");
        let service_index = |id: &str| inst.services.iter().position(|s| s.id == id);
        let mut m = Model {
            nv: 0,
            nr,
            nloc,
            dist,
            loc: vec![],
            dur: vec![],
            early: vec![],
            late: vec![],
            partner: vec![],
            offset: vec![],
            patient: vec![],
            service: vec![],
            slot: vec![],
            capable: vec![],
            can: vec![],
            pairs: vec![],
            neigh: vec![],
        };
        for (p, pat) in inst.patients.iter().enumerate() {
            let k = pat.required_caregivers.len();
            ensure!(
                k == 1 || k == 2,
                "patient {} requires {k} services (1 or 2 supported)",
                pat.id
            );
            let first = m.loc.len() as u32;
            for (j, req) in pat.required_caregivers.iter().enumerate() {
                let s = service_index(&req.service).with_context(|| {
                    format!("patient {}: unknown service {}", pat.id, req.service)
                })?;
                let d = inst.duration(p, j).unwrap_or(0.0);
                m.loc.push(p as u32 + 1);
                m.dur.push(d);
                m.early.push(pat.time_window[0]);
                m.late.push(pat.time_window[1]);
                m.partner.push(NONE);
                m.offset.push(0.0);
                m.patient.push(p as u32);
                m.service.push(s as u32);
                m.slot.push(j as u32);
                let caps: Vec<u32> = inst
                    .caregivers
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.abilities.contains(&req.service))
                    .map(|(r, _)| r as u32)
                    .collect();
                if caps.is_empty() {
                    bail!(
                        "patient {}: no caregiver can perform service {}",
                        pat.id,
                        req.service
                    );
                }
                m.capable.push(caps);
            }
            if k == 2 {
                let (a, b) = (first, first + 1);
                m.partner[a as usize] = b;
                m.partner[b as usize] = a;
                match pat.synchronization {
                    Some(Synchronization::Sequential { distance }) => {
                        ensure!(
                            distance[0] <= distance[1],
                            "patient {}: sequential distance min > max",
                            pat.id
                        );
                        m.offset[a as usize] = -distance[1];
                        m.offset[b as usize] = distance[0];
                    }
                    // Simultaneous, or (defensively) unspecified: same start.
                    Some(Synchronization::Simultaneous) | None => {}
                }
                let ok = m.capable[a as usize]
                    .iter()
                    .any(|&r1| m.capable[b as usize].iter().any(|&r2| r1 != r2));
                ensure!(
                    ok,
                    "patient {}: no two distinct caregivers for its services",
                    pat.id
                );
                m.pairs.push((a, b));
            }
        }
        m.nv = m.loc.len();
        m.can = vec![false; m.nv * nr];
        for v in 0..m.nv {
            for &r in &m.capable[v] {
                m.can[v * nr + r as usize] = true;
            }
        }
        m.neigh = (0..m.nv as u32)
            .map(|v| m.neighbours(v, NEIGHBOURS))
            .collect();
        Ok(m)
    }

    fn neighbours(&self, v: u32, k: usize) -> Vec<u32> {
        let vu = v as usize;
        let mut cand: Vec<(f64, u32)> = (0..self.nv as u32)
            .filter(|&w| w != v && w != self.partner[vu])
            .filter(|&w| (0..self.nr as u32).any(|r| self.can(v, r) && self.can(w, r)))
            .map(|w| {
                let wu = w as usize;
                let closeness = self
                    .d(self.loc[vu], self.loc[wu])
                    .min(self.d(self.loc[wu], self.loc[vu]));
                let time_gap = (self.early[vu] - self.early[wu]).abs();
                (closeness + 0.5 * time_gap, w)
            })
            .collect();
        cand.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        cand.truncate(k);
        cand.into_iter().map(|(_, w)| w).collect()
    }

    #[inline(always)]
    pub fn d(&self, a: u32, b: u32) -> f64 {
        self.dist[a as usize * self.nloc + b as usize]
    }

    #[inline(always)]
    pub fn can(&self, v: u32, r: u32) -> bool {
        self.can[v as usize * self.nr + r as usize]
    }
}
