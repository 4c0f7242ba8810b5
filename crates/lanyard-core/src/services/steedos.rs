//! Steedos: `POST /accounts/password/login` (protocols/steedos.md).

use crate::model::{Capabilities, OptionKind, OptionSpec, ServiceId, ServiceSpec};

pub static SPEC: ServiceSpec = ServiceSpec {
    id: ServiceId::Steedos,
    display_name: "Steedos",
    description: "Steedos low-code platform (self-hosted)",
    user_label: "Email, mobile number or user name",
    default_endpoint: None,
    endpoint_help: "Base URL of the Steedos server, e.g. http://localhost:5000",
    options: &[
        OptionSpec {
            key: "space_id",
            label: "Space ID",
            help: "Workspace id used in the `Authorization: Bearer <spaceId>,<token>` header; defaults to the space the server picks at login",
            kind: OptionKind::Text,
            required: false,
            default: None,
            secret: false,
        },
        OptionSpec {
            key: "password_mode",
            label: "Password encoding",
            help: "sha256: send the lowercase hex SHA-256 of the password, as the official web client does; plain: send it as `password-unencrypted`",
            kind: OptionKind::Choice(&["sha256", "plain"]),
            required: false,
            default: Some("sha256"),
            secret: false,
        },
    ],
    capabilities: Capabilities {
        refresh: true,
        validate: true,
        logout: true,
        captcha: false,
        second_factor: true,
        code_login: false,
        expires: true,
    },
    token_form: "Authorization: Bearer <spaceId>,<token>",
};

/// The Steedos service.
pub struct Steedos;

// Compile scaffold only: the protocol lands with issue 5 and replaces this block.
#[async_trait::async_trait]
impl super::Service for Steedos {
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
