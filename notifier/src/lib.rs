//! The notifier, the platform's third handler: it reads the event stream
//! through a JetStream durable consumer, works out who is owed which message
//! on which channel (`homecare_domain::notify` says who, the database says
//! how to reach them), records each owed message once in `notifications`
//! and only then acknowledges the event. Senders take due messages from that
//! table, send them over e-mail (SMTP), SMS (an HTTP provider) or Web Push,
//! and retry with back-off until they are sent or dead.
//!
//! Nothing lives in process memory: any number of notifiers share the
//! durable consumer and the table (`for update skip locked`), and a notifier
//! killed mid-batch leaves its unacknowledged events to be redelivered and its
//! claimed messages to be taken over when the claim runs out.

mod channels;
mod config;
mod escalation;
mod intake;
mod owed;
pub mod push;
mod sender;

use std::sync::Arc;

use homecare_store::EventBus;
use sqlx::PgPool;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

pub use channels::Channel;
pub use config::{EmailConfig, NotifierConfig, NotifierError, SmsConfig};
pub use escalation::Escalations;
pub use sender::backoff;

/// A running notifier: its intake and its sender, stopped together.
pub struct Notifier {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Notifier {
    pub async fn start(
        db: PgPool,
        bus: EventBus,
        config: NotifierConfig,
    ) -> Result<Self, NotifierError> {
        let channels = Arc::new(channels::Channels::new(&config)?);
        let (stop, stopped) = watch::channel(false);
        let wake = Arc::new(Notify::new());
        let consumer = intake::consumer(&bus, &config.consumer).await?;
        let config = Arc::new(config);
        tracing::info!(channels = ?channels.enabled(), consumer = %config.consumer, "notifier started");
        let tasks = vec![
            tokio::spawn(intake::run(
                db.clone(),
                consumer,
                Arc::clone(&config),
                channels.enabled(),
                Arc::clone(&wake),
                stopped.clone(),
            )),
            tokio::spawn(sender::run(db, channels, config, wake, stopped)),
        ];
        Ok(Self { stop, tasks })
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}
