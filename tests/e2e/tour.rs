//! The README's tour, run as written: its `<!-- tour -->` blocks in order, in
//! the shell the README tells a reader to start (`bash -o errexit -o
//! pipefail`), against a platform of its own; twice on the same database,
//! while another agency's visits keep arriving.

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::json;
use sqlx::PgPool;

use crate::helpers::{TestApp, minutes_ago};

/// The shell code of every block the README marks as part of the tour.
fn tour_script(readme: &str) -> String {
    let mut script = String::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line.trim() != "<!-- tour -->" {
            continue;
        }
        assert_eq!(
            lines.next().map(str::trim),
            Some("```sh"),
            "a tour marker precedes a sh block"
        );
        for line in lines.by_ref() {
            if line.trim() == "```" {
                break;
            }
            script.push_str(line);
            script.push('\n');
        }
    }
    script
}

#[test]
fn the_tour_is_every_marked_block_of_the_readme() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let script = tour_script(&readme);
    // Create, assign, check in and out, invoice, call out, hold, resolve, claim.
    for step in [
        "TOKEN=$(./dev cli token",
        "VISIT=$(hc $API/visits",
        "/check-in",
        "/check-out",
        "/invoice-lines",
        "/call-outs",
        "/resolve",
        "export-837p",
    ] {
        assert!(script.contains(step), "the tour runs `{step}`");
    }
    assert!(
        !script.contains("sleep 1"),
        "the tour waits for what it needs"
    );
}

/// Another agency's morning: a client, caregivers and visits created through
/// the API as fast as it answers, until `stop`.
fn background_load(
    app: &TestApp,
    stop: Arc<AtomicBool>,
    created: Arc<AtomicUsize>,
) -> tokio::task::JoinHandle<()> {
    let http = app.http.clone();
    let base = app.base.clone();
    tokio::spawn(async move {
        let post = |path: &str, body: serde_json::Value| {
            let request = http.post(format!("{base}/v1{path}")).json(&body);
            async move {
                request
                    .send()
                    .await
                    .ok()?
                    .json::<serde_json::Value>()
                    .await
                    .ok()
            }
        };
        let Some(client) = post(
            "/clients",
            json!({"name": "Load Client", "address": "1 Load St", "latitude": 41.9,
                   "longitude": -87.6, "timezone": "America/Chicago"}),
        )
        .await
        else {
            return;
        };
        for i in 0..3 {
            post(
                "/caregivers",
                json!({"name": format!("Load Caregiver {i}"), "skills": ["personal_care"]}),
            )
            .await;
        }
        let mut hour = 0i64;
        while !stop.load(Ordering::Relaxed) {
            hour += 1;
            let created_now = post(
                "/visits",
                json!({"client_id": client["id"], "scheduled_start": minutes_ago(-60 * (24 + hour)),
                       "scheduled_end": minutes_ago(-60 * (24 + hour) - 30)}),
            )
            .await;
            if created_now.is_some() {
                created.fetch_add(1, Ordering::Relaxed);
            }
        }
    })
}

#[sqlx::test]
async fn the_readme_tour_runs_twice_on_a_used_database_under_load(db: PgPool) {
    let app = TestApp::start(db.clone()).await;
    let repository = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(repository.join("README.md")).unwrap();
    let script = tour_script(&readme);
    let database = db.connect_options().get_database().unwrap().to_owned();
    let scratch = std::env::temp_dir().join(format!("homecare-tour-{}", app.tag));
    std::fs::create_dir_all(&scratch).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let created = Arc::new(AtomicUsize::new(0));
    let load = background_load(&app, stop.clone(), created.clone());

    for run in 1..=2 {
        let output = tokio::process::Command::new("bash")
            .args(["-o", "errexit", "-o", "pipefail", "-c", &script])
            .current_dir(repository)
            .env("HOMECARE_API_URL", &app.base)
            // `./dev cli` runs this test build's binary instead of building one.
            .env("HOMECARE_BIN", env!("CARGO_BIN_EXE_homecare"))
            .env(
                "HOMECARE_JWT_HS256_SECRET",
                app.settings.jwt.jwt_hs256_secret.as_deref().unwrap(),
            )
            .env(
                "HOMECARE_PAYLOAD_KEYS",
                crate::helpers::payload_keys_env(&app.tag),
            )
            .env(
                "DATABASE_URL",
                format!("postgres://postgres@127.0.0.1:5432/{database}"),
            )
            .env("TMPDIR", &scratch)
            .stdin(Stdio::null())
            .output()
            .await
            .expect("bash runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "run {run} of the tour stopped:\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
        );
        let claims = std::fs::read_to_string(scratch.join("claims.x12"))
            .expect("the tour wrote its 837P file");
        assert!(claims.starts_with("ISA*"), "{claims}");
    }
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert!(
        created.load(Ordering::Relaxed) >= 10,
        "visits kept arriving during the tours"
    );
    // Each run billed its first visit and, once resolved, its held one.
    let lines: i64 = sqlx::query_scalar(
        "select count(*) from invoice_lines l join clients c on c.id = l.client_id
          where c.name = 'Eleanor Park'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(lines >= 3, "invoice lines of the tours: {lines}");
    let _ = std::fs::remove_dir_all(&scratch);
    app.shutdown().await;
}
