//! The desktop shell as a person first meets it.

use std::time::Duration;

use lanyard_e2e::{App, Sandbox};

/// The five services of the first release, as lanyard-core names them, in display order.
const SERVICES: [&str; 5] = [
    "Steedos",
    "SiteServer CMS",
    "CoolKit / eWeLink",
    "SiYuan",
    "ShopXO",
];

#[tokio::test]
async fn first_launch_shows_the_shell_with_every_service_and_an_empty_state() {
    let app = App::launch().await;

    assert_eq!(app.window_title().await, "Lanyard");
    assert_eq!(app.document_title().await, "Lanyard");
    assert_eq!(app.sidebar_services().await, SERVICES);
    assert_eq!(app.empty_state_title().await, "Add your first account");
    let invitation = app.empty_state_text().await;
    for service in SERVICES {
        assert!(
            invitation.contains(service),
            "the invitation names {service}: {invitation:?}"
        );
    }
    let screenshot = app.screenshot("first-launch").await;
    eprintln!("screenshot: {}", screenshot.display());

    app.quit().await;
}

#[tokio::test]
async fn choosing_a_service_shows_what_it_needs_and_that_it_has_no_accounts() {
    let app = App::launch().await;

    app.open_service("CoolKit / eWeLink").await;
    assert_eq!(
        app.empty_state_title().await,
        "No CoolKit / eWeLink accounts yet"
    );
    let panel = app.text("[data-testid=service-panel]").await;
    assert!(
        panel.contains("Refresh without password"),
        "CoolKit refreshes its tokens: {panel:?}"
    );
    app.screenshot("service-coolkit").await;

    app.open_overview().await;
    assert_eq!(app.empty_state_title().await, "Add your first account");

    app.quit().await;
}

#[tokio::test]
async fn a_second_launch_hands_over_to_the_running_window_and_exits() {
    let app = App::launch().await;

    let second = app
        .sandbox()
        .launch_second_instance(Duration::from_secs(20));
    let status = second.expect("the second instance should exit instead of opening a window");
    assert!(status.success(), "the second instance exited with {status}");
    // The first window is still there and still answers.
    assert_eq!(app.sidebar_services().await, SERVICES);

    app.quit().await;
}

#[tokio::test]
async fn the_ui_speaks_chinese_when_the_system_locale_is_zh_cn() {
    let locale = [("LANG", "zh_CN.UTF-8"), ("LC_ALL", "zh_CN.UTF-8")];
    let app = App::launch_with(Sandbox::new(), &locale).await;

    assert_eq!(app.empty_state_title().await, "添加第一个账号");
    let overview = app.text("[data-testid=overview-item]").await;
    assert!(
        overview.contains("全部账号"),
        "the overview entry is in Chinese: {overview:?}"
    );
    // Service names are product names and stay as the backend gives them.
    assert_eq!(app.sidebar_services().await, SERVICES);

    app.quit().await;
}

#[tokio::test]
async fn a_data_dir_that_cannot_be_opened_still_opens_the_window_and_says_why() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.data_dir().join("lanyard.db"),
        b"this is not a database, and it is not ours to repair",
    )
    .expect("write a broken database");
    let app = App::launch_with(sandbox, &[]).await;

    let error = app.text("[data-testid=load-error]").await;
    assert!(
        error.contains("storage"),
        "the error names its kind: {error:?}"
    );
    app.screenshot("startup-error").await;

    app.quit().await;
}

#[tokio::test]
async fn launch_at_login_writes_and_removes_the_autostart_entry() {
    let app = App::launch().await;
    let autostart = app.sandbox().home().join(".config/autostart");
    let entries = || -> Vec<String> {
        std::fs::read_dir(&autostart)
            .map(|dir| {
                dir.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(entries().is_empty());

    app.click("settings-open").await;
    app.set_checked("setting-launch_at_login", true).await;
    let found = app
        .eventually("an autostart entry", Duration::from_secs(10), || async {
            let found = entries();
            (!found.is_empty()).then_some(found)
        })
        .await;
    let entry = std::fs::read_to_string(autostart.join(&found[0])).expect("read the entry");
    assert!(
        entry.contains(&format!("Exec={}", lanyard_e2e::app_binary().display())),
        "the entry starts this app: {entry}"
    );
    app.set_checked("setting-launch_at_login", false).await;
    app.eventually(
        "the autostart entry to go",
        Duration::from_secs(10),
        || async { entries().is_empty().then_some(()) },
    )
    .await;

    app.quit().await;
}
