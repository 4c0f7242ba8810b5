//! A person logging in on a terminal (a pseudo-terminal made by util-linux `script`) against
//! lanyard-sim: the captcha drawn in the terminal with half blocks in true colour, another try
//! (with a fresh image) after a wrong captcha and after a wrong code, and the line protocol for
//! scripts keeping its one try (exit 6) — issue 16 item 11.

use std::process::Stdio;
use std::time::{Duration, Instant};

use lanyard_sim::{Running, SimConfig};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

const PASSPHRASE: &str = "terminal login test passphrase";
const CAPTCHA_PROMPT: &str = "Characters in the captcha image: ";

struct World {
    sim: Running,
    data: tempfile::TempDir,
    http: reqwest::Client,
}

impl World {
    async fn new() -> World {
        let mut builder = tempfile::Builder::new();
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o700));
        }
        World {
            sim: lanyard_sim::start(SimConfig { port_base: None })
                .await
                .expect("simulators start"),
            data: builder.tempdir().unwrap(),
            http: reqwest::Client::new(),
        }
    }

    /// `lanyard ARGS` with this world's data dir and file store; colour allowed.
    fn command(&self, program: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env("LANYARD_DATA_DIR", self.data.path())
            .env("LANYARD_SECRET_STORE", "file")
            .env("LANYARD_PASSPHRASE", PASSPHRASE)
            .env_remove("NO_COLOR")
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

    async fn sim_get(&self, endpoint: &str, path: &str) -> Value {
        let url = url::Url::parse(endpoint).unwrap().join(path).unwrap();
        let resp = self.http.get(url).send().await.unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    /// The answer of the captcha ShopXO served last.
    async fn shopxo_captcha(&self) -> String {
        let endpoint = self.sim.endpoints().shopxo.clone();
        let answer = self.sim_get(&endpoint, "/__sim/captcha").await;
        answer["answer"].as_str().unwrap().to_owned()
    }
}

/// `lanyard ARGS` on a pseudo-terminal, answered as a person would.
struct Terminal {
    child: Child,
    input: ChildStdin,
    output: Vec<u8>,
    reader: ChildStdout,
}

impl Terminal {
    fn start(w: &World, args: &[&str]) -> Option<Terminal> {
        if std::process::Command::new("script")
            .arg("--version")
            .output()
            .is_err()
        {
            assert_ne!(
                std::env::var("CI").as_deref(),
                Ok("true"),
                "util-linux `script` is needed for the terminal test"
            );
            eprintln!("SKIPPED: util-linux `script` is not installed");
            return None;
        }
        let line = std::iter::once(env!("CARGO_BIN_EXE_lanyard"))
            .chain(args.iter().copied())
            .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
            .collect::<Vec<_>>()
            .join(" ");
        let mut child = w
            .command("script", &["-qec", &line, "/dev/null"])
            .spawn()
            .expect("start script");
        Some(Terminal {
            input: child.stdin.take().unwrap(),
            reader: child.stdout.take().unwrap(),
            child,
            output: Vec::new(),
        })
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }

    /// Waits until the terminal shows `needle` `count` times in all.
    async fn expect(&mut self, needle: &str, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.text().matches(needle).count() < count {
            let mut buf = [0u8; 4096];
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.reader.read(&mut buf)).await {
                Ok(Ok(0)) | Err(_) => panic!(
                    "the terminal never showed {needle:?} ({count}x); it shows:\n{}",
                    self.text()
                ),
                Ok(Ok(n)) => self.output.extend_from_slice(&buf[..n]),
                Ok(Err(e)) => panic!("reading the terminal: {e}"),
            }
        }
    }

    /// Types `text` and Enter, a moment after the prompt appeared (a hidden prompt turns echo
    /// off just after writing itself).
    async fn type_line(&mut self, text: &str) {
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.input
            .write_all(format!("{text}\n").as_bytes())
            .await
            .unwrap();
        self.input.flush().await.unwrap();
    }

    async fn finish(mut self) -> (i32, String) {
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(60), self.reader.read_to_end(&mut rest))
            .await
            .expect("lanyard finishes within 60 s")
            .unwrap();
        self.output.extend_from_slice(&rest);
        let shown = self.text();
        drop(self.input);
        let status = self.child.wait().await.unwrap();
        (status.code().unwrap_or(-1), shown)
    }
}

#[tokio::test]
async fn on_a_terminal_a_wrong_captcha_gets_a_fresh_drawn_image_and_another_try() {
    let w = World::new().await;
    let endpoint = w.sim.endpoints().shopxo.clone();
    let args = [
        "add",
        "shopxo",
        "--user",
        "alice01",
        "--endpoint",
        &endpoint,
    ];
    let Some(mut term) = Terminal::start(&w, &args) else {
        return;
    };
    term.expect("Password for shopxo/alice01", 1).await;
    term.type_line("secret123").await;
    term.expect(CAPTCHA_PROMPT, 1).await;
    let first = term.text();
    assert!(first.contains('▀'), "the captcha is drawn:\n{first}");
    assert!(first.contains("\x1b[38;2;"), "in 24-bit colour:\n{first}");
    assert!(first.contains("\x1b[48;2;"), "{first}");
    assert!(first.contains("\x1b[0m"), "colours reset:\n{first}");
    assert!(
        first.contains("captcha image: /"),
        "the file is still named"
    );
    // A reading that cannot be right (the simulator's captchas are digits).
    term.type_line("wrong").await;
    term.expect("try again (4 tries left)", 1).await;
    term.expect(CAPTCHA_PROMPT, 2).await;
    assert_eq!(term.text().matches("captcha image: /").count(), 2);
    let second_answer = w.shopxo_captcha().await;
    assert!(
        term.text().matches('▀').count() > first.matches('▀').count(),
        "the fresh image is drawn too"
    );
    term.type_line(&second_answer).await;
    let (code, shown) = term.finish().await;
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Logged in to shopxo/alice01"), "{shown}");
    assert!(
        !shown.contains("secret123"),
        "the password was echoed:\n{shown}"
    );
}

#[tokio::test]
async fn on_a_terminal_a_wrong_code_can_be_typed_again_and_five_wrong_ones_exit_6() {
    let w = World::new().await;
    let endpoint = w.sim.endpoints().steedos.clone();
    let args = [
        "add",
        "steedos",
        "--user",
        "bob@example.com",
        "--endpoint",
        &endpoint,
    ];
    let Some(mut term) = Terminal::start(&w, &args) else {
        return;
    };
    term.expect("Password for", 1).await;
    term.type_line("hunter22").await;
    term.expect("Code sent by SMS", 1).await;
    term.type_line("000000").await;
    term.expect("try again", 1).await;
    term.expect("Code sent by SMS", 2).await;
    let code = w
        .sim_get(&endpoint, "/__sim/last-code?user=bob@example.com")
        .await;
    term.type_line(code["code"].as_str().unwrap()).await;
    let (status, shown) = term.finish().await;
    assert_eq!(status, 0, "{shown}");
    assert!(
        shown.contains("Logged in to steedos/bob@example.com"),
        "{shown}"
    );

    // Five wrong codes: the login gives up with exit 6, and nothing stays registered.
    let Some(mut term) = Terminal::start(&w, &["login", "steedos/bob@example.com"]) else {
        return;
    };
    term.expect("Password for", 1).await;
    term.type_line("hunter22").await;
    for attempt in 1..=5 {
        term.expect("Code sent by SMS", attempt).await;
        term.type_line("000000").await;
    }
    let (status, shown) = term.finish().await;
    assert_eq!(status, 6, "{shown}");
    assert_eq!(shown.matches("Code sent by SMS").count(), 5, "{shown}");
    assert!(shown.contains("1 try left"), "{shown}");
}

#[tokio::test]
async fn over_pipes_one_wrong_captcha_still_exits_6_without_drawing() {
    let w = World::new().await;
    let endpoint = w.sim.endpoints().shopxo.clone();
    let mut child = w
        .command(
            env!("CARGO_BIN_EXE_lanyard"),
            &[
                "add",
                "shopxo",
                "--user",
                "alice01",
                "--endpoint",
                &endpoint,
                "--password-stdin",
            ],
        )
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A wrong answer, then a line that must never be read as a second try.
    stdin
        .write_all(b"secret123\nwrong\nalso wrong\n")
        .await
        .unwrap();
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("lanyard finishes")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    assert_eq!(stderr.matches("captcha image: ").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("Captcha:").count(), 1, "{stderr}");
    assert!(
        !stderr.contains('▀') && !stderr.contains('\x1b'),
        "{stderr}"
    );
    assert!(!stderr.contains("try again"), "{stderr}");
}
