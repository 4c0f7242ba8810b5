//! Framework behaviour shared by every simulator: faults, clock, stats, lifecycle.
//! Faults are exercised on a path that is not a control route (`/probe`), on the steedos
//! listener; they do not depend on what the service answers normally.

use std::time::{Duration, Instant};

use lanyard_sim::SimConfig;
use serde_json::{Value, json};

use crate::support::{client, sim};

async fn control(base: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
    let r = client()
        .request(method, format!("{base}{path}"))
        .json(&body)
        .send()
        .await
        .expect("control call");
    assert!(r.status().is_success(), "{path}: {}", r.status());
    r.json().await.expect("control answers JSON")
}

async fn set_fault(base: &str, fault: Value) {
    control(base, reqwest::Method::POST, "/__sim/faults", fault).await;
}

async fn probe(base: &str) -> reqwest::Result<reqwest::Response> {
    client().get(format!("{base}/probe")).send().await
}

#[tokio::test]
async fn endpoints_are_loopback_urls_and_coolkit_is_a_region_template() {
    let sim = sim().await;
    let e = sim.endpoints().clone();
    for url in [&e.steedos, &e.sscms, &e.siyuan, &e.shopxo] {
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    }
    assert!(e.coolkit.starts_with("http://127.0.0.1:") && e.coolkit.ends_with("/{region}"));
    assert_eq!(e.siyuan_captcha, e.siyuan);
    let json = serde_json::to_value(&e).unwrap();
    for k in [
        "steedos",
        "sscms",
        "coolkit",
        "siyuan",
        "siyuan_captcha",
        "shopxo",
    ] {
        assert!(json[k].is_string(), "{k}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_listeners() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    assert!(probe(&base).await.is_ok());
    sim.shutdown().await;
    assert!(probe(&base).await.is_err(), "listener still answering");
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    let normal = probe(&base).await.unwrap().status();
    set_fault(&base, json!({"latency_ms": 300, "times": 1})).await;
    let in_flight = tokio::spawn({
        let base = base.clone();
        async move { probe(&base).await.map(|r| r.status()) }
    });
    // In flight once the server has taken the fault for it (a fixed sleep lost that race on a
    // busy machine: a request not yet read when shutdown starts is rightly cut).
    let control = lanyard_sim::control::SimControl::new(&base);
    let deadline = Instant::now() + Duration::from_secs(10);
    while control.current_fault().await.unwrap().is_some() {
        assert!(
            Instant::now() < deadline,
            "the request never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    sim.shutdown().await;
    assert_eq!(in_flight.await.unwrap().expect("answered, not cut"), normal);
    assert!(probe(&base).await.is_err());
}

#[tokio::test]
async fn status_fault_answers_5xx_with_short_body_then_clears_after_times() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    let normal = probe(&base).await.unwrap().status();
    set_fault(&base, json!({"status": 503, "times": 2})).await;
    for _ in 0..2 {
        let r = probe(&base).await.unwrap();
        assert_eq!(r.status(), 503);
        let body = r.text().await.unwrap();
        assert!(!body.is_empty() && body.len() < 200, "{body:?}");
    }
    assert_eq!(probe(&base).await.unwrap().status(), normal);
}

#[tokio::test]
async fn faults_do_not_apply_to_control_routes_and_delete_clears() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    set_fault(&base, json!({"status": 500})).await;
    let r = client()
        .get(format!("{base}/__sim/stats"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(probe(&base).await.unwrap().status(), 500);
    assert_eq!(
        probe(&base).await.unwrap().status(),
        500,
        "no times = until cleared"
    );
    control(&base, reqwest::Method::DELETE, "/__sim/faults", json!({})).await;
    assert_ne!(probe(&base).await.unwrap().status(), 500);
}

#[tokio::test]
async fn faults_are_per_listener() {
    let sim = sim().await;
    let e = sim.endpoints().clone();
    set_fault(&e.steedos, json!({"status": 502})).await;
    assert_eq!(probe(&e.steedos).await.unwrap().status(), 502);
    assert_ne!(probe(&e.sscms).await.unwrap().status(), 502);
}

#[tokio::test]
async fn drop_fault_closes_the_connection_without_an_answer() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    set_fault(&base, json!({"drop": true, "times": 1})).await;
    let err = probe(&base)
        .await
        .expect_err("a dropped connection is an error");
    assert!(!err.is_timeout(), "closed, not hung: {err:?}");
    assert!(err.status().is_none(), "no status was sent: {err:?}");
    // Only one request was affected.
    assert!(probe(&base).await.is_ok());
}

#[tokio::test]
async fn malformed_fault_sends_truncated_json() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    set_fault(&base, json!({"body": "malformed", "times": 1})).await;
    let r = probe(&base).await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let text = r.text().await.unwrap();
    assert!(text.starts_with('{'));
    assert!(serde_json::from_str::<Value>(&text).is_err(), "{text}");
}

#[tokio::test]
async fn html_fault_sends_an_nginx_page_with_the_given_status() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    set_fault(&base, json!({"body": "html", "status": 502, "times": 1})).await;
    let r = probe(&base).await.unwrap();
    assert_eq!(r.status(), 502);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let text = r.text().await.unwrap();
    assert!(
        text.contains("<title>502 Bad Gateway</title>") && text.contains("nginx"),
        "{text}"
    );

    set_fault(&base, json!({"body": "html", "times": 1})).await;
    let r = probe(&base).await.unwrap();
    assert_eq!(r.status(), 200, "html without status is a 200 page");
    assert!(r.text().await.unwrap().contains("<html>"));
}

#[tokio::test]
async fn huge_fault_streams_sixteen_mib() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    set_fault(&base, json!({"body": "huge", "times": 1})).await;
    let r = probe(&base).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.content_length(), Some(16 << 20));
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len(), 16 << 20);
    assert!(body.starts_with(b"{") && body.ends_with(b"}"));
}

#[tokio::test]
async fn latency_fault_delays_the_normal_answer() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    let normal = probe(&base).await.unwrap().status();
    set_fault(&base, json!({"latency_ms": 400, "times": 1})).await;
    let t = Instant::now();
    let r = probe(&base).await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(
        r.status(),
        normal,
        "latency alone does not change the answer"
    );
    let t = Instant::now();
    probe(&base).await.unwrap();
    assert!(t.elapsed() < Duration::from_millis(400));
}

#[tokio::test]
async fn location_fault_redirects_with_the_status_asked_for() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (status, expected) in [
        (None, 307),
        (Some(308), 308),
        (Some(301), 301),
        (Some(500), 307),
    ] {
        let mut fault = json!({"location": "http://127.0.0.1:9/elsewhere", "times": 1});
        if let Some(s) = status {
            fault["status"] = json!(s);
        }
        set_fault(&base, fault).await;
        let r = no_follow
            .post(format!("{base}/accounts/password/login"))
            .json(&json!({"user": "alice@example.com", "password": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), expected, "{status:?}");
        assert_eq!(
            r.headers()["location"].to_str().unwrap(),
            "http://127.0.0.1:9/elsewhere"
        );
    }
}

#[tokio::test]
async fn target_contains_aims_a_fault_at_one_route() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    set_fault(
        &base,
        json!({"status": 503, "target_contains": "/accounts/password/login", "times": 1}),
    )
    .await;
    // Other routes pass untouched and do not use the fault up.
    assert_ne!(probe(&base).await.unwrap().status(), 503);
    assert_ne!(probe(&base).await.unwrap().status(), 503);
    let login = |body: Value| {
        client()
            .post(format!("{base}/accounts/password/login"))
            .json(&body)
            .send()
    };
    let body = json!({"user": "alice@example.com", "password": "x"});
    assert_eq!(login(body.clone()).await.unwrap().status(), 503);
    assert_ne!(login(body).await.unwrap().status(), 503);
}

#[tokio::test]
async fn drip_fault_sends_one_byte_at_a_time() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    set_fault(&base, json!({"body": "drip", "drip_ms": 50, "times": 1})).await;
    let mut r = probe(&base).await.unwrap();
    assert_eq!(r.status(), 200);
    let started = Instant::now();
    let mut got = Vec::new();
    while got.len() < 10 {
        let chunk = r.chunk().await.unwrap().expect("more bytes");
        assert_eq!(chunk.len(), 1, "one byte per tick");
        got.extend_from_slice(&chunk);
    }
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "{:?}",
        started.elapsed()
    );
    assert!(got.starts_with(b"{\"error\":0"), "{got:?}");
}

#[tokio::test]
async fn endless_fault_never_ends() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    set_fault(&base, json!({"body": "endless", "times": 1})).await;
    let mut r = probe(&base).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.content_length(), None, "no length: chunked");
    let mut total = 0usize;
    while total < 32 << 20 {
        total += r.chunk().await.unwrap().expect("it goes on").len();
    }
    drop(r);
    // The listener is fine after the client hung up.
    assert_ne!(probe(&base).await.unwrap().status(), 500);
}

#[tokio::test]
async fn hostile_text_fault_wraps_messages_and_names_in_escapes() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    set_fault(&base, json!({"hostile_text": true})).await;
    let r = client()
        .post(format!("{base}/accounts/password/login"))
        .json(&json!({"user": "alice@example.com", "password": "wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    let message = v["message"].as_str().unwrap();
    assert!(
        message.starts_with(lanyard_sim::common::HOSTILE_PREFIX)
            && message.ends_with(lanyard_sim::common::HOSTILE_SUFFIX),
        "{message:?}"
    );
    for c in ['\u{1b}', '\u{9b}', '\u{202e}', '\u{7}'] {
        assert!(message.contains(c), "{c:?} in {message:?}");
    }
}

#[tokio::test]
async fn unknown_fault_fields_are_rejected() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    let r = client()
        .post(format!("{base}/__sim/faults"))
        .json(&json!({"statuz": 500}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_client_error());
}

#[tokio::test]
async fn clock_advances_per_listener() {
    let sim = sim().await;
    let e = sim.endpoints().clone();
    let before = control(&e.sscms, reqwest::Method::GET, "/__sim/clock", json!({})).await;
    let after = control(
        &e.sscms,
        reqwest::Method::POST,
        "/__sim/clock",
        json!({"advance_secs": 86400}),
    )
    .await;
    let moved = after["unix"].as_i64().unwrap() - before["unix"].as_i64().unwrap();
    assert!((86400..86400 + 5).contains(&moved), "{moved}");
    assert_eq!(after["offset_secs"], 86400);
    let other = control(&e.steedos, reqwest::Method::GET, "/__sim/clock", json!({})).await;
    assert_eq!(other["offset_secs"], 0);
}

#[tokio::test]
async fn stats_count_protocol_routes_and_reset() {
    let sim = sim().await;
    let base = sim.endpoints().sscms.clone();
    let c = client();
    for _ in 0..3 {
        c.post(format!("{base}/api/v1/users/actions/login"))
            .json(&json!({"account": "demo", "password": "x"}))
            .send()
            .await
            .unwrap();
    }
    let stats = control(&base, reqwest::Method::GET, "/__sim/stats", json!({})).await;
    assert_eq!(stats["requests"]["sscms.login"], 3, "{stats}");
    control(&base, reqwest::Method::DELETE, "/__sim/stats", json!({})).await;
    let stats = control(&base, reqwest::Method::GET, "/__sim/stats", json!({})).await;
    assert_eq!(stats["requests"], json!({}));
}

#[tokio::test]
async fn fixed_port_base_uses_consecutive_ports() {
    // Find a free block of 5 ports by trial; another process may race us, so retry a few times.
    for attempt in 0..20u16 {
        let base = 20000 + (std::process::id() as u16 % 20000) + attempt * 7;
        if let Ok(sim) = lanyard_sim::start(SimConfig {
            port_base: Some(base),
        })
        .await
        {
            let e = sim.endpoints().clone();
            assert_eq!(e.steedos, format!("http://127.0.0.1:{base}"));
            assert_eq!(e.sscms, format!("http://127.0.0.1:{}", base + 1));
            assert_eq!(
                e.coolkit,
                format!("http://127.0.0.1:{}/{{region}}", base + 2)
            );
            assert_eq!(e.siyuan, format!("http://127.0.0.1:{}", base + 3));
            assert_eq!(e.shopxo, format!("http://127.0.0.1:{}", base + 4));
            sim.shutdown().await;
            return;
        }
    }
    panic!("no free port block found");
}
