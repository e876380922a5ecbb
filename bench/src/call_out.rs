//! `homecare bench-call-out`: how long a caregiver's call-out takes to re-decide
//! every affected visit, end to end through the public API, as a coordinator and
//! the caregivers' apps see it.
//!
//! Each run seeds, through the API, `caregivers` caregivers and `visits` visits
//! on one future day, all assigned by hand to one caregiver, then posts her
//! call-out and measures: request → response (every decision made and
//! committed, the workflows being told), and request → the last `visit.assigned`
//! or `visit.unfilled` frame of the call-out on a WebSocket opened before.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::lifecycles::Percentiles;

const WAIT_LIMIT: Duration = Duration::from_secs(60);

pub struct CallOutBenchOptions {
    pub api_url: String,
    /// Bearer token for the API.
    pub token: String,
    pub visits: usize,
    pub caregivers: usize,
    pub runs: usize,
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct CallOutBenchReport {
    pub started_at: DateTime<Utc>,
    pub visits: usize,
    pub caregivers: usize,
    pub runs: usize,
    /// POST call-out → its answer listing every decision.
    pub response: Percentiles,
    /// POST call-out → the last decision's frame on the WebSocket.
    pub last_frame: Percentiles,
    /// POST call-out → the call-out workflow has told every affected visit's
    /// workflow (`GET /v1/call-outs/{id}` polled every 10 ms).
    pub workflows_updated: Percentiles,
    pub reassigned: usize,
    pub unfilled: usize,
}

async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    api: &str,
    path: &str,
    body: &Value,
) -> anyhow::Result<(reqwest::StatusCode, Value)> {
    let response = http
        .request(method, format!("{api}{path}"))
        .json(body)
        .send()
        .await?;
    let status = response.status();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}

/// Polls the visit until its workflow reports `status`.
async fn await_status(
    http: &reqwest::Client,
    api: &str,
    visit: &str,
    status: &str,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + WAIT_LIMIT;
    loop {
        let body: Value = http
            .get(format!("{api}/v1/visits/{visit}"))
            .send()
            .await?
            .json()
            .await?;
        if body["workflow"]["snapshot"]["status"] == status {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("visit {visit} never became {status}: {body}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

struct RunResult {
    response_ms: f64,
    last_frame_ms: f64,
    workflows_ms: f64,
    reassigned: usize,
    unfilled: usize,
}

async fn one_run(
    http: &reqwest::Client,
    options: &CallOutBenchOptions,
    run: usize,
) -> anyhow::Result<RunResult> {
    let api = options.api_url.as_str();
    // A day of its own, far enough ahead that runs never meet.
    let day = Utc::now().date_naive() + chrono::Days::new(40 + 3 * run as u64 + rand_days());
    let day_start = day.and_hms_opt(12, 0, 0).context("day")?.and_utc();
    let mut clients = Vec::new();
    for i in 0..4 {
        let client = homecare_client::post_json(
            http,
            api,
            "/v1/clients",
            &json!({"name": format!("Bench client {i}"), "address": "1 Bench St",
                    "latitude": 41.90 + 0.002 * f64::from(i), "longitude": -87.65,
                    "timezone": "UTC"}),
        )
        .await?;
        clients.push(client["id"].as_str().context("client id")?.to_owned());
    }
    let caps = json!(1440);
    let mut caregivers = Vec::new();
    for i in 0..options.caregivers.max(1) {
        let caregiver = homecare_client::post_json(
            http,
            api,
            "/v1/caregivers",
            &json!({"name": format!("Bench caregiver {run}-{i}"), "skills": ["personal_care"],
                    "max_minutes_per_day": caps, "max_minutes_per_week": 10080}),
        )
        .await?;
        caregivers.push(caregiver["id"].as_str().context("caregiver id")?.to_owned());
    }
    let calling_out = caregivers[0].clone();
    // Visits of 20 minutes every 25 minutes for the one caregiver.
    let mut visits = Vec::new();
    for i in 0..options.visits {
        let start = day_start + chrono::Duration::minutes(25 * i as i64);
        let visit = homecare_client::post_json(
            http,
            api,
            "/v1/visits",
            &json!({"client_id": clients[i % clients.len()], "scheduled_start": start,
                    "scheduled_end": start + chrono::Duration::minutes(20),
                    "required_skills": ["personal_care"]}),
        )
        .await?;
        visits.push(visit["id"].as_str().context("visit id")?.to_owned());
    }
    for visit in &visits {
        await_status(http, api, visit, "assigned").await?;
        let (status, body) = send(
            http,
            reqwest::Method::PUT,
            api,
            &format!("/v1/visits/{visit}/assignment"),
            &json!({"caregiver_ids": [calling_out]}),
        )
        .await?;
        if !status.is_success() {
            bail!("assigning {visit} by hand answered {status}: {body}");
        }
    }

    let url = format!("{}/v1/events", api.replacen("http", "ws", 1));
    let (mut socket, _) =
        tokio_tungstenite::connect_async(homecare_client::websocket(&url, &options.token)?).await?;
    let affected: HashSet<String> = visits.iter().cloned().collect();
    let listener = tokio::spawn(async move {
        let mut pending = affected;
        while !pending.is_empty() {
            let Some(message) = socket.next().await else {
                bail!("the socket closed");
            };
            if let Message::Text(text) = message? {
                let frame: Value = serde_json::from_str(&text)?;
                let event = &frame["event"];
                let decided = matches!(
                    event["type"].as_str(),
                    Some("homecare.visit.assigned" | "homecare.visit.unfilled")
                ) && event["data"]["decided_by"] == "call_out";
                if decided && let Some(visit) = event["subject"].as_str() {
                    pending.remove(visit);
                }
            }
        }
        anyhow::Ok(Instant::now())
    });

    let sent = Instant::now();
    let (status, outcome) = send(
        http,
        reqwest::Method::POST,
        api,
        &format!("/v1/caregivers/{calling_out}/call-outs"),
        &json!({"start": day_start - chrono::Duration::hours(1),
                "end": day_start + chrono::Duration::hours(24), "reason": "sick"}),
    )
    .await?;
    let response_ms = sent.elapsed().as_secs_f64() * 1000.0;
    if status != reqwest::StatusCode::OK {
        bail!("the call-out answered {status}: {outcome}");
    }
    let last = tokio::time::timeout(WAIT_LIMIT, listener)
        .await
        .context("not every decision reached the WebSocket in time")???;
    let changes = outcome["changes"].as_array().context("changes")?;
    if changes.len() != options.visits {
        bail!(
            "{} visits re-decided, {} expected",
            changes.len(),
            options.visits
        );
    }
    let reassigned = changes.iter().filter(|c| c["status"] == "assigned").count();
    // The call-out workflow completes once every affected visit's workflow has
    // the signal in its history (each applies it on its next workflow task).
    let call_out_id = outcome["call_out_id"].as_str().context("call-out id")?;
    let deadline = Instant::now() + WAIT_LIMIT;
    let applied = loop {
        let body: Value = http
            .get(format!("{api}/v1/call-outs/{call_out_id}"))
            .send()
            .await?
            .json()
            .await?;
        if body["status"] == "completed" {
            break Instant::now();
        }
        if Instant::now() > deadline {
            bail!("the call-out never completed: {body}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let workflows_ms = (applied - sent).as_secs_f64() * 1000.0;
    Ok(RunResult {
        response_ms,
        last_frame_ms: (last - sent).as_secs_f64() * 1000.0,
        workflows_ms,
        reassigned,
        unfilled: changes.len() - reassigned,
    })
}

/// A few days of jitter so repeated bench sessions use fresh days.
fn rand_days() -> u64 {
    u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 200
}

pub async fn run(options: CallOutBenchOptions) -> anyhow::Result<CallOutBenchReport> {
    let http = homecare_client::http(&options.token)?;
    let started_at = Utc::now();
    let (mut response, mut last_frame, mut workflows) = (Vec::new(), Vec::new(), Vec::new());
    let (mut reassigned, mut unfilled) = (0, 0);
    for run in 0..options.runs.max(1) {
        let result = one_run(&http, &options, run).await?;
        eprintln!(
            "run {}: response {:.0} ms, last frame {:.0} ms, workflows {:.0} ms, {} reassigned, {} unfilled",
            run + 1,
            result.response_ms,
            result.last_frame_ms,
            result.workflows_ms,
            result.reassigned,
            result.unfilled
        );
        response.push(result.response_ms);
        last_frame.push(result.last_frame_ms);
        workflows.push(result.workflows_ms);
        reassigned += result.reassigned;
        unfilled += result.unfilled;
    }
    let report = CallOutBenchReport {
        started_at,
        visits: options.visits,
        caregivers: options.caregivers,
        runs: options.runs.max(1),
        response: Percentiles::of(&response).context("no runs")?,
        last_frame: Percentiles::of(&last_frame).context("no runs")?,
        workflows_updated: Percentiles::of(&workflows).context("no runs")?,
        reassigned,
        unfilled,
    };
    if let Some(dir) = &options.out_dir {
        let path = crate::write_report(dir, "bench-call-out", started_at, &report)?;
        eprintln!("report written to {}", path.display());
    }
    Ok(report)
}

pub fn print(report: &CallOutBenchReport) {
    println!(
        "call-out of one caregiver with {} visits, {} caregivers, {} run(s): {} reassigned, {} unfilled",
        report.visits, report.caregivers, report.runs, report.reassigned, report.unfilled
    );
    println!(
        "{:<40} {:>9} {:>9} {:>9}",
        "latency (ms)", "p50", "p95", "max"
    );
    for (name, p) in [
        ("POST call-out -> answer", &report.response),
        ("POST call-out -> last decision frame", &report.last_frame),
        (
            "POST call-out -> every workflow told",
            &report.workflows_updated,
        ),
    ] {
        println!(
            "{name:<40} {:>9.1} {:>9.1} {:>9.1}",
            p.p50_ms, p.p95_ms, p.max_ms
        );
    }
}
