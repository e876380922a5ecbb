//! What every step shares: the handles it works with and the failure it
//! reports, retryable or not.

use homecare_domain::scheduling::Policy;
use homecare_store::{EventBusError, Store, StoreError};
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::ActivityError;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum ActivityFailure {
    #[error("visit {0} not found")]
    VisitNotFound(Uuid),
    /// The command contradicts what the database holds: retrying cannot help.
    #[error("{0}")]
    Rejected(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Publish(#[from] EventBusError),
    #[error("assignment clashed with concurrent bookings {0} times")]
    Contention(u32),
    #[error("Temporal: {0}")]
    Temporal(String),
}

impl From<StoreError> for ActivityFailure {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::VisitNotFound(id) => Self::VisitNotFound(id),
            StoreError::Inconsistent(detail) => Self::Rejected(detail),
            StoreError::Database(e) => Self::Database(e),
            StoreError::Publish(e) => Self::Publish(e),
        }
    }
}

impl ActivityFailure {
    pub fn is_retryable(&self) -> bool {
        // A missing visit is retried too: the API starts the workflow inside the
        // transaction that inserts the row, so the first activity can run a few
        // milliseconds before that commit is visible.
        matches!(
            self,
            Self::VisitNotFound(_)
                | Self::Database(_)
                | Self::Publish(_)
                | Self::Contention(_)
                | Self::Temporal(_)
        )
    }

    /// Bad data and rule violations fail the activity for good; anything that may
    /// heal (a dropped connection, NATS briefly away) is retried by Temporal.
    pub fn into_activity_error(self) -> ActivityError {
        if self.is_retryable() {
            tracing::warn!(error = %self, "activity attempt failed; Temporal will retry");
            ActivityError::application(ApplicationFailure::new(self))
        } else {
            tracing::error!(error = %self, "activity refused");
            ActivityError::application(ApplicationFailure::non_retryable(self))
        }
    }
}

/// What every step works with: the store and the scheduling policy (travel
/// speed, score weights) its decisions use.
#[derive(Clone)]
pub struct Steps {
    pub store: Store,
    pub policy: Policy,
    /// Starts and commands visits' workflows (care-plan generation).
    pub visits: Option<VisitStarter>,
}

/// How a step starts a visit's workflow, as the API does.
#[derive(Clone)]
pub struct VisitStarter {
    pub temporal: temporalio_client::Client,
    pub task_queue: String,
    pub unfilled_retry_minutes: i64,
}

impl Steps {
    pub fn new(store: Store) -> Self {
        Self {
            store,
            policy: Policy::default(),
            visits: None,
        }
    }

    /// Lets the steps start and command visits' workflows.
    pub fn with_visit_starter(mut self, starter: VisitStarter) -> Self {
        self.visits = Some(starter);
        self
    }

    pub(crate) fn visit_starter(&self) -> Result<&VisitStarter, ActivityFailure> {
        self.visits.as_ref().ok_or_else(|| {
            ActivityFailure::Rejected(
                "this worker cannot start visits (no Temporal client)".to_owned(),
            )
        })
    }

    pub fn with_policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }
}
