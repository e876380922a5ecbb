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

mod support;

use support::pyx12::pyx12_check;

use chrono::{NaiveDate, TimeZone, Utc};
use homecare_domain::x12::{
    Address, Agency, Claim, Interchange837, Payer, ServiceLine, Subscriber, render_837p,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

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
