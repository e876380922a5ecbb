//! The whole file: envelope, submitter, receiver and billing provider, then
//! each claim (`claim`).

use super::claim::render_claim;
use super::fields::{Segments, address, all_digits, digits, required, text};
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
