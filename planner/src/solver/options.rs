//! What a solve is asked (time limit, seed, progress callback) and what it
//! answers.

use std::sync::Arc;
use std::time::Duration;

use crate::instance::{Cost, Solution};

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
