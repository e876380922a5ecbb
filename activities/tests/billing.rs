//! Billing against a real PostgreSQL and NATS: EVV exceptions hold a visit until
//! a coordinator resolves them, pricing follows the payer's rules and the
//! client's authorization, retries never bill twice, and claims export as an
//! 837P that pyx12 accepts.

mod common;
#[path = "../../domain/tests/support/pyx12.rs"]
mod pyx12;

use chrono::NaiveDate;
use common::{Fixture, Run, at, evv};
use homecare_activities::{ActivityFailure, EvvKind};
use homecare_domain::contracts::{ExceptionResolution, RecordEvv, RecordResolution};
use homecare_domain::evv::{ExceptionCode, ResolutionCode};
use homecare_store::claims;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use sqlx::PgPool;
use uuid::Uuid;

const PRIVATE_PAY: Uuid = Uuid::from_u128(0x0000_0000_0000_4000_8000_0000_0000_0001);

/// A check-in about 4.4 km north of the client's home (outside one mile).
fn away(visit: Uuid, caregiver: Uuid, time: chrono::DateTime<chrono::Utc>) -> RecordEvv {
    let mut record = evv(visit, caregiver, time);
    record.command.latitude += 0.04;
    record
}

fn resolution(exception_id: Uuid, code: ResolutionCode) -> ExceptionResolution {
    ExceptionResolution {
        exception_id,
        resolution_code: code,
        note: "confirmed by phone with the client".to_owned(),
        resolved_by: "coordinator@agency".to_owned(),
        check_out_at: None,
    }
}

async fn line(fx: &Fixture, visit: Uuid) -> (i32, i32, i32, Decimal, String) {
    sqlx::query_as(
        "select units, unadjusted_units, overtime_units, amount, rounding_rule from invoice_lines where visit_id = $1",
    )
    .bind(visit)
    .fetch_one(fx.db())
    .await
    .unwrap()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_check_in_outside_the_geofence_holds_billing_until_resolved_then_bills_once(db: PgPool) {
    let fx = Fixture::new(db).await;
    let maria = fx.caregiver("Maria", &[]).await;
    let visit = fx.visit(at(9, 0), at(11, 0), &[]).await;
    let act = &fx.activities;
    act.assign_caregiver(visit).await.unwrap();
    act.record_evv(EvvKind::CheckIn, &away(visit, maria, at(9, 0)))
        .await
        .unwrap();
    act.record_evv(EvvKind::CheckOut, &evv(visit, maria, at(11, 0)))
        .await
        .unwrap();

    let held = act.bill(visit).await.unwrap();
    assert!(held.invoice.is_none());
    assert_eq!(held.held_by.len(), 1);
    assert_eq!(held.held_by[0].code, ExceptionCode::OutsideGeofence);
    // Billing again while held changes nothing and announces the hold once.
    assert_eq!(act.bill(visit).await.unwrap(), held);
    let holds = fx
        .count("select count(*) from visit_events where visit_id = $1 and event_type = 'homecare.visit.held'", visit)
        .await;
    assert_eq!(holds, 1);
    assert_eq!(
        fx.count(
            "select count(*) from invoice_lines where visit_id = $1",
            visit
        )
        .await,
        0
    );

    let exception = held.held_by[0].exception_id;
    let request = RecordResolution {
        visit_id: visit,
        resolution: resolution(exception, ResolutionCode::GpsUnavailable),
    };
    act.resolve_exception(&request).await.unwrap();
    // A retried resolution is a no-op; a different one is refused.
    act.resolve_exception(&request).await.unwrap();
    let mut other = request.clone();
    other.resolution.note = "another story".to_owned();
    assert!(matches!(
        act.resolve_exception(&other).await,
        Err(ActivityFailure::Rejected(_))
    ));

    // 120 min = 8 quarter hours x 7.50 (Private Pay T1019) = 60.00
    let billed = act.bill(visit).await.unwrap();
    let invoice = billed.invoice.expect("billed once resolved");
    assert_eq!((invoice.units, invoice.amount), (8, dec!(60.00)));
    assert_eq!(act.bill(visit).await.unwrap().invoice.unwrap(), invoice);
    assert_eq!(
        fx.count(
            "select count(*) from invoice_lines where visit_id = $1",
            visit
        )
        .await,
        1
    );
    assert_eq!(fx.status(visit).await, "invoiced");
    let types = fx.event_types(visit).await;
    for expected in [
        "homecare.visit.exception_raised",
        "homecare.visit.held",
        "homecare.visit.exception_resolved",
        "homecare.invoice.created",
    ] {
        assert_eq!(
            types.iter().filter(|t| *t == expected).count(),
            1,
            "{expected} in {types:?}"
        );
    }
    fx.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn check_in_and_out_exceptions_follow_the_agency_policy(db: PgPool) {
    let fx = Fixture::new(db).await;
    let maria = fx.caregiver("Maria", &[]).await;
    let visit = fx.visit(at(9, 0), at(11, 0), &[]).await;
    let act = &fx.activities;
    act.assign_caregiver(visit).await.unwrap();
    // 20 min late (tolerance 15), out 30 min early: two exceptions, nothing refused.
    act.record_evv(EvvKind::CheckIn, &evv(visit, maria, at(9, 20)))
        .await
        .unwrap();
    act.record_evv(EvvKind::CheckOut, &evv(visit, maria, at(10, 30)))
        .await
        .unwrap();
    let codes: Vec<String> = sqlx::query_scalar(
        "select code::text from visit_exceptions where visit_id = $1 order by code::text",
    )
    .bind(visit)
    .fetch_all(fx.db())
    .await
    .unwrap();
    assert_eq!(codes, ["early_check_out", "late_check_in"]);
    // A wider tolerance and a client day centre are the agency's to set.
    sqlx::query(
        "update agency_settings set late_check_in_minutes = 30, early_check_out_minutes = 60",
    )
    .execute(fx.db())
    .await
    .unwrap();
    let second = fx.visit(at(12, 0), at(14, 0), &[]).await;
    sqlx::query(
        "insert into client_locations (id, client_id, label, latitude, longitude)
         values ($1, $2, 'day centre', 41.98, -87.67)",
    )
    .bind(Uuid::new_v4())
    .bind(fx.client_id)
    .execute(fx.db())
    .await
    .unwrap();
    act.assign_caregiver(second).await.unwrap();
    act.record_evv(EvvKind::CheckIn, &away(second, maria, at(12, 20)))
        .await
        .unwrap();
    act.record_evv(EvvKind::CheckOut, &evv(second, maria, at(13, 30)))
        .await
        .unwrap();
    assert_eq!(
        fx.count(
            "select count(*) from visit_exceptions where visit_id = $1",
            second
        )
        .await,
        0
    );
    let billed = act.bill(second).await.unwrap().invoice.unwrap();
    // 70 min = 4 units + 10 min (>= 8) = 5 units x 7.50 = 37.50
    assert_eq!((billed.units, billed.amount), (5, dec!(37.50)));
    fx.cleanup().await;
}

async fn authorize(fx: &Fixture, units: i32, per: &str) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "insert into authorizations (id, client_id, payer_id, service_code, valid, units, per)
         values ($1, $2, $3, 'T1019', '[2026-03-01,2026-03-31]', $4, $5::authorization_period)",
    )
    .bind(id)
    .bind(fx.client_id)
    .bind(PRIVATE_PAY)
    .bind(units)
    .bind(per)
    .execute(fx.db())
    .await
    .unwrap();
    id
}

#[sqlx::test(migrations = "../migrations")]
async fn units_beyond_the_authorization_are_held_and_never_billed(db: PgPool) {
    let fx = Fixture::new(db).await;
    let maria = fx.caregiver("Maria", &[]).await;
    authorize(&fx, 10, "week").await;
    let act = &fx.activities;
    // First visit: 60 min = 4 units, within 10.
    let first = fx.visit(at(9, 0), at(10, 0), &[]).await;
    fx.work(first, maria, at(9, 0), at(10, 0)).await;
    assert_eq!(act.bill(first).await.unwrap().invoice.unwrap().units, 4);
    // Second: 120 min = 8 units, 6 left: held.
    let second = fx.visit(at(12, 0), at(14, 0), &[]).await;
    fx.work(second, maria, at(12, 0), at(14, 0)).await;
    let held = act.bill(second).await.unwrap();
    assert_eq!(held.held_by.len(), 1);
    assert_eq!(held.held_by[0].code, ExceptionCode::AuthorizationExceeded);
    let detail: serde_json::Value =
        sqlx::query_scalar("select detail from visit_exceptions where visit_id = $1")
            .bind(second)
            .fetch_one(fx.db())
            .await
            .unwrap();
    assert_eq!(
        (detail["units"].as_i64(), detail["remaining_units"].as_i64()),
        (Some(8), Some(6))
    );
    // The coordinator bills within the authorization: 6 units x 7.50 = 45.00.
    let request = RecordResolution {
        visit_id: second,
        resolution: resolution(
            held.held_by[0].exception_id,
            ResolutionCode::BillWithinAuthorization,
        ),
    };
    act.resolve_exception(&request).await.unwrap();
    let invoice = act.bill(second).await.unwrap().invoice.unwrap();
    assert_eq!((invoice.units, invoice.amount), (6, dec!(45.00)));
    let (units, unadjusted, _, _, _) = line(&fx, second).await;
    assert_eq!((units, unadjusted), (6, 8));
    // The week's units are spent: a third visit is held too.
    let third = fx.visit(at(15, 0), at(15, 30), &[]).await;
    fx.work(third, maria, at(15, 0), at(15, 30)).await;
    assert!(act.bill(third).await.unwrap().invoice.is_none());
    let billed: i64 = sqlx::query_scalar("select sum(units) from invoice_lines")
        .fetch_one(fx.db())
        .await
        .unwrap();
    assert_eq!(billed, 10);
    fx.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn an_extended_authorization_lets_the_held_visit_bill_in_full(db: PgPool) {
    let fx = Fixture::new(db).await;
    let maria = fx.caregiver("Maria", &[]).await;
    let authorization = authorize(&fx, 4, "month").await;
    let visit = fx.visit(at(9, 0), at(11, 0), &[]).await;
    fx.work(visit, maria, at(9, 0), at(11, 0)).await;
    let act = &fx.activities;
    let held = act.bill(visit).await.unwrap();
    assert_eq!(held.held_by[0].code, ExceptionCode::AuthorizationExceeded);
    sqlx::query("update authorizations set units = 40 where id = $1")
        .bind(authorization)
        .execute(fx.db())
        .await
        .unwrap();
    let request = RecordResolution {
        visit_id: visit,
        resolution: resolution(
            held.held_by[0].exception_id,
            ResolutionCode::AuthorizationUpdated,
        ),
    };
    act.resolve_exception(&request).await.unwrap();
    assert_eq!(act.bill(visit).await.unwrap().invoice.unwrap().units, 8);
    fx.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn overtime_and_holidays_bill_at_the_rates_multipliers_whatever_the_billing_order(
    db: PgPool,
) {
    let fx = Fixture::new(db).await;
    let maria = fx.caregiver("Maria", &[]).await;
    sqlx::query(
        "update rates set overtime_multiplier = 1.5, holiday_multiplier = 2
          where payer_id = $1 and service_code = 'T1019'",
    )
    .bind(PRIVATE_PAY)
    .execute(fx.db())
    .await
    .unwrap();
    // Overtime after one hour a week, to keep the visits short.
    sqlx::query("update agency_settings set overtime_after_minutes_per_week = 60")
        .execute(fx.db())
        .await
        .unwrap();
    let first = fx.visit(at(9, 0), at(10, 0), &[]).await;
    let second = fx.visit(at(10, 0), at(11, 30), &[]).await;
    fx.work(first, maria, at(9, 0), at(10, 0)).await;
    fx.work(second, maria, at(10, 0), at(11, 30)).await;
    let act = &fx.activities;
    // Billed in reverse order: the second visit's 90 min come after the week's
    // first 60, so all are overtime: 6 units x 7.50 x 1.5 = 67.50
    assert_eq!(
        act.bill(second).await.unwrap().invoice.unwrap().amount,
        dec!(67.50)
    );
    // The first: 4 units x 7.50 = 30.00, no overtime.
    assert_eq!(
        act.bill(first).await.unwrap().invoice.unwrap().amount,
        dec!(30.00)
    );
    assert_eq!(line(&fx, second).await.2, 6);
    assert_eq!(line(&fx, first).await.2, 0);

    // 2026-03-03 (local) is a holiday: 60 min = 4 units x 7.50 x 2 = 60.00, and
    // with the week's 150 min already past the threshold it is also overtime:
    // 4 x 7.50 x 1.5 x 2 = 90.00
    sqlx::query("insert into holidays (day, name) values ('2026-03-03', 'Test holiday')")
        .execute(fx.db())
        .await
        .unwrap();
    let next_day = |h| at(h, 0) + chrono::Duration::days(1);
    let holiday = fx.visit(next_day(15), next_day(16), &[]).await;
    fx.work(holiday, maria, next_day(15), next_day(16)).await;
    assert_eq!(
        act.bill(holiday).await.unwrap().invoice.unwrap().amount,
        dec!(90.00)
    );
    fx.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn a_missed_check_out_closes_the_visit_and_its_resolution_supplies_the_end(db: PgPool) {
    let fx = Fixture::new(db).await;
    let maria = fx.caregiver("Maria", &[]).await;
    let visit = fx.visit(at(9, 0), at(11, 0), &[]).await;
    let act = &fx.activities;
    act.assign_caregiver(visit).await.unwrap();
    act.record_evv(EvvKind::CheckIn, &evv(visit, maria, at(9, 0)))
        .await
        .unwrap();
    assert!(act.close_missed_check_out(visit).await.unwrap());
    assert!(
        act.close_missed_check_out(visit).await.unwrap(),
        "a retry answers the same"
    );
    assert_eq!(fx.status(visit).await, "completed");
    let held = act.bill(visit).await.unwrap();
    assert_eq!(held.held_by[0].code, ExceptionCode::MissedCheckOut);
    let mut request = RecordResolution {
        visit_id: visit,
        resolution: resolution(
            held.held_by[0].exception_id,
            ResolutionCode::CaregiverForgot,
        ),
    };
    // The end time is required, and after the check-in.
    assert!(act.resolve_exception(&request).await.is_err());
    request.resolution.check_out_at = Some(at(8, 0));
    assert!(act.resolve_exception(&request).await.is_err());
    request.resolution.check_out_at = Some(at(10, 30));
    act.resolve_exception(&request).await.unwrap();
    let method: String = sqlx::query_scalar(
        "select method::text from evv_records where visit_id = $1 and kind = 'check_out'",
    )
    .bind(visit)
    .fetch_one(fx.db())
    .await
    .unwrap();
    assert_eq!(method, "manual");
    // The entered end is 30 min before the scheduled one: checked like any
    // check-out, it is an early check-out, which holds the visit again.
    let held = act.bill(visit).await.unwrap();
    assert_eq!(held.held_by.len(), 1);
    assert_eq!(held.held_by[0].code, ExceptionCode::EarlyCheckOut);
    act.resolve_exception(&RecordResolution {
        visit_id: visit,
        resolution: resolution(
            held.held_by[0].exception_id,
            ResolutionCode::ScheduleChangeApproved,
        ),
    })
    .await
    .unwrap();
    // 90 min = 6 units x 7.50 = 45.00
    assert_eq!(
        act.bill(visit).await.unwrap().invoice.unwrap().amount,
        dec!(45.00)
    );

    // A visit checked out in time is not closed by a late timer.
    let other = fx.visit(at(12, 0), at(13, 0), &[]).await;
    fx.work(other, maria, at(12, 0), at(13, 0)).await;
    assert!(!act.close_missed_check_out(other).await.unwrap());
    fx.cleanup().await;
}

#[sqlx::test(migrations = "../migrations")]
async fn claims_group_each_clients_lines_once_and_export_an_837p_pyx12_accepts(db: PgPool) {
    let fx = Fixture::new(db).await;
    let maria = fx.caregiver("Maria", &[]).await;
    let act = &fx.activities;
    let mut visits = Vec::new();
    for (start, end) in [(at(9, 0), at(10, 7)), (at(12, 0), at(14, 0))] {
        let visit = fx.visit(start, end, &[]).await;
        fx.work(visit, maria, start, end).await;
        act.bill(visit).await.unwrap().invoice.unwrap();
        visits.push(visit);
    }
    // A second client without coverage: reported, not claimed.
    let uncovered = fx.client("Walter", 41.94, -87.67).await;
    let visit = fx.visit_for(uncovered, at(15, 0), at(16, 0), 1).await;
    fx.work(visit, maria, at(15, 0), at(16, 0)).await;
    act.bill(visit).await.unwrap().invoice.unwrap();
    sqlx::query(
        "insert into client_coverages (client_id, payer_id, member_id, last_name, first_name, date_of_birth,
                                       gender, address_line, city, state, postal_code, diagnosis_codes)
         values ($1, $2, 'MBR-1001', 'PARK', 'ELEANOR', '1941-06-02', 'F', '1452 W BELMONT AVE', 'CHICAGO',
                 'IL', '60657', '{R262,I10}')",
    )
    .bind(fx.client_id)
    .bind(PRIVATE_PAY)
    .execute(fx.db())
    .await
    .unwrap();
    sqlx::query(
        "update rates set modifiers = '{U1}' where payer_id = $1 and service_code = 'T1019'",
    )
    .bind(PRIVATE_PAY)
    .execute(fx.db())
    .await
    .unwrap();

    let (from, to) = (
        NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 3, 31).unwrap(),
    );
    let formed = claims::form_claims(fx.db(), PRIVATE_PAY, from, to)
        .await
        .unwrap();
    assert_eq!(formed.claims.len(), 1);
    assert_eq!(formed.not_claimable.len(), 1);
    assert_eq!(formed.not_claimable[0].client_id, uncovered);
    // 67 min = 4 units + 7 min (< 8) = 4 x 7.50 = 30.00; 120 min = 60.00
    let claim = &formed.claims[0];
    assert_eq!((claim.total, claim.line_count), (dec!(90.00), 2));
    let lines_total: Decimal =
        sqlx::query_scalar("select sum(amount) from invoice_lines where claim_id = $1")
            .bind(claim.id)
            .fetch_one(fx.db())
            .await
            .unwrap();
    assert_eq!(lines_total, claim.total);
    // Forming again claims nothing twice.
    let again = claims::form_claims(fx.db(), PRIVATE_PAY, from, to)
        .await
        .unwrap();
    assert!(again.claims.is_empty());
    assert_eq!(
        claims::list_claims(fx.db(), PRIVATE_PAY, from, to)
            .await
            .unwrap()
            .len(),
        1
    );

    let file = claims::export_837p(fx.db(), PRIVATE_PAY, from, to)
        .await
        .unwrap();
    assert!(
        file.contains(&format!("CLM*HC{}*90.00", claim.number)),
        "{file}"
    );
    assert!(
        file.contains("NM1*IL*1*PARK*ELEANOR****MI*MBR-1001"),
        "{file}"
    );
    pyx12::pyx12_check("activities_claim", &file).unwrap_or_else(|report| panic!("{report}"));
    // A period with no claims is refused with a clear error.
    let empty = claims::export_837p(fx.db(), PRIVATE_PAY, to, to).await;
    assert!(matches!(empty, Err(claims::ClaimsError::NoClaims { .. })));
    fx.cleanup().await;
}
