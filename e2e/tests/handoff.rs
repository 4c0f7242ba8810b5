//! Issue 13 in the window: the account a service id stands for is marked, apart from another
//! server's active account, and the star moves it; "Copy as curl command" puts the service's own
//! curl line on the X clipboard, marked as a secret.

use std::time::Duration;

use lanyard_e2e::{App, Sandbox, Sim, clipboard_targets, clipboard_text};

#[tokio::test]
async fn the_account_in_use_is_marked_and_copied_as_a_curl_command() {
    let (first, second) = (Sim::start(), Sim::start());
    let (one, two) = (first.endpoint("sscms"), second.endpoint("sscms"));
    let sandbox = Sandbox::new();
    let cli = sandbox.cli();
    // Two SiteServer CMS servers: each has its active account; `sscms` stands for the first.
    for (user, password, endpoint) in [("demo", "demo1234", &one), ("alice", "secret123", &two)] {
        cli.add_logged_in("sscms", endpoint, user, password);
    }
    let app = App::launch_with(sandbox, &[]).await;
    app.by_id("account-sscms/alice").await;
    assert!(app.is_active("sscms/demo").await);
    assert!(
        app.has("active-here-sscms/alice").await,
        "active on its own server"
    );
    assert!(!app.is_active("sscms/alice").await);

    // The star moves the service's account in use to the second server.
    app.click("use-sscms/alice").await;
    app.eventually(
        "alice to be the SSCMS account in use",
        Duration::from_secs(10),
        || async {
            (app.is_active("sscms/alice").await && app.has("active-here-sscms/demo").await)
                .then_some(())
        },
    )
    .await;
    let cli = app.sandbox().cli();
    let token = cli.run(&["token", "sscms"], "");
    assert_eq!(token, cli.run(&["token", "sscms/alice"], ""));
    app.screenshot("account-in-use-across-servers").await;

    app.click("account-sscms/alice").await;
    app.click("copy-curl-details").await;
    let copied = app
        .eventually(
            "the curl command on the clipboard",
            Duration::from_secs(10),
            || async { clipboard_text().filter(|t| t.starts_with("curl ")) },
        )
        .await;
    assert_eq!(
        copied,
        format!(
            "curl -H 'X-SS-USER-TOKEN: {}' {two}/api/v1/users/2",
            token.trim()
        )
    );
    let targets = clipboard_targets();
    assert!(
        targets.iter().any(|t| t == "x-kde-passwordManagerHint"),
        "the clipboard is marked as a secret: {targets:?}"
    );
    app.quit().await;
}
