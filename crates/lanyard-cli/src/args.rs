//! The command line, as DESIGN.md "CLI contract" fixes it.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  lanyard add sscms --user demo --endpoint https://cms.example.com --remember-password
  echo \"$PASSWORD\" | lanyard add steedos --user alice@example.com --endpoint http://localhost:5000 --password-stdin
  lanyard list
  lanyard use sscms/demo
  curl -H \"$(lanyard token sscms --as header)\" https://cms.example.com/api/v1/users/1
  eval \"$(lanyard token coolkit --as env)\"

Exit codes: 0 ok, 2 usage, 3 needs login, 4 credentials rejected, 5 network or server error,
6 challenge failed (wrong captcha or code).";

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
  lanyard add coolkit --user alice@example.com --opt appid=APPID --opt appsecret=SECRET --opt region=eu
  lanyard add shopxo --user 13800000001 --endpoint https://shop.example.com --opt login_type=sms
  printf '%s\\n' \"$PW\" | lanyard add siyuan --user alice --opt api_token=TOKEN --password-stdin")]
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
        /// A service option, e.g. --opt region=eu (see `lanyard services`).
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
    /// Make the account the active one of its service endpoint.
    Use { name: String },
    /// Print a usable token; a service id picks its active account.
    #[command(after_help = "Formats:
  raw     the token alone
  header  the header line the service expects, e.g. `X-SS-USER-TOKEN: …`
  json    {\"account\",\"service\",\"token\",\"expires_at\",\"header\":{\"name\",\"value\"}}
  env     LANYARD_TOKEN=… lines for `eval`")]
    Token {
        /// Account name, or a service id for its active account.
        target: String,
        #[arg(long = "as", value_enum, default_value_t = TokenAs::Raw)]
        format: TokenAs,
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
    /// Print shell completions.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TokenAs {
    Raw,
    Header,
    Json,
    Env,
}
