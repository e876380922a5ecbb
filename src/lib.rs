//! The `homecare` binary's library: settings, the assembled platform (migrations,
//! worker, API), the demo, the event watcher and history recording. `main.rs`
//! is a thin CLI over it, and the end-to-end tests start the same platform
//! in-process. The bench lives in `homecare-bench`, outside the product.

pub mod demo;
pub mod history;
pub mod platform;
pub mod settings;
pub mod watch;

/// The project's migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the CLI's API clients (`demo`, `watch`, `bench`, `bench-call-out`)
/// authenticate: `HOMECARE_TOKEN` if set, otherwise an admin token minted from
/// `HOMECARE_JWT_HS256_SECRET` (what `./dev` sets up locally). The requests
/// themselves are `homecare_client`'s.
pub mod credentials {
    use anyhow::Context;
    use homecare_api::auth::{AuthConfig, Role};

    /// The bearer token the CLI sends.
    pub fn token() -> anyhow::Result<String> {
        if let Ok(token) = std::env::var("HOMECARE_TOKEN")
            && !token.trim().is_empty()
        {
            return Ok(token.trim().to_owned());
        }
        let secret = std::env::var("HOMECARE_JWT_HS256_SECRET").context(
            "the API needs a token: set HOMECARE_TOKEN, or HOMECARE_JWT_HS256_SECRET to mint one",
        )?;
        let issuer = std::env::var("HOMECARE_JWT_ISSUER").unwrap_or_else(|_| "homecare".to_owned());
        let audience =
            std::env::var("HOMECARE_JWT_AUDIENCE").unwrap_or_else(|_| "homecare-api".to_owned());
        let auth = AuthConfig::hs256(secret.as_bytes(), &issuer, &audience)?;
        Ok(auth.mint(
            "homecare-cli",
            Role::Admin,
            None,
            chrono::Duration::hours(12),
        )?)
    }
}
