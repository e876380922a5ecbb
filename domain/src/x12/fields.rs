//! Elements as the guide wants them: checked text, digits, dates, amounts,
//! addresses, and the segments they are written into.

use super::*;

/// N3 and N4 of an address, validated.
pub(super) struct RenderedAddress<'a> {
    pub(super) line1: &'a str,
    pub(super) city: &'a str,
    pub(super) state: &'a str,
    pub(super) postal_code: &'a str,
}

impl RenderedAddress<'_> {
    pub(super) fn push_to(&self, set: &mut Segments<'_>) {
        set.push(&["N3", self.line1]);
        set.push(&["N4", self.city, self.state, self.postal_code]);
    }
}

pub(super) fn address<'a>(
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
pub(super) fn text<'a>(
    field: &str,
    value: &'a str,
    min: usize,
    max: usize,
) -> Result<&'a str, X12Error> {
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
pub(super) fn required<'a>(field: &str, value: &'a str) -> Result<&'a str, X12Error> {
    text(field, value, 1, usize::MAX)
}

/// A required element of exactly `len` digits.
pub(super) fn digits<'a>(
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

pub(super) fn all_digits(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_digit())
}

/// The X12 extended character set of version 00501, less the delimiters.
pub(super) fn is_extended_character(c: char) -> bool {
    c.is_ascii_alphanumeric() || " !\"&'()+,-./;?=%@[]_{}\\|<>`#$".contains(c)
}

/// A `D8` date, CCYYMMDD.
pub(super) fn date(field: &str, date: NaiveDate) -> Result<String, X12Error> {
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
pub(super) fn amount(field: &str, value: Decimal) -> Result<String, X12Error> {
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
pub(super) struct Segments<'a> {
    pub(super) out: &'a mut String,
    pub(super) count: usize,
}

impl<'a> Segments<'a> {
    pub(super) fn new(out: &'a mut String) -> Self {
        Self { out, count: 0 }
    }

    pub(super) fn push(&mut self, elements: &[&str]) {
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
