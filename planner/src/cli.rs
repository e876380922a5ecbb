//! Plain functions behind the `homecare plan ...` sub-commands (no clap here).
//!
//! Stable entry points wired by the root binary:
//!
//! ```text
//! homecare plan solve INSTANCE.json --time-limit S --seed N --out SOL.json
//!     -> cli::solve_file(instance, Duration::from_secs_f64(S), N, out) -> SolveReport
//! homecare plan bench DIR --best FILE [--time-limit S] [--filter STR] [--seed N]
//!     -> cli::bench_dir(dir, best, policy, N, filter) -> BenchReport
//!        policy = TimeLimitPolicy::Fixed(S seconds) when --time-limit is given,
//!                 otherwise TimeLimitPolicy::default() (by size, 30 s for 300 patients)
//! ```
//!
//! * [`solve_file`]`(instance: &Path, time_limit: Duration, seed: u64, out: &Path)
//!   -> anyhow::Result<SolveReport>` solves one instance, verifies the result with the
//!   independent checker ([`crate::check`]), writes the solution JSON to `out` and
//!   returns a serialisable report (an infeasible result is reported, not an error).
//! * [`bench_dir`]`(dir: &Path, best: &Path, time_limit: TimeLimitPolicy, seed: u64,
//!   filter: Option<&str>) -> anyhow::Result<BenchReport>` solves every `*.json` instance
//!   in `dir` whose file name contains `filter`, in natural order (by patient count, then
//!   instance number), checks each solution, prints one line per instance (cost, best
//!   published, gap %, time) under an `indicatif` progress bar, then a summary per size
//!   class and overall (mean / max gap, beaten / matched / infeasible counts).
//!   `best` is the markdown table `mankowska_best.md`.
//! * [`parse_best_table`] reads that table; [`TimeLimitPolicy::limit_for`] gives the limit
//!   used for an instance with a given number of patients.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::check::check;
use crate::instance::{Cost, Instance};
use crate::solver::{SolveOptions, try_solve};

/// Relative tolerance under which a cost counts as "matching" the best published one.
pub const MATCH_TOLERANCE: f64 = 1e-4;

/// Time limit per instance for [`bench_dir`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum TimeLimitPolicy {
    /// The same limit for every instance.
    Fixed(Duration),
    /// `max * patients / reference_patients`, clamped to `[min, max]`.
    BySize {
        max: Duration,
        min: Duration,
        reference_patients: usize,
    },
}

impl Default for TimeLimitPolicy {
    /// By size: 30 s for 300 patients, 1 s minimum (10 patients: 1 s, 100: 10 s).
    fn default() -> Self {
        Self::by_size(Duration::from_secs(30))
    }
}

impl TimeLimitPolicy {
    /// By size with the given maximum (reached at 300 patients) and a 1 s floor.
    pub fn by_size(max: Duration) -> Self {
        Self::BySize {
            max,
            min: Duration::from_secs(1).min(max),
            reference_patients: 300,
        }
    }

    /// Time limit for an instance with `patients` patients.
    pub fn limit_for(&self, patients: usize) -> Duration {
        match *self {
            Self::Fixed(d) => d,
            Self::BySize {
                max,
                min,
                reference_patients,
            } => {
                let frac = patients as f64 / reference_patients.max(1) as f64;
                max.mul_f64(frac.min(1.0)).max(min)
            }
        }
    }
}

/// Report of [`solve_file`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SolveReport {
    pub instance: String,
    pub patients: usize,
    pub caregivers: usize,
    pub cost: Cost,
    pub feasible: bool,
    /// Checker messages (empty when feasible).
    pub violations: Vec<String>,
    pub iterations: u64,
    pub time_s: f64,
    pub seed: u64,
    pub out: PathBuf,
}

/// Solves one instance file and writes the solution JSON to `out`.
pub fn solve_file(
    instance: &Path,
    time_limit: Duration,
    seed: u64,
    out: &Path,
) -> anyhow::Result<SolveReport> {
    let inst = Instance::load(instance)?;
    let result = try_solve(&inst, &SolveOptions::with_time_limit(time_limit, seed))
        .with_context(|| format!("solving {}", instance.display()))?;
    let report = check(&inst, &result.solution);
    result.solution.save(out)?;
    Ok(SolveReport {
        instance: file_name(instance),
        patients: inst.patients.len(),
        caregivers: inst.caregivers.len(),
        cost: report.cost,
        feasible: report.is_feasible(),
        violations: report
            .violations
            .iter()
            .map(|v| v.message.clone())
            .collect(),
        iterations: result.iterations,
        time_s: result.elapsed.as_secs_f64(),
        seed,
        out: out.to_path_buf(),
    })
}

/// One instance of a benchmark run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchEntry {
    pub instance: String,
    pub patients: usize,
    pub caregivers: usize,
    /// Cost recomputed by the independent checker.
    pub cost: Cost,
    pub best_published: Option<f64>,
    /// `100 * (cost - best) / best`; negative when the published best is beaten.
    pub gap_pct: Option<f64>,
    pub feasible: bool,
    pub violations: Vec<String>,
    pub time_limit_s: f64,
    pub time_s: f64,
    pub iterations: u64,
}

/// Aggregates over a set of entries.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BenchSummary {
    pub instances: usize,
    pub with_reference: usize,
    pub mean_gap_pct: f64,
    pub max_gap_pct: f64,
    /// Strictly better than the published best (by more than [`MATCH_TOLERANCE`]).
    pub beaten: usize,
    /// Equal to the published best within [`MATCH_TOLERANCE`].
    pub matched: usize,
    pub infeasible: usize,
    pub mean_time_s: f64,
}

/// Report of [`bench_dir`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchReport {
    pub seed: u64,
    pub time_limit: TimeLimitPolicy,
    pub entries: Vec<BenchEntry>,
    /// Per patient count.
    pub by_size: BTreeMap<usize, BenchSummary>,
    pub overall: BenchSummary,
    /// Names of instances whose published best was beaten.
    pub beaten_instances: Vec<String>,
}

/// Parses the markdown table of best published results: instance file name -> total cost.
pub fn parse_best_table(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut cost_col = None;
    for line in text.lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() < 2 {
            continue;
        }
        if cost_col.is_none() {
            cost_col = cells.iter().position(|c| *c == "total_cost");
            continue;
        }
        let Some(col) = cost_col else { continue };
        if let Some(cost) = cells.get(col).and_then(|c| c.parse::<f64>().ok()) {
            out.insert(cells[0].to_string(), cost);
        }
    }
    out
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Sort key: (patients, instance number) from names like `InstanzCPLEX_HCSRP_25_7.json`.
fn natural_key(name: &str) -> (usize, usize, String) {
    let stem = name.trim_end_matches(".json");
    let nums: Vec<usize> = stem.split('_').filter_map(|s| s.parse().ok()).collect();
    match nums[..] {
        [.., a, b] => (a, b, name.to_string()),
        _ => (usize::MAX, usize::MAX, name.to_string()),
    }
}

fn summarize<'a>(entries: impl Iterator<Item = &'a BenchEntry>) -> BenchSummary {
    let mut s = BenchSummary::default();
    let mut gap_sum = 0.0;
    let mut time_sum = 0.0;
    let mut max_gap = f64::NEG_INFINITY;
    for e in entries {
        s.instances += 1;
        time_sum += e.time_s;
        if !e.feasible {
            s.infeasible += 1;
        }
        if let Some(g) = e.gap_pct {
            s.with_reference += 1;
            gap_sum += g;
            max_gap = max_gap.max(g);
            if g < -100.0 * MATCH_TOLERANCE {
                s.beaten += 1;
            } else if g <= 100.0 * MATCH_TOLERANCE {
                s.matched += 1;
            }
        }
    }
    if s.with_reference > 0 {
        s.mean_gap_pct = gap_sum / s.with_reference as f64;
        s.max_gap_pct = max_gap;
    }
    if s.instances > 0 {
        s.mean_time_s = time_sum / s.instances as f64;
    }
    s
}

/// Solves and checks every instance of `dir` (see the module docs).
pub fn bench_dir(
    dir: &Path,
    best: &Path,
    time_limit: TimeLimitPolicy,
    seed: u64,
    filter: Option<&str>,
) -> anyhow::Result<BenchReport> {
    let best_text =
        std::fs::read_to_string(best).with_context(|| format!("reading {}", best.display()))?;
    let best_costs = parse_best_table(&best_text);
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter(|p| filter.is_none_or(|f| file_name(p).contains(f)))
        .collect();
    files.sort_by_key(|p| natural_key(&file_name(p)));

    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} [{elapsed_precise}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let say = |line: String| {
        if bar.is_hidden() {
            println!("{line}");
        } else {
            bar.println(line);
        }
    };
    say(format!(
        "{:<32} {:>5} {:>11} {:>11} {:>8} {:>7} {:>11}",
        "instance", "n", "cost", "best", "gap %", "time s", "iterations"
    ));
    let started = Instant::now();
    let mut entries = Vec::new();
    for path in &files {
        let name = file_name(path);
        bar.set_message(name.clone());
        let inst = Instance::load(path)?;
        let limit = time_limit.limit_for(inst.patients.len());
        let result = try_solve(&inst, &SolveOptions::with_time_limit(limit, seed))
            .with_context(|| format!("solving {name}"))?;
        let report = check(&inst, &result.solution);
        let best_published = best_costs.get(&name).copied();
        let gap_pct = best_published.map(|b| 100.0 * (report.cost.total_cost - b) / b);
        let entry = BenchEntry {
            instance: name.clone(),
            patients: inst.patients.len(),
            caregivers: inst.caregivers.len(),
            cost: report.cost,
            best_published,
            gap_pct,
            feasible: report.is_feasible(),
            violations: report
                .violations
                .iter()
                .map(|v| v.message.clone())
                .collect(),
            time_limit_s: limit.as_secs_f64(),
            time_s: result.elapsed.as_secs_f64(),
            iterations: result.iterations,
        };
        say(format!(
            "{:<32} {:>5} {:>11.3} {:>11} {:>8} {:>7.2} {:>11}{}",
            name,
            entry.patients,
            entry.cost.total_cost,
            best_published.map_or("-".into(), |b| format!("{b:.3}")),
            gap_pct.map_or("-".into(), |g| format!("{g:.3}")),
            entry.time_s,
            entry.iterations,
            if entry.feasible { "" } else { "  INFEASIBLE" }
        ));
        entries.push(entry);
        bar.inc(1);
    }
    bar.finish_and_clear();

    let mut by_size = BTreeMap::new();
    let sizes: std::collections::BTreeSet<usize> = entries.iter().map(|e| e.patients).collect();
    for n in sizes {
        by_size.insert(n, summarize(entries.iter().filter(|e| e.patients == n)));
    }
    let overall = summarize(entries.iter());
    let beaten_instances: Vec<String> = entries
        .iter()
        .filter(|e| e.gap_pct.is_some_and(|g| g < -100.0 * MATCH_TOLERANCE))
        .map(|e| e.instance.clone())
        .collect();
    println!(
        "{:>6} {:>5} {:>10} {:>10} {:>7} {:>8} {:>11} {:>10}",
        "size", "count", "mean gap%", "max gap%", "beaten", "matched", "infeasible", "mean t s"
    );
    let line = |label: String, s: &BenchSummary| {
        println!(
            "{:>6} {:>5} {:>10.3} {:>10.3} {:>7} {:>8} {:>11} {:>10.2}",
            label,
            s.instances,
            s.mean_gap_pct,
            s.max_gap_pct,
            s.beaten,
            s.matched,
            s.infeasible,
            s.mean_time_s
        )
    };
    for (n, s) in &by_size {
        line(n.to_string(), s);
    }
    line("all".into(), &overall);
    if !beaten_instances.is_empty() {
        println!("beaten: {}", beaten_instances.join(", "));
    }
    println!("total wall time {:.1} s", started.elapsed().as_secs_f64());
    Ok(BenchReport {
        seed,
        time_limit,
        entries,
        by_size,
        overall,
        beaten_instances,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_best_table() {
        let text = "| instance | distance_traveled | max_tardiness | total_tardiness | total_cost | solution |\n|:--|--:|--:|--:|--:|:--|\n| A_10_1.json | 1 | 0 | 0 | 218.199 | x.json |\n";
        let t = parse_best_table(text);
        assert_eq!(t.get("A_10_1.json"), Some(&218.199));
    }

    #[test]
    fn natural_order_and_policy() {
        assert!(natural_key("X_10_2.json") < natural_key("X_10_10.json"));
        assert!(natural_key("X_75_10.json") < natural_key("Y_100_1.json"));
        let p = TimeLimitPolicy::by_size(Duration::from_secs(30));
        assert_eq!(p.limit_for(300), Duration::from_secs(30));
        assert_eq!(p.limit_for(100), Duration::from_secs(10));
        assert_eq!(p.limit_for(10), Duration::from_secs(1));
    }
}
