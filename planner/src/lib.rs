//! Solver for the Home Health Care Routing and Scheduling Problem (HHCRSP) of
//! Mankowska, Meisel and Bierwirth (2014), in the JSON format of the Udine benchmark.
//!
//! * [`Instance`] / [`Solution`]: serde types of the benchmark files.
//! * [`solve`]: greedy construction followed by multi-neighbourhood simulated annealing
//!   with exact earliest-start scheduling of synchronised services (see `README.md`).
//! * [`check`]: an independent checker of every hard rule that recomputes the cost.
//! * [`cli`]: functions behind `homecare plan solve` / `homecare plan bench`.
//!
//! ```no_run
//! use std::time::Duration;
//! use homecare_planner::{Instance, SolveOptions, solve};
//! let inst = Instance::load("toy.json".as_ref()).unwrap();
//! let res = solve(&inst, &SolveOptions::with_time_limit(Duration::from_secs(1), 42));
//! println!("{}", res.cost.total_cost);
//! ```

pub mod check;
pub mod cli;
mod instance;
mod model;
mod rng;
mod solver;
mod state;

pub use check::{CheckReport, Violation, ViolationKind, check};
pub use instance::{
    Caregiver, CentralOffice, Cost, Instance, Patient, RequiredService, Route, Service, Solution,
    Synchronization, Visit,
};
pub use solver::{Progress, ProgressFn, SolveOptions, SolveResult, solve, try_solve};
