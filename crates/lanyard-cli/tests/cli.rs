//! The real `lanyard` binary against lanyard-sim over loopback HTTP, per the CLI contract.
//! Secrets go to the encrypted file store here so the suite runs without a desktop session;
//! the keyring path is covered by lanyard-core's keyring test and `make bench`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use lanyard_sim::{Running, SimConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};

const DEMO_APPID: &str = "LanyardDemoAppId0000000000000001";
const DEMO_APPSECRET: &str = "LanyardDemoAppSecret000000000001";

struct World {
    sim: Running,
    data: tempfile::TempDir,
    http: reqwest::Client,
}

struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
    #[track_caller]
    fn assert_ok(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "expected success\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }
    #[track_caller]
    fn assert_exit(&self, code: i32) -> &Self {
        assert_eq!(
            self.code, code,
            "expected exit {code}\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert!(
            self.stdout.trim().is_empty() || code == 0,
            "errors print nothing on stdout: {}",
            self.stdout
        );
        assert_eq!(
            self.stderr.trim().lines().count(),
            1,
            "an error is one line on stderr: {}",
            self.stderr
        );
        self
    }
}

impl World {
    async fn new() -> World {
        let sim = lanyard_sim::start(SimConfig { port_base: None })
            .await
            .expect("simulators start");
        World {
            sim,
            data: tempfile::tempdir().unwrap(),
            http: reqwest::Client::new(),
        }
    }

    fn endpoint(&self, service: &str) -> String {
        let e = self.sim.endpoints();
        match service {
            "steedos" => e.steedos.clone(),
            "sscms" => e.sscms.clone(),
            "coolkit" => e.coolkit.clone(),
            "siyuan" => e.siyuan.clone(),
            "shopxo" => e.shopxo.clone(),
            other => panic!("no simulator {other}"),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lanyard"));
        cmd.args(args)
            .env("LANYARD_DATA_DIR", self.data.path())
            .env("LANYARD_SECRET_STORE", "file")
            .env("LANYARD_PASSPHRASE", "cli test passphrase")
            .env("NO_COLOR", "1")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Run with the given stdin lines, all written up front.
    async fn run(&self, args: &[&str], stdin_lines: &[&str]) -> Outcome {
        let mut child = self.command(args).spawn().expect("spawn lanyard");
        let mut stdin = child.stdin.take().unwrap();
        for line in stdin_lines {
            stdin
                .write_all(format!("{line}\n").as_bytes())
                .await
                .unwrap();
        }
        drop(stdin);
        finish(child).await
    }

    /// Run a login that answers prompts as they come: `answer(prompt_line)` gives the reply
    /// (e.g. read a captcha answer from the simulator when `captcha image:` appears).
    async fn run_interactive<F, Fut>(
        &self,
        args: &[&str],
        first_lines: &[&str],
        mut answer: F,
    ) -> Outcome
    where
        F: FnMut(String) -> Fut,
        Fut: std::future::Future<Output = Option<String>>,
    {
        let mut child = self.command(args).spawn().expect("spawn lanyard");
        let mut stdin = child.stdin.take().unwrap();
        for line in first_lines {
            stdin
                .write_all(format!("{line}\n").as_bytes())
                .await
                .unwrap();
        }
        let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut seen = String::new();
        while let Ok(Some(line)) = stderr.next_line().await {
            seen.push_str(&line);
            seen.push('\n');
            if let Some(reply) = answer(line).await {
                stdin
                    .write_all(format!("{reply}\n").as_bytes())
                    .await
                    .unwrap();
            }
        }
        drop(stdin);
        let mut outcome = finish(child).await;
        outcome.stderr = seen + &outcome.stderr;
        outcome
    }

    async fn sim_get(&self, service: &str, path: &str) -> Value {
        let url = format!("{}{path}", control_base(&self.endpoint(service)));
        self.http
            .get(url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn sim_post(&self, service: &str, path: &str, body: Value) {
        let url = format!("{}{path}", control_base(&self.endpoint(service)));
        let status = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "control call {path} failed: {status}");
    }
}

/// The listener's root (CoolKit endpoints are `http://host:port/{region}` templates).
fn control_base(endpoint: &str) -> String {
    let url = url::Url::parse(&endpoint.replace("{region}", "us")).unwrap();
    format!("{}://{}", url.scheme(), url.host_str().unwrap())
        + &url.port().map(|p| format!(":{p}")).unwrap_or_default()
}

async fn finish(child: Child) -> Outcome {
    let output = child.wait_with_output().await.unwrap();
    Outcome {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn captcha_path(line: &str) -> Option<PathBuf> {
    line.strip_prefix("captcha image: ").map(PathBuf::from)
}

fn assert_image(path: &Path) {
    let bytes = std::fs::read(path).expect("captcha image file exists");
    assert!(
        bytes.starts_with(b"\x89PNG") || bytes.starts_with(b"GIF8"),
        "captcha file is an image"
    );
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sscms_full_lifecycle() {
    let w = World::new().await;
    let endpoint = w.endpoint("sscms");
    w.run(
        &[
            "add",
            "sscms",
            "--user",
            "demo",
            "--endpoint",
            &endpoint,
            "--password-stdin",
        ],
        &["demo1234"],
    )
    .await
    .assert_ok();
    w.run(
        &[
            "add",
            "sscms",
            "--user",
            "alice",
            "--endpoint",
            &endpoint,
            "--password-stdin",
        ],
        &["secret123"],
    )
    .await
    .assert_ok();

    let list = w.run(&["list", "--json"], &[]).await;
    let accounts = list.assert_ok().json();
    let accounts = accounts.as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    for field in [
        "name",
        "service",
        "user",
        "endpoint",
        "active",
        "state",
        "expires_at",
        "refresh_expires_at",
    ] {
        assert!(accounts[0].get(field).is_some(), "list --json has {field}");
    }
    assert_eq!(accounts[0]["state"], "valid");
    let active: Vec<_> = accounts
        .iter()
        .filter(|a| a["active"] == true)
        .map(|a| a["name"].clone())
        .collect();
    assert_eq!(
        active,
        vec![json!("sscms/demo")],
        "the first account of an endpoint is active"
    );

    w.run(&["use", "sscms/alice"], &[]).await.assert_ok();
    let raw = w.run(&["token", "sscms"], &[]).await;
    let token = raw.assert_ok().stdout.trim().to_string();
    assert!(
        !token.is_empty() && !token.contains(' '),
        "raw token only: {token}"
    );

    let header = w.run(&["token", "sscms", "--as", "header"], &[]).await;
    assert_eq!(
        header.assert_ok().stdout.trim(),
        format!("X-SS-USER-TOKEN: {token}")
    );

    let json = w.run(&["token", "sscms/alice", "--as", "json"], &[]).await;
    let json = json.assert_ok().json();
    assert_eq!(json["account"], "sscms/alice");
    assert_eq!(json["service"], "sscms");
    assert_eq!(json["token"], token.as_str());
    assert_eq!(json["header"]["name"], "X-SS-USER-TOKEN");
    assert!(json["expires_at"].is_string());

    let env = w.run(&["token", "sscms", "--as", "env"], &[]).await;
    assert!(
        env.assert_ok()
            .stdout
            .lines()
            .any(|l| l == format!("LANYARD_TOKEN={token}")
                || l == format!("LANYARD_TOKEN='{token}'"))
    );

    w.run(&["refresh", "sscms/alice", "--force"], &[])
        .await
        .assert_ok();
    w.run(&["logout", "sscms/alice"], &[]).await.assert_ok();
    // Signed out: a token needs a login first (exit 3).
    w.run(&["token", "sscms/alice"], &[]).await.assert_exit(3);
    w.run(&["remove", "sscms/alice"], &[]).await.assert_ok();
    let names: Vec<Value> = w
        .run(&["list", "--json"], &[])
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("sscms/demo")]);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn wrong_password_exits_4_with_the_servers_words() {
    let w = World::new().await;
    let endpoint = w.endpoint("sscms");
    let out = w
        .run(
            &[
                "add",
                "sscms",
                "--user",
                "demo",
                "--endpoint",
                &endpoint,
                "--password-stdin",
            ],
            &["nope-nope"],
        )
        .await;
    // `add` printed its "Added" line before the login failed; the error is still one line.
    assert_eq!(out.code, 4, "stderr: {}", out.stderr);
    assert!(
        out.stderr.contains("帐号或密码错误"),
        "server message kept: {}",
        out.stderr
    );
    // The account stays registered, signed out, and can log in again.
    w.run(&["login", "sscms/demo", "--password-stdin"], &["demo1234"])
        .await
        .assert_ok();
    w.sim.shutdown().await;
}

#[tokio::test]
async fn usage_errors_exit_2() {
    let w = World::new().await;
    let out = w
        .run(&["add", "nosuch", "--user", "x", "--no-login"], &[])
        .await;
    out.assert_exit(2);
    assert!(out.stderr.contains("unknown service"), "{}", out.stderr);
    let out = w
        .run(&["add", "sscms", "--user", "x", "--no-login"], &[])
        .await;
    out.assert_exit(2);
    assert!(
        out.stderr.contains("endpoint"),
        "self-hosted services need an endpoint: {}",
        out.stderr
    );
    assert_eq!(w.run(&["token"], &[]).await.code, 2);
    w.run(&["token", "nobody"], &[]).await.assert_exit(2);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn unreachable_server_exits_5() {
    let w = World::new().await;
    // A port nothing listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let out = w
        .run(
            &[
                "add",
                "sscms",
                "--user",
                "demo",
                "--endpoint",
                &dead,
                "--password-stdin",
            ],
            &["demo1234"],
        )
        .await;
    assert_eq!(out.code, 5, "stderr: {}", out.stderr);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn steedos_mfa_code_through_the_line_protocol() {
    let w = World::new().await;
    let endpoint = w.endpoint("steedos");
    let out = w
        .run_interactive(
            &[
                "add",
                "steedos",
                "--user",
                "bob@example.com",
                "--endpoint",
                &endpoint,
                "--password-stdin",
            ],
            &["hunter22"],
            |line| {
                let w = &w;
                async move {
                    if line.starts_with("Code sent") {
                        let code = w
                            .sim_get("steedos", "/__sim/last-code?user=bob@example.com")
                            .await;
                        Some(code["code"].as_str().unwrap().to_string())
                    } else {
                        None
                    }
                }
            },
        )
        .await;
    out.assert_ok();
    let header = w.run(&["token", "steedos", "--as", "header"], &[]).await;
    let header = header.assert_ok().stdout.trim().to_string();
    assert!(header.starts_with("Authorization: Bearer "), "{header}");
    assert!(
        header.contains(','),
        "Steedos wants <spaceId>,<token>: {header}"
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn shopxo_captcha_right_and_wrong() {
    let w = World::new().await;
    let endpoint = w.endpoint("shopxo");
    // Wrong captcha: exit 6.
    let out = w
        .run_interactive(
            &[
                "add",
                "shopxo",
                "--user",
                "alice01",
                "--endpoint",
                &endpoint,
                "--password-stdin",
            ],
            &["secret123"],
            |line| async move {
                if let Some(path) = captcha_path(&line) {
                    assert_image(&path);
                }
                (line == "Captcha:").then(|| "0000".to_string())
            },
        )
        .await;
    assert_eq!(out.code, 6, "stderr: {}", out.stderr);

    // Right captcha: the simulator tells the answer of the captcha it served last.
    let out = w
        .run_interactive(
            &["login", "shopxo/alice01", "--password-stdin"],
            &["secret123"],
            |line| {
                let w = &w;
                async move {
                    if line == "Captcha:" {
                        let answer = w.sim_get("shopxo", "/__sim/captcha").await;
                        return Some(answer["answer"].as_str().unwrap().to_string());
                    }
                    None
                }
            },
        )
        .await;
    out.assert_ok();
    // ShopXO takes the token as a query parameter: json has `query`, header is null.
    let json = w.run(&["token", "shopxo", "--as", "json"], &[]).await;
    let json = json.assert_ok().json();
    assert!(json["header"].is_null());
    assert_eq!(json["query"]["name"], "token");
    assert_eq!(json["query"]["value"], json["token"]);
    w.sim.shutdown().await;
}

#[tokio::test]
async fn siyuan_captcha_then_two_factor() {
    let w = World::new().await;
    let endpoint = w.endpoint("siyuan");
    w.sim_post("siyuan", "/__sim/config", json!({"captcha": true}))
        .await;
    let captcha_host = format!("captcha_endpoint={endpoint}");
    let out = w
        .run_interactive(
            &[
                "add",
                "siyuan",
                "--user",
                "bob",
                "--endpoint",
                &endpoint,
                "--opt",
                "api_token=lanyarddemotoken",
                "--opt",
                &captcha_host,
                "--password-stdin",
            ],
            &["hunter22"],
            |line| {
                let w = &w;
                async move {
                    if line == "Captcha:" {
                        let answer = w.sim_get("siyuan", "/__sim/captcha").await;
                        return Some(answer["answer"].as_str().unwrap().to_string());
                    }
                    if line.starts_with("Code from your authenticator") {
                        let code = w.sim_get("siyuan", "/__sim/last-code?user=bob").await;
                        return Some(code["code"].as_str().unwrap().to_string());
                    }
                    None
                }
            },
        )
        .await;
    out.assert_ok();
    let list = w.run(&["status"], &[]).await;
    assert!(
        list.assert_ok().stdout.contains("siyuan/bob: valid"),
        "{}",
        list.stdout
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn coolkit_region_redirect_and_refresh() {
    let w = World::new().await;
    let template = w.endpoint("coolkit");
    let out = w
        .run(
            &[
                "add",
                "coolkit",
                "--user",
                "bob@example.com",
                "--endpoint",
                &template,
                "--opt",
                &format!("appid={DEMO_APPID}"),
                "--opt",
                &format!("appsecret={DEMO_APPSECRET}"),
                "--opt",
                "region=us",
                "--remember-password",
                "--password-stdin",
            ],
            &["hunter22"],
        )
        .await;
    out.assert_ok();
    let before = w
        .run(&["token", "coolkit"], &[])
        .await
        .assert_ok()
        .stdout
        .clone();
    w.run(&["refresh", "coolkit/bob@example.com", "--force"], &[])
        .await
        .assert_ok();
    let after = w.run(&["token", "coolkit", "--as", "header"], &[]).await;
    let after = after.assert_ok().stdout.trim().to_string();
    assert_ne!(
        format!("Authorization: Bearer {}", before.trim()),
        after,
        "refresh rotated the access token"
    );
    w.sim.shutdown().await;
}

#[tokio::test]
async fn services_lists_all_five() {
    let w = World::new().await;
    let out = w.run(&["services", "--json"], &[]).await;
    let ids: Vec<String> = out
        .assert_ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids, ["steedos", "sscms", "coolkit", "siyuan", "shopxo"]);
    let completions = w.run(&["completions", "bash"], &[]).await;
    assert!(completions.assert_ok().stdout.contains("lanyard"));
    w.sim.shutdown().await;
}

#[tokio::test]
async fn a_closed_pipe_ends_quietly() {
    let w = World::new().await;
    for i in 0..40 {
        w.run(
            &[
                "add",
                "sscms",
                "--user",
                &format!("user{i}"),
                "--endpoint",
                &w.endpoint("sscms"),
                "--no-login",
            ],
            &[],
        )
        .await
        .assert_ok();
    }
    // Close our end of stdout before lanyard writes: like `lanyard list --json | head -0`.
    let mut child = w.command(&["list", "--json"]).spawn().unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("panicked"),
        "no panic on a closed pipe: {stderr}"
    );
    assert_eq!(output.status.code(), Some(0), "stderr: {stderr}");
    w.sim.shutdown().await;
}

/// One account per service through the whole contract: add with login (answering whatever
/// the service asks through the line protocol), list, use, token in every format, refresh,
/// logout, remove.
#[tokio::test]
async fn every_service_through_the_whole_lifecycle() {
    let w = World::new().await;
    let coolkit_app = [
        format!("appid={DEMO_APPID}"),
        format!("appsecret={DEMO_APPSECRET}"),
    ];
    let siyuan_captcha = format!("captcha_endpoint={}", w.endpoint("siyuan"));
    struct Case<'a> {
        service: &'a str,
        user: &'a str,
        password: &'a str,
        extra: Vec<&'a str>,
        /// The header the token travels in; `None` for the query form (ShopXO).
        header_name: Option<&'a str>,
    }
    let cases = [
        Case {
            service: "steedos",
            user: "alice@example.com",
            password: "secret123",
            extra: vec![],
            header_name: Some("Authorization"),
        },
        Case {
            service: "sscms",
            user: "alice",
            password: "secret123",
            extra: vec![],
            header_name: Some("X-SS-USER-TOKEN"),
        },
        Case {
            service: "coolkit",
            user: "alice@example.com",
            password: "secret123",
            extra: vec![
                "--opt",
                &coolkit_app[0],
                "--opt",
                &coolkit_app[1],
                "--opt",
                "region=us",
            ],
            header_name: Some("Authorization"),
        },
        Case {
            service: "siyuan",
            user: "alice",
            password: "secret123",
            extra: vec![
                "--opt",
                "api_token=lanyarddemotoken",
                "--opt",
                &siyuan_captcha,
            ],
            header_name: Some("Cookie"),
        },
        Case {
            service: "shopxo",
            user: "alice01",
            password: "secret123",
            extra: vec![],
            header_name: None,
        },
    ];
    for Case {
        service,
        user,
        password,
        extra,
        header_name,
    } in cases
    {
        let name = format!("{service}/{user}");
        let endpoint = w.endpoint(service);
        let mut args = vec![
            "add",
            service,
            "--user",
            user,
            "--endpoint",
            &endpoint,
            "--password-stdin",
        ];
        args.extend(extra.iter().copied());
        let added = w
            .run_interactive(&args, &[password], |line| {
                let w = &w;
                async move {
                    (line == "Captcha:").then_some(())?;
                    let answer = w.sim_get(service, "/__sim/captcha").await;
                    Some(answer["answer"].as_str().unwrap().to_string())
                }
            })
            .await;
        added.assert_ok();

        let list = w.run(&["list", "--json"], &[]).await.assert_ok().json();
        let row = list
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == name.as_str())
            .cloned();
        let row = row.unwrap_or_else(|| panic!("{name} is listed"));
        assert_eq!(row["state"], "valid", "{name}: {row}");
        assert_eq!(row["service"], service);

        w.run(&["use", &name], &[]).await.assert_ok();
        let raw = w.run(&["token", service], &[]).await;
        let token = raw.assert_ok().stdout.trim().to_string();
        assert!(!token.is_empty(), "{name}: a raw token");

        let json = w
            .run(&["token", &name, "--as", "json"], &[])
            .await
            .assert_ok()
            .json();
        assert_eq!(json["token"], token.as_str(), "{name}");
        let env = w.run(&["token", &name, "--as", "env"], &[]).await;
        assert!(
            env.assert_ok().stdout.contains("LANYARD_TOKEN="),
            "{name}: {}",
            env.stdout
        );
        let header = w.run(&["token", &name, "--as", "header"], &[]).await;
        match header_name {
            Some(header_name) => {
                let line = header.assert_ok().stdout.trim().to_string();
                assert!(
                    line.starts_with(&format!("{header_name}: ")),
                    "{name}: {line}"
                );
                assert_eq!(json["header"]["name"], header_name, "{name}");
            }
            None => {
                // ShopXO takes the token as a query parameter: there is no header to print.
                header.assert_exit(2);
                assert!(json["header"].is_null(), "{name}");
                assert_eq!(json["query"]["name"], "token", "{name}");
            }
        }

        w.run(&["refresh", &name, "--force"], &[]).await.assert_ok();
        w.run(&["logout", &name], &[]).await.assert_ok();
        w.run(&["token", &name], &[]).await.assert_exit(3);
        w.run(&["remove", &name], &[]).await.assert_ok();
        w.run(&["token", &name], &[]).await.assert_exit(2);
    }
    let left = w.run(&["list", "--json"], &[]).await.assert_ok().json();
    assert_eq!(left, json!([]), "every account was removed");
    w.sim.shutdown().await;
}
