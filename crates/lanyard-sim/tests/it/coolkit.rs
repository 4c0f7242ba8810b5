//! CoolKit simulator, driven with hand-built requests (docs/services/coolkit.md).
//! Signatures are computed here independently of the simulator's own code.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use lanyard_sim::Running;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::support::{client, control_post, sim};

const APPID: &str = "LanyardDemoAppId0000000000000001";
const SECRET: &str = "LanyardDemoAppSecret000000000001";
const DOC_APPID: &str = "McFJj4Noke1mGDZCR1QarGW7P9Ycp0Vr";
const DOC_SECRET: &str = "OdPuCZ4PkPPi0rVKRVcGmll2NM6vVk0c";

const ALICE: &str = "alice@example.com"; // region us
const BOB: &str = "bob@example.com"; // region eu
const CN_PHONE: &str = "+8613800000001"; // region cn

fn sign(secret: &str, msg: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(msg);
    STANDARD.encode(mac.finalize().into_bytes())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn is_hex40(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 40 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

struct Ck {
    sim: Running,
    root: String,
    http: reqwest::Client,
}

async fn coolkit() -> Ck {
    let sim = sim().await;
    let root = sim
        .endpoints()
        .coolkit
        .trim_end_matches("/{region}")
        .to_owned();
    let http = client();
    Ck { sim, root, http }
}

impl Ck {
    fn url(&self, region: &str, path: &str) -> String {
        self.sim.endpoints().coolkit.replace("{region}", region) + path
    }

    async fn json(resp: reqwest::Response) -> Value {
        assert_eq!(
            resp.status(),
            200,
            "CoolKit answers HTTP 200 with the code in the body"
        );
        resp.json().await.expect("JSON body")
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        control_post(&self.http, &format!("{}{path}", self.root), body).await
    }

    async fn advance_clock(&self, secs: i64) {
        self.control("/__sim/clock", json!({ "advance_secs": secs }))
            .await;
    }

    async fn stats(&self) -> Value {
        let r = self
            .http
            .get(format!("{}/__sim/stats", self.root))
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()["requests"].clone()
    }

    // ---- v2 ----

    /// POST `body` (exact bytes) with `X-CK-Appid: appid` and `Authorization: Sign <sig>`.
    async fn v2_post(&self, region: &str, path: &str, appid: &str, sig: &str, body: &str) -> Value {
        let r = self
            .http
            .post(self.url(region, path))
            .header("X-CK-Appid", appid)
            .header("Authorization", format!("Sign {sig}"))
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        Self::json(r).await
    }

    /// A correctly signed v2 POST with the demo app.
    async fn v2_signed(&self, region: &str, path: &str, body: &Value) -> Value {
        let raw = body.to_string();
        self.v2_post(region, path, APPID, &sign(SECRET, raw.as_bytes()), &raw)
            .await
    }

    async fn v2_login(&self, region: &str, email: &str, password: &str) -> Value {
        let body = json!({ "countryCode": "+1", "email": email, "password": password });
        self.v2_signed(region, "/v2/user/login", &body).await
    }

    /// Logs in (must succeed) and returns `(at, rt)`.
    async fn v2_session(&self, region: &str, email: &str, password: &str) -> (String, String) {
        let r = self.v2_login(region, email, password).await;
        assert_eq!(r["error"], 0, "{r}");
        (
            r["data"]["at"].as_str().unwrap().into(),
            r["data"]["rt"].as_str().unwrap().into(),
        )
    }

    async fn v2_refresh(&self, region: &str, rt: &str) -> Value {
        self.v2_signed(region, "/v2/user/refresh", &json!({ "rt": rt }))
            .await
    }

    async fn v2_bearer(
        &self,
        method: reqwest::Method,
        region: &str,
        path: &str,
        at: &str,
    ) -> Value {
        let r = self
            .http
            .request(method, self.url(region, path))
            .header("X-CK-Appid", APPID)
            .header("Authorization", format!("Bearer {at}"))
            .send()
            .await
            .unwrap();
        Self::json(r).await
    }

    async fn v2_profile(&self, region: &str, at: &str) -> Value {
        self.v2_bearer(reqwest::Method::GET, region, "/v2/user/profile", at)
            .await
    }

    async fn v2_logout(&self, region: &str, at: &str) -> Value {
        self.v2_bearer(reqwest::Method::DELETE, region, "/v2/user/logout", at)
            .await
    }

    // ---- v1 ----

    /// The v1 login body: `appid, nonce, ts, version: 8`, the account and the password,
    /// serialised compactly.
    fn v1_login_body(account: &str, password: &str, ts: i64) -> String {
        let key = if account.starts_with('+') {
            "phoneNumber"
        } else {
            "email"
        };
        json!({
            "appid": APPID, "nonce": "a1b2c3d4", "ts": ts, "version": 8,
            key: account, "password": password,
        })
        .to_string()
    }

    async fn v1_post(&self, region: &str, body: &str, sig: &str) -> Value {
        let r = self
            .http
            .post(self.url(region, "/api/user/login"))
            .header("Authorization", format!("Sign {sig}"))
            .header("Content-Type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        Self::json(r).await
    }

    async fn v1_login(&self, region: &str, account: &str, password: &str) -> Value {
        let body = Self::v1_login_body(account, password, now());
        self.v1_post(region, &body, &sign(SECRET, body.as_bytes()))
            .await
    }

    /// GET with the query built as the notes say: sorted `k=v&…`, raw values, signed as sent.
    async fn v1_signed_get(&self, region: &str, path: &str, params: &[(&str, &str)]) -> Value {
        let ts = now().to_string();
        let mut p: Vec<(&str, &str)> = vec![
            ("appid", APPID),
            ("nonce", "q3wz95p6"),
            ("ts", &ts),
            ("version", "8"),
        ];
        p.extend_from_slice(params);
        p.sort();
        let q = p
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let r = self
            .http
            .get(format!("{}?{q}", self.url(region, path)))
            .header(
                "Authorization",
                format!("Sign {}", sign(SECRET, q.as_bytes())),
            )
            .send()
            .await
            .unwrap();
        Self::json(r).await
    }

    async fn v1_refresh(&self, region: &str, rt: &str) -> Value {
        self.v1_signed_get(
            region,
            "/api/user/refresh",
            &[("grantType", "refresh"), ("rt", rt)],
        )
        .await
    }

    async fn v1_device(&self, region: &str, at: &str) -> Value {
        let q = format!(
            "lang=en&appid={APPID}&nonce=z9y8x7w6&ts={}&version=8",
            now()
        );
        let r = self
            .http
            .get(format!("{}?{q}", self.url(region, "/api/user/device")))
            .header("Authorization", format!("Bearer {at}"))
            .send()
            .await
            .unwrap();
        Self::json(r).await
    }
}

// ============================== signatures ==============================

#[tokio::test]
async fn documented_v2_vectors_are_accepted_byte_for_byte() {
    let ck = coolkit().await;
    // Vector 3 (compact) and 4 (spaced): the server verifies the exact bytes it receives, so
    // both pass the signature check and reach the user lookup (the doc's user does not exist).
    for (body, sig) in [
        (
            r#"{"email":"1234@gmail.com","password":"12345678","countryCode":"+1"}"#,
            "ttZ/gluzqrafvGonjMD20p4//arW6KoZKbo1SOMEzCA=",
        ),
        (
            r#"{"email": "1234@gmail.com", "password": "12345678", "countryCode": "+1"}"#,
            "cE/Wl57Ithy21Elieq5wFsYwJWl2IrkBxlmuCnwI73c=",
        ),
    ] {
        let r = ck
            .v2_post("us", "/v2/user/login", DOC_APPID, sig, body)
            .await;
        assert_eq!(r["error"], 10003, "{r}");
    }
}

#[tokio::test]
async fn v2_signature_over_other_bytes_than_sent_is_rejected() {
    let ck = coolkit().await;
    let compact = r#"{"email":"alice@example.com","password":"secret123","countryCode":"+1"}"#;
    let spaced = r#"{"email": "alice@example.com", "password": "secret123", "countryCode": "+1"}"#;
    // Signed the compact form, sent the spaced one: same JSON, different bytes.
    let r = ck
        .v2_post(
            "us",
            "/v2/user/login",
            APPID,
            &sign(SECRET, compact.as_bytes()),
            spaced,
        )
        .await;
    assert_eq!(
        r,
        json!({"error": 400, "msg": "sign verification failed", "data": {}})
    );
    // The same bytes signed and sent: accepted.
    let r = ck
        .v2_post(
            "us",
            "/v2/user/login",
            APPID,
            &sign(SECRET, spaced.as_bytes()),
            spaced,
        )
        .await;
    assert_eq!(r["error"], 0, "{r}");
}

#[tokio::test]
async fn v2_wrong_secret_unknown_app_and_missing_appid_are_rejected() {
    let ck = coolkit().await;
    let body = json!({"countryCode": "+1", "email": ALICE, "password": "secret123"}).to_string();
    let wrong_secret = sign(DOC_SECRET, body.as_bytes());
    let r = ck
        .v2_post("us", "/v2/user/login", APPID, &wrong_secret, &body)
        .await;
    assert_eq!(r["error"], 400);
    assert_eq!(r["msg"], "sign verification failed");

    let r = ck
        .v2_post(
            "us",
            "/v2/user/login",
            "NotAnAppId",
            &sign(SECRET, body.as_bytes()),
            &body,
        )
        .await;
    assert_eq!(r["error"], 407);
    assert!(
        r["msg"]
            .as_str()
            .unwrap()
            .contains("not allowed with appid:NotAnAppId")
    );

    let r = ck
        .http
        .post(ck.url("us", "/v2/user/login"))
        .header(
            "Authorization",
            format!("Sign {}", sign(SECRET, body.as_bytes())),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(Ck::json(r).await["error"], 400);
}

#[tokio::test]
async fn v1_signature_checks() {
    let ck = coolkit().await;
    let body = Ck::v1_login_body(ALICE, "secret123", now());
    // Wrong key.
    let r = ck
        .v1_post("us", &body, &sign(DOC_SECRET, body.as_bytes()))
        .await;
    assert_eq!(r["error"], 406, "{r}");
    // Signature over a re-serialisation with different spacing.
    let spaced =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&body).unwrap()).unwrap();
    let r = ck
        .v1_post("us", &spaced, &sign(SECRET, body.as_bytes()))
        .await;
    assert_eq!(r["error"], 406, "{r}");
    // The pretty bytes, signed as sent, are fine.
    let r = ck
        .v1_post("us", &spaced, &sign(SECRET, spaced.as_bytes()))
        .await;
    assert!(is_hex40(&r["at"]), "{r}");
    // An appid the server does not know.
    let other = body.replace(APPID, "UnknownAppId000000000000000000000");
    let r = ck
        .v1_post("us", &other, &sign(SECRET, other.as_bytes()))
        .await;
    assert_eq!(r["error"], 406);
}

// ============================== v2 login ==============================

#[tokio::test]
async fn v2_login_answers_user_tokens_and_region() {
    let ck = coolkit().await;
    let r = ck.v2_login("us", ALICE, "secret123").await;
    assert_eq!(r["error"], 0);
    assert_eq!(r["msg"], "");
    let d = &r["data"];
    assert!(is_hex40(&d["at"]) && is_hex40(&d["rt"]), "{r}");
    assert_eq!(d["region"], "us");
    assert_eq!(d["user"]["email"], ALICE);
    assert!(d["user"]["apikey"].is_string());
}

#[tokio::test]
async fn v2_login_redirects_a_user_of_another_region() {
    let ck = coolkit().await;
    let r = ck.v2_login("us", BOB, "hunter22").await;
    assert_eq!(
        r,
        json!({"error": 10004, "msg": "redirection", "data": {"region": "eu"}})
    );
    let r = ck.v2_login("eu", BOB, "hunter22").await;
    assert_eq!(r["error"], 0);
    assert_eq!(r["data"]["region"], "eu");
}

#[tokio::test]
async fn v2_login_errors() {
    let ck = coolkit().await;
    assert_eq!(ck.v2_login("us", ALICE, "wrong").await["error"], 10001);
    assert_eq!(
        ck.v2_login("us", "nobody@example.com", "x").await["error"],
        10003
    );
    // countryCode is required.
    let r = ck
        .v2_signed(
            "us",
            "/v2/user/login",
            &json!({"email": ALICE, "password": "secret123"}),
        )
        .await;
    assert_eq!(r["error"], 400);
    // Phone login of the cn account.
    let body = json!({"countryCode": "+86", "phoneNumber": CN_PHONE, "password": "secret123"});
    assert_eq!(
        ck.v2_signed("cn", "/v2/user/login", &body).await["error"],
        0
    );
    // Unknown region prefix.
    let r = ck
        .http
        .post(ck.url("mars", "/v2/user/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

// ============================== v2 tokens ==============================

#[tokio::test]
async fn v2_refresh_rotates_rt_and_replaces_at() {
    let ck = coolkit().await;
    let (at1, rt1) = ck.v2_session("us", ALICE, "secret123").await;
    let r = ck.v2_refresh("us", &rt1).await;
    assert_eq!(r["error"], 0, "{r}");
    let (at2, rt2) = (
        r["data"]["at"].as_str().unwrap(),
        r["data"]["rt"].as_str().unwrap(),
    );
    assert!(at2 != at1 && rt2 != rt1);

    assert_eq!(ck.v2_profile("us", at2).await["error"], 0);
    assert_eq!(
        ck.v2_profile("us", &at1).await["error"],
        401,
        "the old at is gone"
    );
    assert_eq!(
        ck.v2_refresh("us", &rt1).await["error"],
        401,
        "stale rt after rotation"
    );
    assert_eq!(
        ck.v2_refresh("us", rt2).await["error"],
        0,
        "the new rt works"
    );
}

/// Crash tolerance (the simulator's choice, see `coolkit/mod.rs`): a client that dies after the
/// server answered a refresh, before it stored the answer, still holds a working pair.
#[tokio::test]
async fn v2_the_previous_pair_stays_valid_until_the_new_one_is_presented() {
    let ck = coolkit().await;
    let (at1, rt1) = ck.v2_session("us", ALICE, "secret123").await;
    let r = ck.v2_refresh("us", &rt1).await;
    let (at2, rt2) = (
        r["data"]["at"].as_str().unwrap().to_owned(),
        r["data"]["rt"].as_str().unwrap().to_owned(),
    );
    // The answer was "lost": the old pair still works, and refreshing with it again gives
    // another pair; the never-used one dies.
    assert_eq!(
        ck.v2_profile("us", &at1).await["error"],
        0,
        "old at in grace"
    );
    let r = ck.v2_refresh("us", &rt1).await;
    assert_eq!(r["error"], 0, "old rt in grace: {r}");
    let (at3, rt3) = (
        r["data"]["at"].as_str().unwrap().to_owned(),
        r["data"]["rt"].as_str().unwrap().to_owned(),
    );
    assert!(at3 != at2 && rt3 != rt2);
    assert_eq!(
        ck.v2_profile("us", &at2).await["error"],
        401,
        "the unused pair died"
    );
    assert_eq!(ck.v2_refresh("us", &rt2).await["error"], 401);
    assert_eq!(
        ck.v2_profile("us", &at1).await["error"],
        0,
        "still in grace"
    );

    // Presenting the new rt ends the grace: the old pair is gone for good.
    let r = ck.v2_refresh("us", &rt3).await;
    assert_eq!(r["error"], 0, "{r}");
    let rt4 = r["data"]["rt"].as_str().unwrap().to_owned();
    assert_eq!(ck.v2_profile("us", &at1).await["error"], 401);
    assert_eq!(ck.v2_refresh("us", &rt1).await["error"], 401, "stale rt");
    // at3/rt3 are now the previous pair of at4/rt4, in grace until those are used.
    assert_eq!(ck.v2_profile("us", &at3).await["error"], 0);
    assert_eq!(ck.v2_refresh("us", &rt4).await["error"], 0);
    assert_eq!(ck.v2_profile("us", &at3).await["error"], 401);
    assert_eq!(ck.v2_refresh("us", &rt3).await["error"], 401);
}

#[tokio::test]
async fn v2_grace_ends_when_the_new_at_is_presented_and_expire_covers_both_pairs() {
    let ck = coolkit().await;
    let (at1, rt1) = ck.v2_session("us", ALICE, "secret123").await;
    let r = ck.v2_refresh("us", &rt1).await;
    let at2 = r["data"]["at"].as_str().unwrap().to_owned();
    ck.control("/__sim/expire", json!({"user": ALICE})).await;
    assert_eq!(
        ck.v2_profile("us", &at1).await["error"],
        402,
        "old at expired too"
    );
    assert_eq!(ck.v2_profile("us", &at2).await["error"], 402);

    let (at1, rt1) = ck.v2_session("us", ALICE, "secret123").await;
    let r = ck.v2_refresh("us", &rt1).await;
    let at2 = r["data"]["at"].as_str().unwrap().to_owned();
    assert_eq!(ck.v2_profile("us", &at2).await["error"], 0);
    assert_eq!(ck.v2_profile("us", &at1).await["error"], 401);
    assert_eq!(ck.v2_refresh("us", &rt1).await["error"], 401);
    // Revoke drops both pairs.
    let (at1, rt1) = ck.v2_session("us", ALICE, "secret123").await;
    let r = ck.v2_refresh("us", &rt1).await;
    let rt2 = r["data"]["rt"].as_str().unwrap().to_owned();
    ck.control("/__sim/revoke", json!({"user": ALICE})).await;
    assert_eq!(ck.v2_profile("us", &at1).await["error"], 401);
    assert_eq!(ck.v2_refresh("us", &rt1).await["error"], 401);
    assert_eq!(ck.v2_refresh("us", &rt2).await["error"], 401);
}

#[tokio::test]
async fn v2_refresh_without_rotation_keeps_rt() {
    let ck = coolkit().await;
    let c = ck
        .control("/__sim/config", json!({"rotate_rt": false}))
        .await;
    assert_eq!(c["rotate_rt"], false);
    assert!(c["at_lifetime_secs"].is_i64());
    let (_, rt) = ck.v2_session("us", ALICE, "secret123").await;
    for _ in 0..2 {
        let r = ck.v2_refresh("us", &rt).await;
        assert_eq!(r["data"]["rt"], rt.as_str());
    }
}

#[tokio::test]
async fn v2_expiry_follows_the_sim_clock() {
    let ck = coolkit().await;
    ck.control(
        "/__sim/config",
        json!({"at_lifetime_secs": 60, "rt_lifetime_secs": 600}),
    )
    .await;
    let (at, rt) = ck.v2_session("us", ALICE, "secret123").await;
    assert_eq!(ck.v2_profile("us", &at).await["error"], 0);

    ck.advance_clock(61).await;
    assert_eq!(ck.v2_profile("us", &at).await["error"], 402, "at expired");
    let r = ck.v2_refresh("us", &rt).await;
    assert_eq!(r["error"], 0, "rt still good: {r}");
    let rt = r["data"]["rt"].as_str().unwrap().to_owned();
    assert_eq!(
        ck.v2_profile("us", r["data"]["at"].as_str().unwrap()).await["error"],
        0
    );

    ck.advance_clock(601).await;
    let r = ck.v2_refresh("us", &rt).await;
    assert_eq!(r["error"], 402, "rt expired: {r}");
}

#[tokio::test]
async fn default_lifetimes_are_one_and_two_months() {
    let ck = coolkit().await;
    let (at, rt) = ck.v2_session("us", ALICE, "secret123").await;
    ck.advance_clock(30 * 86400 - 60).await;
    assert_eq!(ck.v2_profile("us", &at).await["error"], 0);
    ck.advance_clock(120).await;
    assert_eq!(ck.v2_profile("us", &at).await["error"], 402);
    ck.advance_clock(30 * 86400 - 120).await;
    assert_eq!(
        ck.v2_refresh("us", &rt).await["error"],
        0,
        "rt lives 60 days"
    );
}

#[tokio::test]
async fn v2_profile_validation() {
    let ck = coolkit().await;
    let (at, _) = ck.v2_session("us", ALICE, "secret123").await;
    let r = ck.v2_profile("us", &at).await;
    assert_eq!(r["data"]["region"], "us");
    assert_eq!(r["data"]["user"]["email"], ALICE);
    assert_eq!(
        ck.v2_profile("us", "0000000000000000000000000000000000000000")
            .await["error"],
        401
    );
    assert_eq!(
        ck.v2_profile("eu", &at).await["error"],
        401,
        "a token belongs to its region"
    );
    assert_eq!(ck.v2_profile("us", "").await["error"], 401);

    ck.control("/__sim/expire", json!({"user": ALICE})).await;
    assert_eq!(ck.v2_profile("us", &at).await["error"], 402);
    let (at, _) = ck.v2_session("us", ALICE, "secret123").await;
    let r = ck.control("/__sim/revoke", json!({"user": ALICE})).await;
    assert_eq!(r["revoked"], 1);
    assert_eq!(ck.v2_profile("us", &at).await["error"], 401);
}

#[tokio::test]
async fn a_new_login_of_the_same_app_logs_the_old_client_out() {
    let ck = coolkit().await;
    let (at1, rt1) = ck.v2_session("us", ALICE, "secret123").await;
    let (at2, _) = ck.v2_session("us", ALICE, "secret123").await;
    assert_eq!(
        ck.v2_profile("us", &at1).await["error"],
        401,
        "logged in elsewhere"
    );
    assert_eq!(ck.v2_refresh("us", &rt1).await["error"], 401);
    assert_eq!(ck.v2_profile("us", &at2).await["error"], 0);
}

#[tokio::test]
async fn v2_logout_invalidates_at_and_rt() {
    let ck = coolkit().await;
    let (at, rt) = ck.v2_session("us", ALICE, "secret123").await;
    assert_eq!(
        ck.v2_logout("us", &at).await,
        json!({"error": 0, "msg": "", "data": {}})
    );
    assert_eq!(ck.v2_profile("us", &at).await["error"], 401);
    assert_eq!(ck.v2_refresh("us", &rt).await["error"], 401);
    assert_eq!(ck.v2_logout("us", &at).await["error"], 401);
}

#[tokio::test]
async fn password_change_through_control() {
    let ck = coolkit().await;
    ck.control(
        "/__sim/password",
        json!({"user": ALICE, "password": "n3w-pass"}),
    )
    .await;
    assert_eq!(ck.v2_login("us", ALICE, "secret123").await["error"], 10001);
    assert_eq!(ck.v2_login("us", ALICE, "n3w-pass").await["error"], 0);
}

// ============================== v1 ==============================

#[tokio::test]
async fn v1_login_success_shape() {
    let ck = coolkit().await;
    let r = ck.v1_login("us", ALICE, "secret123").await;
    assert!(r.get("error").is_none(), "no error key on success: {r}");
    assert!(is_hex40(&r["at"]) && is_hex40(&r["rt"]));
    assert_eq!(r["region"], "us");
    assert!(r["user"]["apikey"].is_string());
    assert_eq!(r["user"]["appId"], APPID);

    let r = ck.v1_login("cn", CN_PHONE, "secret123").await;
    assert_eq!(r["user"]["phoneNumber"], CN_PHONE, "{r}");
}

#[tokio::test]
async fn v1_login_errors() {
    let ck = coolkit().await;
    assert_eq!(
        ck.v1_login("us", BOB, "hunter22").await,
        json!({"error": 301, "region": "eu"})
    );
    assert!(is_hex40(&ck.v1_login("eu", BOB, "hunter22").await["at"]));
    assert_eq!(
        ck.v1_login("us", ALICE, "nope").await,
        json!({"error": 401, "info": "user is null in local"})
    );
    assert_eq!(
        ck.v1_login("us", "ghost@example.com", "x").await,
        json!({"error": 404, "msg": "user is not exit"})
    );

    // Missing password, bad nonce, version 6: 400.
    for body in [
        json!({"appid": APPID, "nonce": "a1b2c3d4", "ts": now(), "version": 8, "email": ALICE}),
        json!({"appid": APPID, "nonce": "short", "ts": now(), "version": 8, "email": ALICE, "password": "secret123"}),
        json!({"appid": APPID, "nonce": "a1b2c3d4", "ts": now(), "version": 6, "email": ALICE, "password": "secret123"}),
    ] {
        let raw = body.to_string();
        let r = ck.v1_post("us", &raw, &sign(SECRET, raw.as_bytes())).await;
        assert_eq!(r["error"], 400, "{raw} → {r}");
    }
    // A stale timestamp (10 minutes off).
    let raw = Ck::v1_login_body(ALICE, "secret123", now() - 600);
    let r = ck.v1_post("us", &raw, &sign(SECRET, raw.as_bytes())).await;
    assert_eq!(r["error"], 406, "{r}");
}

#[tokio::test]
async fn v1_refresh_is_a_signed_get_with_a_new_at_and_the_same_rt() {
    let ck = coolkit().await;
    let login = ck.v1_login("us", ALICE, "secret123").await;
    let (at, rt) = (login["at"].as_str().unwrap(), login["rt"].as_str().unwrap());

    let r = ck.v1_refresh("us", rt).await;
    assert!(is_hex40(&r["at"]), "{r}");
    assert_ne!(r["at"], at);
    assert_eq!(r["rt"], rt);
    assert_eq!(r["region"], "us");
    assert_eq!(r["user"]["email"], ALICE);
    assert_eq!(
        ck.v1_device("us", at).await["error"],
        0,
        "the old at stays valid until the new one is presented"
    );
    assert_eq!(
        ck.v1_device("us", r["at"].as_str().unwrap()).await["error"],
        0
    );
    assert_eq!(
        ck.v1_device("us", at).await["error"],
        401,
        "the old at is replaced once the new one was used"
    );

    // The same query signed over unsorted parameters is refused.
    let ts = now();
    let q = format!("rt={rt}&grantType=refresh&appid={APPID}&nonce=q3wz95p6&ts={ts}&version=8");
    let resp = ck
        .http
        .get(format!("{}?{q}", ck.url("us", "/api/user/refresh")))
        .header(
            "Authorization",
            format!("Sign {}", sign(SECRET, q.as_bytes())),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(Ck::json(resp).await["error"], 406);
    assert_eq!(
        ck.v1_refresh("us", "ffffffffffffffffffffffffffffffffffffffff")
            .await["error"],
        401
    );
}

#[tokio::test]
async fn v1_expired_rt_is_402_even_when_the_client_stamps_real_time() {
    let ck = coolkit().await;
    ck.control("/__sim/config", json!({"rt_lifetime_secs": 3600}))
        .await;
    let login = ck.v1_login("us", ALICE, "secret123").await;
    ck.advance_clock(3601).await;
    // The ts is real time, 1 h behind the sim clock: still accepted, and the rt is expired.
    assert_eq!(
        ck.v1_refresh("us", login["rt"].as_str().unwrap()).await["error"],
        402
    );
}

#[tokio::test]
async fn v1_device_list_validates_the_at() {
    let ck = coolkit().await;
    let at = ck.v1_login("us", ALICE, "secret123").await["at"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = ck.v1_device("us", &at).await;
    assert_eq!(r["error"], 0);
    assert!(r["devicelist"].is_array());

    assert_eq!(
        ck.v1_device("us", "").await,
        json!({"error": 406, "msg": "{\"error\":401,\"msg\":\"Bearer:accessToken is empty\"}"})
    );
    ck.control("/__sim/expire", json!({"user": ALICE})).await;
    assert_eq!(ck.v1_device("us", &at).await["error"], 402);
    ck.control("/__sim/revoke", json!({"user": ALICE})).await;
    assert_eq!(ck.v1_device("us", &at).await["error"], 401);
}

#[tokio::test]
async fn v1_region_lookup_on_the_global_host() {
    let ck = coolkit().await;
    let ts = now().to_string();
    let q = format!("appid={APPID}&country_code=86&nonce=q3wz95p6&ts={ts}&version=8");
    let r = ck
        .http
        .get(format!("{}/api/user/region?{q}", ck.root))
        .header(
            "Authorization",
            format!("Sign {}", sign(SECRET, q.as_bytes())),
        )
        .send()
        .await
        .unwrap();
    let r = Ck::json(r).await;
    assert_eq!(
        r,
        json!({"region": "cn", "error": 0, "requestid": format!("q3wz95p6-{ts}")})
    );
    let r = ck
        .v1_signed_get("eu", "/api/user/region", &[("country_code", "44")])
        .await;
    assert_eq!(r["region"], "eu");
}

#[tokio::test]
async fn stats_count_requests_per_route() {
    let ck = coolkit().await;
    let (_, rt) = ck.v2_session("us", ALICE, "secret123").await;
    ck.v2_refresh("us", &rt).await;
    ck.v1_login("us", ALICE, "secret123").await;
    let s = ck.stats().await;
    assert_eq!(s["coolkit.v2.login"], 1);
    assert_eq!(s["coolkit.v2.refresh"], 1);
    assert_eq!(s["coolkit.v1.login"], 1);
}
