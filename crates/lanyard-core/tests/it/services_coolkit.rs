//! CoolKit (v1 and v2) against the in-process simulator over real HTTP on loopback.

use std::collections::BTreeMap;

use chrono::{TimeDelta, Utc};
use lanyard_core::model::NeedsLoginReason;
use lanyard_core::services::{Credential, LoginOutcome, Service, Validation, coolkit::Coolkit};
use lanyard_core::{Account, ErrorCode, Result, SecretString, ServiceId, Session};
use lanyard_sim::control::{FaultBody, FaultSpec, SimControl, UserAction};

use crate::support::{Sim, account, ctx, done, fails_with, secrets, sim};

const APPID: &str = "LanyardDemoAppId0000000000000001";
const APPSECRET: &str = "LanyardDemoAppSecret000000000001";

const ALICE: &str = "alice@example.com"; // region us, secret123
const BOB: &str = "bob@example.com"; // region eu, hunter22
const PHONE: &str = "+8613800000001"; // region cn, secret123

/// One CoolKit account on the simulator, with its app secret.
struct Ck {
    sim: Sim,
    account: Account,
    secrets: BTreeMap<String, SecretString>,
}

async fn coolkit(api: &str, user: &str, region: &str) -> Ck {
    let sim = sim().await;
    let template = sim.endpoints().coolkit.clone();
    let account = account(
        ServiceId::Coolkit,
        user,
        &template,
        &[("api", api), ("appid", APPID), ("region", region)],
    );
    Ck {
        sim,
        account,
        secrets: secrets(&[("appsecret", APPSECRET)]),
    }
}

impl Ck {
    async fn login(&self, password: &str) -> Result<LoginOutcome> {
        let ctx = ctx(&self.sim.http, &self.account, &self.secrets);
        Coolkit
            .begin_login(&ctx, Some(&SecretString::new(password)))
            .await
            .map(done)
    }
    async fn refresh(&self, session: &Session) -> Result<LoginOutcome> {
        Coolkit
            .refresh(&ctx(&self.sim.http, &self.account, &self.secrets), session)
            .await
    }
    async fn validate(&self, session: &Session) -> Result<Validation> {
        Coolkit
            .validate(&ctx(&self.sim.http, &self.account, &self.secrets), session)
            .await
    }
    async fn logout(&self, session: &Session) -> Result<()> {
        Coolkit
            .logout(&ctx(&self.sim.http, &self.account, &self.secrets), session)
            .await
    }
    fn control(&self) -> SimControl {
        self.sim.control(&self.sim.endpoints().coolkit)
    }
    /// The Manager's part after a login: remember what the service learnt.
    fn remember(&mut self, outcome: &LoginOutcome) {
        for (k, v) in &outcome.remember_options {
            self.account.options.insert(k.clone(), v.clone());
        }
    }
}

async fn assert_valid(ck: &Ck, session: &Session) {
    match ck.validate(session).await.expect("validate") {
        Validation::Valid(_) => {}
        other => panic!("expected a valid session, got {other:?}"),
    }
}

async fn assert_invalid(ck: &Ck, session: &Session, expected: NeedsLoginReason) {
    match ck.validate(session).await.expect("validate") {
        Validation::Invalid(reason) => assert_eq!(reason, expected),
        other => panic!("expected Invalid({expected:?}), got {other:?}"),
    }
}

fn close_to(t: Option<chrono::DateTime<Utc>>, expected: chrono::DateTime<Utc>) -> bool {
    t.is_some_and(|t| (t - expected).num_seconds().abs() < 120)
}

// ---------------------------------------------------------------- login

#[tokio::test]
async fn v2_login_gives_tokens_expiries_region_and_a_bearer_credential() {
    let ck = coolkit("v2", ALICE, "us").await;
    let out = ck.login("secret123").await.expect("login");
    let s = &out.session;
    assert!(!s.tokens.access.is_empty());
    assert!(s.tokens.refresh.as_ref().is_some_and(|rt| !rt.is_empty()));
    let now = Utc::now();
    assert!(
        close_to(s.info.expires_at, now + TimeDelta::days(30)),
        "{:?}",
        s.info.expires_at
    );
    assert!(close_to(
        s.info.refresh_expires_at,
        now + TimeDelta::days(60)
    ));
    assert_eq!(
        out.remember_options.get("region").map(String::as_str),
        Some("us")
    );
    assert!(s.info.display_name.is_some());
    match Coolkit.credential(&ck.account, s) {
        Credential::Header { name, value } => {
            assert_eq!(name, "Authorization");
            assert_eq!(
                value.expose(),
                format!("Bearer {}", s.tokens.access.expose())
            );
        }
        other => panic!("{other:?}"),
    }
    assert_valid(&ck, s).await;
    ck.sim.shutdown().await;
}

#[tokio::test]
async fn v1_login_and_validation() {
    let ck = coolkit("v1", ALICE, "us").await;
    let out = ck.login("secret123").await.expect("login");
    assert_eq!(
        out.session.info.extra.get("api").map(String::as_str),
        Some("v1")
    );
    assert_valid(&ck, &out.session).await;
    ck.sim.shutdown().await;
}

#[tokio::test]
async fn v1_and_v2_log_in_with_a_phone_number() {
    for api in ["v1", "v2"] {
        let ck = coolkit(api, PHONE, "cn").await;
        let out = ck
            .login("secret123")
            .await
            .unwrap_or_else(|e| panic!("{api}: {}", e.display_line()));
        assert_valid(&ck, &out.session).await;
        ck.sim.shutdown().await;
    }
}

#[tokio::test]
async fn wrong_password_is_rejected_with_the_server_words() {
    let ck = coolkit("v2", ALICE, "us").await;
    let e = fails_with(ck.login("nope").await, ErrorCode::CredentialsRejected);
    assert_eq!(e.server_message.as_deref(), Some("wrong password"));
    ck.sim.shutdown().await;

    let ck = coolkit("v1", ALICE, "us").await;
    let e = fails_with(ck.login("nope").await, ErrorCode::CredentialsRejected);
    assert_eq!(e.server_message.as_deref(), Some("user is null in local"));
    ck.sim.shutdown().await;
}

#[tokio::test]
async fn unknown_user_is_rejected() {
    for api in ["v1", "v2"] {
        let ck = coolkit(api, "nobody@example.com", "us").await;
        let e = fails_with(ck.login("x").await, ErrorCode::CredentialsRejected);
        assert!(
            e.server_message.is_some(),
            "{api}: the server's words are kept"
        );
        ck.sim.shutdown().await;
    }
}

#[tokio::test]
async fn region_redirect_is_followed_and_remembered() {
    for api in ["v2", "v1"] {
        let mut ck = coolkit(api, BOB, "us").await;
        let out = ck
            .login("hunter22")
            .await
            .unwrap_or_else(|e| panic!("{api}: {}", e.display_line()));
        assert_eq!(
            out.remember_options.get("region").map(String::as_str),
            Some("eu"),
            "{api}"
        );
        assert_eq!(
            out.session.info.extra.get("region").map(String::as_str),
            Some("eu")
        );
        // Keep-alive talks to the region that issued the tokens.
        assert_valid(&ck, &out.session).await;
        ck.refresh(&out.session).await.expect("refresh at eu");
        // The next login starts at the remembered region: no redirect hop.
        ck.remember(&out);
        let login_route = format!("coolkit.{api}.login");
        let before = ck.control().stats().await.unwrap().count(&login_route);
        ck.login("hunter22").await.expect("second login");
        assert_eq!(
            ck.control().stats().await.unwrap().count(&login_route),
            before + 1,
            "{api}"
        );
        ck.sim.shutdown().await;
    }
}

#[tokio::test]
async fn wrong_appsecret_says_to_check_the_app_credentials() {
    for api in ["v2", "v1"] {
        let mut ck = coolkit(api, ALICE, "us").await;
        ck.secrets = secrets(&[("appsecret", "not-the-secret")]);
        let e = fails_with(ck.login("secret123").await, ErrorCode::InvalidInput);
        assert!(e.message.contains("appsecret"), "{api}: {}", e.message);
        assert!(!e.display_line().contains("not-the-secret"));
        ck.sim.shutdown().await;
    }
}

#[tokio::test]
async fn unknown_appid_is_an_input_error() {
    for api in ["v2", "v1"] {
        let mut ck = coolkit(api, ALICE, "us").await;
        ck.account
            .options
            .insert("appid".into(), "SomeoneElsesAppId".into());
        let e = fails_with(ck.login("secret123").await, ErrorCode::InvalidInput);
        assert!(e.message.contains("app id"), "{api}: {}", e.message);
        ck.sim.shutdown().await;
    }
}

#[tokio::test]
async fn missing_app_credentials_are_reported_before_any_request() {
    let mut ck = coolkit("v2", ALICE, "us").await;
    ck.secrets.clear();
    let e = fails_with(ck.login("secret123").await, ErrorCode::InvalidInput);
    assert!(e.message.contains("appsecret"));
    ck.account.options.remove("appid");
    let e = fails_with(ck.login("secret123").await, ErrorCode::InvalidInput);
    assert!(e.message.contains("appid"));
    ck.sim.shutdown().await;
}

// ---------------------------------------------------------------- refresh

#[tokio::test]
async fn v2_refresh_rotates_the_rt_and_the_old_one_is_dead() {
    let ck = coolkit("v2", ALICE, "us").await;
    let first = ck.login("secret123").await.expect("login").session;
    let second = ck.refresh(&first).await.expect("refresh").session;
    let (rt1, rt2) = (
        first.tokens.refresh.as_ref().unwrap(),
        second.tokens.refresh.as_ref().unwrap(),
    );
    assert_ne!(rt1.expose(), rt2.expose(), "the rotated rt is returned");
    assert_ne!(first.tokens.access.expose(), second.tokens.access.expose());
    assert!(close_to(
        second.info.expires_at,
        Utc::now() + TimeDelta::days(30)
    ));
    assert!(second.info.refresh_expires_at >= first.info.refresh_expires_at);

    assert_valid(&ck, &second).await;
    assert_invalid(&ck, &first, NeedsLoginReason::Revoked).await;
    // The old rt is rejected; the new one keeps working.
    fails_with(ck.refresh(&first).await, ErrorCode::NeedsLogin);
    let third = ck
        .refresh(&second)
        .await
        .expect("refresh with the rotated rt")
        .session;
    assert_valid(&ck, &third).await;
    ck.sim.shutdown().await;
}

#[tokio::test]
async fn v1_refresh_renews_the_at_and_keeps_the_rt() {
    let ck = coolkit("v1", ALICE, "us").await;
    let first = ck.login("secret123").await.expect("login").session;
    let second = ck.refresh(&first).await.expect("refresh").session;
    assert_ne!(first.tokens.access.expose(), second.tokens.access.expose());
    assert_eq!(
        first.tokens.refresh.as_ref().unwrap().expose(),
        second.tokens.refresh.as_ref().unwrap().expose()
    );
    assert_eq!(
        second.info.refresh_expires_at, first.info.refresh_expires_at,
        "rt not rotated: expiry kept"
    );
    assert_valid(&ck, &second).await;
    assert_invalid(&ck, &first, NeedsLoginReason::Revoked).await;
    ck.sim.shutdown().await;
}

// ---------------------------------------------------------------- validation and expiry

#[tokio::test]
async fn revoked_tokens_are_invalid_and_cannot_be_refreshed() {
    for api in ["v2", "v1"] {
        let ck = coolkit(api, ALICE, "us").await;
        let s = ck.login("secret123").await.expect("login").session;
        ck.control().revoke(ALICE).await.unwrap();
        assert_invalid(&ck, &s, NeedsLoginReason::Revoked).await;
        fails_with(ck.refresh(&s).await, ErrorCode::NeedsLogin);
        ck.sim.shutdown().await;
    }
}

#[tokio::test]
async fn an_expired_at_is_reported_and_refresh_renews_it() {
    for api in ["v2", "v1"] {
        let ck = coolkit(api, ALICE, "us").await;
        let s = ck.login("secret123").await.expect("login").session;
        ck.control()
            .expire(&UserAction {
                user: ALICE.into(),
                refresh: false,
            })
            .await
            .unwrap();
        assert_invalid(&ck, &s, NeedsLoginReason::Expired).await;
        let renewed = ck.refresh(&s).await.expect("refresh").session;
        assert_valid(&ck, &renewed).await;
        ck.sim.shutdown().await;
    }
}

#[tokio::test]
async fn an_expired_rt_needs_a_login() {
    for api in ["v2", "v1"] {
        let ck = coolkit(api, ALICE, "us").await;
        let s = ck.login("secret123").await.expect("login").session;
        ck.control()
            .expire(&UserAction {
                user: ALICE.into(),
                refresh: true,
            })
            .await
            .unwrap();
        fails_with(ck.refresh(&s).await, ErrorCode::NeedsLogin);
        ck.sim.shutdown().await;
    }
}

#[tokio::test]
async fn time_passing_on_the_server_expires_the_at() {
    let ck = coolkit("v2", ALICE, "us").await;
    let s = ck.login("secret123").await.expect("login").session;
    ck.control().advance_clock(31 * 24 * 3600).await.unwrap();
    assert_invalid(&ck, &s, NeedsLoginReason::Expired).await;
    let renewed = ck
        .refresh(&s)
        .await
        .expect("the rt outlives the at")
        .session;
    assert_valid(&ck, &renewed).await;
    ck.control().advance_clock(61 * 24 * 3600).await.unwrap();
    fails_with(ck.refresh(&renewed).await, ErrorCode::NeedsLogin);
    ck.sim.shutdown().await;
}

#[tokio::test]
async fn a_new_login_elsewhere_invalidates_the_old_session() {
    let ck = coolkit("v2", ALICE, "us").await;
    let old = ck.login("secret123").await.expect("login").session;
    let new = ck.login("secret123").await.expect("second login").session;
    assert_invalid(&ck, &old, NeedsLoginReason::Revoked).await;
    assert_valid(&ck, &new).await;
    ck.sim.shutdown().await;
}

// ---------------------------------------------------------------- logout

#[tokio::test]
async fn v2_logout_ends_the_session_on_the_server() {
    let ck = coolkit("v2", ALICE, "us").await;
    let s = ck.login("secret123").await.expect("login").session;
    ck.logout(&s).await.expect("logout");
    assert_invalid(&ck, &s, NeedsLoginReason::Revoked).await;
    fails_with(ck.refresh(&s).await, ErrorCode::NeedsLogin);
    // Logging out a dead session is not an error.
    ck.logout(&s).await.expect("second logout");
    ck.sim.shutdown().await;
}

#[tokio::test]
async fn v1_logout_is_local_only() {
    let ck = coolkit("v1", ALICE, "us").await;
    let s = ck.login("secret123").await.expect("login").session;
    ck.logout(&s).await.expect("logout");
    ck.sim.shutdown().await;
}

// ---------------------------------------------------------------- secrets stay secret

#[tokio::test]
async fn tokens_never_show_in_debug_output() {
    let ck = coolkit("v2", ALICE, "us").await;
    let out = ck.login("secret123").await.expect("login");
    let shown = format!("{out:?}");
    assert!(!shown.contains(out.session.tokens.access.expose()));
    assert!(!shown.contains(out.session.tokens.refresh.as_ref().unwrap().expose()));
    assert!(!shown.contains("secret123"));
    ck.sim.shutdown().await;
}

// ---------------------------------------------------------------- transient failures

#[tokio::test]
async fn server_faults_are_transient_and_the_next_attempt_works() {
    let ck = coolkit("v2", ALICE, "us").await;
    let s = ck.login("secret123").await.expect("login").session;
    ck.control()
        .fault(&FaultSpec {
            status: Some(503),
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let e = fails_with(ck.refresh(&s).await, ErrorCode::ServerError);
    assert!(e.code.is_transient());
    ck.control()
        .fault(&FaultSpec {
            drop: true,
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    fails_with(ck.validate(&s).await, ErrorCode::Network);
    ck.refresh(&s).await.expect("the next attempt works");
    ck.sim.shutdown().await;
}

#[tokio::test]
async fn a_malformed_answer_is_a_server_error() {
    let ck = coolkit("v1", ALICE, "us").await;
    ck.control()
        .fault(&FaultSpec {
            body: Some(FaultBody::Malformed),
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    fails_with(ck.login("secret123").await, ErrorCode::ServerError);
    ck.sim.shutdown().await;
}
