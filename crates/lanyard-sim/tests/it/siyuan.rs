//! SiYuan simulator (kernel + cloud captcha host), driven with hand-built requests
//! (docs/services/siyuan.md).

use lanyard_sim::Running;
use serde_json::{Value, json};

use crate::support::{client, control_post, md5, sim};

const API_TOKEN: &str = "lanyarddemotoken";
const ALICE_ID: &str = "1650000000001";
const BOB_ID: &str = "1650000000002";
const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

struct Sy {
    sim: Running,
    http: reqwest::Client,
}

async fn siyuan() -> Sy {
    let sim = sim().await;
    let http = client();
    Sy { sim, http }
}

impl Sy {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.endpoints().siyuan)
    }

    /// POST raw `body` to the kernel with an optional `Authorization` header value.
    async fn post_raw(
        &self,
        path: &str,
        body: &str,
        authorization: Option<&str>,
    ) -> reqwest::Response {
        let mut rb = self
            .http
            .post(self.url(path))
            .header("Content-Type", "application/json");
        if let Some(a) = authorization {
            rb = rb.header("Authorization", a);
        }
        rb.body(body.to_owned()).send().await.unwrap()
    }

    /// A kernel call with `Authorization: Token <api token>`; HTTP 200 and JSON expected.
    async fn api(&self, path: &str, body: Value) -> Value {
        let r = self
            .post_raw(path, &body.to_string(), Some(&format!("Token {API_TOKEN}")))
            .await;
        assert_eq!(r.status(), 200, "{path}");
        r.json().await.expect("JSON reply")
    }

    async fn login(&self, user: &str, password: &str, captcha: &str) -> Value {
        let body = json!({
            "userName": user, "userPassword": md5(password), "captcha": captcha, "cloudRegion": 0,
        });
        self.api("/api/account/login", body).await
    }

    /// Logs in a user without 2FA and returns the cloud token.
    async fn cloud_token(&self, user: &str, password: &str) -> String {
        let r = self.login(user, password, "").await;
        assert_eq!(r["code"], 0, "{r}");
        r["data"]["token"].as_str().unwrap().to_owned()
    }

    async fn get_cloud_user(&self, body: Value) -> Value {
        let r = self.api("/api/setting/getCloudUser", body).await;
        assert_eq!(r["code"], 0, "getCloudUser always answers code 0: {r}");
        r["data"].clone()
    }

    async fn login_2fa(&self, token: &str, code: &str) -> Value {
        self.api(
            "/api/setting/login2faCloudUser",
            json!({ "token": token, "code": code }),
        )
        .await
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        control_post(&self.http, &self.url(path), body).await
    }

    async fn control_get(&self, path: &str) -> (u16, Value) {
        let r = self.http.get(self.url(path)).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    async fn captcha_answer(&self, key: &str) -> String {
        let (status, v) = self.control_get(&format!("/__sim/captcha?key={key}")).await;
        assert_eq!(status, 200, "{v}");
        v["answer"].as_str().unwrap().to_owned()
    }

    async fn sim_unix(&self) -> i64 {
        self.control_get("/__sim/clock").await.1["unix"]
            .as_i64()
            .unwrap()
    }

    async fn advance_clock(&self, secs: i64) {
        self.control("/__sim/clock", json!({ "advance_secs": secs }))
            .await;
    }
}

// ============================== kernel auth ==============================

#[tokio::test]
async fn kernel_api_token_is_checked_when_sent() {
    let sy = siyuan().await;
    let r = sy
        .post_raw("/api/system/version", "{}", Some("Token wrongtoken"))
        .await;
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap(),
        json!({"code": -1, "msg": "Auth failed [header: Authorization]"})
    );

    for prefix in ["Token", "token", "Bearer", "bearer"] {
        let r = sy
            .post_raw(
                "/api/system/version",
                "{}",
                Some(&format!("{prefix} {API_TOKEN}")),
            )
            .await;
        assert_eq!(r.status(), 200, "{prefix}");
    }
    // A value without a known prefix is ignored; nothing at all is fine on loopback.
    assert_eq!(
        sy.post_raw("/api/system/version", "{}", Some(API_TOKEN))
            .await
            .status(),
        200
    );
    assert_eq!(
        sy.post_raw("/api/system/version", "{}", None)
            .await
            .status(),
        200
    );

    let r = sy
        .http
        .post(sy.url("/api/system/version?token=nope"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        r.json::<Value>().await.unwrap()["msg"],
        "Auth failed [query: token]"
    );
    let r = sy
        .http
        .post(sy.url(&format!("/api/system/version?token={API_TOKEN}")))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // The wrong token is refused on the login route too, and a new token takes over.
    let r = sy
        .post_raw("/api/account/login", "{}", Some("Token wrongtoken"))
        .await;
    assert_eq!(r.status(), 401);
    sy.control("/__sim/config", json!({"api_token": "another"}))
        .await;
    assert_eq!(
        sy.post_raw(
            "/api/system/version",
            "{}",
            Some(&format!("Token {API_TOKEN}"))
        )
        .await
        .status(),
        401
    );
    assert_eq!(
        sy.post_raw("/api/system/version", "{}", Some("Token another"))
            .await
            .status(),
        200
    );
}

// ============================== login ==============================

#[tokio::test]
async fn login_checks_the_md5_of_the_password() {
    let sy = siyuan().await;
    let r = sy.login("alice", "secret123", "").await;
    assert_eq!(r["code"], 0);
    assert_eq!(r["msg"], "");
    assert_eq!(r["data"]["userName"], "alice");
    assert!(r["data"]["token"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(r["data"]["needCaptcha"].is_null());

    let wrong = sy.login("alice", "secret124", "").await;
    assert_eq!(wrong["code"], 1);
    assert_eq!(wrong["msg"], "用户名或密码错误");
    assert!(wrong["data"]["token"].is_null());

    // The plain password instead of its MD5 is a wrong password.
    let body =
        json!({"userName": "alice", "userPassword": "secret123", "captcha": "", "cloudRegion": 0});
    assert_eq!(sy.api("/api/account/login", body).await["code"], 1);
    assert_eq!(sy.login("nobody", "secret123", "").await["code"], 1);
}

#[tokio::test]
async fn a_missing_or_mistyped_login_field_answers_an_empty_body() {
    let sy = siyuan().await;
    let pw = md5("secret123");
    for body in [
        json!({"userName": "alice", "userPassword": pw, "cloudRegion": 0}),
        json!({"userName": "alice", "userPassword": pw, "captcha": "", "cloudRegion": "0"}),
        json!({"userName": "alice", "userPassword": pw, "captcha": null, "cloudRegion": 0}),
        json!({}),
    ] {
        let r = sy
            .post_raw("/api/account/login", &body.to_string(), None)
            .await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.unwrap().len(), 0, "{body}");
    }
    let r = sy.post_raw("/api/account/login", "{not json", None).await;
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], -1);
    assert!(
        v["msg"]
            .as_str()
            .unwrap()
            .starts_with("Parses request [/api/account/login] failed: "),
        "{v}"
    );
    let v: Value = sy
        .post_raw("/api/account/login", "", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["msg"],
        "Parses request [/api/account/login] failed: the request body is empty or truncated (EOF)"
    );
}

// ============================== captcha ==============================

#[tokio::test]
async fn captcha_flow_is_bound_to_the_need_captcha_value() {
    let sy = siyuan().await;
    sy.control("/__sim/config", json!({"captcha": true})).await;

    let r = sy.login("alice", "secret123", "").await;
    assert_eq!(
        r,
        json!({"code": 1, "msg": "请输入验证码", "data": {"userName": null, "token": null, "needCaptcha": ALICE_ID}})
    );

    // The image, from the cloud host, is a real PNG of the current answer.
    let host = sy.sim.endpoints().siyuan_captcha.clone();
    let img = sy
        .http
        .get(format!(
            "{host}/captcha/login?needCaptcha={ALICE_ID}&t=1700000000000"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(img.status(), 200);
    assert_eq!(img.headers()["content-type"], "image/png");
    let bytes = img.bytes().await.unwrap();
    assert!(bytes.starts_with(PNG_MAGIC));
    let info = png::Decoder::new(std::io::Cursor::new(bytes.to_vec()))
        .read_info()
        .unwrap();
    assert_eq!((info.info().width, info.info().height), (130, 50));

    let answer = sy.captcha_answer(ALICE_ID).await;
    assert!((4..=5).contains(&answer.len()), "{answer}");

    // A wrong answer is refused and a new answer is drawn.
    let r = sy.login("alice", "secret123", "zzzz").await;
    assert_eq!(
        (r["code"].clone(), r["msg"].clone()),
        (json!(1), json!("验证码错误"))
    );
    assert_eq!(r["data"]["needCaptcha"], ALICE_ID);

    // An answer issued for another needCaptcha value does not open alice's login.
    sy.login("bob", "hunter22", "").await;
    let bobs = sy.captcha_answer(BOB_ID).await;
    let alices = sy.captcha_answer(ALICE_ID).await;
    if !bobs.eq_ignore_ascii_case(&alices) {
        let r = sy.login("alice", "secret123", &bobs).await;
        assert_eq!(r["msg"], "验证码错误");
    }

    let answer = sy.captcha_answer(ALICE_ID).await;
    let r = sy.login("alice", "secret123", &answer.to_lowercase()).await;
    assert_eq!(r["code"], 0, "case-insensitive answer: {r}");

    // An answer is good for one attempt.
    let r = sy.login("alice", "secret123", &answer).await;
    assert_eq!(r["msg"], "验证码错误");
}

#[tokio::test]
async fn captcha_with_a_wrong_password_asks_for_a_new_captcha() {
    let sy = siyuan().await;
    sy.control("/__sim/config", json!({"captcha": true})).await;
    sy.login("alice", "secret123", "").await;
    let answer = sy.captcha_answer(ALICE_ID).await;
    let r = sy.login("alice", "wrong", &answer).await;
    assert_eq!(r["msg"], "用户名或密码错误");
    assert_eq!(r["data"]["needCaptcha"], ALICE_ID);
    let (status, _) = sy
        .control_get(&format!("/__sim/captcha?key={ALICE_ID}"))
        .await;
    assert_eq!(status, 200, "a fresh answer is waiting");
    let (status, _) = sy.control_get("/__sim/captcha?key=999").await;
    assert_eq!(status, 404);
}

// ============================== 2FA ==============================

#[tokio::test]
async fn two_factor_login_keeps_outer_code_zero() {
    let sy = siyuan().await;
    let r = sy.login("bob", "hunter22", "").await;
    assert_eq!(r["code"], 10, "{r}");
    assert_eq!(r["msg"], "请输入两步验证码");
    let temp = r["data"]["token"].as_str().unwrap().to_owned();

    let (status, code) = sy.control_get("/__sim/last-code?user=bob").await;
    assert_eq!(status, 200);
    let code = code["code"].as_str().unwrap().to_owned();
    assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));

    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = sy.login_2fa(&temp, wrong).await;
    assert_eq!(r["code"], 0, "outer code 0 even on failure");
    assert_eq!(r["data"], json!({"code": -1, "msg": "两步验证码错误"}));
    assert!(r["data"].get("token").is_none());

    let r = sy.login_2fa(&temp, &code).await;
    assert_eq!(r["code"], 0);
    assert_eq!(r["data"]["code"], 0);
    let token = r["data"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        sy.get_cloud_user(json!({ "token": token })).await["userName"],
        "bob"
    );

    // The temporary token is used up.
    assert_eq!(sy.login_2fa(&temp, &code).await["data"]["code"], -1);
    // Missing / mistyped fields: the deferred reply of the kernel handler.
    let r = sy
        .api("/api/setting/login2faCloudUser", json!({"token": temp}))
        .await;
    assert_eq!(r, json!({"code": 0, "msg": "", "data": null}));
    // 2FA off for bob → plain login; no code for alice.
    sy.control("/__sim/config", json!({"two_factor_users": []}))
        .await;
    assert_eq!(sy.login("bob", "hunter22", "").await["code"], 0);
    assert_eq!(sy.control_get("/__sim/last-code?user=alice").await.0, 404);
}

// ============================== getCloudUser ==============================

#[tokio::test]
async fn get_cloud_user_stores_the_user_and_rotates_the_token() {
    let sy = siyuan().await;
    let t1 = sy.cloud_token("alice", "secret123").await;
    assert!(
        sy.get_cloud_user(json!({})).await.is_null(),
        "nothing stored yet"
    );

    let user = sy.get_cloud_user(json!({ "token": t1 })).await;
    assert_eq!(user["userName"], "alice");
    assert_eq!(user["userId"], ALICE_ID);
    assert_eq!(user["userSiYuanProExpireTime"], -1);
    let exp = user["userTokenExpireTime"]
        .as_str()
        .expect("a decimal string");
    let exp: i64 = exp.parse().expect("of unix seconds");
    let now = sy.sim_unix().await;
    assert!(
        (exp - (now + 30 * 86400)).abs() < 60,
        "30 days of seconds: {exp} vs {now}"
    );
    let t2 = user["userToken"].as_str().unwrap().to_owned();
    assert_ne!(t2, t1, "refresh rotates the token");

    assert!(
        sy.get_cloud_user(json!({ "token": t1 })).await.is_null(),
        "the old token is dead"
    );
    assert_eq!(
        sy.get_cloud_user(json!({})).await["userToken"],
        t2.as_str(),
        "stored user"
    );
    let again = sy.get_cloud_user(json!({ "token": t2 })).await;
    assert_ne!(again["userToken"], t2.as_str());

    let (_, k) = sy.control_get("/__sim/kernel-user").await;
    assert_eq!(k["user"]["userToken"], again["userToken"]);
}

#[tokio::test]
async fn an_expired_token_leaves_the_stored_user_unchanged_and_in_the_past() {
    let sy = siyuan().await;
    sy.control("/__sim/config", json!({"token_lifetime_secs": 3600}))
        .await;
    let t1 = sy.cloud_token("alice", "secret123").await;
    let user = sy.get_cloud_user(json!({ "token": t1 })).await;
    let t2 = user["userToken"].as_str().unwrap().to_owned();

    sy.advance_clock(3601).await;
    let now = sy.sim_unix().await;
    let stale = sy.get_cloud_user(json!({ "token": t2 })).await;
    assert_eq!(stale["userToken"], t2.as_str(), "not refreshed");
    let exp: i64 = stale["userTokenExpireTime"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(exp < now);
    assert_eq!(sy.get_cloud_user(json!({})).await["userToken"], t2.as_str());
}

#[tokio::test]
async fn stored_user_is_refreshed_by_an_empty_call_within_three_days_of_expiry() {
    let sy = siyuan().await;
    let t1 = sy.cloud_token("alice", "secret123").await;
    let t2 = sy.get_cloud_user(json!({ "token": t1 })).await["userToken"].clone();
    sy.advance_clock(20 * 86400).await;
    assert_eq!(
        sy.get_cloud_user(json!({})).await["userToken"],
        t2,
        "cached"
    );
    sy.advance_clock(8 * 86400).await;
    let u = sy.get_cloud_user(json!({})).await;
    assert_ne!(u["userToken"], t2, "refreshed");
}

#[tokio::test]
async fn expire_and_revoke_through_control() {
    let sy = siyuan().await;
    let t1 = sy.cloud_token("alice", "secret123").await;
    let t2 = sy.get_cloud_user(json!({ "token": t1 })).await["userToken"]
        .as_str()
        .unwrap()
        .to_owned();
    sy.control("/__sim/expire", json!({"user": "alice"})).await;
    let u = sy.get_cloud_user(json!({ "token": t2 })).await;
    assert_eq!(u["userToken"], t2.as_str());
    let exp: i64 = u["userTokenExpireTime"].as_str().unwrap().parse().unwrap();
    assert!(
        exp < sy.sim_unix().await,
        "the stored copy shows the expiry"
    );

    let fresh = sy.cloud_token("alice", "secret123").await;
    let r = sy.control("/__sim/revoke", json!({"user": "alice"})).await;
    assert!(r["revoked"].as_i64().unwrap() >= 1);
    assert!(sy.get_cloud_user(json!({ "token": fresh })).await.is_null());
}

#[tokio::test]
async fn logout_is_local_only() {
    let sy = siyuan().await;
    let t1 = sy.cloud_token("alice", "secret123").await;
    let t2 = sy.get_cloud_user(json!({ "token": t1 })).await["userToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = sy.api("/api/setting/logoutCloudUser", json!({})).await;
    assert_eq!(r, json!({"code": 0, "msg": "", "data": null}));
    assert!(sy.get_cloud_user(json!({})).await.is_null());
    // The cloud never heard of it: the token still works.
    assert_eq!(
        sy.get_cloud_user(json!({ "token": t2 })).await["userName"],
        "alice"
    );
}

#[tokio::test]
async fn password_change_and_stats() {
    let sy = siyuan().await;
    sy.control(
        "/__sim/password",
        json!({"user": "alice", "password": "n3w"}),
    )
    .await;
    assert_eq!(sy.login("alice", "secret123", "").await["code"], 1);
    assert_eq!(sy.login("alice", "n3w", "").await["code"], 0);
    let (_, s) = sy.control_get("/__sim/stats").await;
    assert_eq!(s["requests"]["siyuan.login"], 2);
}
