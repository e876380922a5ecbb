//! The hard rules a caregiver may break for a visit, and the soft score of
//! an eligible one.

use super::*;

/// Every hard rule `caregiver` breaks for `need`; empty means eligible.
pub fn violations(
    need: &VisitNeed,
    caregiver: &CaregiverProfile,
    policy: &Policy,
    overrides: Overrides,
) -> Vec<Violation> {
    let mut found = Vec::new();
    if !caregiver.active {
        found.push(Violation::Inactive);
    }
    if need.excluded_caregivers.contains(&caregiver.id) {
        found.push(Violation::ClientExcluded);
    }
    let date = need.local_date();
    for skill in &need.required_skills {
        let held = caregiver.credentials.iter().filter(|c| &c.skill == skill);
        let mut expiries = held.map(|c| c.expires_on).peekable();
        if expiries.peek().is_none() {
            found.push(Violation::MissingSkill {
                skill: skill.clone(),
            });
        } else if let Some(latest) = expiries.try_fold(NaiveDate::MIN, |latest, e| {
            // None: never expires, so the skill is valid.
            e.map(|e| latest.max(e))
        }) && latest < date
        {
            found.push(Violation::CredentialExpired {
                skill: skill.clone(),
                expired_on: latest,
            });
        }
    }
    if let Some(language) = &need.required_language
        && !caregiver
            .languages
            .iter()
            .any(|l| l.eq_ignore_ascii_case(language))
    {
        found.push(Violation::LanguageMismatch {
            required: language.clone(),
        });
    }
    if let Some(gender) = &need.required_gender
        && !caregiver
            .gender
            .as_ref()
            .is_some_and(|g| g.eq_ignore_ascii_case(gender))
    {
        found.push(Violation::GenderMismatch {
            required: gender.clone(),
        });
    }
    found.extend(availability_violation(need, caregiver));
    found.extend(calendar_violations(need, caregiver, policy));

    let minutes = need.minutes();
    let day =
        caregiver.booked_minutes(need.timezone, date, date + Days::new(1), need.visit_id) + minutes;
    if day > caregiver.max_minutes_per_day {
        found.push(Violation::DailyHoursExceeded {
            minutes: day,
            max_minutes: caregiver.max_minutes_per_day,
        });
    }
    if !overrides.weekly_cap {
        let monday = week_start(date);
        let week =
            caregiver.booked_minutes(need.timezone, monday, monday + Days::new(7), need.visit_id)
                + minutes;
        if week > caregiver.max_minutes_per_week {
            found.push(Violation::WeeklyHoursExceeded {
                minutes: week,
                max_minutes: caregiver.max_minutes_per_week,
            });
        }
    }
    found
}

fn availability_violation(need: &VisitNeed, caregiver: &CaregiverProfile) -> Option<Violation> {
    let intersects = |e: &DatedException| e.start < need.end && need.start < e.end;
    let covers = |e: &DatedException| e.start <= need.start && need.end <= e.end;
    if caregiver
        .exceptions
        .iter()
        .any(|e| e.kind == ExceptionKind::Unavailable && intersects(e))
    {
        return Some(Violation::TimeOff);
    }
    if caregiver.weekly.is_empty()
        || caregiver
            .exceptions
            .iter()
            .any(|e| e.kind == ExceptionKind::Available && covers(e))
    {
        return None;
    }
    let start = need.start.with_timezone(&need.timezone).naive_local();
    let end = need.end.with_timezone(&need.timezone).naive_local();
    let within = caregiver.weekly.iter().any(|w| {
        if w.weekday != start.weekday() {
            return false;
        }
        let window_start = start.date().and_time(w.start);
        let window_end = if w.end == NaiveTime::MIN {
            (start.date() + Days::new(1)).and_time(NaiveTime::MIN)
        } else {
            start.date().and_time(w.end)
        };
        window_start <= start && end <= window_end
    });
    (!within).then_some(Violation::OutsideAvailability)
}

fn calendar_violations(
    need: &VisitNeed,
    caregiver: &CaregiverProfile,
    policy: &Policy,
) -> Vec<Violation> {
    let (before, overlapping, after) = caregiver.neighbours(need.start, need.end, need.visit_id);
    let mut found: Vec<Violation> = overlapping
        .iter()
        .map(|b| Violation::Overlap {
            visit_id: b.visit_id,
        })
        .collect();
    if let Some(b) = before {
        let travel = travel_minutes(&b.location, &need.location, policy.speed_kmh);
        let gap = (need.start - b.end).num_minutes();
        if gap < travel {
            found.push(Violation::NoTravelTime {
                visit_id: b.visit_id,
                travel_minutes: travel,
                gap_minutes: gap,
            });
        }
    }
    if let Some(b) = after {
        let travel = travel_minutes(&need.location, &b.location, policy.speed_kmh);
        let gap = (b.start - need.end).num_minutes();
        if gap < travel {
            found.push(Violation::NoTravelTime {
                visit_id: b.visit_id,
                travel_minutes: travel,
                gap_minutes: gap,
            });
        }
    }
    found
}

/// The soft score of `caregiver` for `need` (meaningful for eligible caregivers).
pub fn score(need: &VisitNeed, caregiver: &CaregiverProfile, policy: &Policy) -> ScoreTerms {
    let w = &policy.weights;
    let date = need.local_date();
    let plan = &need.plan_continuity;
    let care_plan = if plan.preferred == Some(caregiver.id) {
        w.plan_preferred
    } else if plan.previous.contains(&caregiver.id) {
        w.plan_previous
    } else {
        0.0
    };
    let continuity = if caregiver.served_clients.contains(&need.client_id) {
        w.continuity
    } else {
        0.0
    };
    let preferred = if need.preferred_caregivers.contains(&caregiver.id) {
        w.preferred
    } else {
        0.0
    };
    // Travel from the previous visit the same local day, else from home.
    let (before, _, _) = caregiver.neighbours(need.start, need.end, need.visit_id);
    let same_day = before.filter(|b| b.start.with_timezone(&need.timezone).date_naive() == date);
    let origin = same_day.map(|b| b.location).or(caregiver.home);
    let travel_minutes = origin.map_or(0, |o| travel_minutes(&o, &need.location, policy.speed_kmh));
    let monday = week_start(date);
    let week_minutes_before =
        caregiver.booked_minutes(need.timezone, monday, monday + Days::new(7), need.visit_id);
    let limit = caregiver.overtime_after_minutes_per_week;
    let overtime_minutes =
        (week_minutes_before + need.minutes() - limit.max(week_minutes_before)).max(0);
    // `+ 0.0` turns a negative zero into zero (JSON would show "-0").
    let travel = -(travel_minutes as f64) * w.travel_per_minute + 0.0;
    let overtime = -(overtime_minutes as f64) * w.overtime_per_minute + 0.0;
    let balance = -(week_minutes_before as f64 / 60.0) * w.balance_per_hour + 0.0;
    ScoreTerms {
        care_plan,
        continuity,
        preferred,
        travel,
        overtime,
        balance,
        total: care_plan + continuity + preferred + travel + overtime + balance,
        travel_minutes,
        overtime_minutes,
        week_minutes_before,
    }
}
