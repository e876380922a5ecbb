//! The demo's care plans: each client's master week, generated as visits for
//! the agency's horizon and staffed by the engine, then a change of one date.

use std::collections::{BTreeSet, HashMap};

use anyhow::Context;
use chrono::{DateTime, Datelike, Days, NaiveDate, Utc, Weekday};
use chrono_tz::Tz;
use serde_json::{Value, json};

use super::session::{Demo, id, short};

/// The agency's clients' time zone.
const ZONE: Tz = chrono_tz::America::Chicago;

/// One client's plan: what it asks for, and its patterns.
struct PlanSpec {
    client: usize,
    plan: Value,
    patterns: Vec<Value>,
}

fn specs(maria: &str, today: NaiveDate) -> Vec<PlanSpec> {
    // A monthly visit that falls within the horizon, whatever today is.
    let monthly_day = (today + Days::new(5)).day();
    vec![
        PlanSpec {
            client: 0,
            plan: json!({"required_skills": ["personal_care", "hoyer_lift"],
                         "duties": [{"code": "bathing", "required": true}, {"code": "dressing"},
                                    {"code": "medication_reminder", "required": true}]}),
            patterns: vec![json!({"recurrence": {"kind": "weekly",
                                     "weekdays": ["monday", "tuesday", "wednesday", "thursday", "friday"]},
                                  "start": "08:00", "end": "10:00", "preferred_caregiver_id": maria})],
        },
        PlanSpec {
            client: 1,
            plan: json!({"required_skills": ["dementia_care"],
                         "duties": [{"code": "meal_preparation", "required": true},
                                    {"code": "other", "text": "Afternoon walk"}]}),
            patterns: vec![
                json!({"recurrence": {"kind": "weekly", "weekdays": ["tuesday", "thursday"]},
                       "start": "13:00", "end": "15:00"}),
                json!({"recurrence": {"kind": "monthly", "day": monthly_day}, "start": "09:00", "end": "10:00"}),
            ],
        },
        PlanSpec {
            client: 2,
            plan: json!({"required_skills": ["personal_care"],
                         "duties": [{"code": "housekeeping"}, {"code": "mobility", "required": true}]}),
            patterns: vec![
                json!({"recurrence": {"kind": "weekly", "weekdays": ["saturday"], "every_weeks": 2},
                                  "start": "10:00", "end": "12:00", "holidays": "keep"}),
            ],
        },
    ]
}

/// Gives each client a care plan; waits until the engine has staffed every
/// generated visit; prints the week ahead; moves one visit by an exception.
pub(super) async fn seed(
    demo: &mut Demo,
    clients: &[(String, &str)],
    caregivers: &HashMap<String, &str>,
) -> anyhow::Result<()> {
    println!(
        "\nCare plans: each client's master week, generated as visits by the client's CarePlanWorkflow"
    );
    let today = Utc::now().with_timezone(&ZONE).date_naive();
    let maria = caregivers
        .iter()
        .find(|(_, name)| **name == "Maria Lopez")
        .map(|(id, _)| id.clone())
        .context("Maria Lopez was seeded")?;
    let mut generated: BTreeSet<String> = BTreeSet::new();
    let mut first_pattern = None;
    for spec in specs(&maria, today) {
        let (client_id, name) = &clients[spec.client];
        let mut body = spec.plan;
        body["valid_from"] = json!(today);
        let plan = demo
            .post(&format!("/v1/clients/{client_id}/care-plans"), body)
            .await?;
        let plan_id = id(&plan)?;
        for mut pattern in spec.patterns {
            pattern["starts_on"] = json!(today);
            let changed = demo
                .post(
                    &format!("/v1/clients/{client_id}/care-plans/{plan_id}/patterns"),
                    pattern.clone(),
                )
                .await?;
            println!(
                "  {name:<14} {:<44} -> {} visits over the next {} days",
                describe(&pattern),
                changed["generation"]["created"],
                changed["generation"]["horizon_days"],
            );
            first_pattern.get_or_insert((
                client_id.clone(),
                plan_id.clone(),
                id(&changed["pattern"])?,
            ));
        }
        let schedule = demo
            .get(&format!("/v1/clients/{client_id}/schedule"))
            .await?;
        // Occurrences whose time had passed have no visit.
        for visit in schedule["planned"].as_array().into_iter().flatten() {
            if let Some(id) = visit["visit"]["id"].as_str() {
                generated.insert(id.to_owned());
            }
        }
    }
    println!("  the engine staffs each generated visit (the pattern's caregiver first):");
    demo.wait_for_all(
        &generated,
        &["homecare.visit.assigned", "homecare.visit.unfilled"],
    )
    .await?;

    let (client_id, plan_id, pattern_id) = first_pattern.context("a pattern was created")?;
    print_week(demo, &clients[0], caregivers, today).await?;
    // The coordinator moves one visit: the next weekday's to the afternoon.
    let next = next_weekday(today + Days::new(1));
    let changed = demo
        .put(
            &format!("/v1/clients/{client_id}/care-plans/{plan_id}/patterns/{pattern_id}/exceptions/{next}"),
            json!({"kind": "move", "date": next, "start": "14:00", "end": "16:00"}),
        )
        .await?;
    println!(
        "\n  {} on {next}: moved to 14:00-16:00 by an exception -> {} visit rescheduled",
        clients[0].1, changed["rescheduled"]
    );
    Ok(())
}

fn next_weekday(mut date: NaiveDate) -> NaiveDate {
    while matches!(date.weekday(), Weekday::Sat | Weekday::Sun) {
        date = date + Days::new(1);
    }
    date
}

/// "Mon-Fri 08:00-10:00" in the coordinator's words.
fn describe(pattern: &Value) -> String {
    let recurrence = &pattern["recurrence"];
    let when = match recurrence["kind"].as_str() {
        Some("monthly") => format!("day {} of each month", recurrence["day"]),
        _ => {
            let days: Vec<String> = recurrence["weekdays"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|d| d[..1].to_uppercase() + &d[1..3])
                .collect();
            let every = if recurrence["every_weeks"] == 2 {
                "every other "
            } else {
                ""
            };
            format!("{every}{}", days.join("/"))
        }
    };
    format!(
        "{when} {}-{}",
        pattern["start"].as_str().unwrap_or_default(),
        pattern["end"].as_str().unwrap_or_default()
    )
}

/// The client's next seven days as the schedule shows them.
async fn print_week(
    demo: &Demo,
    (client_id, name): &(String, &str),
    caregivers: &HashMap<String, &str>,
    today: NaiveDate,
) -> anyhow::Result<()> {
    let schedule = demo
        .get(&format!(
            "/v1/clients/{client_id}/schedule?from={today}&to={}",
            today + Days::new(7)
        ))
        .await?;
    println!(
        "\n  {name}'s week ({}):",
        schedule["timezone"].as_str().unwrap_or_default()
    );
    for occurrence in schedule["planned"].as_array().into_iter().flatten() {
        let start: DateTime<Utc> = serde_json::from_value(occurrence["start"].clone())?;
        let end: DateTime<Utc> = serde_json::from_value(occurrence["end"].clone())?;
        let visit = &occurrence["visit"];
        let when = format!(
            "{}-{}",
            start.with_timezone(&ZONE).format("%a %b %d %H:%M"),
            end.with_timezone(&ZONE).format("%H:%M")
        );
        let Some(visit_id) = visit["id"].as_str() else {
            println!("    {when}  no visit: its time had passed when the plan began");
            continue;
        };
        let caregiver = visit["caregiver_id"]
            .as_str()
            .and_then(|id| caregivers.get(id).copied())
            .unwrap_or("nobody yet");
        println!(
            "    {when}  visit {}  {:<9} {caregiver}",
            short(Some(visit_id)),
            visit["status"].as_str().unwrap_or_default(),
        );
    }
    Ok(())
}
