//! The ShopXO simulator against hand-built requests, compared with the bytes a real ShopXO
//! v6.9.0 sent (docs/services/shopxo.md).

use chrono::{DateTime, FixedOffset};
use lanyard_sim::Running;
use reqwest::header::{CONTENT_TYPE, COOKIE, SET_COOKIE};
use serde_json::{Value, json};

use crate::support::{control_post, sim};

/// The query the official app client sends (minus the per-request parts).
const APP: &str = "application=app&application_client_type=h5";
const FORM: &str = "application/x-www-form-urlencoded";

// -------------------------------------------------------------------------------------------
// Helpers

struct Shop {
    _sim: Running,
    base: String,
    http: reqwest::Client,
}

struct Answer {
    content_type: String,
    cookies: Vec<String>,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("utf-8 body")
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.text()))
    }
    fn code(&self) -> i64 {
        self.json()["code"].as_i64().expect("code")
    }
    fn msg(&self) -> String {
        self.json()["msg"].as_str().expect("msg").to_owned()
    }
    fn token(&self) -> String {
        let j = self.json();
        assert_eq!(j["code"], 0, "{}", self.text());
        j["data"]["token"].as_str().expect("token").to_owned()
    }
    /// The value of a `Set-Cookie: name=value; …`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find_map(|c| {
            let (k, rest) = c.split_once('=')?;
            (k == name).then(|| rest.split(';').next().unwrap_or("").to_owned())
        })
    }
    fn cookie_names(&self) -> Vec<String> {
        self.cookies
            .iter()
            .filter_map(|c| c.split_once('=').map(|(k, _)| k.to_owned()))
            .collect()
    }
}

async fn shop() -> Shop {
    let sim = sim().await;
    let base = sim.endpoints().shopxo.clone();
    Shop {
        _sim: sim,
        base,
        http: reqwest::Client::new(),
    }
}

impl Shop {
    /// `{base}/api.php?s=<route>&<query>`
    fn api(&self, route: &str, query: &str) -> String {
        if query.is_empty() {
            format!("{}/api.php?s={route}", self.base)
        } else {
            format!("{}/api.php?s={route}&{query}", self.base)
        }
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Answer {
        let r = rb.send().await.expect("request");
        assert_eq!(r.status(), 200, "ShopXO always answers HTTP 200");
        let content_type = r
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let cookies = r
            .headers()
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        let body = r.bytes().await.expect("body").to_vec();
        Answer {
            content_type,
            cookies,
            body,
        }
    }

    /// `curl -X POST '<api>' -d '<form>'`
    async fn post_form(&self, route: &str, query: &str, form: &str) -> Answer {
        let rb = self.http.post(self.api(route, query));
        let rb = if form.is_empty() {
            rb
        } else {
            rb.header(CONTENT_TYPE, FORM).body(form.to_owned())
        };
        self.send(rb).await
    }

    async fn post_json(&self, route: &str, query: &str, body: Value) -> Answer {
        self.send(self.http.post(self.api(route, query)).json(&body))
            .await
    }

    async fn get(&self, route: &str, query: &str) -> Answer {
        self.send(self.http.get(self.api(route, query))).await
    }

    /// Password login as the app client (h5), with an optional captcha uuid/answer.
    async fn login(&self, pwd: &str, uuid_verify: Option<(&str, &str)>) -> Answer {
        let mut form = format!("accounts=alice01&pwd={pwd}&type=username");
        if let Some((uuid, verify)) = uuid_verify {
            form.push_str(&format!("&verify={verify}&uuid={uuid}"));
        }
        self.post_form("user/login", APP, &form).await
    }

    /// Fetches a login captcha for `uuid` and returns (the answer, the HTTP answer).
    async fn captcha(&self, uuid: &str) -> (String, Answer) {
        let img = self
            .get(
                "user/userverifyentry",
                &format!("type=user_login&uuid={uuid}&{APP}"),
            )
            .await;
        let answer = self.sim_captcha(uuid).await.expect("captcha stored");
        (answer, img)
    }

    async fn sim_captcha(&self, key: &str) -> Option<String> {
        let r = self
            .http
            .get(format!("{}/__sim/captcha?key={key}", self.base))
            .send()
            .await
            .unwrap();
        if r.status() == 404 {
            return None;
        }
        let j: Value = r.json().await.unwrap();
        Some(j["answer"].as_str().unwrap().to_owned())
    }

    async fn last_code(&self, user: &str) -> Option<String> {
        let r = self
            .http
            .get(format!("{}/__sim/last-code?user={user}", self.base))
            .send()
            .await
            .unwrap();
        if r.status() == 404 {
            return None;
        }
        let j: Value = r.json().await.unwrap();
        Some(j["code"].as_str().unwrap().to_owned())
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        control_post(&self.http, &format!("{}/__sim/{path}", self.base), body).await
    }

    async fn config(&self, body: Value) -> Value {
        self.control("config", body).await
    }

    async fn advance(&self, secs: i64) {
        self.control("clock", json!({ "advance_secs": secs })).await;
    }

    async fn personal(&self, token: &str) -> Answer {
        self.get("personal/index", &format!("{APP}&token={token}"))
            .await
    }

    async fn tokenuserinfo(&self, token: &str) -> Answer {
        self.get("user/tokenuserinfo", &format!("{APP}&token={token}"))
            .await
    }

    async fn send_code(&self, accounts: &str, ty: &str, extra: &str) -> Answer {
        self.post_form(
            "user/loginverifysend",
            APP,
            &format!("accounts={accounts}&type={ty}{extra}"),
        )
        .await
    }

    async fn code_login(&self, accounts: &str, ty: &str, code: &str) -> Answer {
        self.post_form(
            "user/login",
            APP,
            &format!("accounts={accounts}&type={ty}&verify={code}"),
        )
        .await
    }

    /// A "fresh install" with the login image captcha switched off, as in the observed
    /// transcripts 03–05 and 09.
    async fn without_captchas(&self) {
        self.config(json!({ "login_captcha": false, "common_captcha": false }))
            .await;
    }
}

fn assert_json_ct(a: &Answer) {
    assert_eq!(a.content_type, "application/json; charset=utf-8");
}

/// The cookies every JSON answer carries: `uuid`, then `PHPSESSID` with a 12 h lifetime.
fn assert_php_cookies(a: &Answer) {
    assert_eq!(
        a.cookies.first().map(|c| c.ends_with("; path=/")),
        Some(true)
    );
    assert_eq!(a.cookie_names().first().map(String::as_str), Some("uuid"));
    let sess = a.cookies.last().expect("PHPSESSID cookie");
    let (id, rest) = sess
        .strip_prefix("PHPSESSID=")
        .expect("PHPSESSID last")
        .split_once("; ")
        .unwrap();
    assert_eq!(id.len(), 32);
    assert!(rest.starts_with("expires="), "{sess}");
    assert!(rest.ends_with(" GMT; Max-Age=43200; path=/"), "{sess}");
}

fn shanghai(ts: i64) -> String {
    DateTime::from_timestamp(ts, 0)
        .unwrap()
        .with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The user object of the observed login answer (transcript 05, "JSON body instead of form
/// body"), adapted to this install: host, times, token, and the seeded mobile/email.
const OBSERVED_LOGIN_OK: &str = r#"{"msg":"登录成功","code":0,"data":{"id":1,"number_code":"88881836479381","status":0,"username":"alice01","nickname":"","mobile":"","email":"","gender":0,"avatar":"http:\/\/127.0.0.1:8080\/static\/common\/images\/default-user-avatar-md.png","province":"","city":"","county":"","birthday":"","address":"","integral":0,"locking_integral":0,"referrer":0,"is_delete_time":0,"is_logout_time":0,"add_time":1795287527,"upd_time":1795287543,"system_type":"default","platform":"h5","token":"1f831988d4887b4b3c856b416c4559ff","alipay_openid":"","weixin_openid":"","weixin_unionid":"","weixin_web_openid":"","baidu_openid":"","toutiao_openid":"","toutiao_unionid":"","qq_openid":"","qq_unionid":"","kuaishou_openid":"","add_time_text":"2026-11-22 02:58:47","upd_time_text":"2026-11-22 02:59:03","gender_text":"保密","mobile_security":"","email_security":"","address_info":"","user_name_view":"alice01","is_setup_pwd":1,"is_mandatory_bind_mobile":0}}"#;

/// Transcript 09, "Old h5 token TA after re-login": personal/index answers with the *current*
/// h5 row (token TB).
const OBSERVED_PERSONAL: &str = r#"{"msg":"success","code":0,"data":{"data":{"id":1,"number_code":"88881836479381","status":0,"username":"alice01","nickname":"","mobile":"","email":"","gender":0,"avatar":"http:\/\/127.0.0.1:8080\/static\/common\/images\/default-user-avatar-md.png","province":"","city":"","county":"","birthday":"","address":"","integral":0,"locking_integral":0,"referrer":0,"is_delete_time":0,"is_logout_time":0,"add_time":1795287527,"upd_time":1795287571,"system_type":"default","platform":"h5","token":"4792b27eb21457bf48b309eba7dbe493","alipay_openid":"","weixin_openid":"","weixin_unionid":"","weixin_web_openid":"","baidu_openid":"","toutiao_openid":"","toutiao_unionid":"","qq_openid":"","qq_unionid":"","kuaishou_openid":"","add_time_text":"2026-11-22 02:58:47","upd_time_text":"2026-11-22 02:59:31","gender_text":"保密","mobile_security":"","email_security":"","address_info":"","user_name_view":"alice01","is_setup_pwd":1},"gender_list":[{"id":0,"name":"保密","checked":true},{"id":1,"name":"女"},{"id":2,"name":"男"}]}}"#;

/// Rewrites an observed answer for this simulator's install.
fn adapt(observed: &str, base: &str, user: &Value, token: &str) -> String {
    let (old_add, old_upd, old_token) = {
        let j: Value = serde_json::from_str(observed).unwrap();
        let d = if j["data"]["data"].is_object() {
            &j["data"]["data"]
        } else {
            &j["data"]
        };
        (
            d["add_time"].as_i64().unwrap(),
            d["upd_time"].as_i64().unwrap(),
            d["token"].as_str().unwrap().to_owned(),
        )
    };
    let add = user["add_time"].as_i64().unwrap();
    let upd = user["upd_time"].as_i64().unwrap();
    observed
        .replace("http:\\/\\/127.0.0.1:8080", &base.replace('/', "\\/"))
        .replace(&old_token, token)
        .replace(
            &format!("\"add_time\":{old_add}"),
            &format!("\"add_time\":{add}"),
        )
        .replace(
            &format!("\"upd_time\":{old_upd}"),
            &format!("\"upd_time\":{upd}"),
        )
        .replace(&shanghai(old_add), &shanghai(add))
        .replace(&shanghai(old_upd), &shanghai(upd))
        .replace("\"mobile\":\"\"", "\"mobile\":\"13800000001\"")
        .replace("\"email\":\"\"", "\"email\":\"alice01@example.com\"")
        .replace(
            "\"mobile_security\":\"\"",
            "\"mobile_security\":\"138***001\"",
        )
        .replace(
            "\"email_security\":\"\"",
            "\"email_security\":\"ali***com\"",
        )
}

const GUARD_400: &str = r#"{"msg":"\u767b\u5f55\u5931\u6548\uff0c\u8bf7\u91cd\u65b0\u767b\u5f55","code":-400,"data":""}"#;

// -------------------------------------------------------------------------------------------
// Observed answers, byte for byte

#[tokio::test]
async fn wrong_password_answers_exactly_like_the_real_server() {
    let s = shop().await;
    s.without_captchas().await;
    let a = s.login("wrongpass", None).await;
    assert_eq!(a.text(), r#"{"msg":"密码错误","code":-4,"data":""}"#);
    assert_json_ct(&a);
    assert_php_cookies(&a);
    assert_eq!(a.cookie_names(), ["uuid", "PHPSESSID"]);
}

#[tokio::test]
async fn unknown_account_is_checked_before_the_captcha() {
    let s = shop().await; // login captcha ON, no verify sent
    let a = s
        .post_form(
            "user/login",
            APP,
            "accounts=nobody99&pwd=secret123&type=username",
        )
        .await;
    assert_eq!(a.text(), r#"{"msg":"帐号不存在","code":-3,"data":""}"#);
    assert_json_ct(&a);
}

#[tokio::test]
async fn parameter_errors_answer_exactly_like_the_real_server() {
    let s = shop().await;
    s.without_captchas().await;
    let cases = [
        (
            "accounts=alice01&type=username",
            r#"{"msg":"登录密码格式6~18个字符之间","code":-1,"data":""}"#,
        ),
        (
            "accounts=alice01&pwd=abc&type=username",
            r#"{"msg":"登录密码格式6~18个字符之间","code":-1,"data":""}"#,
        ),
        (
            "pwd=secret123&type=username",
            r#"{"msg":"账号不能为空","code":-1,"data":""}"#,
        ),
        (
            "accounts=alice01&pwd=secret123",
            r#"{"msg":"登录类型有误","code":-1,"data":""}"#,
        ),
        (
            "accounts=alice01&pwd=secret123&type=foo",
            r#"{"msg":"登录类型有误","code":-1,"data":""}"#,
        ),
        ("", r#"{"msg":"登录类型有误","code":-1,"data":""}"#),
    ];
    for (form, want) in cases {
        let a = s.post_form("user/login", APP, form).await;
        assert_eq!(a.text(), want, "form {form:?}");
        assert_json_ct(&a);
    }
}

#[tokio::test]
async fn unknown_action_is_minus_1000() {
    let s = shop().await;
    let a = s.post_form("user/nosuchthing", APP, "").await;
    assert_eq!(
        a.text(),
        r#"{"msg":"非法访问(nosuchthing)","code":-1000,"data":""}"#
    );
    assert_json_ct(&a);
}

#[tokio::test]
async fn guard_answers_400_as_text_html_with_escaped_msg_and_no_cookies() {
    let s = shop().await;
    for q in [
        APP.to_owned(),
        format!("{APP}&token=deadbeefdeadbeefdeadbeefdeadbeef"),
    ] {
        let a = s.get("personal/index", &q).await;
        assert_eq!(a.text(), GUARD_400);
        assert_eq!(a.content_type, "text/html; charset=UTF-8");
        assert!(a.cookies.is_empty(), "{:?}", a.cookies);
    }
    // Other guarded controllers too.
    assert_eq!(s.get("cart/index", APP).await.text(), GUARD_400);
}

#[tokio::test]
async fn login_success_matches_the_observed_user_object() {
    let s = shop().await;
    s.without_captchas().await;
    let a = s
        .post_json(
            "user/login",
            APP,
            json!({"accounts":"alice01","pwd":"secret123","type":"username"}),
        )
        .await;
    assert_json_ct(&a);
    let token = a.token();
    assert_eq!(token.len(), 32);
    assert!(
        token
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    );
    let user = a.json()["data"].clone();
    assert_eq!(a.text(), adapt(OBSERVED_LOGIN_OK, &s.base, &user, &token));
}

#[tokio::test]
async fn login_fields_may_come_as_query_form_or_json() {
    let s = shop().await;
    s.without_captchas().await;
    let q = format!("{APP}&accounts=alice01&pwd=secret123&type=username");
    assert_eq!(s.get("user/login", &q).await.code(), 0);
    // accounts may be the mobile or the email too
    for acc in ["13800000001", "alice01@example.com"] {
        let form = format!("accounts={acc}&pwd=secret123&type=username");
        assert_eq!(s.post_form("user/login", APP, &form).await.code(), 0);
    }
    // controller and action names are case-insensitive
    let form = "accounts=alice01&pwd=secret123&type=username";
    assert_eq!(s.post_form("User/Login", APP, form).await.code(), 0);
}

#[tokio::test]
async fn without_application_app_login_is_web_mode_without_token() {
    let s = shop().await;
    s.without_captchas().await;
    let a = s
        .post_form(
            "user/login",
            "",
            "accounts=alice01&pwd=secret123&type=username",
        )
        .await;
    assert_eq!(
        a.text(),
        r#"{"msg":"登录成功","code":0,"data":{"body_html":"","user_id":1}}"#
    );
    assert_eq!(a.cookie_names(), ["uuid", "user_info", "PHPSESSID"]);
    assert!(
        a.cookie("user_info")
            .unwrap()
            .starts_with("%7B%22id%22%3A1%2C")
    );
}

#[tokio::test]
async fn application_app_in_a_json_body_does_not_count() {
    let s = shop().await;
    s.without_captchas().await;
    let a = s
        .post_json(
            "user/login",
            "",
            json!({"application":"app","application_client_type":"h5",
                   "accounts":"alice01","pwd":"secret123","type":"username"}),
        )
        .await;
    assert_eq!(
        a.text(),
        r#"{"msg":"登录成功","code":0,"data":{"body_html":"","user_id":1}}"#
    );
    // ...while a form body is part of PHP's $_REQUEST and does count.
    let a = s
        .post_form(
            "user/login",
            "",
            "application=app&application_client_type=h5&accounts=alice01&pwd=secret123&type=username",
        )
        .await;
    assert_eq!(a.token().len(), 32);
}

#[tokio::test]
async fn english_messages_with_lang_en() {
    let s = shop().await;
    s.without_captchas().await;
    let a = s
        .post_form(
            "user/login",
            &format!("{APP}&lang=en"),
            "accounts=alice01&pwd=wrongpass&type=username",
        )
        .await;
    assert_eq!(a.text(), r#"{"msg":"Password error","code":-4,"data":""}"#);
}

#[tokio::test]
async fn no_lockout_after_many_wrong_passwords() {
    let s = shop().await;
    s.without_captchas().await;
    for _ in 0..12 {
        assert_eq!(s.login("wrongpass", None).await.code(), -4);
    }
    assert_eq!(s.login("secret123", None).await.code(), 0);
}

// -------------------------------------------------------------------------------------------
// Image captcha (transcript 07)

#[tokio::test]
async fn captcha_is_a_100x28_gif_served_as_text_html() {
    let s = shop().await;
    let (answer, img) = s.captcha("aaaaaaaa-bbbb-cccc-dddd-000000000001").await;
    assert_eq!(img.content_type, "text/html; charset=utf-8");
    assert_eq!(&img.body[..6], b"GIF87a");
    assert_eq!(u16::from_le_bytes([img.body[6], img.body[7]]), 100);
    assert_eq!(u16::from_le_bytes([img.body[8], img.body[9]]), 28);
    assert_eq!(
        img.cookie("uuid").as_deref(),
        Some("aaaaaaaa-bbbb-cccc-dddd-000000000001")
    );
    assert_eq!(answer.len(), 4);
    assert!(answer.chars().all(|c| "23456789".contains(c)));
}

#[tokio::test]
async fn captcha_lifecycle_like_the_real_server() {
    let s = shop().await;
    let uuid = "aaaaaaaa-bbbb-cccc-dddd-000000000001";
    // no verify at all
    let a = s
        .post_form(
            "user/login",
            APP,
            &format!("accounts=alice01&pwd=secret123&type=username&uuid={uuid}"),
        )
        .await;
    assert_eq!(
        a.text(),
        r#"{"msg":"图片验证码不能为空","code":-10,"data":""}"#
    );
    // a verify, but no captcha was ever fetched for this uuid
    let a = s.login("secret123", Some((uuid, "1234"))).await;
    assert_eq!(a.text(), r#"{"msg":"验证码已过期","code":-11,"data":""}"#);
    assert_eq!(a.cookie("uuid").as_deref(), Some(uuid));

    let (answer, _) = s.captcha(uuid).await;
    let wrong = if answer == "2222" { "3333" } else { "2222" };
    // wrong code: -12, not consumed
    let a = s.login("secret123", Some((uuid, wrong))).await;
    assert_eq!(a.text(), r#"{"msg":"验证码错误","code":-12,"data":""}"#);
    // right code for another uuid: -11
    let a = s.login("secret123", Some(("zzzzzzzz-0000", &answer))).await;
    assert_eq!(a.text(), r#"{"msg":"验证码已过期","code":-11,"data":""}"#);
    assert_eq!(a.cookie("uuid").as_deref(), Some("zzzzzzzz-0000"));
    // right code, wrong password: -4, not consumed
    let a = s.login("wrongpass", Some((uuid, &answer))).await;
    assert_eq!(a.text(), r#"{"msg":"密码错误","code":-4,"data":""}"#);
    // right code, right password: success, and the captcha is gone
    assert_eq!(s.login("secret123", Some((uuid, &answer))).await.code(), 0);
    assert_eq!(s.sim_captcha(uuid).await, None);
    let a = s.login("secret123", Some((uuid, &answer))).await;
    assert_eq!(a.text(), r#"{"msg":"验证码已过期","code":-11,"data":""}"#);
}

#[tokio::test]
async fn captcha_expires_on_the_sim_clock() {
    let s = shop().await;
    let uuid = "aaaaaaaa-bbbb-cccc-dddd-000000000003";
    let (answer, _) = s.captcha(uuid).await;
    s.advance(590).await;
    // still valid after 590 s (default lifetime 600 s): a wrong password proves it was checked
    assert_eq!(s.login("wrongpass", Some((uuid, &answer))).await.code(), -4);
    s.advance(20).await;
    let a = s.login("secret123", Some((uuid, &answer))).await;
    assert_eq!(a.text(), r#"{"msg":"验证码已过期","code":-11,"data":""}"#);

    // a shorter lifetime from the config
    s.config(json!({ "verify_expire_secs": 3 })).await;
    let (answer, _) = s.captcha(uuid).await;
    s.advance(5).await;
    assert_eq!(
        s.login("secret123", Some((uuid, &answer))).await.code(),
        -11
    );
}

#[tokio::test]
async fn captcha_bound_to_the_php_session_cookie_not_the_uuid_cookie() {
    let s = shop().await;
    // fetch without a uuid param: the server mints one and keeps it in the session
    let img = s
        .get("user/userverifyentry", &format!("type=user_login&{APP}"))
        .await;
    let sessid = img.cookie("PHPSESSID").unwrap();
    let uuid = img.cookie("uuid").unwrap();
    let answer = s.sim_captcha(&uuid).await.unwrap();
    let form = format!("accounts=alice01&pwd=secret123&type=username&verify={answer}");

    // the uuid cookie alone does not work
    let a = s
        .send(
            s.http
                .post(s.api("user/login", APP))
                .header(COOKIE, format!("uuid={uuid}"))
                .header(CONTENT_TYPE, FORM)
                .body(form.clone()),
        )
        .await;
    assert_eq!(a.code(), -11);
    assert_ne!(a.cookie("uuid").unwrap(), uuid);

    // the PHPSESSID cookie does, and the server answers with the session's uuid
    let a = s
        .send(
            s.http
                .post(s.api("user/login", APP))
                .header(COOKIE, format!("PHPSESSID={sessid}"))
                .header(CONTENT_TYPE, FORM)
                .body(form),
        )
        .await;
    assert_eq!(a.code(), 0, "{}", a.text());
    assert_eq!(a.cookie("uuid").unwrap(), uuid);
    assert_eq!(a.cookie("PHPSESSID").unwrap(), sessid);
}

// -------------------------------------------------------------------------------------------
// SMS / email code login

#[tokio::test]
async fn sms_code_login_right_wrong_and_rate_limit() {
    let s = shop().await;
    s.without_captchas().await;
    let a = s.send_code("13800000001", "sms", "").await;
    assert_eq!(a.text(), r#"{"msg":"发送成功","code":0,"data":""}"#);
    let code = s.last_code("13800000001").await.expect("code sent");
    assert_eq!(code.len(), 4);
    assert!(code.chars().all(|c| ('1'..='9').contains(&c)));
    assert_eq!(s.last_code("alice01").await.as_deref(), Some(code.as_str()));

    // resend inside the interval
    let a = s.send_code("13800000001", "sms", "").await;
    assert_eq!(
        a.text(),
        r#"{"msg":"发送失败[操作频繁，请稍后再试！]","code":-100,"data":""}"#
    );

    let wrong = if code == "1111" { "2222" } else { "1111" };
    let a = s.code_login("13800000001", "sms", wrong).await;
    assert_eq!(a.text(), r#"{"msg":"验证码错误","code":-11,"data":""}"#);
    let t1 = s.code_login("13800000001", "sms", &code).await.token();
    // not deleted by a successful login
    let t2 = s.code_login("13800000001", "sms", &code).await.token();
    assert_ne!(t1, t2);

    // after the interval a new code may be sent
    s.advance(61).await;
    assert_eq!(s.send_code("13800000001", "sms", "").await.code(), 0);
    let code2 = s.last_code("13800000001").await.unwrap();
    // and it expires after verify_expire_secs
    s.advance(601).await;
    let a = s.code_login("13800000001", "sms", &code2).await;
    assert_eq!(a.text(), r#"{"msg":"验证码已过期","code":-10,"data":""}"#);
}

#[tokio::test]
async fn a_code_is_wiped_after_six_checks() {
    let s = shop().await;
    s.without_captchas().await;
    assert_eq!(
        s.send_code("alice01@example.com", "email", "").await.code(),
        0
    );
    let code = s.last_code("alice01@example.com").await.unwrap();
    let wrong = if code == "1111" { "2222" } else { "1111" };
    for _ in 0..6 {
        assert_eq!(
            s.code_login("alice01@example.com", "email", wrong)
                .await
                .code(),
            -11
        );
    }
    // the seventh check wipes it, even with the right code...
    assert_eq!(
        s.code_login("alice01@example.com", "email", &code)
            .await
            .code(),
        -11
    );
    // ...and from then on it is gone
    assert_eq!(
        s.code_login("alice01@example.com", "email", &code)
            .await
            .code(),
        -10
    );
}

#[tokio::test]
async fn send_code_checks() {
    let s = shop().await;
    // common captcha ON by default: checked first
    let a = s.send_code("13800000001", "sms", "").await;
    assert_eq!(
        a.text(),
        r#"{"msg":"图片验证码不能为空","code":-10,"data":""}"#
    );
    let uuid = "11111111-2222-3333-4444-555555555555";
    let (answer, _) = s.captcha(uuid).await;
    let a = s
        .send_code(
            "13800000001",
            "sms",
            &format!("&verify={answer}&uuid={uuid}"),
        )
        .await;
    assert_eq!(a.code(), 0, "{}", a.text());
    // the captcha was used up by the send
    assert_eq!(s.sim_captcha(uuid).await, None);

    s.without_captchas().await;
    let cases = [
        ("1380000", "sms", -2, "手机号码格式错误"),
        ("13900000009", "sms", -3, "手机号码不存在、请先注册！"),
        (
            "nobody@example.com",
            "email",
            -3,
            "电子邮箱不存在、请先注册！",
        ),
        ("alice01", "username", -2, "该类型不支持验证码发送"),
        ("", "sms", -1, "账号不能为空"),
        ("alice01", "qq", -1, "登录类型有误"),
    ];
    for (acc, ty, code, msg) in cases {
        let a = s.send_code(acc, ty, "").await;
        assert_eq!((a.code(), a.msg()), (code, msg.to_owned()), "{acc} {ty}");
    }
}

#[tokio::test]
async fn disabled_login_type() {
    let s = shop().await;
    s.config(json!({ "login_types": ["username"], "common_captcha": false }))
        .await;
    let a = s.send_code("13800000001", "sms", "").await;
    assert_eq!((a.code(), a.msg()), (-1, "暂时关闭登录".to_owned()));
}

// -------------------------------------------------------------------------------------------
// Tokens: DB vs cache

#[tokio::test]
async fn old_token_still_works_from_the_cache_but_not_in_the_db() {
    let s = shop().await;
    s.without_captchas().await;
    let ta = s.login("secret123", None).await.token();
    let tb = s.login("secret123", None).await.token();
    assert_ne!(ta, tb);

    // personal/index accepts the superseded token and shows the current h5 row (token TB)
    let a = s.personal(&ta).await;
    assert_json_ct(&a);
    assert_eq!(a.cookie_names(), ["uuid", "user_token_data", "PHPSESSID"]);
    let user = a.json()["data"]["data"].clone();
    assert_eq!(a.text(), adapt(OBSERVED_PERSONAL, &s.base, &user, &tb));
    assert_eq!(s.personal(&tb).await.text(), a.text());

    // tokenuserinfo looks in the DB only
    let a = s.tokenuserinfo(&ta).await;
    assert_eq!(a.text(), r#"{"msg":"用户信息不存在","code":-1,"data":""}"#);
    let a = s.tokenuserinfo(&tb).await;
    assert_eq!(a.json()["data"]["token"], tb.as_str());
    let a = s.tokenuserinfo("").await;
    assert_eq!(a.text(), r#"{"msg":"token不能为空","code":-1,"data":""}"#);

    // tokens never expire with time
    s.advance(400 * 86400).await;
    assert_eq!(s.personal(&ta).await.code(), 0);

    // revoke = cache cleared + token replaced: both die
    s.control("revoke", json!({ "user": "alice01" })).await;
    assert_eq!(s.personal(&ta).await.text(), GUARD_400);
    assert_eq!(s.personal(&tb).await.text(), GUARD_400);
    assert_eq!(s.tokenuserinfo(&tb).await.code(), -1);
    // a new login works again
    let tc = s.login("secret123", None).await.token();
    assert_eq!(s.personal(&tc).await.code(), 0);
}

#[tokio::test]
async fn expire_behaves_like_revoke() {
    let s = shop().await;
    s.without_captchas().await;
    let t = s.login("secret123", None).await.token();
    s.control("expire", json!({ "user": "13800000001" })).await;
    assert_eq!(s.personal(&t).await.text(), GUARD_400);
}

#[tokio::test]
async fn platforms_have_their_own_tokens() {
    let s = shop().await;
    s.without_captchas().await;
    let h5 = s.login("secret123", None).await.token();
    let ios_q = "application=app&application_client_type=ios";
    // an h5 token on an ios client before any ios login: the cached user, with user_id
    let a = s
        .get("personal/index", &format!("{ios_q}&token={h5}"))
        .await;
    let d = &a.json()["data"]["data"];
    assert_eq!(
        (d["platform"].as_str(), d["token"].as_str()),
        (Some("h5"), Some(h5.as_str()))
    );
    assert!(
        a.text()
            .contains(r#","user_id":1,"system_type":"default","platform":"h5""#)
    );

    let ios = s
        .post_form(
            "user/login",
            ios_q,
            "accounts=alice01&pwd=secret123&type=username",
        )
        .await
        .token();
    assert_ne!(h5, ios);
    assert_eq!(s.tokenuserinfo(&h5).await.code(), 0);
    let a = s
        .get("user/tokenuserinfo", &format!("{ios_q}&token={ios}"))
        .await;
    assert_eq!(a.json()["data"]["platform"], "ios");
}

#[tokio::test]
async fn user_center_is_not_guarded() {
    let s = shop().await;
    s.without_captchas().await;
    let a = s.get("user/center", APP).await;
    assert_eq!(a.code(), 0);
    assert!(a.text().starts_with(
        r#"{"msg":"success","code":0,"data":{"integral":0,"avatar":"","nickname":"","username":"","user_name_view":"","user_order_status":[{"name":"待确认","status":0,"count":0}"#
    ));
    assert!(
        a.text()
            .contains(r#"{"name":"退款\/售后","status":101,"count":0}"#)
    );
    let t = s.login("secret123", None).await.token();
    let a = s.get("user/center", &format!("{APP}&token={t}")).await;
    assert_eq!(a.json()["data"]["username"], "alice01");
}

// -------------------------------------------------------------------------------------------
// Config, register, password, stats

#[tokio::test]
async fn base_common_reflects_the_config() {
    let s = shop().await;
    let cfg = |a: &Answer| a.json()["data"]["config"].clone();
    let c = cfg(&s.get("base/common", APP).await);
    assert_eq!(c["home_user_login_img_verify_state"], 1);
    assert_eq!(c["common_img_verify_state"], 1);
    assert_eq!(
        c["home_user_login_type"],
        json!(["username", "email", "sms"])
    );
    assert_eq!(c["common_verify_expire_time"], 600);
    assert_eq!(c["common_verify_interval_time"], 60);

    let full = s
        .config(json!({
            "login_captcha": false, "common_captcha": false, "login_types": ["username","sms"],
            "verify_interval_secs": 30, "verify_expire_secs": 120
        }))
        .await;
    assert_eq!(full["login_captcha"], false);
    assert_eq!(full["verify_expire_secs"], 120);
    let c = cfg(&s.get("base/common", APP).await);
    assert_eq!(c["home_user_login_img_verify_state"], 0);
    assert_eq!(c["common_img_verify_state"], 0);
    assert_eq!(c["home_user_login_type"], json!(["username", "sms"]));
    assert_eq!(c["common_verify_expire_time"], 120);
    assert_eq!(c["common_verify_interval_time"], 30);
}

#[tokio::test]
async fn register_like_the_real_server() {
    let s = shop().await;
    let a = s
        .post_form(
            "user/reg",
            APP,
            "accounts=alice01&pwd=secret123&type=username",
        )
        .await;
    assert_eq!(
        a.text(),
        r#"{"msg":"用户已存在[alice01]","code":-3,"data":""}"#
    );
    let a = s
        .post_form(
            "user/reg",
            APP,
            "accounts=bob01&pwd=secret123&type=username",
        )
        .await;
    assert_eq!(
        a.text(),
        r#"{"msg":"图片验证码不能为空","code":-10,"data":""}"#
    );

    let uuid = "11111111-2222-3333-4444-555555555555";
    s.get(
        "user/userverifyentry",
        &format!("type=user_reg&uuid={uuid}&{APP}"),
    )
    .await;
    let answer = s
        .sim_captcha(&format!("{uuid}&type=user_reg"))
        .await
        .unwrap();
    let form = format!("accounts=bob01&pwd=hunter22&type=username&uuid={uuid}");
    let a = s
        .post_form("user/reg", APP, &format!("{form}&verify=0000"))
        .await;
    assert_eq!(a.text(), r#"{"msg":"验证码错误","code":-12,"data":""}"#);
    let a = s
        .post_form("user/reg", APP, &format!("{form}&verify={answer}"))
        .await;
    assert_eq!(a.msg(), "注册成功");
    let d = a.json()["data"].clone();
    assert_eq!(
        (d["id"].as_i64(), d["username"].as_str()),
        (Some(2), Some("bob01"))
    );
    assert!(
        a.text()
            .ends_with(r#","is_setup_pwd":1,"is_mandatory_bind_mobile":0}}"#)
    );
    let t = a.token();
    assert_eq!(
        s.personal(&t).await.json()["data"]["data"]["username"],
        "bob01"
    );
}

#[tokio::test]
async fn password_change_through_control() {
    let s = shop().await;
    s.without_captchas().await;
    let t = s.login("secret123", None).await.token();
    s.control(
        "password",
        json!({ "user": "alice01", "password": "newpass99" }),
    )
    .await;
    assert_eq!(s.login("secret123", None).await.code(), -4);
    assert_eq!(s.login("newpass99", None).await.code(), 0);
    // ShopXO keeps tokens across password changes
    assert_eq!(s.personal(&t).await.code(), 0);
}

#[tokio::test]
async fn stats_count_routes() {
    let s = shop().await;
    s.without_captchas().await;
    s.login("secret123", None).await;
    s.login("wrongpass", None).await;
    s.get("personal/index", APP).await;
    let st: Value = s
        .http
        .get(format!("{}/__sim/stats", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(st["requests"]["shopxo.user.login"], 2);
    assert_eq!(st["requests"]["shopxo.personal.index"], 1);
}
