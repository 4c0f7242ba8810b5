//! Single flight across processes, with the real `lanyard` binary: two `lanyard token` calls
//! on a stale session at the same moment cause exactly one refresh at the server; both print
//! the renewed token, which is the stored one (persisted before it was shown).

use std::process::Stdio;
use std::time::Duration;

use chrono::TimeDelta;
use lanyard_core::keepalive::TestClock;
use lanyard_core::manager::{LoginStep, NewAccount};
use lanyard_core::{SecretString, ServiceId};
use lanyard_sim::control::FaultSpec;
use serde_json::Value;

use crate::support::{core_manager, lanyard, sim_control, sim_hits, start_sim};

const PASSPHRASE: &str = "cli keepalive passphrase";
const DEMO_APPID: &str = "LanyardDemoAppId0000000000000001";
const DEMO_APPSECRET: &str = "LanyardDemoAppSecret000000000001";

async fn refreshes(root: &str) -> u64 {
    sim_hits(root, "coolkit.v2.refresh").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_lanyard_token_processes_on_a_stale_session_refresh_once() {
    let sim = start_sim().await;
    let ep = sim.endpoints().clone();
    let root = ep.coolkit.trim_end_matches("/{region}").to_owned();
    let http = reqwest::Client::new();
    let data = tempfile::tempdir().unwrap();

    // The session is made by a clock 30 days minus 2 minutes behind: for everybody else it
    // expires in 2 minutes, inside the margin where `lanyard token` renews first. The secret
    // file gets cheap Argon2 parameters (the CLI reads them from its header).
    let m = core_manager(data.path(), PASSPHRASE).with_clock(TestClock::with_offset(
        TimeDelta::minutes(2) - TimeDelta::days(30),
    ));
    let name = m
        .add_account(NewAccount {
            name: Some("ck".into()),
            service: ServiceId::Coolkit,
            user: "alice@example.com".into(),
            endpoint: Some(ep.coolkit.clone()),
            options: [("appid", DEMO_APPID), ("appsecret", DEMO_APPSECRET)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            remember_password: false,
        })
        .await
        .unwrap()
        .account
        .name;
    let step = m
        .begin_login(&name, Some(SecretString::new("secret123")))
        .await
        .unwrap();
    assert!(matches!(step, LoginStep::Done(_)));
    let before = m.session(&name).await.unwrap().unwrap();

    sim_control(&root).reset_stats().await.unwrap();
    // A slow refresh, so the second process arrives while the first holds the lease.
    sim_control(&root)
        .fault(&FaultSpec {
            latency_ms: Some(800),
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();

    let run = || {
        lanyard()
            .args(["--data-dir"])
            .arg(data.path())
            .args(["token", "ck"])
            .env("LANYARD_SECRET_STORE", "file")
            .env("LANYARD_PASSPHRASE", PASSPHRASE)
            .stdin(Stdio::null())
            .spawn()
            .unwrap()
            .wait_with_output()
    };
    let (a, b) = tokio::join!(run(), run());
    let mut printed = Vec::new();
    for out in [a.unwrap(), b.unwrap()] {
        assert!(
            out.status.success(),
            "lanyard token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        printed.push(String::from_utf8(out.stdout).unwrap().trim().to_owned());
    }
    assert_eq!(
        refreshes(&root).await,
        1,
        "exactly one refresh reached the server"
    );
    let after = m.session(&name).await.unwrap().unwrap();
    assert_ne!(
        after.tokens.access.expose(),
        before.tokens.access.expose(),
        "renewed"
    );
    assert!(
        printed.iter().all(|t| t == after.tokens.access.expose()),
        "both processes printed the stored, renewed token"
    );

    // The stored at works at the server.
    let v: Value = http
        .get(ep.coolkit.replace("{region}", "us") + "/v2/user/profile")
        .header("X-CK-Appid", DEMO_APPID)
        .header(
            "Authorization",
            format!("Bearer {}", after.tokens.access.expose()),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["error"], 0);

    // A fresh session: `lanyard refresh` (not forced) leaves it alone.
    let out = lanyard()
        .args(["--data-dir"])
        .arg(data.path())
        .args(["refresh", "ck"])
        .env("LANYARD_SECRET_STORE", "file")
        .env("LANYARD_PASSPHRASE", PASSPHRASE)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(refreshes(&root).await, 1);
    sim.shutdown().await;
}
