//! The `/v1` middleware: who is calling (a signed-in person's access token or a
//! machine client's JWT), and may their role call this route. The sign-in
//! routes themselves are open.

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::accounts::OPEN_ROUTES;
use crate::accounts::sessions::{self, is_access_token};
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
    let path = request.extensions().get::<MatchedPath>().cloned();
    if path
        .as_ref()
        .is_some_and(|p| OPEN_ROUTES.contains(&p.as_str()))
    {
        return Ok(next.run(request).await);
    }
    let token = bearer(request.headers())?;
    let principal = if is_access_token(token) {
        sessions::principal(&state.db, token).await?
    } else {
        state
            .config
            .auth
            .verify(token)
            .map_err(ApiError::Unauthorized)?
    };
    // Unmatched paths fall through to the 404 handler, which reveals nothing.
    if let Some(path) = path {
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
