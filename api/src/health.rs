//! `/healthz` (the process is up) and `/readyz` (it can serve: Postgres, NATS with
//! the stream, and Temporal all answer).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use temporalio_client::grpc::WorkflowService;
use temporalio_common::protos::temporal::api::workflowservice::v1::DescribeNamespaceRequest;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(healthz))
        .routes(routes!(readyz))
}

/// Whether every backing service answers (each within 2 s).
#[derive(Serialize, ToSchema)]
struct Readiness {
    ready: bool,
    postgres: Check,
    nats: Check,
    temporal: Check,
}

#[derive(Serialize, ToSchema)]
#[schema(as = ServiceCheck)]
struct Check {
    ok: bool,
    /// Why not (absent when ok).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

impl Check {
    fn from<T, E: std::fmt::Display>(
        result: Result<Result<T, E>, tokio::time::error::Elapsed>,
    ) -> Self {
        match result {
            Ok(Ok(_)) => Self {
                ok: true,
                error: None,
            },
            Ok(Err(e)) => Self {
                ok: false,
                error: Some(e.to_string()),
            },
            Err(_) => Self {
                ok: false,
                error: Some("timed out".to_owned()),
            },
        }
    }
}

/// Liveness, with what an operator (or `homecare bench --fanout`) watches: the
/// process's resident memory and its live WebSocket connections.
#[utoipa::path(get, path = "/healthz", tag = "health", operation_id = "healthz",
    responses((status = 200, description = "The process is up", body = Liveness)))]
async fn healthz(State(state): State<AppState>) -> Json<Liveness> {
    Json(Liveness {
        status: "ok",
        memory_rss_bytes: resident_memory_bytes(),
        websocket_connections: state.relay.connections(),
    })
}

#[derive(Serialize, ToSchema)]
struct Liveness {
    /// Always `ok`.
    status: &'static str,
    /// Resident memory (Linux; null elsewhere).
    memory_rss_bytes: Option<u64>,
    /// Live `/v1/events` sockets on this process.
    websocket_connections: usize,
}

/// VmRSS from /proc (Linux); None elsewhere.
fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Readiness: Postgres, NATS (with the stream) and Temporal all answer.
#[utoipa::path(get, path = "/readyz", tag = "health", operation_id = "readyz",
    responses(
        (status = 200, description = "Ready to serve", body = Readiness),
        (status = 503, description = "A backing service is not answering", body = Readiness),
    ))]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let limit = Duration::from_secs(2);
    let postgres = tokio::time::timeout(limit, sqlx::query("select 1").execute(&state.db));
    let nats = tokio::time::timeout(limit, state.bus.stream());
    let mut temporal_client = state.temporal.clone();
    let request = DescribeNamespaceRequest {
        namespace: state.config.namespace.clone(),
        ..Default::default()
    };
    let temporal = tokio::time::timeout(
        limit,
        WorkflowService::describe_namespace(&mut temporal_client, tonic_request(request)),
    );
    let (postgres, nats, temporal) = tokio::join!(postgres, nats, temporal);
    let readiness = Readiness {
        postgres: Check::from(postgres),
        nats: Check::from(nats),
        temporal: Check::from(temporal),
        ready: false,
    };
    let ready = readiness.postgres.ok && readiness.nats.ok && readiness.temporal.ok;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(Readiness { ready, ..readiness }))
}

fn tonic_request<T>(message: T) -> temporalio_client::tonic::Request<T> {
    temporalio_client::tonic::Request::new(message)
}
