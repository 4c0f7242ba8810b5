//! CoolKit open API v1 ("version": 8), docs/services/coolkit.md.
//!
//! Every answer is HTTP 200; failures are `{"error": <int>, "msg"|"info": …}` in the body,
//! successes carry no `error` key (login, refresh) or `"error": 0` (device list, region).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::sign::{bearer, percent_decode, raw_pairs, sign_header, verify, verify_query};
use super::{Api, Refused, Region, Sim, St, region_of};

fn err(code: i64, msg: &str) -> Response {
    Json(json!({ "error": code, "msg": msg })).into_response()
}

fn params_error() -> Response {
    err(400, "params is error")
}

fn is_nonce(s: &str) -> bool {
    s.len() == 8 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Decoded query parameters (first occurrence wins); `+` stays `+`.
pub(super) fn query_map(q: &str) -> std::collections::HashMap<String, String> {
    let mut m = std::collections::HashMap::new();
    for (k, v) in raw_pairs(q) {
        m.entry(percent_decode(k))
            .or_insert_with(|| percent_decode(v));
    }
    m
}

/// Checks the common GET parameters `appid, nonce, ts, version` and the `Sign` header over the
/// sorted query. Returns the appid.
fn check_signed_get(sim: &Sim, headers: &HeaderMap, q: &str) -> Result<String, Response> {
    let p = query_map(q);
    let (Some(appid), Some(nonce), Some(ts), Some(version)) = (
        p.get("appid"),
        p.get("nonce"),
        p.get("ts"),
        p.get("version"),
    ) else {
        return Err(params_error());
    };
    if !is_nonce(nonce) || version != "8" {
        return Err(params_error());
    }
    let Ok(ts) = ts.parse::<i64>() else {
        return Err(params_error());
    };
    let Some(secret) = sim.lock().secret(appid) else {
        return Err(err(406, "appid is invalid"));
    };
    let Some(sig) = sign_header(headers) else {
        return Err(err(406, "Authorization is invalid"));
    };
    if !verify_query(&secret, q, sig) {
        return Err(err(406, "sign is invalid"));
    }
    if !sim.ts_fresh(ts) {
        return Err(err(406, "ts is invalid"));
    }
    Ok(appid.clone())
}

/// `POST /{region}/api/user/login`.
pub(super) async fn login(
    State(sim): St,
    Path(region): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let region = match region_of(&region) {
        Ok(r) => r,
        Err(r) => return r,
    };
    sim.shared.stats.hit("coolkit.v1.login");
    // Content-Type is not checked: clients send application/json, text/plain or nothing.
    let Ok(obj) = serde_json::from_slice::<Map<String, Value>>(&body) else {
        return params_error();
    };
    let Some(appid) = obj.get("appid").and_then(Value::as_str) else {
        return params_error();
    };
    let Some(secret) = sim.lock().secret(appid) else {
        return err(406, "appid is invalid");
    };
    let Some(sig) = sign_header(&headers) else {
        return err(406, "Authorization is invalid");
    };
    if !verify(&secret, &body, sig) {
        return err(406, "sign is invalid");
    }
    let nonce = obj.get("nonce").and_then(Value::as_str);
    let ts = obj.get("ts").and_then(Value::as_i64);
    let version = obj.get("version").and_then(Value::as_i64);
    let password = obj.get("password").and_then(Value::as_str);
    // The doc: phoneNumber is looked at first.
    let who = obj
        .get("phoneNumber")
        .and_then(Value::as_str)
        .or_else(|| obj.get("email").and_then(Value::as_str));
    let (Some(nonce), Some(ts), Some(8), Some(password), Some(who)) =
        (nonce, ts, version, password, who)
    else {
        return params_error();
    };
    if !is_nonce(nonce) || who.is_empty() {
        return params_error();
    }
    if !sim.ts_fresh(ts) {
        return err(406, "ts is invalid");
    }

    let now = sim.now();
    let mut g = sim.lock();
    let Some(u) = g.user_index(who) else {
        return err(404, "user is not exit");
    };
    let home = g.users[u].region;
    if home != region {
        return Json(json!({ "error": 301, "region": home.as_str() })).into_response();
    }
    if g.users[u].password != password {
        return Json(json!({ "error": 401, "info": "user is null in local" })).into_response();
    }
    let id = g.login(u, appid, region, now);
    let s = &g.sessions[&id];
    Json(json!({
        "at": s.at,
        "rt": s.rt,
        "user": g.user_json(u, appid, Api::V1),
        "region": region.as_str(),
    }))
    .into_response()
}

/// `GET /{region}/api/user/refresh?grantType=refresh&rt=…&appid=…&nonce=…&ts=…&version=8`.
/// A new `at`; the `rt` stays (the doc's example returns the old one).
pub(super) async fn refresh(
    State(sim): St,
    Path(region): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let region = match region_of(&region) {
        Ok(r) => r,
        Err(r) => return r,
    };
    sim.shared.stats.hit("coolkit.v1.refresh");
    let q = q.unwrap_or_default();
    let appid = match check_signed_get(&sim, &headers, &q) {
        Ok(a) => a,
        Err(r) => return r,
    };
    let p = query_map(&q);
    let (Some("refresh"), Some(rt)) = (p.get("grantType").map(String::as_str), p.get("rt")) else {
        return params_error();
    };
    let now = sim.now();
    let mut g = sim.lock();
    match g.check_rt(rt, &appid, region, now) {
        Err(Refused::Invalid) => err(401, "rt is invalid"),
        Err(Refused::Expired) => err(402, "rt is expired"),
        Ok((id, which)) => {
            g.refresh(id, which, false, now);
            let s = &g.sessions[&id];
            Json(json!({
                "at": s.at,
                "rt": s.rt,
                "user": g.user_json(s.user, &appid, Api::V1),
                "region": region.as_str(),
            }))
            .into_response()
        }
    }
}

/// `GET /{region}/api/user/device?lang=en&appid=…&nonce=…&ts=…&version=8`, `Bearer at`.
pub(super) async fn device(
    State(sim): St,
    Path(region): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let region = match region_of(&region) {
        Ok(r) => r,
        Err(r) => return r,
    };
    sim.shared.stats.hit("coolkit.v1.device");
    let at = bearer(&headers).unwrap_or("");
    if at.is_empty() {
        // Observed with an empty or absent token.
        return err(406, r#"{"error":401,"msg":"Bearer:accessToken is empty"}"#);
    }
    let p = query_map(&q.unwrap_or_default());
    let (Some(appid), Some(_nonce), Some(_ts), Some(version)) = (
        p.get("appid"),
        p.get("nonce"),
        p.get("ts"),
        p.get("version"),
    ) else {
        return params_error();
    };
    if version != "8" {
        return params_error();
    }
    let now = sim.now();
    let mut g = sim.lock();
    if g.secret(appid).is_none() {
        return err(406, "appid is invalid");
    }
    match g.check_at(at, appid, region, now) {
        Err(Refused::Invalid) => err(401, "auth failed"),
        Err(Refused::Expired) => err(402, "at is expired"),
        Ok(id) => {
            let u = &g.users[g.sessions[&id].user];
            let list: Vec<Value> = if u.email.as_deref() == Some("alice@example.com") {
                vec![json!({
                    "deviceid": "1000a1b2c3",
                    "name": "Desk lamp",
                    "online": true,
                    "params": {"switch": "off"},
                })]
            } else {
                vec![]
            };
            Json(json!({ "error": 0, "devicelist": list })).into_response()
        }
    }
}

/// `GET /{region}/api/user/region?country_code=86&appid=…&nonce=…&ts=…&version=8`.
pub(super) async fn region_lookup(
    state: St,
    Path(region): Path<String>,
    q: RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = region_of(&region) {
        return r;
    }
    region_lookup_global(state, q, headers).await
}

/// `GET /api/user/region?…` on the global host (no region prefix).
pub(super) async fn region_lookup_global(
    State(sim): St,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    sim.shared.stats.hit("coolkit.v1.region");
    let q = q.unwrap_or_default();
    if let Err(r) = check_signed_get(&sim, &headers, &q) {
        return r;
    }
    let p = query_map(&q);
    let Some(cc) = p.get("country_code").filter(|c| !c.trim().is_empty()) else {
        return params_error();
    };
    let region = Region::for_country_code(cc);
    Json(json!({
        "region": region.as_str(),
        "error": 0,
        "requestid": format!("{}-{}", p["nonce"], p["ts"]),
    }))
    .into_response()
}
