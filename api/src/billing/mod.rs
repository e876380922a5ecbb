//! Billing reference data, one module per resource: the agency (billing
//! provider and policy), its holiday calendar, payers and their rate tables,
//! clients' authorizations (with the units left) and coverages. Claims are in
//! `crate::claims`.

mod agency;
mod authorizations;
mod coverages;
mod holidays;
mod payers;
mod rates;

use homecare_domain::codes::UsState;
use homecare_domain::validation::FieldErrors;
use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub(crate) use payers::ensure_payer;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(agency::router())
        .merge(holidays::router())
        .merge(payers::router())
        .merge(rates::router())
        .merge(authorizations::router())
        .merge(coverages::router())
}

fn digits(errors: &mut FieldErrors, field: &str, value: &str, lengths: &[usize]) {
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
fn state_code(errors: &mut FieldErrors, field: &str, value: &str) {
    errors.check(
        UsState::parse(value).is_some(),
        field,
        "must be a USPS state, territory or military state code such as IL",
    );
}

fn identifier(errors: &mut FieldErrors, field: &str, value: &str, max: usize) {
    errors.check(
        (2..=max).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric()),
        field,
        format!("must be 2 to {max} letters or digits"),
    );
}
