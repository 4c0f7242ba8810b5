//! The encrypted file store (`LANYARD_SECRET_STORE=file`) with no passphrase in the
//! environment: the window asks for it before anything else, to choose one on first use and to
//! unlock the store later, and opens the accounts once it is right.

use std::process::{Command, Stdio};

use lanyard_e2e::{App, Sandbox, app_binary};

const PASSPHRASE: &str = "e2e window passphrase";

#[tokio::test]
async fn first_use_chooses_a_passphrase_typed_twice_then_shows_the_accounts() {
    let sandbox = Sandbox::new();
    let secrets_file = sandbox.data_dir().join("secrets.enc");
    let app = App::launch_with(sandbox, &[("LANYARD_SECRET_STORE", "file")]).await;

    app.by_id("passphrase-dialog").await;
    assert!(
        app.text_of("passphrase-file")
            .await
            .contains(&secrets_file.display().to_string())
    );
    assert!(
        !secrets_file.exists(),
        "nothing is created before a passphrase is chosen"
    );
    app.screenshot("passphrase-choose").await;

    app.fill("passphrase-input", PASSPHRASE).await;
    app.fill("passphrase-confirm", "something else").await;
    app.click("passphrase-submit").await;
    app.by_id("passphrase-mismatch").await;
    assert!(
        !secrets_file.exists(),
        "two different passphrases choose nothing"
    );

    app.fill("passphrase-input", PASSPHRASE).await;
    app.fill("passphrase-confirm", PASSPHRASE).await;
    app.click("passphrase-submit").await;
    app.wait_gone("passphrase-dialog").await;
    assert_eq!(app.empty_state_title().await, "Add your first account");
    assert!(
        secrets_file.is_file(),
        "the store is created with the chosen passphrase"
    );

    app.quit().await;
}

#[tokio::test]
async fn an_existing_store_is_unlocked_and_a_wrong_passphrase_can_be_retried() {
    let sandbox = Sandbox::new();
    // An account made by the CLI with the passphrase, so the store exists before the app starts.
    let cli = app_binary()
        .parent()
        .expect("the app binary has a directory")
        .join("lanyard");
    let made = Command::new(cli)
        .arg("--data-dir")
        .arg(sandbox.data_dir())
        .args([
            "add",
            "sscms",
            "--user",
            "demo",
            "--endpoint",
            "http://127.0.0.1:9",
            "--no-login",
        ])
        .env("LANYARD_SECRET_STORE", "file")
        .env("LANYARD_PASSPHRASE", PASSPHRASE)
        .stdin(Stdio::null())
        .output()
        .expect("run the lanyard CLI");
    assert!(
        made.status.success(),
        "lanyard add failed: {}",
        String::from_utf8_lossy(&made.stderr)
    );

    let app = App::launch_with(sandbox, &[("LANYARD_SECRET_STORE", "file")]).await;
    app.by_id("passphrase-dialog").await;
    assert!(
        !app.has("passphrase-confirm").await,
        "unlocking asks for the passphrase once"
    );

    app.fill("passphrase-input", "a wrong guess").await;
    app.click("passphrase-submit").await;
    let said = app.text_of("passphrase-wrong").await;
    assert_eq!(said, "Wrong passphrase. Try again.");
    app.screenshot("passphrase-wrong").await;

    app.fill("passphrase-input", PASSPHRASE).await;
    app.click("passphrase-submit").await;
    app.wait_gone("passphrase-dialog").await;
    app.wait_for_state("sscms/demo", "signed_out").await;

    app.quit().await;
}
