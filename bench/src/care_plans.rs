//! `homecare bench-care-plans`: the same visits made two ways through the
//! public API, in the same run. `clients` clients each get a care plan with
//! one daily pattern, generated for the agency's horizon (14 days: 7,000
//! visits for 500 clients) by their `CarePlanWorkflow`s; as many other
//! clients get the same visits one `POST /v1/visits` at a time.
//!
//! Measured for each way: until the API has answered every request (the
//! visits saved and their workflows started), and until the engine has staffed
//! every visit (its `assigned` or `unfilled` frame on the WebSocket). Each way
//! has caregivers of its own (a skill of its own), so neither staffs the
//! other's visits.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use futures::StreamExt;
use serde::Serialize;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::lifecycles::Percentiles;

const ZONE: Tz = chrono_tz::America::Chicago;

pub struct CarePlanBenchOptions {
    pub api_url: String,
    /// Bearer token for the API.
    pub token: String,
    /// Clients for each way.
    pub clients: usize,
    /// Caregivers for each way.
    pub caregivers: usize,
    /// Requests in flight at most, for each way.
    pub concurrency: usize,
    /// Run `POST /v1/visits` first (else care plans first).
    pub visits_first: bool,
    pub out_dir: Option<PathBuf>,
}

/// One way of making the visits.
#[derive(Debug, Serialize)]
pub struct WayReport {
    pub visits: usize,
    /// First request → last answer.
    pub api_seconds: f64,
    pub api_visits_per_second: f64,
    /// First request → the last visit's `assigned` or `unfilled` frame.
    pub staffed_seconds: f64,
    pub staffed_visits_per_second: f64,
    pub unfilled: usize,
    /// Each request from sent to answered (a plan's: its pattern, which
    /// answers once the client's visits are generated).
    pub request: Percentiles,
}

#[derive(Debug, Serialize)]
pub struct CarePlanBenchReport {
    pub started_at: DateTime<Utc>,
    pub clients: usize,
    pub horizon_days: i64,
    pub care_plans: WayReport,
    pub post_visits: WayReport,
}

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        Ok(homecare_client::post_json(&self.http, &self.base, path, &body).await?)
    }

    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        Ok(self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }
}

fn id(value: &Value) -> anyhow::Result<String> {
    value["id"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("no id in {value}"))
}

/// When each visit's staffing frame (`assigned` or `unfilled`) arrived, and
/// which were unfilled.
#[derive(Default)]
struct Staffing {
    seen: Mutex<HashMap<String, (Instant, bool)>>,
}

impl Staffing {
    /// Waits until every one of `visits` is staffed; the last arrival.
    async fn all(&self, visits: &HashSet<String>) -> anyhow::Result<(Instant, usize)> {
        let deadline = Instant::now() + Duration::from_secs(900);
        loop {
            {
                let seen = self.seen.lock().unwrap();
                let arrived: Vec<&(Instant, bool)> =
                    visits.iter().filter_map(|v| seen.get(v)).collect();
                if arrived.len() == visits.len() {
                    let last = arrived.iter().map(|(at, _)| *at).max();
                    let unfilled = arrived.iter().filter(|(_, unfilled)| *unfilled).count();
                    return Ok((last.unwrap_or_else(Instant::now), unfilled));
                }
                if Instant::now() > deadline {
                    bail!(
                        "{} of {} visits staffed after 15 minutes: is a worker running?",
                        arrived.len(),
                        visits.len()
                    );
                }
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// A client's place on a grid around Chicago and its daily hour (07:00 to
/// 18:00 local), so each hour has its share of visits.
fn client_body(way: &str, i: usize) -> Value {
    let (row, column) = ((i / 25) as f64, (i % 25) as f64);
    json!({"name": format!("Bench {way} client {i}"), "address": format!("{i} Bench Ave"),
           "latitude": 41.75 + row * 0.012, "longitude": -87.85 + column * 0.012,
           "timezone": "America/Chicago"})
}

fn hour_of(i: usize) -> u32 {
    7 + (i % 12) as u32
}

async fn seed_caregivers(api: &Api, way: &str, skill: &str, count: usize) -> anyhow::Result<()> {
    for i in 0..count {
        api.post(
            "/v1/caregivers",
            json!({"name": format!("Bench {way} caregiver {i}"), "skills": [skill],
                   "home": {"latitude": 41.75 + (i % 20) as f64 * 0.015,
                            "longitude": -87.85 + (i / 20) as f64 * 0.02}}),
        )
        .await?;
    }
    Ok(())
}

/// Runs `work` for each of `items`, `concurrency` at a time; the time each took.
async fn timed<T, F, Fut>(items: Vec<T>, concurrency: usize, work: F) -> anyhow::Result<Vec<f64>>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    futures::stream::iter(items)
        .map(|item| {
            let sent = Instant::now();
            let done = work(item);
            async move {
                done.await?;
                Ok(sent.elapsed().as_secs_f64() * 1000.0)
            }
        })
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<anyhow::Result<f64>>>()
        .await
        .into_iter()
        .collect()
}

/// The plans' way: a plan and a daily pattern per client; the visit ids come
/// from each client's schedule.
async fn by_care_plans(
    api: &Api,
    options: &CarePlanBenchOptions,
    staffing: &Staffing,
    today: NaiveDate,
    tag: &str,
) -> anyhow::Result<WayReport> {
    let skill = format!("bench_plans_{tag}");
    seed_caregivers(api, "plans", &skill, options.caregivers).await?;
    let mut clients = Vec::new();
    for i in 0..options.clients {
        clients.push((
            i,
            id(&api.post("/v1/clients", client_body("plans", i)).await?)?,
        ));
    }
    eprintln!("care plans: generating for {} clients...", clients.len());
    let started = Instant::now();
    let samples = timed(clients.clone(), options.concurrency, |(i, client)| {
        let skill = skill.clone();
        async move {
            let plan = api
                .post(
                    &format!("/v1/clients/{client}/care-plans"),
                    json!({"valid_from": today, "required_skills": [skill]}),
                )
                .await?;
            let hour = hour_of(i);
            api.post(
                &format!("/v1/clients/{client}/care-plans/{}/patterns", id(&plan)?),
                json!({"recurrence": {"kind": "weekly", "weekdays": ["monday", "tuesday", "wednesday",
                          "thursday", "friday", "saturday", "sunday"]},
                       "start": format!("{hour:02}:00"), "end": format!("{hour:02}:59"),
                       "starts_on": today + Days::new(1)}),
            )
            .await?;
            Ok(())
        }
    })
    .await?;
    let answered = started.elapsed();
    let mut visits = HashSet::new();
    for (_, client) in &clients {
        let schedule = api.get(&format!("/v1/clients/{client}/schedule")).await?;
        // Occurrences whose time had passed have no visit.
        for visit in schedule["planned"].as_array().into_iter().flatten() {
            if let Some(id) = visit["visit"]["id"].as_str() {
                visits.insert(id.to_owned());
            }
        }
    }
    let (last, unfilled) = staffing.all(&visits).await?;
    report(visits.len(), answered, last - started, unfilled, &samples)
}

/// The other way: every visit the plans' way made, one `POST /v1/visits` each.
async fn by_post_visits(
    api: &Api,
    options: &CarePlanBenchOptions,
    staffing: &Staffing,
    today: NaiveDate,
    horizon_days: u64,
    tag: &str,
) -> anyhow::Result<WayReport> {
    let skill = format!("bench_visits_{tag}");
    seed_caregivers(api, "visits", &skill, options.caregivers).await?;
    let mut requests = Vec::new();
    for i in 0..options.clients {
        let client = id(&api.post("/v1/clients", client_body("visits", i)).await?)?;
        for day in 1..horizon_days {
            let date = today + Days::new(day);
            let local = |minute: u32| {
                date.and_hms_opt(hour_of(i), minute, 0)
                    .and_then(|t| t.and_local_timezone(ZONE).earliest())
                    .map(|t| t.with_timezone(&Utc))
                    .context("a local time")
            };
            requests.push(json!({"client_id": client, "scheduled_start": local(0)?,
                                 "scheduled_end": local(59)?, "required_skills": [skill]}));
        }
    }
    eprintln!("POST /v1/visits: {} visits...", requests.len());
    let visits = Arc::new(Mutex::new(HashSet::new()));
    let started = Instant::now();
    let samples = timed(requests, options.concurrency, |body| {
        let visits = visits.clone();
        async move {
            let visit = id(&api.post("/v1/visits", body).await?)?;
            visits.lock().unwrap().insert(visit);
            Ok(())
        }
    })
    .await?;
    let answered = started.elapsed();
    let visits = std::mem::take(&mut *visits.lock().unwrap());
    let (last, unfilled) = staffing.all(&visits).await?;
    report(visits.len(), answered, last - started, unfilled, &samples)
}

fn report(
    visits: usize,
    answered: Duration,
    staffed: Duration,
    unfilled: usize,
    samples: &[f64],
) -> anyhow::Result<WayReport> {
    Ok(WayReport {
        visits,
        api_seconds: answered.as_secs_f64(),
        api_visits_per_second: visits as f64 / answered.as_secs_f64().max(1e-9),
        staffed_seconds: staffed.as_secs_f64(),
        staffed_visits_per_second: visits as f64 / staffed.as_secs_f64().max(1e-9),
        unfilled,
        request: Percentiles::of(samples).context("no requests")?,
    })
}

pub async fn run(options: CarePlanBenchOptions) -> anyhow::Result<CarePlanBenchReport> {
    let api = Api {
        http: homecare_client::http(&options.token)?,
        base: options.api_url.trim_end_matches('/').to_owned(),
    };
    let started_at = Utc::now();
    let agency = api.get("/v1/agency").await?;
    let horizon_days = agency["schedule_horizon_days"].as_u64().unwrap_or(14);
    let today = Utc::now().with_timezone(&ZONE).date_naive();
    let tag = uuid::Uuid::new_v4().simple().to_string();

    let ws_url = homecare_client::events_url(&api.base, "");
    let (mut socket, _) =
        tokio_tungstenite::connect_async(homecare_client::websocket(&ws_url, &options.token)?)
            .await
            .with_context(|| format!("cannot open {ws_url}"))?;
    let staffing = Arc::new(Staffing::default());
    let listener = {
        let staffing = staffing.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                let Message::Text(text) = message else {
                    continue;
                };
                let Ok(frame) = serde_json::from_str::<Value>(&text) else {
                    continue;
                };
                let event = &frame["event"];
                let unfilled = match event["type"].as_str() {
                    Some("homecare.visit.assigned") => false,
                    Some("homecare.visit.unfilled") => true,
                    _ => continue,
                };
                if let Some(visit) = event["subject"].as_str() {
                    staffing
                        .seen
                        .lock()
                        .unwrap()
                        .entry(visit.to_owned())
                        .or_insert((Instant::now(), unfilled));
                }
            }
        })
    };
    let (care_plans, post_visits) = if options.visits_first {
        let visits = by_post_visits(&api, &options, &staffing, today, horizon_days, &tag).await?;
        (
            by_care_plans(&api, &options, &staffing, today, &tag).await?,
            visits,
        )
    } else {
        let plans = by_care_plans(&api, &options, &staffing, today, &tag).await?;
        (
            plans,
            by_post_visits(&api, &options, &staffing, today, horizon_days, &tag).await?,
        )
    };
    listener.abort();
    let report = CarePlanBenchReport {
        started_at,
        clients: options.clients,
        horizon_days: horizon_days as i64,
        care_plans,
        post_visits,
    };
    if let Some(dir) = &options.out_dir {
        let path = crate::write_report(dir, "bench-care-plans", started_at, &report)?;
        eprintln!("report written to {}", path.display());
    }
    Ok(report)
}

pub fn print(report: &CarePlanBenchReport) {
    println!(
        "{} clients, a daily visit each for the next {} days:",
        report.clients,
        report.horizon_days - 1
    );
    for (way, r) in [
        ("care plans", &report.care_plans),
        ("POST /v1/visits", &report.post_visits),
    ] {
        println!(
            "  {way:<16} {} visits: answered in {:.1} s ({:.0} visits/s, request p50 {:.0} ms p95 {:.0} ms), staffed in {:.1} s ({:.0} visits/s, {} unfilled)",
            r.visits,
            r.api_seconds,
            r.api_visits_per_second,
            r.request.p50_ms,
            r.request.p95_ms,
            r.staffed_seconds,
            r.staffed_visits_per_second,
            r.unfilled
        );
    }
}
