//! ShopXO user API: `api.php?s=user/login` (protocols/shopxo.md, shopxo-observed.md).

use crate::model::{Capabilities, OptionKind, OptionSpec, ServiceId, ServiceSpec};

pub static SPEC: ServiceSpec = ServiceSpec {
    id: ServiceId::Shopxo,
    display_name: "ShopXO",
    description: "ShopXO e-commerce (self-hosted)",
    user_label: "User name, mobile number or email",
    default_endpoint: None,
    endpoint_help: "Base URL of the shop (the folder holding api.php), e.g. https://shop.example.com",
    options: &[
        OptionSpec {
            key: "client_type",
            label: "Client type",
            help: "application_client_type sent with every call; each type holds its own token",
            kind: OptionKind::Choice(&["h5", "ios", "android", "weixin", "alipay", "baidu", "qq", "toutiao", "kuaishou"]),
            required: false,
            default: Some("h5"),
            secret: false,
        },
        OptionSpec {
            key: "login_type",
            label: "Login with",
            help: "username: password (and captcha when the shop asks); sms or email: a code sent to the account",
            kind: OptionKind::Choice(&["username", "sms", "email"]),
            required: false,
            default: Some("username"),
            secret: false,
        },
    ],
    capabilities: Capabilities {
        refresh: false,
        validate: true,
        logout: false,
        captcha: true,
        second_factor: false,
        code_login: true,
        expires: false,
    },
    token_form: "query parameter token=<token>",
};

/// The ShopXO service.
pub struct Shopxo;

// Compile scaffold only: the protocol lands with issue 5 and replaces this block.
#[async_trait::async_trait]
impl super::Service for Shopxo {
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
