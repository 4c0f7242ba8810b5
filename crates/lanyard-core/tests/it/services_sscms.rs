//! SiteServer CMS (v6 and v7) against the in-process simulator over real HTTP on loopback.

use std::collections::BTreeMap;

use chrono::{TimeDelta, Utc};
use lanyard_core::model::NeedsLoginReason;
use lanyard_core::services::sscms::Sscms;
use lanyard_core::services::{Credential, Ctx, Service, Validation};
use lanyard_core::{Account, ErrorCode, SecretString, ServiceId, Session};
use lanyard_sim::control::{FaultSpec, SscmsConfigPatch, SscmsVersion};
use serde_json::json;

use crate::support::{Sim, account, ctx, done, fails_with, sim};

fn no_secrets() -> BTreeMap<String, SecretString> {
    BTreeMap::new()
}

fn sscms(sim: &Sim, user: &str) -> Account {
    account(ServiceId::Sscms, user, &sim.endpoints().sscms, &[])
}

async fn use_version(sim: &Sim, version: &str) {
    let version = match version {
        "v6" => SscmsVersion::V6,
        "v7" => SscmsVersion::V7,
        other => panic!("no SSCMS version {other}"),
    };
    let base = sim.endpoints().sscms.clone();
    let cfg = sim
        .control(&base)
        .configure(&SscmsConfigPatch {
            version: Some(version),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(cfg["version"], json!(version));
}

async fn login(sim: &Sim, acc: &Account, password: &str) -> Session {
    let secrets = no_secrets();
    let progress = Sscms
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
        Credential::Query { .. } => panic!("SSCMS takes a header"),
    }
}

fn about(left: TimeDelta, days: i64) -> bool {
    (left - TimeDelta::days(days)).num_seconds().abs() < 120
}

#[tokio::test]
async fn v6_login_validate_and_credential() {
    let sim = sim().await;
    let acc = sscms(&sim, "demo");
    let s = login(&sim, &acc, "demo1234").await;
    assert_eq!(s.info.extra.get("api").map(String::as_str), Some("v6"));
    assert_eq!(s.info.user_id.as_deref(), Some("1"));
    assert_eq!(s.info.display_name.as_deref(), Some("演示"));
    // The JWT's ExpiresAt claim (UTC) decides; the local expiresAt text reveals the offset.
    let left = s.info.expires_at.expect("expiry") - Utc::now();
    assert!(about(left, 7), "{left}");
    assert_eq!(
        s.info.extra.get("server_utc_offset").map(String::as_str),
        Some("+08:00")
    );
    assert_eq!(
        header(Sscms.credential(&acc, &s)),
        (
            "X-SS-USER-TOKEN".to_string(),
            s.tokens.access.expose().to_string()
        )
    );
    let secrets = no_secrets();
    match Sscms
        .validate(&ctx(&sim.http, &acc, &secrets), &s)
        .await
        .unwrap()
    {
        Validation::Valid(Some(info)) => assert_eq!(info.display_name.as_deref(), Some("演示")),
        other => panic!("expected valid, got {other:?}"),
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn v7_login_validate_and_credential() {
    let sim = sim().await;
    use_version(&sim, "v7").await;
    let acc = sscms(&sim, "alice");
    let s = login(&sim, &acc, "secret123").await;
    assert_eq!(s.info.extra.get("api").map(String::as_str), Some("v7"));
    assert_eq!(s.info.user_id.as_deref(), Some("2"));
    // JWT exp: 7 days, as the login asks for a persistent token.
    let left = s.info.expires_at.expect("expiry") - Utc::now();
    assert!(about(left, 7), "{left}");
    let (name, value) = header(Sscms.credential(&acc, &s));
    assert_eq!(
        (name.as_str(), value),
        (
            "Authorization",
            format!("Bearer {}", s.tokens.access.expose())
        )
    );
    // v7 looks users up for API keys only (docs/services/sscms.md): a 401 there says nothing
    // about the token, so validation does not ask and says it could not check.
    let base = sim.endpoints().sscms.clone();
    let secrets = no_secrets();
    match Sscms
        .validate(&ctx(&sim.http, &acc, &secrets), &s)
        .await
        .unwrap()
    {
        Validation::Unverifiable(why) => assert!(why.contains("API key"), "{why}"),
        other => panic!("expected unverifiable, got {other:?}"),
    }
    let stats = sim.control(&base).stats().await.unwrap();
    assert_eq!(stats.count("sscms.user"), 0, "{stats:?}");
    sim.shutdown().await;
}

/// A refusal is not a revocation: a 403 (not an answer of the v6 user route) keeps the session.
#[tokio::test]
async fn v6_a_refused_check_is_not_a_revocation() {
    let sim = sim().await;
    let base = sim.endpoints().sscms.clone();
    let acc = sscms(&sim, "demo");
    let s = login(&sim, &acc, "demo1234").await;
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
    let e = Sscms.validate(&c, &s).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::ServerError, "{}", e.message);
    assert!(matches!(
        Sscms.validate(&c, &s).await.unwrap(),
        Validation::Valid(_)
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn rejections_keep_the_server_text() {
    let sim = sim().await;
    let secrets = no_secrets();
    for (version, user, password, text) in [
        ("v6", "demo", "wrong-pw", "帐号或密码错误"),
        ("v7", "demo", "wrong-pw", "帐号或密码错误"),
        ("v6", "nobody", "secret123", "帐号或密码错误"),
        ("v6", "pending", "secret123", "此账号未审核，无法登录"),
        ("v6", "locked", "secret123", "此账号被锁定，无法登录"),
    ] {
        use_version(&sim, version).await;
        let acc = sscms(&sim, user);
        let e = fails_with(
            Sscms
                .begin_login(
                    &ctx(&sim.http, &acc, &secrets),
                    Some(&SecretString::new(password)),
                )
                .await,
            ErrorCode::CredentialsRejected,
        );
        assert_eq!(e.server_message.as_deref(), Some(text), "{version} {user}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn revoked_and_expired_tokens() {
    // v7 cannot be asked (see v7_login_validate_and_credential).
    for version in ["v6"] {
        // One simulator per version: two revocations of one user within a second would
        // blur at v7's one-second `iat` resolution.
        let sim = sim().await;
        let base = sim.endpoints().sscms.clone();
        use_version(&sim, version).await;
        let acc = sscms(&sim, "alice");
        let s = login(&sim, &acc, "secret123").await;
        sim.control(&base).revoke("alice").await.unwrap();
        let secrets = no_secrets();
        let c = ctx(&sim.http, &acc, &secrets);
        assert!(
            matches!(
                Sscms.validate(&c, &s).await.unwrap(),
                Validation::Invalid(NeedsLoginReason::Revoked)
            ),
            "{version}"
        );
        // Refused after our own expiry: expired rather than revoked.
        let later = Ctx {
            now: s.info.expires_at.unwrap() + TimeDelta::seconds(1),
            ..c
        };
        assert!(
            matches!(
                Sscms.validate(&later, &s).await.unwrap(),
                Validation::Invalid(NeedsLoginReason::Expired)
            ),
            "{version}"
        );
        // A new login works again (revocation was of the tokens issued so far).
        let again = login(&sim, &acc, "secret123").await;
        assert!(
            matches!(
                Sscms.validate(&c, &again).await.unwrap(),
                Validation::Valid(_)
            ),
            "{version}"
        );
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn logout_is_accepted_and_refresh_is_unsupported() {
    let sim = sim().await;
    let secrets = no_secrets();
    for version in ["v6", "v7"] {
        use_version(&sim, version).await;
        let acc = sscms(&sim, "demo");
        let s = login(&sim, &acc, "demo1234").await;
        let c = ctx(&sim.http, &acc, &secrets);
        Sscms.logout(&c, &s).await.expect("logout");
        // SSCMS does not revoke the token server-side: the caller just forgets it.
        assert!(
            matches!(
                Sscms.validate(&c, &s).await.unwrap(),
                Validation::Valid(_) | Validation::Unverifiable(_)
            ),
            "{version}"
        );
        fails_with(Sscms.refresh(&c, &s).await, ErrorCode::Unsupported);
    }
    sim.shutdown().await;
}
