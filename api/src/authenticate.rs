//! The `/v1` middleware: who is calling, and may their role call this route.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::auth::{allowed_roles, bearer};
use crate::error::ApiError;
use crate::state::AppState;

/// Authenticates every `/v1` request and checks its role against
/// [`allowed_roles`]; the handlers find the `Principal` in the extensions.
pub async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let principal = state
        .config
        .auth
        .verify(bearer(request.headers())?)
        .map_err(ApiError::Unauthorized)?;
    // Unmatched paths fall through to the 404 handler, which reveals nothing.
    if let Some(path) = request.extensions().get::<MatchedPath>() {
        let allowed = allowed_roles(request.method(), path.as_str());
        if !allowed.contains(&principal.role) {
            return Err(ApiError::Forbidden(format!(
                "the {} role may not {} {}",
                principal.role.as_str(),
                request.method(),
                path.as_str()
            )));
        }
    }
    request.extensions_mut().insert(principal);
    Ok(next.run(request).await)
}
