//! Configuration from the environment (or flags), with defaults that match the
//! local set-up and `docker-compose.yml`. Secrets in URLs are never printed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use homecare_api::ApiConfig;
use homecare_api::auth::AuthConfig;
use homecare_api::client_address::TrustedProxies;
use homecare_domain::accounts::{BEARER_THROTTLE, ThrottlePolicy};
use homecare_store::EventBusConfig;
use homecare_store::codec::PayloadCrypto;
use homecare_store::temporal::TemporalSettings;
use sqlx::postgres::PgConnectOptions;

#[derive(Args, Clone, Debug)]
pub struct Settings {
    /// PostgreSQL, the source of truth.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/homecare"
    )]
    pub database_url: String,
    #[arg(long, env = "HOMECARE_DB_MAX_CONNECTIONS", default_value_t = 10)]
    pub db_max_connections: u32,
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    pub nats_url: String,
    /// Subjects are `<prefix>.visit.<id>.<event>`, ...
    #[arg(long, env = "HOMECARE_SUBJECT_PREFIX", default_value = "homecare")]
    pub subject_prefix: String,
    #[arg(long, env = "HOMECARE_STREAM", default_value = "HOMECARE")]
    pub stream: String,
    #[arg(
        long,
        env = "TEMPORAL_ADDRESS",
        default_value = "http://127.0.0.1:7233"
    )]
    pub temporal_address: String,
    #[arg(long, env = "TEMPORAL_NAMESPACE", default_value = "default")]
    pub temporal_namespace: String,
    #[arg(long, env = "HOMECARE_TASK_QUEUE", default_value = "homecare-visits")]
    pub task_queue: String,
    /// Where the Temporal Web UI is, for the addresses `up` prints.
    #[arg(long, env = "TEMPORAL_UI_URL", default_value = "http://127.0.0.1:8233")]
    pub temporal_ui_url: String,
    #[arg(long, env = "HOMECARE_API_ADDR", default_value = "127.0.0.1:8080")]
    pub api_addr: SocketAddr,
    #[arg(long, env = "HOMECARE_UNFILLED_RETRY_MINUTES", default_value_t = 15)]
    pub unfilled_retry_minutes: i64,
    /// Also run the benchmark's floor workflow on this worker, for
    /// `homecare bench` (`./dev up` sets it; production workers leave it off).
    #[arg(long, env = "HOMECARE_BENCH_FLOOR")]
    pub bench_floor: bool,
    /// Seconds a check-in/out or cancel waits for its workflow before a 503.
    #[arg(long, env = "HOMECARE_UPDATE_TIMEOUT_SECS", default_value_t = 10)]
    pub update_timeout_secs: u64,
    /// Average travel speed for the scheduling engine's haversine travel times.
    #[arg(long, env = "HOMECARE_TRAVEL_SPEED_KMH", default_value_t = 30.0)]
    pub travel_speed_kmh: f64,
    #[command(flatten)]
    pub jwt: JwtSettings,
    /// AES-256-GCM keys for workflow payloads: `<id>:<base64 of 32 bytes>`,
    /// comma-separated; the first encrypts, all decrypt (rotation: put the new
    /// key first and keep the old ones until their workflows are gone).
    #[arg(long, env = "HOMECARE_PAYLOAD_KEYS", hide_env_values = true, value_parser = PayloadKeysParser)]
    pub payload_keys: Option<Arc<PayloadCrypto>>,
    /// TLS to NATS: the CA (PEM) to trust; setting it requires TLS.
    #[arg(long, env = "NATS_TLS_CA")]
    pub nats_tls_ca: Option<std::path::PathBuf>,
    /// A client certificate and key (PEM) for NATS servers that verify clients.
    #[arg(long, env = "NATS_TLS_CLIENT_CERT", requires = "nats_tls_client_key")]
    pub nats_tls_client_cert: Option<std::path::PathBuf>,
    #[arg(long, env = "NATS_TLS_CLIENT_KEY", requires = "nats_tls_client_cert")]
    pub nats_tls_client_key: Option<std::path::PathBuf>,
    /// TLS to Temporal: used when TEMPORAL_ADDRESS is https:// or any of these is set.
    #[arg(long, env = "TEMPORAL_TLS_CA")]
    pub temporal_tls_ca: Option<std::path::PathBuf>,
    #[arg(long, env = "TEMPORAL_TLS_DOMAIN")]
    pub temporal_tls_domain: Option<String>,
    #[arg(
        long,
        env = "TEMPORAL_TLS_CLIENT_CERT",
        requires = "temporal_tls_client_key"
    )]
    pub temporal_tls_client_cert: Option<std::path::PathBuf>,
    #[arg(
        long,
        env = "TEMPORAL_TLS_CLIENT_KEY",
        requires = "temporal_tls_client_cert"
    )]
    pub temporal_tls_client_key: Option<std::path::PathBuf>,
    /// HTTPS for the API: a PEM certificate chain and its private key (both, or
    /// neither for plain HTTP behind a TLS-terminating proxy or locally).
    #[arg(long, env = "HOMECARE_API_TLS_CERT", requires = "api_tls_key")]
    pub api_tls_cert: Option<std::path::PathBuf>,
    #[arg(long, env = "HOMECARE_API_TLS_KEY", requires = "api_tls_cert")]
    pub api_tls_key: Option<std::path::PathBuf>,
    /// Origins allowed to call `/codec/decode` (the Temporal UI), comma-separated.
    #[arg(
        long,
        env = "HOMECARE_CODEC_CORS_ORIGINS",
        default_value = "http://127.0.0.1:8233,http://localhost:8233"
    )]
    pub codec_cors_origins: String,
    /// The built web console (`./dev up` builds it with Vite), served at `/`.
    #[arg(long, env = "HOMECARE_CONSOLE_DIR", default_value = "web/dist")]
    pub console_dir: std::path::PathBuf,
    /// Proxies in front of the API (HAProxy, the site's load balancer) whose
    /// `X-Forwarded-For` names the client: comma-separated addresses or CIDR
    /// blocks. Sign-in and bad-token throttles count per client address;
    /// without this, behind a proxy every client counts as the proxy.
    #[arg(long, env = "HOMECARE_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// Refused bearer tokens one address may send in a minute before the
    /// next are answered 429 (the lock then doubles, up to an hour).
    #[arg(long, env = "HOMECARE_BEARER_FAILURES_PER_MINUTE", default_value_t = BEARER_THROTTLE.limit,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub bearer_failures_per_minute: u32,
    #[command(flatten)]
    pub notify: NotifySettings,
}

/// The notifier's channels. A channel with no server set is off: no message
/// is owed on it. Secrets are never printed.
#[derive(Args, Clone, Default)]
pub struct NotifySettings {
    /// Where links in messages point: the address people open the console
    /// and the caregiver app at.
    #[arg(
        long,
        env = "HOMECARE_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,
    /// E-mail: `smtp://host:port` (a local relay), `smtp://host:587?tls=required`
    /// (STARTTLS) or `smtps://host:465`, with `user:password@` if the relay wants them.
    #[arg(long, env = "HOMECARE_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,
    #[arg(
        long,
        env = "HOMECARE_NOTIFY_FROM",
        default_value = "homecare <notifications@homecare.local>"
    )]
    pub notify_from: String,
    /// SMS: the provider's API base (Twilio: https://api.twilio.com/2010-04-01).
    #[arg(long, env = "HOMECARE_SMS_API_URL")]
    pub sms_api_url: Option<String>,
    #[arg(long, env = "HOMECARE_SMS_ACCOUNT_SID")]
    pub sms_account_sid: Option<String>,
    #[arg(long, env = "HOMECARE_SMS_AUTH_TOKEN", hide_env_values = true)]
    pub sms_auth_token: Option<String>,
    /// The sending number (E.164).
    #[arg(long, env = "HOMECARE_SMS_FROM")]
    pub sms_from: Option<String>,
    /// Web Push: the server's VAPID private key, the 32-byte P-256 scalar in
    /// base64url (`./dev` makes one; `homecare vapid-key` prints a new one).
    #[arg(long, env = "HOMECARE_VAPID_PRIVATE_KEY", hide_env_values = true)]
    pub vapid_private_key: Option<String>,
    /// Who push services may contact about this server's messages.
    #[arg(
        long,
        env = "HOMECARE_VAPID_SUBJECT",
        default_value = "mailto:admin@homecare.local"
    )]
    pub vapid_subject: String,
    /// Attempts before a message is dead (and waits to be resent by hand).
    #[arg(long, env = "HOMECARE_NOTIFY_MAX_ATTEMPTS", default_value_t = 6,
          value_parser = clap::value_parser!(i32).range(1..=50))]
    pub notify_max_attempts: i32,
    /// Seconds before the first retry; each next one waits twice as long (at most an hour).
    #[arg(long, env = "HOMECARE_NOTIFY_RETRY_SECS", default_value_t = 10)]
    pub notify_retry_secs: u64,
}

impl std::fmt::Debug for NotifySettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotifySettings")
            .field("public_url", &self.public_url)
            .field("smtp_url", &self.smtp_url.as_ref().map(|_| "<set>"))
            .field("sms_api_url", &self.sms_api_url)
            .field("notify_max_attempts", &self.notify_max_attempts)
            .finish_non_exhaustive()
    }
}

/// A setting that is present and not empty.
fn set(value: &Option<String>) -> Option<String> {
    value.clone().filter(|v| !v.trim().is_empty())
}

impl NotifySettings {
    pub fn vapid(&self) -> anyhow::Result<Option<homecare_notifier::push::Vapid>> {
        // An empty value (a compose file's unset variable) means off.
        self.vapid_private_key
            .as_deref()
            .filter(|key| !key.trim().is_empty())
            .map(|key| {
                homecare_notifier::push::Vapid::from_base64(key, &self.vapid_subject)
                    .map_err(|e| anyhow::anyhow!("HOMECARE_VAPID_PRIVATE_KEY: {e}"))
            })
            .transpose()
    }

    pub fn config(&self) -> anyhow::Result<homecare_notifier::NotifierConfig> {
        use homecare_notifier::{EmailConfig, NotifierConfig, SmsConfig};
        Ok(NotifierConfig {
            public_url: self.public_url.clone(),
            email: set(&self.smtp_url).map(|smtp_url| EmailConfig {
                smtp_url,
                from: self.notify_from.clone(),
            }),
            sms: match (
                set(&self.sms_api_url),
                set(&self.sms_account_sid),
                set(&self.sms_auth_token),
                set(&self.sms_from),
            ) {
                (Some(api_url), Some(account_sid), Some(auth_token), Some(from)) => {
                    Some(SmsConfig {
                        api_url,
                        account_sid,
                        auth_token,
                        from,
                    })
                }
                (None, None, None, None) => None,
                _ => anyhow::bail!(
                    "SMS needs all of HOMECARE_SMS_API_URL, HOMECARE_SMS_ACCOUNT_SID, \
                     HOMECARE_SMS_AUTH_TOKEN and HOMECARE_SMS_FROM"
                ),
            },
            push: self.vapid()?,
            max_attempts: self.notify_max_attempts,
            retry_base: Duration::from_secs(self.notify_retry_secs.max(1)),
            ..NotifierConfig::default()
        })
    }
}

/// Parses the payload keys without ever echoing them: clap's own error for a
/// bad value would print the whole value, keys included.
#[derive(Clone)]
struct PayloadKeysParser;

impl clap::builder::TypedValueParser for PayloadKeysParser {
    type Value = Arc<PayloadCrypto>;

    fn parse_ref(
        &self,
        _cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<Self::Value, clap::Error> {
        let refuse = |message: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("HOMECARE_PAYLOAD_KEYS: {message}\n"),
            )
        };
        let text = value
            .to_str()
            .ok_or_else(|| refuse("not UTF-8".to_owned()))?;
        PayloadCrypto::parse(text, None)
            .map(Arc::new)
            .map_err(|e| refuse(e.to_string()))
    }
}

/// How the API verifies bearer tokens: an HS256 secret (at least 32 bytes) or
/// an identity provider's RS256 public key. Values are never printed.
#[derive(Args, Clone, Default)]
pub struct JwtSettings {
    #[arg(long, env = "HOMECARE_JWT_HS256_SECRET", hide_env_values = true)]
    pub jwt_hs256_secret: Option<String>,
    /// Path of a PEM RSA public key (RS256 tokens from your identity provider).
    #[arg(long, env = "HOMECARE_JWT_RS256_PUBLIC_KEY")]
    pub jwt_rs256_public_key: Option<std::path::PathBuf>,
    #[arg(long, env = "HOMECARE_JWT_ISSUER", default_value = "homecare")]
    pub jwt_issuer: String,
    #[arg(long, env = "HOMECARE_JWT_AUDIENCE", default_value = "homecare-api")]
    pub jwt_audience: String,
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field(
                "jwt_hs256_secret",
                &self.jwt_hs256_secret.as_ref().map(|_| "<set>"),
            )
            .field("jwt_rs256_public_key", &self.jwt_rs256_public_key)
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .finish()
    }
}

impl JwtSettings {
    pub fn auth(&self) -> anyhow::Result<AuthConfig> {
        match (&self.jwt_hs256_secret, &self.jwt_rs256_public_key) {
            (Some(secret), None) => Ok(AuthConfig::hs256(
                secret.as_bytes(),
                &self.jwt_issuer,
                &self.jwt_audience,
            )?),
            (None, Some(path)) => {
                let pem = std::fs::read(path)
                    .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
                Ok(AuthConfig::rs256(
                    &pem,
                    &self.jwt_issuer,
                    &self.jwt_audience,
                )?)
            }
            (Some(_), Some(_)) => anyhow::bail!(
                "set one of HOMECARE_JWT_HS256_SECRET and HOMECARE_JWT_RS256_PUBLIC_KEY, not both"
            ),
            (None, None) => anyhow::bail!(
                "every request is authenticated: set HOMECARE_JWT_HS256_SECRET (32+ bytes) or \
                 HOMECARE_JWT_RS256_PUBLIC_KEY (./dev generates a development secret)"
            ),
        }
    }
}

impl Settings {
    pub fn database(&self) -> anyhow::Result<PgConnectOptions> {
        self.database_url
            .parse()
            .map_err(|e| anyhow::anyhow!("DATABASE_URL is not a valid PostgreSQL URL: {e}"))
    }

    pub fn bus(&self) -> EventBusConfig {
        EventBusConfig {
            url: self.nats_url.clone(),
            subject_prefix: self.subject_prefix.clone(),
            stream_name: self.stream.clone(),
            tls_ca: self.nats_tls_ca.clone(),
            tls_client: self
                .nats_tls_client_cert
                .clone()
                .zip(self.nats_tls_client_key.clone()),
        }
    }

    pub fn temporal(&self) -> TemporalSettings {
        TemporalSettings {
            address: self.temporal_address.clone(),
            namespace: self.temporal_namespace.clone(),
            task_queue: self.task_queue.clone(),
            crypto: self.payload_keys.clone(),
            tls: self.temporal_tls(),
        }
    }

    fn temporal_tls(&self) -> Option<homecare_store::temporal::TemporalTls> {
        let client_cert = self
            .temporal_tls_client_cert
            .clone()
            .zip(self.temporal_tls_client_key.clone());
        let wanted = self.temporal_address.starts_with("https://")
            || self.temporal_tls_ca.is_some()
            || self.temporal_tls_domain.is_some()
            || client_cert.is_some();
        wanted.then(|| homecare_store::temporal::TemporalTls {
            ca: self.temporal_tls_ca.clone(),
            domain: self.temporal_tls_domain.clone(),
            client_cert,
        })
    }

    /// The API's TLS configuration, if HTTPS is configured.
    pub fn api_tls(&self) -> anyhow::Result<Option<Arc<homecare_api::tls::ServerConfig>>> {
        match (&self.api_tls_cert, &self.api_tls_key) {
            (Some(cert), Some(key)) => Ok(Some(homecare_api::tls::server_config(cert, key)?)),
            (None, None) => Ok(None),
            _ => {
                anyhow::bail!("set both HOMECARE_API_TLS_CERT and HOMECARE_API_TLS_KEY, or neither")
            }
        }
    }

    /// Processes that talk to Temporal for the platform (worker, API) refuse to
    /// run without payload encryption: PHI never reaches Temporal in clear.
    pub fn require_payload_keys(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.payload_keys.is_some(),
            "set HOMECARE_PAYLOAD_KEYS (`<id>:<base64 of 32 random bytes>`; ./dev makes a development key): \
             workflow payloads are encrypted"
        );
        Ok(())
    }

    pub fn api(&self) -> anyhow::Result<ApiConfig> {
        Ok(ApiConfig {
            task_queue: self.task_queue.clone(),
            namespace: self.temporal_namespace.clone(),
            unfilled_retry_minutes: self.unfilled_retry_minutes,
            update_timeout: Duration::from_secs(self.update_timeout_secs),
            policy: self.policy(),
            auth: self.jwt.auth()?,
            crypto: self.payload_keys.clone(),
            codec_cors_origins: self
                .codec_cors_origins
                .split(',')
                .map(|o| o.trim().to_owned())
                .filter(|o| !o.is_empty())
                .collect(),
            console_dir: Some(self.console_dir.clone()),
            trusted_proxies: TrustedProxies::parse(&self.trusted_proxies)
                .map_err(|e| anyhow::anyhow!("HOMECARE_TRUSTED_PROXIES: {e}"))?,
            bearer_throttle: ThrottlePolicy {
                limit: self.bearer_failures_per_minute,
                ..BEARER_THROTTLE
            },
            vapid_public_key: self.notify.vapid()?.map(|vapid| vapid.public_key()),
            public_url: self.notify.public_url.clone(),
        })
    }

    pub fn policy(&self) -> homecare_domain::scheduling::Policy {
        homecare_domain::scheduling::Policy {
            speed_kmh: self.travel_speed_kmh.clamp(1.0, 200.0),
            ..Default::default()
        }
    }

    pub fn worker(&self) -> anyhow::Result<homecare_worker::WorkerSettings> {
        Ok(homecare_worker::WorkerSettings {
            temporal: self.temporal(),
            database: self.database()?,
            max_db_connections: self.db_max_connections,
            bus: self.bus(),
            policy: self.policy(),
            unfilled_retry_minutes: self.unfilled_retry_minutes,
            extra: self.worker_extra(),
        })
    }

    /// The bench's floor, on the worker that `--bench-floor` asks for it.
    pub fn worker_extra(&self) -> Option<homecare_worker::ExtraRegistrations> {
        self.bench_floor
            .then(|| homecare_worker::ExtraRegistrations {
                name: "the bench's floor workflow",
                register: homecare_bench::floor::registration(),
            })
    }
}
