//! Shared helpers for the integration tests: an in-process `lanyard-sim` on loopback, its
//! `/__sim/*` control API, and a `Ctx` built around an `Account` the test constructs.
//!
//! Each test binary uses a subset, hence the `dead_code` allowance.
#![allow(dead_code)]

use std::collections::BTreeMap;

use chrono::Utc;
use lanyard_core::http::{Http, HttpConfig};
use lanyard_core::services::{Ctx, LoginOutcome, Progress};
use lanyard_core::{Account, Error, ErrorCode, SecretString, ServiceId};
use serde_json::Value;

/// A running simulator plus the HTTP client the services under test use.
pub struct Sim {
    running: lanyard_sim::Running,
    pub http: Http,
    control: reqwest::Client,
}

/// Starts every simulator on ephemeral loopback ports.
pub async fn sim() -> Sim {
    let running = lanyard_sim::start(lanyard_sim::SimConfig { port_base: None })
        .await
        .expect("start lanyard-sim");
    Sim {
        running,
        http: Http::new(HttpConfig::default()).expect("http client"),
        control: reqwest::Client::new(),
    }
}

impl Sim {
    pub fn endpoints(&self) -> &lanyard_sim::Endpoints {
        self.running.endpoints()
    }

    /// `POST {base}/__sim/{path}` with a JSON body; panics unless 2xx. Answers the JSON.
    pub async fn control_post(&self, base: &str, path: &str, body: Value) -> Value {
        let url = format!("{}/__sim/{path}", listener_root(base));
        let resp = self
            .control
            .post(&url)
            .json(&body)
            .send()
            .await
            .expect("control call");
        let status = resp.status();
        let json = resp.json::<Value>().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "POST {url} {body} → {status} {json}");
        json
    }

    /// `GET {base}/__sim/{path_and_query}`; panics unless 2xx. Answers the JSON.
    pub async fn control_get(&self, base: &str, path_and_query: &str) -> Value {
        let url = format!("{}/__sim/{path_and_query}", listener_root(base));
        let resp = self.control.get(&url).send().await.expect("control call");
        let status = resp.status();
        let json = resp.json::<Value>().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "GET {url} → {status} {json}");
        json
    }

    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}

/// `http://127.0.0.1:P` from an endpoint or a template such as `http://127.0.0.1:P/{region}`.
pub fn listener_root(endpoint: &str) -> String {
    let url = url::Url::parse(&endpoint.replace("{region}", "x")).expect("endpoint URL");
    format!(
        "{}://{}",
        url.scheme(),
        url.host_str()
            .zip(url.port())
            .map(|(h, p)| format!("{h}:{p}"))
            .unwrap()
    )
}

/// An account as the Manager would hand it to a service.
pub fn account(
    service: ServiceId,
    user: &str,
    endpoint: &str,
    options: &[(&str, &str)],
) -> Account {
    Account {
        id: uuid::Uuid::new_v4().to_string(),
        name: format!("{service}/{user}"),
        service,
        user: user.to_string(),
        endpoint: endpoint.to_string(),
        options: options
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        remember_password: false,
        active: true,
        created_at: Utc::now(),
    }
}

/// Secret options (`appsecret`, `api_token`…).
pub fn secrets(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretString> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), SecretString::new(*v)))
        .collect()
}

pub fn ctx<'a>(
    http: &'a Http,
    account: &'a Account,
    secret_options: &'a BTreeMap<String, SecretString>,
) -> Ctx<'a> {
    Ctx {
        http,
        account,
        secret_options,
        now: Utc::now(),
    }
}

/// The finished login of a `Progress`; panics on a challenge.
pub fn done(progress: Progress) -> LoginOutcome {
    match progress {
        Progress::Done(outcome) => *outcome,
        Progress::Challenge { challenge, .. } => {
            panic!("expected a finished login, got {challenge:?}")
        }
    }
}

/// The error of a result that must have failed, checked against the expected code.
#[track_caller]
pub fn fails_with<T: std::fmt::Debug>(result: Result<T, Error>, code: ErrorCode) -> Error {
    match result {
        Ok(v) => panic!("expected {code:?}, got Ok({v:?})"),
        Err(e) => {
            assert_eq!(
                e.code, code,
                "unexpected error: {} / {:?}",
                e.message, e.server_message
            );
            e
        }
    }
}
