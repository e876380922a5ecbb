//! Check-in and check-out: the EVV record, the visit's next state, and every
//! exception the agency's policy finds in the capture.

use homecare_domain::care_plan;
use homecare_domain::contracts::{EvvCommand, RecordEvv};
use homecare_domain::events::{VisitCheckedIn, VisitCompleted};
use homecare_domain::evv::{self, Capture, EvvKind, EvvMethod, ExceptionCode, Finding};
use homecare_domain::scheduling::Location;
use homecare_store::visits::{self, VisitRow, lock_visit, set_status};
use homecare_store::{policy, record_event};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::step::{ActivityFailure, Steps};
use crate::visit::exceptions::raise;

#[tracing::instrument(skip_all, fields(visit_id = %evv.visit_id, kind = kind.as_str()))]
pub async fn record(steps: &Steps, kind: EvvKind, evv: &RecordEvv) -> Result<(), ActivityFailure> {
    let (from, to) = kind.transition();
    let visit_id = evv.visit_id;
    let command = &evv.command;
    let mut tx = steps.store.db.begin().await?;
    let visit = lock_visit(&mut tx, visit_id).await?;
    if visit.caregiver_id != Some(command.caregiver_id) {
        return Err(ActivityFailure::Rejected(format!(
            "caregiver {} is not assigned to visit {visit_id}",
            command.caregiver_id
        )));
    }
    if visit.status == from {
        insert_record(&mut tx, visit_id, kind, command).await?;
        set_status(&mut tx, visit_id, to).await?;
        record_transition(&mut tx, &visit, kind, command).await?;
        raise_evv_exceptions(&mut tx, &visit, kind, command).await?;
    } else if visits::evv_time(&mut tx, visit_id, kind).await?.is_none() {
        // Not recorded by an earlier attempt either: the visit is elsewhere.
        return Err(ActivityFailure::Rejected(format!(
            "visit {visit_id} is {}; cannot record {}",
            visit.status,
            kind.as_str()
        )));
    }
    // Recorded now or by an earlier attempt: publish what is pending.
    Ok(steps.store.commit_and_publish(tx, [visit_id]).await?)
}

async fn insert_record(
    conn: &mut PgConnection,
    visit_id: Uuid,
    kind: EvvKind,
    command: &EvvCommand,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into evv_records (id, visit_id, kind, caregiver_id, occurred_at, latitude, longitude, method,
                                  duties)
         values ($1, $2, $3::evv_kind, $4, $5, $6, $7, $8::evv_method, $9)
         on conflict (visit_id, kind) do nothing",
    )
    .bind(Uuid::new_v4())
    .bind(visit_id)
    .bind(kind.as_str())
    .bind(command.caregiver_id)
    .bind(command.at)
    .bind(command.latitude)
    .bind(command.longitude)
    .bind(command.method.as_str())
    .bind((kind == EvvKind::CheckOut).then_some(sqlx::types::Json(&command.duties)))
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn record_transition(
    conn: &mut PgConnection,
    visit: &VisitRow,
    kind: EvvKind,
    command: &EvvCommand,
) -> Result<(), sqlx::Error> {
    let location = Location {
        latitude: command.latitude,
        longitude: command.longitude,
    };
    let (_, status) = kind.transition();
    let summary = visit.summary(status);
    match kind {
        EvvKind::CheckIn => {
            let event = VisitCheckedIn {
                visit: summary,
                at: command.at,
                location,
                method: command.method,
            };
            record_event(conn, &event, "", command.at).await
        }
        EvvKind::CheckOut => {
            let event = VisitCompleted {
                visit: summary,
                at: command.at,
                location: Some(location),
                method: Some(command.method),
                missed_check_out: false,
            };
            record_event(conn, &event, "", command.at).await
        }
    }
}

/// Checks a check-in or check-out just recorded against the agency's policy.
async fn raise_evv_exceptions(
    conn: &mut PgConnection,
    visit: &VisitRow,
    kind: EvvKind,
    command: &EvvCommand,
) -> Result<(), ActivityFailure> {
    let agency = policy::load(conn).await?;
    let policy = agency.evv;
    let places = homecare_store::evv::client_places(conn, visit.client_id).await?;
    let capture = Capture {
        at: command.at,
        location: (command.method == EvvMethod::Gps).then_some(Location {
            latitude: command.latitude,
            longitude: command.longitude,
        }),
        method: command.method,
    };
    let findings = match kind {
        EvvKind::CheckIn => {
            evv::check_in_findings(&policy, visit.scheduled_start, &capture, &places)
        }
        EvvKind::CheckOut => {
            let checked_in_at = visits::evv_time(conn, visit.id, EvvKind::CheckIn)
                .await?
                .ok_or_else(|| {
                    ActivityFailure::Rejected(format!("visit {} has no check-in", visit.id))
                })?;
            evv::check_out_findings(
                &policy,
                (visit.scheduled_start, visit.scheduled_end),
                checked_in_at,
                &capture,
                &places,
            )
        }
    };
    let mut findings = findings;
    if kind == EvvKind::CheckOut && agency.missing_duty_raises_exception {
        findings.extend(missing_duty(conn, visit, command).await?);
    }
    let (_, status) = kind.transition();
    for finding in &findings {
        raise(conn, visit, status, finding, kind.source()).await?;
    }
    Ok(())
}

/// The care plan's required duties the check-out does not report done.
async fn missing_duty(
    conn: &mut PgConnection,
    visit: &VisitRow,
    command: &EvvCommand,
) -> Result<Option<Finding>, ActivityFailure> {
    let Some(plan) = visit.care_plan else {
        return Ok(None);
    };
    let planned = visits::planned_duties(conn, plan).await?;
    let missing = care_plan::missing_duties(&planned, &command.duties);
    if missing.is_empty() {
        return Ok(None);
    }
    Ok(Some(Finding {
        code: ExceptionCode::MissingDuty,
        detail: serde_json::json!({ "missing": missing, "reported": command.duties }),
    }))
}
