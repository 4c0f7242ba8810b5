//! The window costs nothing when nothing on it changes: its clock wakes only when a time on
//! screen changes its text (a countdown in minutes once a minute, not every second), not at
//! all while the window is hidden, and a list of 1,000 accounts puts only the rows on screen
//! in the page. Counted, never timed: the page counts its clock's wake-ups
//! (`window.lanyardClock`), and the rows are counted in the page.

use std::time::Duration;

use lanyard_e2e::x11::{request_close, visible_windows};
use lanyard_e2e::{App, Sandbox, Sim};

const CLASS: &str = "lanyard-desktop";
const END: &str = "\u{e010}";
const HOME: &str = "\u{e011}";
const PAGE_UP: &str = "\u{e00e}";
const DOWN: &str = "\u{e015}";

/// The clock's wake-ups since the page loaded.
async fn ticks(app: &App) -> u64 {
    app.eval("return window.lanyardClock.ticks")
        .await
        .as_u64()
        .expect("a count of wake-ups")
}

/// The instants (page time, ms) of the clock's last wake-ups.
async fn recent_ticks(app: &App) -> Vec<f64> {
    serde_json::from_value(app.eval("return window.lanyardClock.recent").await)
        .expect("a list of instants")
}

/// The system's clock, in ms since the epoch, as the page's `Date.now()` reads it.
fn epoch_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_millis() as f64
}

/// An SSCMS account whose session ends in ten minutes: its countdown shows seconds (it does in
/// a session's last ten minutes).
async fn ending_in_ten_minutes(sim: &Sim, sandbox: &Sandbox) {
    // The simulator's clock runs 7 days minus 10 minutes behind, and its tokens live 7 days.
    sim.control("sscms")
        .advance_clock(-(7 * 24 * 3600 - 600))
        .await
        .unwrap();
    sandbox
        .cli()
        .add_logged_in("sscms", &sim.endpoint("sscms"), "demo", "demo1234");
}

#[tokio::test]
async fn a_countdown_in_minutes_wakes_the_page_once_a_minute_not_every_second() {
    let sim = Sim::start();
    let sandbox = Sandbox::new();
    // A fresh SSCMS session lives 7 days: "6d 23h 59m", no seconds shown.
    sandbox
        .cli()
        .add_logged_in("sscms", &sim.endpoint("sscms"), "demo", "demo1234");
    let app = App::launch_with(sandbox, &[]).await;
    app.wait_signed_in("sscms/demo").await;
    let shown = app.text_of("countdown-sscms/demo").await;
    assert!(
        shown.contains("d ") && shown.ends_with('m'),
        "the countdown shows days, hours and minutes, no seconds: {shown:?}"
    );

    let before = ticks(&app).await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let woken = ticks(&app).await - before;
    // Once a minute for the countdown, and "just now" turning into "1 minute ago": at most
    // two moments inside 8 s; a clock of seconds would have woken 8 times.
    assert!(
        woken <= 2,
        "the page woke {woken} times in 8 s for a countdown in minutes"
    );
    let next = app
        .eval("return window.lanyardClock.next - Date.now()")
        .await
        .as_f64()
        .expect("the clock's next wake-up");
    // The countdown's next minute, and the half minute a display in minutes may be moved late
    // so that it shares a wake with others.
    assert!(
        next > 0.0 && next <= 91_000.0,
        "the clock sleeps until the next minute of the countdown at the latest, not {next} ms"
    );

    app.quit().await;
}

#[tokio::test]
async fn the_clock_does_not_run_while_the_window_is_hidden() {
    let sim = Sim::start();
    let sandbox = Sandbox::new();
    ending_in_ten_minutes(&sim, &sandbox).await;
    let app = App::launch_with(sandbox, &[]).await;
    app.wait_for_state("sscms/demo", "valid").await;

    // Shown: the countdown in seconds wakes the page each second.
    let before = ticks(&app).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let woken = ticks(&app).await - before;
    assert!(
        (3..=6).contains(&woken),
        "a countdown in seconds wakes the page each second: {woken} times in 4 s"
    );

    // Hidden to the tray: no wake-up at all while it is hidden, though the countdown goes on.
    let windows = visible_windows(CLASS);
    assert_eq!(windows.len(), 1, "one window: {windows:?}");
    request_close(windows[0]);
    app.eventually("the window to hide", Duration::from_secs(10), || async {
        visible_windows(CLASS).is_empty().then_some(())
    })
    .await;
    let hidden_at = epoch_ms();
    tokio::time::sleep(Duration::from_secs(6)).await;

    let second = app
        .sandbox()
        .launch_second_instance(Duration::from_secs(20));
    assert!(
        second.is_some_and(|status| status.success()),
        "the second launch hands over and exits"
    );
    app.eventually(
        "the window to show again",
        Duration::from_secs(10),
        || async { (visible_windows(CLASS).len() == 1).then_some(()) },
    )
    .await;
    let shown_at = epoch_ms();
    // Closed to the tray, the window's page is gone (tray_webview.rs); WebDriver follows the
    // page of the window opened again (the same page, were it kept).
    app.follow_the_rebuilt_window().await;
    // The page's clock is the system's. A second for a hidden page to stop, half a second for
    // the window shown again to be seen.
    let (quiet_from, quiet_to) = (hidden_at + 1000.0, shown_at - 500.0);
    assert!(quiet_to - quiet_from >= 4000.0, "hidden for at least 4 s");
    let while_hidden: Vec<f64> = recent_ticks(&app)
        .await
        .into_iter()
        .filter(|at| (quiet_from..quiet_to).contains(at))
        .collect();
    assert!(
        while_hidden.is_empty(),
        "the clock woke {} times while the window was hidden ({:.0} ms after hiding)",
        while_hidden.len(),
        while_hidden.first().map_or(0.0, |at| at - hidden_at)
    );

    // Shown again, the countdown goes on each second.
    let before = ticks(&app).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        ticks(&app).await - before >= 2,
        "the clock runs again once the window is shown"
    );

    app.quit().await;
}

/// The account rows in the page now.
async fn rows_in_page(app: &App) -> u64 {
    app.eval("return document.querySelectorAll('[data-testid=account-list] [role=row]').length")
        .await
        .as_u64()
        .expect("a count")
}

/// The account whose row holds the focus, and its place in the list as screen readers get it.
async fn focused_row(app: &App) -> (String, String) {
    let found = app
        .eval(
            "const row = document.activeElement?.closest('[role=row]'); \
             return row ? [row.dataset.name, row.getAttribute('aria-rowindex')] : null",
        )
        .await;
    serde_json::from_value(found).expect("the focus in a row")
}

/// Whether the middle of the scrolling pane shows a row (no gap where a row should be).
async fn row_in_middle_of_pane(app: &App) -> Option<String> {
    app.eval(
        "const pane = document.querySelector('main'); const box = pane.getBoundingClientRect(); \
         const hit = document.elementFromPoint(box.left + box.width / 3, box.top + box.height / 2); \
         return hit?.closest('[role=row]')?.dataset.name ?? null",
    )
    .await
    .as_str()
    .map(str::to_string)
}

/// 1234 for `sscms/user1234`.
fn user_number(name: &str) -> u32 {
    name.trim_start_matches("sscms/user").parse().unwrap_or(0)
}

#[tokio::test]
async fn only_rows_on_screen_are_in_the_page() {
    let sandbox = Sandbox::new();
    let cli = sandbox.cli();
    for i in 1..=1000 {
        cli.run(
            &[
                "add",
                "sscms",
                "--user",
                &format!("user{i:04}"),
                "--endpoint",
                "http://127.0.0.1:9/",
                "--no-login",
            ],
            "",
        );
    }
    let app = App::launch_with(sandbox, &[]).await;
    app.by_id("account-sscms/user0001").await;

    // Screen readers hear of all 1,000; the page holds the rows on screen and a few more.
    let count = app
        .eval("return document.querySelector('[data-testid=account-list] [role=grid]').getAttribute('aria-rowcount')")
        .await;
    assert_eq!(count.as_str(), Some("1000"));
    let rows = rows_in_page(&app).await;
    assert!((5..=40).contains(&rows), "{rows} of 1,000 rows in the page");
    assert!(row_in_middle_of_pane(&app).await.is_some());

    // The keyboard reaches rows that were not in the page: End goes to the last row, scrolled
    // into view with the rows above it, Page Up a screen higher, Home and Down back at the top.
    app.eval("document.querySelector('[data-testid=\"account-sscms/user0001\"]').focus()")
        .await;
    app.press(END).await;
    assert_eq!(
        focused_row(&app).await,
        ("sscms/user1000".to_string(), "1000".to_string())
    );
    app.eventually("the last row on screen", Duration::from_secs(5), || async {
        app.eval(
            "const row = document.activeElement.getBoundingClientRect(); \
                 const pane = document.querySelector('main').getBoundingClientRect(); \
                 return row.top >= pane.top - 1 && row.bottom <= pane.bottom + 1",
        )
        .await
        .as_bool()
        .filter(|on_screen| *on_screen)
    })
    .await;
    let middle = row_in_middle_of_pane(&app).await.unwrap_or_default();
    assert!(
        user_number(&middle) >= 980,
        "the middle of the pane shows a row near the end, not {middle:?}"
    );
    assert!(
        rows_in_page(&app).await <= 41,
        "the page holds the rows on screen"
    );
    app.press(PAGE_UP).await;
    let (above, _) = focused_row(&app).await;
    assert!(
        (950..1000).contains(&user_number(&above)),
        "Page Up goes a screen higher, not to {above}"
    );
    let middle = row_in_middle_of_pane(&app).await.unwrap_or_default();
    assert!(
        user_number(&middle) >= 940,
        "the pane shows the rows there, not {middle:?}"
    );
    app.press(HOME).await;
    assert_eq!(
        focused_row(&app).await,
        ("sscms/user0001".to_string(), "1".to_string())
    );
    app.press(DOWN).await;
    assert_eq!(
        focused_row(&app).await,
        ("sscms/user0002".to_string(), "2".to_string())
    );
    assert!(
        rows_in_page(&app).await <= 41,
        "the page holds the rows on screen"
    );

    app.quit().await;
}
