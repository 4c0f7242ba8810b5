//! SiYuan cloud account through the local kernel: `/api/account/login` (protocols/siyuan.md).

use crate::model::{Capabilities, OptionKind, OptionSpec, ServiceId, ServiceSpec};

pub static SPEC: ServiceSpec = ServiceSpec {
    id: ServiceId::Siyuan,
    display_name: "SiYuan",
    description: "SiYuan cloud account, through the local SiYuan kernel",
    user_label: "Cloud account user name",
    default_endpoint: Some("http://127.0.0.1:6806"),
    endpoint_help: "The SiYuan kernel, e.g. http://127.0.0.1:6806",
    options: &[
        OptionSpec {
            key: "api_token",
            label: "Kernel API token",
            help: "Settings → About → API token; sent as `Authorization: Token …`",
            kind: OptionKind::Secret,
            required: false,
            default: None,
            secret: true,
        },
        OptionSpec {
            key: "cloud_region",
            label: "Cloud region",
            help: "0: ld246.com (China), 1: liuyun.io (North America)",
            kind: OptionKind::Choice(&["0", "1"]),
            required: false,
            default: Some("0"),
            secret: false,
        },
        OptionSpec {
            key: "captcha_endpoint",
            label: "Captcha host",
            help: "Where captcha images come from; defaults to https://ld246.com or https://liuyun.io by region",
            kind: OptionKind::Url,
            required: false,
            default: None,
            secret: false,
        },
    ],
    capabilities: Capabilities {
        refresh: true,
        validate: true,
        logout: true,
        captcha: true,
        second_factor: true,
        code_login: false,
        expires: true,
    },
    token_form: "cookie symphony=<userToken> (cloud); the kernel holds the login",
};

/// The SiYuan service.
pub struct Siyuan;

// Compile scaffold only: the protocol lands with issue 5 and replaces this block.
#[async_trait::async_trait]
impl super::Service for Siyuan {
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
