//! Recording workflow histories for the replay tests (`tests/histories/`).
//!
//! Payloads are encrypted in Temporal; the recording decrypts them with the
//! platform's keys, so the replay test needs no key and the files can be read.

use homecare_store::codec::EncryptionCodec;
use temporalio_client::{WorkflowFetchHistoryOptions, WorkflowHistory};
use temporalio_common::HasWorkflowDefinition;
use temporalio_common::data_converters::SerializationContextData;
use temporalio_common::payload_visitor::decode_payloads;
use temporalio_common::protos::temporal::api::history::v1::History;

use crate::settings::Settings;

/// The JSON history of workflow `workflow_id` (a `W`), payloads decrypted,
/// as the replayer reads it.
pub async fn record<W: HasWorkflowDefinition>(
    settings: &Settings,
    workflow_id: &str,
) -> anyhow::Result<Vec<u8>> {
    let client =
        homecare_store::temporal::connect(&settings.temporal(), "homecare-history").await?;
    let handle = client.get_workflow_handle::<W>(workflow_id.to_owned());
    let events = handle
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await?;
    let mut history = History { events };
    if let Some(crypto) = &settings.payload_keys {
        decode_payloads(
            &mut history,
            &EncryptionCodec(crypto.clone()),
            &SerializationContextData::None,
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot decrypt the history: {e}"))?;
    }
    Ok(WorkflowHistory::from(history).to_json().await?)
}
