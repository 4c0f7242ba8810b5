//! Steedos simulator against docs/services/steedos.md, with hand-built requests.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lanyard_sim::Running;
use serde_json::{Value, json};

use crate::support::{Reply, send, sha256, sim};

const ALICE_PW: &str = "secret123";
const BOB_PW: &str = "hunter22";

struct Steedos {
    _sim: Running,
    base: String,
    http: reqwest::Client,
}

impl Steedos {
    async fn start() -> Steedos {
        let sim = sim().await;
        let base = sim.endpoints().steedos.clone();
        Steedos {
            _sim: sim,
            base,
            http: reqwest::Client::new(),
        }
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

    async fn login(&self, body: Value) -> Reply {
        self.send("POST", "/accounts/password/login", &[], Some(body))
            .await
    }

    /// Logs alice in by email + SHA-256 and returns the login reply body.
    async fn alice(&self) -> Value {
        let r = self
            .login(json!({"user": "alice@example.com", "password": sha256(ALICE_PW)}))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.json()
    }

    async fn me(&self, headers: &[(&str, &str)]) -> Reply {
        self.send("GET", "/accounts/user", headers, None).await
    }

    async fn config(&self, patch: Value) -> Value {
        self.send("POST", "/__sim/config", &[], Some(patch))
            .await
            .json()
    }
}

fn jwt_payload(token: &str) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "HS256");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

// --- login request forms ------------------------------------------------------------------------

#[tokio::test]
async fn login_success_has_the_documented_shape_tokens_and_cookies() {
    let s = Steedos::start().await;
    let r = s
        .login(json!({"user": "alice@example.com", "password": sha256(ALICE_PW)}))
        .await;
    assert_eq!(r.status, 200);
    let b = r.json();
    let token = b["token"].as_str().unwrap();
    assert_eq!(token.len(), 86);
    assert!(
        token
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert!(b["sessionId"].is_string());
    assert_eq!(b["space"], "demo-space");
    assert_eq!(b["spaces"][0]["_id"], "demo-space");
    assert_eq!(b["spaces"][0]["user_accepted"], true);
    assert_eq!(b["user"]["username"], "alice");
    assert_eq!(b["user"]["email"], "alice@example.com");
    assert_eq!(b["user"]["mobile"], "13800000001");
    assert!(b["user"]["_id"].is_string());
    assert!(
        b["user"].get("services").is_none(),
        "services must be stripped"
    );

    let access = jwt_payload(b["tokens"]["accessToken"].as_str().unwrap());
    assert_eq!(access["data"]["userId"], b["user"]["_id"]);
    assert_eq!(access["data"]["email"], "alice@example.com");
    assert_eq!(access["data"]["isImpersonated"], false);
    assert!(
        access["data"].get("token").is_none(),
        "session token is not in the JWT since 2022"
    );
    assert_eq!(
        access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap(),
        90 * 86400
    );
    let refresh = jwt_payload(b["tokens"]["refreshToken"].as_str().unwrap());
    assert_eq!(
        refresh["exp"].as_i64().unwrap() - refresh["iat"].as_i64().unwrap(),
        7 * 86400
    );
    assert!(refresh.get("data").is_none());

    let cookies = r.cookies();
    for (name, value) in [
        ("X-User-Id", b["user"]["_id"].as_str().unwrap()),
        ("X-Auth-Token", token),
        (
            "X-Access-Token",
            b["tokens"]["accessToken"].as_str().unwrap(),
        ),
    ] {
        let c = cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}={value};")))
            .unwrap_or_else(|| panic!("{name} cookie missing: {cookies:?}"));
        assert!(
            c.contains("HttpOnly") && c.contains("Max-Age=7776000"),
            "{c}"
        );
    }
}

#[tokio::test]
async fn string_user_is_email_or_mobile_and_a_bare_username_fails() {
    let s = Steedos::start().await;
    let pw = sha256(ALICE_PW);
    assert_eq!(
        s.login(json!({"user": "alice@example.com", "password": pw}))
            .await
            .status,
        200
    );
    assert_eq!(
        s.login(json!({"user": "13800000001", "password": pw}))
            .await
            .status,
        200
    );
    s.login(json!({"user": "alice", "password": pw}))
        .await
        .assert_error("accounts.invalid_credentials");
}

#[tokio::test]
async fn object_user_forms_and_case_insensitive_username() {
    let s = Steedos::start().await;
    let pw = sha256(ALICE_PW);
    let id = s.alice().await["user"]["_id"].clone();
    for user in [
        json!({"username": "alice"}),
        json!({"username": "ALICE"}),
        json!({"email": "alice@example.com"}),
        json!({"mobile": "13800000001"}),
        json!({"id": id}),
        // What the web client sends: empty strings are ignored.
        json!({"email": "", "mobile": "", "username": "alice", "spaceId": ""}),
    ] {
        let r = s
            .login(json!({"user": user, "password": pw, "token": "", "locale": "zh-cn"}))
            .await;
        assert_eq!(r.status, 200, "{user}: {}", r.text);
    }
}

#[tokio::test]
async fn only_the_lowercase_sha256_is_accepted_in_password() {
    let s = Steedos::start().await;
    let user = json!({"username": "alice"});
    for wrong in [
        sha256("wrong"),
        sha256(ALICE_PW).to_uppercase(),
        ALICE_PW.to_owned(),
    ] {
        s.login(json!({"user": user, "password": wrong}))
            .await
            .assert_error("accounts.invalid_credentials");
    }
    // Unknown user: the same ambiguous message.
    s.login(json!({"user": {"username": "nobody"}, "password": sha256(ALICE_PW)}))
        .await
        .assert_error("accounts.invalid_credentials");
}

#[tokio::test]
async fn plaintext_in_password_works_only_when_configured() {
    let s = Steedos::start().await;
    let body = json!({"user": {"username": "alice"}, "password": ALICE_PW});
    s.login(body.clone())
        .await
        .assert_error("accounts.invalid_credentials");
    assert_eq!(
        s.config(json!({"accept_plain_password": true})).await["accept_plain_password"],
        true
    );
    assert_eq!(s.login(body).await.status, 200);
}

#[tokio::test]
async fn password_unencrypted_is_hashed_by_the_server() {
    let s = Steedos::start().await;
    let r = s
        .login(json!({"user": {"email": "alice@example.com"}, "password-unencrypted": ALICE_PW}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    s.login(json!({"user": {"email": "alice@example.com"}, "password-unencrypted": "nope"}))
        .await
        .assert_error("accounts.invalid_credentials");
}

#[tokio::test]
async fn malformed_requests_get_the_accounts_error_keys() {
    let s = Steedos::start().await;
    let digest = json!({"digest": sha256(ALICE_PW), "algorithm": "sha-256"});
    s.login(json!({"user": {"username": "alice"}, "password": digest}))
        .await
        .assert_error("accounts.matchFailed");
    s.login(json!({"user": 42, "password": sha256(ALICE_PW)}))
        .await
        .assert_error("accounts.matchFailed");
    for body in [
        json!({"password": sha256(ALICE_PW)}),
        json!({"user": "alice@example.com"}),
        json!({"user": "", "password": sha256(ALICE_PW)}),
        json!({"user": "alice@example.com", "password": ""}),
    ] {
        s.login(body)
            .await
            .assert_error("accounts.unrecognizedOptionsForLogin");
    }
}

#[tokio::test]
async fn lockout_after_failures_even_with_the_right_password_then_expires() {
    let s = Steedos::start().await;
    s.config(json!({"lockout_attempts": 3})).await;
    let user = json!({"username": "alice"});
    for _ in 0..3 {
        s.login(json!({"user": user, "password": sha256("bad")}))
            .await
            .assert_error("accounts.invalid_credentials");
    }
    s.login(json!({"user": user, "password": sha256(ALICE_PW)}))
        .await
        .assert_error("账户已锁定，请联系管理员");
    s.send(
        "POST",
        "/__sim/clock",
        &[],
        Some(json!({"advance_secs": 16 * 60})),
    )
    .await;
    assert_eq!(
        s.login(json!({"user": user, "password": sha256(ALICE_PW)}))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn default_lockout_is_ten_failures() {
    let s = Steedos::start().await;
    let user = json!({"username": "alice"});
    for _ in 0..9 {
        s.login(json!({"user": user, "password": sha256("bad")}))
            .await;
    }
    assert_eq!(
        s.login(json!({"user": user, "password": sha256(ALICE_PW)}))
            .await
            .status,
        200
    );
    for _ in 0..10 {
        s.login(json!({"user": user, "password": sha256("bad")}))
            .await;
    }
    s.login(json!({"user": user, "password": sha256(ALICE_PW)}))
        .await
        .assert_error("账户已锁定，请联系管理员");
}

// --- MFA / verification codes -------------------------------------------------------------------

#[tokio::test]
async fn mfa_user_gets_next_step_then_logs_in_with_the_sms_code() {
    let s = Steedos::start().await;
    let r = s
        .login(json!({"user": "bob@example.com", "password": sha256(BOB_PW)}))
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.json(),
        json!({"_next": "TO_MOBILE_CODE_LOGIN", "mobile": "13800000002", "mobile_verified": true})
    );
    assert!(r.cookies().is_empty(), "no cookies before the code step");
    // A wrong password is still a wrong password.
    s.login(json!({"user": "bob@example.com", "password": sha256("x")}))
        .await
        .assert_error("accounts.invalid_credentials");

    let sent = s
        .send(
            "POST",
            "/accounts/password/sendVerificationCode",
            &[],
            Some(json!({"user": {"mobile": "13800000002"}})),
        )
        .await;
    assert_eq!(sent.status, 200);
    let bob_id = sent.json();
    assert!(bob_id.is_string(), "{bob_id}");

    let last = s
        .send("GET", "/__sim/last-code?user=13800000002", &[], None)
        .await
        .json();
    let code = last["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 6);
    assert!(code.chars().all(|c| c.is_ascii_digit()));
    assert_eq!(last["destination"], "13800000002");

    let wrong = if code == "000000" { "111111" } else { "000000" };
    s.login(json!({"user": {"mobile": "13800000002"}, "token": wrong}))
        .await
        .assert_error("accounts.invalid_code");
    let ok = s
        .login(json!({"user": {"mobile": "13800000002"}, "token": code}))
        .await;
    assert_eq!(ok.status, 200, "{}", ok.text);
    let b = ok.json();
    assert_eq!(b["user"]["_id"], bob_id);
    assert_eq!(b["token"].as_str().unwrap().len(), 86);
    // The code is single-use.
    s.login(json!({"user": {"mobile": "13800000002"}, "token": code}))
        .await
        .assert_error("accounts.invalid_code");
}

#[tokio::test]
async fn verification_codes_expire_after_ten_minutes_and_ten_failures() {
    let s = Steedos::start().await;
    let send = || {
        s.send(
            "POST",
            "/accounts/password/sendVerificationCode",
            &[],
            Some(json!({"user": {"mobile": "13800000002"}})),
        )
    };
    let code = || async {
        s.send("GET", "/__sim/last-code?user=bob", &[], None)
            .await
            .json()["code"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    send().await;
    let c = code().await;
    s.send(
        "POST",
        "/__sim/clock",
        &[],
        Some(json!({"advance_secs": 601})),
    )
    .await;
    s.login(json!({"user": {"mobile": "13800000002"}, "token": c}))
        .await
        .assert_error("accounts.invalid_code");

    send().await;
    let c = code().await;
    let wrong = if c == "000000" { "111111" } else { "000000" };
    for _ in 0..10 {
        s.login(json!({"user": {"mobile": "13800000002"}, "token": wrong}))
            .await;
    }
    s.login(json!({"user": {"mobile": "13800000002"}, "token": c}))
        .await
        .assert_error("accounts.invalid_code");
}

#[tokio::test]
async fn send_code_to_unknown_user_answers_null_and_mfa_can_be_switched() {
    let s = Steedos::start().await;
    let r = s
        .send(
            "POST",
            "/accounts/password/sendVerificationCode",
            &[],
            Some(json!({"user": {"mobile": "19999999999"}})),
        )
        .await;
    assert_eq!((r.status, r.text.as_str()), (200, "null"));
    assert_eq!(
        s.send("GET", "/__sim/last-code?user=19999999999", &[], None)
            .await
            .status,
        404
    );

    s.config(json!({"mfa_users": []})).await;
    let r = s
        .login(json!({"user": "bob@example.com", "password": sha256(BOB_PW)}))
        .await;
    assert!(r.json()["token"].is_string());
    s.config(json!({"mfa_users": ["alice"]})).await;
    let r = s
        .login(json!({"user": "alice@example.com", "password": sha256(ALICE_PW)}))
        .await;
    assert_eq!(r.json()["_next"], "TO_MOBILE_CODE_LOGIN");
}

// --- later calls --------------------------------------------------------------------------------

#[tokio::test]
async fn accounts_user_takes_bearer_token_or_cookie_but_not_space_comma_token() {
    let s = Steedos::start().await;
    let login = s.alice().await;
    let token = login["token"].as_str().unwrap();

    let r = s.me(&[("authorization", &bearer(token))]).await;
    assert_eq!(r.status, 200);
    let me = r.json();
    assert_eq!(me["username"], "alice");
    assert_eq!(me["userId"], login["user"]["_id"]);
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["spaces"][0]["_id"], "demo-space");
    assert!(me.get("services").is_none());

    let r = s.me(&[("cookie", &format!("X-Auth-Token={token}"))]).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        s.send(
            "POST",
            "/accounts/user",
            &[("authorization", &bearer(token))],
            None
        )
        .await
        .status,
        200
    );

    s.me(&[("authorization", &bearer(&format!("demo-space,{token}")))])
        .await
        .assert_error("userNotFound");
    s.me(&[]).await.assert_error("userNotFound");
    // The JWT access token is not a credential here.
    let jwt = login["tokens"]["accessToken"].as_str().unwrap();
    s.me(&[("authorization", &bearer(jwt))])
        .await
        .assert_error("userNotFound");
}

#[tokio::test]
async fn validate_wants_bearer_space_comma_token() {
    let s = Steedos::start().await;
    let token = s.alice().await["token"].as_str().unwrap().to_owned();
    let r = s
        .send(
            "POST",
            "/api/v4/users/validate",
            &[("authorization", &bearer(&format!("demo-space,{token}")))],
            Some(json!({"utcOffset": 8})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = r.json();
    assert_eq!(b["spaceId"], "demo-space");
    assert_eq!(b["name"], "Alice");
    assert_eq!(b["password_expired"], false);

    let expected_401 = r#"{"error":"Validate Request -- Missing X-Auth-Token","instance":"1329598861","success":false}"#;
    for auth in [
        bearer(&token),
        bearer(&format!("other-space,{token}")),
        bearer("demo-space,nope"),
    ] {
        let r = s
            .send(
                "POST",
                "/api/v4/users/validate",
                &[("authorization", &auth)],
                None,
            )
            .await;
        assert_eq!((r.status, r.text.as_str()), (401, expected_401), "{auth}");
    }
    let r = s
        .send(
            "POST",
            "/api/v4/users/validate",
            &[("x-auth-token", &token), ("x-space-id", "demo-space")],
            None,
        )
        .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn logout_with_bearer_does_not_invalidate_the_session() {
    let s = Steedos::start().await;
    let token = s.alice().await["token"].as_str().unwrap().to_owned();
    let r = s
        .send(
            "POST",
            "/accounts/logout",
            &[("authorization", &bearer(&token))],
            None,
        )
        .await;
    assert_eq!((r.status, r.text.as_str()), (200, "null"));
    assert_eq!(
        s.me(&[("authorization", &bearer(&token))]).await.status,
        200,
        "the real bug: still valid"
    );
}

#[tokio::test]
async fn logout_with_bare_authorization_or_cookie_invalidates() {
    let s = Steedos::start().await;
    let t1 = s.alice().await["token"].as_str().unwrap().to_owned();
    let t2 = s.alice().await["token"].as_str().unwrap().to_owned();
    let r = s
        .send("POST", "/accounts/logout", &[("authorization", &t1)], None)
        .await;
    assert_eq!((r.status, r.text.as_str()), (200, "null"));
    s.me(&[("authorization", &bearer(&t1))])
        .await
        .assert_error("userNotFound");
    assert_eq!(
        s.me(&[("authorization", &bearer(&t2))]).await.status,
        200,
        "other sessions live on"
    );

    let r = s
        .send(
            "POST",
            "/accounts/logout",
            &[("cookie", &format!("X-Auth-Token={t2}"))],
            None,
        )
        .await;
    assert_eq!((r.status, r.text.as_str()), (200, "null"));
    assert!(
        r.cookies().iter().any(|c| c.starts_with("X-Auth-Token=;")),
        "cookie cleared"
    );
    s.me(&[("authorization", &bearer(&t2))])
        .await
        .assert_error("userNotFound");

    // Logging out with nothing is still 200 null.
    let r = s.send("POST", "/accounts/logout", &[], None).await;
    assert_eq!((r.status, r.text.as_str()), (200, "null"));
}

#[tokio::test]
async fn sessions_survive_time_but_not_sim_expire_or_revoke() {
    let s = Steedos::start().await;
    let t1 = s.alice().await["token"].as_str().unwrap().to_owned();
    s.send(
        "POST",
        "/__sim/clock",
        &[],
        Some(json!({"advance_secs": 400 * 86400})),
    )
    .await;
    assert_eq!(s.me(&[("authorization", &bearer(&t1))]).await.status, 200);

    s.send(
        "POST",
        "/__sim/expire",
        &[],
        Some(json!({"user": "alice@example.com"})),
    )
    .await;
    s.me(&[("authorization", &bearer(&t1))])
        .await
        .assert_error("userNotFound");

    let t2 = s.alice().await["token"].as_str().unwrap().to_owned();
    assert_eq!(s.me(&[("authorization", &bearer(&t2))]).await.status, 200);
    s.send("POST", "/__sim/revoke", &[], Some(json!({"user": "alice"})))
        .await;
    s.me(&[("authorization", &bearer(&t2))])
        .await
        .assert_error("userNotFound");
}

#[tokio::test]
async fn refresh_tokens_fails_as_inferred_unless_configured() {
    let s = Steedos::start().await;
    let login = s.alice().await;
    let tokens = login["tokens"].clone();
    let refresh = |body: Value| s.send("POST", "/accounts/refreshTokens", &[], Some(body));

    refresh(tokens.clone())
        .await
        .assert_error("Session not found");
    refresh(json!({"accessToken": "a.b.c", "refreshToken": "x.y.z"}))
        .await
        .assert_error("Tokens are not valid");
    // The refresh JWT lives 7 days.
    s.send(
        "POST",
        "/__sim/clock",
        &[],
        Some(json!({"advance_secs": 7 * 86400 + 1})),
    )
    .await;
    refresh(tokens.clone())
        .await
        .assert_error("Tokens are not valid");

    let working = Steedos::start().await;
    working.config(json!({"refresh_tokens_work": true})).await;
    let login = working.alice().await;
    let r = working
        .send(
            "POST",
            "/accounts/refreshTokens",
            &[],
            Some(login["tokens"].clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let b = r.json();
    assert_eq!(b["sessionId"], login["sessionId"]);
    assert_eq!(b["token"], login["token"]);
    assert_eq!(b["user"]["username"], "alice");
    assert!(b.get("space").is_none() && b.get("spaces").is_none());
    assert!(
        jwt_payload(b["tokens"]["accessToken"].as_str().unwrap())["data"]["userId"].is_string()
    );
}

#[tokio::test]
async fn password_change_through_control_route() {
    let s = Steedos::start().await;
    s.send(
        "POST",
        "/__sim/password",
        &[],
        Some(json!({"user": "alice", "password": "n3w-pass"})),
    )
    .await;
    s.login(json!({"user": "alice@example.com", "password": sha256(ALICE_PW)}))
        .await
        .assert_error("accounts.invalid_credentials");
    assert_eq!(
        s.login(json!({"user": "alice@example.com", "password": sha256("n3w-pass")}))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn stats_name_the_routes() {
    let s = Steedos::start().await;
    s.alice().await;
    s.me(&[]).await;
    let stats = s.send("GET", "/__sim/stats", &[], None).await.json();
    assert_eq!(stats["requests"]["steedos.login"], 1);
    assert_eq!(stats["requests"]["steedos.user"], 1);
}
