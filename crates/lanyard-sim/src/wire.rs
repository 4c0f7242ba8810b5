//! The bodies and answers of the `/__sim/*` control API (docs/simulator-control.md), serde
//! only. The server's handlers read and write these types and [`crate::control`] sends and
//! parses them, so the two sides cannot drift apart. Compiled with or without the `server`
//! feature.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A fault as posted to `/__sim/faults`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Sleep this long before answering (combines with the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// Answer with this status and a short text body (with `body`: the status of that body).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Replace the answer's body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<FaultBody>,
    /// Close the TCP connection without answering.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub drop: bool,
    /// Answer with a redirect to this URL (absolute or relative) and an empty body; the status
    /// is `status` when it is a 3xx, else 307.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Answer normally, but with terminal escape sequences, C1 controls and bidi overrides
    /// ([`HOSTILE_PREFIX`], [`HOSTILE_SUFFIX`]) around every message and display-name string of
    /// a JSON answer (the keys in [`HOSTILE_KEYS`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hostile_text: bool,
    /// Milliseconds between the bytes of a `drip` body (default 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drip_ms: Option<u64>,
    /// Apply only to requests whose target (path and query, as sent) contains this text;
    /// the others are served normally and do not count against `times`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_contains: Option<String>,
    /// How many protocol requests this applies to; `None` = until cleared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub times: Option<u32>,
}

/// Put in front of each [`HOSTILE_KEYS`] string by the `hostile_text` fault: clear the screen
/// (CSI 2J), write "pwned" to the clipboard (OSC 52), then a right-to-left override.
pub const HOSTILE_PREFIX: &str = "\u{1b}[2J\u{1b}]52;c;cHduZWQ=\u{7}\u{202e}";
/// Put after each [`HOSTILE_KEYS`] string: a C1 CSI (colour red), a first-strong isolate and
/// a right-to-left mark, and a bare BEL.
pub const HOSTILE_SUFFIX: &str = "\u{9b}31m\u{2068}\u{200f}\u{7}";
/// The JSON keys (at any depth) whose string values the `hostile_text` fault decorates: the
/// services' error texts and display names. Ids and log-in names are left alone (clients send
/// them back).
pub const HOSTILE_KEYS: [&str; 12] = [
    "message",
    "error",
    "msg",
    "Message",
    "errmsg",
    "info",
    "name",
    "nickname",
    "displayName",
    "DisplayName",
    "userNickname",
    "user_name_view",
];

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FaultBody {
    /// Truncated JSON, `application/json`.
    Malformed,
    /// An nginx-style HTML error page (`text/html`); status from `status`, else 200.
    Html,
    /// [`HUGE_BODY_LEN`] bytes of JSON-looking data, streamed.
    Huge,
    /// A small JSON answer sent one byte at a time, `drip_ms` apart (a server that is alive
    /// but hardly moving); with the default 200 ms it takes over a minute.
    Drip,
    /// JSON-looking data that never ends (chunked, no length), 64 KiB chunks as fast as the
    /// client reads them.
    Endless,
}

/// `GET|POST|DELETE /__sim/faults`: the fault in force, if any.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FaultState {
    pub fault: Option<FaultSpec>,
}

/// `GET /__sim/stats`: protocol requests served per route name (`"coolkit.v2.refresh"`, ...).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RequestStats {
    pub requests: BTreeMap<String, u64>,
}

impl RequestStats {
    /// Requests to `route` (0 if never hit).
    pub fn count(&self, route: &str) -> u64 {
        self.requests.get(route).copied().unwrap_or(0)
    }
    /// Requests to every route together.
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// `POST /__sim/clock`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClockAdvance {
    #[serde(default)]
    pub advance_secs: i64,
}

/// `GET|POST /__sim/clock`: the simulator's clock now.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClockState {
    /// RFC 3339.
    pub now: String,
    pub unix: i64,
    pub offset_secs: i64,
}

/// `GET /__sim/captcha`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaptchaAnswer {
    pub answer: String,
}

/// `GET /__sim/last-code`: the code a service sent (or the TOTP code valid now).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SentCode {
    pub code: String,
    pub destination: String,
}

/// `POST /__sim/revoke` and `/__sim/expire` (CoolKit's expire also takes `refresh`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct UserAction {
    pub user: String,
    /// CoolKit: expire the user's refresh tokens too.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub refresh: bool,
}

/// `POST /__sim/password`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NewPassword {
    pub user: String,
    pub password: String,
}

/// A partial `POST /__sim/config` body for one service: unset fields keep their value. The
/// answer is the service's full configuration.
pub trait ConfigPatch: Serialize {
    /// The service whose simulator takes this patch (`"steedos"`, ...).
    const SERVICE: &'static str;
}

/// Steedos switches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SteedosConfigPatch {
    /// Users (email, username, mobile or id) whose profile has `enable_MFA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_users: Option<Vec<String>>,
    /// Also accept the plaintext password in `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accept_plain_password: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockout_attempts: Option<u32>,
    /// `/accounts/refreshTokens` answers new JWTs instead of failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_tokens_work: Option<bool>,
}

impl ConfigPatch for SteedosConfigPatch {
    const SERVICE: &'static str = "steedos";
}

/// The SSCMS version the simulator plays: answer shapes and the token header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SscmsVersion {
    V6,
    V7,
}

/// SSCMS switches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SscmsConfigPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<SscmsVersion>,
    /// Failed logins before the timed lock; 0 = no lock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockout_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockout_hours: Option<u32>,
}

impl ConfigPatch for SscmsConfigPatch {
    const SERVICE: &'static str = "sscms";
}

/// CoolKit switches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CoolkitConfigPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_lifetime_secs: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rt_lifetime_secs: Option<i64>,
    /// A refresh answers a new `rt` as well as a new `at`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotate_rt: Option<bool>,
}

impl ConfigPatch for CoolkitConfigPatch {
    const SERVICE: &'static str = "coolkit";
}

/// SiYuan switches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SiyuanConfigPatch {
    /// The cloud login asks for a captcha.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub captcha: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_factor_users: Option<Vec<String>>,
    /// The kernel's API token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_lifetime_secs: Option<i64>,
}

impl ConfigPatch for SiyuanConfigPatch {
    const SERVICE: &'static str = "siyuan";
}

/// ShopXO switches.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopxoConfigPatch {
    /// `home_user_login_img_verify_state`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_captcha: Option<bool>,
    /// `common_img_verify_state` (captcha before sending an SMS/email code)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_captcha: Option<bool>,
    /// `home_user_register_img_verify_state`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub register_captcha: Option<bool>,
    /// A hostile server: the captcha comes as an SVG with a script in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub svg_captcha: Option<bool>,
    /// `home_user_login_type`: any of `username`, `sms`, `email`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_types: Option<Vec<String>>,
    /// `common_verify_interval_time`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_interval_secs: Option<u32>,
    /// `common_verify_expire_time`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_expire_secs: Option<u32>,
}

impl ConfigPatch for ShopxoConfigPatch {
    const SERVICE: &'static str = "shopxo";
}
