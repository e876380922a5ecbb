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

mod claim;
mod fields;

use claim::render_claim;
use fields::{Segments, address, all_digits, digits, required, text};

#[cfg(test)]
mod tests;
