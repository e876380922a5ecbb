//! Temporal workflow definitions. Deterministic: no clock, no randomness and no I/O
//! except through the SDK. Activities are declared here as contracts
//! (`#[activity_definitions]`) and implemented in the `activities` crate, so this
//! crate cannot reach Postgres or NATS even by accident.

pub mod call_out;
pub mod care_plan;
pub mod contracts;
pub mod escalation;
pub mod join;
pub mod plan;
pub mod visit;

pub use call_out::CallOutWorkflow;
pub use care_plan::CarePlanWorkflow;
pub use contracts::{CarePlanActivities, CaregiverActivities, PlanActivities, VisitActivities};
pub use escalation::EscalationWorkflow;
pub use plan::PlanDayWorkflow;
pub use visit::VisitWorkflow;
