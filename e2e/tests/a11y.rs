//! Accessibility of the real window: axe-core (the npm package ui/package-lock.json pins, read
//! from ui/node_modules, so nothing is downloaded) runs inside the app on every main screen, in
//! both languages and both themes, and must find no WCAG 2.1 A/AA violation.

use std::sync::OnceLock;
use std::time::Duration;

use lanyard_e2e::{App, Sandbox, Sim, repo_root};

const COMBINATIONS: [(&str, &str); 4] = [
    ("en", "light"),
    ("en", "dark"),
    ("zh-CN", "light"),
    ("zh-CN", "dark"),
];

/// axe-core's own script, as its npm package ships it.
fn axe_source() -> &'static str {
    static SOURCE: OnceLock<String> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = repo_root().join("ui/node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "read {}: {e}; install the UI's packages first (`make setup`)",
                path.display()
            )
        })
    })
}

/// Runs axe-core on the whole page as it is now and returns one line per WCAG 2.1 A/AA
/// violation (rule, impact, and the elements it found), each starting with `screen`.
async fn violations(app: &App, screen: &str) -> Vec<String> {
    // Judge the colours once they settled: no finite animation or transition (a dialog fading
    // in, a button's background after a theme change) still running; spinners run forever.
    app.eventually("the screen to settle", Duration::from_secs(10), || async {
        let settled = app
            .eval(
                "return document.getAnimations().every((a) => a.playState !== 'running' || \
                 a.effect?.getComputedTiming().iterations === Infinity)",
            )
            .await;
        (settled == true).then_some(())
    })
    .await;
    if app.eval("return typeof window.axe === 'object'").await != true {
        app.eval(&format!("{}\n;return typeof window.axe;", axe_source()))
            .await;
        assert_eq!(
            app.eval("return typeof window.axe").await,
            "object",
            "axe-core did not load into the window"
        );
    }
    app.eval(
        r#"
        window.__axeResult = null;
        axe.run(document, {
            runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
            resultTypes: ["violations"],
        }).then(
            (result) => {
                window.__axeResult = result.violations.map((v) =>
                    `${v.id} (${v.impact}): ${v.help} — ` +
                    v.nodes.slice(0, 6).map((n) =>
                        `[${n.target.join(" ")}] ${(n.failureSummary || "").replace(/\s+/g, " ")}`
                    ).join(" | ") +
                    (v.nodes.length > 6 ? ` | …and ${v.nodes.length - 6} more` : ""));
            },
            (error) => { window.__axeResult = ["axe-core failed: " + error]; },
        );
        "#,
    )
    .await;
    let found: Vec<String> = app
        .eventually("axe-core's result", Duration::from_secs(60), || async {
            let value = app.eval("return window.__axeResult").await;
            (!value.is_null()).then(|| serde_json::from_value(value).expect("a list of lines"))
        })
        .await;
    // The screen as judged, for people to look at: target/e2e-artifacts/a11y-<screen>.png.
    let slug: String = screen
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    app.screenshot(&format!("a11y-{slug}")).await;
    found
        .into_iter()
        .map(|v| format!("{screen}: {v}"))
        .collect()
}

/// Fails with every violation found, listed one a line, after saving the screens they were on.
fn assert_none(found: &[String]) {
    assert!(
        found.is_empty(),
        "axe-core found {} WCAG 2.1 A/AA violations:\n{}",
        found.len(),
        found.join("\n")
    );
}

async fn dialog_open(app: &App) {
    app.wait_for("dialog[open]").await;
}

#[tokio::test]
async fn axe_finds_no_violation_on_any_main_screen_in_both_languages_and_themes() {
    let sim = Sim::start();
    let sandbox = Sandbox::new();
    seed_accounts(&sandbox, &sim);
    let app = App::launch_with(sandbox, &[]).await;
    app.by_id("account-sscms/demo").await;

    let mut found = Vec::new();
    for (language, theme) in COMBINATIONS {
        app.set_appearance(language, theme).await;
        let screen = |name: &str| format!("{name} ({language}, {theme})");

        app.click("overview-item").await;
        app.by_id("account-shopxo/alice01").await;
        found.extend(violations(&app, &screen("account list")).await);

        app.click("service-sscms").await;
        app.by_id("account-sscms/alice").await;
        found.extend(violations(&app, &screen("one service's accounts")).await);

        app.click("account-sscms/demo").await;
        app.by_id("event-row").await;
        found.extend(violations(&app, &screen("details")).await);

        app.click("add-account").await;
        dialog_open(&app).await;
        found.extend(violations(&app, &screen("add account")).await);
        app.close_dialog().await;

        app.click("edit-sscms/demo").await;
        dialog_open(&app).await;
        found.extend(violations(&app, &screen("edit account")).await);
        app.close_dialog().await;

        app.click("remove-sscms/alice").await;
        dialog_open(&app).await;
        found.extend(violations(&app, &screen("confirm removal")).await);
        app.close_dialog().await;

        app.click("overview-item").await;
        app.click("login-shopxo/alice01").await;
        app.enter_password("secret123").await;
        app.captcha_image_loaded().await;
        found.extend(violations(&app, &screen("login with a captcha")).await);
        app.close_dialog().await;

        app.click("login-siyuan/bob").await;
        app.enter_password("hunter22").await;
        app.by_id("code-input").await;
        found.extend(violations(&app, &screen("login code step")).await);
        app.close_dialog().await;

        app.click("settings-open").await;
        app.wait_for("[data-testid=secret-store-health][data-ok]")
            .await;
        found.extend(violations(&app, &screen("settings")).await);
        app.close_dialog().await;
    }

    app.quit().await;
    assert_none(&found);
}

#[tokio::test]
async fn axe_finds_no_violation_on_the_passphrase_step_and_the_empty_window() {
    let app = App::launch_with(Sandbox::new(), &[("LANYARD_SECRET_STORE", "file")]).await;
    app.by_id("passphrase-dialog").await;
    let mut found = violations(&app, "passphrase").await;
    app.fill("passphrase-input", "e2e a11y passphrase").await;
    app.fill("passphrase-confirm", "e2e a11y passphrase").await;
    app.click("passphrase-submit").await;
    app.wait_gone("passphrase-dialog").await;

    for (language, theme) in COMBINATIONS {
        app.set_appearance(language, theme).await;
        app.click("overview-item").await;
        app.by_id("empty-state").await;
        found.extend(violations(&app, &format!("empty window ({language}, {theme})")).await);
        app.click("service-shopxo").await;
        app.by_id("empty-state").await;
        found.extend(violations(&app, &format!("empty service ({language}, {theme})")).await);
    }

    app.quit().await;
    assert_none(&found);
}

#[tokio::test]
async fn axe_finds_no_violation_in_a_list_of_200_accounts() {
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
    // All 200 are in the list (only the rows on screen are in the page).
    app.eventually("200 rows in the list", Duration::from_secs(10), || async {
        app.exists("[data-testid=account-list] [role=grid][aria-rowcount='200']")
            .await
            .then_some(())
    })
    .await;

    let mut found = Vec::new();
    for (language, theme) in COMBINATIONS {
        app.set_appearance(language, theme).await;
        app.click("overview-item").await;
        app.by_id("account-sscms/user001").await;
        found.extend(violations(&app, &format!("200 accounts ({language}, {theme})")).await);
    }

    app.quit().await;
    assert_none(&found);
}

#[tokio::test]
async fn axe_finds_no_violation_in_the_smallest_window_and_at_200_percent() {
    let sim = Sim::start();
    let sandbox = Sandbox::new();
    seed_accounts(&sandbox, &sim);
    let app = App::launch_with(sandbox, &[]).await;
    app.by_id("account-sscms/demo").await;
    app.set_window_size(760, 480).await;
    app.wait_for(".details-over").await;

    let mut found = Vec::new();
    for theme in ["light", "dark"] {
        app.set_appearance("en", theme).await;
        app.click("overview-item").await;
        found.extend(violations(&app, &format!("760x480 list ({theme})")).await);

        // The details over the list, opened with Enter on a row.
        app.eval("document.querySelector('[data-testid=\"account-sscms/demo\"]').focus()")
            .await;
        app.press("\u{e007}").await;
        app.by_id("details-panel").await;
        found.extend(violations(&app, &format!("760x480 details over the list ({theme})")).await);
        app.press("\u{e00c}").await;
        app.wait_gone("details-panel").await;

        // Ctrl + five times: 200 %.
        for _ in 0..5 {
            app.press("\u{e009}=\u{e000}").await;
        }
        found.extend(violations(&app, &format!("760x480 at 200 % ({theme})")).await);
        app.click("add-account").await;
        app.wait_for("dialog[open]").await;
        found.extend(violations(&app, &format!("760x480 add account at 200 % ({theme})")).await);
        app.close_dialog().await;
        app.press("\u{e009}0\u{e000}").await;
    }

    app.quit().await;
    assert_none(&found);
}

/// Accounts in several states: signed in on three services, two default for their service and
/// one not, and two waiting for a person (ShopXO asks for a captcha, bob's SiYuan for a code).
fn seed_accounts(sandbox: &Sandbox, sim: &Sim) {
    let cli = sandbox.cli();
    let (steedos, sscms, siyuan, shopxo) = (
        sim.endpoint("steedos"),
        sim.endpoint("sscms"),
        sim.endpoint("siyuan"),
        sim.endpoint("shopxo"),
    );
    cli.run(
        &[
            "add",
            "steedos",
            "--user",
            "alice@example.com",
            "--endpoint",
            &steedos,
            "--opt",
            "space_id=demo-space",
            "--password-stdin",
        ],
        "secret123\n",
    );
    for (user, password) in [("demo", "demo1234"), ("alice", "secret123")] {
        cli.add_logged_in("sscms", &sscms, user, password);
    }
    let captcha_endpoint = format!("captcha_endpoint={siyuan}");
    cli.run(
        &[
            "add",
            "siyuan",
            "--user",
            "bob",
            "--endpoint",
            &siyuan,
            "--opt",
            "api_token=lanyarddemotoken",
            "--opt",
            &captcha_endpoint,
            "--no-login",
        ],
        "",
    );
    cli.run(
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
}
