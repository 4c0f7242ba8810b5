//! Settings › Move to another machine (issue 16 item 12) in the real window: the accounts are
//! exported to a file (keyring secrets), the CLI imports the file into another data dir with
//! the encrypted file store, and `token` works there; importing back into the window reports
//! the conflict and a wrong passphrase is said plainly.

use std::process::{Command, Stdio};
use std::time::Duration;

use lanyard_e2e::{App, Sandbox, Sim, app_binary};

const EXPORT_PASSPHRASE: &str = "e2e moving passphrase";

/// `lanyard ARGS` on `data_dir` with the encrypted file store; (exit code, stdout, stderr).
fn cli_on_file_store(
    data_dir: &std::path::Path,
    args: &[&str],
    stdin: &str,
) -> (i32, String, String) {
    use std::io::Write;
    let binary = app_binary().parent().unwrap().join("lanyard");
    let mut child = Command::new(binary)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("LANYARD_SECRET_STORE", "file")
        .env("LANYARD_PASSPHRASE", "the new machine's store")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits until the section's problem line says `words`.
async fn problem_says(app: &App, words: &str) {
    app.eventually(words, Duration::from_secs(30), || async {
        app.text_of("transfer-problem")
            .await
            .contains(words)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn settings_export_the_accounts_and_the_cli_imports_them_elsewhere() {
    let sim = Sim::start();
    // Seeded before the window opens, as the other e2e tests do.
    let sandbox = Sandbox::new();
    let cli = sandbox.cli();
    let endpoint = sim.endpoint("sscms");
    cli.run(
        &[
            "add",
            "sscms",
            "--user",
            "demo",
            "--endpoint",
            &endpoint,
            "--remember-password",
            "--password-stdin",
        ],
        "demo1234\n",
    );
    let app = App::launch_with(sandbox, &[]).await;
    app.by_id("account-sscms/demo").await;

    let file = app.sandbox().home().join("moved.age");
    app.click("settings-open").await;
    app.fill("transfer-path", &file.display().to_string()).await;
    app.fill("transfer-passphrase", EXPORT_PASSPHRASE).await;
    app.fill("transfer-repeat", "not the same").await;
    app.click("transfer-export").await;
    let problem = app.text_of("transfer-problem").await;
    assert!(problem.contains("differ"), "{problem}");
    assert!(
        !file.exists(),
        "nothing written for two different passphrases"
    );

    app.fill("transfer-repeat", EXPORT_PASSPHRASE).await;
    app.click("transfer-export").await;
    let outcome = app
        .eventually("the export to be done", Duration::from_secs(60), || async {
            let text = app.text_of("transfer-outcome").await;
            text.contains("Exported").then_some(text)
        })
        .await;
    assert!(
        outcome.contains("Exported 1 account(s), 1 with a remembered password"),
        "{outcome}"
    );
    assert!(
        outcome.contains("Sessions are not in the file"),
        "{outcome}"
    );
    app.screenshot("settings-transfer-exported").await;
    let sealed = std::fs::read(&file).unwrap();
    assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    // A second export to the same file needs "replace".
    app.fill("transfer-passphrase", EXPORT_PASSPHRASE).await;
    app.fill("transfer-repeat", EXPORT_PASSPHRASE).await;
    app.click("transfer-export").await;
    problem_says(&app, "exists already").await;
    assert_eq!(std::fs::read(&file).unwrap(), sealed);

    // Importing into the same window: a wrong passphrase is said plainly; the right one
    // reports the account as existing already, and nothing changes.
    app.fill("transfer-passphrase", "wrong").await;
    app.click("transfer-import").await;
    problem_says(&app, "Wrong passphrase").await;
    app.fill("transfer-passphrase", EXPORT_PASSPHRASE).await;
    app.click("transfer-import").await;
    app.eventually(
        "the conflict to be listed",
        Duration::from_secs(30),
        || async {
            app.text_of("transfer-skipped")
                .await
                .contains("sscms/demo")
                .then_some(())
        },
    )
    .await;
    app.screenshot("settings-transfer-skipped").await;
    app.close_dialog().await;

    // The new machine: another data dir on the encrypted file store, through the CLI.
    let other = tempfile::tempdir().unwrap();
    let data = other.path().join("data");
    let (code, out, err) = cli_on_file_store(
        &data,
        &["import", file.to_str().unwrap()],
        &format!("{EXPORT_PASSPHRASE}\n"),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Imported sscms/demo."), "{out}");
    let (code, _, err) = cli_on_file_store(&data, &["login", "sscms/demo"], "");
    assert_eq!(code, 0, "the remembered password came along: {err}");
    let (code, token, err) = cli_on_file_store(&data, &["token", "sscms", "--as", "header"], "");
    assert_eq!(code, 0, "{err}");
    assert!(token.starts_with("X-SS-USER-TOKEN: "), "{token}");
    app.quit().await;
}
