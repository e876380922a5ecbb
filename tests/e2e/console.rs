//! The web console in a real browser: `web/tests/browser.mjs` drives Debian's
//! Chromium through playwright-core against this test's API and worker. The
//! console must be built (`./dev test` builds it: `npm ci && npm run build` in
//! `web/`); a missing build or browser fails loudly, never skips.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::TestApp;

const PASSWORD: &str = "correct horse battery";

#[sqlx::test]
async fn a_coordinator_signs_in_and_watches_the_day_change_live(db: PgPool) {
    let app = TestApp::start_with(db, |settings| settings.console_dir = built_console()).await;
    for (address, name, role) in [
        ("dana@agency.example", "Dana Whitfield", "coordinator"),
        ("lee@agency.example", "Lee Carter", "coordinator"),
        ("ada@agency.example", "Ada Brooks", "admin"),
    ] {
        let (status, body) = app
            .post(
                "/v1/users",
                json!({"email": address, "display_name": name, "role": role,
                       "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    // The console is served at / and any other path with the page (the
    // router is the page's), never in place of an API answer.
    for path in ["/", "/some/board/path"] {
        let response = reqwest::get(format!("{}{path}", app.base)).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-cache");
        assert!(response.text().await.unwrap().contains("<div id=\"root\">"));
    }
    let response = reqwest::get(format!("{}/v1/no-such-route", app.base))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let stdout = run_in_browser(
        "tests/browser.mjs",
        "console-screenshots",
        &[
            ("HOMECARE_URL", app.base.clone()),
            (
                "HOMECARE_TOKEN",
                app.token(homecare_api::auth::Role::Admin, None),
            ),
            ("CONSOLE_EMAIL", "dana@agency.example".to_owned()),
            ("CONSOLE_PASSWORD", PASSWORD.to_owned()),
            ("CONSOLE_LOCK_EMAIL", "lee@agency.example".to_owned()),
            ("CONSOLE_ADMIN_EMAIL", "ada@agency.example".to_owned()),
        ],
    )
    .await;
    assert!(stdout.contains("console browser test passed"));
    app.shutdown().await;
}

fn web() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

/// `web/dist`, which must be built (with the browser tests' npm packages).
pub(crate) fn built_console() -> PathBuf {
    let web = web();
    assert!(
        web.join("dist/index.html").is_file()
            && web.join("dist/app/index.html").is_file()
            && web.join("node_modules/playwright-core").is_dir(),
        "the console is not built: ./dev test builds it (npm ci && npm run build in web/)"
    );
    web.join("dist")
}

/// Runs a browser script of `web/tests` in Debian's Chromium with `env`
/// (plus `CHROMIUM` and `SCREENSHOTS`, a fresh folder named `shots` in the
/// target's temporary folder) and answers what it printed; it must succeed.
pub(crate) async fn run_in_browser(script: &str, shots: &str, env: &[(&str, String)]) -> String {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        Path::new(&chromium).is_file(),
        "no Chromium at {chromium}: ./dev test installs Debian's chromium package"
    );
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join(shots);
    // This run's pictures only (a failure's are named ...failure-N.png).
    let _ = std::fs::remove_dir_all(&screenshots);
    // Asynchronously: the API under test runs on this test's runtime.
    let output = tokio::process::Command::new("node")
        .arg(script)
        .current_dir(web())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("CHROMIUM", &chromium)
        .env("SCREENSHOTS", &screenshots)
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{script} failed:\n{stdout}\n{stderr}"
    );
    println!("screenshots in {}", screenshots.display());
    stdout
}
