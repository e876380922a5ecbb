//! Solver output passes the independent checker; optimum on the toy; determinism.

mod common;

use homecare_planner::{SolveOptions, check, solve};

use common::{mankowska, toy};

#[test]
fn solves_toy_to_optimality() {
    let inst = toy();
    let res = solve(&inst, &SolveOptions::with_iterations(100_000, 1));
    let report = check(&inst, &res.solution);
    assert!(report.is_feasible(), "{:?}", report.violations);
    assert!(
        (report.cost.total_cost - 334.0 / 3.0).abs() < 1e-6,
        "cost {:?}",
        report.cost
    );
    assert!((res.cost.total_cost - report.cost.total_cost).abs() < 1e-6);
    assert_eq!(res.solution.routes.len(), inst.caregivers.len());
}

fn solve_and_check(name: &str, iterations: u64) {
    let inst = mankowska(name);
    let res = solve(&inst, &SolveOptions::with_iterations(iterations, 7));
    let report = check(&inst, &res.solution);
    assert!(report.is_feasible(), "{name}: {:?}", report.violations);
    for (a, b) in [
        (res.cost.distance, report.cost.distance),
        (res.cost.total_tardiness, report.cost.total_tardiness),
        (res.cost.max_tardiness, report.cost.max_tardiness),
        (res.cost.total_cost, report.cost.total_cost),
    ] {
        assert!(
            (a - b).abs() < 1e-6,
            "{name}: solver {:?} vs checker {:?}",
            res.cost,
            report.cost
        );
    }
    assert_eq!(res.iterations, iterations);
}

#[test]
fn feasible_on_10_patients() {
    solve_and_check("InstanzCPLEX_HCSRP_10_3.json", 100_000);
}

#[test]
fn feasible_on_25_patients() {
    solve_and_check("InstanzCPLEX_HCSRP_25_6.json", 60_000);
}

#[test]
fn feasible_on_50_patients() {
    solve_and_check("InstanzCPLEX_HCSRP_50_1.json", 40_000);
}

#[test]
fn deterministic_for_seed_and_iteration_limit() {
    let inst = mankowska("InstanzCPLEX_HCSRP_25_2.json");
    let a = solve(&inst, &SolveOptions::with_iterations(30_000, 99));
    let b = solve(&inst, &SolveOptions::with_iterations(30_000, 99));
    assert_eq!(a.solution, b.solution);
    assert_eq!(a.cost, b.cost);
    assert_eq!(a.best_iteration, b.best_iteration);
}

#[test]
fn stops_at_time_limit() {
    let inst = mankowska("InstanzCPLEX_HCSRP_10_1.json");
    let res = solve(
        &inst,
        &SolveOptions::with_time_limit(std::time::Duration::from_millis(300), 3),
    );
    assert!(res.elapsed < std::time::Duration::from_secs(3));
    assert!(check(&inst, &res.solution).is_feasible());
}

#[test]
fn cli_solve_file_writes_checked_solution() {
    let out = std::env::temp_dir().join(format!("planner-toy-{}.json", std::process::id()));
    let report = homecare_planner::cli::solve_file(
        &common::data("toy.json"),
        std::time::Duration::from_millis(200),
        5,
        &out,
    )
    .expect("solve_file");
    assert!(report.feasible);
    let sol = homecare_planner::Solution::load(&out).expect("written solution");
    let _ = std::fs::remove_file(&out);
    assert!(check(&toy(), &sol).is_feasible());
}

#[test]
fn cli_bench_dir_reports_gap_against_best_table() {
    use homecare_planner::cli::{TimeLimitPolicy, bench_dir};
    let report = bench_dir(
        &common::data("mankowska"),
        &common::data("mankowska_best.md"),
        TimeLimitPolicy::Fixed(std::time::Duration::from_millis(300)),
        1,
        Some("HCSRP_10_1."),
    )
    .expect("bench_dir");
    assert_eq!(report.entries.len(), 1);
    let e = &report.entries[0];
    assert_eq!(e.instance, "InstanzCPLEX_HCSRP_10_1.json");
    assert!(e.feasible, "{:?}", e.violations);
    assert_eq!(e.best_published, Some(218.199));
    let gap = e.gap_pct.expect("gap");
    assert!((gap - 100.0 * (e.cost.total_cost - 218.199) / 218.199).abs() < 1e-9);
    assert_eq!(report.overall.instances, 1);
    assert_eq!(report.overall.infeasible, 0);
    assert!(serde_json::to_string(&report).is_ok());
}
