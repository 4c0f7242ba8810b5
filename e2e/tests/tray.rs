//! Lanyard lives on in the tray: closing the window takes it off the screen (the first time, a
//! notification says so), keep-alive goes on, a second launch brings the window back; a
//! session that will die without anyone able to renew it is announced with a notification,
//! and the tray's menu copies tokens, opens the window and quits with no window open.

use std::time::Duration;

use lanyard_e2e::tray_host::TrayHost;
use lanyard_e2e::x11::{NotificationWatch, request_close, titled_windows};
use lanyard_e2e::{App, Sandbox, Sim, clipboard_text, driver};

const CLASS: &str = "lanyard-desktop";

#[tokio::test]
async fn closing_the_window_keeps_lanyard_in_the_tray_and_unattended_expiry_is_announced() {
    let sim = Sim::start();
    // An SSCMS session that ends in 10 minutes: the simulator's clock runs 7 days minus 10
    // minutes behind, and its tokens live 7 days. No password is remembered, so nothing can
    // renew it without a person.
    sim.control("sscms")
        .advance_clock(-(7 * 24 * 3600 - 600))
        .await
        .unwrap();
    let sscms = sim.endpoint("sscms");
    let sandbox = Sandbox::new();
    sandbox.cli().run(
        &[
            "add",
            "sscms",
            "--user",
            "demo",
            "--endpoint",
            &sscms,
            "--password-stdin",
        ],
        "demo1234\n",
    );
    let notifications = NotificationWatch::start();
    let app = App::launch_with(sandbox, &[]).await;
    app.wait_for_state("sscms/demo", "valid").await;

    // Warn 15 minutes before a session ends: this one is inside that window now.
    app.click("settings-open").await;
    app.choose("setting-warning_window_secs", "900").await;
    app.close_dialog().await;
    app.wait_for_state("sscms/demo", "expiring").await;
    app.eventually(
        "a notification about sscms/demo",
        Duration::from_secs(15),
        || async { notifications.seen().contains("sscms/demo").then_some(()) },
    )
    .await;

    // Closing the window hides it, and says once where Lanyard went.
    let windows = titled_windows(CLASS);
    assert_eq!(windows.len(), 1, "one window: {windows:?}");
    request_close(windows[0]);
    app.eventually("the window to hide", Duration::from_secs(10), || async {
        titled_windows(CLASS).is_empty().then_some(())
    })
    .await;
    app.eventually(
        "the close-to-tray notice",
        Duration::from_secs(10),
        || async {
            notifications
                .seen()
                .contains("keeps your sessions alive in the tray")
                .then_some(())
        },
    )
    .await;

    // Still running: a second launch hands over and the window is back, as it was.
    // Closing destroyed the page; the window has a new one.
    app.reopen_by_a_second_launch().await;
    app.wait_for_state("sscms/demo", "expiring").await;

    // The notice is given once only.
    let notices = |seen: &str| {
        seen.matches("keeps your sessions alive in the tray")
            .count()
    };
    request_close(titled_windows(CLASS)[0]);
    app.eventually(
        "the window to hide again",
        Duration::from_secs(10),
        || async { titled_windows(CLASS).is_empty().then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(notices(&notifications.seen()), 1);

    app.quit().await;
}

#[tokio::test]
async fn quitting_takes_a_copied_token_off_the_clipboard() {
    let sim = Sim::start();
    let sscms = sim.endpoint("sscms");
    let sandbox = Sandbox::new();
    let cli = sandbox.cli();
    cli.run(
        &[
            "add",
            "sscms",
            "--user",
            "demo",
            "--endpoint",
            &sscms,
            "--password-stdin",
        ],
        "demo1234\n",
    );
    let token = cli.run(&["token", "sscms/demo"], "");
    let app = App::launch_with(sandbox, &[("LANYARD_LOG", "info")]).await;

    app.click("copy-sscms/demo").await;
    let copied = app.copied("the token on the clipboard").await;
    assert_eq!(copied, token.trim_end());

    // The session ends long before the 30 s delay: the app quits as from the tray (keep-alive
    // stopped, the clipboard wiped while it still owns it), and the token does not outlive it.
    app.terminate_app().await;
    assert_eq!(clipboard_text(), None);
    let log = app.driver_log();
    assert!(
        log.contains("clipboard_cleared=true"),
        "the app wiped the clipboard as it quit: {log}"
    );
    assert!(
        !log.contains(token.trim_end()),
        "the token never appears in a log"
    );

    app.forget();
}

/// With the window closed to the tray, its menu (read and clicked through a stand-in tray host,
/// as a panel does) lists the active account, copies its token, opens the window and quits.
#[tokio::test]
async fn the_tray_menu_copies_opens_and_quits_with_no_window() {
    let sim = Sim::start();
    let sandbox = Sandbox::new();
    let cli = sandbox.cli();
    cli.add_logged_in("sscms", &sim.endpoint("sscms"), "demo", "demo1234");
    // The form SSCMS expects: its header.
    let header = cli.run(&["token", "sscms/demo", "--as", "header"], "");
    let host = TrayHost::start().await;
    let app = App::launch_with(sandbox, &[]).await;
    app.wait_for_state("sscms/demo", "valid").await;
    app.close_to_tray().await;

    let menu = host.menu_with("demo — copy token").await;
    let labels: Vec<&str> = menu.iter().map(|entry| entry.label.as_str()).collect();
    assert_eq!(
        labels,
        ["SiteServer CMS: demo — copy token", "Open Lanyard", "Quit"]
    );

    host.click("demo — copy token").await;
    let copied = app.copied("the token on the clipboard").await;
    assert_eq!(copied, header.trim_end());
    assert!(titled_windows(CLASS).is_empty(), "copying opened no window");

    host.click("Open Lanyard").await;
    app.wait_until_the_window_shows().await;
    app.follow_the_rebuilt_window().await;
    app.wait_for_state("sscms/demo", "valid").await;

    let pid = app.app_pid();
    host.click("Quit").await;
    app.eventually("the app to exit", Duration::from_secs(15), || async {
        (!driver::is_running(pid)).then_some(())
    })
    .await;
    assert_eq!(
        clipboard_text(),
        None,
        "quitting took the token off the clipboard"
    );
    app.forget();
}
