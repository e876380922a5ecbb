//! ANSI X12 837P (005010X222A1) professional claims, rendered from plain data.
//!
//! The billing activities gather an [`Interchange837`] from the database (the
//! agency as billing provider and submitter, one payer as receiver, one claim per
//! client and billing period, one service line per invoice line); this module only
//! turns it into the segments payers accept. No I/O.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

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
