//! The bench's report for people: the table it prints and the latency plot
//! it writes beside the JSON.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cpu::PhaseCpu;

#[derive(Debug, Serialize)]
pub struct FanoutReport {
    pub sockets: usize,
    /// `assigned` and `invoice.created` frames received over all fan-out sockets.
    pub frames: usize,
    /// Event time → frame received, over those frames.
    pub delivery: Option<Percentiles>,
    /// The API process's resident memory (its `/healthz`), before the sockets
    /// opened and with all of them open at the end of the run.
    pub api_rss_bytes_before: Option<u64>,
    pub api_rss_bytes_with_sockets: Option<u64>,
    pub api_websocket_connections: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct FloorReport {
    pub wall_seconds: f64,
    pub lifecycles_per_second: f64,
    /// Start → the workflow's result.
    pub lifecycle: Percentiles,
    /// Product ÷ floor: throughput (higher is better, 1.0 = as fast as Temporal
    /// alone) and median lifecycle latency (lower is better).
    pub throughput_ratio: f64,
    pub p50_latency_ratio: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Percentiles {
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `samples` (milliseconds).
    pub fn of(samples: &[f64]) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let rank =
            |p: f64| sorted[((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
        Some(Self {
            count: sorted.len(),
            p50_ms: rank(0.50),
            p95_ms: rank(0.95),
            p99_ms: rank(0.99),
            max_ms: sorted[sorted.len() - 1],
        })
    }
}

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub started_at: DateTime<Utc>,
    pub lifecycles: usize,
    pub concurrency: usize,
    pub arrival_rate: Option<f64>,
    /// Project and floor alternate this many times, each round a share of the
    /// lifecycles; wall times and samples are summed over the rounds.
    pub rounds: usize,
    pub wall_seconds: f64,
    pub lifecycles_per_second: f64,
    pub latency: BTreeMap<String, Percentiles>,
    pub floor: Option<FloorReport>,
    pub fanout: Option<FanoutReport>,
    /// CPU by program, per lifecycle, for the project's lifecycles and the
    /// floor's (read from `/proc`: the bench on the platform's machine).
    pub cpu: Option<CpuReport>,
}

#[derive(Debug, Serialize)]
pub struct CpuReport {
    pub project: PhaseCpu,
    pub floor: Option<PhaseCpu>,
}

/// The latency percentiles of every metric as an SVG chart (no plotting
/// dependency): one line per metric over p50, p95, p99 and max, log-scaled ms.
pub fn latency_plot(report: &BenchReport) -> String {
    let mut series: Vec<(String, Percentiles)> = report
        .latency
        .iter()
        .filter(|(name, _)| !name.starts_with("api.create_c"))
        .map(|(name, p)| (name.clone(), p.clone()))
        .collect();
    if let Some(floor) = &report.floor {
        series.push((
            "floor: bare workflow lifecycle".to_owned(),
            floor.lifecycle.clone(),
        ));
    }
    if let Some(p) = report.fanout.as_ref().and_then(|f| f.delivery.clone()) {
        series.push(("fan-out: event -> frame".to_owned(), p));
    }
    let (width, height, left, right, top, bottom) = (900.0, 520.0, 70.0, 330.0, 40.0, 50.0);
    let plot_w = width - left - right;
    let plot_h = height - top - bottom;
    let values = series
        .iter()
        .flat_map(|(_, p)| [p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms]);
    let max = values.fold(1.0_f64, f64::max);
    let decades = max.log10().ceil().max(1.0);
    let y = |ms: f64| top + plot_h - (ms.max(0.1).log10() + 1.0) / (decades + 1.0) * plot_h;
    let x = |i: usize| left + plot_w * i as f64 / 3.0;
    const COLOURS: [&str; 10] = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf",
    ];
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"22\" font-size=\"15\">homecare bench {}: {} lifecycles, {:.2}/s (latency, ms, log scale)</text>\n",
        report.started_at.format("%Y-%m-%d %H:%M:%SZ"),
        report.lifecycles,
        report.lifecycles_per_second
    );
    for d in -1..=(decades as i32) {
        let ms = 10f64.powi(d);
        let yy = y(ms);
        svg += &format!(
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#ddd\"/>\n\
             <text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{ms}</text>\n",
            left + plot_w,
            left - 6.0,
            yy + 4.0
        );
    }
    for (i, label) in ["p50", "p95", "p99", "max"].iter().enumerate() {
        svg += &format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>\n",
            x(i),
            top + plot_h + 20.0
        );
    }
    for (k, (name, p)) in series.iter().enumerate() {
        let colour = COLOURS[k % COLOURS.len()];
        let points: Vec<String> = [p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms]
            .iter()
            .enumerate()
            .map(|(i, ms)| format!("{:.1},{:.1}", x(i), y(*ms)))
            .collect();
        svg += &format!(
            "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>\n\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"{colour}\">{name} (p99 {:.0})</text>\n",
            points.join(" "),
            left + plot_w + 12.0,
            top + 16.0 * k as f64 + 10.0,
            p.p99_ms
        );
    }
    svg + "</svg>\n"
}

pub fn print(report: &BenchReport) {
    println!(
        "{} lifecycles at concurrency {} in {:.2} s ({} round{}): {:.2} lifecycles/s",
        report.lifecycles,
        report.concurrency,
        report.wall_seconds,
        report.rounds,
        if report.rounds == 1 { "" } else { "s" },
        report.lifecycles_per_second
    );
    println!(
        "{:<32} {:>6} {:>9} {:>9} {:>9} {:>9}",
        "latency (ms)", "n", "p50", "p95", "p99", "max"
    );
    for (metric, p) in &report.latency {
        println!(
            "{metric:<32} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            p.count, p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms
        );
    }
    if let Some(f) = &report.fanout {
        let mib = |b: Option<u64>| {
            b.map_or("?".to_owned(), |b| {
                format!("{:.1} MiB", b as f64 / 1048576.0)
            })
        };
        println!(
            "fan-out: {} sockets, {} frames; API memory {} before, {} with the sockets ({} connections)",
            f.sockets,
            f.frames,
            mib(f.api_rss_bytes_before),
            mib(f.api_rss_bytes_with_sockets),
            f.api_websocket_connections
                .map_or("?".to_owned(), |c| c.to_string())
        );
        if let Some(p) = &f.delivery {
            println!(
                "{:<32} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                "fan-out: event -> frame", p.count, p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms
            );
        }
    }
    if let Some(floor) = &report.floor {
        let p = &floor.lifecycle;
        println!(
            "{:<32} {:>6} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            "floor: bare workflow lifecycle", p.count, p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms
        );
        println!(
            "floor: {:.2} lifecycles/s; project / floor: throughput {:.2}, median lifecycle latency {:.2}",
            floor.lifecycles_per_second, floor.throughput_ratio, floor.p50_latency_ratio
        );
    }
    if let Some(cpu) = &report.cpu {
        print_cpu(cpu);
    }
}

/// CPU per lifecycle by program, the project's beside the floor's.
fn print_cpu(cpu: &CpuReport) {
    let floor = cpu.floor.as_ref();
    let mut programs: Vec<&String> = cpu.project.ms_per_lifecycle.keys().collect();
    if let Some(f) = floor {
        programs.extend(f.ms_per_lifecycle.keys());
    }
    programs.sort();
    programs.dedup();
    let cell = |phase: Option<&PhaseCpu>, name: &str| {
        phase
            .and_then(|p| p.ms_per_lifecycle.get(name))
            .map_or("-".to_owned(), |ms| format!("{ms:.1}"))
    };
    println!(
        "{:<32} {:>9} {:>9}",
        "cpu ms per lifecycle", "project", "floor"
    );
    for name in programs {
        println!(
            "{name:<32} {:>9} {:>9}",
            cell(Some(&cpu.project), name),
            cell(floor, name)
        );
    }
    println!(
        "{:<32} {:>9.1} {:>9}",
        "total",
        cpu.project.total_ms_per_lifecycle,
        floor.map_or("-".to_owned(), |f| format!(
            "{:.1}",
            f.total_ms_per_lifecycle
        ))
    );
    println!(
        "{:<32} {:>9.2} {:>9}",
        "machine busy (1.0 = all cores)",
        cpu.project.machine_busy_fraction,
        floor.map_or("-".to_owned(), |f| format!(
            "{:.2}",
            f.machine_busy_fraction
        ))
    );
}
