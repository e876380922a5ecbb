//! Care plans end to end: a plan's patterns generate ordinary visits for the
//! agency's horizon through the client's `CarePlanWorkflow`, changes move or
//! cancel only what lies ahead, a killed worker leaves no duplicate, a pattern
//! past its authorization raises an alert, and the duties a check-out
//! reports reach the EVV record.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveTime, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use homecare_domain::contracts::care_plan_workflow_id;
use homecare_workflows::CarePlanWorkflow;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{TestApp, types};

const WEEKDAYS: [&str; 5] = ["monday", "tuesday", "wednesday", "thursday", "friday"];
pub(crate) const EVERY_DAY: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

/// A fixed-offset zone where it is between 10:00 and 10:59 now, so a visit
/// at noon today lies ahead and can be worked at once, whatever time the
/// test runs.
pub(crate) fn late_morning_zone() -> (String, Tz) {
    let mut offset = 10 - Utc::now().hour() as i32;
    if offset < -12 {
        offset += 24;
    }
    // `Etc/GMT+5` is five hours behind UTC (the POSIX sign).
    let name = match offset {
        0 => "Etc/GMT".to_owned(),
        o if o > 0 => format!("Etc/GMT-{o}"),
        o => format!("Etc/GMT+{}", -o),
    };
    let tz = name.parse().unwrap();
    (name, tz)
}

pub(crate) fn today_in(tz: Tz) -> NaiveDate {
    Utc::now().with_timezone(&tz).date_naive()
}

pub(crate) fn local_time(at: DateTime<Utc>, tz: Tz) -> NaiveTime {
    at.with_timezone(&tz).time()
}

fn hm(hour: u32, minute: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour, minute, 0).unwrap()
}

pub(crate) async fn client_in(app: &TestApp, timezone: &str) -> String {
    let (status, client) = app
        .post(
            "/v1/clients",
            json!({"name": "Walter Brennan", "address": "1452 W Belmont Ave, Chicago",
                                    "latitude": 41.94, "longitude": -87.67, "timezone": timezone}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    client["id"].as_str().unwrap().to_owned()
}

/// A plan for `client` from `valid_from`, with `duties`; its id.
pub(crate) async fn plan(
    app: &TestApp,
    client: &str,
    valid_from: NaiveDate,
    duties: Value,
) -> String {
    let (status, plan) = app
        .post(
            &format!("/v1/clients/{client}/care-plans"),
            json!({"valid_from": valid_from, "duties": duties}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    assert_eq!(plan["versions"][0]["version"], 1, "{plan}");
    plan["id"].as_str().unwrap().to_owned()
}

/// Adds a weekly pattern; answers with the pattern and the generation.
pub(crate) async fn weekly(
    app: &TestApp,
    client: &str,
    plan: &str,
    days: &[&str],
    (start, end): (&str, &str),
    starts_on: NaiveDate,
    extra: Value,
) -> Value {
    let mut body = json!({"recurrence": {"kind": "weekly", "weekdays": days},
                          "start": start, "end": end, "starts_on": starts_on});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let (status, changed) = app
        .post(
            &format!("/v1/clients/{client}/care-plans/{plan}/patterns"),
            body,
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{changed}");
    changed
}

pub(crate) async fn horizon_days(app: &TestApp, days: i32) {
    sqlx::query("update agency_settings set schedule_horizon_days = $1")
        .bind(days)
        .execute(&app.db)
        .await
        .unwrap();
}

/// (id, start, end, status, caregiver, occurrence date) of the plan's visits by start.
pub(crate) async fn generated(
    app: &TestApp,
    plan: &str,
) -> Vec<(
    Uuid,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    Option<Uuid>,
    NaiveDate,
)> {
    sqlx::query_as(
        "select id, lower(scheduled), upper(scheduled), status::text, caregiver_id, occurrence_date
           from visits where care_plan_id = $1::uuid order by lower(scheduled)",
    )
    .bind(plan)
    .fetch_all(&app.db)
    .await
    .unwrap()
}

/// Polls the plan's visits until `done` holds for them.
pub(crate) async fn generated_when(
    app: &TestApp,
    plan: &str,
    what: &str,
    done: impl Fn(
        &[(
            Uuid,
            DateTime<Utc>,
            DateTime<Utc>,
            String,
            Option<Uuid>,
            NaiveDate,
        )],
    ) -> bool,
) -> Vec<(
    Uuid,
    DateTime<Utc>,
    DateTime<Utc>,
    String,
    Option<Uuid>,
    NaiveDate,
)> {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let visits = generated(app, plan).await;
        if done(&visits) {
            return visits;
        }
        assert!(Instant::now() < deadline, "{what}: {visits:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The dates in `[from, to)` on `days` that are not agency holidays.
async fn expected_dates(
    app: &TestApp,
    from: NaiveDate,
    to: NaiveDate,
    days: &[Weekday],
) -> Vec<NaiveDate> {
    let holidays: BTreeSet<NaiveDate> = sqlx::query_scalar("select day from holidays")
        .fetch_all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .collect();
    from.iter_days()
        .take_while(|d| *d < to)
        .filter(|d| days.contains(&d.weekday()) && !holidays.contains(d))
        .collect()
}

#[sqlx::test]
async fn a_plan_of_five_weekly_visits_generates_the_horizon_with_its_caregiver_and_nothing_twice(
    db: PgPool,
) {
    let app = TestApp::start(db).await;
    let tz: Tz = "America/Chicago".parse().unwrap();
    let client = client_in(&app, "America/Chicago").await;
    let _other = app.create_caregiver(&[]).await;
    let preferred = app.create_caregiver(&[]).await;
    let today = today_in(tz);
    let tomorrow = today + Days::new(1);
    let duties = json!([{"code": "bathing", "required": true},
                        {"code": "meal_preparation", "required": false},
                        {"code": "medication_reminder", "required": true}]);
    let plan = plan(&app, &client, today, duties.clone()).await;
    let changed = weekly(
        &app,
        &client,
        &plan,
        &WEEKDAYS,
        ("08:00", "10:00"),
        tomorrow,
        json!({"preferred_caregiver_id": preferred}),
    )
    .await;
    let weekdays = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];
    let dates = expected_dates(&app, tomorrow, today + Days::new(14), &weekdays).await;
    let generation = &changed["generation"];
    assert_eq!(generation["horizon_days"], 14, "{changed}");
    assert_eq!(generation["created"], dates.len(), "{changed}");
    assert_eq!(generation["active_plans"], 1);

    // Every occurrence is an ordinary visit at 8:00-10:00 local time, and the
    // engine gives each to the pattern's caregiver.
    let visits = generated_when(&app, &plan, "every visit assigned", |v| {
        v.len() == dates.len() && v.iter().all(|v| v.3 == "assigned")
    })
    .await;
    assert_eq!(
        visits.iter().map(|v| v.5).collect::<Vec<_>>(),
        dates,
        "one visit per occurrence date"
    );
    for (_, start, end, _, caregiver, _) in &visits {
        assert_eq!(
            (local_time(*start, tz), local_time(*end, tz)),
            (hm(8, 0), hm(10, 0))
        );
        assert_eq!(caregiver.map(|c| c.to_string()), Some(preferred.clone()));
    }

    // A visit shows its plan and what the plan asks the caregiver to do.
    let first = visits[0].0;
    let (_, visit) = app.get(&format!("/v1/visits/{first}")).await;
    assert_eq!(visit["care_plan_id"], plan.as_str(), "{visit}");
    assert_eq!(visit["occurrence_date"], json!(dates[0]));
    assert_eq!(visit["planned_duties"], duties);
    assert_eq!(visit["reported_duties"], Value::Null);

    // A new version that needs the same caregiver generates nothing twice;
    // the visits ahead follow its duties.
    let mut more_duties = duties.clone();
    more_duties
        .as_array_mut()
        .unwrap()
        .push(json!({"code": "dressing", "required": false}));
    let (status, changed) = app
        .put(
            &format!("/v1/clients/{client}/care-plans/{plan}"),
            json!({"effective_from": tomorrow, "duties": more_duties, "note": "reviewed"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let generation = &changed["generation"];
    assert_eq!(
        (
            &generation["created"],
            &generation["rescheduled"],
            &generation["cancelled"],
            &generation["kept"]
        ),
        (&json!(0), &json!(0), &json!(0), &json!(dates.len())),
        "{changed}"
    );
    assert_eq!(changed["plan"]["versions"].as_array().unwrap().len(), 2);
    let (_, visit) = app.get(&format!("/v1/visits/{first}")).await;
    assert_eq!(visit["planned_duties"], more_duties, "{visit}");
    // A version cannot begin in the past.
    let (status, refused) = app
        .put(
            &format!("/v1/clients/{client}/care-plans/{plan}"),
            json!({"effective_from": today - Days::new(1), "duties": duties}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused.to_string().contains("effective_from"), "{refused}");
    assert_eq!(generated(&app, &plan).await.len(), dates.len());

    // The schedule shows each planned occurrence beside its visit.
    let (status, schedule) = app
        .get(&format!(
            "/v1/clients/{client}/schedule?from={today}&to={}",
            today + Days::new(14)
        ))
        .await;
    assert_eq!(status, StatusCode::OK, "{schedule}");
    let planned = schedule["planned"].as_array().unwrap();
    assert_eq!(planned.len(), dates.len(), "{schedule}");
    for (occurrence, visit) in planned.iter().zip(&visits) {
        assert_eq!(occurrence["visit_id"], visit.0.to_string());
        assert_eq!(occurrence["visit"]["status"], "assigned");
    }
    assert_eq!(schedule["other_visits"], json!([]));
    assert_eq!(schedule["timezone"], "America/Chicago");

    // The client's workflow, as recorded now, replays against the code.
    app.replay_now::<CarePlanWorkflow>(&care_plan_workflow_id(Uuid::parse_str(&client).unwrap()))
        .await;
    app.shutdown().await;
}

#[sqlx::test]
async fn a_pattern_change_moves_the_visits_ahead_and_leaves_the_checked_in_one(db: PgPool) {
    let app = TestApp::start(db).await;
    horizon_days(&app, 7).await;
    let (zone, tz) = late_morning_zone();
    let client = client_in(&app, &zone).await;
    let caregiver = app.create_caregiver(&[]).await;
    let today = today_in(tz);
    let plan = plan(&app, &client, today, json!([])).await;
    let changed = weekly(
        &app,
        &client,
        &plan,
        &EVERY_DAY,
        ("12:00", "14:00"),
        today,
        json!({}),
    )
    .await;
    assert_eq!(changed["generation"]["created"], 7, "{changed}");
    let pattern = changed["pattern"]["id"].as_str().unwrap().to_owned();
    let visits = generated_when(&app, &plan, "all assigned", |v| {
        v.len() == 7 && v.iter().all(|v| v.3 == "assigned")
    })
    .await;
    let today_visit = visits[0].0.to_string();
    assert_eq!(visits[0].5, today);
    let (status, body) = app
        .post(
            &format!("/v1/visits/{today_visit}/check-in"),
            TestApp::evv(&caregiver, Utc::now()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Noon becomes 13:00: the six visits ahead move, today's stays.
    let mut events = app.events("").await;
    let (status, changed) = app
        .put(
            &format!("/v1/clients/{client}/care-plans/{plan}/patterns/{pattern}"),
            json!({"recurrence": {"kind": "weekly", "weekdays": EVERY_DAY},
                   "start": "13:00", "end": "15:00", "starts_on": today}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    let generation = &changed["generation"];
    assert_eq!(
        (
            &generation["created"],
            &generation["rescheduled"],
            &generation["kept"]
        ),
        (&json!(0), &json!(6), &json!(1)),
        "{changed}"
    );
    let last = visits[6].0.to_string();
    let frames = events
        .frames_until(&last, "homecare.visit.rescheduled")
        .await;
    assert!(
        types(&frames, &today_visit).is_empty(),
        "today's visit untouched"
    );
    let visits = generated_when(&app, &plan, "the six moved", |v| {
        v.iter()
            .skip(1)
            .all(|v| local_time(v.1, tz) == hm(13, 0) && v.3 == "assigned")
    })
    .await;
    assert_eq!(visits.len(), 7);
    assert_eq!(visits[0].0.to_string(), today_visit);
    assert_eq!(
        (local_time(visits[0].1, tz), visits[0].3.as_str()),
        (hm(12, 0), "checked_in")
    );

    // Skipping tomorrow cancels its visit; taking the skip back brings it
    // back as a new visit (the cancelled one keeps its history).
    let tomorrow = today + Days::new(1);
    let exception =
        format!("/v1/clients/{client}/care-plans/{plan}/patterns/{pattern}/exceptions/{tomorrow}");
    let (status, changed) = app.put(&exception, json!({"kind": "skip"})).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["cancelled"], 1, "{changed}");
    let (status, changed) = app
        .request(reqwest::Method::DELETE, &exception, None, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["created"], 1, "{changed}");
    let on_tomorrow: Vec<(String, Option<String>)> = sqlx::query_as(
        "select status::text, cancel_reason from visits
          where care_plan_id = $1::uuid and occurrence_date = $2 order by created_at",
    )
    .bind(&plan)
    .bind(tomorrow)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(on_tomorrow.len(), 2, "{on_tomorrow:?}");
    assert_eq!(
        on_tomorrow[0],
        (
            "cancelled".to_owned(),
            Some(homecare_domain::care_plan::PLAN_CANCEL_REASON.to_owned())
        )
    );

    // Ending the pattern cancels every visit ahead; the checked-in one stays.
    let (status, ended) = app
        .request(
            reqwest::Method::DELETE,
            &format!("/v1/clients/{client}/care-plans/{plan}/patterns/{pattern}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ended}");
    assert_eq!(ended["cancelled"], 6, "{ended}");
    let statuses: Vec<String> = sqlx::query_scalar(
        "select status::text from visits where care_plan_id = $1::uuid
          and status <> 'cancelled' order by lower(scheduled)",
    )
    .bind(&plan)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(statuses, ["checked_in"]);
    app.shutdown().await;
}

#[sqlx::test]
async fn a_pattern_past_its_authorization_raises_the_alert_before_any_visit_is_worked(db: PgPool) {
    let app = TestApp::start(db).await;
    let tz: Tz = "America/Chicago".parse().unwrap();
    let client = client_in(&app, "America/Chicago").await;
    let today = today_in(tz);
    // 20 units (five hours) a week; the pattern asks for ten hours.
    let (status, authorization) = app
        .post(
            &format!("/v1/clients/{client}/authorizations"),
            json!({"payer_id": crate::billing::PRIVATE_PAY, "service_code": "T1019", "units": 20, "per": "week",
                   "valid_from": today - Days::new(40), "valid_to": today + Days::new(90)}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{authorization}");
    let plan = plan(&app, &client, today, json!([])).await;
    let mut events = app.events("").await;
    let changed = weekly(
        &app,
        &client,
        &plan,
        &WEEKDAYS,
        ("08:00", "10:00"),
        today + Days::new(1),
        json!({}),
    )
    .await;
    let overruns = changed["generation"]["over_authorization"]
        .as_array()
        .unwrap();
    assert!(!overruns.is_empty(), "{changed}");
    for overrun in overruns {
        assert_eq!(overrun["care_plan_id"], plan.as_str());
        assert_eq!(overrun["authorization_id"], authorization["id"]);
        assert_eq!(overrun["authorized_units"], 20);
        assert!(overrun["planned_units"].as_i64().unwrap() > 20, "{overrun}");
    }
    let frames = events
        .frames_until(&plan, "homecare.alert.over_authorization")
        .await;
    let alert = &frames.last().unwrap()["event"]["data"];
    assert_eq!(alert["client_id"], client.as_str());
    assert_eq!(alert["overruns"], json!(overruns));
    let (_, shown) = app
        .get(&format!("/v1/clients/{client}/care-plans/{plan}"))
        .await;
    assert_eq!(shown["over_authorization"], true, "{shown}");
    let worked: i64 = sqlx::query_scalar(
        "select count(*) from evv_records e join visits v on v.id = e.visit_id where v.care_plan_id = $1::uuid",
    )
    .bind(&plan)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(worked, 0);

    // Down to Mondays (eight units a week): within the authorization again.
    let pattern = changed["pattern"]["id"].as_str().unwrap();
    let (status, changed) = app
        .put(
            &format!("/v1/clients/{client}/care-plans/{plan}/patterns/{pattern}"),
            json!({"recurrence": {"kind": "weekly", "weekdays": ["monday"]},
                   "start": "08:00", "end": "10:00", "starts_on": today + Days::new(1)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["generation"]["over_authorization"], json!([]));
    let (_, shown) = app
        .get(&format!("/v1/clients/{client}/care-plans/{plan}"))
        .await;
    assert_eq!(shown["over_authorization"], false, "{shown}");
    app.shutdown().await;
}

#[sqlx::test]
async fn a_coordinators_move_stays_and_impossible_changes_are_refused(db: PgPool) {
    let app = TestApp::start(db).await;
    horizon_days(&app, 7).await;
    let tz: Tz = "America/Chicago".parse().unwrap();
    let client = client_in(&app, "America/Chicago").await;
    let caregiver = app.create_caregiver(&[]).await;
    let today = today_in(tz);
    let tomorrow = today + Days::new(1);
    let plan = plan(&app, &client, today, json!([])).await;
    let changed = weekly(
        &app,
        &client,
        &plan,
        &EVERY_DAY,
        ("08:00", "10:00"),
        tomorrow,
        json!({}),
    )
    .await;
    let pattern = changed["pattern"]["id"].as_str().unwrap().to_owned();
    let visits = generated_when(&app, &plan, "all assigned", |v| {
        v.len() == 6 && v.iter().all(|v| v.3 == "assigned")
    })
    .await;

    // The coordinator moves tomorrow's visit to the afternoon; the next
    // generation keeps it there (the move is the occurrence's exception).
    let afternoon = |hour| {
        tomorrow
            .and_hms_opt(hour, 0, 0)
            .unwrap()
            .and_local_timezone(tz)
            .unwrap()
            .with_timezone(&Utc)
    };
    let (status, body) = app
        .post(
            &format!("/v1/visits/{}/reschedule", visits[0].0),
            json!({"scheduled_start": afternoon(15), "scheduled_end": afternoon(17)}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, again) = app
        .put(
            &format!("/v1/clients/{client}/care-plans/{plan}"),
            json!({"effective_from": tomorrow, "note": "again"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["generation"]["rescheduled"], 0, "{again}");
    let moved = &generated(&app, &plan).await[0];
    assert_eq!((moved.0, local_time(moved.1, tz)), (visits[0].0, hm(15, 0)));
    let (_, schedule) = app.get(&format!("/v1/clients/{client}/schedule")).await;
    let first = schedule["planned"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["visit_id"] == visits[0].0.to_string())
        .unwrap();
    assert_eq!(first["moved"], true, "{first}");
    // Across the client's midnight, a plan's visit cannot go.
    let (status, refused) = app
        .post(
            &format!("/v1/visits/{}/reschedule", visits[1].0),
            json!({"scheduled_start": afternoon(23), "scheduled_end": afternoon(23) + chrono::Duration::hours(2)}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(refused.to_string().contains("scheduled_end"), "{refused}");

    let exceptions =
        format!("/v1/clients/{client}/care-plans/{plan}/patterns/{pattern}/exceptions");
    // A date the pattern has no visit on (today is before it starts).
    let (status, body) = app
        .put(&format!("{exceptions}/{today}"), json!({"kind": "skip"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Too far, or into the past.
    let day = tomorrow + Days::new(1);
    let (status, body) = app
        .put(
            &format!("{exceptions}/{day}"),
            json!({"kind": "move", "date": day + Days::new(40), "start": "09:00", "end": "10:00"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("\"date\""), "{body}");
    let (status, body) = app
        .put(
            &format!("{exceptions}/{day}"),
            json!({"kind": "move", "date": today - Days::new(1), "start": "09:00", "end": "10:00"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("\"start\""), "{body}");
    // A leap second is no time of day.
    let (status, body) = app
        .put(
            &format!("/v1/clients/{client}/care-plans/{plan}/patterns/{pattern}"),
            json!({"recurrence": {"kind": "weekly", "weekdays": EVERY_DAY},
                   "start": "08:00", "end": "23:59:60", "starts_on": tomorrow}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // A preferred caregiver who no longer works.
    sqlx::query("update caregivers set active = false where id = $1::uuid")
        .bind(&caregiver)
        .execute(&app.db)
        .await
        .unwrap();
    let (status, body) = app
        .put(
            &format!("/v1/clients/{client}/care-plans/{plan}/patterns/{pattern}"),
            json!({"recurrence": {"kind": "weekly", "weekdays": EVERY_DAY},
                   "start": "08:00", "end": "10:00", "starts_on": tomorrow,
                   "preferred_caregiver_id": caregiver}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("not active"), "{body}");
    // Nothing refused changed anything.
    let after = generated(&app, &plan).await;
    assert_eq!(after.len(), 6);
    assert!(
        after
            .iter()
            .skip(1)
            .all(|v| local_time(v.1, tz) == hm(8, 0))
    );
    app.shutdown().await;
}
