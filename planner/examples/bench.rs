//! Benchmark runner:
//! `cargo run --release --example bench -p homecare-planner -- DIR BEST.md [SECONDS|size:MAX] [FILTER] [SEED] [OUT.json]`
//!
//! `SECONDS` is a fixed per-instance limit; `size:MAX` scales the limit with the patient
//! count (MAX seconds at 300 patients, 1 s floor). Default: `size:30`.

use std::path::PathBuf;
use std::time::Duration;

use homecare_planner::cli::{TimeLimitPolicy, bench_dir};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        anyhow::bail!("usage: bench DIR BEST.md [SECONDS|size:MAX] [FILTER] [SEED] [OUT.json]");
    }
    let dir = PathBuf::from(&args[0]);
    let best = PathBuf::from(&args[1]);
    let policy = match args.get(2).map(String::as_str) {
        None => TimeLimitPolicy::default(),
        Some(s) if s.starts_with("size:") => {
            TimeLimitPolicy::by_size(Duration::from_secs_f64(s[5..].parse()?))
        }
        Some(s) => TimeLimitPolicy::Fixed(Duration::from_secs_f64(s.parse()?)),
    };
    let filter = args.get(3).filter(|s| !s.is_empty() && *s != "-");
    let seed: u64 = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let report = bench_dir(&dir, &best, policy, seed, filter.map(String::as_str))?;
    if let Some(out) = args.get(5) {
        std::fs::write(out, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}
