//! Validates rendered 837P files with pyx12, an independent X12 validator that
//! checks them against its 005010X222A1 map (segments, loops, HL structure,
//! element lengths and types, code values, SE/GE/IEA counts).
//!
//! pyx12 is required: install it with `python3 -m pip install pyx12`. These
//! tests fail, never skip, when `python3` or pyx12 is missing.
//!
//! `x12valid` exits 0 even when the file is invalid, so a file counts as valid
//! only when all of these agree:
//! - the process exits successfully and prints `<file>: OK` (not `Failure`) and
//!   no `ERROR` log line;
//! - the 999 acknowledgement it writes accepts everything (`IK5*A`, `AK9*A`)
//!   and has no IK3/IK4/CTX error segments;
//! - its JSON error report (`-J`) has no errors anywhere and only `A` ack codes.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{NaiveDate, TimeZone, Utc};
use homecare_domain::x12::{
    Address, Agency, Claim, Interchange837, Payer, ServiceLine, Subscriber, render_837p,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const INSTALL_HINT: &str = "pyx12 is required for this test: install with python3 -m pip install pyx12 \
     (and make sure `python3` on PATH is the interpreter it was installed for)";

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn agency() -> Agency {
    Agency {
        name: "SUNRISE HOME CARE LLC".into(),
        npi: "1234567893".into(),
        tax_id: "123456789".into(),
        taxonomy: "251E00000X".into(),
        address: Address {
            line1: "100 MAIN ST SUITE 200".into(),
            city: "SPRINGFIELD".into(),
            state: "IL".into(),
            postal_code: "627011234".into(),
        },
        submitter_id: "SUNRISE01".into(),
        contact_name: "PAT BILLER".into(),
        contact_phone: "2175550100".into(),
    }
}

fn payer() -> Payer {
    Payer {
        name: "ILLINOIS MEDICAID".into(),
        payer_id: "IL0001".into(),
        claim_filing_indicator: "MC".into(),
    }
}

fn subscriber(member_id: &str, last: &str, first: &str, postal_code: &str) -> Subscriber {
    Subscriber {
        member_id: member_id.into(),
        last_name: last.into(),
        first_name: first.into(),
        address: Address {
            line1: "12 ELM ST APT 3".into(),
            city: "SPRINGFIELD".into(),
            state: "IL".into(),
            postal_code: postal_code.into(),
        },
        date_of_birth: date(1941, 7, 4),
        gender: "F".into(),
    }
}

fn line(id: &str, modifiers: &[&str], charge: Decimal, units: i64, day: u32) -> ServiceLine {
    ServiceLine {
        line_id: id.into(),
        procedure_code: "T1019".into(),
        modifiers: modifiers.iter().map(|m| (*m).to_string()).collect(),
        charge,
        units,
        service_date: date(2025, 3, day),
    }
}

fn interchange(control_number: u32, production: bool, claims: Vec<Claim>) -> Interchange837 {
    Interchange837 {
        control_number,
        created_at: Utc.with_ymd_and_hms(2025, 4, 1, 14, 30, 0).unwrap(),
        production,
        agency: agency(),
        payer: payer(),
        claims,
    }
}

fn one_claim_one_line() -> Interchange837 {
    interchange(
        1,
        false,
        vec![Claim {
            claim_id: "INV2025030001".into(),
            subscriber: subscriber("MCD123456789", "DOE", "JANE", "62704"),
            diagnosis_codes: vec!["R262".into()],
            place_of_service: "12".into(),
            lines: vec![line("IL-1", &[], dec!(58.00), 4, 3)],
        }],
    )
}

fn several_claims() -> Interchange837 {
    interchange(
        123_456_789,
        true,
        vec![
            Claim {
                claim_id: "INV2025030002".into(),
                subscriber: subscriber("MCD123456789", "DOE", "JANE", "62704"),
                diagnosis_codes: vec!["R262".into(), "Z7401".into(), "I10".into()],
                place_of_service: "12".into(),
                lines: vec![
                    line("IL-2", &["U1"], dec!(58.25), 4, 3),
                    line("IL-3", &["U1", "TT"], dec!(29.10), 2, 4),
                    line("IL-4", &["U1", "TT", "GT", "KX"], dec!(14.5), 1, 5),
                ],
            },
            Claim {
                claim_id: "INV2025030003".into(),
                subscriber: Subscriber {
                    gender: "M".into(),
                    date_of_birth: date(1938, 2, 28),
                    ..subscriber("MCD987654321", "O'BRIEN-SMITH", "JOHN", "62702")
                },
                // Twelve diagnoses, the most one claim holds.
                diagnosis_codes: [
                    "I10", "E119", "Z7401", "R262", "M170", "I509", "N183", "F0390", "Z9181",
                    "R531", "E785", "Z9981",
                ]
                .map(String::from)
                .into(),
                place_of_service: "12".into(),
                lines: (1..=31)
                    .map(|day| line(&format!("IL-5-{day}"), &["U1"], dec!(116.00), 8, day))
                    .collect(),
            },
            Claim {
                claim_id: "INV2025030004".into(),
                subscriber: subscriber("MCD555000111", "NGUYEN", "MAI", "62703"),
                diagnosis_codes: vec!["Z7401".into(), "I10".into()],
                place_of_service: "12".into(),
                lines: vec![line("IL-6", &["TT"], dec!(0), 1, 10)],
            },
        ],
    )
}

fn nine_digit_zip() -> Interchange837 {
    let mut ic = one_claim_one_line();
    ic.control_number = 987_654_321;
    ic.claims[0].subscriber = subscriber("MCD222333444", "SMITH", "ALEX", "627041234");
    ic.claims[0].diagnosis_codes = vec!["Z7401".into(), "R262".into()];
    ic
}

fn fifty_lines() -> Interchange837 {
    let mut ic = one_claim_one_line();
    ic.claims[0].lines = (0..50)
        .map(|i| line(&format!("IL-50-{i}"), &["U1"], dec!(14.50), 1, 1 + i % 28))
        .collect();
    ic
}

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
fn pyx12_check(name: &str, content: &str) -> Result<(), String> {
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

fn assert_pyx12_accepts(name: &str, interchange: &Interchange837) {
    let file = render_837p(interchange).expect("render the interchange");
    if let Err(report) = pyx12_check(name, &file) {
        panic!("{report}");
    }
}

#[test]
fn pyx12_accepts_one_claim_with_one_line() {
    assert_pyx12_accepts("one_claim_one_line", &one_claim_one_line());
}

#[test]
fn pyx12_accepts_several_claims_with_modifiers_and_diagnoses() {
    assert_pyx12_accepts("several_claims", &several_claims());
}

#[test]
fn pyx12_accepts_a_nine_digit_zip() {
    let ic = nine_digit_zip();
    assert!(render_837p(&ic).unwrap().contains("*IL*627041234~"));
    assert_pyx12_accepts("nine_digit_zip", &ic);
}

#[test]
fn pyx12_accepts_fifty_lines_in_one_claim() {
    assert_pyx12_accepts("fifty_lines", &fifty_lines());
}

/// Replaces the first segment starting with `prefix` by `replacement`.
fn corrupt(file: &str, prefix: &str, replacement: &str) -> String {
    let mut replaced = false;
    let corrupted: String = file
        .split_inclusive("~\n")
        .map(|segment| {
            if !replaced && segment.starts_with(prefix) {
                replaced = true;
                format!("{replacement}~\n")
            } else {
                segment.to_string()
            }
        })
        .collect();
    assert!(replaced, "no segment starts with {prefix}");
    corrupted
}

fn assert_pyx12_rejects(name: &str, corrupted: &str, expected_in_report: &str) {
    match pyx12_check(name, corrupted) {
        Ok(()) => panic!("the check passed a broken file ({name}):\n{corrupted}"),
        Err(report) => assert!(
            report.contains(expected_in_report),
            "the report for {name} does not mention {expected_in_report:?}:\n{report}"
        ),
    }
}

#[test]
fn the_check_rejects_a_wrong_se_segment_count() {
    let file = render_837p(&several_claims()).unwrap();
    let se = file.lines().find(|l| l.starts_with("SE*")).unwrap();
    let count: usize = se.split('*').nth(1).unwrap().parse().unwrap();
    let broken = corrupt(&file, "SE*", &format!("SE*{}*0001", count - 1));
    assert_pyx12_rejects("wrong_se_count", &broken, "SE count");
}

#[test]
fn the_check_rejects_a_wrong_ge_transaction_count() {
    let file = render_837p(&one_claim_one_line()).unwrap();
    let broken = corrupt(&file, "GE*", "GE*2*1");
    assert_pyx12_rejects("wrong_ge_count", &broken, "GE count");
}

#[test]
fn the_check_rejects_an_iea_control_number_mismatch() {
    // pyx12's 999 still accepts the transaction set here: only its log, its
    // verdict line and the JSON report carry the interchange-level error.
    let file = render_837p(&one_claim_one_line()).unwrap();
    let broken = corrupt(&file, "IEA*", "IEA*1*000000002");
    assert_pyx12_rejects("wrong_iea_control", &broken, "does not match ISA id");
}

#[test]
fn the_check_rejects_bad_element_values() {
    let file = render_837p(&one_claim_one_line()).unwrap();
    // An impossible birth date, then a unit code that does not exist.
    let broken = corrupt(&file, "DMG*", "DMG*D8*19411304*F");
    assert_pyx12_rejects("bad_birth_date", &broken, "IK4");
    let broken = corrupt(&file, "SV1*", "SV1*HC:T1019*58.00*XX*4***1");
    assert_pyx12_rejects("bad_unit_code", &broken, "IK4");
}

#[test]
fn the_check_rejects_a_missing_required_segment() {
    let file = render_837p(&one_claim_one_line()).unwrap();
    let without_hi: String = file
        .split_inclusive("~\n")
        .filter(|segment| !segment.starts_with("HI*"))
        .collect();
    let without_hi = without_hi.replacen("SE*25*", "SE*24*", 1);
    assert_pyx12_rejects("missing_hi", &without_hi, "Mandatory segment");
}
