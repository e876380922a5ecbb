//! The data layer every homecare process shares: the outbox (record an event
//! in the transaction that makes the change, commit, then publish), the
//! loaders and row locks activities and the API read through, the event bus,
//! the payload codec, the Temporal client set-up, the audit chain and the
//! claims queries.
//!
//! Nothing here decides anything: the rules are `homecare_domain`'s, and the
//! activities and the API call them between a load and a write.

pub mod audit;
pub mod billing;
pub mod bus;
pub mod care_plans;
pub mod claims;
pub mod codec;
pub mod evv;
pub mod notifications;
mod outbox;
pub mod policy;
pub mod scheduling;
pub mod temporal;
pub mod visits;

use sqlx::PgPool;
use uuid::Uuid;

pub use bus::{EventBus, EventBusConfig, EventBusError};
pub use outbox::record_event;

/// What a load or a write can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("visit {0} not found")]
    VisitNotFound(Uuid),
    /// A row holds something the domain does not accept (an unknown status or
    /// time zone): retrying cannot help.
    #[error("{0}")]
    Inconsistent(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Publish(#[from] EventBusError),
}

/// The database and the event bus, as every writer needs them together: a
/// change commits with its events in the outbox, then the events go out.
#[derive(Clone)]
pub struct Store {
    pub db: PgPool,
    pub bus: EventBus,
}

impl Store {
    pub fn new(db: PgPool, bus: EventBus) -> Self {
        Self { db, bus }
    }
}

/// Postgres `exclusion_violation`: a double-booking constraint fired.
pub const EXCLUSION_VIOLATION: &str = "23P01";

/// A caregiver's calendar refused a booking: a concurrent decision took them
/// between our read and our write.
pub fn is_double_booking(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some(EXCLUSION_VIOLATION))
}
