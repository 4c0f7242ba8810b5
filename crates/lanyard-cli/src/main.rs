//! `lanyard`: the scripting companion of the desktop app (contract: DESIGN.md "CLI contract").
//! Every command is a thin call into `lanyard_core::Manager`.

/// `print!` that survives a closed pipe: see [`emit`].
macro_rules! out {
    ($($arg:tt)*) => { $crate::emit(format_args!($($arg)*)) };
}
macro_rules! outln {
    ($($arg:tt)*) => { $crate::emit(format_args!("{}\n", format_args!($($arg)*))) };
}

mod args;
mod output;
mod prompt;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use lanyard_core::manager::{Config, LoginStep, Manager, NewAccount, TokenFormat};
use lanyard_core::services::{self, Challenge};
use lanyard_core::{AccountView, Error, Result, SecretString, ServiceId};

use crate::args::{Cli, Command, TokenAs};
use crate::output::Style;
use crate::prompt::Prompter;

fn main() -> ExitCode {
    let cli = Cli::parse();
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
            let mut config = Config::from_env()?;
            if cli.data_dir.is_some() {
                config.data_dir = cli.data_dir;
            }
            let manager = Manager::open(config).await?;
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
            let service: ServiceId = service.parse()?;
            let options = parse_options(&options)?;
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
            outln!(
                "Added {} ({} at {}).",
                view.account.name,
                view.account.service,
                view.account.endpoint
            );
            if !no_login {
                login(manager, &view, password_stdin).await?;
            }
            Ok(())
        }
        Command::Login {
            name,
            password_stdin,
        } => {
            let view = manager.get(&name).await?;
            login(manager, &view, password_stdin).await
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
                "{} is now the active {} account at {}.",
                view.account.name,
                view.account.service,
                view.account.endpoint
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
        Command::Refresh { name, force } => {
            let view = manager.refresh(&name, force).await?;
            out!(
                "{}",
                output::status_lines(std::slice::from_ref(&view), now, &style)
            );
            Ok(())
        }
        Command::Logout { name } => {
            manager.logout(&name).await?;
            outln!("Logged out {name}.");
            Ok(())
        }
        Command::Remove { name } => {
            manager.remove_account(&name).await?;
            outln!("Removed {name} and its secrets.");
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
        Command::Services { .. } | Command::Completions { .. } => {
            unreachable!("handled before opening the store")
        }
    }
}

/// Drive a login to the end: password, then captcha and code steps as the service asks.
async fn login(manager: &Manager, view: &AccountView, password_stdin: bool) -> Result<()> {
    let mut prompter = Prompter::new();
    let password = if services::password_required(&view.account) {
        if view.plaintext_remote {
            // Before the password is asked for, let alone sent.
            eprintln!(
                "warning: {} is plain http to another machine: the password and tokens travel unencrypted; use https:// if the server offers it",
                view.account.endpoint
            );
        }
        Some(prompter.password(&view.account.name, password_stdin)?)
    } else {
        None
    };
    let mut step = manager.begin_login(&view.account.name, password).await?;
    loop {
        match step {
            LoginStep::Done(view) => {
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
                outln!("Logged in to {} as {who}{until}.", view.account.name);
                return Ok(());
            }
            LoginStep::Challenge { flow, challenge } => {
                let answer: Result<SecretString> = match &challenge {
                    Challenge::Captcha {
                        image, media_type, ..
                    } => prompter.captcha(image, media_type),
                    Challenge::Code {
                        channel,
                        destination,
                    } => prompter.code(*channel, destination.as_deref()),
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
                    Err(e) => {
                        manager.cancel_login(&flow);
                        return Err(e);
                    }
                };
            }
        }
    }
}

fn parse_options(pairs: &[String]) -> Result<BTreeMap<String, String>> {
    let mut options = BTreeMap::new();
    for pair in pairs {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| Error::invalid_input(format!("--opt takes KEY=VALUE, got '{pair}'")))?;
        if key.is_empty() {
            return Err(Error::invalid_input(format!(
                "--opt '{pair}' has an empty key"
            )));
        }
        options.insert(key.to_string(), value.to_string());
    }
    Ok(options)
}

fn print_json(value: &serde_json::Value) {
    outln!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| "null".into())
    );
}

/// Write to stdout. A closed pipe (`lanyard list --json | head`) ends the program quietly, as
/// it does for other Unix tools, instead of panicking like `print!` would.
fn emit(text: std::fmt::Arguments<'_>) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(text).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("lanyard: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}
