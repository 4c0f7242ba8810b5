//! `lanyard`: the scripting companion of the desktop app (contract: docs/architecture.md,
//! "CLI contract").
//! Every command is a thin call into `lanyard_core::Manager`.

/// `print!` that survives a closed pipe: see [`emit`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::emit(format_args!($($arg)*)) };
}
macro_rules! outln {
    ($($arg:tt)*) => { $crate::emit(format_args!("{}\n", format_args!($($arg)*))) };
}

mod api;
mod args;
mod captcha;
mod captcha_art;
mod exec;
mod export;
mod open;
mod options;
mod output;
mod prompt;

use std::io::Write;
use std::process::ExitCode;

use clap::CommandFactory;
use lanyard_core::manager::{LoginStep, Manager, NewAccount, TokenFormat};
use lanyard_core::services::{self, Challenge};
use lanyard_core::{AccountView, Error, ErrorCode, Result, SecretString};

use crate::args::{Cli, Command, TokenAs};
use crate::output::Style;
use crate::prompt::Prompter;

fn main() -> ExitCode {
    let cli = args::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lanyard: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lanyard: {}", e.display_line());
            ExitCode::from(u8::try_from(e.code.exit_code()).unwrap_or(1))
        }
    }
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        // These two need no database or keyring.
        Command::Services { json } => {
            let specs = services::specs();
            if json {
                print_json(
                    &serde_json::to_value(specs).map_err(|e| Error::internal(e.to_string()))?,
                );
            } else {
                out!("{}", output::services_text(&specs));
            }
            Ok(())
        }
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "lanyard",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        command => {
            let manager = open::manager(cli.data_dir, &command).await?;
            run_with_manager(&manager, command).await
        }
    }
}

async fn run_with_manager(manager: &Manager, command: Command) -> Result<()> {
    let style = Style::for_stdout();
    let now = chrono::Utc::now();
    match command {
        Command::Add {
            service,
            user,
            name,
            endpoint,
            options,
            remember_password,
            password_stdin,
            no_login,
        } => {
            let service = manager.service_id(&service)?;
            let spec = services::spec(service);
            let given = options::parse(spec, &options)?;
            if let Some(warning) = options::inline_secret_warning(&given) {
                prompt::notice(&warning);
            }
            let label = name
                .clone()
                .unwrap_or_else(|| format!("{service}/{}", user.trim()));
            // The account once it exists: what a failed or interrupted login takes back.
            let mut added: Option<String> = None;
            let flow = async {
                let mut prompter = Prompter::new();
                let options = options::resolve(spec, given, &mut prompter, &label).await?;
                let view = manager
                    .add_account(NewAccount {
                        name,
                        service,
                        user,
                        endpoint,
                        options,
                        remember_password,
                    })
                    .await?;
                let added_line = format!(
                    "Added {} ({} at {}).",
                    view.account.name, view.account.service, view.account.endpoint
                );
                if no_login {
                    outln!("{added_line}");
                    return Ok(());
                }
                added = Some(view.account.name.clone());
                match login(manager, &view, password_stdin, &mut prompter).await {
                    Ok(done) => {
                        outln!("{added_line}");
                        outln!("{}", logged_in_line(&done));
                        Ok(())
                    }
                    Err(e) => Err(take_back(manager, &view.account.name, e).await),
                }
            };
            match until_interrupted(flow).await {
                Ok(result) => result,
                Err(status) => {
                    let outcome = match added {
                        Some(name) => {
                            take_back(
                                manager,
                                &name,
                                Error::new(ErrorCode::Cancelled, "interrupted"),
                            )
                            .await
                            .message
                        }
                        None => "interrupted; nothing was saved".to_owned(),
                    };
                    eprintln!("lanyard: {outcome}");
                    std::process::exit(status);
                }
            }
        }
        Command::Login {
            name,
            password_stdin,
        } => {
            let view = manager.get(&name).await?;
            let flow = async {
                let mut prompter = Prompter::new();
                login(manager, &view, password_stdin, &mut prompter).await
            };
            match until_interrupted(flow).await {
                Ok(done) => {
                    outln!("{}", logged_in_line(&done?));
                    Ok(())
                }
                Err(status) => {
                    eprintln!("lanyard: interrupted; the login was not finished");
                    std::process::exit(status);
                }
            }
        }
        Command::List { json } => {
            let views = manager.list().await?;
            if json {
                print_json(&serde_json::Value::Array(
                    views.iter().map(output::account_json).collect(),
                ));
            } else {
                out!("{}", output::accounts_table(&views, now, &style));
            }
            Ok(())
        }
        Command::Use { name } => {
            let view = manager.set_active(&name).await?;
            outln!(
                "{} is now the active {} account at {}, and the one `{}` stands for.",
                view.account.name,
                view.account.service,
                view.account.endpoint,
                view.account.service
            );
            Ok(())
        }
        Command::Token { target, format } => {
            let format = match format {
                TokenAs::Raw => TokenFormat::Raw,
                TokenAs::Header => TokenFormat::Header,
                TokenAs::Json => TokenFormat::Json,
                TokenAs::Env => TokenFormat::Env,
            };
            let text = manager.token(&target, format).await?;
            // The token and nothing else on stdout.
            outln!("{}", text.trim_end_matches('\n'));
            Ok(())
        }
        Command::Exec {
            target,
            min_ttl,
            command,
        } => {
            let status = exec::run(manager, &target, min_ttl, &command).await?;
            // The command ran: its status is Lanyard's, whatever it is.
            std::process::exit(status);
        }
        Command::Api {
            target,
            path,
            method,
            fields,
            input,
            headers,
            include,
        } => {
            api::run(
                manager,
                api::Request {
                    target,
                    path,
                    method,
                    fields,
                    input,
                    headers,
                    include,
                },
            )
            .await
        }
        Command::Refresh { name, force } => {
            let view = manager.refresh(&name, force).await?;
            out!(
                "{}",
                output::status_lines(std::slice::from_ref(&view), now, &style)
            );
            Ok(())
        }
        Command::Logout { name } => {
            let outcome = manager.logout(&name).await?;
            outln!("Logged out {name}: {}.", outcome.describe());
            Ok(())
        }
        Command::Remove { name } => {
            let outcome = manager.remove_account(&name).await?;
            outln!("Removed {name} and its secrets; {}.", outcome.describe());
            Ok(())
        }
        Command::Status { json } => {
            let views = manager.list().await?;
            if json {
                print_json(&serde_json::Value::Array(
                    views.iter().map(output::account_json).collect(),
                ));
            } else if views.is_empty() {
                outln!("No accounts yet.");
            } else {
                out!("{}", output::status_lines(&views, now, &style));
            }
            Ok(())
        }
        Command::Export { file, force } => export::export(manager, &file, force).await,
        Command::Import { file } => export::import(manager, &file).await,
        Command::Services { .. } | Command::Completions { .. } => {
            unreachable!("handled before opening the store")
        }
    }
}

/// Drive a login to the end: password, then captcha and code steps as the service asks.
async fn login(
    manager: &Manager,
    view: &AccountView,
    password_stdin: bool,
    prompter: &mut Prompter,
) -> Result<AccountView> {
    // An account that remembers its password (an imported one, say) logs in with it unasked,
    // unless the caller hands a new one on stdin.
    let remembered = !password_stdin
        && services::password_required(&view.account)
        && view.account.remember_password
        && manager.remembers_password(&view.account.name).await?;
    if remembered {
        prompt::notice(&format!(
            "Logging in to {} with its remembered password.",
            view.account.name
        ));
    }
    if remembered {
        match manager.begin_login(&view.account.name, None).await {
            // A password changed on the server: a person types the current one (kept on
            // success); a script is told how to give it.
            Err(e) if e.code == ErrorCode::CredentialsRejected && prompter.interactive() => {
                eprintln!("lanyard: {}; type the current password", e.display_line());
            }
            Err(e) if e.code == ErrorCode::CredentialsRejected => {
                return Err(Error::new(
                    e.code,
                    format!(
                        "{} (with the remembered password; give the current one with --password-stdin)",
                        e.display_line()
                    ),
                ));
            }
            started => return answer_challenges(manager, started?, prompter).await,
        }
    }
    let password = if services::password_required(&view.account) {
        if view.plaintext_remote {
            // Before the password is asked for, let alone sent.
            eprintln!(
                "warning: {} is plain http to another machine: the password and tokens travel unencrypted; use https:// if the server offers it",
                view.account.endpoint
            );
        }
        Some(
            prompter
                .password(&view.account.name, password_stdin)
                .await?,
        )
    } else {
        None
    };
    let step = manager.begin_login(&view.account.name, password).await?;
    answer_challenges(manager, step, prompter).await
}

/// Answers the captcha and code steps of a started login until it is done.
async fn answer_challenges(
    manager: &Manager,
    mut step: LoginStep,
    prompter: &mut Prompter,
) -> Result<AccountView> {
    let mut wrong_answers = 0;
    loop {
        match step {
            LoginStep::Done(view) => return Ok(view),
            LoginStep::Challenge { flow, challenge } => {
                let answer: Result<SecretString> = match &challenge {
                    Challenge::Captcha {
                        image, media_type, ..
                    } => prompter.captcha(image, media_type).await,
                    Challenge::Code {
                        channel,
                        destination,
                    } => prompter.code(*channel, destination.as_deref()).await,
                };
                let answer = match answer {
                    Ok(answer) => answer,
                    Err(e) => {
                        manager.cancel_login(&flow);
                        return Err(e);
                    }
                };
                step = match manager.answer_login(&flow, answer).await {
                    Ok(next) => next,
                    Err(e)
                        if e.code == ErrorCode::ChallengeFailed
                            && prompter.interactive()
                            && wrong_answers + 1 < CHALLENGE_TRIES
                            && manager.login_waiting(&flow) =>
                    {
                        wrong_answers += 1;
                        let left = CHALLENGE_TRIES - wrong_answers;
                        eprintln!(
                            "lanyard: {}; try again ({left} {} left)",
                            e.display_line(),
                            if left == 1 { "try" } else { "tries" }
                        );
                        match try_again(manager, flow.clone(), challenge).await {
                            Ok(next) => next,
                            Err(e) => {
                                manager.cancel_login(&flow);
                                return Err(e);
                            }
                        }
                    }
                    Err(e) => {
                        manager.cancel_login(&flow);
                        return Err(e);
                    }
                };
            }
        }
    }
}

/// How many answers a person on a terminal may give to the captchas and codes of one login
/// before it fails (exit 6). The servers allow a few more (ShopXO six per code), so the last
/// try here still reaches them. Scripts on the line protocol get one.
const CHALLENGE_TRIES: u32 = 5;

/// The step to answer after a wrong answer the service kept the login for: a fresh captcha
/// image where the service can reload it (the old one's answer may be void), else the same
/// challenge again (a code, which stays valid for a few attempts).
async fn try_again(manager: &Manager, flow: String, challenge: Challenge) -> Result<LoginStep> {
    match challenge {
        Challenge::Captcha {
            reloadable: true, ..
        } => manager.reload_captcha(&flow).await,
        challenge => Ok(LoginStep::Challenge { flow, challenge }),
    }
}

fn logged_in_line(view: &AccountView) -> String {
    let until = view
        .session
        .as_ref()
        .and_then(|s| s.expires_at)
        .map(|t| format!(", valid for {}", output::time_left(t, chrono::Utc::now())))
        .unwrap_or_default();
    let who = view
        .session
        .as_ref()
        .and_then(|s| s.display_name.clone())
        .unwrap_or(view.account.user.clone());
    format!("Logged in to {} as {who}{until}.", view.account.name)
}

/// After `add` registered an account whose first login then failed (or was interrupted): take
/// the account back, so no half-made one stays, and say so in the one error line.
async fn take_back(manager: &Manager, name: &str, e: Error) -> Error {
    let message = match manager.undo_add(name).await {
        Ok(()) => format!(
            "{}; nothing was saved ({name} was not added)",
            e.display_line()
        ),
        Err(undo) => format!(
            "{}; {name} stays registered, as it could not be taken back ({}): remove it with \
             `lanyard remove {name}`",
            e.display_line(),
            undo.display_line()
        ),
    };
    Error::new(e.code, message)
}

/// Runs `flow` unless SIGINT, SIGTERM or SIGHUP (Ctrl-C on Windows) comes first. Then `flow` is
/// dropped, and its captcha files with it (see `captcha.rs`), and `Err` carries the exit status
/// the signal calls for: 130 (SIGINT), 143 (SIGTERM) or 129 (SIGHUP: the terminal went away).
/// Prompts read on the blocking pool, so a waiting prompt does not keep the signal from being
/// noticed.
async fn until_interrupted<T>(flow: impl Future<Output = T>) -> std::result::Result<T, i32> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Registered before the flow starts, so no signal slips past.
        let (Ok(mut interrupt), Ok(mut terminate), Ok(mut hangup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return Ok(flow.await);
        };
        tokio::select! {
            value = flow => Ok(value),
            _ = interrupt.recv() => Err(130),
            _ = terminate.recv() => Err(143),
            _ = hangup.recv() => Err(129),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::select! {
            value = flow => Ok(value),
            _ = tokio::signal::ctrl_c() => Err(130),
        }
    }
}

fn print_json(value: &serde_json::Value) {
    outln!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into())
    );
}

/// Whether a write failed because the reader of our stdout went away (`| head`). On Windows a
/// pipe whose reader is gone can also answer ERROR_PIPE_NOT_CONNECTED (233), which std does
/// not count as a broken pipe (Wine does so; a Windows pipe mostly says ERROR_NO_DATA, 232).
pub(crate) fn reader_gone(e: &std::io::Error) -> bool {
    const ERROR_PIPE_NOT_CONNECTED: i32 = 233;
    e.kind() == std::io::ErrorKind::BrokenPipe
        || (cfg!(windows) && e.raw_os_error() == Some(ERROR_PIPE_NOT_CONNECTED))
}

/// Write to stdout. A closed pipe (`lanyard list --json | head`) ends the program quietly, as
/// it does for other Unix tools, instead of panicking like `print!` would.
fn emit(text: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        if reader_gone(&e) {
            std::process::exit(0);
        }
        eprintln!("lanyard: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}
