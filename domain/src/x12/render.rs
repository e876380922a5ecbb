//! The whole file: envelope, submitter, receiver and billing provider, then
//! each claim (`claim`).

use super::claim::render_claim;
use super::fields::{self, Segments, address, all_digits, digits, required, text};
use super::*;

/// Renders `interchange` as an 837P (005010X222A1) file: one ISA/GS/ST envelope,
/// the agency as submitter and billing provider, the payer as receiver, and per
/// claim one subscriber HL (the subscriber is the patient) with its 2300 claim
/// and 2400 service lines.
///
/// Segments end in `~` and a newline; elements are separated by `*`, components
/// by `:`, repetitions by `^`. Nothing is trimmed, truncated or upper-cased:
/// input that would not make a valid file is refused with an [`X12Error`].
pub fn render_837p(interchange: &Interchange837) -> Result<String, X12Error> {
    check_size(interchange)?;
    let provider = Provider::of(&interchange.agency)?;
    let receiver = Receiver::of(&interchange.payer)?;
    let stamp = Stamp::of(interchange)?;

    let mut out = String::new();
    let mut envelope = Segments::new(&mut out);
    envelope.push(&[
        "ISA",
        "00",
        "          ",
        "00",
        "          ",
        "ZZ",
        &format!("{:<15}", provider.submitter_id),
        "ZZ",
        &format!("{:<15}", receiver.payer_id),
        &stamp.date_yymmdd,
        &stamp.time_hhmm,
        &REPETITION_SEPARATOR.to_string(),
        "00501",
        &stamp.control_isa,
        "0",
        if interchange.production { "P" } else { "T" },
        &COMPONENT_SEPARATOR.to_string(),
    ]);
    envelope.push(&[
        "GS",
        "HC",
        provider.submitter_id,
        receiver.payer_id,
        &stamp.date_ccyymmdd,
        &stamp.time_hhmm,
        &stamp.control,
        "X",
        IMPLEMENTATION_GUIDE,
    ]);

    let mut set = Segments::new(envelope.out);
    push_header(&mut set, &provider, &receiver, &stamp);
    for (index, claim) in interchange.claims.iter().enumerate() {
        let hl_id = (index + 2).to_string();
        render_claim(
            &mut set,
            &format!("claims[{index}]"),
            claim,
            &hl_id,
            &interchange.payer,
            receiver.filing_indicator,
        )?;
    }

    let segment_count = (set.count + 1).to_string();
    set.push(&["SE", &segment_count, TRANSACTION_SET_CONTROL_NUMBER]);
    let mut envelope = Segments::new(set.out);
    envelope.push(&["GE", "1", &stamp.control]);
    envelope.push(&["IEA", "1", &stamp.control_isa]);
    Ok(out)
}

fn check_size(interchange: &Interchange837) -> Result<(), X12Error> {
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
    Ok(())
}

/// The agency as submitter (1000A) and billing provider (2000A, 2010AA), checked.
struct Provider<'a> {
    submitter_id: &'a str,
    name: &'a str,
    contact_name: &'a str,
    contact_phone: &'a str,
    npi: &'a str,
    tax_id: &'a str,
    taxonomy: &'a str,
    address: fields::RenderedAddress<'a>,
}

impl<'a> Provider<'a> {
    fn of(agency: &'a Agency) -> Result<Self, X12Error> {
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
        Ok(Self {
            submitter_id: text("agency.submitter_id", &agency.submitter_id, 2, 15)?,
            name: text("agency.name", &agency.name, 1, 60)?,
            contact_name: text("agency.contact_name", &agency.contact_name, 1, 60)?,
            contact_phone: digits(
                "agency.contact_phone",
                &agency.contact_phone,
                10,
                "ten digits",
            )?,
            npi,
            tax_id,
            taxonomy,
            // 2010AA N403: the guide requires the billing provider's full ZIP+4.
            address: address("agency.address", &agency.address, true)?,
        })
    }
}

/// The payer as receiver (1000B) and its SBR09 filing indicator, checked.
struct Receiver<'a> {
    payer_id: &'a str,
    name: &'a str,
    filing_indicator: &'a str,
}

impl<'a> Receiver<'a> {
    fn of(payer: &'a Payer) -> Result<Self, X12Error> {
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
        Ok(Self {
            payer_id: text("payer.payer_id", &payer.payer_id, 2, 15)?,
            name: text("payer.name", &payer.name, 1, 60)?,
            filing_indicator,
        })
    }
}

/// When the file was made and its control numbers, as each segment writes them.
struct Stamp {
    date_ccyymmdd: String,
    date_yymmdd: String,
    time_hhmm: String,
    control: String,
    control_isa: String,
}

impl Stamp {
    fn of(interchange: &Interchange837) -> Result<Self, X12Error> {
        let created = interchange.created_at.naive_utc();
        let year = chrono::Datelike::year(&created);
        if !(1800..=9999).contains(&year) {
            return Err(X12Error::InvalidDate {
                field: "created_at".into(),
                date: interchange.created_at.to_rfc3339(),
            });
        }
        Ok(Self {
            date_ccyymmdd: created.format("%Y%m%d").to_string(),
            date_yymmdd: created.format("%y%m%d").to_string(),
            time_hhmm: created.format("%H%M").to_string(),
            control: interchange.control_number.to_string(),
            control_isa: format!("{:09}", interchange.control_number),
        })
    }
}

/// ST, BHT, the submitter (1000A), the receiver (1000B) and the billing
/// provider (2000A, 2010AA).
fn push_header(
    set: &mut Segments<'_>,
    provider: &Provider<'_>,
    receiver: &Receiver<'_>,
    stamp: &Stamp,
) {
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
        &stamp.control,
        &stamp.date_ccyymmdd,
        &stamp.time_hhmm,
        "CH",
    ]);
    // 1000A submitter.
    set.push(&[
        "NM1",
        "41",
        "2",
        provider.name,
        "",
        "",
        "",
        "",
        "46",
        provider.submitter_id,
    ]);
    set.push(&[
        "PER",
        "IC",
        provider.contact_name,
        "TE",
        provider.contact_phone,
    ]);
    // 1000B receiver.
    set.push(&[
        "NM1",
        "40",
        "2",
        receiver.name,
        "",
        "",
        "",
        "",
        "46",
        receiver.payer_id,
    ]);
    // 2000A billing provider: HL 1, no parent, has children.
    set.push(&["HL", "1", "", "20", "1"]);
    set.push(&["PRV", "BI", "PXC", provider.taxonomy]);
    // 2010AA billing provider name.
    set.push(&[
        "NM1",
        "85",
        "2",
        provider.name,
        "",
        "",
        "",
        "",
        "XX",
        provider.npi,
    ]);
    provider.address.push_to(set);
    set.push(&["REF", "EI", provider.tax_id]);
}
