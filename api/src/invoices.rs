//! `/v1/invoice-lines`: what each completed visit billed, with every figure
//! needed to explain it (minutes, units, rate, rule, multipliers, cap).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::clients::Page;
use crate::extract::{ApiPath, ApiQuery};
use crate::{ApiError, AppState};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(for_visit))
}

#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct InvoiceLine {
    pub id: Uuid,
    pub visit_id: Uuid,
    pub payer_id: Uuid,
    pub service_code: String,
    pub client_id: Uuid,
    pub caregiver_id: Uuid,
    pub service_date: NaiveDate,
    pub billed_minutes: i32,
    pub units: i32,
    pub unit_rate: Decimal,
    pub amount: Decimal,
    /// The unit and rounding rule that produced `units`, e.g.
    /// `quarter_hour/eight_minute`.
    pub rounding_rule: String,
    /// `quarter_hour`, `hour`, `visit` or `day`.
    #[schema(value_type = homecare_domain::pricing::BillingUnit)]
    pub unit: String,
    pub modifiers: Vec<String>,
    /// Units the verified time was worth before an authorization cap.
    pub unadjusted_units: Option<i32>,
    /// Of `units`, those billed at `overtime_multiplier`.
    pub overtime_units: i32,
    pub overtime_multiplier: Decimal,
    pub holiday_multiplier: Decimal,
    pub rate_id: Option<Uuid>,
    pub authorization_id: Option<Uuid>,
    /// The claim the line went out on, once claimed.
    pub claim_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvoiceFilter {
    /// Only this visit's line.
    pub visit_id: Option<Uuid>,
    /// Only this client's lines.
    pub client_id: Option<Uuid>,
    /// Only this payer's lines.
    pub payer_id: Option<Uuid>,
    /// Service dates from this day on (inclusive).
    pub from: Option<NaiveDate>,
    /// Service dates up to this day (inclusive).
    pub to: Option<NaiveDate>,
}

async fn query_lines(
    state: &AppState,
    filter: &InvoiceFilter,
    page: &Page,
) -> Result<Vec<InvoiceLine>, ApiError> {
    let (limit, offset) = page.bounds()?;
    let lines = sqlx::query_as::<_, InvoiceLine>(
        "select id, visit_id, payer_id, service_code, client_id, caregiver_id, service_date,
                billed_minutes, units, unit_rate, amount, rounding_rule, unit::text as unit, modifiers,
                unadjusted_units, overtime_units, overtime_multiplier, holiday_multiplier, rate_id,
                authorization_id, claim_id, created_at
           from invoice_lines
          where ($1::uuid is null or visit_id = $1)
            and ($2::uuid is null or client_id = $2)
            and ($3::uuid is null or payer_id = $3)
            and ($4::date is null or service_date >= $4)
            and ($5::date is null or service_date <= $5)
          order by service_date, created_at, id
          limit $6 offset $7",
    )
    .bind(filter.visit_id)
    .bind(filter.client_id)
    .bind(filter.payer_id)
    .bind(filter.from)
    .bind(filter.to)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.db)
    .await?;
    Ok(lines)
}

/// Invoice lines, by service date.
#[utoipa::path(get, path = "/invoice-lines", tag = "invoices", operation_id = "list_invoice_lines",
    params(InvoiceFilter, Page),
    responses((status = 200, description = "A page of invoice lines", body = Vec<InvoiceLine>)))]
async fn list(
    State(state): State<AppState>,
    ApiQuery(filter): ApiQuery<InvoiceFilter>,
    ApiQuery(page): ApiQuery<Page>,
) -> Result<Json<Vec<InvoiceLine>>, ApiError> {
    Ok(Json(query_lines(&state, &filter, &page).await?))
}

/// What one visit billed (at most one line).
#[utoipa::path(get, path = "/visits/{id}/invoice-lines", tag = "invoices", operation_id = "list_visit_invoice_lines",
    params(("id" = Uuid, Path, description = "The visit")),
    responses((status = 200, description = "The visit's invoice lines", body = Vec<InvoiceLine>)))]
async fn for_visit(
    State(state): State<AppState>,
    ApiPath(visit_id): ApiPath<Uuid>,
) -> Result<Json<Vec<InvoiceLine>>, ApiError> {
    crate::visits::find_visit(&state, visit_id).await?;
    let filter = InvoiceFilter {
        visit_id: Some(visit_id),
        client_id: None,
        payer_id: None,
        from: None,
        to: None,
    };
    Ok(Json(query_lines(&state, &filter, &Page::default()).await?))
}
