//! End-to-end tests: the real API, a real worker, real Temporal, PostgreSQL and
//! NATS. Each test has its own database, task queue, subject prefix and stream,
//! so they run in parallel. `./dev test` starts every service they need.

mod accounts;
mod asyncapi;
mod audit;
mod auth;
mod billing;
mod care_plans;
mod caregiver_app;
pub(crate) mod chaos;
mod codes;
mod console;
mod duties;
mod encryption;
mod events_schema;
mod generation_chaos;
mod helpers;
mod input;
mod lifecycle;
mod notifier;
mod openapi;
mod plans;
mod platform;
mod relay;
mod scheduling;
mod tls;
mod tour;
