//! SSCMS simulator against docs/services/sscms.md (v6 and v7), with hand-built requests.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{FixedOffset, NaiveDateTime, TimeDelta, Utc};
use lanyard_sim::Running;
use serde_json::{Value, json};

use crate::support::{Reply, md5, send, sim};

struct Sscms {
    _sim: Running,
    base: String,
    http: reqwest::Client,
}

impl Sscms {
    async fn start() -> Sscms {
        let sim = sim().await;
        let base = sim.endpoints().sscms.clone();
        Sscms {
            _sim: sim,
            base,
            http: reqwest::Client::new(),
        }
    }

    async fn v7() -> Sscms {
        let s = Sscms::start().await;
        assert_eq!(
            s.control("/__sim/config", json!({"version": "v7"})).await["version"],
            "v7"
        );
        s
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        send(&self.http, &self.base, method, path, headers, body).await
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        self.send("POST", path, &[], Some(body)).await.json()
    }

    async fn login(&self, body: Value) -> Reply {
        self.send("POST", "/api/v1/users/actions/login", &[], Some(body))
            .await
    }

    /// Logs `demo` in and returns the access token.
    async fn demo_token(&self) -> String {
        let r = self
            .login(json!({"account": "demo", "password": md5("demo1234")}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()["accessToken"].as_str().unwrap().to_owned()
    }

    async fn get_user(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        self.send("GET", path, headers, None).await
    }

    async fn advance(&self, secs: i64) {
        self.control("/__sim/clock", json!({"advance_secs": secs}))
            .await;
    }
}

fn jwt_parts(token: &str) -> (String, String) {
    let p: Vec<&str> = token.split('.').collect();
    assert_eq!(p.len(), 3);
    let d = |s: &str| String::from_utf8(URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
    (d(p[0]), d(p[1]))
}

fn china_now() -> NaiveDateTime {
    Utc::now()
        .with_timezone(&FixedOffset::east_opt(8 * 3600).unwrap())
        .naive_local()
}

fn parse_local(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap_or_else(|e| panic!("{s}: {e}"))
}

// --- v6 login -------------------------------------------------------------------------------------

#[tokio::test]
async fn v6_login_answers_value_access_token_and_local_expires_at() {
    let s = Sscms::start().await;
    let r = s
        .login(json!({"account": "demo", "password": md5("demo1234"), "isAutoLogin": false}))
        .await;
    assert_eq!(r.status, 200);
    let b = r.json();
    let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    let user = &b["value"];
    assert_eq!(user["id"], 1);
    assert_eq!(user["userName"], "demo");
    assert_eq!(user["displayName"], "演示");
    assert_eq!(user["isChecked"], true);
    assert_eq!(user["isLockedOut"], false);
    for gone in ["password", "passwordFormat", "passwordSalt", "settingsXml"] {
        assert!(user.get(gone).is_none(), "{gone} leaked");
    }
    parse_local(user["createDate"].as_str().unwrap());
    parse_local(user["lastActivityDate"].as_str().unwrap());

    let expires = parse_local(b["expiresAt"].as_str().unwrap());
    let expected = china_now() + TimeDelta::days(7);
    assert!(
        (expires - expected).num_seconds().abs() < 5,
        "{expires} vs {expected}"
    );

    let (header, payload) = jwt_parts(b["accessToken"].as_str().unwrap());
    assert_eq!(header, r#"{"typ":"JWT","alg":"HS256"}"#);
    let prefix = r#"{"UserId":1,"UserName":"demo","ExpiresAt":"\/Date("#;
    assert!(
        payload.starts_with(prefix) && payload.ends_with(r#")\/"}"#),
        "{payload}"
    );
    let ms: i64 = payload[prefix.len()..payload.len() - 5].parse().unwrap();
    let want = Utc::now().timestamp_millis() + 7 * 86_400_000;
    assert!((ms - want).abs() < 5000, "ExpiresAt is UTC now + 7 d");

    let cookie = r.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.starts_with("SS-USER-TOKEN="), "{cookie}");
}

#[tokio::test]
async fn login_keys_are_case_insensitive_and_account_is_name_mobile_or_email() {
    let s = Sscms::start().await;
    let pw = md5("secret123");
    for body in [
        json!({"Account": "alice", "Password": pw}),
        json!({"ACCOUNT": "ALICE", "password": pw}),
        json!({"account": "13900000002", "password": pw}),
        json!({"account": "alice@example.com", "password": pw}),
    ] {
        let r = s.login(body.clone()).await;
        assert_eq!(r.status, 200, "{body}: {}", r.text);
        assert_eq!(r.json()["value"]["id"], 2);
    }
}

#[tokio::test]
async fn only_lowercase_md5_of_the_password_is_accepted() {
    let s = Sscms::start().await;
    for wrong in [
        md5("wrong"),
        md5("demo1234").to_uppercase(),
        "demo1234".to_owned(),
    ] {
        s.login(json!({"account": "demo", "password": wrong}))
            .await
            .assert_error("帐号或密码错误");
    }
    s.login(json!({"account": "ghost", "password": md5("demo1234")}))
        .await
        .assert_error("帐号或密码错误");
}

#[tokio::test]
async fn login_error_messages_are_the_servers_texts() {
    let s = Sscms::start().await;
    s.login(json!({"password": md5("x")}))
        .await
        .assert_error("账号不能为空");
    s.login(json!({"account": "", "password": md5("x")}))
        .await
        .assert_error("账号不能为空");
    s.login(json!({"account": "demo"}))
        .await
        .assert_error("密码不能为空");
    s.login(json!({"account": "pending", "password": md5("secret123")}))
        .await
        .assert_error("此账号未审核，无法登录");
    s.login(json!({"account": "locked", "password": md5("secret123")}))
        .await
        .assert_error("此账号被锁定，无法登录");
}

#[tokio::test]
async fn failures_count_and_lock_for_hours() {
    let s = Sscms::start().await;
    assert_eq!(
        s.control("/__sim/config", json!({"lockout_attempts": 2}))
            .await["lockout_attempts"],
        2
    );
    let bad = json!({"account": "demo", "password": md5("bad")});
    let good = json!({"account": "demo", "password": md5("demo1234")});
    s.login(bad.clone()).await.assert_error("帐号或密码错误");
    s.login(bad.clone()).await.assert_error("帐号或密码错误");
    s.login(good.clone())
        .await
        .assert_error("此账号错误登录次数过多，已被锁定，请等待3小时后重试");
    s.advance(3600).await;
    s.login(good.clone())
        .await
        .assert_error("此账号错误登录次数过多，已被锁定，请等待2小时后重试");
    s.advance(2 * 3600).await;
    let r = s.login(good).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["value"]["countOfFailedLogin"], 0);
}

// --- v6 token use ---------------------------------------------------------------------------------

#[tokio::test]
async fn v6_token_goes_in_x_ss_user_token_cookie_or_query_not_bearer() {
    let s = Sscms::start().await;
    let t = s.demo_token().await;
    let r = s
        .get_user("/api/v1/users/1", &[("x-ss-user-token", &t)])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["value"]["userName"], "demo");
    assert_eq!(
        s.get_user(&format!("/api/v1/users/1?userToken={t}"), &[])
            .await
            .status,
        200
    );
    assert_eq!(
        s.get_user(
            "/api/v1/users/1",
            &[("cookie", &format!("SS-USER-TOKEN={t}"))]
        )
        .await
        .status,
        200
    );

    s.get_user(
        "/api/v1/users/1",
        &[("authorization", &format!("Bearer {t}"))],
    )
    .await
    .assert_401_empty();
    s.get_user("/api/v1/users/1", &[]).await.assert_401_empty();
    // The cookie wins over the header: a stale cookie breaks a good header.
    s.get_user(
        "/api/v1/users/1",
        &[("cookie", "SS-USER-TOKEN=stale"), ("x-ss-user-token", &t)],
    )
    .await
    .assert_401_empty();
}

#[tokio::test]
async fn v6_get_user_is_only_for_the_tokens_own_id() {
    let s = Sscms::start().await;
    let t = s.demo_token().await;
    s.get_user("/api/v1/users/2", &[("x-ss-user-token", &t)])
        .await
        .assert_401_empty();
    let r = s
        .get_user("/api/v1/users/999", &[("x-ss-user-token", &t)])
        .await;
    assert_eq!(r.status, 404);
    // A forged signature is nobody's token.
    let mut forged = t.clone();
    forged.pop();
    forged.push(if t.ends_with('A') { 'B' } else { 'A' });
    s.get_user("/api/v1/users/1", &[("x-ss-user-token", &forged)])
        .await
        .assert_401_empty();
}

#[tokio::test]
async fn v6_token_lives_until_expires_at_plus_7_days_in_local_time() {
    let s = Sscms::start().await;
    let t = s.demo_token().await;
    // Accepted while ExpiresAt(UTC) + 7 d > local now = UTC + 8 h: issue + 14 d - 8 h.
    s.advance(14 * 86400 - 8 * 3600 - 60).await;
    assert_eq!(
        s.get_user("/api/v1/users/1", &[("x-ss-user-token", &t)])
            .await
            .status,
        200
    );
    s.advance(120).await;
    s.get_user("/api/v1/users/1", &[("x-ss-user-token", &t)])
        .await
        .assert_401_empty();
}

#[tokio::test]
async fn v6_logout_answers_the_user_and_does_not_revoke() {
    let s = Sscms::start().await;
    let t = s.demo_token().await;
    let r = s
        .send(
            "POST",
            "/api/v1/users/actions/logout",
            &[("x-ss-user-token", &t)],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["value"]["id"], 1);
    assert!(
        r.headers["set-cookie"]
            .to_str()
            .unwrap()
            .starts_with("SS-USER-TOKEN=;")
    );
    assert_eq!(
        s.get_user("/api/v1/users/1", &[("x-ss-user-token", &t)])
            .await
            .status,
        200
    );
    let r = s
        .send("POST", "/api/v1/users/actions/logout", &[], None)
        .await;
    assert_eq!(r.json(), json!({"value": null}));
}

#[tokio::test]
async fn sim_expire_and_revoke_kill_existing_tokens_only() {
    let s = Sscms::start().await;
    let t1 = s.demo_token().await;
    s.control("/__sim/expire", json!({"user": "demo"})).await;
    s.get_user("/api/v1/users/1", &[("x-ss-user-token", &t1)])
        .await
        .assert_401_empty();
    let t2 = s.demo_token().await;
    assert_eq!(
        s.get_user("/api/v1/users/1", &[("x-ss-user-token", &t2)])
            .await
            .status,
        200
    );
    s.control("/__sim/revoke", json!({"user": "1"})).await;
    s.get_user("/api/v1/users/1", &[("x-ss-user-token", &t2)])
        .await
        .assert_401_empty();
    let t3 = s.demo_token().await;
    assert_eq!(
        s.get_user("/api/v1/users/1", &[("x-ss-user-token", &t3)])
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn password_change_through_control_route() {
    let s = Sscms::start().await;
    s.control(
        "/__sim/password",
        json!({"user": "demo", "password": "n3w"}),
    )
    .await;
    s.login(json!({"account": "demo", "password": md5("demo1234")}))
        .await
        .assert_error("帐号或密码错误");
    assert_eq!(
        s.login(json!({"account": "demo", "password": md5("n3w")}))
            .await
            .status,
        200
    );
}

// --- v7 -------------------------------------------------------------------------------------------

#[tokio::test]
async fn v7_login_answers_user_and_a_one_day_jwt() {
    let s = Sscms::v7().await;
    let r = s
        .login(json!({"account": "demo", "password": md5("demo1234")}))
        .await;
    assert_eq!(r.status, 200);
    let b = r.json();
    assert_eq!(b.as_object().unwrap().len(), 2, "{b}");
    assert_eq!(b["user"]["userName"], "demo");
    assert!(b["user"].get("password").is_none());
    assert!(b.get("value").is_none() && b.get("expiresAt").is_none());
    let (_, payload) = jwt_parts(b["accessToken"].as_str().unwrap());
    let p: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(p["UserName"], "demo");
    assert_eq!(p["UserId"], "1");
    assert_eq!(
        p["exp"].as_i64().unwrap() - p["iat"].as_i64().unwrap(),
        86400
    );

    let r = s
        .login(json!({"account": "demo", "password": md5("demo1234"), "isPersistent": true}))
        .await;
    let (_, payload) = jwt_parts(r.json()["accessToken"].as_str().unwrap());
    let p: Value = serde_json::from_str(&payload).unwrap();
    assert_eq!(
        p["exp"].as_i64().unwrap() - p["iat"].as_i64().unwrap(),
        7 * 86400
    );

    s.login(json!({"account": "demo", "password": md5("nope")}))
        .await
        .assert_error("帐号或密码错误");
}

#[tokio::test]
async fn v7_token_is_a_bearer_token_and_the_v6_header_is_ignored() {
    let s = Sscms::v7().await;
    let t = s.demo_token().await;
    let r = s
        .get_user("/__sim/token", &[("authorization", &format!("Bearer {t}"))])
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["userName"], "demo");
    assert_eq!(
        s.get_user(&format!("/__sim/token?access_token={t}"), &[])
            .await
            .status,
        200
    );
    s.get_user("/__sim/token", &[("x-ss-user-token", &t)])
        .await
        .assert_401_empty();
}

#[tokio::test]
async fn v7_user_lookup_needs_an_api_key_not_a_user_token() {
    let s = Sscms::v7().await;
    let t = s.demo_token().await;
    // A real v7 server answers this route for API keys only (docs/services/sscms.md).
    s.get_user(
        "/api/v1/users/1",
        &[("authorization", &format!("Bearer {t}"))],
    )
    .await
    .assert_401_empty();
    s.get_user(&format!("/api/v1/users/1?access_token={t}"), &[])
        .await
        .assert_401_empty();
    s.get_user("/api/v1/users/1", &[("x-ss-api-key", "not-the-key")])
        .await
        .assert_401_empty();
    let r = s
        .get_user(
            "/api/v1/users/demo",
            &[("x-ss-api-key", lanyard_sim::sscms::API_KEY)],
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["userName"], "demo", "v7 answers the user itself");
    let r = s
        .get_user(
            &format!("/api/v1/users/1?apiKey={}", lanyard_sim::sscms::API_KEY),
            &[],
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn v7_token_expires_after_a_day_and_logout_answers_true() {
    let s = Sscms::v7().await;
    let t = s.demo_token().await;
    let auth = format!("Bearer {t}");
    let r = s
        .send(
            "POST",
            "/api/v1/users/actions/logout",
            &[("authorization", &auth)],
            None,
        )
        .await;
    assert_eq!(r.json(), json!({"value": true}));
    s.advance(86400 - 60).await;
    assert_eq!(
        s.get_user("/__sim/token", &[("authorization", &auth)])
            .await
            .status,
        200
    );
    s.advance(120).await;
    s.get_user("/__sim/token", &[("authorization", &auth)])
        .await
        .assert_401_empty();
}

#[tokio::test]
async fn tokens_of_one_version_are_not_accepted_by_the_other() {
    let s = Sscms::start().await;
    let v6 = s.demo_token().await;
    s.control("/__sim/config", json!({"version": "v7"})).await;
    s.get_user(
        "/__sim/token",
        &[("authorization", &format!("Bearer {v6}"))],
    )
    .await
    .assert_401_empty();
}

#[tokio::test]
async fn v7_revoke() {
    let s = Sscms::v7().await;
    let t = s.demo_token().await;
    s.control("/__sim/revoke", json!({"user": "demo"})).await;
    s.get_user("/__sim/token", &[("authorization", &format!("Bearer {t}"))])
        .await
        .assert_401_empty();
    let t = s.demo_token().await;
    assert_eq!(
        s.get_user("/__sim/token", &[("authorization", &format!("Bearer {t}"))])
            .await
            .status,
        200
    );
}
