//! SiYuan (cloud account through the kernel) against the in-process simulator over real HTTP.

use std::collections::BTreeMap;

use chrono::{TimeDelta, Utc};
use lanyard_core::model::NeedsLoginReason;
use lanyard_core::services::{
    Challenge, CodeChannel, Credential, LoginOutcome, Pending, Progress, Service, Validation,
    siyuan::Siyuan,
};
use lanyard_core::{Account, ErrorCode, Result, SecretString, ServiceId, Session};
use lanyard_sim::control::{FaultBody, FaultSpec, SimControl, SiyuanConfigPatch, UserAction};
use serde_json::json;

use crate::support::{Sim, account, ctx, done, fails_with, secrets, sim};

const API_TOKEN: &str = "lanyarddemotoken";

/// One SiYuan account on the simulated kernel (captcha images from the simulated cloud host).
struct Sy {
    sim: Sim,
    account: Account,
    secrets: BTreeMap<String, SecretString>,
}

async fn siyuan(user: &str) -> Sy {
    let sim = sim().await;
    let e = sim.endpoints().clone();
    let account = account(
        ServiceId::Siyuan,
        user,
        &e.siyuan,
        &[
            ("cloud_region", "0"),
            ("captcha_endpoint", &e.siyuan_captcha),
        ],
    );
    Sy {
        sim,
        account,
        secrets: secrets(&[("api_token", API_TOKEN)]),
    }
}

impl Sy {
    async fn begin(&self, password: &str) -> Result<Progress> {
        Siyuan
            .begin_login(
                &ctx(&self.sim.http, &self.account, &self.secrets),
                Some(&SecretString::new(password)),
            )
            .await
    }
    async fn answer(&self, pending: Pending, text: &str) -> Result<Progress> {
        Siyuan
            .answer(
                &ctx(&self.sim.http, &self.account, &self.secrets),
                pending,
                &SecretString::new(text),
            )
            .await
    }
    async fn reload(&self, pending: Pending) -> Result<Progress> {
        Siyuan
            .reload_captcha(&ctx(&self.sim.http, &self.account, &self.secrets), pending)
            .await
    }
    async fn login(&self, password: &str) -> Result<LoginOutcome> {
        self.begin(password).await.map(done)
    }
    async fn refresh(&self, session: &Session) -> Result<LoginOutcome> {
        Siyuan
            .refresh(&ctx(&self.sim.http, &self.account, &self.secrets), session)
            .await
    }
    async fn validate(&self, session: &Session) -> Result<Validation> {
        Siyuan
            .validate(&ctx(&self.sim.http, &self.account, &self.secrets), session)
            .await
    }
    async fn logout(&self, session: &Session) -> Result<()> {
        Siyuan
            .logout(&ctx(&self.sim.http, &self.account, &self.secrets), session)
            .await
    }
    fn control(&self) -> SimControl {
        self.sim.control(&self.sim.endpoints().siyuan)
    }
    /// The answer to the captcha now in force (the most recent one).
    async fn captcha_answer(&self) -> String {
        self.control().captcha_answer(None).await.unwrap()
    }
    /// The TOTP code valid now.
    async fn code_for(&self, user: &str) -> String {
        self.control().last_code(user).await.unwrap().code
    }
    /// The user name the kernel holds, if any.
    async fn kernel_user(&self) -> Option<String> {
        self.control().get("/__sim/kernel-user").await.unwrap()["user"]["userName"]
            .as_str()
            .map(String::from)
    }
}

/// The captcha challenge of a progress: (image, media type, pending).
fn captcha(progress: Progress) -> (Vec<u8>, String, Pending) {
    match progress {
        Progress::Challenge {
            challenge:
                Challenge::Captcha {
                    image,
                    media_type,
                    reloadable,
                },
            pending,
        } => {
            assert!(reloadable);
            (image, media_type, pending)
        }
        other => panic!("expected a captcha, got {other:?}"),
    }
}

/// The TOTP challenge of a progress.
fn totp(progress: Progress) -> Pending {
    match progress {
        Progress::Challenge {
            challenge:
                Challenge::Code {
                    channel: CodeChannel::Totp,
                    ..
                },
            pending,
        } => pending,
        other => panic!("expected a TOTP code, got {other:?}"),
    }
}

async fn assert_valid(sy: &Sy, session: &Session) {
    match sy.validate(session).await.expect("validate") {
        Validation::Valid(_) => {}
        other => panic!("expected a valid session, got {other:?}"),
    }
}

async fn assert_invalid(sy: &Sy, session: &Session, expected: NeedsLoginReason) {
    match sy.validate(session).await.expect("validate") {
        Validation::Invalid(reason) => assert_eq!(reason, expected),
        other => panic!("expected Invalid({expected:?}), got {other:?}"),
    }
}

fn close_to(t: Option<chrono::DateTime<Utc>>, expected: chrono::DateTime<Utc>) -> bool {
    t.is_some_and(|t| (t - expected).num_seconds().abs() < 120)
}

// ---------------------------------------------------------------- login

#[tokio::test]
async fn plain_login_stores_the_cloud_user_and_its_expiry() {
    let sy = siyuan("alice").await;
    let out = sy.login("secret123").await.expect("login");
    let s = &out.session;
    assert!(!s.tokens.access.is_empty());
    assert!(s.tokens.refresh.is_none());
    assert!(
        close_to(s.info.expires_at, Utc::now() + TimeDelta::days(30)),
        "{:?}",
        s.info.expires_at
    );
    assert_eq!(s.info.display_name.as_deref(), Some("Alice"));
    assert_eq!(s.info.user_id.as_deref(), Some("1650000000001"));
    assert_eq!(
        sy.kernel_user().await.as_deref(),
        Some("alice"),
        "the kernel is logged in"
    );
    match Siyuan.credential(&sy.account, s) {
        Credential::Header { name, value } => {
            assert_eq!(name, "Cookie");
            assert_eq!(
                value.expose(),
                format!("symphony={}", s.tokens.access.expose())
            );
        }
        other => panic!("{other:?}"),
    }
    assert_valid(&sy, s).await;
    sy.sim.shutdown().await;
}

#[tokio::test]
async fn the_cloud_region_is_sent_as_a_number() {
    let mut sy = siyuan("alice").await;
    sy.account.options.insert("cloud_region".into(), "1".into());
    sy.login("secret123").await.expect("login");
    assert_eq!(
        sy.control().config().await.unwrap()["cloud_region"],
        json!(1)
    );
    sy.sim.shutdown().await;
}

#[tokio::test]
async fn wrong_password_is_rejected_with_the_server_words() {
    let sy = siyuan("alice").await;
    let e = fails_with(sy.login("nope").await, ErrorCode::CredentialsRejected);
    assert_eq!(e.server_message.as_deref(), Some("用户名或密码错误"));
    sy.sim.shutdown().await;
}

#[tokio::test]
async fn a_wrong_kernel_token_is_named_as_such() {
    let mut sy = siyuan("alice").await;
    sy.secrets = secrets(&[("api_token", "wrong-kernel-token")]);
    let e = fails_with(sy.login("secret123").await, ErrorCode::InvalidInput);
    assert!(e.message.contains("API token"), "{}", e.message);
    assert!(
        e.message.contains("not your cloud password"),
        "{}",
        e.message
    );
    assert!(!e.display_line().contains("wrong-kernel-token"));
    sy.sim.shutdown().await;
}

#[tokio::test]
async fn a_loopback_kernel_without_lock_screen_needs_no_token() {
    let mut sy = siyuan("alice").await;
    sy.secrets.clear();
    sy.login("secret123")
        .await
        .expect("login without api_token");
    sy.sim.shutdown().await;
}

// ---------------------------------------------------------------- captcha

#[tokio::test]
async fn captcha_answered_right() {
    let sy = siyuan("alice").await;
    sy.control()
        .configure(&SiyuanConfigPatch {
            captcha: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let (image, media_type, pending) = captcha(sy.begin("secret123").await.expect("begin"));
    assert_eq!(media_type, "image/png");
    assert!(image.starts_with(b"\x89PNG"));
    let answer = sy.captcha_answer().await;
    let out = done(sy.answer(pending, &answer).await.expect("answer"));
    assert_eq!(out.session.info.display_name.as_deref(), Some("Alice"));
    sy.sim.shutdown().await;
}

#[tokio::test]
async fn captcha_answered_wrong_fails_then_reload_and_retry_succeeds() {
    let sy = siyuan("alice").await;
    sy.control()
        .configure(&SiyuanConfigPatch {
            captcha: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let (_, _, pending) = captcha(sy.begin("secret123").await.expect("begin"));
    let copy = pending
        .try_clone()
        .expect("the captcha step can be retried");
    let e = fails_with(
        sy.answer(pending, "WRONG").await,
        ErrorCode::ChallengeFailed,
    );
    assert_eq!(e.server_message.as_deref(), Some("验证码错误"));
    // The caller kept a copy: a fresh image, then the right answer.
    let (image, _, pending) = captcha(sy.reload(copy).await.expect("reload"));
    assert!(!image.is_empty());
    let answer = sy.captcha_answer().await;
    done(sy.answer(pending, &answer).await.expect("second answer"));
    sy.sim.shutdown().await;
}

#[tokio::test]
async fn captcha_with_a_wrong_password_fails_with_the_server_words() {
    let sy = siyuan("alice").await;
    sy.control()
        .configure(&SiyuanConfigPatch {
            captcha: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let (_, _, pending) = captcha(sy.begin("nope").await.expect("begin"));
    let answer = sy.captcha_answer().await;
    // The right captcha with a wrong password: the cloud asks for a new captcha again, and
    // only its message says it was the password.
    let e = fails_with(
        sy.answer(pending, &answer).await,
        ErrorCode::ChallengeFailed,
    );
    assert_eq!(e.server_message.as_deref(), Some("用户名或密码错误"));
    sy.sim.shutdown().await;
}

// ---------------------------------------------------------------- 2FA

#[tokio::test]
async fn two_factor_code_right() {
    let sy = siyuan("bob").await;
    let pending = totp(sy.begin("hunter22").await.expect("begin"));
    let code = sy.code_for("bob").await;
    let out = done(sy.answer(pending, &code).await.expect("answer"));
    assert_eq!(out.session.info.display_name.as_deref(), Some("Bob"));
    assert_eq!(sy.kernel_user().await.as_deref(), Some("bob"));
    assert_valid(&sy, &out.session).await;
    sy.sim.shutdown().await;
}

#[tokio::test]
async fn two_factor_code_wrong_fails_and_the_step_can_be_retried() {
    let sy = siyuan("bob").await;
    let pending = totp(sy.begin("hunter22").await.expect("begin"));
    let copy = pending.try_clone().expect("the 2FA step can be retried");
    let right = sy.code_for("bob").await;
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let e = fails_with(sy.answer(pending, wrong).await, ErrorCode::ChallengeFailed);
    assert_eq!(e.server_message.as_deref(), Some("两步验证码错误"));
    done(
        sy.answer(copy, &right)
            .await
            .expect("retry with the right code"),
    );
    sy.sim.shutdown().await;
}

// ---------------------------------------------------------------- refresh

#[tokio::test]
async fn refresh_adopts_the_rotated_token() {
    let sy = siyuan("alice").await;
    let first = sy.login("secret123").await.expect("login").session;
    let second = sy.refresh(&first).await.expect("refresh").session;
    assert_ne!(
        first.tokens.access.expose(),
        second.tokens.access.expose(),
        "the simulator rotates"
    );
    assert!(close_to(
        second.info.expires_at,
        Utc::now() + TimeDelta::days(30)
    ));
    assert_eq!(second.info.display_name.as_deref(), Some("Alice"));
    assert_valid(&sy, &second).await;
    assert_invalid(&sy, &first, NeedsLoginReason::Revoked).await;
    sy.refresh(&second).await.expect("refresh again");
    sy.sim.shutdown().await;
}

#[tokio::test]
async fn refresh_adopts_the_token_the_kernel_renewed_on_its_own() {
    let sy = siyuan("alice").await;
    let s = sy.login("secret123").await.expect("login").session;
    // 28 days later, the kernel renews its stored token itself on `getCloudUser {}` (within
    // 3 days of expiry; validation makes that call), which kills the copy we hold.
    sy.control().advance_clock(28 * 24 * 3600).await.unwrap();
    assert_invalid(&sy, &s, NeedsLoginReason::Revoked).await;
    assert_eq!(sy.kernel_user().await.as_deref(), Some("alice"));
    let renewed = sy
        .refresh(&s)
        .await
        .expect("refresh adopts the kernel's token")
        .session;
    assert_ne!(renewed.tokens.access.expose(), s.tokens.access.expose());
    assert_valid(&sy, &renewed).await;
    sy.sim.shutdown().await;
}

#[tokio::test]
async fn revocation_is_found_by_refresh() {
    let sy = siyuan("alice").await;
    let s = sy.login("secret123").await.expect("login").session;
    sy.control().revoke("alice").await.unwrap();
    // The kernel answers its stored copy unchanged: the cloud refused the token.
    fails_with(sy.refresh(&s).await, ErrorCode::NeedsLogin);
    // Validation asks the kernel, which was not told (see `Siyuan` docs): the kernel still
    // holds the login, so only refresh can see a cloud-side revocation.
    assert_valid(&sy, &s).await;
    sy.sim.shutdown().await;
}

#[tokio::test]
async fn an_expired_token_is_invalid_and_cannot_be_refreshed() {
    let sy = siyuan("alice").await;
    let s = sy.login("secret123").await.expect("login").session;
    sy.control()
        .expire(&UserAction {
            user: "alice".into(),
            refresh: false,
        })
        .await
        .unwrap();
    assert_invalid(&sy, &s, NeedsLoginReason::Expired).await;
    fails_with(sy.refresh(&s).await, ErrorCode::NeedsLogin);
    sy.sim.shutdown().await;
}

// ---------------------------------------------------------------- validation and logout

#[tokio::test]
async fn another_user_on_the_kernel_makes_the_session_invalid() {
    let alice = siyuan("alice").await;
    let s = alice.login("secret123").await.expect("login").session;
    alice
        .control()
        .configure(&SiyuanConfigPatch {
            two_factor_users: Some(vec![]),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut bob_account = alice.account.clone();
    bob_account.user = "bob".into();
    Siyuan
        .begin_login(
            &ctx(&alice.sim.http, &bob_account, &alice.secrets),
            Some(&SecretString::new("hunter22")),
        )
        .await
        .map(done)
        .expect("bob logs in on the same kernel");
    assert_invalid(&alice, &s, NeedsLoginReason::LoggedInElsewhere).await;
    // Logging alice out must not sign bob out of the kernel.
    alice.logout(&s).await.expect("logout");
    assert_eq!(alice.kernel_user().await.as_deref(), Some("bob"));
    alice.sim.shutdown().await;
}

#[tokio::test]
async fn logout_signs_the_kernel_out() {
    let sy = siyuan("alice").await;
    let s = sy.login("secret123").await.expect("login").session;
    sy.logout(&s).await.expect("logout");
    assert_eq!(sy.kernel_user().await, None);
    // The kernel's local logout is not the cloud's verdict on the token.
    match sy.validate(&s).await.expect("validate") {
        Validation::Unverifiable(why) => assert!(why.contains("no cloud login"), "{why}"),
        other => panic!("expected unverifiable, got {other:?}"),
    }
    sy.sim.shutdown().await;
}

#[tokio::test]
async fn secrets_never_show_in_debug_output() {
    let sy = siyuan("alice").await;
    sy.control()
        .configure(&SiyuanConfigPatch {
            captcha: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let progress = sy.begin("secret123").await.expect("begin");
    let shown = format!("{progress:?}");
    assert!(!shown.contains("secret123"));
    let (_, _, pending) = captcha(progress);
    let answer = sy.captcha_answer().await;
    let out = done(sy.answer(pending, &answer).await.expect("answer"));
    let shown = format!("{out:?}");
    assert!(!shown.contains(out.session.tokens.access.expose()));
    sy.sim.shutdown().await;
}

// ---------------------------------------------------------------- transient failures

#[tokio::test]
async fn a_kernel_that_drops_the_connection_is_a_transient_network_error() {
    let sy = siyuan("alice").await;
    sy.control()
        .fault(&FaultSpec {
            drop: true,
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let e = fails_with(sy.login("secret123").await, ErrorCode::Network);
    assert!(e.code.is_transient());
    sy.login("secret123").await.expect("the next attempt works");
    sy.sim.shutdown().await;
}

#[tokio::test]
async fn an_html_page_instead_of_json_is_a_server_error() {
    let sy = siyuan("alice").await;
    sy.control()
        .fault(&FaultSpec {
            body: Some(FaultBody::Html),
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    fails_with(sy.login("secret123").await, ErrorCode::ServerError);
    sy.sim.shutdown().await;
}
