//! The window with the keyboard alone: the account list is one Tab stop with arrow keys inside
//! it, the focus stays on the row through every row action, dialogs keep the focus and give it
//! back, and at the smallest window the details cover the list only when asked to.

use std::time::Duration;

use lanyard_e2e::{App, Sandbox, Sim, tid};

const TAB: &str = "\u{e004}";
const ENTER: &str = "\u{e007}";
const ESCAPE: &str = "\u{e00c}";
const LEFT: &str = "\u{e012}";
const RIGHT: &str = "\u{e014}";
const DOWN: &str = "\u{e015}";
const DELETE: &str = "\u{e017}";
const F2: &str = "\u{e032}";

/// Gives the element the focus, as if the person had arrived there.
async fn focus(app: &App, id: &str) {
    app.by_id(id).await;
    app.eval(&format!(
        "document.querySelector({}).focus()",
        serde_json::to_string(&tid(id)).expect("a selector")
    ))
    .await;
}

/// The account whose row holds the focus (the row or one of its buttons); otherwise what
/// holds it, prefixed `outside:`.
async fn focused_row(app: &App) -> String {
    let row = app
        .eval("return document.activeElement?.closest('[data-name]')?.dataset.name ?? null")
        .await;
    match row.as_str() {
        Some(name) => name.to_string(),
        None => format!("outside: {}", app.focused().await),
    }
}

/// Waits for a row action to finish (its toast, a state change…) before judging the focus.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(800)).await;
}

/// How many elements in the account list a Tab press can land on.
async fn tab_stops_in_list(app: &App) -> u64 {
    app.eval(
        "return [...document.querySelectorAll('[data-testid=account-list] *')].filter((e) => \
           e.tabIndex >= 0 && !e.disabled && !e.closest('[inert]') && \
           (e.matches('button, input, select, textarea, a[href]') || e.hasAttribute('tabindex'))).length",
    )
    .await
    .as_u64()
    .expect("a count")
}

#[tokio::test]
async fn the_list_of_200_accounts_is_one_tab_stop_with_arrow_keys_inside() {
    let sandbox = Sandbox::new();
    let cli = sandbox.cli();
    for i in 1..=200 {
        cli.run(
            &[
                "add",
                "sscms",
                "--user",
                &format!("user{i:03}"),
                "--endpoint",
                "http://127.0.0.1:9/",
                "--no-login",
            ],
            "",
        );
    }
    let app = App::launch_with(sandbox, &[]).await;
    app.by_id("account-sscms/user001").await;
    // The page holds the rows on screen only; the grid tells screen readers there are 200.
    assert_eq!(
        app.eval(
            "return document.querySelector('[data-testid=account-list] [role=grid]').getAttribute('aria-rowcount')"
        )
        .await
        .as_str(),
        Some("200")
    );
    let in_page = app
        .texts("[data-testid=account-list] [role=row]")
        .await
        .len();
    assert!(
        (1..200).contains(&in_page),
        "{in_page} of 200 rows in the page"
    );
    assert_eq!(
        tab_stops_in_list(&app).await,
        1,
        "the list of 200 accounts is one Tab stop"
    );

    // Tab from the filter lands on the first row, the next Tab leaves the list.
    focus(&app, "filter").await;
    app.press(TAB).await;
    assert_eq!(focused_row(&app).await, "sscms/user001");
    app.press(TAB).await;
    assert!(
        focused_row(&app).await.starts_with("outside:"),
        "a second Tab leaves the list, it does not walk through the row's buttons"
    );

    // Down moves to the next row; Right walks its buttons, Left walks back to the row.
    focus(&app, "account-sscms/user001").await;
    app.press(DOWN).await;
    assert_eq!(app.focused().await, "account-sscms/user002");
    app.press(RIGHT).await;
    let first = app.focused().await;
    assert!(
        first != "account-sscms/user002" && focused_row(&app).await == "sscms/user002",
        "Right goes to one of the row's buttons, not {first}"
    );
    app.press(RIGHT).await;
    let second = app.focused().await;
    assert_ne!(second, first, "Right again goes on to the next button");
    assert_eq!(focused_row(&app).await, "sscms/user002");
    app.press(LEFT).await;
    assert_eq!(app.focused().await, first);
    app.press(LEFT).await;
    assert_eq!(app.focused().await, "account-sscms/user002");
    // Still one stop: the row that has the focus now.
    assert_eq!(tab_stops_in_list(&app).await, 1);

    app.quit().await;
}

#[tokio::test]
async fn the_focus_stays_on_the_row_through_every_row_action() {
    let sim = Sim::start();
    let sandbox = Sandbox::new();
    let cli = sandbox.cli();
    let sscms = sim.endpoint("sscms");
    for (user, password) in [("demo", "demo1234"), ("alice", "secret123")] {
        cli.add_logged_in("sscms", &sscms, user, password);
    }
    // A third account that waits for a login: a neighbour of another kind.
    cli.run(
        &[
            "add",
            "sscms",
            "--user",
            "zed",
            "--endpoint",
            &sscms,
            "--no-login",
        ],
        "",
    );
    let app = App::launch_with(sandbox, &[]).await;
    app.wait_for_state("sscms/alice", "valid").await;
    // The first account added is the service's active one; alice has the star button.
    assert!(app.has("use-sscms/alice").await);

    focus(&app, "copy-sscms/demo").await;
    app.press(ENTER).await;
    settle().await;
    assert_eq!(focused_row(&app).await, "sscms/demo", "after Copy");

    focus(&app, "refresh-sscms/demo").await;
    app.press(ENTER).await;
    settle().await;
    assert_eq!(focused_row(&app).await, "sscms/demo", "after Refresh");

    focus(&app, "use-sscms/alice").await;
    app.press(ENTER).await;
    app.by_id("active-sscms/alice").await;
    settle().await;
    assert_eq!(
        focused_row(&app).await,
        "sscms/alice",
        "after making it active (the star button is replaced)"
    );

    focus(&app, "logout-sscms/alice").await;
    app.press(ENTER).await;
    app.wait_for("[data-testid=\"copy-sscms/alice\"]:disabled")
        .await;
    settle().await;
    assert_eq!(
        focused_row(&app).await,
        "sscms/alice",
        "after Log out (its button is disabled)"
    );

    // Enter opens the details and moves the focus into them; Escape closes them onto the row.
    focus(&app, "account-sscms/demo").await;
    app.press(ENTER).await;
    app.by_id("details-panel").await;
    settle().await;
    assert!(
        app.eval("return document.querySelector('[data-testid=details-panel]').contains(document.activeElement)")
            .await
            == true,
        "Enter moves the focus into the details, not {}",
        app.focused().await
    );
    app.press(ESCAPE).await;
    settle().await;
    assert_eq!(
        app.focused().await,
        "account-sscms/demo",
        "Escape in the details gives the focus back to the row"
    );

    // F2 opens the edit dialog on its first field; Tab stays inside; Escape returns to the row.
    app.press(F2).await;
    app.wait_for("dialog[open]").await;
    settle().await;
    let first_field = app.focused().await;
    assert!(
        first_field.starts_with("field-"),
        "the dialog opens on its first field, not {first_field}"
    );
    for _ in 0..25 {
        app.press(TAB).await;
        assert!(
            app.eval(
                "return document.querySelector('dialog[open]').contains(document.activeElement)"
            )
            .await
                == true,
            "Tab left the open dialog for {}",
            app.focused().await
        );
    }
    app.press(ESCAPE).await;
    app.wait_gone("account-dialog").await;
    settle().await;
    assert_eq!(
        app.focused().await,
        "account-sscms/demo",
        "after the dialog closed"
    );

    // Remove: the row goes, its neighbour takes the focus.
    focus(&app, "account-sscms/demo").await;
    app.press(DELETE).await;
    app.by_id("confirm-dialog").await;
    app.click("confirm-remove").await;
    app.wait_gone("account-sscms/demo").await;
    settle().await;
    let after = focused_row(&app).await;
    assert!(
        after == "sscms/alice" || after == "sscms/zed",
        "after Remove the focus moves to a neighbouring row, not {after}"
    );

    app.quit().await;
}

#[tokio::test]
async fn at_760_by_480_the_details_cover_the_list_only_when_asked_and_nothing_is_cut_off() {
    let sim = Sim::start();
    let sandbox = Sandbox::new();
    let cli = sandbox.cli();
    let sscms = sim.endpoint("sscms");
    for (user, password) in [("demo", "demo1234"), ("alice", "secret123")] {
        cli.add_logged_in("sscms", &sscms, user, password);
    }
    let app = App::launch_with(sandbox, &[]).await;
    app.set_window_size(760, 480).await;
    app.eventually(
        "the page to be 760 px wide",
        Duration::from_secs(10),
        || async { (app.eval("return window.innerWidth").await.as_u64()? <= 760).then_some(()) },
    )
    .await;
    app.wait_for_state("sscms/demo", "valid").await;
    // The layout followed: the details now cover the list instead of standing beside it.
    app.wait_for(".details-over").await;

    // The page itself never scrolls: everything fits, panels scroll inside.
    let (scroll, inner) = (
        app.eval("return document.documentElement.scrollHeight")
            .await,
        app.eval("return window.innerHeight").await,
    );
    assert!(
        scroll.as_u64() <= inner.as_u64(),
        "the page is {scroll} px high in a {inner} px window"
    );

    // Reaching a row with the keyboard does not open the details over it.
    focus(&app, "filter").await;
    app.press(TAB).await;
    assert_eq!(focused_row(&app).await, "sscms/alice");
    settle().await;
    assert!(
        !app.has("details-panel").await,
        "Tab to a row does not open the details over the list"
    );
    app.press(DOWN).await;
    settle().await;
    assert_eq!(app.focused().await, "account-sscms/demo");
    assert!(
        !app.has("details-panel").await,
        "the details open over the list only when asked"
    );
    app.screenshot("a11y-760x480-list").await;

    // Enter opens them and moves the focus in; Tab cannot reach the buttons under them.
    app.press(ENTER).await;
    app.by_id("details-panel").await;
    settle().await;
    app.screenshot("a11y-760x480-details").await;
    for _ in 0..20 {
        app.press(TAB).await;
        let inside = app
            .eval("return document.querySelector('[data-testid=details-panel]').contains(document.activeElement) || !document.querySelector('main').contains(document.activeElement)")
            .await;
        assert!(
            inside == true,
            "Tab reached {} under the details",
            app.focused().await
        );
    }
    app.press(ESCAPE).await;
    app.wait_gone("details-panel").await;
    settle().await;
    assert_eq!(
        app.focused().await,
        "account-sscms/demo",
        "Escape goes back to the row"
    );

    // A dialog fits the window and scrolls inside; its buttons stay on screen.
    app.click("add-account").await;
    app.wait_for("dialog[open]").await;
    settle().await;
    app.screenshot("a11y-760x480-add").await;
    let fits = app
        .eval(
            "const d = document.querySelector('dialog[open]').getBoundingClientRect(); \
             const submit = document.querySelector('[data-testid=submit-account]').getBoundingClientRect(); \
             return d.top >= 0 && d.bottom <= window.innerHeight && submit.bottom <= d.bottom && submit.top >= d.top",
        )
        .await;
    assert!(
        fits == true,
        "the add dialog and its submit button fit in 760x480"
    );
    let scrolls = app
        .eval(
            "const s = document.querySelector('dialog[open] .dialog-scroll'); \
             return getComputedStyle(s).overflowY === 'auto' && s.scrollHeight > s.clientHeight",
        )
        .await;
    assert!(
        scrolls == true,
        "the add form scrolls inside the dialog at 760x480"
    );
    app.close_dialog().await;

    // So do the settings, the longest dialog.
    app.click("settings-open").await;
    app.wait_for("dialog[open]").await;
    settle().await;
    app.screenshot("a11y-760x480-settings").await;
    let fits = app
        .eval(
            "const d = document.querySelector('dialog[open]').getBoundingClientRect(); \
             const last = [...document.querySelectorAll('dialog[open] button, dialog[open] select, dialog[open] input')].pop(); \
             last.scrollIntoView({block: 'nearest'}); \
             const r = last.getBoundingClientRect(); \
             return d.top >= 0 && d.bottom <= window.innerHeight && r.bottom <= d.bottom && r.top >= d.top",
        )
        .await;
    assert!(
        fits == true,
        "the settings dialog fits in 760x480 and its last control scrolls into it"
    );
    app.close_dialog().await;

    app.quit().await;
}
