//! Solve one instance:
//! `cargo run --release --example solve -p homecare-planner -- INSTANCE.json [SECONDS] [SEED] [OUT.json]`

use std::path::PathBuf;
use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(instance) = args.first() else {
        anyhow::bail!("usage: solve INSTANCE.json [SECONDS] [SEED] [OUT.json]");
    };
    let secs: f64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(10.0);
    let seed: u64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(1);
    let out = args
        .get(3)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("planner-solution.json"));
    let report = homecare_planner::cli::solve_file(
        instance.as_ref(),
        Duration::from_secs_f64(secs),
        seed,
        &out,
    )?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
