//! ShopXO against the in-process simulator over real HTTP on loopback.

use std::collections::BTreeMap;

use lanyard_core::model::NeedsLoginReason;
use lanyard_core::services::shopxo::Shopxo;
use lanyard_core::services::{
    Challenge, CodeChannel, Credential, Pending, Progress, Service, Validation,
};
use lanyard_core::{Account, ErrorCode, SecretString, ServiceId, Session};
use lanyard_sim::control::ShopxoConfigPatch;

use crate::support::{Sim, account, ctx, done, fails_with, sim};

const USER: &str = "alice01";
const MOBILE: &str = "13800000001";
const EMAIL: &str = "alice01@example.com";
const PASSWORD: &str = "secret123";

fn no_secrets() -> BTreeMap<String, SecretString> {
    BTreeMap::new()
}

fn shopxo(sim: &Sim, user: &str, options: &[(&str, &str)]) -> Account {
    account(ServiceId::Shopxo, user, &sim.endpoints().shopxo, options)
}

async fn config(sim: &Sim, patch: ShopxoConfigPatch) {
    let base = sim.endpoints().shopxo.clone();
    sim.control(&base).configure(&patch).await.unwrap();
}

/// The answer of the captcha bound to this account (its uuid is the account id).
async fn captcha_answer(sim: &Sim, acc: &Account) -> String {
    let base = sim.endpoints().shopxo.clone();
    sim.control(&base)
        .captcha_answer(Some(&acc.id.to_string()))
        .await
        .unwrap()
}

async fn last_code(sim: &Sim, user: &str) -> String {
    let base = sim.endpoints().shopxo.clone();
    sim.control(&base).last_code(user).await.unwrap().code
}

fn captcha(progress: Progress) -> Pending {
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
            // Served as text/html by ShopXO: the type comes from the bytes.
            assert_eq!(media_type, "image/gif");
            assert!(image.starts_with(b"GIF87a") || image.starts_with(b"GIF89a"));
            assert!(reloadable);
            pending
        }
        other => panic!("expected a captcha, got {other:?}"),
    }
}

fn code(progress: Progress, channel: CodeChannel, destination: &str) -> Pending {
    match progress {
        Progress::Challenge {
            challenge:
                Challenge::Code {
                    channel: c,
                    destination: d,
                },
            pending,
        } => {
            assert_eq!(c, channel);
            assert_eq!(d.as_deref(), Some(destination));
            pending
        }
        other => panic!("expected a code, got {other:?}"),
    }
}

fn wrong(answer: &str) -> String {
    answer
        .chars()
        .map(|c| if c == '9' { '8' } else { '9' })
        .collect()
}

fn check_session(acc: &Account, s: &Session) {
    assert_eq!(s.tokens.access.expose().len(), 32);
    assert_eq!(s.info.expires_at, None, "ShopXO tokens have no expiry");
    assert_eq!(s.info.user_id.as_deref(), Some("1"));
    assert_eq!(s.info.display_name.as_deref(), Some(USER));
    match Shopxo.credential(acc, s) {
        Credential::Query { name, value } => {
            assert_eq!(
                (name.as_str(), value.expose()),
                ("token", s.tokens.access.expose())
            )
        }
        Credential::Header { .. } => panic!("ShopXO takes the token in the query"),
    }
}

#[tokio::test]
async fn captcha_wrong_then_right() {
    let sim = sim().await; // login captcha on by default, like a fresh install
    let acc = shopxo(&sim, USER, &[]);
    let secrets = no_secrets();
    let c = ctx(&sim.http, &acc, &secrets);
    let pending = captcha(
        Shopxo
            .begin_login(&c, Some(&SecretString::new(PASSWORD)))
            .await
            .unwrap(),
    );
    let answer = captcha_answer(&sim, &acc).await;

    let retry = pending.try_clone().expect("captcha steps are retryable");
    let e = fails_with(
        Shopxo
            .answer(&c, pending, &SecretString::new(wrong(&answer)))
            .await,
        ErrorCode::ChallengeFailed,
    );
    assert_eq!(e.server_message.as_deref(), Some("验证码错误"));

    // The server keeps the captcha after a wrong answer: the same image can be answered again.
    let s = done(
        Shopxo
            .answer(&c, retry, &SecretString::new(answer))
            .await
            .unwrap(),
    )
    .session;
    check_session(&acc, &s);
    assert!(matches!(
        Shopxo.validate(&c, &s).await.unwrap(),
        Validation::Valid(Some(_))
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn reloaded_captcha_replaces_the_old_one() {
    let sim = sim().await;
    let acc = shopxo(&sim, EMAIL, &[]); // username logins accept the e-mail too
    let secrets = no_secrets();
    let c = ctx(&sim.http, &acc, &secrets);
    let pending = captcha(
        Shopxo
            .begin_login(&c, Some(&SecretString::new(PASSWORD)))
            .await
            .unwrap(),
    );
    let first = captcha_answer(&sim, &acc).await;
    let pending = captcha(Shopxo.reload_captcha(&c, pending).await.unwrap());
    let second = captcha_answer(&sim, &acc).await;
    if first != second {
        let retry = pending.try_clone().unwrap();
        fails_with(
            Shopxo.answer(&c, retry, &SecretString::new(first)).await,
            ErrorCode::ChallengeFailed,
        );
    }
    let s = done(
        Shopxo
            .answer(&c, pending, &SecretString::new(second))
            .await
            .unwrap(),
    )
    .session;
    check_session(&acc, &s);
    sim.shutdown().await;
}

#[tokio::test]
async fn plain_login_and_rejections_without_captcha() {
    let sim = sim().await;
    config(
        &sim,
        ShopxoConfigPatch {
            login_captcha: Some(false),
            ..Default::default()
        },
    )
    .await;
    let secrets = no_secrets();

    let acc = shopxo(&sim, USER, &[]);
    let s = done(
        Shopxo
            .begin_login(
                &ctx(&sim.http, &acc, &secrets),
                Some(&SecretString::new(PASSWORD)),
            )
            .await
            .unwrap(),
    )
    .session;
    check_session(&acc, &s);

    let e = fails_with(
        Shopxo
            .begin_login(
                &ctx(&sim.http, &acc, &secrets),
                Some(&SecretString::new("wrongpass")),
            )
            .await,
        ErrorCode::CredentialsRejected,
    );
    assert_eq!(e.server_message.as_deref(), Some("密码错误"));

    let nobody = shopxo(&sim, "nobody99", &[]);
    let e = fails_with(
        Shopxo
            .begin_login(
                &ctx(&sim.http, &nobody, &secrets),
                Some(&SecretString::new(PASSWORD)),
            )
            .await,
        ErrorCode::CredentialsRejected,
    );
    assert_eq!(e.server_message.as_deref(), Some("帐号不存在"));
    sim.shutdown().await;
}

#[tokio::test]
async fn sms_code_wrong_then_right() {
    let sim = sim().await;
    config(
        &sim,
        ShopxoConfigPatch {
            common_captcha: Some(false),
            ..Default::default()
        },
    )
    .await;
    let acc = shopxo(&sim, MOBILE, &[("login_type", "sms")]);
    let secrets = no_secrets();
    let c = ctx(&sim.http, &acc, &secrets);
    let pending = code(
        Shopxo.begin_login(&c, None).await.unwrap(),
        CodeChannel::Sms,
        "138****0001",
    );
    let sent = last_code(&sim, MOBILE).await;

    let retry = pending.try_clone().expect("code steps are retryable");
    let e = fails_with(
        Shopxo
            .answer(&c, pending, &SecretString::new(wrong(&sent)))
            .await,
        ErrorCode::ChallengeFailed,
    );
    assert_eq!(e.server_message.as_deref(), Some("验证码错误"));

    let s = done(
        Shopxo
            .answer(&c, retry, &SecretString::new(sent))
            .await
            .unwrap(),
    )
    .session;
    check_session(&acc, &s);
    sim.shutdown().await;
}

#[tokio::test]
async fn email_code_behind_an_image_captcha() {
    let sim = sim().await;
    config(
        &sim,
        ShopxoConfigPatch {
            common_captcha: Some(true),
            ..Default::default()
        },
    )
    .await;
    let acc = shopxo(&sim, EMAIL, &[("login_type", "email")]);
    let secrets = no_secrets();
    let c = ctx(&sim.http, &acc, &secrets);
    let pending = captcha(Shopxo.begin_login(&c, None).await.unwrap());
    let answer = captcha_answer(&sim, &acc).await;
    let retry = pending.try_clone().unwrap();
    fails_with(
        Shopxo
            .answer(&c, pending, &SecretString::new(wrong(&answer)))
            .await,
        ErrorCode::ChallengeFailed,
    );
    let pending = code(
        Shopxo
            .answer(&c, retry, &SecretString::new(answer))
            .await
            .unwrap(),
        CodeChannel::Email,
        "al***@example.com",
    );
    let sent = last_code(&sim, EMAIL).await;
    let s = done(
        Shopxo
            .answer(&c, pending, &SecretString::new(sent))
            .await
            .unwrap(),
    )
    .session;
    check_session(&acc, &s);
    sim.shutdown().await;
}

#[tokio::test]
async fn disabled_login_type_is_named() {
    let sim = sim().await;
    config(
        &sim,
        ShopxoConfigPatch {
            login_types: Some(vec!["username".into()]),
            ..Default::default()
        },
    )
    .await;
    let acc = shopxo(&sim, MOBILE, &[("login_type", "sms")]);
    let secrets = no_secrets();
    let e = fails_with(
        Shopxo
            .begin_login(&ctx(&sim.http, &acc, &secrets), None)
            .await,
        ErrorCode::InvalidInput,
    );
    assert!(
        e.message.contains("sms") && e.message.contains("username"),
        "{}",
        e.message
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn revoked_token_is_invalid_and_logout_is_local() {
    let sim = sim().await;
    config(
        &sim,
        ShopxoConfigPatch {
            login_captcha: Some(false),
            ..Default::default()
        },
    )
    .await;
    let acc = shopxo(&sim, USER, &[("client_type", "ios")]);
    let secrets = no_secrets();
    let c = ctx(&sim.http, &acc, &secrets);
    let s = done(
        Shopxo
            .begin_login(&c, Some(&SecretString::new(PASSWORD)))
            .await
            .unwrap(),
    )
    .session;
    assert_eq!(
        s.info.extra.get("client_type").map(String::as_str),
        Some("ios")
    );
    // No API logout: Ok without telling the server, the token still works there.
    Shopxo.logout(&c, &s).await.expect("logout");
    assert!(matches!(
        Shopxo.validate(&c, &s).await.unwrap(),
        Validation::Valid(_)
    ));

    let base = sim.endpoints().shopxo.clone();
    sim.control(&base).revoke(USER).await.unwrap();
    assert!(matches!(
        Shopxo.validate(&c, &s).await.unwrap(),
        Validation::Invalid(NeedsLoginReason::Revoked)
    ));
    fails_with(Shopxo.refresh(&c, &s).await, ErrorCode::Unsupported);
    sim.shutdown().await;
}
