//! Opening the data dir and the secret store for a command: the configuration from the
//! environment, a notice on stderr for every file made private, and the encrypted file store's
//! passphrase asked on the terminal when the environment has none.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use lanyard_core::manager::{Config, Manager, SECRETS_FILE};
use lanyard_core::secrets::SecretStoreKind;
use lanyard_core::secrets::file::{PASSPHRASE_MISSING, check_passphrase, store_exists};
use lanyard_core::store;
use lanyard_core::{Error, Result, SecretString};

use crate::args::Command;

/// How many times a person may type a wrong passphrase (or two that differ) before giving up.
const ATTEMPTS: u32 = 3;

/// The Manager for `command`, on `data_dir` (from `--data-dir`) or the configured one.
pub async fn manager(data_dir: Option<PathBuf>, command: &Command) -> Result<Manager> {
    let mut config = Config::from_env()?;
    let data_dir = match data_dir.or(config.data_dir.take()) {
        Some(dir) => dir,
        None => store::default_data_dir()?,
    };
    for tightened in lanyard_core::data_dir::secure_dir(&data_dir)? {
        eprintln!("lanyard: {tightened}");
    }
    if config.secret_store == Some(SecretStoreKind::File)
        && config.passphrase.is_none()
        && needs_secrets(command)
    {
        let path = data_dir.join(SECRETS_FILE);
        if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
            return Err(Error::secret_store(PASSPHRASE_MISSING));
        }
        config.passphrase = Some(ask_on_terminal(path, command).await?);
    }
    config.data_dir = Some(data_dir);
    Manager::open(config).await
}

/// Whether the command reads or writes secrets (the others run without the passphrase).
fn needs_secrets(command: &Command) -> bool {
    !matches!(
        command,
        Command::List { .. }
            | Command::Status { .. }
            | Command::Use { .. }
            | Command::Services { .. }
            | Command::Completions { .. }
    )
}

/// Asks on the terminal with Ctrl-C handled. rpassword reads Ctrl-C as a key and raises SIGINT
/// itself while the terminal still has echo off: with the default action the process would die
/// and leave the terminal that way. With a handler registered, rpassword restores the terminal
/// and returns, and [`read_hidden`] exits 130.
async fn ask_on_terminal(path: PathBuf, command: &Command) -> Result<SecretString> {
    #[cfg(unix)]
    let interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok();
    // On a Windows console Ctrl-C is a console event, not a key the prompt reads: with a
    // handler registered it would only be swallowed, so the prompt is raced against it and
    // Ctrl-C exits 130 here as on Unix (not with the default STATUS_CONTROL_C_EXIT).
    #[cfg(windows)]
    let mut interrupt = tokio::signal::windows::ctrl_c().ok();
    let asking = tokio::task::spawn_blocking(move || ask_passphrase(&path));
    #[cfg(windows)]
    let asking = async {
        match interrupt.as_mut() {
            Some(ctrl_c) => tokio::select! {
                answer = asking => answer,
                _ = ctrl_c.recv() => std::process::exit(130),
            },
            None => asking.await,
        }
    };
    let passphrase = asking
        .await
        .map_err(|_| Error::internal("asking for the passphrase failed unexpectedly"))??;
    // tokio's handler stays for the rest of the process, so Ctrl-C must still end a command
    // that does not watch for it itself (add and login do: main.rs `until_interrupted`; exec
    // passes it on to its command: exec.rs).
    #[cfg(any(unix, windows))]
    if let Some(mut interrupt) = interrupt
        && !matches!(
            command,
            Command::Add { .. } | Command::Login { .. } | Command::Exec { .. }
        )
    {
        tokio::spawn(async move {
            if interrupt.recv().await.is_some() {
                std::process::exit(130);
            }
        });
    }
    Ok(passphrase)
}

/// Asks on the terminal, without echo: the passphrase of an existing store (checked, again
/// after a wrong one), or a new one typed twice.
fn ask_passphrase(path: &Path) -> Result<SecretString> {
    let existing = store_exists(path);
    for attempt in 1..=ATTEMPTS {
        let last = attempt == ATTEMPTS;
        if existing {
            let passphrase = read_hidden(&format!(
                "Passphrase for Lanyard's secret file {}: ",
                path.display()
            ))?;
            if passphrase.is_empty() {
                eprintln!("lanyard: the passphrase is empty");
            } else if check_passphrase(path, &passphrase)? {
                return Ok(passphrase);
            } else if !last {
                eprintln!("lanyard: wrong passphrase, try again");
            }
        } else {
            let passphrase = read_hidden(&format!(
                "New passphrase for Lanyard's secret file {}: ",
                path.display()
            ))?;
            if passphrase.is_empty() {
                eprintln!("lanyard: the passphrase cannot be empty");
                continue;
            }
            let again = read_hidden("Repeat the passphrase: ")?;
            if again == passphrase {
                return Ok(passphrase);
            }
            if !last {
                eprintln!("lanyard: the two passphrases differ, try again");
            }
        }
    }
    Err(Error::secret_store(if existing {
        format!(
            "wrong passphrase for the secret file {} ({ATTEMPTS} attempts)",
            path.display()
        )
    } else {
        format!(
            "no passphrase chosen for the new secret file {}",
            path.display()
        )
    }))
}

fn read_hidden(prompt: &str) -> Result<SecretString> {
    match rpassword::prompt_password(prompt) {
        Ok(text) => Ok(SecretString::new(text)),
        // Ctrl-C: the terminal is restored by now (see `ask_on_terminal`).
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
            eprintln!();
            std::process::exit(130)
        }
        Err(e) => Err(Error::secret_store(format!(
            "cannot read the passphrase: {e}"
        ))),
    }
}
