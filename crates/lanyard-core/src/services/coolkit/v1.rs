//! CoolKit API v1, "version 8" (docs/services/coolkit.md). Legacy: CoolKit has
//! stopped maintaining it, but accounts configured for it must keep working.
//!
//! Every call carries `appid`, `nonce`, `ts`, `version` (body for POST, query for GET).
//! Errors come as `{"error": <int>, "msg"|"info": …}`, usually with HTTP 200; a success has
//! no `error` key, so success is "`at` present".

use chrono::Utc;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::Serialize;

use super::{
    Answer, Api, Config, LoginId, bearer, common_error, new_session, next_region, outcome,
    refresh_token, refreshed_session, sensitive, sign, token_field, unexpected, user_facts,
};
use crate::error::{Error, Result};
use crate::model::{NeedsLoginReason, Session};
use crate::secret::SecretString;
use crate::services::{Ctx, LoginOutcome, Validation};

const VERSION: u8 = 8;

/// Fields in alphabetical order, as in the documentation's examples (any order works as long
/// as the signed bytes are the sent bytes).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoginBody<'a> {
    appid: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    nonce: &'a str,
    password: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<&'a str>,
    ts: i64,
    version: u8,
}

fn login_body(
    appid: &str,
    id: &LoginId,
    password: &SecretString,
    nonce: &str,
    ts: i64,
) -> Result<Vec<u8>> {
    let (email, phone_number) = match id {
        LoginId::Email(e) => (Some(e.as_str()), None),
        LoginId::Phone(p) => (None, Some(p.as_str())),
    };
    let body = LoginBody {
        appid,
        email,
        nonce,
        password: password.expose(),
        phone_number,
        ts,
        version: VERSION,
    };
    serde_json::to_vec(&body).map_err(|_| Error::internal("cannot encode the CoolKit login body"))
}

pub(super) async fn login(
    ctx: &Ctx<'_>,
    cfg: &Config<'_>,
    password: &SecretString,
) -> Result<LoginOutcome> {
    let id = cfg.login_id(&ctx.account.user)?;
    let mut region = cfg.region.clone();
    let mut hops = 0;
    loop {
        // Fresh nonce and ts on every hop, so every attempt is signed anew.
        let body = login_body(
            &cfg.appid,
            &id,
            password,
            &sign::nonce(),
            Utc::now().timestamp(),
        )?;
        let authorization = sensitive(&sign::sign_header(cfg.secret, &body))?;
        let rb = cfg
            .http
            .post(cfg.url(&region, "/api/user/login")?)
            .header(AUTHORIZATION, authorization)
            .header(CONTENT_TYPE, "application/json")
            .body(body);
        let answer = Answer::from_response(&cfg.http.execute(rb).await?)?;
        if answer.code == 0 {
            let at = token_field(&answer.json, "at", "login")?;
            let rt = token_field(&answer.json, "rt", "login")?;
            return Ok(outcome(new_session(
                ctx.now,
                Api::V1,
                &region,
                at,
                rt,
                &answer.json["user"],
            )));
        }
        if answer.code == 301 {
            region = next_region(&answer, &region, hops)?;
            hops += 1;
            continue;
        }
        return Err(login_error(answer.code, &answer));
    }
}

fn login_error(code: i64, answer: &Answer) -> Error {
    if let Some(e) = common_error(code, answer) {
        return e;
    }
    let err = match code {
        401 => Error::credentials_rejected("CoolKit rejected the account or password"),
        404 => {
            Error::credentials_rejected("CoolKit has no account with this email or phone number")
        }
        402 => Error::credentials_rejected(
            "CoolKit says the account's email address is not activated yet",
        ),
        _ => return unexpected(code, answer, "the login"),
    };
    err.with_server_message(answer.text())
}

/// `appid`, `nonce`, `ts`, `version` plus `extra`, as the sorted raw query (also the signed
/// string).
fn signed_query(cfg: &Config<'_>, extra: &[(&str, &str)]) -> String {
    let nonce = sign::nonce();
    let ts = Utc::now().timestamp().to_string();
    let version = VERSION.to_string();
    let mut params = vec![
        ("appid", cfg.appid.as_str()),
        ("nonce", nonce.as_str()),
        ("ts", ts.as_str()),
        ("version", version.as_str()),
    ];
    params.extend_from_slice(extra);
    sign::sorted_query(&params)
}

pub(super) async fn refresh(
    ctx: &Ctx<'_>,
    cfg: &Config<'_>,
    session: &Session,
) -> Result<LoginOutcome> {
    let rt = refresh_token(session)?;
    let query = signed_query(cfg, &[("grantType", "refresh"), ("rt", rt.expose())]);
    let authorization = sensitive(&sign::sign_header(cfg.secret, query.as_bytes()))?;
    // The query holds the rt: it goes only into the URL, never into a message.
    let rb = cfg
        .http
        .get(cfg.url(&cfg.region, &format!("/api/user/refresh?{query}"))?)
        .header(AUTHORIZATION, authorization)
        .header(CONTENT_TYPE, "application/json");
    let answer = Answer::from_response(&cfg.http.execute(rb).await?)?;
    if answer.code == 0 {
        let at = token_field(&answer.json, "at", "refresh")?;
        let rt = answer.json["rt"]
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(SecretString::new);
        let mut session = refreshed_session(ctx.now, session, at, rt);
        super::user_facts(&mut session.info, &answer.json["user"]);
        return Ok(outcome(session));
    }
    Err(refresh_error(answer.code, &answer))
}

fn refresh_error(code: i64, answer: &Answer) -> Error {
    if let Some(e) = common_error(code, answer) {
        return e;
    }
    match code {
        402 => Error::needs_login("the CoolKit refresh token expired; log in again")
            .with_server_message(answer.text()),
        401 => {
            Error::needs_login("CoolKit no longer accepts the refresh token (401); log in again")
                .with_server_message(answer.text())
        }
        _ => unexpected(code, answer, "the refresh"),
    }
}

/// v1 has no user-info call; the documented device list is the cheapest Bearer call.
pub(super) async fn validate(cfg: &Config<'_>, session: &Session) -> Result<Validation> {
    let query = signed_query(cfg, &[("lang", "en")]);
    let rb = cfg
        .http
        .get(cfg.url(&cfg.region, &format!("/api/user/device?{query}"))?)
        .header(AUTHORIZATION, bearer(session)?);
    let answer = Answer::from_response(&cfg.http.execute(rb).await?)?;
    match answer.code {
        0 => {
            let mut info = session.info.clone();
            user_facts(&mut info, &answer.json["user"]);
            Ok(Validation::Valid(Some(info)))
        }
        401 => Ok(Validation::Invalid(NeedsLoginReason::Revoked)),
        402 => Ok(Validation::Invalid(NeedsLoginReason::Expired)),
        // Seen with an empty token: {"error":406,"msg":"{\"error\":401,…accessToken is empty\"}"}.
        406 if answer.text().contains("401") => Ok(Validation::Invalid(NeedsLoginReason::Revoked)),
        code => Err(common_error(code, &answer)
            .unwrap_or_else(|| unexpected(code, &answer, "the token check"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_body_has_the_common_parameters_in_order() {
        let body = login_body(
            "app",
            &LoginId::Email("a@b.c".into()),
            &"pw".into(),
            "abcd1234",
            1558004249,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"appid":"app","email":"a@b.c","nonce":"abcd1234","password":"pw","ts":1558004249,"version":8}"#
        );
        let body = login_body(
            "app",
            &LoginId::Phone("+8613123456789".into()),
            &"pw".into(),
            "abcd1234",
            1,
        )
        .unwrap();
        assert!(
            String::from_utf8(body)
                .unwrap()
                .contains(r#""phoneNumber":"+8613123456789""#)
        );
    }

    #[test]
    fn doc_login_vector_signs_like_the_node_demo() {
        // The v1 docs' first signature example: this body, built by our serialiser, must give
        // the documented signature.
        let body = login_body(
            "McFJj4Noke1mGDZCR1QarGW7P9Ycp0Vr",
            &LoginId::Phone("+8613123456789".into()),
            &"12345678".into(),
            "asbsedwq",
            1560306258,
        )
        .unwrap();
        let secret = SecretString::new("OdPuCZ4PkPPi0rVKRVcGmll2NM6vVk0c");
        assert_eq!(
            sign::sign(&secret, &body),
            "XuOzGxtG50CiF4H3odUfZsvKVl5+qSPzhfLEuUd4eJw="
        );
    }

    fn answer(json: serde_json::Value) -> Answer {
        Answer {
            code: json["error"].as_i64().unwrap_or(0),
            json,
        }
    }

    #[test]
    fn login_errors() {
        let e = login_error(
            401,
            &answer(serde_json::json!({"error":401,"info":"user is null in local"})),
        );
        assert_eq!(e.code, crate::ErrorCode::CredentialsRejected);
        assert_eq!(e.server_message.as_deref(), Some("user is null in local"));
        assert_eq!(
            login_error(404, &answer(serde_json::json!({"error":404}))).code,
            crate::ErrorCode::CredentialsRejected
        );
        let e = login_error(406, &answer(serde_json::json!({"error":406})));
        assert_eq!(e.code, crate::ErrorCode::InvalidInput);
        assert!(e.message.contains("appid/appsecret"));
    }

    #[test]
    fn refresh_errors() {
        assert_eq!(
            refresh_error(402, &answer(serde_json::json!({"error":402}))).code,
            crate::ErrorCode::NeedsLogin
        );
        assert_eq!(
            refresh_error(500, &answer(serde_json::json!({"error":500}))).code,
            crate::ErrorCode::ServerError
        );
    }
}
