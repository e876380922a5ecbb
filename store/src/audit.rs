//! The audit trail's chain: sealing rows in order and verifying every link.
//!
//! The hash recomputed here is written independently of the database's
//! `audit_log_row_hash`, so a verifier does not trust the database it checks:
//! sha256 over the fields joined by 0x1F, in this order: previous hash, position,
//! seq, time (UTC, microseconds), actor, role, action, entity type, entity id,
//! request id, status, digest.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Seals up to `batch` unsealed rows in insertion order (one sealer at a time
/// across all workers); returns how many.
pub async fn seal(db: &PgPool, batch: i32) -> Result<i32, sqlx::Error> {
    sqlx::query_scalar("select audit_log_seal($1)")
        .bind(batch)
        .fetch_one(db)
        .await
}

#[derive(Debug, sqlx::FromRow)]
struct Row {
    seq: i64,
    at: DateTime<Utc>,
    actor: String,
    role: String,
    action: String,
    entity_type: String,
    entity_id: Option<String>,
    request_id: Option<String>,
    status: Option<i32>,
    digest: String,
    position: i64,
    prev_hash: String,
    hash: String,
}

impl Row {
    fn expected_hash(&self) -> String {
        let fields = [
            self.prev_hash.clone(),
            self.position.to_string(),
            self.seq.to_string(),
            self.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
            self.actor.clone(),
            self.role.clone(),
            self.action.clone(),
            self.entity_type.clone(),
            self.entity_id.clone().unwrap_or_default(),
            self.request_id.clone().unwrap_or_default(),
            self.status.map(|s| s.to_string()).unwrap_or_default(),
            self.digest.clone(),
        ];
        hex::encode(Sha256::digest(fields.join("\u{1f}").as_bytes()))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    pub position: i64,
    pub seq: i64,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub sealed: i64,
    pub unsealed: i64,
    /// The last link: record it elsewhere to detect a rewritten tail later.
    pub head_hash: String,
    pub first_break: Option<Break>,
}

/// Walks the chain from the first position and reports the first broken link:
/// a changed row (hash mismatch), a removed row (gap or wrong previous hash).
pub async fn verify(db: &PgPool) -> Result<Verification, sqlx::Error> {
    let rows: Vec<Row> = sqlx::query_as(
        "select seq, at, actor, role, action, entity_type, entity_id, request_id, status, digest,
                position, prev_hash, hash
           from audit_log where position is not null order by position",
    )
    .fetch_all(db)
    .await?;
    let unsealed: i64 = sqlx::query_scalar("select count(*) from audit_log where hash is null")
        .fetch_one(db)
        .await?;
    let mut previous = GENESIS.to_owned();
    let mut first_break = None;
    for (index, row) in rows.iter().enumerate() {
        let expected_position = index as i64 + 1;
        let reason = if row.position != expected_position {
            Some(format!("position {expected_position} is missing"))
        } else if row.prev_hash != previous {
            Some("its previous hash is not the hash of the row before it".to_owned())
        } else if row.hash != row.expected_hash() {
            Some("its content does not match its hash".to_owned())
        } else {
            None
        };
        if let Some(reason) = reason {
            first_break = Some(Break {
                position: row.position,
                seq: row.seq,
                reason,
            });
            break;
        }
        previous = row.hash.clone();
    }
    Ok(Verification {
        sealed: rows.len() as i64,
        unsealed,
        head_hash: previous,
        first_break,
    })
}
