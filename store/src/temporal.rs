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
