//! What axe-core does not judge: controls' outlines at 3:1 in both themes, cut text that ends
//! in an ellipsis inside its own cell, names a screen reader can tell apart (and no "!" or "*"
//! read aloud), filter results announced, and the window zoomed to 200 % with Ctrl +.

use std::time::Duration;

use lanyard_e2e::{App, Sandbox, Sim};

/// WCAG's contrast ratio of two CSS colours as the page computed them, in the window.
const CONTRAST: &str = r#"
    const rgb = (css) => {
        const m = css.match(/rgba?\(([^)]+)\)/);
        const [r, g, b, a] = m[1].split(/[ ,\/]+/).filter(Boolean).map(Number);
        return { c: [r, g, b], a: a === undefined ? 1 : a };
    };
    const lum = ([r, g, b]) => {
        const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    /** The colour behind an element: the first ancestor with an opaque-enough background. */
    const behind = (element) => {
        for (let e = element.parentElement; e; e = e.parentElement) {
            const bg = rgb(getComputedStyle(e).backgroundColor);
            if (bg.a > 0.5) return bg.c;
        }
        return rgb(getComputedStyle(document.body).backgroundColor).c;
    };
    const ratio = (x, y) => { const [a, b] = [lum(x), lum(y)].sort((p, q) => q - p); return (a + 0.05) / (b + 0.05); };
"#;

/// The contrast of each named control against what is behind it, as `(what, ratio)`.
async fn control_contrasts(app: &App) -> Vec<(String, f64)> {
    let script = format!(
        r#"{CONTRAST}
        const out = [];
        const one = (what, selector, colourOf) => {{
            const e = document.querySelector(selector);
            if (!e) {{ out.push([what + " (missing)", 0]); return; }}
            out.push([what, ratio(rgb(colourOf(getComputedStyle(e))).c, behind(e))]);
        }};
        one("input border", "[data-testid=field-user]", (s) => s.borderTopColor);
        one("select border", "[data-testid=field-service]", (s) => s.borderTopColor);
        one("off switch", "[data-testid=field-remember-password]:not(:checked)", (s) => s.backgroundColor);
        for (const star of document.querySelectorAll("[data-testid^='use-']"))
            one("inactive star " + star.dataset.testid, "[data-testid='" + star.dataset.testid + "']", (s) => s.color);
        for (const mark of document.querySelectorAll("[data-testid=sidebar] [data-testid=service-mark]")) {{
            const s = getComputedStyle(mark);
            out.push(["letters on the " + mark.dataset.mark + " tile", ratio(rgb(s.color).c, rgb(s.backgroundColor).c)]);
        }}
        return out;
        "#
    );
    serde_json::from_value(app.eval(&script).await).expect("a list of contrasts")
}

#[tokio::test]
async fn controls_reach_3_to_1_and_text_on_tiles_4_5_to_1_in_both_themes() {
    let sim = Sim::start();
    let sandbox = Sandbox::new();
    let cli = sandbox.cli();
    let sscms = sim.endpoint("sscms");
    for (user, password) in [("demo", "demo1234"), ("alice", "secret123")] {
        cli.add_logged_in("sscms", &sscms, user, password);
    }
    let app = App::launch_with(sandbox, &[]).await;
    app.wait_for_state("sscms/alice", "valid").await;

    let mut failing = Vec::new();
    for theme in ["light", "dark"] {
        app.set_appearance("en", theme).await;
        app.click("overview-item").await;
        app.click("add-account").await;
        app.wait_for("dialog[open]").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let found = control_contrasts(&app).await;
        assert!(
            found
                .iter()
                .any(|(what, _)| what.starts_with("inactive star")),
            "an inactive star to measure: {found:?}"
        );
        for (what, ratio) in found {
            let needed = if what.starts_with("letters") {
                4.5
            } else {
                3.0
            };
            if ratio < needed {
                failing.push(format!("{theme}: {what} is {ratio:.2}:1, needs {needed}:1"));
            }
        }
        app.close_dialog().await;
    }
    app.quit().await;
    assert!(
        failing.is_empty(),
        "too little contrast:\n{}",
        failing.join("\n")
    );
}

#[tokio::test]
async fn cut_text_ends_in_an_ellipsis_inside_its_cell_and_names_tell_rows_apart() {
    let sim = Sim::start();
    let sandbox = Sandbox::new();
    let cli = sandbox.cli();
    let sscms = sim.endpoint("sscms");
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
    // CoolKit sessions carry a refresh token: its expiry is a second line under the first.
    let coolkit = sim.endpoint("coolkit");
    cli.run(
        &[
            "add",
            "coolkit",
            "--user",
            "alice@example.com",
            "--endpoint",
            &coolkit,
            "--opt",
            "appid=LanyardDemoAppId0000000000000001",
            "--opt",
            "appsecret=LanyardDemoAppSecret000000000001",
            "--opt",
            "region=us",
            "--password-stdin",
        ],
        "secret123\n",
    );
    let long_user = "alexandra.konstantinopoulou-vanderbilt.the.third@example-company.com";
    cli.run(
        &[
            "add",
            "sscms",
            "--user",
            long_user,
            "--name",
            "a-very-long-custom-account-name-that-does-not-fit-anywhere-at-all",
            "--endpoint",
            &sscms,
            "--no-login",
        ],
        "",
    );
    let app = App::launch_with(sandbox, &[]).await;
    app.wait_for_state("sscms/demo", "valid").await;

    // At every width and text size a row takes, no text runs out of its cell, and text that is
    // cut shows an ellipsis on the element that holds it.
    // Larger text as a person sets it (the root font size), from 100 % to 150 %.
    // With the details beside the list, whose cells are then at their narrowest.
    app.click("account-sscms/demo").await;
    for (width, text) in [
        (1280, 100),
        (1280, 122),
        (1280, 150),
        (1080, 100),
        (1080, 125),
        (1080, 150),
        (900, 100),
        (900, 125),
        (760, 100),
        (760, 150),
    ] {
        app.set_window_size(width, 700).await;
        app.eval(&format!(
            "document.documentElement.style.fontSize = '{}%'",
            87.5 * f64::from(text) / 100.0
        ))
        .await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        let problems = app
            .eval(
                r#"
                const out = [];
                for (const row of document.querySelectorAll("[data-testid=account-list] [role=row]")) {
                    const cells = [...row.querySelectorAll(":scope > [role=gridcell]")];
                    for (const cell of cells) {
                        const box = cell.getBoundingClientRect();
                        for (const e of cell.querySelectorAll("*")) {
                            if (!e.textContent.trim() || e.closest("button")) continue;
                            const r = e.getBoundingClientRect();
                            if (r.width > 0 && r.right > box.right + 1)
                                out.push(`${row.dataset.name}: "${e.textContent.trim()}" runs ${Math.round(r.right - box.right)} px out of its cell`);
                            const s = getComputedStyle(e);
                            const textChild = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
                            if (textChild && e.scrollWidth > e.clientWidth + 1 && s.overflowX !== "visible" &&
                                (s.textOverflow !== "ellipsis" || s.display.includes("flex")))
                                out.push(`${row.dataset.name}: "${e.textContent.trim()}" is cut without an ellipsis`);
                        }
                    }
                    for (let i = 0; i < cells.length; i++) for (let j = i + 1; j < cells.length; j++) {
                        const [a, b] = [cells[i].getBoundingClientRect(), cells[j].getBoundingClientRect()];
                        if (a.width && b.width && a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1)
                            out.push(`${row.dataset.name}: cells ${cells[i].className} and ${cells[j].className} overlap`);
                    }
                }
                return out;
                "#,
            )
            .await;
        let problems: Vec<String> = serde_json::from_value(problems).expect("a list");
        assert!(
            problems.is_empty(),
            "at {width} px wide with text at {text} %:\n{}",
            problems.join("\n")
        );
        app.screenshot(&format!("a11y-truncation-{width}-text{text}"))
            .await;
    }
    app.eval("document.documentElement.style.fontSize = ''")
        .await;
    app.set_window_size(1080, 700).await;
    // Closed while still over the list, the details would come back beside it once the window
    // has its new width (there they follow the selection): wait for that width first.
    app.eventually(
        "the details beside the list",
        Duration::from_secs(20),
        || async {
            let over = app
                .eval("return document.querySelector('.body.details-over') !== null")
                .await;
            (over == serde_json::json!(false)).then_some(())
        },
    )
    .await;
    app.click("details-close").await;
    app.wait_gone("details-panel").await;

    // Every button in the list has a name of its own ("Edit demo", not 2 × "Edit").
    let names = app
        .eval(
            r#"
            const nameOf = (e) => e.getAttribute("aria-labelledby")
                ? e.getAttribute("aria-labelledby").split(" ").map((id) => {
                      const r = document.getElementById(id);
                      return r ? (r.getAttribute("aria-label") || r.textContent).trim() : "";
                  }).join(" ")
                : (e.getAttribute("aria-label") || e.textContent).trim();
            return [...document.querySelectorAll("[data-testid=account-list] button")].map(nameOf);
            "#,
        )
        .await;
    let names: Vec<String> = serde_json::from_value(names).expect("a list");
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        names.len(),
        "buttons of different rows share a name: {names:?}"
    );
    assert!(
        names.iter().all(|n| !n.is_empty()),
        "a nameless button: {names:?}"
    );

    // The marks are seen, not read: "!" and "*" are hidden from screen readers, words stand in.
    let exposed = app
        .eval(
            r#"
            const shown = (e) => !e.closest("[aria-hidden=true]");
            return [...document.querySelectorAll("body *")]
                .filter((e) => [...e.childNodes].some((n) => n.nodeType === 3 && /^[!*]$/.test(n.textContent.trim())))
                .filter(shown).map((e) => e.outerHTML.slice(0, 120));
            "#,
        )
        .await;
    assert_eq!(exposed, serde_json::json!([]), "marks read aloud");

    // Filtering says how many accounts are left, where a screen reader hears it.
    app.fill("filter", "alexandra").await;
    let status = app.text_of("filter-status").await;
    assert!(
        status.contains('1'),
        "the filter's result is announced: {status:?}"
    );
    assert_eq!(
        app.attr_of("filter-status", "role").await.as_deref(),
        Some("status")
    );
    app.fill("filter", "nobody-has-this-name").await;
    let status = app.text_of("filter-status").await;
    assert!(
        status.contains("nobody-has-this-name"),
        "no match is announced too: {status:?}"
    );

    app.quit().await;
}

#[tokio::test]
async fn ctrl_plus_zooms_the_window_to_200_percent_and_everything_still_fits() {
    let sim = Sim::start();
    let sandbox = Sandbox::new();
    let cli = sandbox.cli();
    let shopxo = sim.endpoint("shopxo");
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
    let app = App::launch_with(sandbox, &[]).await;
    app.by_id("account-shopxo/alice01").await;
    let root_px = || async {
        app.eval("return parseFloat(getComputedStyle(document.documentElement).fontSize)")
            .await
            .as_f64()
            .expect("a font size")
    };
    let height_of = |id: &'static str| {
        let app = &app;
        async move {
            app.eval(&format!(
                "return document.querySelector('[data-testid={id}]').getBoundingClientRect().height"
            ))
            .await
            .as_f64()
            .expect("a height")
        }
    };
    let base = root_px().await;
    let filter_before = height_of("filter").await;

    app.click("login-shopxo/alice01").await;
    app.enter_password("secret123").await;
    app.captcha_image_loaded().await;
    let captcha_before = height_of("captcha-image").await;
    app.close_dialog().await;

    // Ctrl + five times: 110, 125, 150, 175, 200 %.
    app.by_id("account-shopxo/alice01").await;
    for _ in 0..5 {
        app.press("\u{e009}=\u{e000}").await;
    }
    app.eventually(
        "the window to zoom to 200 %",
        Duration::from_secs(5),
        || async { ((root_px().await - 2.0 * base).abs() < 0.5).then_some(()) },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    app.screenshot("a11y-zoom-200").await;

    let filter_after = height_of("filter").await;
    assert!(
        filter_after >= 1.8 * filter_before,
        "the filter box grows with the text: {filter_before} → {filter_after} px"
    );
    let fits = app
        .eval(
            "const d = document.documentElement; \
             return d.scrollWidth <= window.innerWidth && d.scrollHeight <= window.innerHeight",
        )
        .await;
    assert!(
        fits == true,
        "the zoomed window neither scrolls nor is cut off"
    );
    // The header's buttons are still there to use.
    let header_visible = app
        .eval(
            "const r = document.querySelector('[data-testid=settings-open]').getBoundingClientRect(); \
             return r.top >= 0 && r.right <= window.innerWidth && r.width > 0",
        )
        .await;
    assert!(
        header_visible == true,
        "the settings button is on screen at 200 %"
    );

    app.click("login-shopxo/alice01").await;
    app.enter_password("secret123").await;
    app.captcha_image_loaded().await;
    let captcha_after = height_of("captcha-image").await;
    app.screenshot("a11y-zoom-200-captcha").await;
    assert!(
        captcha_after >= 1.8 * captcha_before,
        "the captcha grows with the text: {captcha_before} → {captcha_after} px"
    );
    // Zoom keys work inside a dialog's text field too; Ctrl 0 goes back to 100 %.
    app.press("\u{e009}0\u{e000}").await;
    app.eventually("the zoom to reset", Duration::from_secs(5), || async {
        ((root_px().await - base).abs() < 0.5).then_some(())
    })
    .await;
    app.close_dialog().await;

    app.quit().await;
}

#[tokio::test]
async fn an_error_toast_stays_until_it_is_dismissed() {
    let sim = Sim::start();
    let sandbox = Sandbox::new();
    sandbox.cli().run(
        &[
            "add",
            "sscms",
            "--user",
            "demo",
            "--endpoint",
            &sim.endpoint("sscms"),
            "--password-stdin",
        ],
        "demo1234\n",
    );
    let app = App::launch_with(sandbox, &[]).await;
    app.wait_for_state("sscms/demo", "valid").await;

    // The server goes away: refreshing now fails, and says so.
    drop(sim);
    app.click("refresh-sscms/demo").await;
    app.by_id("toast-dismiss").await;
    let error = app.text_of("toast").await;
    // Longer than any toast used to stay (8 s): an error waits for the person.
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(
        app.has("toast-dismiss").await,
        "the error {error:?} went away by itself"
    );
    app.click("toast-dismiss").await;
    app.wait_gone("toast-dismiss").await;

    app.quit().await;
}
