//! People's accounts and sessions: sign-in, refresh and logout under
//! `/v1/auth` (open routes: they carry credentials or the refresh cookie, not a
//! bearer token), who-am-I, and the admins' `/v1/users`.

mod email_verification;
pub mod passwords;
mod revocation;
pub mod sessions;
pub(crate) mod throttle;
pub mod users;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::AppState;

/// The `/v1` routes that need no bearer token.
pub const OPEN_ROUTES: [&str; 4] = [
    "/v1/auth/login",
    "/v1/auth/refresh",
    "/v1/auth/logout",
    "/v1/auth/verify-email",
];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sessions::login))
        .routes(routes!(sessions::refresh))
        .routes(routes!(sessions::logout))
        .routes(routes!(users::me))
        .routes(routes!(email_verification::request))
        .routes(routes!(email_verification::confirm))
        .routes(routes!(users::list, users::create))
        .routes(routes!(users::show, users::update))
}
