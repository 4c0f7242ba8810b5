//! A typed client of the simulator control API (`/__sim/*`, docs/simulator-control.md), for
//! every program that drives `lanyard-sim`: the tests of every crate, the e2e suite, the bench
//! and the demo. The bodies and answers are the [`crate::wire`] types the server itself uses.
//!
//! Built on hyper-util's client over plain HTTP: the simulators listen on loopback only, and
//! hyper is already in the dependency graph of every user (reqwest is built on it), so the
//! `control` feature alone (no `server`) adds no TLS stack and no axum.
//!
//! ```no_run
//! # async fn demo(endpoints: &lanyard_sim::Endpoints) -> Result<(), lanyard_sim::control::ControlError> {
//! use lanyard_sim::control::SimControl;
//! use lanyard_sim::wire::ShopxoConfigPatch;
//! let shopxo = SimControl::new(&endpoints.shopxo);
//! shopxo.configure(&ShopxoConfigPatch { login_captcha: Some(false), ..Default::default() }).await?;
//! let logins = shopxo.stats().await?.count("shopxo.user.login");
//! # let _ = logins; Ok(()) }
//! ```

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode, header};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use crate::wire::*;

/// A control call that did not get a 2xx JSON answer. One line: the call and what went wrong.
#[derive(Debug)]
pub struct ControlError {
    call: String,
    problem: String,
    status: Option<StatusCode>,
}

impl ControlError {
    /// The HTTP status of the answer, if one came.
    pub fn status(&self) -> Option<u16> {
        self.status.map(|s| s.as_u16())
    }
}

impl fmt::Display for ControlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.call, self.problem)
    }
}

impl std::error::Error for ControlError {}

/// How long one control call may take: the simulator answers them at once, so a stuck call
/// means a stuck simulator.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// The control API of one simulator listener. Cheap to clone.
#[derive(Clone)]
pub struct SimControl {
    root: String,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl fmt::Debug for SimControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimControl")
            .field("root", &self.root)
            .finish()
    }
}

/// The listener root of a service URL: scheme and authority only. `endpoint` may be any URL
/// on that listener, CoolKit's `http://127.0.0.1:P/{region}` template included.
pub fn listener_root(endpoint: &str) -> &str {
    let after_scheme = endpoint.find("://").map_or(0, |i| i + 3);
    match endpoint[after_scheme..].find('/') {
        Some(i) => &endpoint[..after_scheme + i],
        None => endpoint,
    }
}

impl SimControl {
    /// The control API of the simulator serving `endpoint` (a base URL from
    /// [`crate::Endpoints`], or any URL on the same listener).
    pub fn new(endpoint: &str) -> Self {
        SimControl {
            root: listener_root(endpoint).to_owned(),
            http: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    /// `http://127.0.0.1:PORT`, where the control routes live.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// Request counts per protocol route.
    pub async fn stats(&self) -> Result<RequestStats, ControlError> {
        self.call(Method::GET, "/__sim/stats", None).await
    }

    /// Sets every request count back to zero.
    pub async fn reset_stats(&self) -> Result<(), ControlError> {
        self.call::<Value>(Method::DELETE, "/__sim/stats", None)
            .await
            .map(drop)
    }

    /// The simulator's clock.
    pub async fn clock(&self) -> Result<ClockState, ControlError> {
        self.call(Method::GET, "/__sim/clock", None).await
    }

    /// Moves the simulator's clock `secs` forward (token lifetimes, captcha and code expiry).
    pub async fn advance_clock(&self, secs: i64) -> Result<ClockState, ControlError> {
        let body = ClockAdvance { advance_secs: secs };
        self.call(Method::POST, "/__sim/clock", Some(json(&body)))
            .await
    }

    /// Sets the fault protocol requests meet from now on (replacing any other); an empty spec
    /// clears it.
    pub async fn fault(&self, spec: &FaultSpec) -> Result<(), ControlError> {
        self.call::<Value>(Method::POST, "/__sim/faults", Some(json(spec)))
            .await
            .map(drop)
    }

    /// The fault in force (what is left of its `times`), if any.
    pub async fn current_fault(&self) -> Result<Option<FaultSpec>, ControlError> {
        let state: FaultState = self.call(Method::GET, "/__sim/faults", None).await?;
        Ok(state.fault)
    }

    /// Clears the fault.
    pub async fn clear_faults(&self) -> Result<(), ControlError> {
        self.call::<Value>(Method::DELETE, "/__sim/faults", None)
            .await
            .map(drop)
    }

    /// Changes the service's switches (use the patch type of the service this listener serves,
    /// [`ConfigPatch::SERVICE`]); answers its full configuration.
    pub async fn configure<P: ConfigPatch>(&self, patch: &P) -> Result<Value, ControlError> {
        self.call(Method::POST, "/__sim/config", Some(json(patch)))
            .await
    }

    /// The service's full configuration.
    pub async fn config(&self) -> Result<Value, ControlError> {
        self.call(Method::GET, "/__sim/config", None).await
    }

    /// Every token of `user` is rejected from now on (logged out elsewhere). Answers the
    /// service's own summary.
    pub async fn revoke(&self, user: &str) -> Result<Value, ControlError> {
        let body = UserAction {
            user: user.to_owned(),
            refresh: false,
        };
        self.call(Method::POST, "/__sim/revoke", Some(json(&body)))
            .await
    }

    /// `user`'s current access tokens are expired (as if time passed).
    pub async fn expire(&self, action: &UserAction) -> Result<Value, ControlError> {
        self.call(Method::POST, "/__sim/expire", Some(json(action)))
            .await
    }

    /// Changes `user`'s password on the server.
    pub async fn set_password(&self, user: &str, password: &str) -> Result<Value, ControlError> {
        let body = NewPassword {
            user: user.to_owned(),
            password: password.to_owned(),
        };
        self.call(Method::POST, "/__sim/password", Some(json(&body)))
            .await
    }

    /// The answer to the captcha the service showed last (`key: None`), or to the one bound
    /// to `key` (ShopXO: the `uuid`; SiYuan: the `needCaptcha` value).
    pub async fn captcha_answer(&self, key: Option<&str>) -> Result<String, ControlError> {
        let path = match key {
            Some(k) => format!("/__sim/captcha?key={}", query_value(k)),
            None => "/__sim/captcha".to_owned(),
        };
        let a: CaptchaAnswer = self.call(Method::GET, &path, None).await?;
        Ok(a.answer)
    }

    /// The code the service sent to `user` last (or, SiYuan, the TOTP code valid now).
    pub async fn last_code(&self, user: &str) -> Result<SentCode, ControlError> {
        let path = format!("/__sim/last-code?user={}", query_value(user));
        self.call(Method::GET, &path, None).await
    }

    /// Any other control route of one service (`GET`), e.g. CoolKit's `/__sim/sessions?user=U`.
    pub async fn get(&self, path_and_query: &str) -> Result<Value, ControlError> {
        self.call(Method::GET, path_and_query, None).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T, ControlError> {
        let url = format!("{}{path}", self.root);
        let fail = |problem: String, status: Option<StatusCode>| ControlError {
            call: format!("{method} {url}"),
            problem,
            status,
        };
        let request = Request::builder()
            .method(method.clone())
            .uri(&url)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| fail(format!("not a valid request: {e}"), None))?;
        let exchange = async {
            let answer = self.http.request(request).await.map_err(|e| {
                fail(
                    format!("no answer from the simulator ({e}); is it running?"),
                    None,
                )
            })?;
            let status = answer.status();
            let bytes = answer
                .into_body()
                .collect()
                .await
                .map_err(|e| fail(format!("answer cut off: {e}"), Some(status)))?
                .to_bytes();
            Ok::<_, ControlError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .map_err(|_| fail(format!("no answer within {CALL_TIMEOUT:?}"), None))??;
        if !status.is_success() {
            let text = String::from_utf8_lossy(&bytes);
            return Err(fail(
                format!("answered {status}: {}", text.trim()),
                Some(status),
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            fail(
                format!(
                    "unexpected answer ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                ),
                Some(status),
            )
        })
    }
}

fn json<T: Serialize + ?Sized>(body: &T) -> Vec<u8> {
    serde_json::to_vec(body).expect("control bodies are plain data")
}

/// Percent-encodes a query value (user names hold `@` and `+`).
fn query_value(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_root_keeps_scheme_and_authority() {
        assert_eq!(
            listener_root("http://127.0.0.1:4000/{region}"),
            "http://127.0.0.1:4000"
        );
        assert_eq!(
            listener_root("http://127.0.0.1:4000"),
            "http://127.0.0.1:4000"
        );
        assert_eq!(
            listener_root("http://127.0.0.1:4000/api/v1/users"),
            "http://127.0.0.1:4000"
        );
    }

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(query_value("bob@example.com"), "bob%40example.com");
        assert_eq!(query_value("+86 138"), "%2B86%20138");
    }
}
