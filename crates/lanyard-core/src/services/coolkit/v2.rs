//! CoolKit API v2 (docs/services/coolkit.md): `X-CK-Appid`, `Sign` before login, `Bearer`
//! after; the envelope is always `{"error", "msg", "data"}`.

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use serde::Serialize;
use url::Url;

use super::{
    Answer, Api, Config, LoginId, bearer, common_error, new_session, next_region, outcome,
    refresh_token, refreshed_session, sensitive, sign, token_field, unexpected, user_facts,
};
use crate::error::{Error, Result};
use crate::model::{NeedsLoginReason, Session};
use crate::secret::SecretString;
use crate::services::{Ctx, LoginOutcome, Validation};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoginBody<'a> {
    country_code: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<&'a str>,
    password: &'a str,
}

fn login_body(cfg: &Config<'_>, id: &LoginId, password: &SecretString) -> Result<Vec<u8>> {
    let (email, phone_number) = match id {
        LoginId::Email(e) => (Some(e.as_str()), None),
        LoginId::Phone(p) => (None, Some(p.as_str())),
    };
    let body = LoginBody {
        country_code: &cfg.country_code,
        email,
        phone_number,
        password: password.expose(),
    };
    serde_json::to_vec(&body).map_err(|_| Error::internal("cannot encode the CoolKit login body"))
}

/// POST `body` signed: the bytes signed are the bytes sent.
async fn post_signed(cfg: &Config<'_>, url: Url, body: Vec<u8>) -> Result<Answer> {
    let authorization = sensitive(&sign::sign_header(cfg.secret, &body))?;
    let rb = cfg
        .http
        .post(url)
        .header("X-CK-Appid", cfg.appid.as_str())
        .header("X-CK-Nonce", sign::nonce())
        .header(AUTHORIZATION, authorization)
        .header(CONTENT_TYPE, "application/json")
        .body(body);
    Answer::from_response(&cfg.http.execute(rb).await?)
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
        // Re-signed on every hop (fresh nonce header); the host changes with the region.
        let body = login_body(cfg, &id, password)?;
        let answer = post_signed(cfg, cfg.url(&region, "/v2/user/login")?, body).await?;
        match answer.code {
            0 => {
                let data = &answer.json["data"];
                let at = token_field(data, "at", "login")?;
                let rt = token_field(data, "rt", "login")?;
                // The tokens belong to the host that issued them: remember that region.
                return Ok(outcome(new_session(
                    ctx.now,
                    Api::V2,
                    &region,
                    at,
                    rt,
                    &data["user"],
                )));
            }
            10004 => {
                region = next_region(&answer, &region, hops)?;
                hops += 1;
            }
            code => return Err(login_error(code, &answer)),
        }
    }
}

fn login_error(code: i64, answer: &Answer) -> Error {
    if let Some(e) = common_error(code, answer) {
        return e;
    }
    let err = match code {
        // 10014 is handled like 10001 by homebridge-ewelink.
        10001 | 10014 => Error::credentials_rejected("CoolKit rejected the password"),
        10003 => {
            Error::credentials_rejected("CoolKit has no account with this email or phone number")
        }
        10005 => Error::server("CoolKit could not find which region the account lives in"),
        _ => return unexpected(code, answer, "the login"),
    };
    err.with_server_message(answer.text())
}

pub(super) async fn refresh(
    ctx: &Ctx<'_>,
    cfg: &Config<'_>,
    session: &Session,
) -> Result<LoginOutcome> {
    let rt = refresh_token(session)?;
    let body = serde_json::to_vec(&serde_json::json!({ "rt": rt.expose() }))
        .map_err(|_| Error::internal("cannot encode the CoolKit refresh body"))?;
    let answer = post_signed(cfg, cfg.url(&cfg.region, "/v2/user/refresh")?, body).await?;
    match answer.code {
        0 => {
            let data = &answer.json["data"];
            let at = token_field(data, "at", "refresh")?;
            let rt = data["rt"]
                .as_str()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(SecretString::new);
            Ok(outcome(refreshed_session(ctx.now, session, at, rt)))
        }
        code => Err(refresh_error(code, &answer)),
    }
}

fn refresh_error(code: i64, answer: &Answer) -> Error {
    if let Some(e) = common_error(code, answer) {
        return e;
    }
    match code {
        401 | 402 => Error::needs_login(format!(
            "CoolKit no longer accepts the refresh token ({code}); log in again"
        ))
        .with_server_message(answer.text()),
        _ => unexpected(code, answer, "the refresh"),
    }
}

pub(super) async fn validate(cfg: &Config<'_>, session: &Session) -> Result<Validation> {
    let rb = cfg
        .http
        .get(cfg.url(&cfg.region, "/v2/user/profile")?)
        .header("X-CK-Appid", cfg.appid.as_str())
        .header(AUTHORIZATION, bearer(session)?);
    let answer = Answer::from_response(&cfg.http.execute(rb).await?)?;
    match answer.code {
        0 => {
            let mut info = session.info.clone();
            user_facts(&mut info, &answer.json["data"]["user"]);
            Ok(Validation::Valid(Some(info)))
        }
        // "at invalid (e.g. logged in elsewhere)": the server cannot say why.
        401 => Ok(Validation::Invalid(NeedsLoginReason::Revoked)),
        // at expired: the rt may still renew it.
        402 => Ok(Validation::Invalid(NeedsLoginReason::Expired)),
        code => Err(common_error(code, &answer)
            .unwrap_or_else(|| unexpected(code, &answer, "the token check"))),
    }
}

pub(super) async fn logout(cfg: &Config<'_>, session: &Session) -> Result<()> {
    if session.tokens.access.is_empty() {
        return Ok(());
    }
    let rb = cfg
        .http
        .client()
        .delete(cfg.url(&cfg.region, "/v2/user/logout")?)
        .header("X-CK-Appid", cfg.appid.as_str())
        .header(AUTHORIZATION, bearer(session)?);
    let answer = Answer::from_response(&cfg.http.execute(rb).await?)?;
    match answer.code {
        // A token the server no longer accepts is as logged out as it gets.
        0 | 401 | 402 => Ok(()),
        code => {
            Err(common_error(code, &answer)
                .unwrap_or_else(|| unexpected(code, &answer, "the logout")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(secret: &SecretString) -> Config<'_> {
        Config {
            http: crate::http::Http::new(crate::http::HttpConfig::default()).unwrap(),
            api: Api::V2,
            appid: "app".into(),
            secret,
            region: "us".into(),
            template: String::new(),
            country_code: "+1".into(),
        }
    }

    #[test]
    fn login_body_is_email_or_phone_with_country_code() {
        let secret = SecretString::new("s");
        let c = cfg(&secret);
        let body = login_body(&c, &LoginId::Email("a@b.c".into()), &"pw".into()).unwrap();
        assert_eq!(
            body,
            br#"{"countryCode":"+1","email":"a@b.c","password":"pw"}"#
        );
        let body = login_body(&c, &LoginId::Phone("+8613800000001".into()), &"pw".into()).unwrap();
        assert_eq!(
            body,
            br#"{"countryCode":"+1","phoneNumber":"+8613800000001","password":"pw"}"#
        );
    }

    fn answer(json: serde_json::Value) -> Answer {
        Answer {
            code: json["error"].as_i64().unwrap_or(0),
            json,
        }
    }

    #[test]
    fn login_errors_keep_the_server_words() {
        let e = login_error(
            10001,
            &answer(serde_json::json!({"error":10001,"msg":"wrong account or password"})),
        );
        assert_eq!(e.code, crate::ErrorCode::CredentialsRejected);
        assert_eq!(
            e.server_message.as_deref(),
            Some("wrong account or password")
        );
        let e = login_error(
            10003,
            &answer(serde_json::json!({"error":10003,"msg":"user does not exist"})),
        );
        assert_eq!(e.code, crate::ErrorCode::CredentialsRejected);
        let e = login_error(
            407,
            &answer(serde_json::json!({"error":407,"msg":"path request not allowed for appid:x"})),
        );
        assert_eq!(e.code, crate::ErrorCode::InvalidInput);
        let e = login_error(12345, &answer(serde_json::json!({"error":12345})));
        assert_eq!(e.code, crate::ErrorCode::ServerError);
    }

    #[test]
    fn refresh_rejections_need_a_login() {
        let e = refresh_error(
            401,
            &answer(serde_json::json!({"error":401,"msg":"token is invalid"})),
        );
        assert_eq!(e.code, crate::ErrorCode::NeedsLogin);
        let e = refresh_error(406, &answer(serde_json::json!({"error":406})));
        assert_eq!(e.code, crate::ErrorCode::InvalidInput);
    }
}
