//! Tokens where scripts use them (issue 13): the account a service id stands for, `exec` and
//! `api`, run as the real `lanyard` binary against lanyard-sim over loopback HTTP. Secrets go to
//! the encrypted file store so the suite runs without a desktop session.

use std::path::Path;
use std::time::Duration;

use lanyard_sim::control::{CoolkitConfigPatch, FaultSpec, ShopxoConfigPatch, SiyuanConfigPatch};
use serde_json::Value;

use crate::support::{
    FILE_STORE_PASSPHRASE, World, core_manager, endpoint_of, finish, sim_control, start_sim,
};

impl World {
    /// Adds and logs in the seeded alice of `service` at this world's simulator (captchas off
    /// where a fresh simulator asks for one), remembering the password.
    async fn add_alice(&self, service: &str) -> String {
        let endpoint = self.endpoint(service);
        self.add_alice_at(service, &endpoint, None).await
    }

    async fn add_alice_at(&self, service: &str, endpoint: &str, name: Option<&str>) -> String {
        let siyuan_captcha = format!("captcha_endpoint={endpoint}");
        let (user, extra): (&str, Vec<&str>) = match service {
            "steedos" => ("alice@example.com", vec![]),
            "sscms" => ("alice", vec![]),
            "coolkit" => (
                "alice@example.com",
                vec![
                    "--opt",
                    "appid=LanyardDemoAppId0000000000000001",
                    "--opt",
                    "appsecret=@-",
                    "--opt",
                    "region=us",
                ],
            ),
            "siyuan" => {
                sim_control(endpoint)
                    .configure(&SiyuanConfigPatch {
                        captcha: Some(false),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                (
                    "alice",
                    vec!["--opt", "api_token=@-", "--opt", &siyuan_captcha],
                )
            }
            "shopxo" => {
                sim_control(endpoint)
                    .configure(&ShopxoConfigPatch {
                        login_captcha: Some(false),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                ("alice01", vec![])
            }
            other => panic!("no service {other}"),
        };
        let name = name.map_or_else(|| format!("{service}/{user}"), str::to_owned);
        let mut args = vec![
            "add",
            service,
            "--user",
            user,
            "--name",
            &name,
            "--endpoint",
            endpoint,
            "--remember-password",
            "--password-stdin",
        ];
        args.extend(extra);
        let stdin: &[&str] = match service {
            "coolkit" => &["LanyardDemoAppSecret000000000001", "secret123"],
            "siyuan" => &["lanyarddemotoken", "secret123"],
            _ => &["secret123"],
        };
        self.run(&args, stdin).await.assert_ok();
        name
    }
}

fn defaults(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .filter(|a| a["default_for_service"] == true)
        .map(|a| a["name"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// One obvious account per service.

/// A second ShopXO server's account is active at its own endpoint, yet `token shopxo` keeps
/// handing out the first one until `use` moves the service's default; per-endpoint actives stay
/// addressable by name.
#[tokio::test]
async fn a_service_id_stands_for_the_account_chosen_last() {
    let w = World::new().await;
    let second = start_sim().await;
    let first_name = w.add_alice("shopxo").await;
    let first = w.token(&first_name).await;
    assert_eq!(w.token("shopxo").await, first);

    let second_name = w
        .add_alice_at(
            "shopxo",
            &endpoint_of(&second, "shopxo"),
            Some("shop2/alice"),
        )
        .await;
    let list = w.run(&["list", "--json"], &[]).await.assert_ok().json();
    assert!(
        list.as_array().unwrap().iter().all(|a| a["active"] == true),
        "each endpoint has its active account: {list}"
    );
    assert_eq!(defaults(&list), vec![first_name.clone()]);
    assert_eq!(w.token("shopxo").await, first, "adding does not move it");
    let second_token = w.token(&second_name).await;
    assert_ne!(second_token, first);

    let used = w.run(&["use", &second_name], &[]).await;
    assert!(
        used.assert_ok().stdout.contains("`shopxo`"),
        "{}",
        used.stdout
    );
    assert_eq!(w.token("shopxo").await, second_token, "use moves it");
    let list = w.run(&["list", "--json"], &[]).await.assert_ok().json();
    assert_eq!(defaults(&list), vec![second_name.clone()]);
    let table = w.run(&["list"], &[]).await;
    assert!(
        table
            .assert_ok()
            .stdout
            .lines()
            .any(|l| l.starts_with("**") && l.contains(&second_name)),
        "{}",
        table.stdout
    );

    // Back to the first by its name; removing the chosen one falls back to the other.
    w.run(&["use", &first_name], &[]).await.assert_ok();
    assert_eq!(w.token("shopxo").await, first);
    w.run(&["remove", &first_name], &[]).await.assert_ok();
    assert_eq!(w.token("shopxo").await, second_token);
    second.shutdown().await;
    w.sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// exec

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The command sees the variables of `token --as env` plus LANYARD_ENDPOINT; its exit status is
/// Lanyard's; nothing of the token is on Lanyard's own output.
#[tokio::test]
async fn exec_hands_the_token_to_the_command_and_returns_its_status() {
    let w = World::new().await;
    let name = w.add_alice("sscms").await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("seen");
    let script = format!(
        "printf '%s|%s|%s|%s|%s' \"$LANYARD_TOKEN\" \"$LANYARD_TOKEN_HEADER\" \"$LANYARD_ENDPOINT\" \
         \"$LANYARD_ACCOUNT\" \"$LANYARD_SERVICE\" > '{}'; exit 7",
        out.display()
    );
    let ran = w
        .run(&["exec", "sscms", "--", "sh", "-c", &script], &[])
        .await;
    ran.assert_code(7);
    let token = w.token(&name).await;
    let seen = read(&out);
    let parts: Vec<&str> = seen.split('|').collect();
    assert_eq!(parts[0], token);
    assert_eq!(parts[1], format!("X-SS-USER-TOKEN: {token}"));
    assert_eq!(parts[2].trim_end_matches('/'), w.endpoint("sscms"));
    assert_eq!(parts[3], name);
    assert_eq!(parts[4], "sscms");
    assert!(
        !ran.stdout.contains(&token) && !ran.stderr.contains(&token),
        "lanyard itself prints no token"
    );

    // The query form for ShopXO, and the variables agree with `token --as env`.
    let shop = w.add_alice("shopxo").await;
    let env_file = dir.path().join("env");
    let script = format!("env | grep '^LANYARD_' | sort > '{}'", env_file.display());
    w.run(&["exec", &shop, "--", "sh", "-c", &script], &[])
        .await
        .assert_ok();
    let env = read(&env_file);
    let printed = w.run(&["token", &shop, "--as", "env"], &[]).await;
    for line in printed.assert_ok().stdout.lines() {
        // `token --as env` quotes for a shell only what needs it; these values need nothing.
        assert!(env.lines().any(|l| l == line), "{line} in {env}");
    }
    assert!(env.contains("LANYARD_TOKEN_QUERY_NAME=token"), "{env}");
    assert!(env.contains("LANYARD_ENDPOINT="), "{env}");
    assert!(!env.contains("LANYARD_TOKEN_HEADER"), "{env}");

    // A command that cannot start is Lanyard's error, not a status of its own.
    w.run(&["exec", "sscms", "--", "/nonexistent/command"], &[])
        .await
        .assert_code(2);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn exec_reports_a_signal_death_as_128_plus_n() {
    let w = World::new().await;
    w.add_alice("sscms").await;
    w.run(&["exec", "sscms", "--", "sh", "-c", "kill -KILL $$"], &[])
        .await
        .assert_code(128 + 9);
    w.sim.shutdown().await;
}

/// SIGTERM sent to lanyard reaches the command, which traps it; its status is Lanyard's.
#[tokio::test]
async fn exec_passes_sigterm_on_to_the_command() {
    let w = World::new().await;
    w.add_alice("sscms").await;
    let dir = tempfile::tempdir().unwrap();
    let (ready, marker) = (dir.path().join("ready"), dir.path().join("marker"));
    let script = format!(
        "trap 'echo got TERM > \"{marker}\"; exit 3' TERM; : > \"{ready}\"; \
         while :; do sleep 0.1; done",
        marker = marker.display(),
        ready = ready.display()
    );
    let child = w
        .command(&["exec", "sscms", "--", "sh", "-c", &script])
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    for _ in 0..200 {
        if ready.exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready.exists(), "the command started");
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let outcome = tokio::time::timeout(Duration::from_secs(20), finish(child))
        .await
        .expect("lanyard ends after its command");
    outcome.assert_code(3);
    assert_eq!(read(&marker).trim(), "got TERM");
    w.sim.shutdown().await;
}

/// A session that would expire within --min-ttl is renewed before the command starts; by
/// default (the warning window) a fresh one is not.
#[tokio::test]
async fn exec_renews_a_session_expiring_within_min_ttl_first() {
    let w = World::new().await;
    w.control("coolkit")
        .configure(&CoolkitConfigPatch {
            at_lifetime_secs: Some(3600),
            ..Default::default()
        })
        .await
        .unwrap();
    let name = w.add_alice("coolkit").await;
    let before = w.token(&name).await;
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("token");
    let script = format!("printf %s \"$LANYARD_TOKEN\" > '{}'", out.display());

    w.run(&["exec", "coolkit", "--", "sh", "-c", &script], &[])
        .await
        .assert_ok();
    assert_eq!(read(&out), before);
    assert_eq!(w.hits("coolkit", "coolkit.v2.refresh").await, 0);

    w.run(
        &[
            "exec",
            "coolkit",
            "--min-ttl",
            "31d",
            "--",
            "sh",
            "-c",
            &script,
        ],
        &[],
    )
    .await
    .assert_ok();
    assert_eq!(w.hits("coolkit", "coolkit.v2.refresh").await, 1);
    let renewed = read(&out);
    assert_ne!(renewed, before, "renewed before the command ran");
    assert_eq!(renewed, w.token(&name).await, "and stored");

    w.run(
        &["exec", "coolkit", "--min-ttl", "10 weeks", "--", "true"],
        &[],
    )
    .await
    .assert_code(2);
    w.sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// api

struct ApiCase {
    service: &'static str,
    /// The seeded user, as `/__sim/revoke` names it.
    user: &'static str,
    /// An endpoint the real service has that needs the session.
    path: &'static str,
    /// The simulator's name for that route in `/__sim/stats`.
    route: &'static str,
    /// What the answer says when the call worked.
    works: fn(&Value) -> bool,
}

fn api_cases() -> Vec<ApiCase> {
    vec![
        ApiCase {
            service: "steedos",
            user: "alice@example.com",
            path: "/accounts/user",
            route: "steedos.user",
            works: |v| v["email"] == "alice@example.com",
        },
        ApiCase {
            service: "sscms",
            user: "alice",
            path: "/api/v1/users/2",
            route: "sscms.user",
            works: |v| v.to_string().contains("\"alice\""),
        },
        ApiCase {
            service: "coolkit",
            user: "alice@example.com",
            path: "/v2/user/profile",
            route: "coolkit.v2.profile",
            works: |v| v["error"] == 0 && v["data"]["user"].is_object(),
        },
        ApiCase {
            service: "siyuan",
            user: "alice",
            path: "/api/system/version",
            route: "siyuan.version",
            works: |v| v["code"] == 0 && v["data"].is_string(),
        },
        ApiCase {
            service: "shopxo",
            user: "alice01",
            path: "personal/index",
            route: "shopxo.personal.index",
            works: |v| v["code"] == 0,
        },
    ]
}

/// For every service: the call returns the body and costs one request; a session the server
/// revoked is renewed (remembered password) and the call retried once; a 5xx exits 5.
#[tokio::test]
async fn api_calls_each_service_with_its_own_credential() {
    let w = World::new().await;
    for case in api_cases() {
        let name = w.add_alice(case.service).await;
        let before = w.hits(case.service, case.route).await;
        let out = w.run(&["api", case.service, case.path], &[]).await;
        let body: Value = out.assert_ok().json();
        assert!((case.works)(&body), "{}: {body}", case.service);
        assert_eq!(
            w.hits(case.service, case.route).await,
            before + 1,
            "{}: one request",
            case.service
        );
        let token = w.token(&name).await;

        // A server error: exit 5, one line on stderr.
        w.control(case.service)
            .fault(&FaultSpec {
                status: Some(503),
                times: Some(1),
                ..Default::default()
            })
            .await
            .unwrap();
        let failed = w.run(&["api", &name, case.path], &[]).await;
        failed.assert_code(5);
        assert_eq!(failed.stderr.trim().lines().count(), 1, "{}", failed.stderr);

        if case.service == "siyuan" {
            // The kernel wants its API token, not the cloud session: a wrong one is refused
            // (exit 4) and renewing the session would not help.
            w.control("siyuan")
                .configure(&SiyuanConfigPatch {
                    api_token: Some("changed".into()),
                    ..Default::default()
                })
                .await
                .unwrap();
            let refused = w.run(&["api", &name, case.path], &[]).await;
            refused.assert_code(4);
            assert!(refused.stderr.contains("401"), "{}", refused.stderr);
            continue;
        }
        w.control(case.service).revoke(case.user).await.unwrap();
        let again = w.run(&["api", &name, case.path], &[]).await;
        let body: Value = again.assert_ok().json();
        assert!((case.works)(&body), "{} after revoke: {body}", case.service);
        assert_ne!(
            w.token(&name).await,
            token,
            "{}: renewed on the retry",
            case.service
        );
    }
    w.sim.shutdown().await;
}

/// A session Lanyard knows to be expired is renewed before the call, which then costs one
/// request: no refused attempt first.
#[tokio::test]
async fn api_renews_an_expired_session_before_the_call() {
    use chrono::TimeDelta;
    use lanyard_core::keepalive::TestClock;
    use lanyard_core::manager::{LoginStep, NewAccount};
    use lanyard_core::{SecretString, ServiceId};

    let w = World::new().await;
    // The session is made by a clock 30 days and a minute behind: CoolKit access tokens last
    // 30 days, so for everybody else it expired a minute ago. Cheap Argon2 for the file store
    // (the CLI reads the parameters from its header).
    let m = core_manager(w.data.path(), FILE_STORE_PASSPHRASE).with_clock(TestClock::with_offset(
        -TimeDelta::days(30) - TimeDelta::minutes(1),
    ));
    let name = m
        .add_account(NewAccount {
            name: Some("ck".into()),
            service: ServiceId::Coolkit,
            user: "alice@example.com".into(),
            endpoint: Some(w.endpoint("coolkit")),
            options: [
                ("appid", "LanyardDemoAppId0000000000000001"),
                ("appsecret", "LanyardDemoAppSecret000000000001"),
            ]
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
    let old = m.session(&name).await.unwrap().unwrap();

    let out = w.run(&["api", "coolkit", "/v2/user/profile"], &[]).await;
    assert_eq!(out.assert_ok().json()["error"], 0);
    assert_eq!(w.hits("coolkit", "coolkit.v2.refresh").await, 1, "renewed");
    assert_eq!(
        w.hits("coolkit", "coolkit.v2.profile").await,
        1,
        "one call, made with the renewed token"
    );
    let new = m.session(&name).await.unwrap().unwrap();
    assert_ne!(new.tokens.access.expose(), old.tokens.access.expose());
    w.sim.shutdown().await;
}

/// -X and -f (a JSON body), -H, --include, a body passed through byte for byte, an error
/// status (printed, exit 5), and PATH never leaving the account's server.
#[tokio::test]
async fn api_requests_and_answers_as_asked() {
    let w = World::new().await;
    let name = w.add_alice("steedos").await;

    // A platform route: Lanyard sends `Bearer <space>,<token>` there and a JSON body for -f.
    let validated = w
        .run(
            &[
                "api",
                &name,
                "/api/v4/users/validate",
                "-X",
                "POST",
                "-f",
                "utcOffset=8",
            ],
            &[],
        )
        .await;
    let body = validated.assert_ok().json();
    assert!(body.to_string().contains("alice"), "{body}");

    let included = w
        .run(
            &[
                "api",
                &name,
                "/accounts/user",
                "--include",
                "-H",
                "X-Trace: 7",
            ],
            &[],
        )
        .await;
    let text = &included.assert_ok().stdout;
    let (head, rest) = text
        .split_once("\n\n")
        .expect("a blank line after the headers");
    assert!(head.starts_with("HTTP/1.1 200 OK\n"), "{head}");
    assert!(
        head.lines().any(|l| l
            .to_ascii_lowercase()
            .starts_with("content-type: application/json")),
        "{head}"
    );
    // Not a terminal: the body exactly as the server sent it.
    let raw = reqwest::Client::new()
        .get(format!("{}/accounts/user", w.endpoint("steedos")))
        .header("Authorization", format!("Bearer {}", w.token(&name).await))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(rest, raw);

    let missing = w.run(&["api", &name, "/no/such/route"], &[]).await;
    missing.assert_code(5);
    assert!(missing.stderr.contains("HTTP 404"), "{}", missing.stderr);

    for elsewhere in ["http://127.0.0.2:9/x", "//127.0.0.2:9/x"] {
        let refused = w.run(&["api", &name, elsewhere], &[]).await;
        refused.assert_code(2);
    }
    w.run(
        &["api", &name, "/accounts/user", "-H", "Authorization: mine"],
        &[],
    )
    .await
    .assert_code(2);
    w.run(&["api", &name, "/accounts/user", "-f", "novalue"], &[])
        .await
        .assert_code(2);
    w.sim.shutdown().await;
}

/// "Copy as curl command" (the desktop's copy, built in lanyard-core): for every service, the
/// command a shell runs with the real curl reaches an endpoint that needs the session.
#[tokio::test]
async fn the_curl_command_of_each_service_works_in_a_shell() {
    use lanyard_core::manager::TokenFormat;

    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("no curl on this machine; skipped");
        return;
    }
    let w = World::new().await;
    let mut names = Vec::new();
    for case in api_cases() {
        names.push(w.add_alice(case.service).await);
    }
    let m = core_manager(w.data.path(), FILE_STORE_PASSPHRASE);
    for (case, name) in api_cases().iter().zip(&names) {
        let command = m.token(name, TokenFormat::Curl).await.unwrap();
        assert!(command.starts_with("curl "), "{command}");
        let out = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{command} -s"))
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{}: {command}", case.service);
        let body: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: {}",
                case.service,
                String::from_utf8_lossy(&out.stdout)
            )
        });
        assert!((case.works)(&body), "{}: {body}", case.service);
    }
    w.sim.shutdown().await;
}
