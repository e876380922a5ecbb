//! Where a benchmark's CPU goes: the machine's processes' CPU time, by program,
//! read from Linux's `/proc` before and after a phase.
//!
//! The bench runs on the same machine as the platform (as `docs/benchmarks.md`
//! describes), so the difference between two snapshots is what the Temporal
//! server, PostgreSQL, NATS, the platform and the bench itself spent on that
//! phase. Processes that start and end inside a phase are not counted; the
//! services keep theirs for the whole run.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

/// `/proc` reports CPU time in clock ticks of `USER_HZ`, which Linux fixes at
/// 100 per second for user space on every architecture it exports `/proc` for.
const TICKS_PER_SECOND: f64 = 100.0;

/// Every process's program and CPU seconds at one moment, by pid, and the whole
/// machine's busy and total CPU seconds (all cores).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    processes: HashMap<u32, (String, f64)>,
    machine_busy: f64,
    machine_total: f64,
}

/// One phase's CPU: milliseconds per lifecycle by program, and how busy the
/// machine was (1.0 = every core busy throughout).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PhaseCpu {
    pub ms_per_lifecycle: BTreeMap<String, f64>,
    pub total_ms_per_lifecycle: f64,
    pub machine_busy_fraction: f64,
}

/// The program a process runs, as the bench reports it: the bench's own process
/// is `bench`, whatever its name; the kernel's worker threads, whose names
/// change with the work they pick up, are all `kworker`; other names are the
/// kernel's (`comm`).
fn program(pid: u32, comm: &str) -> String {
    if pid == std::process::id() {
        "bench".to_owned()
    } else if comm.starts_with("kworker/") {
        "kworker".to_owned()
    } else {
        comm.to_owned()
    }
}

/// Parses one `/proc/<pid>/stat` line: (comm, user + system seconds).
fn parse_stat(line: &str) -> Option<(String, f64)> {
    // comm is in parentheses and may itself hold spaces or parentheses.
    let open = line.find('(')?;
    let close = line.rfind(')')?;
    let comm = line.get(open + 1..close)?.to_owned();
    // After ") ": state is field 3 of stat(5); utime and stime are 14 and 15.
    let rest: Vec<&str> = line.get(close + 2..)?.split_whitespace().collect();
    let utime: f64 = rest.get(11)?.parse().ok()?;
    let stime: f64 = rest.get(12)?.parse().ok()?;
    Some((comm, (utime + stime) / TICKS_PER_SECOND))
}

/// Parses `/proc/stat`'s first line: (busy, total) seconds over all cores.
fn parse_machine(line: &str) -> Option<(f64, f64)> {
    let fields: Vec<f64> = line
        .strip_prefix("cpu ")?
        .split_whitespace()
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is in user).
    let total: f64 = fields.iter().take(8).sum();
    let idle = fields.get(3)? + fields.get(4).unwrap_or(&0.0);
    Some(((total - idle) / TICKS_PER_SECOND, total / TICKS_PER_SECOND))
}

impl Snapshot {
    /// Reads every process's CPU time now. `None` where there is no `/proc`.
    pub fn take() -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let (machine_busy, machine_total) = parse_machine(stat.lines().next()?)?;
        let mut processes = HashMap::new();
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            // A process may end between listing and reading: skip it.
            let Ok(line) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            if let Some((comm, seconds)) = parse_stat(&line) {
                processes.insert(pid, (program(pid, &comm), seconds));
            }
        }
        Some(Self {
            processes,
            machine_busy,
            machine_total,
        })
    }
}

/// CPU spent over one or more phases (summed), by program and for the machine.
#[derive(Debug, Clone, Default)]
pub struct Usage {
    by_program: BTreeMap<String, f64>,
    machine_busy: f64,
    machine_total: f64,
    phases: usize,
}

impl Usage {
    /// Adds what was spent from `earlier` to `later`; nothing if either is
    /// missing (no `/proc`).
    pub fn add(&mut self, earlier: Option<&Snapshot>, later: Option<&Snapshot>) {
        let (Some(earlier), Some(later)) = (earlier, later) else {
            return;
        };
        // By pid: a process started in the phase counts in full; one that
        // ended in it is not counted (the services live through the run).
        for (pid, (name, seconds)) in &later.processes {
            let before = earlier.processes.get(pid).map_or(0.0, |(_, s)| *s);
            if *seconds > before {
                *self.by_program.entry(name.clone()).or_insert(0.0) += seconds - before;
            }
        }
        self.machine_busy += later.machine_busy - earlier.machine_busy;
        self.machine_total += later.machine_total - earlier.machine_total;
        self.phases += 1;
    }

    /// Per lifecycle; programs that used less than 0.5 ms per lifecycle are
    /// summed as `other`. `None` if no phase was measured.
    pub fn per_lifecycle(&self, lifecycles: usize) -> Option<PhaseCpu> {
        if self.phases == 0 {
            return None;
        }
        let per = |seconds: f64| seconds * 1000.0 / lifecycles.max(1) as f64;
        let mut ms_per_lifecycle = BTreeMap::new();
        let mut other = 0.0;
        for (name, seconds) in &self.by_program {
            let ms = per(*seconds);
            if ms < 0.5 {
                other += ms;
            } else {
                ms_per_lifecycle.insert(name.clone(), round(ms));
            }
        }
        if other > 0.0 {
            ms_per_lifecycle.insert("other".to_owned(), round(other));
        }
        Some(PhaseCpu {
            total_ms_per_lifecycle: round(ms_per_lifecycle.values().sum()),
            ms_per_lifecycle,
            machine_busy_fraction: if self.machine_total > 0.0 {
                round(self.machine_busy / self.machine_total)
            } else {
                0.0
            },
        })
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_workers_are_one_program_whatever_they_are_doing() {
        assert_eq!(program(1, "kworker/1:4-mm_percpu_wq"), "kworker");
        assert_eq!(program(1, "kworker/u8:3-writeback"), "kworker");
        assert_eq!(program(1, "postgres"), "postgres");
        assert_eq!(program(std::process::id(), "homecare"), "bench");
    }

    #[test]
    fn reads_a_stat_line_whose_name_holds_spaces_and_parentheses() {
        let line =
            "4242 (tokio (rt) w) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 77 0 0";
        assert_eq!(parse_stat(line), Some(("tokio (rt) w".to_owned(), 3.25)));
        assert_eq!(parse_stat("4242 (short) S 1"), None);
    }

    #[test]
    fn machine_busy_leaves_out_idle_and_iowait() {
        let (busy, total) = parse_machine("cpu  100 0 50 800 50 0 0 0 0 0").unwrap();
        assert_eq!((busy, total), (1.5, 10.0));
        assert_eq!(parse_machine("intr 1 2 3"), None);
    }

    #[test]
    fn phases_add_up_per_lifecycle_with_small_programs_summed() {
        // Two postgres processes and a kernel worker, busy as postgres is.
        let at = |postgres: f64, nats: f64, busy: f64, total: f64| Snapshot {
            processes: [
                (10, ("postgres".to_owned(), postgres / 2.0)),
                (11, ("postgres".to_owned(), postgres / 2.0)),
                (20, ("nats-server".to_owned(), nats)),
                (30, ("kworker".to_owned(), 500.0 + postgres)),
            ]
            .into_iter()
            .collect(),
            machine_busy: busy,
            machine_total: total,
        };
        let mut usage = Usage::default();
        assert_eq!(usage.per_lifecycle(100), None);
        // Two phases: 2 s then 1 s of postgres over 100 lifecycles.
        usage.add(
            Some(&at(10.0, 1.0, 10.0, 10.0)),
            Some(&at(12.0, 1.001, 18.0, 20.0)),
        );
        usage.add(
            Some(&at(20.0, 1.001, 30.0, 40.0)),
            Some(&at(21.0, 1.001, 31.0, 50.0)),
        );
        usage.add(None, Some(&at(99.0, 9.0, 99.0, 99.0)));
        let phase = usage.per_lifecycle(100).unwrap();
        assert_eq!(phase.ms_per_lifecycle["postgres"], 30.0);
        assert_eq!(phase.ms_per_lifecycle["kworker"], 30.0);
        assert_eq!(phase.ms_per_lifecycle["other"], 0.01);
        assert_eq!(phase.total_ms_per_lifecycle, 60.01);
        assert_eq!(phase.machine_busy_fraction, 0.45);
    }

    #[test]
    fn this_machine_reports_the_bench_itself() {
        let now = Snapshot::take().expect("/proc is readable on Linux");
        assert_eq!(now.processes[&std::process::id()].0, "bench");
        assert!(now.machine_total > 0.0);
    }
}
