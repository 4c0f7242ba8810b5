//! The command line, as the CLI contract fixes it (docs/architecture.md "CLI contract").

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// The command line, or exit: help and version on stdout (0), usage errors on stderr (2) with
/// every `KEY=VALUE` argument shown as `KEY=…`, since its value may be a secret that clap would
/// otherwise repeat (e.g. `unexpected argument 'appsecret=…'`).
pub fn parse() -> Cli {
    match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            let args: Vec<String> = std::env::args_os()
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            eprint!("{}", redact_values(&e.render().to_string(), &args));
            std::process::exit(e.exit_code());
        }
    }
}

/// `text` with every `KEY=VALUE` found in `args` (an argument itself, or the value of a
/// `--flag=KEY=VALUE`) replaced by `KEY=…`.
fn redact_values(text: &str, args: &[String]) -> String {
    let mut pairs: Vec<&str> = Vec::new();
    for arg in args.iter().skip(1) {
        let candidate = match arg.strip_prefix("--") {
            Some(flag) => flag.split_once('=').map(|(_, value)| value),
            None => Some(arg.as_str()),
        };
        if let Some(pair) = candidate.filter(|p| p.contains('=')) {
            pairs.push(pair);
        }
    }
    // Longest first, so that a pair inside another is not half replaced.
    pairs.sort_by_key(|p| std::cmp::Reverse(p.len()));
    let mut text = text.to_owned();
    for pair in pairs {
        let key = pair.split_once('=').map_or("", |(k, _)| k);
        text = text.replace(pair, &format!("{key}=…"));
    }
    text
}

const AFTER_HELP: &str = "\
Examples:
  lanyard add sscms --user demo --endpoint https://cms.example.com --remember-password
  echo \"$PASSWORD\" | lanyard add steedos --user alice@example.com --endpoint http://localhost:5000 --password-stdin
  lanyard list
  lanyard use sscms/demo
  curl -H \"$(lanyard token sscms --as header)\" https://cms.example.com/api/v1/users/1
  eval \"$(lanyard token coolkit --as env)\"
  lanyard exec sscms -- sh -c 'curl -H \"$LANYARD_TOKEN_HEADER\" \"$LANYARD_ENDPOINT/api/v1/users/1\"'
  lanyard api shopxo personal/index
  lanyard export accounts.age        (then on the new machine: lanyard import accounts.age)

A service id where a name is expected (token, exec, api) stands for the account chosen last for
that service with `use` (or the star in the window), whichever server it is on.

Exit codes: 0 ok, 2 usage, 3 needs login, 4 credentials rejected, 5 network or server error,
6 challenge failed (wrong captcha or code), 7 secret store unavailable (locked, missing, wrong
passphrase, corrupted). `exec` exits with its command's status once the command has started;
`import` exits 4 for a wrong export passphrase.

On a terminal a wrong captcha or code may be answered again (a fresh captcha image each time),
up to 5 answers; scripts (standard input not a terminal) get one.";

#[derive(Debug, Parser)]
#[command(name = "lanyard", version, about = "Log in to many services, keep the sessions alive, hand out tokens.", after_help = AFTER_HELP)]
pub struct Cli {
    /// Where Lanyard keeps its database (default: $LANYARD_DATA_DIR, else the platform data dir).
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the supported services, their options and capabilities.
    Services {
        #[arg(long)]
        json: bool,
    },
    /// Register an account, then log in (unless --no-login).
    #[command(after_help = "Examples:
  lanyard add coolkit --user alice@example.com --opt appid=APPID --opt appsecret=@appsecret.txt --opt region=eu
  lanyard add shopxo --user 13800000001 --endpoint https://shop.example.com --opt login_type=sms
  printf '%s\\n%s\\n' \"$TOKEN\" \"$PW\" | lanyard add siyuan --user alice --opt api_token=@- --password-stdin

Secret options (appsecret, api_token) need not be on the command line, where other users and
your shell history can read them: --opt KEY=@FILE reads the file's first line, --opt KEY=@-
one line of standard input (before the password), and a missing required one is asked for.")]
    Add {
        /// Service id: steedos, sscms, coolkit, siyuan or shopxo.
        service: String,
        /// User name, email or phone number, as the service wants it.
        #[arg(long)]
        user: String,
        /// Unique name for the account (default: <service>/<user>).
        #[arg(long)]
        name: Option<String>,
        /// Base URL of the server (required for self-hosted services).
        #[arg(long, value_name = "URL")]
        endpoint: Option<String>,
        /// A service option, e.g. --opt region=eu (see `lanyard services`); KEY=@FILE reads the
        /// value from the file's first line, KEY=@- from one line of standard input.
        #[arg(long = "opt", value_name = "KEY=VALUE")]
        options: Vec<String>,
        /// Keep the password in the secret store so sessions can be renewed unattended.
        #[arg(long)]
        remember_password: bool,
        /// Read the password as the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// Only register the account; do not log in now.
        #[arg(long)]
        no_login: bool,
    },
    /// Log in again (prompts for password, captcha and codes as needed).
    Login {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Accounts with service, user, endpoint, state, active flag and expiries.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Make the account the active one of its server, and the one its service id stands for.
    Use { name: String },
    /// Print a usable token; a service id picks the account chosen last for it.
    #[command(after_help = "Formats:
  raw     the token alone
  header  the header line the service expects, e.g. `X-SS-USER-TOKEN: …`
  json    {\"account\",\"service\",\"token\",\"expires_at\",\"header\":{\"name\",\"value\"}}
  env     LANYARD_TOKEN=… lines for `eval`")]
    Token {
        /// Account name, or a service id for the account chosen last for it.
        target: String,
        #[arg(long = "as", value_enum, default_value_t = TokenAs::Raw)]
        format: TokenAs,
    },
    /// Run a command with a fresh token in its environment.
    #[command(
        after_help = "The command gets the variables of `token --as env` (LANYARD_TOKEN, \
LANYARD_TOKEN_HEADER or LANYARD_TOKEN_QUERY_NAME/VALUE, LANYARD_ACCOUNT, LANYARD_SERVICE, \
LANYARD_EXPIRES_AT) plus LANYARD_ENDPOINT, the account's API base. Its exit status is \
Lanyard's (128+n when signal n ended it); SIGINT, SIGTERM and SIGHUP are passed on to it.

Examples:
  lanyard exec sscms -- sh -c 'curl -H \"$LANYARD_TOKEN_HEADER\" \"$LANYARD_ENDPOINT/api/v1/users/2\"'
  lanyard exec coolkit --min-ttl 2h -- ./nightly-sync.sh"
    )]
    Exec {
        /// Account name, or a service id for the account chosen last for it.
        target: String,
        /// Renew first when the session would expire within this, e.g. 90s, 10m, 2h, 1d
        /// (default: the warning window).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        min_ttl: Option<std::time::Duration>,
        /// The command and its arguments, after `--`.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<std::ffi::OsString>,
    },
    /// One authenticated request to the account's API; the body goes to stdout.
    #[command(
        after_help = "PATH is relative to the account's API (for ShopXO: the s= route, \
e.g. personal/index). The token is placed as the service wants it; when the server says the \
session is gone, Lanyard renews it once and retries once.

Examples:
  lanyard api sscms /api/v1/users/2
  lanyard api shopxo personal/index
  lanyard api coolkit /v2/user/profile --include
  lanyard api steedos /api/v4/users/validate -X POST -f utcOffset=8
  lanyard api siyuan /api/system/version -X POST --input - < body.json

Exit codes: 0 for a 2xx or 3xx answer, 4 for 401/403, 5 for any other error status (the body
is still printed) or a network error."
    )]
    Api {
        /// Account name, or a service id for the account chosen last for it.
        target: String,
        /// The path under the account's API, with an optional ?query.
        path: String,
        /// The HTTP method (default: GET, or POST when there is a body).
        #[arg(short = 'X', long = "method", value_name = "METHOD")]
        method: Option<String>,
        /// A field: for GET a query parameter, else a member of a JSON body (string value).
        #[arg(short = 'f', long = "field", value_name = "KEY=VALUE")]
        fields: Vec<String>,
        /// The request body from a file, or `-` for standard input.
        #[arg(long, value_name = "FILE|-", conflicts_with = "fields")]
        input: Option<String>,
        /// An extra request header.
        #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
        headers: Vec<String>,
        /// Print the status line and the response headers before the body.
        #[arg(short = 'i', long)]
        include: bool,
    },
    /// Keep-alive now: refresh, re-validate or silently re-login.
    Refresh {
        name: String,
        /// Refresh even if the session is still fresh.
        #[arg(long)]
        force: bool,
    },
    /// Tell the server (where the protocol allows) and forget the session.
    Logout { name: String },
    /// Delete the account and all its secrets.
    Remove { name: String },
    /// One line per account: state and time left.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Write every account (options, remembered passwords, secret options) to FILE, encrypted
    /// with a passphrase in the age format; sessions stay behind.
    #[command(
        after_help = "The passphrase is asked twice on a terminal (without echo); over \
pipes it is one line of standard input after the prompt line `Export passphrase:`; or the first \
line of the file named by LANYARD_EXPORT_PASSPHRASE_FILE. FILE is written readable by you only \
(0600), never over an existing file unless --force. `age -d FILE` opens it too (JSON inside).

Sessions and tokens are not exported: on the new machine each account logs in again, by itself \
with `lanyard login NAME` where the password is remembered.

Examples:
  lanyard export ~/lanyard-accounts.age
  LANYARD_EXPORT_PASSPHRASE_FILE=~/.export-pass lanyard export accounts.age --force"
    )]
    Export {
        /// The file to write.
        file: PathBuf,
        /// Replace FILE if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Add the accounts of a file made by `lanyard export`; existing ones are never replaced.
    #[command(
        after_help = "The passphrase comes as for `export` (asked once). An account \
whose name, or whose service, server and user, exists here already is skipped and named on \
stderr; nothing is overwritten. Active and default choices come along for services this \
machine had no account of.

Exit codes: 0 when at least one account was imported; 2 when none was (all exist already, or \
the file is not a Lanyard export); 4 for a wrong passphrase (nothing is changed); 7 when the \
secret store cannot be used."
    )]
    Import {
        /// The file `lanyard export` wrote.
        file: PathBuf,
    },
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `90s`, `10m`, `2h`, `1d`, or a number of seconds.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration; use e.g. 90s, 10m, 2h or 1d"))?;
    let unit_secs = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("'{text}': the unit must be s, m, h or d")),
    };
    number
        .checked_mul(unit_secs)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("'{text}' is too long"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenAs {
    Raw,
    Header,
    Json,
    Env,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_have_units() {
        use std::time::Duration;
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("10 weeks").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn exec_takes_the_command_after_the_double_dash() {
        let cli = Cli::try_parse_from([
            "lanyard",
            "exec",
            "sscms",
            "--min-ttl",
            "10m",
            "--",
            "sh",
            "-c",
            "x",
        ])
        .unwrap();
        match cli.command {
            Command::Exec {
                target,
                min_ttl,
                command,
            } => {
                assert_eq!(target, "sscms");
                assert_eq!(min_ttl, Some(std::time::Duration::from_secs(600)));
                assert_eq!(command, ["sh", "-c", "x"]);
            }
            other => panic!("{other:?}"),
        }
        assert!(Cli::try_parse_from(["lanyard", "exec", "sscms"]).is_err());
    }

    #[test]
    fn usage_errors_show_no_option_value() {
        let args: Vec<String> = [
            "lanyard",
            "add",
            "coolkit",
            "--user",
            "x",
            "--opt=appid=SEKRIT2=x",
            "appsecret=SEKRIT1",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        let e = Cli::try_parse_from(&args).unwrap_err();
        let raw = e.render().to_string();
        assert!(raw.contains("SEKRIT1"), "clap repeats it: {raw}");
        let shown = redact_values(&raw, &args);
        assert!(!shown.contains("SEKRIT"), "{shown}");
        assert!(shown.contains("appsecret=…"), "{shown}");
    }
}
