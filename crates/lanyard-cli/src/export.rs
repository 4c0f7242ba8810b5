//! `lanyard export FILE` and `lanyard import FILE`: the CLI side of
//! `Manager::export_accounts` / `Manager::import_accounts` (an age file with a passphrase).
//!
//! The passphrase comes from `LANYARD_EXPORT_PASSPHRASE_FILE` (its first line) when set, else
//! from the terminal without echo (twice for an export), else, over pipes, as one line of
//! standard input after the prompt line `Export passphrase:` on stderr (the contract's line
//! protocol). The core writes the file 0600 through a temporary file in the same directory and
//! a rename, never over an existing file without `--force`.

use std::io::{self, BufRead, IsTerminal};
use std::path::Path;

use lanyard_core::manager::Manager;
use lanyard_core::{Error, ErrorCode, Result, SecretString};
use zeroize::Zeroizing;

/// How many times a person may type two passphrases that differ before giving up.
const ATTEMPTS: u32 = 3;
const PASSPHRASE_FILE_VAR: &str = "LANYARD_EXPORT_PASSPHRASE_FILE";
const SESSIONS_NOTE: &str = "Sessions and tokens are not in the file: they belong to this machine.";

pub async fn export(manager: &Manager, file: &Path, force: bool) -> Result<()> {
    let exists = || {
        Error::new(
            ErrorCode::AlreadyExists,
            format!(
                "{} exists already; choose another file or replace it with --force",
                file.display()
            ),
        )
    };
    // Before the passphrase is asked for.
    if !force && std::fs::symlink_metadata(file).is_ok() {
        return Err(exists());
    }
    let passphrase = passphrase(true).await?;
    let summary = manager
        .export_to_file(file, &passphrase, force)
        .await
        .map_err(|e| {
            if e.code == ErrorCode::AlreadyExists {
                exists()
            } else {
                e
            }
        })?;
    outln!(
        "Exported {} account(s) ({} with a remembered password) to {}, encrypted with the passphrase (age format).",
        summary.accounts,
        summary.with_password,
        file.display()
    );
    outln!(
        "{SESSIONS_NOTE} After `lanyard import` on the new machine, each account logs in again."
    );
    Ok(())
}

pub async fn import(manager: &Manager, file: &Path) -> Result<()> {
    if let Err(e) = std::fs::metadata(file) {
        // Before the passphrase is asked for.
        return Err(Error::invalid_input(format!(
            "cannot read {}: {e}",
            file.display()
        )));
    }
    let passphrase = passphrase(false).await?;
    let report = manager.import_from_file(file, &passphrase).await?;
    for name in &report.imported {
        outln!("Imported {name}.");
    }
    for skip in &report.skipped {
        eprintln!("lanyard: skipped {}: {}", skip.name, skip.reason);
    }
    if report.imported.is_empty() {
        let why = if report.skipped.is_empty() {
            "the export holds no accounts".to_owned()
        } else if report
            .skipped
            .iter()
            .all(|s| s.code == ErrorCode::AlreadyExists)
        {
            format!(
                "nothing was imported: all {} account(s) in the file exist here already (nothing was changed)",
                report.skipped.len()
            )
        } else {
            format!(
                "nothing was imported: {} account(s) were skipped (see above)",
                report.skipped.len()
            )
        };
        // One cause for all (the secret store, say): its exit code; else 2.
        let code = match report.skipped.first().map(|s| s.code) {
            Some(first) if report.skipped.iter().all(|s| s.code == first) => first,
            _ => ErrorCode::AlreadyExists,
        };
        return Err(Error::new(code, why));
    }
    outln!(
        "Imported {} account(s), skipped {}. The file held no sessions: log in to each with `lanyard login NAME`{}.",
        report.imported.len(),
        report.skipped.len(),
        if report.with_password.is_empty() {
            ""
        } else {
            " (accounts with a remembered password log in with it, without asking)"
        }
    );
    Ok(())
}

/// The export passphrase: the file named by LANYARD_EXPORT_PASSPHRASE_FILE, the terminal, or
/// one line of standard input.
async fn passphrase(new: bool) -> Result<SecretString> {
    let passphrase =
        if let Some(path) = std::env::var_os(PASSPHRASE_FILE_VAR).filter(|p| !p.is_empty()) {
            let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(|e| {
                Error::invalid_input(format!(
                    "cannot read {PASSPHRASE_FILE_VAR} ({}): {e}",
                    Path::new(&path).display()
                ))
            })?);
            SecretString::new(text.lines().next().unwrap_or_default())
        } else if io::stdin().is_terminal() && io::stderr().is_terminal() {
            tokio::task::spawn_blocking(move || ask_on_terminal(new))
                .await
                .map_err(|_| Error::internal("asking for the passphrase failed unexpectedly"))??
        } else {
            eprintln!("Export passphrase:");
            tokio::task::spawn_blocking(read_stdin_line)
                .await
                .map_err(|_| Error::internal("reading the passphrase failed unexpectedly"))??
        };
    if passphrase.is_empty() {
        return Err(Error::invalid_input("the export passphrase is empty"));
    }
    Ok(passphrase)
}

fn ask_on_terminal(new: bool) -> Result<SecretString> {
    if !new {
        return read_hidden("Passphrase of the export file: ");
    }
    for attempt in 1..=ATTEMPTS {
        let passphrase = read_hidden("New passphrase for the export file: ")?;
        if passphrase.is_empty() {
            eprintln!("lanyard: the passphrase cannot be empty");
            continue;
        }
        if read_hidden("Repeat the passphrase: ")? == passphrase {
            return Ok(passphrase);
        }
        if attempt < ATTEMPTS {
            eprintln!("lanyard: the two passphrases differ, try again");
        }
    }
    Err(Error::invalid_input(
        "no passphrase chosen for the export; nothing was written",
    ))
}

fn read_hidden(prompt: &str) -> Result<SecretString> {
    match rpassword::prompt_password(prompt) {
        Ok(text) => Ok(SecretString::new(text)),
        Err(e) if e.kind() == io::ErrorKind::Interrupted => {
            eprintln!();
            std::process::exit(130)
        }
        Err(e) => Err(Error::invalid_input(format!(
            "cannot read the export passphrase: {e}"
        ))),
    }
}

fn read_stdin_line() -> Result<SecretString> {
    let mut line = Zeroizing::new(String::new());
    let read = io::stdin().lock().read_line(&mut line).map_err(|e| {
        Error::invalid_input(format!(
            "cannot read the export passphrase from standard input: {e}"
        ))
    })?;
    if read == 0 {
        return Err(Error::invalid_input(
            "expected the export passphrase on standard input, but it ended",
        ));
    }
    Ok(SecretString::new(line.trim_end_matches(['\r', '\n'])))
}
