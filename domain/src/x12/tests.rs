use super::*;
use chrono::TimeZone;
use proptest::prelude::*;
use rust_decimal_macros::dec;
use std::str::FromStr;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn line(id: &str, modifiers: &[&str], charge: Decimal, units: i64, day: u32) -> ServiceLine {
    ServiceLine {
        line_id: id.into(),
        procedure_code: "T1019".into(),
        modifiers: modifiers.iter().map(|m| (*m).into()).collect(),
        charge,
        units,
        service_date: date(2025, 3, day),
    }
}

fn claim(id: &str, member: &str, lines: Vec<ServiceLine>) -> Claim {
    Claim {
        claim_id: id.into(),
        subscriber: Subscriber {
            member_id: member.into(),
            last_name: "Doe".into(),
            first_name: "Jane".into(),
            address: Address {
                line1: "12 Elm St".into(),
                city: "Springfield".into(),
                state: "IL".into(),
                postal_code: "62704".into(),
            },
            date_of_birth: date(1941, 7, 4),
            gender: "F".into(),
        },
        diagnosis_codes: vec!["R262".into(), "Z7401".into(), "I10".into()],
        place_of_service: "12".into(),
        lines,
    }
}

fn interchange(claims: Vec<Claim>) -> Interchange837 {
    Interchange837 {
        control_number: 42,
        created_at: Utc.with_ymd_and_hms(2025, 4, 1, 9, 5, 0).unwrap(),
        production: false,
        agency: Agency {
            name: "Sunrise Home Care".into(),
            npi: "1234567893".into(),
            tax_id: "123456789".into(),
            taxonomy: "251E00000X".into(),
            address: Address {
                line1: "100 Main St".into(),
                city: "Springfield".into(),
                state: "IL".into(),
                postal_code: "627011234".into(),
            },
            submitter_id: "SUNRISE01".into(),
            contact_name: "Pat Biller".into(),
            contact_phone: "2175550100".into(),
        },
        payer: Payer {
            name: "Illinois Medicaid".into(),
            payer_id: "ILMCD".into(),
            claim_filing_indicator: "MC".into(),
        },
        claims,
    }
}

fn one_claim() -> Interchange837 {
    interchange(vec![claim(
        "CLM1",
        "MBR100",
        vec![line("L1", &["U1"], dec!(58), 4, 3)],
    )])
}

fn segments(file: &str) -> Vec<Vec<&str>> {
    file.split_terminator("~\n")
        .map(|segment| segment.split('*').collect())
        .collect()
}

fn render_err(ic: &Interchange837) -> X12Error {
    render_837p(ic).expect_err("rendering should have been refused")
}

#[test]
fn renders_the_whole_file() {
    let expected = "\
ISA*00*          *00*          *ZZ*SUNRISE01      *ZZ*ILMCD          *250401*0905*^*00501*000000042*0*T*:~
GS*HC*SUNRISE01*ILMCD*20250401*0905*42*X*005010X222A1~
ST*837*0001*005010X222A1~
BHT*0019*00*42*20250401*0905*CH~
NM1*41*2*Sunrise Home Care*****46*SUNRISE01~
PER*IC*Pat Biller*TE*2175550100~
NM1*40*2*Illinois Medicaid*****46*ILMCD~
HL*1**20*1~
PRV*BI*PXC*251E00000X~
NM1*85*2*Sunrise Home Care*****XX*1234567893~
N3*100 Main St~
N4*Springfield*IL*627011234~
REF*EI*123456789~
HL*2*1*22*0~
SBR*P*18*******MC~
NM1*IL*1*Doe*Jane****MI*MBR100~
N3*12 Elm St~
N4*Springfield*IL*62704~
DMG*D8*19410704*F~
NM1*PR*2*Illinois Medicaid*****PI*ILMCD~
CLM*CLM1*58.00***12:B:1*Y*A*Y*Y~
HI*ABK:R262*ABF:Z7401*ABF:I10~
LX*1~
SV1*HC:T1019:U1*58.00*UN*4***1~
DTP*472*D8*20250303~
REF*6R*L1~
SE*25*0001~
GE*1*42~
IEA*1*000000042~
";
    assert_eq!(render_837p(&one_claim()).unwrap(), expected);
}

#[test]
fn isa_is_fixed_width_and_production_flag_is_isa15() {
    let mut ic = one_claim();
    ic.production = true;
    ic.control_number = 999_999_999;
    let file = render_837p(&ic).unwrap();
    let isa = file.lines().next().unwrap();
    // 106 characters including the terminator; `lines` dropped the newline.
    assert_eq!(isa.len(), 106, "{isa}");
    let elements: Vec<&str> = isa.trim_end_matches('~').split('*').collect();
    assert_eq!(elements[13], "999999999");
    assert_eq!(elements[15], "P");
    assert!(file.ends_with("IEA*1*999999999~\n"));
    assert!(file.contains("GE*1*999999999~\n"));
}

fn several_claims() -> Interchange837 {
    interchange(vec![
        claim(
            "CLM1",
            "MBR100",
            vec![
                line("L1", &["U1", "TT"], dec!(58.25), 4, 3),
                line("L2", &[], dec!(29.10), 2, 4),
            ],
        ),
        claim(
            "CLM2",
            "MBR200",
            vec![line("L3", &["U1"], dec!(14.5), 1, 5)],
        ),
        claim(
            "CLM3",
            "MBR300",
            (1..=5)
                .map(|i| {
                    line(
                        &format!("L4-{i}"),
                        &["U1", "TT", "GT", "KX"],
                        dec!(0.99),
                        1,
                        i,
                    )
                })
                .collect(),
        ),
    ])
}

#[test]
fn se01_counts_the_segments_from_st_to_se() {
    for ic in [one_claim(), several_claims()] {
        let file = render_837p(&ic).unwrap();
        let segs = segments(&file);
        let st = segs.iter().position(|s| s[0] == "ST").unwrap();
        let se = segs.iter().position(|s| s[0] == "SE").unwrap();
        assert_eq!(segs[se][1], (se - st + 1).to_string());
        assert_eq!(segs[se][2], segs[st][2]);
        assert_eq!(segs.iter().filter(|s| s[0] == "ST").count(), 1);
        assert_eq!(segs.last().unwrap()[0], "IEA");
    }
}

#[test]
fn hl_numbering_puts_each_subscriber_under_the_billing_provider() {
    let file = render_837p(&several_claims()).unwrap();
    let hls: Vec<Vec<&str>> = segments(&file)
        .into_iter()
        .filter(|s| s[0] == "HL")
        .collect();
    assert_eq!(
        hls,
        vec![
            vec!["HL", "1", "", "20", "1"],
            vec!["HL", "2", "1", "22", "0"],
            vec!["HL", "3", "1", "22", "0"],
            vec!["HL", "4", "1", "22", "0"],
        ]
    );
    // LX restarts at 1 in every claim.
    let lx: Vec<&str> = segments(&file)
        .into_iter()
        .filter(|s| s[0] == "LX")
        .map(|s| s[1])
        .collect();
    assert_eq!(lx, ["1", "2", "1", "1", "2", "3", "4", "5"]);
}

#[test]
fn clm02_is_the_sum_of_the_lines() {
    let ic = several_claims();
    let file = render_837p(&ic).unwrap();
    let clm: Vec<Vec<&str>> = segments(&file)
        .into_iter()
        .filter(|s| s[0] == "CLM")
        .collect();
    assert_eq!(clm[0][2], "87.35");
    assert_eq!(clm[1][2], "14.50");
    assert_eq!(clm[2][2], "4.95");
    for (rendered, claim) in clm.iter().zip(&ic.claims) {
        assert_eq!(Decimal::from_str(rendered[2]).unwrap(), claim.total());
    }
    assert!(file.contains("SV1*HC:T1019:U1:TT:GT:KX*0.99*UN*1***1~\n"));
    assert!(file.contains("SV1*HC:T1019*29.10*UN*2***1~\n"));
}

#[test]
fn zero_charge_is_rendered_without_sign() {
    let mut ic = one_claim();
    ic.claims[0].lines[0].charge = -Decimal::ZERO;
    let file = render_837p(&ic).unwrap();
    assert!(file.contains("CLM*CLM1*0.00***"), "{file}");
    assert!(file.contains("SV1*HC:T1019:U1*0.00*UN*"), "{file}");
}

#[test]
fn diagnosis_qualifiers_abk_then_abf_up_to_twelve() {
    let mut ic = one_claim();
    ic.claims[0].diagnosis_codes = (0..12).map(|i| format!("Z{:02}", 10 + i)).collect();
    let file = render_837p(&ic).unwrap();
    let hi = segments(&file).into_iter().find(|s| s[0] == "HI").unwrap();
    assert_eq!(hi.len(), 13);
    assert_eq!(hi[1], "ABK:Z10");
    assert!(hi[2..].iter().all(|e| e.starts_with("ABF:")));
}

#[test]
fn no_claims() {
    assert_eq!(render_err(&interchange(vec![])), X12Error::NoClaims);
}

#[test]
fn claim_without_lines() {
    let mut ic = one_claim();
    ic.claims[0].lines.clear();
    assert_eq!(
        render_err(&ic),
        X12Error::NoServiceLines {
            claim: "claims[0]".into()
        }
    );
}

#[test]
fn claim_without_diagnoses() {
    let mut ic = one_claim();
    ic.claims[0].diagnosis_codes.clear();
    assert_eq!(
        render_err(&ic),
        X12Error::NoDiagnoses {
            claim: "claims[0]".into()
        }
    );
}

#[test]
fn more_than_twelve_diagnoses() {
    let mut ic = one_claim();
    ic.claims[0].diagnosis_codes = vec!["I10".into(); 13];
    assert_eq!(
        render_err(&ic),
        X12Error::TooManyDiagnoses {
            claim: "claims[0]".into(),
            count: 13
        }
    );
}

#[test]
fn fifty_lines_fit_but_not_fifty_one() {
    let mut ic = one_claim();
    ic.claims[0].lines = (0..50)
        .map(|i| line(&format!("L{i}"), &[], dec!(1), 1, 1))
        .collect();
    let file = render_837p(&ic).unwrap();
    assert!(file.contains("CLM*CLM1*50.00*"));
    ic.claims[0].lines.push(line("L51", &[], dec!(1), 1, 1));
    assert_eq!(
        render_err(&ic),
        X12Error::TooManyLines {
            claim: "claims[0]".into(),
            count: 51
        }
    );
}

#[test]
fn more_than_four_modifiers() {
    let mut ic = one_claim();
    ic.claims[0].lines[0].modifiers = ["U1", "TT", "GT", "KX", "59"].map(String::from).into();
    assert_eq!(
        render_err(&ic),
        X12Error::TooManyModifiers {
            field: "claims[0].lines[0].modifiers".into(),
            count: 5
        }
    );
}

#[test]
fn delimiters_in_fields_are_refused() {
    for character in ['*', ':', '^', '~'] {
        let mut ic = one_claim();
        ic.claims[0].subscriber.last_name = format!("O{character}Brien");
        assert_eq!(
            render_err(&ic),
            X12Error::DelimiterInField {
                field: "claims[0].subscriber.last_name".into(),
                character
            }
        );
    }
    let mut ic = one_claim();
    ic.agency.name = "Sunrise*Care".into();
    assert!(
        matches!(render_err(&ic), X12Error::DelimiterInField { field, .. } if field == "agency.name")
    );
    let mut ic = one_claim();
    ic.claims[0].lines[0].line_id = "L~1".into();
    assert!(
        matches!(render_err(&ic), X12Error::DelimiterInField { field, .. } if field == "claims[0].lines[0].line_id")
    );
    let mut ic = one_claim();
    ic.claims[0].lines[0].modifiers = vec!["U:".into()];
    assert!(
        matches!(render_err(&ic), X12Error::DelimiterInField { field, .. } if field == "claims[0].lines[0].modifiers[0]")
    );
}

#[test]
fn characters_outside_the_x12_set_are_refused() {
    for (value, character) in [("Zoë", 'ë'), ("Line\nBreak", '\n'), ("Tab\there", '\t')] {
        let mut ic = one_claim();
        ic.claims[0].subscriber.first_name = value.into();
        assert_eq!(
            render_err(&ic),
            X12Error::InvalidCharacter {
                field: "claims[0].subscriber.first_name".into(),
                character
            }
        );
    }
}

#[test]
fn empty_required_fields_are_refused() {
    type Mutation = fn(&mut Interchange837);
    let cases: Vec<(&str, Mutation)> = vec![
        ("agency.name", |ic| ic.agency.name.clear()),
        ("agency.contact_name", |ic| {
            ic.agency.contact_name = "  ".into()
        }),
        ("payer.name", |ic| ic.payer.name.clear()),
        ("payer.payer_id", |ic| ic.payer.payer_id.clear()),
        ("claims[0].claim_id", |ic| ic.claims[0].claim_id.clear()),
        ("claims[0].subscriber.member_id", |ic| {
            ic.claims[0].subscriber.member_id.clear()
        }),
        ("claims[0].subscriber.address.city", |ic| {
            ic.claims[0].subscriber.address.city.clear()
        }),
        ("claims[0].lines[0].line_id", |ic| {
            ic.claims[0].lines[0].line_id.clear()
        }),
        ("claims[0].diagnosis_codes[0]", |ic| {
            ic.claims[0].diagnosis_codes[0].clear()
        }),
    ];
    for (field, mutate) in cases {
        let mut ic = one_claim();
        mutate(&mut ic);
        assert_eq!(
            render_err(&ic),
            X12Error::EmptyField {
                field: field.into()
            }
        );
    }
}

#[test]
fn over_long_fields_are_refused_not_truncated() {
    let mut ic = one_claim();
    ic.claims[0].claim_id = "C".repeat(21);
    assert_eq!(
        render_err(&ic),
        X12Error::FieldLength {
            field: "claims[0].claim_id".into(),
            len: 21,
            min: 1,
            max: 20
        }
    );
    let mut ic = one_claim();
    ic.agency.submitter_id = "S".repeat(16);
    assert!(
        matches!(render_err(&ic), X12Error::FieldLength { field, max: 15, .. } if field == "agency.submitter_id")
    );
}

#[test]
fn npi_check_digit() {
    assert!(npi_is_valid("1234567893"));
    assert!(!npi_is_valid("1234567890"));
    assert!(!npi_is_valid("123456789"));
    assert!(!npi_is_valid("12345678930"));
    assert!(!npi_is_valid("12345678a3"));
    assert!(!npi_is_valid(""));
    let mut ic = one_claim();
    ic.agency.npi = "1234567890".into();
    assert_eq!(
        render_err(&ic),
        X12Error::InvalidNpi {
            field: "agency.npi".into(),
            value: "1234567890".into()
        }
    );
}

#[test]
fn tax_id_must_be_nine_digits() {
    for bad in ["12-3456789", "12345678", "1234567890", "12345678A"] {
        let mut ic = one_claim();
        ic.agency.tax_id = bad.into();
        assert_eq!(
            render_err(&ic),
            X12Error::InvalidTaxId {
                field: "agency.tax_id".into(),
                value: bad.into()
            }
        );
    }
}

#[test]
fn postal_codes_are_five_or_nine_digits_and_zip4_for_the_billing_provider() {
    for bad in ["6270", "627041", "62704-1234", "6270A"] {
        let mut ic = one_claim();
        ic.claims[0].subscriber.address.postal_code = bad.into();
        assert!(
            matches!(render_err(&ic), X12Error::InvalidPostalCode { field, .. } if field == "claims[0].subscriber.address.postal_code"),
            "{bad}"
        );
    }
    let mut ic = one_claim();
    ic.claims[0].subscriber.address.postal_code = "627041234".into();
    assert!(
        render_837p(&ic)
            .unwrap()
            .contains("N4*Springfield*IL*627041234~")
    );
    ic.agency.address.postal_code = "62701".into();
    assert!(
        matches!(render_err(&ic), X12Error::InvalidPostalCode { field, .. } if field == "agency.address.postal_code")
    );
}

#[test]
fn state_must_be_two_upper_case_letters() {
    for bad in ["Il", "ILL", "I", "1L", "XX"] {
        let mut ic = one_claim();
        ic.claims[0].subscriber.address.state = bad.into();
        assert_eq!(
            render_err(&ic),
            X12Error::InvalidState {
                field: "claims[0].subscriber.address.state".into(),
                value: bad.into()
            }
        );
    }
}

#[test]
fn units_must_be_at_least_one() {
    for units in [0, -3, 1_000_000_000_000_000] {
        let mut ic = one_claim();
        ic.claims[0].lines[0].units = units;
        assert_eq!(
            render_err(&ic),
            X12Error::InvalidUnits {
                field: "claims[0].lines[0].units".into(),
                units
            }
        );
    }
}

#[test]
fn charges_must_not_be_negative_or_finer_than_cents() {
    let mut ic = one_claim();
    ic.claims[0].lines[0].charge = dec!(-0.01);
    assert_eq!(
        render_err(&ic),
        X12Error::NegativeCharge {
            field: "claims[0].lines[0].charge".into(),
            charge: dec!(-0.01)
        }
    );
    ic.claims[0].lines[0].charge = dec!(1.005);
    assert!(
        matches!(render_err(&ic), X12Error::InvalidAmount { field, .. } if field == "claims[0].lines[0].charge")
    );
    // Trailing zeros beyond cents are only scale, not precision.
    ic.claims[0].lines[0].charge = dec!(1.5000);
    assert!(
        render_837p(&ic)
            .unwrap()
            .contains("SV1*HC:T1019:U1*1.50*UN*4***1~")
    );
}

#[test]
fn control_number_range() {
    for value in [0, 1_000_000_000, u32::MAX] {
        let mut ic = one_claim();
        ic.control_number = value;
        assert_eq!(render_err(&ic), X12Error::ControlNumberOutOfRange { value });
    }
    let mut ic = one_claim();
    ic.control_number = 1;
    assert!(
        render_837p(&ic)
            .unwrap()
            .contains("*00501*000000001*0*T*:~")
    );
}

#[test]
fn coded_fields_are_checked() {
    let mut ic = one_claim();
    ic.claims[0].subscriber.gender = "X".into();
    assert!(
        matches!(render_err(&ic), X12Error::InvalidCode { field, .. } if field == "claims[0].subscriber.gender")
    );
    let mut ic = one_claim();
    ic.payer.claim_filing_indicator = "XY".into();
    assert!(
        matches!(render_err(&ic), X12Error::InvalidCode { field, .. } if field == "payer.claim_filing_indicator")
    );
    let mut ic = one_claim();
    ic.claims[0].diagnosis_codes[1] = "R26.2".into();
    assert!(
        matches!(render_err(&ic), X12Error::InvalidCode { field, .. } if field == "claims[0].diagnosis_codes[1]")
    );
    let mut ic = one_claim();
    ic.claims[0].place_of_service = "home".into();
    assert!(
        matches!(render_err(&ic), X12Error::InvalidCode { field, .. } if field == "claims[0].place_of_service")
    );
    let mut ic = one_claim();
    ic.agency.contact_phone = "217-555-0100".into();
    assert!(
        matches!(render_err(&ic), X12Error::InvalidCode { field, .. } if field == "agency.contact_phone")
    );
    let mut ic = one_claim();
    ic.claims[0].lines[0].modifiers = vec!["u1".into()];
    assert!(
        matches!(render_err(&ic), X12Error::InvalidCode { field, .. } if field == "claims[0].lines[0].modifiers[0]")
    );
    let mut ic = one_claim();
    ic.claims[0].lines[0].procedure_code = "t1019".into();
    assert!(
        matches!(render_err(&ic), X12Error::InvalidCode { field, .. } if field == "claims[0].lines[0].procedure_code")
    );
}

#[test]
fn errors_read_clearly() {
    assert_eq!(
        X12Error::TooManyDiagnoses {
            claim: "claims[1]".into(),
            count: 13
        }
        .to_string(),
        "claims[1] has 13 diagnosis codes; an 837P claim holds at most 12"
    );
    assert_eq!(
        X12Error::DelimiterInField {
            field: "agency.name".into(),
            character: '*'
        }
        .to_string(),
        "agency.name contains the X12 delimiter '*' (reserved: * : ^ ~)"
    );
}

/// Cents in 0.00..=9_999.99, rendered as a two-decimal `Decimal`.
fn charge_strategy() -> impl Strategy<Value = Decimal> {
    (0i64..=999_999).prop_map(|cents| Decimal::new(cents, 2))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn clm02_parses_back_to_the_sum_of_sv102(
        claims in prop::collection::vec(
            prop::collection::vec((charge_strategy(), 1i64..=96), 1..20),
            1..5,
        )
    ) {
        let ic = interchange(
            claims
                .iter()
                .enumerate()
                .map(|(c, lines)| {
                    claim(
                        &format!("C{c}"),
                        &format!("MBR{c}"),
                        lines
                            .iter()
                            .enumerate()
                            .map(|(l, (charge, units))| {
                                line(&format!("L{c}-{l}"), &["U1"], *charge, *units, 1)
                            })
                            .collect(),
                    )
                })
                .collect(),
        );
        let file = render_837p(&ic).unwrap();
        // (CLM02, sum of the SV102 that follow it) per claim.
        let mut parsed: Vec<(Decimal, Decimal)> = Vec::new();
        for segment in segments(&file) {
            match segment[0] {
                "CLM" => parsed.push((Decimal::from_str(segment[2]).unwrap(), Decimal::ZERO)),
                "SV1" => parsed.last_mut().unwrap().1 += Decimal::from_str(segment[2]).unwrap(),
                _ => {}
            }
        }
        prop_assert_eq!(parsed.len(), claims.len());
        for ((clm02, sv102_sum), lines) in parsed.iter().zip(&claims) {
            prop_assert_eq!(clm02, sv102_sum);
            let expected: Decimal = lines.iter().map(|(charge, _)| *charge).sum();
            prop_assert_eq!(*clm02, expected);
        }
    }
}
