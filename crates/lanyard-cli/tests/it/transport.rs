//! What the real `lanyard` binary does about the wire: hostile server text never reaches the
//! terminal, plain http to another machine is warned about before the password is read, and
//! the system CA store (SSL_CERT_FILE) and the `ca_file` option are trusted. Every request goes
//! to 127.0.0.1 (the simulators, an `openssl s_server`); "another machine" is a name behind a
//! per-account proxy that is the simulator itself.

use lanyard_sim::Running;
use lanyard_sim::control::{FaultSpec, ShopxoConfigPatch};
use lanyard_sim::tls_fixture::TlsServer;
use serde_json::Value;
use tokio::process::Command;

use crate::support::{
    Outcome, lanyard_on_file_store, lines, private_dir, run, sim_control, start_sim,
};

/// A private data dir on the file store, and the binary run in it.
struct Cli {
    data: tempfile::TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            data: private_dir(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        lanyard_on_file_store(self.data.path(), args)
    }

    async fn run_with(&self, cmd: Command, stdin_lines: &[&str]) -> Outcome {
        run(cmd, &lines(stdin_lines)).await
    }

    async fn run(&self, args: &[&str], stdin_lines: &[&str]) -> Outcome {
        self.run_with(self.command(args), stdin_lines).await
    }
}

/// No C0 control other than a line break, no DEL, no C1 control, no bidi formatting character:
/// nothing that moves the cursor, clears the screen, writes the clipboard or reorders text.
#[track_caller]
fn terminal_safe(what: &str, bytes: &[u8]) {
    let text = String::from_utf8(bytes.to_vec())
        .unwrap_or_else(|_| panic!("{what} is not UTF-8: {bytes:?}"));
    let bad: Vec<char> = text
        .chars()
        .filter(|&c| {
            (c.is_control() && c != '\n')
                || matches!(
                    c,
                    '\u{200e}'
                        | '\u{200f}'
                        | '\u{061c}'
                        | '\u{202a}'..='\u{202e}'
                        | '\u{2066}'..='\u{2069}'
                )
        })
        .collect();
    assert!(bad.is_empty(), "{what} carries {bad:?}: {text:?}");
    assert!(
        !text.contains("[2J") && !text.contains("52;c;"),
        "{what} carries the rest of an escape sequence: {text:?}"
    );
}

#[tokio::test]
async fn hostile_server_text_never_reaches_the_terminal() {
    let sim = start_sim().await;
    let e = sim.endpoints().clone();
    sim_control(&e.shopxo)
        .configure(&ShopxoConfigPatch {
            login_captcha: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    let cli = Cli::new();
    for (service, user, password, endpoint, name) in [
        (
            "steedos",
            "alice@example.com",
            "secret123",
            &e.steedos,
            "Alice",
        ),
        ("sscms", "demo", "demo1234", &e.sscms, "演示"),
        ("shopxo", "alice01", "secret123", &e.shopxo, "alice01"),
    ] {
        sim_control(endpoint)
            .fault(&FaultSpec {
                hostile_text: true,
                ..Default::default()
            })
            .await
            .unwrap();
        let add = [
            "add",
            service,
            "--user",
            user,
            "--endpoint",
            endpoint,
            "--password-stdin",
        ];
        // A refusal: the server's words on stderr.
        let refused = cli.run(&add, &["not-the-password"]).await;
        assert_eq!(refused.code, 4, "{service}: {}", refused.stderr);
        terminal_safe(&format!("{service} refusal stderr"), &refused.raw_stderr);
        terminal_safe(&format!("{service} refusal stdout"), &refused.raw_stdout);
        assert!(
            refused.stderr.contains("server said"),
            "{service}: {}",
            refused.stderr
        );
        let account = format!("{service}/{user}");
        let attempts: Vec<Vec<&str>> =
            vec![add.to_vec(), vec!["login", &account, "--password-stdin"]];
        // Whichever way the account exists after the refusal, a login now succeeds.
        let mut logged_in = false;
        for args in attempts {
            let out = cli.run(&args, &[password]).await;
            terminal_safe(&format!("{service} {} stdout", args[0]), &out.raw_stdout);
            terminal_safe(&format!("{service} {} stderr", args[0]), &out.raw_stderr);
            if out.code == 0 {
                logged_in = true;
                break;
            }
        }
        assert!(logged_in, "{service}: no login succeeded");
        for args in [
            vec!["list"],
            vec!["list", "--json"],
            vec!["status"],
            vec!["status", "--json"],
        ] {
            let out = cli.run(&args, &[]).await;
            assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
            terminal_safe(&format!("{args:?} stdout"), &out.raw_stdout);
            terminal_safe(&format!("{args:?} stderr"), &out.raw_stderr);
        }
        // The name the server gave, without its escapes, is what is listed.
        let listed = cli.run(&["list", "--json"], &[]).await.stdout;
        assert!(listed.contains(name), "{service}: {listed}");
        sim_control(endpoint).clear_faults().await.unwrap();
    }
    sim.shutdown().await;
}

/// An `http://` endpoint on another machine: one warning line on stderr, first, before the
/// password is read. The "other machine" is a name the per-account proxy (the Steedos
/// simulator, which answers proxied requests by their path) resolves, so no traffic leaves
/// 127.0.0.1. A loopback endpoint gets no warning.
#[tokio::test]
async fn plain_http_to_another_machine_warns_before_the_password() {
    let sim: Running = start_sim().await;
    let steedos = sim.endpoints().steedos.clone();
    let cli = Cli::new();
    let proxy_opt = format!("proxy={steedos}");
    let out = cli
        .run(
            &[
                "add",
                "steedos",
                "--user",
                "alice@example.com",
                "--endpoint",
                "http://steedos.lanyard-test.invalid",
                "--opt",
                &proxy_opt,
                "--password-stdin",
            ],
            &["secret123"],
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stderr = &out.stderr;
    let first = stderr.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        "warning: http://steedos.lanyard-test.invalid is plain http to another machine: the password and tokens travel unencrypted; use https:// if the server offers it"
    );
    assert_eq!(stderr.matches("plain http").count(), 1, "{stderr}");
    // The login really went through the loopback proxy.
    let stats = sim_control(&steedos).stats().await.unwrap();
    assert_eq!(stats.count("steedos.login"), 1, "{stats:?}");
    // `list --json` carries the mark the app shows.
    let listed: Value = serde_json::from_slice(&cli.run(&["list", "--json"], &[]).await.raw_stdout)
        .expect("list --json");
    let accounts = listed
        .as_array()
        .cloned()
        .or_else(|| listed["accounts"].as_array().cloned())
        .unwrap_or_default();
    assert_eq!(accounts.len(), 1, "{listed}");
    assert_eq!(accounts[0]["plaintext_remote"], true, "{listed}");

    // Loopback: no warning, no mark.
    let out = cli
        .run(
            &[
                "add",
                "sscms",
                "--user",
                "demo",
                "--endpoint",
                &sim.endpoints().sscms,
                "--password-stdin",
            ],
            &["demo1234"],
        )
        .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("plain http"), "{}", out.stderr);
    sim.shutdown().await;
}

/// The system CA store is trusted: SSL_CERT_FILE naming the test CA (rustls-native-certs reads
/// it) gets the login past TLS; without it the handshake fails with the fix in the message;
/// `--opt ca_file=` does the same per account.
#[tokio::test]
async fn system_ca_store_and_ca_file_are_trusted() {
    let server = TlsServer::start().await.expect("openssl s_server");
    let ca = server.ca_file().to_string_lossy().into_owned();
    let endpoint = server.base_url();
    let cli = Cli::new();
    let args = |user: &'static str| {
        vec![
            "add".to_string(),
            "shopxo".into(),
            "--user".into(),
            user.into(),
            "--endpoint".into(),
            endpoint.clone(),
            "--password-stdin".into(),
        ]
    };
    let run = |argv: Vec<String>, env_ca: Option<&str>| {
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut cmd = cli.command(&argv);
        if let Some(ca) = env_ca {
            cmd.env("SSL_CERT_FILE", ca);
        }
        cmd
    };

    let untrusted = cli.run_with(run(args("a"), None), &["secret123"]).await;
    assert_eq!(untrusted.code, 5, "{}", untrusted.stderr);
    let msg = untrusted.stderr;
    assert!(
        msg.contains(&format!(
            "could not connect to {}: TLS handshake failed",
            server.host()
        )) && msg.contains("ca_file"),
        "{msg}"
    );

    let system = cli
        .run_with(run(args("b"), Some(&ca)), &["secret123"])
        .await;
    assert_eq!(system.code, 5, "{}", system.stderr);
    assert!(
        system.stderr.contains(&format!(
            "unexpected answer from {}: an HTML page",
            server.host()
        )),
        "past TLS, s_server is no ShopXO: {}",
        system.stderr
    );

    let mut with_option = args("c");
    with_option.extend(["--opt".to_string(), format!("ca_file={ca}")]);
    let per_account = cli.run_with(run(with_option, None), &["secret123"]).await;
    assert_eq!(per_account.code, 5, "{}", per_account.stderr);
    assert!(
        per_account.stderr.contains("an HTML page"),
        "{}",
        per_account.stderr
    );

    // A CA file that does not exist is a usage error at add.
    let mut missing = args("d");
    missing.extend([
        "--opt".to_string(),
        "ca_file=/nonexistent/ca.pem".to_string(),
    ]);
    let bad = cli.run_with(run(missing, None), &["secret123"]).await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("ca_file"), "{}", bad.stderr);
    server.stop().await;
}
