//! Keep-alive as a person sees it: the countdown ticks, and the engine renews a session in the
//! background before it runs out, with nobody touching the window.

use std::time::Duration;

use lanyard_e2e::{App, Sandbox, Sim, tid};
use lanyard_sim::control::SiyuanConfigPatch;

#[tokio::test]
async fn the_engine_renews_a_session_in_the_background_and_the_countdown_follows() {
    let sim = Sim::start();
    // SiYuan cloud tokens that live 40 s: keep-alive renews them at 75–80 % of that.
    sim.control("siyuan")
        .configure(&SiyuanConfigPatch {
            token_lifetime_secs: Some(40),
            ..Default::default()
        })
        .await
        .unwrap();
    let siyuan = sim.endpoint("siyuan");
    let sandbox = Sandbox::new();
    sandbox.cli().run(
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
    let app = App::launch_with(sandbox, &[]).await;
    let name = "siyuan/alice";
    let countdown = format!("countdown-{name}");

    // The countdown ticks.
    let first_expiry = app
        .attr_of(&countdown, "datetime")
        .await
        .expect("the session has an expiry");
    let before = app.text_of(&countdown).await;
    eprintln!("countdown at first: {before:?}, expiry {first_expiry}");
    let ticked = app
        .eventually("the countdown to tick", Duration::from_secs(5), || async {
            let now = app.text_of(&countdown).await;
            (now != before).then_some(now)
        })
        .await;
    eprintln!("countdown: {before:?} → {ticked:?}");

    // Some 30 s after the login, the engine renews the session: the countdown jumps to a later
    // expiry, and the account stays valid throughout.
    let renewed = app
        .eventually("a renewed expiry", Duration::from_secs(60), || async {
            let now = app.attr_of(&countdown, "datetime").await?;
            (now != first_expiry).then_some(now)
        })
        .await;
    assert!(
        renewed > first_expiry,
        "{renewed} is later than {first_expiry}"
    );
    assert_eq!(
        app.attr_of(&format!("state-{name}"), "data-state")
            .await
            .as_deref(),
        Some("valid")
    );

    // The event log says what happened.
    app.click(&format!("account-{name}")).await;
    app.by_id("details-panel").await;
    app.eventually(
        "a refresh in the event log",
        Duration::from_secs(10),
        || async {
            app.exists(&format!(
                "{} {}[data-kind=refresh][data-outcome=ok]",
                tid("event-log"),
                tid("event-row")
            ))
            .await
            .then_some(())
        },
    )
    .await;
    app.screenshot("keepalive-renewed").await;

    app.quit().await;
}
