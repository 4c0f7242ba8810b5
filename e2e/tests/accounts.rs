//! Accounts of all five services against lanyard-sim, through the window: signing in (a
//! captcha, a wrong captcha, an authenticator code), the active account, copying tokens to the
//! X clipboard, logging out and removing.

use std::time::Duration;

use lanyard_e2e::{AccountForm, App, Sim, clipboard_targets, clipboard_text};
use lanyard_sim::control::SiyuanConfigPatch;

const COOLKIT_APPID: &str = "LanyardDemoAppId0000000000000001";
const COOLKIT_APPSECRET: &str = "LanyardDemoAppSecret000000000001";

#[tokio::test]
async fn accounts_of_all_five_services_sign_in_switch_copy_log_out_and_go() {
    let sim = Sim::start();
    // SiYuan asks for a captcha before bob's authenticator code; ShopXO asks for one too, as a
    // fresh install does.
    sim.control("siyuan")
        .configure(&SiyuanConfigPatch {
            captcha: Some(true),
            ..Default::default()
        })
        .await
        .unwrap();
    let app = App::launch().await;
    let cli = app.sandbox().cli();

    // Steedos: a password is all it takes.
    let steedos = sim.endpoint("steedos");
    app.add_account(
        &AccountForm::new("steedos", "alice@example.com", &steedos)
            .option("space_id", "demo-space")
            .remember_password(),
    )
    .await;
    app.screenshot("login-password-step").await;
    app.enter_password("secret123").await;
    app.wait_signed_in("steedos/alice@example.com").await;

    // SiteServer CMS: two people at one endpoint; the first one added is the active one.
    let sscms = sim.endpoint("sscms");
    app.add_account(&AccountForm::new("sscms", "demo", &sscms))
        .await;
    app.enter_password("demo1234").await;
    app.wait_signed_in("sscms/demo").await;
    app.add_account(&AccountForm::new("sscms", "alice", &sscms))
        .await;
    app.enter_password("secret123").await;
    app.wait_signed_in("sscms/alice").await;
    assert!(app.is_active("sscms/demo").await);
    assert!(!app.is_active("sscms/alice").await);

    // CoolKit: a region template as the endpoint, the app's id and secret as options.
    let coolkit = sim.endpoint("coolkit");
    app.add_account(
        &AccountForm::new("coolkit", "alice@example.com", &coolkit)
            .option("appid", COOLKIT_APPID)
            .option("appsecret", COOLKIT_APPSECRET)
            .option("region", "us"),
    )
    .await;
    app.enter_password("secret123").await;
    app.wait_signed_in("coolkit/alice@example.com").await;

    // SiYuan: the password, then a captcha, then the authenticator code.
    let siyuan = sim.endpoint("siyuan");
    let captcha_endpoint = siyuan.clone();
    app.add_account(
        &AccountForm::new("siyuan", "bob", &siyuan)
            .option("api_token", "lanyarddemotoken")
            .option("captcha_endpoint", &captcha_endpoint),
    )
    .await;
    app.enter_password("hunter22").await;
    let image = app
        .attr_of("captcha-image", "src")
        .await
        .unwrap_or_default();
    assert!(
        image.starts_with("data:image/"),
        "the captcha arrives as a data: URL"
    );
    app.answer_captcha(&sim.captcha_answer("siyuan").await)
        .await;
    app.by_id("code-input").await;
    assert!(!app.text_of("code-destination").await.is_empty());
    app.enter_code(&sim.last_code("siyuan", "bob").await).await;
    app.wait_signed_in("siyuan/bob").await;

    // ShopXO: a wrong captcha is refused and the step stays open; the right one signs in.
    let shopxo = sim.endpoint("shopxo");
    app.add_account(&AccountForm::new("shopxo", "alice01", &shopxo))
        .await;
    app.enter_password("secret123").await;
    app.by_id("captcha-image").await;
    let right = sim.captcha_answer("shopxo").await;
    let wrong = if right == "0000" { "1111" } else { "0000" };
    app.answer_captcha(wrong).await;
    app.by_id("login-error").await;
    assert!(
        app.has("captcha-input").await,
        "the captcha step stays open"
    );
    // The answer may have been used up by the wrong try: ask the server again.
    app.answer_captcha(&sim.captcha_answer("shopxo").await)
        .await;
    app.wait_signed_in("shopxo/alice01").await;
    app.click("overview-item").await;
    app.by_id("account-steedos/alice@example.com").await;
    app.screenshot("all-five-signed-in").await;

    // The star makes alice the active SSCMS account; scripts asking for "sscms" now get hers.
    app.click("use-sscms/alice").await;
    app.eventually(
        "alice to be the active SSCMS account",
        Duration::from_secs(10),
        || async {
            (app.is_active("sscms/alice").await && !app.is_active("sscms/demo").await).then_some(())
        },
    )
    .await;
    let header = cli.run(&["token", "sscms", "--as", "header"], "");
    assert!(header.starts_with("X-SS-USER-TOKEN: "), "{header}");

    // Copying: the token goes to the X clipboard, marked for password managers, and is gone
    // again after the delay set in the settings.
    app.click("settings-open").await;
    app.fill("setting-clipboard_clear_secs", "3\u{e004}").await;
    app.close_dialog().await;
    app.eventually(
        "the setting to be kept",
        Duration::from_secs(10),
        || async {
            app.click("settings-open").await;
            let kept = app
                .by_id("setting-clipboard_clear_secs")
                .await
                .prop("value")
                .await
                .ok()
                .flatten();
            app.close_dialog().await;
            (kept.as_deref() == Some("3")).then_some(())
        },
    )
    .await;
    app.click("copy-header-sscms/alice").await;
    let toast = app
        .eventually(
            "the copy to be confirmed",
            Duration::from_secs(10),
            || async {
                let texts = app.texts("[data-testid=toast]").await;
                texts.into_iter().find(|t| t.contains("copied"))
            },
        )
        .await;
    assert!(toast.contains("cleared in 3 s"), "{toast:?}");
    let copied = app.copied("the token on the clipboard").await;
    assert_eq!(
        copied,
        header.trim_end(),
        "the header line of the active account"
    );
    let targets = clipboard_targets();
    assert!(
        targets.iter().any(|t| t == "x-kde-passwordManagerHint"),
        "the clipboard is marked as a secret: {targets:?}"
    );
    app.eventually(
        "the clipboard to be cleared",
        Duration::from_secs(15),
        || async { clipboard_text().is_none().then_some(()) },
    )
    .await;

    // ShopXO takes its token as a query parameter: that is what its second copy button gives.
    let raw = cli.run(&["token", "shopxo/alice01"], "");
    app.click("copy-header-shopxo/alice01").await;
    let copied = app.copied("the ShopXO token on the clipboard").await;
    assert_eq!(copied, format!("token={}", raw.trim_end()));

    // Logging out keeps the account, signed out; removing it takes it away.
    app.click("logout-sscms/demo").await;
    app.wait_for_state("sscms/demo", "signed_out").await;
    app.click("remove-steedos/alice@example.com").await;
    app.click("confirm-remove").await;
    app.wait_gone("account-steedos/alice@example.com").await;
    let list = cli.run(&["list", "--json"], "");
    assert!(!list.contains("steedos/alice@example.com"), "{list}");
    assert!(list.contains("sscms/demo"), "{list}");

    app.quit().await;
}

#[tokio::test]
async fn the_add_form_shows_the_options_of_the_service_chosen_in_it() {
    let app = App::launch().await;

    // Opened from "All accounts", the form starts on the first service...
    app.click("add-account").await;
    assert!(
        app.has("field-opt-space_id").await,
        "Steedos asks for its space"
    );
    // ...and follows the service picked in it.
    app.choose("field-service", "coolkit").await;
    app.by_id("field-opt-appid").await;
    assert!(!app.has("field-opt-space_id").await);
    app.choose("field-service", "sscms").await;
    app.wait_gone("field-opt-appid").await;
    app.close_dialog().await;

    app.quit().await;
}
