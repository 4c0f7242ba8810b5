//! The plain-http mark: an account whose endpoint is plain http on another machine says so on
//! its row, in its details and in its login dialog, in both languages; a loopback one does not. The accounts are
//! added with the CLI and `--no-login`, so nothing is sent anywhere.

use lanyard_e2e::{App, Sandbox};

#[tokio::test]
async fn plain_http_to_another_machine_is_marked_on_the_row_and_in_the_details() {
    let sandbox = Sandbox::new();
    let cli = sandbox.cli();
    for (user, endpoint) in [
        ("demo", "http://cms.lanyard-test.invalid"),
        ("alice", "http://127.0.0.1:9"),
    ] {
        cli.add_signed_out("sscms", endpoint, user);
    }
    let app = App::launch_with(sandbox, &[]).await;
    app.by_id("account-sscms/alice").await;
    assert!(
        app.text_of("plaintext-sscms/demo")
            .await
            .contains("Plain HTTP")
    );
    assert!(!app.has("plaintext-sscms/alice").await, "loopback is fine");

    app.click("account-sscms/demo").await;
    let note = app.text_of("details-plaintext").await;
    assert!(note.contains("travel unencrypted"), "{note}");
    app.screenshot("plaintext-mark-en").await;

    // Said again where the password is typed, before anything is sent.
    app.click("login-sscms/demo").await;
    let warning = app.text_of("login-plaintext").await;
    assert!(warning.contains("travel unencrypted"), "{warning}");
    app.screenshot("plaintext-login-en").await;
    app.close_dialog().await;

    app.set_appearance("zh-CN", "light").await;
    assert!(
        app.text_of("details-plaintext").await.contains("未加密"),
        "the details in Chinese"
    );
    assert!(app.text_of("plaintext-sscms/demo").await.contains("明文"));
    app.click("account-sscms/alice").await;
    app.wait_gone("details-plaintext").await;

    app.quit().await;
}
