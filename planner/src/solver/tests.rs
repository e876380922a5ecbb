use super::*;

fn load(name: &str) -> Instance {
    let p = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/hhcrsp/mankowska/"
    );
    Instance::load(format!("{p}{name}").as_ref()).unwrap()
}

/// The incremental evaluation after thousands of random SA moves agrees with a
/// from-scratch evaluation of the same routes (starts and all cost components).
#[test]
fn incremental_matches_full_evaluation() {
    for name in [
        "InstanzCPLEX_HCSRP_10_2.json",
        "InstanzCPLEX_HCSRP_25_6.json",
        "InstanzCPLEX_HCSRP_50_6.json",
    ] {
        let inst = load(name);
        let m = Model::build(&inst).unwrap();
        let mut rng = Rng::new(11);
        let st = construct(&m, &mut rng).unwrap();
        let mut sa = Annealer::new(&m, st, rng);
        for round in 0..40 {
            let mut full = None;
            for _ in 0..500 {
                sa.iter += 1;
                sa.step(if round % 2 == 0 { 50.0 } else { 1.0 });
                full = State::from_routes(&m, &sa.st.routes);
                assert!(full.is_some(), "{name}: accepted an infeasible move");
            }
            let full = full.unwrap();
            for v in 0..m.nv {
                assert!(
                    (full.start[v] - sa.st.start[v]).abs() < 1e-6,
                    "{name} start {v}"
                );
                assert_eq!(full.route_of[v], sa.st.route_of[v]);
                assert_eq!(full.pos[v], sa.st.pos[v]);
            }
            assert!((full.dist_total - sa.st.dist_total).abs() < 1e-6);
            assert!((full.tard_total - sa.st.tard_total).abs() < 1e-6);
            assert!((full.tard_max - sa.st.tard_max).abs() < 1e-6);
        }
    }
}

/// Two simultaneous pairs served in opposite orders by the same two caregivers form
/// a positive cycle: the evaluator must report infeasibility.
#[test]
fn detects_cyclic_synchronisation() {
    let inst = load("InstanzCPLEX_HCSRP_25_1.json");
    let m = Model::build(&inst).unwrap();
    let sim: Vec<(u32, u32)> = m
        .pairs
        .iter()
        .copied()
        .filter(|&(a, b)| m.offset[a as usize] == 0.0 && m.offset[b as usize] == 0.0)
        .collect();
    // Find two simultaneous pairs and two routes r1 != r2 able to host them crosswise.
    for (i, &(a1, b1)) in sim.iter().enumerate() {
        for &(a2, b2) in &sim[i + 1..] {
            for r1 in 0..m.nr as u32 {
                for r2 in 0..m.nr as u32 {
                    if r1 == r2
                        || !(m.can(a1, r1) && m.can(b1, r2) && m.can(a2, r1) && m.can(b2, r2))
                    {
                        continue;
                    }
                    let mut routes = vec![Vec::new(); m.nr];
                    routes[r1 as usize] = vec![a1, a2];
                    routes[r2 as usize] = vec![b2, b1];
                    assert!(State::from_routes(&m, &routes).is_none());
                    routes[r2 as usize] = vec![b1, b2];
                    assert!(State::from_routes(&m, &routes).is_some());
                    return;
                }
            }
        }
    }
    panic!("no suitable pairs found");
}
