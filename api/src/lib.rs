//! The homecare API: REST under `/v1`, the `/v1/events` WebSocket relay of the
//! JetStream stream, and health endpoints. Stateless: everything a second replica
//! needs lives in Postgres, Temporal or JetStream.

pub mod accounts;
pub mod asyncapi;
mod audit;
pub mod auth;
mod authenticate;
mod billing;
mod calendar;
mod care_plans;
mod caregivers;
mod claims;
pub mod client_address;
mod clients;
mod codec;
mod console;
mod error;
mod events;
mod evv;
mod extract;
mod health;
mod idempotency;
mod invoices;
mod notifications;
mod openapi;
mod plans;
mod push_subscriptions;
mod state;
pub mod tls;
mod visits;
mod workflow_client;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use error::ApiError;
pub use events::Relay;
pub use state::{ApiConfig, AppState};

/// Every route with its OpenAPI operation, from the same handlers: the `/v1`
/// routes (which get the authentication and audit layers) and the rest.
fn routes(codec_cors_origins: &[String]) -> (OpenApiRouter<AppState>, OpenApiRouter<AppState>) {
    let v1 = OpenApiRouter::new()
        .merge(accounts::router())
        .merge(clients::router())
        .merge(care_plans::router())
        .merge(caregivers::router())
        .merge(visits::router())
        .merge(invoices::router())
        .merge(plans::router())
        .merge(billing::router())
        .merge(evv::router())
        .merge(claims::router())
        .merge(events::router())
        .merge(notifications::router())
        .merge(push_subscriptions::router())
        .merge(audit::router());
    let rest = OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(codec::router(codec_cors_origins))
        .merge(health::router());
    (v1, rest)
}

/// The OpenAPI document `/openapi.json` serves.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    let (v1, rest) = routes(&[]);
    let (_, document) = rest.nest("/v1", v1).split_for_parts();
    openapi::complete(document)
}

pub fn router(state: AppState) -> Router {
    let (v1, rest) = routes(&state.config.codec_cors_origins);
    // The layers wrap every /v1 route, after routing: they see the route's
    // pattern (auth checks the caller's role against `auth::allowed_roles`).
    // Outermost first: authenticate, then audit the write.
    let v1 = v1
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::record,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            authenticate::authenticate,
        ));
    let (router, document) = rest.nest("/v1", v1).split_for_parts();
    let document = openapi::complete(document)
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    let events_document = asyncapi::document().to_string();
    router
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], document) }),
        )
        .route(
            "/asyncapi.json",
            get(move || async move {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    events_document,
                )
            }),
        )
        // Unknown API paths are the API's 404, never the console's page.
        .route("/v1/{*rest}", axum::routing::any(api_not_found))
        .merge(console::router(state.config.console_dir.as_deref()))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn api_not_found() -> ApiError {
    ApiError::NotFound("no such API route".to_owned())
}

/// Serves until `shutdown` resolves. Bind the listener yourself (port 0 in
/// tests); with a TLS configuration the API speaks HTTPS (and WSS) only.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer's address reaches handlers (sign-in and bad tokens are throttled by it).
    let app = router(state).into_make_service_with_connect_info::<client_address::Peer>();
    match tls {
        Some(config) => {
            axum::serve(tls::TlsListener::new(listener, config)?, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
        None => {
            axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await
        }
    }
}
