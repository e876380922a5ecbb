//! `homecare`: run the platform, or one part of it.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use homecare::platform::{self, Platform};
use homecare::settings::Settings;
use homecare_domain::contracts::{care_plan_workflow_id, visit_workflow_id};
use homecare_workflows::{CarePlanWorkflow, VisitWorkflow};
use uuid::Uuid;

mod commands;

use commands::{
    AuditCommand, BillingCommand, Cli, Command, HistoryCommand, NewAccount, PlanCommand,
    UsersCommand,
};

fn init_tracing(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,temporalio_sdk_core=warn,temporalio_sdk=warn,sqlx=warn".into());
    // HOMECARE_LOG_SPANS=1 logs every span as it closes with its busy and idle
    // time: where an activity's milliseconds go (`docs/benchmarks.md`).
    let spans = if std::env::var_os("HOMECARE_LOG_SPANS").is_some() {
        tracing_subscriber::fmt::format::FmtSpan::CLOSE
    } else {
        tracing_subscriber::fmt::format::FmtSpan::NONE
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(spans);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Ctrl-C, or SIGTERM from a container runtime or process supervisor.
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("cannot listen for SIGTERM");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(&cli.log_format);
    match cli.command {
        Command::Up(settings) => up(&settings).await,
        Command::Worker(settings) => {
            let worker = platform::start_worker(&settings).await?;
            println!(
                "worker polling task queue {}; Ctrl-C stops it",
                settings.task_queue
            );
            shutdown_signal().await;
            Ok(worker.stop().await?)
        }
        Command::Api(settings) => {
            let db = platform::connect_db(&settings).await?;
            let api = platform::start_api(&settings, db, settings.api_addr).await?;
            println!("API on http://{}/v1; Ctrl-C stops it", api.addr);
            shutdown_signal().await;
            api.stop().await
        }
        Command::Notifier(settings) => {
            let db = platform::connect_db(&settings).await?;
            let notifier = platform::start_notifier(&settings, db).await?;
            println!(
                "notifier reading stream {}; Ctrl-C stops it",
                settings.stream
            );
            shutdown_signal().await;
            notifier.stop().await;
            Ok(())
        }
        Command::Migrate(settings) => {
            platform::migrate(&settings).await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Demo { api_url } => {
            homecare::demo::run(&api_url, &homecare::credentials::token()?).await
        }
        command @ Command::Bench { .. } => bench(command).await,
        Command::BenchCallOut {
            api_url,
            visits,
            caregivers,
            runs,
            out,
        } => {
            let options = homecare_bench::call_out::CallOutBenchOptions {
                api_url,
                token: homecare::credentials::token()?,
                visits,
                caregivers,
                runs,
                out_dir: Some(out),
            };
            let report = homecare_bench::call_out::run(options).await?;
            homecare_bench::call_out::print(&report);
            Ok(())
        }
        Command::BenchCarePlans {
            api_url,
            clients,
            caregivers,
            concurrency,
            visits_first,
            out,
        } => {
            let options = homecare_bench::care_plans::CarePlanBenchOptions {
                api_url,
                token: homecare::credentials::token()?,
                clients,
                caregivers,
                concurrency,
                visits_first,
                out_dir: Some(out),
            };
            let report = homecare_bench::care_plans::run(options).await?;
            homecare_bench::care_plans::print(&report);
            Ok(())
        }
        Command::BenchCancel {
            api_url,
            unfilled,
            cancels,
            out,
        } => {
            let options = homecare_bench::cancel::CancelBenchOptions {
                api_url,
                token: homecare::credentials::token()?,
                unfilled,
                cancels,
                out_dir: Some(out),
            };
            let report = homecare_bench::cancel::run(options).await?;
            homecare_bench::cancel::print(&report);
            Ok(())
        }
        Command::Watch {
            api_url,
            visit_id,
            caregiver_id,
            event_type,
            since,
        } => {
            homecare::watch::run(homecare::watch::WatchOptions {
                api_url,
                token: homecare::credentials::token()?,
                visit_id,
                caregiver_id,
                event_type,
                since,
            })
            .await
        }
        Command::Openapi => {
            println!("{}", homecare_api::openapi_document().to_pretty_json()?);
            Ok(())
        }
        Command::Asyncapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&homecare_api::asyncapi::document())?
            );
            Ok(())
        }
        Command::Token {
            role,
            sub,
            caregiver_id,
            ttl_minutes,
            jwt,
        } => token(&role, &sub, caregiver_id, ttl_minutes, &jwt),
        Command::Audit {
            command: AuditCommand::Verify { seal, settings },
        } => audit_verify(seal, &settings).await,
        Command::Plan { command } => plan(command),
        Command::Users {
            command:
                UsersCommand::Create {
                    account,
                    if_missing,
                    settings,
                },
        } => create_user(account, if_missing, &settings).await,
        Command::Billing {
            command:
                BillingCommand::Export837p {
                    payer,
                    from,
                    to,
                    out,
                    settings,
                },
        } => export_837p(payer, from, to, out, &settings).await,
        Command::History {
            command:
                HistoryCommand::Record {
                    id,
                    care_plan,
                    out,
                    settings,
                },
        } => {
            let (workflow_id, bytes) = if care_plan {
                let workflow_id = care_plan_workflow_id(id);
                let bytes =
                    homecare::history::record::<CarePlanWorkflow>(&settings, &workflow_id).await?;
                (workflow_id, bytes)
            } else {
                let workflow_id = visit_workflow_id(id);
                let bytes =
                    homecare::history::record::<VisitWorkflow>(&settings, &workflow_id).await?;
                (workflow_id, bytes)
            };
            std::fs::write(&out, bytes)
                .with_context(|| format!("cannot write {}", out.display()))?;
            println!("history of {workflow_id} written to {}", out.display());
            Ok(())
        }
    }
}

async fn up(settings: &Settings) -> anyhow::Result<()> {
    let platform = Platform::start(settings).await?;
    let api = format!("http://{}", platform.api.addr);
    println!("homecare is up");
    println!("  API          {api}/v1   (health: {api}/readyz)");
    println!("  WebSocket    ws://{}/v1/events", platform.api.addr);
    println!("  Documents    {api}/openapi.json, {api}/asyncapi.json");
    println!(
        "  Temporal UI  {}/namespaces/{}/workflows",
        settings.temporal_ui_url, settings.temporal_namespace
    );
    if settings.bench_floor {
        println!("  The worker also runs the bench's floor workflow (--bench-floor).");
    }
    println!("Ctrl-C (or SIGTERM) stops it.");
    shutdown_signal().await;
    platform.stop().await
}

async fn bench(command: Command) -> anyhow::Result<()> {
    let Command::Bench {
        api_url,
        lifecycles,
        concurrency,
        out,
        no_floor,
        fanout,
        rate,
        rounds,
        settings,
    } = command
    else {
        unreachable!("called with the bench command")
    };
    if let Some(r) = rate {
        anyhow::ensure!(
            r.is_finite() && r > 0.0 && r <= 1000.0,
            "--rate must be in (0, 1000]"
        );
    }
    let floor = (!no_floor).then(|| settings.temporal());
    let options = homecare_bench::BenchOptions {
        api_url,
        token: homecare::credentials::token()?,
        lifecycles,
        concurrency,
        out_dir: Some(out),
        floor,
        fanout,
        arrival_rate: rate,
        rounds: rounds.into(),
    };
    let report = homecare_bench::run(options).await?;
    homecare_bench::print(&report);
    Ok(())
}

fn token(
    role: &str,
    sub: &str,
    caregiver_id: Option<Uuid>,
    ttl_minutes: i64,
    jwt: &homecare::settings::JwtSettings,
) -> anyhow::Result<()> {
    let role = homecare_api::auth::Role::parse(role).with_context(|| {
        format!("--role {role:?}: use admin, coordinator, billing or caregiver")
    })?;
    anyhow::ensure!(
        role != homecare_api::auth::Role::Caregiver || caregiver_id.is_some(),
        "a caregiver token needs --caregiver-id"
    );
    anyhow::ensure!(
        (1..=60 * 24 * 30).contains(&ttl_minutes),
        "--ttl-minutes must be 1 to 43200"
    );
    let token = jwt.auth()?.mint(
        sub,
        role,
        caregiver_id,
        chrono::Duration::minutes(ttl_minutes),
    )?;
    println!("{token}");
    Ok(())
}

async fn create_user(
    account: NewAccount,
    if_missing: bool,
    settings: &Settings,
) -> anyhow::Result<()> {
    use homecare_api::accounts::{passwords, users};
    let role = homecare_api::auth::Role::parse(&account.role).with_context(|| {
        format!(
            "--role {} is not one of admin, coordinator, billing, caregiver",
            account.role
        )
    })?;
    let db = homecare::platform::migrate(settings).await?;
    let email = homecare_domain::accounts::normalize_email(&account.email)
        .map_err(|reason| anyhow::anyhow!("--email {reason}"))?;
    if if_missing && users::exists(&db, &email).await.map_err(api_error)? {
        println!("{email} already has an account; nothing changed");
        return Ok(());
    }
    let (password, generated) = match &account.password_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            (text.lines().next().unwrap_or_default().to_owned(), false)
        }
        None => (passwords::generate_password(), true),
    };
    let display_name = account
        .display_name
        .unwrap_or_else(|| email.split('@').next().unwrap_or(&email).to_owned());
    let user = users::create_user(
        &db,
        users::NewUser {
            email,
            display_name,
            role,
            caregiver_id: account.caregiver_id,
            password: password.clone(),
        },
    )
    .await
    .map_err(api_error)?;
    println!(
        "created {} ({}) with id {}",
        user.email,
        role.as_str(),
        user.id
    );
    if generated {
        println!("password (shown once): {password}");
    }
    Ok(())
}

/// An API error as the CLI reports it, field by field.
fn api_error(error: homecare_api::ApiError) -> anyhow::Error {
    match error {
        homecare_api::ApiError::Validation(errors) => anyhow::anyhow!(
            "{}",
            errors
                .0
                .iter()
                .map(|e| format!("--{}: {}", e.field.replace('_', "-"), e.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!("{other}"),
    }
}

async fn audit_verify(seal: bool, settings: &Settings) -> anyhow::Result<()> {
    let db = homecare::platform::migrate(settings).await?;
    if seal {
        while homecare_store::audit::seal(&db, 1000).await? == 1000 {}
    }
    let report = homecare_store::audit::verify(&db).await?;
    println!(
        "audit_log: {} sealed rows, {} waiting to be sealed, head {}",
        report.sealed, report.unsealed, report.head_hash
    );
    match report.first_break {
        None => {
            println!("chain intact");
            Ok(())
        }
        Some(broken) => anyhow::bail!(
            "chain broken at position {} (seq {}): {}",
            broken.position,
            broken.seq,
            broken.reason
        ),
    }
}

async fn export_837p(
    payer: Uuid,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    out: Option<PathBuf>,
    settings: &Settings,
) -> anyhow::Result<()> {
    let db = homecare::platform::migrate(settings).await?;
    let formed = homecare_store::claims::form_claims(&db, payer, from, to).await?;
    eprintln!("{} claim(s) formed", formed.claims.len());
    for skipped in &formed.not_claimable {
        eprintln!(
            "not claimable: client {} ({} line(s)): {}",
            skipped.client_id, skipped.lines, skipped.reason
        );
    }
    let file = homecare_store::claims::export_837p(&db, payer, from, to).await?;
    match out {
        Some(path) => {
            std::fs::write(&path, &file)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("837P written to {}", path.display());
        }
        None => print!("{file}"),
    }
    Ok(())
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<std::time::Duration> {
    anyhow::ensure!(
        value.is_finite() && value > 0.0 && value <= 86_400.0,
        "{flag} must be between 0 and 86400 seconds"
    );
    Ok(std::time::Duration::from_secs_f64(value))
}

fn plan(command: PlanCommand) -> anyhow::Result<()> {
    use homecare_planner::cli::{self, TimeLimitPolicy};
    match command {
        PlanCommand::Solve {
            instance,
            time_limit,
            seed,
            out,
        } => {
            let report =
                cli::solve_file(&instance, seconds(time_limit, "--time-limit")?, seed, &out)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            anyhow::ensure!(
                report.feasible,
                "the solution breaks hard rules: {:?}",
                report.violations
            );
            Ok(())
        }
        PlanCommand::Bench {
            dir,
            best,
            time_limit,
            seed,
            filter,
            out,
        } => {
            let policy = match time_limit {
                Some(s) => TimeLimitPolicy::Fixed(seconds(s, "--time-limit")?),
                None => TimeLimitPolicy::default(),
            };
            let report = cli::bench_dir(&dir, &best, policy, seed, filter.as_deref())?;
            std::fs::create_dir_all(&out)?;
            let path = out.join(format!(
                "plan-bench-{}.json",
                chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
            ));
            std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
            eprintln!("report written to {}", path.display());
            Ok(())
        }
    }
}
