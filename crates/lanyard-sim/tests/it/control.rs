//! `lanyard_sim::control`, the typed client every other suite drives the simulators with:
//! each call against the real routes, and each service's config patch type taken by that
//! service (the field names the client sends are the ones the server reads).

use lanyard_sim::control::{
    CoolkitConfigPatch, FaultSpec, ShopxoConfigPatch, SimControl, SiyuanConfigPatch,
    SscmsConfigPatch, SscmsVersion, SteedosConfigPatch, UserAction,
};
use serde_json::{Value, json};

use crate::support::{client, sim};

#[tokio::test]
async fn every_config_patch_field_reaches_its_service() {
    let sim = sim().await;
    let e = sim.endpoints();

    let steedos = SimControl::new(&e.steedos)
        .configure(&SteedosConfigPatch {
            mfa_users: Some(vec!["alice@example.com".into()]),
            accept_plain_password: Some(true),
            lockout_attempts: Some(4),
            refresh_tokens_work: Some(true),
        })
        .await
        .unwrap();
    assert_eq!(
        steedos,
        json!({"mfa_users": ["alice@example.com"], "accept_plain_password": true,
               "lockout_attempts": 4, "refresh_tokens_work": true})
    );

    let sscms = SimControl::new(&e.sscms)
        .configure(&SscmsConfigPatch {
            version: Some(SscmsVersion::V7),
            lockout_attempts: Some(5),
            lockout_hours: Some(6),
        })
        .await
        .unwrap();
    assert_eq!(
        sscms,
        json!({"version": "v7", "lockout_attempts": 5, "lockout_hours": 6})
    );

    // CoolKit's template endpoint names the same listener.
    let coolkit = SimControl::new(&e.coolkit)
        .configure(&CoolkitConfigPatch {
            at_lifetime_secs: Some(60),
            rt_lifetime_secs: Some(120),
            rotate_rt: Some(false),
        })
        .await
        .unwrap();
    assert_eq!(
        coolkit,
        json!({"at_lifetime_secs": 60, "rt_lifetime_secs": 120, "rotate_rt": false})
    );

    let siyuan = SimControl::new(&e.siyuan)
        .configure(&SiyuanConfigPatch {
            captcha: Some(true),
            two_factor_users: Some(vec![]),
            api_token: Some("changed".into()),
            token_lifetime_secs: Some(30),
        })
        .await
        .unwrap();
    assert_eq!(
        (
            &siyuan["captcha"],
            &siyuan["two_factor_users"],
            &siyuan["api_token"],
            &siyuan["token_lifetime_secs"]
        ),
        (&json!(true), &json!([]), &json!("changed"), &json!(30))
    );

    let shopxo = SimControl::new(&e.shopxo)
        .configure(&ShopxoConfigPatch {
            login_captcha: Some(false),
            common_captcha: Some(false),
            register_captcha: Some(false),
            svg_captcha: Some(true),
            login_types: Some(vec!["sms".into()]),
            verify_interval_secs: Some(7),
            verify_expire_secs: Some(8),
        })
        .await
        .unwrap();
    assert_eq!(
        shopxo,
        json!({"login_captcha": false, "common_captcha": false, "register_captcha": false,
               "svg_captcha": true, "login_types": ["sms"], "verify_interval_secs": 7,
               "verify_expire_secs": 8})
    );
    // A partial patch changes only its fields.
    let again = SimControl::new(&e.shopxo)
        .configure(&ShopxoConfigPatch {
            login_captcha: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        (&again["login_captcha"], &again["svg_captcha"]),
        (&json!(true), &json!(true))
    );
}

/// The one `/__sim/config` handler: a body a service cannot take (a wrong type, a value out of
/// range, an unknown choice) is a 400 with a reason, and nothing of it is applied, not even
/// its valid fields.
#[tokio::test]
async fn a_config_body_a_service_cannot_take_is_refused_and_changes_nothing() {
    let sim = sim().await;
    let e = sim.endpoints();
    let http = client();
    let cases = [
        (
            &e.steedos,
            json!({"lockout_attempts": -1, "accept_plain_password": true}),
        ),
        (&e.sscms, json!({"version": "v9", "lockout_hours": 9})),
        (
            &e.coolkit,
            json!({"rotate_rt": "yes", "at_lifetime_secs": 5}),
        ),
        (
            &e.siyuan,
            json!({"token_lifetime_secs": "soon", "captcha": true}),
        ),
        (
            &e.shopxo,
            json!({"login_types": ["fax"], "login_captcha": false}),
        ),
    ];
    for (endpoint, body) in cases {
        let control = SimControl::new(endpoint);
        let before = control.config().await.unwrap();
        let answer = http
            .post(format!("{}/__sim/config", control.root()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 400, "{endpoint} {body}");
        let refusal: Value = answer.json().await.unwrap();
        assert!(
            refusal["error"].as_str().is_some_and(|t| !t.is_empty()),
            "{endpoint}: {refusal}"
        );
        assert_eq!(control.config().await.unwrap(), before, "{endpoint}");
    }
}

#[tokio::test]
async fn stats_clock_and_faults_through_the_client() {
    let sim = sim().await;
    let sscms = SimControl::new(&sim.endpoints().sscms);
    let http = client();
    let login = format!("{}/api/v1/users/actions/login", sim.endpoints().sscms);

    assert_eq!(sscms.stats().await.unwrap().total(), 0);
    http.post(&login).json(&json!({})).send().await.unwrap();
    let stats = sscms.stats().await.unwrap();
    assert_eq!(
        (stats.count("sscms.login"), stats.total()),
        (1, 1),
        "{stats:?}"
    );
    sscms.reset_stats().await.unwrap();
    assert_eq!(sscms.stats().await.unwrap().total(), 0);

    let before = sscms.clock().await.unwrap();
    let after = sscms.advance_clock(3600).await.unwrap();
    assert_eq!(after.offset_secs, before.offset_secs + 3600);
    assert!(after.unix >= before.unix + 3600);

    sscms
        .fault(&FaultSpec {
            status: Some(503),
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        http.post(&login)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    assert_ne!(
        http.post(&login)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    sscms
        .fault(&FaultSpec {
            status: Some(502),
            ..Default::default()
        })
        .await
        .unwrap();
    sscms.clear_faults().await.unwrap();
    assert_ne!(
        http.post(&login)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        502
    );
}

#[tokio::test]
async fn user_actions_codes_and_errors_through_the_client() {
    let sim = sim().await;
    let e = sim.endpoints();
    let coolkit = SimControl::new(&e.coolkit);
    assert_eq!(
        coolkit.revoke("alice@example.com").await.unwrap(),
        json!({"revoked": 0})
    );
    coolkit
        .expire(&UserAction {
            user: "alice@example.com".into(),
            refresh: true,
        })
        .await
        .unwrap();
    coolkit
        .set_password("alice@example.com", "another-password")
        .await
        .unwrap();

    // SiYuan's 2FA user has a TOTP code at any time; nobody has been shown a captcha yet.
    let siyuan = SimControl::new(&e.siyuan);
    let code = siyuan.last_code("bob").await.unwrap();
    assert_eq!((code.code.len(), code.destination.as_str()), (6, "totp"));
    let missing = siyuan.captcha_answer(None).await.unwrap_err();
    assert_eq!(missing.status(), Some(404), "{missing}");
    assert!(
        missing.to_string().starts_with("GET http://127.0.0.1:"),
        "{missing}"
    );

    // A stopped simulator is one clear line, not a hang.
    let root = SimControl::new(&e.steedos);
    drop(sim);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let gone = root.stats().await.unwrap_err();
    assert!(gone.to_string().contains("is it running?"), "{gone}");
}
