//! The window says what really happened (issue 16): logging out and removing say whether the
//! server ended the session or it was only forgotten here (ShopXO has no logout call); "refresh
//! now" is offered only for a held session and names what it did; the add form proposes a free
//! name and the addresses used before; errors are said once and a password survives a network
//! error; the window does not scroll; the five services have marks a person tells apart.

use std::time::Duration;

use lanyard_e2e::{AccountForm, App, Sandbox, Sim};
use lanyard_sim::control::ShopxoConfigPatch;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(15);

/// Waits for a toast whose text contains `words`; returns all toast texts then.
async fn toast_saying(app: &App, words: &str) -> Vec<String> {
    app.eventually(&format!("a toast saying {words:?}"), WAIT, || async {
        let texts = toast_texts(app).await;
        texts.iter().any(|t| t.contains(words)).then_some(texts)
    })
    .await
}

async fn toast_texts(app: &App) -> Vec<String> {
    let found = app
        .eval(
            "return [...document.querySelectorAll('[data-testid=toast]')].map(t => t.textContent.trim())",
        )
        .await;
    serde_json::from_value(found).unwrap_or_default()
}

/// Clicks a row button once it takes clicks: right after a refresh the row is briefly busy
/// and redrawn (WebKitWebDriver then refuses the click).
async fn click_when_ready(app: &App, id: &str) {
    app.eventually(&format!("{id} to take a click"), WAIT, || async {
        let button = app.reveal(id).await;
        if button.attr("disabled").await.ok().flatten().is_some() {
            return None;
        }
        button.click().await.ok()
    })
    .await;
}

/// The (kind, outcome, text) of every row of the open details panel's event log.
async fn event_rows(app: &App) -> Vec<(String, String, String)> {
    let rows = app
        .eval(
            "return [...document.querySelectorAll('[data-testid=event-row]')]
               .map(r => [r.dataset.kind, r.dataset.outcome, r.textContent.trim()])",
        )
        .await;
    serde_json::from_value(rows).unwrap_or_default()
}

/// The text of an element by test id, as the page has it now.
async fn value_of(app: &App, id: &str) -> String {
    app.by_id(id)
        .await
        .prop("value")
        .await
        .expect("read a value")
        .unwrap_or_default()
}

/// Signed in by the CLI: a ShopXO account (no logout call) and two SiteServer CMS accounts
/// (which have one), plus one that never signed in.
async fn seed(sandbox: &Sandbox, sim: &Sim) {
    sim.control("shopxo")
        .configure(&ShopxoConfigPatch {
            login_captcha: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    let cli = sandbox.cli();
    let (shopxo, sscms) = (sim.endpoint("shopxo"), sim.endpoint("sscms"));
    for (args, password) in [
        (
            vec!["add", "shopxo", "--user", "alice01", "--endpoint", &shopxo],
            "secret123",
        ),
        (
            vec!["add", "sscms", "--user", "demo", "--endpoint", &sscms],
            "demo1234",
        ),
        (
            vec!["add", "sscms", "--user", "alice", "--endpoint", &sscms],
            "secret123",
        ),
    ] {
        let mut all = args.clone();
        all.push("--password-stdin");
        cli.run(&all, &format!("{password}\n"));
    }
    cli.run(
        &[
            "add",
            "sscms",
            "--user",
            "nobody",
            "--endpoint",
            &sscms,
            "--no-login",
        ],
        "",
    );
}

#[tokio::test]
async fn log_out_remove_and_refresh_say_what_was_done_per_service() {
    let sim = Sim::start();
    let sandbox = Sandbox::new();
    seed(&sandbox, &sim).await;
    let app = App::launch_with(sandbox, &[]).await;
    app.wait_for_state("shopxo/alice01", "valid").await;

    // Refresh is offered only for a held session.
    assert!(
        app.attr_of("refresh-sscms/nobody", "disabled")
            .await
            .is_some(),
        "a signed-out account offers no refresh"
    );
    assert!(
        app.attr_of("refresh-shopxo/alice01", "disabled")
            .await
            .is_none()
    );
    // ShopXO can only check its token: the one toast says so, not "renewed".
    app.click("refresh-shopxo/alice01").await;
    let toasts = toast_saying(&app, "session checked").await;
    assert_eq!(toasts.len(), 1, "one toast: {toasts:?}");
    assert!(!toasts[0].contains("renewed"), "{toasts:?}");

    // The buttons say beforehand what a logout will do.
    assert_eq!(
        app.attr_of("logout-shopxo/alice01", "aria-label")
            .await
            .as_deref(),
        Some("Forget session")
    );
    assert_eq!(
        app.attr_of("logout-sscms/demo", "aria-label")
            .await
            .as_deref(),
        Some("Log out")
    );

    // ShopXO: forgotten here only, and the token stays valid on the server.
    click_when_ready(&app, "logout-shopxo/alice01").await;
    toast_saying(&app, "forgotten here only").await;
    app.screenshot("logout-forgotten-here-en-light").await;
    app.wait_for_state("shopxo/alice01", "signed_out").await;
    app.click("account-shopxo/alice01").await;
    app.wait_for("[data-testid=event-row][data-kind=logout]")
        .await;
    let rows = event_rows(&app).await;
    let logout = rows
        .iter()
        .find(|(kind, _, _)| kind == "logout")
        .expect("a logout row");
    assert_eq!(logout.1, "forgotten_here", "{rows:?}");
    assert!(logout.2.contains("stays valid on the server"), "{rows:?}");
    app.screenshot("details-forgotten-here-en-light").await;

    // SiteServer CMS: the server ended it.
    app.click("logout-sscms/demo").await;
    toast_saying(&app, "the server ended the session").await;
    app.click("account-sscms/demo").await;
    app.wait_for("[data-testid=event-row][data-kind=logout][data-outcome=ended_on_server]")
        .await;

    // Remove says beforehand and afterwards that the server ends a live session.
    app.click("remove-sscms/alice").await;
    let dialog = app.text("[data-testid=confirm-dialog]").await;
    assert!(dialog.contains("ended on the server first"), "{dialog}");
    app.screenshot("remove-confirm-en-light").await;
    app.click("confirm-remove").await;
    toast_saying(&app, "the server ended its session").await;
    app.wait_gone("account-sscms/alice").await;

    // In Chinese the log says it too.
    app.set_appearance("zh-CN", "dark").await;
    app.click("account-shopxo/alice01").await;
    app.wait_for("[data-testid=event-row][data-kind=logout]")
        .await;
    let rows = event_rows(&app).await;
    let logout = rows
        .iter()
        .find(|(kind, _, _)| kind == "logout")
        .expect("a logout row");
    assert!(
        logout.2.contains("仅在本机忘记"),
        "the zh-CN log line says forgotten here only: {rows:?}"
    );
    // The CLI's login, written by core as a code and parameters, reads in Chinese too.
    let login = rows
        .iter()
        .find(|(kind, outcome, _)| kind == "login" && outcome == "ok")
        .expect("a login row");
    assert!(
        login.2.contains("身份登录") && !login.2.contains("ogged in"),
        "the zh-CN login line is Chinese: {rows:?}"
    );
    // For people to look at: the log line in both languages and themes.
    for (language, theme) in COMBINATIONS {
        app.set_appearance(language, theme).await;
        app.click("account-shopxo/alice01").await;
        app.wait_for("[data-testid=event-row][data-kind=logout]")
            .await;
        app.screenshot(&format!("details-forgotten-here-{language}-{theme}"))
            .await;
    }
    assert!(
        app.page_errors().await.is_empty(),
        "{:?}",
        app.page_errors().await
    );
    app.quit().await;
}

const COMBINATIONS: [(&str, &str); 4] = [
    ("en", "light"),
    ("en", "dark"),
    ("zh-CN", "light"),
    ("zh-CN", "dark"),
];

#[tokio::test]
async fn the_add_form_proposes_a_free_name_and_known_addresses_and_errors_are_said_once() {
    let sim = Sim::start();
    let sandbox = Sandbox::new();
    let shopxo = sim.endpoint("shopxo");
    sandbox.cli().run(
        &[
            "add",
            "shopxo",
            "--user",
            "alice01",
            "--endpoint",
            &shopxo,
            "--no-login",
        ],
        "",
    );
    let app = App::launch_with(sandbox, &[]).await;
    app.by_id("account-shopxo/alice01").await;

    // The same user on a second server (the same simulator by another name), typed without
    // a scheme.
    let port = shopxo.rsplit(':').next().expect("a port");
    let second = format!("localhost:{port}");
    app.fill_add_form(&AccountForm::new("shopxo", "alice01", &second))
        .await;
    // (While the address is half typed the proposal follows it; the last one counts.)
    app.eventually("a free name proposed", WAIT, || async {
        let placeholder = app.attr_of("field-name", "placeholder").await?;
        (placeholder == "shopxo/alice01@localhost").then_some(())
    })
    .await;
    let note = app.text_of("endpoint-note").await;
    assert!(
        note.contains(&format!("http://localhost:{port}")),
        "the address as it will be stored: {note}"
    );
    assert_eq!(app.text_of("known-endpoint").await, shopxo);
    app.screenshot("add-form-proposals-en-light").await;
    // For people to look at: the proposals in both languages and themes.
    app.close_dialog().await;
    for (language, theme) in COMBINATIONS {
        app.set_appearance(language, theme).await;
        app.fill_add_form(&AccountForm::new("shopxo", "alice01", &second))
            .await;
        app.eventually("the proposals", WAIT, || async {
            let placeholder = app.attr_of("field-name", "placeholder").await?;
            (placeholder == "shopxo/alice01@localhost").then_some(())
        })
        .await;
        app.screenshot(&format!("add-form-proposals-{language}-{theme}"))
            .await;
        app.close_dialog().await;
    }
    app.set_appearance("en", "light").await;
    app.fill_add_form(&AccountForm::new("shopxo", "alice01", &second))
        .await;

    // A taken name: said once, next to the field, in view.
    app.fill("field-name", "shopxo/alice01").await;
    app.click("submit-account").await;
    app.eventually("the name error", WAIT, || async {
        (app.attr_of("name-note", "class").await.as_deref() == Some("error")).then_some(())
    })
    .await;
    let said = app.text_of("name-note").await;
    assert!(said.contains("already has this name"), "{said}");
    assert!(!app.has("form-error").await, "said once, at the field");
    let in_view = app
        .eval(
            "const note = document.querySelector('[data-testid=name-note]').getBoundingClientRect();
             const scroll = note && document.querySelector('dialog[open] .dialog-scroll').getBoundingClientRect();
             return note.top >= scroll.top && note.bottom <= scroll.bottom;",
        )
        .await;
    assert_eq!(
        in_view,
        Value::Bool(true),
        "the error is visible without scrolling"
    );
    app.screenshot("add-form-name-taken-en-light").await;

    // Empty again: the proposal is what is used.
    let name = app.reveal("field-name").await;
    name.click().await.expect("focus the name");
    name.send_keys("\u{e009}a\u{e009}\u{e003}")
        .await
        .expect("empty the name");
    app.click("submit-account").await;
    app.by_id("login-dialog").await;
    app.by_id("account-shopxo/alice01@localhost").await;

    // A password login needs no "Verify" step until the service asks for one.
    assert!(
        !app.has("login-steps").await,
        "no Verify step before a captcha"
    );
    app.enter_password("secret123").await;
    app.captcha_image_loaded().await;
    assert!(
        app.has("login-steps").await,
        "the captcha is the second step"
    );
    let first = app.attr_of("captcha-image", "src").await;
    app.click("captcha-reload").await;
    app.eventually("a new captcha image", WAIT, || async {
        (app.attr_of("captcha-image", "src").await != first).then_some(())
    })
    .await;
    app.close_dialog().await;
    // One captcha step, one "asked for verification", however many images.
    app.click("account-shopxo/alice01@localhost").await;
    app.wait_for("[data-testid=event-row][data-outcome=challenge]")
        .await;
    let asked = event_rows(&app)
        .await
        .into_iter()
        .filter(|(_, outcome, _)| outcome == "challenge")
        .count();
    assert_eq!(asked, 1);

    // A wrong password: the server's words once, and the field is cleared.
    sim.control("shopxo")
        .configure(&ShopxoConfigPatch {
            login_captcha: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    app.click("login-shopxo/alice01@localhost").await;
    app.enter_password("wrong-password").await;
    let error = app.text("[data-testid=login-error]").await;
    assert_eq!(
        app.attr_of("login-error", "data-code").await.as_deref(),
        Some("credentials_rejected")
    );
    assert_repeats_nothing(&error);
    assert_eq!(value_of(&app, "login-password").await, "");
    app.screenshot("login-rejected-en-light").await;
    app.close_dialog().await;

    // Nothing listens there: a network error keeps the password.
    let sscms_closed = "127.0.0.1:9";
    app.add_account(&AccountForm::new("sscms", "carol", sscms_closed))
        .await;
    app.enter_password("kept-password-1").await;
    app.wait_for("[data-testid=login-error][data-code=network]")
        .await;
    let error = app.text("[data-testid=login-error]").await;
    assert_repeats_nothing(&error);
    assert_eq!(value_of(&app, "login-password").await, "kept-password-1");
    app.screenshot("login-network-error-en-light").await;
    app.close_dialog().await;
    assert!(
        app.page_errors().await.is_empty(),
        "{:?}",
        app.page_errors().await
    );
    app.quit().await;
}

/// No sentence of an error box appears twice.
fn assert_repeats_nothing(text: &str) {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    for (i, line) in lines.iter().enumerate() {
        for other in &lines[i + 1..] {
            assert!(
                !other.contains(line) && !line.contains(other),
                "said twice: {line:?} / {other:?} in {text:?}"
            );
        }
    }
}

#[tokio::test]
async fn the_window_does_not_scroll_and_the_five_marks_differ_in_both_themes() {
    let app = App::launch().await;
    for theme in ["light", "dark"] {
        app.set_appearance("en", theme).await;
        let marks = app
            .eval(
                "return [...document.querySelectorAll('[data-testid=service-item] [data-testid=service-mark]')]
                   .map(m => [m.dataset.mark, getComputedStyle(m).backgroundColor, getComputedStyle(m).color])",
            )
            .await;
        let marks: Vec<(String, String, String)> = serde_json::from_value(marks).expect("marks");
        assert_eq!(marks.len(), 5, "{marks:?}");
        for (i, (mark, background, letters)) in marks.iter().enumerate() {
            for (other, other_background, _) in &marks[i + 1..] {
                assert_ne!(mark, other, "two services share a mark: {marks:?}");
                assert_ne!(
                    background, other_background,
                    "two tiles share a colour: {marks:?}"
                );
            }
            let ratio = contrast(&rgb(letters), &rgb(background));
            assert!(
                ratio >= 4.5,
                "{mark}: letters {letters} on {background} are {ratio:.2}:1"
            );
        }
        app.screenshot(&format!("service-marks-en-{theme}")).await;

        // The page is exactly the window: nothing to scroll, whatever the wheel does.
        let sizes = app
            .eval(
                "window.scrollBy(0, 200);
                 return [document.documentElement.scrollHeight, window.innerHeight, window.scrollY];",
            )
            .await;
        let sizes: (f64, f64, f64) = serde_json::from_value(sizes).expect("sizes");
        assert_eq!(sizes.0, sizes.1, "document height = window height");
        assert_eq!(sizes.2, 0.0, "the window does not scroll");
    }
    app.quit().await;
}

fn rgb(css: &str) -> [f64; 3] {
    let numbers: Vec<f64> = css
        .trim_start_matches("rgba(")
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split([',', ' ', '/'])
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().expect("a colour channel"))
        .collect();
    [numbers[0], numbers[1], numbers[2]]
}

fn contrast(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    let luminance = |c: &[f64; 3]| {
        let linear = |v: f64| {
            let v = v / 255.0;
            if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(c[0]) + 0.7152 * linear(c[1]) + 0.0722 * linear(c[2])
    };
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}
