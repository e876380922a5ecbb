//! Where a benchmark's CPU goes: the machine's processes' CPU time, by program,
//! read from Linux's `/proc` before and after a phase.
//!
//! The bench runs on the same machine as the platform (as `docs/benchmarks.md`
//! describes), so the difference between two snapshots is what the Temporal
//! server, PostgreSQL, NATS, the platform and the bench itself spent on that
//! phase. Processes that start and end inside a phase are not counted; the
//! services keep theirs for the whole run.

use std::collections::BTreeMap;

use serde::Serialize;

/// `/proc` reports CPU time in clock ticks of `USER_HZ`, which Linux fixes at
/// 100 per second for user space on every architecture it exports `/proc` for.
const TICKS_PER_SECOND: f64 = 100.0;

/// CPU seconds by program name at one moment, and the whole machine's busy and
/// total CPU seconds (all cores).
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    by_program: BTreeMap<String, f64>,
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
/// is `bench`, whatever its name; other names are the kernel's (`comm`).
fn program(pid: u32, comm: &str) -> String {
    if pid == std::process::id() {
        "bench".to_owned()
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
        let mut by_program = BTreeMap::new();
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
                *by_program.entry(program(pid, &comm)).or_insert(0.0) += seconds;
            }
        }
        Some(Self {
            by_program,
            machine_busy,
            machine_total,
        })
    }

    /// What was spent from `earlier` to `self`, per lifecycle. Programs that
    /// used less than 0.5 ms per lifecycle are summed as `other`.
    pub fn since(&self, earlier: &Snapshot, lifecycles: usize) -> PhaseCpu {
        let per = |seconds: f64| seconds * 1000.0 / lifecycles.max(1) as f64;
        let mut ms_per_lifecycle = BTreeMap::new();
        let mut other = 0.0;
        for (name, seconds) in &self.by_program {
            let spent = seconds - earlier.by_program.get(name).copied().unwrap_or(0.0);
            // Programs that ended in the meantime give a negative difference.
            if spent <= 0.0 {
                continue;
            }
            let ms = per(spent);
            if ms < 0.5 {
                other += ms;
            } else {
                ms_per_lifecycle.insert(name.clone(), round(ms));
            }
        }
        if other > 0.0 {
            ms_per_lifecycle.insert("other".to_owned(), round(other));
        }
        let total = self.machine_total - earlier.machine_total;
        PhaseCpu {
            total_ms_per_lifecycle: round(ms_per_lifecycle.values().sum()),
            ms_per_lifecycle,
            machine_busy_fraction: if total > 0.0 {
                round((self.machine_busy - earlier.machine_busy) / total)
            } else {
                0.0
            },
        }
    }
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn a_phase_is_per_lifecycle_with_small_programs_summed() {
        let at = |postgres: f64, nats: f64, busy: f64, total: f64| Snapshot {
            by_program: [
                ("postgres".to_owned(), postgres),
                ("nats-server".to_owned(), nats),
            ]
            .into_iter()
            .collect(),
            machine_busy: busy,
            machine_total: total,
        };
        let phase = at(12.0, 1.001, 18.0, 20.0).since(&at(10.0, 1.0, 10.0, 10.0), 100);
        assert_eq!(phase.ms_per_lifecycle["postgres"], 20.0);
        assert_eq!(phase.ms_per_lifecycle["other"], 0.01);
        assert_eq!(phase.total_ms_per_lifecycle, 20.01);
        assert_eq!(phase.machine_busy_fraction, 0.8);
    }

    #[test]
    fn this_machine_reports_the_bench_itself() {
        let now = Snapshot::take().expect("/proc is readable on Linux");
        assert!(now.by_program.contains_key("bench"));
        assert!(now.machine_total > 0.0);
    }
}
