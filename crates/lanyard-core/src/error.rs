//! One error type for the whole core. The `code` is stable: the UI branches on it, the CLI maps
//! it to exit codes. The `message` is for people; `server_message` keeps the service's own words;
//! `field` names what a person typed wrong, so a form marks that field without reading the
//! message.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The caller gave something malformed (bad option, unknown service, empty user...).
    InvalidInput,
    /// No account (or flow) by that name.
    NotFound,
    /// An account with the same name or (service, endpoint, user) exists.
    AlreadyExists,
    /// There is no usable session and none can be obtained without a person.
    NeedsLogin,
    /// The service said the user name or password is wrong (or the account is locked).
    CredentialsRejected,
    /// A captcha or a second-factor code was wrong or expired.
    ChallengeFailed,
    /// The server could not be reached, timed out or dropped the connection.
    Network,
    /// The server answered, but with an error status or something we do not understand.
    ServerError,
    /// The service does not offer this operation (e.g. logout on ShopXO).
    Unsupported,
    /// The secret store (keyring or encrypted file) cannot be used right now.
    SecretStore,
    /// The metadata database failed.
    Storage,
    /// A login flow was cancelled or superseded.
    Cancelled,
    /// A bug: something that should not happen.
    Internal,
}

impl ErrorCode {
    /// Exit codes of the CLI contract (docs/architecture.md "CLI contract"): 2 usage, 3 needs
    /// login, 4 credentials rejected, 5 network or server error, 6 challenge failed, 7 secret store
    /// unavailable (locked, missing, wrong passphrase, corrupted). What the contract has no
    /// code for, a broken metadata database or a bug, exits 1.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorCode::InvalidInput | ErrorCode::NotFound | ErrorCode::AlreadyExists => 2,
            ErrorCode::NeedsLogin | ErrorCode::Cancelled => 3,
            ErrorCode::CredentialsRejected => 4,
            ErrorCode::Network | ErrorCode::ServerError => 5,
            ErrorCode::ChallengeFailed => 6,
            ErrorCode::Unsupported => 2,
            ErrorCode::SecretStore => 7,
            ErrorCode::Storage | ErrorCode::Internal => 1,
        }
    }

    /// Whether retrying later may help (keep-alive backs off on these instead of giving up).
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            ErrorCode::Network | ErrorCode::ServerError | ErrorCode::SecretStore
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, ts_rs::TS)]
#[error("{message}")]
#[ts(rename = "CommandError")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    /// The server's own text, verbatim (e.g. "帐号或密码错误"), when it gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub server_message: Option<String>,
    /// The form field the error concerns, when it is about one: `name`, `user`, `endpoint`, or
    /// `options.<key>` for a service option.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub field: Option<String>,
    /// The `message` as a code and parameters, where it has them, for a window to word in its
    /// language (the `message` stays the English the CLI prints).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub said: Option<Box<Said>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            server_message: None,
            field: None,
            said: None,
        }
    }
    /// Marks the form field the error concerns; a field already named stays.
    pub fn for_field(mut self, field: impl Into<String>) -> Self {
        self.field.get_or_insert_with(|| field.into());
        self
    }
    /// Marks a service option as the field the error concerns (`options.<key>`).
    pub fn for_option(self, key: &str) -> Self {
        self.for_field(format!("options.{key}"))
    }
    /// Says the message as a code and parameters too (see [`Error::said`]).
    pub fn with_said(mut self, said: Said) -> Self {
        self.said = Some(Box::new(said));
        self
    }
    pub fn with_server_message(mut self, text: impl Into<String>) -> Self {
        let text = text.into();
        if !text.is_empty() {
            self.server_message = Some(text);
        }
        self
    }
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidInput, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }
    pub fn needs_login(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NeedsLogin, message)
    }
    pub fn credentials_rejected(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::CredentialsRejected, message)
    }
    pub fn challenge_failed(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ChallengeFailed, message)
    }
    pub fn network(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Network, message)
    }
    pub fn server(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ServerError, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unsupported, message)
    }
    pub fn secret_store(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::SecretStore, message)
    }
    pub fn storage(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Storage, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    /// One line for a terminal: the message, then the server's words if they add anything.
    pub fn display_line(&self) -> String {
        match &self.server_message {
            Some(s) if !self.message.contains(s.as_str()) => {
                format!("{} (server said: {s})", self.message)
            }
            _ => self.message.clone(),
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::storage(format!("database error: {e}"))
    }
}

/// What an event or an error says, language-neutral: a code (`logged_in`, `error`,
/// `needs_login`, `http_status`…) and its parameters (account facts, a reason or error code, the
/// server's own words verbatim). The CLI prints English; a window words it in its language.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct Said {
    pub code: String,
    pub params: BTreeMap<String, String>,
}

impl Said {
    pub fn new(code: &str) -> Said {
        Said {
            code: code.to_owned(),
            params: BTreeMap::new(),
        }
    }

    /// Adds a parameter.
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Said {
        self.params.insert(key.to_owned(), value.into());
        self
    }

    /// An error as said to the person: its code, its message, and the server's words if any.
    pub fn error(code: &str, e: &Error) -> Said {
        let mut said = Said::new(code)
            .with("error", wire_name(&e.code))
            .with("detail", e.message.clone());
        if let Some(server) = &e.server_message {
            said = said.with("server", server.clone());
        }
        // The detail as a code too, when it has one (`why` and its parameters).
        if let Some(detail) = &e.said {
            said = said.with("why", detail.code.clone());
            for (key, value) in &detail.params {
                said.params
                    .entry(key.clone())
                    .or_insert_with(|| value.clone());
            }
        }
        said
    }

    /// Words that came without a code (a retry reason stored before reasons had codes): the
    /// generic code `failed`, the words kept verbatim as `server` so nothing is lost.
    pub fn uncoded(words: &str) -> Said {
        Said::new(Said::UNCODED).with("server", words)
    }

    /// The code of [`Said::uncoded`].
    pub const UNCODED: &'static str = "failed";

    /// An error said by [`Said::error`] (or [`Said::uncoded`]) as the one English line the CLI
    /// prints, like [`Error::display_line`]: the detail, then the server's words if they add
    /// anything.
    pub fn error_line(&self) -> String {
        let detail = self.params.get("detail").map(String::as_str).unwrap_or("");
        match self.params.get("server") {
            Some(server) if detail.is_empty() => server.clone(),
            Some(server) if !detail.contains(server.as_str()) => {
                format!("{detail} (server said: {server})")
            }
            _ => detail.to_owned(),
        }
    }
}

/// Words without a code: [`Said::uncoded`].
impl From<&str> for Said {
    fn from(words: &str) -> Said {
        Said::uncoded(words)
    }
}

/// The name a unit variant (an error code, a needs-login reason) has on the wire.
pub(crate) fn wire_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_is_said_with_its_detail_code_and_the_server_words() {
        let e = Error::server("x.example answered HTTP 502 Bad Gateway")
            .with_server_message("upstream down")
            .with_said(
                Said::new("http_status")
                    .with("host", "x.example")
                    .with("status", "502"),
            );
        let said = Said::error("error", &e);
        assert_eq!(said.code, "error");
        let params: Vec<(&str, &str)> = said
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            params,
            [
                ("detail", "x.example answered HTTP 502 Bad Gateway"),
                ("error", "server_error"),
                ("host", "x.example"),
                ("server", "upstream down"),
                ("status", "502"),
                ("why", "http_status"),
            ]
        );
        assert_eq!(
            said.error_line(),
            "x.example answered HTTP 502 Bad Gateway (server said: upstream down)"
        );
    }

    #[test]
    fn exit_codes_follow_the_cli_contract() {
        let cases = [
            (ErrorCode::InvalidInput, 2),
            (ErrorCode::NotFound, 2),
            (ErrorCode::AlreadyExists, 2),
            (ErrorCode::Unsupported, 2),
            (ErrorCode::NeedsLogin, 3),
            (ErrorCode::Cancelled, 3),
            (ErrorCode::CredentialsRejected, 4),
            (ErrorCode::Network, 5),
            (ErrorCode::ServerError, 5),
            (ErrorCode::ChallengeFailed, 6),
            (ErrorCode::SecretStore, 7),
            (ErrorCode::Storage, 1),
            (ErrorCode::Internal, 1),
        ];
        for (code, exit) in cases {
            assert_eq!(code.exit_code(), exit, "{code:?}");
        }
    }
}
