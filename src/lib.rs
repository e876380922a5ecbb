//! The `homecare` binary's library: settings, the assembled platform (migrations,
//! worker, API), the demo and history recording. `main.rs` is a thin CLI over it,
//! and the end-to-end tests start the same platform in-process.

pub mod bench;
pub mod bench_call_out;
pub mod cpu;
pub mod demo;
pub mod history;
pub mod platform;
pub mod settings;
pub mod watch;

/// POSTs JSON to the API as an app would; a non-2xx answer is an error that
/// carries the problem document.
pub async fn post_json(
    http: &reqwest::Client,
    api: &str,
    path: &str,
    body: &serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let response = http.post(format!("{api}{path}")).json(body).send().await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
    if !status.is_success() {
        anyhow::bail!("POST {path} answered {status}: {body}");
    }
    Ok(body)
}

/// The project's migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How the CLI's API clients (`demo`, `watch`, `bench`, `bench-call-out`)
/// authenticate: `HOMECARE_TOKEN` if set, otherwise an admin token minted from
/// `HOMECARE_JWT_HS256_SECRET` (what `./dev` sets up locally).
pub mod credentials {
    use anyhow::Context;
    use homecare_api::auth::{AuthConfig, Role};
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::handshake::client::Request;

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

    /// An HTTP client that sends `token` with every request.
    pub fn http(token: &str) -> anyhow::Result<reqwest::Client> {
        let mut headers = reqwest::header::HeaderMap::new();
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
        Ok(reqwest::Client::builder()
            .default_headers(headers)
            .build()?)
    }

    /// A WebSocket handshake request for `url` carrying `token`.
    pub fn websocket(url: &str, token: &str) -> anyhow::Result<Request> {
        let mut request = url.into_client_request()?;
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        Ok(request)
    }
}
