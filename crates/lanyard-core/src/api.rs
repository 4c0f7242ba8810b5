//! One authenticated call to an account's own API (`lanyard api`): what the caller asks for
//! ([`ApiCall`]) and where the service says it goes ([`ApiTarget`], built by
//! [`crate::services::Service::api_target`]). The Manager sends it through [`crate::http::Http`]
//! (deadline, bounded body, no credentials across origins) and renews the session once when the
//! service says the answer means the session is gone ([`crate::services::Service::api_session_lost`]).

use std::fmt;

use url::Url;

use crate::error::{Error, Result};
use crate::secret::SecretString;

/// How the token travels to the service.
#[derive(Debug, Clone)]
pub enum Credential {
    Header { name: String, value: SecretString },
    Query { name: String, value: SecretString },
}

/// What the caller asks for. `path` is relative to the account's API base (for ShopXO, the
/// `s=` route); it may carry a query of its own.
#[derive(Clone, Default)]
pub struct ApiCall {
    /// `GET`, `POST`, … (upper case).
    pub method: String,
    pub path: String,
    /// Extra query parameters (`-f` on a GET).
    pub query: Vec<(String, String)>,
    /// The caller's own headers (`-H`); they may not replace the ones carrying the credential.
    pub headers: Vec<(String, String)>,
    /// The request body, sent as is.
    pub body: Option<Vec<u8>>,
}

impl fmt::Debug for ApiCall {
    // A body or a header may hold a secret of the caller's: show their size and names only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiCall")
            .field("method", &self.method)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("body_len", &self.body.as_ref().map(Vec::len))
            .finish_non_exhaustive()
    }
}

/// Where a call goes and the headers that carry the credential (the URL may carry it too, as
/// ShopXO's `token` parameter).
pub struct ApiTarget {
    pub url: Url,
    pub headers: Vec<(String, SecretString)>,
}

impl fmt::Debug for ApiTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiTarget")
            .field("host", &crate::http::host_of(&self.url))
            .field("path", &self.url.path())
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// `path` (with its own query, if any) under `base`. A full URL or a scheme-relative one is
/// refused: the credential goes to the account's server only.
pub fn join(base: &Url, path: &str) -> Result<Url> {
    let path = path.trim();
    if path.contains("://") || path.starts_with("//") {
        return Err(Error::invalid_input(format!(
            "PATH '{path}' names a server; give the path under the account's API ({})",
            base_text(base)
        )));
    }
    let mut text = base.as_str().to_owned();
    if let Some(q) = text.find(['?', '#']) {
        text.truncate(q);
    }
    if !text.ends_with('/') {
        text.push('/');
    }
    text.push_str(path.trim_start_matches('/'));
    let url = Url::parse(&text)
        .map_err(|e| Error::invalid_input(format!("PATH '{path}' does not make a URL: {e}")))?;
    if !crate::http::same_origin(&url, base) {
        return Err(Error::invalid_input(format!(
            "PATH '{path}' leaves the account's API ({})",
            base_text(base)
        )));
    }
    Ok(url)
}

/// The base for messages: scheme, host, port and path; never a query (it may hold a token).
fn base_text(base: &Url) -> String {
    let mut b = base.clone();
    b.set_query(None);
    b.set_fragment(None);
    b.to_string()
}

/// The usual target: `path` under `base`, the credential as the service hands it out (a header,
/// or a query parameter).
pub fn default_target(base: &Url, credential: Credential, path: &str) -> Result<ApiTarget> {
    let mut url = join(base, path)?;
    let mut headers = Vec::new();
    match credential {
        Credential::Header { name, value } => headers.push((name, value)),
        Credential::Query { name, value } => {
            url.query_pairs_mut().append_pair(&name, value.expose());
        }
    }
    Ok(ApiTarget { url, headers })
}

/// The standard reason phrase of an HTTP status (`Not Found`), for status lines Lanyard prints
/// itself rather than repeat the server's.
pub fn reason_phrase(status: u16) -> Option<&'static str> {
    reqwest::StatusCode::from_u16(status)
        .ok()?
        .canonical_reason()
}

/// The `code` (or `error`) number of a JSON answer, for services that say in the body what the
/// HTTP status does not.
pub fn json_code(body: &[u8], key: &str) -> Option<i64> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = value.get(key)?;
    code.as_i64()
        .or_else(|| code.as_str().and_then(|s| s.trim().parse().ok()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_join_under_the_base_and_stay_there() {
        let base = Url::parse("http://h:1/cms/").unwrap();
        assert_eq!(
            join(&base, "/api/v1/users/2?x=1").unwrap().as_str(),
            "http://h:1/cms/api/v1/users/2?x=1"
        );
        let bare = Url::parse("http://h:1").unwrap();
        assert_eq!(join(&bare, "api/x").unwrap().as_str(), "http://h:1/api/x");
        let region = Url::parse("http://h:1/us").unwrap();
        assert_eq!(
            join(&region, "/v2/user/profile").unwrap().as_str(),
            "http://h:1/us/v2/user/profile"
        );
        for bad in ["http://evil.example/x", "//evil.example/x", "https://h:1/x"] {
            let e = join(&base, bad).unwrap_err();
            assert_eq!(e.code, crate::ErrorCode::InvalidInput, "{bad}");
        }
    }

    #[test]
    fn the_credential_goes_where_the_service_wants_it() {
        let base = Url::parse("http://h/api.php").unwrap();
        let t = default_target(
            &Url::parse("http://h/").unwrap(),
            Credential::Header {
                name: "X-SS-USER-TOKEN".into(),
                value: "jwt".into(),
            },
            "/api/v1/users/2",
        )
        .unwrap();
        assert_eq!(t.url.as_str(), "http://h/api/v1/users/2");
        assert_eq!(t.headers[0].0, "X-SS-USER-TOKEN");
        assert!(!format!("{t:?}").contains("jwt"));
        let q = default_target(
            &base,
            Credential::Query {
                name: "token".into(),
                value: "t0k".into(),
            },
            "",
        )
        .unwrap();
        assert_eq!(q.url.query(), Some("token=t0k"));
    }

    #[test]
    fn codes_are_read_from_numbers_and_strings() {
        assert_eq!(json_code(br#"{"code":-400}"#, "code"), Some(-400));
        assert_eq!(json_code(br#"{"error":"402"}"#, "error"), Some(402));
        assert_eq!(json_code(b"<html>", "code"), None);
    }
}
