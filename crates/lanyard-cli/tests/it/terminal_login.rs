//! A person logging in on a terminal (a pseudo-terminal made by util-linux `script`) against
//! lanyard-sim: the captcha drawn in the terminal with half blocks in true colour, another try
//! (with a fresh image) after a wrong captcha and after a wrong code, and the line protocol for
//! scripts keeping its one try (exit 6) — issue 16 item 11.

use tokio::process::Command;

use crate::support::{Terminal, World, run};

const CAPTCHA_PROMPT: &str = "Characters in the captcha image: ";

/// `lanyard ARGS` in `w` with colour allowed, as on a person's terminal.
fn colour_allowed(w: &World, args: &[&str]) -> Command {
    let mut cmd = w.command(args);
    cmd.env_remove("NO_COLOR");
    cmd
}

/// `lanyard ARGS` in `w` on a pseudo-terminal, colour allowed.
fn on_terminal(w: &World, args: &[&str]) -> Option<Terminal> {
    Terminal::start(&colour_allowed(w, &[]), args)
}

#[tokio::test]
async fn on_a_terminal_a_wrong_captcha_gets_a_fresh_drawn_image_and_another_try() {
    let w = World::new().await;
    let endpoint = w.sim.endpoints().shopxo.clone();
    let args = [
        "add",
        "shopxo",
        "--user",
        "alice01",
        "--endpoint",
        &endpoint,
    ];
    let Some(mut term) = on_terminal(&w, &args) else {
        return;
    };
    term.expect("Password for shopxo/alice01", 1).await;
    term.type_line("secret123").await;
    term.expect(CAPTCHA_PROMPT, 1).await;
    let first = term.text();
    assert!(first.contains('▀'), "the captcha is drawn:\n{first}");
    assert!(first.contains("\x1b[38;2;"), "in 24-bit colour:\n{first}");
    assert!(first.contains("\x1b[48;2;"), "{first}");
    assert!(first.contains("\x1b[0m"), "colours reset:\n{first}");
    assert!(
        first.contains("captcha image: /"),
        "the file is still named"
    );
    // A reading that cannot be right (the simulator's captchas are digits).
    term.type_line("wrong").await;
    term.expect("try again (4 tries left)", 1).await;
    term.expect(CAPTCHA_PROMPT, 2).await;
    assert_eq!(term.text().matches("captcha image: /").count(), 2);
    let second_answer = w.captcha_answer("shopxo").await;
    assert!(
        term.text().matches('▀').count() > first.matches('▀').count(),
        "the fresh image is drawn too"
    );
    term.type_line(&second_answer).await;
    let (code, shown) = term.finish().await;
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("Logged in to shopxo/alice01"), "{shown}");
    assert!(
        !shown.contains("secret123"),
        "the password was echoed:\n{shown}"
    );
}

#[tokio::test]
async fn on_a_terminal_a_wrong_code_can_be_typed_again_and_five_wrong_ones_exit_6() {
    let w = World::new().await;
    let endpoint = w.sim.endpoints().steedos.clone();
    let args = [
        "add",
        "steedos",
        "--user",
        "bob@example.com",
        "--endpoint",
        &endpoint,
    ];
    let Some(mut term) = on_terminal(&w, &args) else {
        return;
    };
    term.expect("Password for", 1).await;
    term.type_line("hunter22").await;
    term.expect("Code sent by SMS", 1).await;
    term.type_line("000000").await;
    term.expect("try again", 1).await;
    term.expect("Code sent by SMS", 2).await;
    let code = w.last_code("steedos", "bob@example.com").await;
    term.type_line(&code).await;
    let (status, shown) = term.finish().await;
    assert_eq!(status, 0, "{shown}");
    assert!(
        shown.contains("Logged in to steedos/bob@example.com"),
        "{shown}"
    );

    // Five wrong codes: the login gives up with exit 6, and nothing stays registered.
    let Some(mut term) = on_terminal(&w, &["login", "steedos/bob@example.com"]) else {
        return;
    };
    term.expect("Password for", 1).await;
    term.type_line("hunter22").await;
    for attempt in 1..=5 {
        term.expect("Code sent by SMS", attempt).await;
        term.type_line("000000").await;
    }
    let (status, shown) = term.finish().await;
    assert_eq!(status, 6, "{shown}");
    assert_eq!(shown.matches("Code sent by SMS").count(), 5, "{shown}");
    assert!(shown.contains("1 try left"), "{shown}");
}

#[tokio::test]
async fn over_pipes_one_wrong_captcha_still_exits_6_without_drawing() {
    let w = World::new().await;
    let endpoint = w.sim.endpoints().shopxo.clone();
    let cmd = colour_allowed(
        &w,
        &[
            "add",
            "shopxo",
            "--user",
            "alice01",
            "--endpoint",
            &endpoint,
            "--password-stdin",
        ],
    );
    // A wrong answer, then a line that must never be read as a second try.
    let out = run(cmd, "secret123\nwrong\nalso wrong\n").await;
    let stderr = &out.stderr;
    assert_eq!(out.code, 6, "{stderr}");
    assert_eq!(stderr.matches("captcha image: ").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("Captcha:").count(), 1, "{stderr}");
    assert!(
        !stderr.contains('▀') && !stderr.contains('\x1b'),
        "{stderr}"
    );
    assert!(!stderr.contains("try again"), "{stderr}");
}
