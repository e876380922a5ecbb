//! Ranking one visit among 2,000 caregivers holding 20,000 booked visits (the
//! scheduling issue's target: under 5 ms), and a 40-visit batch decision (the
//! pure part of a call-out).
//!
//! `cargo bench -p homecare-domain --bench ranking`

use std::collections::HashSet;
use std::hint::black_box;

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Utc, Weekday};
use criterion::{Criterion, criterion_group, criterion_main};
use homecare_domain::scheduling::{
    Booking, CaregiverProfile, Credential, Location, Policy, VisitNeed, WeeklyWindow, decide_all,
    rank,
};
use uuid::Uuid;

const TZ: chrono_tz::Tz = chrono_tz::America::Chicago;
const SKILLS: [&str; 4] = ["personal_care", "hoyer_lift", "dementia", "medication"];

/// A small deterministic generator, so every run ranks the same calendar.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

fn at(day: u64, minute: u64) -> DateTime<Utc> {
    TZ.with_ymd_and_hms(2026, 12, 7, 0, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
        + Duration::days(day as i64)
        + Duration::minutes(minute as i64)
}

fn place(rng: &mut Lcg) -> Location {
    Location {
        latitude: 41.80 + rng.next(3000) as f64 / 10_000.0,
        longitude: -87.75 + rng.next(3000) as f64 / 10_000.0,
    }
}

fn calendar(caregivers: usize, visits_each: u64) -> Vec<CaregiverProfile> {
    let mut rng = Lcg(7);
    (0..caregivers)
        .map(|i| {
            let mut c = CaregiverProfile {
                id: Uuid::from_u128(i as u128 + 1),
                name: format!("caregiver {i}"),
                active: true,
                credentials: SKILLS
                    .iter()
                    .filter(|_| rng.next(3) > 0)
                    .map(|s| Credential {
                        skill: (*s).into(),
                        expires_on: None,
                    })
                    .collect(),
                languages: vec!["en".into()],
                gender: None,
                home: Some(place(&mut rng)),
                weekly: [
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri,
                ]
                .into_iter()
                .map(|weekday| WeeklyWindow {
                    weekday,
                    start: NaiveTime::from_hms_opt(7, 0, 0).unwrap(),
                    end: NaiveTime::from_hms_opt(19, 0, 0).unwrap(),
                })
                .collect(),
                exceptions: vec![],
                bookings: vec![],
                served_clients: (0..5)
                    .map(|_| Uuid::from_u128(10_000 + u128::from(rng.next(500))))
                    .collect::<HashSet<_>>(),
                max_minutes_per_day: 10 * 60,
                max_minutes_per_week: 50 * 60,
                overtime_after_minutes_per_week: 40 * 60,
            };
            // Two visits a day, Monday to Friday: 10 per caregiver.
            for k in 0..visits_each {
                let day = k / 2;
                let start = 8 * 60 + (k % 2) * 240 + rng.next(60);
                c.book(Booking {
                    visit_id: Uuid::from_u128(1_000_000 + (i as u128) * 100 + u128::from(k)),
                    client_id: Uuid::from_u128(10_000 + u128::from(rng.next(500))),
                    start: at(day, start),
                    end: at(day, start + 60 + rng.next(120)),
                    location: place(&mut rng),
                });
            }
            c
        })
        .collect()
}

fn need(rng: &mut Lcg, n: u128) -> VisitNeed {
    let day = rng.next(5);
    let start = 9 * 60 + rng.next(7 * 60);
    VisitNeed {
        visit_id: Uuid::from_u128(9_000_000 + n),
        client_id: Uuid::from_u128(10_000 + u128::from(rng.next(500))),
        start: at(day, start),
        end: at(day, start + 60),
        timezone: TZ,
        location: place(rng),
        required_skills: vec!["personal_care".into()],
        caregivers_needed: 1,
        required_language: None,
        required_gender: None,
        excluded_caregivers: vec![],
        preferred_caregivers: vec![],
        plan_continuity: Default::default(),
    }
}

fn benches(c: &mut Criterion) {
    let caregivers = calendar(2_000, 10);
    assert_eq!(
        caregivers.iter().map(|c| c.bookings.len()).sum::<usize>(),
        20_000
    );
    let policy = Policy::default();
    let mut rng = Lcg(11);
    let visit = need(&mut rng, 0);
    let ranking = rank(&visit, &caregivers, &policy);
    eprintln!(
        "ranking: {} eligible, {} ineligible",
        ranking.eligible.len(),
        ranking.ineligible.len()
    );
    c.bench_function("rank 1 visit among 2000 caregivers / 20000 bookings", |b| {
        b.iter(|| rank(black_box(&visit), black_box(&caregivers), &policy))
    });
    let needs: Vec<VisitNeed> = (0..40).map(|n| need(&mut rng, n + 1)).collect();
    c.bench_function("decide a batch of 40 visits among 2000 caregivers", |b| {
        b.iter_batched(
            || caregivers.clone(),
            |mut calendars| decide_all(black_box(&needs), &mut calendars, &policy),
            criterion::BatchSize::LargeInput,
        )
    });
}

criterion_group! {
    name = ranking;
    config = Criterion::default().sample_size(20);
    targets = benches
}
criterion_main!(ranking);
