//! CoolKit API v2 (docs/services/coolkit.md).
//!
//! Envelope `{"error": int, "msg": str, "data": {…}}`, always HTTP 200. `X-CK-Appid` is
//! required on every `/v2/user/*` call; `Sign` (over the exact body, or the sorted query for
//! GET) before login, `Bearer <at>` after.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::sign::{bearer, sign_header, verify, verify_query};
use super::v1::query_map;
use super::{Api, Refused, Region, Sim, St, region_of};

fn reply(error: i64, msg: &str, data: Value) -> Response {
    Json(json!({ "error": error, "msg": msg, "data": data })).into_response()
}

fn fail(error: i64, msg: &str) -> Response {
    reply(error, msg, json!({}))
}

fn ok(data: Value) -> Response {
    reply(0, "", data)
}

fn params_error() -> Response {
    fail(400, "params incomplete")
}

fn refused(r: Refused, what: &str) -> Response {
    match r {
        Refused::Invalid => fail(401, &format!("{what} is invalid")),
        Refused::Expired => fail(402, &format!("{what} is expired")),
    }
}

/// `X-CK-Appid` → (appid, secret).
fn app(sim: &Sim, headers: &HeaderMap) -> Result<(String, String), Response> {
    let Some(appid) = headers.get("x-ck-appid").and_then(|v| v.to_str().ok()) else {
        return Err(fail(400, "params incomplete: X-CK-Appid"));
    };
    match sim.lock().secret(appid) {
        Some(secret) => Ok((appid.to_owned(), secret)),
        None => Err(fail(
            407,
            &format!("the path of request is not allowed with appid:{appid}"),
        )),
    }
}

/// App check plus `Sign` over the exact body bytes; then the body as a JSON object.
fn signed_body(
    sim: &Sim,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(String, Map<String, Value>), Response> {
    let (appid, secret) = app(sim, headers)?;
    let ok = sign_header(headers).is_some_and(|sig| verify(&secret, body, sig));
    if !ok {
        return Err(fail(400, "sign verification failed"));
    }
    match serde_json::from_slice::<Map<String, Value>>(body) {
        Ok(obj) => Ok((appid, obj)),
        Err(_) => Err(params_error()),
    }
}

/// App check plus a usable `Bearer at` → session id.
fn authed(sim: &Sim, headers: &HeaderMap, region: Region) -> Result<(String, u64), Response> {
    let (appid, _) = app(sim, headers)?;
    let at = bearer(headers).unwrap_or("");
    if at.is_empty() {
        return Err(fail(401, "token is invalid"));
    }
    let now = sim.now();
    match sim.lock().check_at(at, &appid, region, now) {
        Ok(id) => Ok((appid, id)),
        Err(r) => Err(refused(r, "token")),
    }
}

/// `POST /{region}/v2/user/login` `{countryCode, email|phoneNumber, password, lang?}`.
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
    sim.shared.stats.hit("coolkit.v2.login");
    let (appid, obj) = match signed_body(&sim, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let country = obj.get("countryCode").and_then(Value::as_str);
    let password = obj.get("password").and_then(Value::as_str);
    let who = obj
        .get("phoneNumber")
        .and_then(Value::as_str)
        .or_else(|| obj.get("email").and_then(Value::as_str));
    let lang_ok = obj.get("lang").is_none_or(Value::is_string);
    let (Some(country), Some(password), Some(who), true) = (country, password, who, lang_ok) else {
        return params_error();
    };
    if country.is_empty() || who.is_empty() {
        return params_error();
    }

    let now = sim.now();
    let mut g = sim.lock();
    let Some(u) = g.user_index(who) else {
        return fail(10003, "user does not exist");
    };
    let home = g.users[u].region;
    if home != region {
        return reply(10004, "redirection", json!({ "region": home.as_str() }));
    }
    if g.users[u].password != password {
        return fail(10001, "wrong password");
    }
    let id = g.login(u, &appid, region, now);
    let s = &g.sessions[&id];
    ok(json!({
        "user": g.user_json(u, &appid, Api::V2),
        "at": s.at,
        "rt": s.rt,
        "region": region.as_str(),
    }))
}

/// `POST /{region}/v2/user/refresh` `{"rt"}`, `Sign`. Data `{at, rt}`.
pub(super) async fn refresh(
    State(sim): St,
    Path(region): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let region = match region_of(&region) {
        Ok(r) => r,
        Err(r) => return r,
    };
    sim.shared.stats.hit("coolkit.v2.refresh");
    let (appid, obj) = match signed_body(&sim, &headers, &body) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(rt) = obj
        .get("rt")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return params_error();
    };
    let now = sim.now();
    let mut g = sim.lock();
    match g.check_rt(rt, &appid, region, now) {
        Err(r) => refused(r, "refresh token"),
        Ok((id, which)) => {
            let rotate = g.config.rotate_rt;
            g.refresh(id, which, rotate, now);
            let s = &g.sessions[&id];
            ok(json!({ "at": s.at, "rt": s.rt }))
        }
    }
}

/// `GET /{region}/v2/user/profile`, `Bearer at`. Data `{user, region}`.
pub(super) async fn profile(
    State(sim): St,
    Path(region): Path<String>,
    headers: HeaderMap,
) -> Response {
    let region = match region_of(&region) {
        Ok(r) => r,
        Err(r) => return r,
    };
    sim.shared.stats.hit("coolkit.v2.profile");
    let (appid, id) = match authed(&sim, &headers, region) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let g = sim.lock();
    let Some(s) = g.sessions.get(&id) else {
        return fail(401, "token is invalid");
    };
    ok(json!({ "user": g.user_json(s.user, &appid, Api::V2), "region": region.as_str() }))
}

/// `DELETE /{region}/v2/user/logout`, `Bearer at`: the session's `at` and `rt` stop working.
pub(super) async fn logout(
    State(sim): St,
    Path(region): Path<String>,
    headers: HeaderMap,
) -> Response {
    let region = match region_of(&region) {
        Ok(r) => r,
        Err(r) => return r,
    };
    sim.shared.stats.hit("coolkit.v2.logout");
    let (_, id) = match authed(&sim, &headers, region) {
        Ok(x) => x,
        Err(r) => return r,
    };
    sim.lock().drop_session(id);
    ok(json!({}))
}

/// `GET /{region}/v2/utils/get-region?countryCode=…`, `Sign` over the sorted query.
pub(super) async fn get_region(
    state: St,
    Path(region): Path<String>,
    q: RawQuery,
    headers: HeaderMap,
) -> Response {
    if let Err(r) = region_of(&region) {
        return r;
    }
    get_region_global(state, q, headers).await
}

/// `GET /v2/utils/get-region?countryCode=…` on the global host. `+86` and `86` both work.
pub(super) async fn get_region_global(
    State(sim): St,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    sim.shared.stats.hit("coolkit.v2.get-region");
    let (_, secret) = match app(&sim, &headers) {
        Ok(x) => x,
        Err(r) => return r,
    };
    let q = q.unwrap_or_default();
    if !sign_header(&headers).is_some_and(|sig| verify_query(&secret, &q, sig)) {
        return fail(400, "sign verification failed");
    }
    let p = query_map(&q);
    let Some(cc) = p.get("countryCode").filter(|c| !c.trim().is_empty()) else {
        return params_error();
    };
    ok(json!({ "region": Region::for_country_code(cc).as_str() }))
}
