//! CoolKit / eWeLink account API simulator (docs/services/coolkit.md): v1 ("version": 8) and v2,
//! four regions `cn`, `as`, `eu`, `us` as path prefixes `/{region}` on one listener.
//!
//! Routes under each `/{region}` prefix:
//!
//! | route | notes |
//! |---|---|
//! | `POST /api/user/login` | v1, `Sign` over the exact body; errors in the body with HTTP 200 |
//! | `GET /api/user/refresh` | v1, `Sign` over the sorted query; new `at`, same `rt` (doc example) |
//! | `GET /api/user/device` | v1, `Bearer at`; the cheap token check the notes recommend |
//! | `GET /api/user/region` | v1 country → region lookup (also at `/api/user/region`, the global host) |
//! | `POST /v2/user/login` | v2, `X-CK-Appid` + `Sign` over the exact body |
//! | `POST /v2/user/refresh` | v2, `{"rt"}`; rotates `rt` when `rotate_rt` (default) |
//! | `GET /v2/user/profile` | v2, `Bearer at` |
//! | `DELETE /v2/user/logout` | v2, `Bearer at`; drops the session (`at` and `rt`) |
//! | `GET /v2/utils/get-region` | v2 country → region lookup (also at the root, the global host) |
//!
//! Sessions: one per login. A login drops the user's earlier sessions *of the same app* ("one
//! account cannot be logged in by several clients of the same app"), so their `at`/`rt`
//! answer 401 afterwards. A token is only good on its own region's prefix and with its own app.
//!
//! **Refresh is crash-tolerant (the simulator's choice; the notes leave it open).** A refresh
//! issues a new `at` (and a new `rt` when rotating), but the *previous* `at`/`rt` stay valid until
//! the new `at` or the new `rt` is presented for the first time; from then on the previous ones
//! answer 401. This is what token servers with refresh-token rotation usually do (a grace or
//! "reuse" window), and it is what makes "persist the new tokens before using them" enough for a
//! client: a client that dies after the server answered but before it stored the answer still
//! holds a working pair. Details:
//! - presenting the previous `rt` again while the new pair was never presented gives a fresh
//!   pair and the unused one dies (the previous pair stays valid, under the same rule);
//! - once the new `at` or `rt` has been presented, the previous `rt` is a stale refresh token →
//!   401, and the previous `at` → 401;
//! - without rotation (`rotate_rt: false`, and always on v1) the `rt` stays the same, so only the
//!   previous `at` is kept in grace, until the new `at` is presented or the `rt` is used again;
//! - `/__sim/expire` expires the previous `at` too; revoke and logout drop both pairs.
//!
//! Codes chosen where the notes leave them open: invalid / revoked / rotated-away tokens → 401,
//! expired → 402, on both APIs and for both `at` and `rt`.
//!
//! `ts` (v1) must be within [`TS_SKEW_SECS`] of the simulator clock *or* of the real clock:
//! tests move the simulator clock forward by days to expire tokens while clients keep stamping
//! real time, and that must not turn into signature failures.
//!
//! Control routes (besides the framework's `/__sim/faults|clock|stats`):
//! - `GET|POST /__sim/config` `{"at_lifetime_secs","rt_lifetime_secs","rotate_rt"}` (partial
//!   updates; answers the full config). Lifetimes apply to tokens issued afterwards.
//! - `POST /__sim/expire` `{"user", "refresh"?: bool}`: the user's live `at`s expire now (with
//!   `"refresh": true` their `rt`s too). Answers `{"expired": n}` (sessions touched).
//! - `POST /__sim/revoke` `{"user"}`: every session of the user is dropped → 401. `{"revoked": n}`.
//! - `POST /__sim/password` `{"user","password"}`: existing tokens stay valid (use revoke too to
//!   model a server that logs everybody out).
//! - `GET /__sim/sessions?user=U`: `{"sessions": n}` live sessions of U (a debugging aid).
//!
//! `user` in control bodies is the email or the phone number (`+8613800000001`).

// Early-return helpers hand back a finished `Response` as their error; its size is irrelevant here.
#![allow(clippy::result_large_err)]

mod sign;
mod v1;
mod v2;

use crate::switches::{self, HasSwitches, Switches};
use crate::wire::CoolkitConfigPatch;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Json;
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::common::{DemoUser, Shared, random_hex};

pub use sign::sign;

/// Seeded app (docs/simulator-control.md).
pub const DEMO_APPID: &str = "LanyardDemoAppId0000000000000001";
pub const DEMO_APPSECRET: &str = "LanyardDemoAppSecret000000000001";
/// The app id/secret of the official docs' examples, so the documented test vectors can
/// also be replayed over HTTP.
pub const DOC_APPID: &str = "McFJj4Noke1mGDZCR1QarGW7P9Ycp0Vr";
pub const DOC_APPSECRET: &str = "OdPuCZ4PkPPi0rVKRVcGmll2NM6vVk0c";

/// Allowed distance of a v1 `ts` from the clock.
pub const TS_SKEW_SECS: i64 = 300;
/// at: one month, rt: two months (the documented lifetimes).
pub const DEFAULT_AT_LIFETIME_SECS: i64 = 30 * 24 * 3600;
pub const DEFAULT_RT_LIFETIME_SECS: i64 = 60 * 24 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    Cn,
    As,
    Eu,
    Us,
}

impl Region {
    pub fn parse(s: &str) -> Option<Region> {
        match s {
            "cn" => Some(Region::Cn),
            "as" => Some(Region::As),
            "eu" => Some(Region::Eu),
            "us" => Some(Region::Us),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Cn => "cn",
            Region::As => "as",
            Region::Eu => "eu",
            Region::Us => "us",
        }
    }
    /// Country calling code (with or without `+`) → region, for the lookup endpoints.
    pub fn for_country_code(code: &str) -> Region {
        let c = code.trim().trim_start_matches('+');
        const EU: &[&str] = &[
            "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47",
            "48", "49", "351", "352", "353", "354", "356", "357", "358", "359", "370", "371",
            "372", "385", "386", "420", "421",
        ];
        match c {
            "86" => Region::Cn,
            "1" => Region::Us,
            c if EU.contains(&c) => Region::Eu,
            _ => Region::As,
        }
    }
}

/// Test-controlled switches (`/__sim/config`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Config {
    pub at_lifetime_secs: i64,
    pub rt_lifetime_secs: i64,
    pub rotate_rt: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            at_lifetime_secs: DEFAULT_AT_LIFETIME_SECS,
            rt_lifetime_secs: DEFAULT_RT_LIFETIME_SECS,
            rotate_rt: true,
        }
    }
}

#[derive(Debug, Clone)]
struct User {
    id: &'static str,
    email: Option<String>,
    phone: Option<String>,
    password: String,
    region: Region,
    country_code: &'static str,
    nickname: &'static str,
    apikey: &'static str,
    created_at: &'static str,
}

impl User {
    fn matches(&self, who: &str) -> bool {
        self.email
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case(who))
            || self.phone.as_deref() == Some(who)
    }
}

fn seed_users() -> Vec<User> {
    vec![
        User {
            id: "5c984cd3dc8295fa0ef3e501",
            email: Some("alice@example.com".into()),
            phone: None,
            password: "secret123".into(),
            region: Region::Us,
            country_code: "+1",
            nickname: "alice",
            apikey: "7c2b9b7e-2f5a-4a51-9c1e-0a1c5e0a0001",
            created_at: "2023-03-25T03:36:51.335Z",
        },
        User {
            id: "5c984cd3dc8295fa0ef3e502",
            email: Some("bob@example.com".into()),
            phone: None,
            password: "hunter22".into(),
            region: Region::Eu,
            country_code: "+44",
            nickname: "bob",
            apikey: "7c2b9b7e-2f5a-4a51-9c1e-0a1c5e0a0002",
            created_at: "2023-04-02T09:12:05.101Z",
        },
        User {
            id: "5c984cd3dc8295fa0ef3e503",
            email: None,
            phone: Some("+8613800000001".into()),
            password: "secret123".into(),
            region: Region::Cn,
            country_code: "+86",
            nickname: "eWeLink",
            apikey: "7c2b9b7e-2f5a-4a51-9c1e-0a1c5e0a0003",
            created_at: "2023-05-16T10:48:42.091Z",
        },
    ]
}

pub fn demo_users() -> Vec<DemoUser> {
    let mut v: Vec<DemoUser> = seed_users()
        .into_iter()
        .map(|u| DemoUser {
            service: "coolkit",
            user: u.email.clone().or(u.phone.clone()).unwrap_or_default(),
            password: u.password.clone(),
            note: format!("region {}", u.region.as_str()),
        })
        .collect();
    v.push(DemoUser {
        service: "coolkit",
        user: format!("app {DEMO_APPID}"),
        password: DEMO_APPSECRET.into(),
        note: "appid / appsecret".into(),
    });
    v
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    V1,
    V2,
}

#[derive(Debug, Clone)]
struct Session {
    user: usize,
    appid: String,
    region: Region,
    at: String,
    at_exp: i64,
    rt: String,
    rt_exp: i64,
    /// The pair before the last refresh, valid until the current pair is first presented.
    prev: Option<Pair>,
}

/// An `at`/`rt` pair kept in grace after a refresh.
#[derive(Debug, Clone)]
struct Pair {
    at: String,
    at_exp: i64,
    rt: String,
    rt_exp: i64,
}

/// Which pair of a session a presented token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Which {
    Current,
    Previous,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// Unknown, revoked, replaced by a later login, rotated away, wrong app or region → 401.
    Invalid,
    /// Known but past its lifetime → 402.
    Expired,
}

#[derive(Default)]
struct Inner {
    config: Config,
    users: Vec<User>,
    /// appid → secret
    apps: HashMap<String, String>,
    sessions: HashMap<u64, Session>,
    by_at: HashMap<String, u64>,
    by_rt: HashMap<String, u64>,
    next_id: u64,
}

impl Inner {
    fn user_index(&self, who: &str) -> Option<usize> {
        self.users.iter().position(|u| u.matches(who))
    }

    fn secret(&self, appid: &str) -> Option<String> {
        self.apps.get(appid).cloned()
    }

    /// A new session for `user` via `appid`; earlier sessions of that user and app are dropped.
    fn login(&mut self, user: usize, appid: &str, region: Region, now: i64) -> u64 {
        let old: Vec<u64> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.user == user && s.appid == appid)
            .map(|(id, _)| *id)
            .collect();
        for id in old {
            self.drop_session(id);
        }
        self.next_id += 1;
        let id = self.next_id;
        let s = Session {
            user,
            appid: appid.to_owned(),
            region,
            at: random_hex(20),
            at_exp: now + self.config.at_lifetime_secs,
            rt: random_hex(20),
            rt_exp: now + self.config.rt_lifetime_secs,
            prev: None,
        };
        self.by_at.insert(s.at.clone(), id);
        self.by_rt.insert(s.rt.clone(), id);
        self.sessions.insert(id, s);
        id
    }

    fn drop_session(&mut self, id: u64) {
        if let Some(s) = self.sessions.remove(&id) {
            self.by_at.remove(&s.at);
            self.by_rt.remove(&s.rt);
            if let Some(p) = s.prev {
                self.by_at.remove(&p.at);
                self.by_rt.remove(&p.rt);
            }
        }
    }

    /// The current pair of session `id` was presented: the previous pair's grace ends.
    fn end_grace(&mut self, id: u64) {
        let Some(s) = self.sessions.get_mut(&id) else {
            return;
        };
        if let Some(p) = s.prev.take() {
            if p.at != s.at {
                self.by_at.remove(&p.at);
            }
            if p.rt != s.rt {
                self.by_rt.remove(&p.rt);
            }
        }
    }

    /// Which session (and pair) a token belongs to, if it is one of ours for this app and region.
    fn find(
        &self,
        map: &HashMap<String, u64>,
        token: &str,
        appid: &str,
        region: Region,
    ) -> Result<u64, Refused> {
        let id = *map.get(token).ok_or(Refused::Invalid)?;
        let s = &self.sessions[&id];
        if s.appid != appid || s.region != region {
            return Err(Refused::Invalid);
        }
        Ok(id)
    }

    /// A presented `at`. The current one ends the previous pair's grace.
    fn check_at(
        &mut self,
        at: &str,
        appid: &str,
        region: Region,
        now: i64,
    ) -> Result<u64, Refused> {
        let id = self.find(&self.by_at, at, appid, region)?;
        let s = &self.sessions[&id];
        let current = s.at == at;
        let exp = if current {
            s.at_exp
        } else {
            s.prev.as_ref().map_or(0, |p| p.at_exp)
        };
        if now >= exp {
            return Err(Refused::Expired);
        }
        if current {
            self.end_grace(id);
        }
        Ok(id)
    }

    /// A presented `rt` (not consumed yet: [`Inner::refresh`] does that).
    fn check_rt(
        &self,
        rt: &str,
        appid: &str,
        region: Region,
        now: i64,
    ) -> Result<(u64, Which), Refused> {
        let id = self.find(&self.by_rt, rt, appid, region)?;
        let s = &self.sessions[&id];
        let (which, exp) = if s.rt == rt {
            (Which::Current, s.rt_exp)
        } else {
            (Which::Previous, s.prev.as_ref().map_or(0, |p| p.rt_exp))
        };
        if now >= exp {
            return Err(Refused::Expired);
        }
        Ok((id, which))
    }

    /// A refresh with the session's current or previous `rt` (see the module docs): a new `at`,
    /// a new `rt` too when `rotate_rt`. With the current `rt`, the current pair becomes the
    /// previous one (in grace); with the previous `rt`, the never-presented current pair is
    /// replaced.
    fn refresh(&mut self, id: u64, which: Which, rotate_rt: bool, now: i64) {
        let (at_life, rt_life) = (self.config.at_lifetime_secs, self.config.rt_lifetime_secs);
        if which == Which::Current {
            self.end_grace(id);
        }
        let s = self.sessions.get_mut(&id).expect("live session");
        let base = match which {
            Which::Current => {
                let cur = Pair {
                    at: s.at.clone(),
                    at_exp: s.at_exp,
                    rt: s.rt.clone(),
                    rt_exp: s.rt_exp,
                };
                s.prev = Some(cur.clone());
                cur
            }
            Which::Previous => {
                // The unused pair dies; the previous pair stays in grace.
                let prev = s.prev.clone().expect("a previous pair");
                if s.at != prev.at {
                    self.by_at.remove(&s.at);
                }
                if s.rt != prev.rt {
                    self.by_rt.remove(&s.rt);
                }
                prev
            }
        };
        s.at = random_hex(20);
        s.at_exp = now + at_life;
        self.by_at.insert(s.at.clone(), id);
        if rotate_rt {
            s.rt = random_hex(20);
            s.rt_exp = now + rt_life;
        } else {
            s.rt = base.rt;
            s.rt_exp = base.rt_exp;
        }
        self.by_rt.insert(s.rt.clone(), id);
    }

    fn user_json(&self, user: usize, appid: &str, api: Api) -> Value {
        let u = &self.users[user];
        let mut o = json!({
            "_id": u.id,
            "appId": appid,
            "lang": "en",
            "online": false,
            "nickname": u.nickname,
            "createdAt": u.created_at,
            "apikey": u.apikey,
        });
        if let Some(e) = &u.email {
            o["email"] = json!(e);
        }
        if let Some(p) = &u.phone {
            o["phoneNumber"] = json!(p);
        }
        if api == Api::V2 {
            o["countryCode"] = json!(u.country_code);
            o["accountLevel"] = json!(1);
            o["timezone"] = json!({"id": "UTC", "offset": 0});
        }
        o
    }
}

/// The module's state; handlers get `State<Arc<Sim>>`.
pub(crate) struct Sim {
    shared: Shared,
    inner: Mutex<Inner>,
}

impl Sim {
    fn new(shared: Shared) -> Sim {
        let mut apps = HashMap::new();
        apps.insert(DEMO_APPID.to_owned(), DEMO_APPSECRET.to_owned());
        apps.insert(DOC_APPID.to_owned(), DOC_APPSECRET.to_owned());
        Sim {
            shared,
            inner: Mutex::new(Inner {
                users: seed_users(),
                apps,
                ..Default::default()
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn now(&self) -> i64 {
        self.shared.clock.unix()
    }

    /// v1 `ts` freshness: close to the simulator clock or to the real clock.
    fn ts_fresh(&self, ts: i64) -> bool {
        (ts - self.now()).abs() <= TS_SKEW_SECS
            || (ts - chrono::Utc::now().timestamp()).abs() <= TS_SKEW_SECS
    }
}

type St = State<Arc<Sim>>;

/// Every CoolKit route (both APIs, every region prefix) and the module's control routes.
pub fn router(shared: Shared) -> Router {
    let sim = Arc::new(Sim::new(shared));
    Router::new()
        // v1
        .route("/{region}/api/user/login", post(v1::login))
        .route("/{region}/api/user/refresh", get(v1::refresh))
        .route("/{region}/api/user/device", get(v1::device))
        .route("/{region}/api/user/region", get(v1::region_lookup))
        .route("/api/user/region", get(v1::region_lookup_global))
        // v2
        .route("/{region}/v2/user/login", post(v2::login))
        .route("/{region}/v2/user/refresh", post(v2::refresh))
        .route("/{region}/v2/user/profile", get(v2::profile))
        .route("/{region}/v2/user/logout", delete(v2::logout))
        .route("/{region}/v2/utils/get-region", get(v2::get_region))
        .route("/v2/utils/get-region", get(v2::get_region_global))
        // control
        .route("/__sim/config", switches::config_route())
        .route("/__sim/expire", post(expire))
        .route("/__sim/revoke", post(revoke))
        .route("/__sim/password", post(password))
        .route("/__sim/sessions", get(sessions))
        .with_state(sim)
}

/// The region of the path prefix, or a plain 404 for anything else.
fn region_of(s: &str) -> Result<Region, Response> {
    Region::parse(s).ok_or_else(|| (StatusCode::NOT_FOUND, "404 page not found").into_response())
}

// ------------------------------------------------------------------------------------------
// Control routes

fn control_error(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({ "error": msg }))).into_response()
}

impl Switches for Config {
    type Patch = CoolkitConfigPatch;
    fn apply(&mut self, patch: CoolkitConfigPatch) -> Result<(), String> {
        if let Some(v) = patch.at_lifetime_secs {
            self.at_lifetime_secs = v;
        }
        if let Some(v) = patch.rt_lifetime_secs {
            self.rt_lifetime_secs = v;
        }
        if let Some(v) = patch.rotate_rt {
            self.rotate_rt = v;
        }
        Ok(())
    }
}

impl HasSwitches for Arc<Sim> {
    type Switches = Config;
    fn with_switches<R>(&self, change: impl FnOnce(&mut Config) -> R) -> (R, Value) {
        let mut g = self.lock();
        let result = change(&mut g.config);
        (result, switches::shown(&g.config))
    }
}

#[derive(Deserialize)]
struct UserBody {
    user: String,
    #[serde(default)]
    refresh: bool,
    #[serde(default)]
    password: Option<String>,
}

async fn expire(State(s): St, Json(b): Json<UserBody>) -> Response {
    let now = s.now();
    let mut g = s.lock();
    let Some(u) = g.user_index(&b.user) else {
        return control_error(StatusCode::NOT_FOUND, "unknown user");
    };
    let mut n = 0;
    for sess in g.sessions.values_mut().filter(|x| x.user == u) {
        sess.at_exp = sess.at_exp.min(now - 1);
        if b.refresh {
            sess.rt_exp = sess.rt_exp.min(now - 1);
        }
        if let Some(p) = sess.prev.as_mut() {
            p.at_exp = p.at_exp.min(now - 1);
            if b.refresh {
                p.rt_exp = p.rt_exp.min(now - 1);
            }
        }
        n += 1;
    }
    Json(json!({ "expired": n })).into_response()
}

async fn revoke(State(s): St, Json(b): Json<UserBody>) -> Response {
    let mut g = s.lock();
    let Some(u) = g.user_index(&b.user) else {
        return control_error(StatusCode::NOT_FOUND, "unknown user");
    };
    let ids: Vec<u64> = g
        .sessions
        .iter()
        .filter(|(_, x)| x.user == u)
        .map(|(i, _)| *i)
        .collect();
    for id in &ids {
        g.drop_session(*id);
    }
    Json(json!({ "revoked": ids.len() })).into_response()
}

async fn password(State(s): St, Json(b): Json<UserBody>) -> Response {
    let Some(p) = b.password else {
        return control_error(StatusCode::BAD_REQUEST, "password: string");
    };
    let mut g = s.lock();
    let Some(u) = g.user_index(&b.user) else {
        return control_error(StatusCode::NOT_FOUND, "unknown user");
    };
    g.users[u].password = p;
    Json(json!({ "ok": true })).into_response()
}

async fn sessions(State(s): St, RawQuery(q): RawQuery) -> Response {
    // Raw query: `+8613800000001` must keep its `+`.
    let user = v1::query_map(&q.unwrap_or_default())
        .remove("user")
        .unwrap_or_default();
    let g = s.lock();
    let Some(u) = g.user_index(&user) else {
        return control_error(StatusCode::NOT_FOUND, "unknown user");
    };
    let n = g.sessions.values().filter(|x| x.user == u).count();
    Json(json!({ "sessions": n })).into_response()
}
