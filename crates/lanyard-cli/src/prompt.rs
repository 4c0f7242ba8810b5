//! Asking a person (or a script) for secret options, the password, captcha text and codes.
//!
//! On a terminal: secrets without echo, captcha and code prompts as usual. Otherwise the line
//! protocol of the CLI contract: each prompt is one line on stderr and each answer one line on
//! stdin, in order (secret options, then the password, then captcha text, then codes). A
//! captcha image is written to a private file (see [`crate::captcha`]) and announced on stderr
//! as `captcha image: <path>`; the file is gone once the answer is read. On a terminal the image
//! is also drawn in the terminal itself (see [`crate::captcha_art`]), unless NO_COLOR is set.
//!
//! Reading blocks, so it runs on tokio's blocking pool: the runtime stays free to notice Ctrl-C
//! while a prompt waits (see `main.rs`, `until_interrupted`).

use std::io::{self, BufRead, IsTerminal, Write};

use lanyard_core::model::OptionSpec;
use lanyard_core::services::CodeChannel;
use lanyard_core::{Error, Result, SecretString};
use zeroize::Zeroizing;

use crate::captcha::CaptchaDir;
use crate::captcha_art;

pub struct Prompter {
    /// Secrets typed on a terminal are never echoed, wherever stderr goes.
    stdin_is_terminal: bool,
    /// Both ends are a terminal: prompts as usual rather than the line protocol.
    interactive: bool,
    /// Made at the first captcha; removed (with its files) when the prompter is dropped.
    captchas: Option<CaptchaDir>,
}

impl Prompter {
    pub fn new() -> Self {
        let stdin_is_terminal = io::stdin().is_terminal();
        Prompter {
            stdin_is_terminal,
            interactive: stdin_is_terminal && io::stderr().is_terminal(),
            captchas: None,
        }
    }

    /// Whether a person answers on a terminal (then a wrong captcha or code may be answered
    /// again); scripts on the line protocol get one try per challenge.
    pub fn interactive(&self) -> bool {
        self.interactive
    }

    /// An option's value asked for on its own (a missing secret option, or `--opt KEY=@-`):
    /// without echo on a terminal, else one prompt line and one answer line.
    pub async fn option_value(&mut self, opt: &OptionSpec, account: &str) -> Result<SecretString> {
        let question = format!("{} ({}) for {account}:", opt.label, opt.key);
        if self.stdin_is_terminal && opt.secret {
            return read_hidden(Some(format!("{question} ")), format!("--opt {}", opt.key)).await;
        }
        if self.interactive {
            prompt_inline(&format!("{question} "));
        } else {
            announce(&question);
        }
        read_line(format!("--opt {}", opt.key)).await
    }

    /// The password: the next stdin line with `--password-stdin` (or when stdin is not a
    /// terminal), else a no-echo prompt. Typed on a terminal, it is never echoed.
    pub async fn password(&mut self, account: &str, from_stdin: bool) -> Result<SecretString> {
        let password = if self.stdin_is_terminal {
            let prompt = (!from_stdin).then(|| format!("Password for {account}: "));
            read_hidden(prompt, "the password".into()).await?
        } else {
            if !from_stdin {
                announce(&format!("Password for {account}:"));
            }
            read_line("the password".into()).await?
        };
        if password.is_empty() {
            return Err(Error::invalid_input("the password is empty"));
        }
        Ok(password)
    }

    /// Save the captcha image, say where, and read the person's reading of it. The file is
    /// removed before this returns, and if the login is dropped while waiting.
    pub async fn captcha(&mut self, image: &[u8], media_type: &str) -> Result<SecretString> {
        let dir = match self.captchas.take() {
            Some(dir) => dir,
            None => CaptchaDir::new()?,
        };
        let dir = self.captchas.insert(dir);
        let file = dir.write(image, media_type)?;
        if self.interactive && captcha_art::colour_allowed() {
            let columns = captcha_art::terminal_columns();
            if let Some(drawing) = captcha_art::render(image, media_type, columns) {
                prompt_inline(&drawing);
            }
        }
        announce(&format!("captcha image: {}", file.path().display()));
        if self.interactive {
            prompt_inline("Characters in the captcha image: ");
        } else {
            announce("Captcha:");
        }
        let answer = read_line("the captcha text".into()).await;
        drop(file);
        answer
    }

    pub async fn code(
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
        read_line("the code".into()).await
    }
}

/// One line of stdin, without its line ending.
async fn read_line(what: String) -> Result<SecretString> {
    blocking(move || {
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
    })
    .await
}

/// A line from the terminal without echo, after `prompt` (shown on the terminal) if any.
async fn read_hidden(prompt: Option<String>, what: String) -> Result<SecretString> {
    blocking(move || {
        match prompt {
            Some(prompt) => rpassword::prompt_password(prompt),
            None => rpassword::read_password(),
        }
        .map(SecretString::new)
        .map_err(|e| Error::invalid_input(format!("cannot read {what}: {e}")))
    })
    .await
}

async fn blocking<T: Send + 'static>(
    read: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(read)
        .await
        .map_err(|e| Error::internal(format!("a prompt failed: {e}")))?
}

fn announce(line: &str) {
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{line}");
    let _ = err.flush();
}

/// A warning or notice on stderr, one line.
pub fn notice(line: &str) {
    announce(line);
}

fn prompt_inline(text: &str) {
    let mut err = io::stderr().lock();
    let _ = write!(err, "{text}");
    let _ = err.flush();
}
