//! Validation of 837P files with pyx12, an independent X12 validator, shared by
//! the tests that render claims (`#[path]`-included from other crates' tests).
//!
//! `x12valid` exits 0 even when the file is invalid, so a file counts as valid
//! only when its verdict, its 999 acknowledgement and its JSON report agree.
//! The tests fail, never skip, when `python3` or pyx12 is missing.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const INSTALL_HINT: &str = "pyx12 is required for this test: install with python3 -m pip install pyx12 \
     (and make sure `python3` on PATH is the interpreter it was installed for)";

/// A scratch directory unique to this process and call, removed when dropped
/// unless the test is panicking (so a failure leaves the files to look at).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "homecare-x12-pyx12-{}-{}-{name}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch directory");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Panics with install instructions unless `python3` can import pyx12.
fn require_pyx12() {
    let output = Command::new("python3")
        .args(["-c", "import pyx12.scripts.x12valid"])
        .output()
        .unwrap_or_else(|error| panic!("cannot run python3 ({error}). {INSTALL_HINT}"));
    assert!(
        output.status.success(),
        "python3 cannot import pyx12: {}\n{INSTALL_HINT}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

/// Runs pyx12's x12valid on `content`; `Err` lists every sign of an invalid file.
pub fn pyx12_check(name: &str, content: &str) -> Result<(), String> {
    require_pyx12();
    let scratch = Scratch::new(name);
    let file = scratch.0.join(format!("{name}.x12"));
    std::fs::write(&file, content).expect("write the 837P file");
    let ack = with_suffix(&file, ".997");
    let json = with_suffix(&file, ".json");

    let output = Command::new("python3")
        .args(["-m", "pyx12.scripts.x12valid", "-J"])
        .arg(&file)
        .current_dir(&scratch.0)
        .output()
        .unwrap_or_else(|error| panic!("cannot run python3 ({error}). {INSTALL_HINT}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut problems = Vec::new();

    if !output.status.success() {
        problems.push(format!("x12valid exited with {}", output.status));
    }
    let verdict = format!("{}: ", file.display());
    if !stderr.contains(&format!("{verdict}OK")) {
        problems.push("x12valid did not report OK".into());
    }
    if stderr.contains(&format!("{verdict}Failure")) {
        problems.push("x12valid reported Failure".into());
    }
    for log_line in stdout.lines().chain(stderr.lines()) {
        if log_line.contains(" ERROR ") || log_line.contains("Traceback") {
            problems.push(format!("x12valid logged: {log_line}"));
        }
    }

    match std::fs::read_to_string(&ack) {
        Err(error) => problems.push(format!(
            "no 999 acknowledgement at {}: {error}",
            ack.display()
        )),
        Ok(ack_text) => problems.extend(ack_problems(&ack_text)),
    }
    match std::fs::read_to_string(&json) {
        Err(error) => problems.push(format!("no JSON report at {}: {error}", json.display())),
        Ok(json_text) => match serde_json::from_str::<serde_json::Value>(&json_text) {
            Err(error) => problems.push(format!("JSON report does not parse: {error}")),
            Ok(report) => json_problems(&report, "$", &mut problems),
        },
    }

    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "pyx12 rejects {name} ({}):\n- {}\n--- x12valid stderr ---\n{stderr}\n--- file ---\n{content}",
            file.display(),
            problems.join("\n- ")
        ))
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Problems a 999 acknowledgement reports: anything but full acceptance.
fn ack_problems(ack: &str) -> Vec<String> {
    let segments: Vec<Vec<&str>> = ack
        .split('~')
        .map(str::trim)
        .filter(|segment| !segment.is_empty())
        .map(|segment| segment.split('*').collect())
        .collect();
    let mut problems = Vec::new();
    let mut ik5 = 0;
    let mut ak9 = 0;
    for segment in &segments {
        match segment[0] {
            "IK3" | "IK4" | "CTX" => {
                problems.push(format!("999 error segment {}", segment.join("*")))
            }
            "IK5" => {
                ik5 += 1;
                if segment.get(1) != Some(&"A") || segment.len() > 2 {
                    problems.push(format!(
                        "999 transaction not accepted: {}",
                        segment.join("*")
                    ));
                }
            }
            "AK9" => {
                ak9 += 1;
                if segment.get(1) != Some(&"A") || segment.get(2) != segment.get(4) {
                    problems.push(format!("999 group not accepted: {}", segment.join("*")));
                }
            }
            _ => {}
        }
    }
    if ik5 == 0 || ak9 == 0 {
        problems.push(format!("999 has {ik5} IK5 and {ak9} AK9 segments:\n{ack}"));
    }
    problems
}

/// Walks pyx12's JSON report: every `errors` array must be empty and every
/// `ack_code` must be `A`.
fn json_problems(value: &serde_json::Value, path: &str, problems: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                let child_path = format!("{path}.{key}");
                match (key.as_str(), child) {
                    ("errors", serde_json::Value::Array(errors)) if !errors.is_empty() => {
                        problems.push(format!("JSON {child_path}: {child}"));
                    }
                    ("ack_code", code) if code != "A" => {
                        problems.push(format!("JSON {child_path} is {code}"));
                    }
                    _ => json_problems(child, &child_path, problems),
                }
            }
        }
        serde_json::Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                json_problems(item, &format!("{path}[{index}]"), problems);
            }
        }
        _ => {}
    }
}
