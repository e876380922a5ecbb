//! Connecting to Temporal, shared by the worker and the API.

use std::sync::Arc;
use std::time::Duration;

use crate::codec::PayloadCrypto;

use temporalio_client::{Client, ClientOptions, Connection, ConnectionOptions};

#[derive(Clone, Debug)]
pub struct TemporalSettings {
    /// e.g. `http://127.0.0.1:7233`
    pub address: String,
    pub namespace: String,
    /// Task queue the visit workflows and their activities run on.
    pub task_queue: String,
    /// Encrypts every payload this client sends and decrypts what it receives.
    pub crypto: Option<Arc<PayloadCrypto>>,
}

impl Default for TemporalSettings {
    fn default() -> Self {
        Self {
            address: "http://127.0.0.1:7233".to_owned(),
            namespace: "default".to_owned(),
            task_queue: "homecare-visits".to_owned(),
            crypto: None,
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
    let connection = Connection::connect(
        ConnectionOptions::new(url)
            .identity(identity.to_owned())
            .connect_timeout(Duration::from_secs(5))
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
