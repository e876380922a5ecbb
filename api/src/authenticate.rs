//! The `/v1` middleware: who is calling (a signed-in person's access token or a
//! machine client's JWT), and may their role call this route. The sign-in
//! routes themselves are open. Refused tokens are counted per client address
//! (`ApiConfig::bearer_throttle`, by default `BEARER_THROTTLE`): past the
//! limit, that address's unverified tokens are answered 429 with Retry-After
//! instead of 401.

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;

use crate::accounts::OPEN_ROUTES;
use crate::accounts::sessions::{self, is_access_token};
use crate::accounts::throttle::{locked_for, record_failure, too_many_attempts};
use crate::auth::{Principal, allowed_roles, bearer};
use crate::client_address;
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
    let principal = match verify(&state, request.headers()).await {
        Err(ApiError::Unauthorized(detail)) => {
            let address = client_address::of(
                request.extensions(),
                request.headers(),
                &state.config.trusted_proxies,
            );
            return Err(refused(&state, &address, detail).await);
        }
        verified => verified?,
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

async fn verify(state: &AppState, headers: &HeaderMap) -> Result<Principal, ApiError> {
    let token = bearer(headers)?;
    if is_access_token(token) {
        sessions::principal(&state.db, token).await
    } else {
        state
            .config
            .auth
            .verify(token)
            .map_err(ApiError::Unauthorized)
    }
}

/// A refused token: 401, or 429 once its address is locked (while locked,
/// nothing more is written).
async fn refused(state: &AppState, address: &str, detail: String) -> ApiError {
    let keys = [(format!("bearer:{address}"), state.config.bearer_throttle)];
    let now = Utc::now();
    let lock = match locked_for(&state.db, &keys, now).await {
        Ok(None) => record_failure(&state.db, &keys, now).await,
        locked => locked,
    };
    match lock {
        Ok(Some(wait)) => too_many_attempts("this address's unverified bearer tokens are", wait),
        Ok(None) => ApiError::Unauthorized(detail),
        Err(error) => error.into(),
    }
}
