//! Faults: the shared HTTP layer and the Steedos / SSCMS / ShopXO clients against a simulator
//! that misbehaves on purpose (`/__sim/faults`), plus tiny loopback servers for redirects and
//! proxies. Every failure must be a clear error of the right code, within the deadline, naming
//! the host and never a secret.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lanyard_core::http::{Http, HttpConfig};
use lanyard_core::services::shopxo::Shopxo;
use lanyard_core::services::sscms::Sscms;
use lanyard_core::services::steedos::Steedos;
use lanyard_core::services::{Service, Validation};
use lanyard_core::{Account, Error, ErrorCode, SecretString, ServiceId};
use lanyard_sim::control::{FaultBody, FaultSpec, ShopxoConfigPatch};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{self, Sim, account, ctx, done, fails_with, sim};

const PASSWORD: &str = "secret123";

fn no_secrets() -> BTreeMap<String, SecretString> {
    BTreeMap::new()
}

/// A client with a 1 s deadline, so slow servers fail fast.
fn quick_http() -> Http {
    Http::new(HttpConfig {
        timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        ..Default::default()
    })
    .unwrap()
}

async fn fault(sim: &Sim, base: &str, spec: FaultSpec) {
    sim.control(base).fault(&spec).await.unwrap();
}

/// No password, token or body fragment in what a person or a log would see.
#[track_caller]
fn clean(e: &Error, secrets: &[&str]) {
    let shown = format!("{} {:?} {e:?}", e.display_line(), e.server_message);
    for s in secrets.iter().chain(&[PASSWORD, "eyJ"]) {
        assert!(!shown.contains(s), "error shows {s:?}: {shown}");
    }
}

async fn steedos_login(
    http: &Http,
    acc: &Account,
) -> Result<lanyard_core::services::Progress, Error> {
    let secrets = no_secrets();
    Steedos
        .begin_login(
            &ctx(http, acc, &secrets),
            Some(&SecretString::new(PASSWORD)),
        )
        .await
}

#[tokio::test]
async fn server_error_then_recovery() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    let acc = account(ServiceId::Steedos, "alice@example.com", &base, &[]);
    fault(
        &sim,
        &base,
        FaultSpec {
            status: Some(503),
            times: Some(1),
            ..Default::default()
        },
    )
    .await;
    let e = fails_with(steedos_login(&sim.http, &acc).await, ErrorCode::ServerError);
    assert!(e.message.contains("503"), "{}", e.message);
    assert!(e.message.contains("127.0.0.1:"), "{}", e.message);
    assert!(e.code.is_transient());
    clean(&e, &[]);
    // `times: 1`: the next call is served normally.
    done(steedos_login(&sim.http, &acc).await.expect("recovered"));
    sim.shutdown().await;
}

#[tokio::test]
async fn malformed_json_is_a_server_error_without_the_body() {
    let sim = sim().await;
    let base = sim.endpoints().sscms.clone();
    let acc = account(ServiceId::Sscms, "demo", &base, &[]);
    fault(
        &sim,
        &base,
        FaultSpec {
            body: Some(FaultBody::Malformed),
            ..Default::default()
        },
    )
    .await;
    let secrets = no_secrets();
    let e = fails_with(
        Sscms
            .begin_login(
                &ctx(&sim.http, &acc, &secrets),
                Some(&SecretString::new(PASSWORD)),
            )
            .await,
        ErrorCode::ServerError,
    );
    assert!(
        e.message.starts_with("unexpected answer from 127.0.0.1:"),
        "{}",
        e.message
    );
    assert!(e.message.contains("JSON"), "{}", e.message);
    clean(&e, &[]);
    sim.shutdown().await;
}

#[tokio::test]
async fn html_instead_of_json() {
    let sim = sim().await;
    let base = sim.endpoints().shopxo.clone();
    let acc = account(ServiceId::Shopxo, "alice01", &base, &[]);
    let secrets = no_secrets();
    let c = ctx(&sim.http, &acc, &secrets);

    fault(
        &sim,
        &base,
        FaultSpec {
            body: Some(FaultBody::Html),
            times: Some(1),
            ..Default::default()
        },
    )
    .await;
    let e = fails_with(
        Shopxo
            .begin_login(&c, Some(&SecretString::new(PASSWORD)))
            .await,
        ErrorCode::ServerError,
    );
    assert!(e.message.contains("an HTML page"), "{}", e.message);
    clean(&e, &[]);

    // An nginx error page with a 5xx status: the status and the page title.
    fault(
        &sim,
        &base,
        FaultSpec {
            body: Some(FaultBody::Html),
            status: Some(502),
            times: Some(1),
            ..Default::default()
        },
    )
    .await;
    let e = fails_with(
        Shopxo
            .begin_login(&c, Some(&SecretString::new(PASSWORD)))
            .await,
        ErrorCode::ServerError,
    );
    assert!(e.message.contains("502"), "{}", e.message);
    sim.shutdown().await;
}

#[tokio::test]
async fn huge_body_is_cut_off() {
    let sim = sim().await;
    let base = sim.endpoints().steedos.clone();
    let acc = account(ServiceId::Steedos, "alice@example.com", &base, &[]);
    let session = done(steedos_login(&sim.http, &acc).await.unwrap()).session;
    fault(
        &sim,
        &base,
        FaultSpec {
            body: Some(FaultBody::Huge),
            ..Default::default()
        },
    )
    .await;
    let started = Instant::now();
    let secrets = no_secrets();
    let e = fails_with(
        Steedos
            .validate(&ctx(&sim.http, &acc, &secrets), &session)
            .await,
        ErrorCode::ServerError,
    );
    assert!(
        e.message.contains("answer larger than 4 MiB"),
        "{}",
        e.message
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    clean(&e, &[session.tokens.access.expose()]);
    sim.shutdown().await;
}

#[tokio::test]
async fn dropped_connection_is_a_network_error() {
    let sim = sim().await;
    let base = sim.endpoints().sscms.clone();
    let acc = account(ServiceId::Sscms, "demo", &base, &[]);
    fault(
        &sim,
        &base,
        FaultSpec {
            drop: true,
            ..Default::default()
        },
    )
    .await;
    let http = quick_http();
    let secrets = no_secrets();
    let started = Instant::now();
    let e = fails_with(
        Sscms
            .begin_login(
                &ctx(&http, &acc, &secrets),
                Some(&SecretString::new(PASSWORD)),
            )
            .await,
        ErrorCode::Network,
    );
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    assert!(e.message.contains("127.0.0.1:"), "{}", e.message);
    assert!(
        !e.message.contains("did not answer"),
        "a drop is not a timeout: {}",
        e.message
    );
    assert!(e.code.is_transient());
    clean(&e, &[]);
    sim.shutdown().await;
}

#[tokio::test]
async fn slow_server_times_out_within_the_deadline() {
    let sim = sim().await;
    let base = sim.endpoints().shopxo.clone();
    let acc = account(ServiceId::Shopxo, "alice01", &base, &[]);
    fault(
        &sim,
        &base,
        FaultSpec {
            latency_ms: Some(3000),
            ..Default::default()
        },
    )
    .await;
    let http = quick_http();
    let secrets = no_secrets();
    let started = Instant::now();
    let e = fails_with(
        Shopxo
            .begin_login(
                &ctx(&http, &acc, &secrets),
                Some(&SecretString::new(PASSWORD)),
            )
            .await,
        ErrorCode::Network,
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_millis(2000),
        "{took:?}"
    );
    assert!(
        e.message.contains("did not answer within 1 s"),
        "{}",
        e.message
    );
    assert!(e.message.contains("127.0.0.1:"), "{}", e.message);
    let said = e.said.as_ref().expect("a timeout has a code");
    assert_eq!(
        (said.code.as_str(), said.params["secs"].as_str()),
        ("no_answer", "1")
    );
    assert!(said.params["host"].starts_with("127.0.0.1:"), "{said:?}");
    sim.shutdown().await;
}

#[tokio::test]
async fn validation_faults_are_errors_not_verdicts() {
    // A fault during validation must not read as "revoked": the session may be fine.
    let sim = sim().await;
    let base = sim.endpoints().sscms.clone();
    let acc = account(ServiceId::Sscms, "demo", &base, &[]);
    let secrets = no_secrets();
    let c = ctx(&sim.http, &acc, &secrets);
    let s = done(
        Sscms
            .begin_login(&c, Some(&SecretString::new("demo1234")))
            .await
            .unwrap(),
    )
    .session;
    for spec in [
        FaultSpec {
            status: Some(500),
            times: Some(1),
            ..Default::default()
        },
        FaultSpec {
            body: Some(FaultBody::Malformed),
            times: Some(1),
            ..Default::default()
        },
    ] {
        fault(&sim, &base, spec).await;
        fails_with(Sscms.validate(&c, &s).await, ErrorCode::ServerError);
    }
    assert!(matches!(
        Sscms.validate(&c, &s).await.unwrap(),
        Validation::Valid(_)
    ));
    sim.shutdown().await;
}

#[tokio::test]
async fn connection_refused_names_the_host() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let acc = account(
        ServiceId::Steedos,
        "alice",
        &format!("http://127.0.0.1:{port}"),
        &[],
    );
    let e = fails_with(steedos_login(&quick_http(), &acc).await, ErrorCode::Network);
    assert_eq!(
        e.message,
        format!("could not connect to 127.0.0.1:{port}: connection refused")
    );
    // The same as a code and parameters, for a window to word in its language.
    let said = e.said.expect("a refused connection has a code");
    assert_eq!(said.code, "connect_failed");
    assert_eq!(said.params["host"], format!("127.0.0.1:{port}"));
    assert_eq!(said.params["cause"], "refused");
}

#[tokio::test]
async fn unknown_host_is_a_network_error() {
    let acc = account(ServiceId::Sscms, "demo", "http://lanyard-test.invalid", &[]);
    let secrets = no_secrets();
    let e = fails_with(
        Sscms
            .begin_login(
                &ctx(&quick_http(), &acc, &secrets),
                Some(&SecretString::new(PASSWORD)),
            )
            .await,
        ErrorCode::Network,
    );
    assert!(
        e.message.contains("lanyard-test.invalid:80"),
        "{}",
        e.message
    );
}

// ---------------------------------------------------------------------------------------------
// Tiny loopback servers for redirects and proxies.

#[derive(Debug, Clone)]
struct Seen {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

type Log = Arc<Mutex<Vec<Seen>>>;

/// Serves raw HTTP/1.1 on an ephemeral port, one request per connection; `answer` gets the
/// request and its own base URL and returns `(status line, extra headers, body)`.
async fn tiny_server<F>(answer: F) -> (String, Log)
where
    F: Fn(&Seen, &str) -> (String, Vec<(String, String)>, String) + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let (log2, base2) = (log.clone(), base.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
            let mut lines = head.split("\r\n");
            let request_line = lines.next().unwrap_or_default().to_string();
            let headers: Vec<(String, String)> = lines
                .filter_map(|l| {
                    l.split_once(':')
                        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                })
                .collect();
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            let mut body = buf[head_end + 4..].to_vec();
            while body.len() < len {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..n]);
            }
            let seen = Seen {
                request_line,
                headers,
                body,
            };
            let (status, extra, text) = answer(&seen, &base2);
            log2.lock().unwrap().push(seen);
            let mut out = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
                text.len()
            );
            for (k, v) in extra {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            out.push_str(&text);
            let _ = sock.write_all(out.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    (base, log)
}

fn ok_json() -> (String, Vec<(String, String)>, String) {
    (
        "200 OK".into(),
        vec![("Content-Type".into(), "application/json".into())],
        r#"{"ok":true}"#.into(),
    )
}

fn redirect(status: &str, location: String) -> (String, Vec<(String, String)>, String) {
    (
        status.into(),
        vec![("Location".into(), location)],
        String::new(),
    )
}

fn with_credentials(rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    rb.header("Authorization", "Bearer sekrit-1")
        .header("Cookie", "SS-USER-TOKEN=sekrit-2")
        .header("X-Auth-Token", "sekrit-3")
        .header("X-User-Id", "u1")
        .header("X-SS-USER-TOKEN", "sekrit-4")
        .header("X-CK-Appid", "appid")
        .header("Accept", "application/json")
}

#[tokio::test]
async fn cross_origin_redirect_of_a_credentialed_request_is_refused() {
    let (other, other_log) = tiny_server(|_, _| ok_json()).await;
    let other_host = other.trim_start_matches("http://").to_string();
    for status in [
        "301 Moved Permanently",
        "302 Found",
        "303 See Other",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let target = format!("{other}/landing");
        let (start, start_log) = tiny_server(move |_, _| redirect(status, target.clone())).await;
        let start_host = start.trim_start_matches("http://").to_string();
        let http = Http::new(HttpConfig::default()).unwrap();
        let url = url::Url::parse(&format!("{start}/login")).unwrap();
        // A body alone, a credential header alone, a credential query parameter alone.
        let requests = [
            http.post(url.clone()).json(&json!({"password": "pw"})),
            with_credentials(http.get(url.clone())),
            http.get(url::Url::parse(&format!("{start}/user?token=sekrit-5")).unwrap()),
        ];
        for rb in requests {
            let e = fails_with(http.execute(rb).await, ErrorCode::ServerError);
            assert_eq!(
                e.message,
                format!(
                    "the server at {start_host} redirected a request carrying credentials to \
                     {other_host}; Lanyard does not send credentials to another host — check the endpoint"
                ),
                "{status}"
            );
            clean(&e, &["sekrit"]);
        }
        assert_eq!(start_log.lock().unwrap().len(), 3, "{status}");
    }
    assert!(
        other_log.lock().unwrap().is_empty(),
        "nothing reaches the other host: {:?}",
        other_log.lock().unwrap()
    );

    // A request with nothing secret (a public image, say) may follow, and takes no credential
    // header along even if one were added later.
    let target = format!("{other}/landing");
    let (start, _) = tiny_server(move |_, _| redirect("302 Found", target.clone())).await;
    let http = Http::new(HttpConfig::default()).unwrap();
    let resp = http
        .execute(
            http.get(url::Url::parse(&format!("{start}/captcha.gif")).unwrap())
                .header("Accept", "application/json"),
        )
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.url.as_str(), format!("{other}/landing"));
    let seen = other_log.lock().unwrap()[0].clone();
    assert_eq!(seen.request_line, "GET /landing HTTP/1.1");
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert!(
        seen.header("user-agent")
            .is_some_and(|ua| ua.starts_with("Lanyard/"))
    );
}

#[tokio::test]
async fn same_origin_redirect_keeps_headers_and_307_keeps_the_body() {
    let (base, log) = tiny_server(|seen, base| {
        if seen.request_line.starts_with("POST /first ") {
            redirect("307 Temporary Redirect", format!("{base}/second"))
        } else if seen.request_line.starts_with("POST /second ") {
            redirect("308 Permanent Redirect", "/third".into()) // relative Location
        } else {
            ok_json()
        }
    })
    .await;
    let http = Http::new(HttpConfig::default()).unwrap();
    let url = url::Url::parse(&format!("{base}/first")).unwrap();
    let resp = http
        .execute(with_credentials(http.post(url)).json(&json!({"a": 1})))
        .await
        .unwrap();
    assert!(resp.is_success());
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 3);
    assert_eq!(log[2].request_line, "POST /third HTTP/1.1");
    assert_eq!(log[2].body, br#"{"a":1}"#);
    assert_eq!(log[2].header("authorization"), Some("Bearer sekrit-1"));
    assert_eq!(log[2].header("x-auth-token"), Some("sekrit-3"));
}

#[tokio::test]
async fn redirect_loops_stop_after_five_hops() {
    let (base, log) = tiny_server(|_, base| redirect("302 Found", format!("{base}/again"))).await;
    let http = Http::new(HttpConfig::default()).unwrap();
    let e = fails_with(
        http.execute(http.get(url::Url::parse(&base).unwrap()))
            .await,
        ErrorCode::ServerError,
    );
    assert!(
        e.message.contains("redirected more than 5 times"),
        "{}",
        e.message
    );
    assert_eq!(log.lock().unwrap().len(), 6);
}

#[tokio::test]
async fn per_account_proxy_is_used() {
    let (proxy, log) = tiny_server(|_, _| ok_json()).await;
    let acc = account(
        ServiceId::Sscms,
        "demo",
        "http://lanyard-test.invalid",
        &[("proxy", &proxy)],
    );
    let http = Http::new(HttpConfig::default()).unwrap();
    let via = http.for_account_options(acc.option("proxy"), None).unwrap();
    assert_eq!(via.config().proxy.as_deref(), Some(proxy.as_str()));
    let resp = via
        .execute(via.get(url::Url::parse("http://lanyard-test.invalid/api/v1/ping").unwrap()))
        .await
        .unwrap();
    assert!(resp.is_success());
    assert_eq!(
        log.lock().unwrap()[0].request_line,
        "GET http://lanyard-test.invalid/api/v1/ping HTTP/1.1"
    );

    // The services go through it too (Ctx::client).
    let secrets = no_secrets();
    let _ = Sscms
        .begin_login(
            &ctx(&http, &acc, &secrets),
            Some(&SecretString::new(PASSWORD)),
        )
        .await;
    assert!(log.lock().unwrap().iter().any(|s| {
        s.request_line
            .starts_with("POST http://lanyard-test.invalid/api/v1/users/actions/login ")
    }));

    // No proxy option: the shared client.
    let plain = account(ServiceId::Sscms, "demo", "http://x", &[]);
    assert_eq!(
        http.for_account_options(plain.option("proxy"), None)
            .unwrap()
            .config()
            .proxy,
        None
    );

    // A bad proxy is the user's input, and its password is not repeated.
    let bad = account(
        ServiceId::Sscms,
        "demo",
        "http://x",
        &[("proxy", "ftp://bob:hunter2@proxy.local")],
    );
    let e = fails_with(
        http.for_account_options(bad.option("proxy"), None),
        ErrorCode::InvalidInput,
    );
    assert!(!e.message.contains("hunter2"), "{}", e.message);
}

/// A ShopXO whose `base/common` says "no captcha" but whose `user/login` wants one (a plugin,
/// or a config cache out of date): the client asks for the captcha all the same.
#[tokio::test]
async fn shopxo_asks_for_a_captcha_the_config_did_not_announce() {
    let (base, log) = tiny_server(|seen, _| {
        let json = |v: Value| {
            ("200 OK".to_string(), vec![("Content-Type".to_string(), "text/html; charset=utf-8".to_string())], v.to_string())
        };
        let line = &seen.request_line;
        let body = String::from_utf8_lossy(&seen.body).to_string();
        if line.contains("s=base%2Fcommon") {
            json(json!({"msg":"success","code":0,"data":{"config":{
                "home_user_login_img_verify_state":0,"common_img_verify_state":0,
                "home_user_login_type":["username"]}}}))
        } else if line.contains("s=user%2Fuserverifyentry") {
            // A "GIF" served as text/html, as ShopXO does.
            ("200 OK".into(), vec![("Content-Type".into(), "text/html; charset=utf-8".into())], "GIF87a-fake".into())
        } else if line.contains("s=user%2Flogin") && !body.contains("verify") {
            json(json!({"msg":"图片验证码不能为空","code":-10,"data":""}))
        } else if line.contains("s=user%2Flogin") && body.contains(r#""verify":"4827""#) {
            json(json!({"msg":"登录成功","code":0,"data":{"id":7,"username":"bob","token":"0123456789abcdef0123456789abcdef"}}))
        } else {
            json(json!({"msg":"验证码错误","code":-12,"data":""}))
        }
    })
    .await;
    let acc = account(ServiceId::Shopxo, "bob", &base, &[]);
    let secrets = no_secrets();
    let http = Http::new(HttpConfig::default()).unwrap();
    let c = ctx(&http, &acc, &secrets);
    let progress = Shopxo
        .begin_login(&c, Some(&SecretString::new(PASSWORD)))
        .await
        .unwrap();
    let lanyard_core::services::Progress::Challenge { challenge, pending } = progress else {
        panic!("expected a captcha");
    };
    assert!(
        format!("{challenge:?}").starts_with("Captcha(image/gif"),
        "{challenge:?}"
    );
    let retry = pending.try_clone().unwrap();
    fails_with(
        Shopxo.answer(&c, pending, &SecretString::new("1111")).await,
        ErrorCode::ChallengeFailed,
    );
    let s = done(
        Shopxo
            .answer(&c, retry, &SecretString::new("4827"))
            .await
            .unwrap(),
    )
    .session;
    assert_eq!(s.info.user_id.as_deref(), Some("7"));
    // Every call carried the public parameters and this account's uuid in the query.
    for seen in log.lock().unwrap().iter() {
        assert!(
            seen.request_line
                .contains("application=app&application_client_type=h5&system_type=default")
        );
        assert!(seen.request_line.contains(&format!("uuid={}", acc.id)));
        assert!(
            !String::from_utf8_lossy(&seen.body).contains("application"),
            "public params stay out of the body"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Each service's password login against the simulator, for faults aimed at the login request.

/// A password login of one service on the simulator: who, where, and which request is the
/// one carrying the password (for `target_contains`).
struct PasswordLogin {
    service: ServiceId,
    account: Account,
    secrets: BTreeMap<String, SecretString>,
    password: &'static str,
    /// Root of the simulator listener (`/__sim/*` lives there).
    base: String,
    /// What the login request's target contains.
    login_target: &'static str,
}

impl PasswordLogin {
    async fn begin(&self, http: &Http) -> Result<lanyard_core::services::Progress, Error> {
        lanyard_core::services::service(self.service)
            .begin_login(
                &ctx(http, &self.account, &self.secrets),
                Some(&SecretString::new(self.password)),
            )
            .await
    }
}

/// One password login per service, each ready to succeed on the simulator as it is.
async fn password_logins(sim: &Sim) -> Vec<PasswordLogin> {
    let e = sim.endpoints().clone();
    let shopxo_base = support::listener_root(&e.shopxo);
    sim.control(&shopxo_base)
        .configure(&ShopxoConfigPatch {
            login_captcha: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    vec![
        PasswordLogin {
            service: ServiceId::Steedos,
            account: account(ServiceId::Steedos, "alice@example.com", &e.steedos, &[]),
            secrets: no_secrets(),
            password: "secret123",
            base: support::listener_root(&e.steedos),
            login_target: "/accounts/password/login",
        },
        PasswordLogin {
            service: ServiceId::Sscms,
            account: account(ServiceId::Sscms, "demo", &e.sscms, &[]),
            secrets: no_secrets(),
            password: "demo1234",
            base: support::listener_root(&e.sscms),
            login_target: "/api/v1/users/actions/login",
        },
        PasswordLogin {
            service: ServiceId::Coolkit,
            account: account(
                ServiceId::Coolkit,
                "alice@example.com",
                &e.coolkit,
                &[
                    ("api", "v2"),
                    ("appid", "LanyardDemoAppId0000000000000001"),
                    ("region", "us"),
                ],
            ),
            secrets: support::secrets(&[("appsecret", "LanyardDemoAppSecret000000000001")]),
            password: "secret123",
            base: support::listener_root(&e.coolkit),
            login_target: "/v2/user/login",
        },
        PasswordLogin {
            service: ServiceId::Siyuan,
            account: account(
                ServiceId::Siyuan,
                "alice",
                &e.siyuan,
                &[
                    ("cloud_region", "0"),
                    ("captcha_endpoint", &e.siyuan_captcha),
                ],
            ),
            secrets: support::secrets(&[("api_token", "lanyarddemotoken")]),
            password: "secret123",
            base: support::listener_root(&e.siyuan),
            login_target: "/api/account/login",
        },
        PasswordLogin {
            service: ServiceId::Shopxo,
            account: account(ServiceId::Shopxo, "alice01", &e.shopxo, &[]),
            secrets: no_secrets(),
            password: "secret123",
            base: shopxo_base,
            login_target: "s=user%2Flogin",
        },
    ]
}

/// The login request of every service answered with a redirect to a second listener: the
/// login fails naming both hosts, and not one byte reaches the second listener, for each
/// redirect status (a 307/308 would re-send the password or its hash; a 301/302/303 would
/// still carry the request's credentials).
#[tokio::test]
async fn login_redirected_to_another_host_sends_it_nothing() {
    let sim = sim().await;
    let (elsewhere, elsewhere_log) = tiny_server(|_, _| ok_json()).await;
    let elsewhere_host = elsewhere.trim_start_matches("http://").to_string();
    for login in password_logins(&sim).await {
        let sim_host = login.base.trim_start_matches("http://").to_string();
        for status in [301, 302, 303, 307, 308] {
            fault(
                &sim,
                &login.base,
                FaultSpec {
                    location: Some(format!("{elsewhere}/collect")),
                    status: Some(status),
                    target_contains: Some(login.login_target.into()),
                    times: Some(1),
                    ..Default::default()
                },
            )
            .await;
            let e = fails_with(login.begin(&sim.http).await, ErrorCode::ServerError);
            assert_eq!(
                e.message,
                format!(
                    "the server at {sim_host} redirected a request carrying credentials to \
                     {elsewhere_host}; Lanyard does not send credentials to another host — check the endpoint"
                ),
                "{} {status}",
                login.service
            );
            assert_eq!(e.code.exit_code(), 5);
            clean(&e, &[login.password]);
            // The fault was spent on the login request itself.
            let left = sim.control(&login.base).current_fault().await.unwrap();
            assert_eq!(left, None, "{} {status}", login.service);
        }
        // The same login without the fault goes through (the case is a real login).
        done(
            login.begin(&sim.http).await.unwrap_or_else(|e| {
                panic!("{} login without a fault: {}", login.service, e.message)
            }),
        );
    }
    assert!(
        elsewhere_log.lock().unwrap().is_empty(),
        "the second listener was reached: {:?}",
        elsewhere_log.lock().unwrap()
    );
    sim.shutdown().await;
}

/// A same-origin redirect of the login (a relative Location on the same listener) is still
/// followed, body and all.
#[tokio::test]
async fn login_redirected_on_the_same_host_still_works() {
    let sim = sim().await;
    let logins = password_logins(&sim).await;
    let steedos = &logins[0];
    fault(
        &sim,
        &steedos.base,
        FaultSpec {
            location: Some("/accounts/password/login?again=1".into()),
            status: Some(307),
            target_contains: Some("/accounts/password/login".into()),
            times: Some(1),
            ..Default::default()
        },
    )
    .await;
    let outcome = done(steedos.begin(&sim.http).await.expect("same-origin 307"));
    assert!(outcome.session.info.user_id.is_some());
    sim.shutdown().await;
}

/// A server that drips its answer one byte at a time fails the login at the client's total
/// deadline, not at the end of the drip (over a minute).
#[tokio::test]
async fn dripping_answer_hits_the_total_deadline() {
    let sim = sim().await;
    let http = quick_http();
    for login in password_logins(&sim).await {
        fault(
            &sim,
            &login.base,
            FaultSpec {
                body: Some(FaultBody::Drip),
                drip_ms: Some(200),
                ..Default::default()
            },
        )
        .await;
        let started = Instant::now();
        let e = fails_with(login.begin(&http).await, ErrorCode::Network);
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
            "{}: {took:?}",
            login.service
        );
        assert!(
            e.message.contains("did not answer within 1 s") && e.message.contains("127.0.0.1:"),
            "{}: {}",
            login.service,
            e.message
        );
        clean(&e, &[login.password]);
        fault(&sim, &login.base, FaultSpec::default()).await;
    }
    sim.shutdown().await;
}

/// An answer that never ends is cut off at the size bound (4 MiB), quickly, as a server error.
#[tokio::test]
async fn endless_answer_hits_the_size_bound() {
    let sim = sim().await;
    for login in password_logins(&sim).await {
        fault(
            &sim,
            &login.base,
            FaultSpec {
                body: Some(FaultBody::Endless),
                ..Default::default()
            },
        )
        .await;
        let started = Instant::now();
        let e = fails_with(login.begin(&sim.http).await, ErrorCode::ServerError);
        assert!(
            e.message.contains("answer larger than 4 MiB"),
            "{}: {}",
            login.service,
            e.message
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{}: {:?}",
            login.service,
            started.elapsed()
        );
        clean(&e, &[login.password]);
        fault(&sim, &login.base, FaultSpec::default()).await;
    }
    sim.shutdown().await;
}

/// No control or bidi character (the hostile simulator's ESC, OSC 52, C1 CSI, U+202E…).
#[track_caller]
fn printable(what: &str, text: &str) {
    assert!(
        !text.chars().any(lanyard_core::http::is_unsafe_char),
        "{what} keeps a control or bidi character: {text:?}"
    );
    assert!(
        !text.contains("[2J") && !text.contains("52;c") && !text.contains("31m"),
        "{what} keeps the rest of an escape sequence: {text:?}"
    );
}

/// A server whose messages and names carry terminal escapes and bidi overrides: every
/// service's session facts and error texts come out clean.
#[tokio::test]
async fn hostile_server_text_comes_out_clean() {
    let sim = sim().await;
    // The simulator does send the escapes (else this test would prove nothing).
    let steedos = sim.endpoints().steedos.clone();
    fault(
        &sim,
        &steedos,
        FaultSpec {
            hostile_text: true,
            times: Some(1),
            ..Default::default()
        },
    )
    .await;
    let raw = reqwest::Client::new()
        .post(format!("{steedos}/accounts/password/login"))
        .json(&json!({"user": "alice@example.com", "password": "wrong"}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        raw.contains("\\u001b[2J") || raw.contains('\u{1b}'),
        "the simulator sent plain text: {raw}"
    );

    for login in password_logins(&sim).await {
        let plain_name = done(login.begin(&sim.http).await.unwrap())
            .session
            .info
            .display_name;
        fault(
            &sim,
            &login.base,
            FaultSpec {
                hostile_text: true,
                ..Default::default()
            },
        )
        .await;
        let session = done(login.begin(&sim.http).await.unwrap_or_else(|e| {
            panic!("{} login under hostile text: {}", login.service, e.message)
        }))
        .session;
        let name = session.info.display_name.clone().unwrap_or_default();
        printable(&format!("{} display name", login.service), &name);
        // Whole sequences go, the name stays.
        assert_eq!(Some(name), plain_name, "{}", login.service);
        if let Some(id) = &session.info.user_id {
            printable(&format!("{} user id", login.service), id);
        }
        for (k, v) in &session.info.extra {
            printable(&format!("{} {k}", login.service), v);
        }
        // A refusal: the server's words are kept, cleaned.
        let wrong = PasswordLogin {
            password: "not-the-password",
            secrets: login.secrets.clone(),
            account: login.account.clone(),
            base: login.base.clone(),
            ..login
        };
        match wrong.begin(&sim.http).await {
            Err(e) => {
                printable(&format!("{} error", wrong.service), &e.display_line());
                if let Some(m) = &e.server_message {
                    printable(&format!("{} server message", wrong.service), m);
                }
            }
            // SiYuan may answer a wrong password with a captcha step.
            Ok(lanyard_core::services::Progress::Challenge { challenge, .. }) => {
                printable(
                    &format!("{} challenge", wrong.service),
                    &format!("{challenge:?}"),
                );
            }
            Ok(other) => panic!("{}: a wrong password logged in: {other:?}", wrong.service),
        }
        fault(&sim, &wrong.base, FaultSpec::default()).await;
    }
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Through the Manager: a failed refresh or login changes nothing that was stored.

mod through_the_manager {
    use super::*;
    use lanyard_core::Manager;
    use lanyard_core::manager::{LoginStep, NewAccount};
    use lanyard_core::secrets::Secrets;
    use lanyard_core::{Session, SessionInfo};

    fn snapshot(s: &Session) -> (String, Option<String>, Vec<(String, String)>, SessionInfo) {
        (
            s.tokens.access.expose().to_string(),
            s.tokens.refresh.as_ref().map(|r| r.expose().to_string()),
            s.tokens
                .extra
                .iter()
                .map(|(k, v)| (k.clone(), v.expose().to_string()))
                .collect(),
            s.info.clone(),
        )
    }

    async fn case(
        service: ServiceId,
        user: &str,
        password: &str,
        shopxo_setup: Option<ShopxoConfigPatch>,
    ) {
        let sim = sim().await;
        let base = match service.as_str() {
            "steedos" => sim.endpoints().steedos.clone(),
            "sscms" => sim.endpoints().sscms.clone(),
            _ => sim.endpoints().shopxo.clone(),
        };
        if let Some(patch) = shopxo_setup {
            sim.control(&base).configure(&patch).await.unwrap();
        }
        let dir = tempfile::tempdir().unwrap();
        let config = HttpConfig {
            timeout: Duration::from_secs(1),
            ..Default::default()
        };
        let m =
            Manager::with_parts(&dir.path().join("lanyard.db"), Secrets::memory(), config).unwrap();
        let view = m
            .add_account(NewAccount {
                name: None,
                service,
                user: user.into(),
                endpoint: Some(base.clone()),
                options: Default::default(),
                remember_password: true,
            })
            .await
            .unwrap();
        let name = view.account.name.clone();
        let step = m
            .begin_login(&name, Some(SecretString::new(password)))
            .await
            .unwrap();
        assert!(matches!(step, LoginStep::Done(_)), "{step:?}");
        let before = snapshot(&m.session(&name).await.unwrap().expect("a session"));

        for spec in [
            FaultSpec {
                status: Some(503),
                ..Default::default()
            },
            FaultSpec {
                body: Some(FaultBody::Malformed),
                ..Default::default()
            },
            FaultSpec {
                body: Some(FaultBody::Html),
                ..Default::default()
            },
            FaultSpec {
                drop: true,
                ..Default::default()
            },
            FaultSpec {
                latency_ms: Some(2500),
                ..Default::default()
            },
            FaultSpec {
                body: Some(FaultBody::Drip),
                ..Default::default()
            },
            FaultSpec {
                body: Some(FaultBody::Endless),
                ..Default::default()
            },
        ] {
            fault(&sim, &base, spec.clone()).await;
            let e = m
                .refresh(&name, true)
                .await
                .expect_err("refresh under a fault");
            assert!(
                e.code.is_transient(),
                "{service} {spec:?}: {:?} {}",
                e.code,
                e.message
            );
            let e = m
                .begin_login(&name, Some(SecretString::new(password)))
                .await
                .expect_err("login under a fault");
            assert!(
                e.code.is_transient(),
                "{service} {spec:?}: {:?} {}",
                e.code,
                e.message
            );
            fault(&sim, &base, FaultSpec::default()).await; // clears
            let now = snapshot(&m.session(&name).await.unwrap().expect("still a session"));
            assert!(
                now == before,
                "{service} {spec:?}: the stored session changed"
            );
        }
        // And it still works.
        m.refresh(&name, true)
            .await
            .expect("refresh once the server is well");
        sim.shutdown().await;
    }

    /// What the Manager stores and lists from a hostile server is clean, in a fresh Manager
    /// on the same database too (read back from storage, not from memory).
    #[tokio::test]
    async fn hostile_text_is_stored_clean() {
        let sim = sim().await;
        let base = sim.endpoints().sscms.clone();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("lanyard.db");
        let secrets = Secrets::memory();
        let m = Manager::with_parts(&db, secrets.clone(), HttpConfig::default()).unwrap();
        let name = m
            .add_account(NewAccount {
                name: None,
                service: ServiceId::Sscms,
                user: "demo".into(),
                endpoint: Some(base.clone()),
                options: Default::default(),
                remember_password: false,
            })
            .await
            .unwrap()
            .account
            .name;
        fault(
            &sim,
            &base,
            FaultSpec {
                hostile_text: true,
                ..Default::default()
            },
        )
        .await;
        let e = m
            .begin_login(&name, Some(SecretString::new("wrong")))
            .await
            .expect_err("a wrong password");
        printable("error", &e.display_line());
        assert!(
            e.display_line().contains("帐号或密码错误"),
            "{}",
            e.display_line()
        );
        let step = m
            .begin_login(&name, Some(SecretString::new("demo1234")))
            .await
            .unwrap();
        assert!(matches!(step, LoginStep::Done(_)), "{step:?}");
        drop(m);
        let m = Manager::with_parts(&db, secrets, HttpConfig::default()).unwrap();
        let stored = m.session(&name).await.unwrap().expect("a session");
        assert_eq!(stored.info.display_name.as_deref(), Some("演示"));
        let listed = m.get(&name).await.unwrap();
        let shown = serde_json::to_string(&listed).unwrap();
        assert!(
            !shown.contains("\\u001b") && !shown.contains("\\u009b") && !shown.contains('\u{202e}'),
            "{shown}"
        );
        assert_eq!(
            listed.session.and_then(|s| s.display_name).as_deref(),
            Some("演示")
        );
        sim.shutdown().await;
    }

    #[tokio::test]
    async fn steedos_session_survives_faults() {
        case(ServiceId::Steedos, "alice@example.com", "secret123", None).await;
    }

    #[tokio::test]
    async fn sscms_session_survives_faults() {
        case(ServiceId::Sscms, "demo", "demo1234", None).await;
    }

    #[tokio::test]
    async fn shopxo_session_survives_faults() {
        case(
            ServiceId::Shopxo,
            "alice01",
            "secret123",
            Some(ShopxoConfigPatch {
                login_captcha: Some(false),
                ..Default::default()
            }),
        )
        .await;
    }
}
