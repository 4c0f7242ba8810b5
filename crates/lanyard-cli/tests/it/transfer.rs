//! `lanyard export` / `lanyard import` with the real binary: accounts with a remembered password
//! and a secret option move from one data dir (file secret store) to another (the keyring when
//! a Secret Service runs, as under scripts/with-secret-service.sh; else a second file store),
//! log in there with what came along; conflicts are reported and nothing is overwritten; a
//! wrong passphrase changes nothing; the file is age (`age -d` opens it) — issue 16 item 12.

use lanyard_sim::Running;
use lanyard_sim::control::SimControl;
use serde_json::Value;
use tokio::process::Command;

use crate::support::{
    Outcome, Terminal, account_names, lanyard_in, mode, private_dir, run, start_sim,
};

const EXPORT_PASSPHRASE: &str = "moving day passphrase";
const SSCMS_PASSWORD: &str = "demo1234";
const SIYUAN_PASSWORD: &str = "secret123";
const SIYUAN_API_TOKEN: &str = "lanyarddemotoken";

/// One machine: a data dir and its secret store.
struct Machine {
    dir: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
}

impl Machine {
    fn new(env: Vec<(&'static str, String)>) -> Machine {
        Machine {
            dir: private_dir(),
            env,
        }
    }

    fn file_store(passphrase: &str) -> Machine {
        Machine::new(vec![
            ("LANYARD_SECRET_STORE", "file".into()),
            ("LANYARD_PASSPHRASE", passphrase.into()),
        ])
    }

    /// `lanyard ARGS` in this machine's data dir with its secret store.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = lanyard_in(self.dir.path());
        cmd.args(args).envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    async fn run(&self, args: &[&str], stdin: &str) -> Outcome {
        run(self.command(args), stdin).await
    }

    async fn list(&self) -> Value {
        let out = self.run(&["list", "--json"], "").await;
        out.assert_code(0);
        serde_json::from_str(&out.stdout).unwrap()
    }
}

/// The second machine: the keyring when a Secret Service is there to take the secrets.
fn other_machine() -> Machine {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() {
        Machine::new(vec![("LANYARD_SECRET_STORE", "keyring".into())])
    } else {
        eprintln!(
            "no session bus (run under scripts/with-secret-service.sh for the keyring): \
             importing into a second file store"
        );
        Machine::file_store("the second machine's passphrase")
    }
}

/// A machine with an SSCMS account and a SiYuan account (secret option api_token), both
/// remembering their passwords and logged in.
async fn old_machine(sim: &Running) -> Machine {
    let old = Machine::file_store("the old machine's passphrase");
    let endpoints = sim.endpoints();
    old.run(
        &[
            "add",
            "sscms",
            "--user",
            "demo",
            "--endpoint",
            &endpoints.sscms,
            "--remember-password",
            "--password-stdin",
        ],
        &format!("{SSCMS_PASSWORD}\n"),
    )
    .await
    .assert_code(0);
    let captcha_endpoint = format!("captcha_endpoint={}", endpoints.siyuan);
    old.run(
        &[
            "add",
            "siyuan",
            "--user",
            "alice",
            "--endpoint",
            &endpoints.siyuan,
            "--opt",
            "api_token=@-",
            "--opt",
            &captcha_endpoint,
            "--remember-password",
            "--password-stdin",
        ],
        &format!("{SIYUAN_API_TOKEN}\n{SIYUAN_PASSWORD}\n"),
    )
    .await
    .assert_code(0);
    old
}

#[tokio::test]
async fn accounts_move_to_another_data_dir_and_log_in_there() {
    let sim = start_sim().await;
    let old = old_machine(&sim).await;
    let out_dir = tempfile::tempdir().unwrap();
    let file = out_dir.path().join("accounts.age");
    let file_arg = file.to_str().unwrap();

    let out = old
        .run(&["export", file_arg], &format!("{EXPORT_PASSPHRASE}\n"))
        .await;
    out.assert_code(0);
    assert!(
        out.stdout.contains("Exported 2 account(s)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Sessions and tokens are not in the file")
    );
    assert!(out.stderr.contains("Export passphrase:"), "{}", out.stderr);
    if !crate::support::under_wine() {
        assert_eq!(mode(&file), 0o600, "the export is private");
    }
    let sealed = std::fs::read(&file).unwrap();
    assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
    for secret in [SSCMS_PASSWORD, SIYUAN_API_TOKEN, EXPORT_PASSPHRASE] {
        assert!(
            !sealed.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in the clear"
        );
    }
    // No temporary file is left beside it.
    assert_eq!(std::fs::read_dir(out_dir.path()).unwrap().count(), 1);

    // Never over an existing file without --force; with it, replaced.
    let again = old
        .run(&["export", file_arg], &format!("{EXPORT_PASSPHRASE}\n"))
        .await;
    again.assert_code(2);
    assert!(again.stderr.contains("--force"), "{}", again.stderr);
    assert_eq!(std::fs::read(&file).unwrap(), sealed, "left alone");
    old.run(
        &["export", file_arg, "--force"],
        &format!("{EXPORT_PASSPHRASE}\n"),
    )
    .await
    .assert_code(0);
    let sealed = std::fs::read(&file).unwrap();

    // What is inside, opened with the age crate: versioned JSON, secrets, no session.
    let identity = age::scrypt::Identity::new(EXPORT_PASSPHRASE.to_owned().into());
    let plain = age::decrypt(&identity, &sealed).expect("the passphrase opens the export");
    let inside: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(inside["format"], "lanyard-export");
    assert_eq!(inside["version"], 1);
    let accounts = inside["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 2);
    let siyuan = accounts.iter().find(|a| a["service"] == "siyuan").unwrap();
    assert_eq!(siyuan["secret_options"]["api_token"], SIYUAN_API_TOKEN);
    assert_eq!(siyuan["password"], SIYUAN_PASSWORD);
    assert_eq!(siyuan["remember_password"], true);
    assert_eq!(siyuan["active"], true);
    let text = String::from_utf8_lossy(&plain);
    assert!(
        !text.contains("\"session"),
        "no session in the export: {text}"
    );

    // The new machine: a wrong passphrase is a clear error (exit 4) and changes nothing.
    let new = other_machine();
    let wrong = new.run(&["import", file_arg], "not the passphrase\n").await;
    wrong.assert_code(4);
    assert!(
        wrong
            .stderr
            .contains("wrong passphrase for the export file"),
        "{}",
        wrong.stderr
    );
    assert_eq!(
        wrong.stderr.trim_end().lines().count(),
        2,
        "{}",
        wrong.stderr
    );
    assert!(account_names(&new.list().await).is_empty());

    let imported = new
        .run(&["import", file_arg], &format!("{EXPORT_PASSPHRASE}\n"))
        .await;
    imported.assert_code(0);
    assert!(
        imported.stdout.contains("Imported sscms/demo."),
        "{}",
        imported.stdout
    );
    assert!(imported.stdout.contains("Imported siyuan/alice."));
    assert!(
        imported.stdout.contains("log in to each"),
        "{}",
        imported.stdout
    );
    let list = new.list().await;
    assert_eq!(account_names(&list), ["siyuan/alice", "sscms/demo"]);
    for account in list.as_array().unwrap() {
        assert_eq!(account["state"], "signed_out", "no session came along");
        assert_eq!(account["active"], true, "the active choice came along");
    }
    // No session: `token` asks for a login (exit 3) ...
    new.run(&["token", "sscms"], "").await.assert_code(3);
    // ... which the remembered passwords do without asking (stdin is empty).
    for name in ["sscms/demo", "siyuan/alice"] {
        let login = new.run(&["login", name], "").await;
        login.assert_code(0);
        assert!(
            login.stderr.contains("remembered password"),
            "{}",
            login.stderr
        );
    }
    let token = new.run(&["token", "sscms/demo"], "").await;
    token.assert_code(0);
    assert!(!token.stdout.trim().is_empty());
    // SiYuan's token works only with the kernel's API token, which came along as a secret
    // option: one authenticated call through the kernel.
    let api = new
        .run(&["api", "siyuan", "/api/system/version", "-X", "POST"], "")
        .await;
    api.assert_code(0);

    // Importing again: every account conflicts by name; reported, nothing overwritten.
    let before = new.run(&["token", "sscms/demo"], "").await.stdout;
    let conflict = new
        .run(&["import", file_arg], &format!("{EXPORT_PASSPHRASE}\n"))
        .await;
    conflict.assert_code(2);
    assert!(
        conflict
            .stderr
            .contains("skipped sscms/demo: an account named 'sscms/demo' exists already"),
        "{}",
        conflict.stderr
    );
    assert!(conflict.stderr.contains("skipped siyuan/alice"));
    assert!(conflict.stderr.contains("nothing was imported"));
    let after = new.run(&["token", "sscms/demo"], "").await.stdout;
    assert_eq!(before, after, "the session was not touched");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_same_login_under_another_name_is_a_conflict_too() {
    let sim = start_sim().await;
    let old = old_machine(&sim).await;
    let file = old.dir.path().join("out.age");
    let file_arg = file.to_str().unwrap();
    let passphrase_file = old.dir.path().join("export-passphrase");
    std::fs::write(&passphrase_file, format!("{EXPORT_PASSPHRASE}\n")).unwrap();
    // LANYARD_EXPORT_PASSPHRASE_FILE instead of stdin.
    let mut old = old;
    old.env.push((
        "LANYARD_EXPORT_PASSPHRASE_FILE",
        passphrase_file.to_str().unwrap().to_owned(),
    ));
    old.run(&["export", file_arg], "").await.assert_code(0);

    let new = Machine::file_store("another passphrase");
    let endpoint = sim.endpoints().sscms.clone();
    new.run(
        &[
            "add",
            "sscms",
            "--user",
            "demo",
            "--endpoint",
            &endpoint,
            "--name",
            "mine",
            "--no-login",
        ],
        "",
    )
    .await
    .assert_code(0);
    let out = new
        .run(&["import", file_arg], &format!("{EXPORT_PASSPHRASE}\n"))
        .await;
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("skipped sscms/demo: account 'mine' is already sscms user 'demo'"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout.contains("Imported siyuan/alice."),
        "{}",
        out.stdout
    );
    let list = new.list().await;
    assert_eq!(account_names(&list), ["mine", "siyuan/alice"]);
    let mine = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "mine")
        .unwrap();
    assert_eq!(mine["active"], true, "the existing account keeps its place");

    // The password changed on the server since the export: a script is told how to give the
    // current one, and the login with it works (and is remembered from then on).
    SimControl::new(&sim.endpoints().siyuan)
        .set_password("alice", "a new one 42")
        .await
        .unwrap();
    let refused = new.run(&["login", "siyuan/alice"], "").await;
    refused.assert_code(4);
    assert!(
        refused
            .stderr
            .contains("give the current one with --password-stdin"),
        "{}",
        refused.stderr
    );
    new.run(
        &["login", "siyuan/alice", "--password-stdin"],
        "a new one 42\n",
    )
    .await
    .assert_code(0);
    new.run(&["login", "siyuan/alice"], "").await.assert_code(0);
    sim.shutdown().await;
}

/// Debian's `age` (the reference tool) opens the export with the passphrase. It reads the
/// passphrase from the terminal only: it runs on a pseudo-terminal made by util-linux `script`.
#[tokio::test]
async fn the_age_tool_decrypts_an_export() {
    if std::process::Command::new("age")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: the `age` binary is not installed (apt-get install age)");
        return;
    }
    let sim = start_sim().await;
    let old = old_machine(&sim).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("accounts.age");
    let plain = dir.path().join("accounts.json");
    old.run(
        &["export", file.to_str().unwrap()],
        &format!("{EXPORT_PASSPHRASE}\n"),
    )
    .await
    .assert_code(0);

    let line = format!("age -d -o '{}' '{}'", plain.display(), file.display());
    // A plain `age` on the terminal: none of lanyard's settings.
    let Some(mut term) = Terminal::start_shell(&Command::new("age"), &line) else {
        return;
    };
    term.expect("passphrase", 1).await;
    term.type_line(EXPORT_PASSPHRASE).await;
    let (code, shown) = term.finish().await;
    assert_eq!(code, 0, "age -d failed: {shown}");
    let inside: Value = serde_json::from_slice(&std::fs::read(&plain).unwrap()).unwrap();
    assert_eq!(inside["format"], "lanyard-export");
    assert_eq!(inside["accounts"].as_array().unwrap().len(), 2);
    sim.shutdown().await;
}

/// `lanyard ARGS` for `machine` on a pseudo-terminal: each `(prompt, typed)` pair waits for
/// the prompt, then types the line. Returns the exit status and what the terminal showed.
async fn on_terminal(machine: &Machine, args: &[&str], dialogue: &[(&str, &str)]) -> (i32, String) {
    let mut term = Terminal::start(&machine.command(&[]), args)
        .expect("util-linux `script` is needed for the terminal test");
    for (prompt, typed) in dialogue {
        term.expect_next(prompt).await;
        term.type_line(typed).await;
    }
    term.finish().await
}

#[tokio::test]
async fn on_a_terminal_the_passphrase_is_asked_without_echo_twice_for_an_export() {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: util-linux `script` is not installed");
        return;
    }
    let sim = start_sim().await;
    let old = old_machine(&sim).await;
    let file = old.dir.path().join("by-hand.age");
    let file_arg = file.to_str().unwrap();
    // Two passphrases that differ are asked again.
    let (code, shown) = on_terminal(
        &old,
        &["export", file_arg],
        &[
            ("New passphrase for the export file: ", "first try"),
            ("Repeat the passphrase: ", "a typo"),
            ("New passphrase for the export file: ", EXPORT_PASSPHRASE),
            ("Repeat the passphrase: ", EXPORT_PASSPHRASE),
        ],
    )
    .await;
    assert_eq!(code, 0, "{shown}");
    for typed in ["first try", "a typo", EXPORT_PASSPHRASE] {
        assert!(!shown.contains(typed), "{typed:?} was echoed:\n{shown}");
    }
    assert!(
        shown.contains("the two passphrases differ, try again"),
        "{shown}"
    );
    assert!(shown.contains("Exported 2 account(s)"), "{shown}");

    let new = Machine::file_store("another passphrase");
    let (code, shown) = on_terminal(
        &new,
        &["import", file_arg],
        &[("Passphrase of the export file: ", EXPORT_PASSPHRASE)],
    )
    .await;
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Imported sscms/demo."), "{shown}");
    assert!(!shown.contains(EXPORT_PASSPHRASE), "echoed:\n{shown}");
    sim.shutdown().await;
}
