//! People sign in: accounts made by an admin (or `homecare users create`),
//! Argon2id passwords, a short access token and a rotating refresh cookie,
//! logout and deactivation that end sessions at once, the lockout that stops
//! password guessing per account and per address, and the back-off on bad
//! bearer tokens per address (behind a trusted proxy, the forwarded one).

use std::net::IpAddr;
use std::process::Command;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{Value, json};
use sqlx::PgPool;

use homecare_api::auth::Role;

use crate::helpers::{TestApp, authenticated_client};

const PASSWORD: &str = "correct horse battery";

struct SignedIn {
    access: String,
    cookie: String,
    body: Value,
}

async fn login(
    app: &TestApp,
    email: &str,
    password: &str,
) -> Result<SignedIn, (StatusCode, Value, Option<String>)> {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/login", app.base))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    session_from(response).await
}

async fn session_from(
    response: reqwest::Response,
) -> Result<SignedIn, (StatusCode, Value, Option<String>)> {
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let cookie = response
        .headers()
        .get(SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_owned());
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status != StatusCode::OK {
        return Err((status, body, retry_after));
    }
    let cookie = cookie.expect("a refresh cookie is set");
    for attribute in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/v1/auth"] {
        assert!(cookie.contains(attribute), "{attribute} in {cookie}");
    }
    let cookie = cookie.split(';').next().unwrap().to_owned();
    Ok(SignedIn {
        access: body["access_token"].as_str().unwrap().to_owned(),
        cookie,
        body,
    })
}

async fn refresh(
    app: &TestApp,
    cookie: &str,
) -> Result<SignedIn, (StatusCode, Value, Option<String>)> {
    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/refresh", app.base))
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap();
    session_from(response).await
}

async fn status_with(app: &TestApp, token: &str, path: &str) -> StatusCode {
    authenticated_client(token)
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap()
        .status()
}

/// Neither the session's access token nor its refresh cookie works any more.
async fn assert_signed_out(app: &TestApp, session: &SignedIn) {
    assert_eq!(
        status_with(app, &session.access, "/v1/visits").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        refresh(app, &session.cookie).await.err().unwrap().0,
        StatusCode::UNAUTHORIZED
    );
}

async fn create_user(app: &TestApp, email: &str, role: &str, caregiver: Option<&str>) -> Value {
    let (status, body) = app
        .post(
            "/v1/users",
            json!({"email": email, "display_name": "Dana Whitfield", "role": role,
                   "caregiver_id": caregiver, "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

fn field_errors(body: &Value) -> Vec<String> {
    body["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["field"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[sqlx::test]
async fn a_person_signs_in_refreshes_once_per_cookie_and_signs_out(db: PgPool) {
    let app = TestApp::start(db).await;
    let user = create_user(&app, " Dana@Agency.Example ", "coordinator", None).await;
    assert_eq!(user["email"], "dana@agency.example");
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());
    let hash: String = sqlx::query_scalar("select password_hash from users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");

    // Bad input is refused field by field and creates nothing.
    let (status, body) = app
        .post(
            "/v1/users",
            json!({"email": "not an address", "display_name": " ", "role": "caregiver",
                   "password": "short"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields = field_errors(&body);
    fields.sort();
    assert_eq!(
        fields,
        ["caregiver_id", "display_name", "email", "password"]
    );
    let (status, body) = app
        .post(
            "/v1/users",
            json!({"email": "dana@agency.example", "display_name": "Dana", "role": "billing",
                   "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (status, field_errors(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, vec!["email".to_owned()])
    );
    let users: i64 = sqlx::query_scalar("select count(*) from users")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(users, 1);

    // A wrong password and an unknown address get the same answer.
    let wrong = login(&app, "dana@agency.example", "wrong horse battery")
        .await
        .err()
        .unwrap();
    let unknown = login(&app, "nobody@agency.example", PASSWORD)
        .await
        .err()
        .unwrap();
    assert_eq!(
        (wrong.0, unknown.0),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    assert_eq!(wrong.1["detail"], unknown.1["detail"]);

    let first = login(&app, "DANA@agency.example", PASSWORD).await.unwrap();
    assert!(first.access.starts_with("hc_at_"));
    assert_eq!(first.body["token_type"], "Bearer");
    assert_eq!(first.body["expires_in"], 900);
    assert_eq!(first.body["user"]["role"], "coordinator");
    let me: Value = authenticated_client(&first.access)
        .get(format!("{}/v1/auth/me", app.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (me["subject"].as_str(), me["role"].as_str()),
        (Some("dana@agency.example"), Some("coordinator"))
    );
    assert_eq!(me["user"]["id"], user["id"]);
    assert_eq!(
        status_with(&app, &first.access, "/v1/visits").await,
        StatusCode::OK
    );
    // A coordinator is not an admin.
    assert_eq!(
        status_with(&app, &first.access, "/v1/users").await,
        StatusCode::FORBIDDEN
    );
    // Only digests are stored.
    let stored: i64 = sqlx::query_scalar(
        "select count(*) from session_tokens where digest = sha256(convert_to($1, 'UTF8'))",
    )
    .bind(&first.access)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(stored, 1);

    // Refreshing rotates the cookie; the old one is good no more, and its
    // second use (a stolen copy) ends the session for everyone.
    let second = refresh(&app, &first.cookie).await.unwrap();
    assert_ne!(second.cookie, first.cookie);
    assert_ne!(second.access, first.access);
    assert_eq!(
        status_with(&app, &second.access, "/v1/visits").await,
        StatusCode::OK
    );
    let reused = refresh(&app, &first.cookie).await.err().unwrap();
    assert_eq!(reused.0, StatusCode::UNAUTHORIZED);
    assert!(
        reused.1["detail"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    assert_signed_out(&app, &second).await;

    // Logout ends the session: its access token and cookie are refused.
    let third = login(&app, "dana@agency.example", PASSWORD).await.unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/v1/auth/logout", app.base))
        .header(COOKIE, &third.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(
        response.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_signed_out(&app, &third).await;

    // Deactivation ends sessions at once and refuses sign-in.
    let fourth = login(&app, "dana@agency.example", PASSWORD).await.unwrap();
    let id = user["id"].as_str().unwrap();
    let (status, body) = app
        .request(
            reqwest::Method::PATCH,
            &format!("/v1/users/{id}"),
            Some(json!({"active": false})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        status_with(&app, &fourth.access, "/v1/visits").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&app, "dana@agency.example", PASSWORD)
            .await
            .err()
            .unwrap()
            .0,
        StatusCode::FORBIDDEN
    );
    // A new password, once reactivated, is the one that works.
    let (status, _) = app
        .request(
            reqwest::Method::PATCH,
            &format!("/v1/users/{id}"),
            Some(json!({"active": true, "password": "staple battery horse correct"})),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(login(&app, "dana@agency.example", PASSWORD).await.is_err());
    login(&app, "dana@agency.example", "staple battery horse correct")
        .await
        .unwrap();

    // Sign-ins and sign-outs are on the audit trail, under the person's name.
    let audited: Vec<(String, i32)> = sqlx::query_as(
        "select action, status from audit_log where actor = 'dana@agency.example' order by seq",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    let actions: Vec<String> = audited.iter().map(|(a, s)| format!("{a} {s}")).collect();
    assert!(
        actions.contains(&"POST /v1/auth/login 401".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"POST /v1/auth/login 200".to_owned()),
        "{actions:?}"
    );
    assert!(
        actions.contains(&"POST /v1/auth/logout 204".to_owned()),
        "{actions:?}"
    );
    app.shutdown().await;
}

#[sqlx::test]
async fn guessing_locks_the_account_then_the_address(db: PgPool) {
    let app = TestApp::start(db).await;
    create_user(&app, "dana@agency.example", "coordinator", None).await;
    create_user(&app, "lee@agency.example", "billing", None).await;
    create_user(&app, "sam@agency.example", "admin", None).await;
    for attempt in 1..=5 {
        let (status, ..) = login(
            &app,
            "dana@agency.example",
            &format!("guess number {attempt}"),
        )
        .await
        .err()
        .unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
    }
    // Locked: even the right password is refused, with when to come back.
    let (status, body, retry_after) = login(&app, "dana@agency.example", PASSWORD)
        .await
        .err()
        .unwrap();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(
        body["type"],
        "https://docs.homecare.dev/problems/too_many_attempts"
    );
    let retry_after: i64 = retry_after.unwrap().parse().unwrap();
    assert!((800..=900).contains(&retry_after), "{retry_after}");
    // Another account from the same address still signs in.
    login(&app, "lee@agency.example", PASSWORD).await.unwrap();
    // Twenty failures from one address lock the address, whatever the account.
    for n in 6..=20 {
        let (status, ..) = login(
            &app,
            &format!("guess{n}@agency.example"),
            "not the password",
        )
        .await
        .err()
        .unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "failure {n}");
    }
    let (status, ..) = login(&app, "sam@agency.example", PASSWORD)
        .await
        .err()
        .unwrap();
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let locked: Vec<String> = sqlx::query_scalar(
        "select key from sign_in_throttle where locked_until > now() order by key",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(locked, ["account:dana@agency.example", "address:127.0.0.1"]);
    app.shutdown().await;
}

#[sqlx::test]
async fn a_caregiver_account_sees_its_own_visits_and_events_only(db: PgPool) {
    let app = TestApp::start(db).await;
    let caregiver = app.create_caregiver(&[]).await;
    let (status, body) = app
        .post(
            "/v1/users",
            json!({"email": "maria@agency.example", "display_name": "Maria", "role": "coordinator",
                   "caregiver_id": caregiver, "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (status, field_errors(&body)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["caregiver_id".to_owned()]
        )
    );
    create_user(&app, "maria@agency.example", "caregiver", Some(&caregiver)).await;
    // One account per caregiver.
    let (status, body) = app
        .post(
            "/v1/users",
            json!({"email": "maria2@agency.example", "display_name": "Maria", "role": "caregiver",
                   "caregiver_id": caregiver, "password": PASSWORD}),
        )
        .await;
    assert_eq!(
        (status, field_errors(&body)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            vec!["caregiver_id".to_owned()]
        )
    );
    let maria = login(&app, "maria@agency.example", PASSWORD).await.unwrap();
    assert_eq!(maria.body["user"]["caregiver_id"], caregiver.as_str());
    assert_eq!(
        status_with(&app, &maria.access, &format!("/v1/caregivers/{caregiver}")).await,
        StatusCode::OK
    );
    let other = app.create_caregiver(&[]).await;
    assert_eq!(
        status_with(&app, &maria.access, &format!("/v1/caregivers/{other}")).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status_with(&app, &maria.access, "/v1/clients").await,
        StatusCode::FORBIDDEN
    );
    // The event socket takes the session's token too.
    let socket = app.events_as("", &maria.access).await;
    socket.close().await;
    app.shutdown().await;
}

#[sqlx::test]
async fn the_cli_creates_accounts_and_set_up_runs_it_again_harmlessly(db: PgPool) {
    let app = TestApp::start(db).await;
    let database = app.database().await;
    let dir = std::env::temp_dir().join(format!("homecare-users-{}", app.tag));
    std::fs::create_dir_all(&dir).unwrap();
    let password_file = dir.join("password");
    std::fs::write(&password_file, "a development password\n").unwrap();
    let run = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_homecare"))
            .args(["users", "create"])
            .args(args)
            .env(
                "DATABASE_URL",
                format!("postgres://postgres@127.0.0.1:5432/{database}"),
            )
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned()
                + &String::from_utf8_lossy(&output.stderr),
        )
    };
    let file = password_file.to_str().unwrap();
    let (ok, out) = run(&[
        "--email",
        "admin@agency.example",
        "--role",
        "admin",
        "--password-file",
        file,
        "--if-missing",
    ]);
    assert!(ok, "{out}");
    let (ok, out) = run(&[
        "--email",
        "admin@agency.example",
        "--role",
        "admin",
        "--password-file",
        file,
        "--if-missing",
    ]);
    assert!(ok && out.contains("nothing changed"), "{out}");
    let (ok, out) = run(&[
        "--email",
        "admin@agency.example",
        "--role",
        "admin",
        "--password-file",
        file,
    ]);
    assert!(!ok && out.contains("--email"), "{out}");
    let (ok, out) = run(&["--email", "x@agency.example", "--role", "nurse"]);
    assert!(!ok && out.contains("--role nurse"), "{out}");
    let (ok, out) = run(&["--email", "cg@agency.example", "--role", "caregiver"]);
    assert!(!ok && out.contains("--caregiver-id"), "{out}");
    // Without a file a password is generated and shown once.
    let (ok, out) = run(&["--email", "billing@agency.example", "--role", "billing"]);
    assert!(ok, "{out}");
    let generated = out
        .lines()
        .find_map(|line| line.strip_prefix("password (shown once): "))
        .unwrap()
        .to_owned();
    let admin = login(&app, "admin@agency.example", "a development password")
        .await
        .unwrap();
    assert_eq!(
        status_with(&app, &admin.access, "/v1/users").await,
        StatusCode::OK
    );
    login(&app, "billing@agency.example", &generated)
        .await
        .unwrap();
    std::fs::remove_dir_all(dir).unwrap();
    app.shutdown().await;
}

#[sqlx::test]
async fn bad_tokens_back_off_per_address_and_only_a_trusted_proxy_names_the_address(db: PgPool) {
    let app = TestApp::start_with(db, |settings| {
        settings.trusted_proxies = "127.0.0.1".to_owned();
    })
    .await;
    let limit = homecare_domain::accounts::BEARER_THROTTLE.limit;
    let admin = app.token(Role::Admin, None);
    // 127.0.0.2 is not a proxy: what it says in X-Forwarded-For is ignored.
    let direct = reqwest::Client::builder()
        .local_address(IpAddr::from([127, 0, 0, 2]))
        .build()
        .unwrap();
    // 127.0.0.1 is the trusted proxy: the address it forwards is the client's.
    let proxy = reqwest::Client::new();
    let get = |client: &reqwest::Client, token: &str, forwarded: &str| {
        client
            .get(format!("{}/v1/visits", app.base))
            .bearer_auth(token)
            .header("x-forwarded-for", forwarded)
            .send()
    };
    for n in 1..limit {
        let response = get(
            &direct,
            &format!("hc_at_guess{n}"),
            &format!("203.0.113.{n}"),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "guess {n}");
    }
    // The limit-th bad token locks the address's unverified tokens out.
    let response = get(&direct, "not.a.jwt", "203.0.113.99").await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: i64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((50..=60).contains(&retry_after), "{retry_after}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["type"],
        "https://docs.homecare.dev/problems/too_many_attempts"
    );
    // A valid token from the same address is still served (an office shares
    // its address with whoever is probing from it).
    let response = get(&direct, &admin, "203.0.113.99").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Through the proxy, another client is not locked; the locked one is.
    let response = get(&proxy, "hc_at_other", "198.51.100.7").await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = get(&proxy, "hc_at_again", "198.51.100.7, 127.0.0.2")
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let keys: Vec<(String, i32, bool)> = sqlx::query_as(
        "select key, failures, coalesce(locked_until > now(), false) from sign_in_throttle order by key",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        keys,
        [
            (
                "bearer:127.0.0.2".to_owned(),
                i32::try_from(limit).unwrap(),
                true
            ),
            ("bearer:198.51.100.7".to_owned(), 1, false),
        ]
    );
    // Sign-in through the proxy: the session records the forwarded address.
    create_user(&app, "dana@agency.example", "coordinator", None).await;
    let response = proxy
        .post(format!("{}/v1/auth/login", app.base))
        .header("x-forwarded-for", "192.0.2.44")
        .json(&json!({"email": "dana@agency.example", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let address: String = sqlx::query_scalar("select address from sessions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(address, "192.0.2.44");
    app.shutdown().await;
}
