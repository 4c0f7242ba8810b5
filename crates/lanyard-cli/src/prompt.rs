//! Asking a person (or a script) for the password, captcha text and codes.
//!
//! On a terminal: the password without echo, captcha and code prompts as usual. Otherwise the
//! line protocol of the CLI contract: each prompt is one line on stderr and each answer one line
//! on stdin, in order. A captcha image is written to a file and announced on stderr as
//! `captcha image: <path>`.

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;

use lanyard_core::services::CodeChannel;
use lanyard_core::{Error, Result, SecretString};
use zeroize::Zeroizing;

pub struct Prompter {
    interactive: bool,
    captcha_count: u32,
}

impl Prompter {
    pub fn new() -> Self {
        Prompter {
            interactive: io::stdin().is_terminal() && io::stderr().is_terminal(),
            captcha_count: 0,
        }
    }

    /// The password: the first stdin line with `--password-stdin` (or when stdin is not a
    /// terminal), else a no-echo prompt.
    pub fn password(&mut self, account: &str, from_stdin: bool) -> Result<SecretString> {
        let password = if self.interactive && !from_stdin {
            rpassword::prompt_password(format!("Password for {account}: "))
                .map(SecretString::new)
                .map_err(|e| Error::invalid_input(format!("cannot read the password: {e}")))?
        } else {
            if !from_stdin {
                announce(&format!("Password for {account}:"));
            }
            self.read_line("the password")?
        };
        if password.is_empty() {
            return Err(Error::invalid_input("the password is empty"));
        }
        Ok(password)
    }

    /// Save the captcha image, say where, and read the person's reading of it.
    pub fn captcha(&mut self, image: &[u8], media_type: &str) -> Result<SecretString> {
        let path = self.save_captcha(image, media_type)?;
        announce(&format!("captcha image: {}", path.display()));
        if self.interactive {
            prompt_inline("Characters in the captcha image: ");
        } else {
            announce("Captcha:");
        }
        self.read_line("the captcha text")
    }

    pub fn code(
        &mut self,
        channel: CodeChannel,
        destination: Option<&str>,
    ) -> Result<SecretString> {
        let question = match (channel, destination) {
            (CodeChannel::Totp, _) => "Code from your authenticator app:".to_string(),
            (CodeChannel::Sms, Some(to)) => format!("Code sent by SMS to {to}:"),
            (CodeChannel::Sms, None) => "Code sent by SMS:".to_string(),
            (CodeChannel::Email, Some(to)) => format!("Code sent by email to {to}:"),
            (CodeChannel::Email, None) => "Code sent by email:".to_string(),
        };
        if self.interactive {
            prompt_inline(&format!("{question} "));
        } else {
            announce(&question);
        }
        self.read_line("the code")
    }

    fn read_line(&mut self, what: &str) -> Result<SecretString> {
        // Zeroizing: the line may hold a password.
        let mut line = Zeroizing::new(String::new());
        let read = io::stdin().lock().read_line(&mut line).map_err(|e| {
            Error::invalid_input(format!("cannot read {what} from standard input: {e}"))
        })?;
        if read == 0 {
            return Err(Error::invalid_input(format!(
                "expected {what} on standard input, but it ended"
            )));
        }
        Ok(SecretString::new(line.trim_end_matches(['\r', '\n'])))
    }

    fn save_captcha(&mut self, image: &[u8], media_type: &str) -> Result<PathBuf> {
        self.captcha_count += 1;
        let extension = match media_type {
            "image/png" => "png",
            "image/gif" => "gif",
            "image/jpeg" => "jpg",
            "image/svg+xml" => "svg",
            _ => "img",
        };
        let path = std::env::temp_dir().join(format!(
            "lanyard-captcha-{}-{}.{extension}",
            std::process::id(),
            self.captcha_count
        ));
        std::fs::write(&path, image).map_err(|e| {
            Error::internal(format!(
                "cannot write the captcha image to {}: {e}",
                path.display()
            ))
        })?;
        Ok(path)
    }
}

fn announce(line: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{line}");
    let _ = err.flush();
}

fn prompt_inline(text: &str) {
    let mut err = io::stderr().lock();
    let _ = write!(err, "{text}");
    let _ = err.flush();
}
