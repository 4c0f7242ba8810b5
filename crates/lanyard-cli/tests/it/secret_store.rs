//! The real `lanyard` binary and its secret store: where the file store's passphrase comes from
//! (LANYARD_PASSPHRASE, LANYARD_PASSPHRASE_FILE, a terminal prompt), exit 7 for every secret
//! store failure (wrong passphrase, damaged file, no keyring), and a private data dir. Accounts
//! log in against lanyard-sim's SSCMS over loopback.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lanyard_sim::Running;
use tokio::process::Command;

use crate::support::{Outcome, Terminal, lanyard_in, mode, run, start_sim};

const PASSPHRASE: &str = "cli secret store passphrase";
/// The SSCMS simulator's demo user.
const USER: &str = "demo";
const PASSWORD: &str = "demo1234";
const ACCOUNT: &str = "sscms/demo";

/// The simulators and a data dir not made yet, on the file store with no passphrase in the
/// environment.
struct NewDataDir {
    sim: Running,
    root: tempfile::TempDir,
}

impl NewDataDir {
    async fn new() -> NewDataDir {
        NewDataDir {
            sim: start_sim().await,
            root: tempfile::tempdir().unwrap(),
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    fn secrets_file(&self) -> PathBuf {
        self.data_dir().join("secrets.enc")
    }

    /// `lanyard ARGS` on the file store with no passphrase in the environment; `env` adds some.
    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = lanyard_in(&self.data_dir());
        cmd.args(args)
            .env("LANYARD_SECRET_STORE", "file")
            .envs(env.iter().copied());
        cmd
    }

    async fn run(&self, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Outcome {
        run(self.command(args, env), stdin).await
    }

    /// Adds the SSCMS demo account and logs it in.
    async fn add_demo(&self, env: &[(&str, &str)]) -> Outcome {
        let endpoint = self.sim.endpoints().sscms.clone();
        self.run(
            &[
                "add",
                "sscms",
                "--user",
                USER,
                "--endpoint",
                &endpoint,
                "--password-stdin",
            ],
            env,
            &format!("{PASSWORD}\n"),
        )
        .await
    }

    /// A file holding `content`, with `mode`.
    fn passphrase_file(&self, content: &str, mode: u32) -> PathBuf {
        let path = self.root.path().join("passphrase");
        std::fs::write(&path, content).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }
}

// ---- where the passphrase comes from --------------------------------------------------------

#[tokio::test]
async fn a_passphrase_file_opens_the_file_store() {
    let w = NewDataDir::new().await;
    let file = w.passphrase_file(&format!("{PASSPHRASE}\nsecond line is ignored\n"), 0o600);
    let file = file.to_str().unwrap();
    let with_file = [("LANYARD_PASSPHRASE_FILE", file)];
    w.add_demo(&with_file).await.assert_code(0);
    let token = w.run(&["token", ACCOUNT], &with_file, "").await;
    token.assert_code(0);
    assert!(!token.stdout.trim().is_empty());

    // The file's first line is the passphrase the store was made with.
    let same = w
        .run(
            &["token", ACCOUNT],
            &[("LANYARD_PASSPHRASE", PASSPHRASE)],
            "",
        )
        .await;
    same.assert_code(0);
    assert_eq!(same.stdout, token.stdout);
    let wrong = w
        .run(&["token", ACCOUNT], &[("LANYARD_PASSPHRASE", "not it")], "")
        .await;
    wrong.assert_code(7);
    assert!(
        wrong.error_line().contains("wrong passphrase"),
        "{}",
        wrong.stderr
    );

    // Other users could read it: refused, with the fix. Unix modes only: Windows files have
    // ACLs (and under Wine the Linux modes mean nothing).
    if crate::support::under_wine() {
        return;
    }
    std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let loose = w.run(&["token", ACCOUNT], &with_file, "").await;
    loose.assert_code(7);
    assert!(
        loose.error_line().contains("LANYARD_PASSPHRASE_FILE")
            && loose.error_line().contains("mode 0644")
            && loose.error_line().contains("chmod 600"),
        "{}",
        loose.stderr
    );
    assert!(!loose.stderr.contains(PASSPHRASE));
}

#[tokio::test]
async fn without_a_passphrase_or_a_terminal_the_error_names_both_variables() {
    let w = NewDataDir::new().await;
    w.add_demo(&[("LANYARD_PASSPHRASE", PASSPHRASE)])
        .await
        .assert_code(0);
    let before = std::fs::read(w.secrets_file()).unwrap();
    for args in [vec!["token", ACCOUNT], vec!["logout", ACCOUNT]] {
        let out = w.run(&args, &[], "").await;
        out.assert_code(7);
        assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        for name in ["LANYARD_PASSPHRASE", "LANYARD_PASSPHRASE_FILE"] {
            assert!(out.stderr.contains(name), "{name} in: {}", out.stderr);
        }
    }
    // Commands that need no secret still work.
    let list = w.run(&["list", "--json"], &[], "").await;
    list.assert_code(0);
    assert!(list.stdout.contains(ACCOUNT), "{}", list.stdout);
    assert_eq!(std::fs::read(w.secrets_file()).unwrap(), before);
}

// ---- exit 7 for every secret store failure ---------------------------------------------------

#[tokio::test]
async fn a_corrupted_secret_file_exits_7_and_is_left_untouched() {
    let w = NewDataDir::new().await;
    let env = [("LANYARD_PASSPHRASE", PASSPHRASE)];
    w.add_demo(&env).await.assert_code(0);
    let mut damaged = std::fs::read(w.secrets_file()).unwrap();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x01;
    std::fs::write(w.secrets_file(), &damaged).unwrap();

    for args in [
        vec!["token", ACCOUNT],
        vec!["refresh", ACCOUNT, "--force"],
        vec!["logout", ACCOUNT],
    ] {
        let out = w.run(&args, &env, "").await;
        out.assert_code(7);
        assert!(
            out.error_line().contains("corrupted"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let endpoint = w.sim.endpoints().sscms.clone();
    let login = w
        .run(
            &[
                "add",
                "sscms",
                "--user",
                "alice",
                "--endpoint",
                &endpoint,
                "--password-stdin",
            ],
            &env,
            "secret123\n",
        )
        .await;
    login.assert_code(7);
    assert_eq!(
        std::fs::read(w.secrets_file()).unwrap(),
        damaged,
        "nothing may overwrite a damaged secret file"
    );
}

#[tokio::test]
async fn a_missing_keyring_exits_7() {
    let w = NewDataDir::new().await;
    let out = w
        .add_demo(&[
            ("LANYARD_SECRET_STORE", "keyring"),
            (
                "DBUS_SESSION_BUS_ADDRESS",
                "unix:path=/nonexistent/lanyard-test-bus",
            ),
        ])
        .await;
    out.assert_code(7);
    assert!(
        out.error_line().contains("no Secret Service is running"),
        "{}",
        out.stderr
    );
    assert!(
        out.error_line().contains("LANYARD_SECRET_STORE=file"),
        "{}",
        out.stderr
    );
}

// ---- the terminal prompt ---------------------------------------------------------------------

#[tokio::test]
async fn on_a_terminal_a_new_store_asks_for_a_passphrase_twice_without_echo() {
    let w = NewDataDir::new().await;
    let endpoint = w.sim.endpoints().sscms.clone();
    let args = [
        "add",
        "sscms",
        "--user",
        USER,
        "--endpoint",
        &endpoint,
        "--no-login",
    ];
    let Some(mut term) = Terminal::start(&w.command(&[], &[]), &args) else {
        return;
    };
    term.expect("New passphrase for Lanyard's secret file", 1)
        .await;
    term.type_line("first choice").await;
    term.expect("Repeat the passphrase", 1).await;
    term.type_line("second choice").await;
    term.expect("the two passphrases differ, try again", 1)
        .await;
    term.expect("New passphrase for Lanyard's secret file", 2)
        .await;
    term.type_line(PASSPHRASE).await;
    term.expect("Repeat the passphrase", 2).await;
    term.type_line(PASSPHRASE).await;
    let (code, shown) = term.finish().await;
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Added sscms/demo"), "{shown}");
    for typed in ["first choice", "second choice", PASSPHRASE] {
        assert!(!shown.contains(typed), "{typed:?} was echoed:\n{shown}");
    }
    // The store was made with the passphrase typed twice.
    let with = w
        .run(
            &["logout", ACCOUNT],
            &[("LANYARD_PASSPHRASE", PASSPHRASE)],
            "",
        )
        .await;
    with.assert_code(0);
    let other = w
        .run(
            &["logout", ACCOUNT],
            &[("LANYARD_PASSPHRASE", "first choice")],
            "",
        )
        .await;
    other.assert_code(7);
}

#[tokio::test]
async fn on_a_terminal_a_wrong_passphrase_can_be_typed_again() {
    let w = NewDataDir::new().await;
    w.add_demo(&[("LANYARD_PASSPHRASE", PASSPHRASE)])
        .await
        .assert_code(0);
    let expected = w
        .run(
            &["token", ACCOUNT],
            &[("LANYARD_PASSPHRASE", PASSPHRASE)],
            "",
        )
        .await;
    expected.assert_code(0);

    let Some(mut term) = Terminal::start(&w.command(&[], &[]), &["token", ACCOUNT]) else {
        return;
    };
    term.expect("Passphrase for Lanyard's secret file", 1).await;
    term.type_line("a wrong guess").await;
    term.expect("wrong passphrase, try again", 1).await;
    term.expect("Passphrase for Lanyard's secret file", 2).await;
    term.type_line(PASSPHRASE).await;
    let (code, shown) = term.finish().await;
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains(expected.stdout.trim()), "{shown}");
    assert!(
        !shown.contains("a wrong guess") && !shown.contains(PASSPHRASE),
        "{shown}"
    );

    // Three wrong ones: exit 7.
    let Some(mut term) = Terminal::start(&w.command(&[], &[]), &["token", ACCOUNT]) else {
        return;
    };
    for attempt in 1..=3 {
        term.expect("Passphrase for Lanyard's secret file", attempt)
            .await;
        term.type_line("a wrong guess").await;
    }
    let (code, shown) = term.finish().await;
    assert_eq!(code, 7, "{shown}");
    assert!(
        shown.contains("wrong passphrase for the secret file"),
        "{shown}"
    );
}

/// Ctrl-C at the prompt ends lanyard with 130 and leaves the terminal echoing again.
#[tokio::test]
async fn ctrl_c_at_the_prompt_exits_130_and_gives_the_terminal_back() {
    let w = NewDataDir::new().await;
    w.add_demo(&[("LANYARD_PASSPHRASE", PASSPHRASE)])
        .await
        .assert_code(0);
    let line = format!(
        "'{}' token {ACCOUNT}; echo \"exit=$?\"; stty -a",
        env!("CARGO_BIN_EXE_lanyard")
    );
    let Some(mut term) = Terminal::start_shell(&w.command(&[], &[]), &line) else {
        return;
    };
    term.expect("Passphrase for Lanyard's secret file", 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    term.send(b"\x03").await;
    let (code, shown) = term.finish().await;
    assert_eq!(code, 0, "the shell line ends normally: {shown}");
    assert!(shown.contains("exit=130"), "{shown}");
    let flags: Vec<&str> = shown.split_whitespace().collect();
    assert!(
        flags.contains(&"echo") && !flags.contains(&"-echo"),
        "the terminal echoes again: {shown}"
    );
}

// ---- a private data dir ----------------------------------------------------------------------

#[tokio::test]
async fn a_new_data_dir_and_every_file_in_it_are_private() {
    let w = NewDataDir::new().await;
    let out = w.add_demo(&[("LANYARD_PASSPHRASE", PASSPHRASE)]).await;
    out.assert_code(0);
    assert!(
        !out.stderr.contains("accessible to other users"),
        "{}",
        out.stderr
    );
    let data = w.data_dir();
    assert_eq!(mode(&data), 0o700);
    let files: Vec<PathBuf> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    for expected in ["lanyard.db", "secrets.enc", "secrets.enc.lock"] {
        assert!(
            files.iter().any(|f| f.ends_with(expected)),
            "{expected} in {files:?}"
        );
    }
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
}

#[tokio::test]
async fn a_loose_data_dir_is_tightened_with_a_notice() {
    let w = NewDataDir::new().await;
    let env = [("LANYARD_PASSPHRASE", PASSPHRASE)];
    w.add_demo(&env).await.assert_code(0);
    let data = w.data_dir();
    let db = data.join("lanyard.db");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(w.secrets_file(), std::fs::Permissions::from_mode(0o640)).unwrap();

    let out = w.run(&["token", ACCOUNT], &env, "").await;
    out.assert_code(0);
    let notices: Vec<&str> = out.stderr.lines().collect();
    let notice_for = |path: &Path, old: &str| {
        notices.iter().any(|line| {
            line.starts_with("lanyard: ")
                && line.contains(&path.display().to_string())
                && line.contains(&format!("mode {old}"))
        })
    };
    assert!(notice_for(&data, "0755"), "{}", out.stderr);
    assert!(notice_for(&db, "0644"), "{}", out.stderr);
    assert!(notice_for(&w.secrets_file(), "0640"), "{}", out.stderr);
    assert_eq!(mode(&data), 0o700);
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    // Once private, nothing more to say.
    let again = w.run(&["token", ACCOUNT], &env, "").await;
    again.assert_code(0);
    assert!(again.stderr.trim().is_empty(), "{}", again.stderr);
}
