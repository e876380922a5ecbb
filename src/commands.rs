//! The CLI's commands and their flags (clap); `main.rs` runs them.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use homecare::settings::Settings;
use uuid::Uuid;

#[derive(Parser)]
#[command(
    name = "homecare",
    version,
    about = "Event-driven scheduling, EVV and billing for home-care agencies"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// Log format: `pretty` for people, `json` for log pipelines.
    #[arg(
        long,
        env = "HOMECARE_LOG_FORMAT",
        default_value = "pretty",
        global = true
    )]
    pub(crate) log_format: String,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Migrations, a worker, the notifier and the API in one process.
    Up(Settings),
    /// A Temporal worker only (run several to scale out).
    Worker(Settings),
    /// The API only (run several behind a load balancer).
    Api(Settings),
    /// The notifier only: events in, e-mail, SMS and Web Push out (run any number).
    Notifier(Settings),
    /// Create the database if needed and apply migrations.
    Migrate(Settings),
    /// Seed a small agency and drive visits through their lifecycle via the API.
    Demo {
        #[arg(
            long,
            env = "HOMECARE_API_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        api_url: String,
    },
    /// Drive complete visit lifecycles through the API and report throughput and latency.
    Bench {
        #[arg(
            long,
            env = "HOMECARE_API_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        api_url: String,
        #[arg(long, default_value_t = 100)]
        lifecycles: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Open loop: start this many lifecycles per second, however many are
        /// in flight (default: closed loop at --concurrency).
        #[arg(long)]
        rate: Option<f64>,
        /// Folder for the JSON report.
        #[arg(long, default_value = "results")]
        out: PathBuf,
        /// Skip the floor (a bare Temporal workflow with the same round trips).
        #[arg(long)]
        no_floor: bool,
        /// Extra WebSocket clients, each following one caregiver's events;
        /// reports their delivery latency and the API's memory.
        #[arg(long, default_value_t = 0)]
        fanout: usize,
        /// Alternate the project and the floor this many times, each round a
        /// share of the lifecycles, so both meet the same background.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        rounds: u16,
        #[command(flatten)]
        settings: Settings,
    },
    /// Time a caregiver's call-out re-deciding all of her visits, through the API.
    BenchCallOut {
        #[arg(
            long,
            env = "HOMECARE_API_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        api_url: String,
        /// Visits of the caregiver who calls out.
        #[arg(long, default_value_t = 40)]
        visits: usize,
        /// Caregivers created per run (the one calling out included).
        #[arg(long, default_value_t = 60)]
        caregivers: usize,
        #[arg(long, default_value_t = 5)]
        runs: usize,
        #[arg(long, default_value = "results")]
        out: PathBuf,
    },
    /// Generate visits from care plans for many clients, and the same visits
    /// through `POST /v1/visits`, in the same run.
    BenchCarePlans {
        #[arg(
            long,
            env = "HOMECARE_API_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        api_url: String,
        /// Clients for each way (a daily visit each for the horizon).
        #[arg(long, default_value_t = 540)]
        clients: usize,
        /// Caregivers for each way.
        #[arg(long, default_value_t = 150)]
        caregivers: usize,
        /// Requests in flight at most.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Create the visits through `POST /v1/visits` first.
        #[arg(long)]
        visits_first: bool,
        #[arg(long, default_value = "results")]
        out: PathBuf,
    },
    /// Time cancels while many visits nobody can staff wait in the same hour.
    BenchCancel {
        #[arg(
            long,
            env = "HOMECARE_API_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        api_url: String,
        /// Unfilled visits in the cancelled visits' hour.
        #[arg(long, default_value_t = 200)]
        unfilled: usize,
        #[arg(long, default_value_t = 20)]
        cancels: usize,
        /// Folder for the JSON report.
        #[arg(long, default_value = "results")]
        out: PathBuf,
    },
    /// Print live events from the WebSocket relay (resumes after reconnects).
    Watch {
        #[arg(
            long,
            env = "HOMECARE_API_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        api_url: String,
        #[arg(long)]
        visit_id: Option<String>,
        #[arg(long)]
        caregiver_id: Option<String>,
        /// Comma-separated event types, e.g. homecare.invoice.created
        #[arg(long = "type")]
        event_type: Option<String>,
        /// Replay events after this stream sequence first (0 = everything retained).
        #[arg(long)]
        since: Option<u64>,
    },
    /// The day-plan optimizer on the home-care routing benchmark (HHCRSP).
    Plan {
        #[command(subcommand)]
        command: PlanCommand,
    },
    /// Workflow histories for the replay tests.
    History {
        #[command(subcommand)]
        command: HistoryCommand,
    },
    /// Print the API's OpenAPI document (what the API serves at /openapi.json).
    Openapi,
    /// Print the AsyncAPI document of every event and the WebSocket (what the
    /// API serves at /asyncapi.json).
    Asyncapi,
    /// Mint a development bearer token (HS256, from HOMECARE_JWT_HS256_SECRET).
    Token {
        /// admin, coordinator, billing or caregiver.
        #[arg(long)]
        role: String,
        /// Who the token names (`sub`).
        #[arg(long, default_value = "developer")]
        sub: String,
        /// Required for the caregiver role: which caregiver the holder is.
        #[arg(long)]
        caregiver_id: Option<Uuid>,
        #[arg(long, default_value_t = 60)]
        ttl_minutes: i64,
        #[command(flatten)]
        jwt: homecare::settings::JwtSettings,
    },
    /// The audit trail's hash chain.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Claims: form them from approved invoice lines and export them.
    Billing {
        #[command(subcommand)]
        command: BillingCommand,
    },
    /// The accounts people sign in with (console and caregiver app).
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
}

/// An account as `homecare users create` takes it.
#[derive(clap::Args)]
pub(crate) struct NewAccount {
    #[arg(long)]
    pub(crate) email: String,
    /// admin, coordinator, billing or caregiver.
    #[arg(long)]
    pub(crate) role: String,
    /// Required for the caregiver role: the caregiver the account stands for.
    #[arg(long)]
    pub(crate) caregiver_id: Option<Uuid>,
    /// The name shown in the console (default: the address's name part).
    #[arg(long)]
    pub(crate) display_name: Option<String>,
    #[arg(long)]
    pub(crate) password_file: Option<PathBuf>,
}

#[derive(Subcommand)]
pub(crate) enum UsersCommand {
    /// Create an account. The password is the first line of --password-file,
    /// or one is generated and printed once.
    Create {
        #[command(flatten)]
        account: NewAccount,
        /// Succeed without a change when the address already has an account
        /// (set-up scripts run it every time).
        #[arg(long)]
        if_missing: bool,
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Recompute every link of the chain; fails at the first broken one (a row
    /// changed, removed or inserted after sealing).
    Verify {
        /// Seal rows still waiting for the sealer first.
        #[arg(long)]
        seal: bool,
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(Subcommand)]
pub(crate) enum BillingCommand {
    /// Form the payer's claims for the period (idempotent) and write them as one
    /// ANSI X12 837P (005010X222A1) file.
    #[command(name = "export-837p")]
    Export837p {
        #[arg(long)]
        payer: Uuid,
        /// First service date (YYYY-MM-DD).
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last service date, inclusive.
        #[arg(long)]
        to: chrono::NaiveDate,
        /// Where to write the file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(Subcommand)]
pub(crate) enum PlanCommand {
    /// Solve one instance and write the solution JSON (checked independently).
    Solve {
        instance: PathBuf,
        /// Seconds of search.
        #[arg(long, default_value_t = 10.0)]
        time_limit: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long)]
        out: PathBuf,
    },
    /// Solve every instance of a folder; print cost, gap to the best published
    /// cost and time per instance, then mean and max gap.
    Bench {
        dir: PathBuf,
        /// The best published costs (markdown table).
        #[arg(long)]
        best: PathBuf,
        /// Seconds per instance; default scales with size, 30 s at 300 patients.
        #[arg(long)]
        time_limit: Option<f64>,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Only instances whose file name contains this.
        #[arg(long)]
        filter: Option<String>,
        /// Folder for the JSON report.
        #[arg(long, default_value = "results")]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
pub(crate) enum HistoryCommand {
    /// Save a workflow's history as JSON (e.g. into tests/histories/): a
    /// visit's, or with `--care-plan` a client's `CarePlanWorkflow`.
    Record {
        /// The visit (or with `--care-plan`, the client).
        id: Uuid,
        /// Record the client's care-plan workflow.
        #[arg(long)]
        care_plan: bool,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        settings: Settings,
    },
}
