//! `homecare demo`: a small agency's morning, driven through the public API the
//! way a mobile app and a dashboard would, printing every event live.
//!
//! Each client first gets a care plan (`plans`): the visits of the weeks
//! ahead are generated from it and staffed by the engine. Then a few one-off
//! visits that happened earlier today are synced (device times in the past),
//! so check-in and check-out carry real durations through EVV to invoices.

mod plans;
mod session;

use session::{Demo, id, short};

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use homecare_domain::Event;
use rust_decimal::Decimal;
use serde_json::json;

pub async fn run(api_url: &str, token: &str) -> anyhow::Result<()> {
    let api = api_url.trim_end_matches('/').to_owned();
    let ws_url = homecare_client::events_url(&api, "");
    let (events, _) = tokio_tungstenite::connect_async(homecare_client::websocket(&ws_url, token)?)
        .await
        .with_context(|| {
            format!("cannot open {ws_url}; start the platform first (README, first command)")
        })?;
    let mut demo = Demo {
        http: homecare_client::http(token)?,
        api,
        events,
    };

    println!("Seeding a small agency...");
    let clients = [
        (
            "Eleanor Park",
            "1452 W Belmont Ave, Chicago, IL",
            41.9398,
            -87.6678,
        ),
        (
            "Harold Finch",
            "820 N Michigan Ave, Chicago, IL",
            41.8976,
            -87.6245,
        ),
        (
            "Rosa Delgado",
            "2231 S Halsted St, Chicago, IL",
            41.8516,
            -87.6468,
        ),
    ];
    let mut client_ids = Vec::new();
    let mut client_names = Vec::new();
    for (name, address, latitude, longitude) in clients {
        let client = demo
            .post("/v1/clients", json!({"name": name, "address": address, "latitude": latitude, "longitude": longitude, "timezone": "America/Chicago"}))
            .await?;
        println!("  client    {name:<14} {}", id(&client)?);
        client_ids.push((id(&client)?, latitude, longitude));
        client_names.push((id(&client)?, name));
    }
    let mut caregivers = HashMap::new();
    for (name, skills) in [
        ("Maria Lopez", json!(["personal_care", "hoyer_lift"])),
        ("James Chen", json!(["personal_care"])),
        ("Aisha Bello", json!(["personal_care", "dementia_care"])),
    ] {
        let caregiver = demo
            .post("/v1/caregivers", json!({"name": name, "skills": skills}))
            .await?;
        println!("  caregiver {name:<14} {} {skills}", id(&caregiver)?);
        caregivers.insert(id(&caregiver)?, name);
    }
    plans::seed(&mut demo, &client_names, &caregivers).await?;

    println!(
        "\nOne-off visits worked earlier today, outside the plans, synced from the phones now:"
    );

    let now = Utc::now();
    let at = |minutes_ago: i64| -> DateTime<Utc> { now - chrono::Duration::minutes(minutes_ago) };
    // (client, start, end, skills, check-in, check-out or None = cancelled)
    // Every visit ended within the agency's missed check-out limit (120 min by
    // default), and each check-in and check-out is within its tolerances.
    let plan = [
        (
            0,
            at(120),
            at(60),
            json!(["personal_care", "hoyer_lift"]),
            at(118),
            Some(at(61)),
        ),
        (
            1,
            at(110),
            at(50),
            json!(["dementia_care"]),
            at(112),
            Some(at(44)),
        ),
        (
            2,
            at(90),
            at(45),
            json!(["personal_care"]),
            at(89),
            Some(at(46)),
        ),
        (0, at(40), at(-20), json!(["personal_care"]), at(40), None),
    ];
    let mut visit_ids = Vec::new();
    for (client, start, end, skills, check_in, check_out) in plan {
        let (client_id, latitude, longitude) = &client_ids[client];
        println!(
            "\nVisit for client {} from {} to {} needing {skills}",
            short(Some(client_id)),
            start.format("%H:%M"),
            end.format("%H:%M")
        );
        let visit = demo
            .post("/v1/visits", json!({"client_id": client_id, "scheduled_start": start, "scheduled_end": end, "required_skills": skills}))
            .await?;
        let visit_id = id(&visit)?;
        let caregiver_id = match demo.wait_for(&visit_id, "homecare.visit.assigned").await? {
            (_, Event::VisitAssigned(assigned)) => assigned
                .assignment
                .visit
                .caregiver_id
                .context("assigned without caregiver")?,
            (frame, _) => anyhow::bail!("unexpected frame {}", frame.event.event_type),
        };
        let evv = |at: DateTime<Utc>| json!({"caregiver_id": caregiver_id, "at": at, "latitude": latitude, "longitude": longitude});
        match check_out {
            Some(check_out) => {
                demo.post(&format!("/v1/visits/{visit_id}/check-in"), evv(check_in))
                    .await?;
                demo.wait_for(&visit_id, "homecare.visit.checked_in")
                    .await?;
                let sent = std::time::Instant::now();
                demo.post(&format!("/v1/visits/{visit_id}/check-out"), evv(check_out))
                    .await?;
                demo.wait_for(&visit_id, "homecare.invoice.created").await?;
                println!(
                    "  check-out sent -> invoice.created received on the WebSocket: {} ms",
                    sent.elapsed().as_millis()
                );
                visit_ids.push(visit_id);
            }
            None => {
                demo.post(
                    &format!("/v1/visits/{visit_id}/cancel"),
                    json!({"reason": "client in hospital"}),
                )
                .await?;
                demo.wait_for(&visit_id, "homecare.visit.cancelled").await?;
            }
        }
    }

    println!("\nInvoice lines:");
    let mut total = Decimal::ZERO;
    for visit_id in &visit_ids {
        let lines = demo
            .get(&format!("/v1/visits/{visit_id}/invoice-lines"))
            .await?;
        for line in lines.as_array().into_iter().flatten() {
            let amount: Decimal = line["amount"].as_str().context("amount")?.parse()?;
            total += amount;
            println!(
                "  visit {} {} {} min = {} units x ${} = ${amount}",
                short(Some(visit_id)),
                line["service_code"].as_str().unwrap_or_default(),
                line["billed_minutes"],
                line["units"],
                line["unit_rate"].as_str().unwrap_or_default(),
            );
        }
    }
    println!("Invoice total: ${total}");
    Ok(())
}
