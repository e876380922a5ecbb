//! `homecare bench-cancel`: how long cancelling a visit takes while many
//! visits are unfilled, through the public API as a coordinator's console
//! sees it.
//!
//! Seeds, through the API, one client, `unfilled` visits on one future hour
//! that nobody can staff (they need a skill no caregiver has), and one
//! caregiver without that skill. Each of `cancels` rounds books a visit in the
//! same hour (the engine assigns the caregiver), then times `POST
//! /v1/visits/{id}/cancel` from request to answer. Freeing that caregiver
//! helps none of the unfilled visits, so the cancel should cost what any
//! cancel costs, however many of them wait.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};

use crate::lifecycles::Percentiles;

pub struct CancelBenchOptions {
    pub api_url: String,
    /// Bearer token for the API.
    pub token: String,
    pub unfilled: usize,
    pub cancels: usize,
    pub out_dir: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct CancelBenchReport {
    pub started_at: DateTime<Utc>,
    pub unfilled: usize,
    /// POST cancel → its answer.
    pub cancel: Percentiles,
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        Ok(homecare_client::post_json(&self.http, &self.base, path, &body).await?)
    }

    /// Polls the visit (60 s at most) until it is no longer `scheduled`.
    async fn decided(&self, visit: &str) -> anyhow::Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let body: Value = self
                .http
                .get(format!("{}/v1/visits/{visit}", self.base))
                .send()
                .await?
                .json()
                .await?;
            if body["status"] != "scheduled" {
                return Ok(body);
            }
            if Instant::now() > deadline {
                bail!("visit {visit} was not decided within 60 s: is a worker running?");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn id(value: &Value) -> anyhow::Result<String> {
    value["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no id in {value}"))
}

pub async fn run(options: CancelBenchOptions) -> anyhow::Result<CancelBenchReport> {
    let api = Api {
        http: homecare_client::http(&options.token)?,
        base: options.api_url.trim_end_matches('/').to_owned(),
    };
    let started_at = Utc::now();
    // An hour of its own, weeks ahead, so runs and real visits never meet.
    let offset = 30 + u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 300;
    let start = (Utc::now().date_naive() + chrono::Days::new(offset))
        .and_hms_opt(15, 0, 0)
        .context("a start time")?
        .and_utc();
    let end = start + chrono::Duration::hours(1);
    let skill = format!("bench_rare_{}", uuid::Uuid::new_v4().simple());
    let client = id(&api
        .post(
            "/v1/clients",
            json!({"name": "Bench Cancel Client", "address": "1 Bench St", "latitude": 41.9,
                   "longitude": -87.6, "timezone": "America/Chicago"}),
        )
        .await?)?;
    api.post(
        "/v1/caregivers",
        json!({"name": "Bench Cancel Caregiver", "skills": ["personal_care"]}),
    )
    .await?;
    eprintln!("seeding {} unfilled visits...", options.unfilled);
    for _ in 0..options.unfilled {
        let visit = id(&api
            .post(
                "/v1/visits",
                json!({"client_id": client, "scheduled_start": start, "scheduled_end": end,
                       "required_skills": [skill]}),
            )
            .await?)?;
        api.decided(&visit).await?;
    }
    let mut samples = Vec::with_capacity(options.cancels);
    for round in 0..options.cancels.max(1) {
        let visit = id(&api
            .post(
                "/v1/visits",
                json!({"client_id": client, "scheduled_start": start, "scheduled_end": end}),
            )
            .await?)?;
        let decided = api.decided(&visit).await?;
        if decided["status"] != "assigned" {
            bail!("the round's visit was not assigned: {decided}");
        }
        let sent = Instant::now();
        api.post(
            &format!("/v1/visits/{visit}/cancel"),
            json!({"reason": "bench"}),
        )
        .await?;
        let ms = sent.elapsed().as_secs_f64() * 1000.0;
        eprintln!("cancel {}: {ms:.1} ms", round + 1);
        samples.push(ms);
    }
    let report = CancelBenchReport {
        started_at,
        unfilled: options.unfilled,
        cancel: Percentiles::of(&samples).context("no cancels")?,
    };
    if let Some(dir) = &options.out_dir {
        let path = crate::write_report(dir, "bench-cancel", started_at, &report)?;
        eprintln!("report written to {}", path.display());
    }
    Ok(report)
}

pub fn print(report: &CancelBenchReport) {
    let p = &report.cancel;
    println!(
        "cancel with {} unfilled visits in its hour, {} cancels: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        report.unfilled, p.count, p.p50_ms, p.p95_ms, p.max_ms
    );
}
