//! The independent checker accepts the known optimum and rejects hand-broken solutions.

mod common;

use homecare_planner::{ViolationKind, check};

use common::{toy, toy_optimal};

fn visit_mut<'a>(
    sol: &'a mut homecare_planner::Solution,
    caregiver: &str,
    patient: &str,
) -> &'a mut homecare_planner::Visit {
    sol.routes
        .iter_mut()
        .find(|r| r.caregiver_id == caregiver)
        .expect("route")
        .locations
        .iter_mut()
        .find(|v| v.patient_id == patient)
        .expect("visit")
}

#[test]
fn accepts_toy_optimal_with_right_cost() {
    let report = check(&toy(), &toy_optimal());
    assert!(report.is_feasible(), "{:?}", report.violations);
    assert!((report.cost.distance - 334.0).abs() < 1e-9);
    assert_eq!(report.cost.total_tardiness, 0.0);
    assert_eq!(report.cost.max_tardiness, 0.0);
    assert!((report.cost.total_cost - 334.0 / 3.0).abs() < 1e-9);
}

#[test]
fn computes_tardiness_and_max() {
    // Delay the last visit of c2 (p6/s3 at 420, window end 420) by 10 and of c1
    // (p6/s1 at 360) by 10 as well: both stay feasible for the sequential [60, 90] rule.
    let mut sol = toy_optimal();
    for cg in ["c1", "c2"] {
        let v = visit_mut(&mut sol, cg, "p6");
        v.arrival_time += 10.0;
        v.departure_time += 10.0;
    }
    let report = check(&toy(), &sol);
    assert!(report.is_feasible(), "{:?}", report.violations);
    assert!((report.cost.total_tardiness - 10.0).abs() < 1e-9);
    assert!((report.cost.max_tardiness - 10.0).abs() < 1e-9);
    assert!((report.cost.total_cost - (334.0 + 20.0) / 3.0).abs() < 1e-9);
}

#[test]
fn rejects_missing_service() {
    let mut sol = toy_optimal();
    sol.routes[2].locations.retain(|v| v.patient_id != "p1");
    let report = check(&toy(), &sol);
    assert!(
        report.has(ViolationKind::MissingService),
        "{:?}",
        report.violations
    );
}

#[test]
fn rejects_duplicate_service() {
    let mut sol = toy_optimal();
    let extra = sol.routes[2].locations[1].clone(); // c3: p1/s2 at 240
    let mut late = extra.clone();
    late.arrival_time = 600.0;
    late.departure_time = 630.0;
    sol.routes[2].locations.push(late);
    let report = check(&toy(), &sol);
    assert!(
        report.has(ViolationKind::DuplicateService),
        "{:?}",
        report.violations
    );
}

#[test]
fn rejects_missing_ability() {
    // Exchange the caregivers of routes c1 (s1/s2 work) and c2 (s3 only): same times
    // and travel, but c2 cannot do s1/s2 and c1 cannot do s3.
    let mut sol = toy_optimal();
    sol.routes[0].caregiver_id = "c2".into();
    sol.routes[1].caregiver_id = "c1".into();
    let report = check(&toy(), &sol);
    assert!(
        report.has(ViolationKind::NoAbility),
        "{:?}",
        report.violations
    );
    assert!(!report.has(ViolationKind::BeforeArrival));
}

#[test]
fn rejects_broken_simultaneous_sync() {
    let mut sol = toy_optimal();
    // p4 is simultaneous (c1 s2 and c2 s3 at 120); delay c1's (its next visit is at 275).
    let v = visit_mut(&mut sol, "c1", "p4");
    v.arrival_time += 5.0;
    v.departure_time += 5.0;
    let report = check(&toy(), &sol);
    assert!(
        report.has(ViolationKind::SimultaneousViolated),
        "{:?}",
        report.violations
    );
}

#[test]
fn rejects_broken_sequential_sync() {
    let mut sol = toy_optimal();
    // p6 is sequential [60, 90]: s1 (c1) at 360, s3 (c2) at 420. Move s3 to 460.
    let v = visit_mut(&mut sol, "c2", "p6");
    v.arrival_time = 460.0;
    v.departure_time = 480.0;
    let report = check(&toy(), &sol);
    assert!(
        report.has(ViolationKind::SequentialViolated),
        "{:?}",
        report.violations
    );
    // And too early: s3 only 50 after s1.
    let mut sol = toy_optimal();
    let v = visit_mut(&mut sol, "c2", "p6");
    v.arrival_time = 410.0;
    v.departure_time = 430.0;
    let report = check(&toy(), &sol);
    assert!(
        report.has(ViolationKind::SequentialViolated),
        "{:?}",
        report.violations
    );
}

#[test]
fn rejects_start_before_time_window() {
    let mut sol = toy_optimal();
    // c3 serves p1 (window [240, 360]) at 240; start it at 230 (still reachable).
    let v = visit_mut(&mut sol, "c3", "p1");
    v.arrival_time = 230.0;
    v.departure_time = 260.0;
    let report = check(&toy(), &sol);
    assert!(
        report.has(ViolationKind::BeforeTimeWindow),
        "{:?}",
        report.violations
    );
    assert!(!report.has(ViolationKind::BeforeArrival));
}

#[test]
fn rejects_start_before_arrival() {
    let mut sol = toy_optimal();
    // c2 leaves p4 at 150 and needs 28 to reach p2: earliest 178 (window opens 120).
    let v = visit_mut(&mut sol, "c2", "p2");
    v.arrival_time = 177.0;
    v.departure_time = 197.0;
    let report = check(&toy(), &sol);
    assert!(
        report.has(ViolationKind::BeforeArrival),
        "{:?}",
        report.violations
    );
    assert!(!report.has(ViolationKind::BeforeTimeWindow));
    // The first visit must also account for the leg from the depot.
    let mut sol = toy_optimal();
    let v = visit_mut(&mut sol, "c3", "p3"); // depot -> p3 takes 56
    v.arrival_time = 50.0;
    v.departure_time = 95.0;
    let report = check(&toy(), &sol);
    assert!(
        report.has(ViolationKind::BeforeArrival),
        "{:?}",
        report.violations
    );
}

#[test]
fn rejects_same_caregiver_for_both_services() {
    // A variant of the toy where c3 may do every service; c3 then does both p5 services
    // at feasible times (sequential [30, 45]) while c1 drops its p5 visit.
    let mut inst = toy();
    inst.caregivers[2].abilities = vec!["s1".into(), "s2".into(), "s3".into()];
    let mut sol = toy_optimal();
    sol.routes[0].locations.retain(|v| v.patient_id != "p5");
    let c3 = &mut sol.routes[2].locations;
    // c3: p3 56-101, p1 240-270 (p1 -> p5 takes 50): p5/s1 at 320-335, p5/s3 at 350-380.
    c3[2].arrival_time = 350.0;
    c3[2].departure_time = 380.0;
    c3.insert(
        2,
        homecare_planner::Visit {
            patient_id: "p5".into(),
            service_id: "s1".into(),
            arrival_time: 320.0,
            departure_time: 335.0,
        },
    );
    let report = check(&inst, &sol);
    assert!(
        report.has(ViolationKind::SameCaregiver),
        "{:?}",
        report.violations
    );
    assert_eq!(report.violations.len(), 1, "{:?}", report.violations);
}

#[test]
fn rejects_wrong_duration_and_unknown_ids() {
    let mut sol = toy_optimal();
    sol.routes[0].locations[0].departure_time += 3.0;
    let report = check(&toy(), &sol);
    assert!(
        report.has(ViolationKind::WrongDuration),
        "{:?}",
        report.violations
    );

    let mut sol = toy_optimal();
    sol.routes[0].caregiver_id = "c9".into();
    let report = check(&toy(), &sol);
    assert!(report.has(ViolationKind::UnknownCaregiver));

    let mut sol = toy_optimal();
    sol.routes[2].locations[1].patient_id = "p99".into();
    let report = check(&toy(), &sol);
    assert!(report.has(ViolationKind::UnknownPatient));
    assert!(report.has(ViolationKind::MissingService));
}
