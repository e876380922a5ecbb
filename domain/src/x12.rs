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

mod claim;
mod fields;
mod render;

pub use render::render_837p;

#[cfg(test)]
mod tests;
