//! The benchmark harness, kept out of the product: `homecare bench` (visit
//! lifecycles through the public API, compared in the same run with the
//! floor, a bare Temporal workflow making the same round trips),
//! `homecare bench-call-out`, `homecare bench-cancel`, `homecare bench-care-plans`,
//! the floor workflow itself, and the CPU reader
//! that splits each phase's CPU time by program.
//!
//! Production workers do not run the floor: `homecare up --bench-floor` (what
//! `./dev up` runs) registers it through [`floor::register`].

pub mod call_out;
pub mod cancel;
pub mod care_plans;
pub mod cpu;
pub mod floor;
pub mod lifecycles;

pub use lifecycles::{BenchOptions, BenchReport, floor_lifecycle, latency_plot, print, run};

/// Writes `report` as `<dir>/<name>-<started_at>.json`; the path written.
pub(crate) fn write_report(
    dir: &std::path::Path,
    name: &str,
    started_at: chrono::DateTime<chrono::Utc>,
    report: &impl serde::Serialize,
) -> anyhow::Result<std::path::PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!(
        "{name}-{}.json",
        started_at.format("%Y%m%dT%H%M%SZ")
    ));
    std::fs::write(&path, serde_json::to_vec_pretty(report)?)?;
    Ok(path)
}
