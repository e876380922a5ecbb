//! Claims: approved invoice lines grouped per payer, client and billing period,
//! and their 837P export. Shared by the API (`/v1/claims`) and the CLI
//! (`homecare billing export-837p`).
//!
//! An invoice line is approved when it exists: it was only created once every
//! exception of its visit was resolved. Lines with zero units (a visit inside a
//! day unit already billed, or under the rounding threshold) are never claimed.

use chrono::{DateTime, NaiveDate, Utc};
use homecare_domain::x12::{
    self, Address, Agency, Claim, Interchange837, Payer, ServiceLine, Subscriber,
};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, thiserror::Error)]
pub enum ClaimsError {
    #[error("payer {0} not found")]
    PayerNotFound(Uuid),
    #[error("the period is empty: {from} is after {to}")]
    EmptyPeriod { from: NaiveDate, to: NaiveDate },
    #[error(
        "payer {payer_id} has no claims between {from} and {to}; form them first (POST /v1/claims)"
    )]
    NoClaims {
        payer_id: Uuid,
        from: NaiveDate,
        to: NaiveDate,
    },
    #[error("the 837P cannot be rendered: {0}")]
    Render(#[from] x12::X12Error),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

/// A claim: a client's approved invoice lines with one payer in one billing
/// period (at most 50 lines).
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = Claim))]
pub struct ClaimRow {
    pub id: Uuid,
    /// CLM01, the patient control number payers echo back.
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub number: i64,
    pub payer_id: Uuid,
    pub client_id: Uuid,
    pub period_start: NaiveDate,
    /// The period's last day (inclusive).
    pub period_end: NaiveDate,
    /// The sum of the lines' amounts, a decimal string.
    pub total: Decimal,
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 50))]
    pub line_count: i32,
    pub created_at: DateTime<Utc>,
}

/// Lines that could not be claimed, and why.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NotClaimable {
    pub client_id: Uuid,
    /// How many lines.
    pub lines: usize,
    pub reason: String,
}

/// What forming claims did.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FormedClaims {
    /// Claims formed by this request (none if every line was claimed already).
    pub claims: Vec<ClaimRow>,
    /// Clients whose lines were left unclaimed (no coverage with the payer).
    pub not_claimable: Vec<NotClaimable>,
}

const CLAIM_COLUMNS: &str = "id, number, payer_id, client_id, lower(period) as period_start,
    (upper(period) - 1) as period_end, total, line_count, created_at";

fn check_period(from: NaiveDate, to: NaiveDate) -> Result<(), ClaimsError> {
    if from > to {
        return Err(ClaimsError::EmptyPeriod { from, to });
    }
    Ok(())
}

/// Groups the payer's unclaimed lines with service dates in `from..=to` into
/// claims, one per client (split at the 837P's 50 lines a claim), in one
/// transaction. Running it again forms nothing new: each line joins one claim.
pub async fn form_claims(
    db: &PgPool,
    payer_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<FormedClaims, ClaimsError> {
    check_period(from, to)?;
    let mut tx = db.begin().await?;
    let payer: Option<Uuid> = sqlx::query_scalar("select id from payers where id = $1")
        .bind(payer_id)
        .fetch_optional(&mut *tx)
        .await?;
    payer.ok_or(ClaimsError::PayerNotFound(payer_id))?;
    let lines: Vec<(Uuid, Uuid, Decimal, bool)> = sqlx::query_as(
        "select l.id, l.client_id, l.amount,
                exists (select 1 from client_coverages c where c.client_id = l.client_id and c.payer_id = l.payer_id)
           from invoice_lines l
          where l.payer_id = $1 and l.service_date between $2 and $3
            and l.claim_id is null and l.units > 0
          order by l.client_id, l.service_date, l.id
          for update of l",
    )
    .bind(payer_id)
    .bind(from)
    .bind(to)
    .fetch_all(&mut *tx)
    .await?;
    let mut claims = Vec::new();
    let mut not_claimable = Vec::new();
    for client_lines in lines.chunk_by(|a, b| a.1 == b.1) {
        let client_id = client_lines[0].1;
        if !client_lines[0].3 {
            not_claimable.push(NotClaimable {
                client_id,
                lines: client_lines.len(),
                reason: format!(
                    "the client has no coverage with this payer: PUT /v1/clients/{client_id}/coverages/{payer_id}"
                ),
            });
            continue;
        }
        for chunk in client_lines.chunks(x12::MAX_LINES_PER_CLAIM) {
            let total: Decimal = chunk.iter().map(|line| line.2).sum();
            let ids: Vec<Uuid> = chunk.iter().map(|line| line.0).collect();
            let claim = sqlx::query_as::<_, ClaimRow>(&format!(
                "insert into claims (id, payer_id, client_id, period, total, line_count)
                 values ($1, $2, $3, daterange($4, $5, '[]'), $6, $7)
                 returning {CLAIM_COLUMNS}"
            ))
            .bind(Uuid::new_v4())
            .bind(payer_id)
            .bind(client_id)
            .bind(from)
            .bind(to)
            .bind(total)
            .bind(chunk.len() as i32)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("update invoice_lines set claim_id = $1 where id = any($2)")
                .bind(claim.id)
                .bind(&ids)
                .execute(&mut *tx)
                .await?;
            claims.push(claim);
        }
    }
    tx.commit().await?;
    Ok(FormedClaims {
        claims,
        not_claimable,
    })
}

/// The payer's claims whose period lies within `from..=to`.
pub async fn list_claims(
    db: &PgPool,
    payer_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<ClaimRow>, ClaimsError> {
    check_period(from, to)?;
    Ok(sqlx::query_as::<_, ClaimRow>(&format!(
        "select {CLAIM_COLUMNS} from claims
          where payer_id = $1 and period <@ daterange($2, $3, '[]')
          order by number"
    ))
    .bind(payer_id)
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await?)
}

#[derive(sqlx::FromRow)]
struct AgencyRow {
    name: String,
    npi: String,
    tax_id: String,
    taxonomy: String,
    address_line: String,
    city: String,
    state: String,
    postal_code: String,
    submitter_id: String,
    contact_name: String,
    contact_phone: String,
    claims_production: bool,
}

#[derive(sqlx::FromRow)]
struct CoverageRow {
    member_id: String,
    last_name: String,
    first_name: String,
    date_of_birth: NaiveDate,
    gender: String,
    address_line: String,
    city: String,
    state: String,
    postal_code: String,
    diagnosis_codes: Vec<String>,
}

/// The 837P interchange for the payer's claims in `from..=to`, with a fresh
/// interchange control number.
pub async fn interchange(
    db: &PgPool,
    payer_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Interchange837, ClaimsError> {
    let claims = list_claims(db, payer_id, from, to).await?;
    if claims.is_empty() {
        return Err(ClaimsError::NoClaims { payer_id, from, to });
    }
    let agency: AgencyRow = sqlx::query_as(
        "select name, npi, tax_id, taxonomy, address_line, city, state, postal_code, submitter_id,
                contact_name, contact_phone, claims_production
           from agency_settings",
    )
    .fetch_one(db)
    .await?;
    let (payer_name, payer_identifier, filing): (String, String, String) = sqlx::query_as(
        "select name, payer_identifier, claim_filing_indicator from payers where id = $1",
    )
    .bind(payer_id)
    .fetch_optional(db)
    .await?
    .ok_or(ClaimsError::PayerNotFound(payer_id))?;
    let mut rendered = Vec::with_capacity(claims.len());
    for claim in &claims {
        let coverage: CoverageRow = sqlx::query_as(
            "select member_id, last_name, first_name, date_of_birth, gender, address_line, city, state,
                    postal_code, diagnosis_codes
               from client_coverages where client_id = $1 and payer_id = $2",
        )
        .bind(claim.client_id)
        .bind(payer_id)
        .fetch_one(db)
        .await?;
        let lines: Vec<(Uuid, String, Vec<String>, Decimal, i32, NaiveDate)> = sqlx::query_as(
            "select id, service_code, modifiers, amount, units, service_date
               from invoice_lines where claim_id = $1 order by service_date, id",
        )
        .bind(claim.id)
        .fetch_all(db)
        .await?;
        rendered.push(Claim {
            claim_id: format!("HC{}", claim.number),
            subscriber: Subscriber {
                member_id: coverage.member_id,
                last_name: coverage.last_name,
                first_name: coverage.first_name,
                address: Address {
                    line1: coverage.address_line,
                    city: coverage.city,
                    state: coverage.state,
                    postal_code: coverage.postal_code,
                },
                date_of_birth: coverage.date_of_birth,
                gender: coverage.gender,
            },
            diagnosis_codes: coverage.diagnosis_codes,
            place_of_service: "12".to_owned(),
            lines: lines
                .into_iter()
                .map(|(id, code, modifiers, amount, units, date)| ServiceLine {
                    line_id: id.simple().to_string(),
                    procedure_code: code,
                    modifiers,
                    charge: amount,
                    units: units.into(),
                    service_date: date,
                })
                .collect(),
        });
    }
    let control_number: i64 = sqlx::query_scalar("select nextval('x12_interchange_control')")
        .fetch_one(db)
        .await?;
    Ok(Interchange837 {
        control_number: control_number as u32,
        created_at: Utc::now(),
        production: agency.claims_production,
        agency: Agency {
            name: agency.name,
            npi: agency.npi,
            tax_id: agency.tax_id,
            taxonomy: agency.taxonomy,
            address: Address {
                line1: agency.address_line,
                city: agency.city,
                state: agency.state,
                postal_code: agency.postal_code,
            },
            submitter_id: agency.submitter_id,
            contact_name: agency.contact_name,
            contact_phone: agency.contact_phone,
        },
        payer: Payer {
            name: payer_name,
            payer_id: payer_identifier,
            claim_filing_indicator: filing,
        },
        claims: rendered,
    })
}

/// The 837P file for the payer's claims in `from..=to`.
pub async fn export_837p(
    db: &PgPool,
    payer_id: Uuid,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<String, ClaimsError> {
    let interchange = interchange(db, payer_id, from, to).await?;
    Ok(x12::render_837p(&interchange)?)
}
