//! CoolKit / eWeLink cloud, API v1 and v2, HMAC-signed (protocols/coolkit.md).

use crate::model::{Capabilities, OptionKind, OptionSpec, ServiceId, ServiceSpec};

pub static SPEC: ServiceSpec = ServiceSpec {
    id: ServiceId::Coolkit,
    display_name: "CoolKit / eWeLink",
    description: "CoolKit / eWeLink cloud account (API v2, or legacy v1)",
    user_label: "Email, or phone number with country code (+86…)",
    default_endpoint: Some("https://{region}-apia.coolkit.cc"),
    endpoint_help: "URL template; {region} is replaced by cn, as, eu or us. The default follows the official hosts (cn uses .cn)",
    options: &[
        OptionSpec {
            key: "api",
            label: "API version",
            help: "v2 is what the servers require today; v1 is the legacy signed API on port 8080",
            kind: OptionKind::Choice(&["v2", "v1"]),
            required: false,
            default: Some("v2"),
            secret: false,
        },
        OptionSpec {
            key: "appid",
            label: "App ID",
            help: "APPID issued by CoolKit",
            kind: OptionKind::Text,
            required: true,
            default: None,
            secret: false,
        },
        OptionSpec {
            key: "appsecret",
            label: "App secret",
            help: "Key for the HMAC-SHA256 request signature",
            kind: OptionKind::Secret,
            required: true,
            default: None,
            secret: true,
        },
        OptionSpec {
            key: "region",
            label: "Region",
            help: "Region to try first; a redirect from the server updates it",
            kind: OptionKind::Choice(&["cn", "as", "eu", "us"]),
            required: false,
            default: Some("us"),
            secret: false,
        },
        OptionSpec {
            key: "country_code",
            label: "Country code",
            help: "Telephone country code sent with v2 logins, e.g. +86 or +1",
            kind: OptionKind::Text,
            required: false,
            default: Some("+1"),
            secret: false,
        },
    ],
    capabilities: Capabilities {
        refresh: true,
        validate: true,
        logout: true,
        captcha: false,
        second_factor: false,
        code_login: false,
        expires: true,
    },
    token_form: "Authorization: Bearer <at>",
};

/// The CoolKit service.
pub struct Coolkit;

// Compile scaffold only: the protocol lands with issue 5 and replaces this block.
#[async_trait::async_trait]
impl super::Service for Coolkit {
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
