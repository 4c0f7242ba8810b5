//! The tray costs little: closing the window destroys its page, so WebKit's web process exits,
//! the app ends WebKit's network process (not under WebDriver, whose session would end with it),
//! and the app in the tray is the Rust process alone, which hands back the pages of the
//! libraries only the window used. Opening the window again builds a new page that finds the
//! list as the person left it, and with no window at all keep-alive goes on renewing and
//! notifying.

use std::time::Duration;

use lanyard_e2e::x11::{NotificationWatch, distinct_colours, request_close, titled_windows};
use lanyard_e2e::{App, Cli, Sandbox, Sim, driver, eventually, tid};
use lanyard_sim::control::SiyuanConfigPatch;

const CLASS: &str = "lanyard-desktop";

/// The scroll offset of the element that scrolls the account list: its nearest ancestor that
/// scrolls (`null` if none does).
const LIST_SCROLL_TOP: &str = r#"
    let e = document.querySelector('[data-testid="account-list"]')?.parentElement;
    while (e && !/(auto|scroll)/.test(getComputedStyle(e).overflowY)) e = e.parentElement;
    return e ? e.scrollTop : null;
"#;

/// The account row at the top of the list's viewport and how far below the viewport's top it
/// starts: what the person sees, whatever heights the list estimates for rows it has not shown.
const TOP_ROW: &str = r#"
    let e = document.querySelector('[data-testid="account-list"]')?.parentElement;
    while (e && !/(auto|scroll)/.test(getComputedStyle(e).overflowY)) e = e.parentElement;
    const top = e.getBoundingClientRect().top;
    let best = null;
    for (const row of document.querySelectorAll('[data-testid="account-list"] [data-name]')) {
        const box = row.getBoundingClientRect();
        if (box.bottom <= top || box.height === 0) continue;
        if (best === null || box.top - top < best[1]) best = [row.dataset.name, box.top - top];
    }
    return best;
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

/// How much of the files mapped into a process is resident (`RssFile`, KiB).
fn resident_file_pages_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("the app's status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("RssFile:"))
        .and_then(|kib| kib.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("RssFile in /proc/PID/status")
}

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
    // The page has told the app where it is (once scrolling and the layout settled).
    let top_row = app
        .eventually(
            "the app to know the place",
            Duration::from_secs(5),
            || async {
                let known = app.eval_async(APP_VIEW_STATE).await;
                let shown = app.eval(TOP_ROW).await;
                let now = app.eval(LIST_SCROLL_TOP).await.as_f64();
                (known["selected"] == chosen
                    && known["scroll_top"]
                        .as_f64()
                        .zip(now)
                        .is_some_and(|(known, now)| (known - now).abs() < 1.0)
                    && known["top_row"] == shown[0]
                    && known["top_row_offset"]
                        .as_f64()
                        .zip(shown[1].as_f64())
                        .is_some_and(|(known, shown)| (known - shown).abs() < 1.0))
                .then_some(shown)
            },
        )
        .await;
    let before = app.web_processes();
    eprintln!("with the window: {:?}", app.app_children());
    assert!(!before.is_empty(), "a web process runs the window's page");
    let files_with_window = resident_file_pages_kib(app.app_pid());

    // Closed to the tray: the page and its web process are gone, the app is not.
    app.close_to_tray().await;
    app.eventually(
        "the web process to exit",
        Duration::from_secs(15),
        || async { app.web_processes().is_empty().then_some(()) },
    )
    .await;
    eprintln!("in the tray: {:?}", app.app_children());
    // And the app hands back the pages of the libraries only the window used (their files
    // stay mapped: without that, what is resident of them hardly changes).
    let files_in_tray = app
        .eventually(
            "the app to hand back the window's library pages",
            Duration::from_secs(15),
            || async {
                let now = resident_file_pages_kib(app.app_pid());
                (now * 10 <= files_with_window * 7).then_some(now)
            },
        )
        .await;
    eprintln!(
        "resident file pages: {files_with_window} KiB with the window, {files_in_tray} KiB in the tray"
    );

    // A second launch hands over, and the window comes back as it was left.
    app.reopen_by_a_second_launch().await;
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
    // The same rows on screen once the list has measured the rows it put on the page: the
    // same one at the top, at the same height.
    let same_place = |shown: &serde_json::Value| {
        shown[0] == top_row[0]
            && shown[1]
                .as_f64()
                .zip(top_row[1].as_f64())
                .is_some_and(|(now, was)| (now - was).abs() <= 2.0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let settled = loop {
        let shown = app.eval(TOP_ROW).await;
        if same_place(&shown) || std::time::Instant::now() > deadline {
            break shown;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    app.screenshot("tray-webview-reopened").await;
    assert!(
        same_place(&settled),
        "the same row at the top, at the same height: {settled} vs {top_row}"
    );

    app.quit().await;
}

/// The account's session expiry as `lanyard list --json` reads it from the shared database.
fn expiry(cli: &Cli, name: &str) -> Option<String> {
    let list: serde_json::Value =
        serde_json::from_str(&cli.run(&["list", "--json"], "")).expect("list --json is JSON");
    list.as_array()?
        .iter()
        .find(|account| account["name"] == name)?["expires_at"]
        .as_str()
        .map(str::to_owned)
}

#[tokio::test]
async fn keep_alive_renews_and_notifies_with_no_window() {
    let sim = Sim::start();
    // SiYuan cloud tokens that live 40 s: keep-alive renews them every 30 s or so.
    sim.control("siyuan")
        .configure(&SiyuanConfigPatch {
            token_lifetime_secs: Some(40),
            ..Default::default()
        })
        .await
        .unwrap();
    // An SSCMS session that ends 90 s after its login (the simulator's clock runs that much less
    // than its 7-day token lifetime behind): with no password remembered nobody can renew it,
    // and it is announced once a tenth of its life is left (the automatic warning window),
    // some 80 s after the login, by when the window is long closed.
    sim.control("sscms")
        .advance_clock(-(7 * 24 * 3600 - 90))
        .await
        .unwrap();
    let siyuan = sim.endpoint("siyuan");
    let sandbox = Sandbox::new();
    let cli = sandbox.cli();
    cli.run(
        &[
            "add",
            "siyuan",
            "--user",
            "alice",
            "--endpoint",
            &siyuan,
            "--opt",
            "api_token=lanyarddemotoken",
            "--opt",
            &format!("captcha_endpoint={siyuan}"),
            "--password-stdin",
        ],
        "secret123\n",
    );
    cli.add_logged_in("sscms", &sim.endpoint("sscms"), "demo", "demo1234");
    let notifications = NotificationWatch::start();
    let app = App::launch_with(sandbox, &[]).await;
    app.wait_for_state("siyuan/alice", "valid").await;
    app.wait_for_state("sscms/demo", "valid").await;

    app.close_to_tray().await;
    app.eventually(
        "the web process to exit",
        Duration::from_secs(15),
        || async { app.web_processes().is_empty().then_some(()) },
    )
    .await;
    assert!(
        !notifications.seen().contains("sscms/demo"),
        "nothing announced sscms/demo while the window was open"
    );
    let cli = app.sandbox().cli();
    let at_close = expiry(&cli, "siyuan/alice").expect("siyuan/alice has a session");

    // With no window, the engine renews the SiYuan session...
    let renewed = app
        .eventually(
            "siyuan/alice renewed with no window",
            Duration::from_secs(60),
            || async {
                let now = expiry(&cli, "siyuan/alice")?;
                (now > at_close).then_some(now)
            },
        )
        .await;
    eprintln!("siyuan/alice: expiry {at_close} at the close, {renewed} later");
    // ...and announces the SSCMS session nobody can renew.
    app.eventually(
        "a notification about sscms/demo with no window",
        Duration::from_secs(120),
        || async { notifications.seen().contains("sscms/demo").then_some(()) },
    )
    .await;
    assert!(
        titled_windows(CLASS).is_empty() && app.web_processes().is_empty(),
        "still no window and no web process"
    );

    app.quit().await;
}

/// How long the test without WebDriver waits for the window or the WebKit processes.
const DIRECT_TIMEOUT: Duration = Duration::from_secs(20);

/// The app's window once it shows a painted page (hundreds of colours: text, marks, buttons).
async fn painted_window() -> u32 {
    eventually(
        "the window with its page painted",
        DIRECT_TIMEOUT,
        || async {
            let windows = titled_windows(CLASS);
            let [window] = windows.as_slice() else {
                return None;
            };
            (distinct_colours(*window) > 100).then_some(*window)
        },
    )
    .await
}

/// Started the way a person starts it, without WebDriver: the page gets classic scrollbars, in
/// the tray no WebKit process runs, not even the network process, and a second launch brings the
/// window back with new ones and a painted page.
#[tokio::test]
async fn without_webdriver_no_webkit_process_runs_in_the_tray() {
    let sandbox = Sandbox::new();
    sandbox
        .cli()
        .add_signed_out("sscms", "http://127.0.0.1:9/", "demo");
    driver::wait_until_no_instance_runs().await;
    let mut app = sandbox.start_app_directly();
    let pid = app.pid();
    let window = painted_window().await;
    let with_window = driver::running_descendants(pid);
    let names = |children: &[(u32, String)]| -> Vec<String> {
        let mut names: Vec<String> = children.iter().map(|(_, name)| name.clone()).collect();
        names.sort();
        names
    };
    assert_eq!(
        names(&with_window),
        ["WebKitNetworkPr", "WebKitWebProces"],
        "the window's web and network processes"
    );
    // The page has classic scrollbars and no optimizing JavaScript tiers
    // (src-tauri/src/webkit.rs). Under WebDriver the first cannot be seen: WebKitWebDriver
    // starts the app with GTK_OVERLAY_SCROLLING=1, which the app keeps.
    let (web, _) = with_window
        .iter()
        .find(|(_, name)| name == "WebKitWebProces")
        .expect("the web process");
    let environment = std::fs::read(format!("/proc/{web}/environ")).expect("its environment");
    for wanted in ["GTK_OVERLAY_SCROLLING=0", "JSC_useDFGJIT=false"] {
        assert!(
            environment
                .split(|&byte| byte == 0)
                .any(|entry| entry == wanted.as_bytes()),
            "the web process runs with {wanted}"
        );
    }

    request_close(window);
    eventually("both WebKit processes to exit", DIRECT_TIMEOUT, || async {
        driver::running_descendants(pid).is_empty().then_some(())
    })
    .await;
    assert!(app.is_running(), "the app goes on in the tray");

    let second = sandbox.launch_second_instance(Duration::from_secs(20));
    assert!(
        second.is_some_and(|status| status.success()),
        "the second launch hands over and exits"
    );
    painted_window().await;
    let reopened = driver::running_descendants(pid);
    assert_eq!(
        names(&reopened),
        ["WebKitNetworkPr", "WebKitWebProces"],
        "new web and network processes for the new page"
    );
    assert!(
        reopened.iter().all(|child| !with_window.contains(child)),
        "new processes ({reopened:?}), not the old ones ({with_window:?})"
    );
}
