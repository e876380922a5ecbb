//! Pure home-care domain: visit states and the rules that move them, the event
//! envelope, pricing, and input validation. No I/O and no async, so the workflow
//! crate can use all of it without risking determinism.

pub mod accounts;
pub mod care_plan;
pub mod codes;
pub mod contracts;
pub mod events;
pub mod evv;
pub mod notify;
pub mod pricing;
pub mod scheduling;
pub mod validation;
pub mod visit;
pub mod x12;

pub use events::{Event, EventData, EventEnvelope, EventFrame, EventKind};
pub use visit::{Rejection, RejectionCode, VisitStatus};
