use super::*;
use chrono::TimeZone;

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, hour, minute, 0).unwrap()
}

const HOME: Location = Location {
    latitude: 41.8781,
    longitude: -87.6298,
};

fn gps(at: DateTime<Utc>, location: Location) -> Capture {
    Capture {
        at,
        location: Some(location),
        method: EvvMethod::Gps,
    }
}

fn codes(findings: &[Finding]) -> Vec<ExceptionCode> {
    findings.iter().map(|f| f.code).collect()
}

#[test]
fn an_on_time_check_in_at_home_raises_nothing() {
    let found = check_in_findings(
        &EvvPolicy::default(),
        at(9, 0),
        &gps(at(9, 10), HOME),
        &[HOME],
    );
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn the_geofence_is_a_mile_by_default_and_any_client_place_counts() {
    // 0.02 degrees of latitude is about 2.2 km: outside one mile (1.609 km).
    let away = Location {
        latitude: HOME.latitude + 0.02,
        longitude: HOME.longitude,
    };
    let found = check_in_findings(
        &EvvPolicy::default(),
        at(9, 0),
        &gps(at(9, 0), away),
        &[HOME],
    );
    assert_eq!(codes(&found), [ExceptionCode::OutsideGeofence]);
    let distance = found[0].detail["distance_meters"].as_f64().unwrap();
    assert!((2200.0..2250.0).contains(&distance), "{distance}");
    // The same spot is the client's day centre: inside.
    let found = check_in_findings(
        &EvvPolicy::default(),
        at(9, 0),
        &gps(at(9, 0), away),
        &[HOME, away],
    );
    assert!(found.is_empty());
    // 0.01 degrees, about 1.1 km: inside one mile, outside a 1 km fence.
    let near = Location {
        latitude: HOME.latitude + 0.01,
        longitude: HOME.longitude,
    };
    assert!(
        check_in_findings(
            &EvvPolicy::default(),
            at(9, 0),
            &gps(at(9, 0), near),
            &[HOME]
        )
        .is_empty()
    );
    let tight = EvvPolicy {
        geofence_radius_meters: 1000.0,
        ..EvvPolicy::default()
    };
    assert_eq!(
        codes(&check_in_findings(
            &tight,
            at(9, 0),
            &gps(at(9, 0), near),
            &[HOME]
        )),
        [ExceptionCode::OutsideGeofence]
    );
}

#[test]
fn a_check_in_past_the_tolerance_is_late() {
    let policy = EvvPolicy::default();
    assert!(check_in_findings(&policy, at(9, 0), &gps(at(9, 15), HOME), &[HOME]).is_empty());
    assert_eq!(
        codes(&check_in_findings(
            &policy,
            at(9, 0),
            &gps(at(9, 16), HOME),
            &[HOME]
        )),
        [ExceptionCode::LateCheckIn]
    );
}

#[test]
fn a_manual_entry_is_always_an_exception_and_has_no_location() {
    let manual = Capture {
        at: at(9, 0),
        location: None,
        method: EvvMethod::Manual,
    };
    assert_eq!(
        codes(&check_in_findings(
            &EvvPolicy::default(),
            at(9, 0),
            &manual,
            &[HOME]
        )),
        [ExceptionCode::ManualTimeEntry]
    );
}

#[test]
fn check_out_finds_early_leaves_and_overlong_visits() {
    let policy = EvvPolicy::default();
    let scheduled = (at(9, 0), at(11, 0));
    // Left 16 min early.
    let found = check_out_findings(
        &policy,
        scheduled,
        at(9, 0),
        &gps(at(10, 44), HOME),
        &[HOME],
    );
    assert_eq!(codes(&found), [ExceptionCode::EarlyCheckOut]);
    // 15 min early is within tolerance.
    assert!(
        check_out_findings(
            &policy,
            scheduled,
            at(9, 0),
            &gps(at(10, 45), HOME),
            &[HOME]
        )
        .is_empty()
    );
    // Checked in 9:10, out 11:26: 136 min against 120 planned, 16 over.
    let found = check_out_findings(
        &policy,
        scheduled,
        at(9, 10),
        &gps(at(11, 26), HOME),
        &[HOME],
    );
    assert_eq!(codes(&found), [ExceptionCode::DurationOverScheduled]);
    assert_eq!(found[0].detail["verified_minutes"], 136);
}

#[test]
fn resolutions_must_fit_the_exception() {
    use ResolutionCode::*;
    let now = at(20, 0);
    let resolution_allowed = |c, r, out, inn| resolution_allowed(c, r, out, inn, now);
    assert!(resolution_allowed(ExceptionCode::OutsideGeofence, GpsUnavailable, None, None).is_ok());
    let refused = resolution_allowed(
        ExceptionCode::OutsideGeofence,
        AuthorizationUpdated,
        None,
        None,
    );
    assert!(refused.unwrap_err().contains("gps_unavailable"));
    assert!(
        resolution_allowed(
            ExceptionCode::AuthorizationExceeded,
            BillWithinAuthorization,
            None,
            None
        )
        .is_ok()
    );
    // A missed check-out needs the end time, after the check-in.
    assert!(
        resolution_allowed(
            ExceptionCode::MissedCheckOut,
            CaregiverForgot,
            None,
            Some(at(9, 0))
        )
        .is_err()
    );
    assert!(
        resolution_allowed(
            ExceptionCode::MissedCheckOut,
            CaregiverForgot,
            Some(at(8, 0)),
            Some(at(9, 0))
        )
        .is_err()
    );
    assert!(
        resolution_allowed(
            ExceptionCode::MissedCheckOut,
            CaregiverForgot,
            Some(at(11, 0)),
            Some(at(9, 0))
        )
        .is_ok()
    );
    // Not in the future, and not a day later.
    assert!(
        resolution_allowed(
            ExceptionCode::MissedCheckOut,
            CaregiverForgot,
            Some(at(21, 0)),
            Some(at(9, 0))
        )
        .is_err()
    );
    assert!(
        resolution_allowed(
            ExceptionCode::MissedCheckOut,
            CaregiverForgot,
            Some(at(10, 0)),
            Some(at(9, 0) - chrono::Duration::hours(30))
        )
        .is_err()
    );
    // And no other exception takes one.
    assert!(
        resolution_allowed(
            ExceptionCode::LateCheckIn,
            VerifiedWithClient,
            Some(at(11, 0)),
            None
        )
        .is_err()
    );
}

#[test]
fn codes_round_trip_through_their_names() {
    for code in ExceptionCode::ALL {
        assert_eq!(ExceptionCode::parse(code.as_str()), Some(code));
    }
    for code in ResolutionCode::ALL {
        assert_eq!(ResolutionCode::parse(code.as_str()), Some(code));
        assert!(
            ExceptionCode::ALL
                .iter()
                .any(|e| ResolutionCode::allowed_for(*e).contains(&code))
        );
    }
}
