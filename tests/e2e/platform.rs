//! The CLI's building blocks: `up` (new database, migrations, worker, API),
//! `demo`, and `history record`.

use homecare::platform::Platform;
use homecare_bench::floor::FloorWorkflow;
use homecare_domain::contracts::visit_workflow_id;
use homecare_workflows::VisitWorkflow;
use reqwest::StatusCode;
use sqlx::PgPool;
use sqlx::migrate::MigrateDatabase;
use temporalio_client::WorkflowFetchHistoryOptions;
use temporalio_common::protos::temporal::api::enums::v1::EventType;
use uuid::Uuid;

use crate::helpers::{TestApp, isolated_settings, minutes_ago};

#[tokio::test]
async fn up_creates_and_migrates_a_new_database_then_serves() {
    let tag = Uuid::new_v4().simple().to_string();
    let mut settings = isolated_settings(&tag);
    let server = settings
        .database_url
        .rsplit_once('/')
        .map(|(server, _)| server.to_owned())
        .unwrap();
    settings.database_url = format!("{server}/homecare_up_{tag}");
    assert!(
        !sqlx::Postgres::database_exists(&settings.database_url)
            .await
            .unwrap()
    );

    let platform = Platform::start(&settings)
        .await
        .expect("the platform starts");
    let ready = reqwest::get(format!("http://{}/readyz", platform.api.addr))
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let payers: i64 = {
        let db = PgPool::connect(&settings.database_url).await.unwrap();
        let count = sqlx::query_scalar("select count(*) from payers")
            .fetch_one(&db)
            .await
            .unwrap();
        db.close().await;
        count
    };
    assert_eq!(
        payers, 2,
        "migrations, reference data included, were applied"
    );
    // Starting again over the same database is a no-op for the migrations.
    platform.stop().await.unwrap();
    let again = Platform::start(&settings)
        .await
        .expect("a restart finds everything in place");
    again.stop().await.unwrap();

    let bus = homecare_store::EventBus::connect(settings.bus())
        .await
        .unwrap();
    let _ = bus.jetstream().delete_stream(&settings.stream).await;
    sqlx::Postgres::force_drop_database(&settings.database_url)
        .await
        .unwrap();
}

#[sqlx::test]
async fn the_demo_drives_a_small_agency_through_the_api_to_invoices(db: PgPool) {
    let app = TestApp::start(db).await;
    homecare::demo::run(&app.base, &app.token(homecare_api::auth::Role::Admin, None))
        .await
        .expect("the demo completes");
    let (_, lines) = app.get("/v1/invoice-lines").await;
    let amounts: Vec<&str> = lines
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["amount"].as_str().unwrap())
        .collect();
    // 57, 68 and 43 verified minutes at 7.50 a unit: 4, 5 and 3 units.
    assert_eq!(amounts.len(), 3);
    let mut sorted = amounts.clone();
    sorted.sort();
    assert_eq!(sorted, ["22.50", "30.00", "37.50"]);
    let (_, cancelled) = app.get("/v1/visits?status=cancelled").await;
    assert_eq!(cancelled.as_array().unwrap().len(), 1);
    // Each client's care plan generated its visits, every one staffed.
    let (plans, generated, waiting, moved): (i64, i64, i64, i64) = sqlx::query_as(
        "select (select count(*) from care_plans),
                (select count(*) from visits where care_plan_id is not null),
                (select count(*) from visits where care_plan_id is not null and status = 'scheduled'),
                (select count(*) from care_plan_exceptions where kind = 'move')",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(plans, 3);
    assert!(generated >= 10, "{generated} visits generated");
    assert_eq!((waiting, moved), (0, 1));
    app.shutdown().await;
}

#[sqlx::test]
async fn a_freshly_recorded_history_replays_against_the_workflow_code(db: PgPool) {
    let app = TestApp::start(db).await;
    let v = app.assigned_visit(minutes_ago(60), minutes_ago(0)).await;
    app.work(&v.visit, &v.caregiver, v.start, minutes_ago(1))
        .await;
    let visit = v.visit;
    app.workflow_result(&visit).await;

    app.replay_now::<VisitWorkflow>(&visit_workflow_id(Uuid::parse_str(&visit).unwrap()))
        .await;
    app.shutdown().await;
}

/// The floor must make a visit's round trips. A visit's check-in cannot run
/// beside its assignment (the caregiver learns of it from the assignment), so
/// the floor's check-in, which the bench sends right after the start, waits for
/// the first activity to complete instead of running beside it.
#[sqlx::test]
async fn the_floor_check_in_runs_after_its_first_activity_as_a_visit_does(db: PgPool) {
    let app = TestApp::start_with(db, |s| s.bench_floor = true).await;
    let id = format!("floor-{}", Uuid::new_v4());
    homecare_bench::floor_lifecycle(&app.temporal, &app.settings.temporal().task_queue, &id)
        .await
        .expect("a floor lifecycle completes");
    let events = app
        .temporal
        .get_workflow_handle::<FloorWorkflow>(id)
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
        .unwrap();
    let kinds: Vec<EventType> = events.iter().map(|e| e.event_type()).collect();
    let position = |kind: EventType, nth: usize| {
        kinds
            .iter()
            .enumerate()
            .filter(|(_, k)| **k == kind)
            .nth(nth)
            .map(|(i, _)| i)
            .unwrap_or_else(|| panic!("no {kind:?} number {nth} in {kinds:?}"))
    };
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == EventType::ActivityTaskScheduled)
            .count(),
        4,
        "first activity, check-in, check-out, last activity"
    );
    assert!(
        position(EventType::ActivityTaskCompleted, 0)
            < position(EventType::ActivityTaskScheduled, 1),
        "the check-in's activity started before the first one completed: {kinds:?}"
    );
    assert!(
        kinds
            .iter()
            .filter(|k| **k == EventType::WorkflowTaskCompleted)
            .count()
            >= 6,
        "a visit's six workflow tasks at least: {kinds:?}"
    );
    app.shutdown().await;
}

#[sqlx::test]
async fn the_bench_drives_lifecycles_to_invoices_and_reports_latencies(db: PgPool) {
    let app = TestApp::start_with(db, |s| s.bench_floor = true).await;
    let out = std::env::temp_dir().join(format!("homecare-bench-{}", Uuid::new_v4()));
    let options = homecare_bench::BenchOptions {
        api_url: app.base.clone(),
        token: app.token(homecare_api::auth::Role::Admin, None),
        lifecycles: 6,
        concurrency: 3,
        out_dir: Some(out.clone()),
        floor: Some(app.settings.temporal()),
        fanout: 12,
        arrival_rate: None,
        // Project, floor, project, floor: three lifecycles of each per round.
        rounds: 2,
    };
    let report = homecare_bench::run(options)
        .await
        .expect("the bench completes");

    assert_eq!((report.lifecycles, report.rounds), (6, 2));
    assert!(report.lifecycles_per_second > 0.0);
    for metric in [
        "api.create_visit",
        "api.check_in",
        "api.check_out",
        "check_out_to_invoice_frame",
        "create_visit_to_assigned_frame",
    ] {
        let p = &report.latency[metric];
        assert_eq!(p.count, 6, "{metric}");
        assert!(
            p.p50_ms <= p.p95_ms && p.p95_ms <= p.p99_ms && p.p99_ms <= p.max_ms,
            "{metric}: {p:?}"
        );
    }
    assert_eq!(
        report.latency["state_change_to_ws_frame"].count, 12,
        "assigned + invoice.created per lifecycle"
    );
    let fanout = report.fanout.as_ref().expect("the fan-out ran");
    assert_eq!(fanout.sockets, 12);
    // Each socket follows one of the 3 caregivers: 4 sockets per caregiver see
    // that caregiver's assigned and invoice events (the ones stamped when
    // recorded, so their delivery can be timed).
    assert_eq!(fanout.frames, 4 * 6 * 2, "{fanout:?}");
    assert_eq!(
        fanout.api_websocket_connections,
        Some(12),
        "the main listener has closed by then"
    );
    assert!(fanout.api_rss_bytes_with_sockets.unwrap() > 0);
    let floor = report.floor.as_ref().expect("the floor ran");
    assert_eq!(floor.lifecycle.count, 6);
    assert!(floor.throughput_ratio > 0.0 && floor.p50_latency_ratio > 0.0);
    // CPU by program, read from /proc: this test process is the bench (and here
    // also the API and the worker); the Temporal server worked in both phases.
    let cpu = report
        .cpu
        .as_ref()
        .expect("CPU is read from /proc on Linux");
    let floor_cpu = cpu.floor.as_ref().expect("the floor's CPU");
    for phase in [&cpu.project, floor_cpu] {
        assert!(phase.ms_per_lifecycle["bench"] > 0.0, "{phase:?}");
        assert!(phase.ms_per_lifecycle["temporal"] > 0.0, "{phase:?}");
        assert!(phase.total_ms_per_lifecycle >= phase.ms_per_lifecycle["bench"]);
        assert!(
            (0.0..=1.0).contains(&phase.machine_busy_fraction),
            "{phase:?}"
        );
    }
    let lines: i64 = sqlx::query_scalar("select count(*) from invoice_lines")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(lines, 6);
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .extension()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    written.sort();
    assert_eq!(
        written,
        ["json", "svg"],
        "the JSON report and the latency plot"
    );

    // Open loop: arrivals at a fixed rate, whatever is in flight.
    let open_loop = homecare_bench::BenchOptions {
        api_url: app.base.clone(),
        token: app.token(homecare_api::auth::Role::Admin, None),
        lifecycles: 4,
        concurrency: 2,
        out_dir: None,
        floor: None,
        fanout: 0,
        arrival_rate: Some(4.0),
        rounds: 1,
    };
    let report = homecare_bench::run(open_loop)
        .await
        .expect("the open-loop bench completes");
    assert_eq!(report.latency["lifecycle_create_to_invoice_frame"].count, 4);
    assert_eq!(report.arrival_rate, Some(4.0));
    let svg = homecare_bench::latency_plot(&report);
    assert!(svg.starts_with("<svg") && svg.contains("lifecycle_create_to_invoice_frame"));
    std::fs::remove_dir_all(out).unwrap();
    app.shutdown().await;
}

#[sqlx::test]
async fn the_call_out_bench_re_decides_every_visit_and_reports_latencies(db: PgPool) {
    let app = TestApp::start(db).await;
    // More than 30 visits: the call-out workflow signals them all at once.
    let options = homecare_bench::call_out::CallOutBenchOptions {
        api_url: app.base.clone(),
        token: app.token(homecare_api::auth::Role::Admin, None),
        visits: 32,
        caregivers: 6,
        runs: 1,
        out_dir: None,
    };
    let report = homecare_bench::call_out::run(options)
        .await
        .expect("the call-out bench completes");

    assert_eq!(report.reassigned + report.unfilled, 32);
    assert!(report.reassigned > 0, "{report:?}");
    for p in [
        &report.response,
        &report.last_frame,
        &report.workflows_updated,
    ] {
        assert_eq!(p.count, 1);
        assert!(p.max_ms > 0.0);
    }
    let visits: Vec<Uuid> = sqlx::query_scalar("select id from visits")
        .fetch_all(&app.db)
        .await
        .unwrap();
    for visit in visits {
        app.track(&visit.to_string());
    }
    app.shutdown().await;
}

#[sqlx::test]
async fn the_cancel_bench_times_cancels_beside_unfilled_visits(db: PgPool) {
    let app = TestApp::start(db).await;
    let options = homecare_bench::cancel::CancelBenchOptions {
        api_url: app.base.clone(),
        token: app.token(homecare_api::auth::Role::Admin, None),
        unfilled: 3,
        cancels: 2,
        out_dir: None,
    };
    let report = homecare_bench::cancel::run(options)
        .await
        .expect("the cancel bench runs");
    assert_eq!(report.unfilled, 3);
    assert_eq!(report.cancel.count, 2);
    assert!(report.cancel.p50_ms > 0.0);
    let unfilled: i64 = sqlx::query_scalar("select count(*) from visits where status = 'unfilled'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        unfilled, 3,
        "the seeded visits stay unfilled: nobody has the skill"
    );
    app.shutdown().await;
}

#[sqlx::test]
async fn the_care_plan_bench_makes_the_same_visits_both_ways(db: PgPool) {
    let app = TestApp::start(db).await;
    sqlx::query("update agency_settings set schedule_horizon_days = 4")
        .execute(&app.db)
        .await
        .unwrap();
    let options = homecare_bench::care_plans::CarePlanBenchOptions {
        api_url: app.base.clone(),
        token: app.token(homecare_api::auth::Role::Admin, None),
        clients: 5,
        caregivers: 3,
        concurrency: 2,
        visits_first: false,
        out_dir: None,
    };
    let report = homecare_bench::care_plans::run(options)
        .await
        .expect("the care-plan bench runs");
    // Five clients, a daily visit from tomorrow to the horizon's last day.
    assert_eq!(report.care_plans.visits, 15);
    assert_eq!(report.post_visits.visits, 15);
    assert_eq!(report.care_plans.request.count, 5, "one pattern a client");
    assert_eq!(report.post_visits.request.count, 15, "one POST a visit");
    let (generated, posted, waiting): (i64, i64, i64) = sqlx::query_as(
        "select count(*) filter (where care_plan_id is not null),
                count(*) filter (where care_plan_id is null),
                count(*) filter (where status = 'scheduled')
           from visits",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((generated, posted, waiting), (15, 15, 0));
    app.shutdown().await;
}

/// The floor is the bench's, not the product's: a worker started without
/// `--bench-floor` fails every task of a floor workflow instead of running it.
#[sqlx::test]
async fn a_worker_without_bench_floor_does_not_run_the_floor(db: PgPool) {
    let app = TestApp::start(db).await;
    assert!(app.settings.worker_extra().is_none());
    let id = format!("floor-{}", Uuid::new_v4());
    let options =
        temporalio_client::WorkflowStartOptions::new(app.settings.task_queue.clone(), id.clone())
            .build();
    app.temporal
        .start_workflow(FloorWorkflow::run, (), options)
        .await
        .unwrap();
    let handle = app.temporal.get_workflow_handle::<FloorWorkflow>(id);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let events = handle
            .fetch_history(WorkflowFetchHistoryOptions::default())
            .into_events()
            .await
            .unwrap();
        let kinds: Vec<EventType> = events.iter().map(|e| e.event_type()).collect();
        assert!(
            !kinds.contains(&EventType::ActivityTaskScheduled),
            "the worker ran the floor: {kinds:?}"
        );
        if kinds.contains(&EventType::WorkflowTaskFailed) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the floor's task never failed: {kinds:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    handle
        .terminate(temporalio_client::WorkflowTerminateOptions::default())
        .await
        .ok();
    app.shutdown().await;
}
