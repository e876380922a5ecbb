//! ANSI X12 837P (005010X222A1) professional claims, rendered from plain data.
//!
//! The billing activities gather an [`Interchange837`] from the database (the
//! agency as billing provider and submitter, one payer as receiver, one claim per
//! client and billing period, one service line per invoice line); this module only
//! turns it into the segments payers accept. No I/O.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::codes::{ClaimFilingIndicator, UsState};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub line1: String,
    pub city: String,
    /// Two-letter state code.
    pub state: String,
    /// Five or nine digits.
    pub postal_code: String,
}

/// The agency: submitter (1000A) and billing provider (2010AA).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agency {
    pub name: String,
    /// Ten-digit NPI (with a valid check digit).
    pub npi: String,
    /// Employer identification number, nine digits.
    pub tax_id: String,
    /// Provider taxonomy code (PRV*BI), e.g. `251E00000X` home health.
    pub taxonomy: String,
    pub address: Address,
    /// Submitter identifier the payer assigned (ISA06, GS02, 1000A NM109).
    pub submitter_id: String,
    pub contact_name: String,
    /// Ten digits.
    pub contact_phone: String,
}

/// The payer: receiver (1000B) and payer (2010BB).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payer {
    pub name: String,
    /// Payer identifier (ISA08, GS03, 1000B and 2010BB NM109).
    pub payer_id: String,
    /// SBR09 claim filing indicator: `MC` Medicaid, `CI` commercial, `MB` Medicare B, ...
    pub claim_filing_indicator: String,
}

/// The client as subscriber and patient (the subscriber is the patient: SBR02 = 18).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscriber {
    pub member_id: String,
    pub last_name: String,
    pub first_name: String,
    pub address: Address,
    pub date_of_birth: NaiveDate,
    /// `F`, `M` or `U`.
    pub gender: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceLine {
    /// Line item control number (REF*6R): the invoice line id, 1–50 characters.
    pub line_id: String,
    /// HCPCS code, e.g. `T1019`.
    pub procedure_code: String,
    /// Up to four two-character modifiers.
    pub modifiers: Vec<String>,
    pub charge: Decimal,
    pub units: i64,
    pub service_date: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// Patient control number (CLM01), 1–20 characters.
    pub claim_id: String,
    pub subscriber: Subscriber,
    /// ICD-10-CM codes without the dot; the first is the principal diagnosis.
    pub diagnosis_codes: Vec<String>,
    /// CMS place of service code; `12` is the patient's home.
    pub place_of_service: String,
    pub lines: Vec<ServiceLine>,
}

impl Claim {
    /// CLM02: the sum of the service lines' charges.
    pub fn total(&self) -> Decimal {
        self.lines.iter().map(|line| line.charge).sum()
    }
}

/// One 837P file: one interchange, one functional group, one transaction set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interchange837 {
    /// ISA13 and GS06, 1..=999_999_999.
    pub control_number: u32,
    pub created_at: DateTime<Utc>,
    /// ISA15: `P` when true, `T` (test) otherwise.
    pub production: bool,
    pub agency: Agency,
    pub payer: Payer,
    pub claims: Vec<Claim>,
}

/// Element separator (ISA04 is implied by its position in the ISA segment).
const ELEMENT_SEPARATOR: char = '*';
/// Component element separator (ISA16).
const COMPONENT_SEPARATOR: char = ':';
/// Repetition separator (ISA11).
const REPETITION_SEPARATOR: char = '^';
/// Segment terminator; the newline after it is for people reading the file.
const SEGMENT_TERMINATOR: char = '~';
const DELIMITERS: [char; 4] = [
    ELEMENT_SEPARATOR,
    COMPONENT_SEPARATOR,
    REPETITION_SEPARATOR,
    SEGMENT_TERMINATOR,
];

/// The implementation guide this module writes (GS08, ST03).
pub const IMPLEMENTATION_GUIDE: &str = "005010X222A1";
/// Health care diagnosis codes in one HI segment (HI01..HI12).
pub const MAX_DIAGNOSES: usize = 12;
/// Service lines (loop 2400) in one claim.
pub const MAX_LINES_PER_CLAIM: usize = 50;
/// Procedure modifiers in one SV101 (SV101-3..SV101-6).
pub const MAX_MODIFIERS: usize = 4;
/// Claims (loop 2300) the guide recommends at most in one transaction set.
pub const MAX_CLAIMS: usize = 5000;
/// ISA13 is nine digits and GS06 at most nine.
pub const MAX_CONTROL_NUMBER: u32 = 999_999_999;
/// Significant digits an `R` element such as CLM02 or SV102 may carry.
const MAX_AMOUNT_DIGITS: usize = 18;
/// Significant digits of SV104 (service unit count).
const MAX_UNIT_DIGITS: usize = 15;
/// ST02 / SE02: one transaction set per file.
const TRANSACTION_SET_CONTROL_NUMBER: &str = "0001";

/// Why an [`Interchange837`] cannot be rendered into a valid 837P file.
///
/// `field` names the offending input as a path, e.g. `claims[2].lines[0].charge`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum X12Error {
    #[error("the interchange has no claims; an 837P needs at least one")]
    NoClaims,
    #[error("the interchange has {count} claims; one transaction set holds at most {MAX_CLAIMS}")]
    TooManyClaims { count: usize },
    #[error("{claim} has no service lines; a claim needs at least one")]
    NoServiceLines { claim: String },
    #[error("{claim} has no diagnosis codes; a claim needs at least one")]
    NoDiagnoses { claim: String },
    #[error("{claim} has {count} diagnosis codes; an 837P claim holds at most {MAX_DIAGNOSES}")]
    TooManyDiagnoses { claim: String, count: usize },
    #[error("{claim} has {count} service lines; an 837P claim holds at most {MAX_LINES_PER_CLAIM}")]
    TooManyLines { claim: String, count: usize },
    #[error("{field} has {count} modifiers; a service line holds at most {MAX_MODIFIERS}")]
    TooManyModifiers { field: String, count: usize },
    #[error("{field} is empty but the 837P requires it")]
    EmptyField { field: String },
    #[error("{field} contains the X12 delimiter {character:?} (reserved: * : ^ ~)")]
    DelimiterInField { field: String, character: char },
    #[error("{field} contains {character:?}, which is not in the X12 extended character set")]
    InvalidCharacter { field: String, character: char },
    #[error("{field} is {len} characters long; it must be {min} to {max}")]
    FieldLength {
        field: String,
        len: usize,
        min: usize,
        max: usize,
    },
    #[error(
        "{field} {value:?} is not a valid NPI (ten digits with a Luhn check digit over prefix 80840)"
    )]
    InvalidNpi { field: String, value: String },
    #[error("{field} {value:?} is not a tax id; it must be exactly 9 digits, without a dash")]
    InvalidTaxId { field: String, value: String },
    #[error("{field} {value:?} is not a postal code; it must be {expected}")]
    InvalidPostalCode {
        field: String,
        value: String,
        expected: &'static str,
    },
    #[error("{field} {value:?} is not a state; it must be a two-letter upper-case USPS code")]
    InvalidState { field: String, value: String },
    #[error("{field} is {units}; service units must be at least 1 and at most 15 digits")]
    InvalidUnits { field: String, units: i64 },
    #[error("{field} is {charge}; a charge cannot be negative")]
    NegativeCharge { field: String, charge: Decimal },
    #[error(
        "{field} is {amount}; amounts must have at most 2 decimal places and {MAX_AMOUNT_DIGITS} digits"
    )]
    InvalidAmount { field: String, amount: Decimal },
    #[error("{field} {value:?} is not valid: expected {expected}")]
    InvalidCode {
        field: String,
        value: String,
        expected: &'static str,
    },
    #[error("{field} {date} is outside the years 1800 to 9999 an X12 date can carry")]
    InvalidDate { field: String, date: String },
    #[error("control number {value} is out of range; it must be 1 to {MAX_CONTROL_NUMBER}")]
    ControlNumberOutOfRange { value: u32 },
}

/// Whether `npi` is ten digits whose last is the Luhn check digit of the first
/// nine prefixed with the card issuer prefix `80840` (as CMS specifies).
pub fn npi_is_valid(npi: &str) -> bool {
    if npi.len() != 10 || !npi.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = "80840"
        .bytes()
        .chain(npi.bytes())
        .rev()
        .enumerate()
        .map(|(position, byte)| {
            let digit = u32::from(byte - b'0');
            if position % 2 == 1 {
                let doubled = digit * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                digit
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Renders `interchange` as an 837P (005010X222A1) file: one ISA/GS/ST envelope,
/// the agency as submitter and billing provider, the payer as receiver, and per
/// claim one subscriber HL (the subscriber is the patient) with its 2300 claim
/// and 2400 service lines.
///
/// Segments end in `~` and a newline; elements are separated by `*`, components
/// by `:`, repetitions by `^`. Nothing is trimmed, truncated or upper-cased:
/// input that would not make a valid file is refused with an [`X12Error`].
pub fn render_837p(interchange: &Interchange837) -> Result<String, X12Error> {
    let control_number = interchange.control_number;
    if control_number == 0 || control_number > MAX_CONTROL_NUMBER {
        return Err(X12Error::ControlNumberOutOfRange {
            value: control_number,
        });
    }
    if interchange.claims.is_empty() {
        return Err(X12Error::NoClaims);
    }
    if interchange.claims.len() > MAX_CLAIMS {
        return Err(X12Error::TooManyClaims {
            count: interchange.claims.len(),
        });
    }

    let agency = &interchange.agency;
    let payer = &interchange.payer;
    let submitter_id = text("agency.submitter_id", &agency.submitter_id, 2, 15)?;
    let payer_id = text("payer.payer_id", &payer.payer_id, 2, 15)?;
    let agency_name = text("agency.name", &agency.name, 1, 60)?;
    let payer_name = text("payer.name", &payer.name, 1, 60)?;
    let contact_name = text("agency.contact_name", &agency.contact_name, 1, 60)?;
    let contact_phone = digits(
        "agency.contact_phone",
        &agency.contact_phone,
        10,
        "ten digits",
    )?;
    let npi = required("agency.npi", &agency.npi)?;
    if !npi_is_valid(npi) {
        return Err(X12Error::InvalidNpi {
            field: "agency.npi".into(),
            value: npi.into(),
        });
    }
    let tax_id = required("agency.tax_id", &agency.tax_id)?;
    if tax_id.len() != 9 || !all_digits(tax_id) {
        return Err(X12Error::InvalidTaxId {
            field: "agency.tax_id".into(),
            value: tax_id.into(),
        });
    }
    let taxonomy = required("agency.taxonomy", &agency.taxonomy)?;
    if taxonomy.len() != 10 || !taxonomy.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(X12Error::InvalidCode {
            field: "agency.taxonomy".into(),
            value: taxonomy.into(),
            expected: "a ten-character provider taxonomy code such as 251E00000X",
        });
    }
    // 2010AA N403: the guide requires the billing provider's full ZIP+4.
    let agency_address = address("agency.address", &agency.address, true)?;
    let filing_indicator = required(
        "payer.claim_filing_indicator",
        &payer.claim_filing_indicator,
    )?;
    if ClaimFilingIndicator::parse(filing_indicator).is_none() {
        return Err(X12Error::InvalidCode {
            field: "payer.claim_filing_indicator".into(),
            value: filing_indicator.into(),
            expected: "an SBR09 claim filing indicator code such as MC, CI or MB",
        });
    }

    let created = interchange.created_at.naive_utc();
    let year = chrono::Datelike::year(&created);
    if !(1800..=9999).contains(&year) {
        return Err(X12Error::InvalidDate {
            field: "created_at".into(),
            date: interchange.created_at.to_rfc3339(),
        });
    }
    let date_ccyymmdd = created.format("%Y%m%d").to_string();
    let date_yymmdd = created.format("%y%m%d").to_string();
    let time_hhmm = created.format("%H%M").to_string();
    let control = control_number.to_string();
    let control_isa = format!("{control_number:09}");
    let repetition = REPETITION_SEPARATOR.to_string();
    let component = COMPONENT_SEPARATOR.to_string();

    let mut out = String::new();
    let mut envelope = Segments::new(&mut out);
    envelope.push(&[
        "ISA",
        "00",
        "          ",
        "00",
        "          ",
        "ZZ",
        &format!("{submitter_id:<15}"),
        "ZZ",
        &format!("{payer_id:<15}"),
        &date_yymmdd,
        &time_hhmm,
        &repetition,
        "00501",
        &control_isa,
        "0",
        if interchange.production { "P" } else { "T" },
        &component,
    ]);
    envelope.push(&[
        "GS",
        "HC",
        submitter_id,
        payer_id,
        &date_ccyymmdd,
        &time_hhmm,
        &control,
        "X",
        IMPLEMENTATION_GUIDE,
    ]);

    let mut set = Segments::new(envelope.out);
    set.push(&[
        "ST",
        "837",
        TRANSACTION_SET_CONTROL_NUMBER,
        IMPLEMENTATION_GUIDE,
    ]);
    set.push(&[
        "BHT",
        "0019",
        "00",
        &control,
        &date_ccyymmdd,
        &time_hhmm,
        "CH",
    ]);
    // 1000A submitter.
    set.push(&[
        "NM1",
        "41",
        "2",
        agency_name,
        "",
        "",
        "",
        "",
        "46",
        submitter_id,
    ]);
    set.push(&["PER", "IC", contact_name, "TE", contact_phone]);
    // 1000B receiver.
    set.push(&["NM1", "40", "2", payer_name, "", "", "", "", "46", payer_id]);
    // 2000A billing provider: HL 1, no parent, has children.
    set.push(&["HL", "1", "", "20", "1"]);
    set.push(&["PRV", "BI", "PXC", taxonomy]);
    // 2010AA billing provider name.
    set.push(&["NM1", "85", "2", agency_name, "", "", "", "", "XX", npi]);
    agency_address.push_to(&mut set);
    set.push(&["REF", "EI", tax_id]);

    for (index, claim) in interchange.claims.iter().enumerate() {
        let hl_id = (index + 2).to_string();
        render_claim(
            &mut set,
            &format!("claims[{index}]"),
            claim,
            &hl_id,
            payer,
            filing_indicator,
        )?;
    }

    let segment_count = (set.count + 1).to_string();
    set.push(&["SE", &segment_count, TRANSACTION_SET_CONTROL_NUMBER]);
    let mut envelope = Segments::new(set.out);
    envelope.push(&["GE", "1", &control]);
    envelope.push(&["IEA", "1", &control_isa]);
    Ok(out)
}

/// Loops 2000B, 2010BA, 2010BB, 2300 and 2400 of one claim.
fn render_claim(
    set: &mut Segments<'_>,
    path: &str,
    claim: &Claim,
    hl_id: &str,
    payer: &Payer,
    filing_indicator: &str,
) -> Result<(), X12Error> {
    let claim_id = text(&format!("{path}.claim_id"), &claim.claim_id, 1, 20)?;
    if claim.lines.is_empty() {
        return Err(X12Error::NoServiceLines { claim: path.into() });
    }
    if claim.lines.len() > MAX_LINES_PER_CLAIM {
        return Err(X12Error::TooManyLines {
            claim: path.into(),
            count: claim.lines.len(),
        });
    }
    if claim.diagnosis_codes.is_empty() {
        return Err(X12Error::NoDiagnoses { claim: path.into() });
    }
    if claim.diagnosis_codes.len() > MAX_DIAGNOSES {
        return Err(X12Error::TooManyDiagnoses {
            claim: path.into(),
            count: claim.diagnosis_codes.len(),
        });
    }

    let subscriber = &claim.subscriber;
    let sub_path = format!("{path}.subscriber");
    let last_name = text(
        &format!("{sub_path}.last_name"),
        &subscriber.last_name,
        1,
        60,
    )?;
    let first_name = text(
        &format!("{sub_path}.first_name"),
        &subscriber.first_name,
        1,
        35,
    )?;
    let member_id = text(
        &format!("{sub_path}.member_id"),
        &subscriber.member_id,
        2,
        80,
    )?;
    let sub_address = address(&format!("{sub_path}.address"), &subscriber.address, false)?;
    let dob = date(
        &format!("{sub_path}.date_of_birth"),
        subscriber.date_of_birth,
    )?;
    let gender_field = format!("{sub_path}.gender");
    let gender = required(&gender_field, &subscriber.gender)?;
    if !matches!(gender, "F" | "M" | "U") {
        return Err(X12Error::InvalidCode {
            field: gender_field,
            value: gender.into(),
            expected: "F, M or U",
        });
    }
    let pos_field = format!("{path}.place_of_service");
    let place_of_service = digits(
        &pos_field,
        &claim.place_of_service,
        2,
        "a two-digit CMS place of service code such as 12",
    )?;

    let mut diagnoses = Vec::with_capacity(claim.diagnosis_codes.len());
    for (index, code) in claim.diagnosis_codes.iter().enumerate() {
        let field = format!("{path}.diagnosis_codes[{index}]");
        let code = text(&field, code, 3, 7)?;
        let bytes = code.as_bytes();
        if !bytes[0].is_ascii_uppercase()
            || !bytes
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(X12Error::InvalidCode {
                field,
                value: code.into(),
                expected: "an ICD-10-CM code without the dot: a capital letter then 2 to 6 capitals or digits",
            });
        }
        let qualifier = if index == 0 { "ABK" } else { "ABF" };
        diagnoses.push(format!("{qualifier}{COMPONENT_SEPARATOR}{code}"));
    }

    // Validate every line before the claim's first segment is written.
    let mut lines = Vec::with_capacity(claim.lines.len());
    for (index, line) in claim.lines.iter().enumerate() {
        lines.push(service_line(&format!("{path}.lines[{index}]"), line)?);
    }
    // Cannot overflow: every charge has at most 18 digits and there are at most 50.
    let total = amount(&format!("{path}.total"), claim.total())?;

    // 2000B subscriber: child of the billing provider, no children (patient = subscriber).
    set.push(&["HL", hl_id, "1", "22", "0"]);
    set.push(&["SBR", "P", "18", "", "", "", "", "", "", filing_indicator]);
    // 2010BA subscriber name.
    set.push(&[
        "NM1", "IL", "1", last_name, first_name, "", "", "", "MI", member_id,
    ]);
    sub_address.push_to(set);
    set.push(&["DMG", "D8", &dob, gender]);
    // 2010BB payer name (validated with the receiver).
    set.push(&[
        "NM1",
        "PR",
        "2",
        &payer.name,
        "",
        "",
        "",
        "",
        "PI",
        &payer.payer_id,
    ]);
    // 2300 claim: place of service, B (professional) facility qualifier, 1 original.
    let facility = format!("{place_of_service}{COMPONENT_SEPARATOR}B{COMPONENT_SEPARATOR}1");
    set.push(&[
        "CLM", claim_id, &total, "", "", &facility, "Y", "A", "Y", "Y",
    ]);
    let mut hi = vec!["HI"];
    hi.extend(diagnoses.iter().map(String::as_str));
    set.push(&hi);
    // 2400 service lines.
    for (index, line) in lines.iter().enumerate() {
        set.push(&["LX", &(index + 1).to_string()]);
        set.push(&[
            "SV1",
            &line.procedure,
            &line.charge,
            "UN",
            &line.units,
            "",
            "",
            "1",
        ]);
        set.push(&["DTP", "472", "D8", &line.service_date]);
        set.push(&["REF", "6R", &line.line_id]);
    }
    Ok(())
}

/// One service line's element values, validated.
struct RenderedLine {
    procedure: String,
    charge: String,
    units: String,
    service_date: String,
    line_id: String,
}

fn service_line(path: &str, line: &ServiceLine) -> Result<RenderedLine, X12Error> {
    let line_id = text(&format!("{path}.line_id"), &line.line_id, 1, 50)?;
    let code_field = format!("{path}.procedure_code");
    let code = text(&code_field, &line.procedure_code, 5, 5)?;
    if !code
        .bytes()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        return Err(X12Error::InvalidCode {
            field: code_field,
            value: code.into(),
            expected: "a five-character HCPCS or CPT code such as T1019",
        });
    }
    if line.modifiers.len() > MAX_MODIFIERS {
        return Err(X12Error::TooManyModifiers {
            field: format!("{path}.modifiers"),
            count: line.modifiers.len(),
        });
    }
    let mut procedure = format!("HC{COMPONENT_SEPARATOR}{code}");
    for (index, modifier) in line.modifiers.iter().enumerate() {
        let field = format!("{path}.modifiers[{index}]");
        let modifier = text(&field, modifier, 2, 2)?;
        if !modifier
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(X12Error::InvalidCode {
                field,
                value: modifier.into(),
                expected: "a two-character procedure modifier such as U1 or TT",
            });
        }
        procedure.push(COMPONENT_SEPARATOR);
        procedure.push_str(modifier);
    }
    let charge_field = format!("{path}.charge");
    if line.charge.is_sign_negative() && !line.charge.is_zero() {
        return Err(X12Error::NegativeCharge {
            field: charge_field,
            charge: line.charge,
        });
    }
    let charge = amount(&charge_field, line.charge)?;
    let units_string = line.units.to_string();
    if line.units < 1 || units_string.len() > MAX_UNIT_DIGITS {
        return Err(X12Error::InvalidUnits {
            field: format!("{path}.units"),
            units: line.units,
        });
    }
    Ok(RenderedLine {
        procedure,
        charge,
        units: units_string,
        service_date: date(&format!("{path}.service_date"), line.service_date)?,
        line_id: line_id.into(),
    })
}

/// N3 and N4 of an address, validated.
struct RenderedAddress<'a> {
    line1: &'a str,
    city: &'a str,
    state: &'a str,
    postal_code: &'a str,
}

impl RenderedAddress<'_> {
    fn push_to(&self, set: &mut Segments<'_>) {
        set.push(&["N3", self.line1]);
        set.push(&["N4", self.city, self.state, self.postal_code]);
    }
}

fn address<'a>(
    path: &str,
    address: &'a Address,
    zip_plus_four: bool,
) -> Result<RenderedAddress<'a>, X12Error> {
    let line1 = text(&format!("{path}.line1"), &address.line1, 1, 55)?;
    let city = text(&format!("{path}.city"), &address.city, 2, 30)?;
    let state_field = format!("{path}.state");
    let state = required(&state_field, &address.state)?;
    if UsState::parse(state).is_none() {
        return Err(X12Error::InvalidState {
            field: state_field,
            value: state.into(),
        });
    }
    let zip_field = format!("{path}.postal_code");
    let postal_code = required(&zip_field, &address.postal_code)?;
    let length_ok = if zip_plus_four {
        postal_code.len() == 9
    } else {
        matches!(postal_code.len(), 5 | 9)
    };
    if !length_ok || !all_digits(postal_code) {
        return Err(X12Error::InvalidPostalCode {
            field: zip_field,
            value: postal_code.into(),
            expected: if zip_plus_four {
                "9 digits (the billing provider needs ZIP+4), without a dash"
            } else {
                "5 or 9 digits, without a dash"
            },
        });
    }
    Ok(RenderedAddress {
        line1,
        city,
        state,
        postal_code,
    })
}

/// A required free-text element: not blank, only X12 extended-character-set
/// characters other than the delimiters, and `min..=max` characters long.
fn text<'a>(field: &str, value: &'a str, min: usize, max: usize) -> Result<&'a str, X12Error> {
    if value.trim().is_empty() {
        return Err(X12Error::EmptyField {
            field: field.into(),
        });
    }
    if let Some(character) = value.chars().find(|c| DELIMITERS.contains(c)) {
        return Err(X12Error::DelimiterInField {
            field: field.into(),
            character,
        });
    }
    if let Some(character) = value.chars().find(|&c| !is_extended_character(c)) {
        return Err(X12Error::InvalidCharacter {
            field: field.into(),
            character,
        });
    }
    // Only ASCII is left, so bytes are characters.
    let len = value.len();
    if len < min || len > max {
        return Err(X12Error::FieldLength {
            field: field.into(),
            len,
            min,
            max,
        });
    }
    Ok(value)
}

/// A required element whose format the caller checks.
fn required<'a>(field: &str, value: &'a str) -> Result<&'a str, X12Error> {
    text(field, value, 1, usize::MAX)
}

/// A required element of exactly `len` digits.
fn digits<'a>(
    field: &str,
    value: &'a str,
    len: usize,
    expected: &'static str,
) -> Result<&'a str, X12Error> {
    let value = required(field, value)?;
    if value.len() != len || !all_digits(value) {
        return Err(X12Error::InvalidCode {
            field: field.into(),
            value: value.into(),
            expected,
        });
    }
    Ok(value)
}

fn all_digits(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_digit())
}

/// The X12 extended character set of version 00501, less the delimiters.
fn is_extended_character(c: char) -> bool {
    c.is_ascii_alphanumeric() || " !\"&'()+,-./;?=%@[]_{}\\|<>`#$".contains(c)
}

/// A `D8` date, CCYYMMDD.
fn date(field: &str, date: NaiveDate) -> Result<String, X12Error> {
    let year = chrono::Datelike::year(&date);
    if !(1800..=9999).contains(&year) {
        return Err(X12Error::InvalidDate {
            field: field.into(),
            date: date.to_string(),
        });
    }
    Ok(date.format("%Y%m%d").to_string())
}

/// A non-negative monetary `R` element with exactly two decimals (`58.00`).
fn amount(field: &str, value: Decimal) -> Result<String, X12Error> {
    let mut scaled = value.normalize();
    let invalid = || X12Error::InvalidAmount {
        field: field.into(),
        amount: value,
    };
    if scaled.scale() > 2 {
        return Err(invalid());
    }
    scaled.rescale(2);
    if scaled.is_zero() {
        scaled.set_sign_positive(true);
    }
    let rendered = scaled.to_string();
    let digit_count = rendered.bytes().filter(u8::is_ascii_digit).count();
    if rendered.starts_with('-') || digit_count > MAX_AMOUNT_DIGITS {
        return Err(invalid());
    }
    Ok(rendered)
}

/// Appends segments to a buffer and counts them (for SE01).
struct Segments<'a> {
    out: &'a mut String,
    count: usize,
}

impl<'a> Segments<'a> {
    fn new(out: &'a mut String) -> Self {
        Self { out, count: 0 }
    }

    fn push(&mut self, elements: &[&str]) {
        debug_assert!(
            elements.last().is_some_and(|last| !last.is_empty()),
            "X12 segments must not end in an empty element: {elements:?}"
        );
        for (index, element) in elements.iter().enumerate() {
            if index > 0 {
                self.out.push(ELEMENT_SEPARATOR);
            }
            self.out.push_str(element);
        }
        self.out.push(SEGMENT_TERMINATOR);
        self.out.push('\n');
        self.count += 1;
    }
}

#[cfg(test)]
mod tests {
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
}
