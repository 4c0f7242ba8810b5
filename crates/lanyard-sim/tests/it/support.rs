//! What several simulator suites share: the simulators on ephemeral loopback ports, the
//! password digests the services expect, and one HTTP exchange kept whole (status, headers,
//! body) for the JSON services.

use std::time::Duration;

use lanyard_sim::{Running, SimConfig};
use md5::Md5;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Every simulator, each on an ephemeral loopback port.
pub async fn sim() -> Running {
    lanyard_sim::start(SimConfig { port_base: None })
        .await
        .expect("simulators start")
}

/// An HTTP client that gives up after 20 s, so a hung simulator fails the test instead of
/// stalling the run.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// `POST url` with a JSON body to a simulator's control route; panics unless 2xx. Answers the
/// JSON.
pub async fn control_post(http: &reqwest::Client, url: &str, body: Value) -> Value {
    let r = http.post(url).json(&body).send().await.unwrap();
    assert!(r.status().is_success(), "{url}: {}", r.status());
    r.json().await.unwrap()
}

/// Lowercase hex MD5 of `s` (SSCMS and SiYuan passwords).
pub fn md5(s: &str) -> String {
    hex::encode(Md5::digest(s.as_bytes()))
}

/// Lowercase hex SHA-256 of `s` (Steedos passwords).
pub fn sha256(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

/// One answer, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    /// Asserts the error shape Steedos and SSCMS share: HTTP 400 `{"message": msg}`.
    pub fn assert_error(&self, msg: &str) {
        assert_eq!((self.status, self.json()), (400, json!({ "message": msg })));
    }

    pub fn assert_401_empty(&self) {
        assert_eq!((self.status, self.text.as_str()), (401, ""));
    }

    /// Every `Set-Cookie` header, as sent.
    pub fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

/// `method {base}{path}` with the headers and an optional JSON body.
pub async fn send(
    http: &reqwest::Client,
    base: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Reply {
    let mut req = http.request(method.parse().unwrap(), format!("{base}{path}"));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    Reply {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        text: r.text().await.unwrap(),
    }
}
