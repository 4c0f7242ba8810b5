//! How a token is handed to people and scripts: the four `--as` formats of the CLI contract
//! (docs/architecture.md): `raw`, `header`, `json`, `env`; and `query`, the `name=value` form
//! of services that take the token as a query parameter (ShopXO), which the desktop app copies.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{Account, ServiceId};
use crate::secret::SecretString;
use crate::services::{Credential, CredentialPlace};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenFormat {
    /// The token itself.
    #[default]
    Raw,
    /// The header line the service expects, e.g. `X-SS-USER-TOKEN: …`.
    Header,
    /// `{"account","service","token","expires_at","header","query"}`.
    Json,
    /// `LANYARD_TOKEN=…` lines, quoted for a POSIX shell.
    Env,
    /// The query parameter the service expects, e.g. `token=…` (ShopXO only).
    Query,
    /// A `curl` command line for a call to the service's API that needs the session, the
    /// token placed as the service wants it (`curl -H 'X-SS-USER-TOKEN: …' 'https://…'`).
    Curl,
}

impl TokenFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenFormat::Raw => "raw",
            TokenFormat::Header => "header",
            TokenFormat::Json => "json",
            TokenFormat::Env => "env",
            TokenFormat::Query => "query",
            TokenFormat::Curl => "curl",
        }
    }

    /// The form a service expects the token in when it is handed over as is (the tray's copy):
    /// where the service's calls carry it ([`crate::services::Service::credential_place`]).
    pub fn for_service(service: ServiceId) -> TokenFormat {
        match service.service().credential_place() {
            CredentialPlace::Header => TokenFormat::Header,
            CredentialPlace::Query => TokenFormat::Query,
        }
    }
}

impl fmt::Display for TokenFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TokenFormat {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "raw" => Ok(TokenFormat::Raw),
            "header" => Ok(TokenFormat::Header),
            "json" => Ok(TokenFormat::Json),
            "env" => Ok(TokenFormat::Env),
            "query" => Ok(TokenFormat::Query),
            "curl" => Ok(TokenFormat::Curl),
            _ => Err(Error::invalid_input(format!(
                "unknown token format '{s}'; expected one of: raw, header, json, env, query, curl"
            ))),
        }
    }
}

/// Everything a rendering needs. `token` is the session's access token; `credential` is how the
/// service wants it carried (header or query parameter, possibly with a prefix such as `Bearer `).
pub struct TokenParts<'a> {
    pub account: &'a Account,
    pub token: &'a SecretString,
    pub expires_at: Option<DateTime<Utc>>,
    pub credential: &'a Credential,
}

#[derive(Serialize)]
struct NameValue<'a> {
    name: &'a str,
    value: &'a str,
}

#[derive(Serialize)]
struct JsonToken<'a> {
    account: &'a str,
    service: ServiceId,
    token: &'a str,
    expires_at: Option<String>,
    header: Option<NameValue<'a>>,
    query: Option<NameValue<'a>>,
}

/// Renders the token. The result holds the secret: callers print it and drop it, nothing else.
/// No trailing newline.
pub fn render(format: TokenFormat, parts: &TokenParts<'_>) -> Result<SecretString> {
    let account = parts.account;
    let token = parts.token.expose();
    let (header, query) = match parts.credential {
        Credential::Header { name, value } => (Some((name.as_str(), value.expose())), None),
        Credential::Query { name, value } => (None, Some((name.as_str(), value.expose()))),
    };
    if [Some(token), header.map(|h| h.1), query.map(|q| q.1)]
        .into_iter()
        .flatten()
        .any(has_control)
    {
        return Err(Error::server(format!(
            "the token of '{}' contains control characters; log in again",
            account.name
        )));
    }
    let text = match format {
        TokenFormat::Raw => token.to_owned(),
        TokenFormat::Header => match (header, query) {
            (Some((name, value)), _) => format!("{name}: {value}"),
            (None, Some((name, _))) => {
                return Err(Error::invalid_input(format!(
                    "{} takes the token as the query parameter `{name}`, not as a header; use --as raw, json or env",
                    service_name(account.service)
                )));
            }
            (None, None) => unreachable!("a credential is a header or a query parameter"),
        },
        TokenFormat::Query => match (header, query) {
            (_, Some((name, value))) => format!("{name}={value}"),
            (Some((name, _)), None) => {
                return Err(Error::invalid_input(format!(
                    "{} takes the token in the `{name}` header, not as a query parameter; use the raw or header form",
                    service_name(account.service)
                )));
            }
            (None, None) => unreachable!("a credential is a header or a query parameter"),
        },
        TokenFormat::Json => {
            let doc = JsonToken {
                account: &account.name,
                service: account.service,
                token,
                expires_at: parts
                    .expires_at
                    .map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
                header: header.map(|(name, value)| NameValue { name, value }),
                query: query.map(|(name, value)| NameValue { name, value }),
            };
            serde_json::to_string(&doc)
                .map_err(|e| Error::internal(format!("cannot write JSON: {e}")))?
        }
        TokenFormat::Curl => {
            return Err(Error::internal(
                "a curl command is built from the API call (token::curl_command)",
            ));
        }
        TokenFormat::Env => env_vars(parts)
            .iter()
            .map(|(name, value)| env_line(name, value.expose()))
            .collect::<Vec<_>>()
            .join("\n"),
    };
    Ok(SecretString::new(text))
}

/// The variables of `token --as env` (and of the environment `exec` gives its command), with
/// their values unquoted. Each value may be a secret.
pub fn env_vars(parts: &TokenParts<'_>) -> Vec<(&'static str, SecretString)> {
    let account = parts.account;
    let mut vars = vec![
        ("LANYARD_TOKEN", parts.token.clone()),
        ("LANYARD_ACCOUNT", SecretString::new(account.name.clone())),
        (
            "LANYARD_SERVICE",
            SecretString::new(account.service.as_str()),
        ),
    ];
    if let Some(at) = parts.expires_at {
        vars.push((
            "LANYARD_EXPIRES_AT",
            SecretString::new(at.to_rfc3339_opts(SecondsFormat::Secs, true)),
        ));
    }
    match parts.credential {
        Credential::Header { name, value } => {
            vars.push((
                "LANYARD_TOKEN_HEADER",
                SecretString::new(format!("{name}: {}", value.expose())),
            ));
            vars.push(("LANYARD_TOKEN_HEADER_NAME", SecretString::new(name.clone())));
            vars.push(("LANYARD_TOKEN_HEADER_VALUE", value.clone()));
        }
        Credential::Query { name, value } => {
            vars.push(("LANYARD_TOKEN_QUERY_NAME", SecretString::new(name.clone())));
            vars.push(("LANYARD_TOKEN_QUERY_VALUE", value.clone()));
        }
    }
    vars
}

fn service_name(id: ServiceId) -> &'static str {
    id.spec().display_name
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// `curl` for one API call: `curl [-X METHOD] -H 'Name: value'… 'URL'`, every word quoted for a
/// POSIX shell where it needs it. Holds the secret: callers hand it over and drop it.
pub fn curl_command(method: &str, target: &crate::api::ApiTarget) -> Result<SecretString> {
    let mut words = vec!["curl".to_owned()];
    let method = method.trim().to_ascii_uppercase();
    if method != "GET" {
        words.push("-X".into());
        words.push(shell_quote(&method));
    }
    for (name, value) in &target.headers {
        if has_control(name) || has_control(value.expose()) {
            return Err(Error::server(
                "the token contains control characters; log in again",
            ));
        }
        words.push("-H".into());
        words.push(shell_quote(&format!("{name}: {}", value.expose())));
    }
    words.push(shell_quote(target.url.as_str()));
    Ok(SecretString::new(words.join(" ")))
}

/// `NAME=value`, the value single-quoted for a POSIX shell unless it is made only of characters
/// no shell treats specially.
fn env_line(name: &str, value: &str) -> String {
    format!("{name}={}", shell_quote(value))
}

pub(crate) fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.,:/@%+=".contains(c));
    if plain {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn account(service: ServiceId) -> Account {
        Account {
            id: "id".into(),
            name: format!("{service}/ann"),
            service,
            user: "ann".into(),
            endpoint: "https://x.example".into(),
            options: BTreeMap::new(),
            remember_password: false,
            active: true,
            created_at: Utc::now(),
        }
    }

    fn header(name: &str, value: &str) -> Credential {
        Credential::Header {
            name: name.into(),
            value: value.into(),
        }
    }

    fn render_str(
        format: TokenFormat,
        account: &Account,
        token: &str,
        credential: &Credential,
    ) -> Result<String> {
        let token = SecretString::new(token);
        let expires_at = Some(
            DateTime::parse_from_rfc3339("2030-01-02T03:04:05Z")
                .unwrap()
                .with_timezone(&Utc),
        );
        render(
            format,
            &TokenParts {
                account,
                token: &token,
                expires_at,
                credential,
            },
        )
        .map(|s| s.expose().to_owned())
    }

    #[test]
    fn formats_parse() {
        for f in [
            TokenFormat::Raw,
            TokenFormat::Header,
            TokenFormat::Json,
            TokenFormat::Env,
            TokenFormat::Query,
            TokenFormat::Curl,
        ] {
            assert_eq!(f.as_str().parse::<TokenFormat>().unwrap(), f);
        }
        assert_eq!("JSON".parse::<TokenFormat>().unwrap(), TokenFormat::Json);
        let e = "yaml".parse::<TokenFormat>().unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidInput);
        assert!(e.message.contains("raw, header, json, env, query, curl"));
    }

    #[test]
    fn curl_commands_evaluate_back_in_a_shell() {
        let tricky = "a'b $HOME `x`";
        let target = crate::api::ApiTarget {
            url: url::Url::parse("http://h:1/api.php?s=personal%2Findex&token=t&x=1").unwrap(),
            headers: vec![("X-SS-USER-TOKEN".into(), SecretString::new(tricky))],
        };
        let cmd = curl_command("get", &target).unwrap();
        assert_eq!(
            cmd.expose(),
            r"curl -H 'X-SS-USER-TOKEN: a'\''b $HOME `x`' 'http://h:1/api.php?s=personal%2Findex&token=t&x=1'"
        );
        let post = curl_command("post", &target).unwrap();
        assert!(post.expose().starts_with("curl -X POST -H "));
        if std::process::Command::new("sh")
            .arg("-c")
            .arg("true")
            .status()
            .is_err()
        {
            return;
        }
        // The words a shell makes of it are the ones meant.
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "set -- {}; printf '%s\\n' \"$@\"",
                cmd.expose().trim_start_matches("curl ")
            ))
            .output()
            .unwrap();
        let words = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            words.lines().collect::<Vec<_>>(),
            [
                "-H",
                "X-SS-USER-TOKEN: a'b $HOME `x`",
                "http://h:1/api.php?s=personal%2Findex&token=t&x=1"
            ]
        );
        let bad = crate::api::ApiTarget {
            url: target.url.clone(),
            headers: vec![("X".into(), SecretString::new("a\r\nb"))],
        };
        assert!(curl_command("GET", &bad).is_err());
    }

    #[test]
    fn raw_is_the_token_alone() {
        let a = account(ServiceId::Coolkit);
        let c = header("Authorization", "Bearer at-123");
        assert_eq!(
            render_str(TokenFormat::Raw, &a, "at-123", &c).unwrap(),
            "at-123"
        );
    }

    #[test]
    fn header_is_the_line_the_service_expects() {
        let a = account(ServiceId::Sscms);
        let c = header("X-SS-USER-TOKEN", "jwt.abc.def");
        assert_eq!(
            render_str(TokenFormat::Header, &a, "jwt.abc.def", &c).unwrap(),
            "X-SS-USER-TOKEN: jwt.abc.def"
        );
        let a = account(ServiceId::Coolkit);
        let c = header("Authorization", "Bearer at-123");
        assert_eq!(
            render_str(TokenFormat::Header, &a, "at-123", &c).unwrap(),
            "Authorization: Bearer at-123"
        );
    }

    #[test]
    fn json_has_the_contract_fields() {
        let a = account(ServiceId::Coolkit);
        let c = header("Authorization", "Bearer at-123");
        let out = render_str(TokenFormat::Json, &a, "at-123", &c).unwrap();
        assert!(!out.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "account": "coolkit/ann",
                "service": "coolkit",
                "token": "at-123",
                "expires_at": "2030-01-02T03:04:05Z",
                "header": {"name": "Authorization", "value": "Bearer at-123"},
                "query": null,
            })
        );
        // Unknown expiry is null.
        let token = SecretString::new("t");
        let out = render(
            TokenFormat::Json,
            &TokenParts {
                account: &a,
                token: &token,
                expires_at: None,
                credential: &c,
            },
        )
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(out.expose()).unwrap();
        assert_eq!(v["expires_at"], serde_json::Value::Null);
    }

    #[test]
    fn shopxo_query_form() {
        let a = account(ServiceId::Shopxo);
        let c = Credential::Query {
            name: "token".into(),
            value: "f00d".into(),
        };
        assert_eq!(
            render_str(TokenFormat::Raw, &a, "f00d", &c).unwrap(),
            "f00d"
        );
        let e = render_str(TokenFormat::Header, &a, "f00d", &c).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidInput);
        assert!(
            e.message.contains("query parameter `token`"),
            "{}",
            e.message
        );
        assert!(e.message.contains("--as raw, json or env"), "{}", e.message);
        assert!(!e.message.contains("f00d"));
        let v: serde_json::Value =
            serde_json::from_str(&render_str(TokenFormat::Json, &a, "f00d", &c).unwrap()).unwrap();
        assert_eq!(v["header"], serde_json::Value::Null);
        assert_eq!(
            v["query"],
            serde_json::json!({"name": "token", "value": "f00d"})
        );
        assert_eq!(v["token"], "f00d");
        assert_eq!(v["service"], "shopxo");
        let env = render_str(TokenFormat::Env, &a, "f00d", &c).unwrap();
        assert!(env.lines().any(|l| l == "LANYARD_TOKEN=f00d"), "{env}");
        assert!(
            env.lines().any(|l| l == "LANYARD_TOKEN_QUERY_NAME=token"),
            "{env}"
        );
        assert!(
            env.lines().any(|l| l == "LANYARD_TOKEN_QUERY_VALUE=f00d"),
            "{env}"
        );
        assert!(!env.contains("HEADER"));
        assert_eq!(
            render_str(TokenFormat::Query, &a, "f00d", &c).unwrap(),
            "token=f00d"
        );
        assert_eq!(
            TokenFormat::for_service(ServiceId::Shopxo),
            TokenFormat::Query
        );
    }

    #[test]
    fn header_services_have_no_query_form() {
        let a = account(ServiceId::Sscms);
        let c = header("X-SS-USER-TOKEN", "jwt.abc.def");
        let e = render_str(TokenFormat::Query, &a, "jwt.abc.def", &c).unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidInput);
        assert!(
            e.message.contains("`X-SS-USER-TOKEN` header"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("jwt"));
        assert_eq!(
            TokenFormat::for_service(ServiceId::Sscms),
            TokenFormat::Header
        );
    }

    #[test]
    fn env_lines_are_shell_safe() {
        let a = account(ServiceId::Coolkit);
        let c = header("Authorization", "Bearer it's");
        let env = render_str(TokenFormat::Env, &a, "it's", &c).unwrap();
        let lines: Vec<_> = env.lines().collect();
        assert_eq!(lines[0], r"LANYARD_TOKEN='it'\''s'");
        assert!(lines.contains(&"LANYARD_ACCOUNT=coolkit/ann"));
        assert!(lines.contains(&"LANYARD_SERVICE=coolkit"));
        assert!(lines.contains(&"LANYARD_EXPIRES_AT=2030-01-02T03:04:05Z"));
        assert!(lines.contains(&r"LANYARD_TOKEN_HEADER='Authorization: Bearer it'\''s'"));
        assert!(lines.contains(&"LANYARD_TOKEN_HEADER_NAME=Authorization"));
        assert_eq!(shell_quote("a b$c`d"), "'a b$c`d'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("eyJ0.x-y_z=="), "eyJ0.x-y_z==");
    }

    #[test]
    fn env_output_evaluates_back_in_a_shell() {
        if std::process::Command::new("sh")
            .arg("-c")
            .arg("true")
            .status()
            .is_err()
        {
            return;
        }
        let a = account(ServiceId::Sscms);
        let tricky = "a'b\"c $HOME `x` \\ ;|&";
        let c = header("X-SS-USER-TOKEN", tricky);
        let env = render_str(TokenFormat::Env, &a, tricky, &c).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{env}\nprintf %s \"$LANYARD_TOKEN\""))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), tricky);
    }

    #[test]
    fn control_characters_are_refused_without_echoing_the_token() {
        let a = account(ServiceId::Sscms);
        let c = header("X-SS-USER-TOKEN", "abc\r\nX-Evil: 1");
        let e = render_str(TokenFormat::Header, &a, "abc\r\nX-Evil: 1", &c).unwrap_err();
        assert!(!e.message.contains("abc"));
    }
}
