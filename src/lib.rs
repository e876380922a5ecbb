//! The `homecare` binary's library: settings, the assembled platform (migrations,
//! worker, API), the demo and history recording. `main.rs` is a thin CLI over it,
//! and the end-to-end tests start the same platform in-process.

pub mod bench;
pub mod bench_call_out;
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
