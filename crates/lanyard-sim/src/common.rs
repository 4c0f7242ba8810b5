//! What every simulator shares: a controllable clock, fault injection and request stats.
//!
//! # How a service module plugs in
//!
//! Each service module (`steedos`, `sscms`, `coolkit`, `siyuan`, `shopxo`, `captcha`) exposes
//!
//! ```ignore
//! pub fn router(shared: Shared) -> axum::Router;   // protocol routes + its own /__sim/* routes
//! pub fn demo_users() -> Vec<DemoUser>;           // printed on stderr at start
//! ```
//!
//! `router()` creates the module's private state (users, sessions, config) itself and returns a
//! `Router<()>` (call `.with_state(...)` inside). The framework ([`crate::start`]) then:
//! - merges in the common control routes `/__sim/faults`, `/__sim/clock`, `/__sim/stats`
//!   (so a module must NOT define those three paths; it defines `/__sim/config` through
//!   `switches::config_route` with its switches as a typed struct, `/__sim/expire`, ...);
//! - applies faults to every request whose path does not start with `/__sim/` — modules do
//!   nothing for faults;
//! - serves it on its own loopback listener with one [`Shared`] per listener.
//!
//! Inside handlers, keep a clone of `shared` in your state and use:
//! - `shared.clock.now()` / `shared.clock.unix()` / `shared.clock.unix_ms()` instead of
//!   `Utc::now()`, so `POST /__sim/clock {"advance_secs": N}` moves token lifetimes and expiries;
//! - `shared.stats.hit("coolkit.v2.refresh")` once per protocol request, with a dotted
//!   `<service>.<route>` name; `GET /__sim/stats` reports the counts;
//! - helpers [`sha256_hex`], [`md5_hex`], [`jwt_hs256`], [`jwt_hs256_raw`], [`jwt_verify_hs256`],
//!   [`random_hex`],
//!   [`json_response`] if they are useful.
//!
//! Never log passwords, codes or tokens (tracing goes to stderr).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use serde_json::Value;

use crate::wire::{ClockAdvance, ClockState, FaultState, RequestStats};
pub use crate::wire::{FaultBody, FaultSpec, HOSTILE_KEYS, HOSTILE_PREFIX, HOSTILE_SUFFIX};
use sha2::{Digest, Sha256};

/// Wall clock plus an offset that tests move forward through `/__sim/clock`.
#[derive(Debug, Default)]
pub struct SimClock {
    offset_secs: AtomicI64,
}

impl SimClock {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + TimeDelta::seconds(self.offset_secs.load(Ordering::Relaxed))
    }
    /// Unix seconds.
    pub fn unix(&self) -> i64 {
        self.now().timestamp()
    }
    /// Unix milliseconds.
    pub fn unix_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }
    pub fn advance(&self, secs: i64) {
        self.offset_secs.fetch_add(secs, Ordering::Relaxed);
    }
    pub fn offset_secs(&self) -> i64 {
        self.offset_secs.load(Ordering::Relaxed)
    }
}

/// A seeded user, printed at start so people can log in to the demo.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DemoUser {
    pub service: &'static str,
    pub user: String,
    pub password: String,
    pub note: String,
}

/// Per-route request counters, reported by `GET /__sim/stats`.
#[derive(Debug, Default)]
pub struct Stats {
    counts: Mutex<BTreeMap<String, u64>>,
}

impl Stats {
    /// Count one request to the route `name` (e.g. `"steedos.login"`).
    pub fn hit(&self, name: &str) {
        let mut m = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry(name.to_owned()).or_insert(0) += 1;
    }
    /// Current count for `name` (0 if never hit).
    pub fn get(&self, name: &str) -> u64 {
        let m = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        m.get(name).copied().unwrap_or(0)
    }
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    pub fn reset(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

/// Size of the `huge` fault body.
pub const HUGE_BODY_LEN: usize = 16 << 20;

/// The active fault, if any. The framework consumes it; modules don't need to touch it.
#[derive(Debug, Default)]
pub struct Faults {
    active: Mutex<Option<FaultSpec>>,
}

impl Faults {
    pub fn set(&self, spec: FaultSpec) {
        let spec = if spec == FaultSpec::default() || spec.times == Some(0) {
            None
        } else {
            Some(spec)
        };
        *self.active.lock().unwrap_or_else(|e| e.into_inner()) = spec;
    }
    pub fn clear(&self) {
        *self.active.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
    pub fn current(&self) -> Option<FaultSpec> {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    /// Take the fault for one protocol request to `target` (path and query), counting down
    /// `times`; `None` if no fault is set or it is for other targets.
    pub fn take(&self, target: &str) -> Option<FaultSpec> {
        let mut g = self.active.lock().unwrap_or_else(|e| e.into_inner());
        let spec = g.clone()?;
        if let Some(want) = &spec.target_contains
            && !target.contains(want.as_str())
        {
            return None;
        }
        if let Some(n) = spec.times {
            if n <= 1 {
                *g = None;
            } else if let Some(s) = g.as_mut() {
                s.times = Some(n - 1);
            }
        }
        Some(spec)
    }
}

/// Handed to every service router; one per listener (each simulator has its own clock,
/// faults and stats). Cheap to clone.
#[derive(Clone, Default)]
pub struct Shared {
    pub clock: Arc<SimClock>,
    pub faults: Arc<Faults>,
    pub stats: Arc<Stats>,
}

impl Shared {
    pub fn new() -> Self {
        Self::default()
    }
}

/// The control routes every listener has: `/__sim/faults`, `/__sim/clock`, `/__sim/stats`.
pub fn control_router(shared: Shared) -> axum::Router {
    axum::Router::new()
        .route(
            "/__sim/faults",
            post(faults_set).delete(faults_clear).get(faults_get),
        )
        .route("/__sim/clock", post(clock_advance).get(clock_get))
        .route(
            "/__sim/stats",
            axum::routing::get(stats_get).delete(stats_reset),
        )
        .with_state(shared)
}

async fn faults_set(State(s): State<Shared>, Json(spec): Json<FaultSpec>) -> Json<FaultState> {
    tracing::info!(?spec, "fault set");
    s.faults.set(spec);
    faults_get(State(s)).await
}
async fn faults_clear(State(s): State<Shared>) -> Json<FaultState> {
    s.faults.clear();
    Json(FaultState { fault: None })
}
async fn faults_get(State(s): State<Shared>) -> Json<FaultState> {
    Json(FaultState {
        fault: s.faults.current(),
    })
}

async fn clock_advance(State(s): State<Shared>, Json(b): Json<ClockAdvance>) -> Json<ClockState> {
    s.clock.advance(b.advance_secs);
    clock_get(State(s)).await
}
async fn clock_get(State(s): State<Shared>) -> Json<ClockState> {
    Json(ClockState {
        now: s.clock.now().to_rfc3339(),
        unix: s.clock.unix(),
        offset_secs: s.clock.offset_secs(),
    })
}

async fn stats_get(State(s): State<Shared>) -> Json<RequestStats> {
    Json(RequestStats {
        requests: s.stats.snapshot(),
    })
}
async fn stats_reset(State(s): State<Shared>) -> Json<RequestStats> {
    s.stats.reset();
    Json(RequestStats::default())
}

// ---------------------------------------------------------------------------------------------
// Small helpers shared by the simulators.

/// Lowercase hex SHA-256 of `s`.
pub fn sha256_hex(s: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(s.as_ref()))
}

/// Lowercase hex MD5 of `s`.
pub fn md5_hex(s: impl AsRef<[u8]>) -> String {
    use md5::Md5;
    hex::encode(Md5::digest(s.as_ref()))
}

/// `n` random bytes as lowercase hex (2n chars).
pub fn random_hex(n: usize) -> String {
    let mut buf = vec![0u8; n];
    rand::Rng::fill(&mut rand::rng(), &mut buf[..]);
    hex::encode(buf)
}

/// An HS256 JWT (`{"alg":"HS256","typ":"JWT"}` header) over `payload`.
pub fn jwt_hs256(secret: &[u8], payload: &Value) -> String {
    let payload = serde_json::to_string(payload).unwrap_or_default();
    jwt_hs256_raw(secret, r#"{"alg":"HS256","typ":"JWT"}"#, &payload)
}

/// An HS256 JWT over exactly these header and payload bytes (for servers whose serializer
/// output matters, e.g. SSCMS's `"\/Date(ms)\/"`).
pub fn jwt_hs256_raw(secret: &[u8], header_json: &str, payload_json: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(header_json.as_bytes());
    let body = URL_SAFE_NO_PAD.encode(payload_json.as_bytes());
    let signing_input = format!("{header}.{body}");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("hmac accepts any key length");
    mac.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

/// Checks an HS256 JWT's signature (constant time) and returns its payload. Claims such as
/// `exp` are NOT checked here; the caller does that with its own clock.
pub fn jwt_verify_hs256(secret: &[u8], token: &str) -> Option<Value> {
    let mut parts = token.split('.');
    let (h, p, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(h).ok()?).ok()?;
    if header.get("alg")?.as_str()? != "HS256" {
        return None;
    }
    let sig = URL_SAFE_NO_PAD.decode(s).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(h.as_bytes());
    mac.update(b".");
    mac.update(p.as_bytes());
    mac.verify_slice(&sig).ok()?;
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).ok()?).ok()
}

/// `status` + JSON body.
pub fn json_response(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// JSON with `Content-Type: application/json; charset=utf-8`, as Express (`res.json`) and
/// ASP.NET answer; the Steedos and SSCMS simulators send their bytes this way.
pub fn json_res(status: StatusCode, body: &Value) -> Response {
    let mut r = (status, body.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn jwt_round_trip_and_tamper() {
        let t = jwt_hs256(b"k", &json!({"a":1}));
        assert_eq!(jwt_verify_hs256(b"k", &t), Some(json!({"a":1})));
        assert_eq!(jwt_verify_hs256(b"other", &t), None);
        let mut bad = t.clone();
        bad.insert(t.find('.').unwrap() + 2, 'x');
        assert_eq!(jwt_verify_hs256(b"k", &bad), None);
    }

    #[test]
    fn hashes() {
        assert_eq!(
            sha256_hex("123456"),
            "8d969eef6ecad3c29a3a629280e686cf0c3f5d5a86aff3ca12020c923adc6c92"
        );
        assert_eq!(md5_hex("demo1234").len(), 32);
    }

    #[test]
    fn fault_times_count_down() {
        let f = Faults::default();
        f.set(FaultSpec {
            status: Some(503),
            times: Some(2),
            ..Default::default()
        });
        assert!(f.take("/a").is_some());
        assert!(f.take("/a").is_some());
        assert!(f.take("/a").is_none());
    }

    #[test]
    fn fault_targets_filter_and_count_only_matches() {
        let f = Faults::default();
        f.set(FaultSpec {
            status: Some(503),
            target_contains: Some("s=user%2Flogin".into()),
            times: Some(1),
            ..Default::default()
        });
        assert!(f.take("/api.php?s=base%2Fcommon").is_none());
        assert!(f.take("/api.php?s=user%2Flogin&uuid=1").is_some());
        assert!(f.take("/api.php?s=user%2Flogin&uuid=1").is_none());
    }
}
