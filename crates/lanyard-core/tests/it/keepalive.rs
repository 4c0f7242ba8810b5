//! Keep-alive, specified against the simulators (real HTTP on loopback, a real SQLite file, the
//! encrypted secret file where processes share it). Time is a `TestClock` that jumps, and the
//! simulators' clocks jump with it, so "30 days later" takes milliseconds.
//!
//! Several tests start this test binary again as child processes running the `#[ignore]`d
//! helpers at the end of the file (a second Lanyard process, a process killed mid-refresh).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::TimeDelta;
use lanyard_core::http::HttpConfig;
use lanyard_core::keepalive::{KeepAlive, KeepAliveConfig, KeepAliveHandle, TestClock};
use lanyard_core::manager::AccountEdit;
use lanyard_core::manager::{Event, LoginStep, Manager, NewAccount, TokenFormat};
use lanyard_core::model::NeedsLoginReason;
use lanyard_core::secrets::Secrets;
use lanyard_core::secrets::file::{FileBackend, KdfParams};
use lanyard_core::{SecretString, ServiceId, Session, SessionInfo, SessionTokens, State};
use lanyard_sim::control::{
    CoolkitConfigPatch, FaultSpec, ShopxoConfigPatch, SimControl, SscmsConfigPatch, SscmsVersion,
};
use lanyard_sim::coolkit::{DEMO_APPID, DEMO_APPSECRET};
use serde_json::{Value, json};
use sha2::Digest;
use tokio::sync::broadcast;

use crate::support::{options_map, own_test};

const PASSPHRASE: &str = "keepalive-test-passphrase";
/// Cheap Argon2 for the shared secret file (every process reads the parameters from its header).
const CHEAP_KDF: KdfParams = KdfParams {
    m_cost_kib: 256,
    t_cost: 1,
    p_cost: 1,
};

// ----------------------------------------------------------------------------------- harness

/// Simulators, a data dir, a jumping clock and a manager on them.
struct World {
    sim: lanyard_sim::Running,
    ep: lanyard_sim::Endpoints,
    dir: tempfile::TempDir,
    clock: Arc<TestClock>,
    m: Arc<Manager>,
    http: reqwest::Client,
}

/// The listener root of an endpoint (`http://127.0.0.1:P`, CoolKit's `/{region}` cut off).
fn root(endpoint: &str) -> String {
    endpoint.trim_end_matches("/{region}").to_owned()
}

/// A file secret store in `dir` with cheap parameters (created on first use).
fn file_secrets(dir: &Path) -> Secrets {
    let backend = FileBackend::open_with_params(
        &dir.join("secrets.enc"),
        SecretString::new(PASSPHRASE),
        CHEAP_KDF,
    )
    .unwrap();
    Secrets::from_backend(Arc::new(backend))
}

async fn world(file_store: bool) -> World {
    let sim = lanyard_sim::start(lanyard_sim::SimConfig { port_base: None })
        .await
        .unwrap();
    let ep = sim.endpoints().clone();
    let dir = tempfile::tempdir().unwrap();
    let secrets = if file_store {
        file_secrets(dir.path())
    } else {
        Secrets::memory()
    };
    let clock = TestClock::new();
    let m = Manager::with_parts(
        &dir.path().join("lanyard.db"),
        secrets,
        HttpConfig::default(),
    )
    .unwrap()
    .with_clock(clock.clone());
    World {
        sim,
        ep,
        dir,
        clock,
        m: Arc::new(m),
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
    }
}

fn engine_config() -> KeepAliveConfig {
    KeepAliveConfig {
        max_sleep: Duration::from_millis(200),
        ..KeepAliveConfig::default()
    }
}

impl World {
    fn roots(&self) -> [String; 5] {
        [
            root(&self.ep.steedos),
            root(&self.ep.sscms),
            root(&self.ep.coolkit),
            root(&self.ep.siyuan),
            root(&self.ep.shopxo),
        ]
    }

    /// The control API of the simulator behind `base`.
    fn control(&self, base: &str) -> SimControl {
        SimControl::new(base)
    }

    /// Request counts of one simulator, by route name.
    async fn stats(&self, base: &str) -> BTreeMap<String, u64> {
        self.control(base).stats().await.unwrap().requests
    }

    async fn count(&self, base: &str, route: &str) -> u64 {
        self.control(base).stats().await.unwrap().count(route)
    }

    async fn reset_stats(&self) {
        for r in self.roots() {
            self.control(&r).reset_stats().await.unwrap();
        }
    }

    /// Moves Lanyard's clock and every simulator's clock by `by` (a laptop lid closed for that
    /// long).
    async fn jump(&self, by: TimeDelta) {
        self.clock.advance(by);
        for r in self.roots() {
            self.control(&r)
                .advance_clock(by.num_seconds())
                .await
                .unwrap();
        }
    }

    async fn add(
        &self,
        service: ServiceId,
        user: &str,
        endpoint: &str,
        options: &[(&str, &str)],
        remember: bool,
    ) -> String {
        let view = self
            .m
            .add_account(NewAccount {
                name: None,
                service,
                user: user.into(),
                endpoint: Some(endpoint.into()),
                options: options_map(options),
                remember_password: remember,
            })
            .await
            .unwrap();
        view.account.name
    }

    async fn login(&self, name: &str, password: &str) {
        match self
            .m
            .begin_login(name, Some(SecretString::new(password)))
            .await
            .unwrap()
        {
            LoginStep::Done(v) => assert_eq!(v.state, State::Valid, "{name}"),
            LoginStep::Challenge { .. } => panic!("{name}: unexpected challenge"),
        }
    }

    async fn coolkit(&self, user: &str, password: &str, remember: bool) -> String {
        let name = self
            .add(
                ServiceId::Coolkit,
                user,
                &self.ep.coolkit,
                &[("appid", DEMO_APPID), ("appsecret", DEMO_APPSECRET)],
                remember,
            )
            .await;
        self.login(&name, password).await;
        name
    }

    async fn state(&self, name: &str) -> State {
        self.m.get(name).await.unwrap().state
    }

    /// The CoolKit v2 profile call with the stored at: the simulator's verdict (0 = accepted).
    async fn coolkit_at_verdict(&self, name: &str, region: &str) -> i64 {
        let s = self.m.session(name).await.unwrap().expect("a session");
        coolkit_profile(&self.http, &self.ep, region, s.tokens.access.expose()).await
    }
}

async fn coolkit_profile(
    http: &reqwest::Client,
    ep: &lanyard_sim::Endpoints,
    region: &str,
    at: &str,
) -> i64 {
    let url = ep.coolkit.replace("{region}", region) + "/v2/user/profile";
    let v: Value = http
        .get(url)
        .header("X-CK-Appid", DEMO_APPID)
        .header("Authorization", format!("Bearer {at}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["error"].as_i64().unwrap()
}

/// The simulator's verdict on a CoolKit v2 refresh with `rt` (0 = accepted; it rotates).
async fn coolkit_refresh(
    http: &reqwest::Client,
    ep: &lanyard_sim::Endpoints,
    region: &str,
    rt: &str,
) -> i64 {
    let body = serde_json::to_vec(&json!({ "rt": rt })).unwrap();
    let url = ep.coolkit.replace("{region}", region) + "/v2/user/refresh";
    let v: Value = http
        .post(url)
        .header("X-CK-Appid", DEMO_APPID)
        .header(
            "Authorization",
            format!("Sign {}", lanyard_sim::coolkit::sign(DEMO_APPSECRET, &body)),
        )
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["error"].as_i64().unwrap()
}

/// Polls `check` until it holds or `within` passes.
async fn eventually<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < within, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Lets the engine run `n` more rounds (so anything it would wrongly do, it does).
async fn rounds(handle: &KeepAliveHandle, n: u64) {
    let target = handle.rounds() + n;
    handle.wake();
    let start = Instant::now();
    while handle.rounds() < target {
        assert!(start.elapsed() < Duration::from_secs(20), "engine stalled");
        tokio::time::sleep(Duration::from_millis(20)).await;
        handle.wake();
    }
}

/// Every event received so far (a lagging receiver skips what it missed).
fn drain(rx: &mut broadcast::Receiver<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    loop {
        match rx.try_recv() {
            Ok(e) => out.push(e),
            Err(broadcast::error::TryRecvError::Lagged(_)) => continue,
            Err(_) => return out,
        }
    }
}

fn hash(token: &str) -> String {
    hex::encode(&sha2::Sha256::digest(token.as_bytes())[..8])
}

// ----------------------------------------------------------------------------- specifications

/// A CoolKit session is refreshed at 75–80 % of its 30-day lifetime, before it expires; the
/// rotated refresh token is stored, and it is the one presented at the next refresh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coolkit_session_is_refreshed_before_expiry_and_its_rotated_rt_is_used_next_time() {
    let w = world(false).await;
    let name = w.coolkit("alice@example.com", "secret123", false).await;
    let first = w.m.session(&name).await.unwrap().unwrap();
    w.reset_stats().await;
    let mut events = w.m.subscribe();
    let ka = KeepAlive::spawn_with(w.m.clone(), engine_config());

    // Day 22 (73 %): nothing to do yet.
    w.jump(TimeDelta::days(22)).await;
    rounds(&ka, 3).await;
    assert_eq!(w.count(&w.ep.coolkit, "coolkit.v2.refresh").await, 0);

    // Day 24 + 1 min (past 80 %): refreshed once, well before day 30.
    w.jump(TimeDelta::days(2) + TimeDelta::minutes(1)).await;
    ka.wake();
    eventually("the first refresh", Duration::from_secs(10), || async {
        w.count(&w.ep.coolkit, "coolkit.v2.refresh").await == 1
    })
    .await;
    rounds(&ka, 3).await;
    assert_eq!(
        w.count(&w.ep.coolkit, "coolkit.v2.refresh").await,
        1,
        "once"
    );
    let second = w.m.session(&name).await.unwrap().unwrap();
    let (rt1, rt2) = (
        first.tokens.refresh.as_ref().unwrap().expose(),
        second.tokens.refresh.as_ref().unwrap().expose(),
    );
    assert_ne!(rt1, rt2, "the rotated rt is what is stored");
    assert!(second.info.expires_at.unwrap() > w.m.now() + TimeDelta::days(29));
    assert_eq!(w.state(&name).await, State::Valid);
    let got = drain(&mut events);
    assert!(
        got.iter()
            .any(|e| matches!(e, Event::Refreshed { account, how, .. }
            if account == &name && how == "refresh")),
        "a Refreshed event: {got:?}"
    );
    let log = w.m.events(Some(&name), 50).await.unwrap();
    assert!(
        log.iter().any(|e| e.kind == "refresh" && e.outcome == "ok"),
        "an event-log row for the attempt"
    );

    // 24 days later: the next refresh presents rt2 (the simulator then drops rt1 for good).
    w.jump(TimeDelta::days(24)).await;
    ka.wake();
    eventually("the second refresh", Duration::from_secs(10), || async {
        w.count(&w.ep.coolkit, "coolkit.v2.refresh").await == 2
    })
    .await;
    assert_eq!(
        coolkit_refresh(&w.http, &w.ep, "us", rt1).await,
        401,
        "rt1 is stale: rt2 was presented"
    );
    assert_eq!(
        w.coolkit_at_verdict(&name, "us").await,
        0,
        "the stored at works"
    );
    ka.shutdown().await;
    w.sim.shutdown().await;
}

/// SSCMS has no refresh: with the password remembered, the session is renewed by a silent
/// re-login before it expires.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sscms_account_logs_in_again_silently_with_its_remembered_password() {
    let w = world(false).await;
    let name = w
        .add(ServiceId::Sscms, "demo", &w.ep.sscms, &[], true)
        .await;
    w.login(&name, "demo1234").await;
    let before = w.m.session(&name).await.unwrap().unwrap();
    w.reset_stats().await;
    let ka = KeepAlive::spawn_with(w.m.clone(), engine_config());

    // Day 6 of 7 (past 80 %, before the warning window): one silent re-login.
    w.jump(TimeDelta::days(6)).await;
    ka.wake();
    eventually("a silent re-login", Duration::from_secs(10), || async {
        w.count(&w.ep.sscms, "sscms.login").await == 1
    })
    .await;
    rounds(&ka, 3).await;
    assert_eq!(w.count(&w.ep.sscms, "sscms.login").await, 1);
    let after = w.m.session(&name).await.unwrap().unwrap();
    assert_ne!(before.tokens.access.expose(), after.tokens.access.expose());
    assert!(after.info.expires_at > before.info.expires_at);
    assert_eq!(w.state(&name).await, State::Valid);
    let log = w.m.events(Some(&name), 50).await.unwrap();
    assert!(log.iter().any(|e| e.kind == "relogin" && e.outcome == "ok"));
    ka.shutdown().await;
    w.sim.shutdown().await;
}

/// The SSCMS simulator has no captcha switch, so this uses ShopXO (login captcha, a session
/// without expiry that is re-validated every few hours): a revoked session is renewed by a silent
/// re-login while the shop asks for no captcha; once it does, the account goes `needs_login`
/// with the reason, an event says so, and the engine stops trying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shopxo_account_needs_a_login_when_the_silent_relogin_meets_a_captcha() {
    let w = world(false).await;
    w.control(&w.ep.shopxo)
        .configure(&ShopxoConfigPatch {
            login_captcha: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    let name = w
        .add(ServiceId::Shopxo, "alice01", &w.ep.shopxo, &[], true)
        .await;
    w.login(&name, "secret123").await;
    w.reset_stats().await;
    let mut events = w.m.subscribe();
    let ka = KeepAlive::spawn_with(w.m.clone(), engine_config());

    // Re-validated every 4 h ± 10 %.
    w.jump(TimeDelta::hours(5)).await;
    ka.wake();
    eventually("a re-validation", Duration::from_secs(10), || async {
        w.count(&w.ep.shopxo, "shopxo.personal.index").await == 1
    })
    .await;
    assert_eq!(w.count(&w.ep.shopxo, "shopxo.user.login").await, 0);

    // Revoked while no captcha is asked for: a silent re-login.
    w.control(&w.ep.shopxo).revoke("alice01").await.unwrap();
    w.jump(TimeDelta::hours(5)).await;
    ka.wake();
    eventually("a silent re-login", Duration::from_secs(10), || async {
        w.count(&w.ep.shopxo, "shopxo.user.login").await == 1
    })
    .await;
    eventually("valid again", Duration::from_secs(5), || async {
        w.state(&name).await == State::Valid
    })
    .await;

    // The shop turns its login captcha on and the token is revoked again.
    w.control(&w.ep.shopxo)
        .configure(&ShopxoConfigPatch {
            login_captcha: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    w.control(&w.ep.shopxo).revoke("alice01").await.unwrap();
    drain(&mut events);
    w.jump(TimeDelta::hours(5)).await;
    ka.wake();
    let reason = NeedsLoginReason::ChallengeRequired;
    eventually("needs_login", Duration::from_secs(10), || async {
        w.state(&name).await
            == State::NeedsLogin {
                reason: reason.clone(),
            }
    })
    .await;
    rounds(&ka, 3).await;
    let got = drain(&mut events);
    assert!(
        got.iter().any(
            |e| matches!(e, Event::RefreshFailed { account, permanent: true, message, .. }
            if account == &name && message.contains("captcha"))
        ),
        "a permanent failure event with the reason: {got:?}"
    );
    assert!(
        got.iter().any(
            |e| matches!(e, Event::StateChanged { account, state: State::NeedsLogin { .. } }
            if account == &name)
        ),
        "a state change event: {got:?}"
    );
    let log = w.m.events(Some(&name), 50).await.unwrap();
    assert!(
        log.iter()
            .any(|e| e.kind == "relogin" && e.outcome == "failed" && e.message.contains("captcha"))
    );
    // It stops: later rounds send nothing.
    let logins = w.count(&w.ep.shopxo, "shopxo.user.login").await;
    let checks = w.count(&w.ep.shopxo, "shopxo.personal.index").await;
    w.jump(TimeDelta::hours(10)).await;
    rounds(&ka, 5).await;
    assert_eq!(w.count(&w.ep.shopxo, "shopxo.user.login").await, logins);
    assert_eq!(w.count(&w.ep.shopxo, "shopxo.personal.index").await, checks);
    ka.shutdown().await;
    w.sim.shutdown().await;
}

/// Sixteen tasks ask for the token of a stale session at once: one refresh reaches the server,
/// every caller gets the new token, and it is the stored one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_concurrent_token_calls_on_a_stale_session_refresh_once() {
    let w = world(false).await;
    let name = w.coolkit("alice@example.com", "secret123", false).await;
    // 2 minutes before the at expires: inside the 5-minute margin of `token`.
    w.jump(TimeDelta::days(30) - TimeDelta::minutes(2)).await;
    w.reset_stats().await;
    // A slow server, so the callers really overlap.
    w.control(&w.ep.coolkit)
        .fault(&FaultSpec {
            latency_ms: Some(400),
            times: Some(1),
            ..Default::default()
        })
        .await
        .unwrap();
    let calls: Vec<_> = (0..16)
        .map(|_| {
            let (m, name) = (w.m.clone(), name.clone());
            tokio::spawn(async move { m.token(&name, TokenFormat::Raw).await })
        })
        .collect();
    let mut tokens = Vec::new();
    for c in calls {
        tokens.push(c.await.unwrap().expect("a token"));
    }
    assert_eq!(w.count(&w.ep.coolkit, "coolkit.v2.refresh").await, 1);
    let stored = w.m.session(&name).await.unwrap().unwrap();
    assert!(tokens.iter().all(|t| t == stored.tokens.access.expose()));
    assert_eq!(w.coolkit_at_verdict(&name, "us").await, 0);
    w.sim.shutdown().await;
}

/// Two processes (think: the desktop app and the CLI), eight tasks each, ask for a stale token at
/// the same moment: exactly one refresh reaches the server; the other process waits for the
/// lease and then reads the stored result instead of refreshing again.
#[test]
fn two_processes_asking_for_a_stale_token_refresh_once() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let w = world(true).await;
        let name = w.coolkit("alice@example.com", "secret123", false).await;
        w.reset_stats().await;
        w.control(&w.ep.coolkit)
            .fault(&FaultSpec {
                latency_ms: Some(600),
                times: Some(1),
                ..Default::default()
            })
            .await
            .unwrap();
        // The children see the session 2 minutes before its expiry.
        let offset = TimeDelta::days(30) - TimeDelta::minutes(2);
        let go = w.dir.path().join("go");
        let children: Vec<Child> = (0..2)
            .map(|_| {
                child(
                    "child_token_caller",
                    &[
                        ("LANYARD_KA_DIR", w.dir.path().to_str().unwrap()),
                        ("LANYARD_KA_NAME", &name),
                        (
                            "LANYARD_KA_OFFSET_MS",
                            &offset.num_milliseconds().to_string(),
                        ),
                        ("LANYARD_KA_GO", go.to_str().unwrap()),
                    ],
                )
            })
            .collect();
        // Both are up (their managers open) before they go.
        tokio::time::sleep(Duration::from_millis(300)).await;
        std::fs::write(&go, b"go").unwrap();
        let mut hashes = Vec::new();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success(), "a child failed");
            let text = String::from_utf8(out.stdout).unwrap();
            hashes.extend(
                text.lines()
                    // The harness may print "test … " on the same line first.
                    .filter_map(|l| l.split("token-hash ").nth(1))
                    .map(|h| h.trim().to_owned()),
            );
        }
        assert_eq!(hashes.len(), 16, "every call of both processes got a token");
        assert_eq!(
            w.count(&w.ep.coolkit, "coolkit.v2.refresh").await,
            1,
            "one refresh for 16 callers in 2 processes"
        );
        let stored = w.m.session(&name).await.unwrap().unwrap();
        let expected = hash(stored.tokens.access.expose());
        assert!(
            hashes.iter().all(|h| *h == expected),
            "all saw the stored token"
        );
        assert_eq!(w.coolkit_at_verdict(&name, "us").await, 0);
        w.sim.shutdown().await;
    });
}

/// The machine slept for 50 days, past several deadlines of every account: on wake the engine
/// does one catch-up round — one refresh, re-login or validation per account — not a storm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspend_gap_causes_one_catch_up_round_not_a_storm() {
    let w = world(false).await;
    let mut coolkit = Vec::new();
    for (user, password) in [
        ("alice@example.com", "secret123"),
        ("bob@example.com", "hunter22"),
        ("+8613800000001", "secret123"),
    ] {
        coolkit.push(w.coolkit(user, password, false).await);
    }
    let mut sscms = Vec::new();
    for (user, password) in [("demo", "demo1234"), ("alice", "secret123")] {
        let n = w.add(ServiceId::Sscms, user, &w.ep.sscms, &[], true).await;
        w.login(&n, password).await;
        sscms.push(n);
    }
    w.control(&w.ep.shopxo)
        .configure(&ShopxoConfigPatch {
            login_captcha: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    let shop = w
        .add(ServiceId::Shopxo, "alice01", &w.ep.shopxo, &[], true)
        .await;
    w.login(&shop, "secret123").await;

    let ka = KeepAlive::spawn_with(w.m.clone(), engine_config());
    rounds(&ka, 3).await;
    w.reset_stats().await;

    // 50 days: past two CoolKit refresh points (day ~23 and ~46), seven SSCMS renewals and
    // ~300 ShopXO re-validations.
    w.jump(TimeDelta::days(50)).await;
    ka.wake();
    eventually("the catch-up round", Duration::from_secs(20), || async {
        w.count(&w.ep.coolkit, "coolkit.v2.refresh").await == 3
            && w.count(&w.ep.sscms, "sscms.login").await == 2
            && w.count(&w.ep.shopxo, "shopxo.personal.index").await == 1
    })
    .await;
    // Then quiet: more rounds, nothing more.
    rounds(&ka, 10).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    rounds(&ka, 5).await;
    let coolkit_stats = w.stats(&w.ep.coolkit).await;
    assert_eq!(
        coolkit_stats.get("coolkit.v2.refresh"),
        Some(&3),
        "one per account"
    );
    assert_eq!(coolkit_stats.get("coolkit.v2.login"), None);
    assert_eq!(
        w.count(&w.ep.sscms, "sscms.login").await,
        2,
        "one per account"
    );
    assert_eq!(w.count(&w.ep.shopxo, "shopxo.personal.index").await, 1);
    assert_eq!(w.count(&w.ep.shopxo, "shopxo.user.login").await, 0);
    for name in coolkit.iter().chain(&sscms).chain([&shop]) {
        assert_eq!(w.state(name).await, State::Valid, "{name}");
    }
    ka.shutdown().await;
    w.sim.shutdown().await;
}

/// The app was closed for 25 days: a new process on the same data dir finds the overdue
/// deadline in the store and refreshes once, right away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_survive_a_restart() {
    let w = world(true).await;
    let name = w.coolkit("alice@example.com", "secret123", false).await;
    let ka = KeepAlive::spawn_with(w.m.clone(), engine_config());
    rounds(&ka, 2).await;
    ka.shutdown().await;
    w.reset_stats().await;

    w.jump(TimeDelta::days(25)).await;
    let restarted = Arc::new(
        Manager::with_parts(
            &w.dir.path().join("lanyard.db"),
            file_secrets(w.dir.path()),
            HttpConfig::default(),
        )
        .unwrap()
        .with_clock(w.clock.clone()),
    );
    let ka = KeepAlive::spawn_with(restarted.clone(), engine_config());
    eventually("the overdue refresh", Duration::from_secs(10), || async {
        w.count(&w.ep.coolkit, "coolkit.v2.refresh").await == 1
    })
    .await;
    rounds(&ka, 5).await;
    assert_eq!(w.count(&w.ep.coolkit, "coolkit.v2.refresh").await, 1);
    assert_eq!(restarted.get(&name).await.unwrap().state, State::Valid);
    ka.shutdown().await;
    w.sim.shutdown().await;
}

/// A transient failure (the server answers 500) backs off exponentially with the next attempt
/// visible in the state; once the server is back, the session is renewed. A permanent failure
/// (the refresh token rejected) stops the engine for that account with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_failures_back_off_and_permanent_ones_stop_with_the_reason() {
    let w = world(false).await;
    let name = w.coolkit("alice@example.com", "secret123", false).await;
    w.reset_stats().await;
    let mut events = w.m.subscribe();
    let ka = KeepAlive::spawn_with(w.m.clone(), engine_config());
    w.control(&w.ep.coolkit)
        .fault(&FaultSpec {
            status: Some(500),
            ..Default::default()
        })
        .await
        .unwrap();

    w.jump(TimeDelta::days(25)).await;
    ka.wake();
    let mut delays = Vec::new();
    for attempt in 1..=3u32 {
        eventually("a retrying state", Duration::from_secs(10), || async {
            matches!(w.state(&name).await, State::Retrying { attempts, .. } if attempts == attempt)
        })
        .await;
        let State::Retrying { next_attempt, .. } = w.state(&name).await else {
            unreachable!()
        };
        delays.push((next_attempt - w.m.now()).num_seconds());
        // Not before its time (faulted requests do not reach the simulator's counters, so
        // count the attempts in the event log)...
        rounds(&ka, 2).await;
        let log = w.m.events(Some(&name), 100).await.unwrap();
        assert_eq!(
            log.iter()
                .filter(|e| e.kind == "refresh" && e.outcome == "retrying")
                .count(),
            attempt as usize
        );
        // ... and then again.
        w.jump(next_attempt - w.m.now() + TimeDelta::seconds(1))
            .await;
        ka.wake();
    }
    // 30 s, 60 s, 120 s, each minus up to 20 % jitter.
    assert!(delays[0] <= 30 && delays[0] >= 22, "{delays:?}");
    assert!(delays[1] <= 60 && delays[1] >= 46, "{delays:?}");
    assert!(delays[2] <= 120 && delays[2] >= 94, "{delays:?}");
    let got = drain(&mut events);
    assert!(got.iter().any(|e| matches!(
        e,
        Event::RefreshFailed {
            permanent: false,
            next_attempt: Some(_),
            ..
        }
    )));

    // The server is back: renewed.
    w.control(&w.ep.coolkit).clear_faults().await.unwrap();
    w.jump(TimeDelta::minutes(5)).await;
    ka.wake();
    eventually("valid again", Duration::from_secs(10), || async {
        w.state(&name).await == State::Valid
    })
    .await;
    assert_eq!(w.coolkit_at_verdict(&name, "us").await, 0);

    // Revoked on the server: the next refresh is refused → needs_login, and no more tries.
    w.control(&w.ep.coolkit)
        .revoke("alice@example.com")
        .await
        .unwrap();
    w.jump(TimeDelta::days(25)).await;
    ka.wake();
    eventually("needs_login", Duration::from_secs(10), || async {
        matches!(w.state(&name).await, State::NeedsLogin { .. })
    })
    .await;
    let refreshes = w.count(&w.ep.coolkit, "coolkit.v2.refresh").await;
    w.jump(TimeDelta::days(3)).await;
    rounds(&ka, 5).await;
    assert_eq!(
        w.count(&w.ep.coolkit, "coolkit.v2.refresh").await,
        refreshes,
        "stopped"
    );
    let got = drain(&mut events);
    assert!(got.iter().any(|e| matches!(
        e,
        Event::RefreshFailed {
            permanent: true,
            ..
        }
    )));
    ka.shutdown().await;
    w.sim.shutdown().await;
}

/// A session nothing can renew (SSCMS, no remembered password) gets one "expiring unattended"
/// warning when the warning window starts, not one per round, and shows `needs_login` once it
/// expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unattended_session_is_announced_once_before_it_dies() {
    let w = world(false).await;
    let name = w
        .add(ServiceId::Sscms, "alice", &w.ep.sscms, &[], false)
        .await;
    w.login(&name, "secret123").await;
    w.m.set_warning_window(Some(Duration::from_secs(6 * 3600)))
        .await
        .unwrap();
    let mut events = w.m.subscribe();
    let ka = KeepAlive::spawn_with(w.m.clone(), engine_config());
    rounds(&ka, 3).await;
    assert!(
        drain(&mut events)
            .iter()
            .all(|e| !matches!(e, Event::ExpiringUnattended { .. }))
    );

    // 7-day session, 6-hour window: at day 6.8 the warning comes.
    w.jump(TimeDelta::hours(6 * 24 + 19)).await;
    ka.wake();
    let mut got = Vec::new();
    eventually("the warning", Duration::from_secs(10), || {
        got.extend(drain(&mut events));
        let found = got
            .iter()
            .any(|e| matches!(e, Event::ExpiringUnattended { .. }));
        async move { found }
    })
    .await;
    rounds(&ka, 5).await;
    w.jump(TimeDelta::hours(1)).await;
    rounds(&ka, 5).await;
    got.extend(drain(&mut events));
    let warnings: Vec<_> = got
        .iter()
        .filter_map(|e| match e {
            Event::ExpiringUnattended {
                account,
                remaining_secs,
                message,
                ..
            } => Some((account.clone(), *remaining_secs, message.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(warnings.len(), 1, "once: {warnings:?}");
    assert_eq!(warnings[0].0, name);
    assert!(warnings[0].1 > 0 && warnings[0].1 <= 6 * 3600);
    assert!(warnings[0].2.contains("cannot be renewed without you"));
    assert_eq!(w.state(&name).await, State::Expiring);
    let log = w.m.events(Some(&name), 50).await.unwrap();
    assert_eq!(
        log.iter()
            .filter(|e| e.outcome == "expiring_unattended")
            .count(),
        1
    );

    // Past its expiry: needs a login, and the UI hears of the change.
    w.jump(TimeDelta::hours(12)).await;
    ka.wake();
    eventually("expired", Duration::from_secs(10), || async {
        matches!(
            w.state(&name).await,
            State::NeedsLogin {
                reason: NeedsLoginReason::Expired
            }
        )
    })
    .await;
    let mut seen = false;
    eventually("a state change event", Duration::from_secs(5), || {
        seen |= drain(&mut events).iter().any(|e| {
            matches!(
                e,
                Event::StateChanged {
                    state: State::NeedsLogin { .. },
                    ..
                }
            )
        });
        async move { seen }
    })
    .await;
    ka.shutdown().await;
    w.sim.shutdown().await;
}

/// A process refreshing a CoolKit session in a loop is killed (SIGKILL) at a random moment, 100
/// times: afterwards the stored tokens always work at the simulator (its at is accepted, or at
/// least its rt renews). This holds because the rotated tokens are stored before they are used
/// and the simulator keeps the previous pair valid until the new one is presented.
#[test]
fn sigkill_at_random_points_during_refreshes_never_loses_the_session() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let w = world(true).await;
        let name = w.coolkit("alice@example.com", "secret123", false).await;
        w.reset_stats().await;
        let started = Instant::now();
        let mut at_ok = 0;
        let mut rt_only = 0;
        for round in 0..100 {
            let mut c = child(
                "child_refresher",
                &[
                    ("LANYARD_KA_DIR", w.dir.path().to_str().unwrap()),
                    ("LANYARD_KA_NAME", &name),
                ],
            );
            // Wait until it is past its start-up, then let it refresh for 0–150 ms.
            let stdout = c.stdout.take().unwrap();
            let ready = tokio::task::spawn_blocking(move || {
                BufReader::new(stdout)
                    .lines()
                    .map_while(Result::ok)
                    .any(|l| l.ends_with("ready"))
            })
            .await
            .unwrap();
            assert!(ready, "round {round}: the child did not start");
            tokio::time::sleep(Duration::from_millis(rand::random_range(0..=150))).await;
            c.kill().unwrap(); // SIGKILL
            c.wait().unwrap();

            let s = w.m.session(&name).await.unwrap().expect("a stored session");
            if coolkit_profile(&w.http, &w.ep, "us", s.tokens.access.expose()).await == 0 {
                at_ok += 1;
            } else {
                let rt = s.tokens.refresh.as_ref().unwrap().expose().to_owned();
                assert_eq!(
                    coolkit_refresh(&w.http, &w.ep, "us", &rt).await,
                    0,
                    "round {round}: the stored at and rt are both rejected: the session is lost"
                );
                rt_only += 1;
            }
        }
        let refreshes = w.count(&w.ep.coolkit, "coolkit.v2.refresh").await;
        eprintln!(
            "100 kills in {:.1} s; {refreshes} refreshes reached the server; stored at accepted \
             {at_ok} times, only the rt {rt_only} times",
            started.elapsed().as_secs_f64()
        );
        assert!(refreshes >= 100, "the children did refresh ({refreshes})");
        // And the account still works through Lanyard.
        w.m.refresh(&name, true).await.unwrap();
        assert_eq!(w.coolkit_at_verdict(&name, "us").await, 0);
        w.sim.shutdown().await;
    });
}

/// A refusal is not a revocation: SSCMS v7 answers its user route for API keys only (the
/// simulator, like the real server, gives a user token 401 there), so a check of a v7 session
/// is not possible. The session stays valid, an event says the check could not be made, and
/// `token()` keeps handing it out, through forced checks and keep-alive rounds alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sscms_v7_session_is_kept_when_the_server_cannot_check_it() {
    let w = world(false).await;
    w.control(&w.ep.sscms)
        .configure(&SscmsConfigPatch {
            version: Some(SscmsVersion::V7),
            ..Default::default()
        })
        .await
        .unwrap();
    let name = w
        .add(ServiceId::Sscms, "demo", &w.ep.sscms, &[], false)
        .await;
    w.login(&name, "demo1234").await;
    let token = w.m.token(&name, TokenFormat::Raw).await.unwrap();
    w.reset_stats().await;
    let ka = KeepAlive::spawn_with(w.m.clone(), engine_config());

    // What `lanyard refresh --force` does without a remembered password: a validation.
    w.m.refresh(&name, true).await.unwrap();
    rounds(&ka, 3).await;
    w.jump(TimeDelta::days(3)).await;
    rounds(&ka, 3).await;
    w.m.refresh(&name, true).await.unwrap();

    assert_eq!(w.state(&name).await, State::Valid);
    assert_eq!(w.m.token(&name, TokenFormat::Raw).await.unwrap(), token);
    let log = w.m.events(Some(&name), 50).await.unwrap();
    let checks: Vec<_> = log.iter().filter(|e| e.kind == "validate").collect();
    assert!(
        !checks.is_empty() && checks.iter().all(|e| e.outcome == "unverifiable"),
        "{log:?}"
    );
    assert!(
        checks[0].message.contains("API key") && checks[0].message.contains("kept until"),
        "{}",
        checks[0].message
    );
    assert!(!log.iter().any(|e| e.outcome == "needs_login"), "{log:?}");
    // Nothing was asked of the route that cannot answer.
    assert_eq!(w.count(&w.ep.sscms, "sscms.user").await, 0);
    ka.shutdown().await;
    w.sim.shutdown().await;
}

// ------------------------------------------------------------------ work in proportion to what is due

/// Adds a CoolKit account holding `session` (no login: the tokens are whatever it says).
async fn add_with_session(w: &World, name: &str, session: &Session) -> String {
    let view =
        w.m.add_account(NewAccount {
            name: Some(name.to_owned()),
            service: ServiceId::Coolkit,
            user: format!("{name}@example.invalid"),
            endpoint: Some(w.ep.coolkit.clone()),
            options: options_map(&[("appid", DEMO_APPID), ("appsecret", DEMO_APPSECRET)]),
            remember_password: false,
        })
        .await
        .unwrap();
    w.m.save_session(&view.account.id, session).await.unwrap();
    view.account.name
}

/// A session the simulator never sees (nothing in these tests sends it).
fn offline_session(
    obtained: chrono::DateTime<chrono::Utc>,
    expires: chrono::DateTime<chrono::Utc>,
    refresh_expires: chrono::DateTime<chrono::Utc>,
) -> Session {
    Session {
        tokens: SessionTokens {
            access: SecretString::new("offline-at"),
            refresh: Some(SecretString::new("offline-rt")),
            extra: BTreeMap::new(),
        },
        info: SessionInfo {
            obtained_at: Some(obtained),
            expires_at: Some(expires),
            refresh_expires_at: Some(refresh_expires),
            user_id: None,
            display_name: None,
            extra: BTreeMap::from([("region".to_owned(), "us".to_owned())]),
        },
    }
}

/// 1,000 accounts with sessions, none due for weeks, and two whose "expiring" point comes a few
/// seconds after the engine starts: after its first round (which reads all of them), an idle
/// round reads no account, a round after a change reads the changed accounts, and the two reach
/// their point and are read then, without reading the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_touches_only_due_and_changed_accounts() {
    const ACCOUNTS: usize = 1_000;
    let w = world(false).await;
    let now = w.m.now();
    let far = offline_session(now, now + TimeDelta::days(30), now + TimeDelta::days(60));
    let mut names = Vec::new();
    for i in 0..ACCOUNTS - 2 {
        names.push(add_with_session(&w, &format!("idle-{i}"), &far).await);
    }
    // Unrenewable (refresh token expired, no password): shown valid, then expiring at
    // expiry minus a tenth of the lifetime, when the engine also announces it.
    let now = w.m.now();
    let point = now + TimeDelta::seconds(8);
    let life = TimeDelta::seconds(1_000);
    let expires = point + life / 10;
    let soon = offline_session(expires - life, expires, now - TimeDelta::hours(1));
    let mut due = Vec::new();
    for i in 0..2 {
        due.push(add_with_session(&w, &format!("due-{i}"), &soon).await);
    }
    assert_eq!(w.state(&due[0]).await, State::Valid);

    let mut events = w.m.subscribe();
    let ka = KeepAlive::spawn_with(w.m.clone(), engine_config());
    rounds(&ka, 2).await;
    assert_eq!(ka.full_reads(), 1, "{ka:?}");
    let first = ka.touched();
    assert_eq!(
        first, ACCOUNTS as u64,
        "the first round reads every account once"
    );

    // Idle: rounds read nothing.
    let before = ka.rounds();
    rounds(&ka, 10).await;
    assert_eq!(ka.touched(), first, "idle rounds read no account: {ka:?}");
    assert!(ka.rounds() >= before + 10);
    assert!(
        w.m.now() < point,
        "the setup was too slow for this test's timing"
    );

    // Three changes through the Manager: a logout, a new session, a rename.
    w.m.logout(&names[10]).await.unwrap();
    w.m.save_session(&w.m.get(&names[20]).await.unwrap().account.id, &far)
        .await
        .unwrap();
    w.m.edit_account(
        &names[30],
        AccountEdit {
            name: Some("renamed-30".into()),
            ..AccountEdit::default()
        },
    )
    .await
    .unwrap();
    eventually("the logout seen", Duration::from_secs(10), || {
        let seen = drain(&mut events).into_iter().any(|e| {
            matches!(e, Event::StateChanged { ref account, state: State::SignedOut }
                if *account == names[10])
        });
        async move { seen }
    })
    .await;
    rounds(&ka, 5).await;
    let changed = ka.touched() - first;
    assert!(
        (3..=6).contains(&changed),
        "rounds after three changes read {changed} accounts: {ka:?}"
    );

    // The two reach their point: read (and announced) without reading the rest.
    let after_changes = ka.touched();
    let mut announced = std::collections::HashSet::new();
    eventually("both announced", Duration::from_secs(20), || {
        for e in drain(&mut events) {
            if let Event::ExpiringUnattended { account, .. } = e {
                announced.insert(account);
            }
        }
        let done = due.iter().all(|d| announced.contains(d));
        async move { done }
    })
    .await;
    rounds(&ka, 5).await;
    let read = ka.touched() - after_changes;
    assert!(
        (2..=4).contains(&read),
        "rounds when two accounts came due read {read} accounts: {ka:?}"
    );
    assert_eq!(w.state(&due[0]).await, State::Expiring);
    assert_eq!(ka.full_reads(), 1, "no round read everything again: {ka:?}");
    ka.shutdown().await;
    w.sim.shutdown().await;
}

/// Another process logs an account out: the engine notices by the store's change numbers (it was
/// not told), reads that account alone and shows it signed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_made_by_another_process_is_still_noticed() {
    let w = world(true).await;
    let name = w.coolkit("alice@example.com", "secret123", false).await;
    let now = w.m.now();
    let far = offline_session(now, now + TimeDelta::days(30), now + TimeDelta::days(60));
    for i in 0..50 {
        add_with_session(&w, &format!("other-{i}"), &far).await;
    }
    let mut events = w.m.subscribe();
    let ka = KeepAlive::spawn_with(w.m.clone(), engine_config());
    rounds(&ka, 3).await;
    let before = ka.touched();

    let dir = w.dir.path().to_str().unwrap();
    let out = child(
        "child_logout",
        &[("LANYARD_KA_DIR", dir), ("LANYARD_KA_NAME", &name)],
    )
    .wait_with_output()
    .unwrap();
    assert!(out.status.success(), "the other process failed");
    let mut seen = false;
    eventually(
        "the other process's logout seen",
        Duration::from_secs(10),
        || {
            seen |= drain(&mut events).into_iter().any(|e| {
                matches!(e, Event::StateChanged { ref account, state: State::SignedOut }
                if *account == name)
            });
            let done = seen;
            async move { done }
        },
    )
    .await;
    rounds(&ka, 3).await;
    let read = ka.touched() - before;
    assert!(
        (1..=4).contains(&read),
        "noticing one account's change read {read} accounts: {ka:?}"
    );
    assert_eq!(ka.full_reads(), 1);
    ka.shutdown().await;
    w.sim.shutdown().await;
}

/// A login waiting for a captcha lives in the Manager's memory, not in the store: the engine
/// still shows the account awaiting the challenge, and back when the login is cancelled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_waiting_for_a_challenge_shows_without_a_store_change() {
    let w = world(false).await;
    let name = w
        .add(ServiceId::Shopxo, "alice01", &w.ep.shopxo, &[], false)
        .await;
    let mut events = w.m.subscribe();
    let ka = KeepAlive::spawn_with(w.m.clone(), engine_config());
    rounds(&ka, 2).await;
    let flow = match w
        .m
        .begin_login(&name, Some(SecretString::new("secret123")))
        .await
        .unwrap()
    {
        LoginStep::Challenge { flow, .. } => flow,
        LoginStep::Done(_) => panic!("the simulator asks ShopXO logins for a captcha"),
    };
    let shown = |events: &mut broadcast::Receiver<Event>, want: State| {
        drain(events).into_iter().any(|e| {
            matches!(e, Event::StateChanged { ref account, ref state }
                if *account == name && *state == want)
        })
    };
    let mut seen = false;
    eventually("awaiting shown", Duration::from_secs(10), || {
        seen |= shown(&mut events, State::AwaitingChallenge);
        let done = seen;
        async move { done }
    })
    .await;
    w.m.cancel_login(&flow);
    let mut seen = false;
    eventually("signed out again", Duration::from_secs(10), || {
        seen |= shown(&mut events, State::SignedOut);
        let done = seen;
        async move { done }
    })
    .await;
    assert_eq!(ka.full_reads(), 1, "{ka:?}");
    ka.shutdown().await;
    w.sim.shutdown().await;
}

/// 1,000 CoolKit accounts due at once are all renewed against lanyard-sim, `max_parallel` at a
/// time, in a number of engine rounds far below the number of accounts (each round reads only
/// the accounts that changed since the one before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_1000_due_accounts_is_renewed_in_few_rounds() {
    const ACCOUNTS: u64 = 1_000;
    let w = world(false).await;
    // One real login gives a token pair every account can refresh with (the simulator keeps one
    // session per user, so the refresh token is shared and not rotated).
    w.control(&w.ep.coolkit)
        .configure(&CoolkitConfigPatch {
            rotate_rt: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    let seed = w.coolkit("alice@example.com", "secret123", false).await;
    // The seed stays: removing it would log its session out at the simulator.
    let mut session = w.m.session(&seed).await.unwrap().unwrap();
    let now = w.m.now();
    session.info.obtained_at = Some(now - TimeDelta::days(29));
    session.info.expires_at = Some(now + TimeDelta::days(1));
    let mut names = Vec::new();
    for i in 0..ACCOUNTS {
        names.push(add_with_session(&w, &format!("burst-{i}"), &session).await);
    }
    w.reset_stats().await;

    let start = Instant::now();
    let ka = KeepAlive::spawn_with(
        w.m.clone(),
        KeepAliveConfig {
            max_sleep: Duration::from_secs(30),
            ..KeepAliveConfig::default()
        },
    );
    eventually(
        "every account refreshed",
        Duration::from_secs(600),
        || async { w.count(&w.ep.coolkit, "coolkit.v2.refresh").await >= ACCOUNTS },
    )
    .await;
    eventually("every renewal stored", Duration::from_secs(60), || async {
        ka.checks() == ACCOUNTS && ka.touched() >= ACCOUNTS
    })
    .await;
    let elapsed = start.elapsed();
    let rounds = ka.rounds();
    let stats = format!("{ka:?} in {:.1} s", elapsed.as_secs_f64());
    ka.shutdown().await;
    assert_eq!(
        w.count(&w.ep.coolkit, "coolkit.v2.refresh").await,
        ACCOUNTS,
        "one refresh per account: {stats}"
    );
    for name in &names {
        let s = w.m.session(name).await.unwrap().expect("a session");
        assert_ne!(
            s.tokens.access.expose(),
            session.tokens.access.expose(),
            "{name}"
        );
        assert_eq!(w.state(name).await, State::Valid, "{name}");
    }
    let max_parallel = KeepAliveConfig::default().max_parallel as u64;
    assert!(
        rounds <= ACCOUNTS / max_parallel,
        "a burst of {ACCOUNTS} took too many rounds: {stats}"
    );
    eprintln!("burst of {ACCOUNTS}: {stats}");
    w.sim.shutdown().await;
}

// ------------------------------------------------------------------------ child processes

fn child(helper: &str, env: &[(&str, &str)]) -> Child {
    let mut cmd = own_test(&format!("keepalive::{helper}"));
    cmd.stdout(Stdio::piped()).stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().unwrap()
}

fn child_manager(dir: &Path, offset: TimeDelta) -> Manager {
    // The default Argon2 parameters: an existing file's header says which it uses.
    let secrets = Secrets::file(&dir.join("secrets.enc"), SecretString::new(PASSPHRASE)).unwrap();
    Manager::with_parts(&dir.join("lanyard.db"), secrets, HttpConfig::default())
        .unwrap()
        .with_clock(TestClock::with_offset(offset))
}

fn child_env() -> Option<(PathBuf, String)> {
    let dir = std::env::var_os("LANYARD_KA_DIR")?;
    let name = std::env::var("LANYARD_KA_NAME").ok()?;
    Some((PathBuf::from(dir), name))
}

/// A second Lanyard process: waits for the go file, then 8 tasks ask for the token at once and
/// print a hash of what they got.
#[test]
#[ignore = "run by two_processes_asking_for_a_stale_token_refresh_once"]
fn child_token_caller() {
    let Some((dir, name)) = child_env() else {
        return;
    };
    let offset: i64 = std::env::var("LANYARD_KA_OFFSET_MS")
        .unwrap()
        .parse()
        .unwrap();
    let go = PathBuf::from(std::env::var_os("LANYARD_KA_GO").unwrap());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let m = Arc::new(child_manager(&dir, TimeDelta::milliseconds(offset)));
        let start = Instant::now();
        while !go.exists() {
            assert!(start.elapsed() < Duration::from_secs(20), "no go");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let calls: Vec<_> = (0..8)
            .map(|_| {
                let (m, name) = (m.clone(), name.clone());
                tokio::spawn(async move { m.token(&name, TokenFormat::Raw).await })
            })
            .collect();
        for c in calls {
            let token = c.await.unwrap().expect("a token");
            println!("token-hash {}", hash(&token));
        }
    });
}

/// Refreshes (forced) in a loop until killed.
#[test]
#[ignore = "run by sigkill_at_random_points_during_refreshes_never_loses_the_session"]
fn child_refresher() {
    let Some((dir, name)) = child_env() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let m = child_manager(&dir, TimeDelta::zero());
        println!("ready");
        use std::io::Write;
        std::io::stdout().flush().unwrap();
        loop {
            if let Err(e) = m.refresh(&name, true).await {
                eprintln!("child refresh failed: {}", e.display_line());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    });
}

/// Logs the account out (another process, e.g. `lanyard logout`), then exits.
#[test]
#[ignore = "run by a_change_made_by_another_process_is_still_noticed"]
fn child_logout() {
    let Some((dir, name)) = child_env() else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let m = child_manager(&dir, TimeDelta::zero());
        m.logout(&name).await.unwrap();
    });
}
