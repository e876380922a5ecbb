//! TLS on every connection when configured: the API serves HTTPS, PostgreSQL
//! connections can require and verify TLS, and the event bus can require TLS
//! to NATS. (Temporal TLS uses the SDK's own options; see docs/architecture.md.)

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use homecare_api::auth::Role;
use homecare_store::{EventBus, EventBusConfig};
use reqwest::StatusCode;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::TestApp;

/// A self-signed certificate for localhost and 127.0.0.1, made with openssl.
struct Certificate {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Certificate {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("homecare-tls-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let status = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "1",
                "-subj",
                "/CN=localhost",
            ])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .args(["-addext", "extendedKeyUsage=serverAuth", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl is needed to make a test certificate");
        assert!(status.success(), "openssl could not make a certificate");
        Self { dir, cert, key }
    }
}

impl Drop for Certificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[sqlx::test]
async fn the_api_serves_https_and_nothing_in_clear_when_given_a_certificate(db: PgPool) {
    let certificate = Certificate::new();
    let (cert, key) = (certificate.cert.clone(), certificate.key.clone());
    let app = TestApp::start_with(db, move |settings| {
        settings.api_tls_cert = Some(cert);
        settings.api_tls_key = Some(key);
    })
    .await;
    let https = app.base.replacen("http://", "https://", 1);
    let pem = std::fs::read(&certificate.cert).unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let health = client.get(format!("{https}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let token = app.token(Role::Admin, None);
    let visits = client
        .get(format!("{https}/v1/visits"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(visits.status(), StatusCode::OK);
    // Plain HTTP to the same port gets no answer, and an unknown CA is refused.
    assert!(reqwest::get(format!("{}/healthz", app.base)).await.is_err());
    assert!(reqwest::get(format!("{https}/healthz")).await.is_err());
    app.shutdown().await;
}

#[tokio::test]
async fn postgres_connections_can_require_and_verify_tls() {
    // The distribution's PostgreSQL serves TLS with its snakeoil certificate.
    let ca = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    assert!(
        std::path::Path::new(ca).exists(),
        "{ca} is missing: PostgreSQL's TLS certificate (Debian's ssl-cert package)"
    );
    // Its certificate names the host `localhost`.
    let base = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
        .replace("@127.0.0.1:", "@localhost:");
    let url = format!("{base}?sslmode=verify-full&sslrootcert={ca}");
    let db = PgPool::connect(&url)
        .await
        .expect("a verified TLS connection");
    let encrypted: bool =
        sqlx::query_scalar("select ssl from pg_stat_ssl where pid = pg_backend_pid()")
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(encrypted);
    // A CA that did not sign the server's certificate is refused.
    let other = Certificate::new();
    let refused = PgPool::connect(&format!(
        "{base}?sslmode=verify-full&sslrootcert={}",
        other.cert.display()
    ))
    .await;
    assert!(refused.is_err());
}

struct NatsServer(Child);

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_event_bus_can_require_tls_to_nats() {
    let certificate = Certificate::new();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _server = NatsServer(
        Command::new("/usr/sbin/nats-server")
            .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"])
            .arg(certificate.dir.join("jetstream"))
            .arg("--tlscert")
            .arg(&certificate.cert)
            .arg("--tlskey")
            .arg(&certificate.key)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server (Debian's nats-server package) starts"),
    );
    let config = EventBusConfig {
        url: format!("nats://localhost:{port}"),
        subject_prefix: "tls_test".to_owned(),
        stream_name: format!("TLS_{}", Uuid::new_v4().simple()),
        tls_ca: Some(certificate.cert.clone()),
        tls_client: None,
    };
    let bus = tokio::time::timeout(Duration::from_secs(20), EventBus::connect(config))
        .await
        .expect("connects in time")
        .expect("a TLS connection to NATS");
    bus.ensure_stream().await.expect("JetStream over TLS");
    // Without TLS the server does not let the client in.
    let plain = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(3))
        .connect(format!("nats://127.0.0.1:{port}"))
        .await;
    assert!(plain.is_err());
}
