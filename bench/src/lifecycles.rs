//! `homecare bench`: complete visit lifecycles driven through the public REST API
//! at a fixed concurrency while one WebSocket client listens, as an agency's apps
//! would. Reports throughput and latency percentiles, and writes a JSON report.
//!
//! Measured per lifecycle: every API call; visit created → `assigned` frame;
//! check-out sent → `invoice.created` frame; and, for every `assigned` and
//! `invoice.created` frame, the event's own time (when the activity recorded the
//! change) → frame received, i.e. state change → WebSocket.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore};
use tokio_tungstenite::tungstenite::Message;

use crate::cpu::{Snapshot, Usage};
use crate::floor::FloorWorkflow;
use homecare_store::temporal::TemporalSettings;
use temporalio_client::{
    WorkflowExecuteUpdateOptions, WorkflowGetResultOptions, WorkflowStartOptions,
};

const WAIT_LIMIT: Duration = Duration::from_secs(60);

pub struct BenchOptions {
    pub api_url: String,
    /// Bearer token for the API.
    pub token: String,
    pub lifecycles: usize,
    /// Lifecycles in flight at most (closed loop), and caregivers created.
    pub concurrency: usize,
    /// Open loop instead: start lifecycles at this rate (per second) whether or
    /// not earlier ones have finished, as real traffic arrives.
    pub arrival_rate: Option<f64>,
    /// Where the JSON report goes (and the latency plot, as SVG) (created if missing); None writes nothing.
    pub out_dir: Option<PathBuf>,
    /// Also run the floor (`FloorWorkflow`) on this Temporal server and task
    /// queue, at the same concurrency, in the same run.
    pub floor: Option<TemporalSettings>,
    /// Extra WebSocket clients listening throughout, each subscribed to one
    /// caregiver's events (the bench's caregivers in turn): a share each.
    pub fanout: usize,
    /// Alternate project and floor this many times (at least 1), so that
    /// both meet the same background; each round runs a share of the lifecycles.
    pub rounds: usize,
}

/// (visit id, CloudEvents type)
type FrameKey = (String, String);

/// Frames seen by the listening socket, by (visit, event type).
#[derive(Default)]
struct Arrivals {
    /// When each frame arrived, and the caregiver it names.
    seen: Mutex<HashMap<FrameKey, (Instant, Option<String>)>>,
    changed: Notify,
    /// Event time → frame received, for state changes recorded "now".
    delivery_ms: Mutex<Vec<f64>>,
}

impl Arrivals {
    fn record(&self, frame: &Value) {
        let event = &frame["event"];
        let (Some(visit), Some(kind)) = (event["subject"].as_str(), event["type"].as_str()) else {
            return;
        };
        let now = Utc::now();
        if matches!(kind, "homecare.visit.assigned" | "homecare.invoice.created")
            && let Some(time) = event["time"]
                .as_str()
                .and_then(|t| t.parse::<DateTime<Utc>>().ok())
        {
            let ms = (now - time).num_microseconds().unwrap_or(0) as f64 / 1000.0;
            self.delivery_ms.lock().unwrap().push(ms.max(0.0));
        }
        let caregiver = event["data"]["caregiver_id"].as_str().map(str::to_owned);
        self.seen.lock().unwrap().insert(
            (visit.to_owned(), kind.to_owned()),
            (Instant::now(), caregiver),
        );
        self.changed.notify_waiters();
    }

    async fn wait(&self, visit: &str, kind: &str) -> anyhow::Result<(Instant, Option<String>)> {
        let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if let Some(seen) = self
                .seen
                .lock()
                .unwrap()
                .get(&(visit.to_owned(), kind.to_owned()))
            {
                return Ok(seen.clone());
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                bail!(
                    "no {kind} for visit {visit} within {}s",
                    WAIT_LIMIT.as_secs()
                );
            }
        }
    }
}

#[derive(Default)]
struct Samples(Mutex<BTreeMap<String, Vec<f64>>>);

impl Samples {
    fn add(&self, metric: &str, elapsed: Duration) {
        self.0
            .lock()
            .unwrap()
            .entry(metric.to_owned())
            .or_default()
            .push(elapsed.as_secs_f64() * 1000.0);
    }
}

struct Driver {
    /// A skill only this run's caregivers hold, so its visits go to them and
    /// never to caregivers already in the database.
    skill: String,
    http: reqwest::Client,
    api: String,
    arrivals: Arc<Arrivals>,
    samples: Arc<Samples>,
}

impl Driver {
    async fn post(&self, metric: &str, path: &str, body: Value) -> anyhow::Result<Value> {
        let sent = Instant::now();
        let answer = homecare_client::post_json(&self.http, &self.api, path, &body).await;
        self.samples.add(metric, sent.elapsed());
        Ok(answer?)
    }

    /// One visit from creation to its invoice line.
    async fn lifecycle(&self, client: &str, start: DateTime<Utc>) -> anyhow::Result<()> {
        let end = start + chrono::Duration::minutes(60);
        let created = Instant::now();
        let visit = self
            .post(
                "api.create_visit",
                "/v1/visits",
                json!({"client_id": client, "scheduled_start": start, "scheduled_end": end,
                       "required_skills": [self.skill]}),
            )
            .await?;
        let visit_id = visit["id"].as_str().context("visit id")?.to_owned();
        let (assigned, caregiver) = self
            .arrivals
            .wait(&visit_id, "homecare.visit.assigned")
            .await?;
        self.samples
            .add("create_visit_to_assigned_frame", assigned - created);
        let caregiver = caregiver.context("assigned event without caregiver")?;
        let evv = |at: DateTime<Utc>| json!({"caregiver_id": caregiver, "at": at, "latitude": 41.94, "longitude": -87.67});
        self.post(
            "api.check_in",
            &format!("/v1/visits/{visit_id}/check-in"),
            evv(start),
        )
        .await?;
        let checked_out = Instant::now();
        self.post(
            "api.check_out",
            &format!("/v1/visits/{visit_id}/check-out"),
            evv(end - chrono::Duration::minutes(2)),
        )
        .await?;
        let (invoiced, _) = self
            .arrivals
            .wait(&visit_id, "homecare.invoice.created")
            .await?;
        self.samples
            .add("lifecycle_create_to_invoice_frame", invoiced - created);
        self.samples
            .add("check_out_to_invoice_frame", invoiced - checked_out);
        Ok(())
    }
}

pub async fn run(options: BenchOptions) -> anyhow::Result<BenchReport> {
    if options.lifecycles == 0 || options.concurrency == 0 {
        bail!("--lifecycles and --concurrency must be at least 1");
    }
    let api = options.api_url.trim_end_matches('/').to_owned();
    let ws_url = format!("{}/v1/events", api.replacen("http", "ws", 1));
    let (mut socket, _) =
        tokio_tungstenite::connect_async(homecare_client::websocket(&ws_url, &options.token)?)
            .await
            .with_context(|| format!("cannot open {ws_url}; is the platform up?"))?;
    let arrivals = Arc::new(Arrivals::default());
    let listener = {
        let arrivals = arrivals.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message
                    && let Ok(frame) = serde_json::from_str::<Value>(&text)
                {
                    arrivals.record(&frame);
                }
            }
        })
    };
    let driver = Arc::new(Driver {
        skill: format!("bench-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]),
        http: homecare_client::http(&options.token)?,
        api,
        arrivals: arrivals.clone(),
        samples: Default::default(),
    });
    let client = driver
        .post(
            "api.create_client",
            "/v1/clients",
            json!({"name": "Bench Client", "address": "1 Bench St", "latitude": 41.94, "longitude": -87.67, "timezone": "America/Chicago"}),
        )
        .await?;
    let client_id = client["id"].as_str().context("client id")?.to_owned();
    // One caregiver per concurrent lifecycle, and every visit in its own past hour
    // slot, so assignment never waits for a free caregiver.
    let mut caregivers = Vec::with_capacity(options.concurrency);
    for i in 0..options.concurrency {
        let caregiver = driver
            .post(
                "api.create_caregiver",
                "/v1/caregivers",
                json!({"name": format!("Bench Caregiver {i}"), "skills": [driver.skill]}),
            )
            .await?;
        caregivers.push(caregiver["id"].as_str().context("caregiver id")?.to_owned());
    }
    let fanout = if options.fanout > 0 {
        Some(
            Fanout::open(
                &driver.http,
                &options.token,
                &driver.api,
                &caregivers,
                options.fanout,
            )
            .await?,
        )
    } else {
        None
    };
    let first_slot = Utc::now() - chrono::Duration::hours(2 * options.lifecycles as i64 + 2);
    // The floor is a closed-loop run: compare it with closed-loop runs only.
    let floor_on = match &options.floor {
        Some(_) if options.arrival_rate.is_some() => {
            eprintln!("open loop (--rate): the floor compares closed-loop runs only; skipped");
            None
        }
        Some(temporal) => Some((
            homecare_store::temporal::connect(temporal, "homecare-bench").await?,
            temporal.task_queue.clone(),
        )),
        None => None,
    };

    // Rounds: project, then floor, then project again... so that both meet
    // the same background (a server that slows down or speeds up over a run).
    let rounds = options.rounds.clamp(1, options.lifecycles);
    let started_at = Utc::now();
    let (mut wall_seconds, mut floor_wall) = (0.0, 0.0);
    let (mut cpu_project, mut cpu_floor) = (Usage::default(), Usage::default());
    let floor_samples = Samples::default();
    let mut done = 0;
    // One snapshot ends a phase and starts the next.
    let mut mark = Snapshot::take();
    for round in 0..rounds {
        let count = options.lifecycles / rounds + usize::from(round < options.lifecycles % rounds);
        let wall = Instant::now();
        let slots =
            (done..done + count).map(|i| first_slot + chrono::Duration::hours(2 * i as i64));
        drive(&driver, &client_id, slots, &options, &mut done).await?;
        wall_seconds += wall.elapsed().as_secs_f64();
        let now = Snapshot::take();
        cpu_project.add(mark.as_ref(), now.as_ref());
        mark = now;
        if let Some((client, task_queue)) = &floor_on {
            floor_wall += floor(
                client,
                task_queue,
                count,
                options.concurrency,
                &floor_samples,
            )
            .await?;
            let now = Snapshot::take();
            cpu_floor.add(mark.as_ref(), now.as_ref());
            mark = now;
        }
    }
    eprintln!();
    listener.abort();
    let fanout = match fanout {
        Some(f) => Some(f.close(&driver.http, &driver.api).await),
        None => None,
    };

    let mut latency: BTreeMap<String, Percentiles> = BTreeMap::new();
    for (metric, samples) in driver.samples.0.lock().unwrap().iter() {
        if let Some(p) = Percentiles::of(samples) {
            latency.insert(metric.clone(), p);
        }
    }
    if let Some(p) = Percentiles::of(&arrivals.delivery_ms.lock().unwrap()) {
        latency.insert("state_change_to_ws_frame".to_owned(), p);
    }
    let lifecycles_per_second = options.lifecycles as f64 / wall_seconds;
    let floor = match floor_on {
        Some(_) => {
            let floor_throughput = options.lifecycles as f64 / floor_wall;
            let lifecycle = Percentiles::of(&floor_samples.0.lock().unwrap()["floor"])
                .context("no floor samples")?;
            let ours = &latency["lifecycle_create_to_invoice_frame"];
            Some(FloorReport {
                wall_seconds: floor_wall,
                lifecycles_per_second: floor_throughput,
                throughput_ratio: lifecycles_per_second / floor_throughput,
                p50_latency_ratio: ours.p50_ms / lifecycle.p50_ms,
                lifecycle,
            })
        }
        None => None,
    };
    let cpu = cpu_project
        .per_lifecycle(options.lifecycles)
        .map(|project| CpuReport {
            project,
            floor: cpu_floor.per_lifecycle(options.lifecycles),
        });
    let report = BenchReport {
        started_at,
        lifecycles: options.lifecycles,
        concurrency: options.concurrency,
        arrival_rate: options.arrival_rate,
        wall_seconds,
        lifecycles_per_second,
        latency,
        rounds,
        floor,
        fanout,
        cpu,
    };
    if let Some(dir) = &options.out_dir {
        let path = crate::write_report(dir, "bench", started_at, &report)?;
        let plot = path.with_extension("svg");
        std::fs::write(&plot, latency_plot(&report))?;
        eprintln!(
            "report written to {} (plot: {})",
            path.display(),
            plot.display()
        );
    }
    Ok(report)
}

/// One floor lifecycle, as the bench drives it: start, then at once the
/// check-in update (which waits in the workflow for the first activity, as a
/// visit's check-in waits for its assignment), the check-out update, the result.
pub async fn floor_lifecycle(
    client: &temporalio_client::Client,
    task_queue: &str,
    id: &str,
) -> anyhow::Result<()> {
    let lifecycle = async {
        let options = WorkflowStartOptions::new(task_queue.to_owned(), id.to_owned()).build();
        client
            .start_workflow(FloorWorkflow::run, (), options)
            .await?;
        let handle = client.get_workflow_handle::<FloorWorkflow>(id.to_owned());
        handle
            .execute_update(
                FloorWorkflow::check_in,
                (),
                WorkflowExecuteUpdateOptions::default(),
            )
            .await?;
        handle
            .execute_update(
                FloorWorkflow::check_out,
                (),
                WorkflowExecuteUpdateOptions::default(),
            )
            .await?;
        handle
            .get_result(WorkflowGetResultOptions::default())
            .await?;
        anyhow::Ok(())
    };
    // A worker without the floor leaves its workflow task failing forever.
    tokio::time::timeout(WAIT_LIMIT, lifecycle)
        .await
        .with_context(|| {
            format!(
                "the floor lifecycle {id} did not finish within {} s: does a worker on task queue \
                 {task_queue} run the floor? Start the platform with `homecare up --bench-floor` \
                 (./dev up does), or bench with --no-floor",
                WAIT_LIMIT.as_secs()
            )
        })?
}

/// `count` floor lifecycles at `concurrency`, their latencies added to
/// `samples`; returns the wall time in seconds.
async fn floor(
    client: &temporalio_client::Client,
    task_queue: &str,
    count: usize,
    concurrency: usize,
    samples: &Samples,
) -> anyhow::Result<f64> {
    let gate = Arc::new(Semaphore::new(concurrency));
    let wall = Instant::now();
    let mut running = Vec::with_capacity(count);
    for _ in 0..count {
        let permit = gate.clone().acquire_owned().await?;
        let (client, task_queue) = (client.clone(), task_queue.to_owned());
        running.push(tokio::spawn(async move {
            let id = format!("floor-{}", uuid::Uuid::new_v4());
            let started = Instant::now();
            floor_lifecycle(&client, &task_queue, &id).await?;
            drop(permit);
            anyhow::Ok(started.elapsed())
        }));
    }
    for lifecycle in running {
        samples.add("floor", lifecycle.await??);
    }
    Ok(wall.elapsed().as_secs_f64())
}

/// One round of the project's lifecycles, one per slot: closed loop (at most
/// `concurrency` in flight) or open loop (one every 1/rate seconds, however
/// many are in flight). `done` counts invoiced lifecycles over all rounds.
async fn drive(
    driver: &Arc<Driver>,
    client_id: &str,
    slots: impl Iterator<Item = DateTime<Utc>>,
    options: &BenchOptions,
    done: &mut usize,
) -> anyhow::Result<()> {
    let gate = Arc::new(Semaphore::new(match options.arrival_rate {
        Some(_) => Semaphore::MAX_PERMITS,
        None => options.concurrency,
    }));
    let mut running = Vec::new();
    let begun = tokio::time::Instant::now();
    for (i, start) in slots.enumerate() {
        if let Some(rate) = options.arrival_rate {
            tokio::time::sleep_until(begun + Duration::from_secs_f64(i as f64 / rate)).await;
        }
        let permit = gate.clone().acquire_owned().await?;
        let (driver, client_id) = (driver.clone(), client_id.to_owned());
        running.push(tokio::spawn(async move {
            let result = driver.lifecycle(&client_id, start).await;
            drop(permit);
            result
        }));
    }
    for lifecycle in running {
        lifecycle.await??;
        *done += 1;
        if done.is_multiple_of(10) || *done == options.lifecycles {
            eprint!("\r{done}/{} lifecycles invoiced", options.lifecycles);
        }
    }
    Ok(())
}

mod fanout;
mod report;

use fanout::Fanout;
pub use report::{
    BenchReport, CpuReport, FanoutReport, FloorReport, Percentiles, latency_plot, print,
};

#[cfg(test)]
mod tests;
