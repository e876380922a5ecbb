//! The OpenAPI 3.1 document, generated from the handlers themselves: every route
//! is registered through `utoipa_axum::routes!`, so a route cannot exist without
//! its operation in the document, and request and response schemas are derived
//! from the same Rust types serde reads and writes. Served at `/openapi.json`
//! (no token needed) and printed by `homecare openapi`.
//!
//! What every operation shares is added here rather than repeated on each
//! handler: the bearer-token security scheme, and the problem+json answers
//! (`Problem`) a request can get besides its own success.

use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::Problem;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "homecare",
        description = "Scheduling, visit verification and billing for home-care agencies. \
            Every `/v1` request but sign-in, and every `/codec` request, carries a bearer \
            token (a signed-in person's access token or a JWT); errors are RFC 9457 \
            problem+json with field detail. Live events: the `/v1/events` WebSocket."
    ),
    components(schemas(Problem)),
    tags(
        (name = "auth", description = "Signing in: sessions for people (console, caregiver app)"),
        (name = "users", description = "The accounts people sign in with (admins)"),
        (name = "clients", description = "People who receive care"),
        (name = "care_plans", description = "Care plans: services, duties and the recurring visits they generate"),
        (name = "caregivers", description = "Caregivers, availability, call-outs"),
        (name = "visits", description = "Visit lifecycle: each visit is a durable workflow"),
        (name = "evv", description = "Electronic visit verification and billing exceptions"),
        (name = "billing", description = "Agency, payers, rates, authorizations, coverages"),
        (name = "invoices", description = "Invoice lines, committed when a visit completes"),
        (name = "claims", description = "Professional claims and X12 837P export"),
        (name = "plans", description = "Day-plan optimisation"),
        (name = "notifications", description = "Messages the notifier owes and sent, preferences, the on-call rota, clients' contacts"),
        (name = "events", description = "Live event stream (WebSocket)"),
        (name = "audit", description = "Append-only, hash-chained audit trail"),
        (name = "codec", description = "Temporal payload codec for the Temporal UI"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

/// The answers every operation may give besides its own, by status: which
/// operations get which is decided in `Conventions::modify`.
const SHARED: &[(&str, &str)] = &[
    (
        "400",
        "Malformed request (unparsable JSON or a missing JSON content type)",
    ),
    ("401", "No bearer token, or one that does not verify"),
    ("403", "The token's role (or caregiver) may not do this"),
    ("404", "Something the request names does not exist"),
    (
        "409",
        "Conflicts with the current state or a scheduling rule",
    ),
    ("413", "Request body over 1 MiB"),
    (
        "429",
        "Locked after repeated failures (sign-in, or refused bearer tokens from this address); retry after `Retry-After` seconds",
    ),
    ("422", "Invalid input (see `errors`) or refused by a rule"),
    (
        "503",
        "A backing service is not answering; retry after `Retry-After` seconds",
    ),
];

/// The routes' document with what their operations share.
pub(crate) fn complete(mut document: utoipa::openapi::OpenApi) -> utoipa::openapi::OpenApi {
    Conventions.modify(&mut document);
    document
}

struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        for (status, description) in SHARED {
            components.responses.insert(
                format!("Problem{status}"),
                RefOr::T(
                    ResponseBuilder::new()
                        .description(*description)
                        .content(
                            "application/problem+json",
                            Content::new(Some(Ref::from_schema_name("Problem"))),
                        )
                        .build(),
                ),
            );
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            // Sign-in carries credentials or the refresh cookie, no bearer token.
            let open = crate::accounts::OPEN_ROUTES.contains(&path.as_str());
            let authenticated = (path.starts_with("/v1/") && !open) || path.starts_with("/codec/");
            let methods = [
                (false, item.get.as_mut()),
                (true, item.post.as_mut()),
                (true, item.put.as_mut()),
                (true, item.patch.as_mut()),
                (true, item.delete.as_mut()),
            ];
            for (writes, operation) in methods {
                let Some(operation) = operation else { continue };
                let has_body = operation.request_body.is_some();
                let mut statuses = vec!["503"];
                if authenticated {
                    statuses.extend(["401", "403", "404", "422"]);
                    if path.starts_with("/v1/") {
                        // Refused tokens back off per address (`authenticate`).
                        statuses.push("429");
                    }
                    operation.security = Some(vec![SecurityRequirement::new(
                        "bearer",
                        Vec::<String>::new(),
                    )]);
                }
                if open {
                    // 403: the account is deactivated.
                    statuses.extend(["401", "403", "422", "429"]);
                }
                if has_body {
                    statuses.extend(["400", "413"]);
                }
                if writes && authenticated {
                    statuses.push("409");
                }
                add_problems(operation, &statuses);
            }
        }
    }
}

/// Adds the shared answers an operation does not describe itself.
fn add_problems(operation: &mut Operation, statuses: &[&str]) {
    for status in statuses {
        operation
            .responses
            .responses
            .entry((*status).to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(format!("Problem{status}"))));
    }
}
