//! Billing reference data, one module per resource: the agency (billing
//! provider and policy), its holiday calendar, payers and their rate tables,
//! clients' authorizations (with the units left) and coverages. Claims are in
//! `crate::claims`.

mod agency;
mod authorizations;
mod coverages;
mod fields;
mod holidays;
mod payers;
mod rates;

use utoipa_axum::router::OpenApiRouter;

use crate::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(agency::router())
        .merge(holidays::router())
        .merge(payers::router())
        .merge(rates::router())
        .merge(authorizations::router())
        .merge(coverages::router())
}
