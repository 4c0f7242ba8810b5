//! The tray costs little: closing the window destroys its page, so WebKit's web process exits
//! and the app in the tray is the Rust process (and WebKit's network process) alone. Opening
//! the window again builds a new page that finds the list as the person left it, and with no
//! window at all keep-alive goes on renewing and notifying.

use std::time::Duration;

use lanyard_e2e::x11::visible_windows;
use lanyard_e2e::{App, Sandbox, Sim, tid};

const CLASS: &str = "lanyard-desktop";

/// The scroll offset of the element that scrolls the account list: its nearest ancestor that
/// scrolls (`null` if none does).
const LIST_SCROLL_TOP: &str = r#"
    let e = document.querySelector('[data-testid="account-list"]')?.parentElement;
    while (e && !/(auto|scroll)/.test(getComputedStyle(e).overflowY)) e = e.parentElement;
    return e ? e.scrollTop : null;
"#;

/// Scrolls the account list to its end, as a person would to reach the last accounts.
const SCROLL_LIST_TO_END: &str = r#"
    let e = document.querySelector('[data-testid="account-list"]')?.parentElement;
    while (e && !/(auto|scroll)/.test(getComputedStyle(e).overflowY)) e = e.parentElement;
    e.scrollTop = e.scrollHeight;
"#;

/// What the app holds as the window's last place (`view_state`, asked through the page's IPC).
const APP_VIEW_STATE: &str = r#"
    const done = arguments[arguments.length - 1];
    window.__TAURI_INTERNALS__.invoke("view_state").then(done, (e) => done({ error: String(e) }));
"#;

#[tokio::test]
async fn closing_to_the_tray_ends_the_web_process_and_reopening_restores_the_selection() {
    let sim = Sim::start();
    let sscms = sim.endpoint("sscms");
    let sandbox = Sandbox::new();
    let cli = sandbox.cli();
    // More accounts than the window shows, so the list scrolls.
    for n in 0..60 {
        cli.run(
            &[
                "add",
                "sscms",
                "--user",
                &format!("user{n:02}"),
                "--endpoint",
                &sscms,
                "--no-login",
            ],
            "",
        );
    }
    let app = App::launch_with(sandbox, &[]).await;
    let chosen = "sscms/user55";
    app.eval(SCROLL_LIST_TO_END).await;
    app.click(&format!("account-{chosen}")).await;
    app.by_id("details-panel").await;
    let scrolled = app.eval(LIST_SCROLL_TOP).await;
    let scrolled = scrolled.as_f64().expect("the account list scrolls");
    assert!(scrolled > 0.0, "the list was scrolled to reach {chosen}");
    // The page has told the app where it is (the scroll once scrolling settled).
    app.eventually(
        "the app to know the place",
        Duration::from_secs(5),
        || async {
            let known = app.eval_async(APP_VIEW_STATE).await;
            (known["selected"] == chosen
                && known["scroll_top"]
                    .as_f64()
                    .is_some_and(|top| (top - scrolled).abs() < 1.0))
            .then_some(())
        },
    )
    .await;
    let before = app.web_processes();
    eprintln!("with the window: {:?}", app.app_children());
    assert!(!before.is_empty(), "a web process runs the window's page");

    // Closed to the tray: the page and its web process are gone, the app is not.
    app.close_to_tray().await;
    app.eventually(
        "the web process to exit",
        Duration::from_secs(15),
        || async { app.web_processes().is_empty().then_some(()) },
    )
    .await;
    eprintln!("in the tray: {:?}", app.app_children());

    // A second launch hands over, and the window comes back as it was left.
    let second = app.launch_second_instance(Duration::from_secs(20));
    assert!(
        second.is_some_and(|status| status.success()),
        "the second launch hands over and exits"
    );
    app.eventually(
        "the window to show again",
        Duration::from_secs(15),
        || async { (visible_windows(CLASS).len() == 1).then_some(()) },
    )
    .await;
    app.follow_the_rebuilt_window().await;
    let after = app.web_processes();
    assert!(!after.is_empty(), "a web process runs the new page");
    assert!(
        after.iter().all(|pid| !before.contains(pid)),
        "a new web process ({after:?}), not the old one ({before:?})"
    );
    app.eventually(
        "the same account selected",
        Duration::from_secs(10),
        || async {
            (app.attr_of(&format!("account-{chosen}"), "aria-selected")
                .await
                .as_deref()
                == Some("true"))
            .then_some(())
        },
    )
    .await;
    assert!(
        app.exists(&format!(
            "{} {}",
            tid("details-panel"),
            tid("details-close")
        ))
        .await,
        "its details are shown"
    );
    let restored = app.eval(LIST_SCROLL_TOP).await.as_f64();
    assert!(
        restored.is_some_and(|top| (top - scrolled).abs() <= 2.0),
        "the list scrolled as before: {restored:?}, was {scrolled}"
    );
    app.screenshot("tray-webview-reopened").await;

    app.quit().await;
}
