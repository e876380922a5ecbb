//! Benchmark data types: the instance JSON (input) and the solution JSON (output),
//! exactly as described in `shared/hhcrsp/README.md`.

use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// A Mankowska et al. (2014) instance in the Udine JSON format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub patients: Vec<Patient>,
    pub services: Vec<Service>,
    pub caregivers: Vec<Caregiver>,
    pub central_offices: Vec<CentralOffice>,
    /// Travel-time matrix; rows/columns ordered depot, then patients in array order.
    pub distances: Vec<Vec<f64>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Patient {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<[f64; 2]>,
    /// `[earliest start, latest start]`; starting after the latest start is tardiness.
    pub time_window: [f64; 2],
    /// One or two required services.
    pub required_caregivers: Vec<RequiredService>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synchronization: Option<Synchronization>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequiredService {
    pub service: String,
    /// Falls back to the service's `default_duration` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<f64>,
}

/// Synchronisation of the two services of a double-service patient. The first service
/// is `required_caregivers[0]`, the second `required_caregivers[1]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Synchronization {
    /// Both services start at the same moment.
    Simultaneous,
    /// `second.start - first.start` lies in `[distance[0], distance[1]]`.
    Sequential { distance: [f64; 2] },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub id: String,
    pub default_duration: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Caregiver {
    pub id: String,
    pub abilities: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CentralOffice {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<[f64; 2]>,
}

impl Instance {
    /// Parses an instance from JSON text.
    pub fn from_json_str(text: &str) -> anyhow::Result<Self> {
        serde_json::from_str(text).context("parsing HHCRSP instance JSON")
    }

    /// Reads an instance from a JSON file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading instance {}", path.display()))?;
        Self::from_json_str(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Duration of the `k`-th required service of patient `p` (explicit or default).
    pub fn duration(&self, p: usize, k: usize) -> Option<f64> {
        let req = self.patients.get(p)?.required_caregivers.get(k)?;
        if let Some(d) = req.duration {
            return Some(d);
        }
        self.services
            .iter()
            .find(|s| s.id == req.service)
            .map(|s| s.default_duration)
    }

    /// Total number of service visits (sum over patients of required services).
    pub fn num_visits(&self) -> usize {
        self.patients
            .iter()
            .map(|p| p.required_caregivers.len())
            .sum()
    }
}

/// A solution in the benchmark's JSON format: one route per caregiver (possibly empty).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Solution {
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    pub caregiver_id: String,
    pub locations: Vec<Visit>,
}

/// One service visit; `arrival_time` is the service start, `departure_time` its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Visit {
    pub patient_id: String,
    pub service_id: String,
    pub arrival_time: f64,
    pub departure_time: f64,
}

impl Solution {
    /// Parses a solution from JSON text (unknown fields such as `global_ordering` are ignored).
    pub fn from_json_str(text: &str) -> anyhow::Result<Self> {
        serde_json::from_str(text).context("parsing HHCRSP solution JSON")
    }

    /// Reads a solution from a JSON file.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading solution {}", path.display()))?;
        Self::from_json_str(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Pretty JSON text of the solution.
    pub fn to_json_string(&self) -> String {
        serde_json::to_string_pretty(self).expect("solution serialises")
    }

    /// Writes the solution as pretty JSON.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        std::fs::write(path, self.to_json_string())
            .with_context(|| format!("writing solution {}", path.display()))
    }
}

/// Cost breakdown. `total_cost = (distance + total_tardiness + max_tardiness) / 3`.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Cost {
    pub distance: f64,
    pub total_tardiness: f64,
    pub max_tardiness: f64,
    pub total_cost: f64,
}

impl Cost {
    /// Builds a breakdown from its three components.
    pub fn new(distance: f64, total_tardiness: f64, max_tardiness: f64) -> Self {
        Self {
            distance,
            total_tardiness,
            max_tardiness,
            total_cost: (distance + total_tardiness + max_tardiness) / 3.0,
        }
    }
}
