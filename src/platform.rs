//! Assembling the running platform: database, migrations, worker, API.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use homecare_api::AppState;
use homecare_notifier::Notifier;
use homecare_store::EventBus;
use homecare_worker::WorkerThread;
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgPool, PgPoolOptions};
use tokio::sync::oneshot;

use crate::settings::Settings;

/// Creates the database if it does not exist and applies pending migrations.
pub async fn migrate(settings: &Settings) -> anyhow::Result<PgPool> {
    if !sqlx::Postgres::database_exists(&settings.database_url)
        .await
        .context("cannot reach PostgreSQL")?
    {
        sqlx::Postgres::create_database(&settings.database_url)
            .await
            .context("cannot create the database")?;
        tracing::info!("database created");
    }
    let db = connect_db(settings).await?;
    crate::MIGRATOR
        .run(&db)
        .await
        .context("migrations failed")?;
    Ok(db)
}

pub async fn connect_db(settings: &Settings) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(settings.db_max_connections)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(settings.database()?)
        .await
        .context("cannot connect to PostgreSQL")
}

/// The API, serving on its own task.
pub struct RunningApi {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningApi {
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.server.await??;
        Ok(())
    }
}

/// Starts the API on `addr` (port 0 picks a free one) over an existing pool.
pub async fn start_api(
    settings: &Settings,
    db: PgPool,
    addr: SocketAddr,
) -> anyhow::Result<RunningApi> {
    settings.require_payload_keys()?;
    let bus = EventBus::connect(settings.bus()).await?;
    let temporal = homecare_store::temporal::connect(&settings.temporal(), "homecare-api").await?;
    let state = AppState::new(db, bus, temporal, settings.api()?).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let tls = settings.api_tls()?;
    let server = tokio::spawn(homecare_api::serve(listener, tls, state, async move {
        let _ = stopped.await;
    }));
    tracing::info!(%addr, tls = settings.api_tls_cert.is_some(), "API listening");
    Ok(RunningApi {
        addr,
        stop: Some(stop),
        server,
    })
}

pub async fn start_worker(settings: &Settings) -> anyhow::Result<WorkerThread> {
    settings.require_payload_keys()?;
    Ok(WorkerThread::spawn(settings.worker()?).await?)
}

/// The notifier over an existing pool: the stream's durable consumer and
/// the senders of the channels that are configured.
pub async fn start_notifier(settings: &Settings, db: PgPool) -> anyhow::Result<Notifier> {
    let bus = EventBus::connect(settings.bus()).await?;
    let temporal =
        homecare_store::temporal::connect(&settings.temporal(), "homecare-notifier").await?;
    let config = homecare_notifier::NotifierConfig {
        escalations: Some(homecare_notifier::Escalations {
            temporal,
            task_queue: settings.task_queue.clone(),
        }),
        ..settings.notify.config()?
    };
    Ok(Notifier::start(db, bus, config).await?)
}

/// Everything in one process, as `homecare up` runs it.
pub struct Platform {
    pub api: RunningApi,
    pub worker: WorkerThread,
    pub notifier: Notifier,
}

impl Platform {
    pub async fn start(settings: &Settings) -> anyhow::Result<Self> {
        let db = migrate(settings).await?;
        let worker = start_worker(settings).await?;
        let notifier = start_notifier(settings, db.clone()).await?;
        let api = start_api(settings, db, settings.api_addr).await?;
        Ok(Self {
            api,
            worker,
            notifier,
        })
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        self.api.stop().await?;
        self.notifier.stop().await;
        self.worker.stop().await?;
        Ok(())
    }
}
