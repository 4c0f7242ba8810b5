//! SiteServer CMS v6/v7 user API: `POST /api/v1/users/actions/login` (protocols/sscms.md).

use crate::model::{Capabilities, ServiceId, ServiceSpec};

pub static SPEC: ServiceSpec = ServiceSpec {
    id: ServiceId::Sscms,
    display_name: "SiteServer CMS",
    description: "SiteServer CMS v6 and v7 user API",
    user_label: "User name, mobile number or email",
    default_endpoint: None,
    endpoint_help: "Base URL of the CMS, e.g. https://cms.example.com",
    options: &[],
    capabilities: Capabilities {
        refresh: false,
        validate: true,
        logout: true,
        captcha: false,
        second_factor: false,
        code_login: false,
        expires: true,
    },
    token_form: "X-SS-USER-TOKEN: <token> (v6) or Authorization: Bearer <token> (v7)",
};

/// The SiteServer CMS service.
pub struct Sscms;

// Compile scaffold only: the protocol lands with issue 5 and replaces this block.
#[async_trait::async_trait]
impl super::Service for Sscms {
    fn spec(&self) -> &'static ServiceSpec {
        &SPEC
    }
    async fn begin_login(
        &self,
        _ctx: &super::Ctx<'_>,
        _password: Option<&crate::SecretString>,
    ) -> crate::Result<super::Progress> {
        Err(crate::Error::unsupported("login is not implemented yet"))
    }
    async fn answer(
        &self,
        _ctx: &super::Ctx<'_>,
        _pending: super::Pending,
        _answer: &crate::SecretString,
    ) -> crate::Result<super::Progress> {
        Err(crate::Error::unsupported("login is not implemented yet"))
    }
    async fn validate(&self, _ctx: &super::Ctx<'_>, _session: &crate::Session) -> crate::Result<super::Validation> {
        Err(crate::Error::unsupported("validation is not implemented yet"))
    }
    fn credential(&self, _account: &crate::Account, session: &crate::Session) -> super::Credential {
        super::Credential::Header { name: "Authorization".into(), value: session.tokens.access.clone() }
    }
}
