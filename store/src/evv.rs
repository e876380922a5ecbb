//! EVV records and the exceptions that hold a visit's billing.

use homecare_domain::contracts::OpenException;
use homecare_domain::evv::{ExceptionCode, ExceptionSource};
use homecare_domain::scheduling::Location;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::StoreError;

/// The client's address and every further place of care.
pub async fn client_places(
    conn: &mut PgConnection,
    client_id: Uuid,
) -> Result<Vec<Location>, sqlx::Error> {
    let places: Vec<(f64, f64)> = sqlx::query_as(
        "select latitude, longitude from clients where id = $1
         union all
         select latitude, longitude from client_locations where client_id = $1",
    )
    .bind(client_id)
    .fetch_all(&mut *conn)
    .await?;
    Ok(places
        .into_iter()
        .map(|(latitude, longitude)| Location {
            latitude,
            longitude,
        })
        .collect())
}

/// The visit's exceptions not yet resolved, oldest first.
pub async fn open_exceptions(
    conn: &mut PgConnection,
    visit_id: Uuid,
) -> Result<Vec<OpenException>, StoreError> {
    let rows: Vec<(Uuid, String)> = sqlx::query_as(
        "select id, code::text from visit_exceptions
          where visit_id = $1 and resolved_at is null order by raised_at, id",
    )
    .bind(visit_id)
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|(exception_id, code)| {
            let code = ExceptionCode::parse(&code).ok_or_else(|| {
                StoreError::Inconsistent(format!("unknown exception code {code}"))
            })?;
            Ok(OpenException { exception_id, code })
        })
        .collect()
}

/// Records an exception unless the same one (visit, code, source) is already
/// open; returns the new exception's id, or None when it was open already.
pub async fn insert_exception(
    conn: &mut PgConnection,
    visit_id: Uuid,
    code: ExceptionCode,
    source: ExceptionSource,
    detail: &serde_json::Value,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "insert into visit_exceptions (id, visit_id, code, source, detail)
         values ($1, $2, $3::visit_exception_code, $4, $5)
         on conflict (visit_id, code, source) where resolved_at is null do nothing
         returning id",
    )
    .bind(Uuid::new_v4())
    .bind(visit_id)
    .bind(code.as_str())
    .bind(source.as_str())
    .bind(detail)
    .fetch_optional(&mut *conn)
    .await
}
