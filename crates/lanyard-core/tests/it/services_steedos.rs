//! Steedos against the in-process simulator over real HTTP on loopback.

use std::collections::BTreeMap;

use chrono::{TimeDelta, Utc};
use lanyard_core::model::NeedsLoginReason;
use lanyard_core::services::steedos::{ACCESS_JWT, Steedos};
use lanyard_core::services::{Challenge, CodeChannel, Credential, Progress, Service, Validation};
use lanyard_core::{Account, ErrorCode, SecretString, ServiceId, Session};
use lanyard_sim::control::{FaultSpec, SteedosConfigPatch};

use crate::support::{Sim, account, ctx, done, fails_with, sim};

const ALICE: &str = "alice@example.com"; // username alice, mobile 13800000001, secret123
const BOB: &str = "bob@example.com"; // mobile 13800000002, hunter22, MFA by SMS

fn no_secrets() -> BTreeMap<String, SecretString> {
    BTreeMap::new()
}

fn steedos(sim: &Sim, user: &str, options: &[(&str, &str)]) -> Account {
    account(ServiceId::Steedos, user, &sim.endpoints().steedos, options)
}

async fn login(sim: &Sim, acc: &Account, password: &str) -> Session {
    let secrets = no_secrets();
    let progress = Steedos
        .begin_login(
            &ctx(&sim.http, acc, &secrets),
            Some(&SecretString::new(password)),
        )
        .await;
    done(progress.expect("login")).session
}

fn header(c: Credential) -> (String, String) {
    match c {
        Credential::Header { name, value } => (name, value.expose().to_string()),
        Credential::Query { .. } => panic!("Steedos takes a header"),
    }
}

#[tokio::test]
async fn login_by_email_username_and_mobile() {
    let sim = sim().await;
    for user in [ALICE, "alice", "13800000001"] {
        let acc = steedos(&sim, user, &[]);
        let s = login(&sim, &acc, "secret123").await;
        assert_eq!(
            s.tokens.access.expose().len(),
            86,
            "a 43-byte hex session token"
        );
        assert!(s.tokens.refresh.is_some());
        assert!(s.tokens.extra.contains_key(ACCESS_JWT));
        // expires_at is the access JWT's exp: 90 days.
        let left = s.info.expires_at.expect("expiry") - Utc::now();
        assert!(
            (TimeDelta::days(89)..=TimeDelta::days(90)).contains(&left),
            "{left}"
        );
        // The refresh JWT does not limit the session: kept for display only.
        assert_eq!(s.info.refresh_expires_at, None);
        assert!(s.info.extra.contains_key("refresh_jwt_expires_at"));
        assert_eq!(
            s.info.extra.get("space").map(String::as_str),
            Some("demo-space")
        );
        assert!(s.info.user_id.is_some());
        assert!(s.info.display_name.is_some());

        let (name, value) = header(Steedos.credential(&acc, &s));
        assert_eq!(name, "Authorization");
        assert_eq!(
            value,
            format!("Bearer demo-space,{}", s.tokens.access.expose())
        );

        let secrets = no_secrets();
        match Steedos
            .validate(&ctx(&sim.http, &acc, &secrets), &s)
            .await
            .unwrap()
        {
            Validation::Valid(Some(info)) => assert_eq!(info.user_id, s.info.user_id),
            other => panic!("expected valid, got {other:?}"),
        }
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn plain_password_mode() {
    let sim = sim().await;
    let acc = steedos(&sim, "alice", &[("password_mode", "plain")]);
    let s = login(&sim, &acc, "secret123").await;
    assert!(!s.tokens.access.is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_password_keeps_the_server_message() {
    let sim = sim().await;
    let acc = steedos(&sim, ALICE, &[]);
    let secrets = no_secrets();
    let e = fails_with(
        Steedos
            .begin_login(
                &ctx(&sim.http, &acc, &secrets),
                Some(&SecretString::new("wrong-pw")),
            )
            .await,
        ErrorCode::CredentialsRejected,
    );
    assert_eq!(
        e.server_message.as_deref(),
        Some("accounts.invalid_credentials")
    );
    assert!(!e.message.contains("wrong-pw"));
    sim.shutdown().await;
}

#[tokio::test]
async fn lockout_is_a_rejection_with_the_server_text() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    sim.control(&base)
        .configure(&SteedosConfigPatch {
            lockout_attempts: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    let acc = steedos(&sim, ALICE, &[]);
    let secrets = no_secrets();
    let c = ctx(&sim.http, &acc, &secrets);
    for _ in 0..2 {
        fails_with(
            Steedos
                .begin_login(&c, Some(&SecretString::new("nope-nope")))
                .await,
            ErrorCode::CredentialsRejected,
        );
    }
    let e = fails_with(
        Steedos
            .begin_login(&c, Some(&SecretString::new("secret123")))
            .await,
        ErrorCode::CredentialsRejected,
    );
    assert_eq!(
        e.server_message.as_deref(),
        Some("账户已锁定，请联系管理员")
    );
    assert!(e.message.contains("locked"), "{}", e.message);
    sim.shutdown().await;
}

#[tokio::test]
async fn mfa_code_wrong_then_right() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    let acc = steedos(&sim, BOB, &[]);
    let secrets = no_secrets();
    let c = ctx(&sim.http, &acc, &secrets);
    let Progress::Challenge { challenge, pending } = Steedos
        .begin_login(&c, Some(&SecretString::new("hunter22")))
        .await
        .expect("password step")
    else {
        panic!("bob has MFA on: expected a code challenge");
    };
    match challenge {
        Challenge::Code {
            channel,
            destination,
        } => {
            assert_eq!(channel, CodeChannel::Sms);
            assert_eq!(destination.as_deref(), Some("138****0002"));
        }
        other => panic!("expected a code, got {other:?}"),
    }
    let code = sim.control(&base).last_code(BOB).await.unwrap().code;
    let wrong = if code == "000000" { "111111" } else { "000000" };

    // A wrong code fails, but the step can be retried with the copy taken before.
    let retry = pending.try_clone().expect("the MFA step is retryable");
    let e = fails_with(
        Steedos.answer(&c, pending, &SecretString::new(wrong)).await,
        ErrorCode::ChallengeFailed,
    );
    assert_eq!(e.server_message.as_deref(), Some("accounts.invalid_code"));

    let s = done(
        Steedos
            .answer(&c, retry, &SecretString::new(code))
            .await
            .expect("right code"),
    )
    .session;
    assert!(!s.tokens.access.is_empty());
    assert!(matches!(
        Steedos.validate(&c, &s).await.unwrap(),
        Validation::Valid(_)
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn revoked_session_is_invalid_and_refresh_needs_login() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    let acc = steedos(&sim, ALICE, &[]);
    let s = login(&sim, &acc, "secret123").await;
    sim.control(&base).revoke(ALICE).await.unwrap();
    let secrets = no_secrets();
    let c = ctx(&sim.http, &acc, &secrets);
    assert!(matches!(
        Steedos.validate(&c, &s).await.unwrap(),
        Validation::Invalid(NeedsLoginReason::Revoked)
    ));
    fails_with(Steedos.refresh(&c, &s).await, ErrorCode::NeedsLogin);
    sim.shutdown().await;
}

/// A refusal is not a revocation: a 403 (not an answer `/accounts/user` gives about a token)
/// is an error that keeps the session, not `Invalid(Revoked)`.
#[tokio::test]
async fn a_refused_check_is_not_a_revocation() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    let acc = steedos(&sim, ALICE, &[]);
    let s = login(&sim, &acc, "secret123").await;
    sim.control(&base)
        .fault(&FaultSpec {
            status: Some(403),
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let secrets = no_secrets();
    let c = ctx(&sim.http, &acc, &secrets);
    let e = Steedos.validate(&c, &s).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ServerError, "{}", e.message);
    assert!(e.message.contains("403"), "{}", e.message);
    assert!(matches!(
        Steedos.validate(&c, &s).await.unwrap(),
        Validation::Valid(_)
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn refresh_falls_back_to_validation_then_uses_working_refresh_tokens() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    let acc = steedos(&sim, ALICE, &[]);
    let s = login(&sim, &acc, "secret123").await;
    let secrets = no_secrets();
    let c = ctx(&sim.http, &acc, &secrets);

    // As on real servers: refreshTokens refuses; the session is still good, so the same one.
    let out = Steedos.refresh(&c, &s).await.expect("fallback refresh");
    assert_eq!(out.session.tokens.access.expose(), s.tokens.access.expose());
    assert_eq!(out.session.info.expires_at, s.info.expires_at);
    assert_eq!(
        out.session.info.extra.get("space"),
        s.info.extra.get("space")
    );

    // A server where refreshTokens works: new tokens, still usable, space kept.
    sim.control(&base)
        .configure(&SteedosConfigPatch {
            refresh_tokens_work: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let out = Steedos.refresh(&c, &s).await.expect("refresh");
    let fresh = out.session;
    assert!(fresh.tokens.extra.contains_key(ACCESS_JWT));
    assert_eq!(
        fresh.info.extra.get("space").map(String::as_str),
        Some("demo-space")
    );
    assert!(matches!(
        Steedos.validate(&c, &fresh).await.unwrap(),
        Validation::Valid(_)
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn logout_really_ends_the_session() {
    let sim = sim().await;
    let acc = steedos(&sim, ALICE, &[]);
    let s = login(&sim, &acc, "secret123").await;
    let secrets = no_secrets();
    let c = ctx(&sim.http, &acc, &secrets);
    Steedos.logout(&c, &s).await.expect("logout");
    assert!(matches!(
        Steedos.validate(&c, &s).await.unwrap(),
        Validation::Invalid(NeedsLoginReason::Revoked)
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn space_option_wins_in_the_credential() {
    let sim = sim().await;
    let acc = steedos(&sim, ALICE, &[("space_id", "other-space")]);
    let s = login(&sim, &acc, "secret123").await;
    let (_, value) = header(Steedos.credential(&acc, &s));
    assert!(value.starts_with("Bearer other-space,"));
    sim.shutdown().await;
}
