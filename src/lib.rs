//! The `homecare` binary's library: settings, the assembled platform (migrations,
//! worker, API), the demo and history recording. `main.rs` is a thin CLI over it,
//! and the end-to-end tests start the same platform in-process.

pub mod bench;
pub mod demo;
pub mod history;
pub mod platform;
pub mod settings;
pub mod watch;

/// The project's migrations, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");
