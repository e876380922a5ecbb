//! A client's care plans, kept generated for the agency's horizon by
//! `CarePlanWorkflow`'s one step.

pub(crate) mod generate;
