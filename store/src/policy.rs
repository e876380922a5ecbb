//! The agency's policy, as `PUT /v1/agency` sets it: one row, read by every
//! rule and timer that depends on it.

use homecare_domain::evv::EvvPolicy;
use sqlx::PgConnection;

/// The EVV thresholds, the weekly overtime threshold and the visit timers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgencyPolicy {
    /// Drives the late check-in exception and the visit's late check-in alert.
    pub evv: EvvPolicy,
    pub overtime_after_minutes_per_week: i64,
    /// Minutes after the scheduled end without a check-out before the visit's
    /// timer closes it with a `missed_check_out` exception.
    pub missed_check_out_after_minutes: i64,
    /// A check-out that does not report a required duty of the care plan
    /// raises `missing_duty`.
    pub missing_duty_raises_exception: bool,
}

pub async fn load(conn: &mut PgConnection) -> Result<AgencyPolicy, sqlx::Error> {
    let (geofence, late, early, over, overtime, missed, duties): (
        f64,
        i32,
        i32,
        i32,
        i32,
        i32,
        bool,
    ) = sqlx::query_as(
        "select geofence_radius_meters, late_check_in_minutes, early_check_out_minutes,
                    over_scheduled_minutes, overtime_after_minutes_per_week,
                    missed_check_out_after_minutes, missing_duty_raises_exception
               from agency_settings",
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(AgencyPolicy {
        evv: EvvPolicy {
            geofence_radius_meters: geofence,
            late_check_in_minutes: late.into(),
            early_check_out_minutes: early.into(),
            over_scheduled_minutes: over.into(),
        },
        overtime_after_minutes_per_week: overtime.into(),
        missed_check_out_after_minutes: missed.into(),
        missing_duty_raises_exception: duties,
    })
}
