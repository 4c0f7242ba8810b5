//! Handing a session to programs (issue 13): the environment `lanyard exec` starts its command
//! with, and one authenticated call for `lanyard api`. Both renew through the single flight.

use std::fmt;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};

use super::{Due, Manager, lock, usable, warning_setting, warning_window};
use crate::api::ApiCall;
use crate::error::{Error, ErrorCode, Result};
use crate::http::Response;
use crate::model::{Account, Session};
use crate::secret::SecretString;
use crate::store::AccountRow;
use crate::token::{self, TokenFormat, TokenParts};

/// What `exec` gives its command: the variables of `token --as env` plus `LANYARD_ENDPOINT`
/// (the account's API base, e.g. CoolKit's region host).
pub struct Handoff {
    pub account: Account,
    pub vars: Vec<(&'static str, SecretString)>,
}

impl fmt::Debug for Handoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handoff")
            .field("account", &self.account.name)
            .field(
                "vars",
                &self.vars.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Manager {
    /// The account (or the one a service id stands for) with a session that lasts at least
    /// `min_ttl` (default: the warning window), renewed first if it would not, as variables.
    pub async fn handoff(
        &self,
        name_or_service: &str,
        min_ttl: Option<Duration>,
    ) -> Result<Handoff> {
        let view = self.resolve(name_or_service).await?;
        let ttl = match min_ttl {
            Some(d) => chrono::Duration::from_std(d)
                .map_err(|_| Error::invalid_input("--min-ttl is too long"))?,
            None => {
                let setting = self.db(|s| Ok(warning_setting(s))).await?;
                warning_window(&view.session.clone().unwrap_or_default(), setting)
            }
        };
        let (row, session) = self.fresh_session(&view.account.name, Some(ttl)).await?;
        let service = self.service(row.account.service);
        let credential = service.credential(&row.account, &session);
        let parts = TokenParts {
            account: &row.account,
            token: &session.tokens.access,
            expires_at: session.info.expires_at,
            credential: &credential,
        };
        // Refuses a token with control characters, as `token` does.
        token::render(TokenFormat::Raw, &parts)?;
        let mut vars = token::env_vars(&parts);
        let secret_options = self.secret_options(&row.account).await?;
        let ctx = self.ctx(&row.account, &secret_options);
        let base = service.api_base(&ctx, &session)?;
        vars.push(("LANYARD_ENDPOINT", SecretString::new(base.to_string())));
        Ok(Handoff {
            account: row.account,
            vars,
        })
    }

    /// One authenticated call to the account's API, the credential placed as the service wants
    /// it. When the service says the answer means the session is gone, the session is renewed
    /// once (single flight: another process's renewal counts) and the call is made once more.
    /// Every answer below 500 is returned; 5xx is a `ServerError`.
    pub async fn api(&self, name_or_service: &str, call: &ApiCall) -> Result<Response> {
        let (row, session) = self.fresh_session(name_or_service, None).await?;
        let service = self.service(row.account.service);
        let response = self.api_send(&row, &session, call).await?;
        if !service.api_session_lost(response.status, &response.body) {
            return Ok(response);
        }
        let id = row.account.id.clone();
        match self.flight(&row, false, Due::Rejected).await {
            Ok(_) => {}
            // Renewed, but not stored yet: the new session is in memory.
            Err(_) if lock(&self.unsaved).contains_key(&id) => {}
            Err(e) => return Err(e),
        }
        let row = self.row_by_id(&id).await?;
        usable(&row)?;
        let Some(session) = self.load_session(&row).await? else {
            return Err(Error::needs_login(format!(
                "'{}' has no stored session; log in again",
                row.account.name
            )));
        };
        let response = self.api_send(&row, &session, call).await?;
        if service.api_session_lost(response.status, &response.body) {
            return Err(Error::new(
                ErrorCode::CredentialsRejected,
                format!(
                    "{} refused the session of '{}' again after it was renewed (HTTP {})",
                    response.host(),
                    row.account.name,
                    response.status
                ),
            ));
        }
        Ok(response)
    }

    /// "Copy as curl command": the service's example call ([`crate::services::Service::api_example`])
    /// with the credential placed as the service wants it.
    pub(super) async fn curl_command(
        &self,
        row: &AccountRow,
        session: &Session,
    ) -> Result<SecretString> {
        let secret_options = self.secret_options(&row.account).await?;
        let ctx = self.ctx(&row.account, &secret_options);
        let service = self.service(row.account.service);
        let (method, path) = service.api_example(session);
        let target = service.api_target(&ctx, session, &path)?;
        token::curl_command(method, &target)
    }

    async fn api_send(
        &self,
        row: &AccountRow,
        session: &Session,
        call: &ApiCall,
    ) -> Result<Response> {
        let secret_options = self.secret_options(&row.account).await?;
        let ctx = self.ctx(&row.account, &secret_options);
        let service = self.service(row.account.service);
        let target = service.api_target(&ctx, session, &call.path)?;
        let mut url = target.url;
        if !call.query.is_empty() {
            url.query_pairs_mut().extend_pairs(&call.query);
        }
        let method =
            reqwest::Method::from_bytes(call.method.trim().to_ascii_uppercase().as_bytes())
                .map_err(|_| {
                    Error::invalid_input(format!("'{}' is not an HTTP method", call.method))
                })?;
        let http = ctx.client()?;
        let mut rb = http.client().request(method, url);
        for (name, value) in &call.headers {
            if target
                .headers
                .iter()
                .any(|(n, _)| n.eq_ignore_ascii_case(name))
            {
                return Err(Error::invalid_input(format!(
                    "-H {name}: Lanyard sets this header itself for {}",
                    service.spec().display_name
                )));
            }
            let name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| Error::invalid_input(format!("-H: '{name}' is not a header name")))?;
            let value = HeaderValue::from_str(value.trim()).map_err(|_| {
                Error::invalid_input(format!(
                    "-H {name}: the value has characters a header cannot carry"
                ))
            })?;
            rb = rb.header(name, value);
        }
        for (name, value) in &target.headers {
            let mut value = HeaderValue::from_str(value.expose()).map_err(|_| {
                Error::needs_login(format!(
                    "the credential of '{}' has characters a header cannot carry; log in again",
                    row.account.name
                ))
            })?;
            value.set_sensitive(true);
            rb = rb.header(name.as_str(), value);
        }
        if let Some(body) = &call.body {
            rb = rb.body(body.clone());
        }
        http.execute(rb).await
    }
}
