//! Loops 2000B to 2400: one claim, its subscriber and its service lines.

use super::fields::{Segments, address, amount, date, digits, required, text};
use super::*;

/// Loops 2000B, 2010BA, 2010BB, 2300 and 2400 of one claim.
pub(super) fn render_claim(
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
pub(super) struct RenderedLine {
    procedure: String,
    charge: String,
    units: String,
    service_date: String,
    line_id: String,
}

pub(super) fn service_line(path: &str, line: &ServiceLine) -> Result<RenderedLine, X12Error> {
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
