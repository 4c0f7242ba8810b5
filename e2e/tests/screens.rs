//! Every main screen in both languages and both themes, saved under target/e2e-artifacts/ as
//! `<screen>-<language>-<theme>.png` for people to look at.

use lanyard_e2e::{AccountForm, App, Sandbox, Sim};

const COMBINATIONS: [(&str, &str); 4] = [
    ("en", "light"),
    ("en", "dark"),
    ("zh-CN", "light"),
    ("zh-CN", "dark"),
];

#[tokio::test]
async fn every_main_screen_in_both_languages_and_both_themes() {
    let sim = Sim::start();
    let sandbox = Sandbox::new();
    seed_accounts(&sandbox, &sim);
    let app = App::launch_with(sandbox, &[]).await;
    app.by_id("account-sscms/demo").await;

    for (language, theme) in COMBINATIONS {
        app.set_appearance(language, theme).await;
        let shot = |screen: &str| format!("{screen}-{language}-{theme}");

        app.click("overview-item").await;
        app.by_id("account-shopxo/alice01").await;
        app.screenshot(&shot("accounts")).await;

        app.click("account-sscms/demo").await;
        app.by_id("event-row").await;
        app.screenshot(&shot("details")).await;

        let coolkit = sim.endpoint("coolkit");
        app.fill_add_form(
            &AccountForm::new("coolkit", "bob@example.com", &coolkit).option("region", "eu"),
        )
        .await;
        app.screenshot(&shot("add-form")).await;
        app.close_dialog().await;

        // ShopXO asks for a captcha at login (a fresh install's default).
        app.click("overview-item").await;
        app.click("login-shopxo/alice01").await;
        app.enter_password("secret123").await;
        app.captcha_image_loaded().await;
        app.screenshot(&shot("captcha-step")).await;
        app.close_dialog().await;

        // bob has an authenticator on his SiYuan account.
        app.click("login-siyuan/bob").await;
        app.enter_password("hunter22").await;
        app.by_id("code-input").await;
        app.screenshot(&shot("code-step")).await;
        app.close_dialog().await;

        app.click("settings-open").await;
        app.wait_for("[data-testid=secret-store-health][data-ok]")
            .await;
        app.screenshot(&shot("settings")).await;
        app.close_dialog().await;
    }

    app.quit().await;
}

/// Signed-in accounts on four services, and two that wait for a person (a captcha, a code).
fn seed_accounts(sandbox: &Sandbox, sim: &Sim) {
    let cli = sandbox.cli();
    let (steedos, sscms, coolkit, siyuan, shopxo) = (
        sim.endpoint("steedos"),
        sim.endpoint("sscms"),
        sim.endpoint("coolkit"),
        sim.endpoint("siyuan"),
        sim.endpoint("shopxo"),
    );
    let captcha_endpoint = format!("captcha_endpoint={siyuan}");
    let login = |args: &[&str], password: &str| {
        let mut all = vec!["add"];
        all.extend_from_slice(args);
        all.push("--password-stdin");
        cli.run(&all, &format!("{password}\n"));
    };
    login(
        &[
            "steedos",
            "--user",
            "alice@example.com",
            "--endpoint",
            &steedos,
            "--opt",
            "space_id=demo-space",
        ],
        "secret123",
    );
    login(
        &["sscms", "--user", "demo", "--endpoint", &sscms],
        "demo1234",
    );
    login(
        &["sscms", "--user", "alice", "--endpoint", &sscms],
        "secret123",
    );
    login(
        &[
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
            "--remember-password",
        ],
        "secret123",
    );
    let siyuan_opts = [
        "--opt",
        "api_token=lanyarddemotoken",
        "--opt",
        &captcha_endpoint,
    ];
    let mut alice = vec!["siyuan", "--user", "alice", "--endpoint", &siyuan];
    alice.extend_from_slice(&siyuan_opts);
    login(&alice, "secret123");
    let mut bob = vec![
        "add",
        "siyuan",
        "--user",
        "bob",
        "--endpoint",
        &siyuan,
        "--no-login",
    ];
    bob.extend_from_slice(&siyuan_opts);
    cli.run(&bob, "");
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
