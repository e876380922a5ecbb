//! Connecting to Temporal, shared by the worker and the API.

use std::sync::Arc;
use std::time::Duration;

use crate::codec::PayloadCrypto;

use temporalio_client::{
    Client, ClientOptions, ClientTlsOptions, Connection, ConnectionOptions, TlsOptions,
};

#[derive(Clone, Debug)]
pub struct TemporalSettings {
    /// e.g. `http://127.0.0.1:7233`
    pub address: String,
    pub namespace: String,
    /// Task queue the visit workflows and their activities run on.
    pub task_queue: String,
    /// Encrypts every payload this client sends and decrypts what it receives.
    pub crypto: Option<Arc<PayloadCrypto>>,
    /// TLS to the Temporal frontend (None: plain, as the local dev server).
    pub tls: Option<TemporalTls>,
}

/// TLS to Temporal: the server's CA (else the system's roots), the name to
/// verify, and a client certificate for mTLS (Temporal Cloud, mTLS clusters).
#[derive(Clone, Debug, Default)]
pub struct TemporalTls {
    pub ca: Option<std::path::PathBuf>,
    pub domain: Option<String>,
    pub client_cert: Option<(std::path::PathBuf, std::path::PathBuf)>,
}

impl Default for TemporalSettings {
    fn default() -> Self {
        Self {
            address: "http://127.0.0.1:7233".to_owned(),
            namespace: "default".to_owned(),
            task_queue: "homecare-visits".to_owned(),
            crypto: None,
            tls: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TemporalConnectError {
    #[error("invalid Temporal address {address}: {detail}")]
    Address { address: String, detail: String },
    #[error("cannot connect to Temporal at {address}: {detail}")]
    Connect { address: String, detail: String },
}

pub async fn connect(
    settings: &TemporalSettings,
    identity: &str,
) -> Result<Client, TemporalConnectError> {
    let address = if settings.address.contains("://") {
        settings.address.clone()
    } else {
        format!("http://{}", settings.address)
    };
    let url = url::Url::parse(&address).map_err(|e| TemporalConnectError::Address {
        address: address.clone(),
        detail: e.to_string(),
    })?;
    let failed = |detail: String| TemporalConnectError::Connect {
        address: address.clone(),
        detail,
    };
    let tls = match &settings.tls {
        None => None,
        Some(tls) => {
            let read = |path: &std::path::Path| {
                std::fs::read(path)
                    .map_err(|e| failed(format!("cannot read {}: {e}", path.display())))
            };
            let ca = tls.ca.as_deref().map(read).transpose()?;
            let client = match &tls.client_cert {
                Some((cert, key)) => Some(
                    ClientTlsOptions::builder()
                        .client_cert(read(cert)?)
                        .client_private_key(read(key)?)
                        .build(),
                ),
                None => None,
            };
            Some(
                TlsOptions::builder()
                    .maybe_server_root_ca_cert(ca)
                    .maybe_domain(tls.domain.clone())
                    .maybe_client_tls_options(client)
                    .build(),
            )
        }
    };
    let connection = Connection::connect(
        ConnectionOptions::new(url)
            .identity(identity.to_owned())
            .connect_timeout(Duration::from_secs(5))
            .maybe_tls_options(tls)
            .build(),
    )
    .await
    .map_err(|e| failed(e.to_string()))?;
    let options = match &settings.crypto {
        Some(crypto) => ClientOptions::new(settings.namespace.clone())
            .data_converter(crypto.data_converter())
            .build(),
        None => ClientOptions::new(settings.namespace.clone()).build(),
    };
    Client::new(connection, options).map_err(|e| failed(e.to_string()))
}

/// Why a visit's workflow could not be started.
#[derive(Debug, thiserror::Error)]
#[error("could not start the visit workflow: {0}")]
pub struct StartVisitError(pub String);

/// The input of a new visit's workflow: the agency's policy times its late
/// check-in alert and missed check-out, the process setting its unfilled retry.
pub fn visit_input(
    visit_id: uuid::Uuid,
    client_id: uuid::Uuid,
    (scheduled_start, scheduled_end): (
        chrono::DateTime<chrono::Utc>,
        chrono::DateTime<chrono::Utc>,
    ),
    policy: &crate::policy::AgencyPolicy,
    unfilled_retry_minutes: i64,
) -> homecare_domain::contracts::VisitWorkflowInput {
    homecare_domain::contracts::VisitWorkflowInput {
        visit_id,
        client_id,
        scheduled_start,
        scheduled_end,
        late_check_in_after_minutes: policy.evv.late_check_in_minutes,
        unfilled_retry_minutes,
        missed_check_out_after_minutes: policy.missed_check_out_after_minutes,
        version: homecare_domain::contracts::VISIT_WORKFLOW_VERSION,
    }
}

/// Starts a visit's workflow with its search attributes set, so the Temporal
/// UI can filter it from the first moment. Starting one that runs already is
/// a no-op (the id is the visit's).
pub async fn start_visit(
    client: &Client,
    task_queue: &str,
    input: homecare_domain::contracts::VisitWorkflowInput,
) -> Result<(), StartVisitError> {
    use homecare_workflows::VisitWorkflow;
    use homecare_workflows::visit::{CLIENT_ID, SCHEDULED_START, VISIT_STATUS, search_timestamp};
    use temporalio_client::{WorkflowIdConflictPolicy, WorkflowStartOptions};
    use temporalio_common::search_attributes::SearchAttributes;
    let search_attributes = SearchAttributes::new([
        VISIT_STATUS.value_set(homecare_domain::VisitStatus::Scheduled.as_str().to_owned()),
        CLIENT_ID.value_set(input.client_id.to_string()),
        SCHEDULED_START.value_set(search_timestamp(input.scheduled_start)),
    ]);
    let options = WorkflowStartOptions::new(
        task_queue.to_owned(),
        homecare_domain::contracts::visit_workflow_id(input.visit_id),
    )
    .id_conflict_policy(WorkflowIdConflictPolicy::UseExisting)
    .search_attributes(search_attributes)
    .build();
    client
        .start_workflow(VisitWorkflow::run, input, options)
        .await
        .map(|_| ())
        .map_err(|e| StartVisitError(e.to_string()))
}
