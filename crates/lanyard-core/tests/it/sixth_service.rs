//! A service that exists only in this file, registered the way the built-in five are
//! (`Registry::builtin().with(…)`), goes through add → login → token → refresh through the
//! Manager against a small HTTP server of its own on loopback. It shows what a new service
//! needs: a `ServiceSpec`, an `impl Service` (its quirks as trait methods with defaults), and
//! one line in the registry.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{TimeDelta, Utc};
use lanyard_core::http::HttpConfig;
use lanyard_core::manager::{NewAccount, TokenFormat};
use lanyard_core::model::{Capabilities, ServiceSpec};
use lanyard_core::secrets::Secrets;
use lanyard_core::services::support::endpoint_url;
use lanyard_core::services::{
    Credential, Ctx, LoginOutcome, Progress, RefreshOutcome, Registry, Service, Validation,
};
use lanyard_core::{
    Account, Error, ErrorCode, Manager, RefreshDone, Result, SecretString, ServiceId, Session,
    SessionInfo, SessionTokens, State,
};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// "Tickets": password login, a refresh token, the access token in `X-Ticket`.
struct Tickets;

static TICKETS: ServiceSpec = ServiceSpec {
    id: ServiceId::new("tickets", &Tickets),
    display_name: "Tickets",
    description: "A test-only service",
    user_label: "User name",
    default_endpoint: None,
    endpoint_help: "Base URL of the test server",
    options: &[],
    capabilities: Capabilities {
        refresh: true,
        validate: true,
        logout: false,
        captcha: false,
        second_factor: false,
        code_login: false,
        expires: true,
    },
    token_form: "X-Ticket: <token>",
};

fn session_of(answer: &Value, now: chrono::DateTime<Utc>) -> Result<Session> {
    let field = |key: &str| {
        answer[key]
            .as_str()
            .map(SecretString::new)
            .ok_or_else(|| Error::server(format!("the answer has no {key}")))
    };
    Ok(Session {
        tokens: SessionTokens {
            access: field("access")?,
            refresh: Some(field("refresh")?),
            extra: BTreeMap::new(),
        },
        info: SessionInfo {
            obtained_at: Some(now),
            expires_at: Some(now + TimeDelta::seconds(answer["expires_in"].as_i64().unwrap_or(0))),
            display_name: answer["name"].as_str().map(str::to_owned),
            ..SessionInfo::default()
        },
    })
}

#[async_trait]
impl Service for Tickets {
    fn spec(&self) -> &'static ServiceSpec {
        &TICKETS
    }

    async fn begin_login(
        &self,
        ctx: &Ctx<'_>,
        password: Option<&SecretString>,
    ) -> Result<Progress> {
        let password = password.ok_or_else(|| Error::invalid_input("Tickets needs a password"))?;
        let http = ctx.client()?;
        let body = json!({"user": ctx.account.user, "password": password.expose()});
        let resp = http
            .execute(http.post(endpoint_url(ctx.account, "login")?).json(&body))
            .await?;
        match resp.status {
            200 => Ok(Progress::Done(Box::new(LoginOutcome::new(session_of(
                &resp.json()?,
                ctx.now,
            )?)))),
            401 => Err(Error::credentials_rejected("Tickets refused the login")),
            _ => Err(resp.status_error()),
        }
    }

    async fn answer(
        &self,
        _ctx: &Ctx<'_>,
        _pending: lanyard_core::services::Pending,
        _answer: &SecretString,
    ) -> Result<Progress> {
        Err(Error::internal("Tickets logins have no challenge step"))
    }

    async fn refresh(&self, ctx: &Ctx<'_>, session: &Session) -> Result<RefreshOutcome> {
        let refresh = session.tokens.refresh.as_ref().map(SecretString::expose);
        let http = ctx.client()?;
        let resp = http
            .execute(
                http.post(endpoint_url(ctx.account, "refresh")?)
                    .json(&json!({"refresh": refresh})),
            )
            .await?;
        match resp.status {
            200 => Ok(LoginOutcome::new(session_of(&resp.json()?, ctx.now)?)),
            401 => Err(Error::needs_login("Tickets refused the refresh token")),
            _ => Err(resp.status_error()),
        }
    }

    async fn validate(&self, ctx: &Ctx<'_>, session: &Session) -> Result<Validation> {
        let http = ctx.client()?;
        let resp = http
            .execute(
                http.get(endpoint_url(ctx.account, "me")?)
                    .header("X-Ticket", session.tokens.access.expose()),
            )
            .await?;
        Ok(match resp.status {
            200 => Validation::Valid(None),
            _ => Validation::Invalid(lanyard_core::model::NeedsLoginReason::Revoked),
        })
    }

    fn credential(&self, _account: &Account, session: &Session) -> Credential {
        Credential::Header {
            name: "X-Ticket".into(),
            value: session.tokens.access.clone(),
        }
    }
}

/// The test server's memory: every request line, and the tokens it handed out last.
#[derive(Default)]
struct Server {
    requests: Vec<String>,
    issued: u32,
}

fn answer_of(server: &Mutex<Server>, path: &str, body: &Value) -> (u16, Value) {
    let mut s = server.lock().unwrap();
    let issue = |s: &mut Server| {
        s.issued += 1;
        json!({
            "access": format!("access-{}", s.issued),
            "refresh": format!("refresh-{}", s.issued),
            "expires_in": 3600,
            "name": "Alice",
        })
    };
    match path {
        "/login" if body["user"] == "alice" && body["password"] == "pw-1" => (200, issue(&mut s)),
        "/login" => (401, json!({"message": "wrong password"})),
        "/refresh" if body["refresh"] == format!("refresh-{}", s.issued) => (200, issue(&mut s)),
        "/refresh" => (401, json!({"message": "unknown refresh token"})),
        _ => (404, json!({})),
    }
}

/// A one-request-per-connection HTTP/1.1 server on loopback, answering JSON.
async fn serve(server: Arc<Mutex<Server>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let server = server.clone();
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                let mut request_line = String::new();
                reader.read_line(&mut request_line).await.unwrap();
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).await.unwrap();
                    if line.trim().is_empty() {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body).await.unwrap();
                let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let path = request_line.split(' ').nth(1).unwrap_or("").to_owned();
                server
                    .lock()
                    .unwrap()
                    .requests
                    .push(request_line.trim().to_owned());
                let (status, json) = answer_of(&server, &path, &body);
                let text = json.to_string();
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                reader.get_mut().write_all(reply.as_bytes()).await.unwrap();
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn a_service_defined_in_a_test_goes_through_the_manager() {
    let server = Arc::new(Mutex::new(Server::default()));
    let endpoint = serve(server.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let registry = Registry::builtin().with(TICKETS.id);
    let m = Manager::with_services(
        &dir.path().join("lanyard.db"),
        Secrets::memory(),
        HttpConfig::default(),
        registry,
    )
    .unwrap();
    let listed: Vec<&str> = m.services().iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        listed,
        ["steedos", "sscms", "coolkit", "siyuan", "shopxo", "tickets"]
    );

    // add: the name defaults to <service>/<user>, the service id resolves through the registry.
    let added = m
        .add_account(NewAccount {
            name: None,
            service: TICKETS.id,
            user: "alice".into(),
            endpoint: Some(format!("{endpoint}/")),
            options: BTreeMap::new(),
            remember_password: false,
        })
        .await
        .unwrap();
    assert_eq!(added.account.name, "tickets/alice");
    assert_eq!(added.account.endpoint, endpoint);
    assert_eq!(added.state, State::SignedOut);
    assert!(added.password_required);
    // A wrong password is the service's refusal.
    let e = m
        .begin_login("tickets/alice", Some(SecretString::new("nope")))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::CredentialsRejected, "{e}");

    // login
    let step = m
        .begin_login("tickets/alice", Some(SecretString::new("pw-1")))
        .await
        .unwrap();
    let lanyard_core::manager::LoginStep::Done(view) = step else {
        panic!("no challenge expected");
    };
    assert_eq!(view.state, State::Valid);
    assert_eq!(
        view.session.as_ref().unwrap().display_name.as_deref(),
        Some("Alice")
    );

    // token: by account name and by the service's id, in the service's header form.
    assert_eq!(
        m.token("tickets/alice", TokenFormat::Raw).await.unwrap(),
        "access-1"
    );
    assert_eq!(
        m.token("tickets", TokenFormat::Header).await.unwrap(),
        "X-Ticket: access-1"
    );
    assert_eq!(TokenFormat::for_service(TICKETS.id), TokenFormat::Header);

    // refresh: the refresh token buys a new session, which the Manager stores and hands out.
    let (view, done) = m.refresh_report("tickets/alice", true).await.unwrap();
    assert_eq!(done, RefreshDone::Renewed);
    assert_eq!(view.state, State::Valid);
    assert_eq!(
        m.token("tickets", TokenFormat::Raw).await.unwrap(),
        "access-2"
    );
    // Every string becomes the service's id through the Manager's registry: what a person
    // types, an account name that would shadow the id, and an export file.
    assert_eq!(m.service_id("tickets").unwrap(), TICKETS.id);
    let e = m
        .add_account(NewAccount {
            name: Some("tickets".into()),
            service: TICKETS.id,
            user: "carol".into(),
            endpoint: Some(endpoint.clone()),
            options: BTreeMap::new(),
            remember_password: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e}");
    assert_eq!(e.field.as_deref(), Some("name"));
    assert!(e.message.contains("is a service id"), "{e}");
    let said = e.said.expect("the reason has a code");
    assert_eq!(
        (said.code.as_str(), said.params["cause"].as_str()),
        ("name", "service_id")
    );
    let passphrase = SecretString::new("a passphrase for the test export");
    let export = m.export_accounts(&passphrase).await.unwrap();
    let elsewhere = Manager::with_services(
        &dir.path().join("elsewhere.db"),
        Secrets::memory(),
        HttpConfig::default(),
        Registry::builtin().with(TICKETS.id),
    )
    .unwrap();
    let report = elsewhere
        .import_accounts(export.clone(), &passphrase)
        .await
        .unwrap();
    assert_eq!(report.imported, ["tickets/alice"]);
    assert!(report.skipped.is_empty());
    let imported = elsewhere.get("tickets/alice").await.unwrap();
    assert_eq!(imported.account.service, TICKETS.id);
    assert_eq!(imported.account.endpoint, endpoint);

    // A second manager over the same database reads the account back through its registry;
    // one without the service cannot name it.
    drop(m);
    let again = Manager::with_services(
        &dir.path().join("lanyard.db"),
        Secrets::memory(),
        HttpConfig::default(),
        Registry::builtin().with(TICKETS.id),
    )
    .unwrap();
    assert_eq!(
        again.get("tickets/alice").await.unwrap().account.service,
        TICKETS.id
    );
    let builtin_only = Manager::with_parts(
        &dir.path().join("other.db"),
        Secrets::memory(),
        HttpConfig::default(),
    )
    .unwrap();
    let e = builtin_only
        .add_account(NewAccount {
            name: None,
            service: TICKETS.id,
            user: "bob".into(),
            endpoint: Some(endpoint.clone()),
            options: BTreeMap::new(),
            remember_password: false,
        })
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::InvalidInput, "{e}");
    assert!(e.message.contains("unknown service 'tickets'"), "{e}");
    assert!(builtin_only.service_id("tickets").is_err());
    // Its import skips the account, with that reason.
    let report = builtin_only
        .import_accounts(export, &passphrase)
        .await
        .unwrap();
    assert!(report.imported.is_empty());
    assert_eq!(report.skipped.len(), 1);
    assert_eq!(report.skipped[0].name, "tickets/alice");
    assert_eq!(report.skipped[0].code, ErrorCode::InvalidInput);
    assert!(
        report.skipped[0]
            .reason
            .contains("unknown service 'tickets'"),
        "{}",
        report.skipped[0].reason
    );

    let requests = server.lock().unwrap().requests.clone();
    assert_eq!(
        requests,
        [
            "POST /login HTTP/1.1",
            "POST /login HTTP/1.1",
            "POST /refresh HTTP/1.1"
        ]
    );
}
