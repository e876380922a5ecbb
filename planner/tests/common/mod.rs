// Shared helpers for the integration tests (included with `mod common;`).
#![allow(dead_code)]

use std::path::PathBuf;

use homecare_planner::{Instance, Solution};

pub const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/hhcrsp");

pub fn data(rel: &str) -> PathBuf {
    PathBuf::from(DATA).join(rel)
}

pub fn toy() -> Instance {
    Instance::load(&data("toy.json")).expect("toy instance")
}

pub fn toy_optimal() -> Solution {
    Solution::load(&data("sol_toy_optimal.json")).expect("toy optimal solution")
}

pub fn mankowska(name: &str) -> Instance {
    Instance::load(&data(&format!("mankowska/{name}"))).expect("benchmark instance")
}
