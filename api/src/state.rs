//! What every handler shares: the handles and the configuration.

use std::sync::Arc;

use homecare_store::EventBus;
use sqlx::PgPool;

use crate::error::ApiError;
use crate::events::Relay;

#[derive(Clone, Debug)]
pub struct ApiConfig {
    pub task_queue: String,
    pub namespace: String,
    /// While a visit is unfilled, how often assignment is retried.
    pub unfilled_retry_minutes: i64,
    /// How long a check-in/out or cancel waits for the workflow before answering
    /// 503 with Retry-After (a worker may be down; the command is not lost).
    pub update_timeout: std::time::Duration,
    /// Travel speed and score weights for rankings and manual-assignment checks
    /// (the worker's activities use the same settings).
    pub policy: homecare_domain::scheduling::Policy,
    /// How bearer tokens are verified.
    pub auth: crate::auth::AuthConfig,
    /// Workflow payload encryption, for the codec endpoint.
    pub crypto: Option<std::sync::Arc<homecare_store::codec::PayloadCrypto>>,
    /// Origins (the Temporal UI) allowed to call the codec endpoint.
    pub codec_cors_origins: Vec<String>,
    /// The built console (`web/dist`), served at `/`.
    pub console_dir: Option<std::path::PathBuf>,
    /// Proxies whose `X-Forwarded-For` names the client's address.
    pub trusted_proxies: crate::client_address::TrustedProxies,
    /// When refused bearer tokens from one address are answered 429.
    pub bearer_throttle: homecare_domain::accounts::ThrottlePolicy,
    /// The VAPID public key browsers subscribe to Web Push with (base64url),
    /// when the notifier sends push messages.
    pub vapid_public_key: Option<String>,
    /// Where people open the console and the app (links in e-mails).
    pub public_url: String,
}

#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub bus: EventBus,
    pub temporal: temporalio_client::Client,
    pub relay: Relay,
    pub config: Arc<ApiConfig>,
}

impl AppState {
    /// Ensures the stream exists and starts this process's shared event relay.
    pub async fn new(
        db: PgPool,
        bus: EventBus,
        temporal: temporalio_client::Client,
        config: ApiConfig,
    ) -> Result<Self, homecare_store::EventBusError> {
        bus.ensure_stream().await?;
        let relay = Relay::start(bus.clone()).await?;
        Ok(Self {
            db,
            bus,
            temporal,
            relay,
            config: Arc::new(config),
        })
    }
}

impl axum::extract::FromRef<AppState> for crate::client_address::TrustedProxies {
    fn from_ref(state: &AppState) -> Self {
        state.config.trusted_proxies.clone()
    }
}

/// 404 unless a row with `id` exists in `table` (one of the crate's own
/// constant table names; `noun` names it in the message).
pub(crate) async fn ensure_exists(
    state: &AppState,
    table: &'static str,
    noun: &str,
    id: uuid::Uuid,
) -> Result<(), ApiError> {
    let exists: bool = sqlx::query_scalar(&format!(
        "select exists (select 1 from {table} where id = $1)"
    ))
    .bind(id)
    .fetch_one(&state.db)
    .await?;
    if exists {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("{noun} {id} not found")))
    }
}
