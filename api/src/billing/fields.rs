//! Field checks the billing resources share (what claims need).

use homecare_domain::codes::UsState;
use homecare_domain::validation::FieldErrors;

pub(super) fn digits(errors: &mut FieldErrors, field: &str, value: &str, lengths: &[usize]) {
    errors.check(
        lengths.contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()),
        field,
        format!(
            "must be {} digits",
            lengths
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    );
}

/// A USPS state code the 837P accepts (the renderer checks the same list).
pub(super) fn state_code(errors: &mut FieldErrors, field: &str, value: &str) {
    errors.check(
        UsState::parse(value).is_some(),
        field,
        "must be a USPS state, territory or military state code such as IL",
    );
}

pub(super) fn identifier(errors: &mut FieldErrors, field: &str, value: &str, max: usize) {
    errors.check(
        (2..=max).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric()),
        field,
        format!("must be 2 to {max} letters or digits"),
    );
}
